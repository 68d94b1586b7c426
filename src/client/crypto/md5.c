/* MD5 as RFC 1321 section 3 defines it, for device ports without a crypto library
 * (updraft/md5.h). Rounds of four steps in loops: small on the ESP8266, and the host
 * compiler keeps the rotations constant. */
#include "updraft/md5.h"

#include "mdframe.h"

/* Section 3.4: T[i] = floor(2^32 * abs(sin(i + 1))). */
static const uint32_t T[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

static uint32_t rol(uint32_t x, unsigned n)
{
    return x << n | x >> (32u - n);
}

/* Bytes, not a cast: the lx106 faults on unaligned word loads. */
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Section 3.4's auxiliary functions (F and G in the forms with one operation less). */
#define F(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define G(x, y, z) ((y) ^ ((z) & ((x) ^ (y))))
#define H(x, y, z) ((x) ^ (y) ^ (z))
#define I(x, y, z) ((y) ^ ((x) | ~(z)))
/* a = b + ((a + fun(b,c,d) + X[k] + T[i]) <<< s) */
#define STEP(fun, a, b, c, d, x, t, s) (a) = (b) + rol((a) + fun((b), (c), (d)) + (x) + (t), (s))

/* Section 3.4: one 64-byte block into the state h. Round r's message word for step i
 * is X[(m * i + k) mod 16]: m, k = 1, 0; 5, 1; 3, 5; 7, 0. */
static void block(uint32_t *h, const uint8_t *p)
{
    uint32_t x[16];
    for (unsigned i = 0; i < 16; i++)
        x[i] = le32(p + 4 * i);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (unsigned i = 0; i < 16; i += 4) {
        STEP(F, a, b, c, d, x[i], T[i], 7);
        STEP(F, d, a, b, c, x[i + 1], T[i + 1], 12);
        STEP(F, c, d, a, b, x[i + 2], T[i + 2], 17);
        STEP(F, b, c, d, a, x[i + 3], T[i + 3], 22);
    }
    for (unsigned i = 0; i < 16; i += 4) {
        STEP(G, a, b, c, d, x[(5 * i + 1) & 15], T[16 + i], 5);
        STEP(G, d, a, b, c, x[(5 * i + 6) & 15], T[17 + i], 9);
        STEP(G, c, d, a, b, x[(5 * i + 11) & 15], T[18 + i], 14);
        STEP(G, b, c, d, a, x[(5 * i + 16) & 15], T[19 + i], 20);
    }
    for (unsigned i = 0; i < 16; i += 4) {
        STEP(H, a, b, c, d, x[(3 * i + 5) & 15], T[32 + i], 4);
        STEP(H, d, a, b, c, x[(3 * i + 8) & 15], T[33 + i], 11);
        STEP(H, c, d, a, b, x[(3 * i + 11) & 15], T[34 + i], 16);
        STEP(H, b, c, d, a, x[(3 * i + 14) & 15], T[35 + i], 23);
    }
    for (unsigned i = 0; i < 16; i += 4) {
        STEP(I, a, b, c, d, x[(7 * i) & 15], T[48 + i], 6);
        STEP(I, d, a, b, c, x[(7 * i + 7) & 15], T[49 + i], 10);
        STEP(I, c, d, a, b, x[(7 * i + 14) & 15], T[50 + i], 15);
        STEP(I, b, c, d, a, x[(7 * i + 21) & 15], T[51 + i], 21);
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
}

void upd_md5_init(upd_md5 *m)
{
    /* section 3.3: words A, B, C, D */
    m->h[0] = 0x67452301;
    m->h[1] = 0xefcdab89;
    m->h[2] = 0x98badcfe;
    m->h[3] = 0x10325476;
    m->len_lo = m->len_hi = 0;
    m->fill = 0;
}

/* Where the framing (mdframe.h) finds its state in m. */
static upd__md_frame frame(upd_md5 *m)
{
    return (upd__md_frame){m->h, &m->len_lo, &m->len_hi, &m->fill, m->buf, block};
}

void upd_md5_update(upd_md5 *m, const void *data, size_t len)
{
    upd__md_frame f = frame(m);
    upd__md_update(&f, data, len);
}

void upd_md5_final(upd_md5 *m, uint8_t out[16])
{
    upd__md_frame f = frame(m);
    upd__md_final(&f, 0);
    for (unsigned i = 0; i < 4; i++)
        put_le32(out + 4 * i, m->h[i]);
}

static void ops_init(void *ctx)
{
    upd_md5_init(ctx);
}

static void ops_update(void *ctx, const void *data, size_t len)
{
    upd_md5_update(ctx, data, len);
}

static void ops_final(void *ctx, uint8_t out[16])
{
    upd_md5_final(ctx, out);
}

void upd_md5_ops_init(upd_md5_ops *ops, upd_md5 *m)
{
    ops->init = ops_init;
    ops->update = ops_update;
    ops->final = ops_final;
    ops->ctx = m;
}
