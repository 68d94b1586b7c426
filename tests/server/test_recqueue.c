/* The writer's record queue (src/server/recqueue.c) and the packed records it holds
 * (src/server/reccodec.c): every field of a record comes back as it went in, at its
 * limits too; a record cut short is refused, never read past; the queue gives records
 * back first in, first out across its blocks, leaves them in place until taken, and gives
 * its memory back when empty. The field list here is written apart from the codec's
 * table on purpose: a field the codec forgot fails the round trip. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reccodec.h"
#include "recqueue.h"
#include "upd_test.h"

static uint64_t seed = 88172645463325252ull;

static uint64_t rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}

/* text of a random length (full: the longest the field holds), any byte but NUL */
static void text(char *f, size_t size, int full)
{
    size_t n = full ? size - 1 : rnd() % size;
    for (size_t i = 0; i < n; i++)
        f[i] = (char)(1 + rnd() % 255);
    f[n] = '\0';
}

static int64_t num(int full)
{
    static const int64_t edge[] = {0, 1, -1, 127, 128, -64, -65, INT64_MAX, INT64_MIN};
    if (full)
        return INT64_MIN;
    uint64_t r = rnd();
    return r % 3 == 0 ? edge[r / 3 % 9] : (int64_t)rnd();
}

#define T(f) text(r->f, sizeof r->f, full)
#define N(f) (r->f = num(full))

static void fill(upd_record *r, int full)
{
    memset(r, 0, sizeof *r);
    r->type = rnd() % 2 ? UPD_REC_CHECKIN : UPD_REC_DOWNLOAD;
    N(at_ms);
    T(dev.mac), T(dev.ap_mac), T(dev.family), T(dev.chip_id), T(dev.sdk), T(dev.version);
    N(dev.sketch_size);
    T(dev.sketch_md5), T(dev.sketch_sha256);
    N(dev.free_space), N(dev.chip_size);
    T(dev.mode), T(dev.ip), T(dev.user_agent);
    N(dev.first_seen_ms), N(dev.last_seen_ms);
    T(dev.channel);
    N(dev.pin_release), N(dev.offered_release), N(dev.offered_ms), N(dev.offer_downloads);
    N(dev.running_release);
    T(dev.last_result);
    N(dev.last_event_ms);
    T(dev.last_report);
    N(dev.hold_release), N(dev.hold_failures), N(dev.hold_until_ms);
    T(dev.tool), T(dev.url_channel), T(dev.tags);
    T(mac), T(result);
    N(release_id);
    T(event);
    N(bytes);
    T(detail), T(report);
    N(report_release);
    T(report_kind), T(report_detail);
    N(rollout_id);
}

static void test_round_trip(void)
{
    static unsigned char buf[UPD_REC_PACKED_MAX];
    static upd_record a, b;
    CHECK(upd__rec_packed_max() <= UPD_REC_PACKED_MAX);
    for (int i = 0; i < 2000; i++) {
        fill(&a, i == 0);
        size_t n = upd__rec_pack(&a, buf, sizeof buf);
        CHECK(n > 0);
        if (i == 0)
            CHECK_INT(n, <=, upd__rec_packed_max()); /* every field at its longest */
        memset(&b, 0x5a, sizeof b);
        CHECK_INT(upd__rec_unpack(buf, n, &b), ==, n);
        CHECK(memcmp(&a, &b, sizeof a) == 0);
    }
    /* a real check-in is a tenth of the struct */
    memset(&a, 0, sizeof a);
    a.type = UPD_REC_CHECKIN;
    a.at_ms = 1796000000000;
    strcpy(a.dev.mac, "5C:CF:7F:00:10:01");
    strcpy(a.dev.ap_mac, "5E:CF:7F:00:10:01");
    strcpy(a.dev.family, "esp8266");
    strcpy(a.dev.chip_id, "1052417");
    strcpy(a.dev.sdk, "2.2.2-dev(38a443e)");
    strcpy(a.dev.version, "1.0.0");
    a.dev.sketch_size = 338432;
    strcpy(a.dev.sketch_md5, "0123456789abcdef0123456789abcdef");
    a.dev.free_space = 700416;
    a.dev.chip_size = 4194304;
    strcpy(a.dev.mode, "sketch");
    strcpy(a.dev.ip, "192.168.1.23");
    strcpy(a.dev.user_agent, "ESP8266-http-Update");
    strcpy(a.result, "current");
    a.release_id = 2;
    strcpy(a.detail, "it runs release 2 (2.0.0), the newest for it: nothing to offer");
    size_t n = upd__rec_pack(&a, buf, sizeof buf);
    CHECK(n > 0 && n < sizeof a / 8);
    printf("  packed: this ESP8266 check-in %zu bytes, any record at most %zu (the struct %zu)\n",
           n, upd__rec_packed_max(), sizeof a);
}

static void test_short_input(void)
{
    static unsigned char buf[UPD_REC_PACKED_MAX];
    static upd_record a, b;
    fill(&a, 0);
    size_t n = upd__rec_pack(&a, buf, sizeof buf);
    /* every prefix is refused (the unpacker never reads past what it is given: ASan) */
    for (size_t len = 0; len < n; len++) {
        unsigned char *cut = malloc(len ? len : 1);
        memcpy(cut, buf, len);
        CHECK_INT(upd__rec_unpack(cut, len, &b), ==, 0);
        free(cut);
    }
    /* a room too small for the record is refused, never overrun */
    for (size_t cap = 0; cap < n; cap += 7) {
        unsigned char *room = malloc(cap ? cap : 1);
        CHECK_INT(upd__rec_pack(&a, room, cap), ==, 0);
        free(room);
    }
    /* a text length beyond its field is refused */
    memset(buf, 0, sizeof buf);
    buf[0] = 2;                   /* type 1 */
    buf[1] = 0;                   /* at_ms 0 */
    buf[2] = 0xff, buf[3] = 0x7f; /* dev.mac: 16383 bytes */
    CHECK_INT(upd__rec_unpack(buf, sizeof buf, &b), ==, 0);
}

/* The queue: records of random sizes, pushed and taken in random steps, come back in
 * order across blocks; copy does not take them. */
static void test_queue_order(void)
{
    upd_recq *q = upd__recq_new();
    CHECK(q != NULL);
    static unsigned char buf[UPD_REC_PACKED_MAX];
    static upd_record r, out[300];
    unsigned char *raw = NULL;
    size_t raw_cap = 0;
    int64_t next_in = 0, next_out = 0;
    size_t bytes = 0;
    for (int round = 0; round < 400; round++) {
        size_t push = rnd() % 300;
        for (size_t i = 0; i < push; i++) {
            fill(&r, rnd() % 50 == 0);
            r.at_ms = next_in++;
            size_t n = upd__rec_pack(&r, buf, sizeof buf);
            CHECK(upd__recq_push(q, buf, n) == 0);
            bytes += 2 + n;
        }
        CHECK_INT(upd__recq_count(q), ==, next_in - next_out);
        CHECK_INT(upd__recq_bytes(q), ==, bytes);
        size_t k = rnd() % 300;
        if (k > upd__recq_count(q))
            k = upd__recq_count(q);
        for (int twice = 0; twice < 2; twice++) { /* copy leaves them in place */
            size_t len = upd__recq_copy(q, k, &raw, &raw_cap);
            CHECK(k == 0 || len > 0);
            CHECK_INT(upd__recq_unpack(raw, len, out, k), ==, k);
            for (size_t i = 0; i < k; i++)
                CHECK_INT(out[i].at_ms, ==, next_out + (int64_t)i);
        }
        /* take them (their bytes as they were packed) */
        upd__recq_copy(q, k, &raw, &raw_cap);
        for (size_t i = 0, at = 0; i < k; i++) {
            size_t rl = 2 + (raw[at] | (size_t)raw[at + 1] << 8);
            bytes -= rl;
            at += rl;
        }
        upd__recq_pop(q, k);
        next_out += (int64_t)k;
        CHECK_INT(upd__recq_bytes(q), ==, bytes);
    }
    upd__recq_pop(q, upd__recq_count(q));
    CHECK_INT(upd__recq_count(q), ==, 0);
    CHECK_INT(upd__recq_bytes(q), ==, 0);
    /* empty, it takes records again */
    fill(&r, 0);
    size_t n = upd__rec_pack(&r, buf, sizeof buf);
    CHECK(upd__recq_push(q, buf, n) == 0);
    CHECK_INT(upd__recq_copy(q, 1, &raw, &raw_cap), ==, 2 + n);
    CHECK_INT(upd__recq_unpack(raw, 2 + n, out, 1), ==, 1);
    CHECK(memcmp(&out[0], &r, sizeof r) == 0);
    free(raw);
    upd__recq_free(q); /* LeakSanitizer: every block freed */
    upd__recq_free(NULL);
}

int main(void)
{
    RUN(test_round_trip);
    RUN(test_short_input);
    RUN(test_queue_order);
    return upd_test_summary();
}
