/* `updraft db migrate`: a SQLite installation (a data directory: updraft.db and its
 * firmware files) moved into an empty PostgreSQL database (docs/scaling.md "Moving from
 * SQLite"). Every table of the SQLite database is copied as it is (the two backends'
 * schemas are the same migrations, store_sqlite.c and store_pg.c), every firmware file a
 * release refers to becomes a blob of the database; counts and hashes are checked before
 * one COMMIT makes it all visible at once: a run that fails leaves no row behind. */
#ifndef UPD_SERVER_STORE_MIGRATE_H
#define UPD_SERVER_STORE_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

#define UPD_MIGRATE_TABLES_MAX 32

typedef struct upd_migrate_summary {
    int schema;  /* the schema version both databases have */
    int ntables; /* tables copied, in the order they were */
    struct {
        char name[48];
        int64_t rows;
    } table[UPD_MIGRATE_TABLES_MAX];
    int64_t blobs;       /* firmware files stored as blobs */
    uint64_t blob_bytes; /* their bytes */
} upd_migrate_summary;

/* Move the installation in data directory data into the PostgreSQL database url (a
 * libpq URL). Refused, with nothing written, while a process holds data's lock (a
 * server: datalock.h; the lock is held for the whole run so none starts meanwhile), when
 * data has no updraft.db, when the database holds an installation already (any release,
 * device, event, rollout, channel, blob or named token), and when a firmware file is
 * missing or its SHA-256 is not its name. Brings both schemas up to date first, as
 * `updraft serve` would (the empty updraft tables then stay in the database whatever
 * happens next; they are empty, so a second run or a server may use them). 0 with *sum
 * filled; -1 with what was wrong and what to do in err. */
int upd_store_migrate(const char *data, const char *url, upd_migrate_summary *sum, char *err,
                      size_t errlen);

#endif
