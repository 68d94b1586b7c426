/* Bytes as lower-case hex, SHA-256 digests and random secrets in hex (GnuTLS): the token
 * store, the dashboard's sessions, `db migrate` and the Secure Boot reader share them. */
#ifndef UPD_HOST_HEXSUM_H
#define UPD_HOST_HEXSUM_H

#include <stddef.h>

/* n bytes at in as 2n lower-case hex digits and a NUL (out holds 2n + 1). */
void upd_hex(const void *in, size_t n, char *out);

/* The SHA-256 of n bytes at in, as 64 hex digits and a NUL. 0, or -1 when GnuTLS fails. */
int upd_sha256_hex(const void *in, size_t n, char out[65]);

/* n bytes from GnuTLS's key-grade generator as 2n hex digits and a NUL (out holds
 * 2n + 1; n at most 64). 0, or -1 when no random bytes could be had. */
int upd_random_hex(size_t n, char *out);

/* 1 when the n chars at s are all lower-case hex digits. */
int upd_is_hex(const char *s, size_t n);

#endif
