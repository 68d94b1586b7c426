/* Selecting devices with a target filter (devsel.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "chip.h"
#include "devquery.h"
#include "devsel.h"
#include "srv.h"
#include "updraft/version.h"

static int chip_of(void *ctx, const upd_device_row *d)
{
    return (int)upd__chip_of_device(ctx, d, d, NULL, 0);
}

void upd__devsel_env(srv *s, upd_filter_env *env)
{
    env->now_ms = upd__now_ms();
    env->chip = chip_of;
    env->ctx = s;
}

typedef struct sel {
    const upd_filter *f;
    upd_filter_env env;
    int64_t offset, limit, matched, passed;
    upd_device_cb cb;
    void *ctx;
    int stopped;
} sel;

static int each(void *ctx, const upd_device_row *d)
{
    sel *x = ctx;
    if (!upd__filter_match(x->f, d, &x->env))
        return 0;
    int64_t i = x->matched++;
    if (i < x->offset || x->stopped)
        return 0;
    if (x->limit > 0 && x->passed >= x->limit)
        return 0; /* go on counting */
    x->passed++;
    if (x->cb && x->cb(x->ctx, d))
        x->stopped = 1;
    return 0;
}

int upd__devsel_list(srv *s, const upd_device_filter *pre, const upd_filter *f, int64_t offset,
                     int64_t limit, upd_device_cb cb, void *ctx, int64_t *total)
{
    upd_device_filter all;
    memset(&all, 0, sizeof all);
    if (pre)
        all = *pre;
    all.offset = 0;
    upd_devquery *q = malloc(sizeof *q);
    if (!q)
        return UPD_STORE_EFAIL;
    int rc = upd__devquery_compile(s->store, f, upd__now_ms(), q);
    for (int i = 0; rc == 0 && pre && i < pre->ncond; i++) /* the caller's own, too */
        if (q->ncond < (int)(sizeof q->cond / sizeof q->cond[0]))
            q->cond[q->ncond++] = pre->cond[i];
    all.cond = q->cond;
    all.ncond = q->ncond;
    if (rc == 0 && !q->residual) {
        /* all of it in SQL: the store counts and pages by itself */
        all.limit = limit > 0 && limit < INT_MAX ? (int)limit : INT_MAX;
        all.offset = offset;
        rc = total ? s->store->ops->device_count(s->store, &all, total) : 0;
        all.counted = total && rc == 0 ? *total + 1 : 0;
        if (rc == 0 && cb)
            rc = s->store->ops->device_list(s->store, &all, cb, ctx);
    } else if (rc == 0) {
        /* the rest above the store, over the rows the conditions select */
        all.limit = INT_MAX;
        sel x;
        memset(&x, 0, sizeof x);
        x.f = f;
        upd__devsel_env(s, &x.env);
        x.offset = offset;
        x.limit = limit;
        x.cb = cb;
        x.ctx = ctx;
        rc = s->store->ops->device_list(s->store, &all, each, &x);
        if (rc == 0 && total)
            *total = x.matched;
    }
    upd__devquery_free(q);
    free(q);
    return rc;
}

typedef struct newer {
    const upd_release_row *rel;
    int64_t n;
} newer;

static int count_newer(void *ctx, const upd_device_row *d)
{
    newer *x = ctx;
    if (d->pin_release <= 0 && d->version[0] && upd_version_cmp(d->version, x->rel->version) > 0)
        x->n++;
    return 0;
}

int upd__devsel_newer(srv *s, const char *name, const upd_release_row *rel, int64_t *out)
{
    *out = 0;
    if (strcmp(rel->mode, "sketch"))
        return 0; /* the versions devices send are their applications' */
    upd_device_filter pre;
    memset(&pre, 0, sizeof pre);
    pre.channel = name;
    pre.platform = strcmp(rel->platform, "any") ? rel->platform : NULL;
    pre.limit = INT_MAX;
    newer x = {rel, 0};
    upd_writer_flush(s->writer); /* count what the devices just said */
    int rc = s->store->ops->device_list(s->store, &pre, count_newer, &x);
    *out = x.n;
    return rc;
}
