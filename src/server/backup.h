/* `updraft backup` and `updraft restore`: a consistent copy of a data directory
 * (docs/operations.md "Backup and restore"). A backup is laid out as a data directory:
 * updraft.db (one file, SQLite's online backup of the server's database, taken while it
 * serves), blobs/sha256/ab/<hash> (every blob a release of that copy refers to, its
 * SHA-256 checked against its name) and admin-token. Everything is written to a temp
 * name and renamed when complete; updraft.db comes last, so a folder with updraft.db in
 * it is a whole backup. */
#ifndef UPD_SERVER_BACKUP_H
#define UPD_SERVER_BACKUP_H

#include <stddef.h>
#include <stdint.h>

typedef struct upd_backup_summary {
    long releases;
    long devices;
    long blobs;
    uint64_t blob_bytes;
    int token; /* admin-token copied */
} upd_backup_summary;

/* Copy data directory data (a server may be running on it) into dest, which must not
 * exist or be empty (created with mode 0700). 0 on success, with *sum filled; -1 with
 * the reason and what to do in err (dest then holds no updraft.db). */
int upd_backup(const char *data, const char *dest, upd_backup_summary *sum, char *err,
               size_t errlen);

/* Restore backup src into data directory data: refused while a process holds data's
 * lock (datalock.h; the lock is held during the restore so no server starts meanwhile)
 * and, unless force, when data holds anything else. src is checked first (integrity,
 * every blob's hash): a bad backup changes nothing. With force the database, its WAL
 * and the admin token of data are replaced; its blobs stay (a server start removes the
 * ones no release refers to). 0 on success with *sum filled, else -1 with err. */
int upd_restore(const char *src, const char *data, int force, upd_backup_summary *sum, char *err,
                size_t errlen);

#endif
