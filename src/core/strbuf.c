/* Message formatting without stdio: see strbuf.h. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

struct sb {
    char *buf;
    size_t cap, len;
};

static void sb_putc(struct sb *b, char c)
{
    if (b->len + 1 < b->cap)
        b->buf[b->len++] = c;
}

static void sb_puts(struct sb *b, const char *s)
{
    while (*s)
        sb_putc(b, *s++);
}

static void sb_putu(struct sb *b, unsigned v, unsigned base, int upper)
{
    char tmp[12];
    int n = 0;
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    while (n)
        sb_putc(b, tmp[--n]);
}

/* Sizes: whole MiB as such, below 10 KiB in bytes, then KiB (whole), then MiB with one
 * decimal. */
static void sb_putsize(struct sb *b, unsigned v)
{
    if (v >= 1048576u && v % 1048576u == 0) {
        sb_putu(b, v / 1048576u, 10, 0);
        sb_puts(b, " MiB");
    } else if (v < 10240u) {
        sb_putu(b, v, 10, 0);
        sb_puts(b, v == 1 ? " byte" : " bytes");
    } else if (v < 10u * 1024u * 1024u) {
        sb_putu(b, (v + 512u) / 1024u, 10, 0);
        sb_puts(b, " KiB");
    } else {
        unsigned tenths = (unsigned)(((uint32_t)v / 1024u * 10u + 512u) / 1024u);
        sb_putu(b, tenths / 10u, 10, 0);
        sb_putc(b, '.');
        sb_putu(b, tenths % 10u, 10, 0);
        sb_puts(b, " MiB");
    }
}

static void sb_vfmt(struct sb *b, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            sb_putc(b, *fmt);
            continue;
        }
        fmt++;
        switch (*fmt) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            sb_puts(b, s ? s : "(null)");
            break;
        }
        case 'u':
            sb_putu(b, va_arg(ap, unsigned), 10, 0);
            break;
        case 'd': {
            int v = va_arg(ap, int);
            if (v < 0) {
                sb_putc(b, '-');
                sb_putu(b, 0u - (unsigned)v, 10, 0);
            } else {
                sb_putu(b, (unsigned)v, 10, 0);
            }
            break;
        }
        case 'x':
            sb_putu(b, va_arg(ap, unsigned), 16, 0);
            break;
        case 'X':
            sb_putu(b, va_arg(ap, unsigned), 16, 1);
            break;
        case 'c':
            sb_putc(b, (char)va_arg(ap, int));
            break;
        case 'K':
            sb_putsize(b, va_arg(ap, unsigned));
            break;
        case '%':
            sb_putc(b, '%');
            break;
        case '\0':
            fmt--;
            break;
        default:
            sb_putc(b, '%');
            sb_putc(b, *fmt);
            break;
        }
    }
    if (b->cap)
        b->buf[b->len] = '\0';
}

size_t upd__fmt(char *buf, size_t cap, const char *fmt, ...)
{
    struct sb b = {buf, cap, 0};
    va_list ap;
    va_start(ap, fmt);
    sb_vfmt(&b, fmt, ap);
    va_end(ap);
    return b.len;
}

size_t upd__fmt_append(char *buf, size_t cap, const char *fmt, ...)
{
    size_t have = 0;
    while (have < cap && buf[have])
        have++;
    if (have >= cap)
        return have;
    struct sb b = {buf, cap, have};
    va_list ap;
    va_start(ap, fmt);
    sb_vfmt(&b, fmt, ap);
    va_end(ap);
    return b.len;
}
