/* Seed corpus for fuzz_image: synthetic firmware files written with the test-support
 * image writer (tests/support/imgwriter.h), one file per case, into a directory.
 *
 *   make_seeds DIR
 *
 * Writes ESP8266 v1 images, Arduino .bin files (1- and 2-segment eboot; length/CRC
 * words absent, at 0x1010, at 0xFF8), ESP32-family images (with and without appended
 * SHA-256 and esp_app_desc_t), gzip files of some of them, truncated and corrupted
 * variants, and a few small non-image files (partition table, ELF header, HTML, text,
 * LittleFS superblock, init data). Prints the number of files written. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgwriter.h"

#define CAP (256u * 1024u)

static const char *outdir;
static unsigned written;

static void save(const char *name, const uint8_t *buf, int32_t len)
{
    char path[4096];
    if (len < 0) {
        fprintf(stderr, "make_seeds: %s: the image writer refused the options\n", name);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s", outdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, (size_t)len, f) != (size_t)len || fclose(f) != 0) {
        fprintf(stderr, "make_seeds: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    written++;
}

/* A file and its variants: cut in half, cut just before the end, one byte flipped in
 * the middle, and gzip-compressed (stored blocks). */
static void save_family(const char *name, uint8_t *buf, int32_t len, uint8_t *tmp)
{
    char n[256];
    save(name, buf, len);
    if (len < 4)
        return;
    snprintf(n, sizeof n, "%s.half", name);
    save(n, buf, len / 2);
    snprintf(n, sizeof n, "%s.cut", name);
    save(n, buf, len - 1);
    buf[len / 2] ^= 0x5A;
    snprintf(n, sizeof n, "%s.flip", name);
    save(n, buf, len);
    buf[len / 2] ^= 0x5A;
    snprintf(n, sizeof n, "%s.gz", name);
    save(n, tmp, tw_gzip_store(tmp, CAP, buf, (uint32_t)len, "firmware.bin"));
}

static void esp8266_seeds(uint8_t *buf, uint8_t *tmp)
{
    const tw_seg plain[] = {{0x40100000u, 64, 1}, {0x3FFE8000u, 20, 2}};
    save_family("esp8266-v1", buf, tw_esp8266_image(buf, CAP, 0, 2, 0x40, 0x40100004u, plain, 2),
                tmp);

    const tw_seg app[] = {{0x40201010u, 2000, 11}, {0x40100000u, 301, 12}, {0x3FFE8000u, 96, 13}};
    static const int places[] = {TW_CRC_NONE, TW_CRC_AT_1010, TW_CRC_AT_FF8};
    static const char *const place_names[] = {"nocrc", "crc1010", "crcff8"};
    for (unsigned eboot = 1; eboot <= 2; eboot++)
        for (unsigned p = 0; p < 3; p++) {
            tw_arduino_opts o = {2, 0x40, eboot, app, 3, places[p]};
            char name[64];
            snprintf(name, sizeof name, "arduino-eboot%u-%s", eboot, place_names[p]);
            save_family(name, buf, tw_arduino_bin(buf, CAP, &o), tmp);
        }
    /* 1 MB flash, QIO, one app segment */
    tw_arduino_opts o1 = {0, 0x20, 1, app, 1, TW_CRC_NONE};
    save("arduino-1m-qio-1seg", buf, tw_arduino_bin(buf, CAP, &o1));
}

static void esp32_seeds(uint8_t *buf, uint8_t *tmp)
{
    const tw_seg segs[] = {{0x3F400020u, 512, 21},
                           {0x3FFB0000u, 64, 22},
                           {0x40080000u, 1024, 23},
                           {0x400D0020u, 2048, 24}};
    static const struct {
        uint16_t chip;
        const char *name;
    } chips[] = {{0, "esp32"}, {5, "esp32c3"}, {2, "esp32s2"}};
    for (unsigned c = 0; c < 3; c++)
        for (int hash = 0; hash <= 1; hash++)
            for (int desc = 0; desc <= 1; desc++) {
                tw_esp32_opts o = {0};
                o.chip_id = chips[c].chip;
                o.mode = 2;
                o.size_freq = 0x20;
                o.entry = 0x40080400u;
                o.segs = segs;
                o.nseg = 4;
                o.hash_appended = hash;
                o.app_desc = desc;
                o.version = "1.2.3";
                o.project = "fuzzseed";
                o.idf_ver = "v5.1";
                o.secure_version = 0;
                o.min_rev_full = 0;
                o.max_rev_full = 99;
                char name[64];
                snprintf(name, sizeof name, "%s-%s-%s", chips[c].name, hash ? "sha" : "nosha",
                         desc ? "desc" : "nodesc");
                save_family(name, buf, tw_esp32_image(buf, CAP, &o), tmp);
            }
}

static void other_seeds(uint8_t *buf)
{
    /* ESP-IDF partition table: nvs, otadata, ota_0, ota_1, then the MD5 entry */
    static const struct {
        uint8_t type, subtype;
        uint32_t off, size;
        const char *label;
    } parts[] = {{1, 2, 0x9000, 0x5000, "nvs"},
                 {1, 0, 0xE000, 0x2000, "otadata"},
                 {0, 0x10, 0x10000, 0x140000, "app0"},
                 {0, 0x11, 0x150000, 0x140000, "app1"}};
    memset(buf, 0xFF, 3072);
    for (unsigned i = 0; i < 4; i++) {
        uint8_t *e = buf + 32 * i;
        memset(e, 0, 32);
        e[0] = 0xAA;
        e[1] = 0x50;
        e[2] = parts[i].type;
        e[3] = parts[i].subtype;
        tw_put_le32(e + 4, parts[i].off);
        tw_put_le32(e + 8, parts[i].size);
        memcpy(e + 12, parts[i].label, strlen(parts[i].label));
    }
    save("partition-table", buf, 3072);

    /* ELF header (Xtensa) */
    memset(buf, 0, 64);
    memcpy(buf,
           "\x7f"
           "ELF\x01\x01\x01",
           7);
    tw_put_le16(buf + 16, 2);
    tw_put_le16(buf + 18, 94);
    save("elf-xtensa", buf, 64);

    const char *html = "<!DOCTYPE html>\n<html><head><title>Firmware</title></head>"
                       "<body><h1>404 Not Found</h1></body></html>\n";
    save("html", (const uint8_t *)html, (int32_t)strlen(html));
    const char *text = "firmware.bin: not found\n";
    save("text", (const uint8_t *)text, (int32_t)strlen(text));

    /* LittleFS superblock: block 0 with "littlefs" at 8, block size and count */
    memset(buf, 0xFF, 8192);
    memset(buf, 0, 64);
    memcpy(buf + 8, "littlefs", 8);
    tw_put_le32(buf + 24, 4096);
    tw_put_le32(buf + 28, 2);
    save("littlefs", buf, 8192);

    /* ESP8266 RF init data (128 bytes) */
    memset(buf, 0, 128);
    buf[0] = 0x05;
    buf[2] = 0x04;
    buf[3] = 0x02;
    save("init-data", buf, 128);

    /* NONOS SDK user1.bin magic, erased flash, one byte */
    memset(buf, 0, 64);
    buf[0] = 0xEA;
    buf[1] = 0x04;
    save("nonos-ea", buf, 64);
    memset(buf, 0xFF, 4096);
    save("erased", buf, 4096);
    buf[0] = 0xE9;
    save("one-byte-e9", buf, 1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    outdir = argv[1];
    uint8_t *buf = malloc(CAP), *tmp = malloc(CAP);
    if (!buf || !tmp) {
        fprintf(stderr, "make_seeds: out of memory\n");
        return 1;
    }
    esp8266_seeds(buf, tmp);
    esp32_seeds(buf, tmp);
    other_seeds(buf);
    printf("make_seeds: %u files in %s\n", written, outdir);
    free(buf);
    free(tmp);
    return 0;
}
