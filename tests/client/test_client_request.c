/* The request the engine sends, byte for byte against the device's own (shared/spec
 * esp8266-http-update.md sections 1 and 8, esp32-ota.md section 1): the captured
 * request of section 8, the free-space example of section 3, Host without :80/:443,
 * Authorization, no x-ESP8266-version for an empty version, spiffs mode, the ESP32
 * variant, the request after a followed redirect, and init's argument checks. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "memport.h"
#include "upd_test.h"
#include "updraft/client.h"
#include "updraft/error.h"

static uint32_t buf[2048 / 4];
static uint8_t flash[8192];
static memport mp;
static upd_client_ctx cl;
static char req[2048];

static const upd_flash_layout layout_4m2m = {
    .chip_size = 4194304, .sketch_size = 400000, .fs_start = 0x200000, .fs_end = 0x3FA000};

static upd_client_config base_cfg(void)
{
    upd_client_config c = {0};
    c.flavor = UPD_CLIENT_ESP8266_ARDUINO;
    c.mode = UPD_MODE_SKETCH;
    c.host = "127.0.0.1";
    c.port = 38081;
    c.path = "/fw.bin";
    c.version = "1.0.0";
    c.sdk_version = "2.5.0";
    c.sketch_md5 = "a43ad019932b627ab90ee35a94a764ee";
    c.chip_id = 15602487;
    static const uint8_t mac[6] = {0xDE, 0xBA, 0x7A, 0xB1, 0xE0, 0x42};
    memcpy(c.sta_mac, mac, 6);
    memcpy(c.ap_mac, mac, 6);
    return c;
}

/* Run one check against a single canned response; the request lands in req. */
static upd_client_result run(const upd_client_config *cfg, const upd_flash_layout *l,
                             const char *resp)
{
    memport_init(&mp, flash, l->fs_start - sizeof flash, sizeof flash, l);
    memport_add_response(&mp, resp, strlen(resp), MP_CLOSE);
    int e = upd_client_init(&cl, cfg, &mp.port, buf, sizeof buf);
    CHECK_INT(e, ==, 0);
    if (e)
        return UPD_CLIENT_FAILED;
    upd_client_result r = upd_client_run(&cl);
    memport_request(&mp, 0, req, sizeof req);
    return r;
}

/* The exact request of spec section 8, captured from the real client. */
static void test_section8_request(void)
{
    upd_client_config cfg = base_cfg();
    CHECK_INT(run(&cfg, &layout_4m2m, "HTTP/1.0 304 Not Modified\r\n\r\n"), ==,
              UPD_CLIENT_NO_UPDATES);
    CHECK_STR(req, "GET /fw.bin HTTP/1.0\r\n"
                   "Host: 127.0.0.1:38081\r\n"
                   "User-Agent: ESP8266-http-Update\r\n"
                   "Connection: close\r\n"
                   "x-ESP8266-Chip-ID: 15602487\r\n"
                   "x-ESP8266-STA-MAC: DE:BA:7A:B1:E0:42\r\n"
                   "x-ESP8266-AP-MAC: DE:BA:7A:B1:E0:42\r\n"
                   "x-ESP8266-free-space: 1695744\r\n"
                   "x-ESP8266-sketch-size: 400000\r\n"
                   "x-ESP8266-sketch-md5: a43ad019932b627ab90ee35a94a764ee\r\n"
                   "x-ESP8266-chip-size: 4194304\r\n"
                   "x-ESP8266-sdk-version: 2.5.0\r\n"
                   "x-ESP8266-mode: sketch\r\n"
                   "x-ESP8266-version: 1.0.0\r\n"
                   "Content-Length: 0\r\n"
                   "\r\n");
    CHECK_STR(mp.host, "127.0.0.1");
    CHECK_INT(mp.tcp_port, ==, 38081);
    CHECK_INT(upd_client_error(&cl), ==, 0);
}

/* Section 1/3: 4 MB board, 1 MB filesystem at 0x300000, sketch 314240: free 2830336.
 * Port 80 is left out of Host; Authorization comes after User-Agent; the query stays;
 * an empty version sends no x-ESP8266-version; spiffs mode. */
static void test_section1_variants(void)
{
    static const upd_flash_layout l = {
        .chip_size = 4194304, .sketch_size = 314240, .fs_start = 0x300000, .fs_end = 0x3FA000};
    upd_client_config cfg = base_cfg();
    cfg.host = "ota.example.com";
    cfg.port = 80;
    cfg.path = "/update.php?app=thermo&x=1";
    cfg.auth = "dXNlcjpwYXNz";
    cfg.version = "";
    cfg.mode = UPD_MODE_FS;
    cfg.chip_id = 10490624;
    static const uint8_t sta[6] = {0x5C, 0xCF, 0x7F, 0x0A, 0x1B, 0x2C};
    static const uint8_t ap[6] = {0x5E, 0xCF, 0x7F, 0x0A, 0x1B, 0x2C};
    memcpy(cfg.sta_mac, sta, 6);
    memcpy(cfg.ap_mac, ap, 6);
    cfg.sdk_version = "2.2.2-dev(38a443e)";
    cfg.sketch_md5 = "0123456789abcdef0123456789abcdef";
    CHECK_INT(run(&cfg, &l, "HTTP/1.1 304 Not Modified\r\n\r\n"), ==, UPD_CLIENT_NO_UPDATES);
    CHECK_STR(req, "GET /update.php?app=thermo&x=1 HTTP/1.0\r\n"
                   "Host: ota.example.com\r\n"
                   "User-Agent: ESP8266-http-Update\r\n"
                   "Authorization: Basic dXNlcjpwYXNz\r\n"
                   "Connection: close\r\n"
                   "x-ESP8266-Chip-ID: 10490624\r\n"
                   "x-ESP8266-STA-MAC: 5C:CF:7F:0A:1B:2C\r\n"
                   "x-ESP8266-AP-MAC: 5E:CF:7F:0A:1B:2C\r\n"
                   "x-ESP8266-free-space: 2830336\r\n"
                   "x-ESP8266-sketch-size: 314240\r\n"
                   "x-ESP8266-sketch-md5: 0123456789abcdef0123456789abcdef\r\n"
                   "x-ESP8266-chip-size: 4194304\r\n"
                   "x-ESP8266-sdk-version: 2.2.2-dev(38a443e)\r\n"
                   "x-ESP8266-mode: spiffs\r\n"
                   "Content-Length: 0\r\n"
                   "\r\n");
    /* https on 443: no port in Host either; the path defaults to "/" */
    cfg.tls = 1;
    cfg.port = 443;
    cfg.path = NULL;
    cfg.auth = NULL;
    CHECK_INT(run(&cfg, &l, "HTTP/1.0 304 Not Modified\r\n\r\n"), ==, UPD_CLIENT_NO_UPDATES);
    CHECK(strncmp(req, "GET / HTTP/1.0\r\nHost: ota.example.com\r\nUser-Agent: ", 50) == 0);
    CHECK_INT(mp.tls, ==, 1);
    CHECK_INT(mp.tcp_port, ==, 443);
}

/* esp32-ota.md section 1: ESP32-http-Update, Cache-Control, x-ESP32-* with the next
 * slot's size as free space, sketch-sha256 in uppercase, no Content-Length. */
static void test_esp32_request(void)
{
    static const upd_flash_layout l = {.chip_size = 4194304,
                                       .sketch_size = 912384,
                                       .fs_start = 0x290000,
                                       .fs_end = 0x3F0000,
                                       .slot_start = 0x150000,
                                       .slot_size = 0x140000};
    upd_client_config cfg = base_cfg();
    cfg.flavor = UPD_CLIENT_ESP32_ARDUINO;
    cfg.port = 8080;
    cfg.path = "/esp32/update";
    cfg.sdk_version = "v4.4.5";
    cfg.version = "2.0.1";
    cfg.sketch_sha256 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
    CHECK_INT(run(&cfg, &l, "HTTP/1.0 304 Not Modified\r\n\r\n"), ==, UPD_CLIENT_NO_UPDATES);
    CHECK_STR(req, "GET /esp32/update HTTP/1.0\r\n"
                   "Host: 127.0.0.1:8080\r\n"
                   "User-Agent: ESP32-http-Update\r\n"
                   "Connection: close\r\n"
                   "Cache-Control: no-cache\r\n"
                   "x-ESP32-STA-MAC: DE:BA:7A:B1:E0:42\r\n"
                   "x-ESP32-AP-MAC: DE:BA:7A:B1:E0:42\r\n"
                   "x-ESP32-free-space: 1310720\r\n"
                   "x-ESP32-sketch-size: 912384\r\n"
                   "x-ESP32-sketch-md5: a43ad019932b627ab90ee35a94a764ee\r\n"
                   "x-ESP32-sketch-sha256: "
                   "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08\r\n"
                   "x-ESP32-chip-size: 4194304\r\n"
                   "x-ESP32-sdk-version: v4.4.5\r\n"
                   "x-ESP32-mode: sketch\r\n"
                   "x-ESP32-version: 2.0.1\r\n"
                   "\r\n");
}

/* Section 8: with redirects on, the second request carries none of the x-ESP8266
 * headers (HTTPClient cleared them), only its own lines and Content-Length. An absolute
 * Location moves to its host and port. */
static void test_redirect_request(void)
{
    static const char r1[] =
        "HTTP/1.1 302 Found\r\nLocation: http://cdn.example.net:8081/a/fw.bin?v=2\r\n"
        "Content-Length: 0\r\n\r\n";
    static const char r2[] = "HTTP/1.0 304 Not Modified\r\n\r\n";
    upd_client_config cfg = base_cfg();
    cfg.follow_redirects = 1;
    cfg.auth = "YTpi";
    memport_init(&mp, flash, layout_4m2m.fs_start - sizeof flash, sizeof flash, &layout_4m2m);
    memport_add_response(&mp, r1, strlen(r1), MP_CLOSE);
    memport_add_response(&mp, r2, strlen(r2), MP_CLOSE);
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, buf, sizeof buf), ==, 0);
    CHECK_INT(upd_client_run(&cl), ==, UPD_CLIENT_NO_UPDATES);
    CHECK_INT(mp.connects, ==, 2);
    CHECK_STR(mp.host, "cdn.example.net");
    CHECK_INT(mp.tcp_port, ==, 8081);
    memport_request(&mp, 1, req, sizeof req);
    CHECK_STR(req, "GET /a/fw.bin?v=2 HTTP/1.0\r\n"
                   "Host: cdn.example.net:8081\r\n"
                   "User-Agent: ESP8266-http-Update\r\n"
                   "Authorization: Basic YTpi\r\n"
                   "Connection: close\r\n"
                   "Content-Length: 0\r\n"
                   "\r\n");
    memport_request(&mp, 0, req, sizeof req);
    CHECK_CONTAINS(req, "x-ESP8266-mode: sketch\r\n");
}

/* Mode "version" (spec section 1, getAvailableVersion): the same request with
 * x-ESP8266-mode: version; the offer comes back from x-version and x-MD5. */
static void test_version_request(void)
{
    upd_client_config cfg = base_cfg();
    cfg.version_only = 1;
    cfg.mode = UPD_MODE_FS; /* not used in version mode */
    CHECK_INT(run(&cfg, &layout_4m2m,
                  "HTTP/1.0 200 OK\r\nx-MD5: 0123456789ABCDEF0123456789abcdef\r\n"
                  "x-version: 1.0.1\r\n\r\n"),
              ==, UPD_CLIENT_OK);
    CHECK_STR(req, "GET /fw.bin HTTP/1.0\r\n"
                   "Host: 127.0.0.1:38081\r\n"
                   "User-Agent: ESP8266-http-Update\r\n"
                   "Connection: close\r\n"
                   "x-ESP8266-Chip-ID: 15602487\r\n"
                   "x-ESP8266-STA-MAC: DE:BA:7A:B1:E0:42\r\n"
                   "x-ESP8266-AP-MAC: DE:BA:7A:B1:E0:42\r\n"
                   "x-ESP8266-free-space: 1695744\r\n"
                   "x-ESP8266-sketch-size: 400000\r\n"
                   "x-ESP8266-sketch-md5: a43ad019932b627ab90ee35a94a764ee\r\n"
                   "x-ESP8266-chip-size: 4194304\r\n"
                   "x-ESP8266-sdk-version: 2.5.0\r\n"
                   "x-ESP8266-mode: version\r\n"
                   "x-ESP8266-version: 1.0.0\r\n"
                   "Content-Length: 0\r\n"
                   "\r\n");
    CHECK_STR(upd_client_offered_version(&cl), "1.0.1");
    uint8_t d[16];
    CHECK_INT(upd_client_offered_md5(&cl, d), ==, 1);
    CHECK_INT(d[0], ==, 0x01);
    CHECK_INT(d[15], ==, 0xef);
    CHECK_INT(mp.writes, ==, 0);
    /* a version longer than UPD_CLIENT_VERSION_MAX is not cut: the check fails */
    CHECK_INT(run(&cfg, &layout_4m2m,
                  "HTTP/1.0 200 OK\r\nx-version: "
                  "0123456789012345678901234567890123456789012345678\r\n\r\n"),
              ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, UPD_ENOSPC);
    /* ESP32's HTTPUpdate has no version mode */
    cfg.flavor = UPD_CLIENT_ESP32_ARDUINO;
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, buf, sizeof buf), ==, UPD_EUNSUPPORTED);
}

#define RESP(s) s, strlen(s)

/* One check with F_REPORT on the same memport (its report area kept across checks):
 * a single response; the request lands in req. */
static upd_client_result run_keep(const upd_client_config *cfg, const void *resp, size_t n)
{
    mp.nresp = 0;
    mp.cur = -1;
    mp.sent_len = 0;
    memport_add_response(&mp, resp, n, MP_CLOSE);
    CHECK_INT(upd_client_init(&cl, cfg, &mp.port, buf, sizeof buf), ==, 0);
    upd_client_result r = upd_client_run(&cl);
    memport_request(&mp, 0, req, sizeof req);
    return r;
}

#define REQ_HEAD                                                                                   \
    "GET /fw.bin HTTP/1.0\r\n"                                                                     \
    "Host: 127.0.0.1:38081\r\n"                                                                    \
    "User-Agent: ESP8266-http-Update\r\n"                                                          \
    "Connection: close\r\n"                                                                        \
    "x-ESP8266-Chip-ID: 15602487\r\n"                                                              \
    "x-ESP8266-STA-MAC: DE:BA:7A:B1:E0:42\r\n"                                                     \
    "x-ESP8266-AP-MAC: DE:BA:7A:B1:E0:42\r\n"                                                      \
    "x-ESP8266-free-space: 1695744\r\n"                                                            \
    "x-ESP8266-sketch-size: 400000\r\n"                                                            \
    "x-ESP8266-sketch-md5: a43ad019932b627ab90ee35a94a764ee\r\n"                                   \
    "x-ESP8266-chip-size: 4194304\r\n"                                                             \
    "x-ESP8266-sdk-version: 2.5.0\r\n"                                                             \
    "x-ESP8266-mode: sketch\r\n"                                                                   \
    "x-ESP8266-version: 1.0.0\r\n"

/* The outcome report (docs/protocol.md "Outcome report"): the attempt is recorded, sent
 * as one header after the device headers on the next check, and cleared once a check
 * carrying it got a complete answer. */
static void test_report_header(void)
{
    static uint8_t img[600];
    static char resp[1024];
    memset(img, 0x11, sizeof img);
    img[0] = 0xE9;
    img[3] = 0x40;
    upd_client_config cfg = base_cfg();
    cfg.features = UPD_CLIENT_F_REPORT;
    memport_init(&mp, flash, layout_4m2m.fs_start - sizeof flash, sizeof flash, &layout_4m2m);
    /* 1. nothing recorded yet: the request is the device's own */
    CHECK_INT(run_keep(&cfg, RESP("HTTP/1.0 304 Not Modified\r\n\r\n")), ==, UPD_CLIENT_NO_UPDATES);
    CHECK_STR(req, REQ_HEAD "Content-Length: 0\r\n\r\n");
    CHECK_INT(mp.report_writes, ==, 0);
    /* 2. an image with a wrong x-MD5: Updater 7 is recorded */
    int hl = snprintf(resp, sizeof resp,
                      "HTTP/1.0 200 OK\r\nContent-Length: %u\r\nx-MD5: "
                      "00112233445566778899AABBCCDDEEFF\r\nx-version: 1.0.1\r\n\r\n",
                      (unsigned)sizeof img);
    memcpy(resp + hl, img, sizeof img);
    CHECK_INT(run_keep(&cfg, resp, (size_t)hl + sizeof img), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, 7);
    CHECK_INT(mp.report_writes, ==, 1);
    /* 3. the next check carries it; the connection breaks before an answer: kept */
    CHECK_INT(run_keep(&cfg, RESP("HTTP/1.0 200 OK\r\nCont")), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, -5);
    CHECK_STR(req, REQ_HEAD "x-updraft-report: v=1;result=7;md5=00112233445566778899aabbccddeeff;"
                            "version=1.0.1;rollback=0\r\n"
                            "Content-Length: 0\r\n\r\n");
    CHECK_INT(mp.report_writes, ==, 1);
    /* 4. sent again; a 304 is a complete answer: cleared */
    CHECK_INT(run_keep(&cfg, RESP("HTTP/1.0 304 Not Modified\r\n\r\n")), ==, UPD_CLIENT_NO_UPDATES);
    CHECK_CONTAINS(req, "x-updraft-report: v=1;result=7;");
    CHECK_INT(mp.report_writes, ==, 2);
    CHECK_INT(run_keep(&cfg, RESP("HTTP/1.0 304 Not Modified\r\n\r\n")), ==, UPD_CLIENT_NO_UPDATES);
    CHECK(strstr(req, "x-updraft-report") == NULL);
    /* 5. a negative code, no x-MD5, a version that cannot stand in the syntax */
    CHECK_INT(run_keep(&cfg, RESP("HTTP/1.0 200 OK\r\nx-version: 2;beta\r\n\r\n")), ==,
              UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, -101);
    CHECK_INT(run_keep(&cfg, RESP("HTTP/1.0 404 Not Found\r\n\r\n")), ==, UPD_CLIENT_FAILED);
    CHECK_CONTAINS(req,
                   "x-ESP8266-version: 1.0.0\r\nx-updraft-report: v=1;result=-101;rollback=0\r\n"
                   "Content-Length: 0\r\n\r\n");
    /* 6. installed (result 0), then the platform rolled it back: rollback=1 */
    hl =
        snprintf(resp, sizeof resp, "HTTP/1.0 200 OK\r\nContent-Length: %u\r\nx-version: 7\r\n\r\n",
                 (unsigned)sizeof img);
    memcpy(resp + hl, img, sizeof img);
    CHECK_INT(run_keep(&cfg, resp, (size_t)hl + sizeof img), ==, UPD_CLIENT_OK);
    memport_enable_rollback(&mp);
    mp.boot_state = UPD_BOOT_ROLLED_BACK;
    /* without the feature nothing is sent (and the record stays) */
    cfg.features = 0;
    CHECK_INT(run_keep(&cfg, RESP("HTTP/1.0 304 Not Modified\r\n\r\n")), ==, UPD_CLIENT_NO_UPDATES);
    CHECK_STR(req, REQ_HEAD "Content-Length: 0\r\n\r\n");
    cfg.features = UPD_CLIENT_F_REPORT;
    /* a redirect is an answer: cleared; the redirected request does not carry it */
    cfg.follow_redirects = 1;
    mp.nresp = 0;
    mp.cur = -1;
    mp.sent_len = 0;
    memport_add_response(&mp, RESP("HTTP/1.0 302 Found\r\nLocation: /b\r\n\r\n"), MP_CLOSE);
    memport_add_response(&mp, RESP("HTTP/1.0 304 Not Modified\r\n\r\n"), MP_CLOSE);
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, buf, sizeof buf), ==, 0);
    CHECK_INT(upd_client_run(&cl), ==, UPD_CLIENT_NO_UPDATES);
    memport_request(&mp, 0, req, sizeof req);
    CHECK_CONTAINS(req, "x-updraft-report: v=1;result=0;version=7;rollback=1\r\n");
    memport_request(&mp, 1, req, sizeof req);
    CHECK(strstr(req, "x-updraft-report") == NULL);
    CHECK_INT(run_keep(&cfg, RESP("HTTP/1.0 304 Not Modified\r\n\r\n")), ==, UPD_CLIENT_NO_UPDATES);
    CHECK(strstr(req, "x-updraft-report") == NULL);
    /* version mode records nothing */
    cfg.version_only = 1;
    CHECK_INT(run_keep(&cfg, RESP("HTTP/1.0 200 OK\r\nx-version: 9\r\n\r\n")), ==, UPD_CLIENT_OK);
    cfg.version_only = 0;
    CHECK_INT(run_keep(&cfg, RESP("HTTP/1.0 304 Not Modified\r\n\r\n")), ==, UPD_CLIENT_NO_UPDATES);
    CHECK(strstr(req, "x-updraft-report") == NULL);
}

/* Rollback API: ESP8266 ports have no boot_state/confirm. */
static void test_confirm_api(void)
{
    memport_init(&mp, flash, layout_4m2m.fs_start - sizeof flash, sizeof flash, &layout_4m2m);
    CHECK_INT(upd_client_boot_state(&mp.port), ==, UPD_EUNSUPPORTED);
    CHECK_INT(upd_client_confirm(&mp.port), ==, UPD_EUNSUPPORTED);
    memport_enable_rollback(&mp);
    mp.boot_state = UPD_BOOT_PENDING;
    CHECK_INT(upd_client_boot_state(&mp.port), ==, UPD_BOOT_PENDING);
    CHECK_INT(upd_client_confirm(&mp.port), ==, 0);
    CHECK_INT(upd_client_boot_state(&mp.port), ==, UPD_BOOT_VALID);
    mp.state_fail = 1;
    CHECK_INT(upd_client_confirm(&mp.port), ==, UPD_ESTATE);
}

static void test_init_checks(void)
{
    upd_client_config cfg = base_cfg();
    memport_init(&mp, flash, layout_4m2m.fs_start - sizeof flash, sizeof flash, &layout_4m2m);
    CHECK_INT(upd_client_init(NULL, &cfg, &mp.port, buf, sizeof buf), ==, UPD_EINVAL);
    CHECK_INT(upd_client_init(&cl, NULL, &mp.port, buf, sizeof buf), ==, UPD_EINVAL);
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, (uint8_t *)buf + 1, 1500), ==, UPD_EINVAL);
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, buf, 1023), ==, UPD_ENOSPC);
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, buf, 1024), ==, 0);
    cfg.features = UPD_CLIENT_F_INSPECT;
    if (MP_HAVE_INSPECT) {
        CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, buf, 1024), ==, UPD_ENOSPC);
        CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, buf, sizeof buf), ==, 0);
    } else { /* a device build without the inspector refuses the flag */
        CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, buf, sizeof buf), ==, UPD_EUNSUPPORTED);
    }
    cfg.features = UPD_CLIENT_F_ALL; /* fits the smallest buffer */
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, buf, 1024), ==, 0);
    cfg.flavor = UPD_CLIENT_ESP_IDF;
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, buf, sizeof buf), ==, UPD_EUNSUPPORTED);
    cfg = base_cfg();
    cfg.host = "a-very-long-host-name-that-is-longer-than-sixty-three-characters.example.com";
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, buf, sizeof buf), ==, UPD_EINVAL);
    cfg = base_cfg();
    static char longpath[1100];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[0] = '/';
    cfg.path = longpath;
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, buf, 1024), ==, UPD_ENOSPC);
    /* a failed init leaves a context that is DONE and FAILED, safe to poll */
    CHECK_INT(upd_client_poll(&cl), ==, UPD_CLIENT_DONE);
    CHECK_INT(upd_client_result_of(&cl), ==, UPD_CLIENT_FAILED);
    upd_port p = mp.port;
    p.crypto.md5.init = NULL;
    cfg = base_cfg();
    CHECK_INT(upd_client_init(&cl, &cfg, &p, buf, sizeof buf), ==, UPD_EINVAL);
    CHECK_INT((int)sizeof(upd_client_ctx), <=, 512);
    printf("# sizeof(upd_client_ctx) = %u\n", (unsigned)sizeof(upd_client_ctx));
}

int main(void)
{
    RUN(test_section8_request);
    RUN(test_section1_variants);
    RUN(test_esp32_request);
    RUN(test_redirect_request);
    RUN(test_version_request);
    RUN(test_report_header);
    RUN(test_confirm_api);
    RUN(test_init_checks);
    return upd_test_summary();
}
