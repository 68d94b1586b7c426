/* The registry's figures, read by a thread of their own (fleet.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adoption.h"
#include "fleet.h"
#include "log.h"
#include "problems.h"
#include "rollout.h"
#include "roreasons.h"
#include "updraft/version.h"

struct upd_fleet {
    srv *s;
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* the thread: a reading is wanted, or stop */
    pthread_cond_t done; /* readers: a reading was published */
    int stop, want, scanning;
    uint64_t gen; /* readings published */
    upd_fleet_scan *cur;
    /* the reading under way: when it started and how many devices it has read (the
     * scan's own count, read without the lock by an answer that cannot wait for it) */
    int64_t scan_started_ms;
    int64_t devices_read;
    int64_t adoption_ms, next_adoption_ms;
};

int upd__fleet_tool(const char *tool)
{
    if (!tool || !tool[0])
        return UPD_FT_REAL;
    if (!strcmp(tool, "sim"))
        return UPD_FT_SIM;
    if (!strcmp(tool, "doctor"))
        return UPD_FT_DOCTOR;
    return UPD_FT_OTHER;
}

static void scan_free(upd_fleet_scan *sc)
{
    if (!sc)
        return;
    free(sc->v);
    free(sc->p);
    cJSON_Delete(sc->rollouts);
    free(sc);
}

/* ---- one reading ------------------------------------------------------------------------ */

typedef struct reading {
    upd_fleet_scan *sc;
    int64_t now;
    int oom;
    srv *s;
    upd_problem *pb;
    int last_v;               /* the version entry the previous device had (devices come in runs) */
    int64_t nread, *progress; /* devices read; published to *progress now and then */
    const int *stop;          /* the server stops: the reading ends unfinished */
    int stopped;
} reading;

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return p;
    size_t nc = *cap ? *cap * 2 : 64;
    void *q = realloc(p, nc * size);
    if (q)
        *cap = nc;
    return q;
}

static void add_version(reading *x, const upd_device_row *d, int tool)
{
    upd_fleet_scan *sc = x->sc;
    if (x->last_v >= 0) {
        upd_fleet_version *v = &sc->v[x->last_v];
        if (v->tool == tool && !strcmp(v->platform, d->family) && !strcmp(v->version, d->version)) {
            v->devices++;
            return;
        }
    }
    for (size_t i = 0; i < sc->nv; i++) {
        upd_fleet_version *v = &sc->v[i];
        if (v->tool == tool && !strcmp(v->platform, d->family) && !strcmp(v->version, d->version)) {
            v->devices++;
            x->last_v = (int)i;
            return;
        }
    }
    upd_fleet_version *nv = grow(sc->v, &sc->capv, sc->nv, sizeof *nv);
    if (!nv) {
        x->oom = 1;
        return;
    }
    sc->v = nv;
    upd_fleet_version *v = &sc->v[sc->nv];
    memset(v, 0, sizeof *v);
    upd__copy(v->platform, sizeof v->platform, d->family);
    upd__copy(v->version, sizeof v->version, d->version);
    v->tool = tool;
    v->devices = 1;
    x->last_v = (int)sc->nv++;
}

static int last_event(void *ctx, const upd_event_row *e)
{
    upd_fleet_problem *p = ctx;
    upd__copy(p->sentence, sizeof p->sentence, e->detail);
    return 1;
}

static void add_problem(srv *s, upd_fleet_scan *sc, const upd_problem *pb, int tool,
                        const char *mac, int *oom)
{
    for (size_t i = 0; i < sc->np; i++) {
        upd_fleet_problem *p = &sc->p[i];
        if (p->tool == tool && p->release == pb->release && !strcmp(p->kind, pb->kind) &&
            !strcmp(p->reason, pb->reason)) {
            p->devices++;
            if (p->nsample < UPD_FLEET_SAMPLE)
                upd__copy(p->sample[p->nsample++], UPD_MAC_STR, mac);
            return;
        }
    }
    upd_fleet_problem *np = grow(sc->p, &sc->capp, sc->np, sizeof *np);
    if (!np) {
        *oom = 1;
        return;
    }
    sc->p = np;
    upd_fleet_problem *p = &sc->p[sc->np++];
    memset(p, 0, sizeof *p);
    p->kind = pb->kind;
    p->reason = pb->reason;
    p->release = pb->release;
    p->tool = tool;
    p->devices = 1;
    upd__copy(p->sentence, sizeof p->sentence, pb->sentence);
    if (pb->event)
        s->store->ops->event_list(s->store, mac, pb->event, 0, 1, last_event, p);
    upd__copy(p->sample[p->nsample++], UPD_MAC_STR, mac);
    upd_release_row rel;
    if (pb->release > 0 && s->store->ops->release_get(s->store, pb->release, &rel) == 0)
        upd__copy(p->version, sizeof p->version, rel.version);
}

static int each_device(void *ctx, const upd_device_row *d)
{
    reading *x = ctx;
    upd_fleet_scan *sc = x->sc;
    if ((++x->nread & 1023) == 0) {
        __atomic_store_n(x->progress, x->nread, __ATOMIC_RELAXED);
        if (__atomic_load_n(x->stop, __ATOMIC_RELAXED))
            return x->stopped = 1;
    }
    int t = upd__fleet_tool(d->tool);
    sc->total[t]++;
    if (d->last_seen_ms <= 0) {
        sc->never[t]++;
        return 0;
    }
    if (x->now - d->last_seen_ms <= UPD_FLEET_SEEN_MS)
        sc->seen[t]++;
    else
        sc->silent[t]++;
    if (d->family[0])
        add_version(x, d, t);
    /* the decision reads the store, from another connection than the listing's (the
     * fleet thread is the only one that holds one while it asks for another) */
    if (upd__problem_candidate(d) && upd__problem_of(x->s, d, x->now, x->pb))
        add_problem(x->s, sc, x->pb, t, d->mac, &x->oom);
    return x->oom;
}

typedef struct ro_list {
    int64_t id[64];
    int n;
} ro_list;

static int each_rollout(void *ctx, const upd_rollout_row *r)
{
    ro_list *l = ctx;
    if (l->n < 64 && (!strcmp(r->state, "running") || !strcmp(r->state, "paused") ||
                      !strcmp(r->state, "scheduled")))
        l->id[l->n++] = r->id;
    return 0;
}

/* Read the registry into a new reading, counting the devices read into *progress; NULL
 * when the store failed (logged), or when *stop was set meanwhile (the server stops: it
 * does not wait for the rest of a reading of a large registry). */
static upd_fleet_scan *read_fleet(srv *s, int64_t *progress, const int *stop)
{
    int64_t t0 = upd__now_ms();
    upd_writer_flush(s->writer); /* what the devices just said */
    reading x;
    memset(&x, 0, sizeof x);
    x.last_v = -1;
    x.s = s;
    x.progress = progress;
    x.stop = stop;
    x.sc = calloc(1, sizeof *x.sc);
    x.pb = malloc(sizeof *x.pb);
    if (!x.sc || !x.pb) {
        free(x.sc);
        free(x.pb);
        return NULL;
    }
    upd_fleet_scan *sc = x.sc;
    sc->at_ms = x.now = upd__now_ms();
    upd_device_filter all;
    memset(&all, 0, sizeof all);
    all.limit = INT_MAX;
    int rc = s->store->ops->device_list(s->store, &all, each_device, &x);
    free(x.pb);
    if (x.stopped) {
        scan_free(sc);
        return NULL;
    }
    sc->rollouts = cJSON_CreateArray();
    ro_list rl;
    rl.n = 0;
    if (rc == 0)
        rc = s->store->ops->rollout_list(s->store, each_rollout, &rl);
    upd_rollout_status *st = malloc(sizeof *st);
    for (int i = 0; rc == 0 && st && i < rl.n; i++) {
        char why[256];
        if (upd__rollout_status(s->rollouts, rl.id[i], st, why, sizeof why) == 0) {
            cJSON *o = upd__rollout_status_json(st, 0);
            upd__roreasons_add(s, &st->row, &st->rel, o); /* as GET /api/v1/rollouts/<id> */
            cJSON_AddItemToArray(sc->rollouts, o);
        }
    }
    free(st);
    if (rc != 0 || x.oom) {
        upd__log(UPD_LOG_ERROR, "database-failed",
                 "could not read the device registry for the overview%s",
                 x.oom ? ": out of memory" : "");
        scan_free(sc);
        return NULL;
    }
    sc->took_ms = upd__now_ms() - t0;
    return sc;
}

/* ---- the thread ------------------------------------------------------------------------- */

static int64_t next_boundary(int64_t now, int64_t every)
{
    return (now / every + 1) * every;
}

static void *thread_main(void *arg)
{
    upd_fleet *f = arg;
    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        int64_t now = upd__now_ms();
        int due = now >= f->next_adoption_ms;
        if (!f->want && !due) {
            int64_t until = f->next_adoption_ms;
            struct timespec ts = {(time_t)(until / 1000), (long)(until % 1000) * 1000000};
            pthread_cond_timedwait(&f->wake, &f->mu, &ts);
            continue;
        }
        f->want = 0;
        f->scanning = 1;
        f->scan_started_ms = now;
        __atomic_store_n(&f->devices_read, 0, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&f->mu);
        upd_fleet_scan *sc = read_fleet(f->s, &f->devices_read, &f->stop);
        if (sc && due)
            upd__adoption_record(f->s, sc);
        pthread_mutex_lock(&f->mu);
        if (due)
            f->next_adoption_ms = next_boundary(upd__now_ms(), f->adoption_ms);
        f->scanning = 0;
        if (sc) {
            sc->refs = 1;
            upd_fleet_scan *old = f->cur;
            f->cur = sc;
            if (old && --old->refs == 0)
                scan_free(old);
        }
        f->gen++;
        pthread_cond_broadcast(&f->done);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

upd_fleet *upd__fleet_start(srv *s, int64_t adoption_ms)
{
    upd_fleet *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->s = s;
    f->adoption_ms = adoption_ms > 0 ? adoption_ms : 3600 * 1000;
    f->next_adoption_ms = upd__now_ms(); /* a snapshot at start, then at each boundary */
    pthread_mutex_init(&f->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_REALTIME);
    pthread_cond_init(&f->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&f->done, NULL);
    if (pthread_create(&f->th, NULL, thread_main, f) != 0) {
        upd__fleet_stop(f);
        return NULL;
    }
    f->started = 1;
    return f;
}

void upd__fleet_stop(upd_fleet *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    __atomic_store_n(&f->stop, 1, __ATOMIC_RELAXED); /* read by a reading under way too */
    pthread_cond_broadcast(&f->wake);
    pthread_cond_broadcast(&f->done);
    pthread_mutex_unlock(&f->mu);
    if (f->started)
        pthread_join(f->th, NULL);
    if (f->cur && --f->cur->refs == 0)
        scan_free(f->cur);
    pthread_cond_destroy(&f->wake);
    pthread_cond_destroy(&f->done);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* Wait on done until the reading gen target is published, asking the thread again if it
 * took the wish for a reading that started earlier; with a deadline (ms since the epoch,
 * 0: none), until then. Called with the lock held. */
static void wait_gen(upd_fleet *f, uint64_t target, int64_t deadline)
{
    struct timespec ts = {(time_t)(deadline / 1000), (long)(deadline % 1000) * 1000000};
    while (f->gen < target && !f->stop) {
        if (deadline) {
            /* done uses the default clock: CLOCK_REALTIME, as upd__now_ms */
            if (pthread_cond_timedwait(&f->done, &f->mu, &ts) != 0 && upd__now_ms() >= deadline)
                return;
        } else {
            pthread_cond_wait(&f->done, &f->mu);
        }
        if (f->gen < target && !f->scanning && !f->want) {
            f->want = 1; /* the thread took the wish for the reading under way */
            pthread_cond_signal(&f->wake);
        }
    }
}

upd_fleet_scan *upd__fleet_get(upd_fleet *f, int fresh, upd_fleet_building *b)
{
    if (b)
        memset(b, 0, sizeof *b);
    if (!f)
        return NULL;
    pthread_mutex_lock(&f->mu);
    if (fresh) {
        /* a reading that starts after now: the next one, or the one after the one under
         * way */
        uint64_t target = f->gen + (f->scanning ? 2 : 1);
        f->want = 1;
        pthread_cond_signal(&f->wake);
        wait_gen(f, target, 0);
    } else if (!f->cur) {
        /* none yet (the one the server starts with is under way): that one, for a
         * moment; then, when asked so, say how far it got rather than wait for it */
        if (!f->scanning) {
            f->want = 1;
            pthread_cond_signal(&f->wake);
        }
        wait_gen(f, f->gen + 1, b ? upd__now_ms() + UPD_FLEET_FIRST_WAIT_MS : 0);
        if (!f->cur && b && f->gen == 0 && !f->stop) {
            b->building = 1;
            b->started_ms = f->scanning ? f->scan_started_ms : upd__now_ms(); /* about to */
            b->devices_read = __atomic_load_n(&f->devices_read, __ATOMIC_RELAXED);
        }
    } else if (upd__now_ms() - f->cur->at_ms > UPD_FLEET_MAX_AGE_MS && !f->scanning) {
        f->want = 1;
        pthread_cond_signal(&f->wake);
    }
    upd_fleet_scan *sc = f->cur;
    if (sc)
        sc->refs++;
    pthread_mutex_unlock(&f->mu);
    return sc;
}

void upd__fleet_put(upd_fleet *f, upd_fleet_scan *sc)
{
    if (!f || !sc)
        return;
    pthread_mutex_lock(&f->mu);
    int last = --sc->refs == 0;
    pthread_mutex_unlock(&f->mu);
    if (last)
        scan_free(sc);
}

/* ---- answers ---------------------------------------------------------------------------- */

int upd__fleet_args(req *r, struct MHD_Connection *c, unsigned *mask, int *fresh,
                    enum MHD_Result *ret)
{
    const char *tool = upd__arg(c, "tool");
    const char *fr = upd__arg(c, "fresh");
    *mask = UPD_FT_ALL;
    if (tool) {
        if (!strcmp(tool, "none"))
            *mask = 1u << UPD_FT_REAL;
        else if (!strcmp(tool, "any"))
            *mask = UPD_FT_ALL & ~(1u << UPD_FT_REAL);
        else if (!strcmp(tool, "sim"))
            *mask = 1u << UPD_FT_SIM;
        else if (!strcmp(tool, "doctor"))
            *mask = 1u << UPD_FT_DOCTOR;
        else {
            *ret = upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-tool",
                                    "tool must be none (real devices only), any (the devices "
                                    "updraft's tools made), sim or doctor; leave it out for "
                                    "every device");
            return -1;
        }
    }
    if (fr && strcmp(fr, "0") && strcmp(fr, "1")) {
        *ret = upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-request",
                                "fresh must be 1 (wait for a new reading of the registry) or 0");
        return -1;
    }
    *fresh = fr && !strcmp(fr, "1");
    return 0;
}

upd_fleet_scan *upd__fleet_route_scan(req *r, struct MHD_Connection *c, const char *method,
                                      const char *use, unsigned *mask, enum MHD_Result *ret)
{
    if (strcmp(method, "GET")) {
        *ret = upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method", "%s", use);
        return NULL;
    }
    int fresh;
    if (upd__fleet_args(r, c, mask, &fresh, ret) != 0)
        return NULL;
    upd_fleet_building b;
    upd_fleet_scan *sc = upd__fleet_get(r->s->fleet, fresh, &b);
    if (!sc && b.building)
        *ret = upd__fleet_building_reply(r, c, &b);
    else if (!sc)
        *ret = upd__api_store_failed(r, c, "could not read the device registry");
    return sc;
}

enum MHD_Result upd__fleet_building_reply(req *r, struct MHD_Connection *c,
                                          const upd_fleet_building *b)
{
    cJSON *j = cJSON_CreateObject();
    char t[40];
    upd__iso_time(b->started_ms, t, sizeof t);
    cJSON_AddBoolToObject(j, "building", 1);
    cJSON_AddStringToObject(j, "started", t);
    cJSON_AddNumberToObject(j, "devices_read", (double)b->devices_read);
    cJSON_AddNumberToObject(j, "retry_ms", UPD_FLEET_RETRY_MS);
    cJSON_AddStringToObject(j, "message",
                            "the server is reading its device registry for the first time "
                            "since it started: ask again in a moment (or with fresh=1 to wait "
                            "for the figures)");
    return upd__reply_json(r, c, MHD_HTTP_ACCEPTED, j);
}

void upd__fleet_as_of(const upd_fleet_scan *sc, cJSON *j)
{
    char t[40];
    upd__iso_time(sc->at_ms, t, sizeof t);
    cJSON_AddStringToObject(j, "as_of", t);
    cJSON_AddNumberToObject(j, "scan_ms", (double)sc->took_ms);
}

static int problem_cmp(const void *a, const void *b)
{
    const upd_fleet_problem *x = a, *y = b;
    if (x->devices != y->devices)
        return x->devices > y->devices ? -1 : 1;
    int k = strcmp(x->kind, y->kind);
    if (k)
        return k;
    k = strcmp(x->reason, y->reason);
    return k ? k : (x->release > y->release) - (x->release < y->release);
}

size_t upd__fleet_problems(const upd_fleet_scan *sc, unsigned mask, upd_fleet_problem **out)
{
    *out = NULL;
    upd_fleet_problem *g = sc->np ? malloc(sc->np * sizeof *g) : NULL;
    size_t n = 0;
    if (!g)
        return 0;
    for (size_t i = 0; i < sc->np; i++) {
        const upd_fleet_problem *p = &sc->p[i];
        if (!(mask & (1u << p->tool)))
            continue;
        size_t k = 0;
        while (k < n && !(g[k].release == p->release && !strcmp(g[k].kind, p->kind) &&
                          !strcmp(g[k].reason, p->reason)))
            k++;
        if (k == n) {
            g[n++] = *p;
            continue;
        }
        g[k].devices += p->devices;
        for (int m = 0; m < p->nsample && g[k].nsample < UPD_FLEET_SAMPLE; m++)
            memcpy(g[k].sample[g[k].nsample++], p->sample[m], UPD_MAC_STR);
    }
    qsort(g, n, sizeof *g, problem_cmp);
    *out = g;
    return n;
}

typedef struct plat {
    char name[16];
    int64_t total;
    cJSON *versions;
} plat;

static int version_desc(const void *a, const void *b)
{
    const upd_fleet_version *x = *(upd_fleet_version *const *)a,
                            *y = *(upd_fleet_version *const *)b;
    int k = strcmp(x->platform, y->platform);
    return k ? k : upd_version_cmp(y->version, x->version);
}

/* "versions": per platform, each version's devices and share (newest version first). */
static cJSON *versions_json(const upd_fleet_scan *sc, unsigned mask)
{
    cJSON *arr = cJSON_CreateArray();
    upd_fleet_version **v = malloc((sc->nv ? sc->nv : 1) * sizeof *v);
    if (!v)
        return arr;
    /* merge the tools asked for: one entry per platform and version */
    upd_fleet_version *m = malloc((sc->nv ? sc->nv : 1) * sizeof *m);
    size_t n = 0;
    for (size_t i = 0; m && i < sc->nv; i++) {
        if (!(mask & (1u << sc->v[i].tool)))
            continue;
        size_t k = 0;
        while (k < n &&
               (strcmp(m[k].platform, sc->v[i].platform) || strcmp(m[k].version, sc->v[i].version)))
            k++;
        if (k == n)
            m[n++] = sc->v[i];
        else
            m[k].devices += sc->v[i].devices;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = &m[i];
    qsort(v, n, sizeof *v, version_desc);
    for (size_t i = 0; i < n;) {
        size_t e = i;
        int64_t total = 0;
        while (e < n && !strcmp(v[e]->platform, v[i]->platform))
            total += v[e++]->devices;
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "platform", v[i]->platform);
        cJSON_AddNumberToObject(p, "devices", (double)total);
        cJSON *vs = cJSON_AddArrayToObject(p, "versions");
        for (size_t k = i; k < e; k++) {
            cJSON *x = cJSON_CreateObject();
            if (v[k]->version[0])
                cJSON_AddStringToObject(x, "version", v[k]->version);
            else
                cJSON_AddNullToObject(x, "version"); /* it sends none */
            cJSON_AddNumberToObject(x, "devices", (double)v[k]->devices);
            cJSON_AddNumberToObject(
                x, "share",
                total ? (double)((v[k]->devices * 20000 + total) / (2 * total)) / 10000 : 0);
            cJSON_AddItemToArray(vs, x);
        }
        cJSON_AddItemToArray(arr, p);
        i = e;
    }
    free(m);
    free(v);
    return arr;
}

enum MHD_Result upd__overview_route(req *r, struct MHD_Connection *c, const char *method)
{
    unsigned mask;
    enum MHD_Result ret;
    upd_fleet_scan *sc =
        upd__fleet_route_scan(r, c, method, "use GET /api/v1/overview", &mask, &ret);
    if (!sc)
        return ret;
    cJSON *j = cJSON_CreateObject();
    upd__fleet_as_of(sc, j);
    int64_t total = 0, seen = 0, silent = 0, never = 0, tools = 0;
    for (int t = 0; t < UPD_FT_N; t++) {
        if (!(mask & (1u << t)))
            continue;
        total += sc->total[t];
        seen += sc->seen[t];
        silent += sc->silent[t];
        never += sc->never[t];
        if (t != UPD_FT_REAL)
            tools += sc->total[t];
    }
    cJSON *d = cJSON_AddObjectToObject(j, "devices");
    cJSON_AddNumberToObject(d, "total", (double)total);
    cJSON_AddNumberToObject(d, "seen_24h", (double)seen);
    cJSON_AddNumberToObject(d, "silent", (double)silent);
    cJSON_AddNumberToObject(d, "never_seen", (double)never);
    cJSON_AddNumberToObject(d, "tool_devices", (double)tools);
    cJSON_AddItemToObject(j, "versions", versions_json(sc, mask));
    cJSON_AddItemToObject(j, "rollouts", cJSON_Duplicate(sc->rollouts, 1));
    upd_fleet_problem *g = NULL;
    size_t ng = upd__fleet_problems(sc, mask, &g);
    int64_t pdev = 0;
    for (size_t i = 0; i < ng; i++)
        pdev += g[i].devices;
    free(g);
    cJSON *p = cJSON_AddObjectToObject(j, "problems");
    cJSON_AddNumberToObject(p, "devices", (double)pdev);
    cJSON_AddNumberToObject(p, "groups", (double)ng);
    upd__fleet_put(r->s->fleet, sc);
    return upd__reply_json(r, c, MHD_HTTP_OK, j);
}
