/* What the admin commands share (cliutil.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliutil.h"
#include "closest.h"
#include "cmd_apiclient.h"

const char *upd_cli_jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "-";
}

long long upd_cli_jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : -1;
}

void upd_cli_print_json(const cJSON *j)
{
    char *t = cJSON_Print(j);
    if (t) {
        puts(t);
        free(t);
    }
}

int upd_cli_flag(int *argc, char **argv, const char *flag)
{
    for (int i = 1; i < *argc; i++)
        if (!strcmp(argv[i], flag)) {
            memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i) * sizeof *argv);
            (*argc)--;
            return 1;
        }
    return 0;
}

const char *upd_cli_opt(int *argc, char **argv, const char *cmd, const char *name, int *bad)
{
    size_t nl = strlen(name);
    for (int i = 1; i < *argc; i++) {
        if (!strncmp(argv[i], name, nl) && argv[i][nl] == '=') {
            const char *v = argv[i] + nl + 1;
            memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i) * sizeof *argv);
            (*argc)--;
            return v;
        }
        if (strcmp(argv[i], name))
            continue;
        if (i + 1 >= *argc) {
            fprintf(stderr, "updraft %s: %s needs a value\n", cmd, name);
            *bad = 1;
            return NULL;
        }
        const char *v = argv[i + 1];
        memmove(&argv[i], &argv[i + 2], (size_t)(*argc - i - 1) * sizeof *argv);
        *argc -= 2;
        return v;
    }
    return NULL;
}

const char *upd_cli_closest(const char *w, const char *const *list)
{
    return upd_closest(w, list);
}

int upd_cli_unknown_options(int argc, char **argv, const char *cmd, const char *const *known)
{
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1]) {
            const char *close = upd_cli_closest(argv[i], known);
            fprintf(stderr, "updraft %s: unknown option '%s'%s%s%s (see 'updraft %s --help')\n",
                    cmd, argv[i], close ? "; did you mean " : "", close ? close : "",
                    close ? "?" : "", cmd);
            return 1;
        }
    return 0;
}

static void print_sub_help(FILE *f, const char *cmd, const upd_cli_sub *s)
{
    fprintf(f, "usage: updraft %s %s\n\n%s", cmd, s->synopsis, s->help);
}

/* The subcommand upd_cli_dispatch runs (for upd_cli_usage). */
static const char *running_cmd = "";
static const upd_cli_sub *running;

int upd_cli_usage(void)
{
    if (running)
        fprintf(stderr, "usage: updraft %s %s\n(see 'updraft %s %s --help')\n", running_cmd,
                running->synopsis, running_cmd, running->name);
    return 2;
}

static void print_cmd_usage(FILE *f, const char *cmd, const char *what, const upd_cli_sub *subs)
{
    fprintf(f, "usage: updraft %s <subcommand> [options]\n\n%s\n\n", cmd, what);
    for (const upd_cli_sub *s = subs; s->name; s++)
        fprintf(f, "  updraft %s %s\n", cmd, s->synopsis);
    fprintf(f,
            "\n'updraft %s SUBCOMMAND --help' tells more about one.\n"
            "The server: UPDRAFT_URL, else the one 'updraft login' saved, else\n"
            "http://127.0.0.1:8080. The token: UPDRAFT_TOKEN, else the one 'updraft login'\n"
            "saved, else (for a server on this machine) ./updraft-data/admin-token or\n"
            "$UPDRAFT_DATA/admin-token.\n",
            cmd);
}

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    return 0;
}

int upd_cli_dispatch(const char *cmd, const char *what, const upd_cli_sub *subs, int argc,
                     char **argv)
{
    if (argc < 2) {
        print_cmd_usage(stderr, cmd, what, subs);
        return 2;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        print_cmd_usage(stdout, cmd, what, subs);
        return 0;
    }
    int help = 0;
    if (!strcmp(sub, "help")) {
        if (argc < 3) {
            print_cmd_usage(stdout, cmd, what, subs);
            return 0;
        }
        sub = argv[2];
        help = 1;
    }
    const char *names[32];
    size_t n = 0;
    for (const upd_cli_sub *s = subs; s->name && n < 31; s++) {
        names[n++] = s->name;
        if (strcmp(s->name, sub))
            continue;
        if (help || wants_help(argc - 1, argv + 1)) {
            print_sub_help(stdout, cmd, s);
            return 0;
        }
        running_cmd = cmd;
        running = s;
        return s->run(argc - 1, argv + 1);
    }
    names[n] = NULL;
    const char *close = upd_cli_closest(sub, names);
    fprintf(stderr, "updraft %s: unknown subcommand '%s'%s%s%s\n\n", cmd, sub,
            close ? "; did you mean '" : "", close ? close : "", close ? "'?" : "");
    print_cmd_usage(stderr, cmd, what, subs);
    return 2;
}

int upd_cli_plain_args(int *argc, char **argv, const char *cmd, const char *const *known, int nargs,
                       int *json)
{
    *json = upd_cli_flag(argc, argv, "--json");
    if (upd_cli_unknown_options(*argc, argv, cmd, known))
        return 2;
    return *argc == nargs ? 0 : upd_cli_usage();
}

int upd_cli_json_done(cJSON *j)
{
    upd_cli_print_json(j);
    cJSON_Delete(j);
    return 0;
}

long long upd_cli_release_id(const char *cmd, const char *arg)
{
    char *end;
    long long id = strtoll(arg, &end, 10);
    if (*arg < '0' || *arg > '9' || *end || id <= 0) {
        fprintf(stderr,
                "updraft %s: '%s' is not a release id: give the number 'updraft release list' "
                "shows in its ID column\n",
                cmd, arg);
        return 0;
    }
    return id;
}

/* Columns: UTF-8 aware enough for the ellipsis (values are ASCII from the API). */
static void cell(const char *v, int width, int last)
{
    size_t n = strlen(v);
    if (width <= 0 || last) {
        fputs(v, stdout);
        return;
    }
    if (n > (size_t)width) {
        fwrite(v, 1, (size_t)width - 1, stdout);
        fputs("\xe2\x80\xa6", stdout); /* U+2026 */
    } else {
        fputs(v, stdout);
        for (size_t i = n; i < (size_t)width; i++)
            putchar(' ');
    }
    putchar(' ');
}

void upd_cli_table_head(const upd_cli_col *cols, int n)
{
    for (int i = 0; i < n; i++)
        cell(cols[i].title, cols[i].width, i == n - 1);
    putchar('\n');
}

void upd_cli_table_row(const upd_cli_col *cols, int n, const char *const *vals)
{
    for (int i = 0; i < n; i++)
        cell(vals[i] ? vals[i] : "-", cols[i].width, i == n - 1);
    putchar('\n');
}

int upd_cli_auth_error(const char *cmd, int status, const cJSON *j)
{
    const char *kind = upd_cli_jstr(j, "kind");
    if (status == 403 && !strcmp(kind, "forbidden")) {
        /* the roles, least powerful first (the server lists them so) */
        char need[96] = "";
        const cJSON *r;
        int n = 0, total = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "needs"));
        const char *first = NULL;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(j, "needs"))
        {
            if (!cJSON_IsString(r))
                continue;
            if (!first)
                first = r->valuestring;
            n++;
            snprintf(need + strlen(need), sizeof need - strlen(need), "%s%s",
                     n == 1       ? ""
                     : n == total ? " or "
                                  : ", ",
                     r->valuestring);
        }
        fprintf(stderr,
                "updraft %s: this needs a token with role %s, and %s is the token '%s' with "
                "role %s: ask an admin for one ('updraft token create NAME --role %s'), then "
                "use it (UPDRAFT_TOKEN, or 'updraft login URL')\n",
                cmd, need, upd_api_token_source(), upd_cli_jstr(j, "token"),
                upd_cli_jstr(j, "role"), first ? first : "admin");
        return 1;
    }
    if (status == 403 && !strcmp(kind, "forbidden-channel")) {
        char list[600] = "";
        const cJSON *c;
        cJSON_ArrayForEach(c,
                           cJSON_GetObjectItemCaseSensitive(j, "channels")) if (cJSON_IsString(c))
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", list[0] ? ", " : "",
                     c->valuestring);
        fprintf(stderr,
                "updraft %s: the token '%s' (role ci) may add releases only to the channel(s) "
                "%s: pass --channel with one of them (and not --replace, which changes other "
                "channels too)\n",
                cmd, upd_cli_jstr(j, "token"), list);
        return 1;
    }
    if (status == 401 && !strcmp(kind, "expired")) {
        fprintf(stderr,
                "updraft %s: the server refused %s: %s: ask an admin for a new one ('updraft "
                "token create NAME --role ROLE')\n",
                cmd, upd_api_token_source(), upd_cli_jstr(j, "reason"));
        return 1;
    }
    if (status == 429) {
        fprintf(stderr,
                "updraft %s: the server refuses this address for %lld s after too many failed "
                "authentications: check the token (%s) and retry after that\n",
                cmd, upd_cli_jnum(j, "retry_after"), upd_api_token_source());
        return 1;
    }
    return 0;
}

static cJSON *last_error;

const cJSON *upd_cli_last_error(void)
{
    return last_error;
}

cJSON *upd_cli_call(const char *cmd, const char *method, const char *path, const char *json_body,
                    const upd_cli_err *errs, size_t n, int *status)
{
    upd_api_resp resp;
    char err[512];
    cJSON_Delete(last_error);
    last_error = NULL;
    if (status)
        *status = 0;
    if (upd_api_request(method, path, json_body ? "application/json" : NULL, json_body,
                        json_body ? strlen(json_body) : 0, -1, &resp, err, sizeof err) != 0) {
        fprintf(stderr, "updraft %s: %s\n", cmd, err);
        return NULL;
    }
    if (status)
        *status = resp.status;
    cJSON *j = cJSON_Parse(resp.body);
    if (resp.status >= 200 && resp.status <= 299) {
        if (!j)
            fprintf(stderr,
                    "updraft %s: the server's answer is not JSON: is this an updraft "
                    "server?\n",
                    cmd);
        free(resp.body);
        return j;
    }
    if (upd_cli_auth_error(cmd, resp.status, j)) {
        cJSON_Delete(j);
        free(resp.body);
        return NULL;
    }
    const char *kind = upd_cli_jstr(j, "kind");
    const char *text = NULL;
    int silent = 0;
    for (size_t i = 0; i < n; i++)
        if (errs[i].status == resp.status && (!errs[i].kind || !strcmp(errs[i].kind, kind))) {
            text = errs[i].text;
            silent = !text;
            break;
        }
    const char *at = text ? strstr(text, "%s") : NULL;
    if (silent) {
        last_error = j; /* the caller's to say */
        j = NULL;
    } else if (at) {
        /* the server's reason (without API words), else its message, in the caller's words */
        const char *why = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "reason"))
                              ? upd_cli_jstr(j, "reason")
                              : upd_cli_jstr(j, "error");
        fprintf(stderr, "updraft %s: %.*s%s%s\n", cmd, (int)(at - text), text, why, at + 2);
    } else if (text)
        fprintf(stderr, "updraft %s: %s\n", cmd, text);
    else if (resp.status == 401)
        fprintf(stderr, "updraft %s: the server refused %s: %s\n", cmd, upd_api_token_source(),
                upd_api_token_hint());
    else
        fprintf(stderr, "updraft %s: %s\n", cmd,
                cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error"))
                    ? upd_cli_jstr(j, "error")
                    : resp.body);
    cJSON_Delete(j);
    free(resp.body);
    return NULL;
}

void upd_cli_tag_text(const cJSON *a, char *out, size_t cap)
{
    size_t n = 0;
    const cJSON *t;
    out[0] = '\0';
    cJSON_ArrayForEach(t, a)
    {
        if (cJSON_IsString(t) && n < cap)
            n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "," : "", t->valuestring);
    }
    if (!out[0])
        snprintf(out, cap, "-");
}
