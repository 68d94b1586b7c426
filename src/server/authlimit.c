/* Failed authentication per source address (authlimit.h): a fixed table of sources
 * under one mutex, open addressing on a hash of the address. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "authlimit.h"

#define SLOTS 4096 /* a power of two */
#define PROBE 16   /* slots looked at per address; the stalest one of them is reused */

typedef struct source {
    char key[112]; /* the address (IPv6: its /64 as "2001:db8:1:2::/64") and the scope,
                    * "" free */
    unsigned failures;
    unsigned level; /* blocks so far: the next one lasts 2^level s */
    int64_t last_fail_ms;
    int64_t blocked_until_ms;
    int64_t logged_ms;        /* when it was last logged, 0 never */
    unsigned fails_since_log; /* what it did since then */
    unsigned refused_since_log;
} source;

struct upd_authlimit {
    pthread_mutex_t mu;
    char what[32];
    _Atomic unsigned used; /* slots in use (0: check() and ok() need not look) */
    _Atomic uint64_t failures, refused;
    source tab[SLOTS];
};

upd_authlimit *upd_authlimit_new(const char *what)
{
    upd_authlimit *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    pthread_mutex_init(&l->mu, NULL);
    snprintf(l->what, sizeof l->what, "%s", what);
    return l;
}

void upd_authlimit_free(upd_authlimit *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* The key an address (and scope) counts under. */
static void source_key(const char *ip, const char *scope, char out[112])
{
    struct in6_addr a;
    char addr[64];
    snprintf(addr, sizeof addr, "%s", ip);
    if (strchr(ip, ':') && inet_pton(AF_INET6, ip, &a) == 1) {
        if (IN6_IS_ADDR_V4MAPPED(&a)) { /* an IPv4 client of a dual-stack socket */
            inet_ntop(AF_INET, a.s6_addr + 12, addr, sizeof addr);
        } else {
            memset(a.s6_addr + 8, 0, 8);
            char buf[INET6_ADDRSTRLEN];
            inet_ntop(AF_INET6, &a, buf, sizeof buf);
            snprintf(addr, sizeof addr, "%.46s/64", buf);
        }
    }
    if (scope && *scope)
        snprintf(out, 112, "%.63s (%.40s)", addr, scope);
    else
        snprintf(out, 112, "%s", addr);
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int stale(const source *e, int64_t now_ms)
{
    return now_ms - e->last_fail_ms > (int64_t)UPD_AUTHLIMIT_FORGET_S * 1000 &&
           now_ms >= e->blocked_until_ms;
}

/* The source of key (created when create), or NULL. Under l->mu. A lookup looks at all
 * PROBE slots (an empty one does not end it), so a slot may be freed at any time. */
static source *find(upd_authlimit *l, const char *key, int64_t now_ms, int create)
{
    uint32_t h = hash(key);
    source *free_slot = NULL, *stale_slot = NULL, *oldest = NULL;
    for (unsigned i = 0; i < PROBE; i++) {
        source *e = &l->tab[(h + i) & (SLOTS - 1)];
        if (e->key[0] && !strcmp(e->key, key))
            return e;
        if (!e->key[0]) {
            if (!free_slot)
                free_slot = e;
        } else if (stale(e, now_ms)) {
            if (!stale_slot)
                stale_slot = e;
        } else if (!oldest || e->last_fail_ms < oldest->last_fail_ms) {
            oldest = e;
        }
    }
    if (!create)
        return NULL;
    /* a free slot, else a forgotten source's, else the one that failed longest ago */
    source *e = free_slot ? free_slot : stale_slot ? stale_slot : oldest;
    if (!e->key[0])
        atomic_fetch_add(&l->used, 1);
    memset(e, 0, sizeof *e);
    snprintf(e->key, sizeof e->key, "%s", key);
    return e;
}

static void forget(upd_authlimit *l, source *e)
{
    e->key[0] = '\0';
    atomic_fetch_sub(&l->used, 1);
}

/* Say what the source did since it was last logged, at most once per interval. */
static void maybe_log(upd_authlimit *l, source *e, int64_t now_ms)
{
    if (e->logged_ms && now_ms - e->logged_ms < (int64_t)UPD_AUTHLIMIT_LOG_S * 1000)
        return;
    int64_t wait = e->blocked_until_ms > now_ms ? (e->blocked_until_ms - now_ms + 999) / 1000 : 0;
    char tail[96];
    if (wait)
        snprintf(tail, sizeof tail, "it is refused (429) for the next %lld s", (long long)wait);
    else
        snprintf(tail, sizeof tail, "%u more failure(s) before it is made to wait",
                 e->failures < UPD_AUTHLIMIT_FREE ? UPD_AUTHLIMIT_FREE - e->failures : 0);
    upd__log(UPD_LOG_WARN, "auth-failures",
             "%s from %s: %u failed authentication(s), %u request(s) refused (429) since %s; %s",
             l->what, e->key, e->fails_since_log, e->refused_since_log,
             e->logged_ms ? "the last report" : "the first failure", tail);
    e->logged_ms = now_ms;
    e->fails_since_log = 0;
    e->refused_since_log = 0;
}

unsigned upd_authlimit_check(upd_authlimit *l, const char *ip, const char *scope, int64_t now_ms)
{
    if (!l || atomic_load(&l->used) == 0)
        return 0;
    char key[112];
    source_key(ip, scope, key);
    unsigned wait = 0;
    pthread_mutex_lock(&l->mu);
    source *e = find(l, key, now_ms, 0);
    if (e && e->blocked_until_ms > now_ms) {
        wait = (unsigned)((e->blocked_until_ms - now_ms + 999) / 1000);
        e->refused_since_log++;
        atomic_fetch_add(&l->refused, 1);
        maybe_log(l, e, now_ms);
    } else if (e && stale(e, now_ms)) {
        forget(l, e);
    }
    pthread_mutex_unlock(&l->mu);
    return wait;
}

unsigned upd_authlimit_fail(upd_authlimit *l, const char *ip, const char *scope, int64_t now_ms)
{
    if (!l)
        return 0;
    atomic_fetch_add(&l->failures, 1);
    char key[112];
    source_key(ip, scope, key);
    unsigned wait = 0;
    pthread_mutex_lock(&l->mu);
    source *e = find(l, key, now_ms, 1);
    if (e) {
        if (e->failures && stale(e, now_ms)) {
            e->failures = 0;
            e->level = 0;
        }
        e->failures++;
        e->fails_since_log++;
        e->last_fail_ms = now_ms;
        if (e->failures > UPD_AUTHLIMIT_FREE) {
            wait = e->level >= 9 ? UPD_AUTHLIMIT_MAX_S : 1u << e->level;
            if (wait > UPD_AUTHLIMIT_MAX_S)
                wait = UPD_AUTHLIMIT_MAX_S;
            e->level++;
            e->blocked_until_ms = now_ms + (int64_t)wait * 1000;
        }
        maybe_log(l, e, now_ms);
    }
    pthread_mutex_unlock(&l->mu);
    return wait;
}

void upd_authlimit_ok(upd_authlimit *l, const char *ip, const char *scope)
{
    if (!l || atomic_load(&l->used) == 0)
        return;
    char key[112];
    source_key(ip, scope, key);
    pthread_mutex_lock(&l->mu);
    source *e = find(l, key, 0, 0);
    if (e && e->blocked_until_ms == 0 && e->failures == 0) {
        pthread_mutex_unlock(&l->mu);
        return;
    }
    if (e) { /* its failures go; when it was logged stays (once per interval) */
        e->failures = 0;
        e->level = 0;
        e->blocked_until_ms = 0;
    }
    pthread_mutex_unlock(&l->mu);
}

uint64_t upd_authlimit_failures(const upd_authlimit *l)
{
    return l ? atomic_load(&((upd_authlimit *)l)->failures) : 0;
}

uint64_t upd_authlimit_refused(const upd_authlimit *l)
{
    return l ? atomic_load(&((upd_authlimit *)l)->refused) : 0;
}
