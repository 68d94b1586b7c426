/* The image inspector on synthetic images made by the test writer (tests/support),
 * so that a clone without the real corpus still tests every kind the inspector names.
 * Runs on the host and on lx106 (static buffers, small stack). */
#include <string.h>

#include "imgwriter.h"
#include "upd_test.h"
#include "updraft/error.h"
#include "updraft/image.h"

static uint8_t img[0x8100];
static upd_image_report rep, inner;
static upd_sha256 shactx;
static upd_sha256_ops sha;

static const tw_seg app_segs[] = {
    {0x40201010u, 3001u, 11u}, /* .irom0.text, odd length as real Arduino builds have */
    {0x40100000u, 743u, 12u},  {0x4010013Cu, 1200u, 13u},
    {0x3FFE8000u, 96u, 14u},   {0x3FFE8980u, 300u, 15u},
};

static int32_t arduino(int crc, unsigned eboot_segs)
{
    tw_arduino_opts o = {2, 0x40, eboot_segs, app_segs, 5, crc};
    return tw_arduino_bin(img, sizeof img, &o);
}

static int inspect(uint32_t len, const upd_sha256_ops *ops)
{
    upd_source src;
    upd_source_init_mem(&src, img, len);
    int rc = upd_image_inspect(&src, ops, &rep);
    CHECK_INT(rc, ==, rep.error);
    CHECK(rep.reason[0] != '\0');
    return rc;
}

/* ESP32 segments: DROM (flash-mapped) first, big enough for an app description. */
static const tw_seg esp32_app_segs[] = {
    {0x3C000020u, 1024u, 21u}, /* C3 DROM */
    {0x3FC8C400u, 256u, 22u},
    {0x42000020u, 2048u, 23u}, /* C3 IROM */
    {0x40380000u, 512u, 24u},
};
static const tw_seg esp32_boot_segs[] = {
    {0x3FCD5820u, 152u, 31u},
    {0x403CC710u, 2156u, 32u},
};

static int32_t esp32(uint16_t chip, int hash, int desc, const tw_seg *segs, unsigned n)
{
    tw_esp32_opts o;
    memset(&o, 0, sizeof o);
    o.chip_id = chip;
    o.mode = 2;
    o.size_freq = 0x2F;
    o.entry = 0x40381DD0u;
    o.segs = segs;
    o.nseg = n;
    o.hash_appended = hash;
    o.app_desc = desc;
    o.version = "2.3.1";
    o.project = "greenhouse";
    o.idf_ver = "v5.3.1";
    o.secure_version = 2;
    return tw_esp32_image(img, sizeof img, &o);
}

static void test_arduino_plain(void)
{
    int32_t n = arduino(TW_CRC_NONE, 1);
    CHECK(n > 0);
    CHECK_INT(inspect((uint32_t)n, NULL), ==, 0);
    CHECK_INT(rep.kind, ==, UPD_KIND_ESP8266_APP);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_OTA_APP);
    CHECK_INT(rep.platform, ==, UPD_PLATFORM_ESP8266);
    CHECK_INT(rep.chip, ==, UPD_CHIP_ESP8266);
    CHECK_INT(rep.has_boot, ==, 1);
    CHECK_INT(rep.has_app, ==, 1);
    CHECK_INT(rep.boot.entry, ==, TW_EBOOT1_ENTRY);
    CHECK_INT(rep.boot.end, ==, TW_EBOOT1_END);
    CHECK_INT(rep.app.offset, ==, 0x1000);
    CHECK_INT(rep.app.entry, ==, TW_ARDUINO_APP_ENTRY);
    CHECK_INT(rep.app.segment_count, ==, 5);
    CHECK_INT(rep.app.seg[0].load, ==, 0x40201010u);
    CHECK_INT(rep.app.seg[0].len, ==, 3001);
    CHECK_INT(rep.app.seg[0].offset, ==, 0x1010);
    CHECK_INT(rep.app.checksum_ok, ==, 1);
    CHECK_INT(rep.app.end, ==, (uint32_t)n);
    CHECK_INT(rep.flash_size, ==, 4u * 1024 * 1024);
    CHECK_STR(upd_flash_mode_name(rep.flash_mode), "DIO");
    CHECK_INT(rep.crc_offset, ==, 0);
    CHECK(rep.notes & UPD_NOTE_UNALIGNED_SEGMENTS);
    CHECK(!(rep.notes & UPD_NOTE_TRAILING_DATA));
    CHECK_CONTAINS(rep.reason, "ESP8266 Arduino application");
    CHECK_CONTAINS(rep.reason, "4 MiB");
}

static void test_arduino_crc_1010(void)
{
    int32_t n = arduino(TW_CRC_AT_1010, 2);
    CHECK(n > 0);
    CHECK_INT(inspect((uint32_t)n, NULL), ==, 0);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_OTA_APP);
    CHECK_INT(rep.boot.segment_count, ==, 2);
    CHECK_INT(rep.crc_offset, ==, 0x1010);
    CHECK_INT(rep.crc_len, ==, (uint32_t)n);
    CHECK_INT(rep.crc_stored, ==, rep.crc_calc);
    /* the app XOR only verifies with the 8 CRC bytes taken out */
    CHECK(rep.notes & UPD_NOTE_CRC_PATCHED_XOR);
    CHECK(rep.app.checksum_calc != rep.app.checksum_stored);
}

static void test_arduino_crc_ff8(void)
{
    int32_t n = arduino(TW_CRC_AT_FF8, 1);
    CHECK(n > 0);
    CHECK_INT(inspect((uint32_t)n, NULL), ==, 0);
    CHECK_INT(rep.crc_offset, ==, 0xFF8);
    CHECK_INT(rep.crc_stored, ==, rep.crc_calc);
    CHECK(!(rep.notes & UPD_NOTE_CRC_PATCHED_XOR));
    CHECK_INT(rep.app.checksum_ok, ==, 1);
}

static void test_arduino_signed_and_trailing(void)
{
    int32_t n = arduino(TW_CRC_AT_1010, 1);
    CHECK(n > 0);
    /* payload || 256-byte signature || u32 256: the CRC still covers the payload */
    tw_fill(img + n, 256, 99);
    tw_put_le32(img + n + 256, 256);
    CHECK_INT(inspect((uint32_t)n + 260, NULL), ==, 0);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_OTA_APP);
    CHECK_INT(rep.sig_len, ==, 256);
    CHECK(rep.notes & UPD_NOTE_SIGNED);
    CHECK_INT(rep.crc_offset, ==, 0x1010);
    CHECK_CONTAINS(rep.reason, "signed");

    /* bytes appended after a core 3.x build: the CRC still covers the .bin as built */
    n = arduino(TW_CRC_AT_1010, 2);
    memset(img + n, 0xFF, 100);
    CHECK_INT(inspect((uint32_t)n + 100, NULL), ==, 0);
    CHECK(rep.notes & UPD_NOTE_TRAILING_DATA);
    CHECK_INT(rep.crc_len, ==, (uint32_t)n);
    CHECK(rep.notes & UPD_NOTE_CRC_PATCHED_XOR);

    n = arduino(TW_CRC_NONE, 1);
    memset(img + n, 0xFF, 100);
    CHECK_INT(inspect((uint32_t)n + 100, NULL), ==, 0);
    CHECK(rep.notes & UPD_NOTE_TRAILING_DATA);
    CHECK_INT(rep.image_end, ==, (uint32_t)n);
}

static void test_esp32_app(void)
{
    int32_t n = esp32(UPD_CHIP_ESP32C3, 1, 1, esp32_app_segs, 4);
    CHECK(n > 0);
    upd_sha256_ops_init(&sha, &shactx);
    CHECK_INT(inspect((uint32_t)n, &sha), ==, 0);
    CHECK_INT(rep.kind, ==, UPD_KIND_ESP32_APP);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_OTA_APP);
    CHECK_INT(rep.platform, ==, UPD_PLATFORM_ESP32);
    CHECK_INT(rep.chip, ==, UPD_CHIP_ESP32C3);
    CHECK_INT(rep.app.hash_appended, ==, 1);
    CHECK_INT(rep.app.hash_ok, ==, 1);
    CHECK_INT(rep.app.checksum_ok, ==, 1);
    CHECK_INT(rep.app.end, ==, (uint32_t)n);
    CHECK_INT(rep.desc.present, ==, 1);
    CHECK_STR(rep.desc.version, "2.3.1");
    CHECK_STR(rep.desc.project, "greenhouse");
    CHECK_STR(rep.desc.idf_ver, "v5.3.1");
    CHECK_INT(rep.desc.secure_version, ==, 2);
    CHECK_INT(rep.flash_size, ==, 4u * 1024 * 1024);
    CHECK_INT(upd_flash_freq_mhz(rep.flash_freq_code), ==, 80);
    CHECK_CONTAINS(rep.reason, "ESP32-C3 application");
    CHECK_CONTAINS(rep.reason, "2.3.1");

    /* without a SHA-256 provider the hash is reported as not checked */
    CHECK_INT(inspect((uint32_t)n, NULL), ==, 0);
    CHECK_INT(rep.app.hash_ok, ==, -1);
    CHECK(rep.notes & UPD_NOTE_HASH_UNCHECKED);
}

static void test_esp32_variants(void)
{
    int32_t n = esp32(UPD_CHIP_ESP32C3, 0, 1, esp32_app_segs, 4);
    CHECK_INT(inspect((uint32_t)n, &sha), ==, 0);
    CHECK(rep.notes & UPD_NOTE_NO_SHA256);
    CHECK_INT(rep.app.hash_ok, ==, -1);

    /* no app description, but code in flash-mapped memory: an old-IDF app */
    n = esp32(UPD_CHIP_ESP32C3, 1, 0, esp32_app_segs, 4);
    CHECK_INT(inspect((uint32_t)n, &sha), ==, 0);
    CHECK_INT(rep.kind, ==, UPD_KIND_ESP32_APP);
    CHECK(rep.notes & UPD_NOTE_NO_APP_DESC);

    /* nothing flash-mapped, no description: a boot loader */
    n = esp32(UPD_CHIP_ESP32C3, 1, 0, esp32_boot_segs, 2);
    CHECK_INT(inspect((uint32_t)n, &sha), ==, UPD_ENOTAPP);
    CHECK_INT(rep.kind, ==, UPD_KIND_ESP32_BOOTLOADER);
    CHECK_INT(rep.has_boot, ==, 1);
    CHECK_INT(rep.has_app, ==, 0);
    CHECK_CONTAINS(rep.reason, "ESP32-C3 second-stage boot loader");
    CHECK_CONTAINS(rep.reason, "upload the application");

    /* secure boot v2 signature sector after the image */
    n = esp32(UPD_CHIP_ESP32S3, 1, 1, esp32_app_segs, 4);
    uint32_t sig = ((uint32_t)n + 4095u) & ~4095u;
    memset(img + n, 0xFF, sig - (uint32_t)n);
    img[sig] = 0xE7;
    memset(img + sig + 1, 0x11, 4095);
    CHECK_INT(inspect(sig + 4096, &sha), ==, 0);
    CHECK_INT(rep.chip, ==, UPD_CHIP_ESP32S3);
    CHECK(rep.notes & UPD_NOTE_SIGNED);
}

static void put_part(uint8_t *p, uint8_t type, uint8_t sub, uint32_t off, uint32_t size,
                     const char *label)
{
    memset(p, 0, 32);
    p[0] = 0xAA;
    p[1] = 0x50;
    p[2] = type;
    p[3] = sub;
    tw_put_le32(p + 4, off);
    tw_put_le32(p + 8, size);
    memcpy(p + 12, label, strlen(label));
}

static void put_table(uint8_t *t)
{
    put_part(t, 1, 2, 0x9000, 0x5000, "nvs");
    put_part(t + 32, 0, 0x00, 0x10000, 0xD0000, "safeboot");
    put_part(t + 64, 0, 0x10, 0xE0000, 0x2D0000, "app0");
    memset(t + 96, 0xFF, 32);
}

static void test_merged_and_partition_table(void)
{
    /* boot loader at 0 (C3 style), partition table at 0x8000 */
    memset(img, 0xFF, sizeof img);
    int32_t n = esp32(UPD_CHIP_ESP32C3, 1, 0, esp32_boot_segs, 2);
    CHECK(n > 0 && n < 0x8000);
    memset(img + n, 0xFF, 0x8000 - (uint32_t)n);
    put_table(img + 0x8000);
    CHECK_INT(inspect(0x8000 + 128, &sha), ==, UPD_ENOTAPP);
    CHECK_INT(rep.kind, ==, UPD_KIND_MERGED_FACTORY);
    CHECK_INT(rep.chip, ==, UPD_CHIP_ESP32C3);
    CHECK_INT(rep.app_part_count, ==, 2);
    CHECK_INT(rep.app_part_offset[0], ==, 0xE0000); /* ota_0 first */
    CHECK_CONTAINS(rep.reason, "merged factory image for ESP32-C3");
    CHECK_CONTAINS(rep.reason, "0xe0000");

    /* 0xFF padding, boot loader at 0x1000 (ESP32 style) */
    memset(img, 0xFF, sizeof img);
    tw_esp32_opts o;
    memset(&o, 0, sizeof o);
    o.chip_id = UPD_CHIP_ESP32;
    o.mode = 2;
    o.size_freq = 0x20;
    o.entry = 0x400805C4u;
    o.segs = esp32_boot_segs;
    o.nseg = 2;
    CHECK(tw_esp32_image(img + 0x1000, 0x7000, &o) > 0);
    put_table(img + 0x8000);
    CHECK_INT(inspect(0x8000 + 128, &sha), ==, UPD_ENOTAPP);
    CHECK_INT(rep.kind, ==, UPD_KIND_MERGED_FACTORY);
    CHECK_INT(rep.chip, ==, UPD_CHIP_ESP32);
    CHECK_CONTAINS(rep.reason, "boot loader at 0x1000");

    /* the partition table alone */
    put_table(img);
    memset(img + 128, 0xFF, 3072 - 128);
    CHECK_INT(inspect(3072, NULL), ==, UPD_ENOTAPP);
    CHECK_INT(rep.kind, ==, UPD_KIND_PARTITION_TABLE);
    CHECK_CONTAINS(rep.reason, "3 entries");
    CHECK_CONTAINS(rep.reason, "0x10000");
}

static void test_gzip(void)
{
    static uint8_t gz[0x2800];
    int32_t n = arduino(TW_CRC_AT_FF8, 1);
    int32_t g = tw_gzip_store(gz, sizeof gz, img, (uint32_t)n, "firmware.bin");
    CHECK(g > 0);
    upd_source src;
    upd_source_init_mem(&src, gz, (uint32_t)g);
    CHECK_INT(upd_image_inspect(&src, NULL, &rep), ==, 0);
    CHECK_INT(rep.kind, ==, UPD_KIND_GZIP);
    CHECK_INT(rep.gzip, ==, 1);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_INCOMPLETE);
    CHECK_INT(rep.gzip_isize, ==, (uint32_t)n);
    CHECK_STR(rep.gzip_name, "firmware.bin");

    /* what the caller found after inflating decides */
    CHECK_INT(inspect((uint32_t)n, NULL), ==, 0);
    inner = rep;
    upd_source_init_mem(&src, gz, (uint32_t)g);
    upd_image_inspect(&src, NULL, &rep);
    CHECK_INT(upd_image_judge_gzip(&rep, &inner, 0), ==, 0);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_OTA_APP);
    CHECK_INT(rep.inner_kind, ==, UPD_KIND_ESP8266_APP);
    CHECK_INT(rep.platform, ==, UPD_PLATFORM_ESP8266);
    CHECK_INT(rep.first_byte, ==, 0x1F);
    CHECK_CONTAINS(rep.reason, "gzip-compressed ESP8266 Arduino application");

    /* gzip of an ESP32 app: ESP32 clients cannot inflate */
    n = esp32(UPD_CHIP_ESP32, 1, 1, esp32_app_segs, 4);
    CHECK_INT(inspect((uint32_t)n, NULL), ==, 0);
    inner = rep;
    upd_source_init_mem(&src, gz, (uint32_t)g);
    upd_image_inspect(&src, NULL, &rep);
    CHECK_INT(upd_image_judge_gzip(&rep, &inner, 0), ==, UPD_ENOTAPP);
    CHECK_CONTAINS(rep.reason, "cannot install compressed");

    /* damaged gzip data */
    upd_image_inspect(&src, NULL, &rep);
    CHECK_INT(upd_image_judge_gzip(&rep, NULL, UPD_EGZIP), ==, UPD_EGZIP);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_REJECTED);

    /* gzip of text */
    memcpy(img, "hello world, this is not firmware\n", 34);
    CHECK_INT(inspect(34, NULL), ==, UPD_ENOTIMAGE);
    inner = rep;
    upd_image_inspect(&src, NULL, &rep);
    CHECK_INT(upd_image_judge_gzip(&rep, &inner, 0), ==, UPD_EGZIP);
    CHECK_CONTAINS(rep.reason, "not an application image");
}

static int inspect_text(const char *t)
{
    size_t n = strlen(t);
    memcpy(img, t, n);
    return inspect((uint32_t)n, NULL);
}

static void test_not_images(void)
{
    CHECK_INT(inspect(0, NULL), ==, UPD_EEMPTY);
    CHECK_INT(rep.kind, ==, UPD_KIND_EMPTY);

    CHECK_INT(inspect_text("<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
                           "<body>gone</body></html>\n"),
              ==, UPD_ENOTIMAGE);
    CHECK_INT(rep.kind, ==, UPD_KIND_HTML);
    CHECK_CONTAINS(rep.reason, "404 Not Found");
    CHECK_CONTAINS(rep.reason, "-106");

    CHECK_INT(inspect_text("{\"error\":\"not found\"}"), ==, UPD_ENOTIMAGE);
    CHECK_INT(rep.kind, ==, UPD_KIND_TEXT);
    CHECK_CONTAINS(rep.reason, "JSON");

    CHECK_INT(inspect_text("#include <ESP8266httpUpdate.h>\nvoid setup() {}\nvoid loop() {}\n"), ==,
              UPD_ENOTIMAGE);
    CHECK_CONTAINS(rep.reason, "source");

    /* ELF for Xtensa */
    memset(img, 0, 64);
    memcpy(img,
           "\x7F"
           "ELF\x01\x01\x01",
           7);
    img[18] = 94;
    CHECK_INT(inspect(64, NULL), ==, UPD_ENOTAPP);
    CHECK_INT(rep.kind, ==, UPD_KIND_ELF);
    CHECK_CONTAINS(rep.reason, "Xtensa");

    /* NONOS SDK v2 image */
    memset(img, 0, 256);
    img[0] = 0xEA;
    img[1] = 4;
    CHECK_INT(inspect(256, NULL), ==, UPD_ENOTAPP);
    CHECK_INT(rep.kind, ==, UPD_KIND_NONOS_V2);
    CHECK_CONTAINS(rep.reason, "0xEA");

    /* LittleFS superblock: acceptable as a filesystem image */
    memset(img, 0xFF, 8192);
    memset(img, 0, 32);
    memcpy(img + 8, "littlefs", 8);
    tw_put_le32(img + 20, 0x00020000u);
    tw_put_le32(img + 24, 4096);
    tw_put_le32(img + 28, 2);
    CHECK_INT(inspect(8192, NULL), ==, 0);
    CHECK_INT(rep.kind, ==, UPD_KIND_LITTLEFS);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_FS_IMAGE);
    CHECK_CONTAINS(rep.reason, "2 blocks of 4096 bytes");

    /* PHY init data */
    memset(img, 0x05, 128);
    img[1] = 0x08;
    img[2] = 0x04;
    img[3] = 0x02;
    CHECK_INT(inspect(128, NULL), ==, UPD_ENOTAPP);
    CHECK_INT(rep.kind, ==, UPD_KIND_INIT_DATA);

    /* erased flash and random bytes */
    memset(img, 0xFF, 4096);
    CHECK_INT(inspect(4096, NULL), ==, UPD_ENOTIMAGE);
    CHECK_CONTAINS(rep.reason, "0xFF");
    tw_fill(img, 4096, 7);
    img[0] = 0x42;
    CHECK_INT(inspect(4096, NULL), ==, UPD_ENOTIMAGE);
    CHECK_INT(rep.kind, ==, UPD_KIND_UNKNOWN);
    CHECK_CONTAINS(rep.reason, "first bytes 42");
}

static const tw_seg boot_segs[] = {
    {0x40100000u, 1200u, 41u},
    {0x3FFE8000u, 300u, 42u},
    {0x3FFE82FCu, 100u, 43u},
};

static void test_esp8266_non_arduino(void)
{
    /* an SDK second-stage boot loader: small, not eboot, flashed at 0 */
    int32_t n = tw_esp8266_image(img, sizeof img, 0, 0, 0x00, 0x4010057Cu, boot_segs, 3);
    CHECK(n > 0 && n <= 4096);
    CHECK_INT(inspect((uint32_t)n, NULL), ==, UPD_ENOTAPP);
    CHECK_INT(rep.kind, ==, UPD_KIND_ESP8266_BOOTLOADER);
    CHECK_CONTAINS(rep.reason, "second-stage boot loader");

    /* eboot alone: the first 4 KB of an Arduino .bin */
    n = arduino(TW_CRC_NONE, 1);
    CHECK_INT(inspect(0x1000, NULL), ==, UPD_ENOTAPP);
    CHECK_INT(rep.kind, ==, UPD_KIND_ESP8266_BOOTLOADER);
    CHECK_CONTAINS(rep.reason, "eboot");

    /* an app image at 0 without eboot */
    static const tw_seg bare[] = {{0x40201010u, 9000u, 51u}, {0x40100000u, 2000u, 52u}};
    n = tw_esp8266_image(img, sizeof img, 0, 2, 0x40, 0x40100094u, bare, 2);
    CHECK_INT(inspect((uint32_t)n, NULL), ==, UPD_ENOTAPP);
    CHECK_INT(rep.kind, ==, UPD_KIND_ESP8266_PLAIN);
    CHECK_CONTAINS(rep.reason, "without the Arduino boot loader");
}

/* A large virtual file: an image at 0, 0xFF up to 0x10000, data after (the NONOS
 * whole-flash layout), served by a read callback instead of memory. */
static uint32_t virt_img_len;
static int virt_read(const upd_source *src, uint32_t off, void *buf, uint32_t len)
{
    uint8_t *out = buf;
    if (off >= src->avail)
        return 0;
    if (len > src->avail - off)
        len = src->avail - off;
    for (uint32_t i = 0; i < len; i++) {
        uint32_t a = off + i;
        out[i] = a < virt_img_len ? img[a] : a < 0x10000u ? 0xFF : (uint8_t)(a * 7u + 1u);
    }
    return (int)len;
}

static int failing_read(const upd_source *src, uint32_t off, void *buf, uint32_t len)
{
    (void)src;
    (void)off;
    (void)buf;
    (void)len;
    return UPD_EIO;
}

static void test_flat_image_and_sources(void)
{
    int32_t n = tw_esp8266_image(img, sizeof img, 0, 0, 0x00, 0x40101844u, boot_segs, 3);
    virt_img_len = (uint32_t)n;
    upd_source src = {virt_read, NULL, 390411u, 390411u};
    CHECK_INT(upd_image_inspect(&src, NULL, &rep), ==, UPD_ENOTAPP);
    CHECK_INT(rep.kind, ==, UPD_KIND_ESP8266_FLAT);
    CHECK_CONTAINS(rep.reason, "0x10000");

    /* the same Arduino image through memory and through a callback: same report */
    static upd_image_report via_mem;
    n = arduino(TW_CRC_AT_1010, 2);
    CHECK_INT(inspect((uint32_t)n, NULL), ==, 0);
    via_mem = rep;
    virt_img_len = (uint32_t)n;
    upd_source cb = {virt_read, NULL, (uint32_t)n, (uint32_t)n};
    CHECK_INT(upd_image_inspect(&cb, NULL, &rep), ==, 0);
    CHECK(memcmp(&via_mem, &rep, sizeof rep) == 0);

    upd_source bad = {failing_read, NULL, (uint32_t)n, (uint32_t)n};
    CHECK_INT(upd_image_inspect(&bad, NULL, &rep), ==, UPD_EIO);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_REJECTED);
    CHECK_INT(upd_image_inspect(NULL, NULL, &rep), ==, UPD_EINVAL);
    CHECK_INT(upd_image_inspect(&cb, NULL, NULL), ==, UPD_EINVAL);
}

static void test_prefix(void)
{
    upd_source src;
    int32_t n = arduino(TW_CRC_NONE, 1);
    /* the first bytes of a download, Content-Length known */
    static const uint32_t cuts[] = {1, 4, 8, 100, 0x1000, 0x1008, 0x1400, 0};
    for (unsigned i = 0; cuts[i]; i++) {
        upd_source_init_prefix(&src, img, cuts[i], (uint32_t)n);
        CHECK_INT(upd_image_inspect(&src, NULL, &rep), ==, 0);
        CHECK_INT(rep.verdict, ==, UPD_VERDICT_INCOMPLETE);
        CHECK(rep.notes & UPD_NOTE_PREFIX_ONLY);
        CHECK_INT(rep.inspected, ==, cuts[i]);
    }
    upd_source_init_prefix(&src, img, (uint32_t)n, (uint32_t)n);
    CHECK_INT(upd_image_inspect(&src, NULL, &rep), ==, 0);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_OTA_APP);

    /* a prefix can already prove a file wrong */
    memcpy(img, "<html>", 6);
    upd_source_init_prefix(&src, img, 6, 100000);
    CHECK_INT(upd_image_inspect(&src, NULL, &rep), ==, UPD_ENOTIMAGE);

    n = esp32(UPD_CHIP_ESP32, 1, 1, esp32_app_segs, 4);
    upd_source_init_prefix(&src, img, 300, (uint32_t)n);
    CHECK_INT(upd_image_inspect(&src, &sha, &rep), ==, 0);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_INCOMPLETE);
    CHECK_INT(rep.chip, ==, UPD_CHIP_ESP32);
}

static void test_names(void)
{
    for (int k = 0; k < UPD_KIND__COUNT; k++) {
        CHECK(upd_kind_slug((upd_kind)k)[0] != '\0');
        CHECK(upd_kind_desc((upd_kind)k)[0] != '\0');
        for (int j = 0; j < k; j++)
            CHECK(strcmp(upd_kind_slug((upd_kind)k), upd_kind_slug((upd_kind)j)) != 0);
    }
    CHECK_STR(upd_kind_slug(UPD_KIND_MERGED_FACTORY), "merged-factory");
    CHECK_STR(upd_verdict_name(UPD_VERDICT_OTA_APP), "ota-app");
    CHECK_STR(upd_verdict_name(UPD_VERDICT_FS_IMAGE), "fs-image");
    CHECK_STR(upd_verdict_name(UPD_VERDICT_REJECTED), "rejected");
    CHECK_STR(upd_platform_name(UPD_PLATFORM_ESP32), "esp32");
    CHECK_STR(upd_chip_name(UPD_CHIP_ESP32C3), "ESP32-C3");
    CHECK(upd_chip_name((upd_chip)77) == NULL);
    CHECK_INT(upd_chip_parse("esp32c3"), ==, UPD_CHIP_ESP32C3);
    CHECK_INT(upd_chip_parse("ESP32-S3"), ==, UPD_CHIP_ESP32S3);
    CHECK_INT(upd_chip_parse("esp8266"), ==, UPD_CHIP_ESP8266);
    CHECK_INT(upd_chip_parse("esp32"), ==, UPD_CHIP_ESP32);
    CHECK_INT(upd_chip_parse("esp32x"), ==, UPD_CHIP_UNKNOWN);
    CHECK_INT(upd_chip_parse(NULL), ==, UPD_CHIP_UNKNOWN);
    CHECK_INT(upd_flash_size_bytes(UPD_PLATFORM_ESP8266, 0), ==, 512u * 1024);
    CHECK_INT(upd_flash_size_bytes(UPD_PLATFORM_ESP8266, 2), ==, 1024u * 1024);
    CHECK_INT(upd_flash_size_bytes(UPD_PLATFORM_ESP8266, 9), ==, 16u * 1024 * 1024);
    CHECK_INT(upd_flash_size_bytes(UPD_PLATFORM_ESP8266, 7), ==, 0);
    CHECK_INT(upd_flash_size_bytes(UPD_PLATFORM_ESP32, 2), ==, 4u * 1024 * 1024);
    CHECK_INT(upd_flash_size_bytes(UPD_PLATFORM_ESP32, 8), ==, 0);
    CHECK_STR(upd_flash_mode_name(3), "DOUT");
    CHECK_STR(upd_flash_mode_name(9), "?");
    CHECK_INT(upd_flash_freq_mhz(0xF), ==, 80);
    CHECK_INT(upd_crc32_mpeg2(0xFFFFFFFFu, "123456789", 9), ==, 0x0376E6E7u);
}

int main(void)
{
    RUN(test_arduino_plain);
    RUN(test_arduino_crc_1010);
    RUN(test_arduino_crc_ff8);
    RUN(test_arduino_signed_and_trailing);
    RUN(test_esp32_app);
    RUN(test_esp32_variants);
    RUN(test_merged_and_partition_table);
    RUN(test_gzip);
    RUN(test_not_images);
    RUN(test_esp8266_non_arduino);
    RUN(test_flat_image_and_sources);
    RUN(test_prefix);
    RUN(test_names);
    return upd_test_summary();
}
