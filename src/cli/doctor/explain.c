/* The device's result code in words: the client library's name and text for it, and the
 * cause and the fix, built from what came over the wire (one explainer per code, in the
 * table at the end). */
#include <stdlib.h>
#include <strings.h>

#include "devtext.h"
#include "doctor.h"
#include "updraft/error.h"
#include "updraft/image.h"

/* ---- names and texts ------------------------------------------------------------------------- */

/* The names of ESPhttpUpdate/HTTPClient/Updater (and Arduino-ESP32's where they differ). */
static const struct code_name {
    int code;
    const char *esp8266, *esp32; /* esp32 NULL: the same */
} code_names[] = {
    {0, "OK", NULL},
    {-1, "HTTPC_ERROR_CONNECTION_FAILED", NULL},
    {-2, "HTTPC_ERROR_SEND_HEADER_FAILED", NULL},
    {-3, "HTTPC_ERROR_SEND_PAYLOAD_FAILED", NULL},
    {-4, "HTTPC_ERROR_NOT_CONNECTED", NULL},
    {-5, "HTTPC_ERROR_CONNECTION_LOST", NULL},
    {-6, "HTTPC_ERROR_NO_STREAM", NULL},
    {-7, "HTTPC_ERROR_NO_HTTP_SERVER", NULL},
    {-8, "HTTPC_ERROR_TOO_LESS_RAM", NULL},
    {-9, "HTTPC_ERROR_ENCODING", NULL},
    {-10, "HTTPC_ERROR_STREAM_WRITE", NULL},
    {-11, "HTTPC_ERROR_READ_TIMEOUT", NULL},
    {-100, "HTTP_UE_TOO_LESS_SPACE", NULL},
    {-101, "HTTP_UE_SERVER_NOT_REPORT_SIZE", NULL},
    {-102, "HTTP_UE_SERVER_FILE_NOT_FOUND", NULL},
    {-103, "HTTP_UE_SERVER_FORBIDDEN", NULL},
    {-104, "HTTP_UE_SERVER_WRONG_HTTP_CODE", NULL},
    {-105, "HTTP_UE_SERVER_FAULTY_MD5", NULL},
    {-106, "HTTP_UE_BIN_VERIFY_HEADER_FAILED", NULL},
    {-107, "HTTP_UE_BIN_FOR_WRONG_FLASH", NULL},
    {-108, "HTTP_UE_SERVER_UNAUTHORIZED", "HTTP_UE_NO_PARTITION"},
    {1, "UPDATE_ERROR_WRITE", NULL},
    {2, "UPDATE_ERROR_ERASE", NULL},
    {3, "UPDATE_ERROR_READ", NULL},
    {4, "UPDATE_ERROR_SPACE", NULL},
    {5, "UPDATE_ERROR_SIZE", NULL},
    {6, "UPDATE_ERROR_STREAM", NULL},
    {7, "UPDATE_ERROR_MD5", NULL},
    {8, "UPDATE_ERROR_FLASH_CONFIG", "UPDATE_ERROR_MAGIC_BYTE"},
    {9, "UPDATE_ERROR_NEW_FLASH_CONFIG", "UPDATE_ERROR_ACTIVATE"},
    {10, "UPDATE_ERROR_MAGIC_BYTE", "UPDATE_ERROR_NO_PARTITION"},
};

const char *upd__doctor_code_name(int code, int esp32)
{
    if (code == UPD__DOCTOR_IDF_INVALID_SIZE)
        return "ESP_ERR_INVALID_SIZE";
    for (size_t i = 0; i < sizeof code_names / sizeof code_names[0]; i++)
        if (code_names[i].code == code)
            return esp32 && code_names[i].esp32 ? code_names[i].esp32 : code_names[i].esp8266;
    return upd_err_name(code);
}

const char *upd__doctor_code_text(int code, int esp32)
{
    if (code == UPD__DOCTOR_IDF_INVALID_SIZE)
        return "esp_https_ota: the image does not fit in the OTA partition";
    return upd_client_strerror_for(esp32 ? UPD_CLIENT_ESP32_ARDUINO : UPD_CLIENT_ESP8266_ARDUINO,
                                   code);
}

/* ---- what the explainers look at ------------------------------------------------------------- */

typedef struct seen {
    doctor *d;
    const run *r;
    const struct opts *o;
    const xchg *x; /* the last exchange, or NULL */
    const resp *p; /* its response */
    int esp32;
    const char *cl, *te, *ce, *loc, *md5; /* headers, NULL when absent */
    uint32_t total;                       /* Content-Length */
    uint32_t room;                        /* the room the device has for the image */
    size_t got;                           /* body bytes that came */
} seen;

static void cause(const seen *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void cause(const seen *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->d->cause, sizeof s->d->cause, fmt, ap);
    va_end(ap);
}

static void fix(const seen *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fix(const seen *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->d->fix, sizeof s->d->fix, fmt, ap);
    va_end(ap);
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

/* What the body is, in words (for -106). */
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

/* The prefix of the device's headers. */
static const char *xname(const seen *s)
{
    return s->o->as == AS_ESP32 ? "x-ESP32" : "x-ESP8266";
}

/* ---- one explainer per code ------------------------------------------------------------------ */

/* 0: no update (304), or installed: then, is it an image the device boots? */
static void why_ok(const seen *s)
{
    const doctor *d = s->d;
    if (s->r->result == UPD_CLIENT_NO_UPDATES) {
        const char *why = upd__doctor_header(s->p, "X-Updraft-Reason");
        cause(s, "the server answered 304 Not Modified: no update%s%s", why ? ": " : "",
              why ? why : "");
        fix(s, "nothing to fix: this is how a server says \"no update\"");
    } else if (s->r->result != UPD_CLIENT_OK) {
        return;
    } else if (d->fit_done && d->fit.code != UPD_FIT_OK && s->o->mode == UPD_MODE_SKETCH) {
        cause(s, "the device accepts and installs the image, but: %s", d->fit.explanation);
        fix(s, "publish the application .bin built for this device; a server should check every "
               "image before offering it (updraft serve does)");
    } else if (d->fit_done && d->fit.code != UPD_FIT_OK) {
        cause(s, "the device writes it over its filesystem: %s", d->fit.explanation);
        fix(s, "serve a filesystem image (mklittlefs) in spiffs mode");
    } else {
        char a[64];
        cause(s, "the device downloads %s, verifies it and %s",
              kib((uint32_t)d->body_len, a, sizeof a),
              s->o->mode == UPD_MODE_FS ? "writes its filesystem"
              : s->o->as == AS_ESP32    ? "boots the new slot"
                                        : "reboots into it");
        fix(s, "nothing to fix");
    }
}

static void why_connection_failed(const seen *s)
{
    const xchg *x = s->x;
    if (x && x->tls_verify_failed) {
        cause(s,
              "TLS: the server's certificate is not trusted (%s); a device that verifies it (a "
              "CA or fingerprint in the sketch) fails to connect",
              x->tls_problem);
        fix(s, "give the server a certificate from a CA the device trusts, for this host name "
               "and not expired, or pin its fingerprint in the sketch; run doctor with --cacert "
               "FILE to trust your own CA, or --insecure to look past it");
        return;
    }
    cause(s, "%s", x && x->net_error[0] ? x->net_error : "connection failed");
    if (x && strstr(x->net_error, "resolve"))
        fix(s, "check the host name in the URL; the device needs a DNS server that knows it");
    else if (x && x->tls)
        fix(s,
            "check that the server speaks HTTPS on port %u; small devices also need a TLS setup "
            "their memory allows (BearSSL buffers on ESP8266)",
            x->port);
    else
        fix(s, "check the URL's host and port, that the server runs, and that the device's "
               "network can reach it (firewall, listening address 0.0.0.0 vs 127.0.0.1)");
}

static void why_send_failed(const seen *s)
{
    cause(s, "sending the request failed: %s",
          s->x && s->x->net_error[0] ? s->x->net_error : "connection broke");
}

static void why_connection_lost(const seen *s)
{
    const xchg *x = s->x;
    cause(s, "the connection %s before the end of the response headers (%zu bytes received)",
          x && x->reset ? "broke (reset)" : "was closed by the server", x ? x->raw_len : (size_t)0);
    if (x && !x->raw_len && !x->tls)
        fix(s, "the server hangs up without a word: if this port speaks HTTPS, use an https:// "
               "URL; otherwise look at the server's error log");
    else
        fix(s, "the server or a proxy drops the request: look at its error log");
}

static void why_no_http_server(const seen *s)
{
    const xchg *x = s->x;
    if (x && x->raw_len >= 2 && x->raw[0] == 0x15 && x->raw[1] == 0x03) {
        cause(s, "the server answered with TLS, not HTTP");
        fix(s, "use an https:// URL for this port");
        return;
    }
    cause(s, "the response does not start with an HTTP/1.x status line (got \"%s\")",
          s->p->status_line);
    fix(s, "the port speaks another protocol (HTTP/2 only, a raw service): serve the update "
           "over HTTP/1.x");
}

static void why_encoding(const seen *s)
{
    cause(s,
          "the server answered with `Transfer-Encoding: %s`; the device's HTTPClient only knows "
          "identity and chunked",
          s->te ? s->te : "?");
}

static void why_read_timeout(const seen *s)
{
    cause(s,
          "no complete response headers within %u ms (%zu bytes received); the device gives up "
          "after its HTTP timeout (8000 ms by default)",
          s->d->cfg.timeout_ms, s->x ? s->x->raw_len : (size_t)0);
}

static void why_too_less_space(const seen *s)
{
    int fs = s->o->mode == UPD_MODE_FS;
    cause(s,
          "the image is %u bytes (Content-Length) but the device has only %u bytes %s (%s: %u); "
          "%s",
          s->total, s->room,
          s->esp32 ? "in its OTA partition"
          : fs     ? "of filesystem"
                   : "free",
          fs ? "filesystem size" : "free-space header", s->room,
          s->esp32 || fs ? "it does not fit"
                         : "the running sketch and the new one must fit side by side");
    fix(s,
        "the server should compare the length with %s-free-space before offering an image and "
        "answer 304 when it does not fit; build a smaller image (gzip it), or move the device to "
        "a layout with more room (a smaller filesystem%s)",
        xname(s), s->esp32 ? ", bigger app partitions" : "");
}

static void why_no_size(const seen *s)
{
    const char *cl = s->cl, *te = s->te, *ce = s->ce;
    if (te && strstr(te, "chunked") && !cl) {
        cause(s,
              "the server answered with `Transfer-Encoding: chunked` and no Content-Length; the "
              "%s updater needs Content-Length%s",
              s->esp32 ? "ESP32" : "ESP8266",
              ce ? " (and it compresses on the fly: Content-Encoding)" : "");
        fix(s, "switch off chunking/compression for .bin files: serve them as static files with "
               "their exact Content-Length (for a script: set Content-Length and do not flush in "
               "pieces)");
    } else if (!cl && ce) {
        cause(s,
              "the server compresses the response on the fly (`Content-Encoding: %s`) and so "
              "sends no Content-Length",
              ce);
        fix(s, "switch off compression (gzip/deflate) for .bin files and send Content-Length");
    } else if (!cl) {
        cause(s,
              "the server sent no Content-Length: the body just runs until the connection closes "
              "(%zu bytes came), and the device will not start without knowing the size",
              s->got);
        fix(s, "send `Content-Length: <exact file size>` with every firmware answer (a proxy or "
               "a streaming script often drops it)");
    } else if (s->total == 0 && cl[0] == '0') {
        cause(s, "the server answered 200 with `Content-Length: 0`: an empty answer is not \"no "
                 "update\" to the device");
        fix(s, "answer 304 Not Modified when there is no update");
    } else {
        cause(s, "`Content-Length: %s` is not a size the device can read", cl);
        fix(s, "send the exact size as a plain decimal number");
    }
}

static void why_not_found(const seen *s)
{
    cause(s, "the server answered 404 Not Found for %s", s->o->path);
}

static void why_forbidden(const seen *s)
{
    cause(s, "the server answered 403 Forbidden: it refused this device's request%s",
          upd__doctor_header(s->p, "X-Updraft-Reason")
              ? ""
              : " (servers that check the device headers answer 403 when one is missing or the "
                "User-Agent differs)");
}

/* A redirect the device does not follow. */
static void why_redirect_refused(const seen *s)
{
    const resp *p = s->p;
    const char *loc = s->loc;
    if (!s->d->cfg.follow_redirects) {
        cause(s,
              "the server redirects (%d to %s) and the device does not follow redirects unless "
              "the sketch enables it",
              p->status, loc ? loc : "nowhere: no Location");
        fix(s, "serve the image directly at this URL, or call "
               "setFollowRedirects(HTTPC_STRICT_FOLLOW_REDIRECTS) in the sketch (try "
               "--follow-redirects)");
    } else if (p->status == 308) {
        cause(s, "308 Permanent Redirect: the device's HTTPClient never follows a 308");
        fix(s, "use 301 or 302, or serve the image at this URL");
    } else if (!loc) {
        cause(s, "a %d redirect without a Location header", p->status);
        fix(s, "send Location with the image's URL");
    } else if (s->r->nx >= 10) {
        cause(s, "more than 10 redirects (a loop?), last to %s", loc);
        fix(s, "point the URL at the image");
    } else {
        cause(s,
              "the %d redirect to %s is not followed: the device follows only a path or a URL "
              "with the same scheme (%s), without user:password@, with a host of at most %d "
              "characters",
              p->status, loc, s->o->tls ? "https" : "http", UPD_CLIENT_HOST_MAX);
        fix(s, "redirect within the same scheme, or serve the image at this URL");
    }
}

static void why_wrong_http_code(const seen *s)
{
    const resp *p = s->p;
    if (p->status >= 300 && p->status < 400) {
        why_redirect_refused(s);
    } else if (p->status >= 500) {
        cause(s, "the server failed: \"%s\"", p->status_line);
        fix(s, "look at the server's error log; a device only understands 200 (with the image) "
               "and 304");
    } else if (p->status == 401 && s->esp32) {
        cause(s, "401 Unauthorized: Arduino-ESP32's HTTPUpdate has no code of its own for it");
        fix(s, "give the device the right credentials (--user/--password)");
    } else if (p->status == 206) {
        cause(s, "206 Partial Content to a request without Range");
        fix(s, "answer 200 with the whole file");
    } else if (p->status == 200) {
        cause(s, "a 200 the device cannot use here");
        fix(s, "answer 200 with the image, or 304");
    } else {
        cause(s,
              "the server answered \"%s\"; the device understands only 200 (with the image), "
              "304, and reports 401/403/404 by name",
              p->status_line);
        fix(s, "answer 200 with the image or 304 for \"no update\"; other codes are errors on the "
               "device");
    }
}

static void why_faulty_md5(const seen *s)
{
    const doctor *d = s->d;
    cause(s, "`x-MD5: %s` has %zu characters; the device needs exactly 32 (the MD5 in hex)",
          s->md5 ? s->md5 : "", s->md5 ? strlen(s->md5) : (size_t)0);
    if (d->have_body && d->body_complete)
        add(s->d->fix, sizeof s->d->fix, ": here that is %s", d->body_md5_hex);
}

static void why_not_an_image(const seen *s)
{
    const resp *p = s->p;
    char words[512];
    body_words(s->d, words, sizeof words);
    if (s->te && strstr(s->te, "chunked")) {
        cause(s,
              "the body is chunked (`Transfer-Encoding: chunked`) although the server also sent "
              "Content-Length: the device reads the chunk framing as the image (%s)",
              words);
        fix(s, "switch off chunking for .bin files: exact Content-Length, no Transfer-Encoding");
    } else if (s->got < 4 && s->x && !s->x->closed) {
        cause(s, "the first 4 bytes of the body did not arrive within %u ms", s->d->cfg.timeout_ms);
        fix(s, "send the body right after the headers");
    } else if (s->esp32 && s->got >= 2 && p->body[0] == 0x1F && p->body[1] == 0x8B) {
        cause(s, "the body is a gzip file: ESP32 devices install only plain images (first byte "
                 "0xE9)");
        fix(s, "serve the uncompressed .bin to ESP32 devices");
    } else {
        cause(s,
              "the server answered 200 but the body is not a firmware image: %s; the device "
              "checks the first byte (0xE9%s)",
              words, s->esp32 ? "" : ", or 0x1F for gzip");
        fix(s, "never answer 200 with anything but the image: say \"no update\" with 304, errors "
               "with 4xx/5xx; check that the URL serves the .bin (not a page or the .elf)");
    }
}

static void why_wrong_flash(const seen *s)
{
    const resp *p = s->p;
    char a[64], b[64];
    uint8_t code = s->got >= 4 ? p->body[3] >> 4 : 0;
    uint32_t need = upd_flash_size_bytes(UPD_PLATFORM_ESP8266, code);
    cause(s,
          "the image is built for %s of flash (header byte 3 = 0x%02X) but the chip has %s "
          "(%s-chip-size)",
          kib(need, a, sizeof a), s->got >= 4 ? p->body[3] : 0,
          kib(s->d->layout.chip_size, b, sizeof b), xname(s));
    fix(s,
        "build for the board's real flash size (Flash Size menu, board_build.flash_size); the "
        "server should compare the image's size code with %s-chip-size and answer 304",
        xname(s));
}

static void why_unauthorized(const seen *s)
{
    cause(s, "the server answered 401 Unauthorized%s",
          s->o->user ? ": it did not accept the credentials sent" : ": it wants credentials");
}

static void why_space(const seen *s)
{
    uint32_t need = sector_roundup(s->total);
    cause(s,
          "the image (%u bytes) fits the %u bytes free by length, but the Updater reserves whole "
          "4 KB sectors (%u bytes) and stops with error 4",
          s->total, s->room, need);
    fix(s,
        "the real rule is roundup(length, 4096) <= free space: make the image %u bytes smaller, "
        "and have the server check that rule before offering it",
        need - s->room);
}

static void why_stream(const seen *s)
{
    const xchg *x = s->x;
    if (x && x->closed)
        cause(s,
              "the body ended after %zu of %u bytes: the server closed the connection early "
              "(Content-Length larger than what it sent?)",
              s->got, s->total);
    else if (x && x->reset)
        cause(s, "the connection broke after %zu of %u body bytes", s->got, s->total);
    else
        cause(s,
              "the body stalled after %zu of %u bytes: nothing came for %u ms (the device's "
              "Updater gives up after 60 s)",
              s->got, s->total, s->d->cfg.stream_timeout_ms);
}

static void why_md5_mismatch(const seen *s)
{
    if (s->md5 && !upd__doctor_is_hex(s->md5, 32))
        cause(s, "`x-MD5: %s` is 32 characters but not hex: it can never match", s->md5);
    else
        cause(s,
              "x-MD5 says %s but the body's MD5 is %s (the device says \"MD5 verification "
              "failed\")",
              s->md5 ? s->md5 : "?", s->d->have_body ? s->d->body_md5_hex : "?");
}

static void why_activate(const seen *s)
{
    if (s->esp32 && strstr(s->r->act_reason, "Mismatch chip id")) {
        cause(s,
              "the device erases and writes its whole OTA slot, then esp_ota_set_boot_partition "
              "refuses the image: %s. Arduino-ESP32 does not say its chip in the request, so a "
              "server cannot tell from the headers alone",
              s->r->act_reason);
        fix(s, "give each chip its own channel and URL; on updraft declare it ('updraft channel "
               "chip CHANNEL esp32c3': it then takes only that chip's releases) and assign the "
               "devices to the channel of their chip; updraft also refuses an image for another "
               "chip to a device whose running image is one of its releases");
    } else if (s->esp32) {
        cause(s, "the device downloads the image, then esp_ota_set_boot_partition refuses it: %s",
              s->r->act_reason[0] ? s->r->act_reason : "not a bootable ESP32 image");
        fix(s, "publish the application .bin built for this chip; the server should keep other "
               "families' images away from it");
    } else {
        cause(s, "the image is built for more flash than the chip has; this core (flash-map "
                 "support) checks it only after writing: Updater error 9");
        fix(s, "build for the board's real flash size");
    }
}

/* ---- the table ------------------------------------------------------------------------------- */

#define FLASH_CAUSE "writing the simulated flash failed: see the log"
#define FLASH_FIX   "a problem of this machine (disk full?), not of the server"

static const struct explanation {
    int code;
    const char *cause;          /* the cause whatever was seen, or NULL */
    const char *fix;            /* the fix whatever the cause, or NULL */
    void (*why)(const seen *s); /* writes what the strings above leave open (NULL: nothing) */
} explanations[] = {
    {0, NULL, NULL, why_ok},
    {-1, NULL, NULL, why_connection_failed},
    {-2, NULL, "the server closed the connection right away: look at its log", why_send_failed},
    {-5, NULL, NULL, why_connection_lost},
    {-7, NULL, NULL, why_no_http_server},
    {-9, NULL, "send firmware as is, with Content-Length and without Transfer-Encoding",
     why_encoding},
    {-11, NULL,
     "answer faster: a slow script, a database lock or an overloaded server keeps the device "
     "waiting; decide quickly and stream the file from disk",
     why_read_timeout},
    {-100, NULL, NULL, why_too_less_space},
    {-101, NULL, NULL, why_no_size},
    {-102, NULL,
     "check the URL path; if the server means \"no update\", it must answer 304 instead (a 404 "
     "is an error on every check)",
     why_not_found},
    {-103, NULL,
     "see why the server refuses (its log, the body of the 403); allow the device's User-Agent "
     "and headers",
     why_forbidden},
    {-104, NULL, NULL, why_wrong_http_code},
    {-105, NULL, "send the MD5 of the exact body as 32 lowercase hex digits (or leave x-MD5 out)",
     why_faulty_md5},
    {-106, NULL, NULL, why_not_an_image},
    {-107, NULL, NULL, why_wrong_flash},
    {-108, NULL,
     "set the credentials in the sketch (ESPhttpUpdate.setAuthorization(user, password), core "
     ">= 3.0) and here with --user/--password",
     why_unauthorized},
    {1, FLASH_CAUSE, FLASH_FIX, NULL},
    {2, FLASH_CAUSE, FLASH_FIX, NULL},
    {3, FLASH_CAUSE, FLASH_FIX, NULL},
    {4, NULL, NULL, why_space},
    {6, NULL,
     "send exactly Content-Length bytes without pauses: stream from disk, check proxy timeouts "
     "and buffering, and that the file is not replaced while it is sent",
     why_stream},
    {7, NULL,
     "compute x-MD5 from the stored file at the time it is sent (a stale MD5 after replacing "
     "the file is the usual cause), as 32 lowercase hex digits",
     why_md5_mismatch},
    {9, NULL, NULL, why_activate},
    {10,
     "the body starts with 0x1F (like gzip) but is not gzip (1F 8B): the Updater refuses it "
     "after writing it",
     "serve the .bin, or a real gzip of it (gzip -9)", NULL},
};

void upd__doctor_explain(doctor *d, const run *r)
{
    const struct opts *o = d->o;
    const resp *p = &d->final;
    seen s = {.d = d, .r = r, .o = o, .x = d->fx, .p = p, .esp32 = o->as == AS_ESP32};
    s.cl = upd__doctor_header(p, "Content-Length");
    s.te = upd__doctor_header(p, "Transfer-Encoding");
    s.ce = upd__doctor_header(p, "Content-Encoding");
    s.loc = upd__doctor_header(p, "Location");
    s.md5 = upd__doctor_header(p, "x-MD5");
    s.total = s.cl ? (uint32_t)strtoul(s.cl, NULL, 10) : 0;
    s.room = s.esp32                  ? d->layout.slot_size
             : o->mode == UPD_MODE_FS ? d->layout.fs_end - d->layout.fs_start
                                      : d->layout.fs_start - sector_roundup(d->layout.sketch_size);
    s.got = p->body_len;
    for (size_t i = 0; i < sizeof explanations / sizeof explanations[0]; i++) {
        const struct explanation *e = &explanations[i];
        if (e->code != d->code)
            continue;
        if (e->cause)
            say(d->cause, sizeof d->cause, "%s", e->cause);
        if (e->fix)
            say(d->fix, sizeof d->fix, "%s", e->fix);
        if (e->why)
            e->why(&s);
        return;
    }
    say(d->cause, sizeof d->cause, "%s", upd__doctor_code_text(d->code, d->o->as == AS_ESP32));
    say(d->fix, sizeof d->fix, "see docs/doctor.md");
}
