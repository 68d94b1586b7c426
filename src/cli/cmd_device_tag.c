/* `updraft device tag|untag`: put tags on devices and take them off, one device
 * (POST /api/v1/devices/<mac>/tags) or many, chosen by a target filter or a file of
 * MACs (POST /api/v1/devices/tags), which change nothing without --yes. Subcommands
 * of `updraft device`. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cliutil.h"
#include "cmd_apiclient.h"

#define SHOWN 20 /* changes listed before --yes */

const char UPD_DEVICE_TAG_SYNOPSIS[] =
    "tag MAC TAG... | tag --filter FILTER TAG... [--dry-run] [--yes] | tag --macs FILE TAG... "
    "[--dry-run] [--yes] [--json]";
const char UPD_DEVICE_UNTAG_SYNOPSIS[] =
    "untag MAC TAG... | untag --filter FILTER TAG... [--dry-run] [--yes] | untag --macs FILE "
    "TAG... [--dry-run] [--yes] [--json]";

#define TAG_HELP_COMMON                                                                            \
    "  --filter FILTER   every device the filter selects (docs/filters.md), e.g.\n"                \
    "                    'platform=esp8266 seen<24h' ('' selects every device,\n"                  \
    "                    updraft sim's and doctor's included: add tool=none to leave\n"            \
    "                    them out)\n"                                                              \
    "  --macs FILE       the devices whose MACs FILE lists, one a line ('#' comments and\n"        \
    "                    blank lines are skipped; '-' reads stdin); MACs the server does\n"        \
    "                    not know are named and left alone\n"                                      \
    "  --dry-run         with --filter/--macs: show what would change, change nothing\n"           \
    "  --yes             with --filter/--macs: change them (without it: as --dry-run,\n"           \
    "                    and the exit status is 1)\n"                                              \
    "  --json            the API's JSON answer\n\n"                                                \
    "A tag is 1 to 24 lowercase letters, digits, '.', '_' and '-', beginning with a letter\n"      \
    "or digit (lab, kitchen, floor-2); a device carries at most 10. Every change is an\n"          \
    "event 'tags' in the device's history.\n"

const char UPD_DEVICE_TAG_HELP[] =
    "Put tags on devices, to select them later with filters (tag=lab,kitchen: docs/\n"
    "filters.md) in 'device list', bulk commands and rollouts.\n\n"
    "  MAC               one device (5C:CF:7F:0A:1B:2C or 5ccf7f0a1b2c)\n"
    "  TAG...            the tags to add (a tag it has already is left as it is)\n" TAG_HELP_COMMON;

const char UPD_DEVICE_UNTAG_HELP[] =
    "Take tags off devices.\n\n"
    "  MAC               one device (5C:CF:7F:0A:1B:2C or 5ccf7f0a1b2c)\n"
    "  TAG...            the tags to remove (a tag it does not have is no error)\n" TAG_HELP_COMMON;

/* Is s a MAC as the server takes it (12 hex digits, or 6 pairs with ':' or '-')? */
static int is_mac(const char *s)
{
    size_t n = strlen(s);
    if (n != 12 && n != 17)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (n == 17 && i % 3 == 2) {
            if ((s[i] != ':' && s[i] != '-') || s[i] != s[2])
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

/* The MACs of FILE into arr; 0, or 2 after saying which line is wrong. */
static int read_macs(const char *cmd, const char *file, cJSON *arr)
{
    FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
    if (!f) {
        fprintf(stderr, "updraft %s: --macs %s: %s\n", cmd, file, strerror(errno));
        return 2;
    }
    char line[512];
    int no = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        no++;
        char *p = line, *e;
        while (isspace((unsigned char)*p))
            p++;
        if (!*p || *p == '#')
            continue;
        for (e = p; *e && !isspace((unsigned char)*e) && *e != '#'; e++)
            ;
        *e = '\0';
        if (!is_mac(p)) {
            fprintf(stderr,
                    "updraft %s: --macs %s line %d: '%.40s' is not a MAC address: write one MAC "
                    "a line, as 5C:CF:7F:0A:1B:2C or 5ccf7f0a1b2c\n",
                    cmd, file, no, p);
            rc = 2;
            break;
        }
        cJSON_AddItemToArray(arr, cJSON_CreateString(p));
    }
    if (f != stdin)
        fclose(f);
    if (rc == 0 && cJSON_GetArraySize(arr) == 0) {
        fprintf(stderr, "updraft %s: --macs %s lists no MAC\n", cmd, file);
        rc = 2;
    }
    return rc;
}

static int run(int argc, char **argv, int add)
{
    const char *cmd = add ? "device tag" : "device untag";
    static const char *const known[] = {"--filter", "--macs", "--dry-run", "--yes", "--json", NULL};
    int bad = 0;
    int json = upd_cli_flag(&argc, argv, "--json");
    int dry = upd_cli_flag(&argc, argv, "--dry-run");
    int yes = upd_cli_flag(&argc, argv, "--yes");
    const char *filter = upd_cli_opt(&argc, argv, cmd, "--filter", &bad);
    const char *macs = upd_cli_opt(&argc, argv, cmd, "--macs", &bad);
    if (bad || upd_cli_unknown_options(argc, argv, cmd, known))
        return 2;
    int bulk = filter || macs;
    if ((filter && macs) || (dry && yes) || (!bulk && (dry || yes))) {
        fprintf(stderr,
                "updraft %s: give one MAC, or --filter FILTER, or --macs FILE; --dry-run and "
                "--yes go with --filter/--macs, one of them\n",
                cmd);
        return 2;
    }
    int first = bulk ? 1 : 2; /* argv[first..]: the tags */
    if (argc <= first)
        return upd_cli_usage();
    cJSON *o = cJSON_CreateObject();
    cJSON *tags = cJSON_AddArrayToObject(o, add ? "add" : "remove");
    for (int i = first; i < argc; i++)
        cJSON_AddItemToArray(tags, cJSON_CreateString(argv[i]));
    char path[256];
    if (!bulk) {
        char enc[128];
        upd_api_urlencode(argv[1], enc, sizeof enc);
        snprintf(path, sizeof path, "/api/v1/devices/%s/tags", enc);
    } else {
        snprintf(path, sizeof path, "/api/v1/devices/tags");
        if (filter)
            cJSON_AddStringToObject(o, "filter", filter);
        else if (read_macs(cmd, macs, cJSON_AddArrayToObject(o, "macs")) != 0) {
            cJSON_Delete(o);
            return 2;
        }
        cJSON_AddBoolToObject(o, "dry_run", !yes);
    }
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!body)
        return 1;
    char nf[200], badmac[200];
    snprintf(nf, sizeof nf,
             "no device %.60s has contacted this server: check the MAC ('updraft device list' "
             "shows the devices seen)",
             argv[1]);
    snprintf(badmac, sizeof badmac,
             "'%.60s' is not a MAC address: write it as 5C:CF:7F:0A:1B:2C or 5ccf7f0a1b2c",
             argv[1]);
    const upd_cli_err errs[] = {{400, "bad-filter", "--filter: %s"},
                                {400, "bad-tag", "%s"},
                                {404, "not-found", nf},
                                {400, "bad-request", badmac},
                                {409, "too-many-tags", "%s"}};
    cJSON *j = upd_cli_call(cmd, "POST", path, body, errs, 5, NULL);
    free(body);
    if (!j)
        return 1;
    if (json)
        return upd_cli_json_done(j);
    char list[1024];
    if (!bulk) {
        upd_cli_tag_text(cJSON_GetObjectItemCaseSensitive(j, "tags"), list, sizeof list);
        printf("%s: tags %s\n", upd_cli_jstr(j, "mac"), list);
        cJSON_Delete(j);
        return 0;
    }
    long long changed = upd_cli_jnum(j, "changed"), same = upd_cli_jnum(j, "unchanged");
    const cJSON *unknown = cJSON_GetObjectItemCaseSensitive(j, "unknown_macs"), *c;
    int nunknown = cJSON_GetArraySize(unknown), shown = 0;
    if (!yes) {
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(j, "changes"))
        {
            if (shown++ >= SHOWN)
                break;
            char before[512];
            upd_cli_tag_text(cJSON_GetObjectItemCaseSensitive(c, "before"), before, sizeof before);
            upd_cli_tag_text(cJSON_GetObjectItemCaseSensitive(c, "tags"), list, sizeof list);
            printf("%s  %s -> %s\n", upd_cli_jstr(c, "mac"), before, list);
        }
        if (changed > SHOWN)
            printf("... and %lld more\n", changed - SHOWN);
    }
    const char *verb = add ? "tagged" : "untagged";
    if (yes)
        printf("%lld device%s %s, %lld unchanged (%s)\n", changed, changed == 1 ? "" : "s", verb,
               same, add ? "had the tags already" : "had none of the tags");
    else
        printf("%lld device%s would be %s, %lld unchanged; nothing changed%s\n", changed,
               changed == 1 ? "" : "s", verb, same,
               dry       ? " (--dry-run)"
               : changed ? ": run it again with --yes to change them"
                         : "");
    if (nunknown > 0) {
        printf("%d MAC%s not in the registry, left alone:", nunknown,
               nunknown == 1 ? " is" : "s are");
        int k = 0;
        cJSON_ArrayForEach(c, unknown)
        {
            if (k++ < 10)
                printf(" %s", c->valuestring);
        }
        printf("%s\n", nunknown > 10 ? " ..." : "");
    }
    cJSON_Delete(j);
    if (!yes && !dry && changed > 0)
        return 1;
    return nunknown > 0 ? 1 : 0;
}

int upd_cmd_device_tag(int argc, char **argv)
{
    return run(argc, argv, 1);
}

int upd_cmd_device_untag(int argc, char **argv)
{
    return run(argc, argv, 0);
}
