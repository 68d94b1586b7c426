/* `updraft release|device|channel ...`: the admin commands, over the server's API
 * (UPDRAFT_URL, UPDRAFT_TOKEN). Listings print a table, or the API's JSON with --json. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_apiclient.h"

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsString(v))
        return v->valuestring;
    return "-";
}

static long long jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : -1;
}

static void print_json(const cJSON *j)
{
    char *t = cJSON_Print(j);
    if (t) {
        puts(t);
        free(t);
    }
}

static int has_flag(int *argc, char **argv, const char *flag)
{
    for (int i = 1; i < *argc; i++)
        if (!strcmp(argv[i], flag)) {
            memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i) * sizeof *argv);
            (*argc)--;
            return 1;
        }
    return 0;
}

/* Take "--name VALUE" out of argv; NULL when absent. Sets *bad when VALUE is missing. */
static const char *take_opt(int *argc, char **argv, const char *name, int *bad)
{
    for (int i = 1; i < *argc; i++)
        if (!strcmp(argv[i], name)) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "updraft: %s needs a value\n", name);
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

static int leftover_options(int argc, char **argv, const char *cmd)
{
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "updraft %s: unknown option '%s'\n", cmd, argv[i]);
            return 1;
        }
    return 0;
}

static void print_release_row(const cJSON *r)
{
    printf("%-5lld %-20s %-8s %-6s %-10lld %-10s %-8s %s\n", jnum(r, "id"), jstr(r, "version"),
           jstr(r, "platform"), jstr(r, "mode"), jnum(r, "size"), jstr(r, "channel"),
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "retired")) ? "retired" : "active",
           jstr(r, "filename"));
}

static int release_add(int argc, char **argv)
{
    int bad = 0;
    const char *version = take_opt(&argc, argv, "--version", &bad);
    const char *channel = take_opt(&argc, argv, "--channel", &bad);
    const char *notes = take_opt(&argc, argv, "--notes", &bad);
    const char *platform = take_opt(&argc, argv, "--platform", &bad);
    int json = has_flag(&argc, argv, "--json");
    if (bad || leftover_options(argc, argv, "release add"))
        return 2;
    if (argc != 2) {
        fprintf(stderr, "usage: updraft release add FILE --version V [--channel C] [--notes "
                        "TEXT] [--platform esp8266|esp32] [--json]\n");
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
            fprintf(stderr, "updraft release add: the options are too long\n");
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
        print_json(j);
    if (!ok) {
        fprintf(stderr, "updraft release add: refused (HTTP %d): %s\n", resp.status,
                j ? jstr(j, "error") : resp.body);
        const cJSON *reason = j ? cJSON_GetObjectItemCaseSensitive(j, "reason") : NULL;
        if (cJSON_IsString(reason))
            fprintf(stderr, "  the file is: %s (%s)\n  %s\n", jstr(j, "kind"),
                    jstr(j, "kind_description"), reason->valuestring);
    } else if (!json) {
        printf("release %lld: version %s, %s %s, %lld bytes, md5 %s%s%s\n", jnum(j, "id"),
               jstr(j, "version"), jstr(j, "platform"), jstr(j, "kind"), jnum(j, "size"),
               jstr(j, "md5"), channel ? ", now current on channel " : "", channel ? channel : "");
        printf("download: %s\n", jstr(j, "url"));
    }
    cJSON_Delete(j);
    free(resp.body);
    return ok ? 0 : 1;
}

int upd_cmd_release(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    if (!strcmp(sub, "add"))
        return release_add(argc - 1, argv + 1);
    if (!strcmp(sub, "list")) {
        argc--, argv++;
        int json = has_flag(&argc, argv, "--json");
        cJSON *j = upd_api_call("release list", "GET", "/api/v1/releases", NULL);
        if (!j)
            return 1;
        if (json)
            print_json(j);
        else {
            printf("%-5s %-20s %-8s %-6s %-10s %-10s %-8s %s\n", "ID", "VERSION", "PLATFORM",
                   "MODE", "BYTES", "CHANNEL", "STATE", "FILE");
            const cJSON *r;
            cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(j, "releases"))
                print_release_row(r);
        }
        cJSON_Delete(j);
        return 0;
    }
    if ((!strcmp(sub, "show") || !strcmp(sub, "retire")) && argc >= 3) {
        char path[128];
        int retire = !strcmp(sub, "retire");
        snprintf(path, sizeof path, "/api/v1/releases/%lld%s", atoll(argv[2]),
                 retire ? "/retire" : "");
        cJSON *j = upd_api_call(retire ? "release retire" : "release show", retire ? "POST" : "GET",
                                path, NULL);
        if (!j)
            return 1;
        print_json(j);
        cJSON_Delete(j);
        return 0;
    }
    fprintf(stderr, "usage: updraft release add FILE --version V [--channel C] [--notes TEXT]\n"
                    "       updraft release list [--json]\n"
                    "       updraft release show ID\n"
                    "       updraft release retire ID\n"
                    "(server: UPDRAFT_URL, default http://127.0.0.1:8080; token: UPDRAFT_TOKEN)\n");
    return 2;
}

static int device_list(int argc, char **argv)
{
    int bad = 0;
    const char *opts[] = {"--channel", "--platform", "--version", "--seen-since"};
    const char *keys[] = {"channel", "platform", "version", "seen-since"};
    char path[4096] = "/api/v1/devices", enc[1024];
    size_t n = strlen(path);
    int json = has_flag(&argc, argv, "--json");
    if (has_flag(&argc, argv, "--attention")) {
        snprintf(path + n, sizeof path - n, "?attention=1");
        n = strlen(path);
    }
    for (int i = 0; i < 4; i++) {
        const char *v = take_opt(&argc, argv, opts[i], &bad);
        if (!v)
            continue;
        upd_api_urlencode(v, enc, sizeof enc);
        n += (size_t)snprintf(path + n, sizeof path - n, "%c%s=%s", strchr(path, '?') ? '&' : '?',
                              keys[i], enc);
        if (n >= sizeof path)
            return 2;
    }
    if (bad || leftover_options(argc, argv, "device list"))
        return 2;
    cJSON *j = upd_api_call("device list", "GET", path, NULL);
    if (!j)
        return 1;
    if (json)
        print_json(j);
    else {
        printf("%-17s %-8s %-20s %-10s %-24s %s\n", "MAC", "PLATFORM", "VERSION", "CHANNEL",
               "LAST SEEN", "LAST RESULT");
        const cJSON *d;
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(j, "devices"))
        {
            printf("%-17s %-8s %-20s %-10s %-24s %s\n", jstr(d, "mac"), jstr(d, "platform"),
                   jstr(d, "version"), jstr(d, "effective_channel"), jstr(d, "last_seen"),
                   jstr(d, "last_result"));
        }
    }
    cJSON_Delete(j);
    return 0;
}

int upd_cmd_device(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    char path[256], body[128];
    if (!strcmp(sub, "list"))
        return device_list(argc - 1, argv + 1);
    if (!strcmp(sub, "show") && argc >= 3) {
        argc--, argv++;
        int json = has_flag(&argc, argv, "--json");
        if (argc < 2)
            goto usage;
        char enc[128];
        upd_api_urlencode(argv[1], enc, sizeof enc);
        snprintf(path, sizeof path, "/api/v1/devices/%s", enc);
        cJSON *j = upd_api_call("device show", "GET", path, NULL);
        if (!j)
            return 1;
        if (json) {
            print_json(j);
        } else {
            const char *fields[] = {"mac",       "platform",   "version",           "chip_id",
                                    "sdk",       "sketch_md5", "effective_channel", "first_seen",
                                    "last_seen", "ip",         "user_agent",        "last_result",
                                    "attention"};
            for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
                printf("%-18s %s\n", fields[i], jstr(j, fields[i]));
            const char *nums[] = {"sketch_size",    "free_space",      "chip_size",
                                  "pinned_release", "offered_release", "running_release"};
            for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
                long long v = jnum(j, nums[i]);
                if (v >= 0)
                    printf("%-18s %lld\n", nums[i], v);
                else
                    printf("%-18s -\n", nums[i]);
            }
            printf("\nhistory (newest first):\n");
            const cJSON *e;
            cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "history"))
            {
                printf("  %s  %-18s %s\n", jstr(e, "at"), jstr(e, "kind"), jstr(e, "detail"));
            }
        }
        cJSON_Delete(j);
        return 0;
    }
    if (!strcmp(sub, "retry") && argc == 3) {
        char enc[128];
        upd_api_urlencode(argv[2], enc, sizeof enc);
        snprintf(path, sizeof path, "/api/v1/devices/%s/retry", enc);
        cJSON *j = upd_api_call("device retry", "POST", path, NULL);
        if (!j)
            return 1;
        printf("%s: no release is held back; the next check offers what its channel or pin "
               "says\n",
               jstr(j, "mac"));
        cJSON_Delete(j);
        return 0;
    }
    if ((!strcmp(sub, "pin") && argc == 4) || (!strcmp(sub, "unpin") && argc == 3) ||
        (!strcmp(sub, "channel") && argc == 4)) {
        char enc[128];
        upd_api_urlencode(argv[2], enc, sizeof enc);
        const char *method = "POST";
        const char *b = NULL;
        if (!strcmp(sub, "pin")) {
            snprintf(path, sizeof path, "/api/v1/devices/%s/pin", enc);
            char *end;
            long long id = strtoll(argv[3], &end, 10);
            if (*end || id <= 0) {
                fprintf(stderr, "updraft device pin: RELEASE is a release id (see 'updraft "
                                "release list')\n");
                return 2;
            }
            snprintf(body, sizeof body, "{\"release\": %lld}", id);
            b = body;
        } else if (!strcmp(sub, "unpin")) {
            snprintf(path, sizeof path, "/api/v1/devices/%s/pin", enc);
            method = "DELETE";
        } else {
            snprintf(path, sizeof path, "/api/v1/devices/%s/channel", enc);
            cJSON *o = cJSON_CreateObject();
            if (strcmp(argv[3], "-"))
                cJSON_AddStringToObject(o, "channel", argv[3]);
            else
                cJSON_AddNullToObject(o, "channel");
            char *t = cJSON_PrintUnformatted(o);
            cJSON_Delete(o);
            snprintf(body, sizeof body, "%s", t ? t : "{}");
            free(t);
            b = body;
            method = "PUT";
        }
        cJSON *j = upd_api_call(sub, method, path, b);
        if (!j)
            return 1;
        long long pin = jnum(j, "pinned_release");
        if (pin > 0)
            printf("%s: pinned to release %lld, channel %s\n", jstr(j, "mac"), pin,
                   jstr(j, "effective_channel"));
        else
            printf("%s: not pinned, channel %s\n", jstr(j, "mac"), jstr(j, "effective_channel"));
        cJSON_Delete(j);
        return 0;
    }
usage:
    fprintf(stderr, "usage: updraft device list [--channel C] [--platform P] [--version V] "
                    "[--seen-since TIME] [--attention] [--json]\n"
                    "       updraft device show MAC [--json]\n"
                    "       updraft device retry MAC   (offer a release that failed on it again)\n"
                    "       updraft device pin MAC RELEASE\n"
                    "       updraft device unpin MAC\n"
                    "       updraft device channel MAC CHANNEL   ('-' clears)\n");
    return 2;
}

int upd_cmd_channel(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    if (!strcmp(sub, "set") && argc == 4) {
        char path[256], enc[200], body[64];
        upd_api_urlencode(argv[2], enc, sizeof enc);
        snprintf(path, sizeof path, "/api/v1/channels/%s", enc);
        char *end;
        long long id = strtoll(argv[3], &end, 10);
        if (*end || id <= 0) {
            fprintf(stderr, "updraft channel set: RELEASE is a release id (see 'updraft release "
                            "list')\n");
            return 2;
        }
        snprintf(body, sizeof body, "{\"release\": %lld}", id);
        cJSON *j = upd_api_call("channel set", "PUT", path, body);
        if (!j)
            return 1;
        printf("channel %s (%s %s) now serves release %lld (version %s)\n", jstr(j, "name"),
               jstr(j, "platform"), jstr(j, "mode"), jnum(j, "release"), jstr(j, "version"));
        cJSON_Delete(j);
        return 0;
    }
    if (!strcmp(sub, "list")) {
        argc--, argv++;
        int json = has_flag(&argc, argv, "--json");
        cJSON *j = upd_api_call("channel list", "GET", "/api/v1/channels", NULL);
        if (!j)
            return 1;
        if (json)
            print_json(j);
        else {
            printf("%-16s %-8s %-6s %-7s %s\n", "CHANNEL", "PLATFORM", "MODE", "RELEASE",
                   "VERSION");
            const cJSON *c;
            cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(j, "channels"))
            {
                printf("%-16s %-8s %-6s %-7lld %s\n", jstr(c, "name"), jstr(c, "platform"),
                       jstr(c, "mode"), jnum(c, "release"), jstr(c, "version"));
            }
        }
        cJSON_Delete(j);
        return 0;
    }
    fprintf(stderr, "usage: updraft channel set CHANNEL RELEASE\n"
                    "       updraft channel list [--json]\n");
    return 2;
}
