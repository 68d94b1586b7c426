/* `updraft channel set|list`: what each channel serves, over the server's API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cliutil.h"
#include "cmd_apiclient.h"

#define S upd_cli_jstr
#define N upd_cli_jnum

static const upd_cli_sub *sub_named(const char *name);

static int set(int argc, char **argv)
{
    static const char *const known[] = {"--create", NULL};
    int create = upd_cli_flag(&argc, argv, "--create");
    if (upd_cli_unknown_options(argc, argv, "channel set", known))
        return 2;
    if (argc != 3)
        return upd_cli_usage("channel", sub_named("set"));
    char *end;
    long long id = strtoll(argv[2], &end, 10);
    if (argv[2][0] < '0' || argv[2][0] > '9' || *end || id <= 0) {
        fprintf(stderr,
                "updraft channel set: '%s' is not a release id: give the number "
                "'updraft release list' shows in its ID column\n",
                argv[2]);
        return 2;
    }
    char path[256], enc[200], body[64], nf[160], ret[200], bad[200];
    upd_api_urlencode(argv[1], enc, sizeof enc);
    snprintf(path, sizeof path, "/api/v1/channels/%s", enc);
    snprintf(body, sizeof body, "{\"release\": %lld, \"create\": %s}", id,
             create ? "true" : "false"); /* false: refuse an unknown name */
    snprintf(nf, sizeof nf, "there is no release %lld: 'updraft release list' shows them", id);
    snprintf(ret, sizeof ret,
             "release %lld is retired: a channel serves only releases that are not "
             "('updraft release list')",
             id);
    snprintf(bad, sizeof bad,
             "'%.60s' is not a channel name: use letters, digits, '.', '_' and '-' (at most 63)",
             argv[1]);
    const upd_cli_err errs[] = {
        {404, "unknown-channel", "%s; to start a new channel, pass --create"},
        {404, NULL, nf},
        {409, "retired", ret},
        {400, NULL, bad}};
    cJSON *j = upd_cli_call("channel set", "PUT", path, body, errs, 4, NULL);
    if (!j)
        return 1;
    printf("channel %s (%s %s) now serves release %lld (version %s)\n", S(j, "name"),
           S(j, "platform"), S(j, "mode"), N(j, "release"), S(j, "version"));
    cJSON_Delete(j);
    return 0;
}

static int list(int argc, char **argv)
{
    static const char *const known[] = {"--json", NULL};
    int json = upd_cli_flag(&argc, argv, "--json");
    if (upd_cli_unknown_options(argc, argv, "channel list", known))
        return 2;
    if (argc != 1)
        return upd_cli_usage("channel", sub_named("list"));
    cJSON *j = upd_cli_call("channel list", "GET", "/api/v1/channels", NULL, NULL, 0, NULL);
    if (!j)
        return 1;
    if (json) {
        upd_cli_print_json(j);
        cJSON_Delete(j);
        return 0;
    }
    static const upd_cli_col cols[] = {
        {"CHANNEL", 16}, {"PLATFORM", 8}, {"MODE", 6}, {"RELEASE", 7}, {"VERSION", 0}};
    upd_cli_table_head(cols, 5);
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(j, "channels"))
    {
        char rel[24];
        snprintf(rel, sizeof rel, "%lld", N(c, "release"));
        const char *v[] = {S(c, "name"), S(c, "platform"), S(c, "mode"), rel, S(c, "version")};
        upd_cli_table_row(cols, 5, v);
    }
    cJSON_Delete(j);
    return 0;
}

static const upd_cli_sub SUBS[] = {
    {"set", set, "set CHANNEL RELEASE [--create]",
     "Make RELEASE the current release of CHANNEL for the release's platform and mode\n"
     "(a channel serves one release per platform, esp8266/esp32, and mode, app/filesystem).\n"
     "Devices on the channel that run an older version are offered it at their next check.\n\n"
     "  --create        CHANNEL is new (without it an unknown name is refused, with the\n"
     "                  closest existing one: a typo would strand devices)\n"},
    {"list", list, "list [--json]",
     "List the channels and the release each serves per platform and mode.\n\n"
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

int upd_cmd_channel(int argc, char **argv)
{
    return upd_cli_dispatch("channel", "Set and list what each channel serves.", SUBS, argc, argv);
}
