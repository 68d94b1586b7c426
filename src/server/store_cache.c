/* A read cache in front of any store (SQLite now, PostgreSQL later): the device check
 * path reads the device's row, its channel's current release and release rows on
 * every request; these change only through this store's own writes (the admin API and
 * the writer thread) or, with several servers on one database, through another
 * server's. So entries are dropped by a generation counter that every write through
 * this wrapper bumps, and are never used for longer than UPD_CACHE_TTL_MS, which
 * bounds what another server's writes can leave stale; with a store that reports them
 * (store.h watch: PostgreSQL's LISTEN/NOTIFY) another server's changes drop the cache at
 * once.
 *
 * A reader notes the generation before it asks the store and files the answer only if
 * no write came in between, so a row read just before a write is never kept.
 *
 * A batch of the writer thread, and an admin change of one device, changes only the rows
 * of its devices: they drop their slots (per-slot counts), not the whole cache.
 *
 * When the database cannot be reached (a read fails), the last row read is answered
 * however old it is, unless a write since (an admin change here, another server's change
 * told by the watch, a reconnection) made it wrong: the cached decision, never one from
 * rows an operator has changed. What is not cached fails as before. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "devmem.h"
#include "devsync.h"
#include "log.h"
#include "metrics.h"
#include "store.h"

#define UPD_CACHE_TTL_MS 1000
#define DEV_SLOTS        1024 /* direct-mapped; a collision replaces the older entry */
#define REL_SLOTS        64
#define CHAN_SLOTS       64
#define KEY_MAX          96

typedef struct dev_ent {
    uint64_t gen;
    int found;     /* 0: the device has no row (row.mac only) */
    uint32_t wseq; /* the slot's batch count when filed */
    uint32_t aseq; /* the slot's admin write count when filed */
    int64_t at_ms;
    int used;
    upd_device_row row;
} dev_ent;

typedef struct rel_ent {
    uint64_t gen;
    int64_t at_ms;
    int used, found;
    char key[KEY_MAX]; /* "#<id>", "h<hex>" or "c<name>/<platform>/<mode>" */
    upd_release_row row;
} rel_ent;

typedef struct cache_store {
    upd_store base;
    upd_store_ops ops; /* CACHE_OPS, without the blob operations the inner store lacks */
    upd_store *inner;
    pthread_mutex_t mu;
    uint64_t dev_gen; /* bumped by every write that can change a device row */
    uint64_t rel_gen; /* bumped by every write to releases or channels */
    dev_ent dev[DEV_SLOTS];
    uint32_t wseq[DEV_SLOTS]; /* batches that wrote a device of the slot */
    uint32_t aseq[DEV_SLOTS]; /* admin writes to a device of the slot */
    rel_ent rel[REL_SLOTS + CHAN_SLOTS];
    uint64_t stale;      /* reads answered from the cache because the database failed */
    upd_store_told told; /* changed_elsewhere's calls, by what they said */
    /* The device memory (devmem.h): the check path's device rows; NULL: they come
     * through dev[] above. With other servers writing the database (PostgreSQL), sync
     * drops what they write (devsync.h), and the memory answers only while it is fresh. */
    upd_devmem *mem;
    upd_devsync *sync;
    unsigned mem_busy;     /* a batch (or an admin write) is between the store and mem */
    uint64_t mem_seq;      /* bumped when one ends */
    uint64_t mem_mismatch; /* checks whose record differed from the store's row (debug) */
} cache_store;

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static cache_store *cs(upd_store *st)
{
    return (cache_store *)st;
}

/* ---- releases and channels ----------------------------------------------------------- */

/* Look key up; 1 with *out filled (or 0 found flag in *found) on a fresh hit, or with
 * stale 1 on any hit no write has made wrong (the database failed). */
static int rel_lookup(cache_store *c, const char *key, unsigned base, unsigned slots,
                      upd_release_row *out, int *found, uint64_t *gen, int stale)
{
    rel_ent *e = &c->rel[base + hash(key) % slots];
    int hit = 0;
    pthread_mutex_lock(&c->mu);
    *gen = c->rel_gen;
    if (e->used && e->gen == c->rel_gen &&
        (stale || upd__mono_ms() - e->at_ms < UPD_CACHE_TTL_MS) && !strcmp(e->key, key)) {
        c->stale += (uint64_t)stale;
        *found = e->found;
        if (e->found)
            *out = e->row;
        hit = 1;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

static void rel_file(cache_store *c, const char *key, unsigned base, unsigned slots,
                     const upd_release_row *row, int found, uint64_t gen)
{
    if (strlen(key) >= KEY_MAX)
        return;
    rel_ent *e = &c->rel[base + hash(key) % slots];
    pthread_mutex_lock(&c->mu);
    if (gen == c->rel_gen) {
        e->used = 1;
        e->gen = gen;
        e->at_ms = upd__mono_ms();
        e->found = found;
        strcpy(e->key, key);
        if (found)
            e->row = *row;
    }
    pthread_mutex_unlock(&c->mu);
}

/* The shared shape of the cached release reads: key, then the inner call. */
typedef int (*rel_fetch)(upd_store *inner, const void *arg, upd_release_row *out);

static int cached_release(cache_store *c, const char *key, unsigned base, unsigned slots,
                          rel_fetch fetch, const void *arg, upd_release_row *out)
{
    int found;
    uint64_t gen;
    if (rel_lookup(c, key, base, slots, out, &found, &gen, 0))
        return found ? 0 : UPD_STORE_ENOTFOUND;
    int64_t t0 = upd__mono_ns();
    int rc = fetch(c->inner, arg, out);
    upd__metrics_store(UPD_STORE_READ, upd__mono_ns() - t0);
    if (rc == 0 || rc == UPD_STORE_ENOTFOUND)
        rel_file(c, key, base, slots, out, rc == 0, gen);
    else if (rc == UPD_STORE_EFAIL && rel_lookup(c, key, base, slots, out, &found, &gen, 1))
        return found ? 0 : UPD_STORE_ENOTFOUND;
    return rc;
}

static int fetch_by_id(upd_store *inner, const void *arg, upd_release_row *out)
{
    return inner->ops->release_get(inner, *(const int64_t *)arg, out);
}

static int fetch_by_hash(upd_store *inner, const void *arg, upd_release_row *out)
{
    return inner->ops->release_by_hash(inner, (const char *)arg, out);
}

struct chan_arg {
    const char *name, *platform, *mode;
};

static int fetch_channel(upd_store *inner, const void *arg, upd_release_row *out)
{
    const struct chan_arg *a = arg;
    return inner->ops->channel_current(inner, a->name, a->platform, a->mode, out);
}

/* Append src to the key being built at *p (end of the key buffer: end); 0 when it does
 * not fit. The keys are built on every device check: by hand, not with snprintf. */
static int key_add(char **p, const char *end, const char *src)
{
    size_t n = strlen(src);
    if ((size_t)(end - *p) <= n)
        return 0;
    memcpy(*p, src, n + 1);
    *p += n;
    return 1;
}

static int c_release_get(upd_store *st, int64_t id, upd_release_row *out)
{
    char key[32], digits[24];
    int n = 0;
    uint64_t v = id < 0 ? 0 - (uint64_t)id : (uint64_t)id;
    do
        digits[n++] = (char)('0' + v % 10);
    while (v /= 10);
    char *p = key;
    *p++ = '#';
    if (id < 0)
        *p++ = '-';
    while (n)
        *p++ = digits[--n];
    *p = '\0';
    return cached_release(cs(st), key, 0, REL_SLOTS, fetch_by_id, &id, out);
}

static int c_release_by_hash(upd_store *st, const char *hex, upd_release_row *out)
{
    char key[KEY_MAX], *p = key;
    if (!key_add(&p, key + sizeof key, "h") || !key_add(&p, key + sizeof key, hex))
        return cs(st)->inner->ops->release_by_hash(cs(st)->inner, hex, out);
    return cached_release(cs(st), key, 0, REL_SLOTS, fetch_by_hash, hex, out);
}

static int c_channel_current(upd_store *st, const char *name, const char *platform,
                             const char *mode, upd_release_row *out)
{
    char key[KEY_MAX], *p = key;
    const char *end = key + sizeof key;
    struct chan_arg a = {name, platform, mode};
    if (!key_add(&p, end, "c") || !key_add(&p, end, name) || !key_add(&p, end, "/") ||
        !key_add(&p, end, platform) || !key_add(&p, end, "/") || !key_add(&p, end, mode))
        return fetch_channel(cs(st)->inner, &a, out);
    return cached_release(cs(st), key, REL_SLOTS, CHAN_SLOTS, fetch_channel, &a, out);
}

/* ---- devices ---------------------------------------------------------------------------- */

static int c_device_get(upd_store *st, const char *mac, upd_device_row *out)
{
    cache_store *c = cs(st);
    unsigned slot = hash(mac) % DEV_SLOTS;
    dev_ent *e = &c->dev[slot];
    pthread_mutex_lock(&c->mu);
    uint64_t gen = c->dev_gen;
    uint32_t wseq = c->wseq[slot], aseq = c->aseq[slot];
    if (e->used && e->gen == gen && e->wseq == wseq && e->aseq == aseq &&
        upd__mono_ms() - e->at_ms < UPD_CACHE_TTL_MS && !strcmp(e->row.mac, mac)) {
        int found = e->found;
        if (found)
            *out = e->row;
        pthread_mutex_unlock(&c->mu);
        return found ? 0 : UPD_STORE_ENOTFOUND;
    }
    pthread_mutex_unlock(&c->mu);
    int64_t t0 = upd__mono_ns();
    int rc = c->inner->ops->device_get(c->inner, mac, out);
    upd__metrics_store(UPD_STORE_READ, upd__mono_ns() - t0);
    if ((rc == 0 || rc == UPD_STORE_ENOTFOUND) && strlen(mac) < sizeof e->row.mac) {
        pthread_mutex_lock(&c->mu);
        /* filed even when a batch of the device's own records was written meanwhile: the
         * entry's wseq is then old, so it is not fresh, but it is still the row to answer
         * with should the database fail */
        if (gen == c->dev_gen && aseq == c->aseq[slot]) {
            e->used = 1;
            e->found = rc == 0;
            e->gen = gen;
            e->wseq = wseq;
            e->aseq = aseq;
            e->at_ms = upd__mono_ms();
            if (rc == 0)
                e->row = *out;
            else
                strcpy(e->row.mac, mac);
        }
        pthread_mutex_unlock(&c->mu);
    } else if (rc == UPD_STORE_EFAIL) {
        /* the database failed: the row as last read (or its absence), unless an admin
         * change (or another server's) since made it wrong; the device's own records
         * since changed only what it did, which it tells again */
        pthread_mutex_lock(&c->mu);
        if (e->used && e->gen == c->dev_gen && e->aseq == c->aseq[slot] &&
            !strcmp(e->row.mac, mac)) {
            if (e->found)
                *out = e->row;
            c->stale++;
            rc = e->found ? 0 : UPD_STORE_ENOTFOUND;
        }
        pthread_mutex_unlock(&c->mu);
    }
    return rc;
}

/* ---- the check path's device rows ------------------------------------------------------- */

#ifndef NDEBUG
/* With other servers writing (sync): is the difference between got and the store's row
 * (read before read_ms) one the sync has yet to see? Wait until a read of the changes
 * that began after that has got through: had another server written the row, the device
 * is gone from the memory then. 1 when it may be (dropped, or the memory or the row
 * changed meanwhile, or no read got through), 0 when the memory still holds got against
 * the same row. Waits a second or so in a request thread: debug builds only, and only
 * when they differ. */
static int mem_sync_pending(cache_store *c, const upd_device_row *got, const upd_device_row *row,
                            int64_t read_ms, uint64_t seq)
{
    if (upd__devsync_wait(c->sync, read_ms, 3 * UPD_DEVSYNC_FRESH_MS) != 0)
        return 1;
    upd_device_row *now = malloc(2 * sizeof *now);
    if (!now)
        return 1;
    const char *what;
    int pending = upd__devmem_get(c->mem, got->mac, &now[0]) != 0 ||
                  !upd__devmem_same(&now[0], got, &what) ||
                  c->inner->ops->device_get(c->inner, got->mac, &now[1]) != 0 ||
                  !upd__devmem_same(&now[1], row, &what);
    pthread_mutex_lock(&c->mu);
    pending |= c->mem_busy || c->mem_seq != seq;
    pthread_mutex_unlock(&c->mu);
    free(now);
    return pending;
}

/* Debug builds (the test suite) check every record the memory answers with against the
 * store's row, when no write came in between, and stop the server at once when they
 * differ: a rule of the writer's that the memory does not follow is a wrong decision.
 * With other servers writing, a difference counts once the sync had time to see it. */
static void mem_verify(cache_store *c, const upd_device_row *got, unsigned busy, uint64_t seq)
{
    if (busy)
        return;
    upd_device_row *row = malloc(sizeof *row);
    if (!row)
        return;
    int rc = c->inner->ops->device_get(c->inner, got->mac, row);
    int64_t read_ms = upd__mono_ms(); /* every commit the row shows came before */
    pthread_mutex_lock(&c->mu);
    int quiet = !c->mem_busy && c->mem_seq == seq;
    pthread_mutex_unlock(&c->mu);
    const char *what = "the row itself (the store has none)";
    if (quiet && c->sync && rc == UPD_STORE_ENOTFOUND)
        quiet = 0; /* deleted on another server: its NOTIFY drops the device */
    if (quiet && (rc != 0 || !upd__devmem_same(got, row, &what)) && c->sync &&
        mem_sync_pending(c, got, row, read_ms, seq))
        quiet = 0;
    if (quiet && (rc != 0 || !upd__devmem_same(got, row, &what))) {
        pthread_mutex_lock(&c->mu);
        c->mem_mismatch++;
        pthread_mutex_unlock(&c->mu);
        upd__log(UPD_LOG_ERROR, "device-memory-mismatch",
                 "device %s: the device memory's %s differs from the database's row", got->mac,
                 what);
        abort();
    }
    free(row);
}
#endif

int upd_store_cached_device_check(upd_store *st, const char *mac, upd_device_row *out)
{
    cache_store *c = cs(st);
    if (!c->mem)
        return c_device_get(st, mac, out);
    if (c->sync && !upd__devsync_fresh(c->sync)) {
        /* other servers' writes may be in the memory's rows unseen (the database slow or
         * gone): the database's row; when it cannot be read, what the memory holds (as
         * the read cache answers then: the last row known, one no admin change here or
         * told by another server made wrong) */
        int rc = c_device_get(st, mac, out);
        if (rc == UPD_STORE_EFAIL && upd__devmem_get(c->mem, mac, out) == 0) {
            pthread_mutex_lock(&c->mu);
            c->stale++;
            pthread_mutex_unlock(&c->mu);
            rc = 0;
        }
        return rc;
    }
#ifndef NDEBUG
    pthread_mutex_lock(&c->mu);
    unsigned busy = c->mem_busy;
    uint64_t seq = c->mem_seq;
    pthread_mutex_unlock(&c->mu);
#endif
    if (upd__devmem_get(c->mem, mac, out) == 0) {
#ifndef NDEBUG
        mem_verify(c, out, busy, seq);
#endif
        return 0;
    }
    /* not held yet (or no longer, after an admin write): the store's row, kept */
    uint32_t mark = upd__devmem_mark(c->mem, mac); /* before the read (devmem.c) */
    int64_t t0 = upd__mono_ns();
    int rc = c->inner->ops->device_get(c->inner, mac, out);
    upd__metrics_store(UPD_STORE_READ, upd__mono_ns() - t0);
    if (rc == 0)
        upd__devmem_fill(c->mem, out, mark);
    return rc;
}

/* Another server wrote device mac's row (the sync's thread). */
static void synced(void *ctx, const char *mac)
{
    upd__devmem_drop(ctx, mac);
}

int upd_store_cached_devmem(upd_store *st, size_t max)
{
    cache_store *c = cs(st);
    if (!max || (c->inner->ops->watch && !c->inner->ops->device_changes))
        return -1;
    upd_devmem *m = upd__devmem_new(max);
    if (!m)
        return -1;
    if (c->inner->ops->device_changes && !(c->sync = upd__devsync_start(c->inner, synced, m))) {
        upd__devmem_free(m);
        return -1;
    }
    pthread_mutex_lock(&c->mu); /* the watch thread reads it (changed_elsewhere) */
    c->mem = m;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

upd_devsync *upd_store_cached_devsync(upd_store *st)
{
    return cs(st)->sync;
}

int upd_store_cached_devmem_stats(upd_store *st, upd_devmem_stats *out)
{
    cache_store *c = cs(st);
    if (!c->mem)
        return -1;
    upd__devmem_stats(c->mem, out);
    return 0;
}

/* ---- writes: through to the store, then drop what they may have changed ---------------- */

static void bump(cache_store *c, int releases, int devices)
{
    pthread_mutex_lock(&c->mu);
    c->rel_gen += (uint64_t)releases;
    c->dev_gen += (uint64_t)devices;
    pthread_mutex_unlock(&c->mu);
}

/* A write to device rows begins (d 1) or ends (-1): between the two, the store's rows and
 * the device memory may differ (the check that they agree waits for neither). */
static void mem_busy(cache_store *c, int d)
{
    pthread_mutex_lock(&c->mu);
    c->mem_busy += (unsigned)d;
    if (d < 0)
        c->mem_seq++;
    pthread_mutex_unlock(&c->mu);
}

/* An admin write (this server's, or another's: changed_elsewhere) changed the row of
 * device mac. */
static void touch(cache_store *c, const char *mac)
{
    pthread_mutex_lock(&c->mu);
    c->aseq[hash(mac) % DEV_SLOTS]++;
    upd_devmem *m = c->mem; /* set after the watch started (upd_store_cached_devmem) */
    pthread_mutex_unlock(&c->mu);
    if (m)
        upd__devmem_drop(m, mac);
}

static int c_release_insert(upd_store *st, upd_release_row *r, const char *channel, char *err,
                            size_t errlen)
{
    int rc = cs(st)->inner->ops->release_insert(cs(st)->inner, r, channel, err, errlen);
    if (rc == 0)
        bump(cs(st), 1, 0);
    return rc;
}

static int c_release_set_hashes(upd_store *st, const upd_release_row *r, char *err, size_t errlen)
{
    int rc = cs(st)->inner->ops->release_set_hashes(cs(st)->inner, r, err, errlen);
    if (rc == 0)
        bump(cs(st), 1, 0);
    return rc;
}

static int c_release_set_gzip(upd_store *st, const upd_release_row *r, char *err, size_t errlen)
{
    int rc = cs(st)->inner->ops->release_set_gzip(cs(st)->inner, r, err, errlen);
    if (rc == 0)
        bump(cs(st), 1, 0);
    return rc;
}

static int c_release_set_notes(upd_store *st, int64_t id, const char *notes, char *err,
                               size_t errlen)
{
    int rc = cs(st)->inner->ops->release_set_notes(cs(st)->inner, id, notes, err, errlen);
    bump(cs(st), 1, 0);
    return rc;
}

static int c_release_adoption(upd_store *st, upd_release_adoption_cb cb, void *ctx)
{
    return cs(st)->inner->ops->release_adoption(cs(st)->inner, cb, ctx);
}

static int c_release_unretire(upd_store *st, int64_t id, char *err, size_t errlen)
{
    int rc = cs(st)->inner->ops->release_unretire(cs(st)->inner, id, err, errlen);
    if (rc == 0)
        bump(cs(st), 1, 0);
    return rc;
}

static int c_release_delete(upd_store *st, int64_t id, int *channels, int *pins, char *err,
                            size_t errlen)
{
    mem_busy(cs(st), 1);
    int rc = cs(st)->inner->ops->release_delete(cs(st)->inner, id, channels, pins, err, errlen);
    if (rc == 0) {
        bump(cs(st), 1, 1);
        if (cs(st)->mem) /* it changed the rows of every device that ran it, or held it */
            upd__devmem_clear(cs(st)->mem);
    }
    mem_busy(cs(st), -1);
    return rc;
}

static int c_device_count(upd_store *st, const upd_device_filter *f, int64_t *out)
{
    return cs(st)->inner->ops->device_count(cs(st)->inner, f, out);
}

static int c_release_retire(upd_store *st, int64_t id, char *err, size_t errlen)
{
    int rc = cs(st)->inner->ops->release_retire(cs(st)->inner, id, err, errlen);
    if (rc == 0)
        bump(cs(st), 1, 0);
    return rc;
}

static int c_channel_set(upd_store *st, const char *name, int64_t id, char *err, size_t errlen)
{
    int rc = cs(st)->inner->ops->channel_set(cs(st)->inner, name, id, err, errlen);
    if (rc == 0)
        bump(cs(st), 1, 0);
    return rc;
}

static int c_channel_set_downgrade(upd_store *st, const char *name, int64_t id, char *err,
                                   size_t errlen)
{
    int rc = cs(st)->inner->ops->channel_set_downgrade(cs(st)->inner, name, id, err, errlen);
    if (rc == 0)
        bump(cs(st), 1, 0);
    return rc;
}

static int c_device_set_pin(upd_store *st, const char *mac, int64_t id, char *err, size_t errlen)
{
    mem_busy(cs(st), 1);
    int rc = cs(st)->inner->ops->device_set_pin(cs(st)->inner, mac, id, err, errlen);
    if (rc == 0)
        touch(cs(st), mac);
    mem_busy(cs(st), -1);
    return rc;
}

static int c_device_set_channel(upd_store *st, const char *mac, const char *ch, char *err,
                                size_t errlen)
{
    mem_busy(cs(st), 1);
    int rc = cs(st)->inner->ops->device_set_channel(cs(st)->inner, mac, ch, err, errlen);
    if (rc == 0)
        touch(cs(st), mac);
    mem_busy(cs(st), -1);
    return rc;
}

/* The device memory follows the writer's batches: the fleet's rules are called by the
 * store once per record, inside the batch's transaction, with the device's row as it
 * is there; the row the record leaves is made from it (devmem.h) and put in memory once
 * the batch is committed. */
typedef struct mem_batch {
    upd_devmem *mem;
    const upd_rules *rules;
    upd_devmem_rec **recs;
    size_t n, cap;
    int failed; /* a row that cannot be held, or out of memory: drop the batch's devices */
    upd_device_row row;
} mem_batch;

static void mem_keep(mem_batch *b)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        upd_devmem_rec **p = realloc(b->recs, cap * sizeof *p);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->recs = p;
        b->cap = cap;
    }
    upd_devmem_rec *r = upd__devmem_make(&b->row);
    if (!r) {
        b->failed = 1;
        return;
    }
    /* the store read the row just now (locked until the batch commits): a drop of its
     * device after this may follow a later write (devmem.c) */
    upd__devmem_note(b->mem, r);
    b->recs[b->n++] = r;
}

static void mem_checkin(void *ctx, const upd_record *rec, const upd_device_state *old,
                        const upd_release_row *offered, upd_plan *p)
{
    mem_batch *b = ctx;
    b->rules->checkin(b->rules->ctx, rec, old, offered, p);
    upd__devmem_after_checkin(old ? &old->row : NULL, rec, p, &b->row);
    mem_keep(b);
}

static void mem_downloaded(void *ctx, const upd_record *rec, const upd_device_state *now,
                           upd_plan *p)
{
    mem_batch *b = ctx;
    b->rules->downloaded(b->rules->ctx, rec, now, p);
    upd__devmem_after_download(&now->row, p, &b->row);
    mem_keep(b);
}

static int mem_apply_batch(cache_store *c, const upd_record *recs, size_t n, const upd_rules *rules,
                           char *err, size_t errlen)
{
    mem_batch *b = calloc(1, sizeof *b);
    if (!b)
        return UPD_STORE_EFAIL;
    b->rules = rules;
    b->mem = c->mem;
    upd_rules wrap = {b, mem_checkin, mem_downloaded};
    mem_busy(c, 1);
    int rc = c->inner->ops->apply_batch(c->inner, recs, n, &wrap, err, errlen);
    if (rc == 0 && !b->failed)
        upd__devmem_put(c->mem, b->recs, b->n);
    else {
        for (size_t i = 0; i < b->n; i++)
            upd__devmem_unmake(b->recs[i]);
        for (size_t i = 0; rc == 0 && i < n; i++)
            upd__devmem_drop(c->mem,
                             recs[i].type == UPD_REC_CHECKIN ? recs[i].dev.mac : recs[i].mac);
    }
    mem_busy(c, -1);
    free(b->recs);
    free(b);
    return rc;
}

static int c_apply_batch(upd_store *st, const upd_record *recs, size_t n, const upd_rules *rules,
                         char *err, size_t errlen)
{
    cache_store *c = cs(st);
    int rc = c->mem ? mem_apply_batch(c, recs, n, rules, err, errlen)
                    : c->inner->ops->apply_batch(c->inner, recs, n, rules, err, errlen);
    if (rc != 0)
        return rc; /* nothing written */
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < n; i++) {
        const char *mac = recs[i].type == UPD_REC_CHECKIN ? recs[i].dev.mac : recs[i].mac;
        if (mac[0])
            c->wseq[hash(mac) % DEV_SLOTS]++;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int c_device_clear_hold(upd_store *st, const char *mac, char *err, size_t errlen)
{
    mem_busy(cs(st), 1);
    int rc = cs(st)->inner->ops->device_clear_hold(cs(st)->inner, mac, err, errlen);
    if (rc == 0)
        touch(cs(st), mac);
    mem_busy(cs(st), -1);
    return rc;
}

static int c_device_delete(upd_store *st, const char *mac, int64_t *nevents, char *err,
                           size_t errlen)
{
    mem_busy(cs(st), 1);
    int rc = cs(st)->inner->ops->device_delete(cs(st)->inner, mac, nevents, err, errlen);
    if (rc == 0)
        touch(cs(st), mac);
    mem_busy(cs(st), -1);
    return rc;
}

static int c_device_set_tags(upd_store *st, const upd_tag_write *w, size_t n, char *err,
                             size_t errlen)
{
    mem_busy(cs(st), 1);
    int rc = cs(st)->inner->ops->device_set_tags(cs(st)->inner, w, n, err, errlen);
    for (size_t i = 0; rc == 0 && i < n; i++)
        touch(cs(st), w[i].mac);
    mem_busy(cs(st), -1);
    return rc;
}

/* ---- passed straight through ------------------------------------------------------------ */

static int c_release_by_sha256(upd_store *st, const char *sha256, upd_release_row *out)
{
    return cs(st)->inner->ops->release_by_sha256(cs(st)->inner, sha256, out);
}

static int c_release_list(upd_store *st, upd_release_cb cb, void *ctx)
{
    return cs(st)->inner->ops->release_list(cs(st)->inner, cb, ctx);
}

static int c_blob_referenced(upd_store *st, const char *sha256)
{
    return cs(st)->inner->ops->blob_referenced(cs(st)->inner, sha256);
}

static int c_channel_chip_get(upd_store *st, const char *name, char *out, size_t cap)
{
    return cs(st)->inner->ops->channel_chip_get(cs(st)->inner, name, out, cap);
}

static int c_channel_chip_set(upd_store *st, const char *name, const char *chip, char *err,
                              size_t errlen)
{
    return cs(st)->inner->ops->channel_chip_set(cs(st)->inner, name, chip, err, errlen);
}

static int c_channel_key_get(upd_store *st, const char *name, char *pem, size_t cap,
                             char key_id[65])
{
    return cs(st)->inner->ops->channel_key_get(cs(st)->inner, name, pem, cap, key_id);
}

static int c_channel_key_set(upd_store *st, const char *name, const char *pem, const char *key_id,
                             const char *desc, char *err, size_t errlen)
{
    return cs(st)->inner->ops->channel_key_set(cs(st)->inner, name, pem, key_id, desc, err, errlen);
}

static int c_channel_list(upd_store *st, upd_channel_cb cb, void *ctx)
{
    return cs(st)->inner->ops->channel_list(cs(st)->inner, cb, ctx);
}

static int c_device_versions(upd_store *st, const upd_device_filter *f,
                             int (*cb)(void *ctx, const char *version, int64_t devices), void *ctx)
{
    return cs(st)->inner->ops->device_versions(cs(st)->inner, f, cb, ctx);
}

static int c_device_list(upd_store *st, const upd_device_filter *f, upd_device_cb cb, void *ctx)
{
    return cs(st)->inner->ops->device_list(cs(st)->inner, f, cb, ctx);
}

static int c_device_scan(upd_store *st, const upd_device_filter *f, upd_device_cb cb, void *ctx)
{
    return cs(st)->inner->ops->device_scan(cs(st)->inner, f, cb, ctx);
}

static int c_event_list(upd_store *st, const char *mac, const char *kind, int64_t before, int limit,
                        upd_event_cb cb, void *ctx)
{
    return cs(st)->inner->ops->event_list(cs(st)->inner, mac, kind, before, limit, cb, ctx);
}

static int c_refresh_stats(upd_store *st)
{
    upd_store *in = cs(st)->inner;
    return in->ops->refresh_stats ? in->ops->refresh_stats(in) : 0;
}

static int c_events_prune(upd_store *st, int64_t before_ms, int max)
{
    return cs(st)->inner->ops->events_prune(cs(st)->inner, before_ms, max);
}

/* Rollouts are not on the cached path: the rollout engine keeps its own state (rollout.c). */
static int c_rollout_insert(upd_store *st, upd_rollout_row *r, const char *kind, const char *detail,
                            char *err, size_t errlen)
{
    return cs(st)->inner->ops->rollout_insert(cs(st)->inner, r, kind, detail, err, errlen);
}

static int c_rollout_update(upd_store *st, const upd_rollout_row *r, const char *kind,
                            const char *detail, char *err, size_t errlen)
{
    return cs(st)->inner->ops->rollout_update(cs(st)->inner, r, kind, detail, err, errlen);
}

static int c_rollout_get(upd_store *st, int64_t id, upd_rollout_row *out)
{
    return cs(st)->inner->ops->rollout_get(cs(st)->inner, id, out);
}

static int c_rollout_list(upd_store *st, upd_rollout_cb cb, void *ctx)
{
    return cs(st)->inner->ops->rollout_list(cs(st)->inner, cb, ctx);
}

static int c_rollout_devices(upd_store *st, int64_t id, upd_rollout_dev_cb cb, void *ctx)
{
    return cs(st)->inner->ops->rollout_devices(cs(st)->inner, id, cb, ctx);
}

/* Tokens and audit events are not cached: pass them through. */
static int c_event_add(upd_store *st, const upd_event_row *e, char *err, size_t errlen)
{
    return cs(st)->inner->ops->event_add(cs(st)->inner, e, err, errlen);
}

static int c_token_insert(upd_store *st, const upd_token_row *t, char *err, size_t errlen)
{
    return cs(st)->inner->ops->token_insert(cs(st)->inner, t, err, errlen);
}

static int c_token_by_key(upd_store *st, const char *key_id, upd_token_row *out)
{
    return cs(st)->inner->ops->token_by_key(cs(st)->inner, key_id, out);
}

static int c_token_list(upd_store *st, upd_token_cb cb, void *ctx)
{
    return cs(st)->inner->ops->token_list(cs(st)->inner, cb, ctx);
}

static int c_token_delete(upd_store *st, const char *name, char *err, size_t errlen)
{
    return cs(st)->inner->ops->token_delete(cs(st)->inner, name, err, errlen);
}

static int c_token_touch(upd_store *st, const upd_token_use *uses, size_t n, char *err,
                         size_t errlen)
{
    return cs(st)->inner->ops->token_touch(cs(st)->inner, uses, n, err, errlen);
}

static int c_blob_put(upd_store *st, const char *sha, int fd, int64_t size, char *err,
                      size_t errlen)
{
    return cs(st)->inner->ops->blob_put(cs(st)->inner, sha, fd, size, err, errlen);
}

static int c_blob_get(upd_store *st, const char *sha, int fd, int64_t *size, char *err,
                      size_t errlen)
{
    return cs(st)->inner->ops->blob_get(cs(st)->inner, sha, fd, size, err, errlen);
}

static int c_blob_drop(upd_store *st, const char *sha)
{
    return cs(st)->inner->ops->blob_drop(cs(st)->inner, sha);
}

static int c_blob_prune(upd_store *st, int64_t before_ms)
{
    return cs(st)->inner->ops->blob_prune(cs(st)->inner, before_ms);
}

/* Another server changed the database (the store's watch thread): device mac's row (its
 * admin write said which), as an admin write here; releases, channels or rollouts and no
 * device's row (mac ""), as such a write here: the read caches go, the device memory
 * stays (it holds device rows only: devmem.h); else everything, the device memory too (a
 * device deleted there leaves no row the sync could read). */
static void changed_elsewhere(void *ctx, const char *mac)
{
    cache_store *c = ctx;
    pthread_mutex_lock(&c->mu);
    if (!mac)
        c->told.anything++;
    else if (mac[0])
        c->told.devices++;
    else
        c->told.not_devices++;
    pthread_mutex_unlock(&c->mu);
    if (mac && mac[0]) {
        touch(c, mac);
        return;
    }
    if (mac) {
        bump(c, 1, 0);
        return;
    }
    bump(c, 1, 1);
    pthread_mutex_lock(&c->mu);
    upd_devmem *m = c->mem;
    pthread_mutex_unlock(&c->mu);
    if (m)
        upd__devmem_clear(m);
}

/* Sessions pass through: they are not on the device path. */
static int c_session_insert(upd_store *st, const upd_session_row *x, int64_t now_ms,
                            int64_t idle_before_ms, char *err, size_t errlen)
{
    return cs(st)->inner->ops->session_insert(cs(st)->inner, x, now_ms, idle_before_ms, err,
                                              errlen);
}

static int c_session_get(upd_store *st, const char *id, upd_session_row *out)
{
    return cs(st)->inner->ops->session_get(cs(st)->inner, id, out);
}

static int c_session_touch(upd_store *st, const char *id, int64_t last_ms)
{
    return cs(st)->inner->ops->session_touch(cs(st)->inner, id, last_ms);
}

static int c_session_delete(upd_store *st, const char *id, const char *token_name, int64_t *n)
{
    return cs(st)->inner->ops->session_delete(cs(st)->inner, id, token_name, n);
}

static int c_reachable(upd_store *st, int64_t *since_ms, char *why, size_t whylen)
{
    upd_store *in = cs(st)->inner;
    if (in->ops->reachable)
        return in->ops->reachable(in, since_ms, why, whylen);
    if (since_ms)
        *since_ms = 0;
    return 1;
}

static int c_leads(upd_store *st)
{
    upd_store *in = cs(st)->inner;
    return in->ops->leads(in);
}

/* Without the inner store's op: every state (more than asked, which the caller merges). */
static int c_rollout_devices_since(upd_store *st, int64_t id, int64_t since_ms,
                                   upd_rollout_dev_cb cb, void *ctx)
{
    upd_store *in = cs(st)->inner;
    if (in->ops->rollout_devices_since)
        return in->ops->rollout_devices_since(in, id, since_ms, cb, ctx);
    return in->ops->rollout_devices(in, id, cb, ctx);
}

static void c_interrupt(upd_store *st)
{
    upd_store *in = cs(st)->inner;
    if (in->ops->interrupt)
        in->ops->interrupt(in);
}

uint64_t upd_store_cached_stale(upd_store *st)
{
    cache_store *c = cs(st);
    pthread_mutex_lock(&c->mu);
    uint64_t n = c->stale;
    pthread_mutex_unlock(&c->mu);
    return n;
}

void upd_store_cached_told(upd_store *st, upd_store_told *out)
{
    cache_store *c = cs(st);
    pthread_mutex_lock(&c->mu);
    *out = c->told;
    pthread_mutex_unlock(&c->mu);
}

static void c_close(upd_store *st)
{
    if (!st)
        return;
    cache_store *c = cs(st);
    upd__devsync_stop(c->sync); /* it reads the inner store */
    c->inner->ops->close(c->inner);
    upd__devmem_free(c->mem);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static int c_event_tail(upd_store *st, const char *mac, const char *kind, int64_t after, int limit,
                        upd_event_cb cb, void *ctx)
{
    return cs(st)->inner->ops->event_tail(cs(st)->inner, mac, kind, after, limit, cb, ctx);
}

static int c_adoption_add(upd_store *st, const upd_adoption_row *rows, size_t n, int64_t prune,
                          char *err, size_t errlen)
{
    return cs(st)->inner->ops->adoption_add(cs(st)->inner, rows, n, prune, err, errlen);
}

static int c_adoption_list(upd_store *st, const char *platform, int64_t since, upd_adoption_cb cb,
                           void *ctx)
{
    return cs(st)->inner->ops->adoption_list(cs(st)->inner, platform, since, cb, ctx);
}

static const upd_store_ops CACHE_OPS = {
    .close = c_close,
    .release_insert = c_release_insert,
    .release_get = c_release_get,
    .release_by_sha256 = c_release_by_sha256,
    .release_by_hash = c_release_by_hash,
    .release_set_hashes = c_release_set_hashes,
    .release_set_gzip = c_release_set_gzip,
    .release_list = c_release_list,
    .release_retire = c_release_retire,
    .blob_referenced = c_blob_referenced,
    .release_unretire = c_release_unretire,
    .release_set_notes = c_release_set_notes,
    .release_adoption = c_release_adoption,
    .release_delete = c_release_delete,
    .device_count = c_device_count,
    .device_versions = c_device_versions,
    .channel_set = c_channel_set,
    .channel_current = c_channel_current,
    .channel_list = c_channel_list,
    .channel_chip_get = c_channel_chip_get,
    .channel_chip_set = c_channel_chip_set,
    .channel_key_get = c_channel_key_get,
    .channel_key_set = c_channel_key_set,
    .device_get = c_device_get,
    .device_list = c_device_list,
    .device_scan = c_device_scan,
    .device_set_pin = c_device_set_pin,
    .device_set_channel = c_device_set_channel,
    .event_list = c_event_list,
    .events_prune = c_events_prune,
    .refresh_stats = c_refresh_stats,
    .apply_batch = c_apply_batch,
    .device_clear_hold = c_device_clear_hold,
    .device_delete = c_device_delete,
    .device_set_tags = c_device_set_tags,
    .rollout_insert = c_rollout_insert,
    .rollout_update = c_rollout_update,
    .rollout_get = c_rollout_get,
    .rollout_list = c_rollout_list,
    .rollout_devices = c_rollout_devices,
    .event_add = c_event_add,
    .token_insert = c_token_insert,
    .token_by_key = c_token_by_key,
    .token_list = c_token_list,
    .token_delete = c_token_delete,
    .token_touch = c_token_touch,
    .session_insert = c_session_insert,
    .session_get = c_session_get,
    .session_touch = c_session_touch,
    .session_delete = c_session_delete,
    .channel_set_downgrade = c_channel_set_downgrade,
    .blob_put = c_blob_put,
    .blob_get = c_blob_get,
    .blob_drop = c_blob_drop,
    .blob_prune = c_blob_prune,
    .event_tail = c_event_tail,
    .adoption_add = c_adoption_add,
    .adoption_list = c_adoption_list,
    .reachable = c_reachable,
    .leads = c_leads,
    .interrupt = c_interrupt,
    .rollout_devices_since = c_rollout_devices_since,
};

upd_store *upd_store_cached(upd_store *inner)
{
    if (!inner)
        return NULL;
    cache_store *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->ops = CACHE_OPS;
    if (!inner->ops->blob_put) {
        c->ops.blob_put = NULL;
        c->ops.blob_get = NULL;
        c->ops.blob_drop = NULL;
        c->ops.blob_prune = NULL;
    }
    c->base.ops = &c->ops;
    c->ops.watch = NULL; /* the wrapper is the one that watches */
    if (!inner->ops->leads)
        c->ops.leads = NULL; /* one server: it always leads */
    c->inner = inner;
    pthread_mutex_init(&c->mu, NULL);
    if (inner->ops->watch && inner->ops->watch(inner, changed_elsewhere, c) != 0)
        fprintf(stderr, "updraft: cannot watch the database for other servers' changes: "
                        "cached rows may be a second old\n");
    return &c->base;
}
