/* The block framing MD5 and SHA-256 share (mdframe.h). */
#include "mdframe.h"

void upd__md_update(const upd__md_frame *f, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t lo = *f->len_lo + (uint32_t)len;
    *f->len_hi += (lo < *f->len_lo) + (uint32_t)((uint64_t)len >> 32);
    *f->len_lo = lo;
    uint32_t fill = *f->fill;
    if (fill) {
        while (len && fill < 64) {
            f->buf[fill++] = *p++;
            len--;
        }
        if (fill < 64) {
            *f->fill = fill;
            return;
        }
        f->block(f->h, f->buf);
        fill = 0;
    }
    for (; len >= 64; p += 64, len -= 64)
        f->block(f->h, p);
    while (len--)
        f->buf[fill++] = *p++;
    *f->fill = fill;
}

void upd__md_final(const upd__md_frame *f, int big_endian)
{
    uint32_t hi = *f->len_hi << 3 | *f->len_lo >> 29, lo = *f->len_lo << 3;
    uint32_t fill = *f->fill;
    f->buf[fill++] = 0x80;
    if (fill > 56) {
        while (fill < 64)
            f->buf[fill++] = 0;
        f->block(f->h, f->buf);
        fill = 0;
    }
    while (fill < 56)
        f->buf[fill++] = 0;
    for (unsigned i = 0; i < 4; i++) {
        uint8_t lo_byte = (uint8_t)(lo >> 8 * i), hi_byte = (uint8_t)(hi >> 8 * i);
        if (big_endian) {
            f->buf[63 - i] = lo_byte;
            f->buf[59 - i] = hi_byte;
        } else {
            f->buf[56 + i] = lo_byte;
            f->buf[60 + i] = hi_byte;
        }
    }
    f->block(f->h, f->buf);
    *f->fill = 0;
}
