/* Signed images (shared/spec esp8266-http-update.md section 5): with a verifier in the
 * port's crypto ops the engine requires payload || signature || u32 LE length, the
 * length equal to the verifier's, hashes the payload read back from flash, verifies it
 * through the port and commits only the payload; x-MD5 is ignored. Failures are Updater
 * error 12. The verifier is memport's fake (the SHA-256 padded with zeros to 256). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "imgwriter.h"
#include "memport.h"
#include "upd_test.h"
#include "updraft/client.h"
#include "updraft/error.h"

#define KB  1024u
#define SIG 256u

static uint32_t cbuf[2048 / 4];
static uint8_t flash[20 * KB];
static uint8_t file[8 * KB + 512]; /* payload || signature || length */
static char resp[9 * KB + 512];
static memport mp;
static upd_client_ctx cl;
static uint32_t payload_len;

static const upd_flash_layout L = {.chip_size = 1024 * KB,
                                   .sketch_size = 300000,
                                   .fs_start = 0xEB000,
                                   .fs_end = 0xFB000,
                                   .flash_mode = 2};
#define BASE (0xEB000u - 12 * KB)

static const upd_flash_layout L32 = {.chip_size = 4096 * KB,
                                     .sketch_size = 0x90000,
                                     .fs_start = 0x310000,
                                     .fs_end = 0x3F0000,
                                     .slot_start = 0x110000,
                                     .slot_size = 0x100000};

static const tw_seg segs[] = {{0x40201010u, 2500u, 211u},
                              {0x40100000u, 903u, 212u},
                              {0x3FFE8000u, 36u, 213u},
                              {0x3FFE8030u, 99u, 214u}};
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
        n = tw_esp32_image(file, sizeof file, &o);
    } else {
        tw_arduino_opts o = {2, 0x20, 2, segs, 4, TW_CRC_AT_1010};
        n = tw_arduino_bin(file, sizeof file, &o);
    }
    CHECK(n > 0);
    payload_len = (uint32_t)n;
    memport_sign(file, payload_len, file + payload_len, sig_len);
    tw_put_le32(file + payload_len + sig_len, len_field);
    return payload_len + sig_len + 4;
}

/* One check against a 200 carrying file[0, len) (Content-Length len) and head_extra. */
static upd_client_result serve(int esp32, uint32_t len, const char *head_extra)
{
    const upd_flash_layout *l = esp32 ? &L32 : &L;
    memset(flash, 0xA5, sizeof flash);
    memport_init(&mp, flash, esp32 ? L32.slot_start : BASE, sizeof flash, l);
    memport_enable_verify(&mp, SIG);
    int hl = snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n%s\r\n",
                      (unsigned)len, head_extra);
    memcpy(resp + hl, file, len);
    memport_add_response(&mp, resp, (size_t)hl + len, MP_CLOSE);
    upd_client_config cfg = {0};
    cfg.flavor = esp32 ? UPD_CLIENT_ESP32_ARDUINO : UPD_CLIENT_ESP8266_ARDUINO;
    cfg.host = "10.0.0.3";
    cfg.path = "/signed";
    cfg.sdk_version = "2.2.2";
    cfg.sketch_md5 = "00000000000000000000000000000000";
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, cbuf, sizeof cbuf), ==, 0);
    return upd_client_run(&cl);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t staged_start(uint32_t len)
{
    return L.fs_start - ((len + 4095u) & ~4095u); /* placed by the whole file's length */
}

static int boot_size(void)
{
    return (int)le32(mp.boot + 16);
}

static void test_good_signature(void)
{
    uint32_t len = make_signed(0, SIG, SIG);
    /* a wrong x-MD5 is ignored, as by the real client with a verifier */
    CHECK_INT(serve(0, len, "x-MD5: 0123456789abcdef0123456789abcdef\r\n"), ==, UPD_CLIENT_OK);
    CHECK_INT(upd_client_error(&cl), ==, 0);
    CHECK_INT(mp.verifies, ==, 1);
    CHECK_INT(mp.boot_writes, ==, 1);
    CHECK_INT(boot_size(), ==, (int)payload_len); /* only the payload is copied */
    CHECK_INT(le32(mp.boot + 8), ==, staged_start(len));
    CHECK(memcmp(flash + (staged_start(len) - BASE), file, len) == 0);
    /* an x-MD5 of the wrong length is ignored too (no -105) */
    CHECK_INT(serve(0, len, "x-MD5: abc\r\n"), ==, UPD_CLIENT_OK);
    CHECK_INT(serve(0, len, ""), ==, UPD_CLIENT_OK);
    CHECK_INT(mp.nor_violations + mp.range_violations + mp.unerased_writes, ==, 0);
}

static void test_wrong_signature(void)
{
    uint32_t len = make_signed(0, SIG, SIG);
    file[payload_len + 5] ^= 1;
    CHECK_INT(serve(0, len, ""), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, 12);
    CHECK_STR(upd_client_strerror(12), "Signature verification failed");
    CHECK_INT(mp.verifies, ==, 1);
    CHECK_INT(mp.boot_writes, ==, 0);
    /* the payload changed after signing */
    len = make_signed(0, SIG, SIG);
    file[0x1000 + 100] ^= 0x40;
    CHECK_INT(serve(0, len, ""), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, 12);
    CHECK_INT(mp.boot_writes, ==, 0);
}

/* The length field must be the verifier's modulus length. */
static void test_siglen(void)
{
    static const uint32_t odd[] = {0, 128, 255, 257, 512, 0xFFFFFFFFu};
    for (unsigned i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        uint32_t len = make_signed(0, SIG, odd[i]);
        CHECK_INT(serve(0, len, ""), ==, UPD_CLIENT_FAILED);
        CHECK_INT(upd_client_error(&cl), ==, 12);
        CHECK_INT(mp.verifies, ==, 0);
        CHECK_INT(mp.boot_writes, ==, 0);
    }
    /* a 128-byte signature with a 128 length field, verifier wants 256 */
    uint32_t len = make_signed(0, 128, 128);
    CHECK_INT(serve(0, len, ""), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, 12);
    /* an unsigned image */
    len = make_signed(0, SIG, SIG) - SIG - 4;
    CHECK_INT(serve(0, len, ""), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, 12);
    CHECK_INT(mp.boot_writes, ==, 0);
}

/* Files cut short (served with the length of what is left). */
static void test_truncated(void)
{
    uint32_t len = make_signed(0, SIG, SIG);
    /* the last 4 bytes missing: the "length" is signature bytes */
    CHECK_INT(serve(0, len - 4, ""), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, 12);
    /* only the trailer: nothing before the signature */
    memmove(file, file + payload_len, SIG + 4);
    CHECK_INT(serve(0, SIG + 4, ""), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, -106); /* not an image: refused at the peek */
    /* an image head with a length field larger than the file */
    len = make_signed(0, SIG, SIG);
    memmove(file + 100, file + payload_len + SIG, 4);
    CHECK_INT(serve(0, 104, ""), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, 12);
    CHECK_INT(mp.verifies, ==, 0);
    /* the body ends early: the download fails first (Updater 6) */
    len = make_signed(0, SIG, SIG);
    int hl =
        snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n", (unsigned)len);
    memcpy(resp + hl, file, len - 10);
    memset(flash, 0xA5, sizeof flash);
    memport_init(&mp, flash, BASE, sizeof flash, &L);
    memport_enable_verify(&mp, SIG);
    memport_add_response(&mp, resp, (size_t)hl + len - 10, MP_CLOSE);
    upd_client_config cfg = {0};
    cfg.host = "10.0.0.3";
    cfg.sdk_version = "2.2.2";
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, cbuf, sizeof cbuf), ==, 0);
    CHECK_INT(upd_client_run(&cl), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, 6);
    CHECK_INT(mp.boot_writes, ==, 0);
}

/* Spec section 5 (inferred): the Updater patches the flash-mode byte on flash and hashes
 * what is on flash, so a DIO image signed as built fails on a DOUT chip. */
static void test_flash_mode_patch_breaks_signature(void)
{
    uint32_t len = make_signed(0, SIG, SIG);
    upd_flash_layout l = L;
    l.flash_mode = 3;
    memset(flash, 0xA5, sizeof flash);
    memport_init(&mp, flash, BASE, sizeof flash, &l);
    memport_enable_verify(&mp, SIG);
    int hl =
        snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n", (unsigned)len);
    memcpy(resp + hl, file, len);
    memport_add_response(&mp, resp, (size_t)hl + len, MP_CLOSE);
    upd_client_config cfg = {0};
    cfg.host = "10.0.0.3";
    cfg.sdk_version = "2.2.2";
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, cbuf, sizeof cbuf), ==, 0);
    CHECK_INT(upd_client_run(&cl), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, 12);
    CHECK_INT(mp.verifies, ==, 1);
}

/* ESP32 slot: the held-back first 16 bytes are hashed as received; only the payload
 * length is activated. With the inspector on, the payload (not the trailer) is judged. */
static void test_esp32_signed(void)
{
    uint32_t len = make_signed(1, SIG, SIG);
    CHECK_INT(serve(1, len, ""), ==, UPD_CLIENT_OK);
    CHECK_INT(upd_client_error(&cl), ==, 0);
    CHECK_INT(mp.activated, ==, 1);
    CHECK_INT(mp.act_size, ==, payload_len);
    CHECK(memcmp(flash, file, len) == 0);
    file[payload_len + 40] ^= 0x80;
    CHECK_INT(serve(1, len, ""), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, 12);
    CHECK_INT(mp.activated, ==, 0);
}

/* Without a verifier a signed file is just bytes (the real client without one): the
 * whole file is committed, x-MD5 checked. */
static void test_no_verifier(void)
{
    uint32_t len = make_signed(0, SIG, SIG);
    memset(flash, 0xA5, sizeof flash);
    memport_init(&mp, flash, BASE, sizeof flash, &L);
    int hl =
        snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n", (unsigned)len);
    memcpy(resp + hl, file, len);
    memport_add_response(&mp, resp, (size_t)hl + len, MP_CLOSE);
    upd_client_config cfg = {0};
    cfg.host = "10.0.0.3";
    cfg.sdk_version = "2.2.2";
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, cbuf, sizeof cbuf), ==, 0);
    CHECK_INT(upd_client_run(&cl), ==, UPD_CLIENT_OK);
    CHECK_INT(boot_size(), ==, (int)len);
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
