/* MD5 (RFC 1321) and SHA-256 (FIPS 180-4) for the simulated device: its port's crypto
 * operations and the boot checks. Plain portable C, no allocation. */
#include <string.h>

#include "sim.h"

static uint32_t rol(uint32_t x, unsigned n)
{
    return x << n | x >> (32u - n);
}

static uint32_t ror(uint32_t x, unsigned n)
{
    return x >> n | x << (32u - n);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* ---- MD5 ------------------------------------------------------------------------------ */

/* T[i] = floor(abs(sin(i + 1)) * 2^32) */
static const uint32_t md5_t[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

#define MD5_STEP(f, a, b, c, d, x, t, s) (a) = (b) + rol((a) + f((b), (c), (d)) + (x) + (t), (s))
#define MD5_F(x, y, z)                   ((z) ^ ((x) & ((y) ^ (z))))
#define MD5_G(x, y, z)                   ((y) ^ ((z) & ((x) ^ (y))))
#define MD5_H(x, y, z)                   ((x) ^ (y) ^ (z))
#define MD5_I(x, y, z)                   ((y) ^ ((x) | ~(z)))

static void md5_block(uint32_t st[4], const uint8_t *p)
{
    uint32_t x[16];
    for (int i = 0; i < 16; i++)
        x[i] = le32(p + 4 * i);
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
    for (int i = 0; i < 16; i += 4) {
        MD5_STEP(MD5_F, a, b, c, d, x[i], md5_t[i], 7);
        MD5_STEP(MD5_F, d, a, b, c, x[i + 1], md5_t[i + 1], 12);
        MD5_STEP(MD5_F, c, d, a, b, x[i + 2], md5_t[i + 2], 17);
        MD5_STEP(MD5_F, b, c, d, a, x[i + 3], md5_t[i + 3], 22);
    }
    for (int i = 0; i < 16; i += 4) {
        MD5_STEP(MD5_G, a, b, c, d, x[(5 * i + 1) & 15], md5_t[16 + i], 5);
        MD5_STEP(MD5_G, d, a, b, c, x[(5 * i + 6) & 15], md5_t[17 + i], 9);
        MD5_STEP(MD5_G, c, d, a, b, x[(5 * i + 11) & 15], md5_t[18 + i], 14);
        MD5_STEP(MD5_G, b, c, d, a, x[(5 * i + 16) & 15], md5_t[19 + i], 20);
    }
    for (int i = 0; i < 16; i += 4) {
        MD5_STEP(MD5_H, a, b, c, d, x[(3 * i + 5) & 15], md5_t[32 + i], 4);
        MD5_STEP(MD5_H, d, a, b, c, x[(3 * i + 8) & 15], md5_t[33 + i], 11);
        MD5_STEP(MD5_H, c, d, a, b, x[(3 * i + 11) & 15], md5_t[34 + i], 16);
        MD5_STEP(MD5_H, b, c, d, a, x[(3 * i + 14) & 15], md5_t[35 + i], 23);
    }
    for (int i = 0; i < 16; i += 4) {
        MD5_STEP(MD5_I, a, b, c, d, x[(7 * i) & 15], md5_t[48 + i], 6);
        MD5_STEP(MD5_I, d, a, b, c, x[(7 * i + 7) & 15], md5_t[49 + i], 10);
        MD5_STEP(MD5_I, c, d, a, b, x[(7 * i + 14) & 15], md5_t[50 + i], 15);
        MD5_STEP(MD5_I, b, c, d, a, x[(7 * i + 21) & 15], md5_t[51 + i], 21);
    }
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
}

void upd_sim_md5_init(void *ctx)
{
    upd_sim_md5 *m = ctx;
    m->h[0] = 0x67452301u;
    m->h[1] = 0xefcdab89u;
    m->h[2] = 0x98badcfeu;
    m->h[3] = 0x10325476u;
    m->nlo = m->nhi = 0;
}

/* Shared by both hashes: buffer bytes into 64-byte blocks. */
static void absorb(uint32_t *h, uint32_t *nlo, uint32_t *nhi, uint8_t *buf, const uint8_t *p,
                   size_t len, void (*block)(uint32_t *, const uint8_t *))
{
    uint32_t fill = *nlo & 63u;
    while (len) {
        if (fill == 0 && len >= 64) {
            block(h, p);
            p += 64;
            len -= 64;
            if ((*nlo += 64u) < 64u)
                (*nhi)++;
            continue;
        }
        uint32_t k = 64u - fill;
        if (k > len)
            k = (uint32_t)len;
        memcpy(buf + fill, p, k);
        p += k;
        len -= k;
        fill += k;
        if ((*nlo += k) < k)
            (*nhi)++;
        if (fill == 64) {
            block(h, buf);
            fill = 0;
        }
    }
}

static void md5_block_v(uint32_t *h, const uint8_t *p)
{
    md5_block(h, p);
}

void upd_sim_md5_update(void *ctx, const void *data, size_t len)
{
    upd_sim_md5 *m = ctx;
    absorb(m->h, &m->nlo, &m->nhi, m->buf, data, len, md5_block_v);
}

void upd_sim_md5_final(void *ctx, uint8_t out[16])
{
    upd_sim_md5 *m = ctx;
    uint32_t lo = m->nlo << 3, hi = m->nhi << 3 | m->nlo >> 29;
    uint8_t pad[72];
    uint32_t fill = m->nlo & 63u, n = fill < 56 ? 56 - fill : 120 - fill;
    memset(pad, 0, sizeof pad);
    pad[0] = 0x80;
    for (int i = 0; i < 4; i++) {
        pad[n + (uint32_t)i] = (uint8_t)(lo >> (8 * i));
        pad[n + 4 + (uint32_t)i] = (uint8_t)(hi >> (8 * i));
    }
    upd_sim_md5_update(m, pad, n + 8);
    for (int i = 0; i < 16; i++)
        out[i] = (uint8_t)(m->h[i / 4] >> (8 * (i % 4)));
}

/* ---- SHA-256 -------------------------------------------------------------------------- */

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static void sha_block(uint32_t *h, const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = be32(p + 4 * i);
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
}

void upd_sim_sha256_init(void *ctx)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    upd_sim_sha256 *s = ctx;
    memcpy(s->h, iv, sizeof iv);
    s->nlo = s->nhi = 0;
}

void upd_sim_sha256_update(void *ctx, const void *data, size_t len)
{
    upd_sim_sha256 *s = ctx;
    absorb(s->h, &s->nlo, &s->nhi, s->buf, data, len, sha_block);
}

void upd_sim_sha256_final(void *ctx, uint8_t out[32])
{
    upd_sim_sha256 *s = ctx;
    uint32_t lo = s->nlo << 3, hi = s->nhi << 3 | s->nlo >> 29;
    uint8_t pad[72];
    uint32_t fill = s->nlo & 63u, n = fill < 56 ? 56 - fill : 120 - fill;
    memset(pad, 0, sizeof pad);
    pad[0] = 0x80;
    for (int i = 0; i < 4; i++) {
        pad[n + (uint32_t)i] = (uint8_t)(hi >> (24 - 8 * i));
        pad[n + 4 + (uint32_t)i] = (uint8_t)(lo >> (24 - 8 * i));
    }
    upd_sim_sha256_update(s, pad, n + 8);
    for (int i = 0; i < 32; i++)
        out[i] = (uint8_t)(s->h[i / 4] >> (24 - 8 * (i % 4)));
}
