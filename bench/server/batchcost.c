/* What the writer thread's batches of download records cost on SQLite, the store alone
 * (no server, no HTTP): the CPU time (user and kernel, CLOCK_THREAD_CPUTIME_ID) of the
 * store's apply_batch over batches of K records, download-started and download-completed
 * by turns, of one device, as bench/server/dlquick.sh's downloads make them. Two cases:
 * "plain", a device the store has no row of (only the events are written), and "offer", a
 * device whose row holds an open offer of the release (as after the /update runs of
 * dlquick.sh and run.sh): each download-completed also counts the download on the row and
 * reads the row back. The fleet's rules are left out (a plan that changes nothing), and
 * so is the device memory of a server.
 *
 *   batchcost DIR EVENTS ROUNDS K...
 *
 * For each K and case, ROUNDS times: a fresh database in DIR, 10 unmeasured batches, then
 * batches of K until EVENTS events are written. Prints one line each: the median over the
 * rounds of the CPU per batch, and per event;
 * with two K or more, the least-squares line through (K, CPU per batch) of each case: the
 * cost of a transaction and of an event. Built and run by bench/server/batchcost.sh
 * (INSTR=1: under callgrind, the user-space instructions of the measured batches, which do
 * not move with the load). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

/* Under callgrind (batchcost.sh INSTR=1) the measured batches alone are counted: the
 * counters are zeroed where the clock starts and dumped, named after the case, where it
 * stops. Without valgrind these do nothing. */
#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#endif
#endif
#ifndef CALLGRIND_ZERO_STATS
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(s) ((void)(s))
#endif

#define MAC "DE:BA:7A:B1:E0:42"

static void no_checkin(void *ctx, const upd_record *rec, const upd_device_state *old,
                       const upd_release_row *offered, upd_plan *p)
{
    (void)ctx, (void)rec, (void)old, (void)offered;
    memset(p, 0, sizeof *p);
}

static void no_download(void *ctx, const upd_record *rec, const upd_device_state *now, upd_plan *p)
{
    (void)ctx, (void)rec, (void)now;
    memset(p, 0, sizeof *p);
}

static double cpu_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* CPU microseconds per batch of k records, or a negative number on failure. */
static double run(const char *dir, int k, long events, int offer)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/batchcost-%d-%d.db", dir, k, offer);
    for (const char *sfx = ""; sfx; sfx = !*sfx ? "-wal" : !strcmp(sfx, "-wal") ? "-shm" : NULL) {
        char p[4200];
        snprintf(p, sizeof p, "%s%s", path, sfx);
        unlink(p);
    }
    char err[256] = "";
    upd_store *st = upd_store_sqlite_open(path, 2, err, sizeof err);
    if (!st) {
        fprintf(stderr, "batchcost: %s\n", err);
        return -1;
    }
    if (offer) { /* the row of a device offered release 1 (bench's marked tool device) */
        sqlite3 *db = NULL;
        char *msg = NULL;
        if (sqlite3_open(path, &db) != SQLITE_OK ||
            sqlite3_exec(db,
                         "INSERT INTO devices(mac, version, offered_release, offered_ms, tool) "
                         "VALUES('" MAC "', '1.0.0', 1, 1, 'bench')",
                         NULL, NULL, &msg) != SQLITE_OK) {
            fprintf(stderr, "batchcost: cannot add the device row: %s\n",
                    msg ? msg : sqlite3_errmsg(db));
            sqlite3_free(msg);
            sqlite3_close(db);
            st->ops->close(st);
            return -1;
        }
        sqlite3_close(db);
    }
    upd_rules rules = {NULL, no_checkin, no_download};
    upd_record *recs = calloc((size_t)k, sizeof *recs);
    if (!recs) {
        st->ops->close(st);
        return -1;
    }
    for (int i = 0; i < k; i++) {
        upd_record *r = &recs[i];
        r->type = UPD_REC_DOWNLOAD;
        snprintf(r->mac, sizeof r->mac, "%s", MAC);
        r->release_id = 1;
        r->bytes = 1048576;
        snprintf(r->event, sizeof r->event, "%s",
                 i % 2 ? "download-completed" : "download-started");
        snprintf(r->detail, sizeof r->detail, "%s",
                 i % 2 ? "release 1: 1048576 bytes sent"
                       : "release 1: sending 1048576 of 1048576 bytes");
    }
    long batches = (events + k - 1) / k;
    double t0 = 0;
    int64_t at = 1700000000000;
    for (long b = -10; b < batches; b++) {
        if (b == 0) {
            CALLGRIND_ZERO_STATS;
            t0 = cpu_us();
        }
        for (int i = 0; i < k; i++)
            recs[i].at_ms = at++;
        if (st->ops->apply_batch(st, recs, (size_t)k, &rules, err, sizeof err) != 0) {
            fprintf(stderr, "batchcost: batch failed: %s\n", err);
            free(recs);
            st->ops->close(st);
            return -1;
        }
    }
    double per = (cpu_us() - t0) / (double)batches;
    char label[64];
    snprintf(label, sizeof label, "%s K=%d events=%ld", offer ? "offer" : "plain", k, batches * k);
    CALLGRIND_DUMP_STATS_AT(label);
    free(recs);
    st->ops->close(st);
    return per;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: batchcost DIR EVENTS ROUNDS K...\n");
        return 2;
    }
    long events = atol(argv[2]);
    int rounds = atoi(argv[3]);
    int nk = argc - 4;
    if (rounds < 1 || rounds > 15) {
        fprintf(stderr, "batchcost: ROUNDS must be 1 to 15, not %s\n", argv[3]);
        return 2;
    }
    for (int offer = 0; offer < 2; offer++) {
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (int i = 0; i < nk; i++) {
            int k = atoi(argv[4 + i]);
            if (k < 1 || events < k) {
                fprintf(stderr, "batchcost: K must be 1 to EVENTS, not %s\n", argv[4 + i]);
                return 2;
            }
            double r[15];
            for (int j = 0; j < rounds; j++) {
                double v = run(argv[1], k, events, offer);
                if (v < 0)
                    return 1;
                int at = j; /* insertion sort: the median at the end */
                while (at > 0 && r[at - 1] > v) {
                    r[at] = r[at - 1];
                    at--;
                }
                r[at] = v;
            }
            double per = rounds % 2 ? r[rounds / 2] : (r[rounds / 2 - 1] + r[rounds / 2]) / 2;
            printf("%-5s K=%-4d CPU us per batch %8.1f, per event %6.2f\n",
                   offer ? "offer" : "plain", k, per, per / k);
            sx += k, sy += per, sxx += (double)k * k, sxy += k * per;
        }
        double d = nk * sxx - sx * sx;
        if (nk > 1 && d > 0) {
            double slope = (nk * sxy - sx * sy) / d;
            printf("%-5s a transaction %.0f us, an event %.2f us (least squares over K)\n",
                   offer ? "offer" : "plain", (sy - slope * sx) / nk, slope);
        }
    }
    return 0;
}
