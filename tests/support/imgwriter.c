/* Synthetic firmware image writer for tests: see imgwriter.h.
 *
 * Everything here is written from the format descriptions in shared/spec, on purpose
 * without any help from the project's inspector. Every writer first works out the whole
 * length it needs and returns -1 before touching the buffer if that exceeds cap, so
 * nothing is ever written at or beyond buf[cap]. */
#include "imgwriter.h"

#include <string.h>

void tw_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

void tw_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* ---- pseudo-random fill -------------------------------------------------------------- */

void tw_fill(uint8_t *buf, uint32_t len, uint32_t seed)
{
    /* xorshift32 on a scrambled seed; the state is never zero. */
    uint32_t x = seed * 0x9E3779B9u + 0x6D2B79F5u;
    if (x == 0)
        x = 0x2545F491u;
    for (uint32_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)(x >> 24);
    }
}

/* ---- size arithmetic that cannot overflow -------------------------------------------- */

/* *acc += v; returns 0 (and leaves *acc alone) if *acc or the sum would pass INT32_MAX
 * (the writers return int32_t lengths). */
static int add_len(uint32_t *acc, uint32_t v)
{
    if (*acc > 0x7FFFFFFFu || v > 0x7FFFFFFFu - *acc)
        return 0;
    *acc += v;
    return 1;
}

/* ---- esptool images (ESP8266 v1 and ESP32 share the body) ---------------------------- */

/* Where an image of hdr_len header bytes and these segments ends, counted from the image
 * start; 0 if absurd. The checksum is the last byte of the 16-byte block that follows
 * the segment data (15 bytes of padding if the data already ends on a boundary). */
static uint32_t esp_image_len(uint32_t hdr_len, const tw_seg *segs, unsigned nseg)
{
    uint32_t n = hdr_len;
    for (unsigned i = 0; i < nseg; i++) {
        if (!add_len(&n, 8) || !add_len(&n, segs[i].len))
            return 0;
    }
    if (!add_len(&n, 16))
        return 0;
    return n & ~(uint32_t)15;
}

/* Write segment headers and tw_fill data after the header at img[hdr_len]; zero the
 * padding. The checksum byte is written separately (esp_image_checksum). */
static void esp_image_body(uint8_t *img, uint32_t hdr_len, uint32_t total, const tw_seg *segs,
                           unsigned nseg)
{
    uint32_t p = hdr_len;
    for (unsigned i = 0; i < nseg; i++) {
        tw_put_le32(img + p, segs[i].load);
        tw_put_le32(img + p + 4, segs[i].len);
        tw_fill(img + p + 8, segs[i].len, segs[i].seed);
        p += 8 + segs[i].len;
    }
    memset(img + p, 0, total - p);
}

/* 0xEF XOR every segment data byte (headers excluded); stores it as the last byte. */
static void esp_image_checksum(uint8_t *img, uint32_t hdr_len, uint32_t total, unsigned nseg)
{
    uint8_t x = 0xEF;
    uint32_t p = hdr_len;
    for (unsigned i = 0; i < nseg; i++) {
        uint32_t len = (uint32_t)img[p + 4] | (uint32_t)img[p + 5] << 8 |
                       (uint32_t)img[p + 6] << 16 | (uint32_t)img[p + 7] << 24;
        p += 8;
        for (uint32_t k = 0; k < len; k++)
            x ^= img[p + k];
        p += len;
    }
    img[total - 1] = x;
}

static void esp8266_header(uint8_t *img, unsigned nseg, uint8_t mode, uint8_t size_freq,
                           uint32_t entry)
{
    img[0] = 0xE9;
    img[1] = (uint8_t)nseg;
    img[2] = mode;
    img[3] = size_freq;
    tw_put_le32(img + 4, entry);
}

int32_t tw_esp8266_image(uint8_t *buf, uint32_t cap, uint32_t off, uint8_t mode, uint8_t size_freq,
                         uint32_t entry, const tw_seg *segs, unsigned nseg)
{
    if (buf == NULL || (nseg > 0 && segs == NULL) || nseg > 255)
        return -1;
    uint32_t len = esp_image_len(8, segs, nseg);
    uint32_t end = off;
    if (len == 0 || !add_len(&end, len) || end > cap)
        return -1;
    uint8_t *img = buf + off;
    esp8266_header(img, nseg, mode, size_freq, entry);
    esp_image_body(img, 8, len, segs, nseg);
    esp_image_checksum(img, 8, len, nseg);
    return (int32_t)end;
}

/* ---- CRCs ----------------------------------------------------------------------------- */

uint32_t tw_crc32_mpeg2(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint32_t)p[i] << 24;
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x80000000u) ? (crc << 1) ^ 0x04C11DB7u : crc << 1;
    }
    return crc;
}

uint32_t tw_crc32(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1u) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
    }
    return ~crc;
}

/* ---- the Arduino .bin ------------------------------------------------------------------ */

int32_t tw_arduino_bin(uint8_t *buf, uint32_t cap, const tw_arduino_opts *o)
{
    if (buf == NULL || o == NULL || (o->app_nseg > 0 && o->app_segs == NULL) || o->app_nseg > 255)
        return -1;
    if (o->eboot_segments != 1 && o->eboot_segments != 2)
        return -1;
    if (o->crc_place != TW_CRC_NONE && o->crc_place != TW_CRC_AT_1010 &&
        o->crc_place != TW_CRC_AT_FF8)
        return -1;
    if (o->crc_place == TW_CRC_AT_1010 && (o->app_nseg == 0 || o->app_segs[0].len < 8))
        return -1;

    tw_seg eboot[2];
    uint32_t eboot_entry;
    if (o->eboot_segments == 1) {
        eboot[0] = (tw_seg){TW_EBOOT_LOAD, TW_EBOOT1_SEG0_LEN, TW_EBOOT_SEED};
        eboot_entry = TW_EBOOT1_ENTRY;
    } else {
        eboot[0] = (tw_seg){TW_EBOOT_LOAD, TW_EBOOT2_SEG0_LEN, TW_EBOOT_SEED};
        eboot[1] = (tw_seg){TW_EBOOT_DRAM_LOAD, TW_EBOOT2_SEG1_LEN, TW_EBOOT_SEED + 1};
        eboot_entry = TW_EBOOT2_ENTRY;
    }

    uint32_t app_len = esp_image_len(8, o->app_segs, o->app_nseg);
    uint32_t end = TW_ARDUINO_APP_OFF;
    if (app_len == 0 || !add_len(&end, app_len) || end > cap)
        return -1;

    /* eboot at 0, 0xAA up to the app. */
    uint32_t eboot_len = esp_image_len(8, eboot, o->eboot_segments);
    esp8266_header(buf, o->eboot_segments, o->mode, o->size_freq, eboot_entry);
    esp_image_body(buf, 8, eboot_len, eboot, o->eboot_segments);
    esp_image_checksum(buf, 8, eboot_len, o->eboot_segments);
    memset(buf + eboot_len, 0xAA, TW_ARDUINO_APP_OFF - eboot_len);

    /* The app. With the words at 0x1010 they are zero in the ELF (__crc_len, __crc_val),
     * so they are zero when the XOR checksum is computed and patched afterwards. */
    uint8_t *app = buf + TW_ARDUINO_APP_OFF;
    esp8266_header(app, o->app_nseg, o->mode, o->size_freq, TW_ARDUINO_APP_ENTRY);
    esp_image_body(app, 8, app_len, o->app_segs, o->app_nseg);
    uint32_t at = 0;
    if (o->crc_place == TW_CRC_AT_1010)
        at = TW_ARDUINO_CRC_1010;
    else if (o->crc_place == TW_CRC_AT_FF8)
        at = TW_ARDUINO_CRC_FF8;
    if (at != 0)
        memset(buf + at, 0, 8);
    esp_image_checksum(app, 8, app_len, o->app_nseg);

    if (at != 0) {
        /* CRC over the whole file with the 8 bytes still zero, then store both words. */
        uint32_t crc = tw_crc32_mpeg2(0xFFFFFFFFu, buf, end);
        tw_put_le32(buf + at, end);
        tw_put_le32(buf + at + 4, crc);
    }
    return (int32_t)end;
}

/* ---- ESP32-family images --------------------------------------------------------------- */

/* Copy a C string into a zeroed field of n bytes, keeping the last byte NUL. */
static void put_str(uint8_t *field, size_t n, const char *s)
{
    if (s == NULL)
        return;
    size_t l = strlen(s);
    if (l > n - 1)
        l = n - 1;
    memcpy(field, s, l);
}

#define TW_APP_DESC_LEN 256u

static void esp32_app_desc(uint8_t *d, const tw_esp32_opts *o, uint32_t seed)
{
    memset(d, 0, TW_APP_DESC_LEN);
    tw_put_le32(d + 0, 0xABCD5432u);
    tw_put_le32(d + 4, o->secure_version);
    put_str(d + 16, 32, o->version);
    put_str(d + 48, 32, o->project);
    put_str(d + 80, 16, "12:34:56");
    put_str(d + 96, 16, "Jan  2 2025");
    put_str(d + 112, 32, o->idf_ver);
    tw_fill(d + 144, 32, seed ^ 0x5EA256u); /* app_elf_sha256: some non-zero bytes */
}

int32_t tw_esp32_image(uint8_t *buf, uint32_t cap, const tw_esp32_opts *o)
{
    if (buf == NULL || o == NULL || (o->nseg > 0 && o->segs == NULL) || o->nseg > 255)
        return -1;
    if (o->app_desc && (o->nseg == 0 || o->segs[0].len < TW_APP_DESC_LEN))
        return -1;
    uint32_t len = esp_image_len(24, o->segs, o->nseg);
    uint32_t end = len;
    if (len == 0 || (o->hash_appended && !add_len(&end, 32)) || end > cap)
        return -1;

    buf[0] = 0xE9;
    buf[1] = (uint8_t)o->nseg;
    buf[2] = o->mode;
    buf[3] = o->size_freq;
    tw_put_le32(buf + 4, o->entry);
    buf[8] = 0xEE;                              /* wp pin: disabled */
    buf[9] = buf[10] = buf[11] = 0;             /* spi pin drive */
    tw_put_le16(buf + 12, o->chip_id);          /* chip id */
    buf[14] = (uint8_t)(o->min_rev_full / 100); /* legacy min revision = major */
    tw_put_le16(buf + 15, o->min_rev_full);
    tw_put_le16(buf + 17, o->max_rev_full);
    memset(buf + 19, 0, 4); /* reserved */
    buf[23] = o->hash_appended ? 1 : 0;

    esp_image_body(buf, 24, len, o->segs, o->nseg);
    if (o->app_desc)
        esp32_app_desc(buf + 32, o, o->segs[0].seed);
    esp_image_checksum(buf, 24, len, o->nseg);
    if (o->hash_appended)
        tw_sha256(buf, len, buf + len);
    return (int32_t)end;
}

/* ---- gzip with stored deflate blocks -------------------------------------------------- */

int32_t tw_gzip_store(uint8_t *out, uint32_t cap, const uint8_t *in, uint32_t len,
                      const char *fname)
{
    if (out == NULL || (len > 0 && in == NULL))
        return -1;
    uint32_t flen = 0;
    if (fname != NULL) {
        size_t l = strlen(fname);
        if (l > 0xFFFFu)
            return -1;
        flen = (uint32_t)l + 1;
    }
    uint32_t nblocks = len / 65535u + (len % 65535u != 0);
    if (nblocks == 0)
        nblocks = 1; /* an empty input still needs one (final, empty) block */
    uint32_t need = 10;
    if (!add_len(&need, flen) || !add_len(&need, len) || nblocks > 0x7FFFFFFFu / 5 ||
        !add_len(&need, nblocks * 5) || !add_len(&need, 8) || need > cap)
        return -1;

    uint8_t *p = out;
    p[0] = 0x1F;
    p[1] = 0x8B;
    p[2] = 8;                        /* CM: deflate */
    p[3] = fname != NULL ? 0x08 : 0; /* FLG: FNAME */
    tw_put_le32(p + 4, 0);           /* MTIME: none */
    p[8] = 0;                        /* XFL */
    p[9] = 3;                        /* OS: Unix */
    p += 10;
    if (fname != NULL) {
        memcpy(p, fname, flen); /* with its NUL */
        p += flen;
    }
    uint32_t left = len;
    const uint8_t *src = in;
    do {
        uint16_t n = left > 65535u ? 65535u : (uint16_t)left;
        left -= n;
        p[0] = left == 0 ? 1 : 0; /* BFINAL, BTYPE 00, then byte alignment */
        tw_put_le16(p + 1, n);
        tw_put_le16(p + 3, (uint16_t)~n);
        p += 5;
        if (n > 0) {
            memcpy(p, src, n);
            p += n;
            src += n;
        }
    } while (left > 0);
    tw_put_le32(p, tw_crc32(0, in, len));
    tw_put_le32(p + 4, len);
    p += 8;
    return (int32_t)(p - out);
}

/* ---- one-shot hashes (the device crypto library's, src/client/crypto) ---------------- */

void tw_sha256(const void *data, size_t len, uint8_t out[32])
{
    upd_sha256 c;
    upd_sha256_init(&c);
    upd_sha256_update(&c, data, len);
    upd_sha256_final(&c, out);
}

void tw_md5(const void *data, size_t len, uint8_t out[16])
{
    upd_md5 c;
    upd_md5_init(&c);
    upd_md5_update(&c, data, len);
    upd_md5_final(&c, out);
}
