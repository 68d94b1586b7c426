/* The device update engine: one update check of an ESP8266 (or Arduino-ESP32) device,
 * speaking exactly what the device's own ESP8266httpUpdate / HTTPUpdate client speaks,
 * as an I/O-free state machine in the style of BearSSL's engines.
 *
 * The engine does no network I/O: it says what it wants (connect, send, receive), hands
 * out the bytes of the request and takes the bytes received. It writes the image through
 * the port's flash operations (updraft/port.h) into the staging area the ESP8266
 * Updater would use, verifies it, and leaves the boot command for eboot. It never
 * allocates and includes no OS header: the caller owns the context (a fixed-size
 * struct), one buffer of at least UPD_CLIENT_BUF_MIN bytes and the port.
 *
 *   upd_client_ctx c;            static uint32_t buf[2048 / 4];
 *   upd_client_init(&c, &cfg, &port, buf, sizeof buf);
 *   for (;;) switch (upd_client_poll(&c)) {
 *   case UPD_CLIENT_WANT_CONNECT: (close any open connection) connect to
 *        upd_client_host(&c), upd_client_port(&c); then upd_client_connected(&c),
 *        or upd_client_transport_error(&c, UPD_PORT_ECONNECT)
 *   case UPD_CLIENT_WANT_SEND: p = upd_client_want_send(&c, &n); send; upd_client_sent(&c, k)
 *   case UPD_CLIENT_WANT_RECV: upd_client_feed(&c, data, n) / upd_client_eof(&c)
 *   case UPD_CLIENT_DONE: close; upd_client_result(&c), upd_client_error(&c)
 *   }
 * or let upd_client_run() do exactly that with the port's transport. docs/client.md
 * describes the states, the results and every error code. */
#ifndef UPDRAFT_CLIENT_H
#define UPDRAFT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "updraft/fit.h" /* upd_client (which device client), upd_update_mode */
#include "updraft/port.h"

/* Smallest caller buffer: holds the request, a header line, 1 KB of body. */
#define UPD_CLIENT_BUF_MIN 1024u
/* Buffer needed for UPD_CLIENT_F_INSPECT (the inspector's report lives in it). */
#define UPD_CLIENT_BUF_INSPECT ((uint32_t)sizeof(upd_image_report))
/* Longest host name (a redirect to a longer one fails as the device's would: -104). */
#define UPD_CLIENT_HOST_MAX 63
/* Longest x-version value the engine keeps (version mode, outcome report). */
#define UPD_CLIENT_VERSION_MAX 47

/* Features beyond the real client. 0 gives exact parity with the device's client. */
enum {
    /* Before committing, inspect the staged image with the core's inspector and refuse
     * what the device could not boot (wrong family, bad checksum, not an app):
     * UPD_CLIENT_EIMAGE instead of installing it. Only in a build with the inspector
     * (UPD_CLIENT_WITH_INSPECT=1: the host build of updraft; a device build leaves it
     * out unless asked, as it links about 18 KB of the core): else init refuses it
     * with UPD_EUNSUPPORTED. Not in UPD_CLIENT_F_ALL. */
    UPD_CLIENT_F_INSPECT = 1u << 0,
    /* Verify the SHA-256 the server announces in an x-SHA256 header (64 hex). A hash
     * given in the config (expected_sha256) is verified with or without this flag. */
    UPD_CLIENT_F_SHA256 = 1u << 1,
    /* Keep download progress in the port's UPD_STATE_RESUME area and continue an
     * interrupted download with Range: bytes=N- (206 expected; a 200 starts over). */
    UPD_CLIENT_F_RESUME = 1u << 2,
    /* Keep the outcome of each update attempt in the port's UPD_STATE_REPORT area and
     * send it on the next check as one x-updraft-report header (docs/protocol.md,
     * "Outcome report"). Not in UPD_CLIENT_F_ALL: the server must expect the header. */
    UPD_CLIENT_F_REPORT = 1u << 3,
    /* The extensions every default build has and every server works with. */
    UPD_CLIENT_F_ALL = UPD_CLIENT_F_SHA256 | UPD_CLIENT_F_RESUME
};

/* What the device reports about itself and how it checks. Strings are NUL-terminated,
 * owned by the caller and must stay valid until the check is DONE. */
typedef struct upd_client_config {
    upd_client flavor;         /* UPD_CLIENT_ESP8266_ARDUINO or UPD_CLIENT_ESP32_ARDUINO */
    upd_update_mode mode;      /* UPD_MODE_SKETCH (application) or UPD_MODE_FS (filesystem) */
    const char *host;          /* server name or address, at most UPD_CLIENT_HOST_MAX chars */
    uint16_t port;             /* TCP port (80; Host: leaves out 80 and 443) */
    uint8_t tls;               /* 1: https (the transport does TLS); redirects keep the scheme */
    const char *path;          /* path and query, e.g. "/update?app=x"; NULL or "" is "/" */
    const char *auth;          /* NULL, or base64 of "user:password" for Authorization: Basic */
    const char *version;       /* x-*-version; NULL or "" is not sent */
    const char *sdk_version;   /* x-*-sdk-version, e.g. "2.2.2-dev(38a443e)" */
    const char *sketch_md5;    /* x-*-sketch-md5: 32 lowercase hex of the running image */
    const char *sketch_sha256; /* ESP32 only: 64 UPPERCASE hex; NULL is not sent */
    uint32_t chip_id;          /* ESP8266: x-ESP8266-Chip-ID (decimal) */
    uint8_t sta_mac[6];
    uint8_t ap_mac[6];
    uint8_t follow_redirects;       /* 0 off (the device's default), 1 as HTTPClient's
                                       "strict" (301/307 for GET, 302/303), 2 "force" */
    uint8_t redirect_limit;         /* 0: 10 */
    uint8_t flash_map_core;         /* ESP8266 core >= 3.1 built with flash-map support: no
                                       -107 check before the download (Updater 9 after it) */
    uint32_t timeout_ms;            /* waiting for the response headers; 0: 8000 */
    uint32_t stream_timeout_ms;     /* a stalled body; 0: 60000 (the Updater's) */
    uint32_t features;              /* UPD_CLIENT_F_* */
    const uint8_t *expected_sha256; /* NULL, or the image's 32-byte SHA-256 */
    uint32_t resume_step;           /* UPD_CLIENT_F_RESUME: save progress every this many
                                       bytes (rounded up to 4 KB); 0: 16 KB */
    /* Called with (0, total) when the body starts, after each flash write, and with
     * (total, total) when everything is written. NULL: not called. */
    void (*progress)(void *arg, uint32_t done, uint32_t total);
    void *progress_arg;
    /* 1: only ask (ESP8266httpUpdate::getAvailableVersion): send x-ESP8266-mode: version
     * (mode is not used), download nothing. A 200 with x-version ends UPD_CLIENT_OK with
     * the offer in upd_client_offered_version() / upd_client_offered_md5(); a 200
     * without it fails with -109; 304 is UPD_CLIENT_NO_UPDATES. ESP8266 flavor only. */
    uint8_t version_only;
} upd_client_config;

/* The outcome, numbered as ESP8266httpUpdate's HTTPUpdateResult. */
typedef enum upd_client_result {
    UPD_CLIENT_RUNNING = -1,
    UPD_CLIENT_FAILED = 0,     /* HTTP_UPDATE_FAILED: see upd_client_error() */
    UPD_CLIENT_NO_UPDATES = 1, /* HTTP_UPDATE_NO_UPDATES: the server said 304 */
    UPD_CLIENT_OK = 2          /* HTTP_UPDATE_OK: staged, verified, boot command written:
                                  reboot now (ESP32: the new slot is activated) */
} upd_client_result;

/* What the engine needs next. */
typedef enum upd_client_want {
    UPD_CLIENT_WANT_CONNECT = 1, /* close any connection; connect to host/port/tls */
    UPD_CLIENT_WANT_SEND,        /* send the bytes of upd_client_want_send() */
    UPD_CLIENT_WANT_RECV,        /* feed what arrives (or report eof / an error) */
    UPD_CLIENT_DONE              /* finished: close the connection, read the result */
} upd_client_want;

/* Errors of the engine's own, beyond the device client's codes (see upd_client_error).
 * They live in the core's error table (updraft/error.h): upd_strerror() explains them. */

/* The context. Fixed size, owned by the caller, no allocation; fields are private. */
typedef struct upd_client_ctx {
    const upd_client_config *cfg;
    const upd_port *port;
    uint8_t *buf;
    uint32_t cap;      /* buffer size */
    uint32_t chunk;    /* flash write unit: a power of two, 1024..4096 */
    uint8_t state;     /* upd__client_state */
    uint8_t result;    /* upd_client_result once DONE */
    uint8_t redirects; /* redirects followed */
    uint8_t tls;
    uint16_t tcp_port;
    int32_t status; /* HTTP status code of the response */
    uint32_t flags; /* UPD__CF_* */
    int error;      /* device error code (0, -1.., -100.., Updater 1..) */
    int detail;     /* UPD_E* / inspector code behind an engine error, 0 */
    char host[UPD_CLIENT_HOST_MAX + 1];
    const char *path; /* the request path (config, or in buf after a redirect) */
    uint16_t path_len;
    uint16_t req_off, req_len, req_sent; /* the request in buf */
    uint32_t fill;                       /* bytes in buf (header line / body chunk) */
    uint32_t lim;                        /* end of the line area (a Location is kept above it) */
    uint32_t loc_len;                    /* Location value at buf + lim */
    int32_t content_length;
    uint32_t received; /* body bytes taken (a resumed download starts above 0) */
    uint32_t saved;    /* resume: progress last saved */
    uint32_t last_ms;  /* clock at the last progress */
    /* From total to head: the body of the resume record, in this order (stage.c). */
    uint32_t total;      /* image length */
    uint32_t start;      /* flash address of the staged image */
    uint32_t written;    /* bytes written at start (rounded to 4 at the very end) */
    uint32_t etag_crc;   /* CRC-32/MPEG-2 of the ETag value */
    uint8_t md5[16];     /* x-MD5, decoded */
    uint8_t sha256[32];  /* x-SHA256 or the config's */
    uint8_t head[16];    /* ESP32: first 16 bytes held back; ESP8266: original bytes 0..3 */
    uint8_t offered_len; /* x-version of the response, NUL-terminated in offered */
    char offered[UPD_CLIENT_VERSION_MAX + 1];
} upd_client_ctx;

/* Start a check. cfg, port and buf (buf_len bytes, 4-byte aligned, at least
 * UPD_CLIENT_BUF_MIN; UPD_CLIENT_BUF_INSPECT with UPD_CLIENT_F_INSPECT) must stay valid
 * until DONE; the context may be reused for the next check with another init. Builds the
 * request (with Range when a download is to be resumed). Returns 0, UPD_EINVAL (NULL,
 * misaligned buffer, missing port operation, host too long), UPD_ENOSPC (buffer too small
 * for the request or for the inspector) or UPD_EUNSUPPORTED (flavor ESP-IDF, or a
 * feature this build of the library was compiled without: docs/client.md). */
int upd_client_init(upd_client_ctx *c, const upd_client_config *cfg, const upd_port *port,
                    void *buf, size_t buf_len);

/* What to do next. Also applies the timeouts (port clock): no response headers within
 * timeout_ms gives -11, no body within stream_timeout_ms gives Updater error 6. */
upd_client_want upd_client_poll(upd_client_ctx *c);

/* Where to connect (valid in WANT_CONNECT; changes after a followed redirect). */
const char *upd_client_host(const upd_client_ctx *c);
uint16_t upd_client_port(const upd_client_ctx *c);
int upd_client_tls(const upd_client_ctx *c);

/* The connection is open: the engine moves to WANT_SEND. */
void upd_client_connected(upd_client_ctx *c);

/* The unsent rest of the request (*len bytes), or NULL/0 when not in WANT_SEND. */
const uint8_t *upd_client_want_send(const upd_client_ctx *c, size_t *len);
/* n bytes of the request went out. */
void upd_client_sent(upd_client_ctx *c, size_t n);

/* Bytes received (any amount, any split: the engine keeps what it needs in its buffer).
 * Returns how many were taken; bytes after the end of the body (or after DONE) are not
 * taken and may be dropped. Writes flash through the port on the way. */
size_t upd_client_feed(upd_client_ctx *c, const void *data, size_t len);

/* The peer closed the connection. Before the headers end: -5 (connection lost); in the
 * body: Updater error 6 (the device waits for the missing bytes until it gives up). */
void upd_client_eof(upd_client_ctx *c);

/* The transport failed: err is a UPD_PORT_E* code (-1 connect, -2 send, -5 lost,
 * -11 timeout), reported as the device's HTTPClient would (-1, -2, -5, -11; in the body
 * any failure is Updater error 6). */
void upd_client_transport_error(upd_client_ctx *c, int err);

/* The outcome: UPD_CLIENT_RUNNING until DONE. */
upd_client_result upd_client_result_of(const upd_client_ctx *c);

/* The device's error code for a FAILED check, as ESPhttpUpdate.getLastError() gives it:
 * HTTPClient's -1 .. -11, -100 .. -109, the Updater's 1 .. 16 (positive), or one of the
 * engine's own (UPD_CLIENT_E*, -50 ..) for checks the real client does not make. 0 when
 * not failed. */
int upd_client_error(const upd_client_ctx *c);

/* For an engine error: the core's UPD_E* code behind it (e.g. the inspector's
 * rejection), else 0. */
int upd_client_detail(const upd_client_ctx *c);

/* The x-version of the last response (version mode: the version offered), "" when the
 * server sent none (or an empty one). Never NULL; valid until the next init. */
const char *upd_client_offered_version(const upd_client_ctx *c);

/* The x-MD5 of the last response when it was 32 hex digits: 1 and the 16 bytes in out;
 * else 0. */
int upd_client_offered_md5(const upd_client_ctx *c, uint8_t out[16]);

/* The HTTP status code of the (last) response, 0 before one arrived. */
int upd_client_status(const upd_client_ctx *c);

/* Text for an error code of upd_client_error(): the device's own text for its codes
 * ("Server Did Not Report Size", "MD5 Check Failed" ...), upd_strerror() for the
 * engine's. Never NULL. */
const char *upd_client_strerror(int err);

/* The running image's state (enum upd_boot_state) from port->rollback.boot_state, or
 * UPD_EUNSUPPORTED where the platform cannot roll back (ESP8266), UPD_ESTATE if the
 * port failed. Call it after boot: UPD_BOOT_PENDING means "run your health check, then
 * upd_client_confirm(), or the next reset goes back to the previous image". */
int upd_client_boot_state(const upd_port *port);

/* Confirm the running image (PENDING -> VALID) through port->rollback.confirm: 0,
 * UPD_EUNSUPPORTED (no rollback on this platform: nothing to confirm), UPD_ESTATE. */
int upd_client_confirm(const upd_port *port);

/* Run a whole check synchronously through port->transport (connect, send, receive
 * with short waits, close), polling the engine. Returns upd_client_result_of(c). */
upd_client_result upd_client_run(upd_client_ctx *c);

#endif
