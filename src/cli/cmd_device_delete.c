/* `updraft device delete MAC...` and `updraft device delete --filter ...`: forget
 * devices (DELETE /api/v1/devices/<mac>): their rows and their events; the server keeps
 * one "device-deleted" event per device. A subcommand of `updraft device`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cliutil.h"
#include "cmd_apiclient.h"

const char UPD_DEVICE_DELETE_SYNOPSIS[] =
    "delete MAC... | delete [--filter FILTER] [--channel C] [--platform P] [--version V] "
    "[--seen-since TIME] [--attention] [--tool sim|doctor|any|none] [--all] [--yes]";

const char UPD_DEVICE_DELETE_HELP[] =
    "Forget devices: their registry rows and their events go (the server keeps one\n"
    "'device-deleted' event per device, under its MAC). A deleted device that checks in\n"
    "again is new to the server: no channel assignment, no pin, no history.\n\n"
    "  MAC...            the devices to delete (5C:CF:7F:0A:1B:2C or 5ccf7f0a1b2c)\n"
    "or select them as 'updraft device list' does (the options together: all must hold);\n"
    "without --yes the selected devices are only listed:\n"
    "  --filter FILTER   the devices the target filter selects (docs/filters.md), e.g.\n"
    "                    --filter 'tool=sim' or --filter 'platform=esp32 seen>30d'\n"
    "  --channel C       devices whose effective channel is C\n"
    "  --platform P      esp8266 or esp32\n"
    "  --version V       devices that run exactly version V\n"
    "  --seen-since T    seen since T (2026-11-27T10:00:00Z, or seconds since 1970)\n"
    "  --attention       devices a failed release is no longer offered to\n"
    "  --tool T          the devices updraft sim / doctor made: sim, doctor, any; none\n"
    "                    (the default, as in 'updraft device list'): real devices only\n"
    "  --all             every device (real devices only, unless --tool or --filter)\n"
    "  --yes             delete the selected devices\n";

static int delete_one(const char *mac)
{
    char enc[128], path[256], nf[256];
    upd_api_urlencode(mac, enc, sizeof enc);
    snprintf(path, sizeof path, "/api/v1/devices/%s", enc);
    snprintf(nf, sizeof nf,
             "no device %.60s is in the registry: check the MAC ('updraft device list' shows "
             "the devices)",
             mac);
    char badmac[160];
    snprintf(badmac, sizeof badmac,
             "'%.60s' is not a MAC address: write it as 5C:CF:7F:0A:1B:2C or 5ccf7f0a1b2c", mac);
    const upd_cli_err errs[] = {{404, NULL, nf}, {400, NULL, badmac}};
    cJSON *j = upd_cli_call("device delete", "DELETE", path, NULL, errs, 2, NULL);
    if (!j)
        return 1;
    long long n = upd_cli_jnum(j, "events_deleted");
    printf("deleted %s (and its %lld event%s)\n", upd_cli_jstr(j, "mac"), n, n == 1 ? "" : "s");
    cJSON_Delete(j);
    return 0;
}

/* The selection options, in 'updraft device list's terms and API keys. */
/* The selection options, in 'updraft device list's terms, and their API keys; --filter
 * first, so that an option written after it is seen as its missing value. */
static const char *const SEL_OPTS[] = {"--filter",  "--channel",    "--platform",
                                       "--version", "--seen-since", "--tool"};
static const char *const SEL_KEYS[] = {"filter",  "channel",    "platform",
                                       "version", "seen-since", "tool"};
#define NSEL ((int)(sizeof SEL_OPTS / sizeof SEL_OPTS[0]))

static int delete_filtered(int argc, char **argv)
{
    static const char *const known[] = {"--channel",   "--platform", "--version", "--seen-since",
                                        "--attention", "--yes",      "--filter",  "--tool",
                                        "--all",       NULL};
    int tool_given = 0;
    /* the API's largest page; more matches are left for another run (said below) */
    char path[8192] = "/api/v1/devices?limit=100000", enc[4096];
    size_t n = strlen(path);
    int bad = 0, yes = upd_cli_flag(&argc, argv, "--yes");
    int all = upd_cli_flag(&argc, argv, "--all"), selected = all;
    if (upd_cli_flag(&argc, argv, "--attention")) {
        snprintf(path + n, sizeof path - n, "&attention=1");
        n = strlen(path);
        selected = 1;
    }
    for (int i = 0; i < NSEL; i++) {
        const char *v = upd_cli_opt(&argc, argv, "device delete", SEL_OPTS[i], &bad);
        if (!v)
            continue;
        if (i == 0 && (!v[0] || !strncmp(v, "--", 2))) {
            fprintf(stderr,
                    "updraft device delete: --filter takes a filter (docs/filters.md), e.g. "
                    "--filter 'tool=sim' or --filter 'platform=esp32 seen>30d'; the options "
                    "--channel, --platform, --version, --seen-since, --attention and --tool "
                    "select by themselves ('updraft device delete --tool sim --yes')\n");
            return 2;
        }
        selected = 1;
        /* a filter selects exactly what it says, the tools' devices included */
        tool_given |= i == 0 || i == NSEL - 1;
        upd_api_urlencode(v, enc, sizeof enc);
        n += (size_t)snprintf(path + n, sizeof path - n, "&%s=%s", SEL_KEYS[i], enc);
        if (n >= sizeof path) {
            fprintf(stderr, "updraft device delete: the selection is too long\n");
            return 2;
        }
    }
    if (!tool_given) /* as 'device list': not the devices updraft's tools made */
        n += (size_t)snprintf(path + n, sizeof path - n, "&tool=none");
    if (n >= sizeof path)
        return 2;
    if (bad || upd_cli_unknown_options(argc, argv, "device delete", known))
        return 2;
    if (argc != 1) {
        fprintf(stderr, "updraft device delete: give MACs or selection options (--filter, "
                        "--channel, --tool ..., --all), not both\n");
        return 2;
    }
    if (!selected) {
        fprintf(stderr, "usage: updraft device %s\n", UPD_DEVICE_DELETE_SYNOPSIS);
        return 2;
    }
    const upd_cli_err errs[] = {
        {400, "bad-request",
         "--seen-since must be a UTC time like 2026-11-27T10:00:00Z or seconds since 1970"},
        {400, "bad-tool", "--tool takes sim, doctor, any or none"},
        {400, "bad-filter", "--filter: %s"}};
    cJSON *j = upd_cli_call("device delete", "GET", path, NULL, errs, 3, NULL);
    if (!j)
        return 1;
    const cJSON *devs = cJSON_GetObjectItemCaseSensitive(j, "devices");
    int count = cJSON_GetArraySize(devs), failed = 0;
    if (count == 0) {
        printf("no device matches: nothing to delete\n");
        cJSON_Delete(j);
        return 0;
    }
    const cJSON *d;
    if (!yes) {
        cJSON_ArrayForEach(d, devs)
        {
            printf("%s  %s  %s\n", upd_cli_jstr(d, "mac"), upd_cli_jstr(d, "platform"),
                   upd_cli_jstr(d, "version"));
        }
        fprintf(stderr,
                "updraft device delete: %d device%s match%s (listed above); nothing deleted: "
                "run it again with --yes to delete %s\n",
                count, count == 1 ? "" : "s", count == 1 ? "es" : "", count == 1 ? "it" : "them");
        cJSON_Delete(j);
        return 1;
    }
    cJSON_ArrayForEach(d, devs)
    {
        failed += delete_one(upd_cli_jstr(d, "mac")) != 0;
    }
    printf("%d of %d device%s deleted\n", count - failed, count, count == 1 ? "" : "s");
    long long total = upd_cli_jnum(j, "total");
    if (total > count)
        printf("%lld more match: run it again to delete them\n", total - count);
    cJSON_Delete(j);
    return failed ? 1 : 0;
}

int upd_cmd_device_delete(int argc, char **argv)
{
    /* any selection option: delete what it selects (listed first without --yes) */
    static const char *const sel_flags[] = {"--all", "--attention", "--yes"};
    for (int i = 1; i < argc; i++) {
        for (int k = 0; k < NSEL; k++) {
            size_t l = strlen(SEL_OPTS[k]);
            if (!strncmp(argv[i], SEL_OPTS[k], l) && (!argv[i][l] || argv[i][l] == '='))
                return delete_filtered(argc, argv);
        }
        for (int k = 0; k < 3; k++)
            if (!strcmp(argv[i], sel_flags[k]))
                return delete_filtered(argc, argv);
    }
    static const char *const known[] = {"--filter", "--all", NULL};
    if (upd_cli_unknown_options(argc, argv, "device delete", known))
        return 2;
    if (argc < 2) {
        fprintf(stderr, "usage: updraft device %s\n", UPD_DEVICE_DELETE_SYNOPSIS);
        return 2;
    }
    int failed = 0;
    for (int i = 1; i < argc; i++)
        failed += delete_one(argv[i]) != 0;
    return failed ? 1 : 0;
}
