/* Device-fit rules (upd_fit_check), table-driven, every row taken from the spec
 * (shared/spec/esp8266-http-update.md "8266 §n", esp32-ota.md "32 §n"), not from
 * fit.c. Each row builds an image with the test writer, inspects it, states what the
 * device reported about itself and what the device's own update client would do.
 * Rows marked "once a disagreement" caught real differences between fit.c and the
 * spec, since fixed. Runs on the host and on lx106 (static buffers only, small stack). */
#include <stdint.h>
#include <string.h>

#include "imgwriter.h"
#include "upd_test.h"
#include "updraft/error.h"
#include "updraft/fit.h"
#include "updraft/image.h"

#define KB 1024u
#define MB (1024u * 1024u)

static uint8_t buf[16384]; /* the image a row is about */
static uint8_t aux[6144];  /* the .bin inside a gzip; the virtual image's prefix */
static upd_image_report rep, inner;
static upd_fit_result res;
static upd_sha256 shactx;
static upd_sha256_ops sha;

/* ---- images ----------------------------------------------------------------------- */

enum img {
    IMG_ARD,       /* Arduino .bin in memory (core 3.x words at 0x1010), size code from the row */
    IMG_ARD_LEN,   /* Arduino .bin of exactly row.len bytes (virtual source, zero-filled) */
    IMG_ESP32,     /* ESP32-family app, chip id and size code from the row, SHA-256 + desc */
    IMG_GZIP_ARD,  /* gzip of IMG_ARD, judged with its inner report */
    IMG_GZIP_E32,  /* gzip of an ESP32 app, judged */
    IMG_LFS,       /* LittleFS image of row.len bytes */
    IMG_HTML,      /* an HTML error page */
    IMG_ELF,       /* an ELF file (Xtensa) */
    IMG_NONOS,     /* NONOS SDK user1.bin, magic 0xEA */
    IMG_TINY_E9,   /* 3 bytes, the first 0xE9 */
    IMG_ARD_BADSUM /* IMG_ARD with one flipped bit in the app segment data */
};

/* A small app; odd segment lengths as real Arduino builds have. */
static const tw_seg ard_segs[] = {
    {0x40201010u, 600u, 11u}, /* .irom0.text */
    {0x40100000u, 301u, 12u}, /* .text */
    {0x3FFE8000u, 36u, 13u},  /* .data */
    {0x3FFE8030u, 99u, 14u},  /* .rodata */
};

static const tw_seg e32_segs[] = {
    {0x3F400020u, 512u, 31u},  /* DROM: the app description first */
    {0x3FFB0000u, 64u, 32u},   /* DRAM */
    {0x400D0020u, 1024u, 33u}, /* IROM */
};

static int32_t write_arduino(uint8_t *out, uint32_t cap, uint8_t size_code)
{
    tw_arduino_opts o = {2, (uint8_t)(size_code << 4), 2, ard_segs, 4, TW_CRC_AT_1010};
    return tw_arduino_bin(out, cap, &o);
}

static int32_t write_esp32(uint8_t *out, uint32_t cap, uint16_t chip, uint8_t size_code)
{
    tw_esp32_opts o;
    memset(&o, 0, sizeof o);
    o.chip_id = chip;
    o.mode = 2;
    o.size_freq = (uint8_t)(size_code << 4);
    o.entry = 0x40081000u;
    o.segs = e32_segs;
    o.nseg = 3;
    o.hash_appended = 1;
    o.app_desc = 1;
    o.version = "1.2.3";
    o.project = "fit";
    o.idf_ver = "v5.1";
    return tw_esp32_image(out, cap, &o);
}

/* A virtual Arduino .bin of any length N (multiple of 16, >= 0x1070): eboot and the
 * app header from the writer, app segment 0 of 64 bytes, then a second segment of
 * zeros that runs up to the checksum (zeros leave the XOR unchanged). Read through a
 * callback, so only the first 0x1060 bytes exist in memory. */
typedef struct vimg {
    uint32_t pre_len; /* bytes taken from aux: up to the end of segment 0's data */
    uint8_t seghdr[8];
    uint8_t chk;
} vimg;
static vimg vi;

static int vread(const upd_source *src, uint32_t off, void *out, uint32_t len)
{
    uint8_t *o = out;
    if (off >= src->avail)
        return 0;
    if (len > src->avail - off)
        len = src->avail - off;
    uint32_t i = 0;
    while (i < len) {
        uint32_t p = off + i, k;
        if (p < vi.pre_len) {
            k = vi.pre_len - p < len - i ? vi.pre_len - p : len - i;
            memcpy(o + i, aux + p, k);
        } else if (p < vi.pre_len + 8) {
            o[i] = vi.seghdr[p - vi.pre_len];
            k = 1;
        } else if (p == src->size - 1) {
            o[i] = vi.chk;
            k = 1;
        } else {
            k = src->size - 1 - p < len - i ? src->size - 1 - p : len - i;
            memset(o + i, 0, k);
        }
        i += k;
    }
    return (int)len;
}

static int make_virtual(upd_source *src, uint32_t n, uint8_t size_code)
{
    static const tw_seg seg0 = {0x40201010u, 64u, 21u};
    tw_arduino_opts o = {2, (uint8_t)(size_code << 4), 2, &seg0, 1, TW_CRC_NONE};
    int32_t n0 = tw_arduino_bin(aux, sizeof aux, &o);
    if (n0 != 0x1060 || n % 16u || n < 0x1070u)
        return -1;
    aux[0x1001] = 2; /* two app segments */
    vi.pre_len = 0x1050;
    vi.chk = aux[n0 - 1];
    uint32_t zlen = n - 16u - 0x1058u; /* data ends at n-16: checksum at n-1 */
    tw_put_le32(vi.seghdr, 0x40100000u);
    tw_put_le32(vi.seghdr + 4, zlen);
    src->read = vread;
    src->ctx = &vi;
    src->size = n;
    src->avail = n;
    return 0;
}

static const char html_page[] =
    "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n"
    "<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p>"
    "</body></html>\n";

static uint32_t write_lfs(uint8_t *out, uint32_t len)
{
    memset(out, 0xFF, len);
    memset(out, 0, 32);
    out[0] = 1; /* revision count 1 */
    out[4] = 0x03;
    out[5] = 0x00;
    out[6] = 0x00;
    out[7] = 0x20;
    memcpy(out + 8, "littlefs", 8);
    tw_put_le32(out + 20, 0x00020000u); /* version 2.0 */
    tw_put_le32(out + 24, 4096u);       /* block_size */
    tw_put_le32(out + 28, len / 4096u); /* block_count */
    return len;
}

static uint32_t write_elf(uint8_t *out)
{
    memset(out, 0, 256);
    out[0] = 0x7F;
    out[1] = 'E';
    out[2] = 'L';
    out[3] = 'F';
    out[4] = 1; /* 32-bit */
    out[5] = 1; /* little-endian */
    out[6] = 1;
    tw_put_le16(out + 16, 2);  /* ET_EXEC */
    tw_put_le16(out + 18, 94); /* Xtensa */
    tw_put_le32(out + 24, 0x40100004u);
    return 256;
}

static uint32_t write_nonos(uint8_t *out)
{
    tw_fill(out, 512, 77);
    out[0] = 0xEA;
    out[1] = 4;
    out[2] = 0;
    out[3] = 0x40;
    tw_put_le32(out + 4, 0x40100004u);
    return 512;
}

/* Inspect (into rep) the image a row names. 0, or -1 when it could not be made. */
static int build(int img, uint32_t len, uint8_t size_code, uint16_t chip)
{
    upd_source src;
    int32_t n;
    int rc;
    upd_sha256_ops_init(&sha, &shactx);
    switch (img) {
    case IMG_ARD:
    case IMG_ARD_BADSUM:
        n = write_arduino(buf, sizeof buf, size_code);
        if (img == IMG_ARD_BADSUM && n > 0)
            buf[0x1100] ^= 0x10; /* inside .irom0.text, past the CRC words */
        break;
    case IMG_ARD_LEN:
        if (make_virtual(&src, len, size_code) != 0)
            return -1;
        rc = upd_image_inspect(&src, &sha, &rep);
        CHECK_INT(rc, ==, rep.error);
        return 0;
    case IMG_ESP32:
        n = write_esp32(buf, sizeof buf, chip, size_code);
        break;
    case IMG_GZIP_ARD:
    case IMG_GZIP_E32: {
        int32_t in = img == IMG_GZIP_ARD ? write_arduino(aux, sizeof aux, size_code)
                                         : write_esp32(aux, sizeof aux, chip, size_code);
        if (in <= 0)
            return -1;
        n = tw_gzip_store(buf, sizeof buf, aux, (uint32_t)in, "firmware.bin");
        if (n <= 0)
            return -1;
        upd_source_init_mem(&src, aux, (uint32_t)in);
        rc = upd_image_inspect(&src, &sha, &inner);
        CHECK_INT(rc, ==, inner.error);
        upd_source_init_mem(&src, buf, (uint32_t)n);
        rc = upd_image_inspect(&src, &sha, &rep);
        CHECK_INT(rc, ==, rep.error);
        CHECK_INT(rep.kind, ==, UPD_KIND_GZIP);
        upd_image_judge_gzip(&rep, &inner, 0);
        return 0;
    }
    case IMG_LFS:
        n = (int32_t)write_lfs(buf, len ? len : 8192u);
        break;
    case IMG_HTML:
        n = (int32_t)(sizeof html_page - 1);
        memcpy(buf, html_page, (size_t)n);
        break;
    case IMG_ELF:
        n = (int32_t)write_elf(buf);
        break;
    case IMG_NONOS:
        n = (int32_t)write_nonos(buf);
        break;
    case IMG_TINY_E9:
        buf[0] = 0xE9;
        buf[1] = 0x01;
        buf[2] = 0x02;
        n = 3;
        break;
    default:
        return -1;
    }
    if (n <= 0)
        return -1;
    upd_source_init_mem(&src, buf, (uint32_t)n);
    rc = upd_image_inspect(&src, &sha, &rep);
    CHECK_INT(rc, ==, rep.error);
    return 0;
}

/* ---- the rows ---------------------------------------------------------------------- */

enum { REL_NONE = 0, REL_LEN, REL_RUP }; /* free space = len + d, roundup(len, 4096) + d */

typedef struct fit_row {
    const char *spec; /* where the spec says so */
    const char *what;
    int img;
    uint32_t len;      /* IMG_ARD_LEN, IMG_LFS: the file length */
    uint8_t size_code; /* flash size code in the image header */
    uint16_t chip_id;  /* ESP32 images */
    upd_device_facts dev;
    uint8_t free_rel; /* REL_*: free space relative to the image length */
    int32_t free_d;
    uint8_t fs_rel; /* REL_LEN: fs size = len + fs_d */
    int32_t fs_d;
    upd_fit_code code;
    int http;
    int updater;
    uint8_t bricks;
    /* the explanation mentions these; "$LEN", "$FREE", "$FS", "$RUP" stand for the
     * image length, the free space, the fs size and roundup(len, 4096) in decimal */
    const char *say[3];
} fit_row;

/* Devices. Facts not named are unknown (has_* = 0). */
#define ESP8266_DEV(...)                                                                           \
    {                                                                                              \
        .client = UPD_CLIENT_ESP8266_ARDUINO, .mode = UPD_MODE_SKETCH, .chip = UPD_CHIP_ESP8266,   \
        __VA_ARGS__                                                                                \
    }
#define ESP8266_FS(...)                                                                            \
    {                                                                                              \
        .client = UPD_CLIENT_ESP8266_ARDUINO, .mode = UPD_MODE_FS, .chip = UPD_CHIP_ESP8266,       \
        __VA_ARGS__                                                                                \
    }
#define ESP32_DEV(c, ...)                                                                          \
    {                                                                                              \
        .client = UPD_CLIENT_ESP32_ARDUINO, .mode = UPD_MODE_SKETCH, .chip = (c), __VA_ARGS__      \
    }
#define ESP32_FS(c, ...)                                                                           \
    {                                                                                              \
        .client = UPD_CLIENT_ESP32_ARDUINO, .mode = UPD_MODE_FS, .chip = (c), __VA_ARGS__          \
    }
#define IDF_DEV(c, ...)                                                                            \
    {                                                                                              \
        .client = UPD_CLIENT_ESP_IDF, .mode = UPD_MODE_SKETCH, .chip = (c), __VA_ARGS__            \
    }
#define FREE(x)   .has_free_space = 1, .free_space = (x)
#define CHIPSZ(x) .has_chip_size = 1, .chip_size = (x)
#define FSSZ(x)   .has_fs_size = 1, .fs_size = (x)
#define SKSZ(x)   .has_sketch_size = 1, .sketch_size = (x)
/* A 4 MB device whose filesystem starts at s: sketch-size 4096 (one sector), free-space
 * s - 4096, so FS start = roundup(4096, 4096) + free-space = s. */
#define FS_AT_4M(s) SKSZ(4096), FREE((s)-4096u), CHIPSZ(4 * MB)
/* Free space relative to the image: FREE_LEN(-16) is 16 bytes less than the image. */
#define FREE_LEN(d) .free_rel = REL_LEN, .free_d = (d)
#define FREE_RUP(d) .free_rel = REL_RUP, .free_d = (d)
#define FS_LEN(d)   .fs_rel = REL_LEN, .fs_d = (d)

#define ESP32_FREE   .has_free_space = 1 /* with FREE_LEN */
#define ESP8266_FREE .has_free_space = 1

/* spec 8266 §3: 4 MB board, 1 MB filesystem at 0x300000, running sketch 314240 bytes */
#define EX_FS_START                 0x300000u
#define EX_SKETCH                   314240u
#define EX_FREE                     2830336u /* 3145728 - roundup(314240, 4096) = 3145728 - 315392 */
#define UPD_ERR_OTA_VALIDATE_FAILED 0x1503

static const fit_row rows[] = {
    /* ---- ESP8266 sketch mode ---- */
    {"8266 §2 (200 + image)", "image fits: flashed, HTTP_UPDATE_OK", IMG_ARD, 0, 4, 0,
     ESP8266_DEV(FREE(1 * MB), CHIPSZ(4 * MB)), .code = UPD_FIT_OK},
    {"8266 §2 (length > free space)", "16 bytes longer than the free space: -100", IMG_ARD, 0, 4, 0,
     ESP8266_DEV(ESP8266_FREE, CHIPSZ(4 * MB)), FREE_LEN(-16), .code = UPD_FIT_NO_SPACE,
     .http = -100, .say = {"$LEN", "$FREE", "-100"}},
    {"8266 §2 (length > free space)", "1 byte longer than the free space: -100", IMG_ARD, 0, 4, 0,
     ESP8266_DEV(ESP8266_FREE, CHIPSZ(4 * MB)), FREE_LEN(-1), .code = UPD_FIT_NO_SPACE,
     .http = -100, .say = {"$LEN", "$FREE"}},
    {"8266 §8 (free space exactly equal fails)", "len == free (not 4 KB aligned): Updater 4",
     IMG_ARD, 0, 4, 0, ESP8266_DEV(ESP8266_FREE, CHIPSZ(4 * MB)), FREE_LEN(0),
     .code = UPD_FIT_NO_SPACE_ROUNDUP, .updater = 4, .say = {"$LEN", "$FREE", "$RUP"}},
    {"8266 §8 (roundup(len, 4096) <= free-space)", "len 5 bytes under free, round-up over", IMG_ARD,
     0, 4, 0, ESP8266_DEV(ESP8266_FREE, CHIPSZ(4 * MB)), FREE_LEN(5),
     .code = UPD_FIT_NO_SPACE_ROUNDUP, .updater = 4, .say = {"$LEN", "$FREE", "$RUP"}},
    {"8266 §8 (roundup(len, 4096) <= free-space)", "round-up one byte over the free space", IMG_ARD,
     0, 4, 0, ESP8266_DEV(ESP8266_FREE, CHIPSZ(4 * MB)), FREE_RUP(-1),
     .code = UPD_FIT_NO_SPACE_ROUNDUP, .updater = 4, .say = {"$RUP"}},
    {"8266 §8 (roundup(len, 4096) <= free-space)", "round-up exactly equal to the free space: OK",
     IMG_ARD, 0, 4, 0, ESP8266_DEV(ESP8266_FREE, CHIPSZ(4 * MB)), FREE_RUP(0), .code = UPD_FIT_OK},
    {"8266 §8 (roundup(len, 4096) <= free-space)", "4 KB-aligned image, len == free: OK",
     IMG_ARD_LEN, 8192, 4, 0, ESP8266_DEV(FREE(8192), CHIPSZ(4 * MB)), .code = UPD_FIT_OK},
    {"8266 §8 (roundup(len, 4096) <= free-space)", "8208 bytes, free 8208: Updater 4", IMG_ARD_LEN,
     8208, 4, 0, ESP8266_DEV(FREE(8208), CHIPSZ(4 * MB)), .code = UPD_FIT_NO_SPACE_ROUNDUP,
     .updater = 4, .say = {"8208", "12288"}},
    {"8266 §8 (roundup(len, 4096) <= free-space)", "8208 bytes, free 12287: Updater 4", IMG_ARD_LEN,
     8208, 4, 0, ESP8266_DEV(FREE(12287), CHIPSZ(4 * MB)), .code = UPD_FIT_NO_SPACE_ROUNDUP,
     .updater = 4, .say = {"8208", "12287", "12288"}},
    {"8266 §8 (roundup(len, 4096) <= free-space)", "8208 bytes, free 12288: OK", IMG_ARD_LEN, 8208,
     4, 0, ESP8266_DEV(FREE(12288), CHIPSZ(4 * MB)), .code = UPD_FIT_OK},

    /* spec 8266 §3 worked example: free-space 2830336 */
    {"8266 §3 (example: 4 MB, FS 0x300000, sketch 314240)", "a same-size sketch fits", IMG_ARD_LEN,
     EX_SKETCH, 4, 0, ESP8266_DEV(FREE(EX_FREE), CHIPSZ(4 * MB)), .code = UPD_FIT_OK},
    {"8266 §3 (example)", "an image filling the whole gap (2830336, 4 KB aligned) fits",
     IMG_ARD_LEN, EX_FREE, 4, 0, ESP8266_DEV(FREE(EX_FREE), CHIPSZ(4 * MB)), .code = UPD_FIT_OK},
    {"8266 §3 (example)", "16 bytes more than the gap: -100", IMG_ARD_LEN, EX_FREE + 16u, 4, 0,
     ESP8266_DEV(FREE(EX_FREE), CHIPSZ(4 * MB)), .code = UPD_FIT_NO_SPACE, .http = -100,
     .say = {"-100", "Not Enough space"}},
    {"8266 §3 (example)", "the old and the new sketch side by side: 3 MB image never fits",
     IMG_ARD_LEN, 3u * MB, 4, 0, ESP8266_DEV(FREE(EX_FREE), CHIPSZ(4 * MB)),
     .code = UPD_FIT_NO_SPACE, .http = -100},

    /* -107 and flash-map cores */
    {"8266 §2 (size code > real chip size)", "16 MB image on a 4 MB chip: -107", IMG_ARD, 0, 9, 0,
     ESP8266_DEV(FREE(1 * MB), CHIPSZ(4 * MB)), .code = UPD_FIT_FLASH_TOO_SMALL, .http = -107,
     .say = {"16 MiB", "4 MiB"}},
    {"8266 §2 (size code > real chip size)", "4 MB image on a 1 MB chip: -107", IMG_ARD, 0, 4, 0,
     ESP8266_DEV(FREE(400 * KB), CHIPSZ(1 * MB)), .code = UPD_FIT_FLASH_TOO_SMALL, .http = -107,
     .say = {"4 MiB", "1 MiB"}},
    {"8266 §2/§3 (size codes)", "8 MB image (code 8) on an 8 MB chip: OK", IMG_ARD, 0, 8, 0,
     ESP8266_DEV(FREE(1 * MB), CHIPSZ(8 * MB)), .code = UPD_FIT_OK},
    {"8266 §2/§3 (size codes)", "2 MB image (code 3) on a 4 MB chip: OK", IMG_ARD, 0, 3, 0,
     ESP8266_DEV(FREE(1 * MB), CHIPSZ(4 * MB)), .code = UPD_FIT_OK},
    {"8266 §2/§3 (size codes)", "512 KB image (code 0) on a 512 KB chip: OK", IMG_ARD, 0, 0, 0,
     ESP8266_DEV(FREE(200 * KB), CHIPSZ(512 * KB)), .code = UPD_FIT_OK},
    {"8266 §2/§3 (size codes)", "1 MB image (code 2) on a 512 KB chip: -107", IMG_ARD, 0, 2, 0,
     ESP8266_DEV(FREE(200 * KB), CHIPSZ(512 * KB)), .code = UPD_FIT_FLASH_TOO_SMALL, .http = -107},
    {"8266 §3 (other size codes are unknown)", "code 7 on a 512 KB chip: no -107", IMG_ARD, 0, 7, 0,
     ESP8266_DEV(FREE(200 * KB), CHIPSZ(512 * KB)), .code = UPD_FIT_OK},
    {"8266 §2 (-107 skipped on flash-map cores) + §3 (error 9)",
     "16 MB image on a 4 MB chip, core >= 3.1: Updater 9", IMG_ARD, 0, 9, 0,
     ESP8266_DEV(FREE(1 * MB), CHIPSZ(4 * MB), .flash_map_core = 1),
     .code = UPD_FIT_FLASH_TOO_SMALL, .updater = 9, .say = {"16 MiB", "4 MiB"}},
    {"8266 §2 (order: -107 before Update.begin)", "16 MB image, len == free: -107 first", IMG_ARD,
     0, 9, 0, ESP8266_DEV(ESP8266_FREE, CHIPSZ(4 * MB)), FREE_LEN(0),
     .code = UPD_FIT_FLASH_TOO_SMALL, .http = -107},
    {"8266 §2 (order: size check first)", "16 MB image longer than free: -100 first", IMG_ARD, 0, 9,
     0, ESP8266_DEV(ESP8266_FREE, CHIPSZ(4 * MB)), FREE_LEN(-16), .code = UPD_FIT_NO_SPACE,
     .http = -100},

    /* -106 */
    {"8266 §2 (first byte neither 0xE9 nor 0x1F)", "HTML error page: -106", IMG_HTML, 0, 0, 0,
     ESP8266_DEV(FREE(1 * MB), CHIPSZ(4 * MB)), .code = UPD_FIT_BAD_HEADER, .http = -106,
     .say = {"-106"}},
    {"8266 §2 (first byte neither 0xE9 nor 0x1F)", "ELF file: -106", IMG_ELF, 0, 0, 0,
     ESP8266_DEV(FREE(1 * MB), CHIPSZ(4 * MB)), .code = UPD_FIT_BAD_HEADER, .http = -106,
     .say = {"-106"}},
    {"8266 §2 + §4.4 (NONOS user1.bin, magic 0xEA)", "0xEA image: -106", IMG_NONOS, 0, 0, 0,
     ESP8266_DEV(FREE(1 * MB), CHIPSZ(4 * MB)), .code = UPD_FIT_BAD_HEADER, .http = -106,
     .say = {"-106"}},
    {"8266 §2 (order: size check before the header)", "HTML page longer than free: -100", IMG_HTML,
     0, 0, 0, ESP8266_DEV(ESP8266_FREE), FREE_LEN(-1), .code = UPD_FIT_NO_SPACE, .http = -100},
    {"8266 §2 (-106 is sketch mode only) + §3", "LittleFS image offered as a sketch: -106", IMG_LFS,
     8192, 0, 0, ESP8266_DEV(FREE(1 * MB), CHIPSZ(4 * MB)), .code = UPD_FIT_BAD_HEADER,
     .http = -106},

    /* gzip */
    {"8266 §4.3 + §8 (gzip staged and accepted)", "gzip .bin on a core >= 2.7: OK", IMG_GZIP_ARD, 0,
     4, 0, ESP8266_DEV(FREE(1 * MB), CHIPSZ(4 * MB)), .code = UPD_FIT_OK},
    {"8266 §4.3 (cores >= 2.7 accept gzip)", "gzip .bin on a core < 2.7: -106", IMG_GZIP_ARD, 0, 4,
     0, ESP8266_DEV(FREE(1 * MB), CHIPSZ(4 * MB), .no_gzip = 1), .code = UPD_FIT_GZIP_UNSUPPORTED,
     .http = -106},
    {"8266 §4.3 (free-space checks apply to the compressed length)", "gzip longer than free: -100",
     IMG_GZIP_ARD, 0, 4, 0, ESP8266_DEV(ESP8266_FREE), FREE_LEN(-1), .code = UPD_FIT_NO_SPACE,
     .http = -100, .say = {"$LEN", "$FREE"}},
    {"8266 §4.3 + §8 (round-up of the compressed length)", "gzip len == free: Updater 4",
     IMG_GZIP_ARD, 0, 4, 0, ESP8266_DEV(ESP8266_FREE), FREE_LEN(0),
     .code = UPD_FIT_NO_SPACE_ROUNDUP, .updater = 4, .say = {"$LEN", "$RUP"}},
    {"8266 §2 (-107 only when byte 0 is 0xE9)", "gzip .bin of a 16 MB build, 4 MB chip: OK",
     IMG_GZIP_ARD, 0, 9, 0, ESP8266_DEV(FREE(1 * MB), CHIPSZ(4 * MB)), .code = UPD_FIT_OK},

    {"8266 §3 + §4.2 (eboot does not check the app checksum; device checks bytes 0 and 3)",
     "corrupted .bin (bad XOR): installs and bricks", IMG_ARD_BADSUM, 0, 4, 0,
     ESP8266_DEV(FREE(1 * MB), CHIPSZ(4 * MB)), .code = UPD_FIT_NOT_INSTALLABLE, .bricks = 1},

    /* ESP32 images on an ESP8266 */
    {"8266 §8 (the client stages ESP32 images)", "ESP32 app on an ESP8266: installs, bricks",
     IMG_ESP32, 0, 2, UPD_CHIP_ESP32, ESP8266_DEV(FREE(1 * MB), CHIPSZ(4 * MB)),
     .code = UPD_FIT_WRONG_PLATFORM, .bricks = 1, .say = {"ESP32"}},
    {"8266 §8 + §2 (byte 3 read with the ESP8266 meaning)",
     "ESP32 16 MB app (code 4 = 4M for an ESP8266) on a 1 MB chip: -107", IMG_ESP32, 0, 4,
     UPD_CHIP_ESP32, ESP8266_DEV(FREE(400 * KB), CHIPSZ(1 * MB)), .code = UPD_FIT_FLASH_TOO_SMALL,
     .http = -107},

    /* missing facts skip their checks */
    {"fit.h (unknown facts skip checks)", "no free-space header: no -100", IMG_ARD, 0, 4, 0,
     ESP8266_DEV(.free_space = 16, CHIPSZ(4 * MB)), .code = UPD_FIT_OK},
    {"fit.h (unknown facts skip checks)", "no chip-size header: no -107", IMG_ARD, 0, 9, 0,
     ESP8266_DEV(FREE(1 * MB), .chip_size = 512 * KB), .code = UPD_FIT_OK},
    {"fit.h (unknown facts skip checks)", "nothing known: a good image is OK", IMG_ARD, 0, 4, 0,
     ESP8266_DEV(.free_space = 0), .code = UPD_FIT_OK},
    {"fit.h (unknown facts skip checks)", "no free-space: no Updater 4 either", IMG_ARD_LEN, 8208,
     4, 0, ESP8266_DEV(.free_space = 8208, CHIPSZ(4 * MB)), .code = UPD_FIT_OK},

    /* ---- Arduino-ESP32 ---- */
    {"32 §1 (length <= free space)", "ESP32 app, len == free: OK", IMG_ESP32, 0, 2, UPD_CHIP_ESP32,
     ESP32_DEV(UPD_CHIP_ESP32, ESP32_FREE), FREE_LEN(0), .code = UPD_FIT_OK},
    {"32 §1 (else -100)", "ESP32 app 4 bytes over the OTA partition: -100", IMG_ESP32, 0, 2,
     UPD_CHIP_ESP32, ESP32_DEV(UPD_CHIP_ESP32, ESP32_FREE), FREE_LEN(-4), .code = UPD_FIT_NO_SPACE,
     .http = -100, .say = {"$LEN", "$FREE"}},
    {"32 §1 (first byte 0xE9, else -106)", "gzip of an ESP32 app: -106", IMG_GZIP_E32, 0, 2,
     UPD_CHIP_ESP32, ESP32_DEV(UPD_CHIP_ESP32, FREE(1 * MB)), .code = UPD_FIT_GZIP_UNSUPPORTED,
     .http = -106},
    {"32 §1 (first byte 0xE9, else -106)", "gzip of an ESP8266 .bin: -106", IMG_GZIP_ARD, 0, 4, 0,
     ESP32_DEV(UPD_CHIP_ESP32, FREE(1 * MB)), .code = UPD_FIT_GZIP_UNSUPPORTED, .http = -106},
    {"32 §1 (first byte 0xE9, else -106)", "HTML page: -106", IMG_HTML, 0, 0, 0,
     ESP32_DEV(UPD_CHIP_ESP32, FREE(1 * MB)), .code = UPD_FIT_BAD_HEADER, .http = -106},
    {"32 §1 (order: size first)", "HTML page longer than free: -100", IMG_HTML, 0, 0, 0,
     ESP32_DEV(UPD_CHIP_ESP32, ESP32_FREE), FREE_LEN(-1), .code = UPD_FIT_NO_SPACE, .http = -100},
    {"32 §1 (Update switches partitions at the end)", "ESP8266 .bin: Update error 9 (activate)",
     IMG_ARD, 0, 4, 0, ESP32_DEV(UPD_CHIP_ESP32, FREE(1 * MB)), .code = UPD_FIT_WRONG_PLATFORM,
     .updater = 9, .say = {"ESP8266"}},
    {"32 §1 + §2 (chip id)", "ESP32-C3 app on an ESP32: wrong chip, Update error 9", IMG_ESP32, 0,
     2, UPD_CHIP_ESP32C3, ESP32_DEV(UPD_CHIP_ESP32, FREE(1 * MB)), .code = UPD_FIT_WRONG_CHIP,
     .updater = 9, .say = {"ESP32-C3"}},
    {"32 §1 + §2 (chip id)", "ESP32-C3 app, device chip unknown: OK", IMG_ESP32, 0, 2,
     UPD_CHIP_ESP32C3, ESP32_DEV(UPD_CHIP_UNKNOWN, FREE(1 * MB)), .code = UPD_FIT_OK},
    {"32 §1 + §2 (chip id)", "ESP32-S3 app on an ESP32-S3: OK", IMG_ESP32, 0, 3, UPD_CHIP_ESP32S3,
     ESP32_DEV(UPD_CHIP_ESP32S3, FREE(2 * MB)), .code = UPD_FIT_OK},
    {"fit.h (unknown facts skip checks)", "ESP32: no free-space header, no -100", IMG_ESP32, 0, 2,
     UPD_CHIP_ESP32, ESP32_DEV(UPD_CHIP_ESP32, .free_space = 4), .code = UPD_FIT_OK},

    /* ---- esp_https_ota ---- */
    {"32 §3 (checks chip id before writing)", "ESP32 app on an ESP32: OK", IMG_ESP32, 0, 2,
     UPD_CHIP_ESP32, IDF_DEV(UPD_CHIP_ESP32, FREE(1 * MB)), .code = UPD_FIT_OK},
    {"32 §3 (checks chip id before writing)", "ESP32-C3 app on an ESP32: VALIDATE_FAILED",
     IMG_ESP32, 0, 2, UPD_CHIP_ESP32C3, IDF_DEV(UPD_CHIP_ESP32, FREE(1 * MB)),
     .code = UPD_FIT_WRONG_CHIP, .updater = UPD_ERR_OTA_VALIDATE_FAILED,
     .say = {"ESP32-C3", "ESP32"}},
    {"32 §3 (checks chip id before writing)", "ESP32-S3 app on an ESP32-C6: VALIDATE_FAILED",
     IMG_ESP32, 0, 2, UPD_CHIP_ESP32S3, IDF_DEV(UPD_CHIP_ESP32C6), .code = UPD_FIT_WRONG_CHIP,
     .updater = UPD_ERR_OTA_VALIDATE_FAILED, .say = {"ESP32-S3", "ESP32-C6"}},
    {"32 §3 (checks chip id before writing)", "ESP32-C3 app, device chip unknown: OK", IMG_ESP32, 0,
     2, UPD_CHIP_ESP32C3, IDF_DEV(UPD_CHIP_UNKNOWN), .code = UPD_FIT_OK},
    {"32 §3 (checks the header before writing)", "HTML page: VALIDATE_FAILED", IMG_HTML, 0, 0, 0,
     IDF_DEV(UPD_CHIP_ESP32), .code = UPD_FIT_BAD_HEADER, .updater = UPD_ERR_OTA_VALIDATE_FAILED},
    {"32 §3 (checks the header before writing)", "ESP8266 .bin: VALIDATE_FAILED", IMG_ARD, 0, 4, 0,
     IDF_DEV(UPD_CHIP_ESP32), .code = UPD_FIT_WRONG_PLATFORM,
     .updater = UPD_ERR_OTA_VALIDATE_FAILED},

    /* ---- filesystem mode ---- */
    {"8266 §3 (FS images must fit FS_end - FS_start)", "LittleFS of exactly the FS size: OK",
     IMG_LFS, 8192, 0, 0, ESP8266_FS(.has_fs_size = 1), FS_LEN(0), .code = UPD_FIT_OK},
    {"8266 §3 + §2 (-100)", "LittleFS 8 KB larger than the FS area: -100", IMG_LFS, 16384, 0, 0,
     ESP8266_FS(FSSZ(8192)), .code = UPD_FIT_NO_SPACE, .http = -100,
     .say = {"16 KiB", "8192 bytes"}},
    {"8266 §3 + §2 (-100)", "LittleFS one byte over the FS area: -100", IMG_LFS, 8192, 0, 0,
     ESP8266_FS(.has_fs_size = 1), FS_LEN(-1), .code = UPD_FIT_NO_SPACE, .http = -100,
     .say = {"$LEN", "$FS"}},
    {"8266 §2 (-106 is sketch mode only)", "app image in filesystem mode: wrong mode", IMG_ARD, 0,
     4, 0, ESP8266_FS(FSSZ(1 * MB), FREE(1 * MB), CHIPSZ(4 * MB)), .code = UPD_FIT_WRONG_MODE},
    {"fit.h (unknown facts skip checks)", "LittleFS, FS size unknown: OK", IMG_LFS, 16384, 0, 0,
     ESP8266_FS(.fs_size = 4096), .code = UPD_FIT_OK},
    /* the area computed from the request (issue 8 part 2): FS start = roundup(sketch-size,
     * 4096) + free-space, FS end = the standard layouts' (0x3FA000 on 4 MB) */
    {"8266 §3 (FS start from the request, FS end from the layout)",
     "4 MB, FS start 0x3F8000 (8 KB area): 8 KB LittleFS fits", IMG_LFS, 8192, 0, 0,
     ESP8266_FS(FS_AT_4M(0x3F8000u)), .code = UPD_FIT_OK},
    {"8266 §3 (FS start from the request, FS end from the layout)",
     "4 MB, FS start 0x3F8000 (8 KB area): 12 KB LittleFS -100", IMG_LFS, 12288, 0, 0,
     ESP8266_FS(FS_AT_4M(0x3F8000u)), .code = UPD_FIT_NO_SPACE, .http = -100,
     .say = {"12288", "8192", "0x3f8000..0x3fa000"}},
    {"8266 §3 (FS start from the request)", "sketch-size is rounded up to 4096 first", IMG_LFS,
     12288, 0, 0, ESP8266_FS(SKSZ(4097), FREE(0x3F7000u - 8192u), CHIPSZ(4 * MB)),
     .code = UPD_FIT_OK},
    {"8266 §3 (no layout has a filesystem there)", "4 MB, layout eagle.flash.4m (no FS): -100",
     IMG_LFS, 8192, 0, 0, ESP8266_FS(FS_AT_4M(0x3FB000u)), .code = UPD_FIT_NO_SPACE, .http = -100,
     .say = {"eagle.flash.4m.ld"}},
    {"fit.h (unknown facts skip checks)", "no sketch-size: FS area unknown, no -100", IMG_LFS,
     12288, 0, 0, ESP8266_FS(FREE(0x3F8000u - 4096u), CHIPSZ(4 * MB)), .code = UPD_FIT_OK},
    {"fit.h (unknown facts skip checks)", "no chip-size: FS area unknown, no -100", IMG_LFS, 12288,
     0, 0, ESP8266_FS(SKSZ(4096), FREE(0x3F8000u - 4096u)), .code = UPD_FIT_OK},
    {"8266 §3 + Updater.cpp (FS_start + roundup(len) > FS_end: error 4)",
     "FS area given as 10000 bytes, 8192-byte LittleFS: OK", IMG_LFS, 8192, 0, 0,
     ESP8266_FS(FSSZ(10000)), .code = UPD_FIT_OK},
    {"32 §1 (mode spiffs)", "LittleFS on an ESP32 in spiffs mode: OK", IMG_LFS, 8192, 0, 0,
     ESP32_FS(UPD_CHIP_ESP32, FSSZ(64 * KB)), .code = UPD_FIT_OK},
    {"32 §1 (mode spiffs) + -100", "LittleFS larger than the ESP32 spiffs partition: -100", IMG_LFS,
     16384, 0, 0, ESP32_FS(UPD_CHIP_ESP32, FSSZ(8192)), .code = UPD_FIT_NO_SPACE, .http = -100},
};

/* Rows that once showed fit.c disagreeing with the spec (fixed since): kept apart so
 * that the history of each is next to it. */
static const fit_row disputed_rows[] = {
    /* 1. spec 8266 §2 table: "200, first byte neither 0xE9 nor 0x1F, or fewer than 4
     * bytes -> -106". fit.c once looked only at the first byte, so a 3-byte body starting
     * 0xE9 came out as "not installable, bricks" with http_error 0. */
    {"8266 §2 (fewer than 4 bytes)", "3-byte body starting 0xE9: -106", IMG_TINY_E9, 0, 0, 0,
     ESP8266_DEV(FREE(1 * MB), CHIPSZ(4 * MB)), .code = UPD_FIT_BAD_HEADER, .http = -106},
    /* 2. spec 8266 §3: Update.begin computes start = FS_start - roundup(len, 4096) and
     * fails with error 4 before anything is written; error 9 is found only "after the
     * write" when the first 4 bytes are re-read. On a flash-map core (no -107) an image
     * that fails both gives Updater 4. fit.c once checked the size code first (error 9). */
    {"8266 §3 (error 4 at begin, error 9 after the write)",
     "flash-map core, 16 MB image on 4 MB chip, len == free: Updater 4", IMG_ARD, 0, 9, 0,
     ESP8266_DEV(ESP8266_FREE, CHIPSZ(4 * MB), .flash_map_core = 1), FREE_LEN(0),
     .code = UPD_FIT_NO_SPACE_ROUNDUP, .updater = 4},
    /* 3. spec 8266 §3: "Flash size codes: 0=512K, 1=256K, 2=1M, 3=2M, 4=4M, 8=8M, 9=16M,
     * other=unknown"; -107 needs a size "> real chip size", which an unknown code does
     * not give. fit.c once read code 5 as 2 MB and code 6 as 4 MB (esptool's meaning)
     * and predicted -107. */
    {"8266 §3 (other size codes are unknown)", "code 5 on a 1 MB chip: no -107", IMG_ARD, 0, 5, 0,
     ESP8266_DEV(FREE(400 * KB), CHIPSZ(1 * MB)), .code = UPD_FIT_OK},
    {"8266 §3 (other size codes are unknown)", "code 6 on a 2 MB chip: no -107", IMG_ARD, 0, 6, 0,
     ESP8266_DEV(FREE(400 * KB), CHIPSZ(2 * MB)), .code = UPD_FIT_OK},
    /* 4. (explanation) x-ESP8266-free-space is a byte count; fit.c once printed the -100
     * sizes rounded to KiB only, so the spec example read "image 2764 KiB > 2764 KiB
     * free". */
    {"8266 §3 (example)", "-100 explanation names the byte counts", IMG_ARD_LEN, EX_FREE + 16u, 4,
     0, ESP8266_DEV(FREE(EX_FREE), CHIPSZ(4 * MB)), .code = UPD_FIT_NO_SPACE, .http = -100,
     .say = {"2830352", "2830336"}},
    {NULL, NULL, 0, 0, 0, 0, ESP8266_DEV(.free_space = 0), .code = UPD_FIT_OK},
};

/* ---- the runner -------------------------------------------------------------------- */

static uint32_t roundup4k(uint32_t n)
{
    return (n + 4095u) & ~4095u;
}

static void utoa10(char *out, uint32_t v)
{
    char t[11];
    int n = 0;
    do {
        t[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n)
        *out++ = t[--n];
    *out = '\0';
}

static void check_row(const fit_row *r)
{
    int before = upd_test__failed_checks;
    if (build(r->img, r->len, r->size_code, r->chip_id) != 0) {
        CHECK(!"image could not be built");
        printf("    row: %s: %s\n", r->spec, r->what);
        return;
    }
    upd_device_facts dev = r->dev;
    if (r->free_rel == REL_LEN)
        dev.free_space = (uint32_t)((int32_t)rep.size + r->free_d);
    else if (r->free_rel == REL_RUP)
        dev.free_space = (uint32_t)((int32_t)roundup4k(rep.size) + r->free_d);
    if (r->fs_rel == REL_LEN)
        dev.fs_size = (uint32_t)((int32_t)rep.size + r->fs_d);

    memset(&res, 0xA5, sizeof res); /* the call must fill all of it */
    int rc = upd_fit_check(&rep, &dev, &res);
    CHECK_INT(res.code, ==, r->code);
    CHECK_INT(rc, ==, r->code == UPD_FIT_OK ? 0 : UPD_ENOFIT);
    CHECK_INT(res.http_error, ==, r->http);
    CHECK_INT(res.updater_error, ==, r->updater);
    CHECK_INT(res.bricks, ==, r->bricks);
    CHECK(memchr(res.explanation, '\0', sizeof res.explanation) != NULL);
    CHECK(res.explanation[0] != '\0');
    for (unsigned i = 0; i < 3 && r->say[i]; i++) {
        char num[12];
        const char *s = r->say[i];
        int var = 1;
        if (strcmp(s, "$LEN") == 0)
            utoa10(num, rep.size);
        else if (strcmp(s, "$FREE") == 0)
            utoa10(num, dev.free_space);
        else if (strcmp(s, "$FS") == 0)
            utoa10(num, dev.fs_size);
        else if (strcmp(s, "$RUP") == 0)
            utoa10(num, roundup4k(rep.size));
        else
            var = 0;
        CHECK_CONTAINS(res.explanation, var ? num : s);
    }
    if (upd_test__failed_checks != before)
        printf("    row: %s: %s (image %u bytes, %s, %s)\n      explanation: %s\n", r->spec,
               r->what, (unsigned)rep.size, upd_kind_slug(rep.kind), upd_verdict_name(rep.verdict),
               res.explanation);
}

static void test_rows(void)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        check_row(&rows[i]);
}

static void test_disputed_rows(void)
{
    for (size_t i = 0; i < sizeof disputed_rows / sizeof disputed_rows[0]; i++)
        if (disputed_rows[i].spec)
            check_row(&disputed_rows[i]);
}

/* The images the rows rely on are what the rows say they are. */
static void test_row_images(void)
{
    CHECK_INT(build(IMG_ARD, 0, 4, 0), ==, 0);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_OTA_APP);
    CHECK_INT(rep.platform, ==, UPD_PLATFORM_ESP8266);
    CHECK(rep.size % 4096u != 0); /* so len == free is not 4 KB aligned */
    CHECK_INT(build(IMG_ARD_LEN, EX_FREE + 16u, 9, 0), ==, 0);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_OTA_APP);
    CHECK_INT(rep.size, ==, EX_FREE + 16u);
    CHECK_INT(rep.first_size_code, ==, 9);
    CHECK_INT(build(IMG_ARD_LEN, 8208, 4, 0), ==, 0);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_OTA_APP);
    CHECK_INT(rep.size, ==, 8208);
    CHECK_INT(build(IMG_ESP32, 0, 2, UPD_CHIP_ESP32C3), ==, 0);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_OTA_APP);
    CHECK_INT(rep.chip, ==, UPD_CHIP_ESP32C3);
    CHECK_INT(build(IMG_GZIP_ARD, 0, 4, 0), ==, 0);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_OTA_APP);
    CHECK_INT(rep.first_byte, ==, 0x1F);
    CHECK(rep.size % 4096u != 0);
    CHECK_INT(build(IMG_GZIP_E32, 0, 2, UPD_CHIP_ESP32), ==, 0);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_REJECTED);
    CHECK_INT(build(IMG_LFS, 8192, 0, 0), ==, 0);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_FS_IMAGE);
    CHECK_INT(rep.kind, ==, UPD_KIND_LITTLEFS);
    CHECK_INT(build(IMG_HTML, 0, 0, 0), ==, 0);
    CHECK_INT(rep.kind, ==, UPD_KIND_HTML);
    CHECK_INT(build(IMG_ELF, 0, 0, 0), ==, 0);
    CHECK_INT(rep.kind, ==, UPD_KIND_ELF);
    CHECK_INT(build(IMG_NONOS, 0, 0, 0), ==, 0);
    CHECK_INT(rep.kind, ==, UPD_KIND_NONOS_V2);
    CHECK_INT(build(IMG_TINY_E9, 0, 0, 0), ==, 0);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_REJECTED);
    CHECK_INT(build(IMG_ARD_BADSUM, 0, 4, 0), ==, 0);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_REJECTED);
    CHECK_INT(rep.error, ==, UPD_ECRC); /* the core 3.x CRC covers the whole file */
}

/* spec 8266 §3: free-space = FS_start - roundup(sketch-size, 4096). */
static void test_free_space_example(void)
{
    CHECK_INT(roundup4k(EX_SKETCH), ==, 315392);
    CHECK_INT(EX_FS_START - roundup4k(EX_SKETCH), ==, EX_FREE);
    CHECK_INT(EX_FREE % 4096u, ==, 0);
}

static void test_null_arguments(void)
{
    upd_device_facts dev = ESP8266_DEV(FREE(1 * MB));
    CHECK_INT(build(IMG_ARD, 0, 4, 0), ==, 0);
    CHECK_INT(upd_fit_check(NULL, &dev, &res), ==, UPD_EINVAL);
    CHECK_INT(upd_fit_check(&rep, NULL, &res), ==, UPD_EINVAL);
    CHECK_INT(upd_fit_check(&rep, &dev, NULL), ==, UPD_EINVAL);
    CHECK_INT(upd_fit_check(NULL, NULL, NULL), ==, UPD_EINVAL);
    CHECK_INT(upd_fit_check(&rep, &dev, &res), ==, 0);
}

/* A report the inspector could not make sense of is never installable. */
static void test_rejected_reports(void)
{
    upd_device_facts dev = ESP8266_DEV(FREE(1 * MB), CHIPSZ(4 * MB));
    CHECK_INT(build(IMG_TINY_E9, 0, 0, 0), ==, 0);
    CHECK_INT(upd_fit_check(&rep, &dev, &res), ==, UPD_ENOFIT);
    CHECK(res.code != UPD_FIT_OK);
}

static void test_fit_code_names(void)
{
    static const upd_fit_code all[] = {
        UPD_FIT_OK,
        UPD_FIT_NO_SPACE,
        UPD_FIT_NO_SPACE_ROUNDUP,
        UPD_FIT_BAD_HEADER,
        UPD_FIT_FLASH_TOO_SMALL,
        UPD_FIT_WRONG_PLATFORM,
        UPD_FIT_WRONG_CHIP,
        UPD_FIT_NOT_INSTALLABLE,
        UPD_FIT_GZIP_UNSUPPORTED,
        UPD_FIT_INFLATE_NO_ROOM,
        UPD_FIT_INFLATE_OVERRUN,
        UPD_FIT_WRONG_MODE,
    };
    size_t n = sizeof all / sizeof all[0];
    CHECK_STR(upd_fit_code_name(UPD_FIT_OK), "ok");
    CHECK_STR(upd_fit_code_name(UPD_FIT_NO_SPACE), "no-space");
    CHECK_STR(upd_fit_code_name(UPD_FIT_NO_SPACE_ROUNDUP), "no-space-roundup");
    for (size_t i = 0; i < n; i++) {
        const char *a = upd_fit_code_name(all[i]);
        CHECK(a != NULL && a[0] != '\0');
        CHECK(a != NULL && strcmp(a, "unknown") != 0);
        for (size_t j = i + 1; j < n; j++)
            CHECK(a != NULL && strcmp(a, upd_fit_code_name(all[j])) != 0);
    }
    CHECK(upd_fit_code_name((upd_fit_code)99) != NULL);
    CHECK(upd_fit_code_name((upd_fit_code)-1) != NULL);
}

static int eq_nocase(const char *a, const char *b)
{
    for (;; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return 0;
        if (!x)
            return 1;
    }
}

/* spec 8266 §2 "Error codes, by number" and the HTTPClient errors named in §2's table. */
static void test_device_error_texts(void)
{
    static const struct {
        int code;
        const char *text;
    } table[] = {
        {-100, "Not Enough space"},         {-101, "Server Did Not Report Size"},
        {-102, "File Not Found (404)"},     {-103, "Forbidden (403)"},
        {-104, "Wrong HTTP Code"},          {-105, "Wrong MD5"},
        {-106, "Verify Bin Header Failed"}, {-107, "New Binary Does Not Fit Flash Size"},
        {-108, "Unauthorized (401)"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        CHECK_STR(upd_device_error_text(table[i].code), table[i].text);
    /* spec 8266 §2 table: -109 HTTP_UE_SERVER_NOT_REPORT_VERSION "(no text)" (fit.c
     * once returned "Server Did Not Report Version") */
    CHECK_STR(upd_device_error_text(-109), "");
    CHECK(upd_device_error_text(-109) != NULL);
    /* spec: "-1 connection failed, -5 connection lost, -11 read timeout" (the core
     * spells the last "read Timeout": compared ignoring case) */
    CHECK(eq_nocase(upd_device_error_text(-1), "connection failed"));
    CHECK(eq_nocase(upd_device_error_text(-5), "connection lost"));
    CHECK(eq_nocase(upd_device_error_text(-11), "read timeout"));
    for (int c = -11; c <= -1; c++) {
        const char *t = upd_device_error_text(c);
        CHECK(t != NULL && t[0] != '\0');
    }
    /* unknown codes: "" */
    CHECK_STR(upd_device_error_text(0), "");
    CHECK_STR(upd_device_error_text(-12), "");
    CHECK_STR(upd_device_error_text(-99), "");
    CHECK_STR(upd_device_error_text(-110), "");
    CHECK_STR(upd_device_error_text(4), "");
    CHECK_STR(upd_device_error_text(100), "");
}

/* Every standard layout of the core (eagle.flash.*.ld) is found back from a request. */
static void test_flashmaps(void)
{
    unsigned n = 0;
    for (const upd_esp8266_flashmap *l; (l = upd_esp8266_flashmap_at(n)) != NULL; n++) {
        uint32_t s = 0, e = 0;
        const upd_esp8266_flashmap *got = NULL;
        CHECK_INT(upd_esp8266_fs_area(l->chip_size, 0, l->fs_start, &s, &e, &got), ==, 0);
        CHECK_INT(s, ==, l->fs_start);
        CHECK_INT(e, ==, l->fs_end);
        CHECK(got == l);
        CHECK(upd_esp8266_flashmap_find(l->chip_size, l->fs_start) == l);
        CHECK_INT(l->fs_start % 4096u, ==, 0);
        CHECK_INT(l->fs_end, <=, l->chip_size);
    }
    CHECK_INT(n, ==, 26); /* 26 eagle.flash.*.ld files besides "auto" */
    uint32_t s, e;
    const upd_esp8266_flashmap *lay;
    /* the numbers: 0x3FA000 on 4 MB, 0xFB000 on 1 MB */
    CHECK_INT(upd_esp8266_fs_area(4 * MB, EX_SKETCH, EX_FREE, &s, &e, &lay), ==, 0);
    CHECK_INT(s, ==, 0x300000);
    CHECK_INT(e, ==, 0x3FA000);
    CHECK(lay && !strcmp(lay->name, "4m1m"));
    CHECK_INT(upd_esp8266_fs_area(1 * MB, 300000, 0xEB000u - 303104u, &s, &e, &lay), ==, 0);
    CHECK_INT(e, ==, 0xFB000);
    CHECK(lay && !strcmp(lay->name, "1m64"));
    /* a start no layout has: the lowest end of the chip's layouts with a filesystem */
    CHECK_INT(upd_esp8266_fs_area(4 * MB, 0, 0x380000u, &s, &e, &lay), ==, 0);
    CHECK_INT(e, ==, 0x3FA000);
    CHECK(lay == NULL);
    CHECK_INT(upd_esp8266_fs_area(2 * MB, 0, 0x1D0000u, &s, &e, &lay), ==, 0);
    CHECK_INT(e, ==, 0x1FA000); /* 2m512/2m1m end a sector below 2m64..2m256 */
    CHECK_INT(upd_esp8266_fs_area(2 * MB, 0, 0x1C0000u, &s, &e, &lay), ==, 0);
    CHECK_INT(e, ==, 0x1FB000);
    /* a 1 MB build on a 4 MB module */
    CHECK_INT(upd_esp8266_fs_area(4 * MB, 0, 0xEB000u, &s, &e, &lay), ==, 0);
    CHECK_INT(e, ==, 0xFB000);
    CHECK(lay && !strcmp(lay->name, "1m64"));
    /* nothing to go on */
    CHECK_INT(upd_esp8266_fs_area(3 * MB, 0, 0x123000u, &s, &e, &lay), ==, UPD_EINVAL);
    CHECK_INT(upd_esp8266_fs_area(4 * MB, 0, 0x3FC000u, &s, &e, &lay), ==, UPD_EINVAL);
    CHECK_INT(upd_esp8266_fs_area(4 * MB, 0, 0x300000u, NULL, &e, &lay), ==, UPD_EINVAL);
    CHECK_INT(upd_esp8266_fs_area(4 * MB, 0, 0x300000u, &s, NULL, &lay), ==, UPD_EINVAL);
    CHECK_INT(upd_esp8266_fs_area(4 * MB, 0, 0x300000u, &s, &e, NULL), ==, 0);
}

/* eboot's size tells whether it inflates (image.h): the corpus' three eboots and the
 * line between them. */
static void test_eboot_inflates(void)
{
    upd_image_info b;
    memset(&b, 0, sizeof b);
    b.entry = 0x4010F29Cu; /* core 2.5.x */
    b.segment_count = 1;
    b.seg[0].load = 0x4010F000u;
    b.seg[0].len = 1384;
    CHECK_INT(upd_esp8266_eboot_inflates(&b), ==, 0);
    b.seg[0].len = 2047;
    CHECK_INT(upd_esp8266_eboot_inflates(&b), ==, 0);
    b.seg[0].len = 2048;
    CHECK_INT(upd_esp8266_eboot_inflates(&b), ==, 1);
    b.entry = 0x4010F45Cu; /* core 2.7.x */
    b.seg[0].len = 3584;
    CHECK_INT(upd_esp8266_eboot_inflates(&b), ==, 1);
    b.entry = 0x4010F494u; /* core 3.0.x: code + a data segment that does not count */
    b.segment_count = 2;
    b.seg[0].len = 3460;
    b.seg[1].load = 0x3FFF20B8u;
    b.seg[1].len = 40;
    CHECK_INT(upd_esp8266_eboot_inflates(&b), ==, 1);
    b.seg[0].len = 1384;
    b.seg[1].len = 4000;
    CHECK_INT(upd_esp8266_eboot_inflates(&b), ==, 0);
    b.entry = 0x4010057Cu; /* the NONOS SDK's boot_v1.7: not an eboot */
    CHECK_INT(upd_esp8266_eboot_inflates(&b), ==, -1);
    CHECK_INT(upd_esp8266_eboot_inflates(NULL), ==, -1);
    /* the inspector reports it; the test writer's eboot is a small one */
    CHECK_INT(build(IMG_ARD, 0, 4, 0), ==, 0);
    CHECK_INT(rep.eboot_inflates, ==, upd_esp8266_eboot_inflates(&rep.boot));
    CHECK_INT(build(IMG_GZIP_ARD, 0, 4, 0), ==, 0);
    CHECK_INT(rep.eboot_inflates, ==, inner.eboot_inflates);
    CHECK_INT(build(IMG_ESP32, 0, 2, UPD_CHIP_ESP32), ==, 0);
    CHECK_INT(rep.eboot_inflates, ==, -1);
}

/* gzip on a device (docs/fit-rules.md "gzip"): stage = FS_start - roundup(len, 4096)
 * must be >= the image's min stage (or the inflated end when that is not known), and the
 * inflated image must end at or below FS_start. Each boundary: at it passes, one sector
 * beyond fails. */
static void fit_gz(uint32_t fs_start, int want)
{
    upd_device_facts dev = ESP8266_DEV(CHIPSZ(4 * MB), SKSZ(4096), FREE(fs_start - 4096u));
    memset(&res, 0xA5, sizeof res);
    int rc = upd_fit_check(&rep, &dev, &res);
    CHECK_INT(res.code, ==, want);
    CHECK_INT(rc, ==, want == UPD_FIT_OK ? 0 : UPD_ENOFIT);
    CHECK_INT(res.bricks, ==, want == UPD_FIT_OK ? 0 : 1);
    CHECK_INT(res.http_error, ==, 0);
    CHECK_INT(res.updater_error, ==, 0);
    if (want != (int)res.code)
        printf("    fs_start 0x%x: %s\n", (unsigned)fs_start, res.explanation);
}

static void test_gzip_inflate(void)
{
    CHECK_INT(build(IMG_GZIP_ARD, 0, 4, 0), ==, 0);
    rep.gzip_isize = 40000; /* the rules read only the numbers: an image of 10 sectors */
    uint32_t in = roundup4k(rep.size), out = roundup4k(40000);
    CHECK_INT(in, ==, 8192);
    /* limit not computed: the output must end at or below the staging start */
    CHECK_INT(rep.gzip_min_stage_known, ==, 0);
    fit_gz(out + in, UPD_FIT_OK);
    fit_gz(out + in + 4096u, UPD_FIT_OK);
    fit_gz(out + in - 4096u, UPD_FIT_INFLATE_OVERRUN);
    CHECK_CONTAINS(res.explanation, "side by side");
    /* computed: one sector below the inflated end (an image whose tail compresses) */
    rep.gzip_min_stage_known = 1;
    rep.gzip_min_stage = out - 4096u;
    fit_gz(rep.gzip_min_stage + in, UPD_FIT_OK);
    fit_gz(rep.gzip_min_stage + in - 4096u, UPD_FIT_INFLATE_OVERRUN);
    CHECK_CONTAINS(res.explanation, "0x8000"); /* staged there */
    CHECK_CONTAINS(res.explanation, "0x9000"); /* must start there */
    /* a min stage above the inflated end changes nothing else */
    rep.gzip_min_stage = out + 4096u;
    fit_gz(out + 4096u + in, UPD_FIT_OK);
    fit_gz(out + in, UPD_FIT_INFLATE_OVERRUN);
    /* the inflated image longer than the sketch area */
    rep.gzip_min_stage = 4096u;
    fit_gz(out, UPD_FIT_OK);
    fit_gz(out - 4096u, UPD_FIT_INFLATE_NO_ROOM);
    CHECK_CONTAINS(res.explanation, "40000");
    /* the Updater's check still comes first: free space < roundup(len) is error 4 */
    upd_device_facts dev = ESP8266_DEV(CHIPSZ(4 * MB), SKSZ(4096), FREE(rep.size));
    CHECK_INT(upd_fit_check(&rep, &dev, &res), ==, UPD_ENOFIT);
    CHECK_INT(res.code, ==, UPD_FIT_NO_SPACE_ROUNDUP);
    CHECK_INT(res.updater_error, ==, 4);
    /* sketch-size unknown: FS_start unknown, the eboot rule cannot be applied */
    dev = (upd_device_facts)ESP8266_DEV(CHIPSZ(4 * MB), FREE(in));
    CHECK_INT(upd_fit_check(&rep, &dev, &res), ==, 0);
}

int main(void)
{
    RUN(test_row_images);
    RUN(test_free_space_example);
    RUN(test_rows);
    RUN(test_disputed_rows);
    RUN(test_null_arguments);
    RUN(test_rejected_reports);
    RUN(test_fit_code_names);
    RUN(test_device_error_texts);
    RUN(test_flashmaps);
    RUN(test_eboot_inflates);
    RUN(test_gzip_inflate);
    return upd_test_summary();
}
