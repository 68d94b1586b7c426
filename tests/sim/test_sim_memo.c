/* The simulator's memoised hashes (ports/sim/simmemo.h): whatever was recorded before,
 * however the bytes are cut into update calls, wherever a stream departs from a record
 * (a flipped bit, a shorter or longer stream, another stream), the digest is the one the
 * device crypto library computes for the same bytes; and a stream seen before is not
 * hashed again (the memo's counters). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simmemo.h"
#include "upd_test.h"
#include "updraft/md5.h"
#include "updraft/sha256.h"

static uint32_t rng = 12345;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static uint8_t *random_bytes(size_t n, uint32_t seed)
{
    uint8_t *p = malloc(n ? n : 1);
    uint32_t x = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)(x >> 24);
    }
    return p;
}

/* A hash behind the memo or directly: one shape for MD5 and SHA-256. */
typedef struct hasher {
    int sha;
    upd_sim_memo *memo;
    upd_sim_memo_ctx c;
    upd_md5 md5;
    upd_sha256 s256;
    upd_md5_ops mo;
    upd_sha256_ops so;
} hasher;

static void hasher_init(hasher *h, upd_sim_memo *m, int sha)
{
    memset(h, 0, sizeof *h);
    h->sha = sha;
    h->memo = m;
    if (sha)
        upd_sim_memo_sha256_ops(&h->so, &h->c, m, &h->s256);
    else
        upd_sim_memo_md5_ops(&h->mo, &h->c, m, &h->md5);
}

static void h_init(hasher *h)
{
    if (h->sha)
        h->so.init(h->so.ctx);
    else
        h->mo.init(h->mo.ctx);
}

static void h_update(hasher *h, const uint8_t *p, size_t n)
{
    if (h->sha)
        h->so.update(h->so.ctx, p, n);
    else
        h->mo.update(h->mo.ctx, p, n);
}

static void h_final(hasher *h, uint8_t *out)
{
    if (h->sha)
        h->so.final(h->so.ctx, out);
    else
        h->mo.final(h->mo.ctx, out);
}

static void direct(int sha, const uint8_t *p, size_t n, uint8_t *out)
{
    if (sha) {
        upd_sha256 s;
        upd_sha256_init(&s);
        upd_sha256_update(&s, p, n);
        upd_sha256_final(&s, out);
    } else {
        upd_md5 m;
        upd_md5_init(&m);
        upd_md5_update(&m, p, n);
        upd_md5_final(&m, out);
    }
}

/* Hash p through h in pieces: fixed size `piece`, or random sizes up to 9000 if 0. */
static void through(hasher *h, const uint8_t *p, size_t n, size_t piece, uint8_t *out)
{
    h_init(h);
    for (size_t off = 0; off < n;) {
        size_t k = piece ? piece : 1 + rnd() % 9000u;
        if (k > n - off)
            k = n - off;
        h_update(h, p + off, k);
        off += k;
    }
    h_final(h, out);
}

/* One stream through the memo, compared with the library; 1 if equal. */
static int agrees(hasher *h, const uint8_t *p, size_t n, size_t piece)
{
    uint8_t a[32], b[32];
    through(h, p, n, piece, a);
    direct(h->sha, p, n, b);
    return !memcmp(a, b, h->sha ? 32 : 16);
}

static void test_seen_again(void)
{
    for (int sha = 0; sha < 2; sha++) {
        upd_sim_memo *m = sha ? upd_sim_memo_new_sha256() : upd_sim_memo_new_md5();
        hasher a, b;
        hasher_init(&a, m, sha);
        hasher_init(&b, m, sha);
        uint8_t *img = random_bytes(338432, 7);
        CHECK(agrees(&a, img, 338432, 4096)); /* recorded */
        CHECK(agrees(&b, img, 338432, 2048)); /* the same bytes, other pieces */
        CHECK(agrees(&b, img, 338432, 0));
        CHECK(agrees(&a, img, 338432, 0));
        uint64_t hits, misses, saved;
        upd_sim_memo_stats(m, &hits, &misses, &saved);
        CHECK_INT(misses, ==, 1);
        CHECK_INT(hits, ==, 3);
        CHECK_INT(saved, ==, 3 * 338432ull);
        free(img);
        upd_sim_memo_free(m);
    }
}

/* A bit flipped at every kind of place (before, at and after a kept state, the first
 * and last byte), after the record was made with other pieces. */
static void test_departures(void)
{
    static const size_t at[] = {0, 1, 63, 64, 4095, 4096, 4097, 8191, 150001, 338430, 338431};
    for (int sha = 0; sha < 2; sha++) {
        upd_sim_memo *m = sha ? upd_sim_memo_new_sha256() : upd_sim_memo_new_md5();
        hasher h;
        hasher_init(&h, m, sha);
        uint8_t *img = random_bytes(338432, 9);
        CHECK(agrees(&h, img, 338432, 4096));
        uint8_t *copy = malloc(338432);
        for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
            memcpy(copy, img, 338432);
            copy[at[i]] ^= (uint8_t)(1u << (at[i] % 8));
            for (size_t piece = 0; piece < 3; piece++) {
                int ok = agrees(&h, copy, 338432, piece == 0 ? 0 : piece == 1 ? 4096 : 1000);
                CHECK(ok);
                if (!ok)
                    printf("    %s, bit flipped at %zu, pieces %zu\n", sha ? "SHA-256" : "MD5",
                           at[i], piece);
            }
            CHECK(agrees(&h, img, 338432, 0)); /* the record is still right */
        }
        free(copy);
        free(img);
        upd_sim_memo_free(m);
    }
}

/* Streams shorter and longer than the record, and an empty one. */
static void test_lengths(void)
{
    static const size_t len[] = {0, 1, 4095, 4096, 4097, 100000, 338431, 338433, 343000};
    for (int sha = 0; sha < 2; sha++) {
        upd_sim_memo *m = sha ? upd_sim_memo_new_sha256() : upd_sim_memo_new_md5();
        hasher h;
        hasher_init(&h, m, sha);
        uint8_t *img = random_bytes(343000, 3);
        CHECK(agrees(&h, img, 338432, 4096));
        for (size_t i = 0; i < sizeof len / sizeof len[0]; i++) {
            for (size_t piece = 0; piece < 2; piece++) {
                int ok = agrees(&h, img, len[i], piece ? 4096 : 0);
                CHECK(ok);
                if (!ok)
                    printf("    %s, length %zu, pieces %zu\n", sha ? "SHA-256" : "MD5", len[i],
                           piece);
            }
        }
        /* updates of no bytes change nothing */
        uint8_t a[32], b[32];
        h_init(&h);
        h_update(&h, img, 0);
        h_update(&h, img, 5000);
        h_update(&h, img + 5000, 0);
        h_final(&h, a);
        direct(sha, img, 5000, b);
        CHECK(!memcmp(a, b, sha ? 32 : 16));
        free(img);
        upd_sim_memo_free(m);
    }
}

/* Devices hashing at the same time, one of them giving up half way (init again without
 * final), more streams than the memo keeps. */
static void test_interleaved_and_abandoned(void)
{
    upd_sim_memo *m = upd_sim_memo_new_md5();
    enum { N = 6, S = 20, LEN = 50000 };
    hasher h[N];
    for (int i = 0; i < N; i++)
        hasher_init(&h[i], m, 0);
    uint8_t *s[S];
    for (int i = 0; i < S; i++)
        s[i] = random_bytes(LEN, 100 + (uint32_t)i);
    for (int round = 0; round < 40; round++) {
        int which[N];
        size_t off[N];
        uint8_t *data[N];
        for (int i = 0; i < N; i++) {
            which[i] = (int)(rnd() % S);
            data[i] = malloc(LEN);
            memcpy(data[i], s[which[i]], LEN);
            if (rnd() % 3 == 0) /* a bit flipped somewhere */
                data[i][rnd() % LEN] ^= 0x10;
            off[i] = 0;
            h_init(&h[i]);
        }
        int left = N;
        while (left) {
            int i = (int)(rnd() % N);
            if (off[i] == LEN)
                continue;
            size_t k = 1 + rnd() % 7000u;
            if (k > LEN - off[i])
                k = LEN - off[i];
            h_update(&h[i], data[i] + off[i], k);
            off[i] += k;
            if (off[i] == LEN) {
                left--;
                if (rnd() % 5 == 0) { /* abandoned: starts again later */
                    h_init(&h[i]);
                    h_update(&h[i], data[i], 100);
                    h_init(&h[i]);
                    h_update(&h[i], data[i], LEN);
                }
                uint8_t a[16], b[16];
                h_final(&h[i], a);
                direct(0, data[i], LEN, b);
                CHECK(!memcmp(a, b, 16));
            }
        }
        for (int i = 0; i < N; i++)
            free(data[i]);
    }
    uint64_t hits, misses, saved;
    upd_sim_memo_stats(m, &hits, &misses, &saved);
    CHECK(hits > 0);
    for (int i = 0; i < S; i++)
        free(s[i]);
    upd_sim_memo_free(m);
}

/* A stream too long to record is hashed all the same. */
static void test_too_long(void)
{
    upd_sim_memo *m = upd_sim_memo_new_md5();
    hasher h;
    hasher_init(&h, m, 0);
    size_t n = (17u << 20) + 5;
    uint8_t *p = random_bytes(n, 5);
    CHECK(agrees(&h, p, n, 65536));
    CHECK(agrees(&h, p, n, 65536));
    CHECK(agrees(&h, p, 4096, 4096));
    free(p);
    upd_sim_memo_free(m);
}

int main(void)
{
    RUN(test_seen_again);
    RUN(test_departures);
    RUN(test_lengths);
    RUN(test_interleaved_and_abandoned);
    RUN(test_too_long);
    return upd_test_summary();
}
