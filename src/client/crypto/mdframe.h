/* The framing MD5 (RFC 1321 section 3) and SHA-256 (FIPS 180-4 section 5.1.1) share:
 * bytes are gathered into 64-byte blocks, and the message ends with a 1 bit, zeros to
 * 56 mod 64 bytes and the length in bits as 64 bits (little-endian for MD5, big-endian
 * for SHA-256). Internal to the device crypto library (md5.c, sha256.c). Defined here,
 * static inline: each hash gets its own copy, in which the compiler sees the state's
 * fields and the block function directly (no frame struct on the device's stack, no
 * indirect call per block). */
#ifndef UPD_CRYPTO_MDFRAME_H
#define UPD_CRYPTO_MDFRAME_H

#include <stddef.h>
#include <stdint.h>

/* One compression of the 64-byte block p into the hash value h. */
typedef void upd__md_block(uint32_t *h, const uint8_t *p);

/* The framing state of a hash: where it lives in upd_md5 / upd_sha256. */
typedef struct upd__md_frame {
    uint32_t *h, *len_lo, *len_hi, *fill;
    uint8_t *buf; /* 64 bytes */
    upd__md_block *block;
} upd__md_frame;

/* Hash len more bytes at data (NULL when len is 0): full blocks straight from data, the
 * rest gathered in buf. */
static inline void upd__md_update(const upd__md_frame *f, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t lo = *f->len_lo + (uint32_t)len;
    *f->len_hi += (lo < *f->len_lo) + (uint32_t)((uint64_t)len >> 32);
    *f->len_lo = lo;
    uint32_t fill = *f->fill;
    if (fill) {
        while (len && fill < 64) {
            f->buf[fill++] = *p++;
            len--;
        }
        if (fill < 64) {
            *f->fill = fill;
            return;
        }
        f->block(f->h, f->buf);
        fill = 0;
    }
    for (; len >= 64; p += 64, len -= 64)
        f->block(f->h, p);
    while (len--)
        f->buf[fill++] = *p++;
    *f->fill = fill;
}

/* Pad and hash the last block(s); big_endian chooses the length's byte order. The hash
 * value h is then final; fill is left 0. */
static inline void upd__md_final(const upd__md_frame *f, int big_endian)
{
    uint32_t hi = *f->len_hi << 3 | *f->len_lo >> 29, lo = *f->len_lo << 3;
    uint32_t fill = *f->fill;
    f->buf[fill++] = 0x80;
    if (fill > 56) {
        while (fill < 64)
            f->buf[fill++] = 0;
        f->block(f->h, f->buf);
        fill = 0;
    }
    while (fill < 56)
        f->buf[fill++] = 0;
    for (unsigned i = 0; i < 4; i++) {
        uint8_t lo_byte = (uint8_t)(lo >> 8 * i), hi_byte = (uint8_t)(hi >> 8 * i);
        if (big_endian) {
            f->buf[63 - i] = lo_byte;
            f->buf[59 - i] = hi_byte;
        } else {
            f->buf[56 + i] = lo_byte;
            f->buf[60 + i] = hi_byte;
        }
    }
    f->block(f->h, f->buf);
    *f->fill = 0;
}

#endif
