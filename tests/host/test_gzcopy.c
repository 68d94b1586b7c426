/* gzip copies and eboot's staging limit (src/host/gzcopy.c). upd_gzip_min_stage hands
 * the inflater whole 4 KB blocks; the reference here feeds it one byte at a time, which
 * is how eboot's inflater asks for data (a byte only when it needs one of its bits), and
 * counts the blocks those bytes lie in. Both must give the same limit on every input. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gzcopy.h"
#include "upd_test.h"

#define SECTOR 4096u

static uint32_t rng = 12345;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* Data of n bytes in runs of zeros, text-like bytes and noise: parts that compress very
 * differently, so the inflater's reading and writing run at changing speeds. */
static uint8_t *mixed(uint32_t n)
{
    uint8_t *p = malloc(n);
    uint32_t i = 0;
    while (i < n) {
        uint32_t run = 1 + next() % 20000, kind = next() % 3;
        for (uint32_t j = 0; j < run && i < n; j++, i++)
            p[i] = kind == 0   ? 0
                   : kind == 1 ? (uint8_t)("abcdefgh  \n"[next() % 11])
                               : (uint8_t)next();
    }
    return p;
}

/* The reference: one byte at a time, blocks counted from the bytes the inflater took. */
static int ref_min_stage(const uint8_t *gz, size_t len, uint32_t *out)
{
    uint32_t total = (uint32_t)gz[len - 4] | (uint32_t)gz[len - 3] << 8 |
                     (uint32_t)gz[len - 2] << 16 | (uint32_t)gz[len - 1] << 24;
    uint32_t nsec = (total + SECTOR - 1) / SECTOR;
    uint32_t *blocks = malloc((nsec ? nsec : 1) * sizeof *blocks);
    uint8_t *sec = malloc(SECTOR);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK)
        return -1;
    size_t pos = 0;
    uint32_t left = total, k = 0;
    while (left > 0) {
        uint32_t want = left < SECTOR ? left : SECTOR;
        z.next_out = sec;
        z.avail_out = want;
        while (z.avail_out > 0) {
            if (z.avail_in == 0) {
                if (pos >= len)
                    return -1;
                z.next_in = (Bytef *)(uintptr_t)(gz + pos++);
                z.avail_in = 1;
            }
            int rc = inflate(&z, Z_NO_FLUSH);
            if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
                return -1;
            if (rc == Z_STREAM_END && z.avail_out > 0)
                return -1;
        }
        size_t used = pos - z.avail_in;
        blocks[k++] = (uint32_t)((used + SECTOR - 1) / SECTOR);
        left -= want;
    }
    inflateEnd(&z);
    uint32_t all = blocks[k - 1], min = 0;
    for (uint32_t i = 0; i < k; i++)
        if (blocks[i] < all && i + 1 > blocks[i] && i + 1 - blocks[i] > min)
            min = i + 1 - blocks[i];
    free(blocks);
    free(sec);
    *out = min * SECTOR;
    return 0;
}

static void test_round_trip_and_determinism(void)
{
    uint8_t *data = mixed(300000), *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    char err[200];
    CHECK_INT(upd_gzip_compress(data, 300000, &a, &al, err, sizeof err), ==, 0);
    CHECK_INT(upd_gzip_compress(data, 300000, &b, &bl, err, sizeof err), ==, 0);
    CHECK(a && b && al == bl && memcmp(a, b, al) == 0); /* the same bytes every time */
    CHECK(a[0] == 0x1F && a[1] == 0x8B && a[2] == 8);   /* gzip, deflate: what eboot checks */
    CHECK_INT(a[3], ==, 0);                             /* no name, no extra fields */
    CHECK(al < 300000);
    uLongf back = 300000;
    uint8_t *out = malloc(back);
    z_stream z;
    memset(&z, 0, sizeof z);
    inflateInit2(&z, 15 + 16);
    z.next_in = a;
    z.avail_in = (uInt)al;
    z.next_out = out;
    z.avail_out = (uInt)back;
    CHECK_INT(inflate(&z, Z_FINISH), ==, Z_STREAM_END);
    CHECK_INT(z.total_out, ==, 300000);
    inflateEnd(&z);
    CHECK(memcmp(out, data, 300000) == 0);
    free(out);
    free(a);
    free(b);
    free(data);
}

static void test_min_stage_matches_byte_by_byte(void)
{
    char err[200];
    for (int i = 0; i < 40; i++) {
        uint32_t n = 4096u + next() % 400000u;
        uint8_t *data = mixed(n), *gz = NULL;
        size_t gl = 0;
        CHECK_INT(upd_gzip_compress(data, n, &gz, &gl, err, sizeof err), ==, 0);
        uint32_t got = 0, want = 1, isize = 0;
        CHECK_INT(upd_gzip_min_stage(gz, gl, &got, &isize, err, sizeof err), ==, 0);
        CHECK_INT(ref_min_stage(gz, gl, &want), ==, 0);
        CHECK_INT(got, ==, want);
        CHECK_INT(isize, ==, n);
        CHECK_INT(got % SECTOR, ==, 0);
        CHECK_INT(got, <=, (n + SECTOR - 1) / SECTOR * SECTOR); /* at most side by side */
        if (got != want)
            printf("    input %d: %u bytes, gzip %zu\n", i, (unsigned)n, gl);
        free(data);
        free(gz);
    }
}

static void test_min_stage_bad_input(void)
{
    char err[200];
    uint32_t ms;
    uint8_t junk[64];
    memset(junk, 0x42, sizeof junk);
    CHECK_INT(upd_gzip_min_stage(junk, sizeof junk, &ms, NULL, err, sizeof err), ==, -1);
    CHECK_CONTAINS(err, "not a gzip file");
    uint8_t *data = mixed(50000), *gz = NULL;
    size_t gl = 0;
    CHECK_INT(upd_gzip_compress(data, 50000, &gz, &gl, err, sizeof err), ==, 0);
    /* a trailer that claims more than the stream holds: eboot would run out of data */
    uint8_t keep[4];
    memcpy(keep, gz + gl - 4, 4);
    uint32_t more = 50000u + 5000u;
    for (int i = 0; i < 4; i++)
        gz[gl - 4 + (size_t)i] = (uint8_t)(more >> (8 * i));
    CHECK_INT(upd_gzip_min_stage(gz, gl, &ms, NULL, err, sizeof err), ==, -1);
    CHECK_CONTAINS(err, "damaged or shorter");
    memcpy(gz + gl - 4, keep, 4);
    CHECK_INT(upd_gzip_min_stage(gz, gl, &ms, NULL, err, sizeof err), ==, 0);
    /* cut in the middle */
    CHECK_INT(upd_gzip_min_stage(gz, gl / 2, &ms, NULL, err, sizeof err), ==, -1);
    free(data);
    free(gz);
}

int main(void)
{
    RUN(test_round_trip_and_determinism);
    RUN(test_min_stage_matches_byte_by_byte);
    RUN(test_min_stage_bad_input);
    return upd_test_summary();
}
