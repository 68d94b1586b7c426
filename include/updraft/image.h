/* Firmware image inspection: what a file is, and whether a device will accept it as an
 * over-the-air application image. Portable, no allocation, no OS headers.
 *
 * The inspector reads through a caller-supplied source (random access within the bytes
 * that are available), so it works on a whole file in memory, a file on disk, flash, or
 * only the first bytes of a download (a "streamed prefix": everything that lies beyond
 * the available bytes is reported as not checked). Every length and offset found in the
 * file is checked against the file's size before it is used. */
#ifndef UPDRAFT_IMAGE_H
#define UPDRAFT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* ---- byte source ---------------------------------------------------------------- */

typedef struct upd_source upd_source;

/* Read up to len bytes at offset into buf. Return the number of bytes read (less than
 * len only when offset+len passes src->avail), or a negative UPD_E* code on failure. */
typedef int (*upd_read_fn)(const upd_source *src, uint32_t offset, void *buf, uint32_t len);

struct upd_source {
    upd_read_fn read;
    void *ctx;      /* for read(); for memory sources: the first byte */
    uint32_t size;  /* the file's full length (e.g. Content-Length) */
    uint32_t avail; /* bytes readable from offset 0; == size for a whole file */
};

/* Make src read from len bytes of memory at data (a whole file). The memory must stay
 * valid while src is used. */
void upd_source_init_mem(upd_source *src, const void *data, uint32_t len);

/* Same, for the first avail bytes of a file whose full length is size (avail <= size). */
void upd_source_init_prefix(upd_source *src, const void *data, uint32_t avail, uint32_t size);

/* ---- crypto the caller provides ------------------------------------------------- */

/* SHA-256 in three steps over caller-owned state (ctx). Used to verify the SHA-256 that
 * ESP32 images append. Any of the pointers NULL: hashes are reported as not checked. */
typedef struct upd_sha256_ops {
    void (*init)(void *ctx);
    void (*update)(void *ctx, const void *data, size_t len);
    void (*final)(void *ctx, uint8_t out[32]);
    void *ctx;
} upd_sha256_ops;

/* ---- what a file is -------------------------------------------------------------- */

#define UPD_KIND_MAP(X)                                                                            \
    X(UNKNOWN, "unknown", "unrecognised data")                                                     \
    X(EMPTY, "empty", "empty file")                                                                \
    X(ESP8266_APP, "esp8266-app", "ESP8266 Arduino application (eboot + app)")                     \
    X(ESP32_APP, "esp32-app", "ESP32-family application image")                                    \
    X(GZIP, "gzip", "gzip-compressed data")                                                        \
    X(ESP8266_BOOTLOADER, "esp8266-bootloader", "ESP8266 boot loader")                             \
    X(ESP32_BOOTLOADER, "esp32-bootloader", "ESP32-family second-stage boot loader")               \
    X(INIT_DATA, "init-data", "ESP8266 RF/PHY init data (esp_init_data_default.bin)")              \
    X(PARTITION_TABLE, "partition-table", "ESP-IDF partition table")                               \
    X(LITTLEFS, "littlefs", "LittleFS filesystem image")                                           \
    X(SPIFFS, "spiffs", "SPIFFS filesystem image")                                                 \
    X(MERGED_FACTORY, "merged-factory", "merged factory image (boot loader + partitions + app)")   \
    X(NONOS_V2, "nonos-sdk-v2", "ESP8266 NONOS SDK OTA image (magic 0xEA, user1/user2.bin)")       \
    X(ESP8266_FLAT, "esp8266-flat", "whole-flash ESP8266 image (app at 0x0, code at 0x10000)")     \
    X(ESP8266_PLAIN, "esp8266-plain", "ESP8266 image without the Arduino boot loader")             \
    X(ELF, "elf", "ELF file (linker output)")                                                      \
    X(HTML, "html", "HTML page")                                                                   \
    X(TEXT, "text", "text file")

typedef enum upd_kind {
#define UPD__KIND_ENUM(name, slug, desc) UPD_KIND_##name,
    UPD_KIND_MAP(UPD__KIND_ENUM)
#undef UPD__KIND_ENUM
        UPD_KIND__COUNT
} upd_kind;

/* "esp8266-app", "merged-factory", ... (stable, used in JSON). Never NULL. */
const char *upd_kind_slug(upd_kind k);
/* One-line description of the kind. Never NULL. */
const char *upd_kind_desc(upd_kind k);

typedef enum upd_verdict {
    UPD_VERDICT_REJECTED = 0, /* no device should be sent this file */
    UPD_VERDICT_OTA_APP,      /* an application image a device installs (sketch mode) */
    UPD_VERDICT_FS_IMAGE,     /* a filesystem image (install in spiffs/filesystem mode) */
    UPD_VERDICT_INCOMPLETE    /* a prefix looked right, but the rest was not available */
} upd_verdict;

/* "rejected", "ota-app", "fs-image", "incomplete". Never NULL. */
const char *upd_verdict_name(upd_verdict v);

typedef enum upd_platform {
    UPD_PLATFORM_UNKNOWN = 0,
    UPD_PLATFORM_ESP8266,
    UPD_PLATFORM_ESP32 /* the whole ESP32 family; see upd_chip */
} upd_platform;

const char *upd_platform_name(upd_platform p); /* "esp8266", "esp32", "unknown" */

/* Chips. ESP32-family values are the image header's chip id; the others are ours. */
typedef enum upd_chip {
    UPD_CHIP_ESP32 = 0,
    UPD_CHIP_ESP32S2 = 2,
    UPD_CHIP_ESP32C3 = 5,
    UPD_CHIP_ESP32S3 = 9,
    UPD_CHIP_ESP32C2 = 12,
    UPD_CHIP_ESP32C6 = 13,
    UPD_CHIP_ESP32H2 = 16,
    UPD_CHIP_ESP32P4 = 18,
    UPD_CHIP_ESP32C61 = 20,
    UPD_CHIP_ESP32C5 = 23,
    UPD_CHIP_ESP8266 = 0x8266,
    UPD_CHIP_UNKNOWN = 0xFFFF
} upd_chip;

/* "ESP32-C3", "ESP8266", ...; NULL for an id that names no known chip. */
const char *upd_chip_name(upd_chip c);
/* Parse "esp32c3", "ESP32-C3", "esp8266" (case and '-' ignored). UPD_CHIP_UNKNOWN if
 * not a chip name. */
upd_chip upd_chip_parse(const char *s);

/* ---- report ---------------------------------------------------------------------- */

#define UPD_IMAGE_MAX_SEGMENTS 16

typedef struct upd_segment {
    uint32_t offset; /* file offset of the segment's data */
    uint32_t load;   /* load address */
    uint32_t len;
} upd_segment;

/* One esptool image (ESP8266 v1 or ESP32 layout) inside the file. */
typedef struct upd_image_info {
    uint32_t offset; /* file offset of the 0xE9 header */
    uint32_t end;    /* file offset just past the checksum byte (and the SHA-256) */
    uint32_t entry;
    uint8_t segment_count; /* as the header says; 0 when outside 1..16 */
    uint8_t flash_mode;    /* header byte 2 */
    uint8_t size_freq;     /* header byte 3: size code << 4 | frequency code */
    uint8_t checksum_stored;
    uint8_t checksum_calc;
    int8_t checksum_ok; /* 1 ok, 0 mismatch, -1 not checked (beyond the prefix) */
    /* ESP32 extended header */
    uint8_t esp32;         /* 1 if this image uses the ESP32 (24-byte) header */
    uint8_t hash_appended; /* header byte 23 */
    int8_t hash_ok;        /* 1 ok, 0 mismatch, -1 not checked / not appended */
    uint8_t wp_pin;
    uint16_t chip_id;
    uint16_t min_rev_full, max_rev_full;
    uint8_t sha256[32]; /* the appended hash when hash_appended */
    upd_segment seg[UPD_IMAGE_MAX_SEGMENTS];
} upd_image_info;

/* esp_app_desc_t, when the ESP32 app carries one. Strings are NUL-terminated copies. */
typedef struct upd_app_desc {
    uint8_t present;
    uint32_t secure_version;
    char version[33];
    char project[33];
    char time[17];
    char date[17];
    char idf_ver[33];
    uint8_t elf_sha256[32];
} upd_app_desc;

/* Flags for notes that do not make an image unacceptable. */
enum {
    UPD_NOTE_CRC_PATCHED_XOR = 1u << 0,    /* core 3.x len/CRC at 0x1010 explains the app XOR */
    UPD_NOTE_UNALIGNED_SEGMENTS = 1u << 1, /* Arduino segment lengths not multiples of 4 */
    UPD_NOTE_TRAILING_DATA = 1u << 2,      /* bytes after the image (not a signature) */
    UPD_NOTE_SIGNED = 1u << 3,             /* ESP8266 signature block / secure boot v2 */
    UPD_NOTE_NO_APP_DESC = 1u << 4,        /* ESP32 app without esp_app_desc_t */
    UPD_NOTE_NO_SHA256 = 1u << 5,          /* ESP32 app without appended SHA-256 */
    UPD_NOTE_HASH_UNCHECKED = 1u << 6,     /* no SHA-256 provider: appended hash not checked */
    UPD_NOTE_PREFIX_ONLY = 1u << 7         /* only a prefix was available */
};

#define UPD_REASON_MAX 320

typedef struct upd_image_report {
    uint32_t size;      /* the file's full length */
    uint32_t inspected; /* bytes that were available */
    upd_kind kind;
    upd_verdict verdict;
    int error; /* 0 when accepted, else the UPD_E* code of the rejection */
    upd_platform platform;
    upd_chip chip;           /* UPD_CHIP_UNKNOWN when the file does not say */
    uint8_t flash_mode;      /* of the app (or of the first image) */
    uint8_t flash_size_code; /* high nibble of byte 3 */
    uint8_t flash_freq_code; /* low nibble of byte 3 */
    uint32_t flash_size;     /* bytes, 0 when the code is unknown */
    uint32_t notes;          /* UPD_NOTE_* */
    uint8_t first_byte;      /* the file's byte 0 (what the device's header check sees) */
    uint8_t first_size_code; /* high nibble of the file's byte 3 (the device's -107 check) */

    uint8_t has_boot; /* ESP8266 Arduino: eboot image at 0 */
    /* ESP8266 Arduino: whether the eboot at 0 inflates gzip images once this image runs
     * (1 yes, 0 no, -1 not known), see upd_esp8266_eboot_inflates(). Its core's Updater
     * accepts gzip exactly when its eboot inflates: both came with core 2.7.0. */
    int8_t eboot_inflates;
    uint8_t has_app;
    upd_image_info boot;
    upd_image_info app; /* the application image (at 0x1000 for ESP8266 Arduino) */
    upd_app_desc desc;

    /* Arduino core 3.x length + CRC-32/MPEG-2 words */
    uint32_t crc_offset; /* 0 when absent, else 0x1010 or 0xFF8 */
    uint32_t crc_len;
    uint32_t crc_stored;
    uint32_t crc_calc;

    uint32_t image_end; /* where the image data ends (before signature / trailing) */
    uint32_t sig_len;   /* ESP8266 signature length (payload || sig || u32 len), 0 none */

    /* gzip container (kind == UPD_KIND_GZIP, or after upd_image_judge_gzip) */
    uint8_t gzip;
    uint32_t gzip_isize; /* uncompressed length mod 2^32 from the trailer */
    uint32_t gzip_mtime;
    char gzip_name[64];  /* FNAME, truncated */
    upd_kind inner_kind; /* what the uncompressed data is (after judging) */
    /* The lowest flash address at which this gzip file may be staged so that eboot,
     * inflating it onto address 0 sector by sector, never erases a sector of the staged
     * data it has not read yet (docs/fit-rules.md "gzip"). Found by the caller that can
     * inflate (src/host: upd_gzip_min_stage); gzip_min_stage_known 0 = not computed. */
    uint8_t gzip_min_stage_known;
    uint32_t gzip_min_stage;

    /* Merged factory image: application partitions found in the partition table */
    uint32_t app_part_offset[4];
    uint32_t app_part_size[4];
    uint8_t app_part_count;

    /* For ELF files: e_machine (94 Xtensa, 243 RISC-V) */
    uint16_t elf_machine;

    /* What the file is and, when rejected, why and what to upload instead. */
    char reason[UPD_REASON_MAX];
} upd_image_report;

/* Inspect the bytes src offers. Fills *out completely (never partially) and returns
 * 0 when the file is acceptable (verdict OTA_APP or FS_IMAGE, or INCOMPLETE for a
 * good-looking prefix), or the negative UPD_E* code of the rejection (also stored in
 * out->error, with the explanation in out->reason). sha256 may be NULL (appended
 * hashes are then reported as not checked). Returns UPD_EINVAL for NULL src/out. A
 * read error of the source gives UPD_EIO. */
int upd_image_inspect(const upd_source *src, const upd_sha256_ops *sha256, upd_image_report *out);

/* For a gzip file: given the outer report (kind GZIP) and the report of the
 * decompressed data, decide whether the gzip file is an acceptable OTA image (only an
 * ESP8266 Arduino app compressed with gzip is: eboot inflates it; ESP32 cannot), and
 * merge the inner details into *outer. inflate_err is 0, or UPD_EGZIP when the caller
 * could not decompress the data (inner is then ignored and may be NULL). Returns
 * outer->error. */
int upd_image_judge_gzip(upd_image_report *outer, const upd_image_report *inner, int inflate_err);

/* Whether an ESP8266 Arduino eboot inflates gzip, from its image (report->boot of an
 * ESP8266 Arduino .bin): 1 yes, 0 no, -1 not an Arduino eboot. eboot gained the uzlib
 * inflater (tinflate + tinfgzip, linked in by bootloaders/eboot/Makefile) in core 2.7.0,
 * which more than doubled its code: every eboot before it loads at most 1.4 KB into IRAM
 * at 0x4010F000, every eboot since at least 3.4 KB (the corpus: 1384 bytes for core
 * 2.5.x, 3584 for 2.7.x, 3460 + 40 for 3.0.x). The line is drawn at 2 KB. */
int upd_esp8266_eboot_inflates(const upd_image_info *boot);

/* Bytes of flash named by a size code (ESP8266 or ESP32 meaning). 0 if unknown. */
uint32_t upd_flash_size_bytes(upd_platform p, uint8_t size_code);

/* "QIO", "QOUT", "DIO", "DOUT", "FAST_READ", "SLOW_READ", or "?" */
const char *upd_flash_mode_name(uint8_t mode);

/* Frequency in MHz for the low nibble of byte 3 (40, 26, 20, 80; ESP32 family: same),
 * 0 if unknown. */
unsigned upd_flash_freq_mhz(uint8_t freq_code);

/* CRC-32/MPEG-2 (poly 0x04C11DB7, init 0xFFFFFFFF, no reflection, no final xor), as
 * the Arduino core stores it and as eboot's RTC command uses. Start with crc =
 * 0xFFFFFFFF and feed the data in any number of pieces. */
uint32_t upd_crc32_mpeg2(uint32_t crc, const void *data, size_t len);

#endif
