/* One page of the device listing (devpage.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devpage.h"
#include "devquery.h"
#include "devsel.h"
#include "srv.h"
#include "updraft/version.h"

static const char *const SORTS[UPD_DEVPAGE_SORTS] = {[UPD_ORDER_SEEN_DESC] = "-last_seen",
                                                     [UPD_ORDER_SEEN] = "last_seen",
                                                     [UPD_ORDER_MAC] = "mac",
                                                     [UPD_ORDER_MAC_DESC] = "-mac",
                                                     [UPD_ORDER_FIRST_DESC] = "-first_seen",
                                                     [UPD_ORDER_FIRST] = "first_seen",
                                                     [UPD_DEVPAGE_VERSION] = "version",
                                                     [UPD_DEVPAGE_VERSION_DESC] = "-version"};

int upd__devpage_sort(const char *text)
{
    if (!text || !*text)
        return UPD_ORDER_SEEN_DESC;
    for (int i = 0; i < UPD_DEVPAGE_SORTS; i++)
        if (!strcmp(text, SORTS[i]))
            return i;
    return -1;
}

const char *upd__devpage_sort_name(int sort)
{
    return sort >= 0 && sort < UPD_DEVPAGE_SORTS ? SORTS[sort] : SORTS[0];
}

/* ---- cursors: "sort|time|group|MAC|version|" in hex, opaque to clients --------------- */

typedef struct cursor {
    int sort;
    int64_t num; /* last or first seen of the row */
    char group;  /* version orders: 'v' a version, 'u' devices of unknown version */
    char mac[UPD_MAC_STR];
    char version[UPD_VER_MAX];
} cursor;

static void encode(const cursor *c, char out[UPD_DEVPAGE_CURSOR])
{
    char plain[UPD_DEVPAGE_CURSOR / 2];
    int n = snprintf(plain, sizeof plain, "%d|%lld|%c|%s|%s|", c->sort, (long long)c->num,
                     c->group ? c->group : '-', c->mac, c->version);
    if (n < 0 || (size_t)n >= sizeof plain) {
        out[0] = '\0';
        return;
    }
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < n; i++) {
        out[2 * i] = hex[(unsigned char)plain[i] >> 4];
        out[2 * i + 1] = hex[(unsigned char)plain[i] & 15];
    }
    out[2 * n] = '\0';
}

static int unhex(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* 0, or -1 when text is not a cursor of this server. */
static int decode(const char *text, cursor *c)
{
    char plain[UPD_DEVPAGE_CURSOR / 2];
    size_t n = strlen(text);
    if (n == 0 || n % 2 || n / 2 >= sizeof plain)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = unhex(text[2 * i]), lo = unhex(text[2 * i + 1]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return -1;
        plain[i] = (char)(hi << 4 | lo);
    }
    plain[n / 2] = '\0';
    memset(c, 0, sizeof *c);
    long long num = 0;
    int sort = -1, used = 0;
    char group = 0;
    if (sscanf(plain, "%d|%lld|%c|%n", &sort, &num, &group, &used) != 3 || used <= 0 || sort < 0 ||
        sort >= UPD_DEVPAGE_SORTS || (group != 'v' && group != 'u' && group != '-'))
        return -1;
    const char *mac = plain + used, *bar = strchr(mac, '|');
    size_t vl = bar ? strlen(bar + 1) : 0; /* the version, then the closing '|' */
    if (!bar || upd__parse_mac(mac, (size_t)(bar - mac), c->mac) != 0 || vl == 0 ||
        bar[vl] != '|' || vl - 1 >= sizeof c->version)
        return -1;
    snprintf(c->version, sizeof c->version, "%.*s", (int)(vl - 1), bar + 1);
    c->sort = sort;
    c->num = num;
    c->group = group;
    return 0;
}

int upd__devpage_cursor_sort(const char *text)
{
    cursor c;
    return text && decode(text, &c) == 0 ? c.sort : -1;
}

/* ---- the page ------------------------------------------------------------------------- */

typedef struct pager {
    upd_device_cb cb;
    void *ctx;
    int64_t limit, n;
    int more, stopped;
    cursor last;
} pager;

/* Pass a row on, up to the limit; the one after it only says that more follow. */
static int on_row(void *ctx, const upd_device_row *d)
{
    pager *g = ctx;
    if (g->n >= g->limit) {
        g->more = 1;
        return 1;
    }
    g->n++;
    snprintf(g->last.mac, sizeof g->last.mac, "%s", d->mac);
    snprintf(g->last.version, sizeof g->last.version, "%s", d->version);
    g->last.group = d->version[0] ? 'v' : 'u';
    g->last.num = g->last.sort == UPD_ORDER_FIRST || g->last.sort == UPD_ORDER_FIRST_DESC
                      ? d->first_seen_ms
                      : d->last_seen_ms;
    if (g->cb && g->cb(g->ctx, d)) {
        g->stopped = 1;
        return 1;
    }
    return 0;
}

/* The version orders: the versions devices run, sorted, each a group listed by MAC. */
typedef struct vgroup {
    const char *version; /* NULL: the devices of unknown version */
    int64_t n;
} vgroup;

typedef struct vtally {
    vgroup *g;
    int n, cap;
    char **own;
} vtally;

static int add_group(void *ctx, const char *version, int64_t devices)
{
    vtally *t = ctx;
    if (t->n + 1 >= t->cap) { /* room for the unknown group too */
        int cap = t->cap ? t->cap * 2 : 32;
        vgroup *g = realloc(t->g, (size_t)cap * sizeof *g);
        if (g)
            t->g = g;
        char **own = realloc(t->own, (size_t)cap * sizeof *own);
        if (own)
            t->own = own;
        if (!g || !own)
            return 1;
        t->cap = cap;
    }
    char *v = strdup(version);
    if (!v)
        return 1;
    t->own[t->n] = v;
    t->g[t->n].version = v;
    t->g[t->n++].n = devices;
    return 0;
}

/* Version order; versions that compare equal ("1.2", "v1.2.0") by their text. */
static int cmp_group(const void *a, const void *b)
{
    const vgroup *x = a, *y = b;
    int c = upd_version_cmp(x->version, y->version);
    return c ? c : strcmp(x->version, y->version);
}

/* Where a cursor's group is (or would be) in the ascending order: the index of the first
 * group that does not sort before it; *exact when it is that group. */
static int find_group(const vtally *t, const cursor *c, int *exact)
{
    *exact = 0;
    for (int i = 0; i < t->n; i++) {
        if (!t->g[i].version) { /* the unknown group, last */
            *exact = c->group == 'u';
            return i;
        }
        if (c->group == 'u')
            continue;
        vgroup key = {c->version, 0};
        int k = cmp_group(&t->g[i], &key);
        if (k >= 0) {
            *exact = k == 0;
            return i;
        }
    }
    return t->n;
}

static int version_page(srv *s, const upd_devpage *p, const cursor *after, pager *g, int64_t *total)
{
    int desc = p->sort == UPD_DEVPAGE_VERSION_DESC;
    vtally t = {0};
    upd_devquery *q = malloc(sizeof *q);
    if (!q)
        return UPD_STORE_EFAIL;
    int rc = upd__devquery_compile(s->store, p->f, upd__now_ms(), q);
    upd_device_filter base = *p->pre;
    base.cond = q->cond;
    base.ncond = q->ncond;
    base.after = 0;
    base.offset = 0;
    if (rc == 0)
        rc = s->store->ops->device_versions(s->store, &base, add_group, &t);
    if (rc == 0 && t.n + 1 > t.cap && add_group(&t, "", 0) == 0)
        free(t.own[--t.n]); /* make room for the unknown group */
    if (rc == 0 && !t.g)
        rc = UPD_STORE_EFAIL;
    if (rc == 0) {
        qsort(t.g, (size_t)t.n, sizeof *t.g, cmp_group);
        t.g[t.n].version = NULL;
        t.g[t.n++].n = 0;
    }
    /* the counts: the store's tally, unless part of the filter is matched above it */
    upd_device_cond one;
    memset(&one, 0, sizeof one);
    upd_device_filter gq = *p->pre;
    gq.cond = &one;
    gq.ncond = 1;
    gq.after = 0;
    *total = 0;
    for (int i = 0; rc == 0 && i < t.n; i++) {
        one.field = t.g[i].version ? UPD_DC_VERSION : UPD_DC_NO_VERSION;
        one.n = t.g[i].version ? 1 : 0;
        one.text = &t.g[i].version;
        if (q->residual)
            rc = upd__devsel_list(s, &gq, p->f, 0, -1, NULL, NULL, &t.g[i].n);
        else if (!t.g[i].version) {
            upd_device_filter u = base;
            upd_device_cond all[UPD_FILTER_TERMS + 9];
            memcpy(all, q->cond, (size_t)q->ncond * sizeof *all);
            all[q->ncond] = one;
            u.cond = all;
            u.ncond = q->ncond + 1;
            rc = s->store->ops->device_count(s->store, &u, &t.g[i].n);
        }
        *total += t.g[i].n;
    }
    /* where the page starts: the cursor's group and MAC, or offset rows in */
    int start = 0, exact = 0;
    int64_t off = p->offset;
    if (rc == 0 && after) {
        start = find_group(&t, after, &exact);
        if (desc) /* the descending order is the exact reverse */
            start = exact ? start : start - 1;
        off = 0;
    }
    for (int k = 0; rc == 0 && !after && k < t.n; k++) {
        int i = desc ? t.n - 1 - k : k;
        if (off < t.g[i].n) {
            start = i;
            break;
        }
        off -= t.g[i].n;
        start = desc ? -1 : t.n;
    }
    gq.order = desc ? UPD_ORDER_MAC_DESC : UPD_ORDER_MAC;
    for (int i = start; rc == 0 && i >= 0 && i < t.n && !g->more && !g->stopped;
         i += desc ? -1 : 1) {
        if (!t.g[i].n)
            continue;
        one.field = t.g[i].version ? UPD_DC_VERSION : UPD_DC_NO_VERSION;
        one.n = t.g[i].version ? 1 : 0;
        one.text = &t.g[i].version;
        gq.after = after && exact && i == start;
        gq.after_mac = after ? after->mac : NULL;
        rc = upd__devsel_list(s, &gq, p->f, off, g->limit + 1 - g->n, on_row, g, NULL);
        off = 0;
    }
    for (int i = 0; i < t.n; i++)
        if (t.g[i].version)
            free(t.own[i]);
    free(t.own);
    free(t.g);
    upd__devquery_free(q);
    free(q);
    return rc;
}

int upd__devpage_list(srv *s, const upd_devpage *p, upd_device_cb cb, void *ctx, int64_t *total,
                      char next[UPD_DEVPAGE_CURSOR], char *err, size_t errlen)
{
    next[0] = '\0';
    cursor after;
    if (p->after) {
        if (decode(p->after, &after) != 0) {
            snprintf(err, errlen,
                     "after must be the 'next' of the page before (an opaque cursor); to start "
                     "over, leave after out");
            return -1;
        }
        if (after.sort != p->sort) {
            snprintf(err, errlen,
                     "after is a cursor of the listing sorted by %s, not by %s: ask with "
                     "sort=%s, or start over without after",
                     upd__devpage_sort_name(after.sort), upd__devpage_sort_name(p->sort),
                     upd__devpage_sort_name(after.sort));
            return -1;
        }
    }
    pager g;
    memset(&g, 0, sizeof g);
    g.cb = cb;
    g.ctx = ctx;
    g.limit = p->limit;
    g.last.sort = p->sort;
    int rc;
    if (p->sort >= UPD_DEVPAGE_VERSION) {
        rc = version_page(s, p, p->after ? &after : NULL, &g, total);
    } else {
        upd_device_filter q = *p->pre;
        q.order = p->sort;
        q.after = 0;
        if (p->after) { /* the count of all, then the rows after the cursor */
            rc = upd__devsel_list(s, &q, p->f, 0, -1, NULL, NULL, total);
            q.after = 1;
            q.after_num = after.num;
            q.after_mac = after.mac;
            if (rc == 0)
                rc = upd__devsel_list(s, &q, p->f, 0, p->limit + 1, on_row, &g, NULL);
        } else {
            rc = upd__devsel_list(s, &q, p->f, p->offset, p->limit + 1, on_row, &g, total);
        }
    }
    if (rc == 0 && g.more)
        encode(&g.last, next);
    return rc;
}
