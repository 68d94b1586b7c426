/* The device memory's sync across servers (devsync.c): with several servers on one
 * PostgreSQL, each server's device memory (devmem.h) holds rows that the others write
 * too. A thread of its own asks the store, twice a second, which device rows other
 * servers wrote since its last look (store op device_changes) and drops them from the
 * memory, so the next check of such a device reads its row from the database.
 *
 * The memory may answer only while the sync is fresh: a look that began less than
 * UPD_DEVSYNC_FRESH_MS ago got through, so every row another server committed before
 * then has been dropped. That is the read cache's bound (store_cache.c, 1 s). When the
 * looks fail or fall behind (the database slow or gone), the check path reads the
 * database instead (upd__devsync_fresh).
 *
 * Threads: every function may be called from any thread. */
#ifndef UPD_SERVER_DEVSYNC_H
#define UPD_SERVER_DEVSYNC_H

#include <stdint.h>

#include "store.h"

#define UPD_DEVSYNC_EVERY_MS 500
#define UPD_DEVSYNC_FRESH_MS 1000

typedef struct upd_devsync upd_devsync;

/* Start looking at st's changes (st->ops->device_changes must exist): drop(ctx, mac) for
 * every device another server wrote, from the sync's thread. NULL when st has no such op
 * or the thread cannot start. */
upd_devsync *upd__devsync_start(upd_store *st, void (*drop)(void *ctx, const char *mac), void *ctx);

/* Stop the thread (waits for a look in progress) and free d. NULL is harmless. */
void upd__devsync_stop(upd_devsync *d);

/* 1 when a look that began less than UPD_DEVSYNC_FRESH_MS ago has got through (the
 * memory is at most that old), else 0. */
int upd__devsync_fresh(upd_devsync *d);

/* Wait until a look that began at or after mono_ms (upd__mono_ms, clock.h) has got
 * through: 0, or -1 after timeout_ms (the database failed meanwhile). */
int upd__devsync_wait(upd_devsync *d, int64_t mono_ms, int timeout_ms);

typedef struct upd_devsync_stats {
    uint64_t looks;    /* looks that got through */
    uint64_t failures; /* looks that failed (the database) */
    uint64_t drops;    /* devices dropped because another server wrote them */
    int64_t age_ms;    /* since the beginning of the last look that got through */
} upd_devsync_stats;

void upd__devsync_stats(upd_devsync *d, upd_devsync_stats *out);

/* Register updraft_device_sync_* for d (nothing when d is NULL). Once. */
void upd__devsync_metrics_init(upd_devsync *d);

#endif
