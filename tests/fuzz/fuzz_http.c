/* libFuzzer target for the server's request handling: the real `updraft serve`
 * (upd_server_main, its libmicrohttpd daemons, device endpoints and admin API with its
 * JSON) runs in this process on 127.0.0.1, on a temp data directory with one release;
 * each input is sent as the bytes of one connection (then the write side is closed) and
 * the answer is read until the server closes.
 *
 * The server's sources are compiled into this target (tests/fuzz/CMakeLists.txt), so
 * libFuzzer sees their coverage, and AddressSanitizer/UBSan their memory errors. An
 * answer must be HTTP/1.1 with a status from 100 to 599 and, when it has a
 * Content-Length, exactly that many bytes after the head (except for HEAD, 1xx, 204,
 * 304); a broken promise calls abort(). No answer at all is allowed (a request the
 * server cannot read ends with the connection). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define TOKEN "fuzz-admin-token-0123456789"

static uint16_t port;
static char listen_at[64], data_dir[128];

static void *serve(void *arg)
{
    (void)arg;
    upd_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.listen = listen_at;
    cfg.data_dir = data_dir;
    cfg.threads = 2;
    cfg.timeout_s = 5;
    cfg.max_upload = 1 << 20;
    int rc = upd_server_main(&cfg);
    fprintf(stderr, "fuzz_http: the server ended (status %d)\n", rc);
    abort();
}

/* A stalled answer: what every thread of the server is doing (gdb, when the machine has
 * it), so that a CI log shows where it waits. */
static void stacks(int fd)
{
    struct sockaddr_in me, peer;
    socklen_t ml = sizeof me, pl = sizeof peer;
    struct tcp_info ti;
    socklen_t tl = sizeof ti;
    memset(&me, 0, sizeof me);
    memset(&peer, 0, sizeof peer);
    memset(&ti, 0, sizeof ti);
    int a = getsockname(fd, (struct sockaddr *)&me, &ml);
    int b = getpeername(fd, (struct sockaddr *)&peer, &pl);
    int t = getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl);
    fprintf(stderr,
            "fuzz_http: the client's socket: port %u (%d) to port %u (%d), TCP state %u (%d), "
            "unacked %u, retransmits %u\n",
            ntohs(me.sin_port), a, ntohs(peer.sin_port), b, (unsigned)ti.tcpi_state, t,
            ti.tcpi_unacked, (unsigned)ti.tcpi_retransmits);
    char cmd[200];
    snprintf(cmd, sizeof cmd,
             "command -v gdb >/dev/null && gdb -q -batch -p %d -ex 'thread apply all bt 25' "
             "</dev/null 2>&1 | grep -v '^\\[New LWP' | head -400 >&2",
             (int)getpid());
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_http: (no gdb: no thread stacks)\n");
    /* and the server port's sockets that are not in TIME-WAIT */
    snprintf(
        cmd, sizeof cmd,
        "command -v ss >/dev/null && ss -tanoie exclude time-wait '( sport = :%u or dport = :%u )' "
        "| head -60 >&2",
        (unsigned)port, (unsigned)port);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_http: (no ss: no socket states)\n");
}

static int connect_once(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
        return fd;
    if (errno == EINTR) { /* a signal (libFuzzer's SIGALRM): the connect goes on */
        struct pollfd pf = {fd, POLLOUT, 0};
        int err = 0;
        socklen_t el = sizeof err;
        while (poll(&pf, 1, 10000) < 0 && errno == EINTR)
            ;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0 &&
            (pf.revents & POLLOUT))
            return fd;
    }
    close(fd);
    return -1;
}

/* poll(2) for POLLIN up to ms milliseconds, again after a signal: libFuzzer's SIGALRM
 * (its -timeout watchdog, every 31 s) interrupts a poll with EINTR, which is no stall.
 * 1 ready, 0 timed out, -1 error. */
static int wait_readable(int fd, int ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long spent = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= ms)
            return 0;
        struct pollfd pf = {fd, POLLIN, 0};
        int n = poll(&pf, 1, (int)(ms - spent));
        if (n >= 0)
            return n > 0;
        if (errno != EINTR)
            return -1;
    }
}

/* Send len bytes on a new connection, close the write side, read the answer (at most
 * cap bytes kept) until the server closes or 30 s pass. Returns the bytes kept. */
static size_t exchange(const void *req, size_t len, char *out, size_t cap)
{
    int fd = connect_once();
    if (fd < 0) {
        fprintf(stderr, "fuzz_http: cannot connect to the server\n");
        abort();
    }
    const char *p = req;
    size_t left = len;
    while (left > 0) {
        ssize_t w = send(fd, p, left, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* the server answered and closed early: fine */
        p += w;
        left -= (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    size_t got = 0;
    char sink[4096];
    for (;;) {
        /* after 8 s of silence the stacks are printed once (what the server is doing while
         * the answer is late), and the answer still has until 30 s */
        int ready = wait_readable(fd, 8000);
        if (ready == 0) {
            fprintf(stderr, "fuzz_http: no answer after 8 s; the server's threads now:\n");
            stacks(fd);
            ready = wait_readable(fd, 22000);
        }
        if (ready <= 0) {
            fprintf(stderr, "fuzz_http: no end of the answer within 30 s\n");
            stacks(fd);
            abort();
        }
        ssize_t r = got < cap ? recv(fd, out + got, cap - got, 0) : recv(fd, sink, sizeof sink, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (got < cap)
            got += (size_t)r;
    }
    close(fd);
    return got;
}

static void fail(const char *why, const char *resp, size_t n)
{
    fprintf(stderr, "fuzz_http: %s; the answer began: %.*s\n", why, (int)(n < 300 ? n : 300), resp);
    abort();
}

/* The promises an answer keeps (see the top of the file). */
static void check_answer(const uint8_t *req, size_t rlen, char *resp, size_t n)
{
    if (n == 0)
        return;
    if (n < 12 || memcmp(resp, "HTTP/1.1 ", 9) != 0)
        fail("not an HTTP/1.1 status line", resp, n);
    int status = atoi(resp + 9);
    if (status < 100 || status > 599)
        fail("a status outside 100..599", resp, n);
    char *end = memmem(resp, n, "\r\n\r\n", 4);
    if (!end)
        return; /* cut by the capture limit, or the server closed mid-head: not judged */
    size_t head = (size_t)(end - resp) + 4;
    /* empty lines before the request line are skipped (RFC 9112 section 2.2), as
     * libmicrohttpd does; it reads a line as a C string, so a line that starts with a NUL
     * byte is empty too: "\nHEAD ..." and "\0\0\nHEAD ..." are HEAD requests */
    while (rlen > 0 && (*req == '\r' || *req == '\n' || *req == '\0')) {
        const uint8_t *nl = memchr(req, '\n', rlen);
        if (!nl)
            break;
        rlen -= (size_t)(nl + 1 - req);
        req = nl + 1;
    }
    int head_req = rlen >= 5 && !memcmp(req, "HEAD ", 5);
    if (head_req || status < 200 || status == 204 || status == 304)
        return;
    /* one answer per connection here: the body is what follows the head, up to a second
     * answer (keep-alive requests in one input get several) */
    char *cl = NULL;
    for (char *q = resp; q < end; q++)
        if ((q == resp || q[-1] == '\n') && !strncasecmp(q, "Content-Length:", 15)) {
            cl = q + 15;
            break;
        }
    if (!cl)
        return;
    /* libmicrohttpd 0.9.75's own answers to a malformed Content-Length (400) and to one
     * too large for a 64-bit number (413) send their head twice (found by this target;
     * docs/fuzzing.md): given before the server's code sees the request, not judged here */
    if ((strstr(resp, "<title>Request malformed</title>") ||
         strstr(resp, "<title>Request content too large</title>")) &&
        n - head >= 9 && !memcmp(resp + head, "HTTP/1.1 ", 9))
        return;
    unsigned long long want = strtoull(cl, NULL, 10);
    size_t body = n - head;
    char *next = memmem(resp + head, body, "HTTP/1.1 ", 9);
    if (next && (size_t)(next - resp) - head == want)
        return;
    if (n >= 1 << 20)
        return; /* capture limit */
    if (body != want)
        fail("a body of another length than its Content-Length", resp, n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    setenv("UPDRAFT_ADMIN_TOKEN", TOKEN, 1);
    snprintf(data_dir, sizeof data_dir, "/tmp/updraft-fuzz-http-%d", (int)getpid());
    /* a free port: bind to 0, note it, let go (the server binds it right after) */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        fprintf(stderr, "fuzz_http: no free port on 127.0.0.1\n");
        abort();
    }
    port = ntohs(sa.sin_port);
    close(fd);
    snprintf(listen_at, sizeof listen_at, "127.0.0.1:%u", port);
    /* the server blocks SIGINT/SIGTERM in its threads: keep them for it */
    pthread_t th;
    if (pthread_create(&th, NULL, serve, NULL) != 0)
        abort();
    pthread_detach(th);
    for (int i = 0; i < 500; i++) {
        int c = connect_once();
        if (c >= 0) {
            close(c);
            break;
        }
        usleep(20000);
    }
    /* one release, so that device requests reach the download and range code */
    static uint8_t img[4096];
    memset(img, 0xFF, sizeof img);
    img[0] = 0xE9; /* an ESP8266 image header: 1 segment, DIO, 4M */
    img[1] = 1;
    img[2] = 2;
    img[3] = 0x40;
    img[4] = 0x00;
    img[5] = 0x00;
    img[6] = 0x10;
    img[7] = 0x40;
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "POST /api/v1/releases?version=2.0&channel=stable HTTP/1.1\r\nHost: x\r\n"
                      "Authorization: Bearer %s\r\nContent-Length: %zu\r\nConnection: close"
                      "\r\n\r\n",
                      TOKEN, sizeof img);
    static char req[sizeof img + 512], resp[4096];
    memcpy(req, head, (size_t)hn);
    memcpy(req + hn, img, sizeof img);
    exchange(req, (size_t)hn + sizeof img, resp, sizeof resp);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char resp[1 << 20];
    size_t n = exchange(data, size, resp, sizeof resp);
    check_answer(data, size, resp, n);
    return 0;
}
