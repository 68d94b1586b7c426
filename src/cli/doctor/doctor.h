/* `updraft doctor`: what its modules share (private to src/cli/doctor and cmd_doctor.c).
 *
 *   cmd_doctor.c  the command: one check, the verdict, the extra checks, the report
 *   options.c     the command line and the URL
 *   device.c      the simulated device: flash layout, the engine's configuration
 *   wire.c        one connection's worth of bytes: the exchange record, the response
 *                 read as a human would, dechunking
 *   engine.c      the client engine (upd_client_ctx) run on the posix port
 *   idf.c         ESP-IDF's esp_https_ota, read by doctor itself (not an engine flavor)
 *   explain.c     the device's code in words: name, text, cause and fix
 *   body.c        the answer's own checks: body (MD5, inspector, fit rules), headers
 *   probes.c      the extra HEAD and Range requests
 *   loop.c        the update loop check (the image offered again after installing it)
 *   mfln.c        TLS record sizes for small device buffers, and what they cost in RAM
 *   report.c      the checks list and the output (human and JSON) */
#ifndef UPD_CLI_DOCTOR_H
#define UPD_CLI_DOCTOR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fileinspect.h"
#include "upd_posix.h"
#include "updraft/client.h"
#include "updraft/fit.h"

/* ---- small text helpers ------------------------------------------------------------------ */

/* Format into out (cap bytes), replacing what was there. */
static inline void say(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Format at the end of the string in out (cap bytes). */
static inline void add(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void say(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

static inline void add(char *out, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(out);
    if (n >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + n, cap - n, fmt, ap);
    va_end(ap);
}

/* The first multiple of 4096 (a flash sector) not below n. */
static inline uint32_t sector_roundup(uint32_t n)
{
    return (n + 4095u) & ~4095u;
}

/* ---- options (options.c) ---------------------------------------------------------------- */

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

extern const char upd__doctor_usage[];

/* Fill o from the command line. Returns 0, 1 for --help, or -1 with err saying what is
 * wrong. */
int upd__doctor_parse_args(int argc, char **argv, struct opts *o, char *err, size_t errlen);
/* Split o->url (http[s]://host[:port][/path]) into o->tls, host, port and path. Returns 0,
 * or -1 with err saying what is wrong (not always: a too long IPv6 address says nothing). */
int upd__doctor_parse_url(struct opts *o, char *err, size_t errlen);
/* 1 when s is exactly n hex digits. */
int upd__doctor_is_hex(const char *s, size_t n);

/* ---- one connection's worth of bytes (wire.c) -------------------------------------------- */

#define MAX_XCHG 12
#define RAW_MAX  (64u << 20) /* bytes kept of one response */

/* One request and its response, as they went over the wire. */
typedef struct xchg {
    char host[UPD_CLIENT_HOST_MAX + 1];
    uint16_t port;
    int tls;
    char req[4096];
    size_t req_len;
    uint8_t *raw; /* the response bytes (malloc'd) */
    size_t raw_len, raw_cap;
    int connect_failed, tls_verify_failed, reset, closed;
    char net_error[UPD_POSIX_ERROR_MAX], tls_problem[UPD_POSIX_ERROR_MAX], tls_info[128];
    char peer[64];
    uint32_t t_start, t_connected, t_first, t_last; /* ms (posix clock) */
    uint32_t longest_gap;                           /* longest wait between two reads */
} xchg;

/* Connect net to host (x->host may be cut to the device's limit), x->port, x->tls, and
 * record in x what the port saw (times, TLS, the error). Returns 0 when connected. */
int upd__doctor_xchg_connect(xchg *x, upd_posix_net *net, const char *host, uint32_t timeout_ms);
/* Keep n response bytes that just came (and when they came). */
void upd__doctor_xchg_received(xchg *x, const void *p, size_t n);
/* Keep n response bytes (up to RAW_MAX in all; dropped when out of memory). */
void upd__doctor_xchg_append(xchg *x, const void *p, size_t n);
/* Send all n bytes, or stop at the first failure. */
void upd__doctor_send_all(upd_posix_net *net, const void *p, size_t n, uint32_t timeout_ms);

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

void upd__doctor_parse_resp(const uint8_t *raw, size_t n, resp *r);
/* The last header of that name (exact name, any case), or NULL. */
const char *upd__doctor_header(const resp *r, const char *name);
/* 1 when the body ends with the last chunk of chunked framing. */
int upd__doctor_last_chunk_came(const resp *r);
/* Decode chunked framing into out (n bytes suffice); returns the decoded length or -1
 * when the framing is broken. */
long long upd__doctor_dechunk(const uint8_t *in, size_t n, uint8_t *out);

/* ---- running a check (engine.c, idf.c) --------------------------------------------------- */

/* Every exchange of one check and the device's result. */
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

/* Free the response bytes of r's exchanges. */
void upd__doctor_run_free(run *r);

/* ---- the doctor: what one invocation found ------------------------------------------------ */

enum level { L_OK, L_INFO, L_WARN, L_FAIL };

#define MAX_CHECKS 40
typedef struct check {
    char name[24];
    int level; /* enum level */
    char text[1024];
} check;

/* TLS record sizes (mfln.c): index 0 asks no length, 1..4 ask 512..4096. */
#define UPD_DOCTOR_MFLN_N 4
/* WiFiClientSecureBearSSL.cpp: receive buffer = size + 325 bytes, send buffer = size + 85 */
#define UPD_DOCTOR_BEARSSL_IN  325u
#define UPD_DOCTOR_BEARSSL_OUT 85u
typedef struct upd_doctor_mfln {
    int done;
    int accepted[UPD_DOCTOR_MFLN_N];  /* the ServerHello echoed max_fragment_length */
    long data[UPD_DOCTOR_MFLN_N + 1]; /* the longest record's data; -1 not measured */
    long wire[UPD_DOCTOR_MFLN_N + 1]; /* and its length on the wire */
} upd_doctor_mfln;

typedef struct doctor {
    struct opts *o;
    upd_client_config cfg;
    upd_flash_layout layout;
    char auth[512];
    char sdk[64];
    /* outcome */
    int code;           /* the device's code: 0, -1.., -100.., Updater 1.. */
    const char *result; /* "ok", "no-update", "failed" */
    int would_update, bricks;
    int loop; /* the server would offer the device its image again after installing it */
    char cause[2048], fix[1024];
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
    upd_doctor_mfln mfln;
} doctor;

/* ---- the simulated device (device.c) ------------------------------------------------------ */

/* d->layout from the options. Returns 0, or -1 with err saying what does not fit. */
int upd__doctor_make_layout(doctor *d, char *err, size_t errlen);
/* d->auth, d->cfg (the engine's configuration in parity mode) from the options. */
void upd__doctor_make_config(doctor *d);
/* The free space the device reports (x-ESP8266-free-space; ESP32: the OTA slot). */
uint32_t upd__doctor_reported_free(const doctor *d);

/* ---- the engine (engine.c) and ESP-IDF (idf.c) ------------------------------------------- */

/* One full check with the engine (a fresh port: flash, state), cfg as the device is
 * configured. Returns 0 with r filled, or -1 with err. */
int upd__doctor_engine_check(doctor *d, const upd_client_config *cfg, run *r, char *err,
                             size_t errlen);
/* esp_http_client's GET, following redirects as it does. Returns 0 with r filled, or -1
 * with err. */
int upd__doctor_idf_check(doctor *d, run *r, char *err, size_t errlen);
/* esp_https_ota's verdict, from the final exchange. Sets d->code (0 ok), d->result and the
 * texts. */
void upd__doctor_idf_judge(doctor *d, const run *r);

/* ---- explanation (explain.c) -------------------------------------------------------------- */

/* The client library's name for code ("HTTP_UE_TOO_LESS_SPACE"), and its text. */
/* esp_https_ota's ESP_ERR_INVALID_SIZE (0x104): the code doctor gives --as esp-idf for an
 * image that does not fit the passive slot. The other esp-idf verdicts use the Arduino codes
 * of the same cause (docs/doctor.md). */
#define UPD__DOCTOR_IDF_INVALID_SIZE 0x104
const char *upd__doctor_code_name(int code, int esp32);
const char *upd__doctor_code_text(int code, int esp32);
/* d->cause and d->fix for d->code, from what was seen on the wire. */
void upd__doctor_explain(doctor *d, const run *r);

/* ---- the answer's checks (body.c) and the probes (probes.c) ------------------------------ */

/* The final 200's body: unframed, MD5, inspector, fit rules (checks framing, image, fit). */
void upd__doctor_analyze_body(doctor *d);
/* x-MD5 beyond what the device enforces. */
void upd__doctor_check_md5(doctor *d);
/* Content-Length, encodings, timing of the final 200. */
void upd__doctor_check_headers(doctor *d);
/* The update loop check (ESP8266, sketch mode, after an update): sets d->loop. */
void upd__doctor_check_loop(doctor *d, const run *r);
/* HEAD and Range requests, replaying the last request (unless --no-probes). */
void upd__doctor_check_probes(doctor *d);

/* ---- TLS record sizes (mfln.c) ------------------------------------------------------------ */

/* Over HTTPS as an ESP8266 (unless --no-probes): the max_fragment_length values the server
 * accepts, asked as the core's probeMaxFragmentLength does, and the records it sends for
 * each (checks mfln, records; d->mfln for the RAM table). */
void upd__doctor_check_mfln(doctor *d);
/* The length index i (0..3) stands for: 512 ... 4096. */
unsigned upd__doctor_mfln_len(int i);
/* The RAM an ESP8266's BearSSL client takes for buffers of rx and tx bytes. */
unsigned upd__doctor_bearssl_ram(unsigned rx, unsigned tx);

/* ---- the report (report.c) ---------------------------------------------------------------- */

/* Add a check to the report (dropped past MAX_CHECKS). */
void upd__doctor_note(doctor *d, const char *name, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Print the report (JSON with --json) for exit status status. */
void upd__doctor_print(const doctor *d, const run *r, int status);

#endif
