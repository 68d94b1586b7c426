/* `updraft device show|pin|unpin|channel|retry`: the device registry, over the server's
 * API (`device list`: cmd_device_list.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cliutil.h"
#include "cmd_apiclient.h"

#define S upd_cli_jstr
#define N upd_cli_jnum

/* The device path of a MAC argument, and the words for a device never seen. */
static void device_path(const char *mac, const char *tail, char *path, size_t cap, char *nf,
                        size_t nfcap)
{
    char enc[128];
    upd_api_urlencode(mac, enc, sizeof enc);
    snprintf(path, cap, "/api/v1/devices/%s%s", enc, tail);
    snprintf(nf, nfcap,
             "no device %s has contacted this server: check the MAC ('updraft device list' "
             "shows the devices seen)",
             mac);
}

/* The error the server gives a MAC it cannot read, in the CLI's words. */
static char bad_mac[200];
static const char *bad_mac_text(const char *mac)
{
    snprintf(bad_mac, sizeof bad_mac,
             "'%.60s' is not a MAC address: write it as 5C:CF:7F:0A:1B:2C or 5ccf7f0a1b2c", mac);
    return bad_mac;
}

static int show(int argc, char **argv)
{
    static const char *const known[] = {"--json", NULL};
    int json, rc = upd_cli_plain_args(&argc, argv, "device show", known, 2, &json);
    if (rc)
        return rc;
    char path[256], nf[256];
    device_path(argv[1], "", path, sizeof path, nf, sizeof nf);
    const upd_cli_err errs[] = {{404, NULL, nf}, {400, NULL, bad_mac_text(argv[1])}};
    cJSON *j = upd_cli_call("device show", "GET", path, NULL, errs, 2, NULL);
    if (!j)
        return 1;
    if (json)
        return upd_cli_json_done(j);
    static const char *const fields[] = {
        "mac",        "platform",          "version",    "chip_id",   "sdk",
        "sketch_md5", "effective_channel", "first_seen", "last_seen", "ip",
        "user_agent", "last_result",       "attention"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        printf("%-18s %s\n", fields[i], S(j, fields[i]));
    /* why that channel: the URL's wins over the assigned one (docs/filters.md) */
    printf("%-18s %s\n%-18s %s\n", "url_channel", S(j, "url_channel"), "assigned_channel",
           S(j, "channel"));
    char tags[300];
    upd_cli_tag_text(cJSON_GetObjectItemCaseSensitive(j, "tags"), tags, sizeof tags);
    printf("%-18s %s\n", "tags", tags);
    static const char *const nums[] = {"sketch_size",    "free_space",      "chip_size",
                                       "pinned_release", "offered_release", "running_release"};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        long long v = N(j, nums[i]);
        if (v >= 0)
            printf("%-18s %lld\n", nums[i], v);
        else
            printf("%-18s -\n", nums[i]);
    }
    const cJSON *held = cJSON_GetObjectItemCaseSensitive(j, "held");
    if (cJSON_IsObject(held))
        printf("%-18s release %lld, failed %lld times, %s%s\n", "held back", N(held, "release"),
               N(held, "failures"), strcmp(S(held, "until"), "-") ? "until " : "not offered again",
               strcmp(S(held, "until"), "-") ? S(held, "until") : "");
    printf("\nhistory (newest first):\n");
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "history"))
    {
        printf("  %s  %-18s %s\n", S(e, "at"), S(e, "kind"), S(e, "detail"));
    }
    cJSON_Delete(j);
    return 0;
}

/* pin, unpin, channel: one call, then the device's pin and channel. */
static int change(const char *cmd, const char *mac, const char *method, const char *tail,
                  const char *body, const upd_cli_err *extra, size_t nextra)
{
    char path[256], nf[256];
    device_path(mac, tail, path, sizeof path, nf, sizeof nf);
    upd_cli_err errs[6] = {{404, NULL, nf}, {400, NULL, bad_mac_text(mac)}};
    size_t n = 2;
    for (size_t i = 0; i < nextra && n < 6; i++)
        errs[n++] = extra[i];
    /* the caller's words first */
    upd_cli_err ordered[6];
    size_t k = 0;
    for (size_t i = 2; i < n; i++)
        ordered[k++] = errs[i];
    ordered[k++] = errs[0];
    ordered[k++] = errs[1];
    cJSON *j = upd_cli_call(cmd, method, path, body, ordered, k, NULL);
    if (!j)
        return 1;
    long long pin = N(j, "pinned_release");
    if (pin > 0)
        printf("%s: pinned to release %lld, channel %s\n", S(j, "mac"), pin,
               S(j, "effective_channel"));
    else
        printf("%s: not pinned, channel %s\n", S(j, "mac"), S(j, "effective_channel"));
    if (strcmp(S(j, "url_channel"), "-") && strcmp(S(j, "channel"), "-") &&
        strcmp(S(j, "url_channel"), S(j, "channel")))
        printf("note: it asks for channel %s in its update URL, which wins over the assigned "
               "channel %s\n",
               S(j, "url_channel"), S(j, "channel"));
    cJSON_Delete(j);
    return 0;
}

static int pin(int argc, char **argv)
{
    static const char *const known[] = {"--force", NULL};
    int force = upd_cli_flag(&argc, argv, "--force");
    if (upd_cli_unknown_options(argc, argv, "device pin", known))
        return 2;
    if (argc != 3)
        return upd_cli_usage();
    long long id = upd_cli_release_id("device pin", argv[2]);
    if (!id)
        return 2;
    char body[64], nf[160], ret[200];
    snprintf(body, sizeof body, "{\"release\": %lld%s}", id, force ? ", \"force\": true" : "");
    snprintf(nf, sizeof nf, "there is no release %lld: 'updraft release list' shows them", id);
    snprintf(ret, sizeof ret,
             "release %lld is retired: pin a release that is not ('updraft release list')", id);
    const upd_cli_err errs[] = {
        {404, "not-found", nf},
        {409, "retired", ret},
        {409, "wont-fit",
         "%s; pin it anyway with --force (it would fail as the device's own "
         "client would)"}};
    return change("device pin", argv[1], "POST", "/pin", body, errs, 3);
}

static int unpin(int argc, char **argv)
{
    if (upd_cli_unknown_options(argc, argv, "device unpin", NULL))
        return 2;
    if (argc != 2)
        return upd_cli_usage();
    return change("device unpin", argv[1], "DELETE", "/pin", NULL, NULL, 0);
}

static int channel(int argc, char **argv)
{
    static const char *const known[] = {"--create", NULL};
    int create = upd_cli_flag(&argc, argv, "--create");
    if (upd_cli_unknown_options(argc, argv, "device channel", known))
        return 2;
    if (argc != 3)
        return upd_cli_usage();
    cJSON *o = cJSON_CreateObject();
    if (strcmp(argv[2], "-"))
        cJSON_AddStringToObject(o, "channel", argv[2]);
    else
        cJSON_AddNullToObject(o, "channel");
    cJSON_AddBoolToObject(o, "create", create); /* false: refuse an unknown name */
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    char bad[200];
    snprintf(bad, sizeof bad,
             "'%.60s' is not a channel name: use letters, digits, '.', '_' and '-' (at most 63), "
             "or '-' to clear the device's channel",
             argv[2]);
    const upd_cli_err errs[] = {
        {400, "bad-json", bad},
        {404, "unknown-channel", "%s; to assign a channel that serves nothing yet, pass --create"}};
    int rc = change("device channel", argv[1], "PUT", "/channel", body ? body : "{}", errs, 2);
    free(body);
    return rc;
}

static int retry(int argc, char **argv)
{
    if (upd_cli_unknown_options(argc, argv, "device retry", NULL))
        return 2;
    if (argc != 2)
        return upd_cli_usage();
    char path[256], nf[256];
    device_path(argv[1], "/retry", path, sizeof path, nf, sizeof nf);
    const upd_cli_err errs[] = {{404, NULL, nf}, {400, NULL, bad_mac_text(argv[1])}};
    cJSON *j = upd_cli_call("device retry", "POST", path, NULL, errs, 2, NULL);
    if (!j)
        return 1;
    printf("%s: no release is held back; the next check offers what its channel or pin says\n",
           S(j, "mac"));
    cJSON_Delete(j);
    return 0;
}

static const upd_cli_sub SUBS[] = {
    {"list", upd_cmd_device_list, UPD_DEVICE_LIST_SYNOPSIS, UPD_DEVICE_LIST_HELP},
    {"show", show, "show MAC [--json]",
     "Show one device: what it reported, what the server knows (pin, channel, offers, the\n"
     "release it runs, a release held back) and its events, newest first.\n\n"
     "  --json            the API's JSON\n"},
    {"pin", pin, "pin MAC RELEASE [--force]",
     "Pin a device to a release: it is offered that release whatever its channel says,\n"
     "older versions included (the fit rules still apply at each check).\n\n"
     "  --force         pin it even when the device, as it last reported itself, cannot\n"
     "                  take the release (other platform or chip, app vs filesystem, too\n"
     "                  big): refused otherwise, with the reason\n"},
    {"unpin", unpin, "unpin MAC", "Unpin a device: it follows its channel again.\n"},
    {"channel", channel, "channel MAC CHANNEL [--create]",
     "Assign a device to a channel ('-' clears: it follows stable). A device whose update\n"
     "URL names a channel (/update/beta) uses that one whatever is assigned: the\n"
     "assignment counts for devices that check /update (or /fw/<MAC>.bin).\n\n"
     "  --create        CHANNEL serves nothing yet (without it an unknown name is refused,\n"
     "                  with the closest existing one)\n"},
    {"delete", upd_cmd_device_delete, UPD_DEVICE_DELETE_SYNOPSIS, UPD_DEVICE_DELETE_HELP},
    {"tag", upd_cmd_device_tag, UPD_DEVICE_TAG_SYNOPSIS, UPD_DEVICE_TAG_HELP},
    {"untag", upd_cmd_device_untag, UPD_DEVICE_UNTAG_SYNOPSIS, UPD_DEVICE_UNTAG_HELP},
    {"retry", retry, "retry MAC",
     "Offer a release that failed on the device again: clears the hold the server put on\n"
     "it (docs/protocol.md, \"Failed releases\").\n"},
    {NULL, NULL, NULL, NULL},
};

int upd_cmd_device(int argc, char **argv)
{
    return upd_cli_dispatch("device",
                            "List and show devices, pin them, set their channel, tag them.", SUBS,
                            argc, argv);
}
