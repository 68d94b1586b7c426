/* The framing MD5 (RFC 1321 section 3) and SHA-256 (FIPS 180-4 section 5.1.1) share:
 * bytes are gathered into 64-byte blocks, and the message ends with a 1 bit, zeros to
 * 56 mod 64 bytes and the length in bits as 64 bits (little-endian for MD5, big-endian
 * for SHA-256). Internal to the device crypto library (md5.c, sha256.c). */
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
void upd__md_update(const upd__md_frame *f, const void *data, size_t len);

/* Pad and hash the last block(s); big_endian chooses the length's byte order. The hash
 * value h is then final; fill is left 0. */
void upd__md_final(const upd__md_frame *f, int big_endian);

#endif
