/* A small writer of synthetic firmware images for tests, independent of the inspector
 * (it must not call any upd_image_* function): ESP8266 esptool v1 images, the Arduino
 * .bin (eboot at 0 + app at 0x1000, with or without the core 3.x length/CRC words),
 * ESP32-family images (with or without appended SHA-256 and esp_app_desc_t), and gzip
 * files (stored deflate blocks, so no zlib is needed). Malloc-free: the caller gives the
 * output buffer. Also reference SHA-256 and MD5 for tests. Runs on lx106 too. */
#ifndef UPD_IMGWRITER_H
#define UPD_IMGWRITER_H

#include <stddef.h>
#include <stdint.h>

#include "updraft/image.h"

/* One segment: load address and length; the data is deterministic pseudo-random bytes
 * derived from seed (tw_fill), so checksums are never trivial. */
typedef struct tw_seg {
    uint32_t load;
    uint32_t len;
    uint32_t seed;
} tw_seg;

/* Fill buf with len deterministic pseudo-random bytes for seed. */
void tw_fill(uint8_t *buf, uint32_t len, uint32_t seed);

/* Write an ESP8266 esptool v1 image at buf[off]: 8-byte header (0xE9, nseg, mode,
 * size_freq, entry), the segments, zero padding and the XOR checksum (0xEF ^ data) as
 * the last byte of the 16-byte-aligned block. Returns the file offset just past the
 * checksum, or -1 if it does not fit in cap. */
int32_t tw_esp8266_image(uint8_t *buf, uint32_t cap, uint32_t off, uint8_t mode,
                         uint8_t size_freq, uint32_t entry, const tw_seg *segs, unsigned nseg);

enum tw_crc_place { TW_CRC_NONE = 0, TW_CRC_AT_1010 = 1, TW_CRC_AT_FF8 = 2 };

typedef struct tw_arduino_opts {
    uint8_t mode;      /* flash mode byte (e.g. 2 = DIO) */
    uint8_t size_freq; /* e.g. 0x40 = 4M / 40 MHz */
    unsigned eboot_segments; /* 1 (cores 2.x) or 2 (3.x) */
    const tw_seg *app_segs;  /* app segments; the first is .irom0.text at 0x40201010 */
    unsigned app_nseg;
    int crc_place; /* enum tw_crc_place: where to store u32 len + u32 CRC-32/MPEG-2 */
} tw_arduino_opts;

/* Write an Arduino ESP8266 .bin: eboot image (entry 0x4010F000 + x) at 0 padded with
 * 0xAA to 0x1000, then the app image. With TW_CRC_AT_1010 the 8 bytes at 0x1010 (inside
 * the first app segment, which must be at least 8 bytes long) are overwritten AFTER the
 * app checksum was computed, exactly as elf2bin does; with TW_CRC_AT_FF8 they go into the
 * eboot padding. Returns the file length, or -1 if it does not fit. */
int32_t tw_arduino_bin(uint8_t *buf, uint32_t cap, const tw_arduino_opts *o);

typedef struct tw_esp32_opts {
    uint16_t chip_id;        /* 0 ESP32, 2 S2, 5 C3 ... */
    uint8_t mode;            /* flash mode */
    uint8_t size_freq;       /* ESP32 meaning: size code << 4 | freq */
    uint32_t entry;
    const tw_seg *segs;      /* lengths must be multiples of 4 */
    unsigned nseg;
    int hash_appended;       /* 1: append SHA-256 of everything before it */
    int app_desc;            /* 1: put an esp_app_desc_t at the start of segment 0 */
    const char *version;     /* app desc fields (may be NULL) */
    const char *project;
    const char *idf_ver;
    uint32_t secure_version;
    uint16_t min_rev_full, max_rev_full;
} tw_esp32_opts;

/* Write an ESP32-family image (24-byte header) at buf[0]. With app_desc, segment 0's
 * first 256 bytes become an esp_app_desc_t (magic 0xABCD5432; segment 0 must be at
 * least 256 bytes). Returns the file length, or -1 if it does not fit. */
int32_t tw_esp32_image(uint8_t *buf, uint32_t cap, const tw_esp32_opts *o);

/* Write a gzip file of in[0..len) using stored (uncompressed) deflate blocks, with an
 * optional FNAME. Returns the gzip length, or -1 if it does not fit. */
int32_t tw_gzip_store(uint8_t *out, uint32_t cap, const uint8_t *in, uint32_t len,
                      const char *fname);

/* Reference hashes (straightforward, for tests; not tuned). */
typedef struct tw_sha256_ctx {
    uint32_t h[8];
    uint64_t bytes;
    uint8_t buf[64];
    uint32_t fill;
} tw_sha256_ctx;
void tw_sha256_init(void *ctx);
void tw_sha256_update(void *ctx, const void *data, size_t len);
void tw_sha256_final(void *ctx, uint8_t out[32]);
void tw_sha256(const void *data, size_t len, uint8_t out[32]);

/* Fill ops with the reference SHA-256 over *ctx (for upd_image_inspect). */
void tw_sha256_ops(upd_sha256_ops *ops, tw_sha256_ctx *ctx);

void tw_md5(const void *data, size_t len, uint8_t out[16]);

/* Little-endian store helpers. */
void tw_put_le32(uint8_t *p, uint32_t v);
void tw_put_le16(uint8_t *p, uint16_t v);

#endif
