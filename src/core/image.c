/* Image inspection: byte sources, bounded reads, names, and the top-level dispatch.
 * The format parsers are in image_esp.c (esptool images) and image_other.c. */
#include <string.h>

#include "bytes.h"
#include "image_int.h"
#include "strbuf.h"

/* ---- sources ---------------------------------------------------------------------- */

static int read_mem(const upd_source *src, uint32_t off, void *buf, uint32_t len)
{
    if (off >= src->avail)
        return 0;
    if (len > src->avail - off)
        len = src->avail - off;
    memcpy(buf, (const uint8_t *)src->ctx + off, len);
    return (int)len;
}

void upd_source_init_prefix(upd_source *src, const void *data, uint32_t avail, uint32_t size)
{
    if (!src)
        return;
    src->read = read_mem;
    src->ctx = (void *)(uintptr_t)data;
    src->size = size;
    src->avail = avail <= size ? avail : size;
}

void upd_source_init_mem(upd_source *src, const void *data, uint32_t len)
{
    upd_source_init_prefix(src, data, len, len);
}

/* ---- bounded access ------------------------------------------------------------------ */

int upd__get(const upd__ictx *ic, uint32_t off, void *buf, uint32_t n)
{
    if (!upd__in_file(ic, off, n))
        return UPD_ETRUNC;
    if (off > ic->avail || n > ic->avail - off)
        return UPD__PAST_PREFIX;
    if (n == 0)
        return 0;
    if (ic->mem) {
        memcpy(buf, ic->mem + off, n);
        return 0;
    }
    int got = ic->src->read(ic->src, off, buf, n);
    if (got == (int)n)
        return 0;
    *ic->io_err = UPD_EIO;
    return UPD_EIO;
}

/* Visit [off, off+n) in pieces: directly for memory sources, through a small stack
 * buffer otherwise (the device has a 4 KB stack). */
typedef void (*range_fn)(void *arg, const uint8_t *p, uint32_t n);

static int visit_range(const upd__ictx *ic, uint32_t off, uint32_t n, range_fn fn, void *arg)
{
    if (!upd__in_file(ic, off, n))
        return UPD_ETRUNC;
    if (off > ic->avail || n > ic->avail - off)
        return UPD__PAST_PREFIX;
    if (ic->mem) {
        fn(arg, ic->mem + off, n);
        return 0;
    }
    uint8_t chunk[256];
    while (n) {
        uint32_t k = n < sizeof chunk ? n : (uint32_t)sizeof chunk;
        int e = upd__get(ic, off, chunk, k);
        if (e)
            return e;
        fn(arg, chunk, k);
        off += k;
        n -= k;
    }
    return 0;
}

static void xor_fn(void *arg, const uint8_t *p, uint32_t n)
{
    uint8_t *x = arg;
    uint32_t w = 0, i = 0;
    /* four bytes at a time through memcpy (no unaligned loads on lx106) */
    for (; i + 4 <= n; i += 4) {
        uint32_t v;
        memcpy(&v, p + i, 4);
        w ^= v;
    }
    uint8_t acc = (uint8_t)(w ^ (w >> 8) ^ (w >> 16) ^ (w >> 24));
    for (; i < n; i++)
        acc ^= p[i];
    *x ^= acc;
}

int upd__xor_range(const upd__ictx *ic, uint32_t off, uint32_t n, uint8_t *x)
{
    return visit_range(ic, off, n, xor_fn, x);
}

static void sha_fn(void *arg, const uint8_t *p, uint32_t n)
{
    const upd_sha256_ops *ops = arg;
    ops->update(ops->ctx, p, n);
}

int upd__sha_range(const upd__ictx *ic, uint32_t off, uint32_t n)
{
    return visit_range(ic, off, n, sha_fn, (void *)(uintptr_t)ic->sha);
}

static void crc_fn(void *arg, const uint8_t *p, uint32_t n)
{
    uint32_t *crc = arg;
    *crc = upd_crc32_mpeg2(*crc, p, n);
}

int upd__crc_with_hole(const upd__ictx *ic, uint32_t len, uint32_t hole, uint32_t *crc)
{
    static const uint8_t zeros[8];
    uint32_t c = 0xFFFFFFFFu;
    int e;
    if (hole > len || len - hole < 8)
        return UPD_EFORMAT;
    if ((e = visit_range(ic, 0, hole, crc_fn, &c)) != 0)
        return e;
    c = upd_crc32_mpeg2(c, zeros, 8);
    if ((e = visit_range(ic, hole + 8, len - hole - 8, crc_fn, &c)) != 0)
        return e;
    *crc = c;
    return 0;
}

/* ---- names ------------------------------------------------------------------------- */

const char *upd_kind_slug(upd_kind k)
{
    switch (k) {
#define UPD__KIND_SLUG(name, slug, desc)                                                           \
    case UPD_KIND_##name:                                                                          \
        return slug;
        UPD_KIND_MAP(UPD__KIND_SLUG)
#undef UPD__KIND_SLUG
    default:
        return "unknown";
    }
}

const char *upd_kind_desc(upd_kind k)
{
    switch (k) {
#define UPD__KIND_DESC(name, slug, desc)                                                           \
    case UPD_KIND_##name:                                                                          \
        return desc;
        UPD_KIND_MAP(UPD__KIND_DESC)
#undef UPD__KIND_DESC
    default:
        return "unrecognised data";
    }
}

const char *upd_verdict_name(upd_verdict v)
{
    switch (v) {
    case UPD_VERDICT_OTA_APP:
        return "ota-app";
    case UPD_VERDICT_FS_IMAGE:
        return "fs-image";
    case UPD_VERDICT_INCOMPLETE:
        return "incomplete";
    default:
        return "rejected";
    }
}

const char *upd_platform_name(upd_platform p)
{
    switch (p) {
    case UPD_PLATFORM_ESP8266:
        return "esp8266";
    case UPD_PLATFORM_ESP32:
        return "esp32";
    default:
        return "unknown";
    }
}

static const struct {
    upd_chip chip;
    const char *name;
} chip_names[] = {
    {UPD_CHIP_ESP8266, "ESP8266"},  {UPD_CHIP_ESP32, "ESP32"},
    {UPD_CHIP_ESP32S2, "ESP32-S2"}, {UPD_CHIP_ESP32C3, "ESP32-C3"},
    {UPD_CHIP_ESP32S3, "ESP32-S3"}, {UPD_CHIP_ESP32C2, "ESP32-C2"},
    {UPD_CHIP_ESP32C6, "ESP32-C6"}, {UPD_CHIP_ESP32H2, "ESP32-H2"},
    {UPD_CHIP_ESP32P4, "ESP32-P4"}, {UPD_CHIP_ESP32C61, "ESP32-C61"},
    {UPD_CHIP_ESP32C5, "ESP32-C5"},
};

const char *upd_chip_name(upd_chip c)
{
    for (size_t i = 0; i < sizeof chip_names / sizeof chip_names[0]; i++)
        if (chip_names[i].chip == c)
            return chip_names[i].name;
    return NULL;
}

/* Compare ignoring case and '-'/'_' (so "esp32c3", "ESP32-C3" and "esp32_c3" match). */
static int chip_name_eq(const char *a, const char *b)
{
    for (;;) {
        while (*a == '-' || *a == '_')
            a++;
        while (*b == '-' || *b == '_')
            b++;
        char ca = *a, cb = *b;
        if (ca >= 'a' && ca <= 'z')
            ca = (char)(ca - 'a' + 'A');
        if (cb >= 'a' && cb <= 'z')
            cb = (char)(cb - 'a' + 'A');
        if (ca != cb)
            return 0;
        if (!ca)
            return 1;
        a++;
        b++;
    }
}

upd_chip upd_chip_parse(const char *s)
{
    if (!s)
        return UPD_CHIP_UNKNOWN;
    for (size_t i = 0; i < sizeof chip_names / sizeof chip_names[0]; i++)
        if (chip_name_eq(s, chip_names[i].name))
            return chip_names[i].chip;
    return UPD_CHIP_UNKNOWN;
}

uint32_t upd_flash_size_bytes(upd_platform p, uint8_t code)
{
    if (p == UPD_PLATFORM_ESP8266) {
        static const uint32_t kib[16] = {512,  256,   1024, 2048, 4096, 2048, 4096, 0,
                                         8192, 16384, 0,    0,    0,    0,    0,    0};
        return kib[code & 15] * 1024u;
    }
    if (p == UPD_PLATFORM_ESP32 && code <= 7)
        return (1024u * 1024u) << code;
    return 0;
}

const char *upd_flash_mode_name(uint8_t mode)
{
    static const char *const names[] = {"QIO", "QOUT", "DIO", "DOUT", "FAST_READ", "SLOW_READ"};
    return mode < 6 ? names[mode] : "?";
}

unsigned upd_flash_freq_mhz(uint8_t code)
{
    switch (code & 15) {
    case 0:
        return 40;
    case 1:
        return 26;
    case 2:
        return 20;
    case 15:
        return 80;
    default:
        return 0;
    }
}

/* ---- dispatch ------------------------------------------------------------------------ */

int upd__reject(upd_image_report *r, upd_kind k, int e)
{
    r->kind = k;
    r->verdict = UPD_VERDICT_REJECTED;
    r->error = e;
    return e;
}

int upd_image_inspect(const upd_source *src, const upd_sha256_ops *sha, upd_image_report *out)
{
    if (!src || !out || !src->read)
        return UPD_EINVAL;
    memset(out, 0, sizeof *out);
    out->chip = UPD_CHIP_UNKNOWN;
    out->size = src->size;
    out->inspected = src->avail < src->size ? src->avail : src->size;
    out->kind = UPD_KIND_UNKNOWN;
    out->inner_kind = UPD_KIND_UNKNOWN;
    out->eboot_inflates = -1;

    int io_err = 0;
    upd__ictx ic = {src, NULL, out, src->size, out->inspected, NULL, &io_err};
    if (sha && sha->init && sha->update && sha->final)
        ic.sha = sha;
    if (src->read == read_mem)
        ic.mem = src->ctx;
    if (out->inspected < out->size)
        out->notes |= UPD_NOTE_PREFIX_ONLY;

    if (src->size == 0) {
        upd__fmt(out->reason, sizeof out->reason,
                 "empty file (0 bytes): the build or the download failed; upload the .bin "
                 "the build produced");
        return upd__reject(out, UPD_KIND_EMPTY, UPD_EEMPTY);
    }

    uint8_t head[64];
    uint32_t headlen = out->inspected < sizeof head ? out->inspected : (uint32_t)sizeof head;
    int e = upd__get(&ic, 0, head, headlen);
    if (e) {
        upd__fmt(out->reason, sizeof out->reason, "could not read the file: %s", upd_strerror(e));
        return upd__reject(out, UPD_KIND_UNKNOWN, e);
    }
    if (headlen == 0) {
        out->verdict = UPD_VERDICT_INCOMPLETE;
        upd__fmt(out->reason, sizeof out->reason, "no bytes available yet");
        return 0;
    }
    out->first_byte = head[0];
    out->first_size_code = headlen >= 4 ? (uint8_t)(head[3] >> 4) : 0;
    if (head[0] == 0xE9 || head[0] == 0xFF)
        e = upd__inspect_esp(&ic, head, headlen);
    else
        e = upd__inspect_other(&ic, head, headlen);
    if (e == UPD_EIO || io_err) {
        upd__fmt(out->reason, sizeof out->reason, "could not read the file: %s",
                 upd_strerror(UPD_EIO));
        return upd__reject(out, out->kind, UPD_EIO);
    }
    return out->error;
}

int upd_image_judge_gzip(upd_image_report *outer, const upd_image_report *inner, int inflate_err)
{
    if (!outer)
        return UPD_EINVAL;
    if (!outer->gzip)
        return outer->error;
    if (inflate_err || !inner) {
        upd__fmt(outer->reason, sizeof outer->reason,
                 "gzip file whose data is damaged (it does not decompress): download or "
                 "compress the .bin again (gzip -9 firmware.bin)");
        return upd__reject(outer, UPD_KIND_GZIP, UPD_EGZIP);
    }
    outer->inner_kind = inner->kind;
    outer->platform = inner->platform;
    outer->chip = inner->chip;
    outer->flash_mode = inner->flash_mode;
    outer->flash_size_code = inner->flash_size_code;
    outer->flash_freq_code = inner->flash_freq_code;
    outer->flash_size = inner->flash_size;
    outer->has_boot = inner->has_boot;
    outer->eboot_inflates = inner->eboot_inflates;
    outer->has_app = inner->has_app;
    outer->boot = inner->boot;
    outer->app = inner->app;
    outer->desc = inner->desc;
    outer->crc_offset = inner->crc_offset;
    outer->crc_len = inner->crc_len;
    outer->crc_stored = inner->crc_stored;
    outer->crc_calc = inner->crc_calc;
    outer->notes |= inner->notes & ~UPD_NOTE_PREFIX_ONLY;
    outer->kind = UPD_KIND_GZIP;

    if (inner->kind == UPD_KIND_ESP8266_APP && inner->verdict == UPD_VERDICT_OTA_APP) {
        outer->verdict = UPD_VERDICT_OTA_APP;
        outer->error = 0;
        upd__fmt(outer->reason, sizeof outer->reason,
                 "gzip-compressed ESP8266 Arduino application (%K, %K unpacked): ESP8266 "
                 "cores 2.7 and later install it, the boot loader inflates it",
                 outer->size, inner->size);
        return 0;
    }
    if (inner->kind == UPD_KIND_ESP8266_APP) {
        upd__fmt(outer->reason, sizeof outer->reason, "gzip of a broken ESP8266 image: %s",
                 inner->reason);
        return upd__reject(outer, UPD_KIND_GZIP, inner->error ? inner->error : UPD_EGZIP);
    }
    if (inner->kind == UPD_KIND_ESP32_APP) {
        upd__fmt(outer->reason, sizeof outer->reason,
                 "gzip of an %s application: ESP32-family devices cannot install "
                 "compressed images (they expect 0xE9 as the first byte, -106); upload the "
                 "uncompressed .bin",
                 inner->chip != UPD_CHIP_UNKNOWN ? upd_chip_name(inner->chip) : "ESP32");
        return upd__reject(outer, UPD_KIND_GZIP, UPD_ENOTAPP);
    }
    if (inner->kind == UPD_KIND_GZIP) {
        upd__fmt(outer->reason, sizeof outer->reason,
                 "gzip inside gzip: the file was compressed twice; upload firmware.bin.gz "
                 "made once with gzip -9 from the .bin");
        return upd__reject(outer, UPD_KIND_GZIP, UPD_EGZIP);
    }
    upd__fmt(outer->reason, sizeof outer->reason,
             "gzip of something that is not an application image: it holds %s (%s); only "
             "an ESP8266 Arduino .bin may be compressed for OTA",
             upd_kind_desc(inner->kind), inner->reason);
    return upd__reject(outer, UPD_KIND_GZIP, UPD_EGZIP);
}
