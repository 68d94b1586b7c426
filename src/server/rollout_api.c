/* The admin API of rollouts, /api/v1/rollouts (docs/api.md "Rollouts"): JSON in and
 * out over the engine (rollout.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollout.h"
#include "ronext.h"
#include "rowindow.h"
#include "roreasons.h"
#include "srv.h"
#include "webhook.h"

static void add_time(cJSON *j, const char *name, int64_t ms)
{
    if (ms <= 0) {
        cJSON_AddNullToObject(j, name);
        return;
    }
    char t[40];
    upd__iso_time(ms, t, sizeof t);
    cJSON_AddStringToObject(j, name, t);
}

static void add_counts(cJSON *j, const upd_rollout_counts *c)
{
    cJSON_AddNumberToObject(j, "eligible", (double)c->eligible);
    cJSON_AddNumberToObject(j, "offered", (double)c->offered);
    cJSON_AddNumberToObject(j, "downloading", (double)c->downloading);
    cJSON_AddNumberToObject(j, "updated", (double)c->updated);
    cJSON_AddNumberToObject(j, "failed", (double)c->failed);
    cJSON_AddNumberToObject(j, "rolled_back", (double)c->rolled_back);
    cJSON_AddNumberToObject(j, "silent", (double)c->silent);
    cJSON_AddNumberToObject(j, "pending", (double)c->pending);
}

static void fmt_share(int64_t bp, char *out, size_t cap)
{
    if (bp % 100 == 0)
        snprintf(out, cap, "%lld%%", (long long)(bp / 100));
    else
        snprintf(out, cap, "%lld.%02lld%%", (long long)(bp / 100), (long long)(bp % 100));
}

/* The settings and state of a rollout row (what list shows). */
static cJSON *row_json(const upd_rollout_row *r, const char *version)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", (double)r->id);
    cJSON_AddNumberToObject(j, "release", (double)r->release_id);
    if (version)
        cJSON_AddStringToObject(j, "version", version);
    cJSON_AddStringToObject(j, "target",
                            r->rollback_of > 0 ? ""
                            : r->target[0]     ? r->target
                                               : "all");
    if (r->rollback_of > 0)
        cJSON_AddNumberToObject(j, "rollback_of", (double)r->rollback_of);
    else
        cJSON_AddNullToObject(j, "rollback_of");
    cJSON_AddStringToObject(j, "state", r->state);
    cJSON_AddStringToObject(j, "reason", r->reason);
    cJSON_AddNumberToObject(j, "wave", r->wave);
    cJSON_AddStringToObject(j, "waves", r->waves);
    char f[48] = "", share[24];
    if (r->max_fail_bp >= 0) {
        fmt_share(r->max_fail_bp, share, sizeof share);
        snprintf(f, sizeof f, "%s", share);
    }
    if (r->max_fail_count >= 0) {
        size_t l = strlen(f);
        snprintf(f + l, sizeof f - l, "%s%lld", l ? "," : "", (long long)r->max_fail_count);
    }
    cJSON_AddStringToObject(j, "max_failures", f);
    cJSON_AddNumberToObject(j, "min_success", (double)r->min_success);
    cJSON_AddNumberToObject(j, "min_sample", (double)r->min_sample);
    cJSON_AddNumberToObject(j, "soak_s", (double)r->soak_ms / 1000.0);
    cJSON_AddNumberToObject(j, "silent_after_s", (double)r->silent_ms / 1000.0);
    cJSON_AddBoolToObject(j, "allow_downgrade", r->allow_downgrade);
    if (r->webhook[0])
        cJSON_AddStringToObject(j, "webhook", r->webhook);
    else
        cJSON_AddNullToObject(j, "webhook");
    add_time(j, "start_at", r->start_at_ms);
    if (r->window[0]) {
        cJSON_AddStringToObject(j, "window", r->window);
        cJSON_AddStringToObject(j, "tz", r->tz[0] ? r->tz : "UTC");
    } else {
        cJSON_AddNullToObject(j, "window");
        cJSON_AddNullToObject(j, "tz");
    }
    add_time(j, "wave_opened", r->wave_opened_ms);
    add_time(j, "created", r->created_ms);
    cJSON_AddStringToObject(j, "created_by", r->created_by);
    add_time(j, "updated", r->updated_ms);
    return j;
}

cJSON *upd__rollout_status_json(const upd_rollout_status *st, int plan)
{
    cJSON *j = row_json(&st->row, st->rel.version);
    if (plan) {
        cJSON_DeleteItemFromObject(j, "id");
        cJSON_AddNumberToObject(j, "id", (double)st->row.id);
        cJSON_AddBoolToObject(j, "plan", 1);
    }
    cJSON_AddStringToObject(j, "platform", st->rel.platform);
    cJSON *ws = cJSON_AddArrayToObject(j, "waves_detail");
    for (int i = 0; i < st->nwaves; i++) {
        cJSON *w = cJSON_CreateObject();
        char size[24];
        if (st->wave[i].pct)
            fmt_share(st->wave[i].value, size, sizeof size);
        else
            snprintf(size, sizeof size, "%lld", (long long)st->wave[i].value);
        cJSON_AddNumberToObject(w, "wave", i + 1);
        cJSON_AddStringToObject(w, "size", size);
        cJSON_AddBoolToObject(w, "open", st->wave[i].open);
        add_counts(w, &st->wave[i].c);
        cJSON *sm = cJSON_AddArrayToObject(w, "sample");
        for (int k = 0; k < st->wave[i].nsample; k++)
            cJSON_AddItemToArray(sm, cJSON_CreateString(st->wave[i].sample[k]));
        cJSON_AddItemToArray(ws, w);
    }
    add_counts(cJSON_AddObjectToObject(j, "total"), &st->total);
    if (!plan) {
        cJSON_AddStringToObject(j, "health", st->health);
        cJSON_AddStringToObject(j, "next", st->next);
        /* the same as data (ronext.h): what ("soak", "window", "start", "paused",
         * "waiting", null), the wave it opens, when (null: not a time) */
        const char *kind = upd__ro_next_name((upd_ro_next_kind)st->next_kind);
        if (kind)
            cJSON_AddStringToObject(j, "next_kind", kind);
        else
            cJSON_AddNullToObject(j, "next_kind");
        if (st->next_wave > 0)
            cJSON_AddNumberToObject(j, "next_wave", st->next_wave);
        else
            cJSON_AddNullToObject(j, "next_wave");
        add_time(j, "next_at", st->next_at_ms);
        /* the delivery window now: open (true/false; null when it has none or the rollout
         * is over) and when that changes */
        if (st->row.window[0] && st->window_open >= 0) {
            cJSON_AddBoolToObject(j, "window_open", st->window_open);
            add_time(j, "window_change", st->window_change_ms);
        } else {
            cJSON_AddNullToObject(j, "window_open");
            cJSON_AddNullToObject(j, "window_change");
        }
    }
    return j;
}

static enum MHD_Result fail(req *r, struct MHD_Connection *c, int rc, const char *why)
{
    unsigned status = rc == UPD_RO_EINVAL      ? MHD_HTTP_BAD_REQUEST
                      : rc == UPD_RO_ENOTFOUND ? MHD_HTTP_NOT_FOUND
                      : rc == UPD_RO_ECONFLICT ? MHD_HTTP_CONFLICT
                                               : MHD_HTTP_INTERNAL_SERVER_ERROR;
    const char *kind = rc == UPD_RO_EINVAL      ? "bad-request"
                       : rc == UPD_RO_ENOTFOUND ? "not-found"
                       : rc == UPD_RO_ECONFLICT ? "conflict"
                                                : "store";
    return upd__reply_error(r, c, status, kind, "%s", why);
}

/* A duration field: "5s"/"2h" or a number of seconds; dflt when absent. -2 when bad. */
static int64_t duration_field(const cJSON *j, const char *name, int64_t dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    if (!v || cJSON_IsNull(v))
        return dflt;
    if (cJSON_IsNumber(v))
        return v->valuedouble >= 0 && v->valuedouble < 366.0 * 86400
                   ? (int64_t)(v->valuedouble * 1000)
                   : -2;
    if (cJSON_IsString(v)) {
        int64_t ms = upd__parse_duration(v->valuestring);
        return ms >= 0 ? ms : -2;
    }
    return -2;
}

static const char *str_field(const cJSON *j, const char *name, int *bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    if (!v || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsString(v)) {
        *bad = 1;
        return NULL;
    }
    return v->valuestring;
}

static int64_t int_field(const cJSON *j, const char *name, int64_t dflt, int *bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    if (!v || cJSON_IsNull(v))
        return dflt;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e12 ||
        v->valuedouble != (double)(int64_t)v->valuedouble) {
        *bad = 1;
        return dflt;
    }
    return (int64_t)v->valuedouble;
}

/* Read the settings of a new rollout from body j into row. 0, or 400 said in why. */
static int read_settings(const cJSON *j, upd_rollout_row *row, int rollback, char *why,
                         size_t whylen)
{
    static const char *const known[] = {
        "release",    "target",  "waves",        "max_failures",    "min_success",
        "min_sample", "soak",    "silent_after", "window",          "tz",
        "start_at",   "webhook", "plan",         "allow_downgrade", "note",
        NULL};
    const cJSON *it;
    cJSON_ArrayForEach(it, j)
    {
        int ok = 0;
        for (int i = 0; known[i]; i++)
            ok |= !strcmp(it->string, known[i]);
        if (!ok) {
            snprintf(why, whylen,
                     "unknown field \"%.40s\": a rollout takes release, target, waves, "
                     "max_failures, min_success, min_sample, soak, silent_after, start_at, "
                     "window, tz, webhook, allow_downgrade, plan (docs/api.md \"Rollouts\")",
                     it->string);
            return -1;
        }
    }
    int bad = 0;
    row->release_id = int_field(j, "release", 0, &bad);
    if (bad || (!rollback && row->release_id <= 0)) {
        snprintf(why, whylen, "\"release\" must be the id of a release (a number)");
        return -1;
    }
    const char *target = str_field(j, "target", &bad);
    const char *waves = str_field(j, "waves", &bad);
    if (bad) {
        snprintf(why, whylen, "\"target\" and \"waves\" are strings");
        return -1;
    }
    if (target && rollback) {
        snprintf(why, whylen,
                 "a rollback's target is the devices that got the rolled-back release: it takes "
                 "no \"target\"");
        return -1;
    }
    if (target && strlen(target) >= sizeof row->target) {
        snprintf(why, whylen, "\"target\" is too long (at most %zu bytes)", sizeof row->target - 1);
        return -1;
    }
    upd__copy(row->target, sizeof row->target, target);
    int n;
    int64_t val[UPD_WAVES_MAX];
    int pct[UPD_WAVES_MAX];
    char w[160];
    if (waves) {
        if (upd__rollout_parse_waves(waves, &n, val, pct, row->waves, sizeof row->waves, w,
                                     sizeof w)) {
            snprintf(why, whylen, "\"waves\": %s", w);
            return -1;
        }
    }
    row->max_fail_bp = UPD_RO_DEFAULT_FAIL;
    row->max_fail_count = -1;
    const cJSON *mf = cJSON_GetObjectItemCaseSensitive(j, "max_failures");
    if (cJSON_IsString(mf)) {
        if (upd__rollout_parse_failures(mf->valuestring, &row->max_fail_bp, &row->max_fail_count, w,
                                        sizeof w)) {
            snprintf(why, whylen, "\"max_failures\": %s", w);
            return -1;
        }
    } else if (mf && !cJSON_IsNull(mf)) {
        snprintf(why, whylen, "\"max_failures\" is a string: \"5%%\", \"3\" or \"5%%,3\"");
        return -1;
    }
    row->min_sample = int_field(j, "min_sample", UPD_RO_DEFAULT_SAMPLE, &bad);
    row->min_success = int_field(j, "min_success", 1, &bad);
    if (bad) {
        snprintf(why, whylen, "\"min_success\" and \"min_sample\" are whole numbers of devices");
        return -1;
    }
    row->soak_ms = duration_field(j, "soak", rollback ? 0 : UPD_RO_DEFAULT_SOAK);
    row->silent_ms = duration_field(j, "silent_after", UPD_RO_DEFAULT_SILENT);
    if (row->soak_ms < 0 || row->silent_ms < 0) {
        snprintf(why, whylen,
                 "\"soak\" and \"silent_after\" are durations: \"90s\", \"5m\", \"2h\", \"1d\" or "
                 "a number of seconds");
        return -1;
    }
    if (row->silent_ms == 0) {
        snprintf(why, whylen, "\"silent_after\" must be longer than 0");
        return -1;
    }
    const char *start = str_field(j, "start_at", &bad);
    if (start && *start) {
        int64_t ms = -1;
        if (start[0] == '+') {
            int64_t d = upd__parse_duration(start + 1);
            ms = d >= 0 ? upd__now_ms() + d : -1;
        } else {
            int64_t t = upd__parse_time(start);
            ms = t;
        }
        if (ms < 0) {
            snprintf(why, whylen,
                     "\"start_at\" is a time: \"2026-12-24T02:00:00Z\", a date, seconds since "
                     "1970, or \"+2h\" from now");
            return -1;
        }
        row->start_at_ms = ms;
    }
    const char *win = str_field(j, "window", &bad);
    const char *tz = str_field(j, "tz", &bad);
    const char *hook = str_field(j, "webhook", &bad);
    if (bad) {
        snprintf(why, whylen, "\"start_at\", \"window\", \"tz\" and \"webhook\" are strings");
        return -1;
    }
    if (win && *win) {
        upd_window hours;
        char wy[200];
        if (upd__window_parse(win, &hours, row->window, sizeof row->window, wy, sizeof wy)) {
            snprintf(why, whylen, "\"window\": %s", wy);
            return -1;
        }
    }
    if (tz && *tz) {
        if (!row->window[0]) {
            snprintf(why, whylen,
                     "\"tz\" is the time zone of the delivery window: give \"window\" too "
                     "(\"02:00-05:00\")");
            return -1;
        }
        upd_tzone *zone = malloc(sizeof *zone);
        char wy[300];
        int zr = !zone || upd__tz_load(zone, tz, NULL, wy, sizeof wy);
        free(zone);
        if (zr) {
            snprintf(why, whylen, "\"tz\": %s", zone ? wy : "out of memory");
            return -1;
        }
        upd__copy(row->tz, sizeof row->tz, tz);
    }
    if (hook && *hook) {
        char w2[200];
        if (upd__webhook_check_url(hook, w2, sizeof w2)) {
            snprintf(why, whylen, "\"webhook\": %s", w2);
            return -1;
        }
        upd__copy(row->webhook, sizeof row->webhook, hook);
    }
    const cJSON *ad = cJSON_GetObjectItemCaseSensitive(j, "allow_downgrade");
    if (ad && !cJSON_IsBool(ad)) {
        snprintf(why, whylen, "\"allow_downgrade\" is true or false");
        return -1;
    }
    row->allow_downgrade = cJSON_IsTrue(ad);
    return 0;
}

static upd_rollout_status *new_status(void)
{
    return calloc(1, sizeof(upd_rollout_status));
}

static enum MHD_Result create(req *r, struct MHD_Connection *c, int plan_path)
{
    enum MHD_Result ret = MHD_NO;
    cJSON *j = upd__api_json_body(r, c, &ret);
    if (!j)
        return ret;
    char why[UPD_DETAIL_MAX + 256];
    upd_rollout_row *row = calloc(1, sizeof *row);
    upd_rollout_status *st = new_status();
    if (!row || !st) {
        cJSON_Delete(j);
        free(row);
        free(st);
        return MHD_NO;
    }
    int plan = plan_path || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "plan"));
    int rc = read_settings(j, row, 0, why, sizeof why) ? UPD_RO_EINVAL : 0;
    cJSON_Delete(j);
    upd__copy(row->created_by, sizeof row->created_by, r->who.name);
    if (rc == 0)
        rc = upd__rollout_create(r->s->rollouts, row, plan, st, why, sizeof why);
    if (rc == 0 && !plan)
        rc = upd__rollout_status(r->s->rollouts, row->id, st, why, sizeof why);
    if (rc) {
        free(row);
        free(st);
        return fail(r, c, rc, why);
    }
    cJSON *out = upd__rollout_status_json(st, plan);
    if (!plan)
        upd__roreasons_add(r->s, &st->row, &st->rel, out);
    free(row);
    free(st);
    return upd__reply_json(r, c, plan ? MHD_HTTP_OK : MHD_HTTP_CREATED, out);
}

typedef struct list_ctx {
    srv *s;
    cJSON *arr;
} list_ctx;

static int list_one(void *ctx, const upd_rollout_row *row)
{
    list_ctx *lc = ctx;
    upd_release_row *rel = malloc(sizeof *rel);
    if (!rel)
        return 1;
    int have = lc->s->store->ops->release_get(lc->s->store, row->release_id, rel) == 0;
    cJSON_AddItemToArray(lc->arr, row_json(row, have ? rel->version : NULL));
    free(rel);
    return 0;
}

static enum MHD_Result show(req *r, struct MHD_Connection *c, int64_t id)
{
    char why[UPD_DETAIL_MAX + 256];
    upd_rollout_status *st = new_status();
    if (!st)
        return MHD_NO;
    int rc = upd__rollout_status(r->s->rollouts, id, st, why, sizeof why);
    if (rc) {
        free(st);
        return fail(r, c, rc, why);
    }
    cJSON *out = upd__rollout_status_json(st, 0);
    upd__roreasons_add(r->s, &st->row, &st->rel, out); /* failures per wave, why */
    free(st);
    return upd__reply_json(r, c, MHD_HTTP_OK, out);
}

static enum MHD_Result action(req *r, struct MHD_Connection *c, int64_t id, const char *what)
{
    enum MHD_Result ret = MHD_NO;
    cJSON *j = NULL;
    if (r->body_len) {
        j = upd__api_json_body(r, c, &ret);
        if (!j)
            return ret;
    }
    char why[UPD_DETAIL_MAX + 256];
    int rc;
    if (!strcmp(what, "rollback")) {
        upd_rollout_row *row = calloc(1, sizeof *row);
        if (!row) {
            cJSON_Delete(j);
            return MHD_NO;
        }
        cJSON *empty = j ? NULL : cJSON_CreateObject();
        rc = read_settings(j ? j : empty, row, 1, why, sizeof why) ? UPD_RO_EINVAL : 0;
        cJSON_Delete(empty);
        if (rc == 0) {
            upd__copy(row->created_by, sizeof row->created_by, r->who.name);
            rc = upd__rollout_rollback(r->s->rollouts, id, row, why, sizeof why);
        }
        int64_t nid = row->id;
        free(row);
        cJSON_Delete(j);
        if (rc)
            return fail(r, c, rc, why);
        upd_rollout_status *st = new_status();
        if (!st)
            return MHD_NO;
        rc = upd__rollout_status(r->s->rollouts, nid, st, why, sizeof why);
        if (rc) {
            free(st);
            return fail(r, c, rc, why);
        }
        cJSON *out = upd__rollout_status_json(st, 0);
        free(st);
        return upd__reply_json(r, c, MHD_HTTP_CREATED, out);
    }
    const cJSON *nv = j ? cJSON_GetObjectItemCaseSensitive(j, "note") : NULL;
    char note[200];
    upd__copy(note, sizeof note, cJSON_IsString(nv) ? nv->valuestring : "");
    cJSON_Delete(j);
    if (!upd__printable(note, sizeof note - 1))
        return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-request",
                                "\"note\" must be printable text (at most 199 bytes)");
    rc = upd__rollout_act(r->s->rollouts, id, what, r->who.name, note, NULL, why, sizeof why);
    if (rc)
        return fail(r, c, rc, why);
    return show(r, c, id);
}

enum MHD_Result upd__rollout_route(req *r, struct MHD_Connection *c, const char *method,
                                   const char *rest)
{
    if (!strcmp(rest, "") || !strcmp(rest, "/")) {
        if (!strcmp(method, "POST"))
            return create(r, c, 0);
        if (strcmp(method, "GET"))
            return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                    "use GET /api/v1/rollouts or POST /api/v1/rollouts");
        upd_writer_flush(r->s->writer);
        list_ctx lc = {r->s, cJSON_CreateArray()};
        if (r->s->store->ops->rollout_list(r->s->store, list_one, &lc) != 0) {
            cJSON_Delete(lc.arr);
            return upd__api_store_failed(r, c, NULL);
        }
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToObject(j, "rollouts", lc.arr);
        return upd__reply_json(r, c, MHD_HTTP_OK, j);
    }
    if (!strcmp(rest, "/plan")) {
        if (strcmp(method, "POST"))
            return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                    "use POST /api/v1/rollouts/plan with the rollout's settings");
        return create(r, c, 1);
    }
    char *end;
    long long id = strtoll(rest + 1, &end, 10);
    if (rest[0] != '/' || end == rest + 1 || id <= 0 || (*end && *end != '/'))
        return upd__reply_error(r, c, MHD_HTTP_NOT_FOUND, "not-found",
                                "unknown rollout path: /api/v1/rollouts, .../plan, .../<id>, "
                                ".../<id>/pause, resume, abort, rollback");
    if (!*end) {
        if (strcmp(method, "GET"))
            return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                    "use GET /api/v1/rollouts/<id>");
        return show(r, c, id);
    }
    const char *what = end + 1;
    if (strcmp(what, "pause") && strcmp(what, "resume") && strcmp(what, "abort") &&
        strcmp(what, "rollback"))
        return upd__reply_error(r, c, MHD_HTTP_NOT_FOUND, "not-found",
                                "unknown rollout action '%.40s': pause, resume, abort or rollback",
                                what);
    if (strcmp(method, "POST"))
        return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                "use POST /api/v1/rollouts/<id>/%s", what);
    return action(r, c, id, what);
}
