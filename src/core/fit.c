/* Device-fit rules: walk the same checks, in the same order, as the device's own update
 * client (shared/spec esp8266-http-update.md sections 2, 3, 8; esp32-ota.md 1 and 3),
 * then judge what the device would have installed. */
#include <string.h>

#include "updraft/error.h"
#include "updraft/fit.h"
#include "strbuf.h"

#define EXPL(o) (o)->explanation, sizeof(o)->explanation

#define SECTOR 4096u

/* ESP-IDF esp_err_t values the ESP-IDF client reports. */
#define ESP_ERR_OTA_VALIDATE_FAILED 0x1503
#define ESP_ERR_INVALID_SIZE        0x104

/* ESP32 Update library errors (differ from the ESP8266 Updater's from 8 on). */
#define ESP32_UPDATE_ERROR_SPACE    4
#define ESP32_UPDATE_ERROR_ACTIVATE 9

/* ESP8266 Updater errors. */
#define UPDATER_ERROR_SPACE            4
#define UPDATER_ERROR_NEW_FLASH_CONFIG 9

const char *upd_fit_code_name(upd_fit_code c)
{
    static const char *const names[] = {
        "ok",         "no-space",        "no-space-roundup",
        "bad-header", "flash-too-small", "wrong-platform",
        "wrong-chip", "not-installable", "gzip-unsupported",
        "wrong-mode", "inflate-no-room", "inflate-overrun",
    };
    return (unsigned)c < sizeof names / sizeof names[0] ? names[c] : "unknown";
}

const char *upd_device_error_text(int code)
{
    switch (code) {
    case -1:
        return "connection failed";
    case -2:
        return "send header failed";
    case -3:
        return "send payload failed";
    case -4:
        return "not connected";
    case -5:
        return "connection lost";
    case -6:
        return "no stream";
    case -7:
        return "no HTTP server";
    case -8:
        return "too less ram";
    case -9:
        return "Transfer-Encoding not supported";
    case -10:
        return "Stream write error";
    case -11:
        return "read Timeout";
    case -100:
        return "Not Enough space";
    case -101:
        return "Server Did Not Report Size";
    case -102:
        return "File Not Found (404)";
    case -103:
        return "Forbidden (403)";
    case -104:
        return "Wrong HTTP Code";
    case -105:
        return "Wrong MD5";
    case -106:
        return "Verify Bin Header Failed";
    case -107:
        return "New Binary Does Not Fit Flash Size";
    case -108:
        return "Unauthorized (401)";
    default:
        return "";
    }
}

static int fail(upd_fit_result *o, upd_fit_code c, int http, int updater)
{
    o->code = c;
    o->http_error = http;
    o->updater_error = updater;
    return UPD_ENOFIT;
}

static uint32_t roundup_sector(uint32_t n)
{
    return n > 0xFFFFFFFFu - (SECTOR - 1u) ? 0xFFFFFFFFu : (n + SECTOR - 1u) & ~(SECTOR - 1u);
}

/* ---- ESP8266 layouts: tools/sdk/ld/eagle.flash.*.ld, _FS_start/_FS_end - 0x40200000 ---- */

#define K 1024u
#define M (1024u * 1024u)

static const upd_esp8266_flashmap layouts[] = {
    {"512k", 512 * K, 0x7B000u, 0x7B000u},    {"512k32", 512 * K, 0x73000u, 0x7B000u},
    {"512k64", 512 * K, 0x6B000u, 0x7B000u},  {"512k128", 512 * K, 0x5B000u, 0x7B000u},
    {"1m", 1 * M, 0xFB000u, 0xFB000u},        {"1m64", 1 * M, 0xEB000u, 0xFB000u},
    {"1m128", 1 * M, 0xDB000u, 0xFB000u},     {"1m144", 1 * M, 0xD7000u, 0xFB000u},
    {"1m160", 1 * M, 0xD3000u, 0xFB000u},     {"1m192", 1 * M, 0xCB000u, 0xFB000u},
    {"1m256", 1 * M, 0xBB000u, 0xFB000u},     {"1m512", 1 * M, 0x7B000u, 0xFB000u},
    {"2m", 2 * M, 0x1FB000u, 0x1FB000u},      {"2m64", 2 * M, 0x1F0000u, 0x1FB000u},
    {"2m128", 2 * M, 0x1E0000u, 0x1FB000u},   {"2m256", 2 * M, 0x1C0000u, 0x1FB000u},
    {"2m512", 2 * M, 0x180000u, 0x1FA000u},   {"2m1m", 2 * M, 0x100000u, 0x1FA000u},
    {"4m", 4 * M, 0x3FB000u, 0x3FB000u},      {"4m1m", 4 * M, 0x300000u, 0x3FA000u},
    {"4m2m", 4 * M, 0x200000u, 0x3FA000u},    {"4m3m", 4 * M, 0x100000u, 0x3FA000u},
    {"8m6m", 8 * M, 0x200000u, 0x7FA000u},    {"8m7m", 8 * M, 0x100000u, 0x7FA000u},
    {"16m14m", 16 * M, 0x200000u, 0xFFA000u}, {"16m15m", 16 * M, 0x100000u, 0xFFA000u},
};

#define NLAYOUTS (sizeof layouts / sizeof layouts[0])

const upd_esp8266_flashmap *upd_esp8266_flashmap_at(unsigned i)
{
    return i < NLAYOUTS ? &layouts[i] : NULL;
}

const upd_esp8266_flashmap *upd_esp8266_flashmap_find(uint32_t chip_size, uint32_t fs_start)
{
    for (unsigned i = 0; i < NLAYOUTS; i++)
        if (layouts[i].chip_size == chip_size && layouts[i].fs_start == fs_start)
            return &layouts[i];
    return NULL;
}

int upd_esp8266_fs_area(uint32_t chip_size, uint32_t sketch_size, uint32_t free_space,
                        uint32_t *start, uint32_t *end, const upd_esp8266_flashmap **layout)
{
    if (!start || !end)
        return UPD_EINVAL;
    uint64_t s = (uint64_t)roundup_sector(sketch_size) + free_space;
    uint32_t lowest = 0;
    const upd_esp8266_flashmap *found = NULL;
    for (unsigned i = 0; i < NLAYOUTS; i++) {
        const upd_esp8266_flashmap *l = &layouts[i];
        if (l->chip_size != chip_size)
            continue;
        if (l->fs_start == s)
            found = l;
        if (l->fs_end > l->fs_start && (!lowest || l->fs_end < lowest))
            lowest = l->fs_end;
    }
    if (!found) {
        /* a build for a smaller flash on this chip (a 1 MB layout on a 4 MB module) */
        for (unsigned i = 0; i < NLAYOUTS && !found; i++)
            if (layouts[i].chip_size < chip_size && layouts[i].fs_start == s &&
                layouts[i].fs_end > layouts[i].fs_start)
                found = &layouts[i];
    }
    if (!found && (!lowest || s > lowest))
        return UPD_EINVAL;
    *start = (uint32_t)s;
    *end = found ? found->fs_end : lowest;
    if (layout)
        *layout = found;
    return 0;
}

/* What the image is, for the device's family: 1 if it is what this device should run. */
static int right_platform(const upd_image_report *img, const upd_device_facts *dev)
{
    if (dev->client == UPD_CLIENT_ESP8266_ARDUINO)
        return img->platform == UPD_PLATFORM_ESP8266;
    return img->platform == UPD_PLATFORM_ESP32;
}

static const char *chip_or(upd_chip c, const char *dflt)
{
    const char *n = upd_chip_name(c);
    return n ? n : dflt;
}

uint32_t upd_esp8266_magic_flash_size(uint8_t code)
{
    switch (code) {
    case 0x0:
        return 512u * 1024u;
    case 0x1:
        return 256u * 1024u;
    case 0x2:
        return 1024u * 1024u;
    case 0x3:
        return 2048u * 1024u;
    case 0x4:
        return 4096u * 1024u;
    case 0x8:
        return 8192u * 1024u;
    case 0x9:
        return 16384u * 1024u;
    default:
        return 0;
    }
}

/* A gzip image the Updater has staged at stage = FS_start - roundup(len, 4096), where
 * FS_start = roundup(sketch-size, 4096) + free-space. eboot's copy_raw then inflates it
 * onto 0 sector by sector (each output sector: erase, write 4 KB, the last one padded
 * with 0xFF), reading the staged data in 4 KB blocks only when the inflater needs the
 * next byte. It works iff (1) the output, roundup(ISIZE, 4096), ends at or below FS_start
 * (else it erases the filesystem and the staged data's end), and (2) no output sector is
 * erased before the staged block in it has been read: stage >= the image's
 * gzip_min_stage (docs/fit-rules.md; without it, the output must end at or below the
 * staging start, which is always enough). Either failure installs the image, then eboot
 * leaves a half-written sketch: the device does not boot again. */
static int fit_inflate(const upd_image_report *img, const upd_device_facts *dev, upd_fit_result *o)
{
    uint64_t fs_start = (uint64_t)roundup_sector(dev->sketch_size) + dev->free_space;
    uint64_t out_end = roundup_sector(img->gzip_isize);
    uint64_t stage = fs_start - roundup_sector(img->size); /* >= 0: the Updater took it */
    if (out_end > fs_start) {
        upd__fmt(EXPL(o),
                 "the image inflates to %u bytes (%u in whole sectors) but the sketch area ends "
                 "at 0x%x (roundup(sketch-size %u, 4096) + free-space %u): eboot would "
                 "inflate it over the start of the filesystem and over the compressed data "
                 "it is still reading; the device would not boot again",
                 img->gzip_isize, (uint32_t)out_end, (uint32_t)fs_start, dev->sketch_size,
                 dev->free_space);
        o->bricks = 1;
        return fail(o, UPD_FIT_INFLATE_NO_ROOM, 0, 0);
    }
    uint64_t min = img->gzip_min_stage_known ? img->gzip_min_stage : out_end;
    if (stage < min) {
        upd__fmt(EXPL(o),
                 "the updater would stage the %u compressed bytes at 0x%x, but eboot, "
                 "inflating them to %u bytes at 0x0, would erase staged sectors it has not "
                 "read yet unless they start at 0x%x or higher%s: the device would install it "
                 "and not boot again; it needs %u more bytes of free space",
                 img->size, (uint32_t)stage, img->gzip_isize, (uint32_t)min,
                 img->gzip_min_stage_known ? ""
                                           : " (the inflated image and the staged one side "
                                             "by side; the exact limit was not computed)",
                 (uint32_t)(min - stage));
        o->bricks = 1;
        return fail(o, UPD_FIT_INFLATE_OVERRUN, 0, 0);
    }
    return 0;
}

/* ESP8266httpUpdate + Updater, sketch mode, in the client's order: size check (-100),
 * peek of 4 bytes (-106, then -107 unless the core has flash-map support), Update.begin
 * (error 4 on the 4 KB round-up), write, then the re-read of the header (error 9). */
static int fit_esp8266_sketch(const upd_image_report *img, const upd_device_facts *dev,
                              upd_fit_result *o)
{
    uint32_t len = img->size;
    int e;
    if (dev->has_free_space && len > dev->free_space) {
        upd__fmt(EXPL(o),
                 "image %u bytes > %u bytes free (%K > %K): would fail -100 (Not Enough "
                 "space); the sketch on the device is too large to leave room for this one, so "
                 "build a smaller image, compress it with gzip, or move the device to a flash "
                 "layout with a smaller filesystem",
                 len, dev->free_space, len, dev->free_space);
        return fail(o, UPD_FIT_NO_SPACE, -100, 0);
    }
    int gz = img->first_byte == 0x1F;
    if (len < 4 || (img->first_byte != 0xE9 && !(gz && !dev->no_gzip))) {
        if (len < 4)
            upd__fmt(EXPL(o),
                     "the file is only %u bytes: would fail -106 (Verify Bin Header "
                     "Failed)",
                     len);
        else
            upd__fmt(EXPL(o),
                     "the file starts with 0x%x, not 0xE9%s: would fail -106 (Verify Bin "
                     "Header Failed)",
                     img->first_byte,
                     dev->no_gzip ? " (this core is older than 2.7 and cannot take gzip)"
                                  : " or 0x1F (gzip)");
        return fail(o, gz && len >= 4 ? UPD_FIT_GZIP_UNSUPPORTED : UPD_FIT_BAD_HEADER, -106, 0);
    }
    uint32_t need =
        img->first_byte == 0xE9 ? upd_esp8266_magic_flash_size(img->first_size_code) : 0;
    int too_big_flash = dev->has_chip_size && need > dev->chip_size;
    if (too_big_flash && !dev->flash_map_core) {
        upd__fmt(EXPL(o),
                 "the image is built for %K of flash but the chip has %K: would fail -107 (New "
                 "Binary Does Not Fit Flash Size); build for the board's real flash size",
                 need, dev->chip_size);
        return fail(o, UPD_FIT_FLASH_TOO_SMALL, -107, 0);
    }
    if (dev->has_free_space && roundup_sector(len) > dev->free_space) {
        upd__fmt(EXPL(o),
                 "image %u bytes fits the %u bytes free, but the updater reserves whole 4 KB "
                 "sectors (%u bytes): would fail with Updater error 4 (Not Enough Space); "
                 "make the image at least %u bytes smaller",
                 len, dev->free_space, roundup_sector(len), roundup_sector(len) - dev->free_space);
        return fail(o, UPD_FIT_NO_SPACE_ROUNDUP, 0, UPDATER_ERROR_SPACE);
    }
    if (gz && dev->has_free_space && dev->has_sketch_size && (e = fit_inflate(img, dev, o)) != 0)
        return e;
    if (too_big_flash) {
        upd__fmt(EXPL(o),
                 "the image is built for %K of flash but the chip has %K: this core skips "
                 "the -107 check, writes the image, then fails with Updater error 9 (new "
                 "flash config); build for the board's real flash size",
                 need, dev->chip_size);
        return fail(o, UPD_FIT_FLASH_TOO_SMALL, 0, UPDATER_ERROR_NEW_FLASH_CONFIG);
    }
    return 0;
}

/* Arduino-ESP32 HTTPUpdate + Update, sketch mode. */
static int fit_esp32_arduino_sketch(const upd_image_report *img, const upd_device_facts *dev,
                                    upd_fit_result *o)
{
    uint32_t len = img->size;
    if (dev->has_free_space && len > dev->free_space) {
        upd__fmt(EXPL(o),
                 "image %u bytes > %u bytes OTA partition (%K > %K): would fail -100 (Not "
                 "Enough space); use a partition scheme with larger app partitions or a "
                 "smaller image",
                 len, dev->free_space, len, dev->free_space);
        return fail(o, UPD_FIT_NO_SPACE, -100, 0);
    }
    if (len < 4) {
        upd__fmt(EXPL(o),
                 "the file is only %u bytes: would fail -106 (Verify Bin Header "
                 "Failed)",
                 len);
        return fail(o, UPD_FIT_BAD_HEADER, -106, 0);
    }
    if (img->first_byte != 0xE9) {
        upd__fmt(EXPL(o),
                 "the file starts with 0x%x, not 0xE9: would fail -106 (Verify Bin Header "
                 "Failed)%s",
                 img->first_byte,
                 img->first_byte == 0x1F ? "; ESP32 devices cannot install gzip images" : "");
        return fail(o, img->first_byte == 0x1F ? UPD_FIT_GZIP_UNSUPPORTED : UPD_FIT_BAD_HEADER,
                    -106, 0);
    }
    return 0;
}

/* ESP-IDF esp_https_ota: reads the first bytes, checks magic and chip id. */
static int fit_esp_idf(const upd_image_report *img, const upd_device_facts *dev, upd_fit_result *o)
{
    if (img->first_byte != 0xE9 || img->platform != UPD_PLATFORM_ESP32) {
        upd__fmt(EXPL(o),
                 "esp_https_ota checks the image header before writing and would stop with "
                 "ESP_ERR_OTA_VALIDATE_FAILED: the file is not an ESP32-family application");
        return fail(o, img->first_byte == 0xE9 ? UPD_FIT_WRONG_PLATFORM : UPD_FIT_BAD_HEADER, 0,
                    ESP_ERR_OTA_VALIDATE_FAILED);
    }
    if (dev->chip != UPD_CHIP_UNKNOWN && img->chip != dev->chip) {
        upd__fmt(EXPL(o),
                 "image for %s, device is %s: esp_https_ota would stop with \"Mismatch chip "
                 "id\" (ESP_ERR_OTA_VALIDATE_FAILED)",
                 chip_or(img->chip, "another chip"), chip_or(dev->chip, "another chip"));
        return fail(o, UPD_FIT_WRONG_CHIP, 0, ESP_ERR_OTA_VALIDATE_FAILED);
    }
    if (dev->has_free_space && img->size > dev->free_space) {
        upd__fmt(EXPL(o),
                 "image %K > %K OTA partition: esp_https_ota would fail when writing past the "
                 "partition (ESP_ERR_INVALID_SIZE)",
                 img->size, dev->free_space);
        return fail(o, UPD_FIT_NO_SPACE, 0, ESP_ERR_INVALID_SIZE);
    }
    return 0;
}

/* The filesystem area a device has: told (has_fs_size), or for an ESP8266 computed from
 * its request with the standard layouts. 1 when known; *how describes where it came from. */
static int fs_area(const upd_device_facts *dev, uint32_t *size, char *how, size_t howlen)
{
    how[0] = '\0';
    if (dev->has_fs_size) {
        *size = dev->fs_size;
        return 1;
    }
    uint32_t start, end;
    const upd_esp8266_flashmap *lay = NULL;
    if (dev->client != UPD_CLIENT_ESP8266_ARDUINO || !dev->has_sketch_size ||
        !dev->has_free_space || !dev->has_chip_size ||
        upd_esp8266_fs_area(dev->chip_size, dev->sketch_size, dev->free_space, &start, &end,
                            &lay) != 0)
        return 0;
    *size = end - start;
    upd__fmt(how, howlen,
             " (0x%x..0x%x: it starts at roundup(sketch-size %u, 4096) + free-space %u and ends "
             "where ",
             start, end, dev->sketch_size, dev->free_space);
    if (lay)
        upd__fmt_append(how, howlen, "the layout eagle.flash.%s.ld ends)", lay->name);
    else
        upd__fmt_append(how, howlen, "the standard layouts of a %K chip end)", dev->chip_size);
    return 1;
}

/* ESP8266httpUpdate in spiffs mode: -100 when the length exceeds FS_end - FS_start, then
 * Update.begin(U_FS) fails with error 4 when FS_start + roundup(len, 4096) > FS_end. */
static int fit_fs(const upd_image_report *img, const upd_device_facts *dev, upd_fit_result *o)
{
    uint32_t area = 0;
    char how[200];
    int known = fs_area(dev, &area, how, sizeof how);
    if (known && img->size > area) {
        upd__fmt(EXPL(o),
                 "filesystem image %u bytes > %u bytes filesystem area%s (%K > %K): would fail "
                 "-100 (Not Enough space); build the filesystem image for this board's layout",
                 img->size, area, how, img->size, area);
        return fail(o, UPD_FIT_NO_SPACE, -100, 0);
    }
    if (known && dev->client == UPD_CLIENT_ESP8266_ARDUINO && roundup_sector(img->size) > area) {
        upd__fmt(EXPL(o),
                 "filesystem image %u bytes fits the %u bytes filesystem area%s, but the "
                 "updater reserves whole 4 KB sectors (%u bytes): would fail with Updater error "
                 "4 (Not Enough Space)",
                 img->size, area, how, roundup_sector(img->size));
        return fail(o, UPD_FIT_NO_SPACE_ROUNDUP, 0, UPDATER_ERROR_SPACE);
    }
    if (img->verdict != UPD_VERDICT_FS_IMAGE) {
        upd__fmt(EXPL(o),
                 "a filesystem update was asked for but this is %s: the device would write it "
                 "over its filesystem and lose its files",
                 upd_kind_desc(img->kind));
        return fail(o, UPD_FIT_WRONG_MODE, 0, 0);
    }
    return 0;
}

int upd_fit_check(const upd_image_report *img, const upd_device_facts *dev, upd_fit_result *out)
{
    if (!img || !dev || !out)
        return UPD_EINVAL;
    memset(out, 0, sizeof *out);
    int e;

    if (dev->mode == UPD_MODE_FS) {
        if ((e = fit_fs(img, dev, out)) != 0)
            return e;
        upd__fmt(EXPL(out), "the device would install this filesystem image (%K)", img->size);
        return 0;
    }

    /* 1. the checks the device's client makes, in its order */
    if (dev->client == UPD_CLIENT_ESP8266_ARDUINO)
        e = fit_esp8266_sketch(img, dev, out);
    else if (dev->client == UPD_CLIENT_ESP32_ARDUINO)
        e = fit_esp32_arduino_sketch(img, dev, out);
    else
        e = fit_esp_idf(img, dev, out);
    if (e)
        return e;

    /* 2. it would take the file: would it run? */
    int esp8266 = dev->client == UPD_CLIENT_ESP8266_ARDUINO;
    if (img->verdict == UPD_VERDICT_FS_IMAGE) {
        upd__fmt(EXPL(out),
                 "a filesystem image offered as a sketch: the device would install it as its "
                 "program and no longer boot");
        out->bricks = 1;
        return fail(out, UPD_FIT_WRONG_MODE, 0, 0);
    }
    if (img->verdict != UPD_VERDICT_OTA_APP || !right_platform(img, dev)) {
        int wrong_platform = img->verdict == UPD_VERDICT_OTA_APP;
        if (esp8266) {
            upd__fmt(EXPL(out),
                     "the ESP8266 updater would accept and install this file (it checks only "
                     "the first bytes) and the device would not boot again: %s",
                     wrong_platform ? "it is an image for the ESP32 family" : img->reason);
            out->bricks = 1;
            return fail(out, wrong_platform ? UPD_FIT_WRONG_PLATFORM : UPD_FIT_NOT_INSTALLABLE, 0,
                        0);
        }
        upd__fmt(EXPL(out),
                 "the device would download it and then refuse to boot from it: Update "
                 "error 9 (Could Not Activate The Firmware): %s",
                 wrong_platform ? "it is an ESP8266 image" : img->reason);
        return fail(out, wrong_platform ? UPD_FIT_WRONG_PLATFORM : UPD_FIT_NOT_INSTALLABLE, 0,
                    ESP32_UPDATE_ERROR_ACTIVATE);
    }
    if (!esp8266 && dev->chip != UPD_CHIP_UNKNOWN && img->chip != dev->chip) {
        upd__fmt(EXPL(out),
                 "image for %s, device is %s: the device would download it and then refuse "
                 "it when switching partitions: Update error 9 (Could Not Activate The "
                 "Firmware)",
                 chip_or(img->chip, "another chip"), chip_or(dev->chip, "another chip"));
        return fail(out, UPD_FIT_WRONG_CHIP, 0, ESP32_UPDATE_ERROR_ACTIVATE);
    }
    if (esp8266 && img->first_byte == 0x1F && dev->no_gzip) {
        upd__fmt(EXPL(out), "gzip image on a core older than 2.7: would fail -106");
        return fail(out, UPD_FIT_GZIP_UNSUPPORTED, -106, 0);
    }
    upd__fmt(EXPL(out), "the device would install this image (%K", img->size);
    if (dev->has_free_space)
        upd__fmt_append(EXPL(out), ", %K free", dev->free_space);
    upd__fmt_append(EXPL(out), ")");
    return 0;
}
