/* `updraft sim`: a fleet of simulated devices (ports/sim) updating from a server. Each
 * device is a real update engine (updraft/client.h) on simulated flash, driven through
 * its want_send/feed API from ONE epoll loop with non-blocking sockets. Devices check,
 * download, write, verify, reboot (eboot's copy / ESP32 otadata) and check again until
 * the server says 304. Faults: dropped links, truncated responses, bit flips, power
 * cuts during the client's work and during the boot loader's copy, slow links. Every
 * fault is drawn from the device's own seeded generator at fixed points, so a seed
 * gives the same faults and outcomes. docs/sim.md. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fsutil.h"
#include "signing.h"
#include "cli.h"
#include "devtext.h"
#include "simfirm.h"
#include "toolmark.h"
#include "updraft/error.h"
#include "updraft/rsa.h"

#ifndef UPD_HAVE_SIM
int upd_cmd_sim(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "updraft sim: this binary was built without the simulator (ports/sim is "
                    "added by tests/sim: configure with UPD_BUILD_TESTS=ON)\n");
    return 2;
}
#else

#include "sim.h"
#include "simhost.h"
#include "simmemo.h"
#include "updraft/client.h"

#define HDR_MAX     4096
#define RX_CHUNK    65536 /* per recv(): fewer calls, and fewer window updates to send */
#define MAX_CODES   64
#define MAX_REASONS 32
#define REASON_MAX  256
#define AUTH_MAX    256 /* base64 of "user:password" */

static void sim_usage(FILE *f)
{
    fprintf(f, "usage: updraft sim --server URL [options]\n"
               "\n"
               "Simulate a fleet: N devices, each the real update engine on simulated flash\n"
               "(ESP8266 eboot copy, ESP32 otadata and rollback), in one event loop, checking\n"
               "and updating from URL until they converge. Deterministic for a seed.\n"
               "\n"
               "  --server URL       http://HOST:PORT/PATH the devices check (e.g. .../update)\n"
               "  --devices N        devices (default 100)\n"
               "  --platform P       esp8266 (default) or esp32\n"
               "  --core C           esp32: the Arduino-ESP32 generation whose image hashes the\n"
               "                     devices send: 2018 (sketch-sha256 only), 2 or 3 (default:\n"
               "                     sketch-md5 and sketch-sha256)\n"
               "  --layout NAME      flash layout: esp8266-4m1m (default), esp8266-4m2m,\n"
               "                     esp8266-4m3m, esp8266-2m1m, esp8266-1m64, esp8266-1m0,\n"
               "                     esp32-4m (default for esp32)\n"
               "  --version V        the version the devices run at first (default 1.0.0)\n"
               "  --firmware FILE    the image they run at first (default: a synthetic one)\n"
               "  --code-size BYTES  size of the synthetic image's code (default 250000)\n"
               "  --faults LIST      comma-separated: drop=P,truncate=P,corrupt=P,powercut=P,\n"
               "                     weakwrite=P, bootcut=P (probabilities 0..1 per check,\n"
               "                     bootcut per installed update), slow=KBPS (each device's\n"
               "                     link speed)\n"
               "  --seed S           seed of the faults (default 1)\n"
               "  --mac-start N      the first device's number (default 1): device N has the\n"
               "                     MAC 5C:CF:7F (ESP32 24:0A:C4) + N in 3 bytes; a second run\n"
               "                     with another range adds devices the server has not seen\n"
               "  --parallel N       connections at once (default 256)\n"
               "  --max-checks N     checks per device before it counts as failed (default 40;\n"
               "                     with --interval: checks in a row without a 304)\n"
               "  --retry-ms MS      wait after a failed check (default 100; with --interval\n"
               "                     every check waits the interval)\n"
               "  --features F       all (default: resume, SHA-256, inspector) or none (parity)\n"
               "  --user U --password P  device credentials (HTTP Basic, as the server's\n"
               "                     --device-auth) sent by every device\n"
               "  --auth-file FILE   per-device credentials, lines 'MAC USER:PASSWORD' (the\n"
               "                     file of updraft serve --device-auth-file); devices not\n"
               "                     in it send --user/--password, or nothing\n"
               "  --interval DUR     poll: each device checks every DUR (2s, 500ms, 1m), the\n"
               "                     first check at a random point of the first interval, and\n"
               "                     goes on after a 304 (default: check until a 304, stop)\n"
               "  --jitter J         with --interval: each wait is DUR +- J*DUR (default 0.1)\n"
               "  --duration DUR     with --interval: run this long (default: until every\n"
               "                     device's last check settled it: 304, a bad release's\n"
               "                     outcome, dead, or --max-checks checks without a 304)\n"
               "  --bad-release VERSION:FAILRATE[:MODE]\n"
               "                     the release with x-version VERSION fails on FAILRATE of\n"
               "                     the devices (0.5 or 50%%; exactly that share, chosen from\n"
               "                     --seed). MODE: loop (default: it keeps crashing, the\n"
               "                     device never checks in again), refuse (the Updater\n"
               "                     rejects it at the end: ESP8266 error 12, signature; ESP32\n"
               "                     error 9, activation), rollback (ESP32 only: it never\n"
               "                     confirms itself, the boot loader goes back to the old\n"
               "                     slot, which checks in). Repeatable (up to 8 releases)\n"
               "  --pubkey KEY       ESP8266 devices built for signed updates: each checks\n"
               "                     every image with the RSA public key KEY (PEM) as the\n"
               "                     core's Updater does; an unsigned, wrongly signed or\n"
               "                     changed image fails with Updater error 12, nothing is\n"
               "                     copied (docs/signing.md)\n"
               "  --report           devices send the outcome report of their last update\n"
               "                     (x-updraft-report, docs/protocol.md)\n"
               "  --json             print the summary as one JSON object (last line)\n"
               "  --quiet            no progress bar\n"
               "\n"
               "Against a server on 127.0.0.0/8 each device connects from 127.B3.B4.B5, the\n"
               "last three bytes of its MAC, as devices have addresses of their own.\n"
               "\n"
               "A device the server answers 304 with X-Updraft-Result: declined (a release is\n"
               "there, refused to it) counts as refused, with the server's X-Updraft-Reason;\n"
               "the reasons are printed grouped, with their counts.\n"
               "\n"
               "Exit status: 0 when every device converged (updated or current) and none was\n"
               "bricked by the client; 1 otherwise (failed, refused, bricked by the client, no\n"
               "check ended within --duration); 2 for bad arguments. Bricks by eboot's copy\n"
               "(bootcut) are the hardware's truth, and what a --bad-release does to devices\n"
               "is what was asked for: counted apart, they do not fail the run.\n");
}

/* ---- options ------------------------------------------------------------------------- */

typedef struct faults {
    double drop, truncate, corrupt, powercut, weakwrite, bootcut;
    double slow_kbps;
} faults;

typedef struct opts {
    uint64_t interval_ms, duration_ms; /* --interval (0: check until 304, then stop) */
    double jitter;                     /* --jitter: share of the interval, either way */
    uint32_t mac_start;                /* --mac-start: the first device's number */
    int report;                        /* --report: UPD_CLIENT_F_REPORT */
    char host[UPD_CLIENT_HOST_MAX + 1];
    uint16_t port;
    const char *path;
    const char *url;
    unsigned devices, parallel, max_checks, retry_ms;
    int platform;
    int sha_only; /* --core 2018: an ESP32 device sends its SHA-256, no MD5 */
    const upd_sim_layout *lay;
    const char *version, *firmware;
    uint32_t code_size;
    faults f;
    uint32_t seed;
    uint32_t features;
    int json, quiet;
    const char *user, *password, *auth_file;
    const char *pubkey; /* --pubkey: ESP8266 devices built for signed updates */
} opts;

static int parse_url(opts *o, const char *url)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) != 0) {
        fprintf(stderr, "updraft sim: --server must be an http:// URL (the sim has no TLS)\n");
        return -1;
    }
    p += 7;
    const char *slash = strchr(p, '/'), *end = slash ? slash : p + strlen(p);
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *hend = colon ? colon : end;
    if (hend == p || (size_t)(hend - p) > UPD_CLIENT_HOST_MAX) {
        fprintf(stderr, "updraft sim: no host in --server %s\n", url);
        return -1;
    }
    memcpy(o->host, p, (size_t)(hend - p));
    o->host[hend - p] = '\0';
    o->port = 80;
    if (colon) {
        char *e;
        unsigned long v = strtoul(colon + 1, &e, 10);
        if (e != end || v == 0 || v > 65535) {
            fprintf(stderr, "updraft sim: bad port in --server %s\n", url);
            return -1;
        }
        o->port = (uint16_t)v;
    }
    o->path = slash ? slash : "/";
    o->url = url;
    return 0;
}

static int parse_prob(const char *k, const char *v, double *out)
{
    char *e;
    double d = strtod(v, &e);
    if (e == v || *e || d < 0 || d > 1) {
        fprintf(stderr, "updraft sim: --faults %s=%s: a probability from 0 to 1\n", k, v);
        return -1;
    }
    *out = d;
    return 0;
}

static int parse_faults(faults *f, const char *list)
{
    char buf[512];
    if (strlen(list) >= sizeof buf)
        return -1;
    strcpy(buf, list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (!eq) {
            fprintf(stderr, "updraft sim: --faults: '%s' is not NAME=VALUE\n", t);
            return -1;
        }
        *eq = '\0';
        const char *v = eq + 1;
        int r;
        if (!strcmp(t, "drop"))
            r = parse_prob(t, v, &f->drop);
        else if (!strcmp(t, "truncate"))
            r = parse_prob(t, v, &f->truncate);
        else if (!strcmp(t, "corrupt"))
            r = parse_prob(t, v, &f->corrupt);
        else if (!strcmp(t, "powercut"))
            r = parse_prob(t, v, &f->powercut);
        else if (!strcmp(t, "weakwrite"))
            r = parse_prob(t, v, &f->weakwrite);
        else if (!strcmp(t, "bootcut"))
            r = parse_prob(t, v, &f->bootcut);
        else if (!strcmp(t, "slow")) {
            char *e;
            f->slow_kbps = strtod(v, &e);
            r = (e == v || *e || f->slow_kbps <= 0) ? -1 : 0;
            if (r)
                fprintf(stderr, "updraft sim: --faults slow=%s: kilobytes per second > 0\n", v);
        } else {
            fprintf(stderr,
                    "updraft sim: --faults: unknown fault '%s' (drop, truncate, corrupt, "
                    "powercut, weakwrite, bootcut, slow)\n",
                    t);
            r = -1;
        }
        if (r)
            return -1;
    }
    return 0;
}

static int parse_uns(const char *opt, const char *v, unsigned long min, unsigned long max,
                     unsigned long *out)
{
    char *e;
    unsigned long x = v ? strtoul(v, &e, 10) : 0;
    if (!v || !*v || *e || x < min || x > max) {
        fprintf(stderr, "updraft sim: %s needs a number from %lu to %lu\n", opt, min, max);
        return -1;
    }
    *out = x;
    return 0;
}

/* ---- devices ----------------------------------------------------------------------------- */

enum { D_WAIT = 0, D_ACTIVE, D_DONE };
/* A device's outcome: how its last check ended (with --interval it changes while it
 * polls). OUT_NONE: no check ended yet. */
enum {
    OUT_NONE = 0,
    OUT_UPDATED, /* runs a release it installed; 304 */
    OUT_CURRENT, /* 304, never installed */
    OUT_REFUSED, /* 304 declined by the server */
    OUT_FAILED,  /* the last check failed (last_err) */
    OUT_BRICK_CLIENT,
    OUT_BRICK_BOOT,
    OUT_LOOPING,     /* installed a bad release that keeps crashing: silent for good */
    OUT_ROLLED_BACK, /* installed a bad release, the boot loader went back (ESP32) */
    OUT_DEV_REFUSED, /* its Updater refused a bad release */
    OUT__N
};

typedef struct sdev {
    upd_sim_dev d;
    upd_client_ctx c;
    upd_client_config cfg;
    uint32_t buf[2048 / 4];
    uint32_t rng;
    uint32_t index;
    uint16_t checks, installs;
    uint16_t unsettled_checks; /* --interval: checks since the last 304 */
    uint8_t st, outcome;
    uint8_t settled;        /* the last check ended where it stays: see settle() */
    uint8_t firm;           /* enum upd_simfirm_mode of the image being offered */
    uint8_t runs_installed; /* it runs an image it installed (not its factory one) */
    int last_err;
    int slot; /* active: its slot */
    char version[32];
    char offered[32];        /* x-version of the image being installed */
    char result[12];         /* X-Updraft-Result of the last answer ("declined", "current", ...) */
    char reason[REASON_MAX]; /* its X-Updraft-Reason */
    const char *auth;        /* base64 credentials, or NULL */
    upd_sim_memo_ctx memo_md5, memo_sha; /* its port's hashes, in front of the fleet's memos */
    uint8_t mac[6];
} sdev;

/* One connection in flight: the fault plan of the check and the header scanner. */
typedef struct slot {
    int fd;
    uint32_t dev;
    int registered;
    int rd_on;        /* the request is sent: the engine reads the response (WANT_RECV) */
    uint64_t rx;      /* response bytes received */
    uint32_t hdr_len; /* bytes buffered while the headers are incomplete */
    int hdr_done;
    uint64_t total; /* header + Content-Length once known */
    /* fault plan: fractions of the response, drawn at the start of the check */
    double f_drop, f_trunc, f_corrupt, f_cut, f_weak;
    uint8_t corrupt_bit;
    uint64_t drop_at, trunc_at, corrupt_at, cut_at, weak_at; /* UINT64_MAX: none */
    double tokens;
    uint64_t refill_ms;
    int throttled;
    int counted; /* a resumed download was counted */
    /* the engine's request with x-updraft-tool: sim added (toolmark.h), being sent */
    uint32_t out_len, out_off, out_eng; /* out_eng: the engine's bytes it stands for */
    uint8_t out[HDR_MAX];
    uint8_t hdr[HDR_MAX];
} slot;

typedef struct fleet {
    opts o;
    upd_sig_key *sigkey;   /* --pubkey, as loaded and checked on the host (GnuTLS) */
    upd_rsa_verifier *rsa; /* ... and as the devices hold it: the device library's RSA
                              verifier (updraft/rsa.h), one for all (one thread) */
    sdev *dev;
    slot *slots;
    int *free_slots, nfree;
    uint32_t *runq, rq_head, rq_tail, rq_cap; /* ring of device indices */
    struct wake {
        uint64_t at;
        uint32_t dev;
    } * wakes; /* min-heap by time: devices waiting for their next check */
    uint32_t nwakes;
    int epfd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    upd_sim_host *host;
    upd_sim_memo *memo_md5, *memo_sha; /* hashes of bytes the fleet hashed before (simmemo.h) */
    upd_sim_dev twin;
    upd_simfirm firm; /* --bad-release */
    /* counts */
    unsigned done;         /* devices that never check again */
    unsigned nout[OUT__N]; /* devices per outcome */
    unsigned nsettled;
    /* the refusals' reasons, grouped: the first MAX_REASONS - 1 distinct ones, then "other" */
    char reasons[MAX_REASONS][REASON_MAX];
    unsigned reason_n[MAX_REASONS], nreasons;
    char fleet_auth[AUTH_MAX];
    struct mac_auth {
        uint8_t mac[6];
        char auth[AUTH_MAX];
    } * auths;
    size_t nauths;
    unsigned long long checks, retries, bytes, cuts_client, cuts_boot, rollbacks, installs;
    unsigned long long weak_writes; /* flash writes that left a bit unprogrammed */
    unsigned long long resumed;
    int codes[MAX_CODES], code_fail[MAX_CODES], code_err[MAX_CODES], ncodes;
    uint64_t t0, last_bar;
    uint64_t turn_max_ms; /* the event loop's longest turn with checks in flight (run()) */
    int tty;
} fleet;

static void sim_verifier(fleet *fl, sdev *d);

/* The sim's times are unsigned: only differences, never before its start. */
static uint64_t now_ms(void)
{
    return (uint64_t)upd__mono_ms();
}

static uint32_t rnd(uint32_t *s)
{
    /* xorshift32 */
    uint32_t x = *s ? *s : 0x2545F491u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static double rnd01(uint32_t *s)
{
    return (rnd(s) >> 8) * (1.0 / 16777216.0);
}

static int code_index(fleet *fl, int code)
{
    for (int i = 0; i < fl->ncodes; i++)
        if (fl->codes[i] == code)
            return i;
    if (fl->ncodes == MAX_CODES)
        return MAX_CODES - 1;
    fl->codes[fl->ncodes] = code;
    return fl->ncodes++;
}

static void runq_push(fleet *fl, uint32_t i)
{
    fl->runq[fl->rq_tail++ % fl->rq_cap] = i;
}

static int wake_before(const struct wake *a, const struct wake *b)
{
    return a->at < b->at || (a->at == b->at && a->dev < b->dev);
}

/* Device i checks again at at_ms (a device waits at most once: the heap holds each device
 * at most once, so it never needs more than one slot per device). */
static void wake_at(fleet *fl, uint32_t i, uint64_t at_ms)
{
    struct wake w = {at_ms, i}, *h = fl->wakes;
    uint32_t k = fl->nwakes++;
    while (k) {
        uint32_t up = (k - 1) / 2;
        if (!wake_before(&w, &h[up]))
            break;
        h[k] = h[up];
        k = up;
    }
    h[k] = w;
}

static uint32_t wake_pop(fleet *fl)
{
    struct wake *h = fl->wakes, last = h[--fl->nwakes];
    uint32_t dev = h[0].dev, k = 0, n = fl->nwakes;
    for (;;) {
        uint32_t c = 2 * k + 1;
        if (c >= n)
            break;
        if (c + 1 < n && wake_before(&h[c + 1], &h[c]))
            c++;
        if (!wake_before(&h[c], &last))
            break;
        h[k] = h[c];
        k = c;
    }
    if (n)
        h[k] = last;
    return dev;
}

/* A number in [0, 1) for device i's n-th wait: the jitter of its checks. A hash, not the
 * device's generator, so the faults a seed gives stay the same with or without --interval. */
static double jitter01(uint32_t seed, uint32_t i, uint32_t n)
{
    uint32_t h = seed * 0x9E3779B1u ^ (i + 1) * 0x85EBCA77u ^ (n + 1) * 0xC2B2AE3Du;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    h *= 0x297A2D39u;
    h ^= h >> 15;
    return (h >> 8) * (1.0 / 16777216.0);
}

/* --interval: device d's next check, one interval (with its jitter) from now. */
static void wake_next(fleet *fl, sdev *d)
{
    double j = fl->o.jitter * (2.0 * jitter01(fl->o.seed, d->index, d->checks) - 1.0);
    d->st = D_WAIT;
    wake_at(fl, d->index, now_ms() + (uint64_t)((double)fl->o.interval_ms * (1.0 + j) + 0.5));
}

/* Whether device d's last check ended where it stays (a 304, a bad release's outcome, a
 * dead device, or --max-checks checks without a 304): without --duration the run ends
 * when every device is settled. */
static void settle(fleet *fl, sdev *d, int on)
{
    if (d->settled == !!on)
        return;
    d->settled = (uint8_t) !!on;
    if (on)
        fl->nsettled++;
    else
        fl->nsettled--;
}

static void set_outcome(fleet *fl, sdev *d, int outcome)
{
    fl->nout[d->outcome]--;
    d->outcome = (uint8_t)outcome;
    fl->nout[outcome]++;
}

/* ---- one check ------------------------------------------------------------------------------ */

static void finish_check(fleet *fl, sdev *d);

static void slot_close(fleet *fl, slot *s)
{
    if (s->fd >= 0) {
        if (s->registered)
            epoll_ctl(fl->epfd, EPOLL_CTL_DEL, s->fd, NULL);
        close(s->fd);
    }
    s->fd = -1;
    s->registered = 0;
    s->rd_on = 0;
    s->out_len = s->out_off = s->out_eng = 0; /* a request half sent is gone with the link */
}

static void want_events(fleet *fl, slot *s, uint32_t ev)
{
    struct epoll_event e = {.events = ev, .data.u32 = (uint32_t)(s - fl->slots)};
    if (!s->registered) {
        if (epoll_ctl(fl->epfd, EPOLL_CTL_ADD, s->fd, &e) == 0)
            s->registered = 1;
    } else {
        epoll_ctl(fl->epfd, EPOLL_CTL_MOD, s->fd, &e);
    }
}

static int resolve(fleet *fl, const char *host, uint16_t port, struct sockaddr_storage *ss,
                   socklen_t *len)
{
    if (!strcmp(host, fl->o.host) && port == fl->o.port && fl->addrlen) {
        *ss = fl->addr;
        *len = fl->addrlen;
        return 0;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    char ps[8];
    snprintf(ps, sizeof ps, "%u", port);
    if (getaddrinfo(host, ps, &hints, &ai) != 0)
        return -1;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

/* Each device connects from an address of its own, as devices do: to a server on the
 * loopback network (127.0.0.0/8, all of it local on Linux) from 127.B3.B4.B5, the last
 * three bytes of its MAC. From 127.0.0.1 alone, the fleet would be one client to the
 * server, and its limit of open connections per address (serve --max-per-address, 128)
 * would refuse the devices beyond it whenever their downloads overlap. An address that
 * cannot be bound (.0.0.0 or .255.255.255) leaves the kernel's choice. */
static void bind_device_address(int fd, const sdev *d, const struct sockaddr_storage *to)
{
    if (to->ss_family != AF_INET)
        return;
    const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)to;
    if ((ntohl(in->sin_addr.s_addr) >> 24) != 127)
        return;
    uint32_t n = (uint32_t)d->mac[3] << 16 | (uint32_t)d->mac[4] << 8 | d->mac[5];
    if (n == 0 || n == 0xFFFFFFu)
        return;
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = 0};
    from.sin_addr.s_addr = htonl(0x7F000000u | n);
    int one = 1;
    /* the port is chosen at connect(), per destination: no ephemeral port held by bind() */
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    (void)bind(fd, (const struct sockaddr *)&from, sizeof from);
}

static void start_connect(fleet *fl, sdev *d, slot *s)
{
    slot_close(fl, s);
    struct sockaddr_storage ss;
    socklen_t len;
    if (resolve(fl, upd_client_host(&d->c), upd_client_port(&d->c), &ss, &len) != 0) {
        upd_client_transport_error(&d->c, UPD_PORT_ECONNECT);
        return;
    }
    s->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        upd_client_transport_error(&d->c, UPD_PORT_ECONNECT);
        return;
    }
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bind_device_address(s->fd, d, &ss);
    int r = connect(s->fd, (struct sockaddr *)&ss, len);
    if (r == 0) {
        upd_client_connected(&d->c);
    } else if (errno != EINPROGRESS) {
        slot_close(fl, s);
        upd_client_transport_error(&d->c, UPD_PORT_ECONNECT);
        return;
    }
    want_events(fl, s, EPOLLOUT);
}

/* Compute the fault offsets once the response's length is known. */
static void plan_offsets(slot *s)
{
    uint64_t t = s->total ? s->total : 1;
    s->drop_at = s->f_drop >= 0 ? (uint64_t)(s->f_drop * (double)t) : UINT64_MAX;
    s->trunc_at = s->f_trunc >= 0 ? (uint64_t)(s->f_trunc * (double)t) : UINT64_MAX;
    s->corrupt_at = s->f_corrupt >= 0 ? (uint64_t)(s->f_corrupt * (double)t) : UINT64_MAX;
    s->cut_at = s->f_cut >= 0 ? (uint64_t)(s->f_cut * (double)t) : UINT64_MAX;
    s->weak_at = s->f_weak >= 0 ? (uint64_t)(s->f_weak * (double)t) : UINT64_MAX;
}

/* A header's value (after the colon, n bytes) into out, without leading blanks, cut to cap. */
static void header_value(const char *v, uint32_t n, char *out, size_t cap)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(out, v, k);
    out[k] = '\0';
}

/* Scan the buffered headers: their length, Content-Length, x-version and updraft's
 * X-Updraft-Result / X-Updraft-Reason (a refusal is told apart from "up to date"). An
 * image offered (200/206) is noted for the per-release tally, and when its release is bad
 * on this device in mode refuse, the device's firmware is set to refuse it, before the
 * engine sees the headers. */
static void parse_headers(fleet *fl, sdev *d, slot *s)
{
    uint32_t i = 0, n = s->hdr_len;
    uint64_t clen = 0;
    int status = n > 12 && !memcmp(s->hdr, "HTTP/1.", 7) ? atoi((const char *)s->hdr + 9) : 0;
    d->offered[0] = '\0';
    d->result[0] = '\0';
    d->reason[0] = '\0';
    while (i < n) {
        uint32_t j = i;
        while (j < n && s->hdr[j] != '\n')
            j++;
        const char *line = (const char *)s->hdr + i;
        uint32_t ll = j - i;
        if (ll && line[ll - 1] == '\r')
            ll--;
        if (ll > 15 && !strncasecmp(line, "Content-Length:", 15))
            clen = strtoull(line + 15, NULL, 10);
        if (ll > 10 && !strncasecmp(line, "x-version:", 10)) {
            uint32_t k = 10;
            while (k < ll && line[k] == ' ')
                k++;
            uint32_t vl = ll - k < sizeof d->offered - 1 ? ll - k : (uint32_t)sizeof d->offered - 1;
            memcpy(d->offered, line + k, vl);
            d->offered[vl] = '\0';
        }
        if (ll > 17 && !strncasecmp(line, "X-Updraft-Result:", 17))
            header_value(line + 17, ll - 17, d->result, sizeof d->result);
        if (ll > 17 && !strncasecmp(line, "X-Updraft-Reason:", 17))
            header_value(line + 17, ll - 17, d->reason, sizeof d->reason);
        i = j + 1;
    }
    s->total = s->hdr_len + clen;
    if ((status == 200 || status == 206) && d->offered[0]) {
        upd_simfirm_note(&fl->firm, d->index, d->offered, UPD_SIMFIRM_F_OFFERED);
        d->firm = (uint8_t)upd_simfirm_mode(&fl->firm, d->index, d->offered);
        if (d->firm == UPD_SIMFIRM_REFUSE)
            upd_sim_arm_refusal(&d->d, 1);
    }
}

/* Hand bytes to the engine through the fault plan. Returns 0 to go on, 1 when the link
 * was dropped or truncated here (the connection is gone). */
static int deliver(fleet *fl, sdev *d, slot *s, uint8_t *p, size_t n)
{
    while (n && upd_client_result_of(&d->c) == UPD_CLIENT_RUNNING) {
        uint64_t at = s->rx, stop = UINT64_MAX;
        if (s->drop_at >= at && s->drop_at < stop)
            stop = s->drop_at;
        if (s->trunc_at >= at && s->trunc_at < stop)
            stop = s->trunc_at;
        if (s->cut_at >= at && s->cut_at < stop)
            stop = s->cut_at;
        if (s->weak_at >= at && s->weak_at < stop)
            stop = s->weak_at;
        size_t k = n;
        if (stop != UINT64_MAX && stop - at < k)
            k = (size_t)(stop - at);
        if (s->corrupt_at >= at && s->corrupt_at < at + k) {
            p[s->corrupt_at - at] ^= (uint8_t)(1u << s->corrupt_bit);
            s->corrupt_at = UINT64_MAX;
        }
        /* count what the engine took: the same for a seed, unlike what recv() read */
        if (k)
            fl->bytes += upd_client_feed(&d->c, p, k);
        s->rx += k;
        p += k;
        n -= k;
        if (s->rx == s->cut_at) {
            s->cut_at = UINT64_MAX;
            upd_sim_arm_cut(&d->d, UPD_SIM_PH_APP, 0); /* the next erase/write loses power */
        }
        if (s->rx == s->weak_at) {
            s->weak_at = UINT64_MAX;
            upd_sim_arm_weak_write(&d->d, 0); /* the next write leaves a bit at 1 */
        }
        if (s->rx == s->drop_at) {
            s->drop_at = UINT64_MAX;
            slot_close(fl, s);
            upd_client_transport_error(&d->c, UPD_PORT_ELOST);
            return 1;
        }
        if (s->rx == s->trunc_at) {
            s->trunc_at = UINT64_MAX;
            slot_close(fl, s);
            upd_client_eof(&d->c);
            return 1;
        }
    }
    return 0;
}

/* Bytes arrived: buffer the headers (the fault plan needs the response's length), then
 * deliver. */
static int on_bytes(fleet *fl, sdev *d, slot *s, uint8_t *p, size_t n)
{
    if (!s->hdr_done) {
        size_t k = HDR_MAX - s->hdr_len < n ? HDR_MAX - s->hdr_len : n;
        memcpy(s->hdr + s->hdr_len, p, k);
        uint32_t old = s->hdr_len;
        s->hdr_len += (uint32_t)k;
        /* find the end of the headers */
        uint32_t end = 0;
        for (uint32_t i = old >= 3 ? old - 3 : 0; i + 3 < s->hdr_len; i++)
            if (!memcmp(s->hdr + i, "\r\n\r\n", 4)) {
                end = i + 4;
                break;
            }
        if (!end && s->hdr_len < HDR_MAX && k == n)
            return 0;
        if (!end)
            end = s->hdr_len;
        /* the bytes past the headers go back to the stream */
        uint32_t extra = s->hdr_len - end;
        s->hdr_len = end;
        parse_headers(fl, d, s);
        plan_offsets(s);
        s->hdr_done = 1;
        if (deliver(fl, d, s, s->hdr, end))
            return 1;
        if (extra && deliver(fl, d, s, s->hdr + end, extra))
            return 1;
        p += k;
        n -= k;
    }
    return n ? deliver(fl, d, s, p, n) : 0;
}

/* Drive the engine until it waits for the network (or is done). */
static void pump(fleet *fl, sdev *d)
{
    slot *s = &fl->slots[d->slot];
    for (int guard = 0; guard < 64; guard++) {
        switch (upd_client_poll(&d->c)) {
        case UPD_CLIENT_WANT_CONNECT:
            start_connect(fl, d, s);
            if (s->fd >= 0)
                return; /* wait for EPOLLOUT */
            continue;
        case UPD_CLIENT_WANT_SEND: {
            if (s->fd < 0) {
                upd_client_transport_error(&d->c, UPD_PORT_ESEND);
                continue;
            }
            size_t n;
            const uint8_t *p = upd_client_want_send(&d->c, &n);
            if (!s->counted && memmem(p, n, "\r\nRange: ", 9)) {
                s->counted = 1; /* the engine resumes an interrupted download */
                fl->resumed++;
            }
            if (!s->out_len) {
                /* a request starts: say that updraft sim sends it */
                size_t m = upd_cli_toolmark(p, n, "sim", s->out, sizeof s->out);
                if (m) {
                    s->out_len = (uint32_t)m;
                    s->out_off = 0;
                    s->out_eng = (uint32_t)n;
                }
            }
            ssize_t k;
            if (s->out_len) {
                k = send(s->fd, s->out + s->out_off, s->out_len - s->out_off, MSG_NOSIGNAL);
                if (k > 0) {
                    s->out_off += (uint32_t)k;
                    if (s->out_off < s->out_len)
                        continue;
                    k = (ssize_t)s->out_eng; /* all of it went: the engine's bytes did */
                    s->out_len = 0;
                    s->out_off = 0;
                    s->out_eng = 0;
                }
            } else {
                k = send(s->fd, p, n, MSG_NOSIGNAL);
            }
            if (k > 0) {
                upd_client_sent(&d->c, (size_t)k);
                if (upd_client_poll(&d->c) == UPD_CLIENT_WANT_RECV) {
                    s->rx = 0;
                    s->hdr_len = 0;
                    s->hdr_done = 0;
                    s->rd_on = 1;
                    want_events(fl, s, EPOLLIN | EPOLLRDHUP);
                    return;
                }
                continue;
            }
            if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                want_events(fl, s, EPOLLOUT);
                return;
            }
            upd_client_transport_error(&d->c, UPD_PORT_ESEND);
            continue;
        }
        case UPD_CLIENT_WANT_RECV:
            if (s->fd < 0) { /* the link is gone, the engine did not notice yet */
                upd_client_eof(&d->c);
                continue;
            }
            return;
        case UPD_CLIENT_DONE:
        default:
            finish_check(fl, d);
            return;
        }
    }
}

static void on_readable(fleet *fl, sdev *d, slot *s)
{
    static uint8_t rx[RX_CHUNK];
    for (int round = 0; round < 8 && s->fd >= 0; round++) {
        size_t want = sizeof rx;
        if (fl->o.f.slow_kbps > 0) {
            uint64_t t = now_ms();
            s->tokens += (double)(t - s->refill_ms) * fl->o.f.slow_kbps * 1.024;
            double cap = fl->o.f.slow_kbps * 1024.0 * 0.25 + 1460; /* a quarter second burst */
            if (s->tokens > cap)
                s->tokens = cap;
            s->refill_ms = t;
            if (s->tokens < 1) {
                want_events(fl, s, 0); /* the link is busy: come back on the tick */
                s->throttled = 1;
                return;
            }
            if ((double)want > s->tokens)
                want = (size_t)s->tokens;
        }
        ssize_t k = recv(s->fd, rx, want, 0);
        if (k > 0) {
            if (fl->o.f.slow_kbps > 0)
                s->tokens -= (double)k;
            if (on_bytes(fl, d, s, rx, (size_t)k))
                break;
            if (upd_client_result_of(&d->c) != UPD_CLIENT_RUNNING)
                break;
            continue;
        }
        if (k == 0) {
            /* the server closed: whatever headers are buffered go to the engine first */
            if (!s->hdr_done && s->hdr_len) {
                s->total = s->hdr_len;
                plan_offsets(s);
                s->hdr_done = 1;
                uint32_t n = s->hdr_len;
                if (deliver(fl, d, s, s->hdr, n))
                    break;
            }
            slot_close(fl, s);
            if (upd_client_result_of(&d->c) == UPD_CLIENT_RUNNING)
                upd_client_eof(&d->c);
            break;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (errno == EINTR)
            continue;
        slot_close(fl, s);
        upd_client_transport_error(&d->c, UPD_PORT_ELOST);
        break;
    }
    pump(fl, d);
}

static void on_writable(fleet *fl, sdev *d, slot *s)
{
    if (upd_client_poll(&d->c) == UPD_CLIENT_WANT_CONNECT) {
        int err = 0;
        socklen_t l = sizeof err;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0 || err) {
            slot_close(fl, s);
            upd_client_transport_error(&d->c, UPD_PORT_ECONNECT);
        } else {
            upd_client_connected(&d->c);
        }
    }
    pump(fl, d);
}

/* Start a check of device d in a free slot: draw its faults, build its config. */
static void start_check(fleet *fl, sdev *d)
{
    int si = fl->free_slots[--fl->nfree];
    slot *s = &fl->slots[si];
    const faults *f = &fl->o.f;
    d->slot = si;
    d->st = D_ACTIVE;
    d->checks++;
    fl->checks++;
    s->dev = d->index;
    s->fd = -1;
    s->registered = 0;
    s->rd_on = 0;
    s->rx = 0;
    s->hdr_len = 0;
    s->hdr_done = 0;
    s->total = 0;
    s->throttled = 0;
    s->counted = 0;
    s->out_len = s->out_off = s->out_eng = 0;
    s->tokens = f->slow_kbps * 1024.0 * 0.05;
    s->refill_ms = now_ms();
    /* the same number of draws whatever happens: a seed fixes every fault */
    double r[10];
    for (int i = 0; i < 10; i++)
        r[i] = rnd01(&d->rng);
    s->f_drop = r[0] < f->drop ? r[1] : -1;
    s->f_trunc = r[2] < f->truncate ? r[3] : -1;
    s->f_corrupt = r[4] < f->corrupt ? r[5] : -1;
    s->f_cut = r[6] < f->powercut ? r[7] : -1;
    s->f_weak = r[8] < f->weakwrite ? r[9] : -1;
    s->corrupt_bit = (uint8_t)(rnd(&d->rng) & 7u);
    s->drop_at = s->trunc_at = s->corrupt_at = s->cut_at = s->weak_at = UINT64_MAX;
    upd_sim_arm_weak_write(&d->d, -1); /* a weak write armed by the last check is gone */
    d->firm = UPD_SIMFIRM_GOOD;        /* until an offer of a bad release says otherwise */
    if (d->d.refuse)
        upd_sim_arm_refusal(&d->d, 0);
    sim_verifier(fl, d);

    upd_client_config *c = &d->cfg;
    memset(c, 0, sizeof *c);
    c->host = fl->o.host;
    c->port = fl->o.port;
    c->path = fl->o.path;
    c->version = d->version;
    c->sdk_version = fl->o.platform == UPD_SIM_ESP32 ? "v4.4.5" : "2.2.2-dev(38a443e)";
    c->chip_id = (uint32_t)d->mac[3] << 16 | (uint32_t)d->mac[4] << 8 | d->mac[5];
    memcpy(c->sta_mac, d->mac, 6);
    memcpy(c->ap_mac, d->mac, 6);
    c->ap_mac[0] |= 2;
    c->features = fl->o.features | (fl->o.report ? UPD_CLIENT_F_REPORT : 0u);
    c->auth = d->auth;
    upd_sim_client_config(&d->d, c);
    if (fl->o.sha_only)
        c->sketch_md5 = NULL; /* the 2018 HTTPUpdate: "Sketch MD5 is not supported" */
    if (upd_client_init(&d->c, c, &d->d.port, d->buf, sizeof d->buf) != 0) {
        fprintf(stderr, "updraft sim: engine init failed\n");
        exit(1);
    }
    pump(fl, d);
}

/* Device d checks no more (without --interval: it converged or gave up; with it: it is
 * dead, or silent for good). */
static void device_done(fleet *fl, sdev *d, int outcome)
{
    d->st = D_DONE;
    set_outcome(fl, d, outcome);
    settle(fl, d, 1);
    fl->done++;
}

/* Power on until the device runs or is dead (a cut of the boot loader's work needs
 * another power-on). 1 if it runs. */
static int power_on(fleet *fl, sdev *d)
{
    for (;;) {
        int b = upd_sim_boot(&d->d);
        if (b == UPD_SIM_BOOTED)
            return 1;
        if (b == UPD_SIM_BOOT_CUT) {
            fl->cuts_boot++;
            continue;
        }
        device_done(fl, d,
                    d->d.bricked_phase == UPD_SIM_PH_BOOT ? OUT_BRICK_BOOT : OUT_BRICK_CLIENT);
        return 0;
    }
}

/* A check ended in outcome, settled or not: without --interval a settled device is done
 * and an unsettled one retries after --retry-ms; with --interval it checks again one
 * interval later either way (at once: `now`). */
static void next_check(fleet *fl, sdev *d, int outcome, int settled, int now)
{
    if (!fl->o.interval_ms) {
        if (settled) {
            device_done(fl, d, outcome);
        } else if (now) {
            d->st = D_WAIT;
            runq_push(fl, d->index);
        } else {
            fl->retries++;
            d->st = D_WAIT;
            wake_at(fl, d->index, now_ms() + fl->o.retry_ms);
        }
        return;
    }
    if (outcome != OUT_NONE)
        set_outcome(fl, d, outcome);
    if (outcome == OUT_FAILED)
        fl->retries++;
    settle(fl, d, settled);
    if (now) {
        d->st = D_WAIT;
        runq_push(fl, d->index);
    } else {
        wake_next(fl, d);
    }
}

/* The image d installed has booted (it runs d->offered): what its firmware does. An image
 * of a bad release (d->firm) crashes for good (loop) or never confirms itself, so the
 * ESP32 boot loader goes back to the previous slot at the next reset (rollback); a good
 * one confirms itself. 0 when the new image runs and checks in, 1 when the previous one
 * runs again (rolled back), -1 when the device is done (dead or silent). */
static int run_new_image(fleet *fl, sdev *d)
{
    if (d->firm == UPD_SIMFIRM_ROLLBACK && d->d.pending_verify) {
        /* the application never marks itself valid; it crashes (or its health check
         * fails) and the chip resets: PENDING_VERIFY becomes ABORTED, the old slot boots */
        upd_simfirm_note(&fl->firm, d->index, d->offered, UPD_SIMFIRM_F_ROLLED_BACK);
        return power_on(fl, d) ? 1 : -1;
    }
    if (upd_sim_confirm(&d->d) != 0 && !power_on(fl, d))
        return -1;
    if (d->firm == UPD_SIMFIRM_LOOP) {
        /* Arduino-ESP32 confirms the image when it starts (initArduino); the crash comes
         * later, at every boot: the device never checks in again */
        upd_simfirm_note(&fl->firm, d->index, d->offered, UPD_SIMFIRM_F_LOOPING);
        upd_sim_intern(&d->d);
        device_done(fl, d, OUT_LOOPING);
        return -1;
    }
    return 0;
}

/* A check ended: reboot after an install, retry after a failure, stop at 304 (or, with
 * --interval, check again later). */
static void finish_check(fleet *fl, sdev *d)
{
    slot *s = &fl->slots[d->slot];
    uint64_t body = s->total > s->hdr_len ? s->total - s->hdr_len : 0;
    slot_close(fl, s);
    fl->free_slots[fl->nfree++] = d->slot;
    d->slot = -1;
    int r = upd_client_result_of(&d->c);
    int err = upd_client_error(&d->c);
    double rb = rnd01(&d->rng), rn = rnd01(&d->rng); /* boot-cut draws, always taken */
    fl->weak_writes += d->d.flash.weak_writes;
    d->d.flash.weak_writes = 0;
    int polling = fl->o.interval_ms != 0;
    if (d->d.state == UPD_SIM_OFF) {
        /* the power was cut during the client's work */
        fl->cuts_client++;
        fl->retries++;
        upd_sim_intern(&d->d);
        if (!power_on(fl, d))
            return;
        d->st = D_WAIT;
        runq_push(fl, d->index);
        if (polling)
            settle(fl, d, 0);
        return;
    }
    if (r == UPD_CLIENT_NO_UPDATES) {
        upd_sim_intern(&d->d);
        d->unsettled_checks = 0;
        /* a 304 that says a release was refused to this device is not "up to date" */
        next_check(fl, d,
                   !strcmp(d->result, "declined") ? OUT_REFUSED
                   : d->runs_installed            ? OUT_UPDATED
                                                  : OUT_CURRENT,
                   1, 0);
        return;
    }
    int gave_up = polling ? (d->unsettled_checks < 0xFFFF ? ++d->unsettled_checks
                                                          : d->unsettled_checks) >= fl->o.max_checks
                          : d->checks >= fl->o.max_checks;
    if (r == UPD_CLIENT_OK) {
        fl->installs++;
        d->installs++;
        char before[33];
        memcpy(before, d->d.run_md5_hex, sizeof before);
        if (rb < fl->o.f.bootcut) {
            /* a cut during the boot loader's work: eboot's copy (2 operations per sector) or
             * the ESP32 bootloader's otadata update */
            uint32_t ops =
                fl->o.platform == UPD_SIM_ESP32 ? 2u : 2u * (uint32_t)((body + 4095u) / 4096u);
            upd_sim_arm_cut(&d->d, UPD_SIM_PH_BOOT, (int32_t)(rn * ops));
        }
        if (!power_on(fl, d)) {
            upd_sim_intern(&d->d);
            return;
        }
        int run = 0; /* the old image still runs (a cut in the otadata update), or a good new one */
        if (strcmp(before, d->d.run_md5_hex) != 0 && d->firm != UPD_SIMFIRM_GOOD &&
            (run = run_new_image(fl, d)) < 0)
            return;
        if (run == 0) {
            if (upd_sim_confirm(&d->d) != 0 && !power_on(fl, d))
                return;
            if (strcmp(before, d->d.run_md5_hex) != 0 && d->offered[0]) {
                snprintf(d->version, sizeof d->version, "%s", d->offered);
                d->runs_installed = 1;
            }
            upd_sim_intern(&d->d);
            /* the new image checks in at once */
            next_check(fl, d, d->runs_installed ? OUT_UPDATED : OUT_NONE, 0, 1);
            return;
        }
        /* rolled back: the previous image runs again and checks in at its next interval
         * (without --interval the device is done: the release fails on it every time) */
        upd_sim_intern(&d->d);
        next_check(fl, d, OUT_ROLLED_BACK, 1, 0);
        return;
    }
    /* failed */
    d->last_err = err;
    fl->code_err[code_index(fl, err)]++;
    upd_sim_intern(&d->d);
    int refusal = fl->o.platform == UPD_SIM_ESP32 ? 9 : 12; /* upd_sim_arm_refusal */
    if (d->firm == UPD_SIMFIRM_REFUSE && err == refusal) {
        upd_simfirm_note(&fl->firm, d->index, d->offered, UPD_SIMFIRM_F_REFUSED);
        next_check(fl, d, OUT_DEV_REFUSED, 1, 0);
        return;
    }
    next_check(fl, d, OUT_FAILED, gave_up, 0);
}

/* ---- output ------------------------------------------------------------------------------------
 */

static void progress_bar(fleet *fl, int final)
{
    if (!fl->tty || fl->o.quiet || fl->o.json)
        return;
    uint64_t t = now_ms();
    if (!final && t - fl->last_bar < 200)
        return;
    fl->last_bar = t;
    double secs = (double)(t - fl->t0) / 1000.0;
    /* the bar: devices done; with --interval, settled (or the time, with --duration) */
    unsigned n = fl->o.devices, w = 30, k = fl->o.interval_ms ? fl->nsettled : fl->done;
    unsigned fillw = n ? (unsigned)((uint64_t)k * w / n) : w;
    if (fl->o.duration_ms)
        fillw = (unsigned)((t - fl->t0) * w / fl->o.duration_ms);
    char bar[64];
    for (unsigned i = 0; i < w; i++)
        bar[i] = i < fillw ? '#' : '.';
    bar[w] = '\0';
    const unsigned *c = fl->nout;
    fprintf(stderr,
            "\r[%s] %u/%u  updated %u  current %u  failed %u  bricked %u+%u  %.1f MB  %.1fs ", bar,
            k, n, c[OUT_UPDATED], c[OUT_CURRENT], c[OUT_FAILED] + c[OUT_DEV_REFUSED],
            c[OUT_BRICK_CLIENT], c[OUT_BRICK_BOOT], (double)fl->bytes / 1e6, secs);
    if (fl->firm.nbad)
        fprintf(stderr, " looping %u  rolled back %u ", c[OUT_LOOPING], c[OUT_ROLLED_BACK]);
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

static void print_codes(FILE *f, const fleet *fl, const int *counts, int json)
{
    /* in order of the code, not of first appearance (which depends on timing) */
    int ord[MAX_CODES], first = 1;
    for (int i = 0; i < fl->ncodes; i++) {
        int j = i;
        for (; j > 0 && fl->codes[ord[j - 1]] > fl->codes[i]; j--)
            ord[j] = ord[j - 1];
        ord[j] = i;
    }
    for (int oi = 0; oi < fl->ncodes; oi++) {
        int i = ord[oi];
        if (!counts[i])
            continue;
        if (json)
            fprintf(f, "%s\"%d\": %d", first ? "" : ", ", fl->codes[i], counts[i]);
        else
            fprintf(f, "%s%d (%s): %d", first ? "" : ", ", fl->codes[i],
                    upd_client_strerror_for(fl->o.platform == UPD_SIM_ESP32
                                                ? UPD_CLIENT_ESP32_ARDUINO
                                                : UPD_CLIENT_ESP8266_ARDUINO,
                                            fl->codes[i]),
                    counts[i]);
        first = 0;
    }
    if (first && !json)
        fprintf(f, "none");
}

/* s as a JSON string (the reasons are printable ASCII: the server cleans them). */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* The refusals' reasons, most frequent first (ties: in the order of the text). */
static void reason_order(const fleet *fl, unsigned *ord)
{
    for (unsigned i = 0; i < fl->nreasons; i++) {
        unsigned j = i;
        for (; j > 0; j--) {
            unsigned a = ord[j - 1];
            if (fl->reason_n[a] > fl->reason_n[i] ||
                (fl->reason_n[a] == fl->reason_n[i] && strcmp(fl->reasons[a], fl->reasons[i]) < 0))
                break;
            ord[j] = ord[j - 1];
        }
        ord[j] = i;
    }
}

/* What devices' outcomes say at the end: the refusals' reasons grouped, the failed
 * devices by their last error. */
static void tally(fleet *fl)
{
    for (uint32_t i = 0; i < fl->o.devices; i++) {
        sdev *d = &fl->dev[i];
        if (d->outcome == OUT_FAILED) {
            fl->code_fail[code_index(fl, d->last_err)]++;
        } else if (d->outcome == OUT_REFUSED) {
            const char *key = d->reason[0] ? d->reason : "(no reason given)";
            unsigned k = 0;
            while (k < fl->nreasons && k < MAX_REASONS - 1 && strcmp(fl->reasons[k], key))
                k++;
            if (k == fl->nreasons) {
                fl->nreasons++;
                snprintf(fl->reasons[k], REASON_MAX, "%s",
                         k == MAX_REASONS - 1 ? "(other reasons)" : key);
            }
            fl->reason_n[k]++;
        }
    }
}

/* The per-release tally's question: the version device i runs, when it installed it and
 * still runs (not looping, not dead). */
static const char *running_version(void *ctx, uint32_t i)
{
    const sdev *d = &((const fleet *)ctx)->dev[i];
    if (!d->runs_installed || d->outcome == OUT_LOOPING || d->outcome == OUT_BRICK_BOOT ||
        d->outcome == OUT_BRICK_CLIENT)
        return NULL;
    return d->version;
}

static void summary(fleet *fl, double secs)
{
    unsigned ord[MAX_REASONS];
    tally(fl);
    reason_order(fl, ord);
    const unsigned *c = fl->nout;
    const char *client = fl->o.platform == UPD_SIM_ESP32 ? "Update" : "Updater";
    int refusal = fl->o.platform == UPD_SIM_ESP32 ? 9 : 12;
    const opts *o = &fl->o;
    uint64_t priv, shared;
    upd_sim_host_pages(fl->host, &priv, &shared);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (!o->json || !o->quiet) {
        FILE *f = o->json ? stderr : stdout;
        fprintf(f, "updraft sim: %u %s devices (%s) against %s, seed %u\n", o->devices,
                o->platform == UPD_SIM_ESP32 ? "esp32" : "esp8266", o->lay->name, o->url,
                (unsigned)o->seed);
        if (o->interval_ms)
            fprintf(f,
                    "  (each device checked every %.3g s +- %g%%%s; the counts say how its "
                    "last check ended)\n",
                    (double)o->interval_ms / 1000.0, o->jitter * 100.0,
                    o->duration_ms ? ", for the --duration" : ", until all settled");
        fprintf(f, "  updated            %u\n", c[OUT_UPDATED]);
        fprintf(f, "  already current    %u\n", c[OUT_CURRENT]);
        fprintf(f, "  refused            %u%s\n", c[OUT_REFUSED],
                c[OUT_REFUSED] ? "  (the server declined the release to them:)" : "");
        for (unsigned k = 0; k < fl->nreasons; k++)
            fprintf(f, "    %6u  %s\n", fl->reason_n[ord[k]], fl->reasons[ord[k]]);
        if (fl->firm.nbad) {
            fprintf(f,
                    "  looping (silent)   %u  (a bad release keeps crashing: never checked in "
                    "again)\n",
                    c[OUT_LOOPING]);
            if (o->platform == UPD_SIM_ESP32)
                fprintf(f,
                        "  rolled back        %u  (a bad release never confirmed itself: the "
                        "previous image runs)\n",
                        c[OUT_ROLLED_BACK]);
            fprintf(f, "  refused by device  %u  (its %s rejected a bad release: error %d, %s)\n",
                    c[OUT_DEV_REFUSED], client, refusal,
                    upd_client_strerror_for(o->platform == UPD_SIM_ESP32
                                                ? UPD_CLIENT_ESP32_ARDUINO
                                                : UPD_CLIENT_ESP8266_ARDUINO,
                                            refusal));
        }
        if (c[OUT_NONE])
            fprintf(f, "  no answer yet      %u  (no check ended within the --duration)\n",
                    c[OUT_NONE]);
        fprintf(f, "  failed             %u  (", c[OUT_FAILED]);
        print_codes(f, fl, fl->code_fail, 0);
        fprintf(f, ")\n  errors on the way  ");
        print_codes(f, fl, fl->code_err, 0);
        fprintf(
            f,
            "\n  checks             %llu (retries %llu, resumed downloads %llu, installs %llu)\n",
            fl->checks, fl->retries, fl->resumed, fl->installs);
        fprintf(f, "  power cuts         during download/write %llu, during the boot loader %llu\n",
                fl->cuts_client, fl->cuts_boot);
        if (o->f.weakwrite > 0)
            fprintf(f, "  weak flash writes  %llu (a bit left unprogrammed, reported as written)\n",
                    fl->weak_writes);
        fprintf(f,
                "  bricked            during download/write %u, during the boot loader's copy %u\n",
                c[OUT_BRICK_CLIENT], c[OUT_BRICK_BOOT]);
        upd_simfirm_print(&fl->firm, f, running_version, fl);
        fprintf(f, "  wall time          %.2f s\n", secs);
        fprintf(f,
                "  slowest turn       %llu ms (the longest the simulator left the connections "
                "unread)\n",
                (unsigned long long)fl->turn_max_ms);
        fprintf(f, "  received           %.1f MB\n", (double)fl->bytes / 1e6);
        fprintf(f, "  sim memory         peak RSS %ld MB, flash pages %llu private + %llu shared\n",
                ru.ru_maxrss / 1024, (unsigned long long)priv, (unsigned long long)shared);
    }
    if (o->json) {
        printf("{\"devices\": %u, \"platform\": \"%s\", \"layout\": \"%s\", \"seed\": %u, "
               "\"updated\": %u, \"current\": %u, \"refused\": %u, \"refused_reasons\": [",
               o->devices, o->platform == UPD_SIM_ESP32 ? "esp32" : "esp8266", o->lay->name,
               (unsigned)o->seed, c[OUT_UPDATED], c[OUT_CURRENT], c[OUT_REFUSED]);
        for (unsigned k = 0; k < fl->nreasons; k++) {
            printf("%s{\"reason\": ", k ? ", " : "");
            json_str(stdout, fl->reasons[ord[k]]);
            printf(", \"devices\": %u}", fl->reason_n[ord[k]]);
        }
        printf("], \"failed\": {");
        print_codes(stdout, fl, fl->code_fail, 1);
        printf("}, \"failed_total\": %u, \"errors\": {", c[OUT_FAILED]);
        print_codes(stdout, fl, fl->code_err, 1);
        printf("}, \"checks\": %llu, \"retries\": %llu, \"resumed\": %llu, \"installs\": %llu, "
               "\"power_cuts_client\": %llu, \"power_cuts_bootloader\": %llu, "
               "\"weak_writes\": %llu, "
               "\"bricked_client\": %u, \"bricked_bootloader\": %u, \"looping\": %u, "
               "\"rolled_back\": %u, \"device_refused\": %u, \"no_answer\": %u, \"releases\": ",
               fl->checks, fl->retries, fl->resumed, fl->installs, fl->cuts_client, fl->cuts_boot,
               fl->weak_writes, c[OUT_BRICK_CLIENT], c[OUT_BRICK_BOOT], c[OUT_LOOPING],
               c[OUT_ROLLED_BACK], c[OUT_DEV_REFUSED], c[OUT_NONE]);
        upd_simfirm_json(&fl->firm, stdout, running_version, fl);
        printf(", \"seconds\": %.3f, \"slowest_turn_ms\": %llu, \"bytes\": %llu, "
               "\"peak_rss_kb\": %ld}\n",
               secs, (unsigned long long)fl->turn_max_ms, fl->bytes, ru.ru_maxrss);
    }
    fflush(stdout);
}

/* ---- set up and loop --------------------------------------------------------------------------
 */

/* "5C:CF:7F:0A:1B:2C" (or with '-', or 12 hex digits) into mac. 0 or -1. */
static int parse_mac(const char *s, uint8_t *mac)
{
    for (int i = 0; i < 6; i++) {
        if (i && (*s == ':' || *s == '-'))
            s++;
        unsigned v;
        int used;
        if (sscanf(s, "%2x%n", &v, &used) != 1 || used != 2)
            return -1;
        mac[i] = (uint8_t)v;
        s += 2;
    }
    return *s ? -1 : 0;
}

/* --user/--password and --auth-file into the credentials the devices send. 0, or -1 with
 * the problem said. */
static int setup_auth(fleet *fl)
{
    const opts *o = &fl->o;
    char up[AUTH_MAX];
    if (!o->user != !o->password) {
        fprintf(stderr, "updraft sim: give --user and --password together\n");
        return -1;
    }
    if (o->user) {
        if (strchr(o->user, ':')) {
            fprintf(stderr, "updraft sim: --user cannot contain ':' (HTTP Basic)\n");
            return -1;
        }
        size_t lu = strlen(o->user), lp = strlen(o->password);
        if (lu + lp + 2 > AUTH_MAX * 3 / 4 - 4) {
            fprintf(stderr, "updraft sim: --user/--password too long\n");
            return -1;
        }
        memcpy(up, o->user, lu);
        up[lu] = ':';
        memcpy(up + lu + 1, o->password, lp + 1);
        upd_base64(up, fl->fleet_auth, sizeof fl->fleet_auth);
    }
    if (!o->auth_file)
        return 0;
    FILE *f = fopen(o->auth_file, "r");
    if (!f) {
        fprintf(stderr, "updraft sim: --auth-file %s: %s\n", o->auth_file, strerror(errno));
        return -1;
    }
    char line[1024];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n#")] = '\0';
        char mac_s[64], cred[512];
        int n = sscanf(line, " %63s %511s", mac_s, cred);
        if (n <= 0)
            continue;
        struct mac_auth ma;
        char *colon = n == 2 ? strchr(cred, ':') : NULL;
        if (n != 2 || parse_mac(mac_s, ma.mac) != 0 || !colon || colon == cred ||
            strlen(cred) > AUTH_MAX * 3 / 4 - 4) {
            fprintf(stderr,
                    "updraft sim: --auth-file %s line %d: expected 'MAC USER:PASSWORD' (e.g. "
                    "5C:CF:7F:00:00:01 dev1:secret), as updraft serve --device-auth-file reads "
                    "them\n",
                    o->auth_file, lineno);
            fclose(f);
            return -1;
        }
        upd_base64(cred, ma.auth, sizeof ma.auth);
        struct mac_auth *na = realloc(fl->auths, (fl->nauths + 1) * sizeof *na);
        if (!na) {
            fclose(f);
            return -1;
        }
        fl->auths = na;
        fl->auths[fl->nauths++] = ma;
    }
    fclose(f);
    return 0;
}

/* --pubkey: the device's firmware verifies signatures (the core's Update.installSignature)
 * with the key, through the device library's own verifier (src/client/crypto, what a
 * port without a crypto library links), not the host's GnuTLS. */
static void sim_verifier(fleet *fl, sdev *d)
{
    if (!fl->rsa || d->d.refuse || fl->o.platform != UPD_SIM_ESP8266)
        return;
    upd_rsa_port_init(&d->d.port.crypto, fl->rsa);
}

/* The device's copy of the --pubkey key: its public half as PEM, read by the device
 * library. 0, or -1 with the reason in err. */
static int sim_device_key(fleet *fl, char *err, size_t errlen)
{
    char *pem = upd_sig_key_public_pem(fl->sigkey);
    fl->rsa = calloc(1, sizeof *fl->rsa);
    int e = pem && fl->rsa ? upd_rsa_key_from_pem(&fl->rsa->key, pem, strlen(pem), &fl->rsa->work)
                           : UPD_EINVAL;
    free(pem);
    if (e != 0)
        snprintf(err, errlen, "%s: the device library's RSA verifier cannot use it (%s): %s",
                 fl->o.pubkey, upd_sig_key_desc(fl->sigkey), upd_strerror(e));
    return e == 0 ? 0 : -1;
}

static int setup(fleet *fl)
{
    opts *o = &fl->o;
    /* the server's address, once */
    if (resolve(fl, o->host, o->port, &fl->addr, &fl->addrlen) != 0) {
        fprintf(stderr, "updraft sim: cannot resolve %s\n", o->host);
        return -1;
    }
    fl->host = upd_sim_host_new(1);
    fl->memo_md5 = upd_sim_memo_new_md5();
    fl->memo_sha = upd_sim_memo_new_sha256();
    if (!fl->host || !fl->memo_md5 || !fl->memo_sha)
        return -1;
    /* the factory image and its shared pages */
    uint32_t len = 0;
    uint8_t *img;
    if (o->firmware) {
        char *text = NULL;
        size_t n = 0;
        if (upd_read_file(o->firmware, &text, &n) != 0) {
            fprintf(stderr, "updraft sim: cannot read --firmware %s: %s\n", o->firmware,
                    strerror(errno));
            return -1;
        }
        img = (uint8_t *)text;
        len = (uint32_t)n;
    } else {
        uint32_t cap = o->code_size + 65536;
        img = malloc(cap);
        int32_t n = img ? upd_sim_make_image(o->platform, o->lay->size_code, img, cap, o->code_size,
                                             1, o->version)
                        : -1;
        if (n < 0) {
            fprintf(stderr, "updraft sim: cannot make a %u-byte image\n", (unsigned)o->code_size);
            free(img);
            return -1;
        }
        len = (uint32_t)n;
    }
    const upd_sim_env *env = upd_sim_host_env(fl->host);
    upd_sim_init(&fl->twin, o->lay, env, 0);
    if (upd_sim_flash_image(&fl->twin, img, len) != 0 ||
        upd_sim_boot(&fl->twin) != UPD_SIM_BOOTED) {
        fprintf(stderr,
                "updraft sim: the factory image does not boot on a %s (not an intact %s "
                "application, or too large for the layout)\n",
                o->lay->name, o->platform == UPD_SIM_ESP32 ? "ESP32" : "ESP8266 Arduino");
        free(img);
        return -1;
    }
    uint32_t npages = (len + 4095u) / 4096u;
    uint8_t **pages = calloc(npages, sizeof *pages);
    if (!pages || upd_sim_host_share(fl->host, img, len, pages, npages) != 0)
        return -1;
    free(img);
    uint32_t base = o->platform == UPD_SIM_ESP32 ? o->lay->slot[0] : 0;

    fl->dev = calloc(o->devices, sizeof *fl->dev);
    fl->slots = calloc(o->parallel, sizeof *fl->slots);
    fl->free_slots = calloc(o->parallel, sizeof *fl->free_slots);
    fl->rq_cap = o->devices + 1;
    fl->runq = calloc(fl->rq_cap, sizeof *fl->runq);
    fl->wakes = calloc(fl->rq_cap, sizeof *fl->wakes);
    if (!fl->dev || !fl->slots || !fl->free_slots || !fl->runq || !fl->wakes ||
        upd_simfirm_setup(&fl->firm, o->devices, o->mac_start, o->seed) != 0) {
        fprintf(stderr, "updraft sim: out of memory for %u devices\n", o->devices);
        return -1;
    }
    for (unsigned i = 0; i < o->parallel; i++) {
        fl->slots[i].fd = -1;
        fl->free_slots[fl->nfree++] = (int)(o->parallel - 1 - i);
    }
    for (uint32_t i = 0; i < o->devices; i++) {
        sdev *d = &fl->dev[i];
        upd_sim_init(&d->d, o->lay, env, o->seed ^ (i * 0x9E3779B9u));
        upd_crypto_ops *cr = &d->d.port.crypto;
        upd_sim_memo_md5_ops(&cr->md5, &d->memo_md5, fl->memo_md5, &d->d.md5);
        upd_sim_memo_sha256_ops(&cr->sha256, &d->memo_sha, fl->memo_sha, &d->d.sha);
        upd_sim_map_shared(&d->d, base, pages, npages);
        upd_sim_boot_as(&d->d, &fl->twin);
        sim_verifier(fl, d);
        d->index = i;
        d->slot = -1;
        d->rng = (o->seed * 0x85EBCA6Bu) ^ ((i + 1) * 0xC2B2AE35u);
        for (int k = 0; k < 4; k++)
            rnd(&d->rng);
        snprintf(d->version, sizeof d->version, "%s", o->version);
        uint32_t id = o->mac_start + i;
        uint8_t mac[6] = {0x5C, 0xCF, 0x7F, (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
        if (o->platform == UPD_SIM_ESP32)
            mac[0] = 0x24, mac[1] = 0x0A, mac[2] = 0xC4;
        memcpy(d->mac, mac, 6);
        d->auth = fl->fleet_auth[0] ? fl->fleet_auth : NULL;
        for (size_t k = 0; k < fl->nauths; k++)
            if (!memcmp(fl->auths[k].mac, mac, 6))
                d->auth = fl->auths[k].auth;
        if (!o->interval_ms)
            runq_push(fl, i); /* with --interval: run() spreads the first checks */
    }
    fl->nout[OUT_NONE] = o->devices;
    upd_sim_host_unshare(fl->host, pages, npages);
    free(pages);
    upd_sim_free(&fl->twin);
    fl->epfd = epoll_create1(EPOLL_CLOEXEC);
    return fl->epfd < 0 ? -1 : 0;
}

/* Before an engine's timeout is looked at, the bytes that are already there are read:
 * the device's HTTPClient (and the Updater) time out only when nothing is available
 * (`_client->available()` first, then `millis() - lastDataTime > _tcpTimeout`). The
 * simulator runs every device on one thread: when it falls behind (its own work, or a
 * machine too busy to give it the CPU), a response can wait in the socket longer than a
 * device's timeout although it came in time; timing out first would count the
 * simulator's lateness as the server's. (Bytes that arrived while the simulator was
 * away count as arrived in time: the socket does not say when they came.) Returns 1
 * when the check is over (the slot is free). */
static int read_first(fleet *fl, sdev *d, slot *s)
{
    int bytes = 0;
    if (s->fd < 0 || ioctl(s->fd, FIONREAD, &bytes) != 0 || bytes <= 0)
        return 0;
    on_readable(fl, d, s);
    return d->st != D_ACTIVE || d->slot != (int)(s - fl->slots);
}

/* Timeouts of the engines and slow links, every tick. */
static void tick(fleet *fl)
{
    for (unsigned i = 0; i < fl->o.parallel; i++) {
        slot *s = &fl->slots[i];
        if (s->fd < 0)
            continue;
        sdev *d = &fl->dev[s->dev];
        if (d->st != D_ACTIVE || d->slot != (int)i)
            continue;
        if (s->throttled) {
            s->throttled = 0;
            want_events(fl, s, EPOLLIN | EPOLLRDHUP);
        }
        if (s->rd_on && read_first(fl, d, s))
            continue; /* the check ended on what was waiting */
        if (upd_client_poll(&d->c) == UPD_CLIENT_DONE)
            finish_check(fl, d);
    }
}

/* Is the run over (once the checks in flight have ended)? Without --interval when every
 * device is done; with it at the end of --duration, else when every device is settled. */
static int stopping(const fleet *fl, uint64_t t)
{
    if (!fl->o.interval_ms)
        return fl->done >= fl->o.devices;
    if (fl->o.duration_ms)
        return t - fl->t0 >= fl->o.duration_ms;
    return fl->nsettled >= fl->o.devices;
}

static int run(fleet *fl)
{
    struct epoll_event ev[256];
    uint64_t last_tick = now_ms();
    fl->t0 = now_ms();
    if (fl->o.interval_ms) /* first checks spread over one interval */
        for (uint32_t i = 0; i < fl->o.devices; i++)
            wake_at(fl, i,
                    fl->t0 + (uint64_t)(jitter01(fl->o.seed ^ 0xF1257u, i, 0) *
                                        (double)fl->o.interval_ms));
    for (;;) {
        uint64_t t = now_ms(), turn0 = t;
        int busy = fl->nfree < (int)fl->o.parallel;
        int stop = stopping(fl, t);
        if (stop && fl->nfree == (int)fl->o.parallel)
            break; /* no check in flight */
        if (!stop) {
            while (fl->nwakes && fl->wakes[0].at <= t)
                runq_push(fl, wake_pop(fl));
            while (fl->nfree && fl->rq_head != fl->rq_tail) {
                sdev *d = &fl->dev[fl->runq[fl->rq_head++ % fl->rq_cap]];
                if (d->st == D_WAIT)
                    start_check(fl, d);
            }
        }
        int timeout = fl->o.f.slow_kbps > 0 ? 10 : 50;
        if (!stop && fl->nfree && fl->nwakes && fl->wakes[0].at < t + (uint64_t)timeout)
            timeout = (int)(fl->wakes[0].at > t ? fl->wakes[0].at - t : 0);
        if (fl->o.duration_ms && !stop && fl->t0 + fl->o.duration_ms < t + (uint64_t)timeout)
            timeout = (int)(fl->t0 + fl->o.duration_ms - t);
        uint64_t wait0 = now_ms();
        int n = epoll_wait(fl->epfd, ev, 256, timeout);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return -1;
        }
        uint64_t wait1 = now_ms();
        for (int i = 0; i < n; i++) {
            slot *s = &fl->slots[ev[i].data.u32];
            if (s->fd < 0)
                continue;
            sdev *d = &fl->dev[s->dev];
            if (d->st != D_ACTIVE)
                continue;
            if (ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                /* not upd_client_poll() first: it would apply the engine's timeout to
                 * bytes that are waiting here (read_first) */
                if (s->rd_on)
                    on_readable(fl, d, s);
                else
                    on_writable(fl, d, s);
            } else if (ev[i].events & EPOLLOUT) {
                on_writable(fl, d, s);
            }
        }
        t = now_ms();
        if (t - last_tick >= (fl->o.f.slow_kbps > 0 ? 10u : 100u)) {
            last_tick = t;
            tick(fl);
        }
        /* How long this turn kept the connections waiting: the work before and after the
         * wait, and the wait beyond its timeout (the process was not given the CPU). */
        uint64_t over = wait1 - wait0 > (uint64_t)timeout ? wait1 - wait0 - (uint64_t)timeout : 0;
        uint64_t turn = (wait0 - turn0) + over + (now_ms() - wait1);
        if (busy && turn > fl->turn_max_ms)
            fl->turn_max_ms = turn;
        progress_bar(fl, 0);
    }
    progress_bar(fl, 1);
    return 0;
}

int upd_cmd_sim(int argc, char **argv)
{
    fleet *fl = calloc(1, sizeof *fl);
    if (!fl)
        return 1;
    opts *o = &fl->o;
    o->devices = 100;
    o->parallel = 256;
    o->max_checks = 40;
    o->retry_ms = 100;
    o->version = "1.0.0";
    o->code_size = 250000;
    o->seed = 1;
    o->features = UPD_CLIENT_F_ALL | UPD_CLIENT_F_INSPECT;
    o->platform = UPD_SIM_ESP8266;
    const char *layout = NULL, *url = NULL;
    const char *bad_specs[UPD_SIMFIRM_BAD_MAX + 1];
    int nbad_specs = 0, jitter_set = 0;
    o->jitter = 0.1;
    o->mac_start = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long n;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            sim_usage(stdout);
            free(fl);
            return 0;
        }
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
            continue;
        }
        if (!strcmp(a, "--report")) {
            o->report = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "updraft sim: unknown option or missing value: %s\n", a);
            free(fl);
            return 2;
        }
        i++;
        int bad = 0;
        if (!strcmp(a, "--server"))
            url = v;
        else if (!strcmp(a, "--devices"))
            bad = parse_uns(a, v, 1, 1000000, &n) || (o->devices = (unsigned)n, 0);
        else if (!strcmp(a, "--parallel"))
            bad = parse_uns(a, v, 1, 65536, &n) || (o->parallel = (unsigned)n, 0);
        else if (!strcmp(a, "--max-checks"))
            bad = parse_uns(a, v, 1, 60000, &n) || (o->max_checks = (unsigned)n, 0);
        else if (!strcmp(a, "--retry-ms"))
            bad = parse_uns(a, v, 0, 3600000, &n) || (o->retry_ms = (unsigned)n, 0);
        else if (!strcmp(a, "--mac-start"))
            bad = parse_uns(a, v, 1, 0xFFFFFF, &n) || (o->mac_start = (uint32_t)n, 0);
        else if (!strcmp(a, "--seed"))
            bad = parse_uns(a, v, 0, 0xFFFFFFFFul, &n) || (o->seed = (uint32_t)n, 0);
        else if (!strcmp(a, "--code-size"))
            bad = parse_uns(a, v, 1024, 3000000, &n) || (o->code_size = (uint32_t)n, 0);
        else if (!strcmp(a, "--version"))
            o->version = v;
        else if (!strcmp(a, "--firmware"))
            o->firmware = v;
        else if (!strcmp(a, "--user"))
            o->user = v;
        else if (!strcmp(a, "--password"))
            o->password = v;
        else if (!strcmp(a, "--auth-file"))
            o->auth_file = v;
        else if (!strcmp(a, "--pubkey"))
            o->pubkey = v;
        else if (!strcmp(a, "--layout"))
            layout = v;
        else if (!strcmp(a, "--faults"))
            bad = parse_faults(&o->f, v) != 0;
        else if (!strcmp(a, "--bad-release"))
            bad_specs[nbad_specs < UPD_SIMFIRM_BAD_MAX ? nbad_specs : UPD_SIMFIRM_BAD_MAX] = v,
                                                                      nbad_specs++;
        else if (!strcmp(a, "--interval") || !strcmp(a, "--duration")) {
            uint64_t ms;
            bad = upd_simfirm_duration(v, &ms) != 0;
            if (bad)
                fprintf(stderr,
                        "updraft sim: %s %s: a duration like 2s, 500ms, 1.5s, 2m or 1h (up to "
                        "30 days)\n",
                        a, v);
            else if (a[2] == 'i')
                o->interval_ms = ms;
            else
                o->duration_ms = ms;
        } else if (!strcmp(a, "--jitter")) {
            char *e;
            o->jitter = strtod(v, &e);
            if (e != v && *e == '%' && !e[1])
                o->jitter /= 100.0, e++;
            bad = e == v || *e || !(o->jitter >= 0 && o->jitter <= 1);
            if (bad)
                fprintf(stderr,
                        "updraft sim: --jitter %s: a share of the interval from 0 to 1 "
                        "(0.1) or a percentage (10%%)\n",
                        v);
            jitter_set = 1;
        } else if (!strcmp(a, "--features")) {
            if (!strcmp(v, "all"))
                o->features = UPD_CLIENT_F_ALL | UPD_CLIENT_F_INSPECT;
            else if (!strcmp(v, "none"))
                o->features = 0;
            else
                bad = 1;
        } else if (!strcmp(a, "--core")) {
            if (!strcmp(v, "2018"))
                o->sha_only = 1;
            else if (!strcmp(v, "2") || !strcmp(v, "3"))
                o->sha_only = 0;
            else {
                fprintf(stderr, "updraft sim: --core 2018, 2 or 3 (Arduino-ESP32 generation)\n");
                bad = 1;
            }
        } else if (!strcmp(a, "--platform")) {
            if (!strcmp(v, "esp8266"))
                o->platform = UPD_SIM_ESP8266;
            else if (!strcmp(v, "esp32"))
                o->platform = UPD_SIM_ESP32;
            else {
                fprintf(stderr, "updraft sim: --platform esp8266 or esp32\n");
                bad = 1;
            }
        } else {
            fprintf(stderr, "updraft sim: unknown option %s\n", a);
            bad = 1;
        }
        if (bad) {
            free(fl);
            return 2;
        }
    }
    if (!url) {
        sim_usage(stderr);
        free(fl);
        return 2;
    }
    if (parse_url(o, url) != 0) {
        free(fl);
        return 2;
    }
    o->lay = upd_sim_layout_find(layout                         ? layout
                                 : o->platform == UPD_SIM_ESP32 ? "esp32-4m"
                                                                : "esp8266-4m1m");
    if (!o->lay || o->lay->platform != o->platform) {
        fprintf(stderr, "updraft sim: --layout %s is not a %s layout\n", layout ? layout : "?",
                o->platform == UPD_SIM_ESP32 ? "esp32" : "esp8266");
        free(fl);
        return 2;
    }
    if (o->sha_only && o->platform != UPD_SIM_ESP32) {
        fprintf(stderr, "updraft sim: --core is an Arduino-ESP32 generation: use it with "
                        "--platform esp32\n");
        free(fl);
        return 2;
    }
    if (nbad_specs > UPD_SIMFIRM_BAD_MAX) {
        fprintf(stderr, "updraft sim: at most %d --bad-release options\n", UPD_SIMFIRM_BAD_MAX);
        free(fl);
        return 2;
    }
    for (int k = 0; k < nbad_specs; k++)
        if (upd_simfirm_add(&fl->firm, bad_specs[k], o->platform == UPD_SIM_ESP32) != 0) {
            free(fl);
            return 2;
        }
    if ((uint64_t)o->mac_start + o->devices - 1 > 0xFFFFFF) {
        fprintf(stderr,
                "updraft sim: --mac-start %u with %u devices goes past device number 16777215 "
                "(the MAC's last three bytes): start lower or simulate fewer devices\n",
                (unsigned)o->mac_start, o->devices);
        free(fl);
        return 2;
    }
    if ((o->duration_ms || jitter_set) && !o->interval_ms) {
        fprintf(stderr,
                "updraft sim: %s needs --interval (without it each device checks until "
                "the server answers 304, then stops)\n",
                o->duration_ms ? "--duration" : "--jitter");
        free(fl);
        return 2;
    }
    if (setup_auth(fl) != 0) {
        free(fl->auths);
        free(fl);
        return 2;
    }
    if (o->pubkey) {
        char kerr[1024];
        if (o->platform != UPD_SIM_ESP8266)
            snprintf(kerr, sizeof kerr, "%s: ESP32 devices do not verify ESP8266-style signatures",
                     o->pubkey);
        if (o->platform != UPD_SIM_ESP8266 ||
            upd_sig_load_public(o->pubkey, &fl->sigkey, kerr, sizeof kerr) != 0 ||
            !upd_sig_key_is_rsa(fl->sigkey)) {
            fprintf(stderr, "updraft sim: --pubkey %s\n",
                    fl->sigkey ? "the key is not RSA: ESP8266 devices verify RSA signatures only"
                               : kerr);
            upd_sig_key_free(fl->sigkey);
            free(fl->auths);
            free(fl);
            return 2;
        }
        if (sim_device_key(fl, kerr, sizeof kerr) != 0) {
            fprintf(stderr, "updraft sim: --pubkey %s\n", kerr);
            free(fl->rsa);
            upd_sig_key_free(fl->sigkey);
            free(fl->auths);
            free(fl);
            return 2;
        }
    }
    if (o->parallel > o->devices)
        o->parallel = o->devices;
    /* one descriptor per connection: raise the soft limit as far as allowed */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    fl->tty = isatty(2);
    if (setup(fl) != 0)
        return 1;
    if (run(fl) != 0)
        return 1;
    double secs = (double)(now_ms() - fl->t0) / 1000.0;
    summary(fl, secs);
    /* devices that did not reach the release fail the run: failed, refused, bricked, no
     * answer; what a bad release does to them (--bad-release) is what was asked for */
    int ok = fl->nout[OUT_BRICK_CLIENT] == 0 && fl->nout[OUT_FAILED] == 0 &&
             fl->nout[OUT_REFUSED] == 0 && fl->nout[OUT_NONE] == 0;
    for (unsigned i = 0; i < o->devices; i++)
        upd_sim_free(&fl->dev[i].d);
    upd_sim_host_free(fl->host);
    upd_sim_memo_free(fl->memo_md5);
    upd_sim_memo_free(fl->memo_sha);
    free(fl->dev);
    free(fl->slots);
    free(fl->free_slots);
    free(fl->runq);
    free(fl->wakes);
    upd_simfirm_free(&fl->firm);
    upd_sig_key_free(fl->sigkey);
    free(fl->rsa);
    free(fl->auths);
    free(fl);
    return ok ? 0 : 1;
}

#endif
