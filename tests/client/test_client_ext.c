/* The engine beyond the real client, and the engine driven by hand (no upd_client_run):
 * resume with Range after an interrupted download (progress in the state area), the
 * server ignoring Range, a 206 for another file, SHA-256 from x-SHA256 and from the
 * config, the progress callback, timeouts across a clock wraparound, and feeding a
 * response in arbitrary pieces. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "imgwriter.h"
#include "memport.h"
#include "upd_test.h"
#include "updraft/client.h"
#include "updraft/error.h"

#define KB 1024u

static uint32_t cbuf[2048 / 4];
static uint8_t flash[20 * KB];
static uint8_t img[8 * KB];
static char resp[9 * KB];
static char req[1024];
static memport mp;
static upd_client_ctx cl;
static int32_t img_len;
static char img_md5[33], img_sha[65];

static const upd_flash_layout L = {.chip_size = 1024 * KB,
                                   .sketch_size = 300000,
                                   .fs_start = 0xEB000,
                                   .fs_end = 0xFB000,
                                   .flash_mode = 2};
#define BASE (0xEB000u - 12 * KB)

static const tw_seg segs[] = {{0x40201010u, 2500u, 201u},
                              {0x40100000u, 903u, 202u},
                              {0x3FFE8000u, 36u, 203u},
                              {0x3FFE8030u, 99u, 204u}};

static void hex(char *out, const uint8_t *p, int n)
{
    for (int i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static void make_image(void)
{
    tw_arduino_opts o = {2, 0x20, 2, segs, 4, TW_CRC_AT_1010};
    img_len = tw_arduino_bin(img, sizeof img, &o);
    uint8_t d[32];
    tw_md5(img, (size_t)img_len, d);
    hex(img_md5, d, 16);
    tw_sha256(img, (size_t)img_len, d);
    hex(img_sha, d, 32);
}

static upd_client_config cfg_for(uint32_t features)
{
    upd_client_config c = {0};
    c.flavor = UPD_CLIENT_ESP8266_ARDUINO;
    c.host = "10.0.0.2";
    c.port = 80;
    c.path = "/fw";
    c.sdk_version = "2.2.2";
    c.sketch_md5 = "00000000000000000000000000000000";
    c.features = features;
    c.resume_step = 4096;
    return c;
}

/* A response: head (printf format, may use the arguments) + img[from, to). */
static size_t response(const char *head, int32_t from, int32_t to)
{
    size_t n = strlen(head);
    memcpy(resp, head, n);
    memcpy(resp + n, img + from, (size_t)(to - from));
    return n + (size_t)(to - from);
}

static upd_client_result check(const upd_client_config *cfg, size_t len, int end)
{
    mp.nresp = 0;
    mp.cur = -1;
    mp.sent_len = 0;
    memport_add_response(&mp, resp, len, end);
    CHECK_INT(upd_client_init(&cl, cfg, &mp.port, cbuf, sizeof cbuf), ==, 0);
    upd_client_result r = upd_client_run(&cl);
    memport_request(&mp, 0, req, sizeof req);
    return r;
}

static int staged_ok(void)
{
    uint32_t start = L.fs_start - (((uint32_t)img_len + 4095u) & ~4095u);
    return memcmp(flash + (start - BASE), img, (size_t)img_len) == 0;
}

static char head[512];

/* Interrupted at 6000 bytes (record at 4096), resumed with Range, completed. */
static void test_resume_206(void)
{
    upd_client_config cfg = cfg_for(UPD_CLIENT_F_ALL);
    memset(flash, 0xA5, sizeof flash);
    memport_init(&mp, flash, BASE, sizeof flash, &L);
    snprintf(head, sizeof head,
             "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\nETag: \"v7\"\r\nx-MD5: %s\r\n"
             "x-SHA256: %s\r\n\r\n",
             (long)img_len, img_md5, img_sha);
    CHECK_INT(check(&cfg, response(head, 0, 6000), MP_CLOSE), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, 6);
    CHECK_INT(mp.resume_writes, ==, 1);
    CHECK(strstr(req, "Range:") == NULL);
    /* the next check asks for the rest; a 206 without x-MD5 (as updraft serves it) */
    snprintf(head, sizeof head,
             "HTTP/1.1 206 Partial Content\r\nContent-Length: %ld\r\nContent-Range: bytes "
             "4096-%ld/%ld\r\nETag: \"v7\"\r\n\r\n",
             (long)img_len - 4096, (long)img_len - 1, (long)img_len);
    uint32_t erases = mp.erases;
    CHECK_INT(check(&cfg, response(head, 4096, img_len), MP_CLOSE), ==, UPD_CLIENT_OK);
    CHECK_INT(upd_client_error(&cl), ==, 0);
    CHECK_CONTAINS(req, "Content-Length: 0\r\nRange: bytes=4096-\r\n\r\n");
    CHECK_INT(mp.erases - erases, ==, 1); /* only the second sector again */
    CHECK(staged_ok());
    CHECK_INT(mp.boot_writes, ==, 1);
    /* the record is gone: the next check is a plain one */
    snprintf(head, sizeof head, "HTTP/1.1 304 Not Modified\r\n\r\n");
    CHECK_INT(check(&cfg, response(head, 0, 0), MP_CLOSE), ==, UPD_CLIENT_NO_UPDATES);
    CHECK(strstr(req, "Range:") == NULL);
    CHECK_INT(mp.nor_violations + mp.range_violations + mp.unerased_writes, ==, 0);
}

/* The data already on flash went bad while the device was off: the MD5 (from the
 * record) catches it at the end. */
static void test_resume_corrupted_flash(void)
{
    upd_client_config cfg = cfg_for(UPD_CLIENT_F_RESUME);
    memset(flash, 0xA5, sizeof flash);
    memport_init(&mp, flash, BASE, sizeof flash, &L);
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\nx-MD5: %s\r\n\r\n",
             (long)img_len, img_md5);
    CHECK_INT(check(&cfg, response(head, 0, 5000), MP_CLOSE), ==, UPD_CLIENT_FAILED);
    uint32_t start = L.fs_start - (((uint32_t)img_len + 4095u) & ~4095u);
    flash[start - BASE + 3000] ^= 0x01;
    snprintf(head, sizeof head,
             "HTTP/1.1 206 Partial Content\r\nContent-Length: %ld\r\nContent-Range: bytes "
             "4096-%ld/%ld\r\n\r\n",
             (long)img_len - 4096, (long)img_len - 1, (long)img_len);
    CHECK_INT(check(&cfg, response(head, 4096, img_len), MP_CLOSE), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, 7);
    CHECK_INT(mp.boot_writes, ==, 0);
}

/* A write the flash reports as done but did not keep (a bit that stays 1): the hashes
 * are taken over the image read back from flash, so the check fails (x-MD5: Updater
 * error 7; a SHA-256 only: UPD_ESHA256) and no boot command is written. The device's
 * own client hashes the bytes as received and would have booted the broken image. */
static void test_write_not_kept(void)
{
    for (int sha = 0; sha < 2; sha++) {
        upd_client_config cfg = cfg_for(0);
        uint8_t want[32];
        tw_sha256(img, (size_t)img_len, want);
        if (sha)
            cfg.expected_sha256 = want;
        memset(flash, 0xA5, sizeof flash);
        memport_init(&mp, flash, BASE, sizeof flash, &L);
        mp.drop_bit_at = 1;
        if (sha)
            snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\n\r\n",
                     (long)img_len);
        else
            snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\nx-MD5: %s\r\n\r\n", (long)img_len,
                     img_md5);
        CHECK_INT(check(&cfg, response(head, 0, img_len), MP_CLOSE), ==, UPD_CLIENT_FAILED);
        CHECK_INT(upd_client_error(&cl), ==, sha ? UPD_ESHA256 : 7);
        CHECK_INT(mp.boot_writes, ==, 0);
        CHECK(!staged_ok());
        /* the same download with a flash that keeps its writes installs the image */
        memport_init(&mp, flash, BASE, sizeof flash, &L);
        memset(flash, 0xA5, sizeof flash);
        CHECK_INT(check(&cfg, response(head, 0, img_len), MP_CLOSE), ==, UPD_CLIENT_OK);
        CHECK(staged_ok());
    }
}

/* A server that ignores Range answers 200 with the whole file: start over. A 206 for
 * another file (ETag changed) drops the record: UPD_ERESUME, and the next check is
 * plain. */
static void test_resume_ignored_and_mismatch(void)
{
    upd_client_config cfg = cfg_for(UPD_CLIENT_F_RESUME);
    memset(flash, 0xA5, sizeof flash);
    memport_init(&mp, flash, BASE, sizeof flash, &L);
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\nETag: \"a\"\r\n\r\n",
             (long)img_len);
    CHECK_INT(check(&cfg, response(head, 0, 5000), MP_CLOSE), ==, UPD_CLIENT_FAILED);
    CHECK_INT(check(&cfg, response(head, 0, img_len), MP_CLOSE), ==, UPD_CLIENT_OK);
    CHECK_CONTAINS(req, "Range: bytes=4096-");
    CHECK(staged_ok());

    mp.boot_writes = 0;
    CHECK_INT(check(&cfg, response(head, 0, 5000), MP_CLOSE), ==, UPD_CLIENT_FAILED);
    snprintf(head, sizeof head,
             "HTTP/1.1 206 Partial Content\r\nContent-Length: %ld\r\nContent-Range: bytes "
             "4096-%ld/%ld\r\nETag: \"b\"\r\n\r\n",
             (long)img_len - 4096, (long)img_len - 1, (long)img_len);
    CHECK_INT(check(&cfg, response(head, 4096, img_len), MP_CLOSE), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, UPD_ERESUME);
    CHECK_STR(upd_client_strerror(UPD_ERESUME), upd_strerror(UPD_ERESUME));
    snprintf(head, sizeof head, "HTTP/1.1 304 Not Modified\r\n\r\n");
    CHECK_INT(check(&cfg, response(head, 0, 0), MP_CLOSE), ==, UPD_CLIENT_NO_UPDATES);
    CHECK(strstr(req, "Range:") == NULL);
    /* a 206 starting elsewhere is refused too */
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\n\r\n", (long)img_len);
    CHECK_INT(check(&cfg, response(head, 0, 5000), MP_CLOSE), ==, UPD_CLIENT_FAILED);
    snprintf(head, sizeof head,
             "HTTP/1.1 206 Partial Content\r\nContent-Length: %ld\r\nContent-Range: bytes "
             "0-%ld/%ld\r\n\r\n",
             (long)img_len, (long)img_len - 1, (long)img_len);
    CHECK_INT(check(&cfg, response(head, 0, img_len), MP_CLOSE), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, UPD_ERESUME);
    CHECK_INT(mp.boot_writes, ==, 0);
}

/* SHA-256: from x-SHA256 (UPD_CLIENT_F_SHA256) and from the config. */
static void test_sha256(void)
{
    upd_client_config cfg = cfg_for(UPD_CLIENT_F_SHA256);
    memport_init(&mp, flash, BASE, sizeof flash, &L);
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\nx-SHA256: %s\r\n\r\n",
             (long)img_len, img_sha);
    CHECK_INT(check(&cfg, response(head, 0, img_len), MP_CLOSE), ==, UPD_CLIENT_OK);
    img_sha[10] = img_sha[10] == '0' ? '1' : '0';
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\nx-SHA256: %s\r\n\r\n",
             (long)img_len, img_sha);
    mp.boot_writes = 0;
    CHECK_INT(check(&cfg, response(head, 0, img_len), MP_CLOSE), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, UPD_ESHA256);
    CHECK_INT(mp.boot_writes, ==, 0);
    img_sha[10] = img_sha[10] == '0' ? '1' : '0';
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\nx-SHA256: xyz\r\n\r\n",
             (long)img_len);
    CHECK_INT(check(&cfg, response(head, 0, img_len), MP_CLOSE), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, UPD_ESHA256);
    /* without the feature, x-SHA256 is ignored (parity) */
    cfg.features = 0;
    CHECK_INT(check(&cfg, response(head, 0, img_len), MP_CLOSE), ==, UPD_CLIENT_OK);
    /* the config's hash rules, with or without the feature */
    uint8_t d[32];
    tw_sha256(img, (size_t)img_len, d);
    cfg.expected_sha256 = d;
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\n\r\n", (long)img_len);
    CHECK_INT(check(&cfg, response(head, 0, img_len), MP_CLOSE), ==, UPD_CLIENT_OK);
    d[0] ^= 1;
    CHECK_INT(check(&cfg, response(head, 0, img_len), MP_CLOSE), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, UPD_ESHA256);
    /* a port without SHA-256 cannot check it: refused, not skipped */
    d[0] ^= 1;
    mp.port.crypto.sha256.init = NULL;
    CHECK_INT(check(&cfg, response(head, 0, img_len), MP_CLOSE), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, UPD_ESHA256);
    CHECK_INT(upd_client_detail(&cl), ==, UPD_EUNSUPPORTED);
}

static uint32_t prog[64];
static int nprog;
static void on_progress(void *arg, uint32_t done, uint32_t total)
{
    (void)arg;
    if (nprog < 64)
        prog[nprog++] = done;
    CHECK_INT(total, ==, img_len);
}

/* The engine by hand: poll, connect, send in pieces, feed in odd pieces; the progress
 * callback sees 0, every write, and the total, in increasing order. */
static void test_manual_drive_and_progress(void)
{
    upd_client_config cfg = cfg_for(0);
    cfg.progress = on_progress;
    memport_init(&mp, flash, BASE, sizeof flash, &L);
    snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Length: %ld\r\n\r\n", (long)img_len);
    size_t len = response(head, 0, img_len);
    nprog = 0;
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, cbuf, sizeof cbuf), ==, 0);
    CHECK_INT(upd_client_poll(&cl), ==, UPD_CLIENT_WANT_CONNECT);
    CHECK_STR(upd_client_host(&cl), "10.0.0.2");
    CHECK_INT(upd_client_port(&cl), ==, 80);
    size_t n;
    CHECK(upd_client_want_send(&cl, &n) == NULL); /* not before connected */
    upd_client_connected(&cl);
    CHECK_INT(upd_client_poll(&cl), ==, UPD_CLIENT_WANT_SEND);
    while (upd_client_poll(&cl) == UPD_CLIENT_WANT_SEND) {
        upd_client_want_send(&cl, &n);
        upd_client_sent(&cl, n > 33 ? 33 : n);
    }
    CHECK_INT(upd_client_poll(&cl), ==, UPD_CLIENT_WANT_RECV);
    size_t off = 0, step = 1;
    while (off < len && upd_client_poll(&cl) == UPD_CLIENT_WANT_RECV) {
        size_t k = len - off < step ? len - off : step;
        CHECK_INT(upd_client_feed(&cl, resp + off, k), ==, k);
        off += k;
        step = step * 3 + 1;
        if (step > 3000)
            step = 5;
    }
    CHECK_INT(upd_client_poll(&cl), ==, UPD_CLIENT_DONE);
    CHECK_INT(upd_client_result_of(&cl), ==, UPD_CLIENT_OK);
    CHECK_INT(upd_client_status(&cl), ==, 200);
    CHECK(staged_ok());
    CHECK_INT(nprog, >=, 4);
    CHECK_INT(prog[0], ==, 0);
    CHECK_INT(prog[nprog - 1], ==, img_len);
    for (int i = 1; i < nprog; i++)
        CHECK_INT(prog[i], >=, prog[i - 1]);
    /* after DONE nothing more is taken */
    CHECK_INT(upd_client_feed(&cl, "x", 1), ==, 0);
}

/* Timeouts use differences only: a clock that wraps around in the middle works. */
static void test_timeouts_wraparound(void)
{
    upd_client_config cfg = cfg_for(0);
    cfg.timeout_ms = 5000;
    memport_init(&mp, flash, BASE, sizeof flash, &L);
    mp.now = 0xFFFFF000u; /* 4 s before the wrap */
    mp.tick = 0;
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, cbuf, sizeof cbuf), ==, 0);
    upd_client_connected(&cl);
    size_t n;
    upd_client_want_send(&cl, &n);
    upd_client_sent(&cl, n);
    mp.now += 4900; /* wrapped, 4.9 s later */
    CHECK_INT(upd_client_poll(&cl), ==, UPD_CLIENT_WANT_RECV);
    upd_client_feed(&cl, "HTTP/1.1 200 OK\r\n", 17);
    mp.now += 4900;
    CHECK_INT(upd_client_poll(&cl), ==, UPD_CLIENT_WANT_RECV);
    mp.now += 5001;
    CHECK_INT(upd_client_poll(&cl), ==, UPD_CLIENT_DONE);
    CHECK_INT(upd_client_error(&cl), ==, -11);
    /* connection refused: -1 */
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, cbuf, sizeof cbuf), ==, 0);
    mp.connect_fail = 1;
    CHECK_INT(upd_client_run(&cl), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, -1);
    CHECK_STR(upd_client_strerror(-1), "connection failed");
    CHECK_STR(upd_client_strerror(-106), "Verify Bin Header Failed");
    CHECK_STR(upd_client_strerror(7), "MD5 verification failed");
    CHECK_STR(upd_client_strerror(9), "New Flash Configuration Wrong"); /* ESP8266 words */
}

int main(void)
{
    make_image();
    RUN(test_resume_206);
    RUN(test_resume_corrupted_flash);
    RUN(test_resume_ignored_and_mismatch);
    RUN(test_write_not_kept);
    RUN(test_sha256);
    RUN(test_manual_drive_and_progress);
    RUN(test_timeouts_wraparound);
    return upd_test_summary();
}
