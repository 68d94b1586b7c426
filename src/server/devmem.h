/* The device memory: for every device of the fleet, what the check path reads of its row
 * (devmem.c), in a hash table by MAC, so that a check reads no database.
 *
 * A record holds exactly the fields a check reads of the device's row: mac, family,
 * version, sketch_md5, sketch_sha256, last_seen_ms, channel, pin_release,
 * offered_release, running_release, hold_release, hold_failures, hold_until_ms, tool,
 * url_channel and tags (policy.c, chip.c, delivery.c, sigrule.c, and the target filters
 * of rollouts, filter.c). About 150 bytes a device (upd__devmem_stats measures it).
 *
 * store_cache.c keeps it up to date with the rows the writer thread's batches leave
 * (upd__devmem_after_checkin, _after_download), and drops a device on every admin write
 * to it. With other servers writing the database (PostgreSQL), devsync.c drops the rows
 * they wrote within a second, and their admin writes' notifications the devices they
 * name. The table holds at most max devices; the others
 * are read from the store at each check, as before.
 *
 * Threads: every function may be called from any thread at the same time. */
#ifndef UPD_SERVER_DEVMEM_H
#define UPD_SERVER_DEVMEM_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct upd_devmem upd_devmem;

/* The bound of `updraft serve` without --device-memory. */
#define UPD_DEVMEM_DEFAULT 1000000

/* A table for at most max devices (> 0). NULL when out of memory. */
upd_devmem *upd__devmem_new(size_t max);
void upd__devmem_free(upd_devmem *m);

/* Device mac's record into out: the fields above, the others zero ("") and sketch_size,
 * free_space, chip_size -1. 0, or UPD_STORE_ENOTFOUND when the table does not hold it
 * (never seen, dropped, or beyond max: read the store). */
int upd__devmem_get(upd_devmem *m, const char *mac, upd_device_row *out);

/* Device mac's mark, moved by every drop of a device of its group (1 in 65,536) and by
 * every clear: a row read from the store before it moved may be older than the write
 * that moved it (devmem.c says why that is enough). */
uint32_t upd__devmem_mark(upd_devmem *m, const char *mac);

/* Keep row, read from the store after its device's mark was mark (upd__devmem_mark,
 * taken before the read), unless the mark moved since or the table holds the device
 * already (a batch's newer row). */
void upd__devmem_fill(upd_devmem *m, const upd_device_row *row, uint32_t mark);

/* A record ready to be put (upd__devmem_put); NULL when row cannot be held (a MAC or a
 * hash not in the store's canonical form, or out of memory): then drop the device. */
typedef struct upd_devmem_rec upd_devmem_rec;
upd_devmem_rec *upd__devmem_make(const upd_device_row *row);
void upd__devmem_unmake(upd_devmem_rec *r);

/* Note in r its device's mark now: its row was just read from the store, in the batch's
 * transaction that keeps it locked until the commit (devmem.c). */
void upd__devmem_note(upd_devmem *m, upd_devmem_rec *r);

/* Put records made by upd__devmem_make and noted (upd__devmem_note), taking them: n of
 * them, in order, a later one of a device replacing an earlier one. A record whose
 * device's mark moved since it was noted is not put: its device is dropped instead (its
 * row is read from the store at its next check). */
void upd__devmem_put(upd_devmem *m, upd_devmem_rec **recs, size_t n);

/* Forget device mac once its row was written (and committed) by someone else than the
 * writer's batches: an admin write of this server or another's, another server's batch
 * (devsync.h); or it was deleted. Rows of the devices of its group read, and records
 * noted, before it are not kept; those of the other devices are. */
void upd__devmem_drop(upd_devmem *m, const char *mac);

/* Forget every device (a write that changed many rows: a release deleted; another
 * server's change that does not say which devices): no row read or record noted before
 * it is kept. */
void upd__devmem_clear(upd_devmem *m);

typedef struct upd_devmem_stats {
    uint64_t devices; /* records held */
    uint64_t bytes;   /* their memory: records and the table's slots */
    uint64_t max;     /* the bound */
    uint64_t hits;    /* checks answered from it */
    uint64_t misses;  /* checks that read the store */
    uint64_t full;    /* rows not kept because the table was full (each time) */
    uint64_t clears;  /* upd__devmem_clear calls */
} upd_devmem_stats;

void upd__devmem_stats(upd_devmem *m, upd_devmem_stats *out);

/* ---- the device memory of a cached store (store_cache.c) ---------------------------- */

/* Keep the check path's device rows of st (a store upd_store_cached made) in a device
 * memory of at most max devices. With a database other servers write (PostgreSQL), a
 * thread drops the rows they wrote, twice a second (devsync.h). 0; -1 when st's
 * database has other writers and no way to tell what they wrote, max is 0, out of
 * memory or the sync's thread cannot start. Call once, before the first check. */
int upd_store_cached_devmem(upd_store *st, size_t max);

/* Device mac's row as the check path reads it: from the device memory (the fields of a
 * record, the others zero) when st has one, else device_get's row through the read cache.
 * Then as device_get: 0, UPD_STORE_ENOTFOUND or UPD_STORE_EFAIL. */
int upd_store_cached_device_check(upd_store *st, const char *mac, upd_device_row *out);

/* The device memory's sync across servers (devsync.h), NULL when st has none (SQLite). */
struct upd_devsync;
struct upd_devsync *upd_store_cached_devsync(upd_store *st);

/* The device memory's numbers; -1 when st has none. */
int upd_store_cached_devmem_stats(upd_store *st, upd_devmem_stats *out);

/* Register the device memory's metrics of st (updraft_device_memory_*): nothing is
 * written when st has none. Once, before the server answers. */
void upd__devmem_metrics_init(upd_store *st);

/* The row a check-in record leaves, as the stores write it (store_sqlite.c apply_checkin,
 * store_pg.c): old the row before (NULL: a new device), rec the record, p what the fleet's
 * rules made of it. Only the fields a record holds are computed; out's others are copied
 * from old (or zero). */
void upd__devmem_after_checkin(const upd_device_row *old, const upd_record *rec, const upd_plan *p,
                               upd_device_row *out);

/* The row a download record leaves: now the row the store read after counting the
 * download (the one it passed to the rules), p their plan. */
void upd__devmem_after_download(const upd_device_row *now, const upd_plan *p, upd_device_row *out);

/* Do a and b agree on every field a record holds? 1 yes; else 0 with the first field that
 * differs named in what (for the check that the memory follows the store). */
int upd__devmem_same(const upd_device_row *a, const upd_device_row *b, const char **what);

#endif
