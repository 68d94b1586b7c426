/* One process at a time per data directory: `updraft serve` and `updraft restore` hold
 * an exclusive lock on <data>/updraft.lock (a POSIX record lock, fcntl F_SETLK) for as
 * long as they use the directory. The kernel drops the lock when the process ends, even
 * after a crash or kill -9, so a stale file never blocks a start. The file also holds
 * "PID WHAT" of the holder, for people; the lock itself is the truth. */
#ifndef UPD_SERVER_DATALOCK_H
#define UPD_SERVER_DATALOCK_H

#include <stddef.h>

#define UPD_DATALOCK_NAME "updraft.lock"

/* Take the lock of data directory dir (which must exist) for what ("updraft serve").
 * Returns the lock's file descriptor (>= 0; keep it open while using the directory:
 * closing it, or any other descriptor of the same file in this process, drops the
 * lock), -2 when another process holds it (*holder = its PID, or 0 when unknown; err
 * says who and what to do), -1 on another error (err says which). */
int upd_datalock_take(const char *dir, const char *what, int *holder, char *err, size_t errlen);

/* The PID of the process holding dir's lock, 0 when none holds it (or the file does
 * not exist), -1 when it cannot be told (err says why). Takes no lock. */
int upd_datalock_holder(const char *dir, char *err, size_t errlen);

/* Drop the lock (close the descriptor); fd < 0 is harmless. */
void upd_datalock_release(int fd);

#endif
