/* The device memory's sync across servers (devsync.h): a thread that looks at the
 * database's device changes every UPD_DEVSYNC_EVERY_MS and drops what other servers
 * wrote. It only drops: the next check reads the row from the database and keeps it
 * (store_cache.c), so a row read here can never overwrite a newer one the server's own
 * writer put in the memory meanwhile. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "devsync.h"
#include "log.h"
#include "metrics.h"

struct upd_devsync {
    upd_store *st;
    void (*drop)(void *ctx, const char *mac);
    void *ctx;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled after each look, and to stop */
    int stop;
    uint64_t mark; /* the store's place in the changes (store.h device_changes) */
    /* monotonic ms the last look that got through began, 0 none: written under mu (the
     * waiters of cv read it there), read without it by every check (upd__devsync_fresh) */
    atomic_llong ok_begin;
    uint64_t looks, failures, drops;
    int failing; /* logged that looks fail */
};

struct look {
    upd_devsync *d;
    uint64_t n;
};

static void dropped(void *ctx, const char *mac)
{
    struct look *l = ctx;
    l->d->drop(l->d->ctx, mac);
    l->n++;
}

/* Wait on d->cv (its lock held) for at most ms milliseconds: the condition variable keeps
 * the default clock, CLOCK_REALTIME. */
static void wait_ms(upd_devsync *d, int ms)
{
    struct timespec until = upd__deadline_ms(ms);
    pthread_cond_timedwait(&d->cv, &d->mu, &until);
}

static void *sync_main(void *arg)
{
    upd_devsync *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        pthread_mutex_unlock(&d->mu);
        int64_t begin = upd__mono_ms();
        struct look l = {d, 0};
        /* only this thread uses the mark */
        int rc = d->st->ops->device_changes(d->st, &d->mark, dropped, &l);
        pthread_mutex_lock(&d->mu);
        d->drops += l.n;
        if (rc == 0) {
            d->looks++;
            atomic_store(&d->ok_begin, begin);
            if (d->failing)
                upd__log(UPD_LOG_INFO, "device-sync-back",
                         "the device memory follows other servers' writes again");
            d->failing = 0;
        } else {
            d->failures++;
            if (!d->failing)
                upd__log(UPD_LOG_WARN, "device-sync-failing",
                         "cannot read which devices other servers wrote: checks read their "
                         "devices' rows from the database until it answers again");
            d->failing = 1;
        }
        pthread_cond_broadcast(&d->cv);
        if (d->stop)
            break;
        wait_ms(d, UPD_DEVSYNC_EVERY_MS);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

upd_devsync *upd__devsync_start(upd_store *st, void (*drop)(void *ctx, const char *mac), void *ctx)
{
    if (!st || !st->ops->device_changes)
        return NULL;
    upd_devsync *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->st = st;
    atomic_init(&d->ok_begin, 0);
    d->drop = drop;
    d->ctx = ctx;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    /* the thread takes no signal: they go to the server's main thread */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&d->thread, NULL, sync_main, d);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
        free(d);
        return NULL;
    }
    return d;
}

void upd__devsync_stop(upd_devsync *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->stop = 1;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

/* Asked by every check answered from memory: one atomic read, not the sync's mutex, which
 * every request thread would take (and wait on each other for). */
int upd__devsync_fresh(upd_devsync *d)
{
    int64_t b = atomic_load(&d->ok_begin);
    return b && upd__mono_ms() - b < UPD_DEVSYNC_FRESH_MS;
}

int upd__devsync_wait(upd_devsync *d, int64_t mono_ms, int timeout_ms)
{
    int64_t end = upd__mono_ms() + timeout_ms;
    pthread_mutex_lock(&d->mu);
    while (atomic_load(&d->ok_begin) < mono_ms && !d->stop && upd__mono_ms() < end) {
        wait_ms(d, 50);
    }
    int ok = atomic_load(&d->ok_begin) >= mono_ms;
    pthread_mutex_unlock(&d->mu);
    return ok ? 0 : -1;
}

void upd__devsync_stats(upd_devsync *d, upd_devsync_stats *out)
{
    pthread_mutex_lock(&d->mu);
    out->looks = d->looks;
    out->failures = d->failures;
    out->drops = d->drops;
    int64_t b = atomic_load(&d->ok_begin);
    out->age_ms = b ? upd__mono_ms() - b : -1;
    pthread_mutex_unlock(&d->mu);
}

static void collect(FILE *f, void *ctx)
{
    upd_devsync_stats st;
    upd__devsync_stats(ctx, &st);
    fprintf(f,
            "# HELP updraft_device_sync_reads_total Reads of the device rows other servers "
            "wrote (twice a second), by result.\n"
            "# TYPE updraft_device_sync_reads_total counter\n"
            "updraft_device_sync_reads_total{result=\"ok\"} %llu\n"
            "updraft_device_sync_reads_total{result=\"failed\"} %llu\n"
            "# HELP updraft_device_sync_dropped_total Devices dropped from the device memory "
            "because another server wrote their rows.\n"
            "# TYPE updraft_device_sync_dropped_total counter\n"
            "updraft_device_sync_dropped_total %llu\n"
            "# HELP updraft_device_sync_age_seconds Since the last read that got through "
            "began (the device memory answers checks while it is under 1).\n"
            "# TYPE updraft_device_sync_age_seconds gauge\n"
            "updraft_device_sync_age_seconds %.3f\n",
            (unsigned long long)st.looks, (unsigned long long)st.failures,
            (unsigned long long)st.drops, st.age_ms < 0 ? -1.0 : st.age_ms / 1000.0);
}

void upd__devsync_metrics_init(upd_devsync *d)
{
    if (d)
        upd__metrics_register(collect, d);
}
