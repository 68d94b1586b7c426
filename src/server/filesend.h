/* Sending a file response on a plain-HTTP connection ourselves, the way nginx does: the
 * response header, then as much of the file per sendfile() as the socket takes.
 * libmicrohttpd 0.9.75 sends a file body 128 KiB per pass of its event loop (and pushes
 * the header with TCP_NODELAY and TCP_CORK calls); this about halves the system calls of
 * a 1 MiB download (docs/architecture.md "The download path", docs/benchmarks.md).
 *
 * The request handler calls upd_filesend_start_send. The first attempt runs at once on
 * the handler's thread (on a fast network most of a download leaves there); what the
 * socket does not take is handed to one of a fixed number of sender threads (epoll,
 * edge-triggered: 10,000 slow downloads are 10,000 small records, not threads) and the
 * connection is suspended (MHD_suspend_connection) until the rest has gone, the device
 * went away or made no progress for the connection timeout. Then the done callback says
 * how it ended and the connection is resumed: libmicrohttpd calls the handler again, and
 * the handler returns MHD_NO, which closes the connection without another byte (every
 * answer of the server closes its connection: "Connection: close"). HTTPS connections
 * never come here (the bytes must go through TLS). */
#ifndef UPD_SERVER_FILESEND_H
#define UPD_SERVER_FILESEND_H

#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;
struct MHD_Response;

typedef struct upd_filesend upd_filesend;

/* How a send ended. */
typedef enum upd_filesend_end {
    UPD_FILESEND_SENT,     /* header and body handed to the kernel, all of them */
    UPD_FILESEND_CLOSED,   /* the device closed or reset the connection, or a send failed */
    UPD_FILESEND_TIMEOUT,  /* no byte left for timeout_s seconds */
    UPD_FILESEND_SHUTDOWN, /* the server stopped (upd_filesend_stop) */
} upd_filesend_end;

/* Called once per send, from the handler's thread (an end at once) or a sender thread,
 * before the connection is resumed: body_sent is the body bytes the kernel took. */
typedef void (*upd_filesend_done)(void *cls, upd_filesend_end how, uint64_t body_sent);

/* The response header libmicrohttpd would send for resp with status and a body of len
 * bytes, on a connection that closes after it: the status line, Date, "Connection:
 * close", resp's headers in their order, Content-Length. Its length, or 0 when it does
 * not fit in cap bytes. */
size_t upd_filesend_head(unsigned status, struct MHD_Response *resp, uint64_t len, char *buf,
                         size_t cap);

/* nthreads sender threads (at least 1); a send that makes no progress for timeout_s
 * seconds (at least 1) ends with UPD_FILESEND_TIMEOUT. NULL when out of memory or no
 * thread could start. */
upd_filesend *upd_filesend_new(unsigned nthreads, unsigned timeout_s);

/* Send head (head_len bytes, copied) then len bytes of file from offset off on sock,
 * the socket of connection c, from within c's request handler (c is suspended when the
 * send must wait). file must stay open until done is called.
 * Returns 1: the send ended already (done was called): the handler returns MHD_NO.
 * 0: handed to a sender thread, c suspended: the handler returns MHD_YES, and MHD_NO when
 * libmicrohttpd calls it again after done. -1: nothing was sent, done will not be
 * called (fs NULL or stopping, out of memory): answer the usual way. */
int upd_filesend_start_send(upd_filesend *fs, struct MHD_Connection *c, int sock, const char *head,
                            size_t head_len, int file, uint64_t off, uint64_t len,
                            upd_filesend_done done, void *cls);

/* End every send in flight with UPD_FILESEND_SHUTDOWN (their connections resumed) and
 * stop the threads; later sends are refused (-1). Before the daemons stop. NULL is fine. */
void upd_filesend_stop(upd_filesend *fs);
/* Free a stopped fs (once no handler can call it: after the daemons stopped). NULL is
 * fine. */
void upd_filesend_free(upd_filesend *fs);

/* Sends in flight on the sender threads (for tests and /metrics). */
unsigned upd_filesend_in_flight(upd_filesend *fs);

#endif
