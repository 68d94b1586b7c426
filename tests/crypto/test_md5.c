/* The device library's MD5 (updraft/md5.h): RFC 1321's test suite (appendix A.5), a
 * million 'a' whole and in pieces of odd sizes, lengths around the padding boundaries
 * against hashlib's digests (hash_vectors.h, made by hash_vectors.py) each fed in every
 * split and a byte at a time, and the ops the engine calls. Host and lx106. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hash_vectors.h"
#include "upd_test.h"
#include "updraft/md5.h"

static upd_md5 m;

static void hex(const uint8_t d[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void check_digest(const void *msg, size_t len, const char *want)
{
    uint8_t d[16];
    char h[33];
    upd_md5_init(&m);
    upd_md5_update(&m, msg, len);
    upd_md5_final(&m, d);
    hex(d, h);
    CHECK_STR(h, want);
}

static void test_rfc1321_suite(void)
{
    static const struct {
        const char *in, *md5;
    } v[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"1234567890123456789012345678901234567890"
         "1234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        check_digest(v[i].in, strlen(v[i].in), v[i].md5);
}

static void test_million_a(void)
{
    static char a[1000];
    memset(a, 'a', sizeof a);
    uint8_t d[16];
    char h[33];
    upd_md5_init(&m);
    for (int i = 0; i < 1000; i++)
        upd_md5_update(&m, a, sizeof a);
    upd_md5_final(&m, d);
    hex(d, h);
    CHECK_STR(h, "7707d6ae4e027c70eea2a935c2296f21");
    /* in pieces of odd sizes: every fill level of the block buffer is used */
    upd_md5_init(&m);
    uint32_t left = 1000000, step = 1;
    while (left > 0) {
        uint32_t n = step < left ? step : left;
        upd_md5_update(&m, a, n);
        left -= n;
        step = step % 983 + 13;
    }
    upd_md5_final(&m, d);
    hex(d, h);
    CHECK_STR(h, "7707d6ae4e027c70eea2a935c2296f21");
}

static uint8_t msg[HV_MSG_LEN];

static void test_boundaries_and_splits(void)
{
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 37u + 11u);
    uint8_t got[16];
    char h[33];
    for (size_t vi = 0; vi < sizeof hash_vectors / sizeof hash_vectors[0]; vi++) {
        size_t n = hash_vectors[vi].n;
        for (size_t cut = 0; cut <= n; cut++) {
            upd_md5_init(&m);
            upd_md5_update(&m, msg, cut);
            upd_md5_update(&m, NULL, 0);
            upd_md5_update(&m, msg + cut, n - cut);
            upd_md5_final(&m, got);
            hex(got, h);
            if (strcmp(h, hash_vectors[vi].md5) != 0) {
                printf("  length %zu split at %zu: %s, want %s\n", n, cut, h, hash_vectors[vi].md5);
                CHECK(0);
                return;
            }
        }
        upd_md5_init(&m);
        for (size_t i = 0; i < n; i++)
            upd_md5_update(&m, msg + i, 1);
        upd_md5_final(&m, got);
        hex(got, h);
        CHECK_STR(h, hash_vectors[vi].md5);
    }
}

/* Through the ops the engine calls; a state is reused after init. */
static void test_ops(void)
{
    upd_md5_ops ops;
    uint8_t got[16];
    char h[33];
    upd_md5_ops_init(&ops, &m);
    CHECK(ops.ctx == &m);
    ops.init(ops.ctx);
    ops.update(ops.ctx, msg, 200);
    ops.update(ops.ctx, msg + 200, 100);
    ops.final(ops.ctx, got);
    hex(got, h);
    CHECK_STR(h, hash_vectors[sizeof hash_vectors / sizeof hash_vectors[0] - 1].md5);
    ops.init(ops.ctx);
    ops.final(ops.ctx, got);
    hex(got, h);
    CHECK_STR(h, "d41d8cd98f00b204e9800998ecf8427e");
}

int main(void)
{
    RUN(test_rfc1321_suite);
    RUN(test_million_a);
    RUN(test_boundaries_and_splits);
    RUN(test_ops);
    return upd_test_summary();
}
