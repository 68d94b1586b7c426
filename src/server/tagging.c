/* Tagging devices over the API (tagging.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devsel.h"
#include "tagging.h"
#include "tags.h"

#define MAX_REQ_TAGS  32  /* tags named in one request */
#define CHANGES_SHOWN 200 /* changes listed in a bulk answer; the counts cover all */
#define RETRIES       3   /* when another admin changed tags between our read and write */

void upd__tags_json(cJSON *j, const char *list)
{
    cJSON *a = cJSON_AddArrayToObject(j, "tags");
    char one[UPD_TAG_LEN_MAX + 1];
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 0 && n < sizeof one) {
            memcpy(one, p, n);
            one[n] = '\0';
            cJSON_AddItemToArray(a, cJSON_CreateString(one));
        }
        if (!e)
            break;
        p = e + 1;
    }
}

/* The tags to add and to remove, as the body names them. */
typedef struct edit {
    const char *add[MAX_REQ_TAGS], *rm[MAX_REQ_TAGS];
    int nadd, nrm;
} edit;

/* Read body[name] (an array of tag strings, or absent) into list; 0, or -1 with err. */
static int read_tags(const cJSON *body, const char *name, const char **list, int *n, char *err,
                     size_t errlen)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(body, name), *v;
    *n = 0;
    if (!a)
        return 0;
    if (!cJSON_IsArray(a)) {
        snprintf(err, errlen, "\"%s\" must be an array of tags: [\"lab\", \"kitchen\"]", name);
        return -1;
    }
    cJSON_ArrayForEach(v, a)
    {
        if (!cJSON_IsString(v)) {
            snprintf(err, errlen, "\"%s\" must be an array of tags (strings)", name);
            return -1;
        }
        if (*n >= MAX_REQ_TAGS) {
            snprintf(err, errlen, "at most %d tags in one request", MAX_REQ_TAGS);
            return -1;
        }
        if (upd__tag_check(v->valuestring, strlen(v->valuestring), err, errlen) != 0)
            return -1;
        list[(*n)++] = v->valuestring;
    }
    return 0;
}

/* The new list of a device (old -> out) and the event's sentence; 0, 1 when nothing
 * changes, -1 with err (too many tags). */
static int apply(const edit *e, const char *mac, const char *old, upd_tag_write *w, char *err,
                 size_t errlen)
{
    char mid[UPD_TAGS_MAX], why[256];
    if (upd__tags_edit(old, e->rm, e->nrm, 0, mid, why, sizeof why) != 0 ||
        upd__tags_edit(mid, e->add, e->nadd, 1, w->tags, why, sizeof why) != 0) {
        snprintf(err, errlen, "device %s: %s", mac, why);
        return -1;
    }
    upd__copy(w->mac, sizeof w->mac, mac);
    upd__copy(w->old, sizeof w->old, old);
    if (!strcmp(w->tags, old))
        return 1;
    /* "tags +lab -attic (now: kitchen,lab)" */
    size_t n = (size_t)snprintf(w->detail, sizeof w->detail, "tags");
    for (int pass = 0; pass < 2; pass++) {
        const char *from = pass ? old : w->tags, *other = pass ? w->tags : old;
        for (const char *p = from; *p;) {
            const char *q = strchr(p, ',');
            size_t l = q ? (size_t)(q - p) : strlen(p);
            if (!upd__tags_has(other, p, l) && n < sizeof w->detail)
                n += (size_t)snprintf(w->detail + n, sizeof w->detail - n, " %c%.*s",
                                      pass ? '-' : '+', (int)l, p);
            if (!q)
                break;
            p = q + 1;
        }
    }
    if (n < sizeof w->detail)
        snprintf(w->detail + n, sizeof w->detail - n, " (now: %s)", w->tags[0] ? w->tags : "none");
    return 0;
}

/* The devices a bulk request reaches, with their tags as read. */
typedef struct target {
    char mac[UPD_MAC_STR];
    char tags[UPD_TAGS_MAX];
} target;

typedef struct tvec {
    target *v;
    size_t n, cap;
    int oom;
} tvec;

static int collect(void *ctx, const upd_device_row *d)
{
    tvec *t = ctx;
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        target *p = realloc(t->v, nc * sizeof *p);
        if (!p) {
            t->oom = 1;
            return 1;
        }
        t->v = p;
        t->cap = nc;
    }
    upd__copy(t->v[t->n].mac, UPD_MAC_STR, d->mac);
    upd__copy(t->v[t->n].tags, UPD_TAGS_MAX, d->tags);
    t->n++;
    return 0;
}

static enum MHD_Result one_device(req *r, struct MHD_Connection *c, const char *mac, const edit *e)
{
    srv *s = r->s;
    char err[512];
    upd_device_row *d = malloc(sizeof *d);
    upd_tag_write *w = malloc(sizeof *w);
    enum MHD_Result ret;
    int rc = UPD_STORE_EFAIL;
    if (!d || !w) {
        free(d);
        free(w);
        return MHD_NO;
    }
    for (int i = 0; i < RETRIES; i++) {
        if ((rc = s->store->ops->device_get(s->store, mac, d)) != 0)
            break;
        int a = apply(e, mac, d->tags, w, err, sizeof err);
        if (a < 0) {
            ret = upd__reply_error(r, c, MHD_HTTP_CONFLICT, "too-many-tags", "%s", err);
            goto done;
        }
        if (a == 1)
            break; /* nothing changes: no write, no event */
        if ((rc = s->store->ops->device_set_tags(s->store, w, 1, err, sizeof err)) !=
            UPD_STORE_ECONFLICT)
            break;
    }
    if (rc == UPD_STORE_ENOTFOUND)
        ret = upd__reply_error(r, c, MHD_HTTP_NOT_FOUND, "not-found",
                               "device %s has never contacted this server: check its MAC", mac);
    else if (rc != 0)
        ret = upd__api_store_failed(r, c, rc == UPD_STORE_ECONFLICT ? err : NULL);
    else if (s->store->ops->device_get(s->store, mac, d) != 0)
        ret = upd__api_store_failed(r, c, "the device row vanished");
    else
        ret = upd__reply_json(r, c, MHD_HTTP_OK, upd__api_device_json(d));
done:
    free(d);
    free(w);
    return ret;
}

/* Reply to a bulk request: select, compute, write (unless a dry run), answer. */
static enum MHD_Result many(req *r, struct MHD_Connection *c, const cJSON *body, const edit *e)
{
    srv *s = r->s;
    char err[1024] = "";
    const cJSON *fj = cJSON_GetObjectItemCaseSensitive(body, "filter");
    const cJSON *mj = cJSON_GetObjectItemCaseSensitive(body, "macs");
    int dry = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "dry_run"));
    if ((fj && !cJSON_IsString(fj)) || (mj && !cJSON_IsArray(mj)) || (!fj == !mj))
        return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-json",
                                "name the devices with \"filter\": \"platform=esp8266 ...\" "
                                "(docs/filters.md; \"\" selects every device) or \"macs\": "
                                "[\"5C:CF:7F:0A:1B:2C\", ...], not both");
    upd_filter *f = NULL;
    tvec t = {0};
    upd_tag_write *w = NULL;
    cJSON *unknown = cJSON_CreateArray();
    enum MHD_Result ret;
    int64_t nchanged = 0;
    if (fj) {
        if (!(f = malloc(sizeof *f)))
            goto oom;
        if (upd__filter_parse(fj->valuestring, f, err, sizeof err) != 0) {
            ret = upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-filter", "%s", err);
            goto done;
        }
    } else {
        int i = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, mj)
        {
            char mac[UPD_MAC_STR];
            if (!cJSON_IsString(v) ||
                upd__parse_mac(v->valuestring, strlen(v->valuestring), mac) != 0) {
                cJSON *j = cJSON_CreateObject();
                snprintf(err, sizeof err,
                         "macs[%d] %s%.40s%s is not a MAC address: write it as "
                         "5C:CF:7F:0A:1B:2C or 5ccf7f0a1b2c",
                         i, cJSON_IsString(v) ? "'" : "", cJSON_IsString(v) ? v->valuestring : "",
                         cJSON_IsString(v) ? "'" : "");
                cJSON_AddStringToObject(j, "error", err);
                cJSON_AddStringToObject(j, "kind", "bad-mac");
                cJSON_AddNumberToObject(j, "index", i);
                ret = upd__reply_json(r, c, MHD_HTTP_BAD_REQUEST, j);
                goto done;
            }
            i++;
        }
    }
    for (int attempt = 0;; attempt++) {
        t.n = 0;
        cJSON_Delete(unknown);
        unknown = cJSON_CreateArray();
        int rc = 0;
        if (f) {
            rc = upd__devsel_list(s, NULL, f, 0, -1, collect, &t, NULL);
        } else {
            upd_device_row *d = malloc(sizeof *d);
            const cJSON *v;
            if (!d)
                goto oom;
            cJSON_ArrayForEach(v, mj)
            {
                char mac[UPD_MAC_STR];
                upd__parse_mac(v->valuestring, strlen(v->valuestring), mac);
                int dup = 0;
                for (size_t k = 0; k < t.n && !dup; k++)
                    dup = !strcmp(t.v[k].mac, mac);
                if (dup)
                    continue;
                int g = s->store->ops->device_get(s->store, mac, d);
                if (g == UPD_STORE_ENOTFOUND)
                    cJSON_AddItemToArray(unknown, cJSON_CreateString(mac));
                else if (g != 0 || collect(&t, d) != 0)
                    rc = g ? g : UPD_STORE_EFAIL;
                if (rc)
                    break;
            }
            free(d);
        }
        if (t.oom)
            goto oom;
        if (rc) {
            ret = upd__api_store_failed(r, c, NULL);
            goto done;
        }
        free(w);
        w = t.n ? malloc(t.n * sizeof *w) : NULL;
        if (t.n && !w)
            goto oom;
        nchanged = 0;
        for (size_t k = 0; k < t.n; k++) {
            int a = apply(e, t.v[k].mac, t.v[k].tags, &w[nchanged], err, sizeof err);
            if (a < 0) {
                ret = upd__reply_error(r, c, MHD_HTTP_CONFLICT, "too-many-tags",
                                       "%s: nothing was changed", err);
                goto done;
            }
            nchanged += a == 0;
        }
        if (dry || nchanged == 0)
            break;
        rc = s->store->ops->device_set_tags(s->store, w, (size_t)nchanged, err, sizeof err);
        if (rc == 0)
            break;
        if ((rc != UPD_STORE_ECONFLICT && rc != UPD_STORE_ENOTFOUND) || attempt + 1 >= RETRIES) {
            ret = upd__api_store_failed(r, c, err);
            goto done;
        }
        /* another admin changed tags (or deleted a device) meanwhile: select again */
    }
    cJSON *j = cJSON_CreateObject();
    if (f) {
        upd__filter_format(f, err, sizeof err);
        cJSON_AddStringToObject(j, "filter", err);
    }
    cJSON_AddBoolToObject(j, "dry_run", dry);
    cJSON_AddNumberToObject(j, "matched", (double)t.n);
    cJSON_AddNumberToObject(j, "changed", (double)nchanged);
    cJSON_AddNumberToObject(j, "unchanged", (double)((int64_t)t.n - nchanged));
    cJSON_AddItemToObject(j, "unknown_macs", unknown);
    unknown = NULL;
    cJSON *ch = cJSON_AddArrayToObject(j, "changes");
    for (int64_t k = 0; k < nchanged && k < CHANGES_SHOWN; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "mac", w[k].mac);
        cJSON *before = cJSON_CreateObject();
        upd__tags_json(before, w[k].old);
        cJSON_AddItemToObject(o, "before", cJSON_DetachItemFromObject(before, "tags"));
        cJSON_Delete(before);
        upd__tags_json(o, w[k].tags);
        cJSON_AddItemToArray(ch, o);
    }
    ret = upd__reply_json(r, c, MHD_HTTP_OK, j);
    goto done;
oom:
    ret = MHD_NO;
done:
    cJSON_Delete(unknown);
    free(f);
    free(t.v);
    free(w);
    return ret;
}

enum MHD_Result upd__tagging_api(req *r, struct MHD_Connection *c, const char *method,
                                 const char *mac)
{
    if (strcmp(method, "POST"))
        return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                mac ? "use POST /api/v1/devices/<mac>/tags {\"add\": [\"lab\"], "
                                      "\"remove\": [\"attic\"]}"
                                    : "use POST /api/v1/devices/tags {\"filter\": \"...\" or "
                                      "\"macs\": [...], \"add\": [...], \"remove\": [...]}");
    enum MHD_Result ret = MHD_NO;
    cJSON *body = upd__api_json_body(r, c, &ret);
    if (!body)
        return ret;
    edit e;
    char err[512];
    memset(&e, 0, sizeof e);
    if (read_tags(body, "add", e.add, &e.nadd, err, sizeof err) != 0 ||
        read_tags(body, "remove", e.rm, &e.nrm, err, sizeof err) != 0) {
        ret = upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-tag", "%s", err);
    } else if (e.nadd + e.nrm == 0) {
        ret = upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-json",
                               "name the tags: {\"add\": [\"lab\"]} and/or {\"remove\": "
                               "[\"attic\"]}");
    } else {
        ret = mac ? one_device(r, c, mac, &e) : many(r, c, body, &e);
    }
    cJSON_Delete(body); /* the edit's strings point into it */
    return ret;
}
