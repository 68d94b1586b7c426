/* esptool images: ESP8266 "v1" images, the Arduino .bin (eboot at 0 + app at 0x1000,
 * with the core 3.x length/CRC words), ESP32-family images with the extended header,
 * appended SHA-256 and esp_app_desc_t, and merged factory images. Every length read
 * from the file is checked against the file's size before it is used. */
#include <string.h>

#include "bytes.h"
#include "image_int.h"
#include "strbuf.h"

#define R_REASON(r) (r)->reason, sizeof(r)->reason

int upd__esp32_header_plausible(const uint8_t *h)
{
    uint16_t chip = upd__le16(h + 12);
    if (h[0] != 0xE9 || h[1] == 0 || h[1] > UPD_IMAGE_MAX_SEGMENTS || h[2] > 5 || h[23] > 1)
        return 0;
    if (chip == UPD_CHIP_ESP8266 || upd_chip_name((upd_chip)chip) == NULL)
        return 0;
    return h[19] == 0 && h[20] == 0 && h[21] == 0 && h[22] == 0;
}

int upd__esp_parse(upd__ictx *ic, uint32_t off, int esp32, upd_image_info *info)
{
    upd_image_report *r = ic->r;
    uint8_t h[24];
    uint32_t hlen = esp32 ? 24u : 8u;
    int e, past = 0;

    memset(info, 0, sizeof *info);
    info->offset = off;
    info->checksum_ok = -1;
    info->hash_ok = -1;
    e = upd__get(ic, off, h, hlen);
    if (e == UPD_ETRUNC) {
        upd__fmt(R_REASON(r),
                 "the file ends inside the image header at 0x%x (file is %u bytes): it was "
                 "cut short; upload the complete file",
                 off, ic->size);
        return e;
    }
    if (e)
        return e;
    info->flash_mode = h[2];
    info->size_freq = h[3];
    info->entry = upd__le32(h + 4);
    if (esp32) {
        info->esp32 = 1;
        info->wp_pin = h[8];
        info->chip_id = upd__le16(h + 12);
        info->min_rev_full = upd__le16(h + 15);
        info->max_rev_full = upd__le16(h + 17);
        info->hash_appended = h[23];
    }
    if (h[1] == 0 || h[1] > UPD_IMAGE_MAX_SEGMENTS) {
        upd__fmt(R_REASON(r),
                 "the image header at 0x%x says %u segments, but an esptool image has 1 to "
                 "%u: the file is corrupted or not an image",
                 off, h[1], UPD_IMAGE_MAX_SEGMENTS);
        return UPD_EFORMAT;
    }
    info->segment_count = h[1]; /* only a count that fits seg[] is ever recorded */

    uint32_t pos = off + hlen;
    uint8_t x = 0xEF;
    for (unsigned i = 0; i < h[1]; i++) {
        uint8_t sh[8];
        e = upd__get(ic, pos, sh, 8);
        if (e == UPD_ETRUNC) {
            upd__fmt(R_REASON(r),
                     "the file ends inside the header of segment %u at 0x%x (file is %u "
                     "bytes): it was cut short; upload the complete file",
                     i, pos, ic->size);
            return e;
        }
        if (e)
            return e;
        uint32_t load = upd__le32(sh), len = upd__le32(sh + 4), data = pos + 8;
        if (esp32 && (len & 3u)) {
            upd__fmt(R_REASON(r),
                     "segment %u of the image at 0x%x is %u bytes long, not a multiple of 4 "
                     "as ESP32 images must be: the file is corrupted",
                     i, off, len);
            return UPD_EFORMAT;
        }
        if (!upd__in_file(ic, data, len)) {
            upd__fmt(R_REASON(r),
                     "segment %u claims %u bytes at 0x%x but the file ends at 0x%x: the file "
                     "was cut short or its segment table is corrupted; upload the complete "
                     ".bin",
                     i, len, data, ic->size);
            return UPD_ETRUNC;
        }
        /* only segments that lie inside the file are recorded */
        upd_segment *s = &info->seg[i];
        s->load = load;
        s->len = len;
        s->offset = data;
        e = upd__xor_range(ic, s->offset, s->len, &x);
        if (e == UPD__PAST_PREFIX)
            past = 1;
        else if (e)
            return e;
        pos = s->offset + s->len;
    }

    uint32_t chk = pos + (15u - pos % 16u);
    uint8_t stored;
    e = upd__get(ic, chk, &stored, 1);
    if (e == UPD_ETRUNC) {
        upd__fmt(R_REASON(r),
                 "the file ends at 0x%x, before the image checksum at 0x%x: it was cut "
                 "short; upload the complete file",
                 ic->size, chk);
        return e;
    }
    if (e == UPD__PAST_PREFIX)
        return e;
    if (e)
        return e;
    info->checksum_stored = stored;
    info->checksum_calc = x;
    info->checksum_ok = past ? -1 : (int8_t)(stored == x);
    info->end = chk + 1;

    if (esp32 && info->hash_appended) {
        if (!upd__in_file(ic, info->end, 32)) {
            upd__fmt(R_REASON(r),
                     "the file ends inside the SHA-256 the image header announces (at 0x%x): "
                     "it was cut short; upload the complete file",
                     info->end);
            return UPD_ETRUNC;
        }
        e = upd__get(ic, info->end, info->sha256, 32);
        if (e == UPD__PAST_PREFIX)
            return e;
        if (e)
            return e;
        if (ic->sha && !past) {
            uint8_t calc[32];
            ic->sha->init(ic->sha->ctx);
            e = upd__sha_range(ic, off, info->end - off);
            if (e)
                return e;
            ic->sha->final(ic->sha->ctx, calc);
            info->hash_ok = (int8_t)(memcmp(calc, info->sha256, 32) == 0);
        }
        info->end += 32;
    }
    return past ? UPD__PAST_PREFIX : 0;
}

/* Flash-mapped (cache) address ranges: an image with a segment there runs from flash,
 * which boot loaders never do. */
static int flash_mapped(upd_chip chip, uint32_t a)
{
    switch (chip) {
    case UPD_CHIP_ESP32:
        return (a >= 0x3F400000u && a < 0x3F800000u) || (a >= 0x400C2000u && a < 0x40C00000u);
    case UPD_CHIP_ESP32S2:
        return (a >= 0x3F000000u && a < 0x3FF80000u) || (a >= 0x40080000u && a < 0x40800000u);
    case UPD_CHIP_ESP32P4:
        return a >= 0x40000000u && a < 0x4C000000u;
    default:
        return (a >= 0x3C000000u && a < 0x3E000000u) || (a >= 0x42000000u && a < 0x44000000u);
    }
}

static void copy_str(char *dst, const uint8_t *src, size_t n)
{
    size_t i = 0;
    for (; i < n && src[i]; i++)
        dst[i] = (src[i] >= 0x20 && src[i] < 0x7F) ? (char)src[i] : '?';
    dst[i] = '\0';
}

static int read_app_desc(upd__ictx *ic, uint32_t off, upd_app_desc *d)
{
    uint8_t b[256];
    int e = upd__get(ic, off, b, sizeof b);
    if (e)
        return e;
    if (upd__le32(b) != 0xABCD5432u)
        return 0;
    d->present = 1;
    d->secure_version = upd__le32(b + 4);
    copy_str(d->version, b + 16, 32);
    copy_str(d->project, b + 48, 32);
    copy_str(d->time, b + 80, 16);
    copy_str(d->date, b + 96, 16);
    copy_str(d->idf_ver, b + 112, 32);
    memcpy(d->elf_sha256, b + 144, 32);
    return 0;
}

static void set_flash(upd_image_report *r, const upd_image_info *info)
{
    r->flash_mode = info->flash_mode;
    r->flash_size_code = (uint8_t)(info->size_freq >> 4);
    r->flash_freq_code = (uint8_t)(info->size_freq & 15u);
    r->flash_size = upd_flash_size_bytes(r->platform, r->flash_size_code);
}

int upd__read_partition_table(upd__ictx *ic, uint32_t off)
{
    upd_image_report *r = ic->r;
    int n = 0, best = -1;
    r->app_part_count = 0;
    for (unsigned i = 0; i < 95; i++) {
        uint8_t ent[32];
        int e = upd__get(ic, off + i * 32u, ent, 32);
        if (e)
            return e == UPD_ETRUNC ? n : e;
        if (ent[0] != 0xAA || ent[1] != 0x50)
            break;
        n++;
        if (ent[2] == 0x00 && r->app_part_count < 4) {
            unsigned k = r->app_part_count++;
            r->app_part_offset[k] = upd__le32(ent + 4);
            r->app_part_size[k] = upd__le32(ent + 8);
            if (best < 0 && ent[3] == 0x10)
                best = (int)k; /* ota_0 */
        }
    }
    /* put the main application partition (ota_0, else the first app) first */
    if (best > 0) {
        uint32_t o = r->app_part_offset[best], s = r->app_part_size[best];
        r->app_part_offset[best] = r->app_part_offset[0];
        r->app_part_size[best] = r->app_part_size[0];
        r->app_part_offset[0] = o;
        r->app_part_size[0] = s;
    }
    return n;
}

/* A whole-flash image: boot loader at boot_off, partition table at 0x8000, apps. */
static int inspect_merged(upd__ictx *ic, uint32_t boot_off)
{
    upd_image_report *r = ic->r;
    uint8_t h[24];
    r->platform = UPD_PLATFORM_ESP32;
    if (upd__get(ic, boot_off, h, 24) == 0 && upd__esp32_header_plausible(h)) {
        r->chip = (upd_chip)upd__le16(h + 12);
        r->flash_mode = h[2];
        r->flash_size_code = (uint8_t)(h[3] >> 4);
        r->flash_freq_code = (uint8_t)(h[3] & 15u);
        r->flash_size = upd_flash_size_bytes(r->platform, r->flash_size_code);
    }
    int n = upd__read_partition_table(ic, 0x8000);
    if (n < 0)
        return n;
    const char *chip = upd_chip_name(r->chip) ? upd_chip_name(r->chip) : "ESP32";
    upd__fmt(R_REASON(r),
             "merged factory image for %s (boot loader at 0x%x, partition table at 0x8000", chip,
             boot_off);
    if (r->app_part_count)
        upd__fmt_append(R_REASON(r), ", application at 0x%x", r->app_part_offset[0]);
    upd__fmt_append(R_REASON(r),
                    "): it is made to flash a blank chip at 0x0 over USB; an OTA update "
                    "takes only the application: upload the app .bin (firmware.bin, not "
                    "*.factory.bin)");
    return upd__reject(r, UPD_KIND_MERGED_FACTORY, UPD_ENOTAPP);
}

static int finish_incomplete(upd_image_report *r, upd_kind k)
{
    r->kind = k;
    r->verdict = UPD_VERDICT_INCOMPLETE;
    r->error = 0;
    upd__fmt(R_REASON(r), "%s so far (%u of %u bytes available): the rest was not checked",
             upd_kind_desc(k), r->inspected, r->size);
    return 0;
}

static int inspect_esp32(upd__ictx *ic)
{
    upd_image_report *r = ic->r;
    r->platform = UPD_PLATFORM_ESP32;
    int e = upd__esp_parse(ic, 0, 1, &r->app);
    r->chip = (upd_chip)r->app.chip_id;
    set_flash(r, &r->app);
    const char *chip = upd_chip_name(r->chip);
    if (e == UPD_ETRUNC || e == UPD_EFORMAT)
        return upd__reject(r, UPD_KIND_ESP32_APP, e);
    if (e == UPD__PAST_PREFIX)
        return finish_incomplete(r, UPD_KIND_ESP32_APP);
    if (e)
        return e;
    r->has_app = 1;
    r->image_end = r->app.end;

    e = r->app.segment_count && r->app.seg[0].len >= 256 ? read_app_desc(ic, 32, &r->desc) : 0;
    if (e == UPD__PAST_PREFIX)
        return finish_incomplete(r, UPD_KIND_ESP32_APP);
    if (e)
        return e;
    int mapped = 0;
    for (unsigned i = 0; i < r->app.segment_count; i++)
        mapped |= flash_mapped(r->chip, r->app.seg[i].load);
    uint8_t pt[2];
    if (!r->desc.present && !mapped) {
        /* a boot loader: report the image as such */
        r->boot = r->app;
        memset(&r->app, 0, sizeof r->app);
        r->has_boot = 1;
        r->has_app = 0;
        if (upd__get(ic, 0x8000, pt, 2) == 0 && pt[0] == 0xAA && pt[1] == 0x50)
            return inspect_merged(ic, 0);
        upd__fmt(R_REASON(r),
                 "%s second-stage boot loader (bootloader.bin, flashed once over USB at "
                 "0x%x): devices cannot replace it with an OTA update; upload the application "
                 ".bin (firmware.bin)",
                 chip, r->chip == UPD_CHIP_ESP32 || r->chip == UPD_CHIP_ESP32S2 ? 0x1000u : 0u);
        return upd__reject(r, UPD_KIND_ESP32_BOOTLOADER, UPD_ENOTAPP);
    }
    r->kind = UPD_KIND_ESP32_APP;
    if (r->app.checksum_ok == 0) {
        upd__fmt(R_REASON(r),
                 "%s application whose checksum does not match (stored 0x%x, computed 0x%x): "
                 "the file is corrupted; rebuild it or download it again",
                 chip, r->app.checksum_stored, r->app.checksum_calc);
        return upd__reject(r, UPD_KIND_ESP32_APP, UPD_ECHECKSUM);
    }
    if (r->app.hash_ok == 0) {
        upd__fmt(R_REASON(r),
                 "%s application whose appended SHA-256 does not match its contents: the "
                 "file is corrupted (the device's boot loader would refuse it); rebuild it",
                 chip);
        return upd__reject(r, UPD_KIND_ESP32_APP, UPD_EHASH);
    }
    if (!r->app.hash_appended)
        r->notes |= UPD_NOTE_NO_SHA256;
    else if (r->app.hash_ok < 0)
        r->notes |= UPD_NOTE_HASH_UNCHECKED;
    if (!r->desc.present)
        r->notes |= UPD_NOTE_NO_APP_DESC;
    if (r->size > r->app.end) {
        /* secure boot v2: a signature sector (magic 0xE7) at the next 4 KB boundary */
        uint32_t sig = (r->app.end + 4095u) & ~4095u;
        uint8_t m;
        if (upd__get(ic, sig, &m, 1) == 0 && m == 0xE7)
            r->notes |= UPD_NOTE_SIGNED;
        else
            r->notes |= UPD_NOTE_TRAILING_DATA;
    }
    r->verdict = UPD_VERDICT_OTA_APP;
    r->error = 0;
    upd__fmt(R_REASON(r), "%s application, %u segments, %K", chip, r->app.segment_count, r->size);
    if (r->desc.present && r->desc.version[0])
        upd__fmt_append(R_REASON(r), ", version '%s'", r->desc.version);
    if (r->desc.present && r->desc.idf_ver[0])
        upd__fmt_append(R_REASON(r), ", ESP-IDF %s", r->desc.idf_ver);
    return 0;
}

/* The eboot sits in IRAM at 0x4010F000..0x40110000 (bootloaders/eboot/eboot.ld); what
 * it loads there is its code. See image.h for why 2 KB tells the cores apart. */
#define EBOOT_IRAM_LO      0x4010F000u
#define EBOOT_IRAM_HI      0x40110000u
#define EBOOT_INFLATER_MIN 2048u

int upd_esp8266_eboot_inflates(const upd_image_info *boot)
{
    if (!boot || boot->entry < EBOOT_IRAM_LO || boot->entry >= EBOOT_IRAM_HI ||
        boot->segment_count == 0 || boot->segment_count > UPD_IMAGE_MAX_SEGMENTS)
        return -1;
    uint32_t code = 0;
    for (unsigned i = 0; i < boot->segment_count; i++)
        if (boot->seg[i].load >= EBOOT_IRAM_LO && boot->seg[i].load < EBOOT_IRAM_HI)
            code += boot->seg[i].len;
    return code >= EBOOT_INFLATER_MIN;
}

/* The Arduino .bin: eboot at 0 (already parsed into r->boot), app at 0x1000. */
static int inspect_arduino(upd__ictx *ic)
{
    upd_image_report *r = ic->r;
    r->has_boot = 1;
    r->eboot_inflates = (int8_t)upd_esp8266_eboot_inflates(&r->boot);
    int e = upd__esp_parse(ic, 0x1000, 0, &r->app);
    if (e == UPD_ETRUNC || e == UPD_EFORMAT) {
        /* keep the parser's words, say where */
        char why[UPD_REASON_MAX];
        memcpy(why, r->reason, sizeof why);
        upd__fmt(R_REASON(r), "ESP8266 Arduino image with a broken application at 0x1000: %s", why);
        return upd__reject(r, UPD_KIND_ESP8266_APP, e);
    }
    if (e == UPD__PAST_PREFIX)
        return finish_incomplete(r, UPD_KIND_ESP8266_APP);
    if (e)
        return e;
    r->has_app = 1;
    r->image_end = r->app.end;
    r->kind = UPD_KIND_ESP8266_APP;

    /* A signed image: payload || signature || u32 signature length. */
    uint32_t payload = r->size;
    if (r->size > r->app.end && r->size - r->app.end >= 4) {
        uint8_t t[4];
        e = upd__get(ic, r->size - 4, t, 4);
        if (e == UPD__PAST_PREFIX)
            return finish_incomplete(r, UPD_KIND_ESP8266_APP);
        uint32_t sl = e ? 0 : upd__le32(t);
        if (!e && sl >= 64 && sl <= 1024 && r->size - r->app.end - 4 >= sl) {
            payload = r->size - 4 - sl;
            r->sig_len = sl;
            r->notes |= UPD_NOTE_SIGNED;
        }
    }
    if (payload > r->app.end)
        r->notes |= UPD_NOTE_TRAILING_DATA;

    /* Core 3.x length + CRC-32/MPEG-2 words at 0x1010 (inside the app's first segment)
     * or 0xFF8 (in eboot's padding), written after the checksums were computed. */
    static const uint32_t places[2] = {0x1010u, 0xFF8u};
    for (unsigned i = 0; i < 2 && !r->crc_offset; i++) {
        uint8_t w[8];
        /* the length word is the .bin's length as built: the file, the signed payload,
         * or less when bytes were appended after the build */
        uint32_t clen = upd__get(ic, places[i], w, 8) == 0 ? upd__le32(w) : 0;
        if (clen < r->app.end || clen > payload)
            continue;
        uint32_t calc;
        e = upd__crc_with_hole(ic, clen, places[i], &calc);
        if (e == UPD__PAST_PREFIX)
            return finish_incomplete(r, UPD_KIND_ESP8266_APP);
        if (e)
            return e;
        r->crc_offset = places[i];
        r->crc_len = clen;
        r->crc_stored = upd__le32(w + 4);
        r->crc_calc = calc;
    }
    if (r->crc_offset && r->crc_stored != r->crc_calc) {
        upd__fmt(R_REASON(r),
                 "ESP8266 Arduino image whose length/CRC words at 0x%x do not match the file "
                 "(CRC stored 0x%x, computed 0x%x): the file is corrupted or was changed after "
                 "the build; rebuild it",
                 r->crc_offset, r->crc_stored, r->crc_calc);
        return upd__reject(r, UPD_KIND_ESP8266_APP, UPD_ECRC);
    }
    if (r->app.checksum_ok == 0 && r->crc_offset == 0x1010u) {
        uint8_t w[8], x = r->app.checksum_calc;
        if (upd__get(ic, 0x1010, w, 8) == 0) {
            for (unsigned i = 0; i < 8; i++)
                x ^= w[i];
            if (x == r->app.checksum_stored) {
                r->app.checksum_ok = 1;
                r->notes |= UPD_NOTE_CRC_PATCHED_XOR;
            }
        }
    }
    if (r->app.checksum_ok == 0 || r->boot.checksum_ok == 0) {
        const upd_image_info *bad = r->boot.checksum_ok == 0 ? &r->boot : &r->app;
        upd__fmt(R_REASON(r),
                 "ESP8266 Arduino image whose %s checksum does not match (stored 0x%x, "
                 "computed 0x%x): the file is corrupted; rebuild it or download it again",
                 bad == &r->boot ? "boot loader" : "application", bad->checksum_stored,
                 bad->checksum_calc);
        return upd__reject(r, UPD_KIND_ESP8266_APP, UPD_ECHECKSUM);
    }
    for (unsigned i = 0; i < r->app.segment_count; i++)
        if (r->app.seg[i].len & 3u)
            r->notes |= UPD_NOTE_UNALIGNED_SEGMENTS;
    r->verdict = UPD_VERDICT_OTA_APP;
    r->error = 0;
    upd__fmt(R_REASON(r),
             "ESP8266 Arduino application (eboot + app with %u segments), %K, built for %K "
             "flash (%s)",
             r->app.segment_count, r->size, r->flash_size, upd_flash_mode_name(r->flash_mode));
    if (r->sig_len)
        upd__fmt_append(R_REASON(r), ", signed (%u-byte signature)", r->sig_len);
    return 0;
}

static int inspect_esp8266(upd__ictx *ic)
{
    upd_image_report *r = ic->r;
    r->platform = UPD_PLATFORM_ESP8266;
    r->chip = UPD_CHIP_ESP8266;
    int e = upd__esp_parse(ic, 0, 0, &r->boot);
    set_flash(r, &r->boot);
    int eboot = r->boot.entry >= 0x4010F000u && r->boot.entry < 0x40110000u;
    upd_kind guess = eboot ? UPD_KIND_ESP8266_APP : UPD_KIND_ESP8266_PLAIN;
    if (e == UPD_ETRUNC || e == UPD_EFORMAT)
        return upd__reject(r, guess, e);
    if (e == UPD__PAST_PREFIX)
        return finish_incomplete(r, guess);
    if (e)
        return e;
    uint32_t end0 = r->boot.end;

    if (end0 <= 0x1000u && upd__in_file(ic, 0x1000, 1)) {
        uint8_t b;
        e = upd__get(ic, 0x1000, &b, 1);
        if (e == UPD__PAST_PREFIX)
            return finish_incomplete(r, guess);
        if (e)
            return e;
        if (b == 0xE9)
            return inspect_arduino(ic);
    }
    uint8_t hi[16];
    if (upd__get(ic, 0x10000, hi, 16) == 0) {
        int data = 0;
        for (unsigned i = 0; i < 16; i++)
            data |= hi[i] != 0xFF;
        if (data) {
            upd__fmt(R_REASON(r),
                     "whole-flash ESP8266 image (NONOS SDK layout: app at 0x0, code at "
                     "0x10000): the ESP8266 updater would take it (first byte 0xE9) and boot "
                     "it once, but it overwrites the Arduino boot loader, so OTA updates end "
                     "there; flash it over serial, and for OTA upload an Arduino .bin");
            return upd__reject(r, UPD_KIND_ESP8266_FLAT, UPD_ENOTAPP);
        }
    }
    if (end0 <= 0x1000u && r->size <= 0x1000u) {
        r->has_boot = 1;
        if (eboot)
            upd__fmt(R_REASON(r),
                     "the Arduino eboot boot loader alone (the first 4 KB of an Arduino .bin): "
                     "the file stops where the application should begin at 0x1000; upload "
                     "the whole .bin");
        else
            upd__fmt(R_REASON(r),
                     "ESP8266 second-stage boot loader (like the SDK's boot_v1.x.bin, flashed "
                     "once at 0x0 over serial): devices cannot replace it over the air; "
                     "upload the application .bin");
        return upd__reject(r, UPD_KIND_ESP8266_BOOTLOADER, UPD_ENOTAPP);
    }
    upd__fmt(R_REASON(r),
             "ESP8266 image without the Arduino boot loader (%u segments, entry 0x%x): it is "
             "made to be flashed at 0x0 (a NONOS eagle.flash.bin or a bare app); the Arduino "
             "updater would copy it over its boot loader and the device would not boot "
             "again; upload the .bin your Arduino or PlatformIO build produced",
             r->boot.segment_count, r->boot.entry);
    return upd__reject(r, UPD_KIND_ESP8266_PLAIN, UPD_ENOTAPP);
}

int upd__inspect_esp(upd__ictx *ic, const uint8_t *head, uint32_t headlen)
{
    upd_image_report *r = ic->r;
    if (head[0] == 0xFF) {
        /* erased-flash padding: a merged image with the boot loader at 0x1000? */
        uint8_t b, pt[2];
        for (uint32_t i = 0; i < headlen; i++)
            if (head[i] != 0xFF)
                return upd__inspect_other(ic, head, headlen);
        if (upd__get(ic, 0x1000, &b, 1) == 0 && b == 0xE9 && upd__get(ic, 0x8000, pt, 2) == 0 &&
            pt[0] == 0xAA && pt[1] == 0x50)
            return inspect_merged(ic, 0x1000);
        return upd__inspect_other(ic, head, headlen);
    }
    if (headlen < 8) {
        if (r->size < 8) {
            upd__fmt(R_REASON(r),
                     "only %u bytes starting with 0xE9: an image header alone is 8 bytes; "
                     "the file was cut short",
                     r->size);
            return upd__reject(r, UPD_KIND_UNKNOWN, UPD_ETRUNC);
        }
        r->verdict = UPD_VERDICT_INCOMPLETE;
        upd__fmt(R_REASON(r), "starts like an esptool image; the header is not complete yet");
        return 0;
    }
    if (headlen < 24 && r->size > headlen) {
        /* could be the first bytes of a 24-byte ESP32 header: wait for the rest */
        r->verdict = UPD_VERDICT_INCOMPLETE;
        upd__fmt(R_REASON(r), "starts like an esptool image; the header is not complete yet");
        return 0;
    }
    if (headlen >= 24 && upd__esp32_header_plausible(head)) {
        /* An ESP8266 image can look like an ESP32 header only by accident; prefer
         * ESP32 unless its segment walk fails and the ESP8266 one works. */
        int e = inspect_esp32(ic);
        if (r->verdict != UPD_VERDICT_REJECTED || (e != UPD_ETRUNC && e != UPD_EFORMAT))
            return e;
        e = upd__esp_parse(ic, 0, 0, &r->boot);
        if (e != 0 && e != UPD__PAST_PREFIX)
            return inspect_esp32(ic); /* neither works: report the ESP32 reading */
        uint32_t size = r->size, inspected = r->inspected, notes = r->notes;
        memset(r, 0, sizeof *r);
        r->size = size;
        r->inspected = inspected;
        r->notes = notes & UPD_NOTE_PREFIX_ONLY;
        r->chip = UPD_CHIP_UNKNOWN;
        r->inner_kind = UPD_KIND_UNKNOWN;
    }
    return inspect_esp8266(ic);
}
