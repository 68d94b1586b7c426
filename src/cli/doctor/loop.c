/* The update loop check. A server loops a device when it offers the image the device
 * already runs: the device downloads, flashes and reboots into the same image, asks
 * again, and gets it again, for ever. Two ways to see it from here:
 * - the image offered IS what the device says it runs (its --sketch-md5), as the file or
 *   in another flash mode (an ESP8266's Updater writes the chip's flash mode into byte 2,
 *   so a device that installed a DOUT build on a QIO chip reports the QIO variant);
 * - after installing the offered image, the device reports the MD5 of what is on its
 *   flash (that variant, or the inflated image of a gzip file); ask again as that device
 *   does and see whether the same image comes back.
 * Arduino-ESP32 the same way with its own hashes: sketch-md5 is the MD5 of the image as
 * esp_image_verify measures it (appended SHA-256 included, nothing after it) and
 * sketch-sha256 the appended digest (devhash.h). esp_https_ota reports nothing. */
#include <stdlib.h>
#include <strings.h>

#include "devhash.h"
#include "doctor.h"

static const char *const MODES[4] = {"QIO", "QOUT", "DIO", "DOUT"};

/* The body of the final 200 as sent (not chunked), or NULL. */
static const uint8_t *plain_body(const doctor *d, size_t *n)
{
    const char *te = upd__doctor_header(&d->final, "Transfer-Encoding");
    if (!d->have_body || !d->body_complete || (te && strstr(te, "chunked")) ||
        d->final.body_len < d->body_len)
        return NULL;
    *n = d->body_len;
    return d->final.body;
}

/* Is the offered image what the device says it runs? */
static int offered_what_it_runs(doctor *d, const uint8_t *body, size_t n)
{
    const char *runs = d->o->sketch_md5;
    if (!runs)
        return 0;
    if (!strcasecmp(runs, d->body_md5_hex)) {
        upd__doctor_note(d, "loop", L_FAIL,
                         "update loop: the server offered the very image the device says it "
                         "runs (its sketch-md5 %s is the body's MD5): the device downloads, "
                         "flashes and reboots into the same image at every check. Answer 304 "
                         "when x-ESP8266-sketch-md5 is the image's MD5",
                         runs);
        return 1;
    }
    if (!upd_devhash_esp8266_rewrites(body, n))
        return 0;
    for (uint8_t m = 0; m < 4; m++) {
        char hex[33];
        if (m != body[2] && upd_devhash_md5_in_mode(body, n, m, hex) == 0 &&
            !strcasecmp(runs, hex)) {
            upd__doctor_note(
                d, "loop", L_FAIL,
                "update loop: the server offered the image the device already runs in %s "
                "flash mode (its sketch-md5 %s is this %s image with byte 2 = %u, as the "
                "Updater wrote it to the device's flash): the device downloads it again at "
                "every check. Treat the MD5 of the image with byte 2 = 0, 1, 2 and 3 as the "
                "same release (updraft serve does)",
                MODES[m], runs, MODES[body[2] & 3], m);
            return 1;
        }
    }
    return 0;
}

/* The verdict's cause and fix for a loop. */
static void loop_verdict(doctor *d)
{
    d->loop = 1;
    say(d->cause, sizeof d->cause,
        "the device updates, then is offered an image again at every check: an endless "
        "download, flash and reboot loop (see the 'loop' check)");
    if (d->o->as == AS_ESP32)
        say(d->fix, sizeof d->fix,
            "answer 304 when the device reports the image it runs: x-ESP32-sketch-md5 is the "
            "MD5 of the image as esp_image_verify measures it (appended SHA-256 included, "
            "padding or a signature after it excluded), x-ESP32-sketch-sha256 the appended "
            "digest; updraft serve does");
    else
        say(d->fix, sizeof d->fix,
            "answer 304 when the device reports the image it runs: x-ESP8266-sketch-md5 is the "
            "MD5 of the image as on its flash (the file with byte 2 = its flash mode 0..3; the "
            "inflated image for gzip); updraft serve does");
}

/* Arduino-ESP32: is the offered image what the device says it runs? */
static int esp32_offered_what_it_runs(doctor *d, const char *md5, const char *sha)
{
    const char *rm = d->o->sketch_md5, *rs = d->o->sketch_sha256;
    int by_md5 = rm && !strcasecmp(rm, md5), by_sha = rs && !strcasecmp(rs, sha);
    if (!by_md5 && !by_sha)
        return 0;
    upd__doctor_note(d, "loop", L_FAIL,
                     "update loop: the server offered the image the device says it runs (its "
                     "sketch-%s %s is that of the offered image as the device measures it): "
                     "the device downloads, flashes and reboots into the same image at every "
                     "check. Answer 304 when x-ESP32-sketch-md5 or -sha256 is the image's",
                     by_md5 ? "md5" : "sha256", by_md5 ? rm : rs);
    return 1;
}

void upd__doctor_check_loop(doctor *d, const run *r)
{
    const struct opts *o = d->o;
    size_t n = 0;
    const uint8_t *body = plain_body(d, &n);
    if ((o->as != AS_ESP8266 && o->as != AS_ESP32) || o->mode != UPD_MODE_SKETCH ||
        r->result != UPD_CLIENT_OK || !body || !d->fi)
        return;
    char after[33], sha[65] = "", sha_up[65] = "";
    if (o->as == AS_ESP32) {
        int appended = 0;
        if (upd_devhash_esp32(body, n, &d->fi->report, after, sha, &appended) != 0)
            return;
        if (esp32_offered_what_it_runs(d, after, sha)) {
            loop_verdict(d);
            return;
        }
        for (size_t i = 0; i < 64 && sha[i]; i++)
            sha_up[i] = (char)(sha[i] >= 'a' && sha[i] <= 'f' ? sha[i] - 'a' + 'A' : sha[i]);
        sha_up[64] = '\0';
    } else if (offered_what_it_runs(d, body, n)) {
        loop_verdict(d);
        return;
    }
    /* what the device reports after installing it */
    uint32_t size = (uint32_t)n;
    const char *how;
    if (o->as == AS_ESP32) {
        size = d->fi->report.app.end;
        how = d->fi->report.app.hash_appended
                  ? "the MD5 of the image as esp_image_verify measures it, and its appended "
                    "digest as sketch-sha256"
                  : "the MD5 and SHA-256 of the image as esp_image_verify measures it";
    } else if (d->fi->has_inner) {
        snprintf(after, sizeof after, "%s", d->fi->inner_md5_hex);
        size = (uint32_t)d->fi->inner_size;
        how = "the inflated image's MD5";
    } else if (upd_devhash_esp8266_rewrites(body, n) && body[2] != (uint8_t)o->flash_mode) {
        if (upd_devhash_md5_in_mode(body, n, (uint8_t)o->flash_mode, after) != 0)
            return;
        how = o->flash_mode == 0   ? "the image's MD5 with byte 2 = 0 (QIO, the chip's mode)"
              : o->flash_mode == 1 ? "the image's MD5 with byte 2 = 1 (QOUT, the chip's mode)"
              : o->flash_mode == 2 ? "the image's MD5 with byte 2 = 2 (DIO, the chip's mode)"
                                   : "the image's MD5 with byte 2 = 3 (DOUT, the chip's mode)";
    } else {
        snprintf(after, sizeof after, "%s", d->body_md5_hex);
        how = "the image's MD5";
    }
    const char *xv = upd__doctor_header(&d->final, "x-version");
    char version[256];
    snprintf(version, sizeof version, "%s", xv && *xv ? xv : o->version ? o->version : "");
    upd_client_config cfg = d->cfg;
    cfg.sketch_md5 = after;
    if (o->as == AS_ESP32)
        cfg.sketch_sha256 = sha_up;
    cfg.version = version[0] ? version : NULL;
    uint32_t keep = d->layout.sketch_size;
    d->layout.sketch_size = size;
    run *again = calloc(1, sizeof *again);
    char err[512];
    int rc = again ? upd__doctor_engine_check(d, &cfg, again, err, sizeof err) : -1;
    d->layout.sketch_size = keep;
    if (rc != 0) {
        upd__doctor_note(d, "loop", L_INFO, "could not ask again as the updated device: %s",
                         again ? err : "out of memory");
        free(again);
        return;
    }
    resp p2;
    const xchg *x = again->nx ? &again->x[again->nx - 1] : NULL;
    if (x)
        upd__doctor_parse_resp(x->raw, x->raw_len, &p2);
    const char *m2 = x ? upd__doctor_header(&p2, "x-MD5") : NULL;
    if (again->result == UPD_CLIENT_OK) {
        loop_verdict(d);
        upd__doctor_note(d, "loop", L_FAIL,
                         "update loop: after installing the image the device reports "
                         "sketch-md5 %s (%s)%s%s, and the server offers an image again%s: it "
                         "downloads, flashes and reboots at every check. The server must "
                         "recognise the image a device reports after installing (304)",
                         after, how, cfg.version ? " and version " : "",
                         cfg.version ? cfg.version : "",
                         m2 && !strcasecmp(m2, d->body_md5_hex) ? " (the same one)" : "");
    } else if (again->result == UPD_CLIENT_NO_UPDATES) {
        upd__doctor_note(d, "loop", L_OK,
                         "no update loop: after installing it the device reports sketch-md5 "
                         "%s (%s) and gets no update",
                         after, how);
    } else {
        upd__doctor_note(d, "loop", L_INFO,
                         "after installing it the device (sketch-md5 %s, %s) would get error "
                         "%d on its next check",
                         after, how, again->error);
    }
    upd__doctor_run_free(again);
    free(again);
}
