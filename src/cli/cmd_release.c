/* `updraft release add|list|show|retire`: releases, over the server's API. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cliutil.h"
#include "cmd_apiclient.h"

/* Release notes: at most 4,095 bytes (the server's limit, docs/api.md). */
#define UPD_CLI_NOTES_MAX 4096

/* A multipart boundary no file will contain by chance: 32 random hex digits. */
static void form_boundary(char *out, size_t cap)
{
    unsigned char rnd[16] = {0};
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        /* no entropy: time and pid still make a collision with the file unlikely */
        unsigned long long v =
            (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32);
        memcpy(rnd, &v, sizeof v);
    }
    size_t n = (size_t)snprintf(out, cap, "updraft-");
    for (size_t i = 0; i < sizeof rnd && n + 3 <= cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%02x", rnd[i]);
}

#define S upd_cli_jstr
#define N upd_cli_jnum

static int add_file(int argc, char **argv, const char *version, const char *channel,
                    const char *notes, const char *platform, int json, int replace, int allow_dup,
                    int sign);

static int add(int argc, char **argv)
{
    static const char *const known[] = {
        "--version", "--channel",         "--notes", "--notes-file", "--platform",
        "--replace", "--allow-duplicate", "--json",  "--sign",       NULL};
    int bad = 0;
    const char *version = upd_cli_opt(&argc, argv, "release add", "--version", &bad);
    const char *channel = upd_cli_opt(&argc, argv, "release add", "--channel", &bad);
    const char *notes = upd_cli_opt(&argc, argv, "release add", "--notes", &bad);
    const char *notes_file = upd_cli_opt(&argc, argv, "release add", "--notes-file", &bad);
    const char *platform = upd_cli_opt(&argc, argv, "release add", "--platform", &bad);
    int json = upd_cli_flag(&argc, argv, "--json");
    int replace = upd_cli_flag(&argc, argv, "--replace");
    int allow_dup = upd_cli_flag(&argc, argv, "--allow-duplicate");
    int sign = upd_cli_flag(&argc, argv, "--sign");
    if (bad || upd_cli_unknown_options(argc, argv, "release add", known))
        return 2;
    if (replace && allow_dup) {
        fprintf(stderr,
                "updraft release add: --replace and --allow-duplicate exclude each other\n");
        return 2;
    }
    if (argc != 2)
        return upd_cli_usage();
    if (notes && notes_file) {
        fprintf(stderr, "updraft release add: --notes and --notes-file exclude each other\n");
        return 2;
    }
    char *notes_text = notes_file ? upd_cli_read_notes("release add", notes_file) : NULL;
    if (notes_file && !notes_text)
        return 1;
    if (notes_text)
        notes = notes_text;
    int rc =
        add_file(argc, argv, version, channel, notes, platform, json, replace, allow_dup, sign);
    free(notes_text);
    return rc;
}

/* release add, its options read: upload argv[1]. */
static int add_file(int argc, char **argv, const char *version, const char *channel,
                    const char *notes, const char *platform, int json, int replace, int allow_dup,
                    int sign)
{
    (void)argc;
    if (version && !*version) {
        fprintf(stderr, "updraft release add: --version needs a version, e.g. --version 1.2.3\n");
        return 2;
    }
    const char *file = argv[1];
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "updraft release add: cannot read %s: %s\n", file,
                fd < 0 ? "no such file or no permission" : "not a regular file");
        if (fd >= 0)
            close(fd);
        return 1;
    }
    if (notes && strlen(notes) >= UPD_CLI_NOTES_MAX) {
        fprintf(stderr, "updraft release add: --notes is too long: %zu bytes, at most 4,095\n",
                strlen(notes));
        close(fd);
        return 2;
    }
    /* Short fields go in the query; the notes (up to 4,095 bytes) in the body, as a form
     * field before the file: a request head that long is refused (docs/api.md). */
    char path[2048], enc[1024];
    size_t n = (size_t)snprintf(path, sizeof path, "/api/v1/releases?");
    const char *names[] = {"version", "channel", "platform", "filename", "same_version", "sign"};
    const char *base = strrchr(file, '/');
    const char *vals[] = {version,
                          channel,
                          platform,
                          base ? base + 1 : file,
                          replace     ? "replace"
                          : allow_dup ? "allow-duplicate"
                                      : NULL,
                          sign ? "1" : NULL};
    for (int i = 0; i < 6; i++) {
        if (!vals[i])
            continue;
        upd_api_urlencode(vals[i], enc, sizeof enc);
        n += (size_t)snprintf(path + n, sizeof path - n, "%s%s=%s", path[n - 1] == '?' ? "" : "&",
                              names[i], enc);
        if (n >= sizeof path) {
            if (i == 3)
                fprintf(stderr, "updraft release add: the file name %s is too long\n", file);
            else
                fprintf(stderr, "updraft release add: --%s is too long\n", names[i]);
            close(fd);
            return 2;
        }
    }
    upd_api_body body = {NULL, 0, fd, (size_t)st.st_size, NULL, 0};
    char ctype[128] = "application/octet-stream", *form = NULL, tail[80];
    if (notes) {
        /* multipart/form-data: the notes field, then the file part */
        char boundary[64];
        form_boundary(boundary, sizeof boundary);
        size_t cap = strlen(notes) + 512;
        form = malloc(cap);
        if (!form) {
            close(fd);
            return 1;
        }
        body.head_len = (size_t)snprintf(
            form, cap,
            "--%s\r\nContent-Disposition: form-data; name=\"notes\"\r\n\r\n%s\r\n--%s\r\n"
            "Content-Disposition: form-data; name=\"file\"\r\nContent-Type: "
            "application/octet-stream\r\n\r\n",
            boundary, notes, boundary);
        body.head = form;
        body.tail_len = (size_t)snprintf(tail, sizeof tail, "\r\n--%s--\r\n", boundary);
        body.tail = tail;
        snprintf(ctype, sizeof ctype, "multipart/form-data; boundary=%s", boundary);
    }
    upd_api_resp resp;
    char err[512];
    int rc = upd_api_request_parts("POST", path, ctype, &body, &resp, err, sizeof err);
    free(form);
    close(fd);
    if (rc != 0) {
        fprintf(stderr, "updraft release add: %s\n", err);
        return 1;
    }
    cJSON *j = cJSON_Parse(resp.body);
    int ok = resp.status == 201;
    if (json && j)
        upd_cli_print_json(j);
    if (ok && !json) {
        printf("release %lld: version %s, %s %s, %lld bytes, md5 %s%s%s%s\n", N(j, "id"),
               S(j, "version"), S(j, "platform"), S(j, "kind"), N(j, "size"), S(j, "md5"),
               sign ? ", signed by the server's key" : "",
               channel ? ", now current on channel " : "", channel ? channel : "");
        printf("download: %s\n", S(j, "url"));
    } else if (!ok && upd_cli_auth_error("release add", resp.status, j)) {
        /* said */
    } else if (!ok && resp.status == 401) {
        fprintf(stderr, "updraft release add: the server refused %s: %s\n", upd_api_token_source(),
                upd_api_token_hint());
    } else if (!ok && !strcmp(S(j, "kind"), "duplicate") &&
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "retired"))) {
        fprintf(stderr,
                "updraft release add: this exact file is release %lld, which is retired: "
                "'updraft release unretire %lld' serves it again\n",
                N(j, "release"), N(j, "release"));
    } else if (!ok && !strcmp(S(j, "kind"), "duplicate")) {
        fprintf(stderr,
                "updraft release add: this exact file is already release %lld: to serve it on "
                "another channel run 'updraft channel set CHANNEL %lld'\n",
                N(j, "release"), N(j, "release"));
    } else if (!ok && !strcmp(S(j, "kind"), "no-version")) {
        fprintf(stderr,
                "updraft release add: %s: give the release a version with --version (devices "
                "compare it with the version they send), e.g. --version 1.2.3\n",
                S(j, "reason"));
    } else if (!ok && !strcmp(S(j, "kind"), "version-exists")) {
        fprintf(stderr,
                "updraft release add: release %lld already has version %s with other bytes, and "
                "devices tell releases apart by version: give this build its own --version, or "
                "pass --replace (release %lld is retired and its channels serve this one) or "
                "--allow-duplicate (keep both)\n",
                N(j, "release"), version, N(j, "release"));
    } else if (!ok && !strcmp(S(j, "kind"), "no-signing-key")) {
        fprintf(stderr, "updraft release add: --sign: %s\n", S(j, "error"));
    } else if (!ok && resp.status == 422) {
        fprintf(stderr, "updraft release add: %s is refused: %s\n", file,
                j ? S(j, "error") : resp.body);
        const cJSON *reason = j ? cJSON_GetObjectItemCaseSensitive(j, "reason") : NULL;
        if (cJSON_IsString(reason) && strcmp(reason->valuestring, S(j, "error")))
            fprintf(stderr, "  the file is: %s\n", reason->valuestring);
    } else if (!ok) {
        fprintf(stderr, "updraft release add: %s\n", j ? S(j, "error") : resp.body);
    }
    cJSON_Delete(j);
    free(resp.body);
    return ok ? 0 : 1;
}

static int list(int argc, char **argv)
{
    static const char *const known[] = {"--json", NULL};
    int json, rc = upd_cli_plain_args(&argc, argv, "release list", known, 1, &json);
    if (rc)
        return rc;
    cJSON *j = upd_cli_call("release list", "GET", "/api/v1/releases", NULL, NULL, 0, NULL);
    if (!j)
        return 1;
    if (json)
        return upd_cli_json_done(j);
    static const upd_cli_col cols[] = {{"ID", 5},    {"VERSION", 20}, {"PLATFORM", 8},
                                       {"MODE", 6},  {"BYTES", 10},   {"SERVED BY", 16},
                                       {"STATE", 7}, {"FILE", 0}};
    upd_cli_table_head(cols, 8);
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(j, "releases"))
    {
        char id[24], size[24], serving[256] = "";
        snprintf(id, sizeof id, "%lld", N(r, "id"));
        const cJSON *ch;
        cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(r, "serving"))
        {
            size_t len = strlen(serving);
            if (cJSON_IsString(ch))
                snprintf(serving + len, sizeof serving - len, "%s%s", len ? "," : "",
                         ch->valuestring);
        }
        snprintf(size, sizeof size, "%lld", N(r, "size"));
        const char *v[] = {id,
                           S(r, "version"),
                           S(r, "platform"),
                           S(r, "mode"),
                           size,
                           serving[0] ? serving : "-",
                           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "retired")) ? "retired"
                                                                                        : "active",
                           S(r, "filename")};
        upd_cli_table_row(cols, 8, v);
    }
    cJSON_Delete(j);
    return 0;
}

static void print_release(const cJSON *j)
{
    static const char *const fields[] = {"version", "platform", "mode",     "kind",
                                         "chip",    "channel",  "filename", "md5",
                                         "sha256",  "created",  "url",      "notes"};
    printf("%-14s %lld\n", "release", N(j, "id"));
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        printf("%-14s %s\n", fields[i], S(j, fields[i]));
    printf("%-14s %lld bytes\n", "size", N(j, "size"));
    if (N(j, "inflated_size") >= 0)
        printf("%-14s %lld bytes, md5 %s\n", "inflated", N(j, "inflated_size"),
               S(j, "inflated_md5"));
    printf("%-14s %s\n", "state",
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "retired")) ? "retired" : "active");
    const cJSON *ad = cJSON_GetObjectItemCaseSensitive(j, "adoption");
    if (ad)
        printf("%-14s %lld device%s run it (and %lld of updraft's tools)\n", "adoption",
               N(ad, "devices"), N(ad, "devices") == 1 ? "" : "s", N(ad, "tool_devices"));
    const cJSON *insp = cJSON_GetObjectItemCaseSensitive(j, "inspection");
    if (insp)
        printf("%-14s %s: %s\n", "inspection", S(insp, "verdict"), S(insp, "reason"));
    const cJSON *h, *hs = cJSON_GetObjectItemCaseSensitive(j, "device_hashes");
    if (cJSON_GetArraySize(hs) > 0) {
        printf("devices running it report one of:\n");
        cJSON_ArrayForEach(h, hs)
        {
            printf("  %-64s %s\n", S(h, "hex"), S(h, "what"));
        }
    }
}

/* The release id of `updraft release SUB ID [--json]`, or 0 after saying why. */
static long long one_id(int *argc, char **argv, const char *sub, const char *const *known,
                        int *json)
{
    char cmd[32];
    snprintf(cmd, sizeof cmd, "release %s", sub);
    return upd_cli_plain_args(argc, argv, cmd, known, 2, json) ? 0
                                                               : upd_cli_release_id(cmd, argv[1]);
}

/* `updraft release SUB ID`'s API call (method on /api/v1/releases/ID + tail), with "there
 * is no release ID" for a 404 and the caller's words for the errors in extra. */
static cJSON *call_release(const char *sub, long long id, const char *method, const char *tail,
                           const char *body, const upd_cli_err *extra, size_t nextra)
{
    char cmd[32], path[128], nf[160];
    snprintf(cmd, sizeof cmd, "release %s", sub);
    snprintf(path, sizeof path, "/api/v1/releases/%lld%s", id, tail);
    snprintf(nf, sizeof nf, "there is no release %lld: 'updraft release list' shows them", id);
    upd_cli_err errs[4] = {{404, NULL, nf}};
    size_t n = 1;
    for (size_t i = 0; i < nextra && n < 4; i++)
        errs[n++] = extra[i];
    return upd_cli_call(cmd, method, path, body, errs, n, NULL);
}

static int show(int argc, char **argv)
{
    static const char *const known[] = {"--json", NULL};
    int json;
    long long id = one_id(&argc, argv, "show", known, &json);
    if (!id)
        return 2;
    cJSON *j = call_release("show", id, "GET", "", NULL, NULL, 0);
    if (!j)
        return 1;
    if (json)
        upd_cli_print_json(j);
    else
        print_release(j);
    cJSON_Delete(j);
    return 0;
}

static int retire(int argc, char **argv)
{
    static const char *const known[] = {"--fallback", "--force", "--json", NULL};
    int bad = 0, json;
    const char *fb = upd_cli_opt(&argc, argv, "release retire", "--fallback", &bad);
    int force = upd_cli_flag(&argc, argv, "--force");
    if (bad)
        return 2;
    long long id = one_id(&argc, argv, "retire", known, &json);
    if (!id)
        return 2;
    if (fb && strcmp(fb, "previous")) {
        fprintf(stderr, "updraft release retire: --fallback takes 'previous' (the channel then "
                        "serves the release before this one)\n");
        return 2;
    }
    if (fb && force) {
        fprintf(stderr, "updraft release retire: --fallback and --force exclude each other\n");
        return 2;
    }
    char noprev[300];
    snprintf(noprev, sizeof noprev,
             "release %lld has no earlier release of its platform and mode that is not retired "
             "to fall back to: 'updraft channel set' another one first, or --force",
             id);
    const upd_cli_err errs[] = {
        {409, "current",
         "%s; pass --fallback previous (the channel serves the release before it) or --force "
         "(it serves nothing until 'updraft channel set')"},
        {409, "no-previous", noprev}};
    const char *body = fb ? "{\"fallback\": \"previous\"}" : force ? "{\"force\": true}" : NULL;
    cJSON *j = call_release("retire", id, "POST", "/retire", body, errs, 2);
    if (!j)
        return 1;
    if (json)
        return upd_cli_json_done(j);
    printf("release %lld (version %s) is retired: no device is offered it any more\n", id,
           S(j, "version"));
    const cJSON *ch;
    cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(j, "channels"))
    {
        if (N(ch, "release") > 0)
            printf("channel %s now serves release %lld (version %s)\n", S(ch, "name"),
                   N(ch, "release"), S(ch, "version"));
        else
            printf("channel %s serves no %s release now: 'updraft channel set %s RELEASE' "
                   "gives it one\n",
                   S(ch, "name"), S(j, "platform"), S(ch, "name"));
    }
    cJSON_Delete(j);
    return 0;
}

static int unretire(int argc, char **argv)
{
    static const char *const known[] = {"--json", NULL};
    int json;
    long long id = one_id(&argc, argv, "unretire", known, &json);
    if (!id)
        return 2;
    cJSON *j = call_release("unretire", id, "POST", "/unretire", NULL, NULL, 0);
    if (!j)
        return 1;
    if (json)
        upd_cli_print_json(j);
    else
        printf("release %lld (version %s) can be offered again: pins to it work, and 'updraft "
               "channel set CHANNEL %lld' serves it on a channel\n",
               id, S(j, "version"), id);
    cJSON_Delete(j);
    return 0;
}

static int delete_release(int argc, char **argv)
{
    static const char *const known[] = {"--json", NULL};
    int json;
    long long id = one_id(&argc, argv, "delete", known, &json);
    if (!id)
        return 2;
    char used[400];
    snprintf(used, sizeof used,
             "%%s: give the channels another release ('updraft channel set') and unpin the "
             "devices ('updraft device list --pinned %lld', 'updraft device unpin MAC') first",
             id);
    const upd_cli_err errs[] = {{409, "in-use", used}};
    cJSON *j = call_release("delete", id, "DELETE", "", NULL, errs, 1);
    if (!j)
        return 1;
    if (json)
        upd_cli_print_json(j);
    else
        printf("release %lld (version %s) is deleted, with its file\n", id, S(j, "version"));
    cJSON_Delete(j);
    return 0;
}

static const upd_cli_sub SUBS[] = {
    {"add", add,
     "add FILE --version V [--channel C] [--notes TEXT | --notes-file FILE] "
     "[--platform esp8266|esp32] "
     "[--replace | --allow-duplicate] [--sign] [--json]",
     "Upload a firmware file as a new release. The server inspects it first (as 'updraft\n"
     "inspect' does) and refuses what no device should be sent.\n\n"
     "  --version V     the release's version: devices send theirs and are offered only a\n"
     "                  newer one (docs/versions.md). Required, except for ESP32 apps\n"
     "                  whose app description names the application's version\n"
     "  --channel C     make it the current release of channel C for its platform\n"
     "  --notes TEXT    release notes, Markdown (at most 4,095 bytes)\n"
     "  --notes-file FILE  the release notes from FILE (- for standard input)\n"
     "  --platform P    esp8266 or esp32: for filesystem images, which carry none\n"
     "  --replace       a release of this platform already has this version with other\n"
     "                  bytes: retire it, and its channels serve this one\n"
     "  --allow-duplicate  keep both releases with the same version\n"
     "  --sign          the server signs the file with its key (started with --sign-key)\n"
     "                  before storing it: the release is the signed file (docs/signing.md)\n"
     "  --json          print the new release as JSON\n"},
    {"list", list, "list [--json]",
     "List the releases, newest first: id, version, platform, mode (sketch or fs), size,\n"
     "the channels that serve it now, state (active or retired), file name.\n\n"
     "  --json          the API's JSON\n"},
    {"show", show, "show ID [--json]",
     "Show one release: its facts, the inspector's verdict and every MD5/SHA-256 a device\n"
     "running it can report (how the server recognises it).\n\n"
     "  --json          the API's JSON\n"},
    {"retire", retire, "retire ID [--fallback previous | --force] [--json]",
     "Retire a release: no channel or pin offers it any more (its download URL keeps\n"
     "working for devices already downloading it). The release a channel serves is\n"
     "retired only with one of:\n\n"
     "  --fallback previous  the channel serves the newest earlier release of the same\n"
     "                       platform and mode that is not retired\n"
     "  --force              the channel serves nothing for that platform until\n"
     "                       'updraft channel set'\n"
     "  --json               the API's JSON\n"},
    {"unretire", unretire, "unretire ID [--json]",
     "Serve a retired release again: pins to it work, and 'updraft channel set' can put\n"
     "it on a channel (channels are not changed).\n\n"
     "  --json          the API's JSON\n"},
    {"notes", upd_cmd_release_notes, "notes ID [--set FILE | --clear] [--json]",
     "Print a release's notes (Markdown, as the dashboard shows them rendered), or set\n"
     "them.\n\n"
     "  --set FILE      replace them with the contents of FILE (- for standard input; at\n"
     "                  most 4,095 bytes of UTF-8 text)\n"
     "  --clear         remove them\n"
     "  --json          the release as JSON\n"},
    {"delete", delete_release, "delete ID [--json]",
     "Delete a release and its file. Refused while a channel serves it or a device is\n"
     "pinned to it; devices that ran it or were offered it simply forget it.\n\n"
     "  --json          the API's JSON\n"},
    {NULL, NULL, NULL, NULL},
};

int upd_cmd_release(int argc, char **argv)
{
    return upd_cli_dispatch("release",
                            "Add, list, show, retire, unretire and delete releases; their notes.",
                            SUBS, argc, argv);
}
