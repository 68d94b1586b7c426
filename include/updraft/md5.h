/* MD5 (RFC 1321) for device ports that have no crypto library: streaming, no
 * allocation, no OS header. The engine requires an MD5 (upd_crypto_ops.md5: the x-MD5
 * check of the ESP8266 client); a port whose platform has none fills it with
 * upd_md5_ops_init(). Part of the opt-in device crypto library (libupdraft-crypto,
 * src/client/crypto; docs/client.md "A verifier for ports without crypto"). MD5 only
 * detects transfer and flash errors here, as in the ESP8266 core; it is not a signature. */
#ifndef UPDRAFT_MD5_H
#define UPDRAFT_MD5_H

#include <stddef.h>
#include <stdint.h>

#include "updraft/port.h" /* upd_md5_ops */

/* The state of one hash computation, owned by the caller (92 bytes). */
typedef struct upd_md5 {
    uint32_t h[4];
    uint32_t len_lo, len_hi; /* bytes hashed so far, 64 bits */
    uint32_t fill;           /* bytes waiting in buf */
    uint8_t buf[64];
} upd_md5;

/* Start a new hash in m (m not NULL). */
void upd_md5_init(upd_md5 *m);
/* Hash len more bytes at data (data may be NULL when len is 0). */
void upd_md5_update(upd_md5 *m, const void *data, size_t len);
/* Finish: the 16-byte digest into out. m must be initialised again before reuse. */
void upd_md5_final(upd_md5 *m, uint8_t out[16]);

/* Point ops (the shape updraft/port.h takes) at these functions and at the caller-owned
 * state m, which must outlive ops. */
void upd_md5_ops_init(upd_md5_ops *ops, upd_md5 *m);

#endif
