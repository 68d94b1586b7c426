/* The synthetic image writer (tests/support/imgwriter.c): its CRCs against the
 * published vectors, and every image it writes checked byte by byte against the format
 * descriptions, with checksums recomputed here independently. Small static buffers only:
 * this runs on lx106 too. */
#include "imgwriter.h"
#include "upd_test.h"

#include <stdint.h>
#include <string.h>

#define BUF_CAP 16384u
#define GUARD   16u
static uint8_t buf[BUF_CAP + GUARD];
static uint8_t ref[4096];

/* ---- helpers, written independently of imgwriter.c -------------------------------- */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static int all_bytes(const uint8_t *p, uint32_t n, uint8_t v)
{
    for (uint32_t i = 0; i < n; i++) {
        if (p[i] != v)
            return 0;
    }
    return 1;
}

/* Bitwise CRC-32/MPEG-2 over a file, with the 8 bytes at skip treated as zero. */
static uint32_t crc_mpeg2_skip8(const uint8_t *p, uint32_t n, uint32_t skip)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t b = (i >= skip && i < skip + 8) ? 0 : p[i];
        crc ^= (uint32_t)b << 24;
        for (int k = 0; k < 8; k++)
            crc = (crc & 0x80000000u) ? (crc << 1) ^ 0x04C11DB7u : crc << 1;
    }
    return crc;
}

/* One walked esptool image. */
typedef struct walked {
    uint32_t data_end; /* just past the last segment's data */
    uint32_t end;      /* just past the checksum byte */
    uint8_t calc;      /* 0xEF ^ all segment data */
    uint8_t stored;    /* the byte at end - 1 */
    int pad_zero;      /* padding between data_end and the checksum is all zero */
} walked;

/* Walk the image at off with a header of hdr_len bytes; checks each segment header
 * against segs (load, len, tw_fill data), unless data_as_given is 0 for segment 0's
 * first 256 bytes (app desc) or 8 bytes (CRC words). */
static walked walk_image(const uint8_t *b, uint32_t off, uint32_t hdr_len, const tw_seg *segs,
                         unsigned nseg, uint32_t skip_seg0_check)
{
    walked w;
    uint32_t p = off + hdr_len;
    uint8_t x = 0xEF;
    CHECK_INT(b[off], ==, 0xE9);
    CHECK_INT(b[off + 1], ==, nseg);
    for (unsigned i = 0; i < nseg; i++) {
        CHECK_INT(rd32(b + p), ==, segs[i].load);
        CHECK_INT(rd32(b + p + 4), ==, segs[i].len);
        uint32_t len = rd32(b + p + 4);
        p += 8;
        if (len <= sizeof ref) {
            tw_fill(ref, len, segs[i].seed);
            uint32_t from = i == 0 ? skip_seg0_check : 0;
            if (from < len)
                CHECK(memcmp(b + p + from, ref + from, len - from) == 0);
        }
        for (uint32_t k = 0; k < len; k++)
            x ^= b[p + k];
        p += len;
    }
    w.data_end = p;
    /* The checksum is the last byte of the 16-byte block after the data. */
    w.end = p + 16 - ((p - off) % 16);
    w.calc = x;
    w.stored = b[w.end - 1];
    w.pad_zero = all_bytes(b + p, w.end - 1 - p, 0);
    return w;
}

/* ---- CRCs (its hashes are the device crypto library's, tested in tests/crypto) ---- */

static void test_crc32_mpeg2(void)
{
    CHECK_INT(tw_crc32_mpeg2(0xFFFFFFFFu, "123456789", 9), ==, 0x0376E6E7u);
    uint32_t c = tw_crc32_mpeg2(0xFFFFFFFFu, "1234", 4);
    CHECK_INT(tw_crc32_mpeg2(c, "56789", 5), ==, 0x0376E6E7u);
    CHECK_INT(crc_mpeg2_skip8((const uint8_t *)"123456789", 9, 100), ==, 0x0376E6E7u);
    CHECK_INT(tw_crc32_mpeg2(0xFFFFFFFFu, "", 0), ==, 0xFFFFFFFFu);
}

static void test_crc32_gzip(void)
{
    CHECK_INT(tw_crc32(0, "123456789", 9), ==, 0xCBF43926u);
    CHECK_INT(tw_crc32(tw_crc32(0, "12345", 5), "6789", 4), ==, 0xCBF43926u);
    CHECK_INT(tw_crc32(0, "", 0), ==, 0);
    /* And as the gzip trailer carries it. */
    int32_t n = tw_gzip_store(buf, BUF_CAP, (const uint8_t *)"123456789", 9, NULL);
    CHECK_INT(n, ==, 10 + 5 + 9 + 8);
    CHECK_INT(rd32(buf + n - 8), ==, 0xCBF43926u);
    CHECK_INT(rd32(buf + n - 4), ==, 9);
}

static void test_fill_deterministic(void)
{
    uint8_t a[64], b[64];
    tw_fill(a, 64, 7);
    tw_fill(b, 64, 7);
    CHECK(memcmp(a, b, 64) == 0);
    tw_fill(b, 20, 7);
    CHECK(memcmp(a, b, 20) == 0); /* a shorter fill is a prefix */
    tw_fill(b, 64, 8);
    CHECK(memcmp(a, b, 64) != 0);
    tw_fill(b, 64, 0);
    CHECK(!all_bytes(b, 64, b[0])); /* seed 0 is not degenerate */
    /* Not trivially constant or zero. */
    CHECK(!all_bytes(a, 64, a[0]));
}

/* ---- ESP8266 esptool v1 -------------------------------------------------------------- */

static void test_esp8266_image_bytes(void)
{
    static const tw_seg segs[] = {
        {0x40100000u, 37, 1}, /* odd length */
        {0x3FFE8000u, 12, 2},
        {0x3FFE8010u, 0, 3}, /* empty segment */
        {0x3FFE8020u, 301, 4},
    };
    memset(buf, 0x77, BUF_CAP);
    int32_t n = tw_esp8266_image(buf, BUF_CAP, 0, 2, 0x40, 0x40100004u, segs, 4);
    /* 8 + (8+37) + (8+12) + 8 + (8+301) = 390 -> checksum block ends at 400 */
    CHECK_INT(n, ==, 400);
    CHECK_INT(buf[0], ==, 0xE9);
    CHECK_INT(buf[1], ==, 4);
    CHECK_INT(buf[2], ==, 2);
    CHECK_INT(buf[3], ==, 0x40);
    CHECK_INT(rd32(buf + 4), ==, 0x40100004u);
    CHECK_INT(rd32(buf + 8), ==, 0x40100000u);
    CHECK_INT(rd32(buf + 12), ==, 37);
    CHECK_INT(rd32(buf + 53), ==, 0x3FFE8000u);
    CHECK_INT(rd32(buf + 57), ==, 12);
    CHECK_INT(rd32(buf + 73), ==, 0x3FFE8010u);
    CHECK_INT(rd32(buf + 77), ==, 0);
    CHECK_INT(rd32(buf + 81), ==, 0x3FFE8020u);
    CHECK_INT(rd32(buf + 85), ==, 301);
    walked w = walk_image(buf, 0, 8, segs, 4, 0);
    CHECK_INT(w.data_end, ==, 390);
    CHECK_INT(w.end, ==, 400);
    CHECK_INT(w.end % 16, ==, 0);
    CHECK_INT(w.stored, ==, w.calc);
    CHECK(w.pad_zero);
    CHECK_INT(buf[400], ==, 0x77); /* nothing past the end */

    /* The same image elsewhere in the buffer: identical bytes. */
    static uint8_t copy[400];
    memcpy(copy, buf, 400);
    n = tw_esp8266_image(buf, BUF_CAP, 0x1000, 2, 0x40, 0x40100004u, segs, 4);
    CHECK_INT(n, ==, 0x1000 + 400);
    CHECK(memcmp(buf + 0x1000, copy, 400) == 0);
}

static void test_esp8266_checksum_block_when_aligned(void)
{
    /* Data ending on a 16-byte boundary still gets a whole block: 15 zeros + checksum. */
    static const tw_seg s1[] = {{0x40100000u, 16, 9}};
    int32_t n = tw_esp8266_image(buf, BUF_CAP, 0, 0, 0x00, 0x40100000u, s1, 1);
    CHECK_INT(n, ==, 48);
    walked w = walk_image(buf, 0, 8, s1, 1, 0);
    CHECK_INT(w.data_end, ==, 32);
    CHECK_INT(w.end, ==, 48);
    CHECK_INT(w.stored, ==, w.calc);
    CHECK(w.pad_zero);
    /* Data ending one byte short of a boundary: no padding at all. */
    static const tw_seg s2[] = {{0x40100000u, 15, 9}};
    n = tw_esp8266_image(buf, BUF_CAP, 0, 0, 0x00, 0x40100000u, s2, 1);
    CHECK_INT(n, ==, 32);
    w = walk_image(buf, 0, 8, s2, 1, 0);
    CHECK_INT(w.end, ==, 32);
    CHECK_INT(w.stored, ==, w.calc);
    /* No segments: header + checksum block, checksum 0xEF. */
    n = tw_esp8266_image(buf, BUF_CAP, 0, 0, 0x00, 0x40100000u, NULL, 0);
    CHECK_INT(n, ==, 16);
    CHECK_INT(buf[15], ==, 0xEF);
}

/* ---- Arduino .bin ----------------------------------------------------------------------- */

static const tw_seg app_segs[] = {
    {0x40201010u, 2000, 11}, /* .irom0.text */
    {0x40100000u, 743, 12},  /* .text, odd length as in real builds */
    {0x401002E8u, 301, 13},  /* .text1 */
    {0x3FFE8000u, 120, 14},  /* .data */
    {0x3FFE8980u, 64, 15},   /* .rodata */
};

static tw_arduino_opts arduino_opts(unsigned eboot_segments, int crc_place)
{
    tw_arduino_opts o;
    memset(&o, 0, sizeof o);
    o.mode = 2;
    o.size_freq = 0x40;
    o.eboot_segments = eboot_segments;
    o.app_segs = app_segs;
    o.app_nseg = 5;
    o.crc_place = crc_place;
    return o;
}

/* 0x1008 + 5 * 8 + 2000 + 743 + 301 + 120 + 64 = 0x1008 + 3268 = 0x1CCC -> 0x1CD0 */
#define ARDUINO_LEN 0x1CD0

static void check_arduino(unsigned eboot_segments, int crc_place)
{
    tw_arduino_opts o = arduino_opts(eboot_segments, crc_place);
    memset(buf, 0x77, BUF_CAP);
    int32_t n = tw_arduino_bin(buf, BUF_CAP, &o);
    CHECK_INT(n, ==, ARDUINO_LEN);
    if (n != ARDUINO_LEN)
        return;
    CHECK_INT(buf[n], ==, 0x77);

    /* eboot */
    tw_seg eb[2] = {{TW_EBOOT_LOAD, 0, TW_EBOOT_SEED}, {TW_EBOOT_DRAM_LOAD, 0, TW_EBOOT_SEED + 1}};
    uint32_t eboot_end;
    if (eboot_segments == 1) {
        eb[0].len = TW_EBOOT1_SEG0_LEN;
        eboot_end = TW_EBOOT1_END;
        CHECK_INT(rd32(buf + 4), ==, TW_EBOOT1_ENTRY);
    } else {
        eb[0].len = TW_EBOOT2_SEG0_LEN;
        eb[1].len = TW_EBOOT2_SEG1_LEN;
        eboot_end = TW_EBOOT2_END;
        CHECK_INT(rd32(buf + 4), ==, TW_EBOOT2_ENTRY);
    }
    CHECK_INT(buf[2], ==, 2);
    CHECK_INT(buf[3], ==, 0x40);
    CHECK_INT(rd32(buf + 4) & 0xFFFFF000u, ==, 0x4010F000u);
    walked e = walk_image(buf, 0, 8, eb, eboot_segments, 0);
    CHECK_INT(e.end, ==, eboot_end);
    CHECK_INT(e.stored, ==, e.calc);
    CHECK(e.pad_zero);

    /* 0xAA padding up to the app, except the CRC words at 0xFF8. */
    if (crc_place == TW_CRC_AT_FF8) {
        CHECK(all_bytes(buf + eboot_end, 0xFF8 - eboot_end, 0xAA));
    } else {
        CHECK(all_bytes(buf + eboot_end, 0x1000 - eboot_end, 0xAA));
    }

    /* app */
    CHECK_INT(buf[0x1000], ==, 0xE9);
    CHECK_INT(buf[0x1001], ==, 5);
    CHECK_INT(buf[0x1002], ==, 2);
    CHECK_INT(buf[0x1003], ==, 0x40);
    CHECK_INT(rd32(buf + 0x1004), ==, TW_ARDUINO_APP_ENTRY);
    CHECK_INT(rd32(buf + 0x1008), ==, 0x40201010u);
    walked a = walk_image(buf, 0x1000, 8, app_segs, 5, crc_place == TW_CRC_AT_1010 ? 8 : 0);
    CHECK_INT(a.end, ==, ARDUINO_LEN);
    CHECK_INT(a.end % 16, ==, 0);
    CHECK(a.pad_zero);

    uint8_t x8 = 0;
    for (int i = 0; i < 8; i++)
        x8 ^= buf[0x1010 + i];
    switch (crc_place) {
    case TW_CRC_NONE:
        CHECK_INT(a.stored, ==, a.calc);
        CHECK_INT(rd32(buf + 0x1010), !=, ARDUINO_LEN);
        CHECK_INT(rd32(buf + 0xFF8), ==, 0xAAAAAAAAu);
        break;
    case TW_CRC_AT_FF8:
        CHECK_INT(a.stored, ==, a.calc);
        CHECK_INT(rd32(buf + 0xFF8), ==, ARDUINO_LEN);
        CHECK_INT(rd32(buf + 0xFFC), ==, crc_mpeg2_skip8(buf, ARDUINO_LEN, 0xFF8));
        CHECK_INT(rd32(buf + 0x1010), !=, ARDUINO_LEN);
        break;
    case TW_CRC_AT_1010:
        CHECK_INT(rd32(buf + 0x1010), ==, ARDUINO_LEN);
        CHECK_INT(rd32(buf + 0x1014), ==, crc_mpeg2_skip8(buf, ARDUINO_LEN, 0x1010));
        /* Patched after the checksum: the plain XOR fails, XORing the words out fixes it. */
        CHECK_INT(x8, !=, 0);
        CHECK_INT(a.stored, !=, a.calc);
        CHECK_INT(a.stored, ==, a.calc ^ x8);
        break;
    }
}

static void test_arduino_no_crc(void)
{
    check_arduino(1, TW_CRC_NONE);
    check_arduino(2, TW_CRC_NONE);
}

static void test_arduino_crc_at_1010(void)
{
    check_arduino(1, TW_CRC_AT_1010);
    check_arduino(2, TW_CRC_AT_1010);
}

static void test_arduino_crc_at_ff8(void)
{
    check_arduino(1, TW_CRC_AT_FF8);
    check_arduino(2, TW_CRC_AT_FF8);
}

static void test_arduino_crc_placements_differ_only_where_expected(void)
{
    /* The app bodies of the three variants differ only in the 8 bytes at 0x1010 (and
     * in the checksum byte for AT_1010, which was computed with zeros there). */
    static uint8_t none_app[ARDUINO_LEN - 0x1000];
    tw_arduino_opts o = arduino_opts(2, TW_CRC_NONE);
    CHECK_INT(tw_arduino_bin(buf, BUF_CAP, &o), ==, ARDUINO_LEN);
    memcpy(none_app, buf + 0x1000, sizeof none_app);
    o.crc_place = TW_CRC_AT_FF8;
    CHECK_INT(tw_arduino_bin(buf, BUF_CAP, &o), ==, ARDUINO_LEN);
    CHECK(memcmp(none_app, buf + 0x1000, sizeof none_app) == 0);
    o.crc_place = TW_CRC_AT_1010;
    CHECK_INT(tw_arduino_bin(buf, BUF_CAP, &o), ==, ARDUINO_LEN);
    CHECK(memcmp(none_app, buf + 0x1000, 0x10) == 0);
    CHECK(memcmp(none_app + 0x18, buf + 0x1018, sizeof none_app - 0x18 - 1) == 0);
}

static void test_arduino_bad_options(void)
{
    tw_arduino_opts o = arduino_opts(3, TW_CRC_NONE);
    CHECK_INT(tw_arduino_bin(buf, BUF_CAP, &o), ==, -1);
    o = arduino_opts(0, TW_CRC_NONE);
    CHECK_INT(tw_arduino_bin(buf, BUF_CAP, &o), ==, -1);
    o = arduino_opts(1, 7);
    CHECK_INT(tw_arduino_bin(buf, BUF_CAP, &o), ==, -1);
    static const tw_seg tiny[] = {{0x40201010u, 4, 1}};
    o = arduino_opts(1, TW_CRC_AT_1010);
    o.app_segs = tiny;
    o.app_nseg = 1;
    CHECK_INT(tw_arduino_bin(buf, BUF_CAP, &o), ==, -1);
    o.crc_place = TW_CRC_AT_FF8; /* fine there */
    CHECK_INT(tw_arduino_bin(buf, BUF_CAP, &o), ==, 0x1000 + 32);
    CHECK_INT(tw_arduino_bin(NULL, BUF_CAP, &o), ==, -1);
    CHECK_INT(tw_arduino_bin(buf, BUF_CAP, NULL), ==, -1);
}

/* ---- ESP32 ------------------------------------------------------------------------------ */

static const tw_seg esp32_segs[] = {
    {0x3F400020u, 512, 21}, /* DROM: app desc goes here */
    {0x3FFBDB60u, 128, 22},
    {0x40080000u, 1028, 23},
};

static tw_esp32_opts esp32_opts(int hash, int desc)
{
    tw_esp32_opts o;
    memset(&o, 0, sizeof o);
    o.chip_id = 5;
    o.mode = 2;
    o.size_freq = 0x2F;
    o.entry = 0x40381DD0u;
    o.segs = esp32_segs;
    o.nseg = 3;
    o.hash_appended = hash;
    o.app_desc = desc;
    o.version = "1.2.3-test";
    o.project = "blink";
    o.idf_ver = "v5.3.1";
    o.secure_version = 7;
    o.min_rev_full = 101;
    o.max_rev_full = 199;
    return o;
}

/* 24 + 3 * 8 + 512 + 128 + 1028 = 1716 -> 1728 */
#define ESP32_LEN 1728

static void check_esp32_header(const tw_esp32_opts *o)
{
    CHECK_INT(buf[0], ==, 0xE9);
    CHECK_INT(buf[1], ==, 3);
    CHECK_INT(buf[2], ==, o->mode);
    CHECK_INT(buf[3], ==, o->size_freq);
    CHECK_INT(rd32(buf + 4), ==, o->entry);
    CHECK_INT(buf[8], ==, 0xEE);
    CHECK(all_bytes(buf + 9, 3, 0));
    CHECK_INT(rd16(buf + 12), ==, o->chip_id);
    CHECK_INT(buf[14], ==, o->min_rev_full / 100);
    CHECK_INT(rd16(buf + 15), ==, o->min_rev_full);
    CHECK_INT(rd16(buf + 17), ==, o->max_rev_full);
    CHECK(all_bytes(buf + 19, 4, 0));
    CHECK_INT(buf[23], ==, o->hash_appended ? 1 : 0);
}

static void test_esp32_hash_and_desc(void)
{
    tw_esp32_opts o = esp32_opts(1, 1);
    memset(buf, 0x77, BUF_CAP);
    int32_t n = tw_esp32_image(buf, BUF_CAP, &o);
    CHECK_INT(n, ==, ESP32_LEN + 32);
    CHECK_INT(buf[n], ==, 0x77);
    check_esp32_header(&o);
    walked w = walk_image(buf, 0, 24, esp32_segs, 3, 256);
    CHECK_INT(w.end, ==, ESP32_LEN);
    CHECK_INT(w.stored, ==, w.calc);
    CHECK(w.pad_zero);
    uint8_t d[32];
    tw_sha256(buf, ESP32_LEN, d);
    CHECK(memcmp(d, buf + ESP32_LEN, 32) == 0);
    /* esp_app_desc_t at file offset 32 */
    CHECK_INT(rd32(buf + 32), ==, 0xABCD5432u);
    CHECK_INT(rd32(buf + 36), ==, 7);
    CHECK_STR((const char *)buf + 48, "1.2.3-test");
    CHECK_STR((const char *)buf + 80, "blink");
    CHECK_INT(strlen((const char *)buf + 112), >, 0);
    CHECK_INT(strlen((const char *)buf + 112), <, 16);
    CHECK_INT(strlen((const char *)buf + 128), >, 0);
    CHECK_INT(strlen((const char *)buf + 128), <, 16);
    CHECK_STR((const char *)buf + 144, "v5.3.1");
    CHECK(!all_bytes(buf + 176, 32, 0));
    /* The rest of segment 0 after the desc is ordinary fill data. */
    tw_fill(ref, 512, 21);
    CHECK(memcmp(buf + 32 + 256, ref + 256, 256) == 0);
}

static void test_esp32_plain(void)
{
    tw_esp32_opts o = esp32_opts(0, 0);
    o.chip_id = 0;
    o.min_rev_full = 0;
    o.max_rev_full = 0xFFFF;
    memset(buf, 0x77, BUF_CAP);
    int32_t n = tw_esp32_image(buf, BUF_CAP, &o);
    CHECK_INT(n, ==, ESP32_LEN);
    CHECK_INT(buf[n], ==, 0x77);
    check_esp32_header(&o);
    walked w = walk_image(buf, 0, 24, esp32_segs, 3, 0); /* seg 0 is all fill data */
    CHECK_INT(w.end, ==, ESP32_LEN);
    CHECK_INT(w.stored, ==, w.calc);
    CHECK_INT(rd32(buf + 32), !=, 0xABCD5432u);
}

static void test_esp32_hash_without_desc_and_desc_without_hash(void)
{
    tw_esp32_opts o = esp32_opts(1, 0);
    int32_t n = tw_esp32_image(buf, BUF_CAP, &o);
    CHECK_INT(n, ==, ESP32_LEN + 32);
    uint8_t d[32];
    tw_sha256(buf, ESP32_LEN, d);
    CHECK(memcmp(d, buf + ESP32_LEN, 32) == 0);
    CHECK_INT(rd32(buf + 32), !=, 0xABCD5432u);

    o = esp32_opts(0, 1);
    n = tw_esp32_image(buf, BUF_CAP, &o);
    CHECK_INT(n, ==, ESP32_LEN);
    CHECK_INT(rd32(buf + 32), ==, 0xABCD5432u);
    walked w = walk_image(buf, 0, 24, esp32_segs, 3, 256);
    CHECK_INT(w.stored, ==, w.calc);
}

static void test_esp32_desc_strings(void)
{
    tw_esp32_opts o = esp32_opts(1, 1);
    o.version = "0123456789abcdef0123456789abcdefXYZ"; /* longer than the field */
    o.project = NULL;
    o.idf_ver = "";
    CHECK_INT(tw_esp32_image(buf, BUF_CAP, &o), ==, ESP32_LEN + 32);
    CHECK_STR((const char *)buf + 48, "0123456789abcdef0123456789abcde");
    CHECK_INT(buf[79], ==, 0);
    CHECK(all_bytes(buf + 80, 32, 0));
    CHECK(all_bytes(buf + 144, 32, 0));
    /* Segment 0 too short for a desc. */
    static const tw_seg short0[] = {{0x3F400020u, 252, 1}};
    o.segs = short0;
    o.nseg = 1;
    CHECK_INT(tw_esp32_image(buf, BUF_CAP, &o), ==, -1);
    o.nseg = 0;
    CHECK_INT(tw_esp32_image(buf, BUF_CAP, &o), ==, -1);
    o.app_desc = 0;
    CHECK_INT(tw_esp32_image(buf, BUF_CAP, &o), ==, 32 + 32);
}

/* ---- gzip ------------------------------------------------------------------------------- */

static void test_gzip_layout(void)
{
    static uint8_t in[3000];
    tw_fill(in, sizeof in, 99);
    memset(buf, 0x77, BUF_CAP);
    int32_t n = tw_gzip_store(buf, BUF_CAP, in, sizeof in, "fw.bin");
    CHECK_INT(n, ==, 10 + 7 + 5 + 3000 + 8);
    CHECK_INT(buf[n], ==, 0x77);
    CHECK_INT(buf[0], ==, 0x1F);
    CHECK_INT(buf[1], ==, 0x8B);
    CHECK_INT(buf[2], ==, 8);
    CHECK_INT(buf[3], ==, 0x08); /* FNAME only */
    CHECK_STR((const char *)buf + 10, "fw.bin");
    const uint8_t *b = buf + 17;
    CHECK_INT(b[0], ==, 0x01); /* BFINAL, stored */
    CHECK_INT(rd16(b + 1), ==, 3000);
    CHECK_INT(rd16(b + 3), ==, (uint16_t)~3000u);
    CHECK(memcmp(b + 5, in, sizeof in) == 0);
    CHECK_INT(rd32(buf + n - 8), ==, tw_crc32(0, in, sizeof in));
    CHECK_INT(rd32(buf + n - 4), ==, 3000);

    /* No name: FLG 0, block right after the 10-byte header. */
    n = tw_gzip_store(buf, BUF_CAP, in, 100, NULL);
    CHECK_INT(n, ==, 10 + 5 + 100 + 8);
    CHECK_INT(buf[3], ==, 0);
    CHECK_INT(buf[10], ==, 0x01);
    CHECK_INT(rd16(buf + 11), ==, 100);
    CHECK_INT(rd16(buf + 13), ==, 0xFFFF - 100);

    /* Empty input: one empty final block. */
    n = tw_gzip_store(buf, BUF_CAP, NULL, 0, NULL);
    CHECK_INT(n, ==, 23);
    CHECK_INT(buf[10], ==, 0x01);
    CHECK_INT(rd16(buf + 11), ==, 0);
    CHECK_INT(rd16(buf + 13), ==, 0xFFFF);
    CHECK_INT(rd32(buf + 15), ==, 0);
    CHECK_INT(rd32(buf + 19), ==, 0);
}

#ifndef __XTENSA__
/* Host only (too big for lx106's RAM): input over 64 KB needs several stored blocks. */
static void test_gzip_multiblock_host(void)
{
    static uint8_t in[140000];
    static uint8_t out[140100];
    tw_fill(in, sizeof in, 5);
    int32_t n = tw_gzip_store(out, sizeof out, in, sizeof in, "big");
    CHECK_INT(n, ==, 10 + 4 + 3 * 5 + 140000 + 8);
    const uint8_t *b = out + 14;
    static const uint32_t lens[3] = {65535, 65535, 140000 - 2 * 65535};
    uint32_t at = 0;
    for (int i = 0; i < 3; i++) {
        CHECK_INT(b[0], ==, i == 2 ? 1 : 0);
        CHECK_INT(rd16(b + 1), ==, lens[i]);
        CHECK_INT(rd16(b + 3), ==, (uint16_t)~lens[i]);
        CHECK(memcmp(b + 5, in + at, lens[i]) == 0);
        at += lens[i];
        b += 5 + lens[i];
    }
    CHECK_INT(b - out, ==, n - 8);
    CHECK_INT(rd32(b), ==, tw_crc32(0, in, sizeof in));
    CHECK_INT(rd32(b + 4), ==, 140000);
    /* Exactly one full block: no empty block after it. */
    n = tw_gzip_store(out, sizeof out, in, 65535, NULL);
    CHECK_INT(n, ==, 10 + 5 + 65535 + 8);
    CHECK_INT(out[10], ==, 1);
}
#endif

/* ---- cap handling ----------------------------------------------------------------------- */

/* Calls the writer for every cap in [0, need]: -1 below need, need at need, and the
 * GUARD bytes at buf[cap..] are never touched. */
enum { W_ESP8266, W_ESP8266_OFF, W_ARDUINO_NONE, W_ARDUINO_1010, W_ARDUINO_FF8, W_ESP32, W_GZIP };

static int32_t call_writer(int which, uint32_t cap)
{
    static const tw_seg s[] = {{0x40100000u, 21, 1}, {0x3FFE8000u, 8, 2}};
    static const tw_seg a[] = {{0x40201010u, 40, 3}, {0x40100000u, 13, 4}};
    switch (which) {
    case W_ESP8266:
        return tw_esp8266_image(buf, cap, 0, 3, 0x20, 0x40100000u, s, 2);
    case W_ESP8266_OFF:
        return tw_esp8266_image(buf, cap, 100, 3, 0x20, 0x40100000u, s, 2);
    case W_ARDUINO_NONE:
    case W_ARDUINO_1010:
    case W_ARDUINO_FF8: {
        tw_arduino_opts o = arduino_opts(2, which == W_ARDUINO_NONE   ? TW_CRC_NONE
                                            : which == W_ARDUINO_1010 ? TW_CRC_AT_1010
                                                                      : TW_CRC_AT_FF8);
        o.app_segs = a;
        o.app_nseg = 2;
        return tw_arduino_bin(buf, cap, &o);
    }
    case W_ESP32: {
        static const tw_seg e[] = {{0x3F400020u, 256, 5}, {0x40080000u, 12, 6}};
        tw_esp32_opts o = esp32_opts(1, 1);
        o.segs = e;
        o.nseg = 2;
        return tw_esp32_image(buf, cap, &o);
    }
    default:
        return tw_gzip_store(buf, cap, (const uint8_t *)"hello, gzip", 11, "x.bin");
    }
}

static void test_every_cap_too_small(void)
{
    static const int32_t need[] = {
        [W_ESP8266] = 64,
        [W_ESP8266_OFF] = 164,
        [W_ARDUINO_NONE] = 0x1050,
        [W_ARDUINO_1010] = 0x1050,
        [W_ARDUINO_FF8] = 0x1050,
        [W_ESP32] = 320 + 32,
        [W_GZIP] = 10 + 6 + 5 + 11 + 8,
    };
    for (int w = W_ESP8266; w <= W_GZIP; w++) {
        int32_t full = call_writer(w, BUF_CAP);
        CHECK_INT(full, ==, need[w]);
        int bad = 0;
        for (uint32_t cap = 0; cap <= (uint32_t)need[w] && !bad; cap++) {
            memset(buf + cap, 0x5C, GUARD);
            int32_t r = call_writer(w, cap);
            if (r != (cap < (uint32_t)need[w] ? -1 : need[w]) ||
                !all_bytes(buf + cap, GUARD, 0x5C)) {
                printf("  writer %d cap %u: returned %ld\n", w, (unsigned)cap, (long)r);
                bad = 1;
            }
        }
        CHECK(!bad);
    }
}

static void test_absurd_sizes(void)
{
    static const tw_seg huge[] = {{0x40100000u, 0xFFFFFFF0u, 1}};
    static const tw_seg two_big[] = {{0, 0x7FFFFFF0u, 1}, {0, 0x7FFFFFF0u, 2}};
    CHECK_INT(tw_esp8266_image(buf, BUF_CAP, 0, 0, 0, 0, huge, 1), ==, -1);
    CHECK_INT(tw_esp8266_image(buf, 0xFFFFFFFFu, 0, 0, 0, 0, two_big, 2), ==, -1);
    CHECK_INT(tw_esp8266_image(buf, 0xFFFFFFFFu, 0xFFFFFFF0u, 0, 0, 0, NULL, 0), ==, -1);
    CHECK_INT(tw_esp8266_image(buf, BUF_CAP, BUF_CAP, 0, 0, 0, NULL, 0), ==, -1);
    CHECK_INT(tw_esp8266_image(buf, BUF_CAP, 0, 0, 0, 0, huge, 256), ==, -1);
    CHECK_INT(tw_gzip_store(buf, BUF_CAP, buf, 0xFFFFFFF0u, NULL), ==, -1);
    tw_esp32_opts o = esp32_opts(1, 0);
    o.segs = huge;
    o.nseg = 1;
    CHECK_INT(tw_esp32_image(buf, 0xFFFFFFFFu, &o), ==, -1);
}

int main(void)
{
    RUN(test_crc32_mpeg2);
    RUN(test_crc32_gzip);
    RUN(test_fill_deterministic);
    RUN(test_esp8266_image_bytes);
    RUN(test_esp8266_checksum_block_when_aligned);
    RUN(test_arduino_no_crc);
    RUN(test_arduino_crc_at_1010);
    RUN(test_arduino_crc_at_ff8);
    RUN(test_arduino_crc_placements_differ_only_where_expected);
    RUN(test_arduino_bad_options);
    RUN(test_esp32_hash_and_desc);
    RUN(test_esp32_plain);
    RUN(test_esp32_hash_without_desc_and_desc_without_hash);
    RUN(test_esp32_desc_strings);
    RUN(test_gzip_layout);
#ifndef __XTENSA__
    RUN(test_gzip_multiblock_host);
#endif
    RUN(test_every_cap_too_small);
    RUN(test_absurd_sizes);
    return upd_test_summary();
}
