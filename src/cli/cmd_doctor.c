/* `updraft doctor URL`: ask a server for an update exactly as a device does and say what
 * that device would make of the answer: its own result code and text, the cause and
 * the fix in plain words, plus what the device does not check (is the body an image
 * this device boots? does the server get Range and HEAD right? TLS?).
 *
 * The request and the verdict come from the device update engine (upd_client_ctx, in
 * parity mode: features 0) running on the posix port with a temporary flash of the
 * device's layout, so doctor and the device library can never disagree. ESP-IDF's
 * esp_https_ota is not an engine flavor: doctor reads that exchange itself (idf_*). */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <getopt.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "fileinspect.h"
#include "upd_posix.h"
#include "updraft/client.h"
#include "updraft/error.h"
#include "updraft/fit.h"
#include "updraft/image.h"

static const char *doctor_usage =
    "usage: updraft doctor URL [options]\n"
    "\n"
    "Asks URL for an update exactly as a device does (same request, byte for byte) and\n"
    "reports the result that device would get: its error code and text, the cause and\n"
    "the fix. Also checks the body with the image inspector, x-MD5, redirects, Range and\n"
    "HEAD support, and TLS. Works against any server.\n"
    "\n"
    "  --as esp8266|esp32|esp-idf   which client (default esp8266: ESPhttpUpdate;\n"
    "                       esp32: Arduino-ESP32 HTTPUpdate; esp-idf: esp_https_ota)\n"
    "  --mac M              STA MAC (AP MAC derived; --ap-mac to set it)\n"
    "  --version V          x-*-version the sketch passes (not sent when absent)\n"
    "  --free-space N       free space the device reports (bytes; default: its layout's)\n"
    "  --chip-size N        real flash size (default 4194304)\n"
    "  --sketch-size N      length of the running .bin (default 400000)\n"
    "  --sketch-md5 H       md5 of the running .bin (32 hex)\n"
    "  --sketch-sha256 H    ESP32: SHA-256 of the running app (64 hex)\n"
    "  --sdk-version S      x-*-sdk-version\n"
    "  --chip-id N          ESP8266 chip id (default: from the MAC)\n"
    "  --chip NAME          ESP32 family: the device's chip (esp32, esp32c3, ...)\n"
    "  --flash-mode M       the chip's flash mode: qio, qout, dio (default), dout\n"
    "  --flash-map-core     ESP8266 core >= 3.1 with flash-map support (no -107 check)\n"
    "  --mode sketch|spiffs what to update (default sketch)\n"
    "  --follow-redirects   as setFollowRedirects(HTTPC_STRICT_FOLLOW_REDIRECTS)\n"
    "  --user U --password P   HTTP basic authentication, as setAuthorization(U, P)\n"
    "  --timeout MS         wait for the response headers (default 8000, the device's)\n"
    "  --stream-timeout MS  a stalled body (default 60000, the Updater's)\n"
    "  --insecure           https: do not verify the certificate\n"
    "  --cacert FILE        https: trust these CA certificates (PEM)\n"
    "  --no-probes          skip the extra HEAD and Range requests\n"
    "  --json               one JSON object, for scripts\n"
    "\n"
    "Exit status: 0 when a real device would update (or be told \"no update\" with 304),\n"
    "1 when it would fail or install an image it cannot boot, 2 on usage errors.\n";

enum as { AS_ESP8266, AS_ESP32, AS_IDF };

struct opts {
    const char *url;
    int as;
    uint8_t mac[6], ap_mac[6];
    int have_mac, have_ap_mac;
    const char *version, *sketch_md5, *sketch_sha256, *sdk, *user, *password, *cacert;
    long long free_space, chip_size, sketch_size, chip_id, fs_size;
    int chip; /* upd_chip, UPD_CHIP_UNKNOWN */
    int flash_mode, flash_map, mode, follow, insecure, json, probes;
    uint32_t timeout, stream_timeout;
    /* from the URL */
    int tls;
    char host[256];
    uint16_t port;
    char path[2048];
};

struct style {
    const char *good, *bad, *warn, *dim, *bold, *off;
};

/* ---- small helpers ---------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static void say(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void add(char *out, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(out);
    if (n >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + n, cap - n, fmt, ap);
    va_end(ap);
}

static int parse_num(const char *s, long long *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    long long v = strtoll(s, &end, 0);
    if (*end == 'K' || *end == 'k')
        v *= 1024, end++;
    else if (*end == 'M' || *end == 'm')
        v *= 1024 * 1024, end++;
    if (*end || v < 0 || v > 0xFFFFFFFFll)
        return -1;
    *out = v;
    return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
    int n = 0;
    for (const char *p = s; *p && n < 12;) {
        if (*p == ':' || *p == '-') {
            p++;
            continue;
        }
        if (!isxdigit((unsigned char)p[0]))
            return -1;
        int v = isdigit((unsigned char)*p) ? *p - '0' : (tolower((unsigned char)*p) - 'a' + 10);
        mac[n / 2] = (uint8_t)(n % 2 ? (mac[n / 2] | v) : v << 4);
        n++;
        p++;
        if (n == 12 && *p)
            return -1;
    }
    return n == 12 ? 0 : -1;
}

static int is_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static void base64(const char *in, char *out, size_t cap)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in), o = 0;
    const unsigned char *p = (const unsigned char *)in;
    for (size_t i = 0; i < n && o + 5 < cap; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[o++] = t[v >> 18 & 63];
        out[o++] = t[v >> 12 & 63];
        out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[o] = '\0';
}

/* http[s]://host[:port][/path] */
static int parse_url(struct opts *o, char *err, size_t errlen)
{
    const char *u = o->url, *p;
    if (!strncmp(u, "http://", 7)) {
        o->tls = 0;
        p = u + 7;
    } else if (!strncmp(u, "https://", 8)) {
        o->tls = 1;
        p = u + 8;
    } else {
        say(err, errlen, "the URL must start with http:// or https:// (got '%s')", u);
        return -1;
    }
    const char *hend = p;
    if (*p == '[') {
        hend = strchr(p, ']');
        if (!hend) {
            say(err, errlen, "unterminated [IPv6 address] in '%s'", u);
            return -1;
        }
        if ((size_t)(hend - p - 1) >= sizeof o->host)
            return -1;
        memcpy(o->host, p + 1, (size_t)(hend - p - 1));
        o->host[hend - p - 1] = '\0';
        hend++;
    } else {
        while (*hend && *hend != '/' && *hend != ':' && *hend != '?')
            hend++;
        if ((size_t)(hend - p) >= sizeof o->host || hend == p) {
            say(err, errlen, "no host name in '%s'", u);
            return -1;
        }
        memcpy(o->host, p, (size_t)(hend - p));
        o->host[hend - p] = '\0';
    }
    if (strchr(o->host, '@')) {
        say(err, errlen, "user:password@ in the URL is not sent by the device's client: use "
                         "--user and --password");
        return -1;
    }
    o->port = o->tls ? 443 : 80;
    p = hend;
    if (*p == ':') {
        long long v;
        char num[8] = {0};
        size_t k = strcspn(p + 1, "/?");
        if (k == 0 || k >= sizeof num) {
            say(err, errlen, "bad port in '%s'", u);
            return -1;
        }
        memcpy(num, p + 1, k);
        if (parse_num(num, &v) != 0 || v == 0 || v > 65535) {
            say(err, errlen, "bad port in '%s'", u);
            return -1;
        }
        o->port = (uint16_t)v;
        p += 1 + k;
    }
    if (*p == '?')
        say(o->path, sizeof o->path, "/%s", p);
    else
        say(o->path, sizeof o->path, "%s", *p ? p : "/");
    return 0;
}

/* ---- one connection's worth of bytes ------------------------------------------------------ */

#define MAX_XCHG 12
#define RAW_MAX  (64u << 20)

typedef struct xchg {
    char host[UPD_CLIENT_HOST_MAX + 1];
    uint16_t port;
    int tls;
    char req[4096];
    size_t req_len;
    uint8_t *raw;
    size_t raw_len, raw_cap;
    int connect_failed, tls_verify_failed, reset, closed;
    char net_error[UPD_POSIX_ERROR_MAX], tls_problem[UPD_POSIX_ERROR_MAX], tls_info[128];
    char peer[64];
    uint32_t t_start, t_connected, t_first, t_last; /* ms (posix clock) */
    uint32_t longest_gap;                            /* longest wait between two reads */
} xchg;

static void raw_append(xchg *x, const void *p, size_t n)
{
    if (x->raw_len + n > RAW_MAX)
        n = RAW_MAX - x->raw_len;
    if (x->raw_len + n > x->raw_cap) {
        size_t cap = x->raw_cap ? x->raw_cap : 65536;
        while (cap < x->raw_len + n)
            cap *= 2;
        uint8_t *q = realloc(x->raw, cap);
        if (!q)
            return;
        x->raw = q;
        x->raw_cap = cap;
    }
    memcpy(x->raw + x->raw_len, p, n);
    x->raw_len += n;
}

/* A response, read from raw bytes the way a human would (the engine judges; this only
 * finds the words for the explanation). */
#define MAX_HDR 64
typedef struct resp {
    int complete; /* the headers ended */
    int status;
    char status_line[256];
    int nh;
    char name[MAX_HDR][64];
    char value[MAX_HDR][512];
    const uint8_t *body; /* bytes after the headers */
    size_t body_len;
} resp;

static void parse_resp(const uint8_t *raw, size_t n, resp *r)
{
    memset(r, 0, sizeof *r);
    size_t i = 0, line = 0;
    int first = 1;
    while (i < n) {
        if (raw[i] != '\n') {
            i++;
            continue;
        }
        size_t e = i;
        if (e > line && raw[e - 1] == '\r')
            e--;
        if (e == line && !first) {
            r->complete = 1;
            r->body = raw + i + 1;
            r->body_len = n - i - 1;
            return;
        }
        if (first) {
            size_t k = e - line < sizeof r->status_line - 1 ? e - line : sizeof r->status_line - 1;
            memcpy(r->status_line, raw + line, k);
            r->status_line[k] = '\0';
            for (size_t j = 0; j < k; j++)
                if ((unsigned char)r->status_line[j] < 32 || (unsigned char)r->status_line[j] > 126)
                    r->status_line[j] = '.';
            if (!strncmp(r->status_line, "HTTP/1.", 7)) {
                const char *sp = strchr(r->status_line, ' ');
                r->status = sp ? atoi(sp + 1) : 0;
            }
            first = 0;
        } else if (r->nh < MAX_HDR) {
            const uint8_t *c = memchr(raw + line, ':', e - line);
            if (c) {
                size_t nl = (size_t)(c - (raw + line));
                size_t v0 = (size_t)(c - raw) + 1;
                while (v0 < e && (raw[v0] == ' ' || raw[v0] == '\t'))
                    v0++;
                size_t vl = e - v0;
                while (vl && (raw[v0 + vl - 1] == ' ' || raw[v0 + vl - 1] == '\t'))
                    vl--;
                if (nl >= sizeof r->name[0])
                    nl = sizeof r->name[0] - 1;
                if (vl >= sizeof r->value[0])
                    vl = sizeof r->value[0] - 1;
                memcpy(r->name[r->nh], raw + line, nl);
                r->name[r->nh][nl] = '\0';
                memcpy(r->value[r->nh], raw + v0, vl);
                r->value[r->nh][vl] = '\0';
                r->nh++;
            }
        }
        i++;
        line = i;
    }
}

/* The last header of that name (exact name, any case), or NULL. */
static const char *hget(const resp *r, const char *name)
{
    for (int i = r->nh - 1; i >= 0; i--)
        if (!strcasecmp(r->name[i], name))
            return r->value[i];
    return NULL;
}

/* Decode chunked framing; returns the decoded length or -1 when the framing is broken. */
static long long dechunk(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t i = 0, o = 0;
    for (;;) {
        size_t sz = 0;
        int digits = 0;
        while (i < n && isxdigit(in[i])) {
            int d = isdigit(in[i]) ? in[i] - '0' : tolower(in[i]) - 'a' + 10;
            if (sz > (SIZE_MAX >> 4))
                return -1;
            sz = sz << 4 | (size_t)d;
            i++;
            digits++;
        }
        while (i < n && in[i] != '\n')
            i++;
        if (!digits || i >= n)
            return -1;
        i++;
        if (sz == 0)
            return (long long)o;
        if (sz > n - i)
            return -1;
        memcpy(out + o, in + i, sz);
        o += sz;
        i += sz;
        if (i < n && in[i] == '\r')
            i++;
        if (i < n && in[i] == '\n')
            i++;
    }
}

/* ---- running the engine --------------------------------------------------------------------- */

typedef struct run {
    xchg x[MAX_XCHG];
    int nx;
    upd_client_result result;
    int error, detail, status;
    uint32_t t0, elapsed;
    /* ESP32 activation as esp_ota_set_boot_partition does it (verify the image) */
    int act_called, act_refused;
    char act_reason[UPD_REASON_MAX];
} run;

struct doctor;

typedef struct act_ctx {
    upd_posix_port *pp;
    run *r;
    int chip;
} act_ctx;

/* esp_ota_set_boot_partition() verifies the image in the slot before it switches
 * (esp_image_verify: magic, chip id, segments, checksum, appended hash): an image that
 * is not an app for this chip fails there, which Arduino-ESP32's Update reports as
 * error 9 (activate). */
static int act_verify(void *ctx, uint32_t start, uint32_t size)
{
    act_ctx *a = ctx;
    a->r->act_called = 1;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return -1;
    int rc = -1;
    if (upd_posix_flash_read(&a->pp->flash, start, buf, size) == 0) {
        upd_source src;
        upd_source_init_mem(&src, buf, size);
        upd_image_report *rep = malloc(sizeof *rep);
        upd_sha256_ops sha = a->pp->port.crypto.sha256;
        if (rep && upd_image_inspect(&src, &sha, rep) == 0 && rep->verdict == UPD_VERDICT_OTA_APP &&
            rep->platform == UPD_PLATFORM_ESP32 &&
            (a->chip == UPD_CHIP_UNKNOWN || (int)rep->chip == a->chip)) {
            rc = upd_posix_state_activate(&a->pp->state, start, size);
        } else if (rep) {
            a->r->act_refused = 1;
            if (rep->verdict == UPD_VERDICT_OTA_APP && rep->platform == UPD_PLATFORM_ESP32) {
                const char *ic = upd_chip_name(rep->chip), *dc = upd_chip_name(a->chip);
                say(a->r->act_reason, sizeof a->r->act_reason,
                    "the image is for %s, the device is %s (\"Mismatch chip id\")",
                    ic ? ic : "another chip", dc ? dc : "another chip");
            } else {
                say(a->r->act_reason, sizeof a->r->act_reason, "%s", rep->reason);
            }
        }
        free(rep);
    }
    free(buf);
    return rc;
}

static uint32_t ms(void)
{
    return upd_posix_now_ms(NULL);
}

/* Read what is left of the last response after the engine stopped (a refused body is
 * still worth a look), until close, the Content-Length, or a quiet second or two. */
static void drain(upd_posix_port *pp, xchg *x, uint32_t idle_ms)
{
    uint8_t in[16384];
    for (;;) {
        resp r;
        parse_resp(x->raw, x->raw_len, &r);
        if (r.complete) {
            const char *cl = hget(&r, "Content-Length");
            const char *te = hget(&r, "Transfer-Encoding");
            if (r.status == 304 || r.status == 204 || (r.status >= 100 && r.status < 200))
                return;
            if (cl && !(te && strcasecmp(te, "identity")) && atoll(cl) >= 0 &&
                r.body_len >= (size_t)atoll(cl))
                return;
            if (te && strstr(te, "chunked") && r.body_len >= 5 &&
                !memcmp(r.body + r.body_len - 5, "0\r\n\r\n", 5))
                return;
        }
        if (x->raw_len >= RAW_MAX)
            return;
        int k = upd_posix_net_recv(&pp->net, in, sizeof in, idle_ms);
        if (k <= 0) {
            if (k == 0)
                x->closed = 1;
            return;
        }
        raw_append(x, in, (size_t)k);
    }
}

/* One check as the device makes it, recording every byte. Returns 0, or -1 when the
 * engine refused the configuration (err says why). */
static int run_check(upd_posix_port *pp, const upd_client_config *cfg, run *r, char *err,
                     size_t errlen)
{
    static uint32_t cbuf[4096 / 4];
    upd_client_ctx c;
    memset(r, 0, sizeof *r);
    int e = upd_client_init(&c, cfg, &pp->port, cbuf, sizeof cbuf);
    if (e) {
        say(err, errlen, "the client engine refused the settings: %s", upd_strerror(e));
        return -1;
    }
    r->t0 = ms();
    xchg *x = NULL;
    int open = 0;
    uint8_t in[4096];
    for (int done = 0; !done;) {
        switch (upd_client_poll(&c)) {
        case UPD_CLIENT_WANT_CONNECT: {
            if (open)
                upd_posix_net_close(&pp->net);
            open = 0;
            if (r->nx == MAX_XCHG) {
                upd_client_transport_error(&c, UPD_PORT_ECONNECT);
                break;
            }
            x = &r->x[r->nx++];
            snprintf(x->host, sizeof x->host, "%s", upd_client_host(&c));
            x->port = upd_client_port(&c);
            x->tls = upd_client_tls(&c);
            x->t_start = ms();
            int ce = upd_posix_net_connect(&pp->net, x->host, x->port, x->tls, cfg->timeout_ms);
            snprintf(x->peer, sizeof x->peer, "%s", pp->net.peer);
            snprintf(x->tls_problem, sizeof x->tls_problem, "%s", pp->net.tls_problem);
            snprintf(x->tls_info, sizeof x->tls_info, "%s", pp->net.tls_info);
            x->tls_verify_failed = pp->net.tls_verify_failed;
            if (ce != 0) {
                x->connect_failed = 1;
                snprintf(x->net_error, sizeof x->net_error, "%s", pp->net.error);
                upd_client_transport_error(&c, UPD_PORT_ECONNECT);
                break;
            }
            x->t_connected = x->t_last = ms();
            open = 1;
            upd_client_connected(&c);
            break;
        }
        case UPD_CLIENT_WANT_SEND: {
            size_t n;
            const uint8_t *p = upd_client_want_send(&c, &n);
            int k = upd_posix_net_send(&pp->net, p, n, cfg->timeout_ms);
            if (k <= 0) {
                snprintf(x->net_error, sizeof x->net_error, "%s", pp->net.error);
                upd_client_transport_error(&c, UPD_PORT_ESEND);
                break;
            }
            if (x->req_len + (size_t)k < sizeof x->req) {
                memcpy(x->req + x->req_len, p, (size_t)k);
                x->req_len += (size_t)k;
                x->req[x->req_len] = '\0';
            }
            upd_client_sent(&c, (size_t)k);
            break;
        }
        case UPD_CLIENT_WANT_RECV: {
            int k = upd_posix_net_recv(&pp->net, in, sizeof in, 100);
            uint32_t now = ms();
            if (k > 0) {
                if (!x->raw_len)
                    x->t_first = now;
                if (now - x->t_last > x->longest_gap)
                    x->longest_gap = now - x->t_last;
                x->t_last = now;
                raw_append(x, in, (size_t)k);
                upd_client_feed(&c, in, (size_t)k);
            } else if (k == 0) {
                x->closed = 1;
                upd_client_eof(&c);
            } else if (k != UPD_PORT_ETIMEOUT) {
                x->reset = 1;
                snprintf(x->net_error, sizeof x->net_error, "%s", pp->net.error);
                upd_client_transport_error(&c, k);
            }
            break;
        }
        case UPD_CLIENT_DONE:
        default:
            done = 1;
            break;
        }
    }
    r->result = upd_client_result_of(&c);
    r->error = upd_client_error(&c);
    r->detail = upd_client_detail(&c);
    r->status = upd_client_status(&c);
    r->elapsed = ms() - r->t0;
    if (open && x && !x->closed && !x->reset && r->result == UPD_CLIENT_FAILED)
        drain(pp, x, cfg->timeout_ms < 2000 ? cfg->timeout_ms : 2000);
    if (open)
        upd_posix_net_close(&pp->net);
    return 0;
}

static void run_free(run *r)
{
    for (int i = 0; i < r->nx; i++)
        free(r->x[i].raw);
    r->nx = 0;
}

/* ---- the report --------------------------------------------------------------------------- */

enum level { L_OK, L_INFO, L_WARN, L_FAIL };
static const char *const level_name[] = {"ok", "info", "warn", "fail"};

#define MAX_CHECKS 40
typedef struct check {
    char name[24];
    int level;
    char text[1024];
} check;

typedef struct doctor {
    struct opts *o;
    upd_client_config cfg;
    upd_flash_layout layout;
    char auth[512];
    char sdk[64];
    /* outcome */
    int code; /* the device's code: 0, -1.., -100.., Updater 1.. */
    const char *result; /* "ok", "no-update", "failed" */
    int would_update, bricks;
    char cause[2048], fix[1024];
    char request[4096];
    resp final;
    const xchg *fx; /* the last exchange */
    check checks[MAX_CHECKS];
    int nchecks;
    /* body analysis */
    int have_body;
    upd_file_info *fi;
    int body_complete;
    size_t body_len;
    uint8_t body_md5[16];
    char body_md5_hex[33];
    upd_fit_result fit;
    int fit_done;
    /* the other redirect setting */
    int alt_done, alt_follow, alt_code;
    const char *alt_result;
} doctor;

__attribute__((format(printf, 4, 5))) static void note(doctor *d, const char *name, int level,
                                                       const char *fmt, ...)
{
    if (d->nchecks == MAX_CHECKS)
        return;
    check *c = &d->checks[d->nchecks++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->level = level;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->text, sizeof c->text, fmt, ap);
    va_end(ap);
}

static const char *code_name(int code, int esp32)
{
    switch (code) {
    case 0: return "OK";
    case -1: return "HTTPC_ERROR_CONNECTION_FAILED";
    case -2: return "HTTPC_ERROR_SEND_HEADER_FAILED";
    case -3: return "HTTPC_ERROR_SEND_PAYLOAD_FAILED";
    case -4: return "HTTPC_ERROR_NOT_CONNECTED";
    case -5: return "HTTPC_ERROR_CONNECTION_LOST";
    case -6: return "HTTPC_ERROR_NO_STREAM";
    case -7: return "HTTPC_ERROR_NO_HTTP_SERVER";
    case -8: return "HTTPC_ERROR_TOO_LESS_RAM";
    case -9: return "HTTPC_ERROR_ENCODING";
    case -10: return "HTTPC_ERROR_STREAM_WRITE";
    case -11: return "HTTPC_ERROR_READ_TIMEOUT";
    case -100: return "HTTP_UE_TOO_LESS_SPACE";
    case -101: return "HTTP_UE_SERVER_NOT_REPORT_SIZE";
    case -102: return "HTTP_UE_SERVER_FILE_NOT_FOUND";
    case -103: return "HTTP_UE_SERVER_FORBIDDEN";
    case -104: return "HTTP_UE_SERVER_WRONG_HTTP_CODE";
    case -105: return "HTTP_UE_SERVER_FAULTY_MD5";
    case -106: return "HTTP_UE_BIN_VERIFY_HEADER_FAILED";
    case -107: return "HTTP_UE_BIN_FOR_WRONG_FLASH";
    case -108: return esp32 ? "HTTP_UE_NO_PARTITION" : "HTTP_UE_SERVER_UNAUTHORIZED";
    case 1: return "UPDATE_ERROR_WRITE";
    case 2: return "UPDATE_ERROR_ERASE";
    case 3: return "UPDATE_ERROR_READ";
    case 4: return "UPDATE_ERROR_SPACE";
    case 5: return "UPDATE_ERROR_SIZE";
    case 6: return "UPDATE_ERROR_STREAM";
    case 7: return "UPDATE_ERROR_MD5";
    case 8: return esp32 ? "UPDATE_ERROR_MAGIC_BYTE" : "UPDATE_ERROR_FLASH_CONFIG";
    case 9: return esp32 ? "UPDATE_ERROR_ACTIVATE" : "UPDATE_ERROR_NEW_FLASH_CONFIG";
    case 10: return esp32 ? "UPDATE_ERROR_NO_PARTITION" : "UPDATE_ERROR_MAGIC_BYTE";
    default: return upd_err_name(code);
    }
}

static const char *code_text(int code, int esp32)
{
    if (esp32 && code == 9)
        return "Could Not Activate The Firmware";
    return upd_client_strerror(code);
}

static const char *kib(uint32_t n, char *buf, size_t cap)
{
    if (n >= 1048576u && n % 1048576u == 0)
        say(buf, cap, "%u MiB", n / 1048576u);
    else if (n >= 1024u)
        say(buf, cap, "%.1f KiB", n / 1024.0);
    else
        say(buf, cap, "%u bytes", n);
    return buf;
}

/* A short printable preview of the body's first bytes. */
static void preview(const uint8_t *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    int text = 1;
    for (size_t i = 0; i < n && i < 16; i++)
        if (p[i] < 9 || (p[i] > 13 && p[i] < 32) || p[i] > 126)
            text = 0;
    if (text) {
        out[o++] = '"';
        for (size_t i = 0; i < n && o + 6 < cap && i < 60; i++)
            out[o++] = p[i] >= 32 && p[i] < 127 ? (char)p[i] : ' ';
        if (n > 60 && o + 5 < cap) {
            memcpy(out + o, "...", 3);
            o += 3;
        }
        out[o++] = '"';
        out[o] = '\0';
        return;
    }
    out[0] = '\0';
    for (size_t i = 0; i < n && i < 8; i++)
        add(out, cap, "%s%02X", i ? " " : "", p[i]);
}

/* What the body is, in words (for -106 and friends). */
static void body_words(const doctor *d, char *out, size_t cap)
{
    char pv[128];
    preview(d->final.body, d->final.body_len, pv, sizeof pv);
    if (!d->final.body_len) {
        say(out, cap, "an empty body");
        return;
    }
    if (d->fi && d->fi->report.kind != UPD_KIND_UNKNOWN)
        say(out, cap, "%s (%s), starting %s", upd_kind_desc(d->fi->report.kind),
            upd_kind_slug(d->fi->report.kind), pv);
    else
        say(out, cap, "data starting %s", pv);
}

static const char *xname(const doctor *d)
{
    return d->o->as == AS_ESP32 ? "x-ESP32" : "x-ESP8266";
}

/* The cause and fix for the device's code, from what was seen on the wire. */
static void explain(doctor *d, const run *r)
{
    const struct opts *o = d->o;
    const xchg *x = d->fx;
    const resp *p = &d->final;
    int esp32 = o->as == AS_ESP32;
    char a[64], b[64], words[512];
    const char *cl = hget(p, "Content-Length"), *te = hget(p, "Transfer-Encoding");
    const char *ce = hget(p, "Content-Encoding"), *loc = hget(p, "Location");
    const char *md5 = hget(p, "x-MD5");
    uint32_t total = cl ? (uint32_t)strtoul(cl, NULL, 10) : 0;
    uint32_t free_space = esp32 ? d->layout.slot_size
                                : (o->mode == UPD_MODE_FS ? d->layout.fs_end - d->layout.fs_start
                                                          : d->layout.fs_start -
                                                                ((d->layout.sketch_size + 4095u) &
                                                                 ~4095u));
    size_t got = p->body_len;
    switch (d->code) {
    case 0:
        if (r->result == UPD_CLIENT_NO_UPDATES) {
            const char *why = hget(p, "X-Updraft-Reason");
            say(d->cause, sizeof d->cause, "the server answered 304 Not Modified: no update%s%s",
                why ? ": " : "", why ? why : "");
            say(d->fix, sizeof d->fix, "nothing to fix: this is how a server says \"no update\"");
        }
        return;
    case -1:
        if (x && x->tls_verify_failed) {
            say(d->cause, sizeof d->cause,
                "TLS: the server's certificate is not trusted (%s); a device that verifies it "
                "(a CA or fingerprint in the sketch) fails to connect",
                x->tls_problem);
            say(d->fix, sizeof d->fix,
                "give the server a certificate from a CA the device trusts, for this host "
                "name and not expired, or pin its fingerprint in the sketch; run doctor with "
                "--cacert FILE to trust your own CA, or --insecure to look past it");
        } else {
            say(d->cause, sizeof d->cause, "%s", x && x->net_error[0] ? x->net_error : "connection failed");
            if (x && strstr(x->net_error, "resolve"))
                say(d->fix, sizeof d->fix, "check the host name in the URL; the device needs a "
                                           "DNS server that knows it");
            else if (x && x->tls)
                say(d->fix, sizeof d->fix,
                    "check that the server speaks HTTPS on port %u; small devices also need a "
                    "TLS setup their memory allows (BearSSL buffers on ESP8266)",
                    x->port);
            else
                say(d->fix, sizeof d->fix,
                    "check the URL's host and port, that the server runs, and that the device's "
                    "network can reach it (firewall, listening address 0.0.0.0 vs 127.0.0.1)");
        }
        return;
    case -2:
        say(d->cause, sizeof d->cause, "sending the request failed: %s",
            x && x->net_error[0] ? x->net_error : "connection broke");
        say(d->fix, sizeof d->fix, "the server closed the connection right away: look at its log");
        return;
    case -5:
        say(d->cause, sizeof d->cause,
            "the connection %s before the end of the response headers (%zu bytes received)",
            x && x->reset ? "broke (reset)" : "was closed by the server", x ? x->raw_len : (size_t)0);
        if (x && !x->raw_len && !x->tls)
            say(d->fix, sizeof d->fix,
                "the server hangs up without a word: if this port speaks HTTPS, use an "
                "https:// URL; otherwise look at the server's error log");
        else
            say(d->fix, sizeof d->fix,
                "the server or a proxy drops the request: look at its error log");
        return;
    case -7:
        if (x && x->raw_len >= 2 && x->raw[0] == 0x15 && x->raw[1] == 0x03) {
            say(d->cause, sizeof d->cause, "the server answered with TLS, not HTTP");
            say(d->fix, sizeof d->fix, "use an https:// URL for this port");
        } else {
            say(d->cause, sizeof d->cause,
                "the response does not start with an HTTP/1.x status line (got \"%s\")",
                p->status_line);
            say(d->fix, sizeof d->fix,
                "the port speaks another protocol (HTTP/2 only, a raw service): serve the "
                "update over HTTP/1.x");
        }
        return;
    case -9:
        say(d->cause, sizeof d->cause,
            "the server answered with `Transfer-Encoding: %s`; the device's HTTPClient only "
            "knows identity and chunked",
            te ? te : "?");
        say(d->fix, sizeof d->fix,
            "send firmware as is, with Content-Length and without Transfer-Encoding");
        return;
    case -11:
        say(d->cause, sizeof d->cause,
            "no complete response headers within %u ms (%zu bytes received); the device gives "
            "up after its HTTP timeout (8000 ms by default)",
            d->cfg.timeout_ms, x ? x->raw_len : (size_t)0);
        say(d->fix, sizeof d->fix,
            "answer faster: a slow script, a database lock or an overloaded server keeps the "
            "device waiting; decide quickly and stream the file from disk");
        return;
    case -100:
        say(d->cause, sizeof d->cause,
            "the image is %u bytes (Content-Length) but the device has only %u bytes %s (%s: "
            "%u); %s",
            total, free_space,
            esp32 ? "in its OTA partition" : o->mode == UPD_MODE_FS ? "of filesystem" : "free",
            o->mode == UPD_MODE_FS ? "filesystem size" : "free-space header", free_space,
            esp32 || o->mode == UPD_MODE_FS
                ? "it does not fit"
                : "the running sketch and the new one must fit side by side");
        say(d->fix, sizeof d->fix,
            "the server should compare the length with %s-free-space before offering an image "
            "and answer 304 when it does not fit; build a smaller image (gzip it), or move the "
            "device to a layout with more room (a smaller filesystem%s)",
            xname(d), esp32 ? ", bigger app partitions" : "");
        return;
    case -101:
        if (te && strstr(te, "chunked") && !cl) {
            say(d->cause, sizeof d->cause,
                "the server answered with `Transfer-Encoding: chunked` and no Content-Length; "
                "the %s updater needs Content-Length%s",
                esp32 ? "ESP32" : "ESP8266", ce ? " (and it compresses on the fly: Content-Encoding)" : "");
            say(d->fix, sizeof d->fix,
                "switch off chunking/compression for .bin files: serve them as static files "
                "with their exact Content-Length (for a script: set Content-Length and do not "
                "flush in pieces)");
        } else if (!cl && ce) {
            say(d->cause, sizeof d->cause,
                "the server compresses the response on the fly (`Content-Encoding: %s`) and "
                "so sends no Content-Length",
                ce);
            say(d->fix, sizeof d->fix, "switch off compression (gzip/deflate) for .bin files and "
                                       "send Content-Length");
        } else if (!cl) {
            say(d->cause, sizeof d->cause,
                "the server sent no Content-Length: the body just runs until the connection "
                "closes (%zu bytes came), and the device will not start without knowing the size",
                got);
            say(d->fix, sizeof d->fix,
                "send `Content-Length: <exact file size>` with every firmware answer (a proxy "
                "or a streaming script often drops it)");
        } else if (total == 0 && cl[0] == '0') {
            say(d->cause, sizeof d->cause,
                "the server answered 200 with `Content-Length: 0`: an empty answer is not "
                "\"no update\" to the device");
            say(d->fix, sizeof d->fix, "answer 304 Not Modified when there is no update");
        } else {
            say(d->cause, sizeof d->cause,
                "`Content-Length: %s` is not a size the device can read", cl);
            say(d->fix, sizeof d->fix, "send the exact size as a plain decimal number");
        }
        return;
    case -102:
        say(d->cause, sizeof d->cause, "the server answered 404 Not Found for %s", o->path);
        say(d->fix, sizeof d->fix,
            "check the URL path; if the server means \"no update\", it must answer 304 "
            "instead (a 404 is an error on every check)");
        return;
    case -103:
        say(d->cause, sizeof d->cause,
            "the server answered 403 Forbidden: it refused this device's request%s",
            hget(p, "X-Updraft-Reason") ? "" : " (servers that check the device headers "
                                               "answer 403 when one is missing or the "
                                               "User-Agent differs)");
        say(d->fix, sizeof d->fix,
            "see why the server refuses (its log, the body of the 403); allow the device's "
            "User-Agent and headers");
        return;
    case -104:
        if (p->status >= 300 && p->status < 400) {
            if (!d->cfg.follow_redirects) {
                say(d->cause, sizeof d->cause,
                    "the server redirects (%d to %s) and the device does not follow redirects "
                    "unless the sketch enables it",
                    p->status, loc ? loc : "nowhere: no Location");
                say(d->fix, sizeof d->fix,
                    "serve the image directly at this URL, or call "
                    "setFollowRedirects(HTTPC_STRICT_FOLLOW_REDIRECTS) in the sketch (try "
                    "--follow-redirects)");
            } else if (p->status == 308) {
                say(d->cause, sizeof d->cause,
                    "308 Permanent Redirect: the device's HTTPClient never follows a 308");
                say(d->fix, sizeof d->fix, "use 301 or 302, or serve the image at this URL");
            } else if (!loc) {
                say(d->cause, sizeof d->cause, "a %d redirect without a Location header", p->status);
                say(d->fix, sizeof d->fix, "send Location with the image's URL");
            } else if (r->nx >= 10) {
                say(d->cause, sizeof d->cause, "more than 10 redirects (a loop?), last to %s", loc);
                say(d->fix, sizeof d->fix, "point the URL at the image");
            } else {
                say(d->cause, sizeof d->cause,
                    "the %d redirect to %s is not followed: the device follows only a path "
                    "or a URL with the same scheme (%s), without user:password@, with a host "
                    "of at most %d characters",
                    p->status, loc, o->tls ? "https" : "http", UPD_CLIENT_HOST_MAX);
                say(d->fix, sizeof d->fix, "redirect within the same scheme, or serve the image "
                                           "at this URL");
            }
        } else if (p->status >= 500) {
            say(d->cause, sizeof d->cause, "the server failed: \"%s\"", p->status_line);
            say(d->fix, sizeof d->fix, "look at the server's error log; a device only "
                                       "understands 200 (with the image) and 304");
        } else if (p->status == 401 && esp32) {
            say(d->cause, sizeof d->cause,
                "401 Unauthorized: Arduino-ESP32's HTTPUpdate has no code of its own for it");
            say(d->fix, sizeof d->fix, "give the device the right credentials (--user/--password)");
        } else if (p->status == 206) {
            say(d->cause, sizeof d->cause, "206 Partial Content to a request without Range");
            say(d->fix, sizeof d->fix, "answer 200 with the whole file");
        } else if (p->status == 200) {
            say(d->cause, sizeof d->cause, "a 200 the device cannot use here");
            say(d->fix, sizeof d->fix, "answer 200 with the image, or 304");
        } else {
            say(d->cause, sizeof d->cause,
                "the server answered \"%s\"; the device understands only 200 (with the image), "
                "304, and reports 401/403/404 by name",
                p->status_line);
            say(d->fix, sizeof d->fix,
                "answer 200 with the image or 304 for \"no update\"; other codes are errors on "
                "the device");
        }
        return;
    case -105:
        say(d->cause, sizeof d->cause,
            "`x-MD5: %s` has %zu characters; the device needs exactly 32 (the MD5 in hex)",
            md5 ? md5 : "", md5 ? strlen(md5) : (size_t)0);
        say(d->fix, sizeof d->fix,
            "send the MD5 of the exact body as 32 lowercase hex digits (or leave x-MD5 out)%s",
            d->have_body ? "" : "");
        if (d->have_body && d->body_complete)
            add(d->fix, sizeof d->fix, ": here that is %s", d->body_md5_hex);
        return;
    case -106:
        body_words(d, words, sizeof words);
        if (te && strstr(te, "chunked")) {
            say(d->cause, sizeof d->cause,
                "the body is chunked (`Transfer-Encoding: chunked`) although the server also "
                "sent Content-Length: the device reads the chunk framing as the image (%s)",
                words);
            say(d->fix, sizeof d->fix, "switch off chunking for .bin files: exact "
                                       "Content-Length, no Transfer-Encoding");
        } else if (got < 4 && x && !x->closed) {
            say(d->cause, sizeof d->cause,
                "the first 4 bytes of the body did not arrive within %u ms", d->cfg.timeout_ms);
            say(d->fix, sizeof d->fix, "send the body right after the headers");
        } else if (esp32 && got >= 2 && p->body[0] == 0x1F && p->body[1] == 0x8B) {
            say(d->cause, sizeof d->cause,
                "the body is a gzip file: ESP32 devices install only plain images (first byte "
                "0xE9)");
            say(d->fix, sizeof d->fix, "serve the uncompressed .bin to ESP32 devices");
        } else {
            say(d->cause, sizeof d->cause,
                "the server answered 200 but the body is not a firmware image: %s; the device "
                "checks the first byte (0xE9%s)",
                words, esp32 ? "" : ", or 0x1F for gzip");
            say(d->fix, sizeof d->fix,
                "never answer 200 with anything but the image: say \"no update\" with 304, "
                "errors with 4xx/5xx; check that the URL serves the .bin (not a page or the "
                ".elf)");
        }
        return;
    case -107: {
        uint8_t code = got >= 4 ? p->body[3] >> 4 : 0;
        uint32_t need = upd_flash_size_bytes(UPD_PLATFORM_ESP8266, code);
        say(d->cause, sizeof d->cause,
            "the image is built for %s of flash (header byte 3 = 0x%02X) but the chip has %s "
            "(%s-chip-size)",
            kib(need, a, sizeof a), got >= 4 ? p->body[3] : 0, kib(d->layout.chip_size, b, sizeof b),
            xname(d));
        say(d->fix, sizeof d->fix,
            "build for the board's real flash size (Flash Size menu, board_build.flash_size); "
            "the server should compare the image's size code with %s-chip-size and answer 304",
            xname(d));
        return;
    }
    case -108:
        say(d->cause, sizeof d->cause, "the server answered 401 Unauthorized%s",
            o->user ? ": it did not accept the credentials sent" : ": it wants credentials");
        say(d->fix, sizeof d->fix,
            "set the credentials in the sketch (ESPhttpUpdate.setAuthorization(user, password), "
            "core >= 3.0) and here with --user/--password");
        return;
    case 1:
    case 2:
    case 3:
        say(d->cause, sizeof d->cause, "writing the simulated flash failed: %s", "see the log");
        say(d->fix, sizeof d->fix, "a problem of this machine (disk full?), not of the server");
        return;
    case 4:
        say(d->cause, sizeof d->cause,
            "the image (%u bytes) fits the %u bytes free by length, but the Updater reserves "
            "whole 4 KB sectors (%u bytes) and stops with error 4",
            total, free_space, (total + 4095u) & ~4095u);
        say(d->fix, sizeof d->fix,
            "the real rule is roundup(length, 4096) <= free space: make the image %u bytes "
            "smaller, and have the server check that rule before offering it",
            ((total + 4095u) & ~4095u) - free_space);
        return;
    case 6:
        if (x && x->closed)
            say(d->cause, sizeof d->cause,
                "the body ended after %zu of %u bytes: the server closed the connection early "
                "(Content-Length larger than what it sent?)",
                got, total);
        else if (x && x->reset)
            say(d->cause, sizeof d->cause,
                "the connection broke after %zu of %u body bytes", got, total);
        else
            say(d->cause, sizeof d->cause,
                "the body stalled after %zu of %u bytes: nothing came for %u ms (the device's "
                "Updater gives up after 60 s)",
                got, total, d->cfg.stream_timeout_ms);
        say(d->fix, sizeof d->fix,
            "send exactly Content-Length bytes without pauses: stream from disk, check "
            "proxy timeouts and buffering, and that the file is not replaced while it is sent");
        return;
    case 7:
        if (md5 && !is_hex(md5, 32))
            say(d->cause, sizeof d->cause,
                "`x-MD5: %s` is 32 characters but not hex: it can never match", md5);
        else
            say(d->cause, sizeof d->cause,
                "x-MD5 says %s but the body's MD5 is %s (the device says \"MD5 verification "
                "failed\")",
                md5 ? md5 : "?", d->have_body ? d->body_md5_hex : "?");
        say(d->fix, sizeof d->fix,
            "compute x-MD5 from the stored file at the time it is sent (a stale MD5 after "
            "replacing the file is the usual cause), as 32 lowercase hex digits");
        return;
    case 9:
        if (esp32) {
            say(d->cause, sizeof d->cause,
                "the device downloads the image, then esp_ota_set_boot_partition refuses it: %s",
                r->act_reason[0] ? r->act_reason : "not a bootable ESP32 image");
            say(d->fix, sizeof d->fix,
                "publish the application .bin built for this chip; the server should keep "
                "other families' images away from it");
        } else {
            say(d->cause, sizeof d->cause,
                "the image is built for more flash than the chip has; this core (flash-map "
                "support) checks it only after writing: Updater error 9");
            say(d->fix, sizeof d->fix, "build for the board's real flash size");
        }
        return;
    case 10:
        say(d->cause, sizeof d->cause,
            "the body starts with 0x1F (like gzip) but is not gzip (1F 8B): the Updater "
            "refuses it after writing it");
        say(d->fix, sizeof d->fix, "serve the .bin, or a real gzip of it (gzip -9)");
        return;
    default:
        say(d->cause, sizeof d->cause, "%s", upd_client_strerror(d->code));
        say(d->fix, sizeof d->fix, "see docs/doctor.md");
        return;
    }
}

/* ---- the body: MD5, inspector, fit rules ---------------------------------------------------- */

static uint32_t reported_free(const doctor *d)
{
    if (d->o->as != AS_ESP8266)
        return d->layout.slot_size;
    uint32_t used = (d->layout.sketch_size + 4095u) & ~4095u;
    return d->layout.fs_start > used ? d->layout.fs_start - used : 0;
}

static void analyze_body(doctor *d)
{
    const resp *p = &d->final;
    if (!p->complete || p->status != 200 || !p->body_len)
        return;
    const char *cl = hget(p, "Content-Length"), *te = hget(p, "Transfer-Encoding");
    const uint8_t *body = p->body;
    size_t n = p->body_len;
    uint8_t *decoded = NULL;
    long long want = cl ? atoll(cl) : -1;
    int complete = 0;
    if (te && strstr(te, "chunked")) {
        decoded = malloc(n);
        long long k = decoded ? dechunk(p->body, n, decoded) : -1;
        if (k >= 0) {
            body = decoded;
            n = (size_t)k;
            complete = 1;
            note(d, "framing", L_WARN,
                 "the body is chunked; unframed it is %zu bytes (what the device should have "
                 "been sent as is)",
                 n);
        } else {
            note(d, "framing", L_WARN, "the body is chunked and its framing is incomplete");
        }
    } else if (want > 0) {
        if ((long long)n >= want) {
            n = (size_t)want;
            complete = 1;
        }
    } else {
        complete = d->fx && d->fx->closed;
    }
    d->have_body = 1;
    d->body_complete = complete;
    d->body_len = n;
    gnutls_hash_fast(GNUTLS_DIG_MD5, body, n, d->body_md5);
    upd_hex(d->body_md5, 16, d->body_md5_hex);
    d->fi = calloc(1, sizeof *d->fi);
    if (!d->fi) {
        free(decoded);
        return;
    }
    if (complete) {
        char err[256];
        int fd = memfd_create("doctor-body", MFD_CLOEXEC);
        if (fd < 0 || write(fd, body, n) != (ssize_t)n ||
            upd_inspect_fd(fd, "(body)", d->fi, err, sizeof err) != 0) {
            free(d->fi);
            d->fi = NULL;
        }
        if (fd >= 0)
            close(fd);
    } else {
        upd_source src;
        upd_source_init_prefix(&src, body, (uint32_t)n, want > 0 ? (uint32_t)want : (uint32_t)n);
        upd_image_inspect(&src, NULL, &d->fi->report);
    }
    free(decoded);
    if (!d->fi)
        return;
    const upd_image_report *rep = &d->fi->report;
    int want_fs = d->o->mode == UPD_MODE_FS;
    upd_platform plat = d->o->as == AS_ESP8266 ? UPD_PLATFORM_ESP8266 : UPD_PLATFORM_ESP32;
    int good = want_fs ? rep->verdict == UPD_VERDICT_FS_IMAGE
                       : rep->verdict == UPD_VERDICT_OTA_APP && rep->platform == plat;
    if (!complete)
        note(d, "image", L_INFO, "only %zu of %lld bytes came: %s", n, want, rep->reason);
    else
        note(d, "image", good ? L_OK : L_FAIL, "%s: %s", upd_verdict_name(rep->verdict),
             rep->reason);
    if (!complete)
        return;
    upd_device_facts f;
    memset(&f, 0, sizeof f);
    f.client = d->o->as == AS_ESP8266 ? UPD_CLIENT_ESP8266_ARDUINO
               : d->o->as == AS_ESP32 ? UPD_CLIENT_ESP32_ARDUINO
                                      : UPD_CLIENT_ESP_IDF;
    f.mode = (upd_update_mode)d->o->mode;
    f.chip = d->o->as == AS_ESP8266 ? UPD_CHIP_ESP8266 : (upd_chip)d->o->chip;
    f.has_free_space = 1;
    f.free_space = reported_free(d);
    f.has_chip_size = 1;
    f.chip_size = d->layout.chip_size;
    f.flash_map_core = (uint8_t)d->o->flash_map;
    f.has_fs_size = 1;
    f.fs_size = d->layout.fs_end - d->layout.fs_start;
    upd_fit_check(rep, &f, &d->fit);
    d->fit_done = 1;
    note(d, "fit", d->fit.code == UPD_FIT_OK ? L_OK : L_FAIL, "%s", d->fit.explanation);
}

/* x-MD5 beyond what the device enforces. */
static void check_md5(doctor *d)
{
    const resp *p = &d->final;
    if (p->status != 200)
        return;
    const char *m = hget(p, "x-MD5");
    if (!m || !m[0]) {
        note(d, "x-MD5", L_WARN,
             "no x-MD5: the device cannot tell a corrupted download from a good one; send the "
             "body's MD5 as 32 lowercase hex digits%s%s",
             d->have_body && d->body_complete ? " (" : "",
             d->have_body && d->body_complete ? d->body_md5_hex : "");
        if (d->have_body && d->body_complete)
            add(d->checks[d->nchecks - 1].text, sizeof d->checks[0].text, ")");
        return;
    }
    if (strlen(m) != 32) {
        note(d, "x-MD5", L_FAIL, "%zu characters, not 32: the device fails with -105",
             strlen(m));
        return;
    }
    if (!d->have_body || !d->body_complete) {
        note(d, "x-MD5", L_INFO, "%s (body incomplete: not compared)", m);
        return;
    }
    if (strcasecmp(m, d->body_md5_hex) != 0) {
        note(d, "x-MD5", L_FAIL, "%s does not match the body's MD5 %s", m, d->body_md5_hex);
        return;
    }
    if (strcmp(m, d->body_md5_hex) != 0)
        note(d, "x-MD5", L_WARN,
             "matches, but in uppercase: the ESP8266 compares without case, older "
             "Arduino-ESP32 Update libraries compare case-sensitively: send lowercase");
    else
        note(d, "x-MD5", L_OK, "matches the body (%s)", m);
}

static void check_headers(doctor *d)
{
    const resp *p = &d->final;
    if (p->status != 200)
        return;
    const char *cl = hget(p, "Content-Length"), *te = hget(p, "Transfer-Encoding");
    const char *ce = hget(p, "Content-Encoding");
    if (cl)
        note(d, "length", L_OK, "Content-Length: %s", cl);
    else
        note(d, "length", L_FAIL, "no Content-Length");
    if (te)
        note(d, "encoding", L_WARN, "Transfer-Encoding: %s (never use it for firmware)", te);
    if (ce)
        note(d, "encoding", L_WARN,
             "Content-Encoding: %s: the device does not decode it and writes the compressed "
             "bytes to flash; switch compression off for .bin files",
             ce);
    const xchg *x = d->fx;
    if (x && x->t_first) {
        uint32_t ttfb = x->t_first - x->t_connected;
        note(d, "timing", ttfb * 2 > d->cfg.timeout_ms ? L_WARN : L_INFO,
             "first byte after %u ms (the device waits %u ms); longest pause %u ms", ttfb,
             d->cfg.timeout_ms, x->longest_gap);
    }
}

/* ---- extra requests: HEAD and Range, as esp_https_ota and updraft's resume use them -------- */

typedef struct probe {
    uint8_t *raw;
    size_t len;
    resp r;
    int ok; /* a complete response came */
    char error[UPD_POSIX_ERROR_MAX];
} probe;

/* The last request again, as method with an extra header line. */
static void probe_run(const doctor *d, const char *method, const char *extra, probe *pr)
{
    memset(pr, 0, sizeof *pr);
    const xchg *x = d->fx;
    char req[4200];
    const char *sp = strchr(x->req, ' ');
    size_t body = x->req_len >= 2 ? x->req_len - 2 : 0; /* before the final CRLF */
    if (!sp || (size_t)(sp - x->req) > body)
        return;
    int n = snprintf(req, sizeof req, "%s%.*s%s\r\n", method, (int)(body - (size_t)(sp - x->req)),
                     sp, extra);
    if (n <= 0 || (size_t)n >= sizeof req)
        return;
    upd_posix_net net;
    upd_posix_net_init(&net);
    net.insecure = d->o->insecure;
    net.ca_file = d->o->cacert;
    uint32_t to = d->cfg.timeout_ms;
    if (upd_posix_net_connect(&net, x->host, x->port, x->tls, to) != 0) {
        snprintf(pr->error, sizeof pr->error, "%s", net.error);
        upd_posix_net_free(&net);
        return;
    }
    for (int sent = 0; sent < n;) {
        int k = upd_posix_net_send(&net, req + sent, (size_t)(n - sent), to);
        if (k <= 0)
            break;
        sent += k;
    }
    size_t cap = 1 << 16;
    pr->raw = malloc(cap);
    uint8_t in[8192];
    while (pr->raw) {
        parse_resp(pr->raw, pr->len, &pr->r);
        if (pr->r.complete) {
            const char *cl = hget(&pr->r, "Content-Length");
            if (!strcmp(method, "HEAD") || pr->r.status == 304 || pr->r.status == 416 ||
                (cl && pr->r.body_len >= (size_t)atoll(cl)) || pr->r.body_len > 4096)
                break;
        }
        int k = upd_posix_net_recv(&net, in, sizeof in, to);
        if (k <= 0)
            break;
        if (pr->len + (size_t)k > cap) {
            uint8_t *q = realloc(pr->raw, cap * 2);
            if (!q)
                break;
            pr->raw = q;
            cap *= 2;
        }
        memcpy(pr->raw + pr->len, in, (size_t)k);
        pr->len += (size_t)k;
    }
    if (pr->raw)
        parse_resp(pr->raw, pr->len, &pr->r);
    pr->ok = pr->r.complete;
    if (!pr->ok)
        snprintf(pr->error, sizeof pr->error, "no complete answer (%.200s)",
                 net.error[0] ? net.error : "closed or timed out");
    upd_posix_net_free(&net);
}

static void probe_free(probe *pr)
{
    free(pr->raw);
    pr->raw = NULL;
}

static void check_ranges(doctor *d)
{
    const resp *p = &d->final;
    const char *cl = hget(p, "Content-Length");
    if (!d->o->probes || !d->fx || p->status != 200 || !cl || atoll(cl) <= 0 ||
        hget(p, "Transfer-Encoding"))
        return;
    unsigned long long total = (unsigned long long)atoll(cl);
    const char *who = d->o->as == AS_IDF
                          ? "esp_https_ota's partial download"
                          : "the stock client does not use it; updraft's device library resumes "
                            "with it, esp_https_ota's partial download needs it";
    probe pr;
    char extra[128], text[1024];
    /* HEAD */
    probe_run(d, "HEAD", "", &pr);
    const char *hcl = pr.ok ? hget(&pr.r, "Content-Length") : NULL;
    if (pr.ok && pr.r.status == 200 && hcl && (unsigned long long)atoll(hcl) == total)
        note(d, "head", L_OK, "200 with the same Content-Length (%s)", hcl);
    else if (pr.ok)
        note(d, "head", L_WARN,
             "HEAD answered \"%s\"%s%s: esp_https_ota's partial download asks HEAD for the size "
             "first (newer ESP-IDF falls back to Range: bytes=0-0); answer HEAD with the GET's "
             "headers",
             pr.r.status_line, hcl ? ", Content-Length " : ", no Content-Length", hcl ? hcl : "");
    else
        note(d, "head", L_WARN, "HEAD: %s", pr.error);
    probe_free(&pr);

    int level = L_OK;
    text[0] = '\0';
    /* 1. the first byte */
    probe_run(d, "GET", "Range: bytes=0-0\r\n", &pr);
    char want[96];
    say(want, sizeof want, "bytes 0-0/%llu", total);
    const char *cr = pr.ok ? hget(&pr.r, "Content-Range") : NULL;
    if (!pr.ok) {
        level = L_WARN;
        add(text, sizeof text, "bytes=0-0: %s; ", pr.error);
    } else if (pr.r.status == 200) {
        level = L_WARN;
        add(text, sizeof text,
            "Range ignored: 200 to `Range: bytes=0-0` (%s: a server that ignores Range "
            "corrupts the image when downloaded in chunks); ",
            who);
    } else if (pr.r.status != 206 || !cr || strcmp(cr, want) != 0) {
        level = L_WARN;
        add(text, sizeof text, "bytes=0-0 answered \"%s\", Content-Range %s (want 206, %s); ",
            pr.r.status_line, cr ? cr : "missing", want);
    } else {
        add(text, sizeof text, "206 with Content-Range: %s; ", cr);
    }
    int ignored = pr.ok && pr.r.status == 200;
    probe_free(&pr);
    if (!ignored && total > 10) {
        /* 2. one byte past the end: must be clamped (RFC 9110) */
        say(extra, sizeof extra, "Range: bytes=%llu-%llu\r\n", total - 10, total);
        probe_run(d, "GET", extra, &pr);
        say(want, sizeof want, "bytes %llu-%llu/%llu", total - 10, total - 1, total);
        cr = pr.ok ? hget(&pr.r, "Content-Range") : NULL;
        if (pr.ok && pr.r.status == 206 && cr && !strcmp(cr, want)) {
            add(text, sizeof text, "a range one byte past the end is clamped; ");
        } else {
            level = L_WARN;
            add(text, sizeof text,
                "a range one byte past the end (bytes=%llu-%llu) answered \"%s\"%s%s: the last "
                "position must be clamped to the length (RFC 9110; esp_https_ota's resumed "
                "first chunk asks like that); ",
                total - 10, total, pr.ok ? pr.r.status_line : pr.error, cr ? ", " : "",
                cr ? cr : "");
        }
        probe_free(&pr);
        /* 3. beyond the end: 416 */
        say(extra, sizeof extra, "Range: bytes=%llu-\r\n", total);
        probe_run(d, "GET", extra, &pr);
        if (pr.ok && pr.r.status == 416) {
            add(text, sizeof text, "416 beyond the end");
        } else {
            level = L_WARN;
            add(text, sizeof text, "a range beyond the end answered \"%s\" (want 416)",
                pr.ok ? pr.r.status_line : pr.error);
        }
        probe_free(&pr);
    }
    size_t tl = strlen(text);
    while (tl && (text[tl - 1] == ' ' || text[tl - 1] == ';'))
        text[--tl] = '\0';
    if (!hget(p, "Accept-Ranges") && level == L_OK)
        add(text, sizeof text, " (but no Accept-Ranges: bytes header)");
    note(d, "range", level, "%s", text);
}

/* ---- ESP-IDF esp_https_ota: read by doctor itself (not an engine flavor) --------------------- */

/* esp_http_client's GET; then esp_https_ota's reading of the answer (esp32-ota.md 3). */
static void idf_check(doctor *d, upd_posix_port *pp, run *r)
{
    const struct opts *o = d->o;
    memset(r, 0, sizeof *r);
    char host[256], path[2048];
    uint16_t port = o->port;
    int tls = o->tls;
    snprintf(host, sizeof host, "%s", o->host);
    snprintf(path, sizeof path, "%s", o->path);
    r->t0 = ms();
    for (int hop = 0; hop <= 10; hop++) {
        xchg *x = &r->x[r->nx++];
        snprintf(x->host, sizeof x->host, "%.*s", (int)sizeof x->host - 1, host);
        x->port = port;
        x->tls = tls;
        char hostport[300];
        if (port == (tls ? 443 : 80))
            say(hostport, sizeof hostport, "%s", host);
        else
            say(hostport, sizeof hostport, "%s:%u", host, (unsigned)port);
        x->req_len = (size_t)snprintf(x->req, sizeof x->req,
                                      "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ESP32 HTTP "
                                      "Client/1.0\r\n%s%s%s\r\n",
                                      path, hostport, d->auth[0] ? "Authorization: Basic " : "",
                                      d->auth, d->auth[0] ? "\r\n" : "");
        x->t_start = ms();
        if (upd_posix_net_connect(&pp->net, host, port, tls, d->cfg.timeout_ms) != 0) {
            x->connect_failed = 1;
            x->tls_verify_failed = pp->net.tls_verify_failed;
            snprintf(x->net_error, sizeof x->net_error, "%s", pp->net.error);
            snprintf(x->tls_problem, sizeof x->tls_problem, "%s", pp->net.tls_problem);
            r->error = -1;
            break;
        }
        x->t_connected = x->t_last = ms();
        snprintf(x->tls_info, sizeof x->tls_info, "%s", pp->net.tls_info);
        snprintf(x->tls_problem, sizeof x->tls_problem, "%s", pp->net.tls_problem);
        snprintf(x->peer, sizeof x->peer, "%s", pp->net.peer);
        for (size_t s = 0; s < x->req_len;) {
            int k = upd_posix_net_send(&pp->net, x->req + s, x->req_len - s, d->cfg.timeout_ms);
            if (k <= 0)
                break;
            s += (size_t)k;
        }
        /* read the whole answer (HTTP/1.1: until Content-Length, the last chunk or close) */
        uint8_t in[16384];
        for (;;) {
            resp rp;
            parse_resp(x->raw, x->raw_len, &rp);
            if (rp.complete) {
                const char *cl = hget(&rp, "Content-Length"), *te = hget(&rp, "Transfer-Encoding");
                if (rp.status == 304 || rp.status == 204)
                    break;
                if (te && strstr(te, "chunked")) {
                    if (rp.body_len >= 5 && !memcmp(rp.body + rp.body_len - 5, "0\r\n\r\n", 5))
                        break;
                } else if (cl && rp.body_len >= (size_t)atoll(cl)) {
                    break;
                }
            }
            uint32_t to = rp.complete ? d->cfg.stream_timeout_ms : d->cfg.timeout_ms;
            int k = upd_posix_net_recv(&pp->net, in, sizeof in, to);
            if (k == 0) {
                x->closed = 1;
                break;
            }
            if (k < 0) {
                if (k == UPD_PORT_ETIMEOUT && !rp.complete)
                    r->error = -11;
                x->reset = k != UPD_PORT_ETIMEOUT;
                break;
            }
            uint32_t now = ms();
            if (!x->raw_len)
                x->t_first = now;
            if (now - x->t_last > x->longest_gap)
                x->longest_gap = now - x->t_last;
            x->t_last = now;
            raw_append(x, in, (size_t)k);
        }
        upd_posix_net_close(&pp->net);
        resp rp;
        parse_resp(x->raw, x->raw_len, &rp);
        r->status = rp.status;
        if (r->error)
            break;
        const char *loc = hget(&rp, "Location");
        if (rp.complete && rp.status >= 301 && rp.status <= 308 && rp.status != 304 &&
            rp.status != 305 && rp.status != 306 && loc && hop < 10) {
            if (!strncmp(loc, "http://", 7) || !strncmp(loc, "https://", 8)) {
                int ntls = loc[4] == 's';
                if (tls && !ntls)
                    break; /* esp_http_client refuses https -> http */
                struct opts tmp;
                memset(&tmp, 0, sizeof tmp);
                tmp.url = loc;
                char e[128];
                if (parse_url(&tmp, e, sizeof e) != 0)
                    break;
                snprintf(host, sizeof host, "%s", tmp.host);
                port = tmp.port;
                tls = tmp.tls;
                snprintf(path, sizeof path, "%s", tmp.path);
            } else if (loc[0] == '/') {
                snprintf(path, sizeof path, "%s", loc);
            } else {
                break;
            }
            continue;
        }
        break;
    }
    r->elapsed = ms() - r->t0;
}

/* esp_https_ota's verdict, from the final exchange. Sets d->code (0 ok) and the texts. */
static void idf_judge(doctor *d, const run *r)
{
    const resp *p = &d->final;
    const xchg *x = d->fx;
    const char *cl = hget(p, "Content-Length"), *te = hget(p, "Transfer-Encoding");
    d->result = "failed";
    if (r->error == -1 || !x) {
        d->code = -1;
        explain(d, r);
        return;
    }
    if (r->error == -11) {
        d->code = -11;
        explain(d, r);
        return;
    }
    if (p->status == 304) {
        d->code = 0;
        d->result = "no-update";
        say(d->cause, sizeof d->cause, "304 Not Modified: esp_https_ota reports \"not modified\"");
        say(d->fix, sizeof d->fix, "nothing to fix");
        return;
    }
    if (p->status != 200) {
        d->code = p->status >= 300 && p->status < 400 ? -104 : p->status == 404 ? -102 : -104;
        if (p->status >= 300 && p->status < 400)
            say(d->cause, sizeof d->cause,
                "a %d redirect esp_http_client does not follow (https to http, no Location, "
                "more than 10)",
                p->status);
        else
            say(d->cause, sizeof d->cause,
                "the server answered \"%s\": esp_https_ota needs 200 (or 304)", p->status_line);
        say(d->fix, sizeof d->fix, "serve the image with 200 at this URL");
        return;
    }
    int chunked = te && strstr(te, "chunked");
    if (!cl && !chunked) {
        d->code = -101;
        say(d->cause, sizeof d->cause,
            "no Content-Length and no chunked framing: the body just ends at close, which "
            "esp_https_ota does not accept");
        say(d->fix, sizeof d->fix, "send Content-Length (or correct chunked framing)");
        return;
    }
    if (!d->have_body || !d->body_complete) {
        d->code = 6;
        say(d->cause, sizeof d->cause, "the body ended or stalled before it was complete");
        say(d->fix, sizeof d->fix, "send exactly Content-Length bytes, without pauses");
        return;
    }
    if (!d->fit_done || d->fit.code != UPD_FIT_OK) {
        d->code = -106;
        say(d->cause, sizeof d->cause, "esp_https_ota refuses the image (ESP_ERR_OTA_VALIDATE_FAILED): %s",
            d->fit_done ? d->fit.explanation : "not an image");
        say(d->fix, sizeof d->fix, "publish the ESP-IDF application .bin built for this chip");
        return;
    }
    d->code = 0;
    d->result = "ok";
}

/* ---- options and the device's layout ----------------------------------------------------------- */

static int make_layout(doctor *d, char *err, size_t errlen)
{
    struct opts *o = d->o;
    upd_flash_layout *l = &d->layout;
    memset(l, 0, sizeof *l);
    uint32_t chip = o->chip_size >= 0 ? (uint32_t)o->chip_size : 4u << 20;
    if (chip < 512u * 1024u || chip % 4096u) {
        say(err, errlen, "--chip-size %u: give the flash size in bytes (e.g. 4194304 or 4M)", chip);
        return -1;
    }
    l->chip_size = chip;
    l->flash_mode = (uint8_t)o->flash_mode;
    if (o->as == AS_ESP8266) {
        /* the Arduino layouts: 1M with 64K FS; 2M and more with a 1M filesystem below the
         * last 24 KB (EEPROM, RF calibration, SDK parameters) */
        uint32_t fs_end = chip <= (1u << 20) ? chip - 0x5000u : chip - 0x6000u;
        uint32_t fs = o->fs_size >= 0 ? (uint32_t)o->fs_size
                                      : chip <= (1u << 20) ? 0x10000u : fs_end - (chip - (1u << 20));
        l->sketch_size = o->sketch_size >= 0 ? (uint32_t)o->sketch_size : 400000u;
        uint32_t used = (l->sketch_size + 4095u) & ~4095u;
        if (o->free_space >= 0) {
            /* free = fs_start - roundup(sketch_size): place the filesystem to match */
            l->fs_start = used + (uint32_t)o->free_space;
            if ((uint64_t)l->fs_start + fs > chip) {
                if (l->fs_start > chip) {
                    say(err, errlen,
                        "--free-space %lld with a %u-byte sketch does not fit a %u-byte chip: "
                        "give --chip-size or --sketch-size",
                        o->free_space, l->sketch_size, chip);
                    return -1;
                }
                fs = chip - l->fs_start;
            }
        } else {
            if (fs > fs_end || fs_end - fs < used) {
                say(err, errlen, "the sketch does not fit this layout: give --free-space");
                return -1;
            }
            l->fs_start = fs_end - fs;
        }
        l->fs_end = l->fs_start + fs;
    } else {
        /* Arduino-ESP32 default partitions (4 MB): app0 0x10000, app1 0x150000 (1280 KB
         * each), spiffs 0x290000; the update goes to app1 */
        l->sketch_size = o->sketch_size >= 0 ? (uint32_t)o->sketch_size : 900000u;
        l->slot_size = o->free_space >= 0 ? (uint32_t)o->free_space : 0x140000u;
        l->slot_start = 0x150000u;
        if ((uint64_t)l->slot_start + l->slot_size > chip) {
            l->slot_start = 0x10000u;
            if ((uint64_t)l->slot_start + l->slot_size > chip) {
                say(err, errlen, "--free-space %u does not fit a %u-byte chip", l->slot_size,
                    chip);
                return -1;
            }
        }
        l->fs_start = ((l->slot_start + l->slot_size + 0xFFFFu) & ~0xFFFFu);
        uint32_t fs = o->fs_size >= 0 ? (uint32_t)o->fs_size : 0x160000u;
        if (l->fs_start > chip)
            l->fs_start = chip;
        l->fs_end = (uint64_t)l->fs_start + fs > chip ? chip : l->fs_start + fs;
    }
    return 0;
}

static void make_config(doctor *d)
{
    struct opts *o = d->o;
    upd_client_config *c = &d->cfg;
    memset(c, 0, sizeof *c);
    c->flavor = o->as == AS_ESP32 ? UPD_CLIENT_ESP32_ARDUINO : UPD_CLIENT_ESP8266_ARDUINO;
    c->mode = (upd_update_mode)o->mode;
    c->host = o->host;
    c->port = o->port;
    c->tls = (uint8_t)o->tls;
    c->path = o->path;
    c->auth = d->auth[0] ? d->auth : NULL;
    c->version = o->version;
    if (o->sdk)
        snprintf(d->sdk, sizeof d->sdk, "%s", o->sdk);
    else
        snprintf(d->sdk, sizeof d->sdk, "%s", o->as == AS_ESP8266 ? "2.2.2-dev(38a443e)" : "v4.4.7");
    c->sdk_version = d->sdk;
    c->sketch_md5 = o->sketch_md5 ? o->sketch_md5 : "00000000000000000000000000000000";
    c->sketch_sha256 = o->sketch_sha256;
    memcpy(c->sta_mac, o->mac, 6);
    memcpy(c->ap_mac, o->ap_mac, 6);
    /* ESP.getChipId(): the low three bytes of the MAC */
    c->chip_id = o->chip_id >= 0 ? (uint32_t)o->chip_id
                                 : (uint32_t)o->mac[3] << 16 | (uint32_t)o->mac[4] << 8 | o->mac[5];
    c->follow_redirects = (uint8_t)o->follow;
    c->flash_map_core = (uint8_t)o->flash_map;
    c->timeout_ms = o->timeout;
    c->stream_timeout_ms = o->stream_timeout;
    c->features = 0; /* exact parity with the device's client */
}

static int open_port(doctor *d, upd_posix_port *pp, act_ctx *act, run *r, char *err, size_t errlen)
{
    if (upd_posix_port_open(pp, NULL, NULL, &d->layout, err, errlen) != 0)
        return -1;
    pp->net.insecure = d->o->insecure;
    pp->net.ca_file = d->o->cacert;
    act->pp = pp;
    act->r = r;
    act->chip = d->o->chip;
    pp->port.state.activate = act_verify;
    pp->port.state.ctx = act;
    return 0;
}

/* act_verify is the state's activate: the other state ops need the posix state back. */
static int st_read(void *ctx, unsigned area, void *buf, uint32_t len)
{
    return upd_posix_state_read(&((act_ctx *)ctx)->pp->state, area, buf, len);
}

static int st_write(void *ctx, unsigned area, const void *buf, uint32_t len)
{
    return upd_posix_state_write(&((act_ctx *)ctx)->pp->state, area, buf, len);
}

/* One full check with the engine (a fresh port: flash, state). */
static int engine_check(doctor *d, const upd_client_config *cfg, run *r, char *err, size_t errlen)
{
    upd_posix_port *pp = calloc(1, sizeof *pp);
    act_ctx act;
    if (!pp) {
        say(err, errlen, "out of memory");
        return -1;
    }
    int rc = open_port(d, pp, &act, r, err, errlen);
    if (rc == 0) {
        pp->port.state.read = st_read;
        pp->port.state.write = st_write;
        rc = run_check(pp, cfg, r, err, errlen);
    }
    upd_posix_port_close(pp);
    free(pp);
    return rc;
}

/* ---- output ------------------------------------------------------------------------------------- */

static const char *as_name(int as)
{
    return as == AS_ESP32 ? "esp32" : as == AS_IDF ? "esp-idf" : "esp8266";
}

static void first_line(const char *s, char *out, size_t cap)
{
    size_t n = strcspn(s, "\r\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

static void print_human(const doctor *d, const run *r, const struct style *st)
{
    const struct opts *o = d->o;
    int esp32 = o->as != AS_ESP8266;
    printf("%s%s%s  as %s, %s mode\n", st->bold, o->url, st->off, as_name(o->as),
           o->mode == UPD_MODE_FS ? "spiffs" : "sketch");
    const char *colour = d->would_update ? st->good : st->bad;
    if (!strcmp(d->result, "no-update"))
        printf("  %-10s %sno update%s (HTTP_UPDATE_NO_UPDATES)\n", "result", colour, st->off);
    else if (d->code == 0)
        printf("  %-10s %supdate%s (HTTP_UPDATE_OK)%s\n", "result", colour, st->off,
               d->would_update ? "" : d->bricks ? ", then the device no longer boots"
                                                : ", but see below");
    else
        printf("  %-10s %sfailed%s %d %s: %s\n", "result", colour, st->off, d->code,
               code_name(d->code, esp32), code_text(d->code, esp32));
    if (d->cause[0])
        printf("  %-10s %s\n", "cause", d->cause);
    if (d->fix[0])
        printf("  %-10s %s\n", "fix", d->fix);
    printf("  %-10s %s\n", "verdict",
           d->would_update ? "a real device would update (or be told \"no update\")"
                           : "a real device would NOT update");
    char line[256];
    for (int i = 0; i < r->nx; i++) {
        const xchg *x = &r->x[i];
        first_line(x->req, line, sizeof line);
        printf("  %-10s %s (%zu bytes) to %s:%u%s%s\n", i ? "then" : "request", line, x->req_len,
               x->host, (unsigned)x->port, x->tls ? " over TLS" : "",
               x->connect_failed ? ": connection failed" : "");
        resp rp;
        parse_resp(x->raw, x->raw_len, &rp);
        if (x->raw_len)
            printf("  %-10s %s%s\n", "response", rp.status_line[0] ? rp.status_line : "(no status line)",
                   rp.complete ? "" : " (headers incomplete)");
    }
    for (int i = 0; i < d->nchecks; i++) {
        const check *c = &d->checks[i];
        const char *col = c->level == L_OK ? st->good : c->level == L_FAIL ? st->bad
                          : c->level == L_WARN ? st->warn : st->dim;
        printf("  %-10s %s%-4s%s %s\n", c->name, col, level_name[c->level], st->off, c->text);
    }
}

static cJSON *json_report(const doctor *d, const run *r, int status)
{
    const struct opts *o = d->o;
    int esp32 = o->as != AS_ESP8266;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "url", o->url);
    cJSON_AddStringToObject(j, "as", as_name(o->as));
    cJSON_AddStringToObject(j, "mode", o->mode == UPD_MODE_FS ? "spiffs" : "sketch");
    cJSON_AddBoolToObject(j, "would_update", d->would_update);
    cJSON_AddStringToObject(j, "result", d->result);
    cJSON_AddNumberToObject(j, "code", d->code);
    cJSON_AddStringToObject(j, "code_name", code_name(d->code, esp32));
    cJSON_AddStringToObject(j, "text", d->code ? code_text(d->code, esp32) : "");
    cJSON_AddBoolToObject(j, "bricks", d->bricks);
    cJSON_AddStringToObject(j, "cause", d->cause);
    cJSON_AddStringToObject(j, "fix", d->fix);
    if (d->final.status)
        cJSON_AddNumberToObject(j, "status", d->final.status);
    else
        cJSON_AddNullToObject(j, "status");
    cJSON *ex = cJSON_AddArrayToObject(j, "exchanges");
    for (int i = 0; i < r->nx; i++) {
        const xchg *x = &r->x[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "host", x->host);
        cJSON_AddNumberToObject(e, "port", x->port);
        cJSON_AddBoolToObject(e, "tls", x->tls);
        cJSON_AddStringToObject(e, "request", x->req);
        resp rp;
        parse_resp(x->raw, x->raw_len, &rp);
        cJSON_AddStringToObject(e, "status_line", rp.status_line);
        cJSON *h = cJSON_AddObjectToObject(e, "headers");
        for (int k = 0; k < rp.nh; k++)
            cJSON_AddStringToObject(h, rp.name[k], rp.value[k]);
        cJSON_AddNumberToObject(e, "bytes", (double)x->raw_len);
        if (x->net_error[0])
            cJSON_AddStringToObject(e, "error", x->net_error);
        if (x->tls_problem[0])
            cJSON_AddStringToObject(e, "tls_problem", x->tls_problem);
        cJSON_AddItemToArray(ex, e);
    }
    if (d->alt_done) {
        cJSON *a = cJSON_AddObjectToObject(j, "redirects_alternative");
        cJSON_AddBoolToObject(a, "follow", d->alt_follow);
        cJSON_AddStringToObject(a, "result", d->alt_result);
        cJSON_AddNumberToObject(a, "code", d->alt_code);
    }
    if (d->have_body) {
        cJSON *b = cJSON_AddObjectToObject(j, "body");
        cJSON_AddNumberToObject(b, "bytes", (double)d->body_len);
        cJSON_AddBoolToObject(b, "complete", d->body_complete);
        cJSON_AddStringToObject(b, "md5", d->body_md5_hex);
        if (d->fi) {
            cJSON_AddStringToObject(b, "kind", upd_kind_slug(d->fi->report.kind));
            cJSON_AddStringToObject(b, "verdict", upd_verdict_name(d->fi->report.verdict));
            cJSON_AddStringToObject(b, "platform", upd_platform_name(d->fi->report.platform));
            cJSON_AddStringToObject(b, "reason", d->fi->report.reason);
        }
        if (d->fit_done) {
            cJSON_AddStringToObject(b, "fit", upd_fit_code_name(d->fit.code));
            cJSON_AddStringToObject(b, "fit_explanation", d->fit.explanation);
        }
    }
    cJSON *cs = cJSON_AddArrayToObject(j, "checks");
    for (int i = 0; i < d->nchecks; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "name", d->checks[i].name);
        cJSON_AddStringToObject(c, "level", level_name[d->checks[i].level]);
        cJSON_AddStringToObject(c, "text", d->checks[i].text);
        cJSON_AddItemToArray(cs, c);
    }
    cJSON_AddNumberToObject(j, "seconds", r->elapsed / 1000.0);
    cJSON_AddNumberToObject(j, "exit", status);
    return j;
}

/* ---- the command ------------------------------------------------------------------------------- */

static int parse_args(int argc, char **argv, struct opts *o, char *err, size_t errlen)
{
    enum {
        O_AS = 256, O_MAC, O_AP_MAC, O_VERSION, O_FREE, O_CHIPSIZE, O_SKSIZE, O_MD5, O_SHA,
        O_SDK, O_CHIPID, O_CHIP, O_FMODE, O_FMAP, O_MODE, O_FOLLOW, O_USER, O_PASS, O_TIMEOUT,
        O_STIMEOUT, O_INSECURE, O_CACERT, O_NOPROBES, O_JSON, O_HELP, O_FSSIZE
    };
    static const struct option opts[] = {
        {"as", required_argument, NULL, O_AS},
        {"mac", required_argument, NULL, O_MAC},
        {"ap-mac", required_argument, NULL, O_AP_MAC},
        {"version", required_argument, NULL, O_VERSION},
        {"free-space", required_argument, NULL, O_FREE},
        {"chip-size", required_argument, NULL, O_CHIPSIZE},
        {"sketch-size", required_argument, NULL, O_SKSIZE},
        {"fs-size", required_argument, NULL, O_FSSIZE},
        {"sketch-md5", required_argument, NULL, O_MD5},
        {"sketch-sha256", required_argument, NULL, O_SHA},
        {"sdk-version", required_argument, NULL, O_SDK},
        {"chip-id", required_argument, NULL, O_CHIPID},
        {"chip", required_argument, NULL, O_CHIP},
        {"flash-mode", required_argument, NULL, O_FMODE},
        {"flash-map-core", no_argument, NULL, O_FMAP},
        {"mode", required_argument, NULL, O_MODE},
        {"follow-redirects", no_argument, NULL, O_FOLLOW},
        {"user", required_argument, NULL, O_USER},
        {"password", required_argument, NULL, O_PASS},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"stream-timeout", required_argument, NULL, O_STIMEOUT},
        {"insecure", no_argument, NULL, O_INSECURE},
        {"cacert", required_argument, NULL, O_CACERT},
        {"no-probes", no_argument, NULL, O_NOPROBES},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->free_space = o->chip_size = o->sketch_size = o->chip_id = o->fs_size = -1;
    o->chip = UPD_CHIP_UNKNOWN;
    o->flash_mode = 2;
    o->probes = 1;
    o->timeout = 8000;
    o->stream_timeout = 60000;
    optind = 1;
    int c;
    long long v;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        const char *a = optarg;
        switch (c) {
        case O_AS:
            if (!strcmp(a, "esp8266"))
                o->as = AS_ESP8266;
            else if (!strcmp(a, "esp32"))
                o->as = AS_ESP32;
            else if (!strcmp(a, "esp-idf") || !strcmp(a, "idf"))
                o->as = AS_IDF;
            else {
                say(err, errlen, "--as takes esp8266, esp32 or esp-idf (got '%s')", a);
                return -1;
            }
            break;
        case O_MAC:
        case O_AP_MAC:
            if (parse_mac(a, c == O_MAC ? o->mac : o->ap_mac) != 0) {
                say(err, errlen, "bad MAC '%s' (want 5C:CF:7F:0A:1B:2C)", a);
                return -1;
            }
            if (c == O_MAC)
                o->have_mac = 1;
            else
                o->have_ap_mac = 1;
            break;
        case O_VERSION: o->version = a; break;
        case O_FREE:
        case O_CHIPSIZE:
        case O_SKSIZE:
        case O_CHIPID:
        case O_FSSIZE:
        case O_TIMEOUT:
        case O_STIMEOUT:
            if (parse_num(a, &v) != 0) {
                say(err, errlen, "'%s' is not a number", a);
                return -1;
            }
            if (c == O_FREE) o->free_space = v;
            else if (c == O_CHIPSIZE) o->chip_size = v;
            else if (c == O_SKSIZE) o->sketch_size = v;
            else if (c == O_CHIPID) o->chip_id = v;
            else if (c == O_FSSIZE) o->fs_size = v;
            else if (c == O_TIMEOUT) o->timeout = v ? (uint32_t)v : 1;
            else o->stream_timeout = v ? (uint32_t)v : 1;
            break;
        case O_MD5:
            if (!is_hex(a, 32)) {
                say(err, errlen, "--sketch-md5 takes 32 hex digits");
                return -1;
            }
            o->sketch_md5 = a;
            break;
        case O_SHA:
            if (!is_hex(a, 64)) {
                say(err, errlen, "--sketch-sha256 takes 64 hex digits");
                return -1;
            }
            o->sketch_sha256 = a;
            break;
        case O_SDK: o->sdk = a; break;
        case O_CHIP:
            o->chip = (int)upd_chip_parse(a);
            if (o->chip == UPD_CHIP_UNKNOWN) {
                say(err, errlen, "unknown chip '%s' (esp32, esp32s3, esp32c3, ...)", a);
                return -1;
            }
            break;
        case O_FMODE:
            if (!strcasecmp(a, "qio")) o->flash_mode = 0;
            else if (!strcasecmp(a, "qout")) o->flash_mode = 1;
            else if (!strcasecmp(a, "dio")) o->flash_mode = 2;
            else if (!strcasecmp(a, "dout")) o->flash_mode = 3;
            else {
                say(err, errlen, "--flash-mode takes qio, qout, dio or dout");
                return -1;
            }
            break;
        case O_FMAP: o->flash_map = 1; break;
        case O_MODE:
            if (!strcmp(a, "sketch"))
                o->mode = UPD_MODE_SKETCH;
            else if (!strcmp(a, "spiffs") || !strcmp(a, "fs"))
                o->mode = UPD_MODE_FS;
            else {
                say(err, errlen, "--mode takes sketch or spiffs");
                return -1;
            }
            break;
        case O_FOLLOW: o->follow = 1; break;
        case O_USER: o->user = a; break;
        case O_PASS: o->password = a; break;
        case O_INSECURE: o->insecure = 1; break;
        case O_CACERT: o->cacert = a; break;
        case O_NOPROBES: o->probes = 0; break;
        case O_JSON: o->json = 1; break;
        case O_HELP:
        case 'h':
            return 1;
        default:
            say(err, errlen, "unknown option");
            return -1;
        }
    }
    if (optind != argc - 1) {
        say(err, errlen, optind >= argc ? "name the URL to check" : "give exactly one URL");
        return -1;
    }
    o->url = argv[optind];
    if (parse_url(o, err, errlen) != 0)
        return -1;
    if (strlen(o->host) > UPD_CLIENT_HOST_MAX) {
        say(err, errlen, "host name longer than %d characters: the device's client cannot use it",
            UPD_CLIENT_HOST_MAX);
        return -1;
    }
    if (!o->have_mac) {
        static const uint8_t m8266[6] = {0x5C, 0xCF, 0x7F, 0x0A, 0x1B, 0x2C};
        static const uint8_t m32[6] = {0x24, 0x6F, 0x28, 0x0A, 0x1B, 0x2C};
        memcpy(o->mac, o->as == AS_ESP8266 ? m8266 : m32, 6);
    }
    if (!o->have_ap_mac) { /* the soft-AP MAC: the STA MAC with the local bit (5C -> 5E) */
        memcpy(o->ap_mac, o->mac, 6);
        o->ap_mac[0] |= 0x02;
        if (o->ap_mac[0] == o->mac[0])
            o->ap_mac[5]++;
    }
    if ((o->user != NULL) != (o->password != NULL)) {
        say(err, errlen, "give --user and --password together");
        return -1;
    }
    return 0;
}

int upd_cmd_doctor(int argc, char **argv)
{
    static struct opts o;
    char err[512];
    int pa = parse_args(argc, argv, &o, err, sizeof err);
    if (pa == 1) {
        fputs(doctor_usage, stdout);
        return 0;
    }
    if (pa != 0) {
        fprintf(stderr, "updraft doctor: %s (see updraft doctor --help)\n", err);
        return 2;
    }
    doctor *d = calloc(1, sizeof *d);
    run *r = calloc(1, sizeof *r);
    if (!d || !r) {
        fprintf(stderr, "updraft doctor: out of memory\n");
        return 2;
    }
    d->o = &o;
    if (o.user) {
        char up[512];
        say(up, sizeof up, "%s:%s", o.user, o.password);
        base64(up, d->auth, sizeof d->auth);
    }
    if (make_layout(d, err, sizeof err) != 0) {
        fprintf(stderr, "updraft doctor: %s\n", err);
        return 2;
    }
    make_config(d);
    gnutls_global_init();
    int status;
    if (o.as == AS_IDF) {
        upd_posix_port *pp = calloc(1, sizeof *pp);
        if (!pp || upd_posix_port_open(pp, NULL, NULL, &d->layout, err, sizeof err) != 0) {
            fprintf(stderr, "updraft doctor: %s\n", pp ? err : "out of memory");
            return 2;
        }
        pp->net.insecure = o.insecure;
        pp->net.ca_file = o.cacert;
        idf_check(d, pp, r);
        upd_posix_port_close(pp);
        free(pp);
        d->fx = r->nx ? &r->x[r->nx - 1] : NULL;
        if (d->fx)
            parse_resp(d->fx->raw, d->fx->raw_len, &d->final);
        analyze_body(d);
        idf_judge(d, r);
        d->would_update = d->code == 0;
    } else {
        if (engine_check(d, &d->cfg, r, err, sizeof err) != 0) {
            fprintf(stderr, "updraft doctor: %s\n", err);
            return 2;
        }
        d->fx = r->nx ? &r->x[r->nx - 1] : NULL;
        if (d->fx)
            parse_resp(d->fx->raw, d->fx->raw_len, &d->final);
        d->code = r->result == UPD_CLIENT_FAILED ? r->error : 0;
        d->result = r->result == UPD_CLIENT_OK           ? "ok"
                    : r->result == UPD_CLIENT_NO_UPDATES ? "no-update"
                                                         : "failed";
        analyze_body(d);
        explain(d, r);
        d->would_update = r->result != UPD_CLIENT_FAILED;
        if (r->result == UPD_CLIENT_OK) {
            if (d->fit_done && d->fit.code != UPD_FIT_OK && o.mode == UPD_MODE_SKETCH) {
                d->would_update = 0;
                d->bricks = d->fit.bricks;
                say(d->cause, sizeof d->cause, "the device accepts and installs the image, but: %s",
                    d->fit.explanation);
                say(d->fix, sizeof d->fix,
                    "publish the application .bin built for this device; a server should check "
                    "every image before offering it (updraft serve does)");
                if (d->fit.http_error || d->fit.updater_error)
                    note(d, "engine", L_WARN,
                         "the client engine and the core's fit rules disagree: the engine "
                         "installed the image, the fit rules predict %d/%d",
                         d->fit.http_error, d->fit.updater_error);
            } else if (d->fit_done && d->fit.code != UPD_FIT_OK) {
                d->would_update = 0;
                say(d->cause, sizeof d->cause, "the device writes it over its filesystem: %s",
                    d->fit.explanation);
                say(d->fix, sizeof d->fix, "serve a filesystem image (mklittlefs) in spiffs mode");
            } else {
                char a[64];
                say(d->cause, sizeof d->cause, "the device downloads %s, verifies it and %s",
                    kib((uint32_t)d->body_len, a, sizeof a),
                    o.mode == UPD_MODE_FS ? "writes its filesystem"
                    : o.as == AS_ESP32    ? "boots the new slot"
                                          : "reboots into it");
                say(d->fix, sizeof d->fix, "nothing to fix");
            }
        }
        /* the other redirect setting */
        int redirected = r->nx > 1;
        int refused_redirect = d->code == -104 && !o.follow &&
                               (d->final.status == 301 || d->final.status == 302 ||
                                d->final.status == 303 || d->final.status == 307);
        if (refused_redirect || (o.follow && redirected)) {
            run *alt = calloc(1, sizeof *alt);
            upd_client_config cfg = d->cfg;
            cfg.follow_redirects = (uint8_t)!o.follow;
            if (alt && engine_check(d, &cfg, alt, err, sizeof err) == 0) {
                d->alt_done = 1;
                d->alt_follow = !o.follow;
                d->alt_code = alt->result == UPD_CLIENT_FAILED ? alt->error : 0;
                d->alt_result = alt->result == UPD_CLIENT_OK           ? "ok"
                                : alt->result == UPD_CLIENT_NO_UPDATES ? "no-update"
                                                                       : "failed";
                int e32 = o.as != AS_ESP8266;
                note(d, "redirect", refused_redirect ? L_INFO : L_WARN,
                     "%s the device would get: %s (%d %s)",
                     o.follow ? "without redirects enabled (the sketch's default)"
                              : "with setFollowRedirects(HTTPC_STRICT_FOLLOW_REDIRECTS)",
                     !strcmp(d->alt_result, "ok")          ? "update"
                     : !strcmp(d->alt_result, "no-update") ? "no update"
                                                           : "failed",
                     d->alt_code, d->alt_code ? code_text(d->alt_code, e32) : "OK");
                run_free(alt);
            }
            free(alt);
        }
    }
    if (d->fx && d->fx->tls && !d->fx->connect_failed) {
        if (d->fx->tls_problem[0])
            note(d, "tls", L_WARN, "%s; certificate NOT trusted: %s (ignored: --insecure)",
                 d->fx->tls_info, d->fx->tls_problem);
        else
            note(d, "tls", L_OK, "%s, certificate verified", d->fx->tls_info);
    }
    check_headers(d);
    check_md5(d);
    check_ranges(d);
    status = d->would_update ? 0 : 1;
    if (o.json) {
        cJSON *j = json_report(d, r, status);
        char *text = cJSON_Print(j);
        if (text) {
            puts(text);
            cJSON_free(text);
        }
        cJSON_Delete(j);
    } else {
        int tty = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
        struct style st = tty ? (struct style){"\033[32m", "\033[31m", "\033[33m", "\033[2m",
                                               "\033[1m", "\033[0m"}
                              : (struct style){"", "", "", "", "", ""};
        print_human(d, r, &st);
    }
    run_free(r);
    free(d->fi);
    free(d);
    free(r);
    gnutls_global_deinit();
    return status;
}
