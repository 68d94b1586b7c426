/* `updraft rollout create|plan|list|show|pause|resume|abort|rollback`: staged rollouts
 * over the server's API (docs/rollouts.md). The options are checked here first, so that
 * a mistake is said in the words of the command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cliutil.h"
#include "cmd_apiclient.h"
#include "filter.h"
#include "rollout.h"
#include "rowindow.h"
#include "tzone.h"
#include "webhook.h"

#define S upd_cli_jstr
#define N upd_cli_jnum

/* A rollout id argument; 0 after saying why when it is not one. */
static long long rollout_id(const char *cmd, const char *arg)
{
    char *end;
    long long id = strtoll(arg, &end, 10);
    if (*arg < '0' || *arg > '9' || *end || id <= 0) {
        fprintf(stderr,
                "updraft %s: '%s' is not a rollout id: give the number 'updraft rollout list' "
                "shows in its ID column\n",
                cmd, arg);
        return 0;
    }
    return id;
}

static const char *const SETTINGS[] = {
    "--release",    "--target",  "--waves",           "--max-failures", "--min-success",
    "--min-sample", "--soak",    "--silent-after",    "--start-at",     "--window",
    "--tz",         "--webhook", "--allow-downgrade", "--json",         NULL};

/* Read the settings options of create/plan/rollback into a JSON body (cJSON object).
 * NULL after saying what was wrong (exit status 2). */
static cJSON *settings(int *argc, char **argv, const char *cmd, int rollback, int *json)
{
    int bad = 0;
    const char *release = upd_cli_opt(argc, argv, cmd, "--release", &bad);
    const char *target = upd_cli_opt(argc, argv, cmd, "--target", &bad);
    const char *waves = upd_cli_opt(argc, argv, cmd, "--waves", &bad);
    const char *maxf = upd_cli_opt(argc, argv, cmd, "--max-failures", &bad);
    const char *mins = upd_cli_opt(argc, argv, cmd, "--min-success", &bad);
    const char *sample = upd_cli_opt(argc, argv, cmd, "--min-sample", &bad);
    const char *soak = upd_cli_opt(argc, argv, cmd, "--soak", &bad);
    const char *silent = upd_cli_opt(argc, argv, cmd, "--silent-after", &bad);
    const char *start = upd_cli_opt(argc, argv, cmd, "--start-at", &bad);
    const char *window = upd_cli_opt(argc, argv, cmd, "--window", &bad);
    const char *tz = upd_cli_opt(argc, argv, cmd, "--tz", &bad);
    const char *hook = upd_cli_opt(argc, argv, cmd, "--webhook", &bad);
    int down = upd_cli_flag(argc, argv, "--allow-downgrade");
    *json = upd_cli_flag(argc, argv, "--json");
    if (bad || upd_cli_unknown_options(*argc, argv, cmd, SETTINGS))
        return NULL;
    char why[256], norm[160];
    if (window) {
        upd_window w;
        if (upd__window_parse(window, &w, norm, sizeof norm, why, sizeof why)) {
            fprintf(stderr, "updraft %s: --window: %s\n", cmd, why);
            return NULL;
        }
    }
    if (tz && !window) {
        fprintf(stderr,
                "updraft %s: --tz is the time zone of the delivery window: give --window too "
                "(--window 02:00-05:00 --tz %s)\n",
                cmd, tz);
        return NULL;
    }
    if (tz && access("/usr/share/zoneinfo", F_OK) == 0) {
        /* checked here too, so that the error is said in the CLI's words (the server,
         * which may have another tzdata, checks it again) */
        upd_tzone *zone = malloc(sizeof *zone);
        char zw[300];
        int bad_zone = zone && upd__tz_load(zone, tz, NULL, zw, sizeof zw) != 0;
        free(zone);
        if (bad_zone) {
            fprintf(stderr, "updraft %s: --tz: %s\n", cmd, zw);
            return NULL;
        }
    }
    if (hook && upd__webhook_check_url(hook, why, sizeof why)) {
        fprintf(stderr, "updraft %s: --webhook: %s\n", cmd, why);
        return NULL;
    }
    cJSON *j = cJSON_CreateObject();
    if (release) {
        long long id = upd_cli_release_id(cmd, release);
        if (!id)
            goto bad;
        cJSON_AddNumberToObject(j, "release", (double)id);
    } else if (!rollback) {
        fprintf(stderr,
                "updraft %s: --release is needed: the id of the release to roll out ('updraft "
                "release list')\n",
                cmd);
        goto bad;
    }
    if (target) {
        if (rollback) {
            fprintf(stderr,
                    "updraft %s: a rollback goes to the devices that got the rolled-back "
                    "release: it takes no --target\n",
                    cmd);
            goto bad;
        }
        upd_filter *f = malloc(sizeof *f);
        char ferr[512];
        int fbad =
            !f || upd__filter_parse(strcmp(target, "all") ? target : "", f, ferr, sizeof ferr);
        free(f);
        if (fbad) {
            fprintf(stderr, "updraft %s: --target: %s (docs/filters.md)\n", cmd,
                    f ? ferr : "out of memory");
            goto bad;
        }
        cJSON_AddStringToObject(j, "target", target);
    }
    if (waves) {
        int n, pct[UPD_WAVES_MAX];
        int64_t val[UPD_WAVES_MAX];
        if (upd__rollout_parse_waves(waves, &n, val, pct, norm, sizeof norm, why, sizeof why)) {
            fprintf(stderr, "updraft %s: --waves: %s\n", cmd, why);
            goto bad;
        }
        cJSON_AddStringToObject(j, "waves", waves);
    }
    if (maxf) {
        int64_t bp, count;
        if (upd__rollout_parse_failures(maxf, &bp, &count, why, sizeof why)) {
            fprintf(stderr, "updraft %s: --max-failures: %s\n", cmd, why);
            goto bad;
        }
        cJSON_AddStringToObject(j, "max_failures", maxf);
    }
    const char *nums[2][2] = {{"--min-success", mins}, {"--min-sample", sample}};
    for (int i = 0; i < 2; i++) {
        if (!nums[i][1])
            continue;
        char *end;
        long long v = strtoll(nums[i][1], &end, 10);
        if (nums[i][1][0] < '0' || nums[i][1][0] > '9' || *end || v > 1000000000) {
            fprintf(stderr, "updraft %s: %s takes a number of devices, e.g. %s 5\n", cmd,
                    nums[i][0], nums[i][0]);
            goto bad;
        }
        cJSON_AddNumberToObject(j, i ? "min_sample" : "min_success", (double)v);
    }
    const char *durs[2][2] = {{"--soak", soak}, {"--silent-after", silent}};
    for (int i = 0; i < 2; i++) {
        if (!durs[i][1])
            continue;
        int64_t ms = upd__parse_duration(durs[i][1]);
        if (ms < 0 || (i == 1 && ms == 0)) {
            fprintf(stderr,
                    "updraft %s: %s takes a duration: 90s, 5m, 2h, 1d or 1h30m (at most a "
                    "year)%s\n",
                    cmd, durs[i][0], i == 1 ? ", longer than 0" : "");
            goto bad;
        }
        cJSON_AddStringToObject(j, i ? "silent_after" : "soak", durs[i][1]);
    }
    if (start)
        cJSON_AddStringToObject(j, "start_at", start);
    if (window)
        cJSON_AddStringToObject(j, "window", window);
    if (tz)
        cJSON_AddStringToObject(j, "tz", tz);
    if (down)
        cJSON_AddBoolToObject(j, "allow_downgrade", 1);
    if (hook)
        cJSON_AddStringToObject(j, "webhook", hook);
    return j;
bad:
    cJSON_Delete(j);
    return NULL;
}

static void counts_row(const upd_cli_col *cols, int ncols, const char *wave, const char *size,
                       const char *open, const cJSON *c)
{
    static const char *const keys[] = {"eligible", "offered",     "downloading", "updated",
                                       "failed",   "rolled_back", "silent",      "pending"};
    char v[8][24];
    const char *vals[11] = {wave, size, open};
    for (int i = 0; i < 8; i++) {
        snprintf(v[i], sizeof v[i], "%lld", N(c, keys[i]));
        vals[3 + i] = v[i];
    }
    upd_cli_table_row(cols, ncols, vals);
}

/* The per-wave table of a rollout or a plan. */
static void print_waves(const cJSON *j, int plan)
{
    static const upd_cli_col cols[] = {{"WAVE", 5},     {"SIZE", 7},    {"OPEN", 5},
                                       {"ELIGIBLE", 8}, {"OFFERED", 7}, {"DOWNLOADING", 11},
                                       {"UPDATED", 7},  {"FAILED", 6},  {"ROLLED-BACK", 11},
                                       {"SILENT", 6},   {"PENDING", 0}};
    upd_cli_table_head(cols, 11);
    const cJSON *w;
    cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(j, "waves_detail"))
    {
        char n[12];
        snprintf(n, sizeof n, "%lld", N(w, "wave"));
        counts_row(cols, 11, n, S(w, "size"),
                   cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(w, "open")) ? "yes" : "no", w);
    }
    counts_row(cols, 11, "all", "", "", cJSON_GetObjectItemCaseSensitive(j, "total"));
    if (!plan)
        return;
    printf("\nsample of each wave's devices:\n");
    cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(j, "waves_detail"))
    {
        printf("  wave %lld:", N(w, "wave"));
        const cJSON *m;
        int any = 0;
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(w, "sample"))
        {
            printf(" %s", m->valuestring);
            any = 1;
        }
        printf("%s\n", any ? "" : " (none)");
    }
}

static void print_status(const cJSON *j)
{
    long long rb = N(j, "rollback_of");
    printf("rollout %lld: release %lld (version %s, %s) to %s", N(j, "id"), N(j, "release"),
           S(j, "version"), S(j, "platform"), rb > 0 ? "the devices that got rollout " : "");
    if (rb > 0)
        printf("%lld's release\n", rb);
    else
        printf("target '%s'\n", S(j, "target"));
    printf("state:   %s, %lld of %d waves open\n", S(j, "state"), N(j, "wave"),
           cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "waves_detail")));
    printf("why:     %s\n", S(j, "reason"));
    printf("health:  %s\n", S(j, "health"));
    const cJSON *wo = cJSON_GetObjectItemCaseSensitive(j, "window_open");
    if (S(j, "window")[0]) {
        printf("window:  %s %s", S(j, "window"), S(j, "tz"));
        if (cJSON_IsBool(wo))
            printf(", %s now%s%s", cJSON_IsTrue(wo) ? "open" : "closed",
                   S(j, "window_change")[0] ? (cJSON_IsTrue(wo) ? ", closes at " : ", opens at ")
                                            : "",
                   S(j, "window_change"));
        printf("\n");
    }
    if (S(j, "next")[0] && strcmp(S(j, "next"), "-"))
        printf("next:    %s\n", S(j, "next"));
    printf("rules:   waves %s, pause past %s failed, soak %gs, silent after %gs, min-success "
           "%lld, min-sample %lld%s\n\n",
           S(j, "waves"), S(j, "max_failures"),
           cJSON_GetObjectItemCaseSensitive(j, "soak_s")->valuedouble,
           cJSON_GetObjectItemCaseSensitive(j, "silent_after_s")->valuedouble, N(j, "min_success"),
           N(j, "min_sample"),
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "allow_downgrade"))
               ? ", downgrades allowed"
               : "");
    print_waves(j, 0);
}

static int create_or_plan(int argc, char **argv, int plan)
{
    const char *cmd = plan ? "rollout plan" : "rollout create";
    int json;
    cJSON *body = settings(&argc, argv, cmd, 0, &json);
    if (!body)
        return 2;
    if (argc != 1) {
        cJSON_Delete(body);
        return upd_cli_usage();
    }
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    const upd_cli_err errs[] = {{404, NULL, "%s"}, {409, NULL, "%s"}, {400, NULL, "%s"}};
    cJSON *j = upd_cli_call(cmd, "POST", plan ? "/api/v1/rollouts/plan" : "/api/v1/rollouts", text,
                            errs, 3, NULL);
    free(text);
    if (!j)
        return 1;
    if (json)
        return upd_cli_json_done(j);
    if (plan) {
        printf("plan of rollout %lld: release %lld (version %s, %s) to target '%s' in waves "
               "%s; nothing is started\n(counts of the devices known now; devices that appear "
               "later and match join their wave)\n\n",
               N(j, "id"), N(j, "release"), S(j, "version"), S(j, "platform"), S(j, "target"),
               S(j, "waves"));
        print_waves(j, 1);
    } else {
        print_status(j);
    }
    cJSON_Delete(j);
    return 0;
}

static int create(int argc, char **argv)
{
    return create_or_plan(argc, argv, 0);
}

static int plan(int argc, char **argv)
{
    return create_or_plan(argc, argv, 1);
}

static int list(int argc, char **argv)
{
    static const char *const known[] = {"--json", NULL};
    int json, rc = upd_cli_plain_args(&argc, argv, "rollout list", known, 1, &json);
    if (rc)
        return rc;
    cJSON *j = upd_cli_call("rollout list", "GET", "/api/v1/rollouts", NULL, NULL, 0, NULL);
    if (!j)
        return 1;
    if (json)
        return upd_cli_json_done(j);
    static const upd_cli_col cols[] = {{"ID", 4},   {"RELEASE", 7}, {"VERSION", 12}, {"STATE", 9},
                                       {"WAVE", 5}, {"TARGET", 20}, {"WHY", 0}};
    upd_cli_table_head(cols, 7);
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(j, "rollouts"))
    {
        char id[24], rel[24], wave[24], tgt[40];
        snprintf(id, sizeof id, "%lld", N(r, "id"));
        snprintf(rel, sizeof rel, "%lld", N(r, "release"));
        int nw = 1;
        for (const char *p = S(r, "waves"); *p; p++)
            nw += *p == ',';
        snprintf(wave, sizeof wave, "%lld/%d", N(r, "wave"), nw);
        if (N(r, "rollback_of") > 0)
            snprintf(tgt, sizeof tgt, "rollback of %lld", N(r, "rollback_of"));
        else
            snprintf(tgt, sizeof tgt, "%s", S(r, "target"));
        const char *v[] = {id, rel, S(r, "version"), S(r, "state"), wave, tgt, S(r, "reason")};
        upd_cli_table_row(cols, 7, v);
    }
    cJSON_Delete(j);
    return 0;
}

static int show(int argc, char **argv)
{
    static const char *const known[] = {"--json", NULL};
    int json, rc = upd_cli_plain_args(&argc, argv, "rollout show", known, 2, &json);
    if (rc)
        return rc;
    long long id = rollout_id("rollout show", argv[1]);
    if (!id)
        return 2;
    char path[64];
    snprintf(path, sizeof path, "/api/v1/rollouts/%lld", id);
    const upd_cli_err errs[] = {{404, NULL, "%s"}};
    cJSON *j = upd_cli_call("rollout show", "GET", path, NULL, errs, 1, NULL);
    if (!j)
        return 1;
    if (json)
        return upd_cli_json_done(j);
    print_status(j);
    cJSON_Delete(j);
    return 0;
}

/* pause, resume, abort: argv[0] names the action. */
static int act(int argc, char **argv)
{
    char cmd[32];
    snprintf(cmd, sizeof cmd, "rollout %s", argv[0]);
    static const char *const known[] = {"--note", "--json", NULL};
    int bad = 0;
    const char *note = upd_cli_opt(&argc, argv, cmd, "--note", &bad);
    int json = upd_cli_flag(&argc, argv, "--json");
    if (bad || upd_cli_unknown_options(argc, argv, cmd, known))
        return 2;
    if (argc != 2)
        return upd_cli_usage();
    long long id = rollout_id(cmd, argv[1]);
    if (!id)
        return 2;
    char path[64];
    snprintf(path, sizeof path, "/api/v1/rollouts/%lld/%s", id, argv[0]);
    cJSON *b = cJSON_CreateObject();
    if (note)
        cJSON_AddStringToObject(b, "note", note);
    char *text = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    const upd_cli_err errs[] = {{404, NULL, "%s"}, {409, NULL, "%s"}, {400, NULL, "%s"}};
    cJSON *j = upd_cli_call(cmd, "POST", path, text, errs, 3, NULL);
    free(text);
    if (!j)
        return 1;
    if (json)
        return upd_cli_json_done(j);
    printf("rollout %lld is %s: %s\n", id, S(j, "state"), S(j, "reason"));
    cJSON_Delete(j);
    return 0;
}

static int rollback(int argc, char **argv)
{
    int json;
    cJSON *body = settings(&argc, argv, "rollout rollback", 1, &json);
    if (!body)
        return 2;
    if (argc != 2) {
        cJSON_Delete(body);
        return upd_cli_usage();
    }
    long long id = rollout_id("rollout rollback", argv[1]);
    if (!id) {
        cJSON_Delete(body);
        return 2;
    }
    char path[64];
    snprintf(path, sizeof path, "/api/v1/rollouts/%lld/rollback", id);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    const upd_cli_err errs[] = {{404, NULL, "%s"}, {409, NULL, "%s"}, {400, NULL, "%s"}};
    cJSON *j = upd_cli_call("rollout rollback", "POST", path, text, errs, 3, NULL);
    free(text);
    if (!j)
        return 1;
    if (json)
        return upd_cli_json_done(j);
    printf("rollout %lld aborted; rollback ", id);
    print_status(j);
    cJSON_Delete(j);
    return 0;
}

#define SETTINGS_HELP                                                                              \
    "  --release ID         the release to roll out (required)\n"                                  \
    "  --target FILTER      which devices of the release's platform: a filter such as\n"           \
    "                       'tag=lab,kitchen version<2.0.0 seen<24h' (docs/filters.md);\n"         \
    "                       'all' (default) for every one\n"                                       \
    "  --waves LIST         wave sizes, shares and/or counts, each larger than the one\n"          \
    "                       before: 1%,10%,50%,100% (default), 10,100,1000, 5,25%,100%\n"          \
    "  --max-failures LIM   pause when the failures pass LIM: a share of the devices that\n"       \
    "                       downloaded (5%, default), a count (3: pause at the 4th), or both\n"    \
    "  --min-sample N       judge the share once N devices have a result (default 10, or\n"        \
    "                       all the open waves' devices when fewer)\n"                             \
    "  --min-success N      a wave opens only when N devices run the release (default 1)\n"        \
    "  --soak DURATION      time in a wave before the next opens: 90s, 30m, 2h (default 1h)\n"     \
    "  --silent-after DUR   a device that downloaded and is not seen again within DUR\n"           \
    "                       counts as failed, silent (default 30m)\n"                              \
    "  --start-at TIME      start later: 2026-12-24T02:00:00Z, or +2h from now\n"                  \
    "  --window HH:MM-HH:MM open waves and offer the release only in these hours of the\n"         \
    "                       day (22:00-04:00 crosses midnight); devices in flight finish\n"        \
    "  --tz ZONE            the window's time zone: Europe/Berlin, America/New_York, ...\n"        \
    "                       (tzdata; default UTC), daylight saving time included\n"                \
    "  --allow-downgrade    offer the release to devices that run a newer version\n"               \
    "  --webhook URL        POST every change of the rollout (a pause above all) as JSON\n"        \
    "                       to URL (http:// or https://), retried with back-off\n"                 \
    "  --json               the API's JSON\n"

static const upd_cli_sub SUBS[] = {
    {"create", create,
     "create --release ID [--target FILTER] [--waves LIST] [--max-failures LIM] [--soak DUR] "
     "[options]",
     "Roll a release out in waves. Each wave is a superset of the one before; which wave a\n"
     "device is in follows from a hash of its MAC and the rollout's id, so it never changes,\n"
     "and devices that appear later and match the target join their wave. A wave opens when\n"
     "the one before has soaked, enough devices run the release, and the failures stay under\n"
     "the limit; past the limit the rollout pauses itself and says why. Precedence for a\n"
     "device: its pin, then an active rollout, then its channel "
     "(docs/rollouts.md).\n\n" SETTINGS_HELP},
    {"plan", plan, "plan --release ID [same options as create]",
     "Say what 'rollout create' with these options would do: the devices of each wave\n"
     "(counts and a sample) among the devices known now. Nothing is started.\n\n" SETTINGS_HELP},
    {"list", list, "list [--json]",
     "List the rollouts, newest last, with their state and the sentence of their last\n"
     "change.\n\n"
     "  --json          the API's JSON\n"},
    {"show", show, "show ID [--json]",
     "Show a rollout: its state and why, its health, what it waits for, and per wave the\n"
     "devices that are eligible, offered, downloading (downloaded, no result yet), updated,\n"
     "failed (did not install it), rolled back (booted the old image and said so), silent\n"
     "(downloaded and not seen again within --silent-after) and pending (not offered yet).\n\n"
     "  --json          the API's JSON\n"},
    {"pause", act, "pause ID [--note TEXT] [--json]",
     "Pause a rollout: its release is no longer offered to devices that have not started;\n"
     "devices already offered it finish.\n\n"
     "  --note TEXT     why, kept in the rollout's event\n"
     "  --json          the API's JSON\n"},
    {"resume", act, "resume ID [--note TEXT] [--json]",
     "Resume a paused rollout. The failures seen before the resume no longer count towards\n"
     "the limit: only results from now on do.\n\n"
     "  --note TEXT     why, kept in the rollout's event\n"
     "  --json          the API's JSON\n"},
    {"abort", act, "abort ID [--note TEXT] [--json]",
     "End a rollout for good: its release is no longer offered through it (devices that\n"
     "installed it keep it; 'rollout rollback' takes it back).\n\n"
     "  --note TEXT     why, kept in the rollout's event\n"
     "  --json          the API's JSON\n"},
    {"rollback", rollback, "rollback ID [--release ID] [--waves LIST] [--soak DUR] [--json]",
     "Abort rollout ID and roll the release before it out to the devices that got ID's\n"
     "release (downloaded it), with downgrades allowed for this rollout alone. The release\n"
     "is the newest one of the same platform older than the bad one, unless --release says.\n"
     "Default: one wave of 100%, no soak; the failure rules of 'create' apply.\n\n"
     "  --release ID     the release to go back to\n"
     "  --waves, --max-failures, --min-sample, --min-success, --soak, --silent-after,\n"
     "  --start-at       as for create\n"
     "  --json           the API's JSON\n"},
    {NULL, NULL, NULL, NULL},
};

int upd_cmd_rollout(int argc, char **argv)
{
    return upd_cli_dispatch("rollout",
                            "Roll releases out in waves that pause themselves on failures.", SUBS,
                            argc, argv);
}
