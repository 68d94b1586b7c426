/* The device-state writer: request handlers queue records (check-ins, downloads) and
 * return at once; one thread writes them to the store in batches, one transaction per
 * batch. A device check does not wait on the disk, unless a burst filled the queue while
 * the database answers: then it waits for room, at most 2 s (docs/operations.md). */
#ifndef UPD_SERVER_WRITER_H
#define UPD_SERVER_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct upd_writer upd_writer;

/* The queue's bound by default (records), and the memory it may take per record of its
 * bound (bytes): a record packs to about 260 bytes (reccodec.h; server.recqueue prints
 * what it measures), at most upd__rec_packed_max(). */
#define UPD_WRITER_QUEUE_DEFAULT 65536
#define UPD_WRITER_RECORD_BUDGET 1024

/* Start the writer thread over st. max_queue (0: the default) bounds the records waiting,
 * and max_queue * UPD_WRITER_RECORD_BUDGET bytes their memory. A record that finds the
 * queue full waits for room while the database is reachable (a burst: at most 2 s), and
 * is dropped and counted when it cannot be reached, the server stops or the wait ends.
 * keep_events_ms > 0: when idle, the thread deletes events older than that (at start, then every
 * quarter of it, at most hourly). rules (outliving the writer) say what each record means. NULL
 * when out of memory. */
upd_writer *upd_writer_start(upd_store *st, size_t max_queue, int64_t keep_events_ms,
                             const upd_rules *rules);

/* Queue a copy of *r. Never blocks on I/O; waits (at most 2 s) only when the queue is
 * full and the database reachable. */
void upd_writer_push(upd_writer *w, const upd_record *r);

/* The queue now, for /metrics. */
typedef struct upd_writer_queue_stats {
    size_t records, bytes; /* queued (held ones included) */
    size_t max_records;    /* its bound (and 1 KiB a record of it, in bytes) */
    uint64_t waits;        /* records that waited for room (the queue was full) */
    double wait_seconds;   /* their time waiting */
} upd_writer_queue_stats;
void upd_writer_queue(upd_writer *w, upd_writer_queue_stats *st);

/* Wait until every record queued before this call is written (used by admin reads so
 * that they see what devices just did); while the database cannot be reached, not
 * longer than until the writer finds that out. */
void upd_writer_flush(upd_writer *w);

/* Records dropped since start: the queue was full, or the store could not write them (a
 * full disk). */
uint64_t upd_writer_dropped(upd_writer *w);

/* Of those, the records the store failed to write; why (whylen bytes, may be NULL) gets
 * the store's last error about them ("" when none). */
uint64_t upd_writer_lost(upd_writer *w, char *why, size_t whylen);

/* Records held because the database cannot be reached (store.h reachable), written when
 * it is back: they and those that arrive meanwhile stay in the queue (max_queue bounds
 * them; the dropped are counted by upd_writer_dropped). 0 when it can be reached;
 * *since_ms (may be NULL): when the writer (or, before its first attempt since, the
 * store) found it unreachable (wall ms), else 0. */
size_t upd_writer_held(upd_writer *w, int64_t *since_ms);

/* Write everything still queued, stop the thread, free w. NULL is harmless. */
void upd_writer_stop(upd_writer *w);

#endif
