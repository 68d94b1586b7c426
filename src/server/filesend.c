/* Sending file responses with few system calls (filesend.h).
 *
 * Each sender thread has an epoll set (edge-triggered EPOLLOUT) of its sends and a list of
 * them ordered by their last progress, so the timeout looks at the list's head only. A
 * send belongs to its thread from the moment it is in the set: only that thread writes to
 * it, ends it and frees it. The mutex guards the list (handlers add to it) and the
 * stopped flag; libmicrohttpd is never called with it held (MHD_resume_connection takes
 * the library's own locks, which MHD_suspend_connection, called with it held, also
 * takes), so the two cannot wait for each other. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "clock.h"
#include "filesend.h"

/* the most one sendfile() is asked for (Linux sends at most 2 GiB - 4 KiB per call) */
#define SENDFILE_MAX ((size_t)1 << 30)

typedef struct xfer {
    struct xfer *prev, *next; /* the sender's list, oldest progress first */
    struct MHD_Connection *c;
    int sock, file;
    uint64_t off, left, sent; /* body: next offset in the file, bytes to go, bytes sent */
    int64_t last_ms;          /* the last progress */
    upd_filesend_done done;
    void *cls;
    size_t head_len, head_off;
    const char *head; /* head_buf once the send waits */
    char head_buf[];
} xfer;

typedef struct sender {
    pthread_t th;
    int started;
    int ep, wake; /* the epoll set; an eventfd that wakes the thread to stop */
    pthread_mutex_t mu;
    xfer *first, *last; /* under mu */
    int stopped;        /* under mu: the thread ended its sends; no more are added */
    atomic_uint n;      /* sends in the list */
    struct upd_filesend *fs;
} sender;

struct upd_filesend {
    unsigned nthreads;
    int64_t timeout_ms;
    atomic_int stopping;
    atomic_uint next; /* round robin over the senders */
    sender sd[];
};

/* Send what the socket takes: 1 all sent, 0 the socket is full, -1 the connection
 * failed (or the file ended early). *moved: whether any byte left. */
static int pump(xfer *x, int *moved)
{
    *moved = 0;
    while (x->head_off < x->head_len) {
        /* not corked (MSG_MORE) to leave with the body's first bytes: measured with
         * bench/server/slowdl.c, 10,000 slow devices then held twice the connections at
         * the peak (their socket buffers grew less), 66 MB of RSS against 40 MB */
        ssize_t n = send(x->sock, x->head + x->head_off, x->head_len - x->head_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        x->head_off += (size_t)n;
        *moved = 1;
    }
    while (x->left) {
        off_t o = (off_t)x->off;
        ssize_t n = sendfile(x->sock, x->file, &o, x->left > SENDFILE_MAX ? SENDFILE_MAX : x->left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        if (n == 0)
            return -1; /* the file is shorter than it was said to be */
        x->off += (uint64_t)n;
        x->left -= (uint64_t)n;
        x->sent += (uint64_t)n;
        *moved = 1;
    }
    return 1;
}

static void unlink_x(sender *sd, xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        sd->first = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        sd->last = x->prev;
    x->prev = x->next = NULL;
}

static void append_x(sender *sd, xfer *x)
{
    x->prev = sd->last;
    x->next = NULL;
    if (sd->last)
        sd->last->next = x;
    else
        sd->first = x;
    sd->last = x;
}

/* End x (already out of the list): out of the epoll set, tell the owner, resume. */
static void finish(sender *sd, xfer *x, upd_filesend_end how)
{
    epoll_ctl(sd->ep, EPOLL_CTL_DEL, x->sock, NULL);
    atomic_fetch_sub(&sd->n, 1);
    x->done(x->cls, how, x->sent);
    MHD_resume_connection(x->c);
    free(x);
}

static void *filesend_run(void *arg)
{
    sender *sd = arg;
    upd_filesend *fs = sd->fs;
    struct epoll_event ev[64];
    pthread_setname_np(pthread_self(), "filesend"); /* apart from the writer's in top, perf */
    for (;;) {
        int n = epoll_wait(sd->ep, ev, 64, 1000);
        if (atomic_load(&fs->stopping))
            break;
        int64_t now = upd__mono_ms();
        for (int i = 0; i < n; i++) {
            xfer *x = ev[i].data.ptr;
            if (!x)
                continue; /* the wake fd: stopping is checked above */
            int moved, rc = pump(x, &moved);
            if (rc == 0 && !moved)
                continue;
            pthread_mutex_lock(&sd->mu);
            unlink_x(sd, x);
            if (rc == 0) {
                x->last_ms = now;
                append_x(sd, x);
            }
            pthread_mutex_unlock(&sd->mu);
            if (rc > 0) {
                /* push the body's last, short segment now (Nagle would hold it until
                 * the device acknowledges the rest, or until libmicrohttpd closes the
                 * connection once it is resumed) */
                int one = 1;
                setsockopt(x->sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            }
            if (rc != 0)
                finish(sd, x, rc > 0 ? UPD_FILESEND_SENT : UPD_FILESEND_CLOSED);
        }
        /* the sends that made no progress for the timeout: from the list's head */
        for (;;) {
            pthread_mutex_lock(&sd->mu);
            xfer *x = sd->first;
            if (x && now - x->last_ms >= fs->timeout_ms)
                unlink_x(sd, x);
            else
                x = NULL;
            pthread_mutex_unlock(&sd->mu);
            if (!x)
                break;
            finish(sd, x, UPD_FILESEND_TIMEOUT);
        }
    }
    pthread_mutex_lock(&sd->mu);
    sd->stopped = 1;
    xfer *all = sd->first;
    sd->first = sd->last = NULL;
    pthread_mutex_unlock(&sd->mu);
    while (all) {
        xfer *x = all;
        all = x->next;
        finish(sd, x, UPD_FILESEND_SHUTDOWN);
    }
    return NULL;
}

typedef struct head_buf {
    char *p;
    size_t len, cap;
    int full;
} head_buf;

static void put(head_buf *h, const char *s)
{
    size_t n = strlen(s);
    if (h->full || h->len + n >= h->cap) {
        h->full = 1;
        return;
    }
    memcpy(h->p + h->len, s, n);
    h->len += n;
}

static enum MHD_Result put_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    head_buf *h = cls;
    if (kind == MHD_HEADER_KIND) {
        put(h, key);
        put(h, ": ");
        put(h, value ? value : "");
        put(h, "\r\n");
    }
    return MHD_YES;
}

size_t upd_filesend_head(unsigned status, struct MHD_Response *resp, uint64_t len, char *buf,
                         size_t cap)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    head_buf h = {buf, 0, cap, 0};
    const char *reason = MHD_get_reason_phrase_for(status);
    char line[96];
    snprintf(line, sizeof line, "HTTP/1.1 %u %s\r\n", status, reason ? reason : "");
    put(&h, line);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(line, sizeof line, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
             days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
    put(&h, line);
    put(&h, "Connection: close\r\n");
    MHD_get_response_headers(resp, put_header, &h);
    snprintf(line, sizeof line, "Content-Length: %llu\r\n\r\n", (unsigned long long)len);
    put(&h, line);
    return h.full ? 0 : h.len;
}

upd_filesend *upd_filesend_new(unsigned nthreads, unsigned timeout_s)
{
    if (nthreads < 1)
        nthreads = 1;
    upd_filesend *fs = calloc(1, sizeof *fs + nthreads * sizeof(sender));
    if (!fs)
        return NULL;
    fs->nthreads = nthreads;
    fs->timeout_ms = (int64_t)(timeout_s ? timeout_s : 1) * 1000;
    atomic_init(&fs->stopping, 0);
    atomic_init(&fs->next, 0);
    for (unsigned i = 0; i < nthreads; i++) {
        sender *sd = &fs->sd[i];
        sd->fs = fs;
        sd->ep = sd->wake = -1;
        atomic_init(&sd->n, 0);
        pthread_mutex_init(&sd->mu, NULL);
    }
    for (unsigned i = 0; i < nthreads; i++) {
        sender *sd = &fs->sd[i];
        sd->ep = epoll_create1(EPOLL_CLOEXEC);
        sd->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        if (sd->ep < 0 || sd->wake < 0 || epoll_ctl(sd->ep, EPOLL_CTL_ADD, sd->wake, &ev) != 0 ||
            pthread_create(&sd->th, NULL, filesend_run, sd) != 0) {
            upd_filesend_stop(fs);
            upd_filesend_free(fs);
            return NULL;
        }
        sd->started = 1;
    }
    return fs;
}

int upd_filesend_start_send(upd_filesend *fs, struct MHD_Connection *c, int sock, const char *head,
                            size_t head_len, int file, uint64_t off, uint64_t len,
                            upd_filesend_done done, void *cls)
{
    if (!fs || atomic_load(&fs->stopping))
        return -1;
    /* the first attempt right here: on a fast network most of the file leaves now */
    xfer t;
    memset(&t, 0, sizeof t);
    t.c = c;
    t.sock = sock;
    t.file = file;
    t.off = off;
    t.left = len;
    t.head = head;
    t.head_len = head_len;
    t.done = done;
    t.cls = cls;
    int moved, rc = pump(&t, &moved);
    if (rc != 0) {
        done(cls, rc > 0 ? UPD_FILESEND_SENT : UPD_FILESEND_CLOSED, t.sent);
        return 1;
    }
    /* the rest waits for the socket on a sender thread */
    size_t rest = head_len - t.head_off;
    xfer *x = malloc(sizeof *x + rest);
    if (!x) {
        done(cls, UPD_FILESEND_CLOSED, t.sent);
        return 1;
    }
    *x = t;
    memcpy(x->head_buf, head + t.head_off, rest);
    x->head = x->head_buf;
    x->head_len = rest;
    x->head_off = 0;
    x->last_ms = upd__mono_ms();
    sender *sd = &fs->sd[atomic_fetch_add(&fs->next, 1) % fs->nthreads];
    pthread_mutex_lock(&sd->mu);
    if (sd->stopped) {
        pthread_mutex_unlock(&sd->mu);
        free(x);
        done(cls, UPD_FILESEND_SHUTDOWN, t.sent);
        return 1;
    }
    MHD_suspend_connection(c);
    append_x(sd, x);
    atomic_fetch_add(&sd->n, 1);
    /* edge-triggered: an ADD reports the socket writable at once if it is by now */
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLET, .data.ptr = x};
    int added = epoll_ctl(sd->ep, EPOLL_CTL_ADD, sock, &ev) == 0;
    if (!added) {
        /* cannot wait for it: end it now (the timeout would, later) */
        unlink_x(sd, x);
        atomic_fetch_sub(&sd->n, 1);
    }
    pthread_mutex_unlock(&sd->mu);
    if (!added) {
        done(cls, UPD_FILESEND_CLOSED, x->sent);
        MHD_resume_connection(c);
        free(x);
    }
    return 0;
}

void upd_filesend_stop(upd_filesend *fs)
{
    if (!fs || atomic_exchange(&fs->stopping, 1))
        return;
    for (unsigned i = 0; i < fs->nthreads; i++) {
        sender *sd = &fs->sd[i];
        if (!sd->started)
            continue;
        uint64_t one = 1;
        if (write(sd->wake, &one, sizeof one) < 0) {
            /* the counter is full: the thread is woken already */
        }
        pthread_join(sd->th, NULL);
        sd->started = 0;
    }
}

void upd_filesend_free(upd_filesend *fs)
{
    if (!fs)
        return;
    for (unsigned i = 0; i < fs->nthreads; i++) {
        sender *sd = &fs->sd[i];
        if (sd->ep >= 0)
            close(sd->ep);
        if (sd->wake >= 0)
            close(sd->wake);
        pthread_mutex_destroy(&sd->mu);
    }
    free(fs);
}

unsigned upd_filesend_in_flight(upd_filesend *fs)
{
    unsigned n = 0;
    if (fs)
        for (unsigned i = 0; i < fs->nthreads; i++)
            n += atomic_load(&fs->sd[i].n);
    return n;
}
