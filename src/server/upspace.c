/* Room for uploads in <data>/tmp, shared by the uploads in progress.
 *
 * An upload used to be refused for its size only after its whole body had been read and
 * written to a temp file, and any number of uploads could fill the data directory's disk
 * at once (the disk that also holds the database). Now an upload says how much it will
 * take before its first byte is read (Content-Length), and takes it from a budget of
 * UPD_UPLOAD_SPACE_FACTOR times --max-upload shared by all uploads in progress; a body
 * without Content-Length takes its room as it arrives. The budget is also held against
 * the free space of the filesystem, so that the uploads never take the last of it. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "srv.h"

void upd__upspace_init(srv *s)
{
    pthread_mutex_init(&s->upspace_mu, NULL);
    s->upspace_used = 0;
    s->upspace_max = s->max_upload * UPD_UPLOAD_SPACE_FACTOR;
}

void upd__upspace_free(srv *s)
{
    pthread_mutex_destroy(&s->upspace_mu);
}

/* Free bytes on the filesystem of dir for an unprivileged writer; -1 unknown. */
static int64_t fs_free(const char *dir)
{
    struct statvfs v;
    if (statvfs(dir, &v) != 0)
        return -1;
    return (int64_t)v.f_bavail * (int64_t)v.f_frsize;
}

int upd__upspace_take(srv *s, uint64_t n, char *why, size_t whylen)
{
    int64_t avail = fs_free(s->tmp_dir);
    pthread_mutex_lock(&s->upspace_mu);
    int rc = 0;
    if (s->upspace_used + n > s->upspace_max) {
        snprintf(why, whylen,
                 "uploads in progress already hold %llu of the %llu bytes the server keeps "
                 "for them (%d times --max-upload): retry when they are done",
                 (unsigned long long)s->upspace_used, (unsigned long long)s->upspace_max,
                 UPD_UPLOAD_SPACE_FACTOR);
        rc = -1;
    } else if (avail >= 0 && (uint64_t)avail < n + UPD_UPLOAD_DISK_RESERVE) {
        snprintf(why, whylen,
                 "no space left for it on the disk of %s: %lld bytes free, the upload needs "
                 "%llu and %d MiB stay free for the database; free space there and retry",
                 s->tmp_dir, (long long)avail, (unsigned long long)n,
                 UPD_UPLOAD_DISK_RESERVE >> 20);
        rc = -2;
    } else {
        s->upspace_used += n;
    }
    pthread_mutex_unlock(&s->upspace_mu);
    return rc;
}

void upd__upspace_give(srv *s, uint64_t n)
{
    pthread_mutex_lock(&s->upspace_mu);
    s->upspace_used = n > s->upspace_used ? 0 : s->upspace_used - n;
    pthread_mutex_unlock(&s->upspace_mu);
}

void upd__upspace_json(srv *s, cJSON *j)
{
    pthread_mutex_lock(&s->upspace_mu);
    uint64_t used = s->upspace_used, max = s->upspace_max;
    pthread_mutex_unlock(&s->upspace_mu);
    cJSON *o = cJSON_AddObjectToObject(j, "upload_room");
    cJSON_AddNumberToObject(o, "used", (double)used);
    cJSON_AddNumberToObject(o, "max", (double)max);
}

void upd__upspace_startup_check(srv *s)
{
    int64_t avail = fs_free(s->data_dir);
    if (avail < 0 || avail >= UPD_UPLOAD_DISK_RESERVE)
        return;
    fprintf(stderr,
            "updraft: warning: no space left on %s (%lld bytes free): serving the releases it "
            "has, but device records are lost and uploads refused until space is freed there\n",
            s->data_dir, (long long)avail);
}

/* <data>/space-reserve: UPD_SPACE_RESERVE bytes set aside while there is room, given up
 * when the server cannot start for lack of space (SQLite needs a little room to open a
 * database: its shared-memory index and the write-ahead log), so that it can start and
 * serve the releases it has. */
static void reserve_path(const srv *s, char *out, size_t cap)
{
    snprintf(out, cap, "%s/space-reserve", s->data_dir);
}

void upd__upspace_keep_reserve(srv *s)
{
    char path[PATH_MAX + 32];
    reserve_path(s, path, sizeof path);
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size >= UPD_SPACE_RESERVE)
        return;
    int64_t avail = fs_free(s->data_dir);
    if (avail < 0 || avail < UPD_SPACE_RESERVE + UPD_UPLOAD_DISK_RESERVE)
        return; /* no room to set it aside now; the next start tries again */
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    if (posix_fallocate(fd, 0, UPD_SPACE_RESERVE) != 0)
        unlink(path);
    close(fd);
}

int upd__upspace_give_up_reserve(srv *s)
{
    char path[PATH_MAX + 32];
    reserve_path(s, path, sizeof path);
    int64_t avail = fs_free(s->data_dir);
    if (avail < 0 || avail >= UPD_UPLOAD_DISK_RESERVE || unlink(path) != 0)
        return 0;
    fprintf(stderr,
            "updraft: no space left on %s (%lld bytes free): gave up the %d MiB kept in %s "
            "to start\n",
            s->data_dir, (long long)avail, UPD_SPACE_RESERVE >> 20, path);
    return 1;
}

void upd__upspace_explain(srv *s, char *err, size_t errlen)
{
    int64_t avail = fs_free(s->data_dir);
    if (avail < 0 || avail >= UPD_UPLOAD_DISK_RESERVE)
        return;
    size_t n = strlen(err);
    snprintf(err + n, errlen - n, " (no space left on %s: %lld bytes free; free space there)",
             s->data_dir, (long long)avail);
}
