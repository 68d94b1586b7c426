#include "hexsum.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

void upd_hex(const void *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *b = in;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

int upd_sha256_hex(const void *in, size_t n, char out[65])
{
    unsigned char d[32];
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, in, n, d) != 0)
        return -1;
    upd_hex(d, sizeof d, out);
    return 0;
}

int upd_random_hex(size_t n, char *out)
{
    unsigned char b[64];
    if (n > sizeof b || gnutls_rnd(GNUTLS_RND_KEY, b, n) != 0)
        return -1;
    upd_hex(b, n, out);
    return 0;
}

int upd_is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}
