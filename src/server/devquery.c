/* A target filter compiled into the store's conditions (devquery.h). */
#include <stdlib.h>
#include <string.h>

#include "devquery.h"
#include "updraft/version.h"

/* Collect one version the devices run (device_versions callback). */
static int add_version(void *ctx, const char *v, int64_t devices)
{
    upd_devquery *q = ctx;
    (void)devices;
    size_t n = strlen(v) + 1;
    if (q->vlen + n > q->vcap) {
        size_t cap = (q->vcap + n) * 2;
        char *b = realloc(q->vbuf, cap);
        if (!b)
            return 1;
        q->vbuf = b;
        q->vcap = cap;
    }
    if (q->nv == q->nvcap) {
        int cap = q->nvcap ? q->nvcap * 2 : 64;
        size_t *o = realloc(q->voff, (size_t)cap * sizeof *o);
        if (!o)
            return 1;
        q->voff = o;
        q->nvcap = cap;
    }
    memcpy(q->vbuf + q->vlen, v, n);
    q->voff[q->nv++] = q->vlen;
    q->vlen += n;
    return 0;
}

int upd__devquery_compile(upd_store *st, const upd_filter *f, int64_t now_ms, upd_devquery *q)
{
    memset(q, 0, sizeof *q);
    if (!f)
        return 0;
    int versions = 0;
    for (int i = 0; i < f->nterms; i++)
        versions |= f->term[i].key == UPD_FK_VERSION;
    if (versions) {
        int rc = st->ops->device_versions(st, NULL, add_version, q);
        if (rc)
            return rc;
        if (q->nv && !q->voff)
            return UPD_STORE_EFAIL;
    }
    int nversions = 0;
    for (int i = 0; i < f->nterms; i++) {
        const upd_filter_term *t = &f->term[i];
        const upd_filter_value *v = &f->value[t->first];
        upd_device_cond *c = &q->cond[q->ncond];
        memset(c, 0, sizeof *c);
        c->negate = t->op == UPD_FOP_NE || t->op == UPD_FOP_HASNT;
        int part = t->op == UPD_FOP_HAS || t->op == UPD_FOP_HASNT, texts = 1;
        switch (t->key) {
        case UPD_FK_PLATFORM:
            c->field = UPD_DC_FAMILY;
            break;
        case UPD_FK_CHANNEL:
            c->field = UPD_DC_CHANNEL;
            break;
        case UPD_FK_TAG:
            c->field = part ? UPD_DC_TAG_PART : UPD_DC_TAG;
            break;
        case UPD_FK_MAC:
            c->field = part ? UPD_DC_MAC_PART : UPD_DC_MAC;
            break;
        case UPD_FK_TOOL:
            c->field = UPD_DC_TOOL;
            break;
        case UPD_FK_PINNED:
            c->field = UPD_DC_PINNED;
            texts = 0;
            break;
        case UPD_FK_ATTENTION:
            c->field = UPD_DC_ATTENTION;
            texts = 0;
            break;
        case UPD_FK_SEEN: {
            /* age = now - last seen (never seen: older than any age), filter.c */
            int64_t age = v->num;
            c->negate = 0;
            c->field =
                t->op == UPD_FOP_LT || t->op == UPD_FOP_LE ? UPD_DC_SEEN_MIN : UPD_DC_SEEN_MAX;
            q->num[t->first] = t->op == UPD_FOP_LT   ? now_ms - age + 1
                               : t->op == UPD_FOP_LE ? now_ms - age
                               : t->op == UPD_FOP_GT ? now_ms - age - 1
                                                     : now_ms - age;
            c->n = 1;
            c->num = &q->num[t->first];
            q->ncond++;
            continue;
        }
        case UPD_FK_VERSION: {
            /* the versions devices run that satisfy the term, in updraft's order */
            c->field = UPD_DC_VERSION;
            c->negate = 0;
            c->text = &q->text[q->ntext];
            for (int k = 0; k < q->nv; k++) {
                const char *ver = q->vbuf + q->voff[k];
                if (!upd__filter_version_holds(f, t, ver))
                    continue;
                if (++nversions > UPD_DEVQUERY_VERSIONS)
                    break;
                q->text[q->ntext++] = ver;
                c->n++;
            }
            if (nversions > UPD_DEVQUERY_VERSIONS) {
                q->residual = 1; /* too many to say in SQL: matched above the store */
                q->ntext -= c->n;
                continue;
            }
            q->ncond++;
            continue;
        }
        default: /* chip: from the image a device runs, not a column */
            q->residual = 1;
            continue;
        }
        c->n = t->n;
        if (texts) {
            c->text = &q->text[q->ntext];
            for (int k = 0; k < t->n; k++)
                q->text[q->ntext++] = f->buf + v[k].off;
        } else {
            for (int k = 0; k < t->n; k++)
                q->num[t->first + k] = v[k].num;
            c->num = &q->num[t->first];
        }
        q->ncond++;
    }
    return 0;
}

void upd__devquery_free(upd_devquery *q)
{
    free(q->vbuf);
    free(q->voff);
    q->vbuf = NULL;
    q->voff = NULL;
}
