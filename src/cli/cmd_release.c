/* `updraft release add|list|show|retire`: releases, over the server's API. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cliutil.h"
#include "cmd_apiclient.h"

#define S upd_cli_jstr
#define N upd_cli_jnum

static const upd_cli_sub *sub_named(const char *name);

/* A release id argument; 0 (after saying why) when it is not one. */
static long long release_id(const char *cmd, const char *arg)
{
    char *end;
    long long id = strtoll(arg, &end, 10);
    if (*arg < '0' || *arg > '9' || *end || id <= 0) {
        fprintf(stderr,
                "updraft %s: '%s' is not a release id: give the number 'updraft release "
                "list' shows in its ID column\n",
                cmd, arg);
        return 0;
    }
    return id;
}

static int add(int argc, char **argv)
{
    static const char *const known[] = {"--version",  "--channel", "--notes",
                                        "--platform", "--json",    NULL};
    int bad = 0;
    const char *version = upd_cli_opt(&argc, argv, "release add", "--version", &bad);
    const char *channel = upd_cli_opt(&argc, argv, "release add", "--channel", &bad);
    const char *notes = upd_cli_opt(&argc, argv, "release add", "--notes", &bad);
    const char *platform = upd_cli_opt(&argc, argv, "release add", "--platform", &bad);
    int json = upd_cli_flag(&argc, argv, "--json");
    if (bad || upd_cli_unknown_options(argc, argv, "release add", known))
        return 2;
    if (argc != 2)
        return upd_cli_usage("release", sub_named("add"));
    if (!version || !*version) {
        fprintf(stderr, "updraft release add: give the release a version with --version (devices "
                        "compare it with the version they send), e.g. --version 1.2.3\n");
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
    char path[8192], enc[4096 * 3 + 8];
    size_t n = (size_t)snprintf(path, sizeof path, "/api/v1/releases?");
    const char *names[] = {"version", "channel", "notes", "platform", "filename"};
    const char *base = strrchr(file, '/');
    const char *vals[] = {version, channel, notes, platform, base ? base + 1 : file};
    for (int i = 0; i < 5; i++) {
        if (!vals[i])
            continue;
        upd_api_urlencode(vals[i], enc, sizeof enc);
        n += (size_t)snprintf(path + n, sizeof path - n, "%s%s=%s", path[n - 1] == '?' ? "" : "&",
                              names[i], enc);
        if (n >= sizeof path) {
            fprintf(stderr, "updraft release add: --notes is too long (at most 4,095 bytes)\n");
            close(fd);
            return 2;
        }
    }
    upd_api_resp resp;
    char err[512];
    int rc = upd_api_request("POST", path, "application/octet-stream", NULL, (size_t)st.st_size, fd,
                             &resp, err, sizeof err);
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
        printf("release %lld: version %s, %s %s, %lld bytes, md5 %s%s%s\n", N(j, "id"),
               S(j, "version"), S(j, "platform"), S(j, "kind"), N(j, "size"), S(j, "md5"),
               channel ? ", now current on channel " : "", channel ? channel : "");
        printf("download: %s\n", S(j, "url"));
    } else if (!ok && resp.status == 401) {
        fprintf(stderr, "updraft release add: the server refused %s: %s\n", upd_api_token_source(),
                upd_api_token_hint());
    } else if (!ok && !strcmp(S(j, "kind"), "duplicate")) {
        fprintf(stderr,
                "updraft release add: this exact file is already release %lld: to serve it on "
                "another channel run 'updraft channel set CHANNEL %lld'\n",
                N(j, "release"), N(j, "release"));
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
    int json = upd_cli_flag(&argc, argv, "--json");
    if (upd_cli_unknown_options(argc, argv, "release list", known))
        return 2;
    if (argc != 1)
        return upd_cli_usage("release", sub_named("list"));
    cJSON *j = upd_cli_call("release list", "GET", "/api/v1/releases", NULL, NULL, 0, NULL);
    if (!j)
        return 1;
    if (json) {
        upd_cli_print_json(j);
        cJSON_Delete(j);
        return 0;
    }
    static const upd_cli_col cols[] = {{"ID", 5},    {"VERSION", 20}, {"PLATFORM", 8},
                                       {"MODE", 6},  {"BYTES", 10},   {"CHANNEL", 12},
                                       {"STATE", 7}, {"FILE", 0}};
    upd_cli_table_head(cols, 8);
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(j, "releases"))
    {
        char id[24], size[24];
        snprintf(id, sizeof id, "%lld", N(r, "id"));
        snprintf(size, sizeof size, "%lld", N(r, "size"));
        const char *v[] = {id,
                           S(r, "version"),
                           S(r, "platform"),
                           S(r, "mode"),
                           size,
                           S(r, "channel"),
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

static int show_or_retire(int argc, char **argv, int retire)
{
    const char *cmd = retire ? "release retire" : "release show";
    static const char *const known[] = {"--json", NULL};
    int json = upd_cli_flag(&argc, argv, "--json");
    if (upd_cli_unknown_options(argc, argv, cmd, known))
        return 2;
    if (argc != 2)
        return upd_cli_usage("release", sub_named(retire ? "retire" : "show"));
    long long id = release_id(cmd, argv[1]);
    if (!id)
        return 2;
    char path[128], nf[160];
    snprintf(path, sizeof path, "/api/v1/releases/%lld%s", id, retire ? "/retire" : "");
    snprintf(nf, sizeof nf, "there is no release %lld: 'updraft release list' shows them", id);
    const upd_cli_err errs[] = {{404, NULL, nf}};
    cJSON *j = upd_cli_call(cmd, retire ? "POST" : "GET", path, NULL, errs, 1, NULL);
    if (!j)
        return 1;
    if (json)
        upd_cli_print_json(j);
    else if (retire)
        printf("release %lld (version %s) is retired: no device is offered it any more, and the "
               "channels that served it serve nothing for %s until 'updraft channel set'\n",
               id, S(j, "version"), S(j, "platform"));
    else
        print_release(j);
    cJSON_Delete(j);
    return 0;
}

static int show(int argc, char **argv)
{
    return show_or_retire(argc, argv, 0);
}

static int retire(int argc, char **argv)
{
    return show_or_retire(argc, argv, 1);
}

static const upd_cli_sub SUBS[] = {
    {"add", add,
     "add FILE --version V [--channel C] [--notes TEXT] [--platform esp8266|esp32] [--json]",
     "Upload a firmware file as a new release. The server inspects it first (as 'updraft\n"
     "inspect' does) and refuses what no device should be sent.\n\n"
     "  --version V     the release's version (required): devices send theirs and are\n"
     "                  offered only a newer one (docs/versions.md)\n"
     "  --channel C     make it the current release of channel C for its platform\n"
     "  --notes TEXT    release notes (at most 4,095 bytes)\n"
     "  --platform P    esp8266 or esp32: for filesystem images, which carry none\n"
     "  --json          print the new release as JSON\n"},
    {"list", list, "list [--json]",
     "List the releases, newest first: id, version, platform, mode (sketch or fs), size,\n"
     "the channel named at upload, state (active or retired), file name.\n\n"
     "  --json          the API's JSON\n"},
    {"show", show, "show ID [--json]",
     "Show one release: its facts, the inspector's verdict and every MD5/SHA-256 a device\n"
     "running it can report (how the server recognises it).\n\n"
     "  --json          the API's JSON\n"},
    {"retire", retire, "retire ID [--json]",
     "Retire a release: no channel or pin offers it any more (its download URL keeps\n"
     "working for devices already downloading it).\n\n"
     "  --json          the API's JSON\n"},
    {NULL, NULL, NULL, NULL},
};

static const upd_cli_sub *sub_named(const char *name)
{
    for (const upd_cli_sub *s = SUBS; s->name; s++)
        if (!strcmp(s->name, name))
            return s;
    return SUBS;
}

int upd_cmd_release(int argc, char **argv)
{
    return upd_cli_dispatch("release", "Add, list, show and retire releases.", SUBS, argc, argv);
}
