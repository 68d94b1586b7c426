/* Adoption snapshots and the chart series made of them (adoption.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adoption.h"
#include "log.h"
#include "rollout.h"
#include "updraft/version.h"

static const char *const TOOL_NAMES[UPD_FT_N] = {"", "sim", "doctor", "other"};

int upd__adoption_record(srv *s, const upd_fleet_scan *sc)
{
    upd_adoption_row *rows = malloc((sc->nv ? sc->nv : 1) * sizeof *rows);
    if (!rows)
        return UPD_STORE_EFAIL;
    for (size_t i = 0; i < sc->nv; i++) {
        memset(&rows[i], 0, sizeof rows[i]);
        rows[i].at_ms = sc->at_ms;
        upd__copy(rows[i].platform, sizeof rows[i].platform, sc->v[i].platform);
        upd__copy(rows[i].version, sizeof rows[i].version, sc->v[i].version);
        upd__copy(rows[i].tool, sizeof rows[i].tool, TOOL_NAMES[sc->v[i].tool]);
        rows[i].devices = sc->v[i].devices;
    }
    char err[256] = "";
    int rc = s->store->ops->adoption_add(s->store, rows, sc->nv, sc->at_ms - UPD_ADOPTION_KEEP_MS,
                                         err, sizeof err);
    if (rc)
        upd__log(UPD_LOG_ERROR, "database-failed", "could not record the adoption snapshot: %s",
                 err);
    free(rows);
    return rc;
}

/* ---- the series ---------------------------------------------------------------------- */

typedef struct rows {
    upd_adoption_row *v;
    size_t n, cap;
    unsigned mask;
    int oom;
} rows;

static int collect(void *ctx, const upd_adoption_row *a)
{
    rows *x = ctx;
    if (!(x->mask & (1u << upd__fleet_tool(a->tool))))
        return 0;
    if (x->n == x->cap) {
        size_t nc = x->cap ? x->cap * 2 : 256;
        upd_adoption_row *nv = realloc(x->v, nc * sizeof *nv);
        if (!nv) {
            x->oom = 1;
            return 1;
        }
        x->v = nv;
        x->cap = nc;
    }
    x->v[x->n++] = *a;
    return 0;
}

typedef struct key {
    const char *platform, *version;
} key;

static int key_cmp(const void *a, const void *b)
{
    const key *x = a, *y = b;
    int k = strcmp(x->platform, y->platform);
    return k ? k : upd_version_cmp(y->version, x->version);
}

static size_t key_find(const key *k, size_t n, const char *platform, const char *version)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(k[i].platform, platform) && !strcmp(k[i].version, version))
            return i;
    return n;
}

static void add_iso(cJSON *arr, int64_t ms)
{
    char t[40];
    upd__iso_time(ms, t, sizeof t);
    cJSON_AddItemToArray(arr, cJSON_CreateString(t));
}

enum MHD_Result upd__adoption_route(req *r, struct MHD_Connection *c, const char *method)
{
    srv *s = r->s;
    if (strcmp(method, "GET"))
        return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                "use GET /api/v1/adoption");
    unsigned mask;
    int fresh;
    enum MHD_Result ret;
    if (upd__fleet_args(r, c, &mask, &fresh, &ret) != 0)
        return ret;
    const char *platform = upd__arg(c, "platform");
    if (platform && !platform[0])
        platform = NULL;
    const char *b = upd__arg(c, "bucket");
    int64_t bucket = !b || !strcmp(b, "hour") ? 3600 * 1000
                     : !strcmp(b, "day")      ? 86400 * 1000
                                              : upd__parse_duration(b);
    if (bucket < 1000)
        return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-bucket",
                                "bucket must be hour, day or a duration of at least 1s like 6h "
                                "or 15m (one point per bucket)");
    int64_t now = upd__now_ms();
    const char *since_arg = upd__arg(c, "since");
    int64_t since = bucket >= 86400 * 1000  ? now - 90ll * 86400 * 1000
                    : bucket >= 3600 * 1000 ? now - 7ll * 86400 * 1000
                                            : now - 200 * bucket;
    if (since_arg) {
        since = upd__parse_time(since_arg);
        if (since < 0)
            return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-since",
                                    "since must be seconds since 1970 or a UTC time like "
                                    "2026-11-27T10:00:00Z");
    }
    since = since / bucket * bucket;
    if ((now - since) / bucket >= UPD_ADOPTION_MAX_BUCKETS)
        return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "too-many-buckets",
                                "since and bucket ask for %lld points, more than %d: ask for a "
                                "later since or a larger bucket",
                                (long long)((now - since) / bucket + 1), UPD_ADOPTION_MAX_BUCKETS);
    (void)fresh; /* snapshots are what they were */
    rows x;
    memset(&x, 0, sizeof x);
    x.mask = mask;
    if (s->store->ops->adoption_list(s->store, platform, since, collect, &x) != 0 || x.oom) {
        free(x.v);
        return upd__api_store_failed(r, c, "reading the adoption snapshots");
    }
    /* the series' keys, sorted; the buckets, each with the last snapshot in it */
    key *k = malloc((x.n ? x.n : 1) * sizeof *k);
    int64_t *bstart = malloc((x.n ? x.n : 1) * sizeof *bstart);
    int64_t *bsnap = malloc((x.n ? x.n : 1) * sizeof *bsnap);
    size_t nk = 0, nb = 0;
    if (!k || !bstart || !bsnap) {
        free(k), free(bstart), free(bsnap), free(x.v);
        return MHD_NO;
    }
    for (size_t i = 0; i < x.n; i++) {
        size_t j = 0;
        while (j < nk &&
               (strcmp(k[j].platform, x.v[i].platform) || strcmp(k[j].version, x.v[i].version)))
            j++;
        if (j == nk)
            k[nk++] = (key){x.v[i].platform, x.v[i].version};
        int64_t bs = x.v[i].at_ms / bucket * bucket;
        if (!nb || bstart[nb - 1] != bs) {
            bstart[nb] = bs;
            bsnap[nb++] = x.v[i].at_ms;
        } else if (x.v[i].at_ms > bsnap[nb - 1]) {
            bsnap[nb - 1] = x.v[i].at_ms; /* a later snapshot in the same bucket wins */
        }
    }
    qsort(k, nk, sizeof *k, key_cmp);
    int64_t *m = calloc(nb * nk + 1, sizeof *m);
    if (!m) {
        free(k), free(bstart), free(bsnap), free(x.v);
        return MHD_NO;
    }
    size_t bi = 0;
    for (size_t i = 0; i < x.n; i++) {
        while (bi < nb && bstart[bi] != x.v[i].at_ms / bucket * bucket)
            bi++;
        if (bi == nb || x.v[i].at_ms != bsnap[bi])
            continue; /* an earlier snapshot of its bucket */
        size_t j = key_find(k, nk, x.v[i].platform, x.v[i].version);
        if (j < nk)
            m[bi * nk + j] += x.v[i].devices;
    }
    cJSON *out = cJSON_CreateObject();
    if (platform)
        cJSON_AddStringToObject(out, "platform", platform);
    else
        cJSON_AddNullToObject(out, "platform");
    cJSON_AddNumberToObject(out, "bucket_s", (double)(bucket / 1000));
    char t[40];
    upd__iso_time(since, t, sizeof t);
    cJSON_AddStringToObject(out, "since", t);
    cJSON *labels = cJSON_AddArrayToObject(out, "buckets");
    cJSON *snaps = cJSON_AddArrayToObject(out, "snapshots");
    for (size_t i = 0; i < nb; i++) {
        add_iso(labels, bstart[i]);
        add_iso(snaps, bsnap[i]);
    }
    cJSON *totals = cJSON_AddArrayToObject(out, "totals");
    cJSON *series = cJSON_AddArrayToObject(out, "series");
    for (size_t j0 = 0; j0 < nk;) {
        size_t j1 = j0;
        while (j1 < nk && !strcmp(k[j1].platform, k[j0].platform))
            j1++;
        cJSON *tp = cJSON_CreateObject();
        cJSON_AddStringToObject(tp, "platform", k[j0].platform);
        cJSON *td = cJSON_AddArrayToObject(tp, "devices");
        for (size_t i = 0; i < nb; i++) {
            int64_t sum = 0;
            for (size_t j = j0; j < j1; j++)
                sum += m[i * nk + j];
            cJSON_AddItemToArray(td, cJSON_CreateNumber((double)sum));
        }
        cJSON_AddItemToArray(totals, tp);
        for (size_t j = j0; j < j1; j++) {
            cJSON *sj = cJSON_CreateObject();
            cJSON_AddStringToObject(sj, "platform", k[j].platform);
            if (k[j].version[0])
                cJSON_AddStringToObject(sj, "version", k[j].version);
            else
                cJSON_AddNullToObject(sj, "version");
            cJSON *dv = cJSON_AddArrayToObject(sj, "devices");
            cJSON *sh = cJSON_AddArrayToObject(sj, "share");
            for (size_t i = 0; i < nb; i++) {
                int64_t sum = 0;
                for (size_t q = j0; q < j1; q++)
                    sum += m[i * nk + q];
                int64_t v = m[i * nk + j];
                cJSON_AddItemToArray(dv, cJSON_CreateNumber((double)v));
                cJSON_AddItemToArray(
                    sh,
                    cJSON_CreateNumber(sum ? (double)((v * 20000 + sum) / (2 * sum)) / 10000 : 0));
            }
            cJSON_AddItemToArray(series, sj);
        }
        j0 = j1;
    }
    free(m);
    free(k);
    free(bstart);
    free(bsnap);
    free(x.v);
    return upd__reply_json(r, c, MHD_HTTP_OK, out);
}
