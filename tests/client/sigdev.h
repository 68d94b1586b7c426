/* The device the signed-image tests update, shared by the three that check the engine's
 * signature path with different verifiers: tests/client/test_client_sign.c (memport's
 * fake verifier), tests/host/test_client_rsa.c (GnuTLS, images from `updraft sign`'s
 * code) and tests/crypto/test_rsa_vectors.c (the device crypto library on the vectors
 * vectors.py makes; host and lx106). An ESP8266 with 4 MB of flash (DIO: it takes the
 * images built for 1 MB and those `mkimage` builds for 4 MB), a 300,000-byte sketch and
 * the filesystem from 0x300000; a 20 KB window of its flash from 12 KB below
 * the filesystem holds an image of up to 8 KB and its signature trailer where the engine
 * stages it; one check answered 200 with the file.
 *
 * Header only (upd_test.h's checks count per test program): include it once, in the
 * test's .c. Names sd_/SD_. */
#ifndef UPD_TEST_SIGDEV_H
#define UPD_TEST_SIGDEV_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "imgwriter.h"
#include "memport.h"
#include "upd_test.h"
#include "updraft/client.h"

#define SD_KB   1024u
#define SD_BASE (0x300000u - 12 * SD_KB) /* the flash window's first address */

static const upd_flash_layout sd_layout = {.chip_size = 4096 * SD_KB,
                                           .sketch_size = 300000,
                                           .fs_start = 0x300000,
                                           .fs_end = 0x3FA000,
                                           .flash_mode = 2};

static uint32_t sd_cbuf[2048 / 4]; /* the engine's buffer */
static uint8_t sd_flash[20 * SD_KB];
static uint8_t sd_file[8 * SD_KB + 1024]; /* the file served: payload || signature || length */
static char sd_resp[sizeof sd_file + 256];
static memport sd_mp;
static upd_client_ctx sd_cl;

static inline uint32_t sd_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The ESP8266 Arduino app (eboot + app, 4 segments, core 3.x CRC) the tests sign, into
 * sd_file; its length. */
static inline uint32_t sd_arduino_payload(void)
{
    static const tw_seg segs[] = {{0x40201010u, 2500u, 211u},
                                  {0x40100000u, 903u, 212u},
                                  {0x3FFE8000u, 36u, 213u},
                                  {0x3FFE8030u, 99u, 214u}};
    tw_arduino_opts o = {2, 0x20, 2, segs, 4, TW_CRC_AT_1010};
    int32_t n = tw_arduino_bin(sd_file, sizeof sd_file, &o);
    CHECK(n > 0);
    return n > 0 ? (uint32_t)n : 0;
}

/* Where the engine stages a len-byte file on sd_layout: below the filesystem, by whole
 * 4 KB sectors of the whole file's length. */
static inline uint32_t sd_staged_start(uint32_t len)
{
    return sd_layout.fs_start - ((len + 4095u) & ~4095u);
}

/* The device before a check: its flash window at base (sd_flash, every byte 0xA5: not
 * erased) on layout l, no verifier yet (the test gives its own). */
static inline void sd_port(const upd_flash_layout *l, uint32_t base)
{
    memset(sd_flash, 0xA5, sizeof sd_flash);
    memport_init(&sd_mp, sd_flash, base, sizeof sd_flash, l);
}

/* The server's answer to the next connection: 200 with Content-Length clen and the head
 * lines extra ("" or lines ending in CRLF), carrying sd_file[0, n) (n < clen: the body
 * ends early), then a close. */
static inline void sd_respond(uint32_t clen, uint32_t n, const char *extra)
{
    int hl = snprintf(sd_resp, sizeof sd_resp, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n%s\r\n",
                      (unsigned)clen, extra);
    CHECK(hl > 0 && (size_t)hl + n <= sizeof sd_resp);
    if (hl <= 0 || (size_t)hl + n > sizeof sd_resp)
        return;
    memcpy(sd_resp + hl, sd_file, n);
    memport_add_response(&sd_mp, sd_resp, (size_t)hl + n, MP_CLOSE);
}

/* One check by a device of the given flavor (UPD_CLIENT_ESP8266_ARDUINO, ...) through
 * sd_mp's port; its result (sd_cl has the Updater error). */
static inline upd_client_result sd_run(upd_client flavor)
{
    upd_client_config cfg = {0};
    cfg.flavor = flavor;
    cfg.host = "10.0.0.3";
    cfg.path = "/signed";
    cfg.sdk_version = "2.2.2";
    cfg.sketch_md5 = "00000000000000000000000000000000";
    CHECK_INT(upd_client_init(&sd_cl, &cfg, &sd_mp.port, sd_cbuf, sizeof sd_cbuf), ==, 0);
    return upd_client_run(&sd_cl);
}

/* A signed ESP8266 update installed: one boot command that has eboot copy the payload
 * only (payload_len bytes) from where the len-byte file was staged, and the whole file
 * there on flash as it was served. */
static inline void sd_check_installed(upd_client_result r, uint32_t len, uint32_t payload_len)
{
    CHECK_INT(r, ==, UPD_CLIENT_OK);
    CHECK_INT(upd_client_error(&sd_cl), ==, 0);
    CHECK_INT(sd_mp.boot_writes, ==, 1);
    CHECK_INT(sd_le32(sd_mp.boot + 16), ==, payload_len);
    CHECK_INT(sd_le32(sd_mp.boot + 8), ==, sd_staged_start(len));
    CHECK(memcmp(sd_flash + (sd_staged_start(len) - SD_BASE), sd_file, len) == 0);
}

/* A signed update refused: Updater error 12 (UPDATE_ERROR_SIGN) and no boot command
 * (nothing for eboot to copy: the running image stays). */
static inline void sd_check_refused(upd_client_result r)
{
    CHECK_INT(r, ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&sd_cl), ==, 12);
    CHECK_INT(sd_mp.boot_writes, ==, 0);
}

#endif
