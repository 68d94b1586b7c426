/* PostgreSQL array literals (pgarray.h). The grammar (PostgreSQL's docs, "Array Value
 * Input"): '{' elements separated by ',' '}'; an element in double quotes may hold
 * anything, with '"' and '\' escaped by a '\'; an unquoted NULL is SQL NULL. Every
 * string is quoted, so "NULL", "", braces, commas and spaces stay what they are. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgarray.h"
#include "utf8.h"

void upd__pgarr_init(upd_pgarr *a)
{
    memset(a, 0, sizeof *a);
}

void upd__pgarr_clear(upd_pgarr *a)
{
    a->len = 0;
    a->n = 0;
    a->failed = 0;
}

void upd__pgarr_free(upd_pgarr *a)
{
    free(a->buf);
    upd__pgarr_init(a);
}

/* Room for need more bytes (and the closing "}" and NUL); 0 when memory ran out. */
static int room(upd_pgarr *a, size_t need)
{
    if (a->failed)
        return 0;
    if (a->len + need + 2 <= a->cap)
        return 1;
    size_t cap = a->cap ? a->cap : 256;
    while (cap < a->len + need + 2)
        cap *= 2;
    char *p = realloc(a->buf, cap);
    if (!p) {
        a->failed = 1;
        return 0;
    }
    a->buf = p;
    a->cap = cap;
    return 1;
}

/* The separator before an element (the opening brace before the first). */
static void sep(upd_pgarr *a)
{
    a->buf[a->len++] = a->n++ ? ',' : '{';
}

void upd__pgarr_null(upd_pgarr *a)
{
    if (!room(a, 5))
        return;
    sep(a);
    memcpy(a->buf + a->len, "NULL", 4);
    a->len += 4;
}

void upd__pgarr_str(upd_pgarr *a, const char *s)
{
    if (!s) {
        upd__pgarr_null(a);
        return;
    }
    /* at worst every byte escaped, plus the separator and the quotes */
    if (!room(a, 2 * strlen(s) + 3))
        return;
    sep(a);
    char *o = a->buf + a->len;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int k = upd_utf8_seq(p);
        if (k == 0) {
            *o++ = '?';
            p++;
            continue;
        }
        if (*p == '"' || *p == '\\')
            *o++ = '\\';
        memcpy(o, p, (size_t)k);
        o += k;
        p += k;
    }
    *o++ = '"';
    a->len = (size_t)(o - a->buf);
}

void upd__pgarr_str_or_null(upd_pgarr *a, const char *s)
{
    upd__pgarr_str(a, s && *s ? s : NULL);
}

void upd__pgarr_int(upd_pgarr *a, int64_t v)
{
    if (!room(a, 22))
        return;
    sep(a);
    a->len += (size_t)snprintf(a->buf + a->len, 22, "%" PRId64, v);
}

void upd__pgarr_int_or_null(upd_pgarr *a, int64_t v)
{
    if (v < 0)
        upd__pgarr_null(a);
    else
        upd__pgarr_int(a, v);
}

const char *upd__pgarr_text(upd_pgarr *a)
{
    if (!room(a, 1))
        return NULL;
    if (a->n == 0)
        a->buf[a->len] = '{';
    /* "}" after the elements, not kept: more may be appended after this call */
    char *end = a->buf + a->len + (a->n == 0);
    end[0] = '}';
    end[1] = '\0';
    return a->buf;
}
