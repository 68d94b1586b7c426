/* Protocol parity, table-driven: each row is a raw HTTP response (shared/spec
 * esp8266-http-update.md section 2 and 8, section 7's field failures, esp32-ota.md
 * section 1) and the result and error code the device's own client ends with. Every
 * row runs three ways: parity mode (features 0) with the response in 256-byte pieces,
 * parity mode one byte at a time, and with every extension on (UPD_CLIENT_F_ALL, and
 * UPD_CLIENT_F_INSPECT where the build has the inspector) in 7-byte pieces, where a row
 * may expect a different (stricter) outcome: that column lists the deliberate
 * differences (UPD_EIMAGE ones only with the inspector). On success the staged bytes, the
 * flash-mode patch and the eboot command are checked; on failure, that nothing was committed. */
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
/* Small enough for the ESP8266's 80 KB of DRAM: the flash window covers the staging
 * area and the start of the filesystem; the response buffer doubles as scratch. */
static uint8_t flash[20 * KB];
static uint8_t body[8 * KB + 256];
static char resp[9 * KB + 512];
#define tmp ((uint8_t *)resp)
static memport mp;
static upd_client_ctx cl;

/* ---- bodies --------------------------------------------------------------------------- */

enum body {
    B_NONE,
    B_APP,     /* Arduino .bin for 1 MB flash, DIO, ~6 KB */
    B_APP4M,   /* the same built for 4 MB */
    B_APP8K,   /* B_APP padded with 0xFF to exactly 8192 bytes */
    B_GZIP,    /* gzip of B_APP (stored blocks) */
    B_E32,     /* ESP32 app image */
    B_HTML,    /* an HTML error page */
    B_1F00,    /* 0x1F then not gzip */
    B_TINY,    /* 3 bytes E9 01 02 */
    B_CHUNKED, /* B_APP in chunked framing */
    B_BADSUM,  /* B_APP with a flipped bit in the app's code */
    B_E32C3    /* B_E32 built for the ESP32-C3 (chip id 5) */
};

static const tw_seg app_segs[] = {
    {0x40201010u, 2500u, 101u}, /* .irom0.text */
    {0x40100000u, 903u, 102u},  /* .text */
    {0x3FFE8000u, 36u, 103u},   /* .data */
    {0x3FFE8030u, 99u, 104u},   /* .rodata */
};

static const tw_seg e32_segs[] = {
    {0x3F400020u, 512u, 31u}, {0x3FFB0000u, 64u, 32u}, {0x400D0020u, 3000u, 33u}};

static int32_t app(uint8_t *out, uint32_t cap, uint8_t size_code)
{
    tw_arduino_opts o = {2, (uint8_t)(size_code << 4), 2, app_segs, 4, TW_CRC_AT_1010};
    return tw_arduino_bin(out, cap, &o);
}

static int32_t make_body(int kind, uint8_t *out, uint32_t cap)
{
    int32_t n;
    switch (kind) {
    case B_NONE:
        return 0;
    case B_APP:
        return app(out, cap, 2);
    case B_APP4M:
        return app(out, cap, 4);
    case B_BADSUM:
        n = app(out, cap, 2);
        out[0x1000 + 8 + 8 + 100] ^= 0x10;
        return n;
    case B_APP8K: { /* no core 3.x words: with them, trailing bytes void the XOR check */
        tw_arduino_opts o = {2, 0x20, 2, app_segs, 4, TW_CRC_NONE};
        n = tw_arduino_bin(out, cap, &o);
        memset(out + n, 0xFF, 8192u - (uint32_t)n);
        return 8192;
    }
    case B_GZIP:
        n = app(tmp, 8 * KB, 2);
        return tw_gzip_store(out, cap, tmp, (uint32_t)n, "fw.bin");
    case B_E32:
    case B_E32C3: {
        tw_esp32_opts o;
        memset(&o, 0, sizeof o);
        o.chip_id = kind == B_E32C3 ? 5 : 0;
        o.mode = 2;
        o.size_freq = 0x20;
        o.entry = 0x40081000u;
        o.segs = e32_segs;
        o.nseg = 3;
        o.hash_appended = 1;
        o.app_desc = 1;
        o.version = "2.0.0";
        o.project = "parity";
        o.idf_ver = "v4.4.5";
        return tw_esp32_image(out, cap, &o);
    }
    case B_HTML: {
        static const char h[] = "<html><body><h1>500 Internal Server Error</h1></body></html>\n";
        memcpy(out, h, sizeof h - 1);
        return (int32_t)sizeof h - 1;
    }
    case B_1F00:
        tw_fill(out, 2000, 7);
        out[0] = 0x1F;
        out[1] = 0x00;
        return 2000;
    case B_TINY:
        out[0] = 0xE9;
        out[1] = 0x01;
        out[2] = 0x02;
        return 3;
    case B_CHUNKED: {
        n = app(tmp, 8 * KB, 2);
        int32_t o = 0;
        for (int32_t i = 0; i < n; i += 1000) {
            int32_t k = n - i < 1000 ? n - i : 1000;
            o += snprintf((char *)out + o, cap - (uint32_t)o, "%x\r\n", (unsigned)k);
            memcpy(out + o, tmp + i, (size_t)k);
            o += k;
            memcpy(out + o, "\r\n", 2);
            o += 2;
        }
        memcpy(out + o, "0\r\n\r\n", 5);
        return o + 5;
    }
    }
    return -1;
}

/* ---- rows ------------------------------------------------------------------------------ */

enum setup {
    S_BIG_SKETCH = 1 << 0,  /* sketch leaves 4 KB free: -100 */
    S_FREE_EQ = 1 << 1,     /* free space == body length, not a sector multiple */
    S_FREE_EQ_AL = 1 << 2,  /* free space == body length == 8192 */
    S_FLASHMAP = 1 << 3,    /* core with flash-map support: no -107 */
    S_DOUT = 1 << 4,        /* the chip runs DOUT: byte 2 is patched on flash */
    S_FS = 1 << 5,          /* spiffs mode */
    S_ESP32 = 1 << 6,       /* Arduino-ESP32 HTTPUpdate */
    S_FOLLOW = 1 << 7,      /* redirects enabled (strict) */
    S_STALL = 1 << 8,       /* after the bytes, silence (the clock runs) instead of close */
    S_ERASE_FAIL = 1 << 9,  /* the first erase fails */
    S_WRITE_FAIL = 1 << 10, /* the second write fails */
    S_RESET = 1 << 11,      /* after the bytes, the connection breaks */
    S_VERSION = 1 << 12,    /* mode "version" (getAvailableVersion): x-version expected */
    S_RESUMED = 1 << 13     /* with UPD_CLIENT_F_RESUME: resumed with a 206 (resumed_row) */
};

#define SAME 9999
#define OK   UPD_CLIENT_OK
#define NOUP UPD_CLIENT_NO_UPDATES
#define FAIL UPD_CLIENT_FAILED

typedef struct row {
    const char *name;
    const char *head; /* {len} {md5} {MD5} {len+1} are replaced */
    int body;
    int32_t cut; /* send only this many body bytes (0: all) */
    unsigned setup;
    int result, error;  /* the device's own client */
    int ext_error;      /* with the extensions, if different (SAME otherwise) */
    const char *second; /* a second response (redirect target), or NULL */
} row;

#define H200 "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"

static const row rows[] = {
    /* section 2, row by row */
    {"304 is no update", "HTTP/1.1 304 Not Modified\r\n\r\n", B_NONE, 0, 0, NOUP, 0, SAME, NULL},
    {"200 with image, length and x-MD5", H200 "Content-Length: {len}\r\nx-MD5: {md5}\r\n\r\n",
     B_APP, 0, 0, OK, 0, SAME, NULL},
    {"200 with image, no x-MD5", H200 "Content-Length: {len}\r\n\r\n", B_APP, 0, 0, OK, 0, SAME,
     NULL},
    {"200 without Content-Length", H200 "\r\n", B_APP, 0, 0, FAIL, -101, SAME, NULL},
    {"200 Content-Length 0", H200 "Content-Length: 0\r\n\r\n", B_NONE, 0, 0, FAIL, -101, SAME,
     NULL},
    {"200 Content-Length unparsable", H200 "Content-Length: lots\r\n\r\n", B_APP, 0, 0, FAIL, -101,
     SAME, NULL},
    {"200 Content-Length negative", H200 "Content-Length: -5\r\n\r\n", B_APP, 0, 0, FAIL, -101,
     SAME, NULL},
    /* HTTPClient trims each line before it looks at it */
    {"header lines with leading blanks",
     "  HTTP/1.1 200 OK\r\n\t Content-Length: {len}\r\n"
     " x-MD5:{md5}  \r\n \t\r\n",
     B_APP, 0, 0, OK, 0, SAME, NULL},
    {"status: the code is read from index 9 up to the next blank",
     "HTTP/1.1  304 Not Modified\r\n\r\n", B_NONE, 0, 0, FAIL, -7, SAME, NULL},
    /* String::toInt() is strtol: leading spaces and a sign, saturation at 32 bits */
    {"200 Content-Length with spaces and +", H200 "Content-Length:   +{len}\r\n\r\n", B_APP, 0, 0,
     OK, 0, SAME, NULL},
    {"200 Content-Length 2^31 saturates: too big", H200 "Content-Length: 2147483648\r\n\r\n", B_APP,
     0, 0, FAIL, -100, SAME, NULL},
    {"200 Content-Length 99999999999 saturates: too big",
     H200 "Content-Length: 99999999999\r\n\r\n", B_APP, 0, 0, FAIL, -100, SAME, NULL},
    {"200 Content-Length -99999999999 saturates: negative",
     H200 "Content-Length: -99999999999\r\n\r\n", B_APP, 0, 0, FAIL, -101, SAME, NULL},
    {"200 Content-Length 4294967296 (2^32) saturates: too big",
     H200 "Content-Length: 4294967296\r\n\r\n", B_APP, 0, 0, FAIL, -100, SAME, NULL},
    {"status 4294967496 saturates: not 200", "HTTP/1.1 4294967496 OK\r\n\r\n", B_NONE, 0, 0, FAIL,
     -104, SAME, NULL},
    {"200 chunked, no length (HTTP/1.0 request)", H200 "Transfer-Encoding: chunked\r\n\r\n",
     B_CHUNKED, 0, 0, FAIL, -101, SAME, NULL},
    {"200 chunked with a length: framing is data",
     H200 "Transfer-Encoding: chunked\r\nContent-Length: {len}\r\n\r\n", B_CHUNKED, 0, 0, FAIL,
     -106, SAME, NULL},
    {"200 longer than free space", H200 "Content-Length: {len}\r\n\r\n", B_APP, 0, S_BIG_SKETCH,
     FAIL, -100, SAME, NULL},
    {"200 length == free space, not a sector multiple (section 8)",
     H200 "Content-Length: {len}\r\n\r\n", B_APP, 0, S_FREE_EQ, FAIL, 4, SAME, NULL},
    {"200 length == free space == 8192", H200 "Content-Length: {len}\r\n\r\n", B_APP8K, 0,
     S_FREE_EQ_AL, OK, 0, SAME, NULL},
    {"200 HTML error page", H200 "Content-Length: {len}\r\n\r\n", B_HTML, 0, 0, FAIL, -106, SAME,
     NULL},
    {"200 fewer than 4 bytes", H200 "Content-Length: {len}\r\n\r\n", B_TINY, 0, 0, FAIL, -106, SAME,
     NULL},
    {"200 image for 4 MB on a 1 MB chip", H200 "Content-Length: {len}\r\n\r\n", B_APP4M, 0, 0, FAIL,
     -107, SAME, NULL},
    {"200 image for 4 MB, flash-map core: written, then Updater 9",
     H200 "Content-Length: {len}\r\n\r\n", B_APP4M, 0, S_FLASHMAP, FAIL, 9, SAME, NULL},
    {"200 x-MD5 of 31 characters",
     H200 "Content-Length: {len}\r\nx-MD5: 0123456789abcdef0123456789abcde\r\n\r\n", B_APP, 0, 0,
     FAIL, -105, SAME, NULL},
    {"200 x-MD5 of 33 characters", H200 "Content-Length: {len}\r\nx-MD5: {md5}0\r\n\r\n", B_APP, 0,
     0, FAIL, -105, SAME, NULL},
    {"200 wrong x-MD5 of 32 characters",
     H200 "Content-Length: {len}\r\nx-MD5: 0123456789abcdef0123456789abcdef\r\n\r\n", B_APP, 0, 0,
     FAIL, 7, SAME, NULL},
    {"200 x-MD5 of 32 non-hex characters",
     H200 "Content-Length: {len}\r\nx-MD5: zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\r\n\r\n", B_APP, 0, 0,
     FAIL, 7, SAME, NULL},
    {"200 x-MD5 in uppercase (compared case-insensitively)",
     H200 "Content-Length: {len}\r\nx-MD5: {MD5}\r\n\r\n", B_APP, 0, 0, OK, 0, SAME, NULL},
    {"200 x-MD5 empty: not checked", H200 "Content-Length: {len}\r\nx-MD5:\r\n\r\n", B_APP, 0, 0,
     OK, 0, SAME, NULL},
    {"200 header names in other cases",
     "HTTP/1.0 200 OK\r\ncontent-length: {len}\r\nX-Md5: {md5}\r\n\r\n", B_APP, 0, 0, OK, 0, SAME,
     NULL},
    {"200 status line without reason", "HTTP/1.0 200\r\nContent-Length: {len}\r\n\r\n", B_APP, 0, 0,
     OK, 0, SAME, NULL},
    {"200 space before the colon: not Content-Length", H200 "Content-Length : {len}\r\n\r\n", B_APP,
     0, 0, FAIL, -101, SAME, NULL},
    {"200 bare LF line ends", "HTTP/1.1 200 OK\nContent-Length: {len}\n\n", B_APP, 0, 0, OK, 0,
     SAME, NULL},
    {"200 more bytes than Content-Length: the rest is not read",
     H200 "Content-Length: {len}\r\n\r\n", B_APP, -64, 0, OK, 0, SAME, NULL},
    {"200 gzip image: staged as it is", H200 "Content-Length: {len}\r\nx-MD5: {md5}\r\n\r\n",
     B_GZIP, 0, 0, OK, 0, SAME, NULL},
    {"200 0x1F but not gzip: Updater 10 after the write", H200 "Content-Length: {len}\r\n\r\n",
     B_1F00, 0, 0, FAIL, 10, SAME, NULL},
    {"200 ESP32 image on an ESP8266: accepted (section 8)", H200 "Content-Length: {len}\r\n\r\n",
     B_E32, 0, 0, OK, 0, UPD_EIMAGE, NULL},
    {"200 image with a bad checksum: the device does not check",
     H200 "Content-Length: {len}\r\nx-MD5: {md5}\r\n\r\n", B_BADSUM, 0, 0, OK, 0, UPD_EIMAGE, NULL},
    {"200 DIO image on a DOUT chip: byte 2 patched, MD5 still matches",
     H200 "Content-Length: {len}\r\nx-MD5: {md5}\r\n\r\n", B_APP, 0, S_DOUT, OK, 0, SAME, NULL},
    {"200 body cut short, then close: Updater 6", H200 "Content-Length: {len}\r\n\r\n", B_APP, 3000,
     0, FAIL, 6, SAME, NULL},
    {"200 body stalls: Updater 6 after the stream timeout", H200 "Content-Length: {len}\r\n\r\n",
     B_APP, 3000, S_STALL, FAIL, 6, SAME, NULL},
    {"200 body, connection reset: Updater 6", H200 "Content-Length: {len}\r\n\r\n", B_APP, 3000,
     S_RESET, FAIL, 6, SAME, NULL},
    {"200 stalls before 4 bytes: -106", H200 "Content-Length: {len}\r\n\r\n", B_APP, 2, S_STALL,
     FAIL, -106, SAME, NULL},
    {"erase fails: Updater 2", H200 "Content-Length: {len}\r\n\r\n", B_APP, 0, S_ERASE_FAIL, FAIL,
     2, SAME, NULL},
    {"write fails: Updater 1", H200 "Content-Length: {len}\r\n\r\n", B_APP, 0, S_WRITE_FAIL, FAIL,
     1, SAME, NULL},
    /* status codes */
    {"401", "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", B_NONE, 0, 0, FAIL, -108,
     SAME, NULL},
    {"403", "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", B_NONE, 0, 0, FAIL, -103, SAME,
     NULL},
    {"404", "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found", B_NONE, 0, 0, FAIL,
     -102, SAME, NULL},
    {"500", "HTTP/1.1 500 Internal Server Error\r\n\r\n", B_NONE, 0, 0, FAIL, -104, SAME, NULL},
    {"400", "HTTP/1.1 400 Bad Request\r\n\r\n", B_NONE, 0, 0, FAIL, -104, SAME, NULL},
    {"206 not asked for", "HTTP/1.1 206 Partial Content\r\nContent-Length: {len}\r\n\r\n", B_APP, 0,
     0, FAIL, -104, SAME, NULL},
    {"204", "HTTP/1.1 204 No Content\r\n\r\n", B_NONE, 0, 0, FAIL, -104, SAME, NULL},
    {"302 with redirects off", "HTTP/1.1 302 Found\r\nLocation: /fw2.bin\r\n\r\n", B_NONE, 0, 0,
     FAIL, -104, SAME, NULL},
    {"301 with redirects off", "HTTP/1.1 301 Moved\r\nLocation: /fw2.bin\r\n\r\n", B_NONE, 0, 0,
     FAIL, -104, SAME, NULL},
    {"302 followed to a 200", "HTTP/1.1 302 Found\r\nLocation: /fw2.bin\r\n\r\n", B_APP, 0,
     S_FOLLOW, OK, 0, SAME, H200 "Content-Length: {len}\r\nx-MD5: {md5}\r\n\r\n"},
    {"307 followed for GET",
     "HTTP/1.1 307 Temporary\r\nLocation: http://other.example:8080/x\r\n\r\n", B_APP, 0, S_FOLLOW,
     OK, 0, SAME, H200 "Content-Length: {len}\r\n\r\n"},
    {"308 never followed", "HTTP/1.1 308 Permanent\r\nLocation: /fw2.bin\r\n\r\n", B_NONE, 0,
     S_FOLLOW, FAIL, -104, SAME, NULL},
    {"302 to another scheme not followed",
     "HTTP/1.1 302 Found\r\nLocation: https://x.example/fw\r\n\r\n", B_NONE, 0, S_FOLLOW, FAIL,
     -104, SAME, NULL},
    {"302 without Location", "HTTP/1.1 302 Found\r\n\r\n", B_NONE, 0, S_FOLLOW, FAIL, -104, SAME,
     NULL},
    {"302 followed to a 304", "HTTP/1.1 302 Found\r\nLocation: /b\r\n\r\n", B_NONE, 0, S_FOLLOW,
     NOUP, 0, SAME, "HTTP/1.1 304 Not Modified\r\n\r\n"},
    /* HTTPClient-level failures */
    {"connection closed before any byte", "", B_NONE, 0, 0, FAIL, -5, SAME, NULL},
    {"connection closed inside the headers", "HTTP/1.1 200 OK\r\nContent-Le", B_NONE, 0, 0, FAIL,
     -5, SAME, NULL},
    {"headers stall: read timeout", "HTTP/1.1 200 OK\r\n", B_NONE, 0, S_STALL, FAIL, -11, SAME,
     NULL},
    {"not HTTP", "hello there\r\n\r\n", B_NONE, 0, 0, FAIL, -7, SAME, NULL},
    {"Transfer-Encoding other than chunked",
     H200 "Transfer-Encoding: gzip\r\nContent-Length: {len}\r\n\r\n", B_APP, 0, 0, FAIL, -9, SAME,
     NULL},
    /* filesystem mode: no header checks, written in place */
    {"spiffs: HTML body is written (no checks)", H200 "Content-Length: {len}\r\n\r\n", B_HTML, 0,
     S_FS, OK, 0, SAME, NULL},
    {"spiffs: image larger than the filesystem", H200 "Content-Length: 70000\r\n\r\n", B_NONE, 0,
     S_FS, FAIL, -100, SAME, NULL},
    {"spiffs: wrong x-MD5",
     H200 "Content-Length: {len}\r\nx-MD5: 0123456789abcdef0123456789abcdef\r\n\r\n", B_APP, 0,
     S_FS, FAIL, 7, SAME, NULL},
    /* Arduino-ESP32 HTTPUpdate (esp32-ota.md section 1) */
    {"esp32: 200 with image", H200 "Content-Length: {len}\r\nx-MD5: {md5}\r\n\r\n", B_E32, 0,
     S_ESP32, OK, 0, SAME, NULL},
    {"esp32: 304", "HTTP/1.1 304 Not Modified\r\n\r\n", B_NONE, 0, S_ESP32, NOUP, 0, SAME, NULL},
    {"esp32: 401 is just a wrong code", "HTTP/1.1 401 Unauthorized\r\n\r\n", B_NONE, 0, S_ESP32,
     FAIL, -104, SAME, NULL},
    {"esp32: 404", "HTTP/1.1 404 Not Found\r\n\r\n", B_NONE, 0, S_ESP32, FAIL, -102, SAME, NULL},
    {"esp32: gzip refused", H200 "Content-Length: {len}\r\n\r\n", B_GZIP, 0, S_ESP32, FAIL, -106,
     SAME, NULL},
    {"esp32: no length", H200 "\r\n", B_E32, 0, S_ESP32, FAIL, -101, SAME, NULL},
    {"esp32: longer than the slot", H200 "Content-Length: 9000000\r\n\r\n", B_NONE, 0, S_ESP32,
     FAIL, -100, SAME, NULL},
    {"esp32: x-MD5 short", H200 "Content-Length: {len}\r\nx-MD5: abc\r\n\r\n", B_E32, 0, S_ESP32,
     FAIL, -105, SAME, NULL},
    {"esp32: wrong x-MD5",
     H200 "Content-Length: {len}\r\nx-MD5: 0123456789abcdef0123456789abcdef\r\n\r\n", B_E32, 0,
     S_ESP32, FAIL, 7, SAME, NULL},
    {"esp32: ESP8266 image: written, then Update error 9 (the slot does not verify)",
     H200 "Content-Length: {len}\r\n\r\n", B_APP, 0, S_ESP32, FAIL, 9, UPD_EIMAGE, NULL},
    {"esp32: ESP32-C3 image on an ESP32: written, then Update error 9 (wrong chip)",
     H200 "Content-Length: {len}\r\nx-MD5: {md5}\r\n\r\n", B_E32C3, 0, S_ESP32, FAIL, 9, SAME,
     NULL},
    /* resume (extensions only; the device restarts every download: OK) */
    {"206 resume after an MD5 failure: Updater 7, the record is dropped",
     H200 "Content-Length: {len}\r\nx-MD5: {md5}\r\n\r\n", B_APP, 5000, S_RESUMED, OK, 0, 7, NULL},
    /* mode "version" (ESP8266httpUpdate::getAvailableVersion, spec sections 1, 2, 6) */
    {"version: 200 with x-version and x-MD5, no body",
     "HTTP/1.1 200 OK\r\nx-MD5: {md5}\r\nx-version: 2.0.0\r\nContent-Length: 0\r\n\r\n", B_NONE, 0,
     S_VERSION, OK, 0, SAME, NULL},
    {"version: 200 with x-version only", "HTTP/1.0 200 OK\r\nX-Version:  2.0.0 \r\n\r\n", B_NONE, 0,
     S_VERSION, OK, 0, SAME, NULL},
    {"version: 200 with x-version and a body: nothing is written",
     H200 "Content-Length: {len}\r\nx-version: 2.0.0\r\nx-MD5: {md5}\r\n\r\n", B_APP, 0, S_VERSION,
     OK, 0, SAME, NULL},
    {"version: 200 without x-version: -109", "HTTP/1.1 200 OK\r\nx-MD5: {md5}\r\n\r\n", B_NONE, 0,
     S_VERSION, FAIL, -109, SAME, NULL},
    {"version: 200 with an empty x-version: -109", "HTTP/1.1 200 OK\r\nx-version:\r\n\r\n", B_NONE,
     0, S_VERSION, FAIL, -109, SAME, NULL},
    {"version: 304 is no update", "HTTP/1.1 304 Not Modified\r\n\r\n", B_NONE, 0, S_VERSION, NOUP,
     0, SAME, NULL},
    {"version: 404", "HTTP/1.1 404 Not Found\r\n\r\n", B_NONE, 0, S_VERSION, FAIL, -102, SAME,
     NULL},
    {"version: 403", "HTTP/1.1 403 Forbidden\r\nx-version: 2.0.0\r\n\r\n", B_NONE, 0, S_VERSION,
     FAIL, -103, SAME, NULL},
    {"version: 500", "HTTP/1.1 500 Oops\r\n\r\n", B_NONE, 0, S_VERSION, FAIL, -104, SAME, NULL},
    {"version: 302 followed to a 200", "HTTP/1.1 302 Found\r\nLocation: /v\r\n\r\n", B_NONE, 0,
     S_VERSION | S_FOLLOW, OK, 0, SAME, "HTTP/1.1 200 OK\r\nx-version: 2.0.0\r\n\r\n"},
};

/* ---- running a row ------------------------------------------------------------------------ */

static void hex(char *out, const uint8_t *p, int n, int upper)
{
    const char *d = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    for (int i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Expand a head template for a body of n bytes; returns the length. */
static size_t expand(char *out, size_t cap, const char *t, const uint8_t *b, int32_t n)
{
    char md5[33], MD5[33], num[16];
    uint8_t d[16];
    tw_md5(b, (size_t)n, d);
    hex(md5, d, 16, 0);
    hex(MD5, d, 16, 1);
    snprintf(num, sizeof num, "%ld", (long)n);
    size_t o = 0;
    while (*t && o + 40 < cap) {
        if (!strncmp(t, "{len}", 5)) {
            o += (size_t)snprintf(out + o, cap - o, "%s", num);
            t += 5;
        } else if (!strncmp(t, "{md5}", 5)) {
            o += (size_t)snprintf(out + o, cap - o, "%s", md5);
            t += 5;
        } else if (!strncmp(t, "{MD5}", 5)) {
            o += (size_t)snprintf(out + o, cap - o, "%s", MD5);
            t += 5;
        } else
            out[o++] = *t++;
    }
    out[o] = '\0';
    return o;
}

static upd_flash_layout layout_for(const row *r, int32_t n)
{
    upd_flash_layout l = {.chip_size = 1024 * KB,
                          .sketch_size = 300000,
                          .fs_start = 0xEB000,
                          .fs_end = 0xFB000,
                          .flash_mode = 2};
    if (r->setup & S_BIG_SKETCH)
        l.sketch_size = l.fs_start - 4096 - 100;
    if (r->setup & (S_FREE_EQ | S_FREE_EQ_AL))
        l.fs_start = 303104 + (uint32_t)n; /* free = fs_start - roundup(300000) = n */
    if (r->setup & S_DOUT)
        l.flash_mode = 3;
    if (r->setup & S_ESP32) {
        l.chip_size = 4096 * KB;
        l.sketch_size = 0x90000;
        l.slot_start = 0x110000;
        l.slot_size = 0x100000;
        l.fs_start = 0x310000;
        l.fs_end = 0x3F0000;
    }
    return l;
}

static uint32_t window_base(const row *r, const upd_flash_layout *l)
{
    if (r->setup & S_ESP32)
        return l->slot_start;
    return (l->fs_start - 12 * KB) & ~4095u;
}

static int progress_calls;
static uint32_t progress_last;
static void on_progress(void *arg, uint32_t done, uint32_t total)
{
    (void)arg;
    (void)total;
    progress_calls++;
    progress_last = done;
}

static int row_failures;

/* S_RESUMED with UPD_CLIENT_F_RESUME: a first check is cut off (reset) after r->cut body
 * bytes with one bit flipped on the way (the sim's corrupt fault) and leaves a resume
 * record; the second check resumes with a 206 of the rest and must end with the row's
 * ext_error with the record dropped (src/client/stage.c), so that a third check starts
 * over without Range and installs the image. */
static void resumed_row(const row *r, upd_client_config *cfg, int32_t n, const upd_flash_layout *l,
                        uint32_t base, size_t piece)
{
    static char req[MP_SENT_MAX];
    uint8_t rec[UPD_STATE_RESUME_SIZE];
    int bad = 0;
    cfg->resume_step = 4096;
    memset(rec, 0, sizeof rec);
    for (int step = 0; step < 3 && !bad; step++) {
        /* the record's "done" (bytes on flash), little-endian at 16 */
        uint32_t from = step == 1 ? (uint32_t)rec[16] | (uint32_t)rec[17] << 8 |
                                        (uint32_t)rec[18] << 16 | (uint32_t)rec[19] << 24
                                  : 0;
        size_t hl;
        if (step == 1)
            hl = (size_t)snprintf(resp, sizeof resp,
                                  "HTTP/1.1 206 Partial Content\r\nContent-Length: %lu\r\n"
                                  "Content-Range: bytes %lu-%lu/%lu\r\n\r\n",
                                  (unsigned long)((uint32_t)n - from), (unsigned long)from,
                                  (unsigned long)(n - 1), (unsigned long)n);
        else
            hl = expand(resp, sizeof resp, r->head, body, n);
        uint32_t len = step == 0 ? (uint32_t)r->cut : (uint32_t)n - from;
        memcpy(resp + hl, body + from, len);
        if (step == 0)
            resp[hl + 100] ^= 0x01;
        memport_init(&mp, flash, base, sizeof flash, l);
        memcpy(mp.resume, rec, sizeof rec);
        mp.piece = piece;
        memport_add_response(&mp, resp, hl + len, step == 0 ? MP_RESET : MP_CLOSE);
        int e = upd_client_init(&cl, cfg, &mp.port, cbuf, sizeof cbuf);
        int res = e ? -2 : (int)upd_client_run(&cl), err = upd_client_error(&cl);
        int ranged = strstr(memport_request(&mp, 0, req, sizeof req), "\r\nRange: bytes=") != NULL;
        int has_rec = memcmp(mp.resume, "UPDR", 4) == 0;
        memcpy(rec, mp.resume, sizeof rec);
        if (step == 0)
            bad = res != FAIL || err != 6 || !has_rec;
        else if (step == 1)
            bad = !ranged || res != (r->ext_error ? FAIL : OK) || err != r->ext_error || has_rec ||
                  mp.boot_writes;
        else
            bad = ranged || res != OK || has_rec || mp.boot_writes != 1;
        bad |= mp.nor_violations || mp.range_violations || mp.unerased_writes;
        if (bad)
            printf("  row \"%s\" (resumed, piece %u): check %d: init %d, result %d error %d, "
                   "Range %d, record %d\n",
                   r->name, (unsigned)piece, step + 1, e, res, err, ranged, has_rec);
    }
    row_failures += bad;
}

static void run_row(const row *r, int features, size_t piece)
{
#ifdef UPD_TEST_CLIENT_MIN
    if (r->setup & S_VERSION)
        return; /* version mode is compiled out (test_min_refuses_extensions) */
#endif
    int32_t n = make_body(r->body, body, sizeof body);
    if (n < 0) {
        printf("  row \"%s\": body does not fit\n", r->name);
        row_failures++;
        return;
    }
    size_t hl = expand(resp, sizeof resp, r->second ? r->head : r->head, body, n);
    int32_t send = r->cut > 0 && !(r->setup & S_RESUMED) ? r->cut : n;
    if (r->second) /* the body goes with the second response */
        send = 0;
    if (r->cut < 0) { /* extra bytes after the body */
        memset(body + n, 0x5A, (size_t)-r->cut);
        send = n - r->cut;
    }
    memcpy(resp + hl, body, (size_t)send);
    size_t first_len = hl + (size_t)send;
    char *second = resp + first_len;
    size_t second_len = 0;
    if (r->second) {
        second_len = expand(second, sizeof resp - first_len - (size_t)n, r->second, body, n);
        memcpy(second + second_len, body, (size_t)n);
        second_len += (size_t)n;
    }
    upd_flash_layout l = layout_for(r, n);
    uint32_t base = window_base(r, &l);
    memset(flash, 0xA5, sizeof flash);
    memport_init(&mp, flash, base, sizeof flash, &l);
    mp.piece = piece;
    if (r->setup & S_ERASE_FAIL)
        mp.fail_erase_at = 0;
    if (r->setup & S_WRITE_FAIL)
        mp.fail_write_at = 1;
    int end = (r->setup & S_STALL) ? MP_STALL : (r->setup & S_RESET) ? MP_RESET : MP_CLOSE;
    memport_add_response(&mp, resp, first_len, r->second ? MP_CLOSE : end);
    if (r->second)
        memport_add_response(&mp, second, second_len, end);

    upd_client_config cfg = {0};
    cfg.flavor = (r->setup & S_ESP32) ? UPD_CLIENT_ESP32_ARDUINO : UPD_CLIENT_ESP8266_ARDUINO;
    cfg.mode = (r->setup & S_FS) ? UPD_MODE_FS : UPD_MODE_SKETCH;
    cfg.host = "10.0.0.1";
    cfg.port = 8080;
    cfg.path = "/update";
    cfg.sdk_version = "2.2.2-dev(38a443e)";
    cfg.sketch_md5 = "00000000000000000000000000000000";
    cfg.version = "1";
    cfg.follow_redirects = (r->setup & S_FOLLOW) ? 1 : 0;
    cfg.flash_map_core = (r->setup & S_FLASHMAP) ? 1 : 0;
    cfg.features = (uint32_t)features;
    cfg.version_only = (r->setup & S_VERSION) ? 1 : 0;
    cfg.progress = on_progress;
    progress_calls = 0;
    progress_last = 0;

    if ((r->setup & S_RESUMED) && (features & UPD_CLIENT_F_RESUME)) {
        resumed_row(r, &cfg, n, &l, base, piece);
        return;
    }
    int e = upd_client_init(&cl, &cfg, &mp.port, cbuf, sizeof cbuf);
    upd_client_result res = e ? UPD_CLIENT_FAILED : upd_client_run(&cl);
    int err = upd_client_error(&cl);
    /* the inspector's rows differ from the device's only where it is asked for */
    int ext =
        r->ext_error != SAME && (r->ext_error != UPD_EIMAGE || (features & UPD_CLIENT_F_INSPECT));
    int want_err = features && ext ? r->ext_error : r->error;
    int want_res = want_err ? UPD_CLIENT_FAILED : r->result;
    int bad = e != 0 || res != want_res || err != want_err;
    uint32_t start = 0;
    if (!bad && (r->setup & S_VERSION)) {
        /* only asked: nothing written, the offer (and x-MD5 when sent) given back */
        uint8_t d[16], want[16];
        int md5_sent = strstr(r->second ? r->second : r->head, "{md5}") != NULL;
        tw_md5(body, (size_t)n, want);
        if (mp.erases || mp.writes || mp.boot_writes ||
            (res == OK && strcmp(upd_client_offered_version(&cl), "2.0.0") != 0) ||
            upd_client_offered_md5(&cl, d) != md5_sent || (md5_sent && memcmp(d, want, 16))) {
            printf("  row \"%s\": version \"%s\", %u writes\n", r->name,
                   upd_client_offered_version(&cl), (unsigned)mp.writes);
            bad = 1;
        }
    } else if (!bad && res == UPD_CLIENT_OK) {
        /* what is on flash, where the Updater puts it */
        if (r->setup & S_ESP32)
            start = l.slot_start;
        else if (r->setup & S_FS)
            start = l.fs_start;
        else
            start = l.fs_start - (((uint32_t)n + 4095u) & ~4095u);
        const uint8_t *f = flash + (start - base);
        int patch =
            !(r->setup & (S_FS | S_ESP32)) && body[0] != 0x1F && n > 2 && body[2] != l.flash_mode;
        if (patch ? (f[2] != l.flash_mode || memcmp(f, body, 2) != 0 ||
                     memcmp(f + 3, body + 3, (size_t)n - 3) != 0)
                  : memcmp(f, body, (size_t)n) != 0) {
            printf("  row \"%s\": staged bytes differ\n", r->name);
            bad = 1;
        }
        if (r->setup & S_ESP32) {
            bad |= mp.activated != 1 || mp.act_start != start || mp.act_size != (uint32_t)n;
        } else if (!(r->setup & S_FS)) {
            uint8_t cmd[128];
            memset(cmd, 0, sizeof cmd);
            tw_put_le32(cmd, 0xEB001000u);
            tw_put_le32(cmd + 4, 1);
            tw_put_le32(cmd + 8, start);
            tw_put_le32(cmd + 12, 0);
            tw_put_le32(cmd + 16, (uint32_t)n);
            tw_put_le32(cmd + 124, tw_crc32_mpeg2(0xFFFFFFFFu, cmd, 124));
            if (mp.boot_writes != 1 || memcmp(mp.boot, cmd, 128) != 0) {
                printf("  row \"%s\": eboot command wrong\n", r->name);
                bad = 1;
            }
        }
        if (progress_last != (uint32_t)n || progress_calls < 2) {
            printf("  row \"%s\": progress %u calls, last %u\n", r->name, progress_calls,
                   (unsigned)progress_last);
            bad = 1;
        }
    }
    if (!bad && res != UPD_CLIENT_OK && (mp.boot_writes || mp.activated)) {
        printf("  row \"%s\": committed although it failed\n", r->name);
        bad = 1;
    }
    if (mp.nor_violations || mp.range_violations || mp.unerased_writes) {
        printf("  row \"%s\": flash misuse (nor %d, range %d, unerased %d)\n", r->name,
               mp.nor_violations, mp.range_violations, mp.unerased_writes);
        bad = 1;
    }
    if (bad) {
        printf("  row \"%s\" (features %d, piece %u): init %d, result %d error %d (%s), "
               "detail %d, want %d error %d\n",
               r->name, features, (unsigned)piece, e, res, err, upd_client_strerror(err),
               upd_client_detail(&cl), want_res, want_err);
        if (err == UPD_EIMAGE)
            printf("    inspector: %s\n", ((const upd_image_report *)(void *)cbuf)->reason);
        row_failures++;
    }
}

static void test_rows_parity(void)
{
    row_failures = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        run_row(&rows[i], 0, 256);
    CHECK_INT(row_failures, ==, 0);
    printf("# %u rows\n", (unsigned)(sizeof rows / sizeof rows[0]));
}

static void test_rows_parity_bytewise(void)
{
    row_failures = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        run_row(&rows[i], 0, 1);
    CHECK_INT(row_failures, ==, 0);
}

#ifndef UPD_TEST_CLIENT_MIN
static void test_rows_extensions(void)
{
    row_failures = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        run_row(&rows[i], UPD_CLIENT_F_ALL | (MP_HAVE_INSPECT ? UPD_CLIENT_F_INSPECT : 0), 7);
    CHECK_INT(row_failures, ==, 0);
}

#else
/* Built without the optional features (UPD_TEST_CLIENT_MIN): they are refused. */
static void test_min_refuses_extensions(void)
{
    upd_flash_layout l = layout_for(&rows[0], 0);
    memport_init(&mp, flash, 0, sizeof flash, &l);
    upd_client_config cfg = {0};
    cfg.host = "10.0.0.1";
    cfg.features = UPD_CLIENT_F_ALL;
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, cbuf, sizeof cbuf), ==, UPD_EUNSUPPORTED);
    cfg.features = 0;
    cfg.version_only = 1;
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, cbuf, sizeof cbuf), ==, UPD_EUNSUPPORTED);
    cfg.version_only = 0;
    memport_enable_verify(&mp, 256);
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, cbuf, sizeof cbuf), ==, UPD_EUNSUPPORTED);
}
#endif

int main(void)
{
    RUN(test_rows_parity);
    RUN(test_rows_parity_bytewise);
#ifdef UPD_TEST_CLIENT_MIN
    RUN(test_min_refuses_extensions);
#else
    RUN(test_rows_extensions);
#endif
    return upd_test_summary();
}
