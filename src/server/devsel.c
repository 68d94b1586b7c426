/* Selecting devices with a target filter (devsel.h). */
#include <limits.h>
#include <string.h>

#include "chip.h"
#include "devsel.h"
#include "srv.h"

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
    if (!f || f->nterms == 0) {
        /* no filter: the store pages by itself */
        all.limit = limit > 0 && limit < INT_MAX ? (int)limit : INT_MAX;
        all.offset = offset;
        int rc = total ? s->store->ops->device_count(s->store, &all, total) : 0;
        return rc || !cb ? rc : s->store->ops->device_list(s->store, &all, cb, ctx);
    }
    all.limit = INT_MAX;
    sel x;
    memset(&x, 0, sizeof x);
    x.f = f;
    upd__devsel_env(s, &x.env);
    x.offset = offset;
    x.limit = limit;
    x.cb = cb;
    x.ctx = ctx;
    int rc = s->store->ops->device_list(s->store, &all, each, &x);
    if (rc == 0 && total)
        *total = x.matched;
    return rc;
}
