/* slowdl: many concurrent, deliberately slow firmware downloads from one process.
 *
 *   slowdl HOST PORT REQUEST_FILE CONNECTIONS RATE_BPS EXPECT_LEN MAX_SECONDS [OPEN_PER_TICK]
 *
 * Opens CONNECTIONS TCP connections to HOST:PORT (IPv4), sends the raw bytes of
 * REQUEST_FILE on each (an ESP8266 update request, HTTP/1.0, Connection: close), and
 * reads every response at no more than RATE_BPS bytes per second per connection on
 * average, the way a device that writes each chunk to flash before reading the next
 * one does. The socket receive buffer is made small (SO_RCVBUF RCVBUF; Linux doubles
 * it) and the announced MSS 1460, so the throttle reaches the server as a small TCP
 * window, as from a device. (Linux may still queue much of a response in the server's
 * socket send buffer and let the process close early: run.sh reports how many
 * connections the server process held and how many the kernel kept as orphans.)
 *
 * A download is complete when the status is 200, Content-Length is EXPECT_LEN, the body
 * starts with the image magic 0xE9 and exactly Content-Length body bytes arrived.
 * Everything else is a failure, counted by kind. Connections are opened OPEN_PER_TICK
 * at a time every 10 ms (default 100: 10,000 per second). Nothing runs past
 * MAX_SECONDS: connections still open then are counted as "unfinished".
 *
 * Output: one line of key=value pairs (parsed by run.sh); exit 0 if every download
 * completed, 1 otherwise, 2 on bad usage. One thread, epoll, non-blocking sockets. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Reads are made in steps of at least QUANTUM bytes (or what is left of the body): tiny
 * reads would make the kernel send tiny segments, and on loopback the client pays for
 * the server's TCP work too. The average rate is still RATE_BPS. */
#define QUANTUM 8192.0
#define RCVBUF 16384
/* The MSS a device announces (lwIP's larger setting); without it the loopback's 64 KB
 * MSS would let the server's kernel take far bigger steps than on a real network. */
#define MSS 1460

enum state { ST_IDLE, ST_CONNECTING, ST_READING, ST_DONE };

enum fail {
    F_CONNECT,   /* socket/connect failed or the connection was refused */
    F_SEND,      /* the request could not be sent */
    F_RESET,     /* read error (reset) */
    F_STATUS,    /* not a 200 */
    F_HEADER,    /* headers unparsable, no Content-Length, or not EXPECT_LEN */
    F_MAGIC,     /* body does not start with 0xE9 */
    F_SHORT,     /* EOF before Content-Length body bytes */
    F_LONG,      /* more bytes than Content-Length */
    F_UNFINISHED, /* still open at the deadline */
    F_N
};
static const char *fail_name[F_N] = {"connect", "send",  "reset", "status",    "header",
                                     "magic",   "short", "long",  "unfinished"};

typedef struct conn {
    int fd;
    enum state st;
    int readable;      /* an edge said data is there and we have not drained it */
    double t0;         /* when the request was sent */
    double t_first;    /* first body byte */
    uint64_t got;      /* bytes received (headers + body) */
    size_t hlen;       /* header bytes kept in hdr */
    long header_end;   /* offset of the first body byte, -1 until known */
    long long clen;    /* Content-Length */
    int status;
    char hdr[4096];
} conn;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *req_buf;
static size_t req_len;
static long long expect_len;
static double rate;
static unsigned long fails[F_N], completed;
static int active;
static double sum_dl_time, max_dl_time;

static void finish(int ep, conn *c, int failure)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->st = ST_DONE;
    active--;
    if (failure >= 0) {
        fails[failure]++;
    } else {
        completed++;
        double t = now_s() - c->t0;
        sum_dl_time += t;
        if (t > max_dl_time)
            max_dl_time = t;
    }
}

/* Parse the status line and Content-Length once the header block is complete. */
static int parse_headers(conn *c)
{
    char *end = memmem(c->hdr, c->hlen, "\r\n\r\n", 4);
    if (!end)
        return 0;
    c->header_end = (long)(end - c->hdr) + 4;
    *end = '\0';
    if (strncmp(c->hdr, "HTTP/1.", 7) != 0 || strlen(c->hdr) < 12)
        return -1;
    c->status = atoi(c->hdr + 9);
    c->clen = -1;
    for (char *line = strstr(c->hdr, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        if (!strncasecmp(line + 2, "Content-Length:", 15))
            c->clen = atoll(line + 17);
    }
    return 1;
}

/* Read as much as the throttle allows. Returns when the budget is spent, the socket is
 * drained (EAGAIN) or the connection ended. */
static void try_read(int ep, conn *c, double t)
{
    char buf[16384];
    for (;;) {
        /* budget: RATE_BPS since the request went out, plus 4 KB for the headers */
        double allowed = rate * (t - c->t0) + 4096.0 - (double)c->got;
        double left = c->header_end < 0 ? 1e18 : (double)(c->header_end + c->clen) - (double)c->got;
        if (allowed < 1.0 || (allowed < QUANTUM && allowed < left))
            return; /* over budget or not a whole step yet: the tick comes back later */
        size_t want = allowed > (double)sizeof buf ? sizeof buf : (size_t)allowed;
        ssize_t n = recv(c->fd, buf, want, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->readable = 0;
                return;
            }
            if (errno == EINTR)
                continue;
            finish(ep, c, F_RESET);
            return;
        }
        if (n == 0) { /* EOF */
            if (c->header_end < 0) {
                finish(ep, c, c->got ? F_HEADER : F_RESET);
                return;
            }
            long long body = (long long)c->got - c->header_end;
            if (c->status != 200)
                finish(ep, c, F_STATUS);
            else if (body < c->clen)
                finish(ep, c, F_SHORT);
            else
                finish(ep, c, -1);
            return;
        }
        size_t off = 0;
        if (c->header_end < 0) {
            size_t room = sizeof c->hdr - 1 - c->hlen;
            size_t take = (size_t)n < room ? (size_t)n : room;
            memcpy(c->hdr + c->hlen, buf, take);
            c->hlen += take;
            c->hdr[c->hlen] = '\0';
            int pr = parse_headers(c);
            if (pr < 0 || (pr == 0 && c->hlen == sizeof c->hdr - 1)) {
                finish(ep, c, F_HEADER);
                return;
            }
            if (pr == 1) {
                if (c->status != 200) {
                    finish(ep, c, F_STATUS);
                    return;
                }
                if (c->clen != expect_len) {
                    finish(ep, c, F_HEADER);
                    return;
                }
                /* the body bytes in this read start at header_end - (old got) */
                off = (size_t)((long long)c->header_end - (long long)c->got);
            } else {
                off = (size_t)n;
            }
        }
        if (c->header_end >= 0 && off < (size_t)n && (long long)c->got + (long long)off ==
                                                         (long long)c->header_end) {
            c->t_first = t;
            if ((unsigned char)buf[off] != 0xE9) {
                c->got += (uint64_t)n;
                finish(ep, c, F_MAGIC);
                return;
            }
        }
        c->got += (uint64_t)n;
        if (c->header_end >= 0) {
            long long body = (long long)c->got - c->header_end;
            if (body > c->clen) {
                finish(ep, c, F_LONG);
                return;
            }
            if (body == c->clen) {
                /* all of it: a device stops here too (the server closes after) */
                finish(ep, c, -1);
                return;
            }
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: slowdl HOST PORT REQUEST_FILE CONNECTIONS RATE_BPS EXPECT_LEN "
                        "MAX_SECONDS [OPEN_PER_TICK]\n");
        return 2;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
        fprintf(stderr, "slowdl: HOST must be an IPv4 address\n");
        return 2;
    }
    FILE *f = fopen(argv[3], "rb");
    static char rq[8192];
    if (!f || (req_len = fread(rq, 1, sizeof rq, f)) == 0) {
        perror(argv[3]);
        return 2;
    }
    fclose(f);
    req_buf = rq;
    int n = atoi(argv[4]);
    rate = atof(argv[5]);
    expect_len = atoll(argv[6]);
    double max_s = atof(argv[7]);
    int per_tick = argc > 8 ? atoi(argv[8]) : 100;
    if (n <= 0 || rate <= 0 || expect_len <= 0 || max_s <= 0 || per_tick <= 0) {
        fprintf(stderr, "slowdl: CONNECTIONS, RATE_BPS, EXPECT_LEN, MAX_SECONDS must be > 0\n");
        return 2;
    }
    conn *cs = calloc((size_t)n, sizeof *cs);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!cs || ep < 0) {
        perror("slowdl");
        return 1;
    }
    for (int i = 0; i < n; i++)
        cs[i].fd = -1;
    struct epoll_event evs[1024];
    double start = now_s(), deadline = start + max_s, next_tick = start, next_rescan = start;
    int opened = 0, peak_active = 0;
    double all_opened_s = -1;
    while (now_s() < deadline && (opened < n || active > 0)) {
        double t = now_s();
        if (t >= next_tick) {
            /* open the next batch */
            int target = (int)((t - start) / 0.010 + 1.0) * per_tick;
            if (target > n)
                target = n;
            for (; opened < target; opened++) {
                conn *c = &cs[opened];
                c->header_end = -1;
                c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (c->fd < 0) {
                    c->st = ST_DONE;
                    fails[F_CONNECT]++;
                    continue;
                }
                int small = RCVBUF, mss = MSS;
                setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
                setsockopt(c->fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss);
                active++;
                if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0 &&
                    errno != EINPROGRESS) {
                    finish(ep, c, F_CONNECT);
                    continue;
                }
                c->st = ST_CONNECTING;
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET,
                                         .data.ptr = c};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
                    finish(ep, c, F_CONNECT);
                    continue;
                }
            }
            if (active > peak_active)
                peak_active = active;
            if (opened == n && all_opened_s < 0)
                all_opened_s = t - start;
            /* every 50 ms: come back to connections that stopped on their budget */
            if (t >= next_rescan) {
                for (int i = 0; i < opened; i++)
                    if (cs[i].st == ST_READING && cs[i].readable)
                        try_read(ep, &cs[i], t);
                next_rescan = t + 0.050;
            }
            next_tick = t + 0.010;
        }
        int wait_ms = (int)((next_tick - now_s()) * 1000.0);
        if (wait_ms < 0)
            wait_ms = 0;
        int ne = epoll_wait(ep, evs, 1024, wait_ms);
        t = now_s();
        for (int i = 0; i < ne; i++) {
            conn *c = evs[i].data.ptr;
            if (c->st == ST_DONE)
                continue;
            if (c->st == ST_CONNECTING) {
                int err = 0;
                socklen_t el = sizeof err;
                if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
                    finish(ep, c, F_CONNECT);
                    continue;
                }
                if (!(evs[i].events & EPOLLOUT))
                    continue;
                ssize_t w = send(c->fd, req_buf, req_len, MSG_NOSIGNAL);
                if (w != (ssize_t)req_len) {
                    finish(ep, c, F_SEND);
                    continue;
                }
                c->st = ST_READING;
                c->t0 = t;
            }
            if (c->st == ST_READING && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                c->readable = 1;
                try_read(ep, c, t);
            }
        }
    }
    for (int i = 0; i < n; i++)
        if (cs[i].st != ST_DONE && cs[i].fd >= 0)
            finish(ep, &cs[i], F_UNFINISHED);
    for (int i = opened; i < n; i++)
        fails[F_UNFINISHED]++;
    unsigned long failed = 0;
    for (int k = 0; k < F_N; k++)
        failed += fails[k];
    printf("connections=%d completed=%lu failed=%lu", n, completed, failed);
    for (int k = 0; k < F_N; k++)
        printf(" fail_%s=%lu", fail_name[k], fails[k]);
    printf(" peak_open=%d all_opened_s=%.2f elapsed_s=%.2f avg_download_s=%.2f "
           "max_download_s=%.2f\n",
           peak_active, all_opened_s, now_s() - start, completed ? sum_dl_time / (double)completed : 0.0,
           max_dl_time);
    return failed ? 1 : 0;
}
