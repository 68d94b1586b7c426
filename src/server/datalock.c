/* The data directory's lock (datalock.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datalock.h"

static void lock_path(const char *dir, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", dir, UPD_DATALOCK_NAME);
}

/* The holder's own words from the file ("updraft serve"), "" when unreadable. */
static void holder_what(int fd, char *out, size_t cap)
{
    char buf[128];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    out[0] = '\0';
    if (n <= 0)
        return;
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    const char *sp = strchr(buf, ' ');
    if (sp && sp[1])
        snprintf(out, cap, "%s", sp + 1);
}

static int who_holds(int fd)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_GETLK, &fl) != 0)
        return -1;
    return fl.l_type == F_UNLCK ? 0 : (int)fl.l_pid;
}

int upd_datalock_take(const char *dir, const char *what, int *holder, char *err, size_t errlen)
{
    char path[4200];
    lock_path(dir, path, sizeof path);
    *holder = 0;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen,
                 "cannot open the lock file %s: %s: check the data directory's permissions", path,
                 strerror(errno));
        return -1;
    }
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        int e = errno;
        if (e != EACCES && e != EAGAIN) {
            snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
            close(fd);
            return -1;
        }
        int pid = who_holds(fd);
        char by[96];
        holder_what(fd, by, sizeof by);
        close(fd);
        *holder = pid > 0 ? pid : 0;
        if (pid > 0)
            snprintf(err, errlen,
                     "the data directory %s is in use by process %d (%s): one updraft per data "
                     "directory. Stop that process first (kill %d), or use another directory "
                     "with --data DIR",
                     dir, pid, by[0] ? by : "updraft", pid);
        else
            snprintf(err, errlen,
                     "the data directory %s is in use by another process (%s holds its lock): "
                     "one updraft per data directory. Stop it first, or use another directory "
                     "with --data DIR",
                     dir, path);
        return -2;
    }
    char line[128];
    int n = snprintf(line, sizeof line, "%ld %s\n", (long)getpid(), what);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n) {
        /* the lock holds all the same; the words are for people */
    }
    return fd;
}

int upd_datalock_holder(const char *dir, char *err, size_t errlen)
{
    char path[4200];
    lock_path(dir, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot open the lock file %s: %s", path, strerror(errno));
        return -1;
    }
    /* F_GETLK with a read-only descriptor: ask about a read lock (any writer conflicts) */
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_RDLCK;
    fl.l_whence = SEEK_SET;
    int rc = fcntl(fd, F_GETLK, &fl);
    close(fd);
    if (rc != 0) {
        snprintf(err, errlen, "cannot query the lock on %s: %s", path, strerror(errno));
        return -1;
    }
    return fl.l_type == F_UNLCK ? 0 : (int)fl.l_pid;
}

void upd_datalock_release(int fd)
{
    if (fd >= 0)
        close(fd);
}
