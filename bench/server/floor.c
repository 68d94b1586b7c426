/* The floor of the checks benchmark: the least work any server can do per device check
 * on this machine. Each thread (one per CPU, SO_REUSEPORT, TCP_DEFER_ACCEPT) runs an
 * epoll loop that accepts a connection, reads until the blank line that ends the
 * request (at once: the request is there when the kernel hands the connection over;
 * epoll only for the rare rest), writes one fixed "304 Not Modified" and closes: no HTTP
 * parsing, no headers looked at, no policy, no logging. Whatever it reaches with the device's
 * request (HTTP/1.0, Connection: close: a new TCP connection per check) is what the kernel's
 * connection handling allows; no real server can beat it by much, so it tells which ratio goals are
 * reachable at all (bench/server/run.sh, docs/benchmarks.md).
 *
 *   floor PORT [THREADS]      (listens on 127.0.0.1:PORT; default 2 threads)
 *
 * Not a server to use: it answers 304 to anything, including garbage. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define REQ_MAX    4096

static const char answer[] = "HTTP/1.1 304 Not Modified\r\nContent-Length: 0\r\n"
                             "Connection: close\r\n\r\n";

/* Per connection: how far the end-of-request scan got (fd-indexed, fds are small). */
typedef struct conn {
    int matched; /* bytes of "\r\n\r\n" seen at the end of what was read */
} conn;

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int defer_s = 5;
    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_s, sizeof defer_s);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4096) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Read what is there; 1 when the request's blank line has been seen, 0 for more, -1 to
 * drop the connection. */
static int read_request(int fd, conn *cs)
{
    char buf[REQ_MAX];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            for (ssize_t i = 0; i < n; i++) {
                char want = (cs->matched & 1) ? '\n' : '\r';
                cs->matched = buf[i] == want ? cs->matched + 1 : (buf[i] == '\r' ? 1 : 0);
                if (cs->matched == 4)
                    return 1;
            }
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        return -1;
    }
}

/* Finish a connection whose request is complete (r 1) or broken (r -1). */
static void answer_and_close(int fd, int r)
{
    if (r == 1 && write(fd, answer, sizeof answer - 1) < 0)
        r = -1;
    close(fd); /* also leaves the epoll set */
}

static void *serve(void *arg)
{
    int port = *(const int *)arg;
    int lfd = listen_on(port), ep = epoll_create1(EPOLL_CLOEXEC);
    if (lfd < 0 || ep < 0) {
        perror("floor: listen");
        exit(1);
    }
    conn *cs = calloc(65536, sizeof *cs);
    if (!cs) {
        perror("floor");
        exit(1);
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    if (c >= 65536) {
                        close(c);
                        continue;
                    }
                    cs[c].matched = 0;
                    int r = read_request(c, &cs[c]);
                    if (r != 0) {
                        answer_and_close(c, r);
                        continue;
                    }
                    struct epoll_event ce = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
                continue;
            }
            int r = read_request(fd, &cs[fd]);
            if (r != 0)
                answer_and_close(fd, r);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: floor PORT [THREADS]\n");
        return 2;
    }
    static int port;
    port = atoi(argv[1]);
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    if (port <= 0 || port > 65535 || threads < 1 || threads > 64) {
        fprintf(stderr, "floor: bad port or thread count\n");
        return 2;
    }
    pthread_t t[64];
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, serve, &port) != 0) {
            perror("floor: pthread_create");
            return 1;
        }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    return 0;
}
