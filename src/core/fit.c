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
        "wrong-mode",
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

/* ESP8266httpUpdate + Updater, sketch mode, in the client's order: size check (-100),
 * peek of 4 bytes (-106, then -107 unless the core has flash-map support), Update.begin
 * (error 4 on the 4 KB round-up), write, then the re-read of the header (error 9). */
static int fit_esp8266_sketch(const upd_image_report *img, const upd_device_facts *dev,
                              upd_fit_result *o)
{
    uint32_t len = img->size;
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
    uint32_t need = img->first_byte == 0xE9 ? upd_esp8266_magic_flash_size(img->first_size_code) : 0;
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

static int fit_fs(const upd_image_report *img, const upd_device_facts *dev, upd_fit_result *o)
{
    if (dev->has_fs_size && img->size > dev->fs_size) {
        upd__fmt(EXPL(o),
                 "filesystem image %K > %K filesystem area: would fail -100 (Not Enough "
                 "space); build the filesystem image for this board's layout",
                 img->size, dev->fs_size);
        return fail(o, UPD_FIT_NO_SPACE, -100, 0);
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
