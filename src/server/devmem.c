/* The device memory (devmem.h): records of what a check reads of a device's row, in an
 * open-addressing hash table keyed by the MAC's 48 bits (linear probing, deletion by
 * shifting back, so no tombstones), grown by doubling up to the bound. A record is one
 * allocation: the numbers, the sketch hashes in binary, and the short strings (family,
 * version, channel, URL channel, tool, tags) one after the other with their lengths. */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devmem.h"
#include "devsync.h"
#include "hexsum.h"
#include "metrics.h"

enum { S_FAMILY, S_VERSION, S_CHANNEL, S_URL_CHANNEL, S_TOOL, S_TAGS, NSTR };

/* One way to invalidate: marks. A device's mark is its group's count of drops (65,536
 * groups by MAC) plus the count of clears; a drop bumps its device's group, a clear every
 * group at once (the base). A row read from the store, or a batch's record, is kept only
 * if its device's mark is still the one taken before the read (upd__devmem_fill) or
 * noted after it, under the row's lock (upd__devmem_note).
 *
 * Why no row read before a drop is kept after it: a drop is made after the write that
 * causes it committed (this server's admin writes: store_cache.c; another server's: its
 * NOTIFY or the sync read them after their commit).
 * - A check's read (fill): its mark was taken before the read. A drop after that changes
 *   the mark, so fill does not keep the row (or, when fill came first, the drop erases
 *   it). A drop before it followed a write committed before the read: the row shows it.
 * - A batch's record (note, put): the store reads the row in the batch's transaction and
 *   holds its lock until the batch commits (SQLite: the database's write lock, BEGIN
 *   IMMEDIATE; PostgreSQL: SELECT ... FOR UPDATE), and the record is noted then. A write
 *   to the row committed before the read is in the row; one after it waits for the
 *   batch's commit, so its drop comes after the note: put finds the mark changed and
 *   erases the device instead, or put came first and the drop erases the record.
 * So a drop costs the rows in flight of its group only (1/65,536 of them), not every
 * batch's. The marks (256 KiB) are made at the first drop; without memory for them a
 * drop bumps the base (every row in flight is lost, none kept wrongly). */
#define MARK_BITS 16
#define MARKS     (1u << MARK_BITS)

struct upd_devmem_rec {
    uint64_t key;
    int64_t last_seen_ms, pin_release, offered_release, running_release;
    int64_t hold_release, hold_failures, hold_until_ms;
    uint8_t md5[16], sha256[32];
    uint8_t has_md5, has_sha256;
    uint8_t len[NSTR]; /* every string fits: the longest (version, tags) is 255 bytes */
    uint32_t mark;     /* its device's mark when its row was read (upd__devmem_note) */
    char str[];
};

typedef struct slot {
    uint64_t key; /* 0: empty (no device has MAC 00:00:00:00:00:00 in the table) */
    upd_devmem_rec *rec;
} slot;

struct upd_devmem {
    pthread_mutex_t mu;
    slot *tab;
    size_t cap; /* a power of two */
    size_t n, max;
    uint64_t rec_bytes;
    uint64_t hits, misses, full, clears;
    uint32_t base;   /* bumped by a clear: every device's mark (a sum that wraps) */
    uint32_t *marks; /* per group of devices: bumped by a drop; NULL none yet */
};

#define MIN_CAP 1024

/* The group of a device's key (its share of the marks). */
static unsigned group(uint64_t key)
{
    return (unsigned)((key * 0x9E3779B97F4A7C15u) >> (64 - MARK_BITS));
}

/* The mark of the device of key. Locked. */
static uint32_t mark_of(const upd_devmem *m, uint64_t key)
{
    return m->base + (m->marks ? m->marks[group(key)] : 0);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* "AA:BB:CC:DD:EE:FF" (upper case, as upd__parse_mac writes it) -> 48 bits; 0 other. */
static uint64_t mac_key(const char *mac)
{
    uint64_t k = 0;
    for (int i = 0; i < 6; i++) {
        const char *p = mac + i * 3;
        int v[2];
        for (int j = 0; j < 2; j++) {
            char c = p[j];
            v[j] = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (v[j] < 0)
                return 0;
        }
        if (p[2] != (i == 5 ? '\0' : ':'))
            return 0;
        k = k << 8 | (uint64_t)(v[0] << 4 | v[1]);
    }
    return k | (uint64_t)1 << 48; /* never 0, even for the all-zero MAC */
}

static void key_mac(uint64_t k, char out[UPD_MAC_STR])
{
    static const char hex[] = "0123456789ABCDEF";
    for (int i = 0; i < 6; i++) {
        unsigned b = (unsigned)(k >> (8 * (5 - i))) & 0xff;
        out[i * 3] = hex[b >> 4];
        out[i * 3 + 1] = hex[b & 15];
        out[i * 3 + 2] = i == 5 ? '\0' : ':';
    }
}

static size_t slot_of(uint64_t k, size_t cap)
{
    k ^= k >> 29;
    k *= 0xbf58476d1ce4e5b9ull;
    k ^= k >> 32;
    return (size_t)k & (cap - 1);
}

/* hex (n digits, lower case) into bin; 1, or 0 when it is not that. */
static int unhex(const char *hex, size_t n, uint8_t *bin)
{
    if (strlen(hex) != n)
        return 0;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        bin[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return 1;
}

/* What a record takes from the heap: its allocation as malloc made it, and malloc's
 * header of it. */
static size_t rec_size(upd_devmem_rec *r)
{
    return malloc_usable_size(r) + sizeof(size_t);
}

upd_devmem_rec *upd__devmem_make(const upd_device_row *row)
{
    uint64_t key = mac_key(row->mac);
    if (!key)
        return NULL;
    const char *s[NSTR] = {row->family,      row->version, row->channel,
                           row->url_channel, row->tool,    row->tags};
    size_t len[NSTR], total = 0;
    for (int i = 0; i < NSTR; i++) {
        len[i] = strlen(s[i]);
        if (len[i] > 255)
            return NULL;
        total += len[i];
    }
    upd_devmem_rec *r = malloc(sizeof *r + total);
    if (!r)
        return NULL;
    r->key = key;
    r->mark = 0; /* upd__devmem_note */
    r->last_seen_ms = row->last_seen_ms;
    r->pin_release = row->pin_release;
    r->offered_release = row->offered_release;
    r->running_release = row->running_release;
    r->hold_release = row->hold_release;
    r->hold_failures = row->hold_failures;
    r->hold_until_ms = row->hold_until_ms;
    r->has_md5 = row->sketch_md5[0] != '\0';
    r->has_sha256 = row->sketch_sha256[0] != '\0';
    if ((r->has_md5 && !unhex(row->sketch_md5, 32, r->md5)) ||
        (r->has_sha256 && !unhex(row->sketch_sha256, 64, r->sha256))) {
        free(r);
        return NULL;
    }
    char *p = r->str;
    for (int i = 0; i < NSTR; i++) {
        r->len[i] = (uint8_t)len[i];
        memcpy(p, s[i], len[i]);
        p += len[i];
    }
    return r;
}

void upd__devmem_unmake(upd_devmem_rec *r)
{
    free(r);
}

static void expand(const upd_devmem_rec *r, upd_device_row *out)
{
    memset(out, 0, sizeof *out);
    out->sketch_size = out->free_space = out->chip_size = -1;
    key_mac(r->key, out->mac);
    out->last_seen_ms = r->last_seen_ms;
    out->pin_release = r->pin_release;
    out->offered_release = r->offered_release;
    out->running_release = r->running_release;
    out->hold_release = r->hold_release;
    out->hold_failures = r->hold_failures;
    out->hold_until_ms = r->hold_until_ms;
    if (r->has_md5)
        upd_hex(r->md5, sizeof r->md5, out->sketch_md5);
    if (r->has_sha256)
        upd_hex(r->sha256, sizeof r->sha256, out->sketch_sha256);
    char *dst[NSTR] = {out->family,      out->version, out->channel,
                       out->url_channel, out->tool,    out->tags};
    const char *p = r->str;
    for (int i = 0; i < NSTR; i++) {
        memcpy(dst[i], p, r->len[i]);
        dst[i][r->len[i]] = '\0';
        p += r->len[i];
    }
}

upd_devmem *upd__devmem_new(size_t max)
{
    upd_devmem *m = calloc(1, sizeof *m);
    if (!m || !max) {
        free(m);
        return NULL;
    }
    m->cap = MIN_CAP;
    m->tab = calloc(m->cap, sizeof *m->tab);
    if (!m->tab) {
        free(m);
        return NULL;
    }
    m->max = max;
    pthread_mutex_init(&m->mu, NULL);
    return m;
}

void upd__devmem_free(upd_devmem *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        free(m->tab[i].rec);
    free(m->tab);
    free(m->marks);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* The slot of key: the one holding it, or the empty one where it would go. Locked. */
static size_t find(const upd_devmem *m, uint64_t key)
{
    size_t i = slot_of(key, m->cap);
    while (m->tab[i].key && m->tab[i].key != key)
        i = (i + 1) & (m->cap - 1);
    return i;
}

/* Double the table. 0, or -1 when out of memory (the table stays as it was). Locked. */
static int grow(upd_devmem *m)
{
    size_t cap = m->cap * 2;
    slot *t = calloc(cap, sizeof *t);
    if (!t)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->tab[i].key)
            continue;
        size_t j = slot_of(m->tab[i].key, cap);
        while (t[j].key)
            j = (j + 1) & (cap - 1);
        t[j] = m->tab[i];
    }
    free(m->tab);
    m->tab = t;
    m->cap = cap;
    return 0;
}

/* Put r in (replacing the device's record) or, when the table is full, free it. Locked. */
static void insert(upd_devmem *m, upd_devmem_rec *r)
{
    size_t i = find(m, r->key);
    if (m->tab[i].key) {
        m->rec_bytes -= rec_size(m->tab[i].rec);
        free(m->tab[i].rec);
        m->tab[i].rec = r;
        m->rec_bytes += rec_size(r);
        return;
    }
    if (m->n >= m->max) {
        m->full++;
        free(r);
        return;
    }
    if ((m->n + 1) * 2 > m->cap) {
        if (grow(m) != 0) {
            m->full++;
            free(r);
            return;
        }
        i = find(m, r->key);
    }
    m->tab[i].key = r->key;
    m->tab[i].rec = r;
    m->n++;
    m->rec_bytes += rec_size(r);
}

/* Take key out, shifting the entries after it back so probes stay unbroken. Locked. */
static void erase(upd_devmem *m, uint64_t key)
{
    size_t i = find(m, key);
    if (!m->tab[i].key)
        return;
    m->rec_bytes -= rec_size(m->tab[i].rec);
    free(m->tab[i].rec);
    m->n--;
    size_t mask = m->cap - 1, j = i;
    for (;;) {
        m->tab[i].key = 0;
        m->tab[i].rec = NULL;
        for (;;) {
            j = (j + 1) & mask;
            if (!m->tab[j].key)
                return;
            size_t home = slot_of(m->tab[j].key, m->cap);
            /* the entry at j may move to i when its home is not in (i, j] */
            if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
                break;
        }
        m->tab[i] = m->tab[j];
        i = j;
    }
}

int upd__devmem_get(upd_devmem *m, const char *mac, upd_device_row *out)
{
    uint64_t key = mac_key(mac);
    pthread_mutex_lock(&m->mu);
    size_t i = key ? find(m, key) : 0;
    if (!key || !m->tab[i].key) {
        m->misses++;
        pthread_mutex_unlock(&m->mu);
        return UPD_STORE_ENOTFOUND;
    }
    m->hits++;
    expand(m->tab[i].rec, out);
    pthread_mutex_unlock(&m->mu);
    return 0;
}

uint32_t upd__devmem_mark(upd_devmem *m, const char *mac)
{
    pthread_mutex_lock(&m->mu);
    uint32_t v = mark_of(m, mac_key(mac));
    pthread_mutex_unlock(&m->mu);
    return v;
}

void upd__devmem_note(upd_devmem *m, upd_devmem_rec *r)
{
    pthread_mutex_lock(&m->mu);
    r->mark = mark_of(m, r->key);
    pthread_mutex_unlock(&m->mu);
}

void upd__devmem_fill(upd_devmem *m, const upd_device_row *row, uint32_t mark)
{
    upd_devmem_rec *r = upd__devmem_make(row);
    if (!r)
        return;
    pthread_mutex_lock(&m->mu);
    if (mark_of(m, r->key) == mark && !m->tab[find(m, r->key)].key) {
        insert(m, r);
        r = NULL;
    }
    pthread_mutex_unlock(&m->mu);
    free(r);
}

void upd__devmem_put(upd_devmem *m, upd_devmem_rec **recs, size_t n)
{
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < n; i++) {
        if (!recs[i])
            continue;
        if (mark_of(m, recs[i]->key) != recs[i]->mark) {
            erase(m, recs[i]->key);
            free(recs[i]);
        } else
            insert(m, recs[i]);
        recs[i] = NULL;
    }
    pthread_mutex_unlock(&m->mu);
}

void upd__devmem_drop(upd_devmem *m, const char *mac)
{
    uint64_t key = mac_key(mac);
    pthread_mutex_lock(&m->mu);
    if (key && !m->marks)
        m->marks = calloc(MARKS, sizeof *m->marks);
    if (key && m->marks)
        m->marks[group(key)]++;
    else
        m->base++; /* out of memory (or a MAC never held): every device's mark */
    if (key)
        erase(m, key);
    pthread_mutex_unlock(&m->mu);
}

void upd__devmem_clear(upd_devmem *m)
{
    pthread_mutex_lock(&m->mu);
    m->base++;
    for (size_t i = 0; i < m->cap; i++) {
        free(m->tab[i].rec);
        m->tab[i].key = 0;
        m->tab[i].rec = NULL;
    }
    m->n = 0;
    m->rec_bytes = 0;
    m->clears++;
    pthread_mutex_unlock(&m->mu);
}

void upd__devmem_stats(upd_devmem *m, upd_devmem_stats *out)
{
    pthread_mutex_lock(&m->mu);
    out->devices = m->n;
    out->bytes = m->rec_bytes + m->cap * sizeof(slot) + sizeof *m +
                 (m->marks ? MARKS * sizeof *m->marks : 0);
    out->max = m->max;
    out->hits = m->hits;
    out->misses = m->misses;
    out->full = m->full;
    out->clears = m->clears;
    pthread_mutex_unlock(&m->mu);
}

/* ---- the rows the writer's records leave ------------------------------------------- */

static void keep_or_take(char *dst, size_t cap, const char *said)
{
    if (said[0]) {
        size_t n = strlen(said);
        if (n >= cap)
            n = cap - 1;
        memcpy(dst, said, n);
        dst[n] = '\0';
    }
}

/* The hold a plan sets (outcome.c), as the stores write it. */
static void take_hold(const upd_plan *p, upd_device_row *out)
{
    if (p->set_hold) {
        out->hold_release = p->hold_release > 0 ? p->hold_release : 0;
        out->hold_failures = p->hold_failures;
        out->hold_until_ms = p->hold_until_ms;
    }
}

void upd__devmem_after_checkin(const upd_device_row *old, const upd_record *rec, const upd_plan *p,
                               upd_device_row *out)
{
    const upd_device_row *d = &rec->dev;
    if (old)
        *out = *old;
    else {
        memset(out, 0, sizeof *out);
        memcpy(out->mac, d->mac, sizeof out->mac);
    }
    /* the upsert: a new row takes the request's facts; an existing one keeps a column the
     * request does not say ("" or -1), the URL's channel is always said, a tool's mark
     * stays; with facts_known only the times change */
    if (!old || !p->facts_known) {
        keep_or_take(out->family, sizeof out->family, d->family);
        keep_or_take(out->version, sizeof out->version, d->version);
        keep_or_take(out->sketch_md5, sizeof out->sketch_md5, d->sketch_md5);
        keep_or_take(out->sketch_sha256, sizeof out->sketch_sha256, d->sketch_sha256);
        keep_or_take(out->tool, sizeof out->tool, d->tool);
        memcpy(out->url_channel, d->url_channel, sizeof out->url_channel);
    }
    if (!old || rec->at_ms > out->last_seen_ms)
        out->last_seen_ms = rec->at_ms;
    if (p->updated > 0) {
        out->offered_release = 0;
        out->running_release = p->updated;
    }
    take_hold(p, out);
    if (p->open_offer)
        out->offered_release = rec->release_id;
    else if (p->set_running)
        out->running_release = rec->release_id;
}

void upd__devmem_after_download(const upd_device_row *now, const upd_plan *p, upd_device_row *out)
{
    *out = *now;
    take_hold(p, out);
}

int upd__devmem_same(const upd_device_row *a, const upd_device_row *b, const char **what)
{
#define TXT(f)                                                                                     \
    if (strcmp(a->f, b->f)) {                                                                      \
        *what = #f;                                                                                \
        return 0;                                                                                  \
    }
#define NUM(f)                                                                                     \
    if (a->f != b->f) {                                                                            \
        *what = #f;                                                                                \
        return 0;                                                                                  \
    }
    TXT(mac)
    TXT(family)
    TXT(version)
    TXT(sketch_md5)
    TXT(sketch_sha256)
    NUM(last_seen_ms)
    TXT(channel)
    NUM(pin_release)
    NUM(offered_release)
    NUM(running_release)
    NUM(hold_release)
    NUM(hold_failures)
    NUM(hold_until_ms)
    TXT(tool)
    TXT(url_channel)
    TXT(tags)
#undef TXT
#undef NUM
    *what = NULL;
    return 1;
}

/* ---- metrics ------------------------------------------------------------------------- */

static void collect(FILE *f, void *ctx)
{
    upd_devmem_stats st;
    if (upd_store_cached_devmem_stats(ctx, &st) != 0)
        return;
    fprintf(f,
            "# HELP updraft_device_memory_devices Devices whose check-path row is held in "
            "memory (bounded by updraft_device_memory_max_devices: serve --device-memory).\n"
            "# TYPE updraft_device_memory_devices gauge\nupdraft_device_memory_devices %llu\n"
            "# HELP updraft_device_memory_max_devices The device memory's bound.\n"
            "# TYPE updraft_device_memory_max_devices gauge\n"
            "updraft_device_memory_max_devices %llu\n"
            "# HELP updraft_device_memory_bytes Heap the device memory takes: its records "
            "and its table.\n"
            "# TYPE updraft_device_memory_bytes gauge\nupdraft_device_memory_bytes %llu\n"
            "# HELP updraft_device_memory_checks_total Device rows the check path read, by "
            "where from: memory, or the database (a device not held yet).\n"
            "# TYPE updraft_device_memory_checks_total counter\n"
            "updraft_device_memory_checks_total{from=\"memory\"} %llu\n"
            "updraft_device_memory_checks_total{from=\"database\"} %llu\n"
            "# HELP updraft_device_memory_full_total Device rows not kept because the "
            "device memory was full (those devices' rows are read from the database at each "
            "check).\n"
            "# TYPE updraft_device_memory_full_total counter\n"
            "updraft_device_memory_full_total %llu\n"
            "# HELP updraft_device_memory_clears_total Times every device was dropped from "
            "the device memory at once (each then reads its row from the database again): a "
            "release deleted here; another server's change that does not say which devices "
            "it changed; the database reached again.\n"
            "# TYPE updraft_device_memory_clears_total counter\n"
            "updraft_device_memory_clears_total %llu\n",
            (unsigned long long)st.devices, (unsigned long long)st.max,
            (unsigned long long)st.bytes, (unsigned long long)st.hits,
            (unsigned long long)st.misses, (unsigned long long)st.full,
            (unsigned long long)st.clears);
}

void upd__devmem_metrics_init(upd_store *st)
{
    upd__metrics_register(collect, st);
    upd__devsync_metrics_init(upd_store_cached_devsync(st));
}
