/* `updraft token create|list|revoke`: the server's named API tokens and their roles,
 * over the API (an admin's token is needed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cliutil.h"
#include "cmd_apiclient.h"

#define S upd_cli_jstr

/* "90d", "12h", "30m", "45s", "2w", "1y" -> seconds; -1 when it is not one. */
static long long parse_duration(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s < '0' || *s > '9' || v <= 0 || end[0] == '\0' || end[1] != '\0')
        return -1;
    long long unit = end[0] == 's'   ? 1
                     : end[0] == 'm' ? 60
                     : end[0] == 'h' ? 3600
                     : end[0] == 'd' ? 86400
                     : end[0] == 'w' ? 7 * 86400
                     : end[0] == 'y' ? 365 * 86400
                                     : 0;
    if (!unit || v > 10LL * 366 * 86400 / unit)
        return -1;
    return v * unit;
}

/* Is s a token or channel name ([A-Za-z0-9._-], 1 to 63)? */
static int valid_name(const char *s, size_t len)
{
    if (len == 0 || len > 63)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int create(int argc, char **argv)
{
    static const char *const known[] = {"--role", "--expires", "--channels", "--json", NULL};
    int bad = 0;
    const char *role = upd_cli_opt(&argc, argv, "token create", "--role", &bad);
    const char *expires = upd_cli_opt(&argc, argv, "token create", "--expires", &bad);
    const char *channels = upd_cli_opt(&argc, argv, "token create", "--channels", &bad);
    int json = upd_cli_flag(&argc, argv, "--json");
    if (bad || upd_cli_unknown_options(argc, argv, "token create", known))
        return 2;
    if (argc != 2)
        return upd_cli_usage();
    const char *name = argv[1];
    if (!valid_name(name, strlen(name))) {
        fprintf(stderr,
                "updraft token create: '%.80s' is not a token name: use letters, digits, '.', "
                "'_' and '-' (at most 63), e.g. ci-bot\n",
                name);
        return 2;
    }
    static const char *const roles[] = {"admin", "operator", "viewer", "ci", NULL};
    int role_ok = 0;
    for (int i = 0; role && roles[i]; i++)
        role_ok |= !strcmp(role, roles[i]);
    if (!role_ok) {
        const char *close = role ? upd_cli_closest(role, roles) : NULL;
        fprintf(stderr,
                "updraft token create: %s%s%s: give --role admin, operator, viewer or ci%s%s%s "
                "('updraft token --help' says what each may do)\n",
                role ? "'" : "--role is required", role ? role : "", role ? "' is not a role" : "",
                close ? " (did you mean " : "", close ? close : "", close ? "?)" : "");
        return 2;
    }
    long long secs = 0;
    if (expires && (secs = parse_duration(expires)) < 0) {
        fprintf(stderr,
                "updraft token create: --expires '%s' is not a lifetime: write a number and a "
                "unit, s, m (minutes), h, d, w or y, e.g. --expires 90d (at most 10 years)\n",
                expires);
        return 2;
    }
    if (channels && strcmp(role, "ci")) {
        fprintf(stderr, "updraft token create: --channels limits what a ci token may upload "
                        "to: use it with --role ci\n");
        return 2;
    }
    /* {"name": ..., "role": ..., "expires_in": N, "channels": [...]} */
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "name", name);
    cJSON_AddStringToObject(body, "role", role);
    if (secs)
        cJSON_AddNumberToObject(body, "expires_in", (double)secs);
    if (channels) {
        cJSON *arr = cJSON_AddArrayToObject(body, "channels");
        for (const char *p = channels; p;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            if (!valid_name(p, len)) {
                fprintf(stderr,
                        "updraft token create: --channels '%s': '%.*s' is not a channel name: "
                        "give names separated by commas, e.g. --channels beta,stable\n",
                        channels, (int)(len > 64 ? 64 : len), p);
                cJSON_Delete(body);
                return 2;
            }
            char one[64];
            snprintf(one, sizeof one, "%.*s", (int)len, p);
            cJSON_AddItemToArray(arr, cJSON_CreateString(one));
            p = comma ? comma + 1 : NULL;
        }
    }
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!text)
        return 1;
    char exists[200];
    snprintf(exists, sizeof exists,
             "a token named '%s' exists: revoke it first ('updraft token revoke %s') or "
             "choose another name",
             name, name);
    const upd_cli_err errs[] = {{409, NULL, exists}};
    cJSON *j = upd_cli_call("token create", "POST", "/api/v1/tokens", text, errs, 1, NULL);
    free(text);
    if (!j)
        return 1;
    if (json)
        return upd_cli_json_done(j);
    /* the secret alone on stdout (TOKEN=$(updraft token create ...)), the rest on stderr */
    printf("%s\n", S(j, "token"));
    fflush(stdout);
    fprintf(stderr,
            "token '%s' created: role %s%s%s, %s%s. The secret above is shown only now: "
            "keep it (the server stores only its hash). Use it with UPDRAFT_TOKEN=... or "
            "'updraft login URL'.\n",
            name, role, channels ? ", uploads only to " : "", channels ? channels : "",
            secs ? "expires " : "does not expire", secs ? S(j, "expires") : "");
    cJSON_Delete(j);
    return 0;
}

static int list(int argc, char **argv)
{
    static const char *const known[] = {"--json", NULL};
    int json, rc = upd_cli_plain_args(&argc, argv, "token list", known, 1, &json);
    if (rc)
        return rc;
    cJSON *j = upd_cli_call("token list", "GET", "/api/v1/tokens", NULL, NULL, 0, NULL);
    if (!j)
        return 1;
    if (json)
        return upd_cli_json_done(j);
    static const upd_cli_col cols[] = {{"NAME", 20},      {"ROLE", 8}, {"CHANNELS", 14},
                                       {"CREATED", 20},   {"BY", 14},  {"EXPIRES", 20},
                                       {"LAST USED", 20}, {"FROM", 0}};
    upd_cli_table_head(cols, 8);
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(j, "tokens"))
    {
        char chans[300] = "";
        const cJSON *c;
        cJSON_ArrayForEach(c,
                           cJSON_GetObjectItemCaseSensitive(t, "channels")) if (cJSON_IsString(c))
            snprintf(chans + strlen(chans), sizeof chans - strlen(chans), "%s%s",
                     chans[0] ? "," : "", c->valuestring);
        int boot = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "bootstrap"));
        int expired = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "expired"));
        char exp[48];
        snprintf(exp, sizeof exp, "%s%s", S(t, "expires"), expired ? " (expired)" : "");
        const char *v[] = {
            S(t, "name"),
            S(t, "role"),
            chans[0] ? chans : (strcmp(S(t, "role"), "ci") ? "-" : "any"),
            boot ? "(bootstrap)" : S(t, "created"),
            boot ? "-" : S(t, "created_by"),
            cJSON_IsString(cJSON_GetObjectItemCaseSensitive(t, "expires")) ? exp : "never",
            cJSON_IsString(cJSON_GetObjectItemCaseSensitive(t, "last_used")) ? S(t, "last_used")
                                                                             : "never",
            S(t, "last_used_from")};
        upd_cli_table_row(cols, 8, v);
    }
    cJSON_Delete(j);
    return 0;
}

static int revoke(int argc, char **argv)
{
    static const char *const known[] = {"--json", NULL};
    int json, rc = upd_cli_plain_args(&argc, argv, "token revoke", known, 2, &json);
    if (rc)
        return rc;
    const char *name = argv[1];
    if (!valid_name(name, strlen(name))) {
        fprintf(stderr,
                "updraft token revoke: '%.80s' is not a token name ('updraft token list' "
                "shows them)\n",
                name);
        return 2;
    }
    char path[256], nf[200];
    snprintf(path, sizeof path, "/api/v1/tokens/%s", name);
    snprintf(nf, sizeof nf, "there is no token '%s': 'updraft token list' shows them", name);
    const upd_cli_err errs[] = {
        {404, NULL, nf},
        {409, "bootstrap",
         "admin-token is the bootstrap token of the server's data directory and is not revoked "
         "this way: to replace it, stop the server, delete admin-token in its data directory "
         "(or change UPDRAFT_ADMIN_TOKEN) and start it again"}};
    cJSON *j = upd_cli_call("token revoke", "DELETE", path, NULL, errs, 2, NULL);
    if (!j)
        return 1;
    if (json)
        return upd_cli_json_done(j);
    printf("token '%s' is revoked: requests with it are refused from now on\n", name);
    cJSON_Delete(j);
    return 0;
}

static const upd_cli_sub SUBS[] = {
    {"create", create, "create NAME --role ROLE [--expires TIME] [--channels LIST] [--json]",
     "Make a named API token and print its secret on stdout, once (the server keeps only\n"
     "its hash). Every admin action with it is recorded under NAME ('updraft events\n"
     "--kind audit').\n\n"
     "  --role ROLE      what the token may do:\n"
     "                     admin     everything, tokens included\n"
     "                     operator  releases, channels, rollouts, pins, device settings\n"
     "                     viewer    read only (list and show, events)\n"
     "                     ci        add releases (release add) and nothing else\n"
     "  --expires TIME   it stops working after TIME: a number and a unit, s, m (minutes),\n"
     "                   h, d, w or y (90d, 12h); without it, it works until revoked\n"
     "  --channels LIST  (ci) the channels it may add releases to, separated by commas\n"
     "                   (beta,stable): each upload must name one with --channel\n"
     "  --json           the API's JSON (the secret is its \"token\")\n"},
    {"list", list, "list [--json]",
     "List the tokens (never their secrets): name, role, the channels a ci token may\n"
     "upload to, when and by whom it was made, when it expires, when it was last used and\n"
     "from which address (recorded within seconds). admin-token is the bootstrap token of\n"
     "the data directory.\n\n"
     "  --json           the API's JSON\n"},
    {"revoke", revoke, "revoke NAME [--json]",
     "Revoke a token: requests with it are refused from now on. The bootstrap token\n"
     "(admin-token) is replaced by deleting it from the data directory and restarting.\n\n"
     "  --json           the API's JSON\n"},
    {NULL, NULL, NULL, NULL},
};

int upd_cmd_token(int argc, char **argv)
{
    return upd_cli_dispatch("token",
                            "Named API tokens with roles: who may do what on this server.\n"
                            "Needs an admin's token (the bootstrap admin-token, or one made\n"
                            "with --role admin).",
                            SUBS, argc, argv);
}
