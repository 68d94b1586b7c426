/* The device update engine, HTTP side: the request the ESP8266 (or Arduino-ESP32)
 * client sends, byte for byte, and the reading of the response the way its HTTPClient
 * and ESP8266httpUpdate read it (shared/spec/esp8266-http-update.md sections 1, 2, 8;
 * esp32-ota.md section 1). The flash side is in stage.c. No I/O, no allocation. */
#include <string.h>

#include "client_int.h"

_Static_assert(sizeof(upd_client_ctx) <= 512, "the client context must stay <= 512 bytes");

#define DEFAULT_TIMEOUT_MS        8000u  /* ESPhttpUpdate's HTTP client timeout */
#define DEFAULT_STREAM_TIMEOUT_MS 60000u /* the Updater gives up on a stalled body */
#define DEFAULT_REDIRECT_LIMIT    10u

#define VERSION_ONLY(cfg) (UPD_CLIENT_WITH_VERSION && (cfg)->version_only)
#define RESUMING(c)       (UPD_CLIENT_WITH_RESUME && ((c)->flags & UPD__CF_RESUMING))

/* ---- small string helpers (no locale, no libc beyond string.h) ---------------------- */

static int lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

/* Arduino String::equalsIgnoreCase over a (pointer, length) name. */
static int name_is(const uint8_t *p, uint32_t n, const char *name)
{
    uint32_t i = 0;
    for (; i < n && name[i]; i++)
        if (lower(p[i]) != lower((unsigned char)name[i]))
            return 0;
    return i == n && name[i] == '\0';
}

static int is_space(int ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = lower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Decode 2*n hex digits into out; 0 if all were hex digits, -1 otherwise. */
static int unhex(const uint8_t *p, uint8_t *out, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        int h = hexval(p[2 * i]), l = hexval(p[2 * i + 1]);
        if (h < 0 || l < 0)
            return -1;
        out[i] = (uint8_t)(h << 4 | l);
    }
    return 0;
}

/* The decimal digits at p[*i..n) into *v; returns 1 if the value overflowed 32 bits
 * (*v is then meaningless), else 0. *i ends after the last digit. */
static int digits(const uint8_t *p, uint32_t n, uint32_t *i, uint32_t *v)
{
    uint32_t x = 0, d;
    int over = 0;
    for (; *i < n && (d = (uint32_t)p[*i] - '0') < 10u; (*i)++) {
        if (x > 429496729u || (x == 429496729u && d > 5u)) /* x * 10 + d > 2^32 - 1 */
            over = 1;
        x = x * 10u + d;
    }
    *v = x;
    return over;
}

/* String::toInt(), i.e. atol: leading spaces, a sign, digits up to the first non-digit;
 * saturates at the 32-bit limits as newlib's strtol does on the ESP8266. */
static int32_t to_int(const uint8_t *p, uint32_t n)
{
    uint32_t i = 0, v;
    int neg = 0;
    while (i < n && is_space(p[i]))
        i++;
    if (i < n && (p[i] == '+' || p[i] == '-'))
        neg = p[i++] == '-';
    if (digits(p, n, &i, &v) || v > 0x80000000u)
        v = 0x80000000u;
    if (neg)
        return (int32_t)(0u - v); /* 2^31 wraps to INT32_MIN */
    return v >= 0x80000000u ? INT32_MAX : (int32_t)v;
}

/* Parse an unsigned decimal at p[*i..n) into *v; 0, or -1 if there is no digit or it
 * overflows 32 bits. */
static int parse_u32(const uint8_t *p, uint32_t n, uint32_t *i, uint32_t *v)
{
    uint32_t i0 = *i;
    return digits(p, n, i, v) || *i == i0 ? -1 : 0;
}

/* ---- the request ---------------------------------------------------------------------- */

typedef struct wbuf {
    uint8_t *p;
    uint32_t n, cap;
    int over;
} wbuf;

static void put(wbuf *w, const void *s, size_t n)
{
    if (w->over || n > w->cap - w->n) {
        w->over = 1;
        return;
    }
    upd__bcopy(w->p + w->n, s, n);
    w->n += (uint32_t)n;
}

static void puts_(wbuf *w, const char *s)
{
    put(w, s, upd__slen(s));
}

static void putu(wbuf *w, uint32_t v)
{
    char t[10];
    int i = (int)sizeof t;
    do {
        t[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    put(w, t + i, sizeof t - (size_t)i);
}

/* n bytes in hex: with a separator uppercase and separated (WiFi.macAddress()), else
 * lowercase and joined (an MD5). */
static void puthex(wbuf *w, const uint8_t *p, int n, char sep)
{
    const char *hx = sep ? "0123456789ABCDEF" : "0123456789abcdef";
    for (int i = 0; i < n; i++) {
        char t[3] = {hx[p[i] >> 4], hx[p[i] & 15], sep};
        put(w, t, sep && i + 1 < n ? 3 : 2);
    }
}

/* The device headers ESP8266httpUpdate / HTTPUpdate add, in their order, as one table:
 * per header a flag byte (DH_*) then the name after the x-ESP8266- / x-ESP32- prefix.
 * The values come in the same order from device_headers(). */
#define DH_U32     0x01u /* value kinds (low two bits) */
#define DH_MAC     0x02u
#define DH_STR     0x03u
#define DH_ESP8266 0x04u /* only the ESP8266 sends it */
#define DH_ESP32   0x08u /* only the ESP32 sends it */
#define DH_OPT     0x10u /* left out when NULL or empty */
#define DH_OPT32   0x20u /* ... on the ESP32 only */
static const char dev_headers[] = "\x05"
                                  "Chip-ID\0"
                                  "\x02"
                                  "STA-MAC\0"
                                  "\x02"
                                  "AP-MAC\0"
                                  "\x01"
                                  "free-space\0"
                                  "\x01"
                                  "sketch-size\0"
                                  "\x23"
                                  "sketch-md5\0"
                                  "\x1B"
                                  "sketch-sha256\0"
                                  "\x01"
                                  "chip-size\0"
                                  "\x03"
                                  "sdk-version\0"
                                  "\x03"
                                  "mode\0"
                                  "\x13"
                                  "version\0";

static void device_headers(const upd_client_ctx *c, wbuf *w)
{
    const upd_client_config *cfg = c->cfg;
    const upd_flash_layout *l = &c->port->flash.layout;
    int esp32 = cfg->flavor == UPD_CLIENT_ESP32_ARDUINO;
    const uintptr_t val[] = {
        cfg->chip_id,
        (uintptr_t)cfg->sta_mac,
        (uintptr_t)cfg->ap_mac,
        upd__free_space(c),
        l->sketch_size,
        (uintptr_t)cfg->sketch_md5,
        (uintptr_t)cfg->sketch_sha256,
        l->chip_size,
        (uintptr_t)cfg->sdk_version,
        (uintptr_t)(VERSION_ONLY(cfg)          ? "version"
                    : cfg->mode == UPD_MODE_FS ? "spiffs"
                                               : "sketch"),
        (uintptr_t)cfg->version,
    };
    const char *x = esp32 ? "x-ESP32-" : "x-ESP8266-";
    if (esp32)
        puts_(w, "Cache-Control: no-cache\r\n");
    const char *t = dev_headers;
    for (int i = 0; *t; i++) {
        unsigned f = (uint8_t)*t++;
        const char *name = t;
        t += upd__slen(t) + 1;
        uintptr_t v = val[i];
        if (f & (esp32 ? DH_ESP8266 : DH_ESP32))
            continue;
        if ((f & 3u) == DH_STR) {
            if (!v)
                v = (uintptr_t) "";
            if ((f & (esp32 ? DH_OPT | DH_OPT32 : DH_OPT)) && !*(const char *)v)
                continue;
        }
        puts_(w, x);
        puts_(w, name);
        puts_(w, ": ");
        if ((f & 3u) == DH_U32)
            putu(w, (uint32_t)v);
        else if ((f & 3u) == DH_MAC)
            puthex(w, (const uint8_t *)v, 6, ':');
        else
            puts_(w, (const char *)v);
        puts_(w, "\r\n");
    }
}

/* ---- outcome report (docs/protocol.md "Outcome report (device -> server)") ---------- */

#if UPD_CLIENT_WITH_REPORT
#define REPORT_MAGIC 0x31504552u /* "REP1": record version 1 */
#define RP_FLAGS     4           /* u8 RPF_* */
#define RP_RESULT    8           /* i32: 0 installed, else the device error code */
#define RP_MD5       12          /* 16 bytes */
#define RP_VLEN      28          /* u8, then the version (at most UPD_CLIENT_VERSION_MAX chars) */
#define RPF_MD5      1u
_Static_assert(RP_VLEN + 1 + UPD_CLIENT_VERSION_MAX <= UPD_STATE_REPORT_SIZE - 4,
               "report record fields overlap");

static int report_on(const upd_client_ctx *c)
{
    return (c->cfg->features & UPD_CLIENT_F_REPORT) && c->port->state.read;
}

/* The x-updraft-report header from the stored record, if there is a valid one. */
static void report_header(upd_client_ctx *c, wbuf *w)
{
    uint8_t r[UPD_STATE_REPORT_SIZE];
    if (!report_on(c) || upd__rec_read(c, UPD_STATE_REPORT, r, sizeof r, REPORT_MAGIC) != 0 ||
        r[RP_VLEN] > UPD_CLIENT_VERSION_MAX)
        return;
    uint32_t res = upd__rd32(r + RP_RESULT);
    puts_(w, "x-updraft-report: v=1;result=");
    if ((int32_t)res < 0) {
        puts_(w, "-");
        res = 0u - res;
    }
    putu(w, res);
    if (r[RP_FLAGS] & RPF_MD5) {
        puts_(w, ";md5=");
        puthex(w, r + RP_MD5, 16, 0);
    }
    if (r[RP_VLEN]) {
        puts_(w, ";version=");
        put(w, r + RP_VLEN + 1, r[RP_VLEN]);
    }
    puts_(w, ";rollback=");
    puts_(w,
          res == 0 && upd_client_boot_state(c->port) == UPD_BOOT_ROLLED_BACK ? "1\r\n" : "0\r\n");
    c->flags |= UPD__CF_REPORTED;
}

/* Store the outcome of an offered image (result 0: installed, else the error code), or
 * with clear set an empty record (the report went out and an answer came). */
UPD__NOINLINE static void report_write(upd_client_ctx *c, int32_t res, int clear)
{
    uint8_t r[UPD_STATE_REPORT_SIZE];
    upd__bfill(r, 0, sizeof r);
    c->flags &= ~(uint32_t)UPD__CF_REPORTED;
    if (!clear) {
        if (c->flags & UPD__CF_MD5_HEX_OK) { /* (implies LEN_OK) */
            r[RP_FLAGS] = RPF_MD5;
            upd__bcopy(r + RP_MD5, c->md5, 16);
        }
        upd__wr32(r + RP_RESULT, (uint32_t)res);
        /* a version that cannot stand in the header's syntax is left out */
        uint32_t n = c->offered_len, i = 0;
        while (i < n && c->offered[i] > ' ' && c->offered[i] < 0x7F && c->offered[i] != ';')
            i++;
        if (i == n) {
            r[RP_VLEN] = (uint8_t)n;
            upd__bcopy(r + RP_VLEN + 1, c->offered, n);
        }
    }
    upd__rec_write(c, UPD_STATE_REPORT, r, sizeof r, clear ? 0 : REPORT_MAGIC);
}
#endif

/* Write the request into buf at req_off (HTTPClient::sendHeader's layout). After a
 * redirect the device's HTTPClient has cleared the headers the update code added: only
 * its own lines and Content-Length go out again. Returns 0 or UPD_ENOSPC. */
static int build_request(upd_client_ctx *c, int redirected)
{
    const upd_client_config *cfg = c->cfg;
    wbuf w = {c->buf + c->req_off, 0, c->cap - c->req_off, 0};
    puts_(&w, "GET ");
    if (c->path_len)
        put(&w, c->path, c->path_len);
    else
        puts_(&w, "/");
    puts_(&w, " HTTP/1.0\r\nHost: ");
    puts_(&w, c->host);
    if (c->tcp_port != 80 && c->tcp_port != 443) {
        puts_(&w, ":");
        putu(&w, c->tcp_port);
    }
    puts_(&w, cfg->flavor == UPD_CLIENT_ESP32_ARDUINO ? "\r\nUser-Agent: ESP32-http-Update"
                                                      : "\r\nUser-Agent: ESP8266-http-Update");
    if (cfg->auth && cfg->auth[0]) {
        puts_(&w, "\r\nAuthorization: Basic ");
        puts_(&w, cfg->auth);
    }
    puts_(&w, "\r\nConnection: close\r\n");
    if (!redirected) {
        device_headers(c, &w);
#if UPD_CLIENT_WITH_REPORT
        report_header(c, &w);
#endif
    }
    if (cfg->flavor == UPD_CLIENT_ESP8266_ARDUINO)
        puts_(&w, "Content-Length: 0\r\n"); /* sent even on GET (core >= 2.6.0) */
    if (RESUMING(c)) {
        puts_(&w, "Range: bytes=");
        putu(&w, c->received);
        puts_(&w, "-\r\n");
    }
    puts_(&w, "\r\n");
    if (w.over)
        return UPD_ENOSPC;
    c->req_len = (uint16_t)w.n;
    c->req_sent = 0;
    return 0;
}

/* ---- life cycle ------------------------------------------------------------------------ */

static int set_host(upd_client_ctx *c, const uint8_t *h, size_t n)
{
    if (n == 0 || n > UPD_CLIENT_HOST_MAX)
        return -1;
    upd__bcopy(c->host, h, n);
    c->host[n] = '\0';
    return 0;
}

int upd_client_init(upd_client_ctx *c, const upd_client_config *cfg, const upd_port *port,
                    void *buf, size_t buf_len)
{
    if (!c || !cfg || !port || !buf || !cfg->host)
        return UPD_EINVAL;
    upd__bfill(c, 0, sizeof *c);
    c->state = UPD__CS_DONE;
    c->result = UPD_CLIENT_FAILED;
    if ((uintptr_t)buf & 3u)
        return UPD_EINVAL;
    if (cfg->flavor != UPD_CLIENT_ESP8266_ARDUINO && cfg->flavor != UPD_CLIENT_ESP32_ARDUINO)
        return UPD_EUNSUPPORTED;
    if (!port->flash.read || !port->flash.erase || !port->flash.write || !port->clock.now_ms ||
        !port->crypto.md5.init || !port->crypto.md5.update || !port->crypto.md5.final ||
        !port->state.write)
        return UPD_EINVAL;
    if (cfg->flavor == UPD_CLIENT_ESP32_ARDUINO && (!port->state.activate || cfg->version_only))
        return cfg->version_only ? UPD_EUNSUPPORTED : UPD_EINVAL;
    /* features this build left out (client_int.h): refuse them, never ignore them */
    uint32_t missing = (UPD_CLIENT_WITH_INSPECT ? 0u : UPD_CLIENT_F_INSPECT) |
                       (UPD_CLIENT_WITH_SHA256 ? 0u : UPD_CLIENT_F_SHA256) |
                       (UPD_CLIENT_WITH_RESUME ? 0u : UPD_CLIENT_F_RESUME) |
                       (UPD_CLIENT_WITH_REPORT ? 0u : UPD_CLIENT_F_REPORT);
    if ((cfg->features & missing) || (!UPD_CLIENT_WITH_SHA256 && cfg->expected_sha256) ||
        (!UPD_CLIENT_WITH_VERSION && cfg->version_only) ||
        (!UPD_CLIENT_WITH_SIGN && port->crypto.verify))
        return UPD_EUNSUPPORTED;
    if (buf_len < UPD_CLIENT_BUF_MIN || buf_len > 0xFFFFu * 16u ||
        ((cfg->features & UPD_CLIENT_F_INSPECT) && buf_len < UPD_CLIENT_BUF_INSPECT))
        return UPD_ENOSPC;
    c->cfg = cfg;
    c->port = port;
    c->buf = buf;
    c->cap = (uint32_t)buf_len;
    c->chunk = 1024;
    while (c->chunk < UPD_FLASH_SECTOR && c->chunk * 2 <= c->cap)
        c->chunk *= 2;
    c->tls = cfg->tls ? 1 : 0;
    c->tcp_port = cfg->port ? cfg->port : (c->tls ? 443 : 80);
    if (set_host(c, (const uint8_t *)cfg->host, upd__slen(cfg->host)) != 0)
        return UPD_EINVAL;
    c->path = cfg->path ? cfg->path : "";
    size_t pl = upd__slen(c->path);
    if (pl > 0xFFFFu)
        return UPD_ENOSPC;
    c->path_len = (uint16_t)pl; /* (lim, content_length: start_response) */
#if UPD_CLIENT_WITH_RESUME
    if ((cfg->features & UPD_CLIENT_F_RESUME) && upd__resume_load(c))
        c->flags |= UPD__CF_RESUMING;
#endif
#if UPD_CLIENT_WITH_SHA256
    /* after the resume record, which brings a SHA-256 of its own */
    if (cfg->expected_sha256) {
        upd__bcopy(c->sha256, cfg->expected_sha256, 32);
        c->flags |= UPD__CF_SHA_SET;
    }
#endif
    int e = build_request(c, 0);
    if (e)
        return e;
    c->state = UPD__CS_CONNECT;
    c->result = (uint8_t)UPD_CLIENT_RUNNING;
    return 0;
}

void upd__client_finish(upd_client_ctx *c, int r, int err)
{
    if (r != UPD_CLIENT_FAILED)
        err = 0;
#if UPD_CLIENT_WITH_REPORT
    if ((c->flags & UPD__CF_OFFER) && report_on(c)) {
        c->flags &= ~(uint32_t)UPD__CF_OFFER;
        report_write(c, err, 0);
    }
#endif
    c->state = UPD__CS_DONE;
    c->result = (uint8_t)r;
    c->error = err;
}

static void fail(upd_client_ctx *c, int err)
{
    upd__client_finish(c, UPD_CLIENT_FAILED, err);
}

static uint32_t now(const upd_client_ctx *c)
{
    return c->port->clock.now_ms(c->port->clock.ctx);
}

/* The connection ended (eof) or broke in the current state: what the device reports.
 * In the headers the caller's code (-5 lost, -11 timeout); in the peek -106; in the
 * body Updater error 6. */
static void fail_in_state(upd_client_ctx *c, int in_headers)
{
    static const int8_t err[] = {UPD_PORT_ECONNECT, UPD_PORT_ESEND, 0, -106, UPD__UE_STREAM};
    if (c->state < UPD__CS_DONE)
        fail(c, c->state == UPD__CS_HEADERS ? in_headers : err[c->state]);
}

upd_client_want upd_client_poll(upd_client_ctx *c)
{
    if (!c)
        return UPD_CLIENT_DONE;
    const upd_client_config *cfg = c->cfg;
    if (c->state >= UPD__CS_HEADERS && c->state < UPD__CS_DONE) {
        uint32_t to =
            c->state == UPD__CS_BODY
                ? (cfg->stream_timeout_ms ? cfg->stream_timeout_ms : DEFAULT_STREAM_TIMEOUT_MS)
                : (cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS);
        if (now(c) - c->last_ms > to)
            fail_in_state(c, UPD_PORT_ETIMEOUT); /* HTTPC_ERROR_READ_TIMEOUT */
    }
    static const uint8_t want[] = {UPD_CLIENT_WANT_CONNECT, UPD_CLIENT_WANT_SEND,
                                   UPD_CLIENT_WANT_RECV,    UPD_CLIENT_WANT_RECV,
                                   UPD_CLIENT_WANT_RECV,    UPD_CLIENT_DONE};
    return (upd_client_want)want[c->state]; /* by enum upd__client_state */
}

const char *upd_client_host(const upd_client_ctx *c)
{
    return c ? c->host : "";
}

uint16_t upd_client_port(const upd_client_ctx *c)
{
    return c ? c->tcp_port : 0;
}

int upd_client_tls(const upd_client_ctx *c)
{
    return c ? c->tls : 0;
}

void upd_client_connected(upd_client_ctx *c)
{
    if (c && c->state == UPD__CS_CONNECT)
        c->state = UPD__CS_SEND;
}

const uint8_t *upd_client_want_send(const upd_client_ctx *c, size_t *len)
{
    if (!c || c->state != UPD__CS_SEND) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = (size_t)(c->req_len - c->req_sent);
    return c->buf + c->req_off + c->req_sent;
}

/* Reset what a response leaves behind, before reading the next one. */
static void start_response(upd_client_ctx *c)
{
    c->state = UPD__CS_HEADERS;
    c->fill = 0;
    c->status = 0;
    c->content_length = -1;
    c->lim = c->cap;
    c->loc_len = 0;
    c->offered_len = 0;
    c->offered[0] = '\0';
    c->flags &= ~(uint32_t)(UPD__CF_MD5_SEEN | UPD__CF_MD5_LEN_OK | UPD__CF_MD5_HEX_OK |
                            UPD__CF_TE_CHUNKED | UPD__CF_TE_OTHER | UPD__CF_CRANGE | UPD__CF_ETAG |
                            UPD__CF_SHA_HDR_BAD | UPD__CF_VER_LONG);
    c->last_ms = now(c);
}

void upd_client_sent(upd_client_ctx *c, size_t n)
{
    if (!c || c->state != UPD__CS_SEND)
        return;
    if (n > (size_t)(c->req_len - c->req_sent))
        n = (size_t)(c->req_len - c->req_sent);
    c->req_sent = (uint16_t)(c->req_sent + n);
    if (c->req_sent == c->req_len)
        start_response(c);
}

/* ---- response headers ---------------------------------------------------------------------- */

/* HTTPClient::setURL for a Location: a path keeps the connection's host; an absolute
 * URL must have the same scheme. 0 when the new target is set (request rebuilt). */
static int follow(upd_client_ctx *c)
{
    uint8_t *loc = c->buf + c->lim;
    uint32_t n = c->loc_len;
    if (n == 0)
        return -1;
    uint32_t path_at = 0;
    if (loc[0] != '/') {
        uint32_t h0 = c->tls ? 8u : 7u, h1 = h0; /* after the scheme */
        if (n < h0 || upd__bdiffer(loc, c->tls ? "https://" : "http://", h0) != 0)
            return -1;
        uint32_t colon = 0;
        for (; h1 < n && loc[h1] != '/'; h1++) {
            if (loc[h1] == '@') /* user:password@host: not supported, fail as no URL */
                return -1;
            if (loc[h1] == ':')
                colon = h1;
        }
        if (!colon)
            colon = h1;
        uint16_t port = c->tls ? 443 : 80;
        if (colon < h1) {
            uint32_t j = colon + 1, p;
            if (parse_u32(loc, h1, &j, &p) != 0 || p == 0 || p > 65535 || j != h1)
                return -1;
            port = (uint16_t)p;
        }
        if (set_host(c, loc + h0, colon - h0) != 0) /* leaves c->host as it was */
            return -1;
        c->tcp_port = port;
        path_at = h1;
    }
    /* The path goes to the front of the buffer; the request is built right after it. */
    uint32_t pl = n - path_at;
    upd__bcopy(c->buf, loc + path_at, pl);
    c->path = (const char *)c->buf;
    c->path_len = (uint16_t)pl;
    c->req_off = (uint16_t)pl;
    c->flags &= ~(uint32_t)UPD__CF_RESUMING;
    if (build_request(c, 1) != 0)
        return -1;
    return 0;
}

/* Keep a Location value above the line area (only the last one counts). Values over
 * half the buffer are dropped: following it fails as a bad Location would (-104). */
static void keep_location(upd_client_ctx *c, const uint8_t *v, uint32_t n)
{
    c->lim = c->cap;
    c->loc_len = 0;
    if (n == 0 || n > c->cap / 2)
        return;
    upd__bcopy(c->buf + c->cap - n, v, n);
    c->lim = c->cap - n;
    c->loc_len = n;
}

#if UPD_CLIENT_WITH_RESUME
/* Content-Range of the 206 to our Range: it must be exactly the rest of the file the
 * record describes, "bytes <received>-<total - 1>/<total>" (what servers send). */
UPD__NOINLINE static void check_content_range(upd_client_ctx *c, const uint8_t *v, uint32_t n)
{
    uint8_t t[40];
    wbuf w = {t, 0, sizeof t, 0};
    puts_(&w, "bytes ");
    putu(&w, c->received);
    puts_(&w, "-");
    putu(&w, c->total - 1u);
    puts_(&w, "/");
    putu(&w, c->total);
    if (w.n == n && !upd__bdiffer(t, v, n))
        c->flags |= UPD__CF_CRANGE;
}
#endif

/* The response headers the engine reads, in one table (HTTPClient collects the ones the
 * update code asked for; the name must match up to the colon, any case). */
enum { H_LENGTH, H_TE, H_LOCATION, H_MD5, H_SHA256, H_VERSION, H_RANGE, H_ETAG };
static const char resp_headers[] = "Content-Length\0Transfer-Encoding\0Location\0x-MD5\0"
                                   "x-SHA256\0x-version\0Content-Range\0ETag\0";

static int header_id(const uint8_t *p, uint32_t n)
{
    int id = 0;
    for (const char *t = resp_headers; *t; t += upd__slen(t) + 1, id++)
        if (name_is(p, n, t))
            return id;
    return -1;
}

/* One header line (without its '\n'), read as HTTPClient::handleHeaderResponse does:
 * trimmed first; "HTTP/1." lines give the status (String::toInt of the characters from
 * index 9 to the next space); else name up to the first colon, value after it trimmed.
 * Returns 1 at the line that is empty once trimmed: the end of the headers. */
static int header_line(upd_client_ctx *c, uint8_t *p, uint32_t n)
{
    while (n && is_space(p[n - 1]))
        n--;
    while (n && is_space(*p)) {
        p++;
        n--;
    }
    if (n == 0)
        return 1;
    if (n >= 7 && upd__bdiffer(p, "HTTP/1.", 7) == 0) {
        uint32_t a = n < 9 ? n : 9, b = a;
        while (b < n && p[b] != ' ')
            b++;
        c->status = to_int(p + a, b - a);
        return 0;
    }
    uint32_t sep = 0;
    while (sep < n && p[sep] != ':')
        sep++;
    if (sep > 0 && sep < n) {
        uint32_t v0 = sep + 1;
        while (v0 < n && is_space(p[v0]))
            v0++;
        const uint8_t *v = p + v0;
        uint32_t vn = n - v0;
        const upd_client_config *cfg = c->cfg;
        switch (header_id(p, sep)) {
        case H_LENGTH:
            c->content_length = to_int(v, vn);
            break;
        case H_TE:
            c->flags &= ~(uint32_t)(UPD__CF_TE_CHUNKED | UPD__CF_TE_OTHER);
            if (vn)
                c->flags |= name_is(v, vn, "chunked") ? UPD__CF_TE_CHUNKED : UPD__CF_TE_OTHER;
            break;
        case H_LOCATION:
            if (cfg->follow_redirects)
                keep_location(c, v, vn);
            break;
        case H_MD5:
            c->flags &= ~(uint32_t)(UPD__CF_MD5_SEEN | UPD__CF_MD5_LEN_OK | UPD__CF_MD5_HEX_OK);
            if (vn)
                c->flags |= UPD__CF_MD5_SEEN;
            if (vn == 32) {
                /* straight into c->md5: it counts only with HEX_OK (cleared above) */
                c->flags |= UPD__CF_MD5_LEN_OK;
                if (unhex(v, c->md5, 16) == 0)
                    c->flags |= UPD__CF_MD5_HEX_OK;
            }
            break;
#if UPD_CLIENT_WITH_SHA256
        case H_SHA256:
            if (!(cfg->features & UPD_CLIENT_F_SHA256) || cfg->expected_sha256)
                ; /* not asked for, or the config's hash rules */
            else if (vn == 64 && unhex(v, c->sha256, 32) == 0) /* a bad one fails anyway */
                c->flags |= UPD__CF_SHA_SET;
            else
                c->flags |= UPD__CF_SHA_HDR_BAD;
            break;
#endif
        case H_VERSION:
            c->flags &= ~(uint32_t)UPD__CF_VER_LONG;
            if (vn > UPD_CLIENT_VERSION_MAX) {
                c->flags |= UPD__CF_VER_LONG;
                vn = 0;
            }
            upd__bcopy(c->offered, v, vn);
            c->offered[vn] = '\0';
            c->offered_len = (uint8_t)vn;
            break;
#if UPD_CLIENT_WITH_RESUME
        case H_RANGE:
            check_content_range(c, v, vn);
            break;
        case H_ETAG:
            c->etag_crc = upd__crc(v, vn);
            c->flags |= UPD__CF_ETAG;
            break;
#endif
        default:
            break;
        }
    }
    return 0;
}

/* The steps below return the device error code to fail with (the caller fails once),
 * or 0 when the check goes on or has finished by itself. */

/* Update.begin(): the body goes to flash from now on. */
static int begin_body(upd_client_ctx *c)
{
    c->state = UPD__CS_BODY;
    return upd__stage_begin(c);
}

/* The 200 of a check that was not resumed (or whose Range the server ignored). */
static int on_200(upd_client_ctx *c)
{
    const upd_client_config *cfg = c->cfg;
    const upd_flash_layout *l = &c->port->flash.layout;
    if (RESUMING(c)) { /* Range ignored: start over */
        c->flags &= ~(uint32_t)UPD__CF_RESUMING;
        c->received = 0;
        c->written = 0;
        c->saved = 0;
    }
    int32_t len = c->content_length;
    c->total = (uint32_t)len;
    if (len <= 0)
        return -101; /* HTTP_UE_SERVER_NOT_REPORT_SIZE */
    if (c->total > (cfg->mode == UPD_MODE_FS ? l->fs_end - l->fs_start : upd__free_space(c)))
        return -100; /* HTTP_UE_TOO_LESS_SPACE */
    if (cfg->mode == UPD_MODE_FS)
        return begin_body(c);
    c->state = UPD__CS_PEEK;
    return 0;
}

#if UPD_CLIENT_WITH_RESUME
/* A 206 to our Range request: continue the interrupted download if it is the same
 * file (length, Content-Range, ETag, x-MD5 compared with the resume record). */
static int on_206(upd_client_ctx *c)
{
    const upd_client_config *cfg = c->cfg;
    int same =
        (c->flags & UPD__CF_CRANGE) && c->content_length == (int32_t)(c->total - c->received) &&
        !(c->flags & (UPD__CF_SHA_HDR_BAD | UPD__CF_TE_CHUNKED)) && upd__resume_match(c) == 0;
    if (!same) {
        upd__resume_clear(c);
        c->detail = UPD_ERESUME;
        return UPD_ERESUME;
    }
    c->state = UPD__CS_BODY;
    if (cfg->progress)
        cfg->progress(cfg->progress_arg, c->received, c->total);
    return 0;
}
#endif

/* The end of the headers: what HTTPClient returns, then ESP8266httpUpdate's switch. */
static int headers_done(upd_client_ctx *c)
{
    const upd_client_config *cfg = c->cfg;
    int code = c->status;
    if (c->flags & UPD__CF_TE_OTHER)
        return -9; /* HTTPC_ERROR_ENCODING */
    if (code <= 0)
        return -7; /* HTTPC_ERROR_NO_HTTP_SERVER */
#if UPD_CLIENT_WITH_REPORT
    if (c->flags & UPD__CF_REPORTED)
        report_write(c, 0, 1);
    if ((code == 200 && !VERSION_ONLY(cfg)) || (code == 206 && RESUMING(c)))
        c->flags |= UPD__CF_OFFER;
#endif
    unsigned limit = cfg->redirect_limit ? cfg->redirect_limit : DEFAULT_REDIRECT_LIMIT;
    if (cfg->follow_redirects && c->redirects < limit && c->loc_len &&
        ((code >= 301 && code <= 303) || code == 307) && follow(c) == 0) {
        /* GET is allowed for 301/307 in "strict" mode as in "force"; 308 never. */
        c->redirects++;
        c->state = UPD__CS_CONNECT;
        c->fill = 0;
        c->lim = c->cap;
        c->loc_len = 0;
        return 0;
    }
    if (code == 200) {
        if (!VERSION_ONLY(cfg))
            return on_200(c);
        if (c->flags & UPD__CF_VER_LONG)
            return UPD_ENOSPC;
        if (!c->offered_len)
            return -109; /* HTTP_UE_SERVER_NOT_REPORT_VERSION */
        upd__client_finish(c, UPD_CLIENT_OK, 0);
        return 0;
    }
#if UPD_CLIENT_WITH_RESUME
    if (RESUMING(c)) {
        if (code == 206)
            return on_206(c);
        /* the file is gone or changed: forget the record; a server error keeps it */
        if (code == 304 || code == 401 || code == 403 || code == 404 || code == 416)
            upd__resume_clear(c);
    }
#endif
    if (code == 304) {
        upd__client_finish(c, UPD_CLIENT_NO_UPDATES, 0);
        return 0;
    }
    return code == 404                                                ? -102
           : code == 403                                              ? -103
           : code == 401 && cfg->flavor == UPD_CLIENT_ESP8266_ARDUINO ? -108
                                                                      : -104;
}

/* ---- receiving ---------------------------------------------------------------------------- */

/* The first 4 bytes of a sketch: ESP8266httpUpdate's checks before Update.begin. */
static int peek_done(upd_client_ctx *c)
{
    const upd_client_config *cfg = c->cfg;
    const uint8_t *b = c->buf;
    if (c->fill < 4)
        return -106;
    if (cfg->flavor == UPD_CLIENT_ESP32_ARDUINO) {
        if (b[0] != 0xE9)
            return -106;
    } else {
        if (b[0] != 0xE9 && b[0] != 0x1F)
            return -106;
        if (b[0] == 0xE9 && !cfg->flash_map_core &&
            upd__magic_flash_size(b[3] >> 4) > c->port->flash.layout.chip_size)
            return -107;
    }
    /* Stream bytes past the body (possible only for bodies under 4 bytes) stay unread. */
    if (c->fill > c->total)
        c->fill = c->total;
    return begin_body(c);
}

/* Write full chunks (and the last piece) from the buffer. */
static int body_progress(upd_client_ctx *c)
{
    while (c->state == UPD__CS_BODY) {
        uint32_t left = c->total - c->received;
        if (c->fill == 0 && left > 0)
            return 0;
        if (c->fill < c->chunk && c->fill < left)
            return 0;
        uint32_t n = c->fill < c->chunk ? c->fill : c->chunk;
        uint32_t rest = c->fill - n;
        c->fill = n;
        int e = n ? upd__stage_flush(c) : 0;
        if (e)
            return e;
        c->received += n;
        upd__bcopy(c->buf, c->buf + n, rest);
        c->fill = rest;
        if (c->received == c->total) {
            upd__stage_end(c);
            return 0;
        }
    }
    return 0;
}

size_t upd_client_feed(upd_client_ctx *c, const void *data, size_t len)
{
    if (!c || (!data && len))
        return 0;
    const uint8_t *d = data;
    size_t taken = 0;
    int e;
    if (len)
        c->last_ms = now(c);
    while (taken < len) {
        if (c->state == UPD__CS_HEADERS) {
            uint8_t ch = d[taken++];
            if (ch != '\n') {
                if (c->fill < c->lim) /* the rest of a longer line is dropped */
                    c->buf[c->fill++] = ch;
                continue;
            }
            uint32_t n = c->fill;
            int end = header_line(c, c->buf, n);
            c->fill = 0;
            if (end && (e = headers_done(c)) != 0)
                fail(c, e);
        } else if (c->state == UPD__CS_PEEK || c->state == UPD__CS_BODY) {
            /* the peek takes up to a chunk; the body no more than is left of it */
            int peek = c->state == UPD__CS_PEEK;
            size_t k = len - taken;
            uint32_t left = c->total - c->received - c->fill;
            if (!peek && k > left)
                k = left;
            if (k > c->chunk - c->fill)
                k = c->chunk - c->fill;
            if (!peek && k == 0)
                break;
            upd__bcopy(c->buf + c->fill, d + taken, k);
            c->fill += (uint32_t)k;
            taken += k;
            if (peek && c->fill < 4)
                continue;
            if ((peek && (e = peek_done(c)) != 0) || (e = body_progress(c)) != 0)
                fail(c, e);
        } else {
            break;
        }
    }
    return taken;
}

void upd_client_eof(upd_client_ctx *c)
{
    if (c)
        fail_in_state(c, UPD_PORT_ELOST); /* HTTPC_ERROR_CONNECTION_LOST */
}

void upd_client_transport_error(upd_client_ctx *c, int err)
{
    if (c)
        fail_in_state(c, err >= 0 || err < -11 ? UPD_PORT_ELOST : err);
}

/* ---- results ------------------------------------------------------------------------------ */

upd_client_result upd_client_result_of(const upd_client_ctx *c)
{
    if (!c || c->state != UPD__CS_DONE)
        return UPD_CLIENT_RUNNING;
    return (upd_client_result)c->result;
}

int upd_client_error(const upd_client_ctx *c)
{
    return c && c->state == UPD__CS_DONE ? c->error : 0;
}

int upd_client_detail(const upd_client_ctx *c)
{
    return c ? c->detail : 0;
}

const char *upd_client_offered_version(const upd_client_ctx *c)
{
    return c ? c->offered : "";
}

int upd_client_offered_md5(const upd_client_ctx *c, uint8_t out[16])
{
    if (!c || !(c->flags & UPD__CF_MD5_HEX_OK)) /* set only for 32 hex digits */
        return 0;
    upd__bcopy(out, c->md5, 16);
    return 1;
}

int upd_client_status(const upd_client_ctx *c)
{
    return c ? c->status : 0;
}
