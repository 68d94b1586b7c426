/* RSA signature verification (RSASSA-PKCS1-v1_5 with SHA-256, RFC 8017 sections 8.2.2
 * and 9.2) for device ports that have no crypto library: the check the ESP8266 Arduino
 * core's Updater makes on signed images (payload || signature || u32 LE length, spec
 * section 5), for RSA keys of 2048 to 3072 bits. No allocation, no OS header, a few
 * hundred bytes of stack whatever the key size: every big number lives in the
 * caller-owned upd_rsa_key and upd_rsa_work. Part of the opt-in device crypto library
 * (libupdraft-crypto, src/client/crypto); docs/client.md "A verifier for ports without
 * crypto" shows a port using it. Errors are updraft/error.h codes (upd_strerror). */
#ifndef UPDRAFT_RSA_H
#define UPDRAFT_RSA_H

#include <stddef.h>
#include <stdint.h>

#include "updraft/port.h" /* upd_crypto_ops */

#define UPD_RSA_MIN_BITS 2048u
#define UPD_RSA_MAX_BITS 3072u
/* Numbers are little-endian arrays of 16-bit limbs: a 16x16-bit product fits the
 * 32-bit multiply every small CPU has (the lx106 has no 32x32->64 one). */
#define UPD_RSA_LIMBS (UPD_RSA_MAX_BITS / 16u)

/* A public key ready for verification (about 780 bytes; no pointers inside, so it may
 * be copied, or kept in a const table once set up). */
typedef struct upd_rsa_key {
    uint16_t n[UPD_RSA_LIMBS];  /* the modulus */
    uint16_t rr[UPD_RSA_LIMBS]; /* R^2 mod n, R = 2^(16 * len): Montgomery form */
    uint32_t e;                 /* the public exponent (odd, 3 or more) */
    uint16_t len;               /* limbs of n in use */
    uint16_t n0inv;             /* -n^-1 mod 2^16 */
    uint16_t nbytes;            /* the modulus length in bytes: the signature length */
    uint16_t bits;              /* the modulus length in bits */
} upd_rsa_key;

/* Scratch memory for one verification (about 1.2 KB), owned by the caller; its content
 * means nothing between calls. Also the decoding buffer of upd_rsa_key_from_pem. */
typedef struct upd_rsa_work {
    uint16_t s[UPD_RSA_LIMBS];
    uint16_t x[UPD_RSA_LIMBS];
    uint16_t t[UPD_RSA_LIMBS + 2];
} upd_rsa_work;

/* Set up k from a DER public key: SubjectPublicKeyInfo (PEM "PUBLIC KEY", what
 * `updraft keygen` writes to KEYFILE.pub and BearSSL::PublicKey takes) or PKCS#1
 * RSAPublicKey (PEM "RSA PUBLIC KEY"). 0; UPD_EKEY when der is not such a key, the
 * modulus is even or not 2048..3072 bits long, or the exponent is even, 1 or longer
 * than 32 bits; UPD_EINVAL for NULL pointers. */
int upd_rsa_key_from_der(upd_rsa_key *k, const uint8_t *der, size_t len);

/* The same from PEM text (len bytes, the NUL not needed): the first "-----BEGIN PUBLIC
 * KEY-----" or "-----BEGIN RSA PUBLIC KEY-----" block is decoded into w (used as
 * scratch) and read as above. 0, UPD_EKEY (no such block, bad base64, a bad key) or
 * UPD_EINVAL. */
int upd_rsa_key_from_pem(upd_rsa_key *k, const char *pem, size_t len, upd_rsa_work *w);

/* Verify that sig (sig_len bytes, big-endian as on the wire) is the RSASSA-PKCS1-v1_5
 * signature of the SHA-256 digest under k (RFC 8017 section 8.2.2: the signature as a
 * number below the modulus, raised to e mod n, must be exactly the EMSA-PKCS1-v1_5
 * encoding of the digest with SHA-256's DigestInfo, NULL parameters included). 0 when
 * it is; UPD_ESIGLEN when sig_len is not k->nbytes; UPD_ESIGNATURE when it does not
 * verify (or is not below the modulus); UPD_EINVAL for NULL pointers. */
int upd_rsa_verify(const upd_rsa_key *k, upd_rsa_work *w, const uint8_t digest[32],
                   const uint8_t *sig, size_t sig_len);

/* A port's verifier (upd_crypto_ops.verify) in one caller-owned object. */
typedef struct upd_rsa_verifier {
    upd_rsa_key key;
    upd_rsa_work work;
} upd_rsa_verifier;

/* upd_crypto_ops.verify: ctx is an upd_rsa_verifier whose key is set up. 0 or the
 * negative code of upd_rsa_verify. */
int upd_rsa_port_verify(void *ctx, const uint8_t digest[32], const uint8_t *sig, size_t sig_len);

/* Make ops check signatures with v (its key set up; v must outlive ops): sets verify,
 * verify_ctx and verify_sig_len. The engine must be built with UPD_CLIENT_WITH_SIGN=1,
 * and ops->sha256 must be set too (the engine hashes the payload with it). */
void upd_rsa_port_init(upd_crypto_ops *ops, upd_rsa_verifier *v);

#endif
