/* Work that must not run on a thread that answers devices (finishing an upload: fsync,
 * hashing, inspection, the database; 435 ms for a 60 MB file), run by a few threads of
 * its own. A request handler suspends its connection (MHD_suspend_connection), hands the
 * work here, and the work resumes the connection when it is done; libmicrohttpd then
 * calls the handler again, which sends what the work left (upload.c). */
#ifndef UPD_SERVER_FINISHER_H
#define UPD_SERVER_FINISHER_H

typedef struct upd_finisher upd_finisher;

/* nthreads threads (at least 1). NULL when out of memory or no thread could start. */
upd_finisher *upd_finisher_start(unsigned nthreads);
/* Run fn(arg) on one of the threads, in the order handed in. 0; -1 when the finisher is
 * stopping or out of memory (the caller does the work itself). */
int upd_finisher_submit(upd_finisher *f, void (*fn)(void *), void *arg);
/* Run what was handed in and stop the threads; later submits are refused. NULL is fine. */
void upd_finisher_stop(upd_finisher *f);
/* Free a stopped f (once nothing can submit any more). NULL is fine. */
void upd_finisher_free(upd_finisher *f);

#endif
