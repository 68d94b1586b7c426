/* The content-addressed blob store: <data>/blobs/sha256/ab/<64 hex>. A blob appears
 * under its name only once it is complete and fsynced (rename of an fsynced temp file,
 * then fsync of the directory); a release row points to it only after that.
 *
 * With a store that keeps blobs itself (PostgreSQL: store.h blob_put), the data
 * directory is this server's cache of them: a blob is stored in the database before a
 * release may refer to it, and a server that lacks one fetches it (into tmp/, checked
 * against its name, then renamed into place) at start or at its first use. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "fsutil.h"
#include "srv.h"

void upd__blob_path(const srv *s, const char *sha256, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%.2s/%s", s->blob_dir, sha256, sha256);
}

/* Move the fsynced file tmp into the blob directory as sha256 (durably). */
static int place(const srv *s, const char *tmp, const char *sha256, char *err, size_t errlen)
{
    char dir[PATH_MAX + 8], path[PATH_MAX + 80];
    snprintf(dir, sizeof dir, "%s/%.2s", s->blob_dir, sha256);
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s: check the data directory's permissions", dir,
                 strerror(errno));
        return -1;
    }
    upd__blob_path(s, sha256, path, sizeof path);
    struct stat st;
    if (stat(path, &st) == 0) {
        /* the same bytes are stored already (an earlier upload that was not recorded) */
        unlink(tmp);
        return 0;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot move the upload into the blob store (%s): %s", path,
                 strerror(errno));
        return -1;
    }
    if (upd_fsync_dir(dir) != 0 || upd_fsync_dir(s->blob_dir) != 0) {
        snprintf(err, errlen, "cannot sync the blob store directory %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* The blob sha256, complete in the data directory at path, into the store's blobs. */
static int share(const srv *s, const char *path, const char *sha256, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot read the blob %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int rc = s->store->ops->blob_put(s->store, sha256, fd, (int64_t)st.st_size, err, errlen);
    close(fd);
    return rc ? -1 : 0;
}

int upd__blob_commit(const srv *s, const char *tmp, const char *sha256, char *err, size_t errlen)
{
    if (place(s, tmp, sha256, err, errlen) != 0)
        return -1;
    if (!s->store->ops->blob_put)
        return 0;
    char path[PATH_MAX + 80];
    upd__blob_path(s, sha256, path, sizeof path);
    return share(s, path, sha256, err, errlen);
}

int upd__blob_local(srv *s, const char *sha256, char *path, size_t cap)
{
    upd__blob_path(s, sha256, path, cap);
    struct stat st;
    if (!s->store->ops->blob_get || stat(path, &st) == 0)
        return 0;
    char tmp[PATH_MAX + 32], err[PATH_MAX + 600] = "", hex[65];
    snprintf(tmp, sizeof tmp, "%s/fetch-XXXXXX", s->tmp_dir);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "updraft: cannot fetch blob %s from the database: %s: %s\n", sha256, tmp,
                strerror(errno));
        return -1;
    }
    int64_t size = 0;
    uint64_t got = 0;
    int rc = s->store->ops->blob_get(s->store, sha256, fd, &size, err, sizeof err);
    if (rc == 0 && fsync(fd) != 0) {
        snprintf(err, sizeof err, "cannot sync %s: %s", tmp, strerror(errno));
        rc = -1;
    }
    close(fd);
    if (rc == 0 &&
        (upd_sha256_file(tmp, hex, &got) != 0 || strcmp(hex, sha256) || got != (uint64_t)size)) {
        snprintf(err, sizeof err, "the copy read from the database is not the blob (SHA-256 %s)",
                 hex);
        rc = -1;
    }
    if (rc == 0)
        rc = place(s, tmp, sha256, err, sizeof err);
    if (rc != 0) {
        unlink(tmp);
        if (rc == UPD_STORE_ENOTFOUND)
            snprintf(err, sizeof err, "it is not in the database");
        fprintf(stderr, "updraft: cannot fetch blob %s from the database: %s\n", sha256, err);
        return -1;
    }
    return 0;
}

void upd__blob_drop(srv *s, const char *sha256)
{
    char path[PATH_MAX + 80];
    if (!sha256[0] || s->store->ops->blob_referenced(s->store, sha256) != 0)
        return;
    upd__blob_path(s, sha256, path, sizeof path);
    unlink(path);
    if (s->store->ops->blob_drop)
        s->store->ops->blob_drop(s->store, sha256);
}

/* One release's blobs into this server's cache (fetched), or from it into the
 * database (blobs stored before the database held them). */
static int sync_release(void *ctx, const upd_release_row *r)
{
    srv *s = ctx;
    const char *shas[2] = {r->sha256, r->gz_size > 0 ? r->gz_sha256 : ""};
    for (int i = 0; i < 2; i++) {
        char path[PATH_MAX + 80], err[PATH_MAX + 600];
        struct stat st;
        if (!shas[i][0])
            continue;
        upd__blob_path(s, shas[i], path, sizeof path);
        if (stat(path, &st) == 0) {
            if (share(s, path, shas[i], err, sizeof err) != 0)
                fprintf(stderr, "updraft: release %lld: %s\n", (long long)r->id, err);
        } else {
            upd__blob_local(s, shas[i], path, sizeof path);
        }
    }
    return 0;
}

void upd__blob_sync(srv *s)
{
    if (!s->store->ops->blob_get)
        return;
    s->store->ops->release_list(s->store, sync_release, s);
    /* blobs of uploads that were never recorded (any server's, an hour ago or more: an
     * upload in progress stores its blob before its release) */
    int n = s->store->ops->blob_prune(s->store, upd__now_ms() - 3600 * 1000);
    if (n > 0)
        fprintf(stderr,
                "updraft: removed %d blob(s) from the database: no release refers to them\n", n);
}

static int is_hex64(const char *n)
{
    if (strlen(n) != 64)
        return 0;
    for (; *n; n++)
        if (!((*n >= '0' && *n <= '9') || (*n >= 'a' && *n <= 'f')))
            return 0;
    return 1;
}

void upd__blob_gc(srv *s)
{
    DIR *d = opendir(s->tmp_dir);
    struct dirent *e;
    char path[PATH_MAX + 300];
    if (d) {
        while ((e = readdir(d)) != NULL) {
            /* an upload, or a gzip copy (delivery.c), interrupted before it was stored */
            if (!strncmp(e->d_name, "upload-", 7) || !strncmp(e->d_name, "gzip-", 5) ||
                !strncmp(e->d_name, "fetch-", 6)) {
                snprintf(path, sizeof path, "%s/%s", s->tmp_dir, e->d_name);
                if (unlink(path) == 0)
                    upd__log(UPD_LOG_INFO, "cleanup", "removed the unfinished upload %s", path);
            }
        }
        closedir(d);
    }
    DIR *top = opendir(s->blob_dir);
    if (!top)
        return;
    while ((e = readdir(top)) != NULL) {
        if (strlen(e->d_name) != 2 || e->d_name[0] == '.')
            continue;
        char sub[PATH_MAX + 8];
        snprintf(sub, sizeof sub, "%s/%s", s->blob_dir, e->d_name);
        DIR *sd = opendir(sub);
        if (!sd)
            continue;
        struct dirent *f;
        while ((f = readdir(sd)) != NULL) {
            if (!is_hex64(f->d_name))
                continue;
            if (s->store->ops->blob_referenced(s->store, f->d_name) == 0) {
                snprintf(path, sizeof path, "%s/%s", sub, f->d_name);
                if (unlink(path) == 0)
                    upd__log(UPD_LOG_INFO, "cleanup",
                             "removed blob %s: no release refers to it (an upload "
                             "interrupted before it was recorded)",
                             f->d_name);
            }
        }
        closedir(sd);
    }
    closedir(top);
}
