/* SHA-256 (FIPS 180-4) for device ports that have no crypto library: streaming, no
 * allocation, no OS header, about 100 bytes of stack. Part of the opt-in device crypto
 * library (libupdraft-crypto, src/client/crypto; docs/client.md "A verifier for ports
 * without crypto"): the engine itself never links it, a port fills its
 * upd_crypto_ops.sha256 with upd_sha256_ops_init() when it has no hash of its own. */
#ifndef UPDRAFT_SHA256_H
#define UPDRAFT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "updraft/image.h" /* upd_sha256_ops */

/* The state of one hash computation, owned by the caller (about 112 bytes). */
typedef struct upd_sha256 {
    uint32_t h[8];
    uint32_t len_lo, len_hi; /* bytes hashed so far, 64 bits */
    uint32_t fill;           /* bytes waiting in buf */
    uint8_t buf[64];
} upd_sha256;

/* Start a new hash in s (s not NULL). */
void upd_sha256_init(upd_sha256 *s);
/* Hash len more bytes at data (data may be NULL when len is 0). */
void upd_sha256_update(upd_sha256 *s, const void *data, size_t len);
/* Finish: the 32-byte digest into out. s must be initialised again before reuse. */
void upd_sha256_final(upd_sha256 *s, uint8_t out[32]);

/* Point ops (the shape updraft/image.h and updraft/port.h take) at these functions and
 * at the caller-owned state s, which must outlive ops. */
void upd_sha256_ops_init(upd_sha256_ops *ops, upd_sha256 *s);

#endif
