/* Failure reasons per rollout wave (roreasons.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollout.h"
#include "roreasons.h"

typedef struct bad {
    char mac[UPD_MAC_STR];
    char state[16]; /* "failed", "rolled-back", "silent" */
} bad;

typedef struct bads {
    const upd_rollout_row *row;
    int64_t now;
    bad *v;
    size_t n, cap;
    int oom;
} bads;

static int collect(void *ctx, const char *mac, const char *state, int64_t at)
{
    bads *b = ctx;
    const char *st = NULL;
    if (!strcmp(state, "failed") || !strcmp(state, "rolled-back"))
        st = state;
    else if (!strcmp(state, "downloading") && b->row->silent_ms > 0 &&
             b->now - at >= b->row->silent_ms)
        st = "silent";
    if (!st)
        return 0;
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 64;
        bad *v = realloc(b->v, nc * sizeof *v);
        if (!v) {
            b->oom = 1;
            return 1;
        }
        b->v = v;
        b->cap = nc;
    }
    upd__copy(b->v[b->n].mac, sizeof b->v[b->n].mac, mac);
    upd__copy(b->v[b->n].state, sizeof b->v[b->n].state, st);
    b->n++;
    return 0;
}

/* The newest events of a device: its own report of the release beats the server's
 * inference ("failed": downloaded and still runs its old image). */
typedef struct pick {
    int64_t release;
    char report[UPD_DETAIL_MAX], inferred[UPD_DETAIL_MAX];
} pick;

static int pick_event(void *ctx, const upd_event_row *e)
{
    pick *p = ctx;
    if (e->release_id != p->release)
        return 0;
    if (!p->report[0] &&
        (!strcmp(e->kind, "report-failed") || !strcmp(e->kind, "report-rolled-back")))
        upd__copy(p->report, sizeof p->report, e->detail);
    else if (!p->inferred[0] && !strcmp(e->kind, "failed"))
        upd__copy(p->inferred, sizeof p->inferred, e->detail);
    return 0;
}

static void reason_of(srv *s, const upd_rollout_row *row, const upd_release_row *rel, const bad *d,
                      size_t looked, char *out, size_t cap)
{
    if (!strcmp(d->state, "silent")) { /* --silent-after 90s: seconds, not "1 minutes" */
        int64_t secs = row->silent_ms / 1000;
        snprintf(out, cap,
                 "downloaded release %lld and not seen for %lld %s or more: it may not boot "
                 "the new image, or it lost its network",
                 (long long)rel->id, (long long)(secs % 60 ? secs : secs / 60),
                 secs % 60    ? (secs == 1 ? "second" : "seconds")
                 : secs == 60 ? "minute"
                              : "minutes");
        return;
    }
    if (looked >= UPD_ROREASONS_LOOKUPS) {
        snprintf(out, cap, "not looked up (more than %d devices failed)", UPD_ROREASONS_LOOKUPS);
        return;
    }
    pick p;
    memset(&p, 0, sizeof p);
    p.release = rel->id;
    s->store->ops->event_list(s->store, d->mac, NULL, 0, 25, pick_event, &p);
    const char *why = p.report[0] ? p.report : p.inferred;
    if (why[0])
        upd__copy(out, cap, why);
    else
        snprintf(out, cap, "%s; the event that said why is no longer kept",
                 !strcmp(d->state, "failed") ? "failed" : "rolled back");
}

typedef struct group {
    int wave;
    const char *state;
    char reason[UPD_DETAIL_MAX];
    int64_t count;
    int nmacs;
    char macs[3][UPD_MAC_STR];
} group;

static int by_count(const void *a, const void *b)
{
    const group *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->reason, y->reason);
}

int upd__roreasons_add(srv *s, const upd_rollout_row *row, const upd_release_row *rel,
                       cJSON *rollout)
{
    bads b = {row, upd__now_ms(), NULL, 0, 0, 0};
    if (s->store->ops->rollout_devices(s->store, row->id, collect, &b) != 0 || b.oom) {
        free(b.v);
        return -1;
    }
    group *g = calloc(b.n ? b.n : 1, sizeof *g);
    size_t ng = 0, looked = 0;
    char reason[UPD_DETAIL_MAX];
    for (size_t i = 0; g && i < b.n; i++) {
        int w = upd__rollout_wave_of(row, b.v[i].mac);
        reason_of(s, row, rel, &b.v[i], looked, reason, sizeof reason);
        if (strcmp(b.v[i].state, "silent"))
            looked++;
        size_t k = 0;
        while (k < ng && !(g[k].wave == (w ? w : 1) && !strcmp(g[k].state, b.v[i].state) &&
                           !strcmp(g[k].reason, reason)))
            k++;
        if (k == ng) {
            g[k].wave = w ? w : 1;
            g[k].state = !strcmp(b.v[i].state, "failed")        ? "failed"
                         : !strcmp(b.v[i].state, "rolled-back") ? "rolled-back"
                                                                : "silent";
            upd__copy(g[k].reason, sizeof g[k].reason, reason);
            ng++;
        }
        g[k].count++;
        if (g[k].nmacs < 3)
            upd__copy(g[k].macs[g[k].nmacs++], UPD_MAC_STR, b.v[i].mac);
    }
    free(b.v);
    if (!g)
        return -1;
    qsort(g, ng, sizeof *g, by_count);
    cJSON *w;
    cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(rollout, "waves_detail"))
    {
        const cJSON *num = cJSON_GetObjectItemCaseSensitive(w, "wave");
        cJSON *arr = cJSON_AddArrayToObject(w, "failures");
        for (size_t k = 0; k < ng; k++) {
            if (!cJSON_IsNumber(num) || g[k].wave != num->valueint)
                continue;
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "state", g[k].state);
            cJSON_AddStringToObject(o, "reason", g[k].reason);
            cJSON_AddNumberToObject(o, "count", (double)g[k].count);
            cJSON *m = cJSON_AddArrayToObject(o, "macs");
            for (int x = 0; x < g[k].nmacs; x++)
                cJSON_AddItemToArray(m, cJSON_CreateString(g[k].macs[x]));
            cJSON_AddItemToArray(arr, o);
        }
    }
    free(g);
    return 0;
}
