/* Sends one request file N times, one after the other, each on a new TCP connection (as a
 * device does: HTTP/1.0, Connection: close), reads each answer to the end and checks its
 * status. For bench/server/instr.sh, which counts a server's instructions over exactly N
 * checks: one at a time, so the count does not depend on how the load happens to overlap.
 *
 *   seqcheck PORT REQUEST_FILE N [STATUS [DEVICES]]
 *
 * 127.0.0.1; STATUS: the status expected (default 304). DEVICES: check i comes from device
 * i % DEVICES: the last three bytes of every MAC "DE:BA:7A:B1:E0:42" in the request are
 * replaced by that number (default 1: the request as it is, one device).
 *
 * Prints "sent=N ok=K" and exits 0 when every answer had the expected status, 1 otherwise,
 * 2 on bad arguments. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int one_check(const struct sockaddr_in *sa, const char *req, size_t len, int want)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) != 0) {
        close(fd);
        return 0;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, req + off, len - off);
        if (n <= 0) {
            close(fd);
            return 0;
        }
        off += (size_t)n;
    }
    char buf[4096], head[16];
    size_t got = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) /* to the end: the server closes */
        for (ssize_t i = 0; i < n && got < sizeof head - 1; i++)
            head[got++] = buf[i];
    close(fd);
    head[got] = '\0';
    /* "HTTP/1.x NNN" */
    return got >= 12 && !strncmp(head, "HTTP/1.", 7) && atoi(head + 9) == want;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: seqcheck PORT REQUEST_FILE N [STATUS [DEVICES]]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    long count = atol(argv[3]);
    int want = argc >= 5 ? atoi(argv[4]) : 304;
    long devices = argc >= 6 ? atol(argv[5]) : 1;
    if (port <= 0 || port > 65535 || count <= 0 || devices <= 0 || devices > 0xFFFFFF) {
        fprintf(stderr, "seqcheck: PORT must be 1-65535, N a positive count and DEVICES 1 to "
                        "16777215\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        fprintf(stderr, "seqcheck: cannot read the request file %s\n", argv[2]);
        return 2;
    }
    static char req[16384];
    size_t len = fread(req, 1, sizeof req, f);
    fclose(f);
    if (len == 0 || len == sizeof req) {
        fprintf(stderr, "seqcheck: %s is empty or larger than %zu bytes\n", argv[2],
                sizeof req - 1);
        return 2;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* where the MACs are: their last three bytes change with the device */
    static const char mac[] = "DE:BA:7A:B1:E0:42";
    size_t at[8], nat = 0;
    for (char *p = req; nat < 8 && (p = strstr(p, mac)) != NULL; p += sizeof mac - 1)
        at[nat++] = (size_t)(p - req) + 9;
    long ok = 0;
    for (long i = 0; i < count; i++) {
        if (devices > 1) {
            unsigned d = (unsigned)(i % devices);
            char tail[9];
            snprintf(tail, sizeof tail, "%02X:%02X:%02X", (d >> 16) & 0xFF, (d >> 8) & 0xFF,
                     d & 0xFF);
            for (size_t k = 0; k < nat; k++)
                memcpy(req + at[k], tail, 8);
        }
        ok += one_check(&sa, req, len, want);
    }
    printf("sent=%ld ok=%ld\n", count, ok);
    return ok == count ? 0 : 1;
}
