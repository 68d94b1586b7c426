/* Files that are not esptool images: gzip containers, ELF files, NONOS SDK 0xEA images,
 * partition tables, PHY init data, LittleFS images, HTML/JSON/source text, and data we
 * do not recognise. Each gets a message that names it and says what to upload. */
#include <string.h>

#include "bytes.h"
#include "image_int.h"
#include "strbuf.h"

#define R_REASON(r) (r)->reason, sizeof(r)->reason

static int inspect_gzip(upd__ictx *ic, const uint8_t *h, uint32_t n)
{
    upd_image_report *r = ic->r;
    r->gzip = 1;
    r->kind = UPD_KIND_GZIP;
    if (r->size < 18) {
        upd__fmt(R_REASON(r),
                 "gzip file of only %u bytes (a gzip file has at least 18): it was cut "
                 "short; compress the .bin again",
                 r->size);
        return upd__reject(r, UPD_KIND_GZIP, UPD_EGZIP);
    }
    if (n < 10) {
        r->verdict = UPD_VERDICT_INCOMPLETE;
        upd__fmt(R_REASON(r), "gzip data; the header is not complete yet");
        return 0;
    }
    if (h[2] != 8 || (h[3] & 0xE0u)) {
        upd__fmt(R_REASON(r),
                 "gzip header with an unknown method or flags (method %u, flags 0x%x): the file "
                 "is damaged; compress the .bin again with gzip -9",
                 h[2], h[3]);
        return upd__reject(r, UPD_KIND_GZIP, UPD_EGZIP);
    }
    r->gzip_mtime = upd__le32(h + 4);
    uint32_t pos = 10;
    uint8_t b[2];
    if (h[3] & 0x04u) { /* FEXTRA */
        if (upd__get(ic, pos, b, 2) == 0)
            pos += 2u + upd__le16(b);
    }
    if (h[3] & 0x08u) { /* FNAME */
        unsigned k = 0;
        for (unsigned i = 0; i < 1024; i++) {
            uint8_t c;
            if (upd__get(ic, pos + i, &c, 1) != 0 || c == 0)
                break;
            if (k + 1 < sizeof r->gzip_name)
                r->gzip_name[k++] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
        }
        r->gzip_name[k] = '\0';
    }
    uint8_t t[4];
    int e = upd__get(ic, r->size - 4, t, 4);
    if (e == 0)
        r->gzip_isize = upd__le32(t);
    r->verdict = UPD_VERDICT_INCOMPLETE;
    r->error = 0;
    upd__fmt(R_REASON(r), "gzip-compressed data (%K); what it holds is judged after decompression",
             r->size);
    return 0;
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* Case-insensitive search of needle in the first n bytes of hay; offset or -1. */
static int find_ci(const uint8_t *hay, uint32_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (uint32_t i = 0; i + m <= n; i++) {
        size_t j = 0;
        while (j < m && lower(hay[i + j]) == needle[j])
            j++;
        if (j == m)
            return (int)i;
    }
    return -1;
}

/* Copy a printable excerpt (spaces folded, at most max chars) of t[from..n) into out. */
static void excerpt(char *out, size_t cap, const uint8_t *t, uint32_t from, uint32_t n,
                    int stop_at_lt)
{
    size_t k = 0;
    int space = 0;
    for (uint32_t i = from; i < n && k + 4 < cap; i++) {
        uint8_t c = t[i];
        if (stop_at_lt && c == '<')
            break;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = k > 0;
            continue;
        }
        if (space)
            out[k++] = ' ';
        space = 0;
        out[k++] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
    }
    if (k + 4 >= cap) {
        out[k++] = '.';
        out[k++] = '.';
        out[k++] = '.';
    }
    out[k] = '\0';
}

static int inspect_text(upd__ictx *ic, const uint8_t *t, uint32_t n)
{
    upd_image_report *r = ic->r;
    char ex[64];
    int at;
    if ((at = find_ci(t, n, "<title>")) >= 0 || find_ci(t, n, "<html") >= 0 ||
        find_ci(t, n, "<!doctype") >= 0 || find_ci(t, n, "<body") >= 0 ||
        find_ci(t, n, "<head") >= 0) {
        if (at >= 0)
            excerpt(ex, 48, t, (uint32_t)at + 7, n, 1);
        else if ((at = find_ci(t, n, "<h1>")) >= 0)
            excerpt(ex, 48, t, (uint32_t)at + 4, n, 1);
        else
            ex[0] = '\0';
        upd__fmt(R_REASON(r), "an HTML page, not firmware");
        if (ex[0])
            upd__fmt_append(R_REASON(r), " (titled \"%s\")", ex);
        upd__fmt_append(R_REASON(r),
                        ": the download saved a web page (an error or login page, or a GitHub "
                        "page) instead of the file; download the raw .bin (on GitHub: the "
                        "'Raw' link) and upload that. A device sent this would fail with -106");
        return upd__reject(r, UPD_KIND_HTML, UPD_ENOTIMAGE);
    }
    excerpt(ex, 48, t, 0, n, 0);
    uint32_t i = 0;
    while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\r' || t[i] == '\n'))
        i++;
    if (i < n && (t[i] == '{' || t[i] == '[')) {
        upd__fmt(R_REASON(r),
                 "JSON text, not firmware (\"%s\"): perhaps an update manifest or an API "
                 "error; upload the .bin it points to",
                 ex);
    } else if (find_ci(t, n, "#include") >= 0 || find_ci(t, n, "void setup") >= 0 ||
               find_ci(t, n, "void loop") >= 0 || find_ci(t, n, "int main") >= 0) {
        upd__fmt(R_REASON(r),
                 "program source text (.ino/.c/.cpp), not firmware: compile it and upload the "
                 ".bin the build produces (Arduino IDE: Sketch > Export Compiled Binary; "
                 "PlatformIO: .pio/build/<env>/firmware.bin)");
    } else {
        upd__fmt(R_REASON(r),
                 "a text file, not firmware (it begins \"%s\"): upload the .bin the build "
                 "produced",
                 ex);
    }
    return upd__reject(r, UPD_KIND_TEXT, UPD_ENOTIMAGE);
}

/* Text: no NUL, and nearly all bytes printable ASCII, white space or well-formed UTF-8
 * (a sequence cut at the end of the sample counts as well-formed). */
static int looks_like_text(const uint8_t *t, uint32_t n)
{
    uint32_t odd = 0;
    if (n == 0)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t c = t[i];
        if (c == 0)
            return 0;
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f')
                odd++;
            continue;
        }
        unsigned more = c >= 0xC2 && c <= 0xDF   ? 1u
                        : c >= 0xE0 && c <= 0xEF ? 2u
                        : c >= 0xF0 && c <= 0xF4 ? 3u
                                                 : 0u;
        if (!more) {
            odd++;
            continue;
        }
        unsigned k = 1;
        while (k <= more && i + k < n && (t[i + k] & 0xC0u) == 0x80u)
            k++;
        if (k <= more && i + k < n)
            odd++;
        else
            i += k - 1;
    }
    return odd * 50u <= n;
}

int upd__inspect_other(upd__ictx *ic, const uint8_t *head, uint32_t n)
{
    upd_image_report *r = ic->r;
    if (n >= 2 && head[0] == 0x1F && head[1] == 0x8B)
        return inspect_gzip(ic, head, n);

    if (n >= 4 && head[0] == 0x7F && head[1] == 'E' && head[2] == 'L' && head[3] == 'F') {
        const char *arch = "";
        if (n >= 20) {
            r->elf_machine =
                head[5] == 2 ? (uint16_t)(head[18] << 8 | head[19]) : upd__le16(head + 18);
            arch = r->elf_machine == 94    ? " for Xtensa (ESP8266/ESP32/S2/S3)"
                   : r->elf_machine == 243 ? " for RISC-V (ESP32-C/H/P series)"
                                           : "";
        }
        upd__fmt(R_REASON(r),
                 "an ELF file%s: the linker's output (firmware.elf), not what a device "
                 "flashes; upload the .bin made from it (PlatformIO: "
                 ".pio/build/<env>/firmware.bin; Arduino IDE: Sketch > Export Compiled "
                 "Binary; ESP-IDF: build/<project>.bin)",
                 arch);
        return upd__reject(r, UPD_KIND_ELF, UPD_ENOTAPP);
    }

    if (head[0] == 0xEA && n >= 8) {
        r->platform = UPD_PLATFORM_ESP8266;
        r->chip = UPD_CHIP_ESP8266;
        upd__fmt(R_REASON(r),
                 "ESP8266 NONOS SDK OTA image (user1/user2.bin, magic 0xEA) for the SDK's own "
                 "boot loader, not the Arduino updater (which expects 0xE9 and fails with "
                 "-106): build the sketch with the Arduino core (or PlatformIO "
                 "framework = arduino) and upload its .bin");
        return upd__reject(r, UPD_KIND_NONOS_V2, UPD_ENOTAPP);
    }

    if (n >= 32 && head[0] == 0xAA && head[1] == 0x50) {
        int entries = upd__read_partition_table(ic, 0);
        if (entries < 0)
            return entries;
        r->platform = UPD_PLATFORM_ESP32;
        upd__fmt(R_REASON(r), "ESP-IDF partition table (%d entries", entries);
        for (unsigned i = 0; i < r->app_part_count; i++)
            upd__fmt_append(R_REASON(r), i ? ", 0x%x" : "; applications at 0x%x",
                            r->app_part_offset[i]);
        upd__fmt_append(R_REASON(r),
                        "): flashed once at 0x8000 over USB, not an application; upload the "
                        "application .bin (firmware.bin)");
        return upd__reject(r, UPD_KIND_PARTITION_TABLE, UPD_ENOTAPP);
    }

    if (n >= 32 && memcmp(head + 8, "littlefs", 8) == 0) {
        uint32_t bs = upd__le32(head + 24), bc = upd__le32(head + 28);
        r->kind = UPD_KIND_LITTLEFS;
        r->verdict = r->inspected < r->size ? UPD_VERDICT_INCOMPLETE : UPD_VERDICT_FS_IMAGE;
        r->error = 0;
        upd__fmt(R_REASON(r), "LittleFS filesystem image (%K", r->size);
        if (bs >= 128 && bs <= 65536 && bc)
            upd__fmt_append(R_REASON(r), ", %u blocks of %u bytes", bc, bs);
        upd__fmt_append(R_REASON(r), "): not an application; install it as a filesystem update "
                                     "(x-ESP8266-mode: spiffs), never as a sketch");
        return 0;
    }

    if (r->size == 128 && head[0] == 0x05 && n >= 4 && head[2] == 0x04 && head[3] == 0x02) {
        upd__fmt(R_REASON(r),
                 "ESP8266 RF/PHY init data (esp_init_data_default.bin, 128 bytes): flashed "
                 "once over serial near the end of flash, not an application; upload the "
                 "application .bin");
        return upd__reject(r, UPD_KIND_INIT_DATA, UPD_ENOTAPP);
    }

    uint8_t t[512];
    uint32_t tn = r->inspected < sizeof t ? r->inspected : (uint32_t)sizeof t;
    int e = upd__get(ic, 0, t, tn);
    if (e)
        return e;
    if (looks_like_text(t, tn))
        return inspect_text(ic, t, tn);

    uint32_t ff = 0;
    for (uint32_t i = 0; i < tn; i++)
        ff += t[i] == 0xFF;
    if (ff == tn) {
        upd__fmt(R_REASON(r),
                 "only 0xFF bytes at the start (erased flash): this looks like a flash dump "
                 "or an empty filesystem, not an application; upload the .bin the build "
                 "produced");
        return upd__reject(r, UPD_KIND_UNKNOWN, UPD_ENOTIMAGE);
    }
    upd__fmt(R_REASON(r),
             "unrecognised data (first bytes %x %x %x %x; an application image starts with "
             "0xE9, or 0x1F 0x8B when gzip-compressed): not a firmware image; upload the "
             ".bin your build produced (PlatformIO: .pio/build/<env>/firmware.bin)",
             head[0], n > 1 ? head[1] : 0u, n > 2 ? head[2] : 0u, n > 3 ? head[3] : 0u);
    return upd__reject(r, UPD_KIND_UNKNOWN, UPD_ENOTIMAGE);
}
