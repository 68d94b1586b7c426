/* `updraft channel set|chip|list`: what each channel serves and which chip it is
 * declared for, over the server's API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cliutil.h"
#include "cmd_apiclient.h"
#include "signing.h"
#include "updraft/image.h"

#define S upd_cli_jstr
#define N upd_cli_jnum

/* A CHIP argument: an ESP32-family chip name, or "-" (clear) when may_clear. 0 ok. */
static int check_chip(const char *cmd, const char *chip, int may_clear)
{
    if (may_clear && !strcmp(chip, "-"))
        return 0;
    upd_chip c = upd_chip_parse(chip);
    if (c != UPD_CHIP_UNKNOWN && c != UPD_CHIP_ESP8266 && upd_chip_name(c))
        return 0;
    fprintf(stderr,
            "updraft %s: '%s' is not an ESP32-family chip: give esp32, esp32s2, esp32s3, "
            "esp32c2, esp32c3, esp32c5, esp32c6, esp32c61, esp32h2 or esp32p4%s\n",
            cmd, chip, may_clear ? " ('-' clears the declaration)" : "");
    return 2;
}

/* The JSON string of a chip argument ("null" for "-"). */
static void chip_json(const char *chip, char *out, size_t cap)
{
    if (!strcmp(chip, "-"))
        snprintf(out, cap, "null");
    else
        snprintf(out, cap, "\"%s\"", upd_chip_name(upd_chip_parse(chip)));
}

/* The public key of a --require-signed KEY argument as PEM (caller frees; a private
 * key file gives its public half: the private part never leaves this machine), or NULL
 * after saying why. */
static char *require_key(const char *arg)
{
    upd_sig_key *k = NULL;
    char err[1024];
    if (upd_sig_load_public(arg, &k, err, sizeof err) != 0) {
        fprintf(stderr, "updraft channel set: --require-signed %s\n", err);
        return NULL;
    }
    char *pem = NULL;
    if (!upd_sig_key_is_rsa(k))
        fprintf(stderr,
                "updraft channel set: --require-signed %s is an %s key: ESP8266 devices verify "
                "RSA signatures only (docs/signing.md); give the RSA public key they hold\n",
                arg, upd_sig_key_desc(k));
    else if (!(pem = upd_sig_key_public_pem(k)))
        fprintf(stderr, "updraft channel set: out of memory\n");
    upd_sig_key_free(k);
    return pem;
}

static int set(int argc, char **argv)
{
    static const char *const known[] = {"--chip", "--create", "--require-signed",
                                        "--allow-downgrade", NULL};
    int bad = 0;
    const char *chip = upd_cli_opt(&argc, argv, "channel set", "--chip", &bad);
    const char *keyarg = upd_cli_opt(&argc, argv, "channel set", "--require-signed", &bad);
    int create = upd_cli_flag(&argc, argv, "--create");
    int downgrade = upd_cli_flag(&argc, argv, "--allow-downgrade");
    if (bad)
        return 2;
    if (upd_cli_unknown_options(argc, argv, "channel set", known))
        return 2;
    if (argc != 3 && !(argc == 2 && keyarg))
        return upd_cli_usage();
    long long id = argc == 3 ? upd_cli_release_id("channel set", argv[2]) : 0;
    if (argc == 3 && !id)
        return 2;
    if (chip && check_chip("channel set", chip, 0))
        return 2;
    if (downgrade && !id) {
        fprintf(stderr, "updraft channel set: --allow-downgrade goes with the RELEASE to roll "
                        "back to: 'updraft channel set CHANNEL RELEASE --allow-downgrade'\n");
        return 2;
    }
    char *pem = NULL;
    if (keyarg && strcmp(keyarg, "-") && !(pem = require_key(keyarg)))
        return 2;
    char path[256], enc[200], cj[40], nf[160], ret[200], badname[200];
    upd_api_urlencode(argv[1], enc, sizeof enc);
    snprintf(path, sizeof path, "/api/v1/channels/%s", enc);
    /* "create": false: the server refuses a name that serves nothing yet */
    cJSON *b = cJSON_CreateObject();
    if (id)
        cJSON_AddNumberToObject(b, "release", (double)id);
    if (chip) {
        chip_json(chip, cj, sizeof cj);
        cJSON_AddItemToObject(b, "chip", cJSON_Parse(cj));
    }
    if (keyarg && pem)
        cJSON_AddStringToObject(b, "require_signed", pem);
    else if (keyarg)
        cJSON_AddNullToObject(b, "require_signed");
    cJSON_AddBoolToObject(b, "create", create);
    if (downgrade)
        cJSON_AddBoolToObject(b, "allow_downgrade", 1);
    free(pem);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    if (!body) {
        fprintf(stderr, "updraft channel set: out of memory\n");
        return 1;
    }
    snprintf(nf, sizeof nf, "there is no release %lld: 'updraft release list' shows them", id);
    snprintf(ret, sizeof ret,
             "release %lld is retired: a channel serves only releases that are not "
             "('updraft release list')",
             id);
    snprintf(badname, sizeof badname,
             "'%.60s' is not a channel name: use letters, digits, '.', '_' and '-' (at most 63)",
             argv[1]);
    const upd_cli_err errs[] = {
        {404, "unknown-channel", "%s; to start a new channel, pass --create"},
        {404, NULL, nf},
        {409, "retired", ret},
        {400, "bad-request", badname}};
    cJSON *j = upd_cli_call("channel set", "PUT", path, body, errs, 4, NULL);
    free(body);
    if (!j)
        return 1;
    if (id)
        printf("channel %s (%s %s) now serves release %lld (version %s)", S(j, "name"),
               S(j, "platform"), S(j, "mode"), N(j, "release"), S(j, "version"));
    else
        printf("channel %s", S(j, "name"));
    if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "chip")))
        printf(", declared for %s devices", S(j, "chip"));
    const cJSON *rk = cJSON_GetObjectItemCaseSensitive(j, "require_signed");
    if (cJSON_IsObject(rk))
        printf("%s requires ESP8266 releases signed with %s key %.16s", id ? ";" : "", S(rk, "key"),
               S(rk, "key_id"));
    else if (keyarg)
        printf("%s requires no signatures", id ? ";" : "");
    printf("\n");
    /* the devices on it that run a newer version (docs/operations.md "Rolling back") */
    long long newer = N(j, "newer_devices");
    if (downgrade)
        printf("downgrades allowed: %lld device%s on it that run%s a newer version %s offered "
               "release %lld once (a device that runs it is current), and so is any that comes "
               "later, until the channel is set again\n",
               newer < 0 ? 0 : newer, newer == 1 ? "" : "s", newer == 1 ? "s" : "",
               newer == 1 ? "is" : "are", N(j, "release"));
    else if (newer > 0)
        fprintf(stderr,
                "updraft channel set: warning: %lld device%s on channel %s run%s a newer version "
                "than %s and will not move: downgrades are offered only with --allow-downgrade "
                "('updraft channel set %s %lld --allow-downgrade') or to pinned devices\n",
                newer, newer == 1 ? "" : "s", S(j, "name"), newer == 1 ? "s" : "", S(j, "version"),
                S(j, "name"), N(j, "release"));
    cJSON_Delete(j);
    return 0;
}

static int chip(int argc, char **argv)
{
    if (upd_cli_unknown_options(argc, argv, "channel chip", NULL))
        return 2;
    if (argc != 3)
        return upd_cli_usage();
    if (check_chip("channel chip", argv[2], 1))
        return 2;
    char path[256], enc[200], body[64], cj[40], badname[200];
    upd_api_urlencode(argv[1], enc, sizeof enc);
    snprintf(path, sizeof path, "/api/v1/channels/%s", enc);
    chip_json(argv[2], cj, sizeof cj);
    snprintf(body, sizeof body, "{\"chip\": %s}", cj);
    snprintf(badname, sizeof badname,
             "'%.60s' is not a channel name: use letters, digits, '.', '_' and '-' (at most 63)",
             argv[1]);
    const upd_cli_err errs[] = {{400, NULL, badname}};
    cJSON *j = upd_cli_call("channel chip", "PUT", path, body, errs, 1, NULL);
    if (!j)
        return 1;
    if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "chip")))
        printf("channel %s is declared for %s devices: it takes only %s releases\n", S(j, "name"),
               S(j, "chip"), S(j, "chip"));
    else
        printf("channel %s declares no chip\n", S(j, "name"));
    cJSON_Delete(j);
    return 0;
}

static int list(int argc, char **argv)
{
    static const char *const known[] = {"--json", NULL};
    int json, rc = upd_cli_plain_args(&argc, argv, "channel list", known, 1, &json);
    if (rc)
        return rc;
    cJSON *j = upd_cli_call("channel list", "GET", "/api/v1/channels", NULL, NULL, 0, NULL);
    if (!j)
        return 1;
    if (json)
        return upd_cli_json_done(j);
    static const upd_cli_col cols[] = {{"CHANNEL", 16}, {"PLATFORM", 8}, {"MODE", 6},
                                       {"RELEASE", 7},  {"CHIP", 9},     {"VERSION", 0}};
    upd_cli_table_head(cols, 6);
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(j, "channels"))
    {
        char rel[24];
        snprintf(rel, sizeof rel, "%lld", N(c, "release"));
        const char *v[] = {S(c, "name"), S(c, "platform"), S(c, "mode"),
                           rel,          S(c, "chip"),     S(c, "version")};
        upd_cli_table_row(cols, 6, v);
    }
    cJSON_Delete(j);
    return 0;
}

static const upd_cli_sub SUBS[] = {
    {"set", set,
     "set CHANNEL [RELEASE] [--allow-downgrade] [--chip CHIP] [--require-signed KEY|-] [--create]",
     "Make RELEASE the current release of CHANNEL for the release's platform and mode\n"
     "(a channel serves one release per platform, esp8266/esp32, and mode, app/filesystem).\n"
     "Devices on the channel that run an older version are offered it at their next check.\n"
     "Devices that run a newer version are not (it warns how many), unless:\n\n"
     "  --allow-downgrade  offer it to the devices that run a newer version too: the\n"
     "                  rollback of a bad release. Each gets it once (a device that runs\n"
     "                  it is current); it holds until the channel is set again\n"
     "  --chip CHIP     also declare CHANNEL for CHIP devices (see 'channel chip')\n"
     "  --require-signed KEY  CHANNEL takes only ESP8266 releases signed with the RSA key\n"
     "                  KEY (a PEM public key; of a private key only the public half is\n"
     "                  sent): an unsigned or wrongly signed upload or 'channel set' is\n"
     "                  refused with the reason, as devices built for signed updates would\n"
     "                  refuse it (Updater error 12). Refused while a current release does\n"
     "                  not verify (give the signed RELEASE in the same command). '-' drops\n"
     "                  the requirement. RELEASE may be left out (docs/signing.md)\n"
     "  --create        CHANNEL is new (without it an unknown name is refused, with the\n"
     "                  closest existing one: a typo would strand devices)\n"},
    {"chip", chip, "chip CHANNEL CHIP|-",
     "Declare CHANNEL for devices of one ESP32-family chip (esp32, esp32s2, esp32s3,\n"
     "esp32c3, esp32c6, esp32h2, ...; '-' clears it). Arduino-ESP32 devices do not say\n"
     "which chip they are, and find out that an image is for another chip only after\n"
     "erasing and writing their whole slot (Update error 9). A declared channel takes only\n"
     "releases for its chip (upload and 'channel set' refuse the others), so a mixed fleet\n"
     "split into one channel per chip is safe by configuration.\n"},
    {"list", list, "list [--json]",
     "List the channels and the release each serves per platform and mode.\n\n"
     "  --json          the API's JSON\n"},
    {NULL, NULL, NULL, NULL},
};

int upd_cmd_channel(int argc, char **argv)
{
    return upd_cli_dispatch("channel", "Set and list what each channel serves.", SUBS, argc, argv);
}
