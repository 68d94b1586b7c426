/* The ESP8266 NONOS SDK port (ports/esp8266) run for real: the port's own code and the
 * real engine (libupdraft-client, libupdraft-core) over a fake SDK (fake_sdk.c) that
 * plays a server through the espconn callbacks and checks the SDK's rules for flash, RTC
 * memory, timers and connections. Runs on lx106 under QEMU (ctest lx106.esp8266_port)
 * and on the host (ctest esp8266.port). Only a few flash sectors are modelled, so the
 * whole test fits the ESP8266's 80 KB of DRAM. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fake_sdk.h"
#include "imgwriter.h"
#include "upd_esp8266.h"
#include "upd_test.h"
#include "updraft/client.h"
#include "updraft/image.h"

/* A 1 MB board with a 64 KB filesystem (Arduino's "1M (FS:64KB)" layout). */
#define SKETCH_SIZE 400000u
#define FS_START    0xEB000u
#define FS_END      0xFB000u
#define CHIP_MODE   3u /* the chip runs DOUT; the image says DIO */
#define FREE_SPACE  (FS_START - ((SKETCH_SIZE + 4095u) & ~4095u))

static upd_esp8266 esp;
static upd_client_ctx cl;
static upd_client_config cfg;
static uint32_t cbuf[2048 / 4];
static uint8_t body[6 * 1024];
static int32_t body_len;
static char head[256];
static volatile int done_calls;
static upd_client_result done_result;
static int done_error;

static const tw_seg app_segs[] = {
    {0x40201010u, 1200u, 11u}, /* .irom0.text */
    {0x40100000u, 600u, 12u},  /* .text */
    {0x3FFE8000u, 36u, 13u},   /* .data */
    {0x3FFE8030u, 60u, 14u},   /* .rodata */
};

static void on_done(void *arg, upd_client_result r, int err)
{
    (void)arg;
    done_calls++;
    done_result = r;
    done_error = err;
}

static void hex(const uint8_t *d, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Reset the fake SDK and the port, make the image, start a check with the script. */
static void setup(const char *host)
{
    fk_reset();
    tw_arduino_opts o = {2, 0x20, 2, app_segs, 4, TW_CRC_AT_1010};
    body_len = tw_arduino_bin(body, sizeof body, &o);
    CHECK(body_len > 4096); /* two sectors */
    upd_flash_layout l;
    upd_esp8266_layout(&l, SKETCH_SIZE, FS_START, FS_END, CHIP_MODE);
    upd_esp8266_init(&esp, &l, 0);
    memset(&cfg, 0, sizeof cfg);
    upd_esp8266_device_config(&cfg);
    cfg.mode = UPD_MODE_SKETCH;
    cfg.host = host;
    cfg.port = 8266;
    cfg.path = "/fw.bin";
    cfg.version = "1.0.0";
    cfg.sketch_md5 = "0123456789abcdef0123456789abcdef";
}

static void start_check(void)
{
    done_calls = 0;
    done_result = UPD_CLIENT_RUNNING;
    done_error = 0;
    CHECK_INT(upd_client_init(&cl, &cfg, &esp.port, cbuf, sizeof cbuf), ==, 0);
    CHECK_INT(upd_esp8266_check_start(&esp, &cl, on_done, NULL), ==, 0);
}

/* Run one check against a server answering status/extra headers and body (cut after
 * `cut` bytes of the whole response when non-zero), ending with `end`. */
static void check(const char *status, const char *extra, const uint8_t *b, size_t blen,
                  size_t cut, size_t piece, int end)
{
    int n = snprintf(head, sizeof head, "HTTP/1.1 %s\r\nServer: fake\r\n%sConnection: close\r\n\r\n",
                     status, extra);
    fk_script s = {(const uint8_t *)head, (size_t)n, b, blen, cut, piece, end, 0};
    fk_set_script(&s);
    start_check();
    CHECK_INT(upd_esp8266_check_start(&esp, &cl, on_done, NULL), ==, -1); /* one at a time */
    CHECK_INT(fk_run(&done_calls, 120000), ==, 0);
    /* nothing more happens after done: the timer is off, the connection closed */
    static volatile int never;
    fk_run(&never, 1000);
    CHECK_INT(done_calls, ==, 1);
    for (int i = 0; i < 4; i++)
        CHECK(fk.timers[i] == NULL);
    CHECK_INT(fk.violations, ==, 0);
    for (int i = 0; i < fk.violations && i < FK_WHY_MAX; i++)
        printf("  fake SDK: %s\n", fk.why[i]);
}

static const uint8_t *rtc_cmd(void)
{
    return (const uint8_t *)&fk.rtc[UPD_ESP8266_RTC_BOOT_BLOCK];
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int rtc_cmd_is_empty(void)
{
    for (unsigned i = 0; i < 32; i++)
        if (fk.rtc[UPD_ESP8266_RTC_BOOT_BLOCK + i])
            return 0;
    return 1;
}

/* The fake ROM MD5 is a real MD5: check it against the test support's, with odd splits. */
static void test_rom_md5(void)
{
    md5_context_t c;
    uint8_t a[16], b[16];
    tw_fill(body, 1000, 5);
    MD5Init(&c);
    MD5Update(&c, body, 1);
    MD5Update(&c, body + 1, 63);
    MD5Update(&c, body + 64, 936);
    MD5Final(a, &c);
    tw_md5(body, 1000, b);
    CHECK(memcmp(a, b, 16) == 0);
    char h[33];
    MD5Init(&c);
    MD5Update(&c, (const uint8_t *)"abc", 3);
    MD5Final(a, &c);
    hex(a, 16, h);
    CHECK_STR(h, "900150983cd24fb0d6963f7d28e17f72");
}

/* The port's flash and state operations straight, over the fake SDK's rules. */
static void test_port_ops(void)
{
    setup("192.168.4.1");
    CHECK_INT(esp.port.flash.layout.chip_size, ==, 1048576);
    /* an unaligned read of any length comes out right (bounced through whole words) */
    uint8_t got[300], want[300];
    CHECK_INT(upd_esp8266_flash_read(&esp, 0x1003, got + 1, 299), ==, 0);
    fk_flash_peek(0x1003, want, 299);
    CHECK(memcmp(got + 1, want, 299) == 0);
    /* erase, aligned write, read back */
    static uint32_t w[64];
    memset(w, 0x3C, sizeof w);
    CHECK_INT(upd_esp8266_flash_erase(&esp, 0xE0000), ==, 0);
    CHECK_INT(upd_esp8266_flash_erase(&esp, 0xE0004), <, 0);
    CHECK_INT(upd_esp8266_flash_write(&esp, 0xE0010, w, 256), ==, 0);
    CHECK_INT(upd_esp8266_flash_write(&esp, 0xE0102, w, 4), <, 0); /* refused by the port */
    CHECK_INT(upd_esp8266_flash_read(&esp, 0xE000F, got, 3), ==, 0);
    CHECK(got[0] == 0xFF && got[1] == 0x3C && got[2] == 0x3C);
    /* boot and resume state in RTC memory, whole blocks */
    uint8_t s[128], r[128];
    tw_fill(s, sizeof s, 9);
    CHECK_INT(upd_esp8266_state_write(&esp, UPD_STATE_BOOT, s, 128), ==, 0);
    CHECK_INT(fk.rtc_last_addr, ==, 0x60001200u);
    CHECK_INT(upd_esp8266_state_write(&esp, UPD_STATE_RESUME, s, 7), ==, 0);
    CHECK_INT(fk.rtc_last_addr, ==, 0x60001280u);
    CHECK_INT(upd_esp8266_state_read(&esp, UPD_STATE_BOOT, r, 128), ==, 0);
    CHECK(memcmp(r, s, 128) == 0);
    CHECK_INT(upd_esp8266_state_read(&esp, UPD_STATE_RESUME, r, 7), ==, 0);
    CHECK(memcmp(r, s, 7) == 0);
    CHECK_INT(upd_esp8266_state_write(&esp, UPD_STATE_BOOT, s, 129), <, 0);
    /* the resume record in a flash sector of its own */
    upd_flash_layout l = esp.port.flash.layout;
    upd_esp8266_init(&esp, &l, 0xFB000);
    CHECK_INT(upd_esp8266_state_write(&esp, UPD_STATE_RESUME, s, 128), ==, 0);
    CHECK_INT(upd_esp8266_state_write(&esp, UPD_STATE_RESUME, s + 1, 126), ==, 0);
    CHECK_INT(upd_esp8266_state_read(&esp, UPD_STATE_RESUME, r, 126), ==, 0);
    CHECK(memcmp(r, s + 1, 126) == 0);
    CHECK_INT(fk.violations, ==, 0); /* the port refused the unaligned write itself */
    /* the fake SDK catches what a real chip would not forgive: a write into a sector not
     * erased before, a write that sets bits, an unaligned read */
    CHECK(spi_flash_write(0xE1000, w, 4) == SPI_FLASH_RESULT_ERR);
    CHECK_INT(fk.violations, ==, 1);
    w[0] = 0xFFFFFFFFu;
    CHECK(spi_flash_write(0xE0010, w, 4) == SPI_FLASH_RESULT_OK);
    CHECK_INT(fk.violations, ==, 5); /* one per byte that tried to set bits */
    CHECK(spi_flash_read(0xE0002, w, 4) == SPI_FLASH_RESULT_ERR);
    CHECK(!system_rtc_mem_write(63, w, 4) && !system_rtc_mem_write(128, w, 3));
    CHECK_INT(fk.violations, ==, 8);
    fk.violations = 0;
    /* the clock: milliseconds across the 32-bit microsecond wrap */
    uint32_t t0 = upd_esp8266_now_ms(&esp);
    fk.us += 5000000u; /* 5 s, through 2^32 */
    CHECK_INT(upd_esp8266_now_ms(&esp) - t0, ==, 5000);
    fk.us += 999u;
    CHECK_INT(upd_esp8266_now_ms(&esp) - t0, ==, 5000);
    fk.us += 1u;
    CHECK_INT(upd_esp8266_now_ms(&esp) - t0, ==, 5001);
}

static void check_staged(uint32_t start);

/* A successful update: staged at the top of the free gap, MD5 checked, eboot command. */
static void update_ok(const char *host, size_t piece)
{
    setup(host);
    uint8_t md5[16];
    char extra[96], h[33];
    tw_md5(body, (size_t)body_len, md5);
    hex(md5, 16, h);
    snprintf(extra, sizeof extra, "Content-Length: %ld\r\nx-MD5: %s\r\n", (long)body_len, h);
    check("200 OK", extra, body, (size_t)body_len, 0, piece, FK_CLOSE);
    CHECK_INT(done_result, ==, UPD_CLIENT_OK);
    CHECK_INT(done_error, ==, 0);
    /* the request, as the device sends it */
    fk.req[fk.req_len < FK_REQ_MAX ? fk.req_len : FK_REQ_MAX - 1] = '\0';
    CHECK(strncmp(fk.req, "GET /fw.bin HTTP/1.0\r\nHost: ", 28) == 0);
    CHECK_CONTAINS(fk.req, "\r\nUser-Agent: ESP8266-http-Update\r\n");
    CHECK_CONTAINS(fk.req, "\r\nx-ESP8266-STA-MAC: 5C:CF:7F:0A:1B:2C\r\n");
    CHECK_CONTAINS(fk.req, "\r\nx-ESP8266-AP-MAC: 5E:CF:7F:0A:1B:2C\r\n");
    CHECK_CONTAINS(fk.req, "\r\nx-ESP8266-Chip-ID: 10531266\r\n");
    CHECK_CONTAINS(fk.req, "\r\nx-ESP8266-free-space: 561152\r\n");
    CHECK_CONTAINS(fk.req, "\r\nx-ESP8266-sketch-size: 400000\r\n");
    CHECK_CONTAINS(fk.req, "\r\nx-ESP8266-chip-size: 1048576\r\n");
    CHECK_CONTAINS(fk.req, "\r\nx-ESP8266-sdk-version: 2.2.2-dev(38a443e)\r\n");
    CHECK_CONTAINS(fk.req, "\r\nx-ESP8266-version: 1.0.0\r\nContent-Length: 0\r\n\r\n");
    CHECK_INT(fk.remote_port, ==, 8266);
    CHECK_INT(fk.connects, ==, 1);
    /* staged at the top of the free gap: fs_start - roundup(len, 4096) */
    uint32_t span = ((uint32_t)body_len + 4095u) & ~4095u;
    uint32_t start = FS_START - span;
    CHECK_INT(FREE_SPACE, ==, 561152);
    CHECK_INT(fk.erases, ==, span / 4096u);
    for (uint32_t i = 0; i < fk.erases && i < 16; i++)
        CHECK_INT(fk.erased_addr[i], ==, start + 4096u * i);
    check_staged(start);
}

/* The image staged at start (with the flash-mode patch) and the eboot command for it. */
static void check_staged(uint32_t start)
{
    static uint8_t staged[sizeof body];
    fk_flash_peek(start, staged, 4096);
    fk_flash_peek(start + 4096, staged + 4096, (uint32_t)body_len - 4096u);
    CHECK_INT(staged[2], ==, CHIP_MODE); /* the Updater's flash-mode patch, on flash only */
    staged[2] = body[2];
    CHECK(memcmp(staged, body, (size_t)body_len) == 0);
    /* the eboot command at RTC block 128 = 0x60001200 */
    CHECK_INT(fk.rtc_writes, ==, 1);
    CHECK_INT(fk.rtc_last_addr, ==, 0x60001200u);
    CHECK_INT(fk.rtc_last_size, ==, 128);
    const uint8_t *cmd = rtc_cmd();
    CHECK_INT(le32(cmd), ==, 0xEB001000u);
    CHECK_INT(le32(cmd + 4), ==, 1);
    CHECK_INT(le32(cmd + 8), ==, start);
    CHECK_INT(le32(cmd + 12), ==, 0);
    CHECK_INT(le32(cmd + 16), ==, (uint32_t)body_len);
    CHECK_INT(le32(cmd + 124), ==, upd_crc32_mpeg2(0xFFFFFFFFu, cmd, 124));
    CHECK_INT(le32(cmd + 124), ==, tw_crc32_mpeg2(0xFFFFFFFFu, cmd, 124));
}

static void test_update_ok(void)
{
    update_ok("192.168.4.1", 536);
    CHECK_INT(fk.remote_ip[0], ==, 192);
    CHECK_INT(fk.remote_ip[3], ==, 1);
    CHECK_INT(fk.dns_lookups, ==, 0);
    CHECK_CONTAINS(fk.req, "\r\nHost: 192.168.4.1:8266\r\n");
}

/* Full-size TCP segments, and a host name resolved through espconn_gethostbyname. */
static void test_update_ok_dns(void)
{
    update_ok("ota.example", 1460);
    CHECK_INT(fk.dns_lookups, ==, 1);
    CHECK_INT(fk.remote_ip[0], ==, 10);
    CHECK_INT(fk.remote_ip[3], ==, 7);
    CHECK_CONTAINS(fk.req, "\r\nHost: ota.example:8266\r\n");
}

/* Tiny pieces: the engine buffers across many receive callbacks. */
static void test_update_ok_small_pieces(void)
{
    update_ok("192.168.4.1", 97);
}

static void test_not_modified(void)
{
    setup("192.168.4.1");
    check("304 Not Modified", "", NULL, 0, 0, 0, FK_CLOSE);
    CHECK_INT(done_result, ==, UPD_CLIENT_NO_UPDATES);
    CHECK_INT(done_error, ==, 0);
    CHECK_INT(fk.erases + fk.writes, ==, 0);
    CHECK_INT(fk.rtc_writes, ==, 0);
}

static void test_html_body(void)
{
    static const char html[] = "<html><body><h1>No update today</h1></body></html>\n";
    setup("192.168.4.1");
    char extra[64];
    snprintf(extra, sizeof extra, "Content-Type: text/html\r\nContent-Length: %u\r\n",
             (unsigned)(sizeof html - 1));
    check("200 OK", extra, (const uint8_t *)html, sizeof html - 1, 0, 0, FK_CLOSE);
    CHECK_INT(done_result, ==, UPD_CLIENT_FAILED);
    CHECK_INT(done_error, ==, -106);
    CHECK_INT(fk.writes, ==, 0);
    CHECK_INT(fk.rtc_writes, ==, 0);
}

/* The connection breaks (reset) or closes in the middle of the body: Updater error 6
 * (the device waits for the rest, then gives up), and never a boot command. */
static void dropped(int end)
{
    setup("192.168.4.1");
    char extra[64];
    snprintf(extra, sizeof extra, "Content-Length: %ld\r\n", (long)body_len);
    check("200 OK", extra, body, (size_t)body_len, 3000, 0, end);
    CHECK_INT(done_result, ==, UPD_CLIENT_FAILED);
    CHECK_INT(done_error, ==, 6);
    CHECK(fk.writes > 0); /* it had started writing */
    CHECK_INT(fk.rtc_writes, ==, 0);
    CHECK(rtc_cmd_is_empty());
}

static void test_reset_mid_body(void)
{
    dropped(FK_RESET);
    CHECK_INT(fk.disconnects, ==, 0); /* nothing to disconnect after a reset */
}

static void test_close_mid_body(void)
{
    dropped(FK_CLOSE);
}

/* A body that stops coming: the engine's 60 s stream timeout, applied by the port's
 * 100 ms timer with the port clock; the port then closes the connection itself. */
static void test_stall_mid_body(void)
{
    dropped(FK_STALL);
    CHECK_INT(fk.disconnects, ==, 1);
}

/* No response headers at all: -11 (read timeout) after 8 s. */
static void test_stall_before_headers(void)
{
    setup("192.168.4.1");
    check("200 OK", "", NULL, 0, 1, 0, FK_STALL);
    CHECK_INT(done_result, ==, UPD_CLIENT_FAILED);
    CHECK_INT(done_error, ==, -11);
    CHECK_INT(fk.disconnects, ==, 1);
}

/* The connection is refused: -1, as HTTPClient's "connection failed". */
static void test_connect_refused(void)
{
    setup("192.168.4.1");
    fk_script s = {NULL, 0, NULL, 0, 0, 0, FK_CLOSE, 1};
    fk_set_script(&s);
    start_check();
    CHECK_INT(fk_run(&done_calls, 60000), ==, 0);
    CHECK_INT(done_result, ==, UPD_CLIENT_FAILED);
    CHECK_INT(done_error, ==, -1);
    CHECK_INT(fk.disconnects, ==, 0);
    CHECK_INT(fk.violations, ==, 0);
}

/* Resume and outcome report through the port's state sector (0xFB000): a download cut
 * at 5000 bytes keeps its progress (4096 bytes) and records Updater error 6; the next
 * check asks for the rest with Range, reports the failure, gets a 206 and installs; the
 * check after that reports the success and clears the record. */
static void test_resume_and_report(void)
{
    setup("192.168.4.1");
    upd_flash_layout l = esp.port.flash.layout;
    upd_esp8266_init(&esp, &l, 0xFB000);
    cfg.features = UPD_CLIENT_F_RESUME | UPD_CLIENT_F_REPORT;
    cfg.resume_step = 4096;
    uint8_t md5[16];
    char extra[160], h[33];
    tw_md5(body, (size_t)body_len, md5);
    hex(md5, 16, h);
    snprintf(extra, sizeof extra, "Content-Length: %ld\r\nETag: \"v7\"\r\nx-MD5: %s\r\n",
             (long)body_len, h);
    int n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\n%s\r\n", extra);
    fk_script s1 = {(const uint8_t *)head, (size_t)n, body, (size_t)body_len, (size_t)n + 5000,
                    0, FK_RESET, 0};
    fk_set_script(&s1);
    start_check();
    CHECK_INT(fk_run(&done_calls, 120000), ==, 0);
    CHECK_INT(done_result, ==, UPD_CLIENT_FAILED);
    CHECK_INT(done_error, ==, 6);
    CHECK_INT(fk.rtc_writes, ==, 0);
    CHECK_INT(fk.violations, ==, 0);
    fk.req[fk.req_len] = '\0';
    CHECK(strstr(fk.req, "Range:") == NULL);
    /* the rest, with Range; the failure is reported */
    snprintf(extra, sizeof extra,
             "Content-Length: %ld\r\nContent-Range: bytes 4096-%ld/%ld\r\nETag: \"v7\"\r\n",
             (long)body_len - 4096, (long)body_len - 1, (long)body_len);
    check("206 Partial Content", extra, body + 4096, (size_t)body_len - 4096, 0, 0, FK_CLOSE);
    fk.req[fk.req_len] = '\0';
    CHECK_CONTAINS(fk.req, "Content-Length: 0\r\nRange: bytes=4096-\r\n");
    CHECK_CONTAINS(fk.req, "\r\nx-updraft-report: v=1;result=6;md5=");
    CHECK_CONTAINS(fk.req, h);
    CHECK_INT(done_result, ==, UPD_CLIENT_OK);
    CHECK_INT(done_error, ==, 0);
    check_staged(FS_START - 8192u);
    /* the next check reports the installation, then forgets it */
    check("304 Not Modified", "", NULL, 0, 0, 0, FK_CLOSE);
    fk.req[fk.req_len] = '\0';
    CHECK_CONTAINS(fk.req, "\r\nx-updraft-report: v=1;result=0;md5=");
    CHECK_INT(done_result, ==, UPD_CLIENT_NO_UPDATES);
    check("304 Not Modified", "", NULL, 0, 0, 0, FK_CLOSE);
    fk.req[fk.req_len] = '\0';
    CHECK(strstr(fk.req, "x-updraft-report") == NULL);
    /* without a state sector there is no report area */
    uint8_t r[UPD_STATE_REPORT_SIZE];
    upd_esp8266_init(&esp, &l, 0);
    CHECK_INT(upd_esp8266_state_read(&esp, UPD_STATE_REPORT, r, sizeof r), <, 0);
    CHECK_INT(upd_esp8266_state_write(&esp, UPD_STATE_REPORT, r, sizeof r), <, 0);
}

/* The port can run a second check after the first (the application's next poll). */
static void test_second_check(void)
{
    test_not_modified();
    check("304 Not Modified", "", NULL, 0, 0, 0, FK_CLOSE);
    CHECK_INT(done_result, ==, UPD_CLIENT_NO_UPDATES);
    CHECK_INT(fk.connects, ==, 2);
}

int main(void)
{
    RUN(test_rom_md5);
    RUN(test_port_ops);
    RUN(test_update_ok);
    RUN(test_update_ok_dns);
    RUN(test_update_ok_small_pieces);
    RUN(test_not_modified);
    RUN(test_html_body);
    RUN(test_reset_mid_body);
    RUN(test_close_mid_body);
    RUN(test_stall_mid_body);
    RUN(test_stall_before_headers);
    RUN(test_connect_refused);
    RUN(test_second_check);
    RUN(test_resume_and_report);
    return upd_test_summary();
}
