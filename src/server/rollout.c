/* Staged rollouts: the engine (rollout.h, docs/rollouts.md). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "metrics.h"
#include "rollout.h"
#include "rotarget.h"
#include "rowindow.h"
#include "ronext.h"
#include "sigrule.h"
#include "srv.h"
#include "updraft/version.h"
#include "webhook.h"

/* A device's state in a rollout; silent is not stored: it is DOWNLOADING for longer
 * than the rollout's silent_ms. */
enum { ST_NONE, ST_OFFERED, ST_DOWNLOADING, ST_UPDATED, ST_FAILED, ST_ROLLED_BACK, ST__N };
static const char *const ST_NAME[ST__N] = {"",        "offered", "downloading",
                                           "updated", "failed",  "rolled-back"};

static int st_parse(const char *s)
{
    for (int i = 1; i < ST__N; i++)
        if (!strcmp(s, ST_NAME[i]))
            return i;
    return ST_NONE;
}

typedef struct rdev {
    char mac[UPD_MAC_STR];
    uint8_t st;
    int64_t at;
} rdev;

/* A rollout in memory: the active ones (scheduled, running, paused) and the ones an
 * active rollback names (their devices are its target). */
typedef struct ro_ent {
    upd_rollout_row row;
    int active;
    char platform[16], mode[8], version[UPD_VER_MAX];
    int nw;
    int64_t wval[UPD_WAVES_MAX];
    int wpct[UPD_WAVES_MAX];
    uint64_t thr[UPD_WAVES_MAX]; /* of the row.wave opened waves */
    upd_ro_target tgt;
    /* its devices: an array and an open-addressing index into it (slot = position + 1) */
    rdev *dv;
    uint32_t ndv, capdv;
    uint32_t *idx;
    uint32_t capidx;
    int64_t members;           /* devices of the open waves at the last count, -1 unknown */
    int64_t members_at;        /* when (monotonic ms) */
    int dirty;                 /* a pause the health rule made, not yet written */
    char next[UPD_DETAIL_MAX]; /* what it waits for */
    /* its delivery window (has_win 0: any time), on the wall clock of tz (NULL: UTC);
     * win_open is what the check path reads, kept current by the rollout thread */
    int has_win;
    upd_window win;
    upd_tzone *tz;
    int win_open;
    int64_t win_change_ms; /* when it next opens (closed) or closes (open); -1 never */
    /* the read-back of its devices' states (sync_shared): the wall ms the last one began,
     * the monotonic ms the next whole one is due */
    int64_t synced_ms, sync_whole_ms;
} ro_ent;

struct upd_rollouts {
    srv *s;
    upd_rules inner;
    pthread_rwlock_t lk; /* ents, their rows and devices */
    ro_ent **ents;
    size_t nents, capents;
    volatile int nactive;  /* read without the lock on the check path: 0 = nothing to do */
    volatile int ntrack;   /* entries whose device states are recorded (tracks()) */
    pthread_mutex_t admin; /* admin operations and the thread's steps, one at a time */
    pthread_mutex_t mu;    /* cv, stop */
    pthread_cond_t cv;
    int stop;
    pthread_t thread;
    int started;
    upd_webhooks *hooks; /* the rollouts' --webhook messages */
    int64_t next_sync;   /* monotonic ms of the next sync_shared */
};

/* Of the servers on one database, does this one open waves and judge health (store.h
 * leads)? The others follow what the store says (sync_shared). */
static int leads(const upd_rollouts *ro)
{
    const upd_store *st = ro->s->store;
    return !st->ops->leads || st->ops->leads((upd_store *)st);
}

/* ---- parsing ---------------------------------------------------------------------------- */

/* A decimal with up to two decimals ("12", "0.5", "12.25") in 1/100 units; -1 if bad. */
static int64_t parse_centi(const char *s, const char *end)
{
    int64_t v = 0;
    int frac = -1;
    if (s == end)
        return -1;
    for (const char *p = s; p < end; p++) {
        if (*p == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (!isdigit((unsigned char)*p) || v > 100000000000LL)
            return -1;
        if (frac >= 0 && ++frac > 2)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (frac == 0)
        return -1; /* "5." */
    for (int i = frac < 0 ? 0 : frac; i < 2; i++)
        v *= 10;
    return v;
}

static void fmt_bp(int64_t bp, char *out, size_t cap)
{
    if (bp % 100 == 0)
        snprintf(out, cap, "%lld%%", (long long)(bp / 100));
    else if (bp % 10 == 0)
        snprintf(out, cap, "%lld.%lld%%", (long long)(bp / 100), (long long)(bp % 100 / 10));
    else
        snprintf(out, cap, "%lld.%02lld%%", (long long)(bp / 100), (long long)(bp % 100));
}

int upd__rollout_parse_waves(const char *s, int *n, int64_t *val, int *pct, char *norm,
                             size_t normcap, char *why, size_t whycap)
{
    *n = 0;
    size_t nl = 0;
    if (normcap)
        norm[0] = '\0';
    int64_t last_pct = 0, last_cnt = 0;
    const char *p = s;
    if (!s || !*s) {
        snprintf(why, whycap, "no waves given: give e.g. 1%%,10%%,50%%,100%% or 10,100,1000");
        return -1;
    }
    while (*p) {
        const char *e = strchr(p, ',');
        if (!e)
            e = p + strlen(p);
        if (*n == UPD_WAVES_MAX) {
            snprintf(why, whycap, "at most %d waves", UPD_WAVES_MAX);
            return -1;
        }
        int is_pct = e > p && e[-1] == '%';
        int64_t v = is_pct ? parse_centi(p, e - 1) : -1;
        if (!is_pct) {
            v = 0;
            for (const char *q = p; q < e; q++) {
                if (!isdigit((unsigned char)*q) || v > 1000000000) {
                    v = -1;
                    break;
                }
                v = v * 10 + (*q - '0');
            }
            if (e == p)
                v = -1;
        }
        if (v <= 0 || (is_pct && v > 10000)) {
            snprintf(why, whycap,
                     "wave %d ('%.*s') is not a share of devices (0%% < share <= 100%%, e.g. 5%%) "
                     "or a count of devices (e.g. 50)",
                     *n + 1, (int)(e - p) > 40 ? 40 : (int)(e - p), p);
            return -1;
        }
        if ((is_pct && v <= last_pct) || (!is_pct && v <= last_cnt)) {
            snprintf(why, whycap,
                     "wave %d ('%.*s') is not larger than the wave before it: each wave "
                     "takes more devices than the one before",
                     *n + 1, (int)(e - p) > 40 ? 40 : (int)(e - p), p);
            return -1;
        }
        if (is_pct)
            last_pct = v;
        else
            last_cnt = v;
        val[*n] = v;
        pct[*n] = is_pct;
        (*n)++;
        char w[24];
        if (is_pct)
            fmt_bp(v, w, sizeof w);
        else
            snprintf(w, sizeof w, "%lld", (long long)v);
        int k = snprintf(norm + nl, normcap > nl ? normcap - nl : 0, "%s%s", nl ? "," : "", w);
        if (k > 0)
            nl += (size_t)k;
        if (nl >= normcap) {
            snprintf(why, whycap, "the waves are too long a list");
            return -1;
        }
        p = *e ? e + 1 : e;
        if (*e && !*p) {
            snprintf(why, whycap, "the waves end with a comma: give e.g. 1%%,10%%,100%%");
            return -1;
        }
    }
    return 0;
}

int upd__rollout_parse_failures(const char *s, int64_t *bp, int64_t *count, char *why,
                                size_t whycap)
{
    *bp = -1;
    *count = -1;
    const char *p = s;
    if (!s || !*s)
        goto bad;
    while (*p) {
        const char *e = strchr(p, ',');
        if (!e)
            e = p + strlen(p);
        if (e > p && e[-1] == '%') {
            int64_t v = parse_centi(p, e - 1);
            if (v < 0 || v > 10000 || *bp >= 0)
                goto bad;
            *bp = v;
        } else {
            int64_t v = 0;
            if (e == p || *count >= 0)
                goto bad;
            for (const char *q = p; q < e; q++) {
                if (!isdigit((unsigned char)*q) || v > 1000000000)
                    goto bad;
                v = v * 10 + (*q - '0');
            }
            *count = v;
        }
        p = *e ? e + 1 : e;
    }
    return 0;
bad:
    snprintf(why, whycap,
             "'%.40s' is not a failure limit: give a share of the devices that downloaded "
             "(5%%), a count of failed devices (3), or both (5%%,3)",
             s ? s : "");
    return -1;
}

int64_t upd__parse_duration(const char *s)
{
    if (!s || !*s)
        return -1;
    if (!strcmp(s, "0"))
        return 0;
    int64_t total = 0;
    const char *p = s;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        int64_t v = 0;
        while (isdigit((unsigned char)*p)) {
            v = v * 10 + (*p++ - '0');
            if (v > 100000000)
                return -1;
        }
        int64_t unit;
        switch (*p) {
        case 's':
            unit = 1000;
            break;
        case 'm':
            unit = 60 * 1000;
            break;
        case 'h':
            unit = 3600 * 1000;
            break;
        case 'd':
            unit = 86400 * 1000;
            break;
        default:
            return -1;
        }
        p++;
        total += v * unit;
        if (total > (int64_t)366 * 86400 * 1000)
            return -1;
    }
    return total;
}

/* ---- membership ---------------------------------------------------------------------- */

/* The device's place in rollout id: a 32-bit hash of both, stable for ever. */
static uint32_t member_hash(int64_t id, const char *mac)
{
    uint64_t h = 1469598103934665603ULL ^ ((uint64_t)id * 0x9E3779B97F4A7C15ULL);
    for (const char *p = mac; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    h ^= h >> 33; /* fmix64: every input bit reaches the top bits */
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (uint32_t)(h >> 32);
}

/* The threshold of wave i (spec val/pct) over n eligible hashes sorted ascending. */
static uint64_t wave_threshold(int64_t val, int pct, const uint32_t *sorted, size_t n,
                               uint64_t prev)
{
    uint64_t t;
    if (pct && val >= 10000)
        t = UPD_RO_ALL;
    else if (!pct && (uint64_t)val >= n)
        t = UPD_RO_ALL; /* a count that takes every device takes later ones too */
    else {
        uint64_t r = pct ? ((uint64_t)n * (uint64_t)val + 9999) / 10000 : (uint64_t)val;
        if (r > n)
            r = n;
        t = r == 0 ? 0 : (uint64_t)sorted[r - 1] + 1;
    }
    return t > prev ? t : prev;
}

static int wave_of(const uint64_t *thr, int nopen, uint32_t h)
{
    for (int i = 0; i < nopen; i++)
        if ((uint64_t)h < thr[i])
            return i + 1;
    return 0;
}

static void thresholds_text(const uint64_t *thr, int n, char *out, size_t cap)
{
    size_t l = 0;
    out[0] = '\0';
    for (int i = 0; i < n && l < cap; i++) {
        int k = snprintf(out + l, cap - l, "%s%llu", i ? "," : "", (unsigned long long)thr[i]);
        if (k < 0)
            break;
        l += (size_t)k;
    }
}

static int thresholds_parse(const char *s, uint64_t *thr, int max)
{
    int n = 0;
    while (*s && n < max) {
        char *e;
        thr[n++] = strtoull(s, &e, 10);
        s = *e == ',' ? e + 1 : e;
        if (e == s && *e)
            break;
    }
    return n;
}

int upd__rollout_wave_of(const upd_rollout_row *row, const char *mac)
{
    uint64_t thr[UPD_WAVES_MAX];
    int opened = thresholds_parse(row->thresholds, thr, UPD_WAVES_MAX);
    if (opened > row->wave)
        opened = row->wave;
    return wave_of(thr, opened, member_hash(row->id, mac));
}

/* ---- devices of an entry ------------------------------------------------------------- */

static uint32_t mac_hash(const char *mac)
{
    uint32_t h = 2166136261u;
    for (; *mac; mac++)
        h = (h ^ (uint8_t)*mac) * 16777619u;
    return h;
}

static rdev *dev_find(const ro_ent *e, const char *mac)
{
    if (!e->capidx)
        return NULL;
    for (uint32_t i = mac_hash(mac) & (e->capidx - 1);; i = (i + 1) & (e->capidx - 1)) {
        uint32_t v = e->idx[i];
        if (!v)
            return NULL;
        if (!strcmp(e->dv[v - 1].mac, mac))
            return &e->dv[v - 1];
    }
}

static rdev *dev_add(ro_ent *e, const char *mac)
{
    if ((e->ndv + 1) * 2 > e->capidx) {
        uint32_t nc = e->capidx ? e->capidx * 2 : 64;
        uint32_t *ni = calloc(nc, sizeof *ni);
        if (!ni)
            return NULL;
        for (uint32_t k = 0; k < e->ndv; k++) {
            uint32_t i = mac_hash(e->dv[k].mac) & (nc - 1);
            while (ni[i])
                i = (i + 1) & (nc - 1);
            ni[i] = k + 1;
        }
        free(e->idx);
        e->idx = ni;
        e->capidx = nc;
    }
    if (e->ndv == e->capdv) {
        uint32_t nc = e->capdv ? e->capdv * 2 : 32;
        rdev *nd = realloc(e->dv, nc * sizeof *nd);
        if (!nd)
            return NULL;
        e->dv = nd;
        e->capdv = nc;
    }
    rdev *d = &e->dv[e->ndv];
    memset(d, 0, sizeof *d);
    upd__copy(d->mac, sizeof d->mac, mac);
    uint32_t i = mac_hash(mac) & (e->capidx - 1);
    while (e->idx[i])
        i = (i + 1) & (e->capidx - 1);
    e->idx[i] = ++e->ndv;
    return d;
}

static void ent_free(ro_ent *e)
{
    if (!e)
        return;
    free(e->tz);
    free(e->dv);
    free(e->idx);
    free(e);
}

/* ---- the delivery window -------------------------------------------------------------- */

/* Read row's window and zone into e (the zone's rules from tzdata). 0, or -1 with why. */
static int window_load(ro_ent *e, const upd_rollout_row *row, char *why, size_t whylen)
{
    e->win_open = 1;
    e->win_change_ms = -1;
    if (!row->window[0])
        return 0;
    char norm[16], w[200];
    if (upd__window_parse(row->window, &e->win, norm, sizeof norm, w, sizeof w) != 0) {
        snprintf(why, whylen, "window: %s", w);
        return -1;
    }
    if (row->tz[0]) {
        if (!(e->tz = malloc(sizeof *e->tz)) ||
            upd__tz_load(e->tz, row->tz, NULL, why, whylen) != 0) {
            free(e->tz);
            e->tz = NULL;
            return -1;
        }
    }
    e->has_win = 1;
    e->win_open = -1; /* not known yet: window_tick sets it */
    return 0;
}

/* Bring e's window state to now (ms); 1 when it changed. The caller holds the write lock
 * or owns e alone. */
static int window_tick(ro_ent *e, int64_t now)
{
    if (!e->has_win)
        return 0;
    if (e->win_open >= 0 && (e->win_change_ms < 0 || now < e->win_change_ms))
        return 0;
    int open = upd__window_contains(&e->win, e->tz, now / 1000);
    int64_t next = upd__window_next(&e->win, e->tz, now / 1000, !open);
    int changed = open != e->win_open;
    e->win_open = open;
    e->win_change_ms = next < 0 ? -1 : next * 1000;
    return changed;
}

/* "the delivery window 02:00-05:00 Europe/Berlin" */
static void window_text(const upd_rollout_row *row, char *out, size_t cap)
{
    snprintf(out, cap, "the delivery window %s %s", row->window, row->tz[0] ? row->tz : "UTC");
}

/* What e waits for while its window is closed (into e->next): "wave 2 is due; ...". */
static void window_wait(ro_ent *e, const char *what)
{
    char w[120], t[40] = "";
    window_text(&e->row, w, sizeof w);
    if (e->win_change_ms > 0)
        upd__iso_time(e->win_change_ms, t, sizeof t);
    snprintf(e->next, sizeof e->next, "%s; waits for %s%s%s", what, w,
             t[0] ? ", which opens at " : "", t);
}

/* Did the device get the release (downloaded it, whatever came of it)? The devices a
 * rollback takes back. */
static int got_it(int st)
{
    return st == ST_DOWNLOADING || st == ST_UPDATED || st == ST_FAILED || st == ST_ROLLED_BACK;
}

static ro_ent *find_ent(upd_rollouts *ro, int64_t id)
{
    for (size_t i = 0; i < ro->nents; i++)
        if (ro->ents[i]->row.id == id)
            return ro->ents[i];
    return NULL;
}

static int is_active_state(const char *st)
{
    return !strcmp(st, "scheduled") || !strcmp(st, "running") || !strcmp(st, "paused");
}

static int tracks(const struct ro_ent *e);

static void recount_active(upd_rollouts *ro)
{
    int n = 0;
    for (size_t i = 0; i < ro->nents; i++)
        n += ro->ents[i]->active;
    __atomic_store_n(&ro->nactive, n, __ATOMIC_RELEASE);
    int t = 0;
    for (size_t i = 0; i < ro->nents; i++)
        t += tracks(ro->ents[i]);
    __atomic_store_n(&ro->ntrack, t, __ATOMIC_RELEASE);
}

/* ---- health ------------------------------------------------------------------------------ */

static int is_silent(const ro_ent *e, const rdev *d, int64_t now)
{
    return d->st == ST_DOWNLOADING && e->row.silent_ms > 0 && now - d->at >= e->row.silent_ms;
}

/* One device in state st into c (a device without a state is pending). */
static void add_state(upd_rollout_counts *c, int st, int silent)
{
    switch (st) {
    case ST_OFFERED:
        c->offered++;
        break;
    case ST_DOWNLOADING:
        if (silent)
            c->silent++;
        else
            c->downloading++;
        break;
    case ST_UPDATED:
        c->updated++;
        break;
    case ST_FAILED:
        c->failed++;
        break;
    case ST_ROLLED_BACK:
        c->rolled_back++;
        break;
    default:
        c->pending++;
    }
}

/* Count the devices of e by state (only results since from_ms count when from_ms > 0);
 * devices without a result are not counted here. */
static void count_states(const ro_ent *e, int64_t now, int64_t from_ms, upd_rollout_counts *c)
{
    memset(c, 0, sizeof *c);
    for (uint32_t i = 0; i < e->ndv; i++) {
        const rdev *d = &e->dv[i];
        if (d->st != ST_NONE && (from_ms <= 0 || d->at >= from_ms))
            add_state(c, d->st, is_silent(e, d, now));
    }
}

/* The number of results the failure share waits for: --min-sample, or every device
 * reached so far when fewer were (at least 1). */
static int64_t sample_needed(const upd_rollout_row *r, const upd_rollout_counts *c)
{
    int64_t reached =
        c->offered + c->downloading + c->updated + c->failed + c->rolled_back + c->silent;
    int64_t n = r->min_sample < reached ? r->min_sample : reached;
    return n < 1 ? 1 : n;
}

/* The health rule (docs/rollouts.md "Failure rules"): 1 when the failures pass the
 * limit; sentence (either way) says how it stands. */
static int health_of(const upd_rollout_row *r, const upd_rollout_counts *c, char *sent, size_t cap)
{
    int64_t bad = c->failed + c->rolled_back + c->silent;
    int64_t got = c->downloading + c->updated + bad;
    int64_t results = c->updated + bad;
    int64_t min_sample = sample_needed(r, c);
    char parts[160] = "";
    size_t pl = 0;
    const int64_t nums[3] = {c->failed, c->rolled_back, c->silent};
    static const char *const words[3] = {"did not install it", "rolled back", "silent"};
    for (int i = 0; i < 3; i++)
        if (nums[i]) {
            int k = snprintf(parts + pl, sizeof parts - pl, "%s%lld %s", pl ? ", " : "",
                             (long long)nums[i], words[i]);
            if (k > 0 && (size_t)k < sizeof parts - pl)
                pl += (size_t)k;
        }
    char wave[32];
    snprintf(wave, sizeof wave, "wave %d", r->wave > 0 ? r->wave : 1);
    if (r->max_fail_count >= 0 && bad > r->max_fail_count) {
        snprintf(sent, cap, "%lld of %lld devices in %s failed (more than %lld): %s",
                 (long long)bad, (long long)got, wave, (long long)r->max_fail_count, parts);
        return 1;
    }
    char share[24] = "0%", lim[24] = "";
    if (got > 0) {
        int64_t permille = (bad * 1000 + got / 2) / got;
        snprintf(share, sizeof share, "%lld.%lld%%", (long long)(permille / 10),
                 (long long)(permille % 10));
        if (permille % 10 == 0)
            snprintf(share, sizeof share, "%lld%%", (long long)(permille / 10));
    }
    if (r->max_fail_bp >= 0)
        fmt_bp(r->max_fail_bp, lim, sizeof lim);
    /* judged once min-sample results are in; before that, when the failures already
     * pass the limit over the sample the rule waits for (or over every device reached,
     * when more were): they would pass it even if all the others succeeded */
    int64_t reached = got + c->offered;
    int64_t base = reached > min_sample ? reached : min_sample;
    if (r->max_fail_bp >= 0 && got > 0 &&
        ((results >= min_sample && bad * 10000 > r->max_fail_bp * got) ||
         bad * 10000 > r->max_fail_bp * base)) {
        snprintf(sent, cap, "%lld of %lld devices in %s failed (%s > %s): %s", (long long)bad,
                 (long long)got, wave, share, lim, parts);
        return 1;
    }
    if (results < min_sample)
        snprintf(sent, cap,
                 "%lld of %lld devices in %s failed; %lld of the %lld results needed to judge "
                 "the failure share are in",
                 (long long)bad, (long long)got, wave, (long long)results, (long long)min_sample);
    else
        snprintf(sent, cap, "%lld of %lld devices in %s failed (%s%s%s)%s%s", (long long)bad,
                 (long long)got, wave, share, lim[0] ? ", limit " : "", lim, pl ? ": " : "", parts);
    return 0;
}

/* Pause e because of its health (under the write lock): the check path stops offering
 * at once; the thread writes it down. */
static void auto_pause(upd_rollouts *ro, ro_ent *e, const char *sentence)
{
    snprintf(e->row.reason, sizeof e->row.reason, "paused: %s", sentence);
    upd__copy(e->row.state, sizeof e->row.state, "paused");
    e->row.updated_ms = upd__now_ms();
    e->dirty = 1;
    pthread_mutex_lock(&ro->mu);
    pthread_cond_signal(&ro->cv);
    pthread_mutex_unlock(&ro->mu);
}

static void check_health(upd_rollouts *ro, ro_ent *e, int64_t now)
{
    if (strcmp(e->row.state, "running"))
        return;
    upd_rollout_counts c;
    count_states(e, now, e->row.health_from_ms, &c);
    char sent[UPD_DETAIL_MAX - 16];
    if (health_of(&e->row, &c, sent, sizeof sent))
        auto_pause(ro, e, sent);
}

/* ---- the writer thread's rules ------------------------------------------------------- */

/* Are e's devices' states still recorded? While it is active, and once it completed
 * (devices that were in flight finish; until the server restarts). */
static int tracks(const ro_ent *e)
{
    return e->active || !strcmp(e->row.state, "completed");
}

/* May a device go from state a to b? Failures stay until the device runs the release. */
static int may_move(int a, int b)
{
    if (a == b)
        return 0;
    switch (b) {
    case ST_OFFERED:
        return a == ST_NONE;
    case ST_DOWNLOADING:
        return a == ST_OFFERED;
    case ST_UPDATED:
        return 1;
    default: /* failed, rolled back */
        return a != ST_NONE && !(a == ST_ROLLED_BACK && b == ST_FAILED);
    }
}

/* Move the device mac of the active rollout with release rel (or rollout id when > 0)
 * to state st, and say so in the plan. Takes the write lock. */
static void move(upd_rollouts *ro, int64_t id, int64_t rel, const char *mac, int st, int64_t at,
                 upd_plan *p)
{
    /* most check-ins change nothing (a device that runs the release checks again): find
     * that out under the read lock, which does not stop the check path */
    int need = 0;
    pthread_rwlock_rdlock(&ro->lk);
    for (size_t i = 0; i < ro->nents && !need; i++) {
        const ro_ent *e = ro->ents[i];
        if (!tracks(e) || (id > 0 ? e->row.id != id : e->row.release_id != rel))
            continue;
        const rdev *d = dev_find(e, mac);
        need = (d || id > 0) && may_move(d ? d->st : ST_NONE, st);
    }
    pthread_rwlock_unlock(&ro->lk);
    if (!need)
        return;
    pthread_rwlock_wrlock(&ro->lk);
    for (size_t i = 0; i < ro->nents; i++) {
        ro_ent *e = ro->ents[i];
        if (!tracks(e) || (id > 0 ? e->row.id != id : e->row.release_id != rel))
            continue;
        rdev *d = dev_find(e, mac);
        if (!d && id <= 0)
            continue; /* not one of its devices: the release came another way */
        if (!may_move(d ? d->st : ST_NONE, st))
            break;
        if (!d && !(d = dev_add(e, mac)))
            break;
        d->st = (uint8_t)st;
        d->at = at;
        p->rollout_id = e->row.id;
        p->rollout_state = ST_NAME[st];
        if ((st == ST_FAILED || st == ST_ROLLED_BACK) && leads(ro))
            check_health(ro, e, at);
        break;
    }
    pthread_rwlock_unlock(&ro->lk);
}

static void w_checkin(void *ctx, const upd_record *rec, const upd_device_state *old,
                      const upd_release_row *offered, upd_plan *p)
{
    upd_rollouts *ro = ctx;
    ro->inner.checkin(ro->inner.ctx, rec, old, offered, p);
    if (__atomic_load_n(&ro->ntrack, __ATOMIC_ACQUIRE) == 0)
        return;
    const char *mac = rec->dev.mac;
    /* what the device's reports and the rules say, the most telling first */
    for (int i = 0; i < p->nev; i++) {
        const char *k = p->ev[i].kind;
        if (!strcmp(k, "report-rolled-back")) {
            move(ro, 0, p->ev[i].release, mac, ST_ROLLED_BACK, rec->at_ms, p);
            return;
        }
    }
    for (int i = 0; i < p->nev; i++) {
        const char *k = p->ev[i].kind;
        if (!strcmp(k, "failed") || !strcmp(k, "report-failed")) {
            move(ro, 0, p->ev[i].release, mac, ST_FAILED, rec->at_ms, p);
            return;
        }
    }
    if (p->updated > 0) {
        move(ro, 0, p->updated, mac, ST_UPDATED, rec->at_ms, p);
        return;
    }
    if (rec->rollout_id > 0 && !strcmp(rec->result, "offered"))
        move(ro, rec->rollout_id, 0, mac, ST_OFFERED, rec->at_ms, p);
    else if (rec->rollout_id > 0 && !strcmp(rec->result, "current"))
        move(ro, rec->rollout_id, 0, mac, ST_UPDATED, rec->at_ms, p);
}

static void w_downloaded(void *ctx, const upd_record *rec, const upd_device_state *now, upd_plan *p)
{
    upd_rollouts *ro = ctx;
    ro->inner.downloaded(ro->inner.ctx, rec, now, p);
    if (__atomic_load_n(&ro->ntrack, __ATOMIC_ACQUIRE) == 0 || !rec->mac[0])
        return;
    int failed = 0;
    for (int i = 0; i < p->nev; i++)
        failed |= !strcmp(p->ev[i].kind, "failed");
    move(ro, 0, rec->release_id, rec->mac, failed ? ST_FAILED : ST_DOWNLOADING, rec->at_ms, p);
}

void upd__rollout_rules(upd_rollouts *ro, const upd_rules *inner, upd_rules *out)
{
    ro->inner = *inner;
    out->ctx = ro;
    out->checkin = w_checkin;
    out->downloaded = w_downloaded;
}

/* ---- the check path ------------------------------------------------------------------ */

int upd__rollout_pick(upd_rollouts *ro, const char *mac, const upd_device_row *facts,
                      const char *family, int mode_fs, int64_t offered_release,
                      upd_rollout_pick *out)
{
    if (!ro || __atomic_load_n(&ro->nactive, __ATOMIC_ACQUIRE) == 0 || !mac || !mac[0])
        return UPD_RO_NONE;
    const char *mode = mode_fs ? "fs" : "sketch";
    int rc = UPD_RO_NONE;
    int64_t now = upd__now_ms();
    pthread_rwlock_rdlock(&ro->lk);
    for (size_t i = 0; i < ro->nents; i++) {
        const ro_ent *e = ro->ents[i];
        if (!e->active || strcmp(e->mode, mode))
            continue;
        if (strcmp(e->platform, "any") && (!family || strcmp(family, e->platform)))
            continue;
        if (e->row.rollback_of > 0) {
            const ro_ent *src = find_ent(ro, e->row.rollback_of);
            const rdev *d = src ? dev_find(src, mac) : NULL;
            if (!d || !got_it(d->st))
                continue;
        } else if (!upd__ro_target_match(&e->tgt, facts, now)) {
            continue;
        }
        out->rollout_id = e->row.id;
        out->release_id = e->row.release_id;
        out->allow_downgrade = e->row.allow_downgrade;
        out->wave = wave_of(e->thr, e->row.wave, member_hash(e->row.id, mac));
        out->scheduled = !strcmp(e->row.state, "scheduled");
        out->paused = !strcmp(e->row.state, "paused");
        out->waves_open = e->row.wave;
        int running = !strcmp(e->row.state, "running");
        out->outside_window = e->win_open == 0;
        out->window_opens_ms = e->win_change_ms;
        if (out->outside_window && (out->wave > 0 || e->row.wave == 0)) {
            upd__copy(out->window, sizeof out->window, e->row.window);
            upd__copy(out->tz, sizeof out->tz, e->row.tz[0] ? e->row.tz : "UTC");
        }
        /* devices in flight (an open offer) finish, also when it paused or the window
         * closed */
        rc = out->wave > 0 && ((running && e->win_open) || offered_release == e->row.release_id)
                 ? UPD_RO_OFFER
                 : UPD_RO_HOLD;
        break;
    }
    pthread_rwlock_unlock(&ro->lk);
    return rc;
}

void upd__rollout_hold_why(const upd_rollout_pick *pk, char *out, size_t cap)
{
    if (pk->scheduled)
        snprintf(out, cap, "release %lld is held for rollout %lld, which has not started",
                 (long long)pk->release_id, (long long)pk->rollout_id);
    else if (pk->outside_window && !pk->paused && (pk->wave > 0 || pk->waves_open == 0)) {
        char t[40] = "";
        if (pk->window_opens_ms > 0)
            upd__iso_time(pk->window_opens_ms, t, sizeof t);
        snprintf(out, cap,
                 "release %lld is held: rollout %lld delivers only in its window %s %s%s%s",
                 (long long)pk->release_id, (long long)pk->rollout_id, pk->window, pk->tz,
                 t[0] ? "; it opens at " : "", t);
    } else if (pk->wave == 0)
        snprintf(out, cap,
                 "release %lld is being rolled out (rollout %lld): this device is not in the "
                 "%d wave%s opened so far",
                 (long long)pk->release_id, (long long)pk->rollout_id, pk->waves_open,
                 pk->waves_open == 1 ? "" : "s");
    else
        snprintf(out, cap,
                 "release %lld is held: rollout %lld is paused ('updraft rollout show %lld' "
                 "says why)",
                 (long long)pk->release_id, (long long)pk->rollout_id, (long long)pk->rollout_id);
}

/* ---- the target's devices ------------------------------------------------------------ */

/* Another active rollout a new one must not overlap (overlap()): its target, matched
 * on the same pass over the devices as the new target's (target_devices). */
typedef struct other_ro {
    int64_t id, release_id;
    char state[16], target[UPD_TARGET_MAX];
    upd_ro_target tgt;
    int64_t n;               /* devices of the new target it names too */
    char first[UPD_MAC_STR]; /* the first of them in the device list's order */
    int64_t first_rank;
} other_ro;

/* The devices of a target, in the order they were read, with their membership hashes.
 * rank orders a wave's sample (fill_status): higher first, ties by MAC. */
typedef struct hashes {
    uint32_t *h;
    char (*mac)[UPD_MAC_STR];
    int64_t *rank;
    size_t n, cap;
    int64_t id;
    const upd_ro_target *tgt;
    int64_t now;
    int oom;
    other_ro *oth; /* NULL, or noth targets to count on the same pass */
    size_t noth;
    upd_sign_walk *sw; /* NULL, or the signing keys' check on the same pass */
} hashes;

/* Is (rank a, mac a) before (rank b, mac b) in the device list's order (last seen, newest
 * first, ties by MAC)? */
static int ranks_before(int64_t ra, const char *ma, int64_t rb, const char *mb)
{
    return ra != rb ? ra > rb : strcmp(ma, mb) < 0;
}

static int add_hash(hashes *hs, const char *mac, int64_t rank)
{
    if (hs->n == hs->cap) {
        size_t nc = hs->cap ? hs->cap * 2 : 256;
        uint32_t *nh = realloc(hs->h, nc * sizeof *nh);
        if (nh)
            hs->h = nh;
        char(*nm)[UPD_MAC_STR] = realloc(hs->mac, nc * sizeof *nm);
        if (nm)
            hs->mac = nm;
        int64_t *nr = realloc(hs->rank, nc * sizeof *nr);
        if (nr)
            hs->rank = nr;
        if (!nh || !nm || !nr) {
            hs->oom = 1;
            return 1;
        }
        hs->cap = nc;
    }
    hs->h[hs->n] = member_hash(hs->id, mac);
    upd__copy(hs->mac[hs->n], UPD_MAC_STR, mac);
    hs->rank[hs->n] = rank;
    hs->n++;
    return 0;
}

static int visit_device(void *ctx, const upd_device_row *d)
{
    hashes *hs = ctx;
    if (!upd__ro_target_match(hs->tgt, d, hs->now))
        return 0;
    if (hs->sw)
        upd__sign_walk_device(hs->sw, d);
    for (size_t i = 0; i < hs->noth; i++) {
        other_ro *o = &hs->oth[i];
        if (!upd__ro_target_match(&o->tgt, d, hs->now))
            continue;
        if (!o->n++ || ranks_before(d->last_seen_ms, d->mac, o->first_rank, o->first)) {
            upd__copy(o->first, sizeof o->first, d->mac);
            o->first_rank = d->last_seen_ms;
        }
    }
    return add_hash(hs, d->mac, d->last_seen_ms);
}

static int visit_got(void *ctx, const char *mac, const char *state, int64_t at)
{
    (void)at;
    hashes *hs = ctx;
    /* the store's order: the earlier the higher */
    return got_it(st_parse(state)) ? add_hash(hs, mac, -(int64_t)hs->n) : 0;
}

/* The devices the target of rollout row (release rel) names now, with their hashes,
 * in one pass over the registry that reads only what matching needs (store op
 * device_scan); oth (NULL, or noth other targets) are counted on the same pass. */
static int target_devices_with(srv *s, const upd_rollout_row *row, const upd_release_row *rel,
                               const upd_ro_target *tgt, other_ro *oth, size_t noth,
                               upd_sign_walk *sw, hashes *hs)
{
    memset(hs, 0, sizeof *hs);
    hs->id = row->id;
    hs->tgt = tgt;
    hs->now = upd__now_ms();
    hs->oth = oth;
    hs->noth = noth;
    hs->sw = sw;
    int rc;
    if (row->rollback_of > 0) {
        rc = s->store->ops->rollout_devices(s->store, row->rollback_of, visit_got, hs);
    } else {
        upd_device_filter f;
        memset(&f, 0, sizeof f);
        f.platform = strcmp(rel->platform, "any") ? rel->platform : NULL;
        rc = s->store->ops->device_scan(s->store, &f, visit_device, hs);
    }
    if (rc || hs->oom) {
        free(hs->h);
        free(hs->mac);
        free(hs->rank);
        hs->h = NULL;
        hs->mac = NULL;
        hs->rank = NULL;
        hs->n = 0;
        return -1;
    }
    return 0;
}

static int target_devices(srv *s, const upd_rollout_row *row, const upd_release_row *rel,
                          const upd_ro_target *tgt, hashes *hs)
{
    return target_devices_with(s, row, rel, tgt, NULL, 0, NULL, hs);
}

static void hashes_free(hashes *hs)
{
    free(hs->h);
    free(hs->mac);
    free(hs->rank);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- loading and writing ----------------------------------------------------------------- */

static int parse_spec(ro_ent *e)
{
    char norm[128], why[160];
    if (upd__rollout_parse_waves(e->row.waves, &e->nw, e->wval, e->wpct, norm, sizeof norm, why,
                                 sizeof why))
        return -1;
    int n = thresholds_parse(e->row.thresholds, e->thr, UPD_WAVES_MAX);
    if (n < e->row.wave)
        e->row.wave = n;
    return 0;
}

/* An entry for row (reading its release and compiling its target). */
static ro_ent *ent_new(srv *s, const upd_rollout_row *row, char *why, size_t whylen)
{
    ro_ent *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    e->row = *row;
    e->members = -1;
    upd_release_row *rel = malloc(sizeof *rel);
    if (!rel || s->store->ops->release_get(s->store, row->release_id, rel) != 0) {
        snprintf(why, whylen, "rollout %lld: its release %lld is gone", (long long)row->id,
                 (long long)row->release_id);
        free(rel);
        free(e);
        return NULL;
    }
    upd__copy(e->platform, sizeof e->platform, rel->platform);
    upd__copy(e->mode, sizeof e->mode, rel->mode);
    upd__copy(e->version, sizeof e->version, rel->version);
    free(rel);
    if (parse_spec(e) != 0 ||
        (row->rollback_of <= 0 &&
         upd__ro_target_compile(row->target, s, &e->tgt, NULL, 0, why, whylen))) {
        snprintf(why, whylen, "rollout %lld: its waves or target cannot be read",
                 (long long)row->id);
        free(e);
        return NULL;
    }
    if (window_load(e, row, why, whylen) != 0) {
        /* its zone is gone from tzdata since: the window stays closed (nothing is offered
         * through it) rather than the rollout being ignored, when its channel might serve
         * the release to every device */
        fprintf(stderr,
                "updraft: rollout %lld: %s: its window stays closed until the zone can be "
                "read (install tzdata, restart)\n",
                (long long)row->id, why);
        e->has_win = 1;
        e->win_open = 0;
        e->win_change_ms = -1;
    } else {
        window_tick(e, upd__now_ms());
    }
    e->active = is_active_state(row->state);
    return e;
}

static int load_dev(void *ctx, const char *mac, const char *state, int64_t at)
{
    ro_ent *e = ctx;
    rdev *d = dev_find(e, mac);
    if (!d && !(d = dev_add(e, mac)))
        return 1;
    d->st = (uint8_t)st_parse(state);
    d->at = at;
    return 0;
}

static int add_ent(upd_rollouts *ro, ro_ent *e)
{
    if (ro->nents == ro->capents) {
        size_t nc = ro->capents ? ro->capents * 2 : 8;
        ro_ent **ne = realloc(ro->ents, nc * sizeof *ne);
        if (!ne)
            return -1;
        ro->ents = ne;
        ro->capents = nc;
    }
    ro->ents[ro->nents++] = e;
    return 0;
}

/* An entry for rollout id with its devices, loaded (the source of a rollback). */
static ro_ent *load_ent(upd_rollouts *ro, int64_t id, char *why, size_t whylen)
{
    upd_rollout_row *row = malloc(sizeof *row);
    if (!row)
        return NULL;
    ro_ent *e = NULL;
    if (ro->s->store->ops->rollout_get(ro->s->store, id, row) == 0 &&
        (e = ent_new(ro->s, row, why, whylen)) != NULL &&
        ro->s->store->ops->rollout_devices(ro->s->store, id, load_dev, e) != 0) {
        ent_free(e);
        e = NULL;
    }
    free(row);
    return e;
}

typedef struct load_ctx {
    upd_rollouts *ro;
    int64_t *ids;
    size_t n;
} load_ctx;

static int collect_active(void *ctx, const upd_rollout_row *r)
{
    load_ctx *lc = ctx;
    if (!is_active_state(r->state))
        return 0;
    int64_t *ni = realloc(lc->ids, (lc->n + 1) * sizeof *ni);
    if (!ni)
        return 1;
    lc->ids = ni;
    lc->ids[lc->n++] = r->id;
    return 0;
}

/* The JSON body of a rollout's webhook: the change (event kind) and where it stands. */
static char *hook_body(const upd_rollout_row *r, const ro_ent *e, const char *kind)
{
    cJSON *j = cJSON_CreateObject();
    char t[40];
    upd__iso_time(r->updated_ms > 0 ? r->updated_ms : upd__now_ms(), t, sizeof t);
    cJSON_AddStringToObject(j, "event", kind);
    cJSON_AddNumberToObject(j, "rollout", (double)r->id);
    cJSON_AddNumberToObject(j, "release", (double)r->release_id);
    cJSON_AddStringToObject(j, "version", e ? e->version : "");
    cJSON_AddStringToObject(j, "state", r->state);
    cJSON_AddStringToObject(j, "reason", r->reason);
    cJSON_AddNumberToObject(j, "wave", r->wave);
    cJSON_AddStringToObject(j, "waves", r->waves);
    cJSON_AddStringToObject(j, "target", r->rollback_of > 0 ? "" : r->target);
    cJSON_AddStringToObject(j, "at", t);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* A webhook message delivered or given up: a given-up one is an event of the rollout. */
static void hook_done(void *ctx, int64_t id, const char *url, int ok, int attempts, const char *why)
{
    upd_rollouts *ro = ctx;
    if (ok)
        return;
    upd_rollout_row *row = malloc(sizeof *row);
    if (!row)
        return;
    pthread_mutex_lock(&ro->admin);
    pthread_rwlock_rdlock(&ro->lk);
    ro_ent *e = find_ent(ro, id);
    if (e)
        *row = e->row;
    pthread_rwlock_unlock(&ro->lk);
    if (e || ro->s->store->ops->rollout_get(ro->s->store, id, row) == 0) {
        char d[UPD_DETAIL_MAX], err[256];
        snprintf(d, sizeof d, "webhook %.200s not delivered after %d attempts: %.200s", url,
                 attempts, why);
        ro->s->store->ops->rollout_update(ro->s->store, row, "rollout-webhook", d, err, sizeof err);
    }
    pthread_mutex_unlock(&ro->admin);
    free(row);
}

/* Write e's row (state, wave...) with an event, and queue its webhook. Under admin. */
static int persist(upd_rollouts *ro, ro_ent *e, const char *kind, const char *detail, char *why,
                   size_t whylen)
{
    upd_rollout_row *row = malloc(sizeof *row);
    if (!row)
        return UPD_RO_EFAIL;
    pthread_rwlock_rdlock(&ro->lk);
    *row = e->row;
    pthread_rwlock_unlock(&ro->lk);
    char err[256] = "";
    int rc = ro->s->store->ops->rollout_update(ro->s->store, row, kind, detail, err, sizeof err);
    if (rc) {
        fprintf(stderr, "updraft: rollout %lld: %s\n", (long long)row->id, err);
        snprintf(why, whylen, "the database failed: %s", err);
    } else if (row->webhook[0]) {
        char *body = hook_body(row, e, kind);
        if (body)
            upd__webhook_post(ro->hooks, row->webhook, body, row->id);
        free(body);
    }
    free(row);
    return rc ? UPD_RO_EFAIL : 0;
}

/* ---- the rollout thread ------------------------------------------------------------------ */

/* Open the next wave of e (or its first), or complete it after the last one. Under admin. */
static int open_wave(upd_rollouts *ro, ro_ent *e, const char *by)
{
    upd_release_row *rel = malloc(sizeof *rel);
    if (!rel)
        return -1;
    hashes hs;
    int rc = ro->s->store->ops->release_get(ro->s->store, e->row.release_id, rel);
    if (rc == 0)
        rc = target_devices(ro->s, &e->row, rel, &e->tgt, &hs);
    free(rel);
    if (rc)
        return -1;
    if (hs.n)
        qsort(hs.h, hs.n, sizeof *hs.h, cmp_u32);
    int64_t now = upd__now_ms();
    char detail[UPD_DETAIL_MAX];
    pthread_rwlock_wrlock(&ro->lk);
    int w = e->row.wave;
    const char *kind;
    if (w >= e->nw) {
        upd__copy(e->row.state, sizeof e->row.state, "completed");
        snprintf(e->row.reason, sizeof e->row.reason,
                 "completed: the last wave soaked without passing the failure limit");
        e->active = 0;
        kind = "rollout-completed";
    } else {
        uint64_t t = wave_threshold(e->wval[w], e->wpct[w], hs.h, hs.n, w ? e->thr[w - 1] : 0);
        e->thr[w] = t;
        e->row.wave = w + 1;
        e->row.wave_opened_ms = now;
        size_t in = 0;
        while (in < hs.n && (uint64_t)hs.h[in] < t)
            in++;
        e->members = (int64_t)in;
        e->members_at = upd__mono_ms();
        thresholds_text(e->thr, e->row.wave, e->row.thresholds, sizeof e->row.thresholds);
        if (!strcmp(e->row.state, "scheduled"))
            upd__copy(e->row.state, sizeof e->row.state, "running");
        snprintf(e->row.reason, sizeof e->row.reason,
                 "wave %d of %d opened (%s): %zu of %zu eligible devices", w + 1, e->nw, by, in,
                 hs.n);
        kind = "rollout-wave";
    }
    e->row.updated_ms = now;
    upd__copy(detail, sizeof detail, e->row.reason);
    pthread_rwlock_unlock(&ro->lk);
    hashes_free(&hs);
    char why[256];
    rc = persist(ro, e, kind, detail, why, sizeof why);
    recount_active(ro);
    return rc;
}

/* How many devices the open waves of e hold now (the target read from the store). */
static void refresh_members(upd_rollouts *ro, ro_ent *e)
{
    upd_release_row *rel = malloc(sizeof *rel);
    hashes hs;
    if (!rel || ro->s->store->ops->release_get(ro->s->store, e->row.release_id, rel) != 0 ||
        target_devices(ro->s, &e->row, rel, &e->tgt, &hs) != 0) {
        free(rel);
        return;
    }
    free(rel);
    int64_t in = 0;
    pthread_rwlock_rdlock(&ro->lk);
    for (size_t i = 0; i < hs.n; i++)
        in += wave_of(e->thr, e->row.wave, hs.h[i]) > 0;
    pthread_rwlock_unlock(&ro->lk);
    pthread_rwlock_wrlock(&ro->lk);
    e->members = in;
    e->members_at = upd__mono_ms();
    pthread_rwlock_unlock(&ro->lk);
    hashes_free(&hs);
}

/* Does soaked wave e->row.wave still wait for results before the next opens (or the
 * rollout completes)? 1 with the sentence in out (--min-sample, --min-success, the last
 * wave's devices in flight), else 0. Under ro->lk (read). */
static int results_wait(const ro_ent *e, int64_t now, char *out, size_t cap)
{
    upd_rollout_counts c;
    count_states(e, now, 0, &c);
    int64_t need = e->row.min_success;
    if (e->members >= 0 && e->members < need)
        need = e->members;
    /* the next wave waits until the failure share can be judged (all results count
     * here, also those from before a resume) */
    int64_t results = c.updated + c.failed + c.rolled_back + c.silent;
    int64_t sample = sample_needed(&e->row, &c);
    if (results < sample) {
        snprintf(out, cap,
                 "wave %d soaked; waiting for %lld more device%s to have a result before the "
                 "failure share is judged (--min-sample %lld)",
                 e->row.wave, (long long)(sample - results), sample - results == 1 ? "" : "s",
                 (long long)e->row.min_sample);
        return 1;
    }
    if (c.updated < need) {
        snprintf(out, cap,
                 "wave %d soaked; waiting for %lld of %lld devices to run the release "
                 "(--min-success %lld)",
                 e->row.wave, (long long)(need - c.updated), (long long)need,
                 (long long)e->row.min_success);
        return 1;
    }
    if (e->row.wave >= e->nw) {
        /* the last wave: completed once the devices offered it have a result (or have
         * been gone for --silent-after) */
        int64_t flying = 0;
        for (uint32_t i = 0; i < e->ndv; i++)
            flying += (e->dv[i].st == ST_OFFERED || e->dv[i].st == ST_DOWNLOADING) &&
                      now - e->dv[i].at < e->row.silent_ms;
        if (flying) {
            snprintf(out, cap,
                     "the last wave soaked; waiting for %lld device%s offered the release to "
                     "have a result (at most --silent-after)",
                     (long long)flying, flying == 1 ? "" : "s");
            return 1;
        }
    }
    return 0;
}

/* One step of e: start, health, next wave. Under admin. */
static void step(upd_rollouts *ro, ro_ent *e)
{
    int64_t now = upd__now_ms();
    if (e->dirty) {
        char why[256], detail[UPD_DETAIL_MAX];
        pthread_rwlock_rdlock(&ro->lk);
        upd__copy(detail, sizeof detail, e->row.reason);
        pthread_rwlock_unlock(&ro->lk);
        if (persist(ro, e, "rollout-paused", detail, why, sizeof why) == 0)
            e->dirty = 0;
    }
    if (e->has_win && (e->win_open < 0 || (e->win_change_ms >= 0 && now >= e->win_change_ms))) {
        pthread_rwlock_wrlock(&ro->lk);
        window_tick(e, now);
        pthread_rwlock_unlock(&ro->lk);
    }
    if (!leads(ro))
        return; /* another server on the database opens the waves and judges the health */
    if (!strcmp(e->row.state, "scheduled") && now >= e->row.start_at_ms) {
        if (e->win_open)
            open_wave(ro, e, "scheduled start");
        else
            window_wait(e, "its start time has come");
        return;
    }
    if (strcmp(e->row.state, "running"))
        return;
    if (e->row.wave == 0) {
        if (e->win_open)
            open_wave(ro, e, "start");
        else
            window_wait(e, "wave 1 is due");
        return;
    }
    pthread_rwlock_wrlock(&ro->lk);
    check_health(ro, e, now); /* silence comes with time */
    pthread_rwlock_unlock(&ro->lk);
    if (e->dirty)
        return;
    if (now - e->row.wave_opened_ms < e->row.soak_ms) {
        char t[40];
        upd__iso_time(e->row.wave_opened_ms + e->row.soak_ms, t, sizeof t);
        snprintf(e->next, sizeof e->next, "wave %d soaks until %s", e->row.wave, t);
        return;
    }
    if (e->members < 0 || upd__mono_ms() - e->members_at >= 2000)
        refresh_members(ro, e);
    pthread_rwlock_rdlock(&ro->lk);
    int waits = results_wait(e, now, e->next, sizeof e->next);
    pthread_rwlock_unlock(&ro->lk);
    if (waits)
        return;
    if (!e->win_open && e->row.wave < e->nw) {
        char what[64];
        snprintf(what, sizeof what, "wave %d soaked, wave %d is due", e->row.wave, e->row.wave + 1);
        window_wait(e, what);
        return;
    }
    e->next[0] = '\0';
    open_wave(ro, e, "soaked");
}

/* One device state read back from the store (sync_shared). */
typedef struct got_state {
    char mac[UPD_MAC_STR];
    uint8_t st;
    int64_t at;
} got_state;

typedef struct got_list {
    got_state *v;
    size_t n, cap;
} got_list;

static int collect_state_of(void *ctx, const char *mac, const char *state, int64_t at)
{
    got_list *l = ctx;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 256;
        got_state *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return 1;
        l->v = nv;
        l->cap = nc;
    }
    upd__copy(l->v[l->n].mac, UPD_MAC_STR, mac);
    l->v[l->n].st = (uint8_t)st_parse(state);
    l->v[l->n].at = at;
    l->n++;
    return 0;
}

/* The device states read back each second are those recorded since the last read began,
 * less SYNC_LATE_MS (a state is stamped with its device's request time and written by its
 * server's writer a moment later; clocks of servers differ a little); every SYNC_WHOLE_MS
 * all of them, which brings in anything later still (records held while the database
 * was away). At 100,000 devices that is the difference between reading 100,000 rows a
 * second and reading those of the last minute (bench/results/pgstore.md). */
#define SYNC_LATE_MS  60000
#define SYNC_WHOLE_MS 60000

/* Several servers on one database (store.h leads): what the others did, once a second.
 * Rollouts created elsewhere; each rollout's row when the store's is newer than ours (a
 * wave the leading server opened, its pause, an operator's action on another server);
 * and the states of every rollout's devices as every server's writer recorded them (those
 * recorded lately, and every minute all: above), so that the health rule counts the whole
 * fleet, not the devices that talk to this server (a state newer here, not written yet,
 * is kept). Under admin. */
static void sync_shared(upd_rollouts *ro)
{
    upd_store *st = ro->s->store;
    load_ctx lc = {ro, NULL, 0};
    if (st->ops->rollout_list(st, collect_active, &lc) == 0)
        for (size_t i = 0; i < lc.n; i++) {
            char why[256];
            ro_ent *e = find_ent(ro, lc.ids[i]) ? NULL : load_ent(ro, lc.ids[i], why, sizeof why);
            if (!e)
                continue;
            pthread_rwlock_wrlock(&ro->lk);
            if (add_ent(ro, e) != 0) {
                ent_free(e);
                e = NULL;
            }
            pthread_rwlock_unlock(&ro->lk);
            if (e && e->row.rollback_of > 0 && !find_ent(ro, e->row.rollback_of)) {
                ro_ent *src = load_ent(ro, e->row.rollback_of, why, sizeof why);
                pthread_rwlock_wrlock(&ro->lk);
                if (src && add_ent(ro, src) != 0)
                    ent_free(src);
                pthread_rwlock_unlock(&ro->lk);
            }
        }
    free(lc.ids);
    upd_rollout_row *row = malloc(sizeof *row);
    got_list gl = {NULL, 0, 0};
    for (size_t i = 0; row && i < ro->nents; i++) {
        ro_ent *e = ro->ents[i];
        if (!tracks(e))
            continue;
        int have_row = st->ops->rollout_get(st, e->row.id, row) == 0;
        gl.n = 0;
        int64_t began = upd__now_ms();
        int whole = !st->ops->rollout_devices_since || upd__mono_ms() >= e->sync_whole_ms;
        int have_devs =
            (whole ? st->ops->rollout_devices(st, e->row.id, collect_state_of, &gl)
                   : st->ops->rollout_devices_since(st, e->row.id, e->synced_ms - SYNC_LATE_MS,
                                                    collect_state_of, &gl)) == 0;
        if (have_devs) {
            e->synced_ms = began;
            if (whole)
                e->sync_whole_ms = upd__mono_ms() + SYNC_WHOLE_MS;
        }
        pthread_rwlock_wrlock(&ro->lk);
        if (have_row && row->updated_ms > e->row.updated_ms && !e->dirty) {
            e->row = *row;
            int n = thresholds_parse(e->row.thresholds, e->thr, UPD_WAVES_MAX);
            if (n < e->row.wave)
                e->row.wave = n;
            e->active = is_active_state(e->row.state);
            e->members = -1;
        }
        for (size_t k = 0; have_devs && k < gl.n; k++) {
            rdev *d = dev_find(e, gl.v[k].mac);
            if (!d && !(d = dev_add(e, gl.v[k].mac)))
                break;
            if (d->st == ST_NONE || gl.v[k].at >= d->at) {
                d->st = gl.v[k].st;
                d->at = gl.v[k].at;
            }
        }
        pthread_rwlock_unlock(&ro->lk);
    }
    free(gl.v);
    free(row);
    recount_active(ro);
}

static void *thread_main(void *arg)
{
    upd_rollouts *ro = arg;
    for (;;) {
        pthread_mutex_lock(&ro->mu);
        if (!ro->stop) {
            struct timespec ts = upd__deadline_ms(250);
            pthread_cond_timedwait(&ro->cv, &ro->mu, &ts);
        }
        int stop = ro->stop;
        pthread_mutex_unlock(&ro->mu);
        pthread_mutex_lock(&ro->admin);
        if (ro->s->store->ops->leads && upd__mono_ms() >= ro->next_sync) {
            sync_shared(ro);
            ro->next_sync = upd__mono_ms() + 1000;
        }
        for (size_t i = 0; i < ro->nents; i++)
            if (ro->ents[i]->active || ro->ents[i]->dirty)
                step(ro, ro->ents[i]);
        pthread_mutex_unlock(&ro->admin);
        if (stop)
            break;
    }
    return NULL;
}

/* ---- metrics --------------------------------------------------------------------------- */

static const char *const RO_STATES[] = {"scheduled", "running", "paused", "completed", "aborted"};
#define NRO_STATES ((int)(sizeof RO_STATES / sizeof RO_STATES[0]))

typedef struct state_count {
    upd_rollouts *ro;
    int64_t n[NRO_STATES];
} state_count;

static int count_row(void *ctx, const upd_rollout_row *r)
{
    state_count *sc = ctx;
    /* the engine's state is newer than the row's while a pause is being written */
    char st[16];
    upd__copy(st, sizeof st, r->state);
    pthread_rwlock_rdlock(&sc->ro->lk);
    const ro_ent *e = find_ent(sc->ro, r->id);
    if (e)
        upd__copy(st, sizeof st, e->row.state);
    pthread_rwlock_unlock(&sc->ro->lk);
    for (int k = 0; k < NRO_STATES; k++)
        if (!strcmp(st, RO_STATES[k]))
            sc->n[k]++;
    return 0;
}

/* updraft_rollouts{state}: every rollout by its state, at each scrape (metrics.h). */
static void collect_metrics(FILE *f, void *ctx)
{
    state_count sc;
    memset(&sc, 0, sizeof sc);
    sc.ro = ctx;
    int ok = sc.ro->s->store->ops->rollout_list(sc.ro->s->store, count_row, &sc) == 0;
    fputs("# HELP updraft_rollouts Staged rollouts by state (docs/rollouts.md): scheduled, "
          "running, paused (by the health rule or an operator), completed, aborted.\n"
          "# TYPE updraft_rollouts gauge\n",
          f);
    if (!ok)
        return; /* the database failed: no samples rather than wrong ones */
    for (int k = 0; k < NRO_STATES; k++)
        fprintf(f, "updraft_rollouts{state=\"%s\"} %lld\n", RO_STATES[k], (long long)sc.n[k]);
}

upd_rollouts *upd__rollouts_start(srv *s, char *err, size_t errlen)
{
    upd_rollouts *ro = calloc(1, sizeof *ro);
    if (!ro) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ro->s = s;
    pthread_rwlock_init(&ro->lk, NULL);
    pthread_mutex_init(&ro->admin, NULL);
    pthread_mutex_init(&ro->mu, NULL);
    pthread_cond_init(&ro->cv, NULL);
    ro->hooks = upd__webhooks_start(hook_done, ro);
    load_ctx lc = {ro, NULL, 0};
    if (s->store->ops->rollout_list(s->store, collect_active, &lc) != 0) {
        snprintf(err, errlen, "cannot read the rollouts from the database");
        free(lc.ids);
        upd__rollouts_stop(ro);
        return NULL;
    }
    for (size_t i = 0; i < lc.n; i++) {
        char why[256];
        ro_ent *e = load_ent(ro, lc.ids[i], why, sizeof why);
        if (!e) {
            fprintf(stderr, "updraft: %s: it is left as it is\n", why);
            continue;
        }
        add_ent(ro, e);
        if (e->row.rollback_of > 0 && !find_ent(ro, e->row.rollback_of)) {
            ro_ent *src = load_ent(ro, e->row.rollback_of, why, sizeof why);
            if (src)
                add_ent(ro, src);
        }
    }
    free(lc.ids);
    recount_active(ro);
    if (ro->nactive)
        printf("rollouts: %d active, resumed where they stood\n", ro->nactive);
    /* health as it stands: a pause a crash kept from being written is made again */
    int64_t now = upd__now_ms();
    for (size_t i = 0; i < ro->nents; i++)
        if (ro->ents[i]->active && leads(ro))
            check_health(ro, ro->ents[i], now);
    if (pthread_create(&ro->thread, NULL, thread_main, ro) != 0) {
        snprintf(err, errlen, "cannot start the rollout thread");
        upd__rollouts_stop(ro);
        return NULL;
    }
    ro->started = 1;
    upd__metrics_register(collect_metrics, ro);
    return ro;
}

void upd__rollouts_stop(upd_rollouts *ro)
{
    if (!ro)
        return;
    if (ro->started) {
        pthread_mutex_lock(&ro->mu);
        ro->stop = 1;
        pthread_cond_signal(&ro->cv);
        pthread_mutex_unlock(&ro->mu);
        pthread_join(ro->thread, NULL);
    }
    upd__webhooks_stop(ro->hooks); /* before the entries go: its callback reads them */
    for (size_t i = 0; i < ro->nents; i++)
        ent_free(ro->ents[i]);
    free(ro->ents);
    pthread_rwlock_destroy(&ro->lk);
    pthread_mutex_destroy(&ro->admin);
    pthread_mutex_destroy(&ro->mu);
    pthread_cond_destroy(&ro->cv);
    free(ro);
}

/* ---- status ------------------------------------------------------------------------------- */

typedef struct state_list {
    char (*mac)[UPD_MAC_STR];
    uint8_t *st;
    int64_t *at;
    size_t n, cap;
    int oom;
} state_list;

static int collect_state(void *ctx, const char *mac, const char *state, int64_t at)
{
    state_list *l = ctx;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 256;
        void *a = realloc(l->mac, nc * sizeof *l->mac);
        if (a)
            l->mac = a;
        void *b = realloc(l->st, nc * sizeof *l->st);
        if (b)
            l->st = b;
        void *c = realloc(l->at, nc * sizeof *l->at);
        if (c)
            l->at = c;
        if (!a || !b || !c) {
            l->oom = 1;
            return 1;
        }
        l->cap = nc;
    }
    upd__copy(l->mac[l->n], UPD_MAC_STR, mac);
    l->st[l->n] = (uint8_t)st_parse(state);
    l->at[l->n] = at;
    l->n++;
    return 0;
}

static void sum_counts(upd_rollout_counts *t, const upd_rollout_counts *c)
{
    t->eligible += c->eligible;
    t->offered += c->offered;
    t->downloading += c->downloading;
    t->updated += c->updated;
    t->failed += c->failed;
    t->rolled_back += c->rolled_back;
    t->silent += c->silent;
    t->pending += c->pending;
}

static int cmp_mac(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Keep the sample of wave c's devices: the first UPD_RO_SAMPLE of them in the device
 * list's order (hs->rank, then MAC), whatever order the store read them in. idx holds
 * their positions in hs, best first. */
static void sample_add(const hashes *hs, size_t i, size_t *idx, int *n)
{
    int k = *n;
    if (k == UPD_RO_SAMPLE) {
        size_t last = idx[k - 1];
        if (!ranks_before(hs->rank[i], hs->mac[i], hs->rank[last], hs->mac[last]))
            return;
        k--;
    }
    while (k > 0 &&
           ranks_before(hs->rank[i], hs->mac[i], hs->rank[idx[k - 1]], hs->mac[idx[k - 1]])) {
        idx[k] = idx[k - 1];
        k--;
    }
    idx[k] = i;
    if (*n < UPD_RO_SAMPLE)
        (*n)++;
}

/* Fill st from row: waves and their thresholds (opened as frozen, the others as they
 * would be now), per-wave counts from the devices' states (states: NULL for a plan).
 * have: the target's devices when the caller read them (NULL: read here). */
static int fill_status(srv *s, const upd_rollout_row *row, const upd_ro_target *tgt,
                       const state_list *states, const hashes *have, upd_rollout_status *st,
                       char *why, size_t whylen)
{
    memset(st->wave, 0, sizeof st->wave);
    memset(&st->total, 0, sizeof st->total);
    int64_t val[UPD_WAVES_MAX];
    int pct[UPD_WAVES_MAX];
    char norm[128];
    if (upd__rollout_parse_waves(row->waves, &st->nwaves, val, pct, norm, sizeof norm, why, whylen))
        return UPD_RO_EINVAL;
    hashes own;
    if (!have) {
        if (target_devices(s, row, &st->rel, tgt, &own) != 0) {
            snprintf(why, whylen, "the database failed while listing the target's devices");
            return UPD_RO_EFAIL;
        }
        have = &own;
    }
    const hashes *hs = have;
    uint32_t *sorted = malloc((hs->n ? hs->n : 1) * sizeof *sorted);
    if (!sorted) {
        if (hs == &own)
            hashes_free(&own);
        return UPD_RO_EFAIL;
    }
    if (hs->n) {
        memcpy(sorted, hs->h, hs->n * sizeof *sorted);
        qsort(sorted, hs->n, sizeof *sorted, cmp_u32);
    }
    uint64_t thr[UPD_WAVES_MAX];
    int opened = thresholds_parse(row->thresholds, thr, UPD_WAVES_MAX);
    if (opened > row->wave)
        opened = row->wave;
    for (int i = 0; i < st->nwaves; i++) {
        if (i >= opened)
            thr[i] = wave_threshold(val[i], pct[i], sorted, hs->n, i ? thr[i - 1] : 0);
        st->wave[i].pct = pct[i];
        st->wave[i].value = val[i];
        st->wave[i].threshold = thr[i];
        st->wave[i].open = i < opened;
    }
    free(sorted);
    int64_t now = upd__now_ms();
    char *seen = calloc(states && states->n ? states->n : 1, 1);
    size_t sample[UPD_WAVES_MAX][UPD_RO_SAMPLE];
    int nsample[UPD_WAVES_MAX] = {0};
    for (size_t i = 0; i < hs->n; i++) {
        int w = wave_of(thr, st->nwaves, hs->h[i]);
        if (!w)
            continue;
        upd_rollout_counts *c = &st->wave[w - 1].c;
        c->eligible++;
        int sst = ST_NONE, silent = 0;
        if (states && states->n) {
            char(*f)[UPD_MAC_STR] =
                bsearch(hs->mac[i], states->mac, states->n, UPD_MAC_STR, cmp_mac);
            if (f) {
                size_t k = (size_t)(f - states->mac);
                sst = states->st[k];
                silent = sst == ST_DOWNLOADING && row->silent_ms > 0 &&
                         now - states->at[k] >= row->silent_ms;
                if (seen)
                    seen[k] = 1;
            }
        }
        add_state(c, sst, silent);
        sample_add(hs, i, sample[w - 1], &nsample[w - 1]);
    }
    for (int w = 0; w < st->nwaves; w++) {
        st->wave[w].nsample = nsample[w];
        for (int k = 0; k < nsample[w]; k++)
            upd__copy(st->wave[w].sample[k], UPD_MAC_STR, hs->mac[sample[w][k]]);
    }
    /* devices with a state that the target no longer names (retagged, deleted) count
     * in their wave still: they were reached */
    for (size_t k = 0; states && seen && k < states->n; k++) {
        if (seen[k])
            continue;
        int w = wave_of(thr, st->nwaves, member_hash(row->id, states->mac[k]));
        upd_rollout_counts *c = &st->wave[(w ? w : 1) - 1].c;
        c->eligible++;
        add_state(c, states->st[k],
                  states->st[k] == ST_DOWNLOADING && row->silent_ms > 0 &&
                      now - states->at[k] >= row->silent_ms);
    }
    free(seen);
    if (hs == &own)
        hashes_free(&own);
    for (int i = 0; i < st->nwaves; i++)
        sum_counts(&st->total, &st->wave[i].c);
    return 0;
}

/* What rollout out->row waits for (out->next_*; out->next when the engine of this
 * server has not said: it opens the waves on one server of several), from the row and
 * the devices' states this server holds, the same on every server. */
static void next_of(upd_rollouts *ro, upd_rollout_status *out)
{
    int64_t now = upd__now_ms();
    upd_ro_next nx;
    upd__ro_next(&out->row, out->nwaves, out->window_open, out->window_change_ms, now, &nx);
    pthread_rwlock_rdlock(&ro->lk);
    const ro_ent *e = find_ent(ro, out->row.id);
    if (nx.kind == UPD_RONEXT_WAITING) {
        char w[UPD_DETAIL_MAX] = "";
        if (e && results_wait(e, now, w, sizeof w)) {
            if (!out->next[0])
                upd__copy(out->next, sizeof out->next, w);
        } else if (out->window_open == 0 && out->row.wave < out->nwaves) {
            nx.kind = UPD_RONEXT_WINDOW;
            nx.at_ms = out->window_change_ms;
        } else {
            nx.kind = UPD_RONEXT_NONE; /* due now: the engine's next step acts */
        }
    }
    pthread_rwlock_unlock(&ro->lk);
    if (!out->next[0]) {
        char t[40] = "";
        if (nx.at_ms > 0)
            upd__iso_time(nx.at_ms, t, sizeof t);
        if (nx.kind == UPD_RONEXT_SOAK)
            snprintf(out->next, sizeof out->next, "wave %d soaks until %s", out->row.wave, t);
        else if (nx.kind == UPD_RONEXT_START)
            snprintf(out->next, sizeof out->next, "wave 1 opens at %s (--start-at)", t);
        else if (nx.kind == UPD_RONEXT_WINDOW) {
            char w[120];
            window_text(&out->row, w, sizeof w);
            snprintf(out->next, sizeof out->next, "wave %d is due; waits for %s%s%s", nx.wave, w,
                     t[0] ? ", which opens at " : "", t);
        }
    }
    out->next_kind = (int)nx.kind;
    out->next_wave = nx.wave;
    out->next_at_ms = nx.at_ms;
}

int upd__rollout_status(upd_rollouts *ro, int64_t id, upd_rollout_status *out, char *why,
                        size_t whylen)
{
    srv *s = ro->s;
    upd_writer_flush(s->writer);
    memset(out, 0, sizeof *out);
    out->window_open = -1;
    out->window_change_ms = -1;
    int rc = s->store->ops->rollout_get(s->store, id, &out->row);
    if (rc == UPD_STORE_ENOTFOUND) {
        snprintf(why, whylen, "there is no rollout %lld", (long long)id);
        return UPD_RO_ENOTFOUND;
    }
    if (rc || s->store->ops->release_get(s->store, out->row.release_id, &out->rel) != 0) {
        snprintf(why, whylen, "the database failed reading rollout %lld", (long long)id);
        return UPD_RO_EFAIL;
    }
    /* the engine's view is newer than the store's while a pause is being written */
    pthread_rwlock_rdlock(&ro->lk);
    ro_ent *e = find_ent(ro, id);
    if (e) {
        out->row = e->row;
        upd__copy(out->next, sizeof out->next,
                  !strcmp(e->row.state, "running") || !strcmp(e->row.state, "scheduled") ? e->next
                                                                                         : "");
        out->window_open = e->win_open;
        out->window_change_ms = e->win_change_ms;
    }
    pthread_rwlock_unlock(&ro->lk);
    upd_ro_target *tgt = calloc(1, sizeof *tgt);
    if (!tgt || (out->row.rollback_of <= 0 &&
                 upd__ro_target_compile(out->row.target, s, tgt, NULL, 0, why, whylen) != 0)) {
        free(tgt);
        return UPD_RO_EFAIL;
    }
    state_list sl;
    memset(&sl, 0, sizeof sl);
    if (s->store->ops->rollout_devices(s->store, id, collect_state, &sl) != 0 || sl.oom) {
        snprintf(why, whylen, "the database failed reading rollout %lld's devices", (long long)id);
        rc = UPD_RO_EFAIL;
    } else {
        rc = fill_status(s, &out->row, tgt, &sl, NULL, out, why, whylen);
    }
    if (rc == 0)
        next_of(ro, out);
    if (rc == 0) {
        /* the health sentence over the results the rule counts */
        upd_rollout_counts c;
        memset(&c, 0, sizeof c);
        int64_t now = upd__now_ms();
        for (size_t k = 0; k < sl.n; k++)
            if (out->row.health_from_ms <= 0 || sl.at[k] >= out->row.health_from_ms)
                add_state(&c, sl.st[k],
                          sl.st[k] == ST_DOWNLOADING && out->row.silent_ms > 0 &&
                              now - sl.at[k] >= out->row.silent_ms);
        health_of(&out->row, &c, out->health, sizeof out->health);
    }
    free(sl.mac);
    free(sl.st);
    free(sl.at);
    free(tgt);
    return rc;
}

/* ---- admin --------------------------------------------------------------------------------- */

typedef struct last_id {
    int64_t id;
} last_id;

static int note_last(void *ctx, const upd_rollout_row *r)
{
    ((last_id *)ctx)->id = r->id;
    return 0;
}

/* Is active rollout e one a new rollout of rel must not overlap? */
static int may_overlap(const ro_ent *e, const upd_release_row *rel)
{
    if (!e->active || strcmp(e->mode, rel->mode))
        return 0;
    return !strcmp(e->platform, rel->platform) || !strcmp(e->platform, "any") ||
           !strcmp(rel->platform, "any");
}

/* Read the devices of row's target into *hs (0: the caller frees them) and check, on
 * the same pass over the registry, that the channels' signing keys take rel (sw, NULL
 * for a rollback; freed here) and that no other active rollout covers any of these
 * devices (known devices only). UPD_RO_ECONFLICT with the sentence in why when one of
 * them says no, UPD_RO_EFAIL when the store failed. Under admin (which keeps the
 * rollouts as they are). */
static int target_pass(upd_rollouts *ro, const upd_rollout_row *row, const upd_release_row *rel,
                       const upd_ro_target *tgt, upd_sign_walk *sw, hashes *hs, char *why,
                       size_t whylen)
{
    other_ro *oth = NULL;
    size_t noth = 0;
    if (row->rollback_of <= 0) {
        pthread_rwlock_rdlock(&ro->lk);
        for (size_t i = 0; i < ro->nents; i++)
            noth += may_overlap(ro->ents[i], rel) && ro->ents[i]->row.rollback_of <= 0;
        oth = noth ? calloc(noth, sizeof *oth) : NULL;
        noth = 0;
        for (size_t i = 0; oth && i < ro->nents; i++) {
            const ro_ent *e = ro->ents[i];
            if (!may_overlap(e, rel) || e->row.rollback_of > 0)
                continue;
            other_ro *o = &oth[noth++];
            o->id = e->row.id;
            o->release_id = e->row.release_id;
            upd__copy(o->state, sizeof o->state, e->row.state);
            upd__copy(o->target, sizeof o->target, e->row.target);
            o->tgt = e->tgt;
        }
        pthread_rwlock_unlock(&ro->lk);
    }
    if (target_devices_with(ro->s, row, rel, tgt, oth, noth, sw, hs) != 0) {
        free(oth);
        if (sw) {
            upd__sign_walk_failed(sw);
            upd__sign_walk_end(sw, why, whylen);
        }
        snprintf(why, whylen, "the database failed while listing the target's devices");
        return UPD_RO_EFAIL;
    }
    /* devices on a channel that requires a signing key refuse what it does not verify */
    int sr = sw ? upd__sign_walk_end(sw, why, whylen) : 0;
    if (sr) {
        free(oth);
        hashes_free(hs);
        return sr == -1 ? UPD_RO_ECONFLICT : UPD_RO_EFAIL;
    }
    int found = 0;
    pthread_rwlock_rdlock(&ro->lk);
    for (size_t i = 0; i < ro->nents && !found; i++) {
        const ro_ent *e = ro->ents[i];
        if (!may_overlap(e, rel))
            continue;
        int64_t n = 0;
        const char *first = NULL;
        if (row->rollback_of <= 0 && e->row.rollback_of <= 0) {
            for (size_t k = 0; k < noth; k++)
                if (oth[k].id == e->row.id && oth[k].n) {
                    n = oth[k].n;
                    first = oth[k].first;
                }
        } else {
            for (size_t k = 0; k < hs->n; k++) {
                int in;
                if (e->row.rollback_of > 0) {
                    const ro_ent *src = find_ent(ro, e->row.rollback_of);
                    const rdev *d = src ? dev_find(src, hs->mac[k]) : NULL;
                    in = d && got_it(d->st);
                } else {
                    /* a rollback's devices came without their rows: read each */
                    upd_device_row d;
                    in = ro->s->store->ops->device_get(ro->s->store, hs->mac[k], &d) == 0 &&
                         upd__ro_target_match(&e->tgt, &d, hs->now);
                }
                if (in) {
                    if (!first)
                        first = hs->mac[k];
                    n++;
                }
            }
        }
        if (n) {
            snprintf(why, whylen,
                     "rollout %lld (release %lld, %s, target '%s') already covers %lld of the "
                     "%zu devices this target names (%s, ...): one active rollout per device; "
                     "abort it ('updraft rollout abort %lld') or narrow --target",
                     (long long)e->row.id, (long long)e->row.release_id, e->row.state,
                     e->row.target[0] ? e->row.target : "all", (long long)n, hs->n, first,
                     (long long)e->row.id);
            found = 1;
        }
    }
    pthread_rwlock_unlock(&ro->lk);
    free(oth);
    if (found)
        hashes_free(hs);
    return found ? UPD_RO_ECONFLICT : 0;
}

static void normalise_defaults(upd_rollout_row *r)
{
    if (!r->waves[0])
        upd__copy(r->waves, sizeof r->waves, UPD_RO_DEFAULT_WAVES);
    if (r->silent_ms <= 0)
        r->silent_ms = UPD_RO_DEFAULT_SILENT;
}

int upd__rollout_create(upd_rollouts *ro, upd_rollout_row *r, int plan_only, upd_rollout_status *st,
                        char *why, size_t whylen)
{
    srv *s = ro->s;
    upd_writer_flush(s->writer); /* the devices that just checked in are in its waves */
    normalise_defaults(r);
    int n;
    int64_t val[UPD_WAVES_MAX];
    int pct[UPD_WAVES_MAX];
    char norm[128];
    if (upd__rollout_parse_waves(r->waves, &n, val, pct, norm, sizeof norm, why, whylen))
        return UPD_RO_EINVAL;
    upd__copy(r->waves, sizeof r->waves, norm);
    upd_release_row *rel = malloc(sizeof *rel);
    if (!rel)
        return UPD_RO_EFAIL;
    int rc = s->store->ops->release_get(s->store, r->release_id, rel);
    if (rc) {
        snprintf(why, whylen, "there is no release %lld: 'updraft release list' shows them",
                 (long long)r->release_id);
        free(rel);
        return rc == UPD_STORE_ENOTFOUND ? UPD_RO_ENOTFOUND : UPD_RO_EFAIL;
    }
    if (rel->retired) {
        snprintf(why, whylen,
                 "release %lld is retired: a rollout offers only releases that are not "
                 "('updraft release unretire %lld')",
                 (long long)rel->id, (long long)rel->id);
        free(rel);
        return UPD_RO_ECONFLICT;
    }
    upd_ro_target *tgt = calloc(1, sizeof *tgt);
    if (!tgt) {
        free(rel);
        return UPD_RO_EFAIL;
    }
    char canon[UPD_TARGET_MAX];
    if (r->rollback_of <= 0) {
        if (upd__ro_target_compile(r->target, s, tgt, canon, sizeof canon, why, whylen)) {
            free(rel);
            free(tgt);
            return UPD_RO_EINVAL;
        }
        upd__copy(r->target, sizeof r->target, canon);
    }
    pthread_mutex_lock(&ro->admin);
    /* a release deleted or retired since it was read above (they hold admin too) */
    if (s->store->ops->release_get(s->store, r->release_id, rel) != 0 || rel->retired) {
        snprintf(why, whylen, "release %lld was deleted or retired just now",
                 (long long)r->release_id);
        rc = UPD_RO_ECONFLICT;
        goto out;
    }
    last_id li = {0};
    s->store->ops->rollout_list(s->store, note_last, &li);
    r->id = li.id + 1; /* the id it will get (rollouts are never deleted) */
    int64_t now = upd__now_ms();
    upd__copy(r->state, sizeof r->state, r->start_at_ms > now ? "scheduled" : "running");
    r->wave = 0;
    r->thresholds[0] = '\0';
    r->health_from_ms = 0;
    upd_sign_walk *sw = NULL;
    if (r->rollback_of <= 0 && !(sw = upd__sign_walk_new(s, rel))) {
        rc = UPD_RO_EFAIL;
        goto out;
    }
    hashes hs;
    if ((rc = target_pass(ro, r, rel, tgt, sw, &hs, why, whylen)) != 0)
        goto out;
    if (st) {
        memset(st, 0, sizeof *st);
        st->row = *r;
        st->rel = *rel;
        rc = fill_status(s, r, tgt, NULL, &hs, st, why, whylen);
    }
    hashes_free(&hs);
    if (rc)
        goto out;
    if (plan_only) {
        rc = 0;
        goto out;
    }
    char t[40] = "";
    if (r->start_at_ms > now)
        upd__iso_time(r->start_at_ms, t, sizeof t);
    char what[UPD_TARGET_MAX + 48];
    if (r->rollback_of > 0)
        snprintf(what, sizeof what, "the devices that got rollout %lld's release",
                 (long long)r->rollback_of);
    else
        snprintf(what, sizeof what, "target '%s'", r->target[0] ? r->target : "all");
    snprintf(r->reason, sizeof r->reason, "%s by %.60s: release %lld (version %.60s) to %.300s%s%s",
             r->rollback_of > 0 ? "rollback created" : "created", r->created_by, (long long)rel->id,
             rel->version, what, t[0] ? ", starts at " : "", t);
    char err[256] = "";
    rc = s->store->ops->rollout_insert(s->store, r, "rollout-created", r->reason, err, sizeof err);
    if (rc) {
        snprintf(why, whylen, "the database failed: %s", err);
        rc = UPD_RO_EFAIL;
        goto out;
    }
    ro_ent *e = ent_new(s, r, why, whylen);
    if (!e || add_ent(ro, e) != 0) {
        ent_free(e);
        rc = UPD_RO_EFAIL;
        goto out;
    }
    recount_active(ro);
    if (r->webhook[0]) {
        char *body = hook_body(r, e, "rollout-created");
        if (body)
            upd__webhook_post(ro->hooks, r->webhook, body, r->id);
        free(body);
    }
    if (!strcmp(r->state, "running") && e->win_open)
        open_wave(ro, e, "start");
    else if (!strcmp(r->state, "running"))
        window_wait(e, "wave 1 is due");
    pthread_rwlock_rdlock(&ro->lk);
    *r = e->row;
    pthread_rwlock_unlock(&ro->lk);
    rc = 0;
out:
    pthread_mutex_unlock(&ro->admin);
    free(rel);
    free(tgt);
    return rc;
}

int upd__rollout_act(upd_rollouts *ro, int64_t id, const char *action, const char *by,
                     const char *note, upd_rollout_row *out, char *why, size_t whylen)
{
    pthread_mutex_lock(&ro->admin);
    int rc = 0;
    ro_ent *e = find_ent(ro, id);
    if (!e || !e->active) {
        upd_rollout_row row;
        int g = ro->s->store->ops->rollout_get(ro->s->store, id, &row);
        if (g == UPD_STORE_ENOTFOUND) {
            snprintf(why, whylen, "there is no rollout %lld: 'updraft rollout list' shows them",
                     (long long)id);
            rc = UPD_RO_ENOTFOUND;
        } else {
            snprintf(why, whylen, "rollout %lld is %s: it cannot be %s", (long long)id,
                     g ? "unreadable" : row.state,
                     !strcmp(action, "pause")    ? "paused"
                     : !strcmp(action, "resume") ? "resumed"
                                                 : "aborted");
            rc = g ? UPD_RO_EFAIL : UPD_RO_ECONFLICT;
        }
        goto out;
    }
    char n[200] = "";
    if (note && *note)
        snprintf(n, sizeof n, ": %.180s", note);
    const char *kind;
    pthread_rwlock_wrlock(&ro->lk);
    const char *was = e->row.state;
    int64_t now = upd__now_ms();
    if (!strcmp(action, "pause")) {
        if (!strcmp(was, "paused")) {
            snprintf(why, whylen, "rollout %lld is paused already (%s)", (long long)id,
                     e->row.reason);
            rc = UPD_RO_ECONFLICT;
        } else {
            upd__copy(e->row.state, sizeof e->row.state, "paused");
            snprintf(e->row.reason, sizeof e->row.reason, "paused by %s%s", by, n);
        }
        kind = "rollout-paused";
    } else if (!strcmp(action, "resume")) {
        if (strcmp(was, "paused")) {
            snprintf(why, whylen, "rollout %lld is %s, not paused", (long long)id, was);
            rc = UPD_RO_ECONFLICT;
        } else {
            upd__copy(e->row.state, sizeof e->row.state,
                      e->row.wave == 0 && e->row.start_at_ms > now ? "scheduled" : "running");
            /* the failures so far were seen and accepted: judge what comes from now on */
            e->row.health_from_ms = now;
            e->dirty = 0;
            snprintf(e->row.reason, sizeof e->row.reason,
                     "resumed by %s%s (failures before now no longer count)", by, n);
        }
        kind = "rollout-resumed";
    } else {
        upd__copy(e->row.state, sizeof e->row.state, "aborted");
        snprintf(e->row.reason, sizeof e->row.reason,
                 "aborted by %s%s: its release is no longer offered to devices that have not "
                 "started",
                 by, n);
        e->active = 0;
        e->dirty = 0;
        kind = "rollout-aborted";
    }
    if (rc == 0)
        e->row.updated_ms = now;
    char detail[UPD_DETAIL_MAX];
    upd__copy(detail, sizeof detail, e->row.reason);
    pthread_rwlock_unlock(&ro->lk);
    recount_active(ro);
    if (rc == 0)
        rc = persist(ro, e, kind, detail, why, whylen);
    if (rc == 0 && out) {
        pthread_rwlock_rdlock(&ro->lk);
        *out = e->row;
        pthread_rwlock_unlock(&ro->lk);
    }
out:
    pthread_mutex_unlock(&ro->admin);
    return rc;
}

typedef struct named_ctx {
    int64_t release_id;
    upd_rollout_row found;
    int n;
} named_ctx;

static int note_named(void *ctx, const upd_rollout_row *r)
{
    named_ctx *nc = ctx;
    if (r->release_id == nc->release_id && nc->n++ == 0)
        nc->found = *r;
    return 0;
}

int upd__rollout_release_lock(upd_rollouts *ro, int64_t release_id, int deleting, char *why,
                              size_t whylen)
{
    if (!ro)
        return 0;
    pthread_mutex_lock(&ro->admin);
    int used = 0;
    pthread_rwlock_rdlock(&ro->lk);
    for (size_t i = 0; i < ro->nents && !used; i++) {
        const ro_ent *e = ro->ents[i];
        if (!e->active || e->row.release_id != release_id)
            continue;
        snprintf(why, whylen,
                 "rollout %lld (%s) offers release %lld%s: abort it first ('updraft rollout "
                 "abort %lld'), or let it complete",
                 (long long)e->row.id, e->row.state, (long long)release_id,
                 e->row.rollback_of > 0 ? " as a rollback" : "", (long long)e->row.id);
        used = 1;
    }
    pthread_rwlock_unlock(&ro->lk);
    if (!used && deleting) {
        named_ctx *nc = calloc(1, sizeof *nc);
        if (!nc) {
            snprintf(why, whylen, "out of memory");
            used = 1;
        } else {
            nc->release_id = release_id;
            if (ro->s->store->ops->rollout_list(ro->s->store, note_named, nc) != 0) {
                snprintf(why, whylen, "the database failed listing the rollouts");
                used = 1;
            } else if (nc->n) {
                snprintf(why, whylen,
                         "rollout %lld (%s)%s rolled it out and its history names it: retire it "
                         "instead ('updraft release retire %lld'), which offers it to no device",
                         (long long)nc->found.id, nc->found.state, nc->n > 1 ? " and others" : "",
                         (long long)release_id);
                used = 1;
            }
            free(nc);
        }
    }
    if (used)
        pthread_mutex_unlock(&ro->admin);
    return used;
}

void upd__rollout_release_unlock(upd_rollouts *ro)
{
    if (ro)
        pthread_mutex_unlock(&ro->admin);
}

typedef struct prev_ctx {
    const upd_release_row *bad;
    upd_release_row best;
    int found;
} prev_ctx;

static int pick_prev(void *ctx, const upd_release_row *r)
{
    prev_ctx *pc = ctx;
    if (r->retired || r->id == pc->bad->id || strcmp(r->platform, pc->bad->platform) ||
        strcmp(r->mode, pc->bad->mode) || upd_version_cmp(r->version, pc->bad->version) >= 0)
        return 0;
    if (!pc->found || upd_version_cmp(r->version, pc->best.version) > 0 ||
        (upd_version_cmp(r->version, pc->best.version) == 0 && r->id > pc->best.id)) {
        pc->best = *r;
        pc->found = 1;
    }
    return 0;
}

int upd__rollout_rollback(upd_rollouts *ro, int64_t id, upd_rollout_row *r, char *why,
                          size_t whylen)
{
    srv *s = ro->s;
    upd_rollout_row *bad = malloc(sizeof *bad);
    prev_ctx *pc = calloc(1, sizeof *pc);
    upd_release_row *badrel = malloc(sizeof *badrel);
    int rc = 0;
    if (!bad || !pc || !badrel) {
        rc = UPD_RO_EFAIL;
        goto out;
    }
    int g = s->store->ops->rollout_get(s->store, id, bad);
    if (g) {
        snprintf(why, whylen, "there is no rollout %lld: 'updraft rollout list' shows them",
                 (long long)id);
        rc = g == UPD_STORE_ENOTFOUND ? UPD_RO_ENOTFOUND : UPD_RO_EFAIL;
        goto out;
    }
    if (s->store->ops->release_get(s->store, bad->release_id, badrel) != 0) {
        snprintf(why, whylen, "rollout %lld's release %lld is gone", (long long)id,
                 (long long)bad->release_id);
        rc = UPD_RO_ENOTFOUND;
        goto out;
    }
    if (r->release_id <= 0) {
        pc->bad = badrel;
        s->store->ops->release_list(s->store, pick_prev, pc);
        if (!pc->found) {
            snprintf(why, whylen,
                     "no release of %s %s older than version %.60s is left to roll back to: "
                     "upload one and pass --release",
                     badrel->platform, badrel->mode, badrel->version);
            rc = UPD_RO_ENOTFOUND;
            goto out;
        }
        r->release_id = pc->best.id;
    }
    if (r->release_id == bad->release_id) {
        snprintf(why, whylen, "release %lld is the one rollout %lld rolled out: name an older one",
                 (long long)r->release_id, (long long)id);
        rc = UPD_RO_EINVAL;
        goto out;
    }
    if (is_active_state(bad->state)) {
        char note[64];
        snprintf(note, sizeof note, "rolled back");
        rc = upd__rollout_act(ro, id, "abort", r->created_by, note, NULL, why, whylen);
        if (rc)
            goto out;
    }
    /* its devices are the rollback's target: keep them in memory */
    pthread_mutex_lock(&ro->admin);
    if (!find_ent(ro, id)) {
        ro_ent *src = load_ent(ro, id, why, whylen);
        if (!src || add_ent(ro, src) != 0) {
            ent_free(src);
            rc = UPD_RO_EFAIL;
        }
    }
    pthread_mutex_unlock(&ro->admin);
    if (rc)
        goto out;
    r->rollback_of = id;
    r->allow_downgrade = 1;
    r->target[0] = '\0';
    if (!r->waves[0])
        upd__copy(r->waves, sizeof r->waves, "100%");
    rc = upd__rollout_create(ro, r, 0, NULL, why, whylen);
out:
    free(bad);
    free(pc);
    free(badrel);
    return rc;
}
