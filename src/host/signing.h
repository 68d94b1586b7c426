/* Signed firmware on the host (GnuTLS): key pairs, signing an image the way the ESP8266
 * Arduino core verifies it, and checking a signed image against a public key.
 *
 * The format (spec esp8266-http-update.md section 5, the core's Updater::end):
 *   payload || signature || u32 LE signature length
 * The signature is RSASSA-PKCS1-v1_5 with SHA-256 over the whole payload (what
 * `openssl dgst -sha256 -sign KEY` makes, and the core's tools/signing.py runs); its
 * length is the RSA modulus length (256 for RSA-2048, 384 for RSA-3072), and the device
 * refuses any other length (Updater error 12).
 *
 * ECDSA: the core's SigningVerifier takes as signature length the EC public key's
 * length (65 bytes for P-256) but its ECDSA check (BearSSL br_ecdsa_vrfy_raw) refuses
 * every odd length, so no ECDSA-signed image ever verifies on an ESP8266: signing
 * refuses ECDSA keys (UPD_SIG_EECDSA); ECDSA P-256 keys are made for ESP-IDF Secure
 * Boot v2 on the chips that take ECDSA (signed with espsecure). */
#ifndef UPD_HOST_SIGNING_H
#define UPD_HOST_SIGNING_H

#include <stddef.h>
#include <stdint.h>

typedef enum upd_keytype { UPD_KEY_RSA2048 = 0, UPD_KEY_RSA3072, UPD_KEY_ECDSA_P256 } upd_keytype;

/* The key type of a --type word ("rsa2048", "rsa-2048", "rsa3072", "ecdsa", "p256",
 * "ecdsa-p256"); 0 and *t set, or -1. */
int upd_keytype_parse(const char *s, upd_keytype *t);

/* A loaded key: a private key (with its public half) or a public key alone. */
typedef struct upd_sig_key upd_sig_key;

/* Make a key pair of type t. *priv_pem (PKCS#8 "PRIVATE KEY") and *pub_pem
 * (SubjectPublicKeyInfo "PUBLIC KEY", what BearSSL::PublicKey and the core's build
 * take) are NUL-terminated PEM texts the caller frees. 0, or -1 with err set. */
int upd_sig_keygen(upd_keytype t, char **priv_pem, char **pub_pem, char *err, size_t errlen);

/* Load a PEM private key (PKCS#8, PKCS#1 "RSA PRIVATE KEY" or "EC PRIVATE KEY",
 * unencrypted) from path. *out is freed with upd_sig_key_free. 0, or -1 with err
 * saying what is wrong with the file (the path in it). */
int upd_sig_load_private(const char *path, upd_sig_key **out, char *err, size_t errlen);

/* Load a public key from PEM text (len bytes): "PUBLIC KEY", "RSA PUBLIC KEY", or a
 * private key (its public half is taken). what names the text in messages. 0, or -1. */
int upd_sig_public_from_pem(const char *pem, size_t len, const char *what, upd_sig_key **out,
                            char *err, size_t errlen);
/* The same from a file. */
int upd_sig_load_public(const char *path, upd_sig_key **out, char *err, size_t errlen);

void upd_sig_key_free(upd_sig_key *k); /* NULL is fine */

/* "RSA-2048", "RSA-3072", "ECDSA P-256", ... */
const char *upd_sig_key_desc(const upd_sig_key *k);
/* 1 for an RSA key. */
int upd_sig_key_is_rsa(const upd_sig_key *k);
/* The length of the signatures this key makes in the ESP8266 format (the RSA modulus
 * length in bytes); 0 for keys that do not sign that format (ECDSA). */
uint32_t upd_sig_key_sig_len(const upd_sig_key *k);
/* The public key as PEM ("PUBLIC KEY"), NUL-terminated, caller frees; NULL on failure. */
char *upd_sig_key_public_pem(const upd_sig_key *k);
/* The key's id: lowercase hex SHA-256 of its DER SubjectPublicKeyInfo (the same for a
 * private key and its public key), into hex[65]. 0, or -1. */
int upd_sig_key_id(const upd_sig_key *k, char hex[65]);

/* Errors of upd_sig_sign besides -1. */
#define UPD_SIG_EECDSA (-2) /* an ECDSA key: no ESP8266 device could verify the result */

/* Sign len bytes at data with the private key k: sig (cap bytes) receives the
 * signature, *sig_len its length. 0; UPD_SIG_EECDSA; or -1 with err set. */
int upd_sig_sign(const upd_sig_key *k, const uint8_t *data, size_t len, uint8_t *sig, size_t cap,
                 size_t *sig_len, char *err, size_t errlen);

/* The signature trailer of a file, as the core's Updater reads it: when the last 4
 * bytes, as u32 LE, are a plausible signature length (64..1024) that fits the file,
 * 1 with *sig_len and *payload_len set; else 0 (unsigned, or nothing to tell). */
int upd_sig_trailer(const uint8_t *data, size_t len, uint32_t *sig_len, size_t *payload_len);

/* What a file is to a device holding a public key. */
typedef enum upd_sig_status {
    UPD_SIG_UNSIGNED = 0, /* no signature trailer: the device refuses it */
    UPD_SIG_VERIFIES,     /* the device accepts it */
    UPD_SIG_MISMATCH,     /* signed, but not by this key (or tampered with): refused */
    UPD_SIG_OTHER_LENGTH  /* a signature of another length than this key's: refused */
} upd_sig_status;

const char *upd_sig_status_slug(upd_sig_status st); /* "unsigned", "verifies", ... */

/* Check data[0..len) against the public key k as the core's Updater does with a
 * verifier: the trailer's length must be k's signature length, and the signature must
 * verify over the payload. why (may be NULL) receives one sentence for a person.
 * Returns the status; -1 only when the check itself could not run (err in why). */
int upd_sig_check(const upd_sig_key *k, const uint8_t *data, size_t len, char *why, size_t whylen);

/* A device port's signature verifier (upd_crypto_ops.verify, updraft/port.h) backed by
 * GnuTLS, for host ports (posix, the simulator): ctx is the upd_sig_key (an RSA public
 * or private key); 0 when sig (sig_len bytes) is the RSASSA-PKCS1-v1_5 signature of the
 * SHA-256 digest under it, else -1. Set verify_sig_len to upd_sig_key_sig_len(key). */
int upd_sig_port_verify(void *ctx, const uint8_t digest[32], const uint8_t *sig, size_t sig_len);

/* Write len bytes to path, atomically (a temporary file in the same folder, fsynced,
 * then linked or renamed into place) with the given mode. An existing path is
 * refused (-1, errno EEXIST) unless replace. 0, or -1 with errno set. */
int upd_sig_write_file(const char *path, const void *data, size_t len, unsigned mode, int replace);

#endif
