/* The simulator's host side (simhost.h): page pool with sharing, zlib inflater,
 * clock, synthetic images. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "simhost.h"

#define SECTOR UPD_SIM_SECTOR

/* A page and its bookkeeping; data is 32-byte aligned. */
typedef struct pg {
    struct pg *next; /* hash chain (shared pages) */
    uint64_t hash;
    uint32_t refs;
    uint32_t shared;
    uint64_t pad;
    uint8_t data[SECTOR];
} pg;

struct upd_sim_host {
    upd_sim_env env;
    int share;
    pg **tab;
    size_t mask, count;
    uint64_t priv, shared;
    pg *spare; /* pages freed, kept for the next alloc (chained by next) */
    z_stream z;
    int z_open;
    uint64_t scratch[(UPD_SIM_SCRATCH + 7) / 8];
};

static pg *of(uint8_t *data)
{
    return (pg *)(void *)(data - offsetof(pg, data));
}

/* Four independent lanes (word i goes to lane i % 4), so that the multiplications of a
 * page overlap instead of waiting for each other: every page a device wrote is hashed
 * when it is interned. */
static uint64_t page_hash(const uint8_t *p)
{
    uint64_t h[4] = {0x243F6A8885A308D3ull, 0x13198A2E03707344ull, 0xA4093822299F31D0ull,
                     0x082EFA98EC4E6C89ull};
    for (uint32_t i = 0; i < SECTOR; i += 32) {
        for (int l = 0; l < 4; l++) {
            uint64_t w;
            memcpy(&w, p + i + 8 * l, 8);
            h[l] = (h[l] ^ w) * 0x9E3779B97F4A7C15ull;
            h[l] ^= h[l] >> 31;
        }
    }
    uint64_t r = h[0];
    for (int l = 1; l < 4; l++) {
        r = (r ^ h[l]) * 0x9E3779B97F4A7C15ull;
        r ^= r >> 31;
    }
    return r;
}

/* A page no device maps any more goes to the spares: a fleet frees and allocates pages at
 * every check, and malloc's bookkeeping and the kernel's page faults of new heap cost
 * more than keeping them. */
static void put_spare(upd_sim_host *h, pg *g)
{
    g->next = h->spare;
    h->spare = g;
}

static uint8_t *p_alloc(void *ctx)
{
    upd_sim_host *h = ctx;
    pg *g = h->spare;
    if (g)
        h->spare = g->next;
    else
        g = malloc(sizeof *g);
    if (!g)
        return NULL;
    g->next = NULL;
    g->refs = 1;
    g->shared = 0;
    h->priv++;
    return g->data;
}

static void p_ref(void *ctx, uint8_t *page)
{
    (void)ctx;
    of(page)->refs++;
}

static void unlink_shared(upd_sim_host *h, pg *g)
{
    pg **pp = &h->tab[g->hash & h->mask];
    while (*pp && *pp != g)
        pp = &(*pp)->next;
    if (*pp)
        *pp = g->next;
    h->count--;
}

static void p_release(void *ctx, uint8_t *page, int shared)
{
    upd_sim_host *h = ctx;
    pg *g = of(page);
    (void)shared;
    if (--g->refs)
        return;
    if (g->shared) {
        unlink_shared(h, g);
        h->shared--;
    } else {
        h->priv--;
    }
    put_spare(h, g);
}

static void grow(upd_sim_host *h)
{
    size_t n = (h->mask + 1) * 2;
    pg **t = calloc(n, sizeof *t);
    if (!t)
        return;
    for (size_t i = 0; i <= h->mask; i++) {
        pg *g = h->tab[i];
        while (g) {
            pg *next = g->next;
            g->next = t[g->hash & (n - 1)];
            t[g->hash & (n - 1)] = g;
            g = next;
        }
    }
    free(h->tab);
    h->tab = t;
    h->mask = n - 1;
}

static uint8_t *p_intern(void *ctx, uint8_t *page)
{
    upd_sim_host *h = ctx;
    pg *g = of(page);
    if (g->shared || g->refs != 1)
        return page;
    uint64_t hv = page_hash(page);
    for (pg *e = h->tab[hv & h->mask]; e; e = e->next) {
        if (e->hash == hv && memcmp(e->data, page, SECTOR) == 0) {
            e->refs++;
            h->priv--;
            put_spare(h, g);
            return e->data;
        }
    }
    g->hash = hv;
    g->shared = 1;
    g->next = h->tab[hv & h->mask];
    h->tab[hv & h->mask] = g;
    h->count++;
    h->priv--;
    h->shared++;
    if (h->count > 2 * (h->mask + 1))
        grow(h);
    return page;
}

/* ---- zlib for eboot --------------------------------------------------------------------- */

static int z_begin(void *ctx)
{
    upd_sim_host *h = ctx;
    if (h->z_open)
        inflateEnd(&h->z);
    memset(&h->z, 0, sizeof h->z);
    h->z_open = inflateInit2(&h->z, 16 + MAX_WBITS) == Z_OK;
    return h->z_open ? 0 : -1;
}

static int z_step(void *ctx, const uint8_t *in, uint32_t in_len, uint32_t *consumed, uint8_t *out,
                  uint32_t out_cap, uint32_t *produced)
{
    upd_sim_host *h = ctx;
    h->z.next_in = (Bytef *)(uintptr_t)in;
    h->z.avail_in = in_len;
    h->z.next_out = out;
    h->z.avail_out = out_cap;
    int r = inflate(&h->z, Z_NO_FLUSH);
    *consumed = in_len - h->z.avail_in;
    *produced = out_cap - h->z.avail_out;
    if (r == Z_STREAM_END)
        return 1;
    return r == Z_OK || r == Z_BUF_ERROR ? 0 : -1;
}

static void z_end(void *ctx)
{
    upd_sim_host *h = ctx;
    if (h->z_open)
        inflateEnd(&h->z);
    h->z_open = 0;
}

uint32_t upd_sim_host_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

upd_sim_host *upd_sim_host_new(int share)
{
    upd_sim_host *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->share = share;
    h->mask = (1u << 16) - 1;
    h->tab = calloc(h->mask + 1, sizeof *h->tab);
    if (!h->tab) {
        free(h);
        return NULL;
    }
    upd_sim_env *e = &h->env;
    e->pages = (upd_sim_pages){p_alloc, p_ref, p_release, share ? p_intern : NULL, h};
    e->inflate = (upd_sim_inflate){z_begin, z_step, z_end, h};
    e->clock = (upd_clock_ops){upd_sim_host_ms, NULL};
    e->scratch = (uint8_t *)h->scratch;
    return h;
}

void upd_sim_host_free(upd_sim_host *h)
{
    if (!h)
        return;
    z_end(h);
    for (size_t i = 0; i <= h->mask; i++) {
        pg *g = h->tab[i];
        while (g) { /* pages some device still maps */
            pg *next = g->next;
            free(g);
            g = next;
        }
    }
    free(h->tab);
    while (h->spare) {
        pg *next = h->spare->next;
        free(h->spare);
        h->spare = next;
    }
    free(h);
}

const upd_sim_env *upd_sim_host_env(upd_sim_host *h)
{
    return &h->env;
}

void upd_sim_host_pages(const upd_sim_host *h, uint64_t *priv, uint64_t *shared)
{
    *priv = h->priv;
    *shared = h->shared;
}

int upd_sim_host_share(upd_sim_host *h, const uint8_t *img, uint32_t len, uint8_t **pages,
                       uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t off = i * SECTOR, k = off < len ? (len - off < SECTOR ? len - off : SECTOR) : 0;
        uint8_t *p = p_alloc(h);
        if (!p) {
            upd_sim_host_unshare(h, pages, i);
            return -1;
        }
        memset(p, 0xFF, SECTOR);
        memcpy(p, img + off, k);
        pages[i] = p_intern(h, p); /* shared even when the pool does not dedupe devices */
    }
    return 0;
}

void upd_sim_host_unshare(upd_sim_host *h, uint8_t **pages, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (pages[i])
            p_release(h, pages[i], 1);
}

/* ---- synthetic images -------------------------------------------------------------------- */

static void fill(uint8_t *p, uint32_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 0x6A09E667u;
    for (uint32_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)(x >> 24);
    }
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

struct seg {
    uint32_t load, len;
};

/* Segments (data from seed), zero padding, XOR checksum on the 16-byte boundary.
 * desc: for ESP32, an esp_app_desc_t at the start of segment 0. Returns the end. */
static int32_t segments(uint8_t *buf, uint32_t cap, uint32_t pos, uint32_t base,
                        const struct seg *s, unsigned n, uint32_t seed, const char *desc_version)
{
    uint8_t cs = 0xEF;
    for (unsigned i = 0; i < n; i++) {
        if (pos + 8u + s[i].len + 16u > cap)
            return -1;
        put32(buf + pos, s[i].load);
        put32(buf + pos + 4, s[i].len);
        uint8_t *d = buf + pos + 8;
        fill(d, s[i].len, seed + i);
        if (i == 0 && desc_version) {
            memset(d, 0, 256);
            put32(d, 0xABCD5432u);
            strncpy((char *)d + 16, desc_version, 31);
            strncpy((char *)d + 48, "updraft-sim", 31);
            memcpy(d + 80, "12:34:56", 8);
            memcpy(d + 96, "Jan  2 2026", 11);
            memcpy(d + 112, "v5.3.1", 6);
            fill(d + 144, 32, seed ^ 0xE1Fu);
        }
        for (uint32_t k = 0; k < s[i].len; k++)
            cs ^= d[k];
        pos += 8u + s[i].len;
    }
    uint32_t end = base + ((pos - base + 16u) & ~15u);
    memset(buf + pos, 0, end - pos);
    buf[end - 1] = cs;
    return (int32_t)end;
}

int32_t upd_sim_make_image(int platform, uint8_t size_code, uint8_t *buf, uint32_t cap,
                           uint32_t code_len, uint32_t seed, const char *version)
{
    uint8_t sf = (uint8_t)(size_code << 4);
    if (platform == UPD_SIM_ESP32) {
        struct seg s[4] = {{0x3F400020u, 4096},
                           {0x3FFBDB60u, 2048},
                           {0x400D0020u, code_len & ~3u},
                           {0x40080000u, 8192}};
        if (cap < 24)
            return -1;
        memset(buf, 0, 24);
        buf[0] = 0xE9;
        buf[1] = 4;
        buf[2] = 2;
        buf[3] = sf;
        put32(buf + 4, 0x40083908u);
        buf[8] = 0xEE;
        buf[17] = buf[18] = 0xFF; /* max_rev_full */
        buf[23] = 1;              /* SHA-256 appended */
        int32_t end = segments(buf, cap, 24, 0, s, 4, seed, version ? version : "");
        if (end < 0 || (uint32_t)end + 32u > cap)
            return -1;
        upd_sha256 sha;
        upd_sha256_init(&sha);
        upd_sha256_update(&sha, buf, (size_t)end);
        upd_sha256_final(&sha, buf + end);
        return end + 32;
    }
    /* eboot: one segment, padded with 0xAA to 0x1000 */
    struct seg eb = {0x4010F000u, 1384};
    if (cap < 0x1000 + 8)
        return -1;
    memset(buf, 0xAA, 0x1000);
    buf[0] = 0xE9;
    buf[1] = 1;
    buf[2] = 2;
    buf[3] = sf;
    put32(buf + 4, 0x4010F29Cu);
    if (segments(buf, 0x1000, 8, 0, &eb, 1, 0xEB00u, NULL) < 0)
        return -1;
    struct seg s[5] = {{0x40201010u, code_len},
                       {0x40100000u, 743},
                       {0x401002E8u, 29925},
                       {0x3FFE8000u, 2324},
                       {0x3FFE8980u, 1281}};
    uint8_t *a = buf + 0x1000;
    a[0] = 0xE9;
    a[1] = 5;
    a[2] = 2;
    a[3] = sf;
    put32(a + 4, 0x401000B8u);
    return segments(buf, cap, 0x1008, 0x1000, s, 5, seed, NULL);
}
