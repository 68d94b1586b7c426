/* Signed images (shared/spec esp8266-http-update.md section 5): with a verifier in the
 * port's crypto ops the engine requires payload || signature || u32 LE length, the
 * length equal to the verifier's, hashes the payload read back from flash, verifies it
 * through the port and commits only the payload; x-MD5 is ignored. Failures are Updater
 * error 12. The verifier is memport's fake (the SHA-256 padded with zeros to 256). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sigdev.h"
#include "updraft/error.h"

#define SIG 256u

static uint32_t payload_len;

static const upd_flash_layout L32 = {.chip_size = 4096 * SD_KB,
                                     .sketch_size = 0x90000,
                                     .fs_start = 0x310000,
                                     .fs_end = 0x3F0000,
                                     .slot_start = 0x110000,
                                     .slot_size = 0x100000};

static const tw_seg e32_segs[] = {
    {0x3F400020u, 512u, 41u}, {0x3FFB0000u, 64u, 42u}, {0x400D0020u, 3000u, 43u}};

/* The payload (an ESP8266 .bin, or an ESP32 image), signed: returns the file length. */
static uint32_t make_signed(int esp32, uint32_t sig_len, uint32_t len_field)
{
    int32_t n;
    if (esp32) {
        tw_esp32_opts o;
        memset(&o, 0, sizeof o);
        o.mode = 2;
        o.size_freq = 0x20;
        o.entry = 0x40081000u;
        o.segs = e32_segs;
        o.nseg = 3;
        o.hash_appended = 1;
        o.app_desc = 1;
        o.version = "3.0.0";
        o.project = "signed";
        o.idf_ver = "v4.4.5";
        n = tw_esp32_image(sd_file, sizeof sd_file, &o);
        CHECK(n > 0);
    } else {
        n = (int32_t)sd_arduino_payload();
    }
    payload_len = (uint32_t)n;
    memport_sign(sd_file, payload_len, sd_file + payload_len, sig_len);
    tw_put_le32(sd_file + payload_len + sig_len, len_field);
    return payload_len + sig_len + 4;
}

/* One check against a 200 carrying sd_file[0, len) (Content-Length len) and head_extra,
 * the device with memport's fake verifier. */
static upd_client_result serve(int esp32, uint32_t len, const char *head_extra)
{
    sd_port(esp32 ? &L32 : &sd_layout, esp32 ? L32.slot_start : SD_BASE);
    memport_enable_verify(&sd_mp, SIG);
    sd_respond(len, len, head_extra);
    return sd_run(esp32 ? UPD_CLIENT_ESP32_ARDUINO : UPD_CLIENT_ESP8266_ARDUINO);
}

static void test_good_signature(void)
{
    uint32_t len = make_signed(0, SIG, SIG);
    /* a wrong x-MD5 is ignored, as by the real client with a verifier; only the payload
     * is copied */
    sd_check_installed(serve(0, len, "x-MD5: 0123456789abcdef0123456789abcdef\r\n"), len,
                       payload_len);
    CHECK_INT(sd_mp.verifies, ==, 1);
    /* an x-MD5 of the wrong length is ignored too (no -105) */
    CHECK_INT(serve(0, len, "x-MD5: abc\r\n"), ==, UPD_CLIENT_OK);
    CHECK_INT(serve(0, len, ""), ==, UPD_CLIENT_OK);
    CHECK_INT(sd_mp.nor_violations + sd_mp.range_violations + sd_mp.unerased_writes, ==, 0);
}

static void test_wrong_signature(void)
{
    uint32_t len = make_signed(0, SIG, SIG);
    sd_file[payload_len + 5] ^= 1;
    sd_check_refused(serve(0, len, ""));
    CHECK_STR(upd_client_strerror(12), "Signature verification failed");
    CHECK_INT(sd_mp.verifies, ==, 1);
    /* the payload changed after signing */
    len = make_signed(0, SIG, SIG);
    sd_file[0x1000 + 100] ^= 0x40;
    sd_check_refused(serve(0, len, ""));
}

/* The length field must be the verifier's modulus length. */
static void test_siglen(void)
{
    static const uint32_t odd[] = {0, 128, 255, 257, 512, 0xFFFFFFFFu};
    for (unsigned i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        uint32_t len = make_signed(0, SIG, odd[i]);
        sd_check_refused(serve(0, len, ""));
        CHECK_INT(sd_mp.verifies, ==, 0);
    }
    /* a 128-byte signature with a 128 length field, verifier wants 256 */
    uint32_t len = make_signed(0, 128, 128);
    sd_check_refused(serve(0, len, ""));
    /* an unsigned image */
    len = make_signed(0, SIG, SIG) - SIG - 4;
    sd_check_refused(serve(0, len, ""));
}

/* Files cut short (served with the length of what is left). */
static void test_truncated(void)
{
    uint32_t len = make_signed(0, SIG, SIG);
    /* the last 4 bytes missing: the "length" is signature bytes */
    sd_check_refused(serve(0, len - 4, ""));
    /* only the trailer: nothing before the signature */
    memmove(sd_file, sd_file + payload_len, SIG + 4);
    CHECK_INT(serve(0, SIG + 4, ""), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&sd_cl), ==, -106); /* not an image: refused at the peek */
    /* an image head with a length field larger than the file */
    len = make_signed(0, SIG, SIG);
    memmove(sd_file + 100, sd_file + payload_len + SIG, 4);
    sd_check_refused(serve(0, 104, ""));
    CHECK_INT(sd_mp.verifies, ==, 0);
    /* the body ends early: the download fails first (Updater 6) */
    len = make_signed(0, SIG, SIG);
    sd_port(&sd_layout, SD_BASE);
    memport_enable_verify(&sd_mp, SIG);
    sd_respond(len, len - 10, "");
    CHECK_INT(sd_run(UPD_CLIENT_ESP8266_ARDUINO), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&sd_cl), ==, 6);
    CHECK_INT(sd_mp.boot_writes, ==, 0);
}

/* Spec section 5 (inferred): the Updater patches the flash-mode byte on flash and hashes
 * what is on flash, so a DIO image signed as built fails on a DOUT chip. */
static void test_flash_mode_patch_breaks_signature(void)
{
    uint32_t len = make_signed(0, SIG, SIG);
    upd_flash_layout l = sd_layout;
    l.flash_mode = 3;
    sd_port(&l, SD_BASE);
    memport_enable_verify(&sd_mp, SIG);
    sd_respond(len, len, "");
    sd_check_refused(sd_run(UPD_CLIENT_ESP8266_ARDUINO));
    CHECK_INT(sd_mp.verifies, ==, 1);
}

/* ESP32 slot: the held-back first 16 bytes are hashed as received; only the payload
 * length is activated. With the inspector on, the payload (not the trailer) is judged. */
static void test_esp32_signed(void)
{
    uint32_t len = make_signed(1, SIG, SIG);
    CHECK_INT(serve(1, len, ""), ==, UPD_CLIENT_OK);
    CHECK_INT(upd_client_error(&sd_cl), ==, 0);
    CHECK_INT(sd_mp.activated, ==, 1);
    CHECK_INT(sd_mp.act_size, ==, payload_len);
    CHECK(memcmp(sd_flash, sd_file, len) == 0);
    sd_file[payload_len + 40] ^= 0x80;
    CHECK_INT(serve(1, len, ""), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&sd_cl), ==, 12);
    CHECK_INT(sd_mp.activated, ==, 0);
}

/* Without a verifier a signed file is just bytes (the real client without one): the
 * whole file is committed, x-MD5 checked. */
static void test_no_verifier(void)
{
    uint32_t len = make_signed(0, SIG, SIG);
    sd_port(&sd_layout, SD_BASE);
    sd_respond(len, len, "");
    CHECK_INT(sd_run(UPD_CLIENT_ESP8266_ARDUINO), ==, UPD_CLIENT_OK);
    CHECK_INT(sd_le32(sd_mp.boot + 16), ==, len);
}

int main(void)
{
    RUN(test_good_signature);
    RUN(test_wrong_signature);
    RUN(test_siglen);
    RUN(test_truncated);
    RUN(test_flash_mode_patch_breaks_signature);
    RUN(test_esp32_signed);
    RUN(test_no_verifier);
    return upd_test_summary();
}
