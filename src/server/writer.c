/* Batched device-state writer (see writer.h). Handlers pack their records into the queue
 * (recqueue.h) under the lock; the thread copies the first BATCH_MAX out, unpacks and
 * writes them unlocked, and takes them off the queue once written. A batch that fails
 * because the database cannot be reached (store.h reachable) stays at the front: the
 * queue then holds up to its bound until the database is back; the thread tries again
 * every RETRY_MS. While the database is reachable but slower than records arrive, a full
 * queue makes the handler wait for the next batch (PUSH_WAIT_MS at most), not drop. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "reccodec.h"
#include "recqueue.h"
#include "writer.h"

/* How long the first record of a batch waits for others. A transaction costs SQLite as much
 * as 20 to 50 download events on top of its records' (the write lock, every page it changed
 * written to the WAL again, the thread's wakeups: bench/server/batchcost.sh): 50 ms rather
 * than 20 makes the batches of bench/server/dlquick.sh's downloads longer and each record
 * cheaper (docs/benchmarks.md). A record is still written within a fraction of a second
 * (docs/operations.md); flushes and a stop do not wait for the window. */
#define BATCH_WAIT_MS 50
#define BATCH_FULL    256 /* a batch this long is written without waiting longer */
/* The most records in one transaction: a backlog is written in steps, each step freeing
 * its room in the queue for the handlers waiting (and a step's unpacked records,
 * sizeof(upd_record) each, take 3 MB). */
#define BATCH_MAX 1024
/* How long a handler waits for room when the queue is full and the database is reachable
 * (a burst the writer will catch up with) before its record is dropped: short of a
 * device's HTTP timeout (5 s on the ESP8266 core, docs/protocol.md). */
#define PUSH_WAIT_MS    2000
#define COALESCE_WINDOW 64 /* how far ahead a check-in looks for its repeat */

struct upd_writer {
    upd_store *st;
    const upd_rules *rules; /* what each record means (outcome.h) */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work; /* records arrived, or stop */
    pthread_cond_t done; /* a batch was written (or held, or the thread stops) */
    upd_recq *q;
    size_t max, max_bytes; /* the queue's bounds */
    uint64_t pushed, written, dropped;
    uint64_t waits;         /* pushes that waited for room (a full queue, the database reachable) */
    int64_t wait_ns;        /* their time waiting */
    uint64_t lost;          /* records the store failed to write (of dropped) */
    char lost_why[256];     /* the store's last error when records were lost */
    int64_t lost_logged_ms; /* monotonic ms of the last log line about them */
    uint64_t lost_unlogged; /* lost since that line */
    int stop;
    unsigned flushing;  /* upd_writer_flush calls waiting: write without gathering */
    int64_t keep_ms;    /* events older than this are deleted; 0 keeps them all */
    int64_t next_prune; /* monotonic ms of the next pruning pass */
    int64_t next_stats; /* monotonic ms of the next look at the planner statistics */
    /* the database is unreachable: records are held (the queue) */
    int outage;
    int64_t outage_since;     /* wall ms */
    int64_t retry_at;         /* monotonic ms of the next attempt */
    uint64_t outage_dropped0; /* w->dropped when it began */
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

/* The database is unreachable: the batch stays at the front of the queue, which holds
 * up to its bound (more are dropped and counted at the push). The first time, say it.
 * Called with the lock held. */
static void hold(upd_writer *w, int64_t since, const char *why)
{
    w->retry_at = upd__mono_ms() + RETRY_MS;
    if (w->outage)
        return;
    w->outage = 1;
    w->outage_since = since ? since : wall_ms();
    w->outage_dropped0 = w->dropped;
    upd__log(UPD_LOG_ERROR, "database-unreachable",
             "the database cannot be reached (%s): devices are answered from the cache, their "
             "records held (%zu now, at most %zu: more are dropped and counted, "
             "updraft_dropped_records_total) until it is back; trying again every second",
             why, upd__recq_count(w->q), w->max);
}

/* The first batch of the held records was written: the outage is over; say so, with
 * what it cost (the rest of the held records follow in the next batches). Called with
 * the lock held. */
static void outage_over(upd_writer *w)
{
    w->outage = 0;
    upd__log(UPD_LOG_INFO, "database-reachable",
             "the database is reachable again after %lld s: writing the %zu device records "
             "held, %llu dropped meanwhile",
             (long long)((wall_ms() - w->outage_since + 500) / 1000), upd__recq_count(w->q),
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

/* Room for k unpacked records in *batch (grown, never shrunk: a burst's size is kept for
 * the next). 0, or -1 when out of memory. */
static int batch_room(upd_record **batch, size_t *cap, size_t k)
{
    if (*cap >= k)
        return 0;
    upd_record *p = realloc(*batch, k * sizeof *p);
    if (!p)
        return -1;
    *batch = p;
    *cap = k;
    return 0;
}

static void *writer_main(void *arg)
{
    upd_writer *w = arg;
    pthread_setname_np(pthread_self(), "writer"); /* apart in top, perf, bench/pg */
    upd_record *batch = NULL;
    size_t batch_cap = 0;
    unsigned char *raw = NULL; /* the batch as queued (packed) */
    size_t raw_cap = 0;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (upd__recq_count(w->q) == 0 && !w->stop) {
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
        size_t queued = upd__recq_count(w->q);
        if (queued == 0 && w->stop)
            break;
        if (w->abandon) {
            lose_at_stop(w, queued, "the server stopped first");
            upd__recq_pop(w->q, queued);
            w->written += queued;
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
        while (!w->stop && !w->flushing && upd__recq_count(w->q) < BATCH_FULL &&
               pthread_cond_timedwait(&w->work, &w->mu, &ts) == 0)
            ;
        /* the first records, copied as they are queued: they stay there until written */
        size_t k = upd__recq_count(w->q);
        if (k > BATCH_MAX)
            k = BATCH_MAX;
        size_t len = upd__recq_copy(w->q, k, &raw, &raw_cap);
        pthread_mutex_unlock(&w->mu);

        char err[256] = "";
        size_t n = 0;
        int failed;
        if (!len || batch_room(&batch, &batch_cap, k) != 0 ||
            (n = upd__recq_unpack(raw, len, batch, k)) != k) {
            snprintf(err, sizeof err, "out of memory");
            failed = 1;
        } else {
            n = coalesce(batch, n);
            int64_t t0 = upd__mono_ns();
            failed = w->st->ops->apply_batch(w->st, batch, n, w->rules, err, sizeof err) != 0;
            upd__metrics_store(UPD_STORE_BATCH, upd__mono_ns() - t0);
        }

        int64_t since = 0;
        char why[256] = "";
        int down = failed && w->st->ops->reachable &&
                   !w->st->ops->reachable(w->st, &since, why, sizeof why);

        pthread_mutex_lock(&w->mu);
        if (down && !w->stop) {
            hold(w, since, why[0] ? why : err);
            pthread_cond_broadcast(&w->done); /* flushes and pushes do not wait for it */
            continue;
        }
        if (failed && w->stop && (down || w->abandon))
            lose_at_stop(w, k,
                         down ? "the database could not be reached"
                              : "the database did not finish writing them within " STR(
                                    STOP_WAIT_S) " s of the stop");
        else if (failed)
            count_lost(w, k, err);
        else if (w->outage)
            outage_over(w);
        upd__recq_pop(w->q, k);
        w->written += k;
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
    free(raw);
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
    w->max = max_queue ? max_queue : UPD_WRITER_QUEUE_DEFAULT;
    w->max_bytes = w->max * UPD_WRITER_RECORD_BUDGET;
    if (!(w->q = upd__recq_new())) {
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        upd__recq_free(w->q);
        free(w);
        return NULL;
    }
    return w;
}

/* Room for a record of len packed bytes? Called with the lock held. */
static int room(const upd_writer *w, size_t len)
{
    return upd__recq_count(w->q) < w->max && upd__recq_bytes(w->q) + 2 + len <= w->max_bytes;
}

void upd_writer_push(upd_writer *w, const upd_record *r)
{
    unsigned char packed[UPD_REC_PACKED_MAX];
    size_t len = upd__rec_pack(r, packed, sizeof packed);
    pthread_mutex_lock(&w->mu);
    /* The queue is full while the database is reachable: it is slower than records arrive
     * (a burst). Wait for the next batch to make room rather than lose the record; the
     * device's answer waits with it. Not while the database is lost or the server stops:
     * then the queue's bound is what it holds. */
    int64_t t0 = 0;
    if (len && !room(w, len) && !w->outage && !w->stop) {
        t0 = upd__mono_ns();
        w->waits++;
        struct timespec dl = upd__deadline_ms(PUSH_WAIT_MS);
        while (!room(w, len) && !w->outage && !w->stop &&
               pthread_cond_timedwait(&w->done, &w->mu, &dl) == 0)
            ;
        w->wait_ns += upd__mono_ns() - t0;
    }
    if (len && room(w, len) && upd__recq_push(w->q, packed, len) == 0) {
        w->pushed++;
        size_t n = upd__recq_count(w->q);
        /* The thread sleeps until the queue is non-empty, then gathers for
         * BATCH_WAIT_MS: only the first record and a full batch need to wake it (a
         * signal per record woke it for every record and made batches of one or two). */
        if (n == 1 || n == BATCH_FULL)
            pthread_cond_signal(&w->work);
        pthread_mutex_unlock(&w->mu);
        return;
    }
    uint64_t dropped = ++w->dropped;
    size_t queued = upd__recq_count(w->q), kib = upd__recq_bytes(w->q) / 1024;
    const char *why =
        w->outage ? "the queue is full: the database cannot be reached and the "
                    "held records fill it"
        : w->stop ? "the server is stopping and the queue is full"
        : t0 ? "the queue is full: the database did not make room within " STR(PUSH_WAIT_MS) " ms"
             : "out of memory";
    pthread_mutex_unlock(&w->mu);
    /* the log's repeat limit keeps this to a few lines a minute, with a count */
    upd__log(UPD_LOG_WARN, "records-dropped",
             "a device record was dropped, %llu since start: %s (%zu records queued, %zu KiB; "
             "updraft_dropped_records_total)",
             (unsigned long long)dropped, why, queued, kib);
}

void upd_writer_queue(upd_writer *w, upd_writer_queue_stats *st)
{
    pthread_mutex_lock(&w->mu);
    st->records = upd__recq_count(w->q);
    st->bytes = upd__recq_bytes(w->q);
    st->max_records = w->max;
    st->waits = w->waits;
    st->wait_seconds = (double)w->wait_ns / 1e9;
    pthread_mutex_unlock(&w->mu);
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
    size_t n = w->outage || down ? upd__recq_count(w->q) : 0;
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
    pthread_cond_broadcast(&w->done); /* pushes waiting for room: no more */
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
    upd__recq_free(w->q);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->done);
    free(w);
}
