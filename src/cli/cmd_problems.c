/* `updraft problems`: the devices that need attention, grouped by reason, with the
 * server's sentence for each group (GET /api/v1/problems; docs/api.md "Problems"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cliutil.h"
#include "cmd_apiclient.h"

static const char PROBLEMS_HELP[] =
    "usage: updraft problems [--tool none|any|sim|doctor] [--fresh] [--json]\n"
    "\n"
    "Show the devices that need attention, grouped by what is wrong, largest group first:\n"
    "declined (the release they should get would fail on them: -100 no room, wrong chip,\n"
    "a downgrade...), failed, rolled-back and update-loop (a release failed on them and is\n"
    "held back), silent-after-update (downloaded a release and not heard from since).\n"
    "Each group says, in the server's own sentence, what is wrong and what to do, and\n"
    "names up to 5 of its devices ('updraft device show MAC').\n"
    "\n"
    "  --tool T   none: real devices only; any: the devices updraft's tools made;\n"
    "             sim or doctor: that tool's (default: every device)\n"
    "  --fresh    read the registry now (default: the server's figures, at most 10 s old)\n"
    "  --json     the API's JSON ({\"groups\": [...], \"devices\": N, \"as_of\": ...})\n";

/* GET path; while the server answers 202 "building" (the first reading of its registry
 * since it started is under way: docs/api.md "Fleet"), say so once and ask again after
 * the time it gives, for at most 10 minutes. The figures, or NULL (said). */
static cJSON *call_built(const char *cmd, const char *path)
{
    int said = 0;
    for (long long waited = 0;;) {
        int status = 0;
        cJSON *j = upd_cli_call(cmd, "GET", path, NULL, NULL, 0, &status);
        if (!j || status != 202)
            return j;
        long long retry = upd_cli_jnum(j, "retry_ms");
        if (retry <= 0 || retry > 5000)
            retry = 500;
        if (!said) {
            fprintf(stderr,
                    "updraft %s: the server is reading its device registry for the first time "
                    "since it started (%lld devices so far); waiting for the figures\n",
                    cmd, upd_cli_jnum(j, "devices_read"));
            said = 1;
        }
        cJSON_Delete(j);
        if (waited >= 600000) {
            fprintf(stderr,
                    "updraft %s: the server has not finished reading its device registry "
                    "after 10 minutes: look at its log, or try again later\n",
                    cmd);
            return NULL;
        }
        struct timespec ts = {(time_t)(retry / 1000), (long)(retry % 1000) * 1000000};
        nanosleep(&ts, NULL);
        waited += retry;
    }
}

int upd_cmd_problems(int argc, char **argv)
{
    static const char *const known[] = {"--tool", "--fresh", "--json", "--help", NULL};
    if (upd_cli_flag(&argc, argv, "--help") || upd_cli_flag(&argc, argv, "-h")) {
        fputs(PROBLEMS_HELP, stdout);
        return 0;
    }
    int bad = 0;
    const char *tool = upd_cli_opt(&argc, argv, "problems", "--tool", &bad);
    int fresh = upd_cli_flag(&argc, argv, "--fresh");
    int json = upd_cli_flag(&argc, argv, "--json");
    if (bad || upd_cli_unknown_options(argc, argv, "problems", known))
        return 2;
    if (argc != 1) {
        fprintf(stderr, "updraft problems: unexpected '%s' ('updraft problems --help')\n", argv[1]);
        return 2;
    }
    if (tool && strcmp(tool, "none") && strcmp(tool, "any") && strcmp(tool, "sim") &&
        strcmp(tool, "doctor")) {
        fprintf(stderr,
                "updraft problems: --tool must be none (real devices), any (the tools' "
                "devices), sim or doctor, not '%s'\n",
                tool);
        return 2;
    }
    char path[200];
    snprintf(path, sizeof path, "/api/v1/problems?fresh=%d%s%s", fresh, tool ? "&tool=" : "",
             tool ? tool : "");
    cJSON *j = call_built("problems", path);
    if (!j)
        return 1;
    if (json) {
        upd_cli_print_json(j);
        cJSON_Delete(j);
        return 0;
    }
    const cJSON *groups = cJSON_GetObjectItemCaseSensitive(j, "groups");
    if (cJSON_GetArraySize(groups) == 0) {
        printf("no problems: every device checks in and runs what it should\n");
        cJSON_Delete(j);
        return 0;
    }
    const cJSON *g;
    cJSON_ArrayForEach(g, groups)
    {
        long long n = upd_cli_jnum(g, "devices");
        char rel[300] = "";
        if (upd_cli_jnum(g, "release") > 0)
            snprintf(rel, sizeof rel, ", release %lld (%s)", upd_cli_jnum(g, "release"),
                     upd_cli_jstr(g, "version"));
        printf("%lld device%s  %s: %s%s\n", n, n == 1 ? " " : "s", upd_cli_jstr(g, "kind"),
               upd_cli_jstr(g, "reason"), rel);
        printf("  %s\n", upd_cli_jstr(g, "sentence"));
        const cJSON *sm = cJSON_GetObjectItemCaseSensitive(g, "sample");
        const cJSON *m;
        printf("  ");
        int k = 0;
        cJSON_ArrayForEach(m, sm)
        {
            printf("%s%s", k++ ? " " : "", cJSON_IsString(m) ? m->valuestring : "");
        }
        if (n > k)
            printf(" (and %lld more)", n - k);
        printf("\n\n");
    }
    printf("%lld device%s need attention (as of %s)\n", upd_cli_jnum(j, "devices"),
           upd_cli_jnum(j, "devices") == 1 ? "" : "s", upd_cli_jstr(j, "as_of"));
    cJSON_Delete(j);
    return 0;
}
