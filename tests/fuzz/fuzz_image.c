/* libFuzzer target for the image inspector (upd_image_inspect, upd_image_judge_gzip).
 *
 * Each input is inspected several ways:
 *   1. as a whole file from memory, with a SHA-256 provider;
 *   2. as a streamed prefix from memory: avail is derived from the input, and the
 *      prefix is copied into a buffer of exactly avail bytes, so AddressSanitizer
 *      catches any read past the available bytes;
 *   3. through a non-memory source (a read callback that copies), whole and as the
 *      same prefix, so the chunked code paths run; the results must agree with 1 and 2;
 *   4. through a callback source that fails after a number of reads (derived from the
 *      input), so the read-error paths run.
 * Gzip containers are also judged (upd_image_judge_gzip) with the same report as the
 * inner one, with a report on the second half of the input as the inner one, and as
 * undecompressable. Every report is checked against the API's promises; a broken
 * promise calls abort() with a message naming it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgwriter.h"
#include "updraft/error.h"
#include "updraft/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *how, const upd_image_report *r)
{
    fprintf(stderr, "fuzz_image: invariant broken (%s): %s\n", how, what);
    if (r)
        fprintf(stderr, "  kind %s verdict %s error %d (%s) size %u inspected %u\n",
                upd_kind_slug(r->kind), upd_verdict_name(r->verdict), r->error,
                upd_err_name(r->error), r->size, r->inspected);
    abort();
}

#define CHECK(cond, how, r)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail(#cond, how, r);                                                                   \
    } while (0)

static void check_image(const upd_image_info *im, uint32_t size, const char *how,
                        const upd_image_report *r)
{
    CHECK(im->segment_count <= UPD_IMAGE_MAX_SEGMENTS, how, r);
    CHECK(im->end <= size, how, r);
    unsigned n = im->segment_count <= UPD_IMAGE_MAX_SEGMENTS ? im->segment_count : 0;
    for (unsigned i = 0; i < n; i++) {
        const upd_segment *s = &im->seg[i];
        CHECK(s->offset <= size && s->len <= size - s->offset, how, r);
    }
}

/* The promises every report keeps. img_size: the size of the file the boot/app image
 * details came from (differs from r->size after judging a gzip with another inner). */
static void check_report(int rc, const upd_image_report *r, uint32_t img_size, const char *how)
{
    CHECK(rc == r->error, how, r);
    int good = r->verdict == UPD_VERDICT_OTA_APP || r->verdict == UPD_VERDICT_FS_IMAGE ||
               r->verdict == UPD_VERDICT_INCOMPLETE;
    CHECK((r->error == 0) == good, how, r);
    CHECK(r->error <= 0, how, r);
    CHECK(memchr(r->reason, '\0', UPD_REASON_MAX) != NULL, how, r);
    CHECK(r->reason[0] != '\0', how, r);
    CHECK(r->kind >= 0 && r->kind < UPD_KIND__COUNT, how, r);
    CHECK(r->inspected <= r->size, how, r);
    CHECK(r->app_part_count <= 4, how, r);
    CHECK(memchr(r->gzip_name, '\0', sizeof r->gzip_name) != NULL, how, r);
    check_image(&r->boot, img_size, how, r);
    check_image(&r->app, img_size, how, r);
    CHECK(r->image_end <= r->size || r->gzip, how, r);
}

/* Two inspections of the same bytes through different sources must agree. */
static void check_same(const upd_image_report *a, const upd_image_report *b, const char *how)
{
    CHECK(a->kind == b->kind, how, a);
    CHECK(a->verdict == b->verdict, how, a);
    CHECK(a->error == b->error, how, a);
    CHECK(a->notes == b->notes, how, a);
    CHECK(strcmp(a->reason, b->reason) == 0, how, a);
    CHECK(a->has_app == b->has_app && a->app.end == b->app.end, how, a);
    CHECK(a->app.checksum_ok == b->app.checksum_ok && a->app.hash_ok == b->app.hash_ok, how, a);
}

/* ---- a non-memory source ------------------------------------------------------------- */

struct cb_ctx {
    const uint8_t *data;
    uint32_t avail;
    unsigned reads;
    unsigned fail_after; /* 0: never fail */
};

static int cb_read(const upd_source *src, uint32_t off, void *buf, uint32_t len)
{
    struct cb_ctx *c = src->ctx;
    /* The inspector checks the available prefix before every read. */
    if (off > c->avail || len > c->avail - off) {
        fprintf(stderr, "fuzz_image: read of %u bytes at %u past avail %u\n", len, off, c->avail);
        abort();
    }
    c->reads++;
    if (c->fail_after && c->reads >= c->fail_after)
        return UPD_EIO;
    memcpy(buf, c->data + off, len);
    return (int)len;
}

static void init_cb(upd_source *src, struct cb_ctx *c, const uint8_t *data, uint32_t avail,
                    uint32_t size, unsigned fail_after)
{
    c->data = data;
    c->avail = avail;
    c->reads = 0;
    c->fail_after = fail_after;
    src->read = cb_read;
    src->ctx = c;
    src->size = size;
    src->avail = avail;
}

/* ---- gzip judging ------------------------------------------------------------------------ */

static void judge(const upd_image_report *rep, const upd_image_report *inner, int inflate_err,
                  const char *how)
{
    static upd_image_report outer;
    outer = *rep;
    int rc = upd_image_judge_gzip(&outer, inner, inflate_err);
    uint32_t img_size = rep->size;
    if (rep->gzip && inner && !inflate_err)
        img_size = inner->size;
    check_report(rc, &outer, img_size, how);
    if (!rep->gzip) {
        CHECK(rc == rep->error && memcmp(&outer, rep, sizeof outer) == 0, how, &outer);
        return;
    }
    CHECK(outer.kind == UPD_KIND_GZIP, how, &outer);
    if (inflate_err || !inner)
        CHECK(rc == UPD_EGZIP, how, &outer);
}

/* ---- the target ----------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Reports are large (about 2 KB): static, not on the stack. */
    static upd_image_report whole, pre, cbw, cbp, io, half;
    static uint8_t *prefix;
    upd_sha256 shactx;
    upd_sha256_ops sha;
    upd_source src;
    struct cb_ctx cb;
    int rc;

    if (size > 0x7FFFFFFFu)
        return 0;
    uint32_t n = (uint32_t)size;
    upd_sha256_ops_init(&sha, &shactx);

    /* 1. whole file, memory */
    upd_source_init_mem(&src, data, n);
    rc = upd_image_inspect(&src, &sha, &whole);
    check_report(rc, &whole, n, "whole, memory");
    CHECK(whole.size == n && whole.inspected == n, "whole, memory", &whole);
    CHECK(!(whole.notes & UPD_NOTE_PREFIX_ONLY), "whole, memory", &whole);

    /* 2. streamed prefix: avail from the last two bytes */
    uint32_t avail = 0;
    if (n >= 2)
        avail = ((uint32_t)data[n - 1] << 8 | data[n - 2]) % (n + 1);
    prefix = malloc(avail ? avail : 1);
    if (!prefix)
        return 0;
    memcpy(prefix, data, avail);
    upd_source_init_prefix(&src, prefix, avail, n);
    rc = upd_image_inspect(&src, &sha, &pre);
    check_report(rc, &pre, n, "prefix, memory");
    CHECK(pre.size == n && pre.inspected == avail, "prefix, memory", &pre);
    CHECK(!!(pre.notes & UPD_NOTE_PREFIX_ONLY) == (avail < n), "prefix, memory", &pre);
    if (avail == n)
        check_same(&pre, &whole, "prefix with everything available vs whole");

    /* 3. the same through a callback source (chunked paths) */
    init_cb(&src, &cb, data, n, n, 0);
    rc = upd_image_inspect(&src, &sha, &cbw);
    check_report(rc, &cbw, n, "whole, callback");
    check_same(&cbw, &whole, "whole: callback vs memory");

    init_cb(&src, &cb, prefix, avail, n, 0);
    rc = upd_image_inspect(&src, &sha, &cbp);
    check_report(rc, &cbp, n, "prefix, callback");
    check_same(&cbp, &pre, "prefix: callback vs memory");
    free(prefix);
    prefix = NULL;

    /* 4. a source that fails: after 1..8 reads */
    unsigned fail_after = n ? 1u + (data[0] & 7u) : 1u;
    init_cb(&src, &cb, data, n, n, fail_after);
    rc = upd_image_inspect(&src, &sha, &io);
    check_report(rc, &io, n, "failing callback");
    if (cb.reads >= fail_after)
        CHECK(rc == UPD_EIO, "failing callback", &io);
    else
        check_same(&io, &whole, "failing callback that did not fail vs whole");

    /* no SHA-256 provider: hashes are not checked */
    upd_source_init_mem(&src, data, n);
    rc = upd_image_inspect(&src, NULL, &io);
    check_report(rc, &io, n, "whole, no sha");
    CHECK(io.app.hash_ok != 1 && io.boot.hash_ok != 1, "whole, no sha", &io);

    /* gzip judging (for other reports it must change nothing) */
    judge(&whole, &whole, 0, "judge, same report as inner");
    judge(&whole, NULL, UPD_EGZIP, "judge, inflate error");
    judge(&pre, &pre, 0, "judge prefix, same report as inner");
    if (whole.gzip) {
        uint32_t h = n / 2;
        upd_source_init_mem(&src, data + h, n - h);
        rc = upd_image_inspect(&src, &sha, &half);
        check_report(rc, &half, n - h, "second half");
        judge(&whole, &half, 0, "judge, second half as inner");
    }
    return 0;
}
