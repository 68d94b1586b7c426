/* Malformed images made by hand from valid synthetic ones: every truncation, lying
 * segment lengths, impossible segment counts, a bit flip in every byte, streamed
 * prefixes of all of them, a non-memory source and a failing source. The inspector must
 * reject them with the right code (or say INCOMPLETE for prefixes), never accept a
 * damaged or partial file, never crash, and always leave a consistent report.
 * Runs on the host and on lx106 (one static image buffer, small stack). */
#include <stdint.h>
#include <string.h>

#include "imgwriter.h"
#include "upd_test.h"
#include "updraft/error.h"
#include "updraft/image.h"

static uint8_t img[16384];
static uint8_t map[5120]; /* what each byte of the image under test is (enum region) */
static upd_image_report rep, rep2;
static upd_sha256 shactx;
static upd_sha256_ops sha;
static unsigned long inspections;

/* ---- the images -------------------------------------------------------------------- */

/* A small Arduino .bin: odd segment lengths, as elf2bin writes them. */
static const tw_seg ard_segs[] = {
    {0x40201010u, 40u, 51u}, /* .irom0.text (holds the core 3.x words at 0x1010) */
    {0x40100000u, 23u, 52u}, /* .text */
    {0x3FFE8000u, 12u, 53u}, /* .data */
};
#define ARD_NSEG 3u

static uint32_t make_arduino(int crc_place, unsigned eboot_segs)
{
    tw_arduino_opts o = {2, 0x40, eboot_segs, ard_segs, ARD_NSEG, crc_place};
    int32_t n = tw_arduino_bin(img, sizeof img, &o);
    CHECK(n > 0);
    return n > 0 ? (uint32_t)n : 0;
}

static const tw_seg e32_segs[] = {
    {0x3F400020u, 256u, 61u}, /* DROM: esp_app_desc_t */
    {0x3FFB0000u, 32u, 62u},  /* DRAM */
    {0x400D0020u, 96u, 63u},  /* IROM */
};
#define E32_NSEG 3u

static uint32_t make_esp32(int hash)
{
    tw_esp32_opts o;
    memset(&o, 0, sizeof o);
    o.chip_id = UPD_CHIP_ESP32;
    o.mode = 2;
    o.size_freq = 0x20;
    o.entry = 0x40081000u;
    o.segs = e32_segs;
    o.nseg = E32_NSEG;
    o.hash_appended = hash;
    o.app_desc = 1;
    o.version = "2.0.1";
    o.project = "malformed";
    o.idf_ver = "v5.2";
    int32_t n = tw_esp32_image(img, sizeof img, &o);
    CHECK(n > 0);
    return n > 0 ? (uint32_t)n : 0;
}

/* gzip of the core 3.x Arduino .bin, written at the start of img (the .bin is made
 * higher up in the same buffer first). */
static uint32_t make_gzip(void)
{
    tw_arduino_opts o = {2, 0x40, 2, ard_segs, ARD_NSEG, TW_CRC_AT_1010};
    int32_t n = tw_arduino_bin(img + 8192, sizeof img - 8192, &o);
    CHECK(n > 0);
    if (n <= 0)
        return 0;
    int32_t g = tw_gzip_store(img, 8192, img + 8192, (uint32_t)n, "firmware.bin");
    CHECK(g > 0);
    return g > 0 ? (uint32_t)g : 0;
}

static uint32_t make_littlefs(uint32_t len)
{
    memset(img, 0xFF, len);
    memset(img, 0, 32);
    img[0] = 1;
    memcpy(img + 8, "littlefs", 8);
    tw_put_le32(img + 20, 0x00020000u);
    tw_put_le32(img + 24, 4096u);
    tw_put_le32(img + 28, len / 4096u);
    return len;
}

/* ---- a map of the image, from the writer's layout (not from the inspector) ---------- */

enum region {
    R_GAP = 0,  /* 0xAA between eboot and the app, or anything outside an image */
    R_MAGIC,    /* header byte 0 */
    R_COUNT,    /* header byte 1 */
    R_HDR,      /* other header bytes */
    R_HASHFLAG, /* ESP32 header byte 23 */
    R_SEG_LOAD, /* segment header: load address */
    R_SEG_LEN,  /* segment header: length */
    R_DATA,     /* segment data */
    R_PAD,      /* zero padding before the checksum */
    R_CHECKSUM, /* the XOR checksum byte */
    R_SHA,      /* appended SHA-256 */
    R_CRC_LEN,  /* core 3.x length word */
    R_CRC_VAL   /* core 3.x CRC word */
};

static void map_image(uint32_t off, uint32_t hlen, const tw_seg *segs, unsigned nseg, int sha256)
{
    map[off] = R_MAGIC;
    map[off + 1] = R_COUNT;
    for (uint32_t i = 2; i < hlen; i++)
        map[off + i] = R_HDR;
    if (hlen == 24)
        map[off + 23] = R_HASHFLAG;
    uint32_t p = off + hlen;
    for (unsigned s = 0; s < nseg; s++) {
        memset(map + p, R_SEG_LOAD, 4);
        memset(map + p + 4, R_SEG_LEN, 4);
        memset(map + p + 8, R_DATA, segs[s].len);
        p += 8 + segs[s].len;
    }
    uint32_t chk = off + (((p - off) + 16u) & ~15u) - 1u;
    memset(map + p, R_PAD, chk - p);
    map[chk] = R_CHECKSUM;
    if (sha256)
        memset(map + chk + 1, R_SHA, 32);
}

static void map_arduino(uint32_t size, int crc_place, unsigned eboot_segs)
{
    tw_seg eboot[2] = {{TW_EBOOT_LOAD, TW_EBOOT1_SEG0_LEN, 0}, {0, 0, 0}};
    if (eboot_segs == 2) {
        eboot[0].len = TW_EBOOT2_SEG0_LEN;
        eboot[1].len = TW_EBOOT2_SEG1_LEN;
    }
    memset(map, R_GAP, size);
    map_image(0, 8, eboot, eboot_segs, 0);
    map_image(TW_ARDUINO_APP_OFF, 8, ard_segs, ARD_NSEG, 0);
    uint32_t at = crc_place == TW_CRC_AT_1010  ? TW_ARDUINO_CRC_1010
                  : crc_place == TW_CRC_AT_FF8 ? TW_ARDUINO_CRC_FF8
                                               : 0;
    if (at) {
        memset(map + at, R_CRC_LEN, 4);
        memset(map + at + 4, R_CRC_VAL, 4);
    }
}

/* ---- invariants of every report ----------------------------------------------------- */

static int seg_inside(const upd_image_info *in, uint32_t size)
{
    unsigned n =
        in->segment_count < UPD_IMAGE_MAX_SEGMENTS ? in->segment_count : UPD_IMAGE_MAX_SEGMENTS;
    for (unsigned i = 0; i < n; i++) {
        const upd_segment *s = &in->seg[i];
        if (s->offset == 0 && s->len == 0)
            continue; /* not recorded */
        if (s->offset > size || s->len > size - s->offset || s->offset < in->offset)
            return 0;
    }
    return in->end <= size;
}

static int is_structural(int e)
{
    return e == UPD_ETRUNC || e == UPD_EEMPTY || e == UPD_EFORMAT || e == UPD_ENOTIMAGE ||
           e == UPD_ENOTAPP || e == UPD_EGZIP;
}

static void check_report(int rc, const upd_image_report *r, uint32_t size, uint32_t avail)
{
    inspections++;
    CHECK_INT(rc, ==, r->error);
    CHECK(memchr(r->reason, '\0', sizeof r->reason) != NULL);
    CHECK(r->reason[0] != '\0');
    CHECK_INT(r->size, ==, size);
    CHECK_INT(r->inspected, ==, avail);
    if (r->verdict == UPD_VERDICT_REJECTED)
        CHECK_INT(r->error, <, 0);
    else
        CHECK_INT(r->error, ==, 0);
    CHECK((unsigned)r->verdict <= UPD_VERDICT_INCOMPLETE);
    CHECK((unsigned)r->kind < UPD_KIND__COUNT);
    /* segments are recorded only when they lie inside the file, whatever the verdict */
    CHECK(seg_inside(&r->boot, size));
    CHECK(seg_inside(&r->app, size));
    if (r->verdict == UPD_VERDICT_OTA_APP) {
        CHECK(r->has_app);
        CHECK(r->image_end <= size);
        CHECK_INT(avail, ==, size); /* never accepted before the whole file was seen */
    }
    if (r->crc_offset)
        CHECK(r->crc_offset <= size && size - r->crc_offset >= 8);
    CHECK(r->sig_len <= size);
}

static int inspect_mem(uint32_t size)
{
    upd_source src;
    upd_source_init_mem(&src, img, size);
    int rc = upd_image_inspect(&src, &sha, &rep);
    check_report(rc, &rep, size, size);
    return rc;
}

static int inspect_prefix(uint32_t avail, uint32_t size, upd_image_report *r)
{
    upd_source src;
    upd_source_init_prefix(&src, img, avail, size);
    int rc = upd_image_inspect(&src, &sha, r);
    check_report(rc, r, size, avail);
    return rc;
}

/* The full file's report is in rep. A prefix must be INCOMPLETE or a rejection that
 * the full file has too; never an acceptance before the end. */
static void check_prefix_at(uint32_t avail, uint32_t size)
{
    if (avail > size)
        return;
    int rc = inspect_prefix(avail, size, &rep2);
    if (avail == size) {
        CHECK_INT(rc, ==, rep.error);
        CHECK_INT(rep2.verdict, ==, rep.verdict);
        return;
    }
    CHECK(rep2.verdict != UPD_VERDICT_OTA_APP);
    if (rep2.verdict == UPD_VERDICT_REJECTED) {
        CHECK_INT(rep.verdict, ==, UPD_VERDICT_REJECTED);
        CHECK_INT(rep2.error, ==, rep.error);
        if (rep2.error != rep.error)
            printf("    prefix %u of %u: %s: %s; full file: %s: %s\n", (unsigned)avail,
                   (unsigned)size, upd_err_name(rep2.error), rep2.reason, upd_err_name(rep.error),
                   rep.reason);
    }
}

/* Prefixes at the places where formats change, and around pos. */
static void check_prefixes_around(uint32_t size, uint32_t pos)
{
    static const uint32_t fixed[] = {0,     1,      2,      3,      4,      7,      8,     9,
                                     10,    18,     24,     31,     32,     64,     0x580, 0xDD0,
                                     0xFFF, 0x1000, 0x1001, 0x1008, 0x1010, 0x1018, 0x1020};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        check_prefix_at(fixed[i], size);
    check_prefix_at(pos, size);
    check_prefix_at(pos + 1, size);
    check_prefix_at(size / 2, size);
    check_prefix_at(size - 16, size);
    check_prefix_at(size - 1, size);
    check_prefix_at(size, size);
}

/* ---- truncation --------------------------------------------------------------------- */

static void truncate_everywhere(uint32_t size, int gzip)
{
    for (uint32_t n = 0; n < size; n++) {
        int rc = inspect_mem(n);
        CHECK(rep.verdict != UPD_VERDICT_OTA_APP);
        CHECK(rep.verdict != UPD_VERDICT_FS_IMAGE);
        if (gzip && rep.verdict != UPD_VERDICT_REJECTED) {
            /* only the header is read: INCOMPLETE until decompressed; the caller's
             * inflate fails on a cut gzip, and the judgement is then EGZIP */
            CHECK_INT(rep.verdict, ==, UPD_VERDICT_INCOMPLETE);
            CHECK_INT(rep.kind, ==, UPD_KIND_GZIP);
            CHECK_INT(upd_image_judge_gzip(&rep, NULL, UPD_EGZIP), ==, UPD_EGZIP);
            CHECK_INT(rep.verdict, ==, UPD_VERDICT_REJECTED);
            continue;
        }
        CHECK_INT(rep.verdict, ==, UPD_VERDICT_REJECTED);
        CHECK(is_structural(rc));
        if (n == 0)
            CHECK_INT(rc, ==, UPD_EEMPTY);
        if (!is_structural(rc) || rep.verdict != UPD_VERDICT_REJECTED)
            printf("    cut at %u of %u: %s\n", (unsigned)n, (unsigned)size, rep.reason);
    }
}

static void test_truncated_arduino(void)
{
    upd_sha256_ops_init(&sha, &shactx);
    uint32_t size = make_arduino(TW_CRC_AT_1010, 2);
    CHECK_INT(inspect_mem(size), ==, 0);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_OTA_APP);
    truncate_everywhere(size, 0);
    /* cut inside the app: the file ends inside the image */
    inspect_mem(0x1000u + 20u);
    CHECK_INT(rep.error, ==, UPD_ETRUNC);
    inspect_mem(size - 1u);
    CHECK_INT(rep.error, ==, UPD_ETRUNC);
    size = make_arduino(TW_CRC_NONE, 1);
    truncate_everywhere(size, 0);
}

static void test_truncated_esp32(void)
{
    upd_sha256_ops_init(&sha, &shactx);
    uint32_t size = make_esp32(1);
    CHECK_INT(inspect_mem(size), ==, 0);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_OTA_APP);
    CHECK(rep.desc.present);
    CHECK_INT(rep.app.hash_ok, ==, 1);
    truncate_everywhere(size, 0);
    inspect_mem(size - 32u); /* the SHA-256 cut off entirely */
    CHECK_INT(rep.error, ==, UPD_ETRUNC);
    inspect_mem(size - 1u);
    CHECK_INT(rep.error, ==, UPD_ETRUNC);
}

static void test_truncated_gzip(void)
{
    upd_sha256_ops_init(&sha, &shactx);
    uint32_t size = make_gzip();
    CHECK_INT(inspect_mem(size), ==, 0);
    CHECK_INT(rep.kind, ==, UPD_KIND_GZIP);
    truncate_everywhere(size, 1);
    inspect_mem(1); /* 0x1F alone does not say gzip yet */
    CHECK_INT(rep.error, ==, UPD_ENOTIMAGE);
    for (uint32_t n = 2; n < 18; n++) {
        inspect_mem(n);
        CHECK_INT(rep.error, ==, UPD_EGZIP);
    }
}

/* ---- lying segment lengths, impossible counts ------------------------------------------ */

static void lie(uint32_t size, uint32_t len_at, uint32_t value, int esp32)
{
    uint8_t saved[4];
    memcpy(saved, img + len_at, 4);
    tw_put_le32(img + len_at, value);
    int rc = inspect_mem(size);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_REJECTED);
    CHECK(rc == UPD_ETRUNC || rc == UPD_EFORMAT);
    if (!esp32)
        CHECK(rep.kind == UPD_KIND_ESP8266_APP);
    if (rc != UPD_ETRUNC && rc != UPD_EFORMAT)
        printf("    length 0x%x at 0x%x: %s\n", (unsigned)value, (unsigned)len_at, rep.reason);
    check_prefixes_around(size, len_at);
    memcpy(img + len_at, saved, 4);
}

static void lie_all(uint32_t size, uint32_t len_at, int esp32)
{
    uint32_t data_off = len_at + 4u;
    lie(size, len_at, 0xFFFFFFFFu, esp32);
    lie(size, len_at, size, esp32);
    lie(size, len_at, size + 1u, esp32);
    lie(size, len_at, size - data_off + 1u, esp32); /* one past the end */
    lie(size, len_at, size - data_off, esp32);      /* to the end: no checksum */
    lie(size, len_at, 0u - data_off, esp32);        /* offset + len == 2^32 */
    lie(size, len_at, 0u - data_off + 16u, esp32);  /* wraps to 16 */
    lie(size, len_at, 0x80000000u, esp32);
    lie(size, len_at, 0xFFFFF000u, esp32);                             /* wraps to just below */
    lie(size, len_at, 0u - data_off + ((data_off / 2u) & ~3u), esp32); /* wraps into the file */
}

static void test_lying_lengths(void)
{
    upd_sha256_ops_init(&sha, &shactx);
    uint32_t size = make_arduino(TW_CRC_AT_1010, 2);
    uint32_t last = TW_ARDUINO_APP_OFF + 8u + 8u + ard_segs[0].len + 8u + ard_segs[1].len;
    lie_all(size, 12u, 0);                               /* eboot segment 0 */
    lie_all(size, 8u + 8u + TW_EBOOT2_SEG0_LEN + 4u, 0); /* eboot segment 1 */
    lie_all(size, TW_ARDUINO_APP_OFF + 12u, 0);          /* app segment 0 */
    lie_all(size, last + 4u, 0);                         /* app's last segment */
    CHECK_INT(inspect_mem(size), ==, 0);                 /* restored */

    size = make_esp32(1);
    uint32_t elast = 24u + 8u + e32_segs[0].len + 8u + e32_segs[1].len;
    lie_all(size, 28u, 1);
    lie_all(size, elast + 4u, 1);
    CHECK_INT(inspect_mem(size), ==, 0);
}

static void bad_count(uint32_t size, uint32_t at, uint8_t count)
{
    uint8_t saved = img[at];
    img[at] = count;
    int rc = inspect_mem(size);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_REJECTED);
    CHECK_INT(rc, ==, UPD_EFORMAT);
    if (rc != UPD_EFORMAT)
        printf("    count %u at 0x%x: %s\n", count, (unsigned)at, rep.reason);
    check_prefixes_around(size, at);
    img[at] = saved;
}

static void test_segment_counts(void)
{
    static const uint8_t counts[] = {0, 17, 255};
    upd_sha256_ops_init(&sha, &shactx);
    for (size_t i = 0; i < sizeof counts; i++) {
        uint32_t size = make_arduino(TW_CRC_AT_1010, 2);
        bad_count(size, 1, counts[i]);
        bad_count(size, TW_ARDUINO_APP_OFF + 1u, counts[i]);
        size = make_esp32(1);
        bad_count(size, 1, counts[i]);
    }
    /* 16 is allowed by the header, but these images have 3 or 2 segments */
    uint32_t size = make_arduino(TW_CRC_AT_1010, 2);
    img[TW_ARDUINO_APP_OFF + 1u] = 16;
    CHECK(inspect_mem(size) < 0);
    size = make_esp32(1);
    img[1] = 16;
    CHECK(inspect_mem(size) < 0);
}

/* ---- a bit flip in every byte ------------------------------------------------------------ */

enum expect {
    X_ANY = 0,  /* no claim beyond "no crash, consistent report" */
    X_REJECT,   /* any rejection */
    X_CHECKSUM, /* UPD_ECHECKSUM */
    X_CRC,      /* UPD_ECRC */
    X_HASH,     /* UPD_EHASH */
    X_CHK_OR_HASH
};

static unsigned flips_checked, flips_accepted;

static void flip_one(uint32_t size, uint32_t at, uint8_t bit, int expect, int prefixes)
{
    img[at] ^= bit;
    int rc = inspect_mem(size);
    int ok = 1;
    switch (expect) {
    case X_REJECT:
        ok = rep.verdict == UPD_VERDICT_REJECTED;
        break;
    case X_CHECKSUM:
        ok = rc == UPD_ECHECKSUM;
        break;
    case X_CRC:
        ok = rc == UPD_ECRC;
        break;
    case X_HASH:
        ok = rc == UPD_EHASH;
        break;
    case X_CHK_OR_HASH:
        ok = rc == UPD_ECHECKSUM || rc == UPD_EHASH;
        break;
    default:
        break;
    }
    CHECK(ok);
    if (!ok)
        printf("    flip 0x%02x at 0x%x (region %u): %s %s: %s\n", bit, (unsigned)at, map[at],
               upd_verdict_name(rep.verdict), upd_err_name(rc), rep.reason);
    if (rep.verdict != UPD_VERDICT_REJECTED) {
        flips_accepted++;
        CHECK_INT(rep.verdict, ==, UPD_VERDICT_OTA_APP);
    }
    flips_checked++;
    if (prefixes) {
        int before = upd_test__failed_checks;
        check_prefixes_around(size, at);
        if (upd_test__failed_checks != before)
            printf("    (after flip 0x%02x at 0x%x)\n", bit, (unsigned)at);
    }
    img[at] ^= bit;
}

/* What a flip at a byte of a small Arduino .bin must give. Without the core 3.x words
 * only segment data and checksums are covered (the device checks nothing else either);
 * with them, the CRC covers the whole file. */
static int arduino_expect(uint8_t region, int crc)
{
    switch (region) {
    case R_MAGIC:
    case R_COUNT:
        return X_REJECT;
    case R_DATA:
    case R_CHECKSUM:
        return crc ? X_CRC : X_CHECKSUM;
    case R_CRC_LEN: /* the words are no longer recognised: the XOR includes them */
        return X_CHECKSUM;
    case R_CRC_VAL:
        return X_CRC;
    case R_SEG_LEN:
        return crc ? X_REJECT : X_ANY;
    default: /* header fields, load addresses, padding, the 0xAA gap */
        return crc ? X_CRC : X_ANY;
    }
}

static void flip_arduino(int crc_place, unsigned eboot_segs)
{
    upd_sha256_ops_init(&sha, &shactx);
    uint32_t size = make_arduino(crc_place, eboot_segs);
    CHECK(size <= sizeof map);
    if (size > sizeof map)
        return;
    map_arduino(size, crc_place, eboot_segs);
    CHECK_INT(inspect_mem(size), ==, 0);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_OTA_APP);
    for (uint32_t at = 0; at < size; at++) {
        int crc = crc_place != TW_CRC_NONE;
        int x = arduino_expect(map[at], crc);
        if (crc_place == TW_CRC_AT_FF8 && map[at] == R_CRC_LEN)
            x = X_ANY; /* the words in eboot's padding stop being words; nothing else covers them */
        flip_one(size, at, (uint8_t)(1u << (at % 8u)), x, at % 61u == 0 || map[at] != R_DATA);
    }
}

static void test_flips_arduino_core2(void)
{
    flips_checked = flips_accepted = 0;
    flip_arduino(TW_CRC_NONE, 1);
    printf("    core 2.x .bin: %u flips, %u still accepted (headers, load addresses, padding)\n",
           flips_checked, flips_accepted);
}

static void test_flips_arduino_core3(void)
{
    flips_checked = flips_accepted = 0;
    flip_arduino(TW_CRC_AT_1010, 2);
    CHECK_INT(flips_accepted, ==, 0);
    flips_checked = flips_accepted = 0;
    flip_arduino(TW_CRC_AT_FF8, 2);
    printf("    core 3.x .bin (words at 0xFF8): %u flips, %u still accepted\n", flips_checked,
           flips_accepted);
}

static int esp32_expect(uint8_t region)
{
    switch (region) {
    case R_DATA: /* the app description too */
    case R_CHECKSUM:
        return X_CHECKSUM;
    case R_PAD:
    case R_SHA:
    case R_SEG_LOAD:
        return X_HASH;
    case R_HASHFLAG: /* 1 -> 0: an image without hash and 32 bytes of trailing data */
        return X_ANY;
    default:
        return X_REJECT;
    }
}

static void test_flips_esp32(void)
{
    upd_sha256_ops_init(&sha, &shactx);
    uint32_t size = make_esp32(1);
    CHECK(size <= sizeof map);
    if (size > sizeof map)
        return;
    memset(map, R_GAP, size);
    map_image(0, 24, e32_segs, E32_NSEG, 1);
    CHECK_INT(inspect_mem(size), ==, 0);
    flips_checked = flips_accepted = 0;
    for (uint32_t at = 0; at < size; at++)
        for (unsigned b = 0; b < 8; b += 3) /* three different bits of every byte */
            flip_one(size, at, (uint8_t)(1u << ((at + b) % 8u)), esp32_expect(map[at]),
                     b == 0 && (at % 17u == 0 || map[at] != R_DATA));
    CHECK_INT(flips_accepted, <=, 2); /* only the hash flag's 1 -> 0 */
    /* the app description fields: version, project, idf_ver, elf sha */
    static const uint32_t desc_at[] = {32, 36, 48, 60, 80, 144, 176, 200};
    for (size_t i = 0; i < sizeof desc_at / sizeof desc_at[0]; i++)
        flip_one(size, desc_at[i], 0x01, X_CHECKSUM, 1);
    /* without a SHA-256 provider a data flip is still the checksum, and a flip in the
     * SHA-256 goes unnoticed (reported as not checked) */
    memset(&sha, 0, sizeof sha);
    flip_one(size, 300, 0x40, X_CHECKSUM, 0);
    flip_one(size, size - 5u, 0x40, X_ANY, 0);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_OTA_APP);
    CHECK(rep.notes & UPD_NOTE_HASH_UNCHECKED);
    upd_sha256_ops_init(&sha, &shactx);
}

/* ---- valid images through a non-memory source, and a failing source ----------------- */

typedef struct cb_ctx {
    const uint8_t *data;
    uint32_t calls;
    uint32_t fail_at; /* the call number that fails (1-based), 0: never */
    int fail_short;   /* fail by returning fewer bytes instead of an error */
    int failed;
} cb_ctx;
static cb_ctx cbx;

static int cb_read(const upd_source *src, uint32_t off, void *buf, uint32_t len)
{
    cb_ctx *c = src->ctx;
    c->calls++;
    if (c->fail_at && c->calls == c->fail_at) {
        c->failed = 1;
        if (c->fail_short)
            return len ? (int)(len - 1) : -1;
        return UPD_EIO;
    }
    if (off >= src->avail)
        return 0;
    if (len > src->avail - off)
        len = src->avail - off;
    memcpy(buf, c->data + off, len);
    return (int)len;
}

static int inspect_cb(uint32_t avail, uint32_t size, uint32_t fail_at, int fail_short)
{
    upd_source src;
    memset(&cbx, 0, sizeof cbx);
    cbx.data = img;
    cbx.fail_at = fail_at;
    cbx.fail_short = fail_short;
    src.read = cb_read;
    src.ctx = &cbx;
    src.size = size;
    src.avail = avail;
    int rc = upd_image_inspect(&src, &sha, &rep2);
    check_report(rc, &rep2, size, avail);
    return rc;
}

/* Memory report in rep, callback report in rep2: identical, byte for byte. */
static void same_as_memory(uint32_t avail, uint32_t size)
{
    inspect_prefix(avail, size, &rep);
    inspect_cb(avail, size, 0, 0);
    CHECK(memcmp(&rep, &rep2, sizeof rep) == 0);
    if (memcmp(&rep, &rep2, sizeof rep) != 0)
        printf("    %u of %u: memory: %s / callback: %s\n", (unsigned)avail, (unsigned)size,
               rep.reason, rep2.reason);
}

static void same_for_all_prefixes(uint32_t size)
{
    uint32_t step = size > 1024 ? 61u : 7u;
    for (uint32_t a = 0; a < size; a += step)
        same_as_memory(a, size);
    same_as_memory(size - 1u, size);
    same_as_memory(size, size);
}

static void test_callback_source(void)
{
    upd_sha256_ops_init(&sha, &shactx);
    uint32_t size = make_arduino(TW_CRC_AT_1010, 2);
    same_for_all_prefixes(size);
    for (uint32_t n = 0; n <= size; n += 13)
        same_as_memory(n, n); /* truncated files too */
    size = make_arduino(TW_CRC_NONE, 1);
    same_for_all_prefixes(size);
    size = make_arduino(TW_CRC_AT_FF8, 2);
    same_for_all_prefixes(size);
    size = make_esp32(1);
    same_for_all_prefixes(size);
    size = make_esp32(0);
    same_for_all_prefixes(size);
    size = make_gzip();
    same_for_all_prefixes(size);
    size = make_littlefs(8192);
    same_as_memory(size, size);
    /* a damaged one as well */
    size = make_arduino(TW_CRC_AT_1010, 2);
    img[0x1030] ^= 4;
    same_as_memory(size, size);
    CHECK_INT(rep2.error, ==, UPD_ECRC);
}

/* A source whose read fails (an error, or fewer bytes than asked) at call k: the
 * inspection ends with UPD_EIO. */
static unsigned eio_swallowed;

static void failing_reads(uint32_t size, const char *what)
{
    inspect_cb(size, size, 0, 0);
    uint32_t total = cbx.calls;
    CHECK(total > 0);
    for (int shrt = 0; shrt < 2; shrt++) {
        for (uint32_t k = 1; k <= total + 1; k++) {
            int rc = inspect_cb(size, size, k, shrt);
            if (!cbx.failed) {
                CHECK(k > total);
                continue;
            }
            if (k == 1)
                CHECK_INT(rc, ==, UPD_EIO);
            if (rc != UPD_EIO) {
                /* the inspector went on after a failed read (see the report) */
                eio_swallowed++;
                CHECK(rep2.verdict != UPD_VERDICT_OTA_APP || rc == 0);
#if 0
                /* image.h: "A read error of the source gives UPD_EIO." */
                CHECK_INT(rc, ==, UPD_EIO);
#endif
                printf("    %s: read %u of %u failed (%s), result %s: %s\n", what, (unsigned)k,
                       (unsigned)total, shrt ? "short" : "error", upd_err_name(rc), rep2.reason);
            } else {
                CHECK_INT(rep2.verdict, ==, UPD_VERDICT_REJECTED);
            }
        }
    }
}

static void test_failing_source(void)
{
    upd_sha256_ops_init(&sha, &shactx);
    eio_swallowed = 0;
    failing_reads(make_arduino(TW_CRC_AT_1010, 2), "core 3.x .bin");
    failing_reads(make_arduino(TW_CRC_NONE, 1), "core 2.x .bin");
    failing_reads(make_esp32(1), "ESP32 app");
    failing_reads(make_gzip(), "gzip");
    failing_reads(make_littlefs(8192), "LittleFS");
    printf("    %u failed reads did not end in UPD_EIO\n", eio_swallowed);
    CHECK_INT(eio_swallowed, ==, 0);
    /* no source, no report, no read function */
    upd_source src;
    upd_source_init_mem(&src, img, 64);
    CHECK_INT(upd_image_inspect(NULL, &sha, &rep), ==, UPD_EINVAL);
    CHECK_INT(upd_image_inspect(&src, &sha, NULL), ==, UPD_EINVAL);
    src.read = NULL;
    CHECK_INT(upd_image_inspect(&src, &sha, &rep), ==, UPD_EINVAL);
}

static void test_prefixes_of_valid_images(void)
{
    upd_sha256_ops_init(&sha, &shactx);
    uint32_t size = make_arduino(TW_CRC_AT_1010, 2);
    CHECK_INT(inspect_mem(size), ==, 0);
    for (uint32_t a = 0; a <= size; a++)
        check_prefix_at(a, size);
    size = make_esp32(1);
    CHECK_INT(inspect_mem(size), ==, 0);
    for (uint32_t a = 0; a <= size; a++)
        check_prefix_at(a, size);
    size = make_gzip();
    CHECK_INT(inspect_mem(size), ==, 0);
    for (uint32_t a = 0; a <= size; a += 3)
        check_prefix_at(a, size);
}

/* A valid ESP32-C3 image that says "min revision 0.3" (bytes 12..15 = 05 00 00 03):
 * every prefix must be INCOMPLETE, the whole file accepted. */
static void test_esp32_short_prefix(void)
{
    tw_esp32_opts o;
    memset(&o, 0, sizeof o);
    o.chip_id = UPD_CHIP_ESP32C3;
    o.mode = 2;
    o.size_freq = 0x20;
    o.entry = 0x40380000u;
    o.segs = e32_segs;
    o.nseg = E32_NSEG;
    o.hash_appended = 1;
    o.app_desc = 1;
    o.min_rev_full = 3;
    o.max_rev_full = 199;
    upd_sha256_ops_init(&sha, &shactx);
    int32_t n = tw_esp32_image(img, sizeof img, &o);
    CHECK(n > 0);
    if (n <= 0)
        return;
    uint32_t size = (uint32_t)n;
    CHECK_INT(inspect_mem(size), ==, 0);
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_OTA_APP);
    CHECK_INT(rep.chip, ==, UPD_CHIP_ESP32C3);
    for (uint32_t a = 0; a <= size; a++)
        check_prefix_at(a, size);
    for (uint32_t a = 0; a < size; a++) {
        inspect_prefix(a, size, &rep2);
        CHECK_INT(rep2.verdict, ==, UPD_VERDICT_INCOMPLETE);
    }
}

static void test_count(void)
{
    printf("    %lu inspections\n", inspections);
    CHECK(inspections > 10000);
}

int main(void)
{
    RUN(test_truncated_arduino);
    RUN(test_truncated_esp32);
    RUN(test_truncated_gzip);
    RUN(test_lying_lengths);
    RUN(test_segment_counts);
    RUN(test_flips_arduino_core2);
    RUN(test_flips_arduino_core3);
    RUN(test_flips_esp32);
    RUN(test_prefixes_of_valid_images);
    RUN(test_esp32_short_prefix);
    RUN(test_callback_source);
    RUN(test_failing_source);
    RUN(test_count);
    return upd_test_summary();
}
