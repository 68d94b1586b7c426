/* mkimage: writes synthetic firmware files with the test image writer, for the
 * black-box tests of the CLI and the server, and for the benchmarks.
 *
 *   mkimage KIND OUT [CODE_BYTES [SEED [VERSION]]]
 *
 * KIND: esp8266-app (Arduino eboot + app, core 2.x layout, 4 MB DIO), esp8266-app-crc
 * (core 3.x length/CRC words at 0x1010), esp8266-app-gz (gzip of esp8266-app),
 * esp8266-app-tiny (the same layout with small segments: CODE_BYTES plus about 5 KB, for
 * tests that hold a whole image in a device's RAM, tests/crypto),
 * esp32-app and esp32c3-app (SHA-256 appended, app description with VERSION),
 * esp32-bootloader, html (an error page saved as .bin), empty. CODE_BYTES is the
 * length of the big code segment (default 200000); SEED varies the bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgwriter.h"

static int write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

static int32_t esp8266(uint8_t *buf, uint32_t cap, uint32_t code, int crc, uint32_t seed)
{
    tw_seg segs[] = {
        {0x40201010u, code, seed + 1},   {0x40100000u, 743u, seed + 2},
        {0x401002E8u, 29925u, seed + 3}, {0x3FFE8000u, 2324u, seed + 4},
        {0x3FFE8980u, 1281u, seed + 5},
    };
    tw_arduino_opts o = {2, 0x40, crc ? 2u : 1u, segs, 5, crc ? TW_CRC_AT_1010 : TW_CRC_NONE};
    return tw_arduino_bin(buf, cap, &o);
}

static int32_t esp8266_tiny(uint8_t *buf, uint32_t cap, uint32_t code, uint32_t seed)
{
    tw_seg segs[] = {{0x40201010u, code, seed + 1},
                     {0x40100000u, 903u, seed + 2},
                     {0x3FFE8000u, 36u, seed + 3},
                     {0x3FFE8030u, 99u, seed + 4}};
    tw_arduino_opts o = {2, 0x40, 1u, segs, 4, TW_CRC_NONE};
    return tw_arduino_bin(buf, cap, &o);
}

static int32_t esp32(uint8_t *buf, uint32_t cap, uint16_t chip, uint32_t code, int boot,
                     const char *version, uint32_t seed)
{
    int c3 = chip == 5;
    tw_seg app[] = {
        {c3 ? 0x3C000020u : 0x3F400020u, 4096u, seed + 1},
        {c3 ? 0x3FC8C400u : 0x3FFBDB60u, 2048u, seed + 2},
        {c3 ? 0x42000020u : 0x400D0020u, code & ~3u, seed + 3},
        {c3 ? 0x40380000u : 0x40080000u, 8192u, seed + 4},
    };
    tw_seg bl[] = {{c3 ? 0x3FCD5820u : 0x3FFF0030u, 1184u, seed + 5},
                   {c3 ? 0x403CC710u : 0x40078000u, 13232u, seed + 6}};
    tw_esp32_opts o;
    memset(&o, 0, sizeof o);
    o.chip_id = chip;
    o.mode = 2;
    o.size_freq = 0x20;
    o.entry = c3 ? 0x40381DD0u : 0x40083908u;
    o.segs = boot ? bl : app;
    o.nseg = boot ? 2 : 4;
    o.hash_appended = 1;
    o.app_desc = !boot;
    o.version = version;
    o.project = "mkimage";
    o.idf_ver = "v5.3.1";
    o.max_rev_full = 0xFFFF;
    return tw_esp32_image(buf, cap, &o);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: mkimage KIND OUT [CODE_BYTES [SEED [VERSION]]]\n");
        return 2;
    }
    const char *kind = argv[1], *out = argv[2];
    uint32_t code = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 0) : 200000u;
    uint32_t seed = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 0) : 1u;
    const char *version = argc > 5 ? argv[5] : "1.0.0";
    uint32_t cap = code + 256u * 1024u;
    uint8_t *buf = malloc(cap), *gz = NULL;
    if (!buf)
        return 1;
    int32_t n = -1;
    if (!strcmp(kind, "esp8266-app") || !strcmp(kind, "esp8266-app-crc")) {
        n = esp8266(buf, cap, code, !strcmp(kind, "esp8266-app-crc"), seed);
    } else if (!strcmp(kind, "esp8266-app-tiny")) {
        n = esp8266_tiny(buf, cap, code, seed);
    } else if (!strcmp(kind, "esp8266-app-gz")) {
        n = esp8266(buf, cap, code, 0, seed);
        uint32_t gcap = (uint32_t)n + (uint32_t)n / 1000u + 1024u;
        gz = malloc(gcap);
        if (!gz || n < 0)
            return 1;
        n = tw_gzip_store(gz, gcap, buf, (uint32_t)n, "firmware.bin");
        free(buf);
        buf = gz;
    } else if (!strcmp(kind, "esp32-app")) {
        n = esp32(buf, cap, 0, code, 0, version, seed);
    } else if (!strcmp(kind, "esp32c3-app")) {
        n = esp32(buf, cap, 5, code, 0, version, seed);
    } else if (!strcmp(kind, "esp32-bootloader")) {
        n = esp32(buf, cap, 0, code, 1, version, seed);
    } else if (!strcmp(kind, "html")) {
        const char *h = "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
                        "<body><h1>Not Found</h1></body></html>\n";
        n = (int32_t)strlen(h);
        memcpy(buf, h, (size_t)n);
    } else if (!strcmp(kind, "empty")) {
        n = 0;
    } else {
        fprintf(stderr, "mkimage: unknown kind '%s'\n", kind);
        return 2;
    }
    if (n < 0) {
        fprintf(stderr, "mkimage: could not build %s\n", kind);
        return 1;
    }
    int rc = write_file(out, buf, (size_t)n);
    free(buf);
    return rc;
}
