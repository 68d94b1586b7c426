/* The device library's SHA-256 (updraft/sha256.h): the examples of FIPS 180-4's
 * companion document (NIST "SHA256.pdf": "abc", the 448-bit message, a million 'a'),
 * the 896-bit message of FIPS 180-2's SHA-512 example, lengths around the padding
 * boundaries (55, 56, 63, 64, 65 bytes...) against hashlib's digests
 * (hash_vectors.h, made by hash_vectors.py), each fed in every split, a million 'a' in
 * pieces of odd sizes, and the ops the engine calls. Host and lx106. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hash_vectors.h"
#include "upd_test.h"
#include "updraft/sha256.h"

static upd_sha256 s;

static void hex(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void check_digest(const void *msg, size_t len, const char *want)
{
    uint8_t d[32];
    char h[65];
    upd_sha256_init(&s);
    upd_sha256_update(&s, msg, len);
    upd_sha256_final(&s, d);
    hex(d, h);
    CHECK_STR(h, want);
}

static void test_fips_examples(void)
{
    check_digest("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check_digest("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_digest(m, strlen(m), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* a million 'a', fed 1000 at a time */
    static char a[1000];
    memset(a, 'a', sizeof a);
    uint8_t d[32];
    char h[65];
    upd_sha256_init(&s);
    for (int i = 0; i < 1000; i++)
        upd_sha256_update(&s, a, sizeof a);
    upd_sha256_final(&s, d);
    hex(d, h);
    CHECK_STR(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* the same in pieces of odd sizes: every fill level of the block buffer is used */
    upd_sha256_init(&s);
    uint32_t left = 1000000, step = 1;
    while (left > 0) {
        uint32_t n = step < left ? step : left;
        upd_sha256_update(&s, a, n);
        left -= n;
        step = step % 983 + 13;
    }
    upd_sha256_final(&s, d);
    hex(d, h);
    CHECK_STR(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                       "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    check_digest(m896, 112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static uint8_t msg[HV_MSG_LEN];

static void test_boundaries_and_splits(void)
{
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 37u + 11u);
    uint8_t got[32];
    char h[65];
    for (size_t vi = 0; vi < sizeof hash_vectors / sizeof hash_vectors[0]; vi++) {
        size_t n = hash_vectors[vi].n;
        for (size_t cut = 0; cut <= n; cut++) {
            upd_sha256_init(&s);
            upd_sha256_update(&s, msg, cut);
            upd_sha256_update(&s, msg + cut, 0);
            upd_sha256_update(&s, msg + cut, n - cut);
            upd_sha256_final(&s, got);
            hex(got, h);
            if (strcmp(h, hash_vectors[vi].sha256) != 0) {
                printf("  length %zu split at %zu: %s, want %s\n", n, cut, h,
                       hash_vectors[vi].sha256);
                CHECK(0);
                return;
            }
        }
    }
}

/* Through the ops the engine calls; a state is reused after init. */
static void test_ops(void)
{
    upd_sha256_ops ops;
    uint8_t got[32];
    char h[65];
    upd_sha256_ops_init(&ops, &s);
    CHECK(ops.ctx == &s);
    ops.init(ops.ctx);
    ops.update(ops.ctx, msg, 200);
    ops.update(ops.ctx, msg + 200, 100);
    ops.final(ops.ctx, got);
    hex(got, h);
    CHECK_STR(h, hash_vectors[sizeof hash_vectors / sizeof hash_vectors[0] - 1].sha256);
    ops.init(ops.ctx);
    ops.final(ops.ctx, got);
    hex(got, h);
    CHECK_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

int main(void)
{
    RUN(test_fips_examples);
    RUN(test_boundaries_and_splits);
    RUN(test_ops);
    return upd_test_summary();
}
