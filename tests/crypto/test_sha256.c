/* The device library's SHA-256 (updraft/sha256.h): the examples of FIPS 180-4's
 * companion document (NIST "SHA256.pdf": "abc", the 448-bit message, a million 'a'),
 * lengths around the padding boundaries (55, 56, 63, 64, 65 bytes) against the test
 * writer's independent SHA-256 (tests/support), and a stream fed in every split. Host
 * and lx106. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "imgwriter.h"
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
}

static uint8_t msg[300];

static void test_boundaries_and_splits(void)
{
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 37u + 11u);
    uint8_t want[32], got[32];
    static const size_t lens[] = {1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 300};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t n = lens[li];
        tw_sha256(msg, n, want);
        for (size_t cut = 0; cut <= n; cut++) {
            upd_sha256_init(&s);
            upd_sha256_update(&s, msg, cut);
            upd_sha256_update(&s, msg + cut, 0);
            upd_sha256_update(&s, msg + cut, n - cut);
            upd_sha256_final(&s, got);
            if (memcmp(got, want, 32) != 0) {
                printf("  length %zu split at %zu differs\n", n, cut);
                CHECK(0);
                return;
            }
        }
    }
    /* through the ops the engine calls */
    upd_sha256_ops ops;
    upd_sha256_ops_init(&ops, &s);
    ops.init(ops.ctx);
    ops.update(ops.ctx, msg, 200);
    ops.update(ops.ctx, msg + 200, 100);
    ops.final(ops.ctx, got);
    tw_sha256(msg, 300, want);
    CHECK(memcmp(got, want, 32) == 0);
}

int main(void)
{
    RUN(test_fips_examples);
    RUN(test_boundaries_and_splits);
    return upd_test_summary();
}
