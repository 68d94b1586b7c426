/* Backup and restore of a data directory (backup.h). The database is copied with the
 * store's online copy (store_sqlite.c); which blobs belong to it is read from the copy
 * through the store interface, so a blob a backed-up release refers to is always in the
 * backup, whatever the server did after the snapshot. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "backup.h"
#include "datalock.h"
#include "store.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* ---- files ----------------------------------------------------------------------------- */

/* What dir holds besides the names in skip (NULL-terminated): 0 nothing (or dir does
 * not exist), 1 something (*what = its first name), -1 error. */
static int holds_something(const char *dir, const char *const *skip, char *what, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int skipped = 0;
        for (int i = 0; skip && skip[i]; i++)
            skipped |= !strcmp(e->d_name, skip[i]);
        if (!skipped) {
            snprintf(what, cap, "%s", e->d_name);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

/* Copy src to dst whole or not at all: a temp file beside dst, fsynced, renamed. */
static int copy_file(const char *src, const char *dst, mode_t mode, char *err, size_t errlen)
{
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", dst, (long)getpid());
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        snprintf(err, errlen, "cannot read %s: %s", src, strerror(errno));
        return -1;
    }
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (out < 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        close(in);
        return -1;
    }
    static __thread char buf[1 << 16];
    ssize_t got;
    int ok = 1;
    while (ok && (got = read(in, buf, sizeof buf)) != 0) {
        if (got < 0) {
            ok = 0;
            break;
        }
        for (ssize_t off = 0; ok && off < got;) {
            ssize_t w = write(out, buf + off, (size_t)(got - off));
            if (w <= 0)
                ok = 0;
            else
                off += w;
        }
    }
    ok = ok && fchmod(out, mode) == 0 && fsync(out) == 0;
    int e = errno;
    close(in);
    if (close(out) != 0)
        ok = 0;
    if (!ok || rename(tmp, dst) != 0) {
        if (ok)
            e = errno;
        snprintf(err, errlen, "cannot copy %s to %s: %s", src, dst, strerror(e));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void blob_path(const char *data, const char *sha, char *out, size_t cap)
{
    snprintf(out, cap, "%s/blobs/sha256/%.2s/%s", data, sha, sha);
}

/* The blob sha in directory from: is its content what its name says? */
static int check_blob(const char *from, const char *sha, uint64_t *size, char *err, size_t errlen)
{
    char path[PATH_MAX + 100], hex[65];
    blob_path(from, sha, path, sizeof path);
    if (upd_sha256_file(path, hex, size) != 0) {
        snprintf(err, errlen, "the firmware file %s that a release refers to cannot be read: %s",
                 path, strerror(errno));
        return -1;
    }
    if (strcmp(hex, sha)) {
        snprintf(err, errlen,
                 "the firmware file %s is damaged: its content's SHA-256 is %s, not its name", path,
                 hex);
        return -1;
    }
    return 0;
}

/* Copy blob sha from data directory from to to, then check the copy's hash. A blob
 * already there with the right content is kept. */
static int copy_blob(const char *from, const char *to, const char *sha, char *err, size_t errlen)
{
    char src[PATH_MAX + 100], dst[PATH_MAX + 100], dir[PATH_MAX + 40], hex[65];
    uint64_t size;
    blob_path(from, sha, src, sizeof src);
    blob_path(to, sha, dst, sizeof dst);
    if (upd_sha256_file(dst, hex, &size) == 0 && !strcmp(hex, sha))
        return 0;
    snprintf(dir, sizeof dir, "%s/blobs/sha256/%.2s", to, sha);
    if (upd_mkdir_p(dir, 0750) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    if (copy_file(src, dst, 0640, err, errlen) != 0)
        return -1;
    if (upd_sha256_file(dst, hex, &size) != 0 || strcmp(hex, sha)) {
        snprintf(err, errlen,
                 "the copy %s does not read back as written (SHA-256 %s): check the disk of %s",
                 dst, hex, to);
        unlink(dst);
        return -1;
    }
    return upd_fsync_dir(dir);
}

/* ---- what a database copy refers to -------------------------------------------------------- */

typedef struct blob_list {
    char (*sha)[65];
    size_t n, cap;
    long releases, devices;
} blob_list;

static int add_blob(blob_list *l, const char *sha)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->sha[i], sha))
            return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char(*nb)[65] = realloc(l->sha, cap * sizeof *nb);
        if (!nb)
            return -1;
        l->sha = nb;
        l->cap = cap;
    }
    snprintf(l->sha[l->n++], 65, "%s", sha);
    return 0;
}

static int on_release(void *ctx, const upd_release_row *r)
{
    blob_list *l = ctx;
    l->releases++;
    if (add_blob(l, r->sha256) != 0 || (r->gz_size > 0 && add_blob(l, r->gz_sha256) != 0))
        return 1;
    return 0;
}

static int on_device(void *ctx, const upd_device_row *d)
{
    (void)d;
    ((blob_list *)ctx)->devices++;
    return 0;
}

/* Read the releases' blobs and the counts from the database file db (a copy of ours). */
static int list_blobs(const char *db, blob_list *l, char *err, size_t errlen)
{
    upd_store *st = upd_store_sqlite_open(db, 2, err, errlen);
    if (!st)
        return -1;
    int rc = st->ops->release_list(st, on_release, l);
    upd_device_filter f;
    memset(&f, 0, sizeof f);
    f.limit = INT_MAX;
    if (rc == 0)
        rc = st->ops->device_list(st, &f, on_device, l);
    st->ops->close(st);
    if (rc != 0) {
        snprintf(err, errlen, "cannot read the releases and devices of %s", db);
        return -1;
    }
    return 0;
}

static void sidecars_unlink(const char *db)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s-wal", db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db);
    unlink(p);
    snprintf(p, sizeof p, "%s-journal", db);
    unlink(p);
}

/* The database copy at tmp_db: list its blobs, check each one in from, copy them to to,
 * count them into sum. */
static int take_blobs(const char *tmp_db, const char *from, const char *to, upd_backup_summary *sum,
                      char *err, size_t errlen)
{
    blob_list l;
    memset(&l, 0, sizeof l);
    int rc = list_blobs(tmp_db, &l, err, errlen);
    /* check them all before writing any: a damaged source changes nothing */
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        uint64_t size;
        rc = check_blob(from, l.sha[i], &size, err, errlen);
        sum->blob_bytes += size;
    }
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        rc = copy_blob(from, to, l.sha[i], err, errlen);
    sum->releases = l.releases;
    sum->devices = l.devices;
    sum->blobs = (long)l.n;
    free(l.sha);
    return rc;
}

/* Copy from/admin-token to to/admin-token (mode 0600) when there is one. */
static int take_token(const char *from, const char *to, upd_backup_summary *sum, char *err,
                      size_t errlen)
{
    char src[PATH_MAX + 16], dst[PATH_MAX + 16];
    snprintf(src, sizeof src, "%s/admin-token", from);
    snprintf(dst, sizeof dst, "%s/admin-token", to);
    if (access(src, F_OK) != 0)
        return 0;
    if (copy_file(src, dst, 0600, err, errlen) != 0)
        return -1;
    sum->token = 1;
    return 0;
}

/* ---- backup ------------------------------------------------------------------------------ */

int upd_backup(const char *data, const char *dest, upd_backup_summary *sum, char *err,
               size_t errlen)
{
    memset(sum, 0, sizeof *sum);
    char db[PATH_MAX + 16], tmp_db[PATH_MAX + 32], final_db[PATH_MAX + 16], what[256];
    snprintf(db, sizeof db, "%s/updraft.db", data);
    if (access(db, F_OK) != 0) {
        snprintf(err, errlen,
                 "%s has no database (%s): is it the server's data directory? Give it with "
                 "--data DIR",
                 data, db);
        return -1;
    }
    int h = holds_something(dest, NULL, what, sizeof what);
    if (h != 0) {
        if (h < 0)
            snprintf(err, errlen, "cannot read %s: %s", dest, strerror(errno));
        else
            snprintf(err, errlen,
                     "%s is not empty (it holds %s): back up into a new or empty directory", dest,
                     what);
        return -1;
    }
    if (upd_mkdir_p(dest, 0700) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", dest, strerror(errno));
        return -1;
    }
    snprintf(tmp_db, sizeof tmp_db, "%s/updraft.db.partial", dest);
    snprintf(final_db, sizeof final_db, "%s/updraft.db", dest);
    /* the database first, then the blobs it refers to: blobs are never changed, and one
     * a copied release refers to is kept as long as the release is */
    int rc = upd_store_sqlite_copy(db, tmp_db, err, errlen);
    if (rc == 0)
        rc = take_blobs(tmp_db, data, dest, sum, err, errlen);
    if (rc == 0)
        rc = take_token(data, dest, sum, err, errlen);
    if (rc == 0 && upd_store_sqlite_seal(tmp_db, err, errlen) != 0)
        rc = -1;
    if (rc == 0 && (rename(tmp_db, final_db) != 0 || upd_fsync_dir(dest) != 0)) {
        snprintf(err, errlen, "cannot move %s into place: %s", final_db, strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        unlink(tmp_db);
        sidecars_unlink(tmp_db);
    }
    return rc;
}

/* ---- restore ----------------------------------------------------------------------------- */

int upd_restore(const char *src, const char *data, int force, upd_backup_summary *sum, char *err,
                size_t errlen)
{
    memset(sum, 0, sizeof *sum);
    char sdb[PATH_MAX + 16], tmp_db[PATH_MAX + 32], db[PATH_MAX + 16], what[256];
    snprintf(sdb, sizeof sdb, "%s/updraft.db", src);
    if (access(sdb, F_OK) != 0) {
        snprintf(err, errlen,
                 "%s is not an updraft backup (no updraft.db in it): give the directory "
                 "'updraft backup DIR' wrote",
                 src);
        return -1;
    }
    if (upd_store_sqlite_check(sdb, err, errlen) != 0)
        return -1;
    if (upd_mkdir_p(data, 0700) != 0) {
        snprintf(err, errlen, "cannot create the data directory %s: %s", data, strerror(errno));
        return -1;
    }
    int holder;
    int lock = upd_datalock_take(data, "updraft restore", &holder, err, errlen);
    if (lock < 0)
        return -1;
    static const char *const skip[] = {UPD_DATALOCK_NAME, NULL};
    int h = holds_something(data, skip, what, sizeof what);
    if (h < 0 || (h > 0 && !force)) {
        if (h < 0)
            snprintf(err, errlen, "cannot read %s: %s", data, strerror(errno));
        else
            snprintf(err, errlen,
                     "the data directory %s is not empty (it holds %s): restore into a new "
                     "directory with --data DIR, or replace its database, token and releases "
                     "with --force",
                     data, what);
        upd_datalock_release(lock);
        return -1;
    }
    snprintf(tmp_db, sizeof tmp_db, "%s/updraft.db.restoring", data);
    snprintf(db, sizeof db, "%s/updraft.db", data);
    unlink(tmp_db);
    sidecars_unlink(tmp_db);
    int rc = upd_store_sqlite_copy(sdb, tmp_db, err, errlen);
    if (rc == 0)
        rc = take_blobs(tmp_db, src, data, sum, err, errlen);
    if (rc == 0)
        rc = take_token(src, data, sum, err, errlen);
    if (rc == 0 && upd_store_sqlite_seal(tmp_db, err, errlen) != 0)
        rc = -1;
    if (rc == 0) {
        /* the old database's WAL must not be replayed into the restored one */
        sidecars_unlink(db);
        if (rename(tmp_db, db) != 0 || upd_fsync_dir(data) != 0) {
            snprintf(err, errlen, "cannot move %s into place: %s", db, strerror(errno));
            rc = -1;
        }
    }
    if (rc != 0) {
        unlink(tmp_db);
        sidecars_unlink(tmp_db);
    }
    upd_datalock_release(lock);
    return rc;
}
