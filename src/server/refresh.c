/* Start-up work on stored releases (refresh.h). */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "refresh.h"

typedef struct stale_list {
    const upd_refresh *w;
    int64_t *ids;
    size_t n, cap;
} stale_list;

static int collect_stale(void *ctx, const upd_release_row *r)
{
    stale_list *l = ctx;
    if (!l->w->stale(r))
        return 0;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        int64_t *p = realloc(l->ids, nc * sizeof *p);
        if (!p)
            return 1;
        l->ids = p;
        l->cap = nc;
    }
    l->ids[l->n++] = r->id;
    return 0;
}

void upd__refresh_releases(srv *s, const upd_refresh *w)
{
    stale_list l = {w, NULL, 0, 0};
    s->store->ops->release_list(s->store, collect_stale, &l);
    upd_release_row *r = malloc(sizeof *r);
    upd_file_info *fi = malloc(sizeof *fi);
    size_t done = 0;
    for (size_t i = 0; r && fi && i < l.n; i++) {
        char path[PATH_MAX + 80], err[512] = "";
        if (s->store->ops->release_get(s->store, l.ids[i], r) != 0)
            continue;
        upd__blob_local(s, r->sha256, path, sizeof path);
        int rc = upd_inspect_file(path, fi, err, sizeof err) != 0
                     ? -1
                     : w->update(s, path, fi, r, err, sizeof err);
        if (rc < 0)
            upd__log(UPD_LOG_WARN, "refresh", "release %lld: %s (%s); %s", (long long)l.ids[i],
                     w->failed, err, w->result);
        done += rc > 0;
    }
    if (done)
        upd__log(UPD_LOG_INFO, "refresh", "%s %zu release(s) stored before", w->done, done);
    free(fi);
    free(r);
    free(l.ids);
}
