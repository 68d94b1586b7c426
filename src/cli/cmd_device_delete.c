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
    "delete MAC... | delete --filter [--channel C] [--platform P] [--version V] "
    "[--seen-since TIME] [--attention] [--tool sim|doctor|any|none] [--yes]";

const char UPD_DEVICE_DELETE_HELP[] =
    "Forget devices: their registry rows and their events go (the server keeps one\n"
    "'device-deleted' event per device, under its MAC). A deleted device that checks in\n"
    "again is new to the server: no channel assignment, no pin, no history.\n\n"
    "  MAC...            the devices to delete (5C:CF:7F:0A:1B:2C or 5ccf7f0a1b2c)\n"
    "  --filter          delete every device the options below match (as in 'updraft\n"
    "                    device list'; none: every device); without --yes it only lists\n"
    "                    them\n"
    "  --channel C       devices whose effective channel is C\n"
    "  --platform P      esp8266 or esp32\n"
    "  --version V       devices that run exactly version V\n"
    "  --seen-since T    seen since T (2026-11-27T10:00:00Z, or seconds since 1970)\n"
    "  --attention       devices a failed release is no longer offered to\n"
    "  --tool T          the devices updraft sim / doctor made: sim, doctor, any; none\n"
    "                    (the default, as in 'updraft device list'): real devices only\n"
    "  --yes             with --filter: delete them\n";

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

static int delete_filtered(int argc, char **argv)
{
    static const char *const known[] = {"--channel",    "--platform",  "--version",
                                        "--seen-since", "--attention", "--yes",
                                        "--filter",     "--tool",      NULL};
    static const char *const opts[] = {"--channel", "--platform", "--version", "--seen-since",
                                       "--tool"};
    static const char *const keys[] = {"channel", "platform", "version", "seen-since", "tool"};
    int tool_given = 0;
    /* the API's largest page; more matches are left for another run (said below) */
    char path[4096] = "/api/v1/devices?limit=100000", enc[1024];
    size_t n = strlen(path);
    int bad = 0, yes = upd_cli_flag(&argc, argv, "--yes");
    if (upd_cli_flag(&argc, argv, "--attention")) {
        snprintf(path + n, sizeof path - n, "&attention=1");
        n = strlen(path);
    }
    for (int i = 0; i < 5; i++) {
        const char *v = upd_cli_opt(&argc, argv, "device delete", opts[i], &bad);
        if (!v)
            continue;
        tool_given |= i == 4;
        upd_api_urlencode(v, enc, sizeof enc);
        n += (size_t)snprintf(path + n, sizeof path - n, "&%s=%s", keys[i], enc);
        if (n >= sizeof path)
            return 2;
    }
    if (!tool_given) /* as 'device list': not the devices updraft's tools made */
        n += (size_t)snprintf(path + n, sizeof path - n, "&tool=none");
    if (n >= sizeof path)
        return 2;
    if (bad || upd_cli_unknown_options(argc, argv, "device delete", known))
        return 2;
    if (argc != 1) {
        fprintf(stderr, "updraft device delete: give MACs or --filter with options, not both\n");
        return 2;
    }
    const upd_cli_err errs[] = {
        {400, "bad-request",
         "--seen-since must be a UTC time like 2026-11-27T10:00:00Z or seconds since 1970"},
        {400, "bad-tool", "--tool takes sim, doctor, any or none"}};
    cJSON *j = upd_cli_call("device delete", "GET", path, NULL, errs, 2, NULL);
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
    if (upd_cli_flag(&argc, argv, "--filter"))
        return delete_filtered(argc, argv);
    static const char *const known[] = {"--filter", NULL};
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
