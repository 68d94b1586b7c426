/* Private interface between the parts of the image inspector. */
#ifndef UPD_CORE_IMAGE_INT_H
#define UPD_CORE_IMAGE_INT_H

#include "updraft/error.h"
#include "updraft/image.h"

/* Results of upd__get beyond plain success. */
#define UPD__PAST_PREFIX 1 /* the bytes exist in the file but lie beyond src->avail */

/* One inspection in progress. */
typedef struct upd__ictx {
    const upd_source *src;
    const upd_sha256_ops *sha;
    upd_image_report *r;
    uint32_t size;      /* file length */
    uint32_t avail;     /* readable prefix, <= size */
    const uint8_t *mem; /* non-NULL for memory sources: direct access, no copies */
    int *io_err;        /* set to UPD_EIO by any failed read: the whole result is void */
} upd__ictx;

/* Read n bytes at off. 0 on success; UPD_ETRUNC when [off, off+n) passes the end of
 * the file; UPD__PAST_PREFIX when it passes the available prefix; UPD_EIO on a read
 * error. Never reads outside [0, avail). */
int upd__get(const upd__ictx *ic, uint32_t off, void *buf, uint32_t n);

/* 1 if [off, off+n) lies inside the file (overflow-safe). */
static inline int upd__in_file(const upd__ictx *ic, uint32_t off, uint32_t n)
{
    return off <= ic->size && n <= ic->size - off;
}

/* XOR of the bytes in [off, off+n), folded into *x. Same results as upd__get. */
int upd__xor_range(const upd__ictx *ic, uint32_t off, uint32_t n, uint8_t *x);

/* Feed [off, off+n) to the SHA-256 provider (already initialised). */
int upd__sha_range(const upd__ictx *ic, uint32_t off, uint32_t n);

/* CRC-32/MPEG-2 over [0, len) with the 8 bytes at hole zeroed. */
int upd__crc_with_hole(const upd__ictx *ic, uint32_t len, uint32_t hole, uint32_t *crc);

/* Parse the esptool image at off (ESP8266 v1 layout, or ESP32 layout when esp32 is 1)
 * into *info: header, segment table, checksum and, for ESP32, the appended SHA-256.
 * Returns 0 when the structure lies inside the file (checksum_ok tells the checksum),
 * UPD__PAST_PREFIX when it runs past the available prefix, UPD_ETRUNC or UPD_EFORMAT
 * with r->reason explaining, or UPD_EIO. */
int upd__esp_parse(upd__ictx *ic, uint32_t off, int esp32, upd_image_info *info);

/* 1 if the 24-byte header at h looks like an ESP32-family header. */
int upd__esp32_header_plausible(const uint8_t *h);

/* Inspect a file that starts with 0xE9 / 0xFF (esptool images, merged factory images). */
int upd__inspect_esp(upd__ictx *ic, const uint8_t *head, uint32_t headlen);

/* Inspect a file that is not an esptool image (gzip, ELF, text, filesystems ...). */
int upd__inspect_other(upd__ictx *ic, const uint8_t *head, uint32_t headlen);

/* Read the ESP-IDF partition table at off into r->app_part_*; returns the number of
 * entries (0 if none), or a negative error. */
int upd__read_partition_table(upd__ictx *ic, uint32_t off);

/* Set verdict REJECTED with kind k and error e; the reason is formatted by the caller. */
int upd__reject(upd_image_report *r, upd_kind k, int e);

#endif
