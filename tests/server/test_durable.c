/* The SQLite store's durability (src/server/store_sqlite.c): an admin write is on disk
 * when the store returns (its commit syncs the WAL: synchronous=FULL), the writer thread's
 * batches of device records do not wait for the disk (synchronous=NORMAL), and one kind of
 * work on a connection does not leave its setting to the other kind. Counted with an
 * SQLite VFS that passes everything to the default one and counts the WAL file's syncs. */
#define _GNU_SOURCE
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outcome.h"
#include "store.h"
#include "upd_test.h"

/* ---- a VFS that counts syncs of WAL files ---------------------------------------------- */

typedef struct cfile {
    sqlite3_file base;
    int wal;
    sqlite3_file *real; /* the default VFS's file, allocated after this struct */
} cfile;

static sqlite3_vfs *real_vfs;
static int wal_syncs;

#define REAL(f) (((cfile *)(f))->real)

static int c_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}
static int c_read(sqlite3_file *f, void *b, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), b, n, off);
}
static int c_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, off);
}
static int c_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int c_sync(sqlite3_file *f, int flags)
{
    if (((cfile *)f)->wal)
        wal_syncs++;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int c_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int c_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int c_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int c_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int c_fcntl(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int c_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int c_devchar(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int c_shm_map(sqlite3_file *f, int pg, int sz, int ext, void volatile **out)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, out);
}
static int c_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void c_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int c_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

/* version 2: no memory-mapped reads through us (xFetch), SQLite reads with xRead */
static const sqlite3_io_methods COUNTING_IO = {
    2,          c_close,       c_read,      c_write, c_truncate, c_sync,    c_size,
    c_lock,     c_unlock,      c_reserved,  c_fcntl, c_sector,   c_devchar, c_shm_map,
    c_shm_lock, c_shm_barrier, c_shm_unmap, NULL,    NULL,
};

static int c_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    (void)vfs;
    cfile *c = (cfile *)f;
    c->base.pMethods = NULL;
    c->real = (sqlite3_file *)(c + 1);
    c->wal = (flags & SQLITE_OPEN_WAL) != 0;
    int rc = real_vfs->xOpen(real_vfs, name, c->real, flags, out);
    if (rc == SQLITE_OK && c->real->pMethods)
        c->base.pMethods = &COUNTING_IO;
    return rc;
}

static sqlite3_vfs counting_vfs;

static void install_vfs(void)
{
    sqlite3_initialize();
    real_vfs = sqlite3_vfs_find(NULL);
    counting_vfs = *real_vfs;
    counting_vfs.zName = "updraft-test-counting";
    counting_vfs.szOsFile = (int)sizeof(cfile) + real_vfs->szOsFile;
    counting_vfs.xOpen = c_open;
    counting_vfs.pNext = NULL;
    sqlite3_vfs_register(&counting_vfs, 1); /* the default: the store opens with it */
}

/* ---- the store ------------------------------------------------------------------------ */

static upd_store *st;
static upd_rules rules;
static upd_outcome_cfg cfg;
static char dir[] = "/tmp/updraft-durable-XXXXXX";

static void checkin(unsigned i)
{
    upd_record r;
    memset(&r, 0, sizeof r);
    r.type = UPD_REC_CHECKIN;
    r.at_ms = 1765000000000 + i;
    snprintf(r.dev.mac, sizeof r.dev.mac, "5C:CF:7F:00:00:%02X", i & 255);
    r.dev.sketch_size = r.dev.free_space = r.dev.chip_size = -1;
    snprintf(r.dev.family, sizeof r.dev.family, "esp8266");
    snprintf(r.dev.version, sizeof r.dev.version, "1.0.%u", i);
    snprintf(r.result, sizeof r.result, "none");
    char err[256] = "";
    CHECK_INT(st->ops->apply_batch(st, &r, 1, &rules, err, sizeof err), ==, 0);
}

static void admin_write(unsigned i)
{
    upd_event_row e;
    memset(&e, 0, sizeof e);
    e.at_ms = 1765000000000 + i;
    snprintf(e.kind, sizeof e.kind, "note");
    e.bytes = -1;
    snprintf(e.detail, sizeof e.detail, "admin write %u", i);
    char err[256] = "";
    CHECK_INT(st->ops->event_add(st, &e, err, sizeof err), ==, 0);
}

/* A write in a transaction of its own (BEGIN IMMEDIATE ... COMMIT): a device's channel. */
static void admin_transaction(unsigned i)
{
    char err[256] = "", mac[UPD_MAC_STR];
    snprintf(mac, sizeof mac, "5C:CF:7F:00:00:%02X", i & 255);
    CHECK_INT(st->ops->device_set_channel(st, mac, i % 2 ? "beta" : "lab", err, sizeof err), ==, 0);
}

static void test_batches_do_not_sync(void)
{
    int before = wal_syncs;
    for (unsigned i = 0; i < 20; i++)
        checkin(i);
    CHECK_INT(wal_syncs - before, ==, 0);
}

static void test_admin_writes_sync(void)
{
    for (unsigned i = 0; i < 5; i++) {
        int before = wal_syncs;
        admin_write(i);
        CHECK_INT(wal_syncs - before, >=, 1);
        /* and a batch on the same connection right after is not made durable by it */
        before = wal_syncs;
        checkin(100 + i);
        CHECK_INT(wal_syncs - before, ==, 0);
        before = wal_syncs;
        admin_transaction(i);
        CHECK_INT(wal_syncs - before, >=, 1);
    }
}

int main(void)
{
    install_vfs();
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[64], err[256] = "";
    snprintf(path, sizeof path, "%s/updraft.db", dir);
    st = upd_store_sqlite_open(path, 1, err, sizeof err); /* one connection: it does both */
    if (!st) {
        printf("cannot open the store: %s\n", err);
        return 1;
    }
    upd__outcome_rules(&cfg, &rules);
    RUN(test_batches_do_not_sync);
    RUN(test_admin_writes_sync);
    st->ops->close(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("could not remove %s\n", dir);
    return upd_test_summary();
}
