/* The SQL of a device listing for both backends (store_devsql.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_devsql.h"

typedef struct buf {
    char *s;
    size_t len, cap;
    int bad;
    int dialect, narrow;
    upd_devsql *q;
    int by_time; /* a listing ordered by last or first seen */
    int by_seen; /* PostgreSQL, ordered by last seen: the MAC of device_seen's index */
    int trgm;    /* PostgreSQL: devices has the trigram index of the MACs (mac_trgm) */
} buf;

__attribute__((format(printf, 2, 3))) static void put(buf *b, const char *fmt, ...)
{
    if (b->bad)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->bad = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n) * 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->bad = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

/* A parameter's placeholder, typed in PostgreSQL (its planner cannot always infer it). */
static void param(buf *b, int is_text, const char *text, int64_t num)
{
    upd_devsql *q = b->q;
    if (q->nparam >= UPD_DEVSQL_PARAMS) {
        b->bad = 1;
        return;
    }
    int i = q->nparam++;
    q->param[i].is_text = is_text;
    q->param[i].text = text;
    q->param[i].num = num;
    if (b->dialect == UPD_DEVSQL_PG)
        put(b, "$%d::%s", i + 1, is_text ? "text" : "bigint");
    else
        put(b, "?%d", i + 1);
}

static void text_p(buf *b, const char *t)
{
    param(b, 1, t, 0);
}

static void num_p(buf *b, int64_t v)
{
    param(b, 0, NULL, v);
}

/* The MAC column as it is ordered: byte order in both backends. */
static const char *mac_col(const buf *b)
{
    return b->by_seen                    ? "device_seen.mac COLLATE \"C\""
           : b->dialect == UPD_DEVSQL_PG ? "mac COLLATE \"C\""
                                         : "mac";
}

/* t with LIKE's characters escaped, between pre and post, in q's scratch; NULL when it
 * does not fit (b made bad). */
static const char *like_pattern(buf *b, const char *pre, const char *t, const char *post)
{
    upd_devsql *q = b->q;
    size_t need = strlen(pre) + 2 * strlen(t) + strlen(post) + 1;
    if (q->used + need > sizeof q->scratch) {
        b->bad = 1;
        return NULL;
    }
    char *p = q->scratch + q->used, *w = p;
    for (const char *c = pre; *c; c++)
        *w++ = *c;
    for (const char *c = t; *c; c++) {
        if (*c == '%' || *c == '_' || *c == '\\')
            *w++ = '\\';
        *w++ = *c;
    }
    for (const char *c = post; *c; c++)
        *w++ = *c;
    *w++ = '\0';
    q->used += (size_t)(w - p);
    return p;
}

/* hay contains t (whole: t is one of the comma-separated items of hay). SQLite: instr().
 * PostgreSQL: LIKE '%t%', whose planner estimates how many rows a pattern matches (few,
 * for a search: it reads them and sorts them), where it takes strpos()>0 to hold for a
 * third of the table and walks the order's index through every device to fill a page. */
static void contains(buf *b, const char *hay, const char *t, int whole)
{
    if (b->dialect == UPD_DEVSQL_PG) {
        const char *p = like_pattern(b, whole ? "%," : "%", t, whole ? ",%" : "%");
        if (!p)
            return;
        put(b, "%s%s%s LIKE ", whole ? "','||" : "", hay, whole ? "||','" : "");
        text_p(b, p);
        return;
    }
    put(b, "instr(%s%s%s, %s", whole ? "','||" : "", hay, whole ? "||','" : "",
        whole ? "','||" : "");
    text_p(b, t);
    put(b, "%s)>0", whole ? "||','" : "");
}

#define EFFECTIVE_CHANNEL "COALESCE(NULLIF(url_channel,''),NULLIF(channel,''),'stable')"
#define ATTENTION         "(COALESCE(hold_release,0)>0 AND hold_failures>0 AND hold_until_ms=0)"

/* "col IN (values)" */
static void in_list(buf *b, const char *col, const upd_device_cond *c)
{
    put(b, "%s IN (", col);
    for (int i = 0; i < c->n; i++) {
        put(b, "%s", i ? "," : "");
        text_p(b, c->text[i]);
    }
    put(b, ")");
}

/* A MAC contains part t: as written when it has colons; else its hex digits, which
 * stand in the MAC with colons inserted starting at an even or at an odd digit ("0A1B":
 * "0A:1B" or "0:A1:B"), two plain substring tests. */
static void mac_part(buf *b, const char *t)
{
    /* PostgreSQL: the expression of the trigram index (pg-migration 4), which equality on
     * mac cannot use; the MACs are in capitals, so it matches what mac would */
    const char *hay = b->dialect == UPD_DEVSQL_PG ? "upper(mac)" : "mac";
    if (strchr(t, ':') || strlen(t) < 2) {
        contains(b, hay, t, 0);
        return;
    }
    upd_devsql *q = b->q;
    put(b, "(");
    for (int odd = 0; odd < 2; odd++) {
        size_t n = strlen(t), need = n + n / 2 + 2;
        if (q->used + need > sizeof q->scratch) {
            b->bad = 1;
            return;
        }
        char *p = q->scratch + q->used, *w = p;
        for (size_t i = 0; i < n; i++) {
            if (i && (i + (size_t)odd) % 2 == 0)
                *w++ = ':';
            *w++ = t[i];
        }
        *w++ = '\0';
        q->used += (size_t)(w - p);
        put(b, "%s", odd ? " OR " : "");
        contains(b, hay, p, 0);
    }
    put(b, ")");
}

/* One value of c holds (n > 0). */
static void any_of(buf *b, const upd_device_cond *c)
{
    switch (c->field) {
    case UPD_DC_FAMILY:
        in_list(b, "family", c);
        return;
    case UPD_DC_VERSION:
        /* SQLite, a listing by time: not from the version index (which has no statistics
         * to say that a version may be half the fleet) but tested on the order's index */
        in_list(b, b->by_time && b->dialect == UPD_DEVSQL_SQLITE ? "+version" : "version", c);
        return;
    case UPD_DC_CHANNEL:
        in_list(b, EFFECTIVE_CHANNEL, c);
        return;
    case UPD_DC_MAC:
        in_list(b, "mac", c);
        return;
    default:
        break;
    }
    put(b, "(");
    for (int i = 0; i < c->n; i++) {
        put(b, i ? " OR " : "");
        const char *t = c->text ? c->text[i] : NULL;
        int64_t v = c->num ? c->num[i] : 0;
        switch (c->field) {
        case UPD_DC_TAG: /* tags<>'': the partial index of tagged devices */
            put(b, "(tags<>'' AND ");
            contains(b, "tags", t, 1);
            put(b, ")");
            break;
        case UPD_DC_TAG_PART:
            put(b, "(tags<>'' AND ");
            contains(b, "tags", t, 0);
            put(b, ")");
            break;
        case UPD_DC_MAC_PART:
            mac_part(b, t);
            break;
        case UPD_DC_SEEN_MIN:
            put(b, "(last_seen_ms>0 AND last_seen_ms>=");
            num_p(b, v);
            put(b, ")");
            break;
        case UPD_DC_SEEN_MAX:
            put(b, "(last_seen_ms<=0 OR last_seen_ms<=");
            num_p(b, v);
            put(b, ")");
            break;
        case UPD_DC_PINNED:
            if (v < 0) {
                put(b, "%s", "COALESCE(pin_release,0)>0");
            } else if (v == 0) {
                put(b, "%s", "COALESCE(pin_release,0)<=0");
            } else {
                put(b, "pin_release=");
                num_p(b, v);
            }
            break;
        case UPD_DC_ATTENTION:
            put(b, "%s", v ? ATTENTION : "NOT " ATTENTION);
            break;
        case UPD_DC_TOOL:
            if (!strcmp(t, "none")) {
                put(b, "tool=''");
            } else {
                put(b, "tool=");
                text_p(b, t);
            }
            break;
        default:
            b->bad = 1;
            break;
        }
    }
    put(b, ")");
}

/* One condition, as " AND (...)". A device that never sent its family or version passes
 * neither way (store.h). */
static void cond(buf *b, const upd_device_cond *c)
{
    const char *known = c->field == UPD_DC_FAMILY    ? "COALESCE(family,'')<>''"
                        : c->field == UPD_DC_VERSION ? "COALESCE(version,'')<>''"
                                                     : NULL;
    put(b, " AND ");
    if (c->field == UPD_DC_NO_VERSION && b->dialect == UPD_DEVSQL_PG) {
        /* the same, in terms PostgreSQL reads from the version index (not every row) */
        put(b, "%s", c->negate ? "version<>''" : "(version IS NULL OR version='')");
        return;
    }
    if (c->field == UPD_DC_NO_VERSION) {
        put(b, "COALESCE(version,'')%s''", c->negate ? "<>" : "=");
        return;
    }
    if (c->n <= 0) { /* no value can hold */
        put(b, "%s", c->negate && known ? known : c->negate ? "1=1" : "1=0");
        return;
    }
    if (b->narrow &&
        (c->field == UPD_DC_MAC_PART || c->field == UPD_DC_TAG || c->field == UPD_DC_TAG_PART)) {
        /* from the MAC's or the tagged devices' index alone (upd__devsql_build) */
        put(b, "rowid %sIN (SELECT rowid FROM devices WHERE ", c->negate ? "NOT " : "");
        any_of(b, c);
        put(b, ")");
        return;
    }
    if (!c->negate) {
        any_of(b, c);
        return;
    }
    put(b, "(%s%sNOT ", known ? known : "", known ? " AND " : "");
    any_of(b, c);
    put(b, ")");
}

/* Which of f's conditions where_part writes */
enum { ALL_CONDS, DEVICE_CONDS, SEEN_CONDS };

static int is_seen_cond(const upd_device_cond *c)
{
    return c->field == UPD_DC_SEEN_MIN || c->field == UPD_DC_SEEN_MAX;
}

/* The plain fields of f and its conditions, as " AND ..." after "WHERE 1=1": all of them,
 * those on the device's facts (DEVICE_CONDS) or those on the last-seen time (SEEN_CONDS). */
static void where_part(buf *b, const upd_device_filter *f, int part)
{
    if (!f)
        return;
    int dev = part != SEEN_CONDS, seen = part != DEVICE_CONDS;
    if (dev && f->channel) {
        put(b, " AND " EFFECTIVE_CHANNEL "=");
        text_p(b, f->channel);
    }
    if (dev && f->platform) {
        put(b, " AND family=");
        text_p(b, f->platform);
    }
    if (dev && f->version) {
        put(b, " AND version=");
        text_p(b, f->version);
    }
    if (seen && f->seen_since_ms > 0) {
        put(b, " AND last_seen_ms>=");
        num_p(b, f->seen_since_ms);
    }
    if (dev && f->attention)
        put(b, " AND hold_failures>0 AND hold_until_ms=0");
    if (dev && f->pinned_to > 0) {
        put(b, " AND pin_release=");
        num_p(b, f->pinned_to);
    }
    if (dev && f->tool) {
        if (!strcmp(f->tool, "none")) {
            put(b, " AND tool=''");
        } else if (!strcmp(f->tool, "any")) {
            put(b, " AND tool<>''");
        } else {
            put(b, " AND tool=");
            text_p(b, f->tool);
        }
    }
    for (int i = 0; i < f->ncond; i++)
        if (is_seen_cond(&f->cond[i]) ? seen : dev)
            cond(b, &f->cond[i]);
}

static void where(buf *b, const upd_device_filter *f)
{
    where_part(b, f, ALL_CONDS);
}

/* The ordering column of an order (NULL: the MAC orders) and whether it descends. */
static const char *order_col(int order, int *desc)
{
    *desc = order == UPD_ORDER_SEEN_DESC || order == UPD_ORDER_MAC_DESC ||
            order == UPD_ORDER_FIRST_DESC;
    return order == UPD_ORDER_SEEN_DESC || order == UPD_ORDER_SEEN     ? "last_seen_ms"
           : order == UPD_ORDER_FIRST_DESC || order == UPD_ORDER_FIRST ? "first_seen_ms"
                                                                       : NULL;
}

int upd__devsql_searches(const upd_device_filter *f)
{
    for (int i = 0; f && i < f->ncond; i++)
        if (f->cond[i].field == UPD_DC_MAC_PART || f->cond[i].field == UPD_DC_TAG ||
            f->cond[i].field == UPD_DC_TAG_PART)
            return 1;
    return 0;
}

/* Does f have a condition on the last-seen time? */
static int reads_seen(const upd_device_filter *f)
{
    if (!f)
        return 0;
    int any = f->seen_since_ms > 0;
    for (int i = 0; i < f->ncond; i++)
        any |= f->cond[i].field == UPD_DC_SEEN_MIN || f->cond[i].field == UPD_DC_SEEN_MAX;
    return any;
}

/* Does f select by the last-seen time and the MAC alone (or not at all)? Then the
 * last-seen order's page of MACs, and a count, is read from device_seen alone (every
 * device has its row there; its rows are narrow, where a search of the MACs in devices
 * reads every wide row). Not a search by a part of a MAC when devices has the MACs'
 * trigram index (trgm): that index finds the few matches without reading every MAC. */
static int only_seen(const upd_device_filter *f, int trgm)
{
    if (!f)
        return 1;
    if (f->channel || f->platform || f->version || f->attention || f->pinned_to > 0 || f->tool)
        return 0;
    for (int i = 0; i < f->ncond; i++)
        if (f->cond[i].field != UPD_DC_SEEN_MIN && f->cond[i].field != UPD_DC_SEEN_MAX &&
            f->cond[i].field != UPD_DC_MAC && (f->cond[i].field != UPD_DC_MAC_PART || trgm))
            return 0;
    return 1;
}

/* Does f select by the last-seen time with one bound (seen<24h, seen>7d)? Then the
 * devices it leaves out are those on the other side of it: last_seen_ms *op *v. A device
 * never seen (0) is older than any age (store.h). */
static int one_seen_bound(const upd_device_filter *f, const char **op, int64_t *v)
{
    const upd_device_cond *one = NULL;
    for (int i = 0; f && i < f->ncond; i++) {
        if (!is_seen_cond(&f->cond[i]))
            continue;
        if (one || f->cond[i].n != 1)
            return 0;
        one = &f->cond[i];
    }
    if (!f || (one != NULL) == (f->seen_since_ms > 0))
        return 0;
    if (!one) { /* last_seen_ms>=seen_since_ms */
        *op = "<";
        *v = f->seen_since_ms;
        return 1;
    }
    *v = one->num[0];
    if (one->field == UPD_DC_SEEN_MIN) { /* last_seen_ms>0 AND last_seen_ms>=v */
        *op = "<";
        return *v > 0;
    }
    *op = ">"; /* last_seen_ms<=0 OR last_seen_ms<=v */
    *v = *v > 0 ? *v : 0;
    return 1;
}

/* PostgreSQL, a count with conditions on both the device's facts and its last-seen time
 * (in devices and device_seen, which no index holds together): its plan joins every
 * device_seen row to the matching devices (a hash join), and with every row updated since
 * the last vacuum that table holds each row twice. When the time has one bound and few
 * devices are on its other side (seen<24h in a fleet that checks daily: 5%), the count
 * is the devices matching the facts (their index) less those of them on the other side
 * (from device_seen's time index: few rows): a quarter of PostgreSQL's CPU at 100,000
 * devices before a vacuum (docs/scaling.md). Which form: a probe of the other side in the time's
 * index, up to an eighth of the rows PostgreSQL last counted in device_seen; a CASE runs only the
 * branch it takes. The same count either way: every device has its device_seen row (store_pg.c
 * migration 19). 0: not a filter for it, nothing written. */
static int count_both(buf *b, const upd_device_filter *f)
{
    const char *op;
    int64_t v;
    if (!one_seen_bound(f, &op, &v))
        return 0;
    put(b,
        "SELECT CASE WHEN (SELECT count(*) FROM (SELECT 1 FROM device_seen WHERE "
        "last_seen_ms%s",
        op);
    num_p(b, v);
    put(b, " LIMIT (SELECT GREATEST(reltuples, 0)::bigint/8+1 FROM pg_class WHERE "
           "oid='device_seen'::regclass)) o) < (SELECT GREATEST(reltuples, 0)::bigint/8+1 "
           "FROM pg_class WHERE oid='device_seen'::regclass)"
           " THEN (SELECT count(*) FROM devices WHERE 1=1");
    where_part(b, f, DEVICE_CONDS);
    put(b, ") - (SELECT count(*) FROM devices JOIN device_seen USING(mac) WHERE 1=1");
    where_part(b, f, DEVICE_CONDS);
    put(b, " AND last_seen_ms%s", op);
    num_p(b, v);
    put(b, ") ELSE (SELECT count(*) FROM devices JOIN device_seen USING(mac) WHERE 1=1");
    where(b, f);
    put(b, ") END");
    return 1;
}

/* Does f have a condition on the MAC? */
static int reads_mac(const upd_device_filter *f)
{
    for (int i = 0; f && i < f->ncond; i++)
        if (f->cond[i].field == UPD_DC_MAC || f->cond[i].field == UPD_DC_MAC_PART)
            return 1;
    return 0;
}

int upd__devsql_build(upd_devsql *q, int dialect, int kind, const char *cols,
                      const upd_device_filter *f, int narrow)
{
    q->sql = NULL;
    q->nparam = 0;
    q->used = 0;
    buf b = {malloc(1024),
             0,
             1024,
             0,
             dialect,
             narrow && dialect == UPD_DEVSQL_SQLITE,
             q,
             0,
             0,
             narrow && dialect == UPD_DEVSQL_PG};
    /* PostgreSQL, a page past the first: the page's MACs first (from an index, without
     * reading the rows it passes over: its Index Scan reads each row before OFFSET drops
     * it, where SQLite reads only the rows it returns), then their rows */
    int late = kind == UPD_DEVSQL_LIST && dialect == UPD_DEVSQL_PG && f && f->offset > 0;
    if (!b.s)
        return -1;
    b.s[0] = 0;
    /* PostgreSQL keeps the last-seen time in a table of its own (store_pg.c migration
     * 19), joined where it is read: every listing (its columns), a count or tally only
     * when a condition reads it */
    const char *from = dialect == UPD_DEVSQL_PG && (kind == UPD_DEVSQL_LIST || reads_seen(f))
                           ? "devices JOIN device_seen USING(mac)"
                           : "devices";
    /* a count selecting by the time and the MAC: device_seen alone */
    if (dialect == UPD_DEVSQL_PG && kind == UPD_DEVSQL_COUNT && (reads_seen(f) || reads_mac(f)) &&
        only_seen(f, b.trgm))
        from = "device_seen";
    int order = f && f->order > 0 && f->order < UPD_ORDER_COUNT ? f->order : 0;
    b.by_seen = dialect == UPD_DEVSQL_PG && kind == UPD_DEVSQL_LIST &&
                (order == UPD_ORDER_SEEN_DESC || order == UPD_ORDER_SEEN);
    /* the first page of a search of the MACs, too: the page's MACs from device_seen */
    late |= b.by_seen && reads_mac(f) && only_seen(f, b.trgm);
    int conds_written = 0;
    if (kind == UPD_DEVSQL_DISTINCT) {
        /* one index probe per version: the next version after the one before */
        put(&b, "WITH RECURSIVE v(x) AS (SELECT min(version) FROM devices WHERE version>'' "
                "UNION ALL SELECT (SELECT min(version) FROM devices WHERE version>v.x) FROM v "
                "WHERE v.x IS NOT NULL) SELECT x, -1 FROM v WHERE x IS NOT NULL");
    } else if (late) {
        /* the page's MACs from the one table the order and conditions read when they
         * read one (device_seen: the last-seen order, selecting by the time alone) */
        const char *inner = b.by_seen && only_seen(f, b.trgm) ? "device_seen"
                            : !b.by_seen && !reads_seen(f)    ? "devices"
                                                              : from;
        put(&b, "SELECT %s FROM %s JOIN (SELECT %s AS page_mac FROM %s WHERE 1=1", cols, from,
            b.by_seen ? "device_seen.mac" : "mac", inner);
    } else if (kind == UPD_DEVSQL_LIST) {
        put(&b, "SELECT %s FROM %s WHERE 1=1", cols, from);
    } else if (kind == UPD_DEVSQL_COUNT && dialect == UPD_DEVSQL_PG && reads_seen(f) &&
               !only_seen(f, b.trgm)) {
        if (!count_both(&b, f) || b.bad) { /* too many values for 3 copies: the one join */
            b.bad = 0;
            b.len = 0;
            b.s[0] = '\0';
            q->nparam = 0;
            q->used = 0;
            put(&b, "SELECT count(*) FROM %s WHERE 1=1", from);
            where(&b, f);
        }
        conds_written = 1;
    } else if (kind == UPD_DEVSQL_COUNT) {
        put(&b, "SELECT count(*) FROM %s WHERE 1=1", from);
    } else {
        put(&b, "SELECT version, count(*) FROM %s WHERE version>''", from);
    }
    if (kind == UPD_DEVSQL_LIST && f) {
        int d;
        b.by_time =
            order_col(f->order > 0 && f->order < UPD_ORDER_COUNT ? f->order : 0, &d) != NULL;
    }
    if (kind != UPD_DEVSQL_DISTINCT && !conds_written)
        where(&b, f);
    if (kind == UPD_DEVSQL_VERSIONS)
        put(&b, " GROUP BY version");
    if (kind == UPD_DEVSQL_LIST) {
        int desc;
        const char *col = order_col(order, &desc);
        if (f && f->after && f->after_mac) {
            if (col) {
                put(&b, " AND (%s, %s) %s (", col, mac_col(&b), desc ? "<" : ">");
                num_p(&b, f->after_num);
                put(&b, ", ");
                text_p(&b, f->after_mac);
                put(&b, ")");
            } else {
                put(&b, " AND %s %s ", mac_col(&b), desc ? "<" : ">");
                text_p(&b, f->after_mac);
            }
        }
        const char *dir = desc ? " DESC" : "";
        for (int pass = 0; pass < 1 + late; pass++) {
            if (pass)
                put(&b, ") page ON mac=page_mac");
            if (col)
                put(&b, " ORDER BY %s%s, %s%s", col, dir, mac_col(&b), dir);
            else
                put(&b, " ORDER BY %s%s", mac_col(&b), dir);
            if (pass)
                break;
            put(&b, " LIMIT ");
            num_p(&b, f && f->limit > 0 ? f->limit : 1000);
            put(&b, " OFFSET ");
            num_p(&b, f && f->offset > 0 ? f->offset : 0);
        }
    }
    if (b.bad) {
        free(b.s);
        q->sql = NULL;
        return -1;
    }
    q->sql = b.s;
    return 0;
}

void upd__devsql_free(upd_devsql *q)
{
    free(q->sql);
    q->sql = NULL;
}
