/* The answer's own checks, beyond what the device enforces: the body of the final 200
 * (unframed, MD5, the image inspector, the fit rules), x-MD5, and the headers. */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "doctor.h"
#include "updraft/image.h"

void upd__doctor_analyze_body(doctor *d)
{
    const resp *p = &d->final;
    if (!p->complete || p->status != 200 || !p->body_len)
        return;
    const char *cl = upd__doctor_header(p, "Content-Length"),
               *te = upd__doctor_header(p, "Transfer-Encoding");
    const uint8_t *body = p->body;
    size_t n = p->body_len;
    uint8_t *decoded = NULL;
    long long want = cl ? atoll(cl) : -1;
    int complete = 0;
    if (te && strstr(te, "chunked")) {
        decoded = malloc(n);
        long long k = decoded ? upd__doctor_dechunk(p->body, n, decoded) : -1;
        if (k >= 0) {
            body = decoded;
            n = (size_t)k;
            complete = 1;
            upd__doctor_note(
                d, "framing", L_WARN,
                "the body is chunked; unframed it is %zu bytes (what the device should have "
                "been sent as is)",
                n);
        } else {
            upd__doctor_note(d, "framing", L_WARN,
                             "the body is chunked and its framing is incomplete");
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
        upd__doctor_note(d, "image", L_INFO, "only %zu of %lld bytes came: %s", n, want,
                         rep->reason);
    else
        upd__doctor_note(d, "image", good ? L_OK : L_FAIL, "%s: %s", upd_verdict_name(rep->verdict),
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
    f.free_space = upd__doctor_reported_free(d);
    f.has_chip_size = 1;
    f.chip_size = d->layout.chip_size;
    f.flash_map_core = (uint8_t)d->o->flash_map;
    f.has_fs_size = 1;
    f.fs_size = d->layout.fs_end - d->layout.fs_start;
    f.has_sketch_size = 1;
    f.sketch_size = d->layout.sketch_size;
    upd_fit_check(rep, &f, &d->fit);
    d->fit_done = 1;
    upd__doctor_note(d, "fit", d->fit.code == UPD_FIT_OK ? L_OK : L_FAIL, "%s", d->fit.explanation);
    /* Arduino-ESP32 does not say which chip it is: an image for one chip of the family
     * reaches every device that asks this URL, and a device of another chip finds out
     * only after it erased and wrote its whole slot (Update error 9) */
    if (d->o->as == AS_ESP32 && good && d->o->chip == UPD_CHIP_UNKNOWN) {
        const char *cn = upd_chip_name(rep->chip);
        upd__doctor_note(d, "chip", L_INFO,
                         "the image is for %s; the request does not say the device's chip, so "
                         "any ESP32-family device that asks this URL gets it, and one of another "
                         "chip fails with Update error 9 after erasing and writing its whole "
                         "slot: give --chip to check a device; keep one channel per chip (on "
                         "updraft: 'updraft channel chip CHANNEL %s')",
                         cn ? cn : "an unknown chip", cn ? cn : "CHIP");
    }
}

void upd__doctor_check_md5(doctor *d)
{
    const resp *p = &d->final;
    if (p->status != 200)
        return;
    const char *m = upd__doctor_header(p, "x-MD5");
    if (!m || !m[0]) {
        upd__doctor_note(
            d, "x-MD5", L_WARN,
            "no x-MD5: the device cannot tell a corrupted download from a good one; send the "
            "body's MD5 as 32 lowercase hex digits%s%s",
            d->have_body && d->body_complete ? " (" : "",
            d->have_body && d->body_complete ? d->body_md5_hex : "");
        if (d->have_body && d->body_complete)
            add(d->checks[d->nchecks - 1].text, sizeof d->checks[0].text, ")");
        return;
    }
    if (strlen(m) != 32) {
        upd__doctor_note(d, "x-MD5", L_FAIL, "%zu characters, not 32: the device fails with -105",
                         strlen(m));
        return;
    }
    if (!d->have_body || !d->body_complete) {
        upd__doctor_note(d, "x-MD5", L_INFO, "%s (body incomplete: not compared)", m);
        return;
    }
    if (strcasecmp(m, d->body_md5_hex) != 0) {
        upd__doctor_note(d, "x-MD5", L_FAIL, "%s does not match the body's MD5 %s", m,
                         d->body_md5_hex);
        return;
    }
    if (strcmp(m, d->body_md5_hex) != 0)
        upd__doctor_note(d, "x-MD5", L_WARN,
                         "matches, but in uppercase: the ESP8266 compares without case, older "
                         "Arduino-ESP32 Update libraries compare case-sensitively: send lowercase");
    else
        upd__doctor_note(d, "x-MD5", L_OK, "matches the body (%s)", m);
}

void upd__doctor_check_headers(doctor *d)
{
    const resp *p = &d->final;
    if (p->status != 200)
        return;
    const char *cl = upd__doctor_header(p, "Content-Length"),
               *te = upd__doctor_header(p, "Transfer-Encoding");
    const char *ce = upd__doctor_header(p, "Content-Encoding");
    if (cl)
        upd__doctor_note(d, "length", L_OK, "Content-Length: %s", cl);
    else
        upd__doctor_note(d, "length", L_FAIL, "no Content-Length");
    if (te)
        upd__doctor_note(d, "encoding", L_WARN, "Transfer-Encoding: %s (never use it for firmware)",
                         te);
    if (ce)
        upd__doctor_note(
            d, "encoding", L_WARN,
            "Content-Encoding: %s: the device does not decode it and writes the compressed "
            "bytes to flash; switch compression off for .bin files",
            ce);
    const xchg *x = d->fx;
    if (x && x->t_first) {
        uint32_t ttfb = x->t_first - x->t_connected;
        upd__doctor_note(d, "timing", ttfb * 2 > d->cfg.timeout_ms ? L_WARN : L_INFO,
                         "first byte after %u ms (the device waits %u ms); longest pause %u ms",
                         ttfb, d->cfg.timeout_ms, x->longest_gap);
    }
}
