/* `updraft device list`: the device registry (GET /api/v1/devices) selected by the
 * target filter and the single selectors, in one of the API's orders (last seen, first
 * seen, MAC, version in updraft's upgrade order; a '-' reverses it), a page at a time by
 * position (--offset) or by the cursor each page answers (--after), or every page
 * (--all, walked by cursor). The table's last lines say how many devices match and give
 * the whole command that shows the next page. A subcommand of `updraft device`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cliutil.h"
#include "cmd_apiclient.h"

#define S upd_cli_jstr
#define N upd_cli_jnum

const char UPD_DEVICE_LIST_SYNOPSIS[] =
    "list [--filter FILTER] [--channel C] [--platform P] [--version V] [--seen-since TIME] "
    "[--pinned RELEASE] [--attention] [--tool sim|doctor|any|none] [--sort KEY] [--limit N] "
    "[--after CURSOR | --offset N] [--all] [--json]";

const char UPD_DEVICE_LIST_HELP[] =
    "List the devices that contacted the server, last seen first. Devices made by\n"
    "updraft sim and updraft doctor are not listed or counted unless --tool or --filter\n"
    "asks. CHANNEL is the channel the device effectively uses: the one in the URL of its\n"
    "last check (/update/beta), else the one assigned to it, else stable.\n\n"
    "  --filter FILTER   the devices the target filter selects (docs/filters.md), e.g.\n"
    "                    'platform=esp8266 tag=lab,kitchen version<2.0.0 seen<24h';\n"
    "                    it selects the tools' devices too unless it says tool=none\n"
    "  --channel C       devices whose effective channel is C\n"
    "  --platform P      esp8266 or esp32\n"
    "  --version V       devices that run exactly version V\n"
    "  --seen-since T    seen since T (2026-11-27T10:00:00Z, or seconds since 1970)\n"
    "  --pinned RELEASE  devices pinned to that release\n"
    "  --attention       only devices a failed release is no longer offered to\n"
    "                    ('updraft device retry MAC' offers it again)\n"
    "  --tool T          the devices updraft's tools made: sim, doctor, any; none: real\n"
    "                    devices only (the default)\n"
    "  --sort KEY        the order: last_seen, first_seen, mac, or version (updraft's\n"
    "                    version order, the one upgrades use: 1.10.0 after 1.9.0; devices\n"
    "                    that never sent a version last); a '-' before the key reverses\n"
    "                    it exactly (--sort -version: newest version first). Ties go by\n"
    "                    MAC. Default -last_seen: the newest seen first\n"
    "  --limit N         at most N devices (default 100); the last lines say how many\n"
    "                    match and give the command that shows the next page\n"
    "  --after CURSOR    the page after the one that printed CURSOR, asked with the\n"
    "                    same --sort, --filter and selectors (the page's last line is\n"
    "                    that whole command). Unlike --offset, a walk by cursor never\n"
    "                    repeats or skips a device while devices check in, and page\n"
    "                    1000 comes as fast as page 1\n"
    "  --offset N        skip the first N (a page by position; not with --after)\n"
    "  --all             every matching device, page by page by cursor (from --after or\n"
    "                    --offset when given)\n"
    "  --json            the API's JSON: total, sort, devices, and next (the cursor of\n"
    "                    the next page for --after; null on the last, and with --all)\n";

/* The API's sort keys; a '-' before one reverses it. */
static const char *const SORTS[] = {"last_seen", "-last_seen", "first_seen", "-first_seen", "mac",
                                    "-mac",      "version",    "-version",   NULL};

/* The command line that asks for the next page, built as the options were given. */
typedef struct cmdline {
    char s[8192];
    size_t n;
} cmdline;

/* Append " word", quoted for a POSIX shell when it holds anything but plain characters. */
static void add_word(cmdline *c, const char *w)
{
    int plain = *w != '\0';
    for (const char *p = w; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-", *p))
            plain = 0;
    if (c->n + 1 >= sizeof c->s)
        return;
    c->s[c->n++] = ' ';
    if (!plain && c->n < sizeof c->s)
        c->s[c->n++] = '\'';
    for (const char *p = w; *p && c->n + 5 < sizeof c->s; p++) {
        if (*p == '\'' && !plain) { /* close, an escaped quote, reopen */
            memcpy(c->s + c->n, "'\\''", 4);
            c->n += 4;
        } else
            c->s[c->n++] = *p;
    }
    if (!plain && c->n + 1 < sizeof c->s)
        c->s[c->n++] = '\'';
    c->s[c->n < sizeof c->s ? c->n : sizeof c->s - 1] = '\0';
}

/* Add "NAME=VALUE" to the query of path (its '?' or '&' first). 0, or -1 when it is full. */
static int add_arg(char *path, size_t cap, const char *name, const char *value)
{
    char enc[2048];
    upd_api_urlencode(value, enc, sizeof enc);
    size_t n = strlen(path);
    int k = snprintf(path + n, cap - n, "%c%s=%s", strchr(path, '?') ? '&' : '?', name, enc);
    return k < 0 || (size_t)k >= cap - n ? -1 : 0;
}

/* A refused --after, in the CLI's words: a cursor of another order says which. */
static void bad_after(const char *sort)
{
    const cJSON *e = upd_cli_last_error();
    const char *of = S(e, "cursor_sort");
    if (strcmp(of, "-"))
        fprintf(stderr,
                "updraft device list: --after is a cursor of the listing sorted by %s, not by "
                "%s: ask with --sort %s (the page that printed it gave the whole command), or "
                "leave --after out to start over\n",
                of, sort, of);
    else
        fprintf(stderr,
                "updraft device list: --after takes the cursor a page of 'updraft device list' "
                "printed on its last line (or the \"next\" of its --json); to start over, leave "
                "--after out\n");
}

int upd_cmd_device_list(int argc, char **argv)
{
    static const char *const known[] = {"--channel", "--platform",  "--version", "--seen-since",
                                        "--pinned",  "--attention", "--limit",   "--offset",
                                        "--all",     "--json",      "--tool",    "--filter",
                                        "--sort",    "--after",     NULL};
    static const char *const opts[] = {"--filter",     "--channel", "--platform", "--version",
                                       "--seen-since", "--pinned",  "--tool"};
    static const char *const keys[] = {"filter",     "channel", "platform", "version",
                                       "seen-since", "pinned",  "tool"};
    enum { NOPTS = sizeof opts / sizeof opts[0] };
    int bad = 0, tool_given = 0;
    char base[6144] = "/api/v1/devices";
    cmdline next_cmd = {"updraft device list", 19};
    int json = upd_cli_flag(&argc, argv, "--json");
    int all = upd_cli_flag(&argc, argv, "--all");
    if (upd_cli_flag(&argc, argv, "--attention")) {
        add_arg(base, sizeof base, "attention", "1");
        add_word(&next_cmd, "--attention");
    }
    for (int i = 0; i < NOPTS; i++) {
        const char *v = upd_cli_opt(&argc, argv, "device list", opts[i], &bad);
        if (!v)
            continue;
        /* a filter selects exactly what it says, the tools' devices included (as in
         * 'device tag --filter' and rollouts): tool=none leaves them out */
        tool_given |= !strcmp(opts[i], "--tool") || !strcmp(opts[i], "--filter");
        if (add_arg(base, sizeof base, keys[i], v) != 0) {
            fprintf(stderr, "updraft device list: %s is too long\n", opts[i]);
            return 2;
        }
        add_word(&next_cmd, opts[i]);
        add_word(&next_cmd, v);
    }
    if (!tool_given) /* the fleet: not the devices updraft sim and doctor made */
        add_arg(base, sizeof base, "tool", "none");
    const char *sort = upd_cli_opt(&argc, argv, "device list", "--sort", &bad);
    const char *lim = upd_cli_opt(&argc, argv, "device list", "--limit", &bad);
    const char *off = upd_cli_opt(&argc, argv, "device list", "--offset", &bad);
    const char *after = upd_cli_opt(&argc, argv, "device list", "--after", &bad);
    if (bad || upd_cli_unknown_options(argc, argv, "device list", known))
        return 2;
    if (argc != 1)
        return upd_cli_usage();
    if (sort) {
        int ok = 0;
        for (int i = 0; SORTS[i]; i++)
            ok |= !strcmp(SORTS[i], sort);
        if (!ok) {
            const char *close = upd_cli_closest(sort, SORTS);
            fprintf(stderr,
                    "updraft device list: --sort takes last_seen, first_seen, mac or version, "
                    "with a '-' before it for the reverse order (--sort -version); '%s' is not "
                    "one%s%s%s\n",
                    sort, close ? "; did you mean '" : "", close ? close : "", close ? "'?" : "");
            return 2;
        }
        add_arg(base, sizeof base, "sort", sort);
        add_word(&next_cmd, "--sort");
        add_word(&next_cmd, sort);
    }
    char *end = NULL;
    long long limit = lim ? strtoll(lim, &end, 10) : 100;
    if ((lim && (*end || limit < 1 || limit > 100000)) || (all && lim)) {
        fprintf(stderr, "updraft device list: --limit takes 1 to 100000 devices; --all takes "
                        "every page (no --limit)\n");
        return 2;
    }
    long long offset = off ? strtoll(off, &end, 10) : 0;
    if (off && (*end || !*off || offset < 0)) {
        fprintf(stderr, "updraft device list: --offset takes a number of devices to skip (0 or "
                        "more)\n");
        return 2;
    }
    if (after && off) {
        fprintf(stderr, "updraft device list: --after and --offset cannot be used together: the "
                        "cursor says where the page starts; leave --offset out\n");
        return 2;
    }
    if (after && !*after) {
        bad_after(sort ? sort : "-last_seen");
        return 2;
    }
    if (lim)
        add_word(&next_cmd, "--limit"), add_word(&next_cmd, lim);
    if (all)
        limit = 1000;
    const upd_cli_err errs[] = {
        {400, "bad-request",
         "--seen-since must be a UTC time like 2026-11-27T10:00:00Z or seconds since 1970"},
        {400, "bad-pinned", "--pinned takes a release id"},
        {400, "bad-tool",
         "--tool takes sim, doctor, any (the devices updraft's tools made) or none (real "
         "devices only, the default)"},
        {400, "bad-filter", "--filter: %s"},
        {400, "bad-after", NULL}};
    /* the first page by offset or after the cursor given, the next ones (--all) by the
     * cursor each answers */
    cJSON *first = NULL, *devs = cJSON_CreateArray();
    const char *cursor = after;
    char next[1024] = "";
    long long got = 0;
    for (;;) {
        char path[sizeof base + 1200];
        snprintf(path, sizeof path, "%s", base);
        char num[32];
        snprintf(num, sizeof num, "%lld", limit);
        add_arg(path, sizeof path, "limit", num);
        if (cursor) {
            if (add_arg(path, sizeof path, "after", cursor) != 0) {
                bad_after(sort ? sort : "-last_seen");
                cJSON_Delete(first);
                cJSON_Delete(devs);
                return 2;
            }
        } else if (offset) {
            snprintf(num, sizeof num, "%lld", offset);
            add_arg(path, sizeof path, "offset", num);
        }
        cJSON *j = upd_cli_call("device list", "GET", path, NULL, errs, 5, NULL);
        if (!j) {
            if (upd_cli_last_error())
                bad_after(sort ? sort : "-last_seen");
            cJSON_Delete(first);
            cJSON_Delete(devs);
            return 1;
        }
        cJSON *page = cJSON_DetachItemFromObjectCaseSensitive(j, "devices");
        cJSON *d;
        while (page && (d = cJSON_DetachItemFromArray(page, 0)) != NULL) {
            cJSON_AddItemToArray(devs, d);
            got++;
        }
        cJSON_Delete(page);
        const char *nx = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "next"));
        snprintf(next, sizeof next, "%s", nx && strlen(nx) < sizeof next ? nx : "");
        if (!first)
            first = j; /* its total, sort, filter, hidden count stand for the listing */
        else
            cJSON_Delete(j);
        if (!all || !next[0])
            break;
        cursor = next;
    }
    long long total = N(first, "total"), hidden = N(first, "tool_devices_hidden");
    if (json) { /* the API's answer; with --all, every page's devices in one */
        cJSON_AddItemToObject(first, "devices", devs);
        if (all || !next[0])
            cJSON_ReplaceItemInObjectCaseSensitive(first, "next", cJSON_CreateNull());
        return upd_cli_json_done(first);
    }
    cJSON_Delete(first);
    static const upd_cli_col cols[] = {{"MAC", 17},       {"PLATFORM", 8}, {"VERSION", 16},
                                       {"CHANNEL", 10},   {"TAGS", 14},    {"LAST SEEN", 24},
                                       {"LAST RESULT", 0}};
    upd_cli_table_head(cols, 7);
    const cJSON *d;
    cJSON_ArrayForEach(d, devs)
    {
        const char *attention = S(d, "attention");
        char tags[300];
        upd_cli_tag_text(cJSON_GetObjectItemCaseSensitive(d, "tags"), tags, sizeof tags);
        const char *v[] = {S(d, "mac"),
                           S(d, "platform"),
                           S(d, "version"),
                           S(d, "effective_channel"),
                           tags,
                           S(d, "last_seen"),
                           strcmp(attention, "-") ? attention : S(d, "last_result")};
        upd_cli_table_row(cols, 7, v);
    }
    cJSON_Delete(devs);
    /* how many, and where: by position unless the page started at a cursor */
    if (got == 0 && after)
        printf("no device after the cursor (%lld match)\n", total);
    else if (got == 0)
        printf("no device matches (of %lld)\n", total);
    else if (after)
        printf("%lld device%s after the cursor, of %lld%s\n", got, got == 1 ? "" : "s", total,
               next[0] ? "" : "; no more after them");
    else
        printf("devices %lld-%lld of %lld\n", offset + 1, offset + got, total);
    if (next[0]) {
        add_word(&next_cmd, "--after");
        add_word(&next_cmd, next);
        printf("the next page (--all lists every one):\n  %s\n", next_cmd.s);
    }
    if (hidden > 0)
        printf("not counted: %lld device%s made by updraft sim or doctor ('--tool any' lists "
               "them, 'updraft device delete --tool any --yes' removes them)\n",
               hidden, hidden == 1 ? "" : "s");
    return 0;
}
