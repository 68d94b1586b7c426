/* The content-addressed blob store: <data>/blobs/sha256/ab/<64 hex>. A blob appears
 * under its name only once it is complete and fsynced (rename of an fsynced temp file,
 * then fsync of the directory); a release row points to it only after that. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

int upd__blob_commit(const srv *s, const char *tmp, const char *sha256, char *err, size_t errlen)
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
            if (!strncmp(e->d_name, "upload-", 7) || !strncmp(e->d_name, "gzip-", 5)) {
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
