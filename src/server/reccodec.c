/* Device records packed for the writer's queue (see reccodec.h). One table names every
 * field of upd_record with its place and kind; packing walks it. Text: its length (a
 * variable-length integer) and its bytes, without the NUL. Numbers: zigzag, then seven
 * bits a byte, low bits first, the high bit set on every byte but the last. */
#include <stdint.h>
#include <string.h>

#include "reccodec.h"

/* A field added to upd_record or upd_device_row must be added to FIELDS below too: these
 * sizes fail the build until it is (then write the new sizes here). */
#if defined(__LP64__) && defined(__x86_64__)
_Static_assert(sizeof(upd_device_row) == 1880,
               "upd_device_row changed: add its new fields to reccodec.c's FIELDS");
_Static_assert(sizeof(upd_record) == 2944,
               "upd_record changed: add its new fields to reccodec.c's FIELDS");
#endif

enum { F_TEXT, F_I64, F_ENUM };

typedef struct field {
    unsigned short off, size;
    unsigned char kind;
} field;

#define TEXT(m)                                                                                    \
    {                                                                                              \
        (unsigned short)offsetof(upd_record, m), sizeof(((upd_record *)0)->m), F_TEXT              \
    }
#define I64(m)                                                                                     \
    {                                                                                              \
        (unsigned short)offsetof(upd_record, m), sizeof(int64_t), F_I64                            \
    }

static const field FIELDS[] = {
    {(unsigned short)offsetof(upd_record, type), sizeof(upd_record_type), F_ENUM},
    I64(at_ms),
    TEXT(dev.mac),
    TEXT(dev.ap_mac),
    TEXT(dev.family),
    TEXT(dev.chip_id),
    TEXT(dev.sdk),
    TEXT(dev.version),
    I64(dev.sketch_size),
    TEXT(dev.sketch_md5),
    TEXT(dev.sketch_sha256),
    I64(dev.free_space),
    I64(dev.chip_size),
    TEXT(dev.mode),
    TEXT(dev.ip),
    TEXT(dev.user_agent),
    I64(dev.first_seen_ms),
    I64(dev.last_seen_ms),
    TEXT(dev.channel),
    I64(dev.pin_release),
    I64(dev.offered_release),
    I64(dev.offered_ms),
    I64(dev.offer_downloads),
    I64(dev.running_release),
    TEXT(dev.last_result),
    I64(dev.last_event_ms),
    TEXT(dev.last_report),
    I64(dev.hold_release),
    I64(dev.hold_failures),
    I64(dev.hold_until_ms),
    TEXT(dev.tool),
    TEXT(dev.url_channel),
    TEXT(dev.tags),
    TEXT(mac),
    TEXT(result),
    I64(release_id),
    TEXT(event),
    I64(bytes),
    TEXT(detail),
    TEXT(report),
    I64(report_release),
    TEXT(report_kind),
    TEXT(report_detail),
    I64(rollout_id),
};
#define NFIELDS (sizeof FIELDS / sizeof FIELDS[0])

#define VARINT_MAX 10 /* a 64-bit number, seven bits a byte */

size_t upd__rec_packed_max(void)
{
    size_t n = 0;
    for (size_t i = 0; i < NFIELDS; i++)
        n += VARINT_MAX + (FIELDS[i].kind == F_TEXT ? FIELDS[i].size - 1u : 0u);
    return n;
}

static size_t put_varint(unsigned char *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (unsigned char)v;
    return n;
}

/* 0 when in (len bytes) does not hold a whole number. */
static size_t get_varint(const unsigned char *in, size_t len, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < len && i < VARINT_MAX; i++) {
        x |= (uint64_t)(in[i] & 0x7f) << (7 * i);
        if (!(in[i] & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

size_t upd__rec_pack(const upd_record *r, unsigned char *out, size_t cap)
{
    const unsigned char *base = (const unsigned char *)r;
    size_t n = 0;
    for (size_t i = 0; i < NFIELDS; i++) {
        const field *f = &FIELDS[i];
        const unsigned char *p = base + f->off;
        uint64_t v;
        size_t len = 0;
        if (f->kind == F_TEXT) {
            const unsigned char *end = memchr(p, 0, f->size - 1u);
            len = end ? (size_t)(end - p) : f->size - 1u; /* unterminated: as the field holds */
            v = len;
        } else if (f->kind == F_I64) {
            int64_t x;
            memcpy(&x, p, sizeof x);
            v = zigzag(x);
        } else {
            upd_record_type t;
            memcpy(&t, p, sizeof t);
            v = zigzag((int64_t)t);
        }
        if (cap - n < VARINT_MAX + len)
            return 0;
        n += put_varint(out + n, v);
        memcpy(out + n, p, len);
        n += len;
    }
    return n;
}

size_t upd__rec_unpack(const unsigned char *in, size_t len, upd_record *r)
{
    unsigned char *base = (unsigned char *)r;
    size_t n = 0;
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < NFIELDS; i++) {
        const field *f = &FIELDS[i];
        unsigned char *p = base + f->off;
        uint64_t v;
        size_t k = get_varint(in + n, len - n, &v);
        if (!k)
            return 0;
        n += k;
        if (f->kind == F_TEXT) {
            if (v >= f->size || v > len - n)
                return 0;
            memcpy(p, in + n, (size_t)v); /* the NUL: memset above */
            n += (size_t)v;
        } else if (f->kind == F_I64) {
            int64_t x = unzigzag(v);
            memcpy(p, &x, sizeof x);
        } else {
            upd_record_type t = (upd_record_type)unzigzag(v);
            memcpy(p, &t, sizeof t);
        }
    }
    return n;
}
