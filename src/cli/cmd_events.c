/* `updraft events`: the server's event log (device events and admin actions), over the
 * API (GET /api/v1/events); --follow polls for new ones until interrupted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cliutil.h"
#include "cmd_apiclient.h"

static const char EVENTS_HELP[] =
    "usage: updraft events [--device MAC] [--kind KIND] [--limit N] [--follow] [--json]\n"
    "\n"
    "Show the server's events, oldest of the newest N first: what devices asked and were\n"
    "told, their downloads, updates and failures, and the admin actions.\n"
    "\n"
    "  --device MAC   only this device's events (5C:CF:7F:0A:1B:2C or 5ccf7f0a1b2c)\n"
    "  --kind KIND    only events of this kind: check, offered, declined,\n"
    "                 download-started, download-completed, download-aborted, updated,\n"
    "                 failed, held, retry, report-installed, report-failed,\n"
    "                 report-rolled-back, device-deleted; admin: release-added,\n"
    "                 release-retired, release-unretired, release-deleted, channel-set,\n"
    "                 channel-chip, pinned, unpinned, channel-assigned; audit: every\n"
    "                 admin action (and refusal) with the token's name and address\n"
    "  --limit N      the newest N events (default 20, at most 10000)\n"
    "  --follow       then print new events as they happen (every second), until\n"
    "                 interrupted (Ctrl-C)\n"
    "  --json         the API's JSON ({\"events\": [...]}, newest first); with --follow,\n"
    "                 one JSON object per event and line, oldest first\n";

static const char *const KINDS[] = {"check",
                                    "offered",
                                    "declined",
                                    "download-started",
                                    "download-completed",
                                    "download-aborted",
                                    "updated",
                                    "failed",
                                    "held",
                                    "not-held",
                                    "retry",
                                    "report-installed",
                                    "report-failed",
                                    "report-rolled-back",
                                    "device-deleted",
                                    "release-added",
                                    "release-retired",
                                    "release-unretired",
                                    "release-deleted",
                                    "channel-set",
                                    "channel-chip",
                                    "channel-signing",
                                    "pinned",
                                    "unpinned",
                                    "channel-assigned",
                                    "audit",
                                    NULL};

static const upd_cli_col COLS[] = {
    {"TIME", 20}, {"DEVICE", 17}, {"KIND", 18}, {"RELEASE", 7}, {"DETAIL", 0}};

static void print_event(const cJSON *e, int json)
{
    if (json) {
        char *t = cJSON_PrintUnformatted(e);
        if (t) {
            puts(t);
            free(t);
        }
        return;
    }
    char rel[24] = "-";
    if (upd_cli_jnum(e, "release") > 0)
        snprintf(rel, sizeof rel, "%lld", upd_cli_jnum(e, "release"));
    /* an admin action says which token did it, from where */
    char detail[900];
    if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "actor")))
        snprintf(detail, sizeof detail, "%s from %s: %s", upd_cli_jstr(e, "actor"),
                 upd_cli_jstr(e, "source"), upd_cli_jstr(e, "detail"));
    else
        snprintf(detail, sizeof detail, "%s", upd_cli_jstr(e, "detail"));
    const char *v[] = {upd_cli_jstr(e, "at"), upd_cli_jstr(e, "mac"), upd_cli_jstr(e, "kind"), rel,
                       detail};
    upd_cli_table_row(COLS, 5, v);
}

/* GET the events older than before (0: the newest), filtered by query ("&mac=..."). */
static cJSON *fetch(const char *query, long long before, int limit)
{
    char path[1200];
    int n = snprintf(path, sizeof path, "/api/v1/events?limit=%d%s", limit, query);
    if (before > 0)
        snprintf(path + n, sizeof path - (size_t)n, "&before=%lld", before);
    static const upd_cli_err errs[] = {
        {400, NULL, "--device must be a MAC address like 5C:CF:7F:0A:1B:2C or 5ccf7f0a1b2c"}};
    return upd_cli_call("events", "GET", path, NULL, errs, 1, NULL);
}

/* Every event newer than last (by id), oldest first, into out (an array): the tail the
 * server gives with after= (docs/api.md "Events"), page after page while it has more.
 * *last becomes the newest id seen. 0, or -1 when a request failed. */
static int newer_than(const char *query, long long *last, cJSON *out)
{
    for (;;) {
        char path[1200];
        snprintf(path, sizeof path, "/api/v1/events?after=%lld&limit=1000%s", *last, query);
        cJSON *j = upd_cli_call("events", "GET", path, NULL, NULL, 0, NULL);
        if (!j)
            return -1;
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "events"))
        {
            cJSON_AddItemToArray(out, cJSON_Duplicate(e, 1));
        }
        if (upd_cli_jnum(j, "last_id") > *last)
            *last = upd_cli_jnum(j, "last_id");
        int more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "more"));
        cJSON_Delete(j);
        if (!more)
            return 0;
    }
}

int upd_cmd_events(int argc, char **argv)
{
    static const char *const known[] = {"--device", "--kind", "--limit", "--follow",
                                        "--json",   "--help", NULL};
    if (upd_cli_flag(&argc, argv, "--help") || upd_cli_flag(&argc, argv, "-h")) {
        fputs(EVENTS_HELP, stdout);
        return 0;
    }
    int bad = 0;
    const char *mac = upd_cli_opt(&argc, argv, "events", "--device", &bad);
    const char *kind = upd_cli_opt(&argc, argv, "events", "--kind", &bad);
    const char *lim = upd_cli_opt(&argc, argv, "events", "--limit", &bad);
    int follow = upd_cli_flag(&argc, argv, "--follow");
    int json = upd_cli_flag(&argc, argv, "--json");
    if (bad || upd_cli_unknown_options(argc, argv, "events", known))
        return 2;
    if (argc != 1) {
        fprintf(stderr, "updraft events: unexpected '%s': the device is given with --device MAC\n",
                argv[1]);
        return 2;
    }
    int limit = 20;
    if (lim) {
        char *end;
        long v = strtol(lim, &end, 10);
        if (!*lim || *end || v < 1 || v > 10000) {
            fprintf(stderr, "updraft events: --limit needs a number from 1 to 10000\n");
            return 2;
        }
        limit = (int)v;
    }
    char query[800] = "", enc[300];
    if (mac) {
        upd_api_urlencode(mac, enc, sizeof enc);
        snprintf(query + strlen(query), sizeof query - strlen(query), "&mac=%s", enc);
    }
    if (kind) {
        upd_api_urlencode(kind, enc, sizeof enc);
        snprintf(query + strlen(query), sizeof query - strlen(query), "&kind=%s", enc);
    }
    cJSON *j = fetch(query, 0, limit);
    if (!j)
        return 1;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "events");
    int n = cJSON_GetArraySize(arr);
    if (kind && n == 0) {
        int listed = 0;
        for (int i = 0; KINDS[i]; i++)
            listed |= !strcmp(KINDS[i], kind);
        if (!listed) {
            const char *close = upd_cli_closest(kind, KINDS);
            fprintf(stderr,
                    "updraft events: no events of kind '%s'%s%s%s ('updraft events --help' lists "
                    "the kinds)\n",
                    kind, close ? "; did you mean '" : "", close ? close : "", close ? "'?" : "");
        }
    }
    if (json && !follow) {
        upd_cli_print_json(j);
        cJSON_Delete(j);
        return 0;
    }
    long long last = 0;
    if (!json)
        upd_cli_table_head(COLS, 5);
    for (int i = n - 1; i >= 0; i--) {
        const cJSON *e = cJSON_GetArrayItem(arr, i);
        print_event(e, json);
        if (upd_cli_jnum(e, "id") > last)
            last = upd_cli_jnum(e, "id");
    }
    cJSON_Delete(j);
    fflush(stdout);
    if (!follow)
        return 0;
    if (last == 0) {
        /* nothing matched yet: start after the newest event of any kind */
        cJSON *all = fetch("", 0, 1);
        if (!all)
            return 1;
        last = upd_cli_jnum(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(all, "events"), 0),
                            "id");
        if (last < 0)
            last = 0;
        cJSON_Delete(all);
    }
    for (;;) {
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
        cJSON *fresh = cJSON_CreateArray();
        if (newer_than(query, &last, fresh) != 0) {
            cJSON_Delete(fresh);
            return 1;
        }
        const cJSON *e;
        cJSON_ArrayForEach(e, fresh)
        {
            print_event(e, json);
        }
        cJSON_Delete(fresh);
        fflush(stdout);
    }
}
