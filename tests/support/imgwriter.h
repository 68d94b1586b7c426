/* A small writer of synthetic firmware images for tests, independent of the inspector
 * (it must not call any upd_image_* function): ESP8266 esptool v1 images, the Arduino
 * .bin (eboot at 0 + app at 0x1000, with or without the core 3.x length/CRC words),
 * ESP32-family images (with or without appended SHA-256 and esp_app_desc_t), and gzip
 * files (stored deflate blocks, so no zlib is needed). Malloc-free: the caller gives the
 * output buffer. Also one-shot SHA-256 and MD5 for tests. Runs on lx106 too. */
#ifndef UPD_IMGWRITER_H
#define UPD_IMGWRITER_H

#include <stddef.h>
#include <stdint.h>

#include "updraft/image.h"
#include "updraft/md5.h"
#include "updraft/sha256.h"

/* One segment: load address and length; the data is deterministic pseudo-random bytes
 * derived from seed (tw_fill), so checksums are never trivial. */
typedef struct tw_seg {
    uint32_t load;
    uint32_t len;
    uint32_t seed;
} tw_seg;

/* Fill buf with len deterministic pseudo-random bytes for seed (xorshift32 of a
 * scrambled seed, top byte of each step). Different seeds give different bytes; the same
 * seed always gives the same bytes, on every platform. */
void tw_fill(uint8_t *buf, uint32_t len, uint32_t seed);

/* Write an ESP8266 esptool v1 image at buf[off]: 8-byte header (0xE9, nseg, mode,
 * size_freq, entry), the segments, zero padding and the XOR checksum (0xEF ^ data) as
 * the last byte of the 16-byte-aligned block (alignment counted from buf[off], as
 * esptool does for its own file: 15 padding bytes if the data already ends on a
 * boundary; with off a multiple of 16 it is the file alignment too). Image length =
 * (8 + sum(8 + len) + 16) & ~15. Returns the file offset just past the checksum, or -1
 * (buf untouched) if it does not fit in cap or nseg > 255. */
int32_t tw_esp8266_image(uint8_t *buf, uint32_t cap, uint32_t off, uint8_t mode, uint8_t size_freq,
                         uint32_t entry, const tw_seg *segs, unsigned nseg);

enum tw_crc_place { TW_CRC_NONE = 0, TW_CRC_AT_1010 = 1, TW_CRC_AT_FF8 = 2 };

typedef struct tw_arduino_opts {
    uint8_t mode;            /* flash mode byte (e.g. 2 = DIO) */
    uint8_t size_freq;       /* e.g. 0x40 = 4M / 40 MHz */
    unsigned eboot_segments; /* 1 (cores 2.x) or 2 (3.x) */
    const tw_seg *app_segs;  /* app segments; the first is .irom0.text at 0x40201010 */
    unsigned app_nseg;
    int crc_place; /* enum tw_crc_place: where to store u32 len + u32 CRC-32/MPEG-2 */
} tw_arduino_opts;

/* The fixed parts of the Arduino .bin that tw_arduino_bin writes (the eboot segments'
 * data is tw_fill data, seeds TW_EBOOT_SEED + segment index). */
#define TW_EBOOT_LOAD        0x4010F000u /* eboot segment 0 (IRAM) */
#define TW_EBOOT_DRAM_LOAD   0x3FFF20B8u /* eboot segment 1 (DRAM), 2-segment eboot only */
#define TW_EBOOT1_ENTRY      0x4010F29Cu /* 1 segment of 1384 bytes: image ends at 0x580 */
#define TW_EBOOT1_SEG0_LEN   1384u
#define TW_EBOOT1_END        0x580u
#define TW_EBOOT2_ENTRY      0x4010F494u /* 2 segments, 3460 + 40 bytes: ends at 0xDD0 */
#define TW_EBOOT2_SEG0_LEN   3460u
#define TW_EBOOT2_SEG1_LEN   40u
#define TW_EBOOT2_END        0xDD0u
#define TW_EBOOT_SEED        0xEB00u
#define TW_ARDUINO_APP_OFF   0x1000u     /* the app image starts here */
#define TW_ARDUINO_APP_ENTRY 0x401000B8u /* entry point written into the app header */
#define TW_ARDUINO_CRC_1010  0x1010u     /* u32 length, u32 CRC (TW_CRC_AT_1010) */
#define TW_ARDUINO_CRC_FF8   0xFF8u      /* u32 length, u32 CRC (TW_CRC_AT_FF8) */

/* Write an Arduino ESP8266 .bin: eboot image (entry 0x4010F000 + x, same mode and
 * size_freq as the app) at 0 padded with 0xAA to 0x1000, then the app image (entry
 * TW_ARDUINO_APP_ENTRY) at 0x1000 as tw_esp8266_image writes it. The app segments are
 * taken as given (load addresses and lengths are not checked, so tests can write odd
 * ones). CRC words: u32 LE file length, u32 LE CRC-32/MPEG-2 of the whole file with
 * these 8 bytes zero. With TW_CRC_AT_1010 the first 8 data bytes of app segment 0 (which
 * must be at least 8 bytes long, else -1) are zero when the app XOR checksum is computed
 * (as __crc_len/__crc_val are in the ELF) and are overwritten AFTER it, exactly as
 * elf2bin does: the plain XOR no longer verifies, XOR ^ those 8 bytes does (unless they
 * happen to XOR to 0). With TW_CRC_AT_FF8 they go into the eboot padding and every
 * checksum verifies. Returns the file length, or -1 (nothing written at or beyond cap)
 * if it does not fit or an option is out of range (eboot_segments not 1 or 2). */
int32_t tw_arduino_bin(uint8_t *buf, uint32_t cap, const tw_arduino_opts *o);

typedef struct tw_esp32_opts {
    uint16_t chip_id;  /* 0 ESP32, 2 S2, 5 C3 ... */
    uint8_t mode;      /* flash mode */
    uint8_t size_freq; /* ESP32 meaning: size code << 4 | freq */
    uint32_t entry;
    const tw_seg *segs; /* lengths should be multiples of 4 (not enforced) */
    unsigned nseg;
    int hash_appended;   /* 1: append SHA-256 of everything before it */
    int app_desc;        /* 1: put an esp_app_desc_t at the start of segment 0 */
    const char *version; /* app desc fields (may be NULL) */
    const char *project;
    const char *idf_ver;
    uint32_t secure_version;
    uint16_t min_rev_full, max_rev_full;
} tw_esp32_opts;

/* Write an ESP32-family image (24-byte header) at buf[0]: wp_pin 0xEE, spi drive 0,
 * chip_id LE at 12, legacy min rev (min_rev_full / 100) at 14, min/max_rev_full LE at
 * 15/17, reserved 0, hash_appended at 23; segments, zero padding, XOR checksum as for
 * ESP8266; then, with hash_appended, the SHA-256 of everything before it (32 bytes).
 * With app_desc, segment 0's first 256 bytes (file offset 32) become an esp_app_desc_t
 * (segment 0 must be at least 256 bytes, else -1): magic 0xABCD5432, secure_version,
 * version (file 48), project_name (80), time "12:34:56" (112), date "Jan  2 2025" (128),
 * idf_ver (144), app_elf_sha256 (176, pseudo-random), the rest zero; strings are cut to
 * 31 characters and NUL-padded, NULL means empty. The checksum covers the desc. Returns
 * the file length, or -1 if it does not fit. */
int32_t tw_esp32_image(uint8_t *buf, uint32_t cap, const tw_esp32_opts *o);

/* Write a gzip file of in[0..len) using stored (uncompressed) deflate blocks, with an
 * optional FNAME (NULL: no FNAME, FLG 0). Header 1F 8B 08 FLG, MTIME 0, XFL 0, OS 3;
 * blocks of at most 65535 bytes (one byte BFINAL/BTYPE 00, LEN, NLEN, data; an empty
 * input gives one empty final block); trailer CRC-32 and ISIZE, LE. Length =
 * 10 + (strlen(fname) + 1) + len + 5 * max(1, ceil(len / 65535)) + 8. Returns the gzip
 * length, or -1 if it does not fit. */
int32_t tw_gzip_store(uint8_t *out, uint32_t cap, const uint8_t *in, uint32_t len,
                      const char *fname);

/* SHA-256 and MD5 of data, one shot: the device crypto library's (updraft/sha256.h,
 * updraft/md5.h; tested on their own vectors in tests/crypto), for tests that need a
 * digest; incremental hashing and the ops take upd_sha256 / upd_md5 directly. */
void tw_sha256(const void *data, size_t len, uint8_t out[32]);
void tw_md5(const void *data, size_t len, uint8_t out[16]);

/* CRC-32/MPEG-2 (poly 0x04C11DB7, MSB first, no reflection, no final XOR), as the
 * ESP8266 core 3.x stores it. Start with crc = 0xFFFFFFFF; feed the result back in to
 * continue; the returned value is final. "123456789" gives 0x0376E6E7. */
uint32_t tw_crc32_mpeg2(uint32_t crc, const void *data, size_t len);

/* The gzip/zlib CRC-32 (reflected, 0xEDB88320, inverted in and out), zlib style:
 * start with crc = 0, feed the result back in to continue. "123456789" gives
 * 0xCBF43926. */
uint32_t tw_crc32(uint32_t crc, const void *data, size_t len);

/* Little-endian store helpers. */
void tw_put_le32(uint8_t *p, uint32_t v);
void tw_put_le16(uint8_t *p, uint16_t v);

#endif
