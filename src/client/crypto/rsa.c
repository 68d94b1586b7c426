/* RSASSA-PKCS1-v1_5 / SHA-256 verification (RFC 8017 sections 8.2.2 and 9.2) with
 * Montgomery multiplication over fixed arrays of 16-bit limbs (updraft/rsa.h). Only
 * public data goes through here (the key, the signature, the digest), so nothing needs
 * to run in constant time; every loop is bounded by the key's length. */
#include "updraft/rsa.h"

#include <string.h>

#include "updraft/error.h"

/* ---- numbers: little-endian 16-bit limbs, k->len of them -------------------------- */

/* 1, 0 or -1 as a is above, equal to or below b (len limbs each). */
static int cmp(const uint16_t *a, const uint16_t *b, unsigned len)
{
    for (unsigned i = len; i-- > 0;)
        if (a[i] != b[i])
            return a[i] > b[i] ? 1 : -1;
    return 0;
}

/* a -= b; the borrow out. */
static unsigned sub(uint16_t *a, const uint16_t *b, unsigned len)
{
    uint32_t borrow = 0;
    for (unsigned i = 0; i < len; i++) {
        uint32_t d = (uint32_t)a[i] - b[i] - borrow;
        a[i] = (uint16_t)d;
        borrow = (d >> 16) & 1u;
    }
    return (unsigned)borrow;
}

/* a = 2a mod n, for a < n. */
static void dbl_mod(uint16_t *a, const upd_rsa_key *k)
{
    uint32_t carry = 0;
    for (unsigned i = 0; i < k->len; i++) {
        uint32_t v = (uint32_t)a[i] << 1 | carry;
        a[i] = (uint16_t)v;
        carry = v >> 16;
    }
    if (carry || cmp(a, k->n, k->len) >= 0)
        sub(a, k->n, k->len);
}

/* d = a * b / R mod n (Montgomery multiplication, coarsely integrated operand scanning:
 * one limb of b at a time, then one reduction step). a, b < n; d may be a or b; t is
 * len + 2 limbs of scratch. Each step is (2^16-1)^2 + 2 * (2^16-1) = 2^32-1 at most,
 * so a 32-bit accumulator never overflows. */
static void mont_mul(uint16_t *d, const uint16_t *a, const uint16_t *b, const upd_rsa_key *k,
                     uint16_t *t)
{
    unsigned len = k->len;
    const uint16_t *n = k->n;
    for (unsigned i = 0; i < len + 2; i++)
        t[i] = 0;
    for (unsigned i = 0; i < len; i++) {
        uint32_t bi = b[i], c = 0, x;
        for (unsigned j = 0; j < len; j++) {
            x = (uint32_t)a[j] * bi + t[j] + c;
            t[j] = (uint16_t)x;
            c = x >> 16;
        }
        x = (uint32_t)t[len] + c;
        t[len] = (uint16_t)x;
        t[len + 1] = (uint16_t)(x >> 16);
        /* add m * n with m chosen so that the lowest limb becomes 0, and shift it out */
        uint32_t m = (uint16_t)((uint32_t)t[0] * k->n0inv);
        x = m * n[0] + t[0];
        c = x >> 16;
        for (unsigned j = 1; j < len; j++) {
            x = m * n[j] + t[j] + c;
            t[j - 1] = (uint16_t)x;
            c = x >> 16;
        }
        x = (uint32_t)t[len] + c;
        t[len - 1] = (uint16_t)x;
        t[len] = (uint16_t)(t[len + 1] + (x >> 16));
    }
    /* t < 2n: at most one subtraction */
    if (t[len] || cmp(t, n, len) >= 0)
        sub(t, n, len);
    for (unsigned i = 0; i < len; i++)
        d[i] = t[i];
}

/* ---- the key ---------------------------------------------------------------------- */

/* One DER tag and length at *p (below end): the content's start in *p, its length in
 * *len. 0, or -1 when it is not that tag or runs past end. */
static int der_tl(const uint8_t **p, const uint8_t *end, uint8_t tag, size_t *len)
{
    const uint8_t *q = *p;
    if (end - q < 2 || q[0] != tag)
        return -1;
    size_t l = q[1];
    q += 2;
    if (l >= 0x80) {
        unsigned nb = l & 0x7fu;
        if (nb == 0 || nb > 2 || (size_t)(end - q) < nb)
            return -1;
        for (l = 0; nb--; q++)
            l = l << 8 | *q;
        if (l < 0x80)
            return -1; /* DER: the short form where it fits */
    }
    if ((size_t)(end - q) < l)
        return -1;
    *p = q;
    *len = l;
    return 0;
}

/* A positive DER INTEGER's magnitude: *v and *vlen without the sign byte. 0 or -1. */
static int der_uint(const uint8_t **p, const uint8_t *end, const uint8_t **v, size_t *vlen)
{
    size_t l;
    if (der_tl(p, end, 0x02, &l) != 0 || l == 0 || ((*p)[0] & 0x80))
        return -1; /* empty or negative */
    const uint8_t *q = *p;
    *p += l;
    if (q[0] == 0) {
        if (l > 1 && !(q[1] & 0x80))
            return -1; /* DER: no needless leading zero */
        q++;
        l--;
    }
    *v = q;
    *vlen = l;
    return 0;
}

/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017 A.1.1),
 * exactly filling [p, end). */
static int rsa_public_key(upd_rsa_key *k, const uint8_t *p, const uint8_t *end)
{
    size_t l, nl, el;
    const uint8_t *n, *e;
    if (der_tl(&p, end, 0x30, &l) != 0 || p + l != end || der_uint(&p, end, &n, &nl) != 0 ||
        der_uint(&p, end, &e, &el) != 0 || p != end)
        return -1;
    if (nl == 0 || nl > UPD_RSA_MAX_BITS / 8 || el == 0 || el > 4 || !(n[nl - 1] & 1) ||
        !(e[el - 1] & 1))
        return -1;
    unsigned bits = (unsigned)nl * 8;
    for (uint8_t top = n[0]; !(top & 0x80); top <<= 1)
        bits--;
    if (bits < UPD_RSA_MIN_BITS)
        return -1;
    uint32_t ev = 0;
    for (size_t i = 0; i < el; i++)
        ev = ev << 8 | e[i];
    if (ev < 3)
        return -1;
    memset(k, 0, sizeof *k);
    for (size_t i = 0; i < nl; i++)
        k->n[i / 2] |= (uint16_t)(n[nl - 1 - i] << (8 * (i & 1)));
    k->len = (uint16_t)((nl + 1) / 2);
    k->nbytes = (uint16_t)nl;
    k->bits = (uint16_t)bits;
    k->e = ev;
    return 0;
}

/* The Montgomery constants of k->n: n0inv and R^2 mod n. rr receives 2^(bits-1) (below
 * n, whose top bit is bits-1 and which is odd), doubled mod n up to R * 2^t mod n, then
 * squared j times the Montgomery way (each squaring of R * 2^u gives R * 2^2u), where
 * t * 2^j = 16 * len: R * 2^(16 * len) = R^2. Some thousand doublings at most. */
static void montgomery_setup(upd_rsa_key *k, uint16_t *t)
{
    uint32_t x = k->n[0]; /* odd: x * n[0] = 1 mod 8, each step doubles the good bits */
    for (unsigned i = 0; i < 4; i++)
        x *= 2u - k->n[0] * x;
    k->n0inv = (uint16_t)(0u - x);

    unsigned rbits = 16u * k->len, tt = rbits, j = 0;
    while (!(tt & 1u)) {
        tt >>= 1;
        j++;
    }
    uint16_t *rr = k->rr;
    for (unsigned i = 0; i < k->len; i++)
        rr[i] = 0;
    rr[(k->bits - 1) / 16] = (uint16_t)(1u << ((k->bits - 1) % 16));
    for (unsigned i = k->bits - 1; i < rbits + tt; i++)
        dbl_mod(rr, k);
    while (j--)
        mont_mul(rr, rr, rr, k, t);
}

int upd_rsa_key_from_der(upd_rsa_key *k, const uint8_t *der, size_t len)
{
    /* SubjectPublicKeyInfo (RFC 5280 4.1) with rsaEncryption (RFC 8017 A.1):
     * SEQUENCE { SEQUENCE { OID 1.2.840.113549.1.1.1, NULL }, BIT STRING { RSAPublicKey } } */
    static const uint8_t rsa_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                      0xf7, 0x0d, 0x01, 0x01, 0x01};
    uint16_t t[UPD_RSA_LIMBS + 2];
    if (!k || !der)
        return UPD_EINVAL;
    const uint8_t *p = der, *end = der + len;
    size_t l, al;
    if (der_tl(&p, end, 0x30, &l) != 0 || p + l != end)
        return UPD_EKEY;
    if (p < end && p[0] == 0x30) {
        const uint8_t *alg = p;
        if (der_tl(&alg, end, 0x30, &al) != 0)
            return UPD_EKEY;
        const uint8_t *aend = alg + al;
        if (al < sizeof rsa_oid || memcmp(alg, rsa_oid, sizeof rsa_oid) != 0)
            return UPD_EKEY; /* not an RSA key (an EC key, say) */
        alg += sizeof rsa_oid;
        if (alg != aend && !(aend - alg == 2 && alg[0] == 0x05 && alg[1] == 0x00))
            return UPD_EKEY;
        p = aend;
        if (der_tl(&p, end, 0x03, &l) != 0 || p + l != end || l < 1 || p[0] != 0)
            return UPD_EKEY;
        if (rsa_public_key(k, p + 1, end) != 0)
            return UPD_EKEY;
    } else if (rsa_public_key(k, der, end) != 0) {
        return UPD_EKEY;
    }
    montgomery_setup(k, t);
    return 0;
}

/* The value of a base64 character, 64 for '=', -1 for anything else. */
static int b64(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return c == '=' ? 64 : -1;
}

/* Where the n bytes of s first occur in [p, end), or NULL. */
static const char *find(const char *p, const char *end, const char *s, size_t n)
{
    for (; (size_t)(end - p) >= n; p++)
        if (memcmp(p, s, n) == 0)
            return p;
    return NULL;
}

int upd_rsa_key_from_pem(upd_rsa_key *k, const char *pem, size_t len, upd_rsa_work *w)
{
    static const char spki[] = "-----BEGIN PUBLIC KEY-----";
    static const char pkcs1[] = "-----BEGIN RSA PUBLIC KEY-----";
    if (!k || !pem || !w)
        return UPD_EINVAL;
    const char *end = pem + len, *a = find(pem, end, spki, sizeof spki - 1);
    const char *b = find(pem, end, pkcs1, sizeof pkcs1 - 1);
    if (!a && !b)
        return UPD_EKEY;
    const char *p = a && (!b || a < b) ? a + sizeof spki - 1 : b + sizeof pkcs1 - 1;
    const char *stop = find(p, end, "-----END ", 9);
    if (!stop)
        return UPD_EKEY;
    uint8_t *out = (uint8_t *)w;
    size_t n = 0, chars = 0, pad = 0;
    uint32_t acc = 0;
    unsigned nbits = 0;
    for (; p < stop; p++) {
        if (*p == '\r' || *p == '\n' || *p == ' ' || *p == '\t')
            continue;
        int v = b64(*p);
        if (v < 0 || (pad && v != 64))
            return UPD_EKEY;
        chars++;
        if (v == 64) {
            pad++;
            continue;
        }
        acc = acc << 6 | (uint32_t)v;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            if (n == sizeof *w)
                return UPD_EKEY;
            out[n++] = (uint8_t)(acc >> nbits);
        }
    }
    if (chars % 4 != 0 || pad > 2)
        return UPD_EKEY;
    return upd_rsa_key_from_der(k, out, n);
}

/* ---- verification ----------------------------------------------------------------- */

/* RFC 8017 section 9.2 note 1: the DER of DigestInfo for SHA-256, before the digest. */
static const uint8_t sha256_prefix[19] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                          0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                          0x01, 0x05, 0x00, 0x04, 0x20};

/* Byte i (from the most significant, 0..k-1) of EMSA-PKCS1-v1_5(digest), emLen = k:
 * 0x00 0x01 0xFF..0xFF 0x00 DigestInfo digest (RFC 8017 section 9.2 step 5). */
static uint8_t em_byte(unsigned i, unsigned k, const uint8_t digest[32])
{
    unsigned tlen = sizeof sha256_prefix + 32;
    if (i == 0)
        return 0x00;
    if (i == 1)
        return 0x01;
    if (i < k - tlen - 1)
        return 0xFF;
    if (i == k - tlen - 1)
        return 0x00;
    i -= k - tlen;
    return i < sizeof sha256_prefix ? sha256_prefix[i] : digest[i - sizeof sha256_prefix];
}

int upd_rsa_verify(const upd_rsa_key *k, upd_rsa_work *w, const uint8_t digest[32],
                   const uint8_t *sig, size_t sig_len)
{
    if (!k || !w || !digest || !sig)
        return UPD_EINVAL;
    if (k->len == 0 || sig_len != k->nbytes)
        return UPD_ESIGLEN;
    unsigned len = k->len, nb = k->nbytes;
    /* RFC 8017 8.2.2 step 2a, OS2IP; step 2b (RSAVP1) needs s < n */
    for (unsigned i = 0; i < len; i++)
        w->s[i] = 0;
    for (unsigned i = 0; i < nb; i++)
        w->s[i / 2] |= (uint16_t)(sig[nb - 1 - i] << (8 * (i & 1)));
    if (cmp(w->s, k->n, len) >= 0)
        return UPD_ESIGNATURE;
    /* m = s^e mod n, left to right over e's bits, in Montgomery form: x = sR */
    mont_mul(w->x, w->s, k->rr, k, w->t);
    for (unsigned i = 0; i < len; i++)
        w->s[i] = w->x[i];
    unsigned top = 31;
    while (!(k->e >> top & 1u))
        top--;
    while (top-- > 0) {
        mont_mul(w->s, w->s, w->s, k, w->t);
        if (k->e >> top & 1u)
            mont_mul(w->s, w->s, w->x, k, w->t);
    }
    for (unsigned i = 0; i < len; i++)
        w->x[i] = 0;
    w->x[0] = 1;
    mont_mul(w->s, w->s, w->x, k, w->t); /* out of Montgomery form: s^e mod n */
    /* steps 2c..4: I2OSP(m, k) must equal EMSA-PKCS1-v1_5-ENCODE(M, k) */
    unsigned diff = 0;
    for (unsigned i = 0; i < nb; i++) {
        unsigned j = nb - 1 - i; /* byte j from the least significant end */
        uint8_t got = (uint8_t)(w->s[j / 2] >> (8 * (j & 1)));
        diff |= (unsigned)(got ^ em_byte(i, nb, digest));
    }
    return diff ? UPD_ESIGNATURE : 0;
}

int upd_rsa_port_verify(void *ctx, const uint8_t digest[32], const uint8_t *sig, size_t sig_len)
{
    upd_rsa_verifier *v = ctx;
    if (!v)
        return UPD_EINVAL;
    return upd_rsa_verify(&v->key, &v->work, digest, sig, sig_len);
}

void upd_rsa_port_init(upd_crypto_ops *ops, upd_rsa_verifier *v)
{
    ops->verify = upd_rsa_port_verify;
    ops->verify_ctx = v;
    ops->verify_sig_len = v->key.nbytes;
}
