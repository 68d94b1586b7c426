/* Per-address connection limit and request-head deadline (connguard.h): one table of
 * addresses (open connections, what to log), one list of open connections, one mutex
 * over both, and a thread that cuts the connections whose head is late.
 *
 * Cutting: the thread shuts the socket down (shutdown(2), not close: the descriptor stays
 * libmicrohttpd's), which wakes the connection's daemon with an end of stream, and the
 * daemon closes it. A record leaves the list in the "closed" notification, which
 * libmicrohttpd sends before it closes the descriptor; the thread shuts down only
 * sockets whose record it finds in the list under the mutex, so never a descriptor that
 * was closed and reused. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "connguard.h"
#include "log.h"

#define NBUCKETS 1024
#define NLINES   16 /* log lines one pass of the thread may write */

/* The address a connection counts under, in binary: compared and hashed on every
 * connection (twice: the accept callback, then the "started" notification), so never
 * formatted there; the text is made only for a log line (key_text). */
typedef struct addr_key {
    unsigned char family; /* 4, 6 (its /64 in b[0..7]), 0: unknown */
    unsigned char b[8];   /* IPv4: b[0..3] */
} addr_key;

typedef struct addr_entry {
    struct addr_entry *next; /* hash chain */
    addr_key key;
    unsigned open;
    unsigned refused_since_log, cut_since_log;
    int64_t logged_ms; /* 0: never logged */
} addr_entry;

/* A connection. The list links, a and cut are under g->mu; the head's deadline
 * (since_ms, deadline_s, waiting) is set by the connection's own thread on every request
 * without the mutex (it is one of the few shared locks on the path of every check): it
 * writes since_ms and deadline_s before it sets waiting (release), and the deadline
 * thread reads waiting (acquire) before them. */
typedef struct conn_rec {
    struct conn_rec *prev, *next;
    upd_connguard *g;
    addr_entry *a;
    int fd;
    _Atomic int64_t since_ms;    /* the head being waited for: since when */
    _Atomic unsigned deadline_s; /* and for how long */
    atomic_int waiting;          /* a head is being waited for */
    int cut;                     /* its socket was shut down */
} conn_rec;

struct upd_connguard {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int stop;
    unsigned per_address, head_s, keep_s;
    addr_entry *bucket[NBUCKETS];
    conn_rec *conns;
    _Atomic uint64_t refused, cut;
};

typedef struct line {
    char text[320];
} line;

/* The key an address counts under (authlimit.c's rule: IPv4 one by one, IPv4-mapped IPv6
 * as IPv4, IPv6 by its /64). */
static addr_key key_of(const struct sockaddr *sa)
{
    addr_key k;
    memset(&k, 0, sizeof k);
    if (sa && sa->sa_family == AF_INET) {
        k.family = 4;
        memcpy(k.b, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            k.family = 4;
            memcpy(k.b, a->s6_addr + 12, 4);
        } else {
            k.family = 6;
            memcpy(k.b, a->s6_addr, 8);
        }
    }
    return k;
}

/* "203.0.113.9", "2001:db8:1:2::/64", "?": the key as the log says it. */
static void key_text(const addr_key *k, char out[64])
{
    char buf[INET6_ADDRSTRLEN] = "?";
    if (k->family == 4) {
        inet_ntop(AF_INET, k->b, buf, sizeof buf);
        snprintf(out, 64, "%s", buf);
    } else if (k->family == 6) {
        unsigned char a[16] = {0};
        memcpy(a, k->b, 8);
        inet_ntop(AF_INET6, a, buf, sizeof buf);
        snprintf(out, 64, "%.46s/64", buf);
    } else {
        snprintf(out, 64, "%s", buf);
    }
}

static int key_eq(const addr_key *a, const addr_key *b)
{
    return a->family == b->family && !memcmp(a->b, b->b, sizeof a->b);
}

static uint32_t hash(const addr_key *k)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    h = (h ^ k->family) * 16777619u;
    for (size_t i = 0; i < sizeof k->b; i++)
        h = (h ^ k->b[i]) * 16777619u;
    return h;
}

/* The entry of key, created when missing (NULL when out of memory). Under g->mu. */
static addr_entry *find(upd_connguard *g, const addr_key *key)
{
    addr_entry **b = &g->bucket[hash(key) % NBUCKETS];
    for (addr_entry *e = *b; e; e = e->next)
        if (key_eq(&e->key, key))
            return e;
    addr_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->key = *key;
    e->next = *b;
    *b = e;
    return e;
}

/* What the address did since its last line, into out, when it has something to say and
 * its last line is older than the interval (or force). 1 when out was written. Under
 * g->mu. */
static int due_line(upd_connguard *g, addr_entry *e, int64_t now_ms, int force, line *out)
{
    if (!e->refused_since_log && !e->cut_since_log)
        return 0;
    if (!force && e->logged_ms && now_ms - e->logged_ms < (int64_t)UPD_CONNGUARD_LOG_S * 1000)
        return 0;
    char key[64];
    key_text(&e->key, key);
    snprintf(out->text, sizeof out->text,
             "%s: %u connection(s) refused at its limit of %u open connections, %u cut for not "
             "sending a complete request head in time (%u s), since %s; %u open now",
             key, e->refused_since_log, g->per_address, e->cut_since_log, g->head_s,
             e->logged_ms ? "its last report" : "its first", e->open);
    e->logged_ms = now_ms ? now_ms : 1;
    e->refused_since_log = e->cut_since_log = 0;
    return 1;
}

static void emit(const line *lines, int n)
{
    for (int i = 0; i < n; i++)
        upd__log(UPD_LOG_WARN, "slow-clients", "%s", lines[i].text);
}

enum MHD_Result upd_connguard_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addrlen;
    upd_connguard *g = cls;
    addr_key key = key_of(addr);
    line l;
    int say = 0;
    enum MHD_Result ok = MHD_YES;
    pthread_mutex_lock(&g->mu);
    addr_entry *e = find(g, &key);
    if (e && e->open >= g->per_address) {
        ok = MHD_NO;
        atomic_fetch_add(&g->refused, 1);
        e->refused_since_log++;
        say = due_line(g, e, upd__mono_ms(), 0, &l);
    }
    pthread_mutex_unlock(&g->mu);
    if (say)
        emit(&l, 1);
    return ok;
}

void upd_connguard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    upd_connguard *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_rec *r = *socket_context;
        if (!r)
            return;
        pthread_mutex_lock(&g->mu);
        if (r->prev)
            r->prev->next = r->next;
        else
            g->conns = r->next;
        if (r->next)
            r->next->prev = r->prev;
        if (r->a && r->a->open)
            r->a->open--;
        pthread_mutex_unlock(&g->mu);
        *socket_context = NULL;
        free(r);
        return;
    }
    if (code != MHD_CONNECTION_NOTIFY_STARTED)
        return;
    const union MHD_ConnectionInfo *fi =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ai =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    conn_rec *r = calloc(1, sizeof *r);
    if (!r || !fi)
        return free(r); /* not guarded: out of memory is not the client's fault */
    addr_key key = key_of(ai ? ai->client_addr : NULL);
    r->g = g;
    r->fd = fi->connect_fd;
    int64_t now = upd__mono_ms();
    atomic_init(&r->since_ms, now);
    atomic_init(&r->deadline_s, g->head_s);
    atomic_init(&r->waiting, 1);
    line l;
    int say = 0;
    pthread_mutex_lock(&g->mu);
    r->a = find(g, &key);
    if (r->a) {
        r->a->open++;
        /* the accept callback looked, but another daemon's thread may have taken the
         * last place since: refuse this one now */
        if (r->a->open > g->per_address) {
            atomic_fetch_add(&g->refused, 1);
            r->a->refused_since_log++;
            say = due_line(g, r->a, now, 0, &l);
            r->cut = 1;
            shutdown(r->fd, SHUT_RDWR);
        }
    }
    r->next = g->conns;
    if (g->conns)
        g->conns->prev = r;
    g->conns = r;
    pthread_mutex_unlock(&g->mu);
    *socket_context = r;
    if (say)
        emit(&l, 1);
}

static conn_rec *rec_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

void upd_connguard_head_done(struct MHD_Connection *c)
{
    conn_rec *r = rec_of(c);
    if (r)
        atomic_store_explicit(&r->waiting, 0, memory_order_release);
}

void upd_connguard_request_done(struct MHD_Connection *c)
{
    conn_rec *r = rec_of(c);
    if (!r)
        return;
    atomic_store_explicit(&r->since_ms, upd__mono_ms(), memory_order_relaxed);
    atomic_store_explicit(&r->deadline_s, r->g->keep_s, memory_order_relaxed);
    atomic_store_explicit(&r->waiting, 1, memory_order_release);
}

/* One pass: cut the late heads, say what is due, forget quiet addresses. Lines that do
 * not fit in this pass go out in the next one. Under g->mu. */
static int pass(upd_connguard *g, int64_t now_ms, line *lines, int force)
{
    int n = 0;
    for (conn_rec *r = g->conns; r; r = r->next) {
        if (r->cut || !atomic_load_explicit(&r->waiting, memory_order_acquire))
            continue;
        int64_t since = atomic_load_explicit(&r->since_ms, memory_order_relaxed);
        unsigned deadline_s = atomic_load_explicit(&r->deadline_s, memory_order_relaxed);
        if (now_ms - since < (int64_t)deadline_s * 1000)
            continue;
        r->cut = 1;
        shutdown(r->fd, SHUT_RDWR);
        atomic_fetch_add(&g->cut, 1);
        if (r->a)
            r->a->cut_since_log++;
    }
    for (size_t b = 0; b < NBUCKETS; b++) {
        for (addr_entry **p = &g->bucket[b]; *p;) {
            addr_entry *e = *p;
            if (n < NLINES && due_line(g, e, now_ms, force, &lines[n]))
                n++;
            int quiet =
                !e->open && !e->refused_since_log && !e->cut_since_log &&
                (!e->logged_ms || now_ms - e->logged_ms >= (int64_t)UPD_CONNGUARD_LOG_S * 1000);
            if (quiet) {
                *p = e->next;
                free(e);
            } else {
                p = &e->next;
            }
        }
    }
    return n;
}

static void *run(void *arg)
{
    upd_connguard *g = arg;
    line lines[NLINES];
    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
        if (g->stop)
            break;
        int n = pass(g, upd__mono_ms(), lines, 0);
        pthread_mutex_unlock(&g->mu);
        emit(lines, n);
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

upd_connguard *upd_connguard_new(unsigned per_address, unsigned head_s, unsigned keep_s)
{
    upd_connguard *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->per_address = per_address;
    g->head_s = head_s;
    g->keep_s = keep_s > head_s ? keep_s : head_s;
    pthread_mutex_init(&g->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&g->thread, NULL, run, g) != 0) {
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
        free(g);
        return NULL;
    }
    return g;
}

void upd_connguard_free(upd_connguard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    g->stop = 1;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    /* what is still unsaid goes out now */
    line l;
    for (size_t b = 0; b < NBUCKETS; b++) {
        while (g->bucket[b]) {
            addr_entry *e = g->bucket[b];
            g->bucket[b] = e->next;
            if (due_line(g, e, upd__mono_ms(), 1, &l))
                emit(&l, 1);
            free(e);
        }
    }
    while (g->conns) { /* none once the daemons are stopped; to be safe */
        conn_rec *r = g->conns;
        g->conns = r->next;
        free(r);
    }
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

uint64_t upd_connguard_refused(const upd_connguard *g)
{
    return g ? atomic_load(&((upd_connguard *)g)->refused) : 0;
}

uint64_t upd_connguard_cut(const upd_connguard *g)
{
    return g ? atomic_load(&((upd_connguard *)g)->cut) : 0;
}
