/* Version ordering (docs/versions.md has the rules with examples).
 *
 * Each string is parsed once into regions of its trimmed text (no copies); the
 * comparison is then a lexicographic comparison of keys built from those regions:
 *
 *   class (empty < opaque < structured), then for opaque strings their bytes; for
 *   structured ones: release numbers, pre-release (absent sorts last), git-describe
 *   distance (absent sorts first), metadata (natural order), metadata (exact bytes).
 *
 * Every stage is a total preorder that depends on one string only, so the whole is
 * a total order whose "equal" means "same key". Numbers are compared as digit strings,
 * so they never overflow. */
#include "updraft/version.h"

#include <stddef.h>
#include <string.h>

enum { VK_EMPTY, VK_OPAQUE, VK_STRUCTURED };

/* A parsed version: offsets into the trimmed text s[0..n). Empty regions are absent. */
struct vparse {
    const char *s;
    size_t n;
    int kind;
    size_t rel_end;              /* release: s[0..rel_end), numbers are its digit runs */
    size_t split_beg, split_end; /* compact time (20240305-1236): read in 2-digit groups */
    size_t pre_beg, pre_end;     /* pre-release */
    size_t post_beg, post_end;   /* git describe distance N of "-N-g<hash>" */
    size_t meta_beg, meta_end;   /* what follows the release and pre-release ("+b5") */
    size_t meta2_beg;            /* git hash and "-dirty": s[meta2_beg..n) */
};

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnum(unsigned char c)
{
    return is_digit(c) || is_alpha(c);
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

/* End of the run of digits that starts at i (i itself if s[i] is no digit). */
static size_t digits_end(const char *s, size_t i, size_t e)
{
    while (i < e && is_digit((unsigned char)s[i]))
        i++;
    return i;
}

/* Value of the two digits at s[i] (the caller checked they are digits). */
static unsigned two_digits(const char *s, size_t i)
{
    return (unsigned)(s[i] - '0') * 10u + (unsigned)(s[i + 1] - '0');
}

/* Exactly `count` digits at s[i..), within e. */
static int digits_at(const char *s, size_t i, size_t e, size_t count)
{
    return i + count <= e && digits_end(s, i, i + count) == i + count;
}

/* Compares two digit strings by value: leading zeros skipped, longer is larger. */
static int cmp_digits(const char *a, size_t al, const char *b, size_t bl)
{
    while (al > 0 && *a == '0') {
        a++;
        al--;
    }
    while (bl > 0 && *b == '0') {
        b++;
        bl--;
    }
    if (al != bl)
        return al < bl ? -1 : 1;
    return al ? sign(memcmp(a, b, al)) : 0;
}

/* Compares bytes as unsigned, a proper prefix first. */
static int cmp_bytes(const char *a, size_t al, const char *b, size_t bl)
{
    size_t m = al < bl ? al : bl;
    int c = m ? memcmp(a, b, m) : 0;
    if (c != 0)
        return sign(c);
    return (al > bl) - (al < bl);
}

/* "YYYY-MM-DD" at the start (month 01-12, day 01-31, no digit after); then an optional
 * time "[T _]HH:MM[:SS][Z]". Returns the end of what it accepted, 0 if no date. */
static size_t parse_iso_date(const char *s, size_t e)
{
    size_t j;
    unsigned mo, d;
    if (!(digits_at(s, 0, e, 4) && 4 < e && s[4] == '-' && digits_at(s, 5, e, 2) && 7 < e &&
          s[7] == '-' && digits_at(s, 8, e, 2) && digits_end(s, 10, e) == 10))
        return 0;
    mo = two_digits(s, 5);
    d = two_digits(s, 8);
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return 0;
    if (!(10 < e && (s[10] == 'T' || s[10] == 't' || s[10] == ' ' || s[10] == '_') &&
          digits_at(s, 11, e, 2) && 13 < e && s[13] == ':' && digits_at(s, 14, e, 2)))
        return 10;
    if (two_digits(s, 11) > 23 || two_digits(s, 14) > 59)
        return 10;
    j = 16;
    if (j < e && s[j] == ':' && digits_at(s, j + 1, e, 2) && two_digits(s, j + 1) <= 60)
        j += 3;
    if (digits_end(s, j, e) != j)
        return 10;
    if (j < e && (s[j] == 'Z' || s[j] == 'z') && (j + 1 == e || !is_alnum((unsigned char)s[j + 1])))
        j++;
    return j;
}

/* "YYYYMMDD[-T_]HHMM[SS]" at the start, as build stamps write it. Returns the end of
 * the time digits, 0 if the text does not have this shape. */
static size_t parse_compact_stamp(const char *s, size_t e)
{
    size_t t;
    unsigned mo, d;
    if (!(digits_at(s, 0, e, 8) && 8 < e &&
          (s[8] == '-' || s[8] == 'T' || s[8] == 't' || s[8] == '_')))
        return 0;
    t = digits_end(s, 9, e);
    if (t - 9 != 4 && t - 9 != 6)
        return 0;
    mo = two_digits(s, 4);
    d = two_digits(s, 6);
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || two_digits(s, 9) > 23 || two_digits(s, 11) > 59)
        return 0;
    if (t - 9 == 6 && two_digits(s, 13) > 60)
        return 0;
    return t;
}

/* Removes a "-N-g<4..40 hex>" git describe suffix from s[0..*e): records N and where
 * the hash starts (it becomes metadata). */
static void strip_git_describe(struct vparse *p, size_t *e)
{
    const char *s = p->s;
    size_t end = *e, h = end, dash, nb;
    while (h > 0 && is_hex((unsigned char)s[h - 1]))
        h--;
    if (end - h < 4 || end - h > 40 || h < 2 || s[h - 1] != 'g' || s[h - 2] != '-')
        return;
    dash = h - 2;
    nb = dash;
    while (nb > 0 && is_digit((unsigned char)s[nb - 1]))
        nb--;
    if (nb == dash || nb < 2 || s[nb - 1] != '-')
        return;
    p->post_beg = nb;
    p->post_end = dash;
    p->meta2_beg = h - 1;
    *e = nb - 1;
}

/* Splits s[0..len) (stopping at a NUL) into the regions of struct vparse. */
static void vparse(struct vparse *p, const char *s, size_t len)
{
    size_t n = 0, e, i, j;
    memset(p, 0, sizeof *p);
    if (s == NULL)
        len = 0;
    while (n < len && s[n] != '\0')
        n++;
    while (n > 0 && is_space((unsigned char)s[0])) {
        s++;
        n--;
    }
    while (n > 0 && is_space((unsigned char)s[n - 1]))
        n--;
    if (n >= 2 && (s[0] == 'v' || s[0] == 'V') && is_digit((unsigned char)s[1])) {
        s++;
        n--;
    }
    p->s = s;
    p->n = n;
    if (n == 0) {
        p->kind = VK_EMPTY;
        return;
    }
    if (!is_digit((unsigned char)s[0])) {
        p->kind = VK_OPAQUE;
        return;
    }
    p->kind = VK_STRUCTURED;

    /* Suffixes first: "-dirty", then "-N-g<hash>" before it. */
    e = n;
    p->meta2_beg = n;
    if (e > 6) {
        static const char dirty[] = "-dirty";
        for (j = 0; j < 6 && lower((unsigned char)s[e - 6 + j]) == (unsigned char)dirty[j]; j++)
            ;
        if (j == 6) {
            e -= 6;
            p->meta2_beg = e;
        }
    }
    strip_git_describe(p, &e);

    /* Release: a date form or a digit run, then ".digits" components. */
    i = digits_end(s, 0, e);
    if (i == 4 && (j = parse_iso_date(s, e)) != 0) {
        i = j;
    } else if (i == 8 && (j = parse_compact_stamp(s, e)) != 0) {
        p->split_beg = 9;
        p->split_end = i = j;
    }
    while (i + 1 < e && s[i] == '.' && is_digit((unsigned char)s[i + 1]))
        i = digits_end(s, i + 1, e);
    p->rel_end = i;

    /* Pre-release: letters right after the release, or '-', '_', '.' then a letter or
     * digit; runs of letters, digits and those separators, ending at the last letter or
     * digit. */
    j = 0;
    if (i < e && is_alpha((unsigned char)s[i]))
        j = i;
    else if (i + 1 < e && (s[i] == '-' || s[i] == '_' || s[i] == '.') &&
             is_alnum((unsigned char)s[i + 1]))
        j = i + 1;
    if (j != 0) {
        p->pre_beg = p->pre_end = j;
        for (; j < e; j++) {
            unsigned char c = (unsigned char)s[j];
            if (is_alnum(c))
                p->pre_end = j + 1;
            else if (c != '-' && c != '_' && c != '.')
                break;
        }
        i = p->pre_end;
    }
    p->meta_beg = i;
    p->meta_end = e;
}

/* Next number of the release (digit runs of s[*pos..end), in 2-digit groups inside the
 * compact-time region). Returns 0 when there is none. */
static int release_next(const struct vparse *p, size_t *pos, const char **d, size_t *dl)
{
    size_t i = *pos, k;
    while (i < p->rel_end && !is_digit((unsigned char)p->s[i]))
        i++;
    if (i >= p->rel_end) {
        *pos = i;
        return 0;
    }
    k = digits_end(p->s, i, p->rel_end);
    if (i >= p->split_beg && i < p->split_end && k - i > 2)
        k = i + 2;
    *d = p->s + i;
    *dl = k - i;
    *pos = k;
    return 1;
}

/* Release numbers compared one by one; a missing number counts as 0. */
static int cmp_release(const struct vparse *a, const struct vparse *b)
{
    size_t ia = 0, ib = 0;
    for (;;) {
        const char *da = NULL, *db = NULL;
        size_t la = 0, lb = 0;
        int ga = release_next(a, &ia, &da, &la);
        int gb = release_next(b, &ib, &db, &lb);
        int c;
        if (!ga && !gb)
            return 0;
        c = cmp_digits(da, la, db, lb);
        if (c != 0)
            return c;
    }
}

/* A token of a pre-release or of metadata: a run of digits (kind 0, by value), a run
 * of letters (kind 1, ASCII without case) or, in metadata only, one other byte (kind 2,
 * by byte). Lower kinds sort first. */
struct vtok {
    int kind;
    const char *t;
    size_t len;
};

/* Next token of s[*pos..end); symbols are skipped unless keep_symbols. 0 at the end. */
static int tok_next(const char *s, size_t *pos, size_t end, int keep_symbols, struct vtok *t)
{
    size_t i = *pos, k;
    while (i < end && !keep_symbols && !is_alnum((unsigned char)s[i]))
        i++;
    if (i >= end) {
        *pos = i;
        return 0;
    }
    k = i + 1;
    if (is_digit((unsigned char)s[i])) {
        t->kind = 0;
        k = digits_end(s, i, end);
    } else if (is_alpha((unsigned char)s[i])) {
        t->kind = 1;
        while (k < end && is_alpha((unsigned char)s[k]))
            k++;
    } else {
        t->kind = 2;
    }
    t->t = s + i;
    t->len = k - i;
    *pos = k;
    return 1;
}

static int cmp_tok(const struct vtok *a, const struct vtok *b)
{
    size_t i, m;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->kind == 0)
        return cmp_digits(a->t, a->len, b->t, b->len);
    if (a->kind == 2)
        return cmp_bytes(a->t, a->len, b->t, b->len);
    m = a->len < b->len ? a->len : b->len;
    for (i = 0; i < m; i++) {
        unsigned char ca = lower((unsigned char)a->t[i]), cb = lower((unsigned char)b->t[i]);
        if (ca != cb)
            return ca < cb ? -1 : 1;
    }
    return (a->len > b->len) - (a->len < b->len);
}

/* Token sequences compared one by one; a proper prefix sorts first. */
static int cmp_tokens(const char *a, size_t ab, size_t ae, const char *b, size_t bb, size_t be,
                      int keep_symbols)
{
    for (;;) {
        struct vtok ta, tb;
        int ga = tok_next(a, &ab, ae, keep_symbols, &ta);
        int gb = tok_next(b, &bb, be, keep_symbols, &tb);
        int c;
        if (!ga || !gb)
            return ga - gb;
        c = cmp_tok(&ta, &tb);
        if (c != 0)
            return c;
    }
}

/* The structured part of the order, after the class. */
static int cmp_structured(const struct vparse *a, const struct vparse *b)
{
    int c = cmp_release(a, b);
    int ha = a->pre_end > a->pre_beg, hb = b->pre_end > b->pre_beg;
    if (c != 0)
        return c;
    if (ha != hb)
        return ha ? -1 : 1; /* a pre-release comes before its release */
    if (ha) {
        c = cmp_tokens(a->s, a->pre_beg, a->pre_end, b->s, b->pre_beg, b->pre_end, 0);
        if (c != 0)
            return c;
    }
    ha = a->post_end > a->post_beg;
    hb = b->post_end > b->post_beg;
    if (ha != hb)
        return ha ? 1 : -1; /* commits after a tag come after it */
    if (ha) {
        c = cmp_digits(a->s + a->post_beg, a->post_end - a->post_beg, b->s + b->post_beg,
                       b->post_end - b->post_beg);
        if (c != 0)
            return c;
    }
    c = cmp_tokens(a->s, a->meta_beg, a->meta_end, b->s, b->meta_beg, b->meta_end, 1);
    if (c == 0)
        c = cmp_tokens(a->s, a->meta2_beg, a->n, b->s, b->meta2_beg, b->n, 1);
    if (c == 0)
        c = cmp_bytes(a->s + a->meta_beg, a->meta_end - a->meta_beg, b->s + b->meta_beg,
                      b->meta_end - b->meta_beg);
    if (c == 0)
        c = cmp_bytes(a->s + a->meta2_beg, a->n - a->meta2_beg, b->s + b->meta2_beg,
                      b->n - b->meta2_beg);
    return c;
}

int upd_version_cmpn(const char *a, size_t alen, const char *b, size_t blen)
{
    struct vparse pa, pb;
    vparse(&pa, a, alen);
    vparse(&pb, b, blen);
    if (pa.kind != pb.kind)
        return pa.kind < pb.kind ? -1 : 1;
    if (pa.kind == VK_EMPTY)
        return 0;
    if (pa.kind == VK_OPAQUE)
        return cmp_bytes(pa.s, pa.n, pb.s, pb.n);
    return cmp_structured(&pa, &pb);
}

int upd_version_cmp(const char *a, const char *b)
{
    return upd_version_cmpn(a, a ? strlen(a) : 0, b, b ? strlen(b) : 0);
}

int upd_version_is_structured(const char *v, size_t len)
{
    struct vparse p;
    vparse(&p, v, len);
    return p.kind == VK_STRUCTURED;
}
