/* Batched device-state writer (see writer.h). Two vectors: handlers append to the
 * pending one under the lock; the thread swaps it out and writes it unlocked. A batch
 * that fails because the database cannot be reached (store.h reachable) goes back to
 * the front of the pending vector, which then holds up to max records until the
 * database is back; the thread tries again every RETRY_MS. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "writer.h"

/* How long the first record of a batch waits for others. A transaction costs SQLite as much
 * as 20 to 50 download events on top of its records' (the write lock, every page it changed
 * written to the WAL again, the thread's wakeups: bench/server/batchcost.sh): 50 ms rather
 * than 20 makes the batches of bench/server/dlquick.sh's downloads longer and each record
 * cheaper (docs/benchmarks.md). A record is still written within a fraction of a second
 * (docs/operations.md); flushes and a stop do not wait for the window. */
#define BATCH_WAIT_MS   50
#define BATCH_FULL      256 /* a batch this long is written without waiting longer */
#define COALESCE_WINDOW 64  /* how far ahead a check-in looks for its repeat */

struct upd_writer {
    upd_store *st;
    const upd_rules *rules; /* what each record means (outcome.h) */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work; /* records arrived, or stop */
    pthread_cond_t done; /* a batch was written */
    upd_record *pending;
    size_t n, cap, max;
    uint64_t pushed, written, dropped;
    uint64_t lost;          /* records the store failed to write (of dropped) */
    char lost_why[256];     /* the store's last error when records were lost */
    int64_t lost_logged_ms; /* monotonic ms of the last log line about them */
    uint64_t lost_unlogged; /* lost since that line */
    int stop;
    unsigned flushing;  /* upd_writer_flush calls waiting: write without gathering */
    int64_t keep_ms;    /* events older than this are deleted; 0 keeps them all */
    int64_t next_prune; /* monotonic ms of the next pruning pass */
    int64_t next_stats; /* monotonic ms of the next look at the planner statistics */
    /* the database is unreachable: records are held (the pending vector) */
    int outage;
    int64_t outage_since;     /* wall ms */
    int64_t retry_at;         /* monotonic ms of the next attempt */
    uint64_t outage_dropped;  /* records dropped during this outage */
    uint64_t outage_dropped0; /* w->dropped when it began */
    size_t inflight;          /* records of the batch being written */
    /* stopping (upd_writer_stop) */
    int abandon;        /* it waited STOP_WAIT_S: what is not written yet is lost */
    int exited;         /* the thread is done */
    uint64_t stop_lost; /* records lost because the server stopped */
    char stop_why[256]; /* why they could not be written first */
};

#define RETRY_MS 1000
/* How long a stopping server waits for the records still queued to be written; then the
 * batch being written is given up (store op interrupt) and what is left is counted as
 * dropped: SIGTERM never waits on a database that is slow, locked or gone. */
#define STOP_WAIT_S 5
#define STR_(x)     #x
#define STR(x)      STR_(x)

#define LOST_LOG_EVERY_MS 60000
#define PRUNE_CHUNK       5000 /* events deleted per statement: short write locks */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How often to prune: a quarter of the retention, at most hourly, at least each second. */
static int64_t prune_every(int64_t keep_ms)
{
    int64_t p = keep_ms / 4;
    return p > 3600000 ? 3600000 : p < 1000 ? 1000 : p;
}

/* Delete the events that aged out, in chunks, outside the lock. */
static void prune(upd_writer *w)
{
    int64_t before = wall_ms() - w->keep_ms;
    int n;
    while ((n = w->st->ops->events_prune(w->st, before, PRUNE_CHUNK)) == PRUNE_CHUNK)
        ;
    if (n < 0)
        upd__log(UPD_LOG_ERROR, "database-failed", "could not delete old events (retention)");
}

/* The query planner's statistics follow the registry's growth (a fleet that grew from 0 to
 * 100,000 devices would otherwise be planned as an empty one until a restart): looked at
 * when the server starts and then hourly, gathered only when a table changed much. */
#define STATS_EVERY_MS 3600000

static void refresh_stats(upd_writer *w)
{
    if (!w->st->ops->refresh_stats)
        return;
    int rc = w->st->ops->refresh_stats(w->st);
    if (rc < 0)
        upd__log(UPD_LOG_ERROR, "database-failed",
                 "could not gather the query planner's statistics (ANALYZE)");
    else if (rc > 0)
        upd__log(UPD_LOG_INFO, "statistics-gathered",
                 "the registry changed much since the query planner's statistics were "
                 "gathered: gathered again");
}

/* A routine check-in ("current" or "none") that the same device repeats, with the same
 * facts and the same answer, before anything else of that device in the batch, is
 * superseded: the later one writes the same row with a newer last_seen. A device that
 * retries in a tight loop thus costs one write per batch, not one per request. */
static int routine(const upd_record *r)
{
    return r->type == UPD_REC_CHECKIN &&
           (!strcmp(r->result, "current") || !strcmp(r->result, "none"));
}

static const char *rec_mac(const upd_record *r)
{
    return r->type == UPD_REC_CHECKIN ? r->dev.mac : r->mac;
}

static size_t coalesce(upd_record *b, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        int superseded = 0;
        if (routine(&b[i]) && b[i].dev.mac[0]) {
            size_t end = i + 1 + COALESCE_WINDOW < n ? i + 1 + COALESCE_WINDOW : n;
            for (size_t j = i + 1; j < end; j++) {
                if (strcmp(rec_mac(&b[j]), b[i].dev.mac) != 0)
                    continue;
                superseded = routine(&b[j]) && b[j].release_id == b[i].release_id &&
                             !strcmp(b[j].result, b[i].result) &&
                             !strcmp(b[j].detail, b[i].detail) &&
                             !strcmp(b[j].report, b[i].report) &&
                             !memcmp(&b[j].dev, &b[i].dev, sizeof b[i].dev);
                break; /* the device's next record decides */
            }
        }
        if (!superseded) {
            if (out != i)
                b[out] = b[i];
            out++;
        }
    }
    return out;
}

/* A batch the store could not write (a full disk, above all): its records are counted as
 * dropped, the cause kept for the API, and a line logged at most once a minute (a full
 * disk fails every batch). Called with the lock held. */
static void count_lost(upd_writer *w, size_t n, const char *err)
{
    w->dropped += n;
    w->lost += n;
    w->lost_unlogged += n;
    snprintf(w->lost_why, sizeof w->lost_why, "%s", err[0] ? err : "the database failed");
    int64_t now = upd__mono_ms();
    if (w->lost_logged_ms && now - w->lost_logged_ms < LOST_LOG_EVERY_MS)
        return;
    upd__log(UPD_LOG_ERROR, "database-failed",
             "device records lost: %s (%llu since the last line, %llu since start; the "
             "registry misses them: free space in the data directory)",
             w->lost_why, (unsigned long long)w->lost_unlogged, (unsigned long long)w->lost);
    w->lost_logged_ms = now;
    w->lost_unlogged = 0;
}

/* The database is unreachable: put the n records of *batch back in front of the pending
 * ones (the oldest first), keeping at most max (the newest beyond go: counted and said
 * on the next line about them). The first time, say it. Called with the lock held. */
static void hold(upd_writer *w, upd_record **batch, size_t *batch_cap, size_t n, int64_t since,
                 const char *why)
{
    size_t m = w->n, keep = n + m > w->max ? w->max : n + m;
    if (*batch_cap < keep) {
        upd_record *p = realloc(*batch, keep * sizeof *p);
        if (!p)
            keep = *batch_cap > n ? *batch_cap : n; /* what fits */
        else {
            *batch = p;
            *batch_cap = keep;
        }
    }
    if (keep > n)
        memcpy(*batch + n, w->pending, (keep - n) * sizeof **batch);
    uint64_t gone = n + m - keep;
    upd_record *old = w->pending;
    size_t old_cap = w->cap;
    w->pending = *batch;
    w->cap = *batch_cap;
    w->n = keep;
    *batch = old;
    *batch_cap = old_cap;
    w->dropped += gone;
    w->retry_at = upd__mono_ms() + RETRY_MS;
    if (w->outage) {
        w->outage_dropped += gone;
        return;
    }
    w->outage = 1;
    w->outage_since = since ? since : wall_ms();
    w->outage_dropped = gone;
    w->outage_dropped0 = w->dropped - gone;
    upd__log(UPD_LOG_ERROR, "database-unreachable",
             "the database cannot be reached (%s): devices are answered from the cache, their "
             "records held (%zu now, at most %zu: more are dropped and counted, "
             "updraft_dropped_records_total) until it is back; trying again every second",
             why, keep, w->max);
}

/* The held records were written: the outage is over; say so, with what it cost. Called
 * with the lock held. */
static void outage_over(upd_writer *w, size_t n)
{
    w->outage = 0;
    upd__log(UPD_LOG_INFO, "database-reachable",
             "the database is reachable again after %lld s: %zu held device records written, "
             "%llu dropped meanwhile",
             (long long)((wall_ms() - w->outage_since + 500) / 1000), n,
             (unsigned long long)(w->dropped - w->outage_dropped0));
}

/* The server stops and n records will not be written (why: the cause): counted as
 * dropped, said in one line as the thread ends. Called with the lock held. */
static void lose_at_stop(upd_writer *w, size_t n, const char *why)
{
    w->dropped += n;
    w->lost += n;
    w->stop_lost += n;
    if (!w->stop_why[0])
        snprintf(w->stop_why, sizeof w->stop_why, "%s", why);
    snprintf(w->lost_why, sizeof w->lost_why, "%s", why);
}

static void *writer_main(void *arg)
{
    upd_writer *w = arg;
    pthread_setname_np(pthread_self(), "writer"); /* apart in top, perf, bench/pg */
    upd_record *batch = NULL;
    size_t batch_cap = 0;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->n == 0 && !w->stop) {
            if (w->keep_ms > 0 && upd__mono_ms() >= w->next_prune) {
                w->next_prune = upd__mono_ms() + prune_every(w->keep_ms);
                pthread_mutex_unlock(&w->mu);
                prune(w);
                pthread_mutex_lock(&w->mu);
                continue;
            }
            if (upd__mono_ms() >= w->next_stats) {
                w->next_stats = upd__mono_ms() + STATS_EVERY_MS;
                pthread_mutex_unlock(&w->mu);
                refresh_stats(w);
                pthread_mutex_lock(&w->mu);
                continue;
            }
            int64_t due =
                w->keep_ms > 0 && w->next_prune < w->next_stats ? w->next_prune : w->next_stats;
            struct timespec ts = upd__deadline_ms(due - upd__mono_ms());
            pthread_cond_timedwait(&w->work, &w->mu, &ts);
        }
        if (w->n == 0 && w->stop)
            break;
        if (w->abandon) {
            lose_at_stop(w, w->n, "the server stopped first");
            w->n = 0;
            break;
        }
        /* the database is unreachable: the next attempt waits its time (the records
         * held and those arriving meanwhile go together) */
        while (w->outage && !w->stop && upd__mono_ms() < w->retry_at) {
            struct timespec rt = upd__deadline_ms(w->retry_at - upd__mono_ms());
            pthread_cond_timedwait(&w->work, &w->mu, &rt);
        }
        /* Let a burst gather into one transaction: wait out the whole window (pushes
         * do not wake this thread, see upd_writer_push) unless the batch is full, a
         * flush waits for it or the server stops. */
        struct timespec ts = upd__deadline_ms(BATCH_WAIT_MS);
        while (!w->stop && !w->flushing && w->n < BATCH_FULL &&
               pthread_cond_timedwait(&w->work, &w->mu, &ts) == 0)
            ;
        /* swap the vectors */
        upd_record *tmp = batch;
        size_t tmp_cap = batch_cap;
        batch = w->pending;
        batch_cap = w->cap;
        size_t n = w->n;
        uint64_t upto = w->pushed;
        w->pending = tmp;
        w->cap = tmp_cap;
        w->n = 0;
        w->inflight = n;
        pthread_mutex_unlock(&w->mu);

        char err[256] = "";
        n = coalesce(batch, n);
        int64_t t0 = upd__mono_ns();
        int failed = w->st->ops->apply_batch(w->st, batch, n, w->rules, err, sizeof err) != 0;
        upd__metrics_store(UPD_STORE_BATCH, upd__mono_ns() - t0);

        int64_t since = 0;
        char why[256] = "";
        int down = failed && w->st->ops->reachable &&
                   !w->st->ops->reachable(w->st, &since, why, sizeof why);

        pthread_mutex_lock(&w->mu);
        w->inflight = 0;
        if (down && !w->stop) {
            hold(w, &batch, &batch_cap, n, since, why[0] ? why : err);
            pthread_cond_broadcast(&w->done); /* flushes do not wait for the database */
            continue;
        }
        if (failed && w->stop && (down || w->abandon))
            lose_at_stop(w, n,
                         down ? "the database could not be reached"
                              : "the database did not finish writing them within " STR(
                                    STOP_WAIT_S) " s of the stop");
        else if (failed)
            count_lost(w, n, err);
        else if (w->outage)
            outage_over(w, n);
        w->written = upto;
        pthread_cond_broadcast(&w->done);
    }
    w->written = w->pushed;
    w->exited = 1;
    if (w->stop_lost)
        upd__log(UPD_LOG_ERROR, "records-dropped",
                 "the server stopped before %llu device records could be written (%s): they "
                 "are lost; the devices' next checks record their state again",
                 (unsigned long long)w->stop_lost, w->stop_why);
    pthread_cond_broadcast(&w->done);
    pthread_mutex_unlock(&w->mu);
    free(batch);
    return NULL;
}

upd_writer *upd_writer_start(upd_store *st, size_t max_queue, int64_t keep_events_ms,
                             const upd_rules *rules)
{
    upd_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->st = st;
    w->rules = rules;
    w->keep_ms = keep_events_ms > 0 ? keep_events_ms : 0;
    w->next_prune = upd__mono_ms(); /* a first pass at start */
    w->next_stats = upd__mono_ms();
    w->max = max_queue ? max_queue : 8192;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        free(w);
        return NULL;
    }
    return w;
}

void upd_writer_push(upd_writer *w, const upd_record *r)
{
    pthread_mutex_lock(&w->mu);
    if (w->n == w->cap && w->cap < w->max) {
        size_t nc = w->cap ? w->cap * 2 : 64;
        if (nc > w->max)
            nc = w->max;
        upd_record *p = realloc(w->pending, nc * sizeof *p);
        if (p) {
            w->pending = p;
            w->cap = nc;
        }
    }
    if (w->n < w->cap) {
        w->pending[w->n++] = *r;
        w->pushed++;
        /* The thread sleeps until the queue is non-empty, then gathers for
         * BATCH_WAIT_MS: only the first record and a full batch need to wake it (a
         * signal per record woke it for every record and made batches of one or two). */
        if (w->n == 1 || w->n == BATCH_FULL)
            pthread_cond_signal(&w->work);
        pthread_mutex_unlock(&w->mu);
        return;
    }
    uint64_t dropped = ++w->dropped;
    size_t max = w->max;
    int outage = w->outage;
    pthread_mutex_unlock(&w->mu);
    /* the log's repeat limit keeps this to a few lines a minute, with a count */
    upd__log(UPD_LOG_WARN, "records-dropped",
             "the device record queue is full (%zu records): a record was dropped, %llu since "
             "start (%s; updraft_dropped_records_total)",
             max, (unsigned long long)dropped,
             outage ? "the database cannot be reached: the held records fill it"
                    : "the database does not keep up");
}

void upd_writer_flush(upd_writer *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t target = w->pushed;
    w->flushing++;
    pthread_cond_signal(&w->work);
    while (w->written < target && !w->outage)
        pthread_cond_wait(&w->done, &w->mu);
    w->flushing--;
    pthread_mutex_unlock(&w->mu);
}

uint64_t upd_writer_dropped(upd_writer *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t d = w->dropped;
    pthread_mutex_unlock(&w->mu);
    return d;
}

size_t upd_writer_held(upd_writer *w, int64_t *since_ms)
{
    /* The store may know before this thread does: a check's read failed while the
     * first batch since is still gathering or being tried. Its records are held too. */
    int64_t store_since = 0;
    int down = w->st->ops->reachable && !w->st->ops->reachable(w->st, &store_since, NULL, 0);
    pthread_mutex_lock(&w->mu);
    size_t n = w->outage || down ? w->n + w->inflight : 0;
    if (since_ms)
        *since_ms = w->outage ? w->outage_since : down ? store_since : 0;
    pthread_mutex_unlock(&w->mu);
    return n;
}

uint64_t upd_writer_lost(upd_writer *w, char *why, size_t whylen)
{
    pthread_mutex_lock(&w->mu);
    uint64_t n = w->lost;
    if (why && whylen)
        snprintf(why, whylen, "%s", w->lost_why);
    pthread_mutex_unlock(&w->mu);
    return n;
}

void upd_writer_stop(upd_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->work);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += STOP_WAIT_S;
    while (!w->exited && pthread_cond_timedwait(&w->done, &w->mu, &dl) != ETIMEDOUT)
        ;
    int late = !w->exited;
    if (late)
        w->abandon = 1;
    pthread_mutex_unlock(&w->mu);
    /* not done in time: the batch being written gives up, at once */
    if (late && w->st->ops->interrupt)
        w->st->ops->interrupt(w->st);
    pthread_join(w->thread, NULL);
    free(w->pending);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->done);
    free(w);
}
