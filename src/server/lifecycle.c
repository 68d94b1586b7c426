/* The release lifecycle rules and their API calls (lifecycle.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "closest.h"
#include "lifecycle.h"
#include "rollout.h"
#include "sigrule.h"

/* ---- what serves what -------------------------------------------------------------------- */

typedef struct chan_list {
    upd_channel_row *v;
    size_t n, cap;
} chan_list;

static int collect_chan(void *ctx, const upd_channel_row *c)
{
    chan_list *l = ctx;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        upd_channel_row *p = realloc(l->v, nc * sizeof *p);
        if (!p)
            return 1;
        l->v = p;
        l->cap = nc;
    }
    l->v[l->n++] = *c;
    return 0;
}

static int channels_of(srv *s, chan_list *l)
{
    memset(l, 0, sizeof *l);
    return s->store->ops->channel_list(s->store, collect_chan, l);
}

/* The channels that serve release id now, as "stable, beta" into out; how many. */
static int serving(const chan_list *l, int64_t id, char *out, size_t cap)
{
    int n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].release_id == id) {
            size_t len = strlen(out);
            snprintf(out + len, cap - len, "%s'%s'", n ? ", " : "", l->v[i].name);
            n++;
        }
    return n;
}

void upd__lifecycle_add_serving(srv *s, cJSON *rels)
{
    chan_list l;
    channels_of(s, &l);
    cJSON *r;
    cJSON_ArrayForEach(r, rels)
    {
        cJSON *arr = cJSON_AddArrayToObject(r, "serving");
        const cJSON *idv = cJSON_GetObjectItemCaseSensitive(r, "id");
        int64_t id = cJSON_IsNumber(idv) ? (int64_t)idv->valuedouble : 0;
        for (size_t i = 0; i < l.n; i++)
            if (l.v[i].release_id == id)
                cJSON_AddItemToArray(arr, cJSON_CreateString(l.v[i].name));
    }
    free(l.v);
}

/* ---- the previous release (retire --fallback previous) ------------------------------------ */

typedef struct prev_ctx {
    const upd_release_row *of;
    upd_release_row *out;
    int found;
} prev_ctx;

static int find_prev(void *ctx, const upd_release_row *r)
{
    prev_ctx *p = ctx; /* the list is newest first: the first match is the newest */
    if (r->id < p->of->id && !r->retired && !strcmp(r->platform, p->of->platform) &&
        !strcmp(r->mode, p->of->mode)) {
        *p->out = *r;
        p->found = 1;
        return 1;
    }
    return 0;
}

/* ---- API calls ------------------------------------------------------------------------------ */

static enum MHD_Result no_release(req *r, struct MHD_Connection *c, int64_t id)
{
    return upd__reply_error(r, c, MHD_HTTP_NOT_FOUND, "not-found", "there is no release %lld",
                            (long long)id);
}

/* 409: an active rollout needs release id (why names it). */
static enum MHD_Result in_rollout(req *r, struct MHD_Connection *c, const char *verb, int64_t id,
                                  const char *why)
{
    char m[700];
    snprintf(m, sizeof m, "cannot %s release %lld: %s", verb, (long long)id, why);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error", m);
    cJSON_AddStringToObject(j, "reason", why);
    cJSON_AddStringToObject(j, "kind", "in-rollout");
    return upd__reply_json(r, c, MHD_HTTP_CONFLICT, j);
}

enum MHD_Result upd__lifecycle_retire(req *r, struct MHD_Connection *c, int64_t id)
{
    srv *s = r->s;
    char err[512] = "", names[1024];
    int fallback = 0, force = 0;
    if (r->body && r->body_len) {
        enum MHD_Result ret = MHD_NO;
        cJSON *j = upd__api_json_body(r, c, &ret);
        if (!j)
            return ret;
        const cJSON *fb = cJSON_GetObjectItemCaseSensitive(j, "fallback");
        fallback = cJSON_IsString(fb) && !strcmp(fb->valuestring, "previous");
        force = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "force"));
        int bad = (fb && !fallback) || (fallback && force);
        cJSON_Delete(j);
        if (bad)
            return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-json",
                                    "the body is {\"fallback\": \"previous\"} or {\"force\": "
                                    "true}, not both");
    }
    upd_release_row *rel = malloc(sizeof *rel), *prev = malloc(sizeof *prev);
    chan_list l;
    memset(&l, 0, sizeof l);
    enum MHD_Result ret;
    int locked = 0;
    if (!rel || !prev) {
        ret = upd__api_store_failed(r, c, "out of memory");
        goto out;
    }
    if (s->store->ops->release_get(s->store, id, rel) != 0) {
        ret = no_release(r, c, id);
        goto out;
    }
    /* an active rollout offers it: held until the retirement is written */
    if (upd__rollout_release_lock(s->rollouts, id, 0, names, sizeof names)) {
        ret = in_rollout(r, c, "retire", id, names);
        goto out;
    }
    locked = 1;
    channels_of(s, &l);
    int nserving = serving(&l, id, names, sizeof names);
    if (nserving && !fallback && !force) {
        cJSON *j = cJSON_CreateObject();
        char m[1400], why[1200];
        snprintf(why, sizeof why,
                 "release %lld is the current %s %s release of channel%s %s: retiring it would "
                 "leave %s with nothing to offer",
                 (long long)id, rel->platform, rel->mode, nserving > 1 ? "s" : "", names,
                 nserving > 1 ? "them" : "it");
        snprintf(m, sizeof m,
                 "%s. Retire it with {\"fallback\": \"previous\"} (the channels serve the "
                 "release before it) or {\"force\": true} (they serve nothing)",
                 why);
        cJSON_AddStringToObject(j, "error", m);
        cJSON_AddStringToObject(j, "reason", why);
        cJSON_AddStringToObject(j, "kind", "current");
        cJSON *arr = cJSON_AddArrayToObject(j, "channels");
        for (size_t i = 0; i < l.n; i++)
            if (l.v[i].release_id == id)
                cJSON_AddItemToArray(arr, cJSON_CreateString(l.v[i].name));
        ret = upd__reply_json(r, c, MHD_HTTP_CONFLICT, j);
        goto out;
    }
    prev_ctx pc = {rel, prev, 0};
    if (nserving && fallback) {
        s->store->ops->release_list(s->store, find_prev, &pc);
        if (!pc.found) {
            ret = upd__reply_error(r, c, MHD_HTTP_CONFLICT, "no-previous",
                                   "there is no earlier %s %s release that is not retired for "
                                   "%s to fall back to",
                                   rel->platform, rel->mode, names);
            goto out;
        }
        /* a channel that requires signatures falls back only to a release that verifies */
        for (size_t i = 0; i < l.n; i++) {
            int sr = l.v[i].release_id == id
                         ? upd__sign_channel_accepts(s, l.v[i].name, prev, err, sizeof err)
                         : 0;
            if (sr == -1) {
                ret = upd__reply_error(r, c, MHD_HTTP_CONFLICT, "signature", "cannot fall back: %s",
                                       err);
                goto out;
            }
            if (sr) {
                ret = upd__api_store_failed(r, c, err);
                goto out;
            }
        }
        for (size_t i = 0; i < l.n; i++)
            if (l.v[i].release_id == id &&
                s->store->ops->channel_set(s->store, l.v[i].name, prev->id, err, sizeof err)) {
                ret = upd__api_store_failed(r, c, err);
                goto out;
            }
    }
    int rc = s->store->ops->release_retire(s->store, id, err, sizeof err);
    if (rc == UPD_STORE_ENOTFOUND) {
        ret = no_release(r, c, id);
        goto out;
    }
    if (rc) {
        ret = upd__api_store_failed(r, c, err);
        goto out;
    }
    rel->retired = 1;
    cJSON *j = upd__release_json(rel);
    cJSON *arr = cJSON_AddArrayToObject(j, "channels");
    for (size_t i = 0; i < l.n; i++)
        if (l.v[i].release_id == id) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", l.v[i].name);
            if (pc.found) {
                cJSON_AddNumberToObject(o, "release", (double)prev->id);
                cJSON_AddStringToObject(o, "version", prev->version);
            } else {
                cJSON_AddNullToObject(o, "release");
            }
            cJSON_AddItemToArray(arr, o);
        }
    ret = upd__reply_json(r, c, MHD_HTTP_OK, j);
out:
    if (locked)
        upd__rollout_release_unlock(s->rollouts);
    free(l.v);
    free(rel);
    free(prev);
    return ret;
}

enum MHD_Result upd__lifecycle_unretire(req *r, struct MHD_Connection *c, int64_t id)
{
    srv *s = r->s;
    char err[512] = "";
    int rc = s->store->ops->release_unretire(s->store, id, err, sizeof err);
    if (rc == UPD_STORE_ENOTFOUND)
        return no_release(r, c, id);
    if (rc)
        return upd__api_store_failed(r, c, err);
    upd_release_row rel;
    if (s->store->ops->release_get(s->store, id, &rel) != 0)
        return no_release(r, c, id);
    return upd__reply_json(r, c, MHD_HTTP_OK, upd__release_json(&rel));
}

enum MHD_Result upd__lifecycle_delete(req *r, struct MHD_Connection *c, int64_t id)
{
    srv *s = r->s;
    char err[512] = "";
    upd_release_row rel;
    if (s->store->ops->release_get(s->store, id, &rel) != 0)
        return no_release(r, c, id);
    int channels = 0, pins = 0;
    if (upd__rollout_release_lock(s->rollouts, id, 1, err, sizeof err))
        return in_rollout(r, c, "delete", id, err);
    int rc = s->store->ops->release_delete(s->store, id, &channels, &pins, err, sizeof err);
    upd__rollout_release_unlock(s->rollouts);
    if (rc == UPD_STORE_ENOTFOUND)
        return no_release(r, c, id);
    if (rc == UPD_STORE_ECONFLICT) {
        chan_list l;
        char names[1024] = "";
        channels_of(s, &l);
        serving(&l, id, names, sizeof names);
        free(l.v);
        cJSON *j = cJSON_CreateObject();
        char m[1500];
        int n = snprintf(m, sizeof m, "release %lld is still needed: ", (long long)id);
        if (channels)
            n += snprintf(m + n, sizeof m - (size_t)n, "channel%s %s serve%s it",
                          channels > 1 ? "s" : "", names, channels > 1 ? "" : "s");
        if (pins)
            snprintf(m + n, sizeof m - (size_t)n, "%s%d device%s pinned to it",
                     channels ? "; " : "", pins, pins == 1 ? " is" : "s are");
        cJSON_AddStringToObject(j, "error", m);
        cJSON_AddStringToObject(j, "reason", m);
        cJSON_AddStringToObject(j, "kind", "in-use");
        cJSON_AddNumberToObject(j, "channels", channels);
        cJSON_AddNumberToObject(j, "pins", pins);
        return upd__reply_json(r, c, MHD_HTTP_CONFLICT, j);
    }
    if (rc)
        return upd__api_store_failed(r, c, err);
    upd__blob_drop(s, rel.sha256);
    upd__blob_drop(s, rel.gz_sha256);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "deleted", (double)id);
    cJSON_AddStringToObject(j, "version", rel.version);
    return upd__reply_json(r, c, MHD_HTTP_OK, j);
}

/* ---- upload, channels, pins ---------------------------------------------------------------- */

typedef struct ver_ctx {
    const upd_release_row *of;
    upd_release_row *out;
    int found;
} ver_ctx;

static int find_version(void *ctx, const upd_release_row *r)
{
    ver_ctx *v = ctx;
    if (!strcmp(r->platform, v->of->platform) && !strcmp(r->mode, v->of->mode) &&
        !strcmp(r->version, v->of->version) && strcmp(r->sha256, v->of->sha256)) {
        *v->out = *r;
        v->found = 1;
        return 1;
    }
    return 0;
}

int upd__lifecycle_same_version(srv *s, const upd_release_row *rel, upd_release_row *out)
{
    ver_ctx v = {rel, out, 0};
    s->store->ops->release_list(s->store, find_version, &v);
    return v.found;
}

int upd__lifecycle_image_version(const upd_app_desc *d, char *out, size_t cap, char *why,
                                 size_t whylen)
{
    const char *v = d->version;
    size_t idf = strcspn(d->idf_ver, "-");
    int printable = 1;
    for (const char *p = v; *p; p++)
        printable &= *p >= 0x20 && *p < 0x7F;
    if (!v[0] || !printable) {
        snprintf(why, whylen, "the image's app description names no version");
        return -1;
    }
    /* esp_app_desc_t.version is PROJECT_VER; when the project sets none, ESP-IDF puts the
     * framework's `git describe` there, and the Arduino library builder leaves
     * "esp-idf: v4.4.7 <hash>": devices would all report the same "version" */
    if (!strncasecmp(v, "esp-idf", 7) || !strcmp(d->project, "arduino-lib-builder") ||
        (idf > 1 && !strncmp(v, d->idf_ver, idf))) {
        snprintf(why, whylen,
                 "the image's version '%.40s' is the framework's (ESP-IDF %.32s%s), not the "
                 "application's",
                 v, d->idf_ver,
                 !strcmp(d->project, "arduino-lib-builder")
                     ? ", as the Arduino library builder leaves it"
                     : "");
        return -1;
    }
    snprintf(out, cap, "%s", v);
    return 0;
}

int upd__lifecycle_replace(srv *s, const upd_release_row *old, const upd_release_row *new_rel,
                           char *err, size_t errlen)
{
    chan_list l;
    int rc = channels_of(s, &l);
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        if (l.v[i].release_id == old->id)
            rc = s->store->ops->channel_set(s->store, l.v[i].name, new_rel->id, err, errlen);
    free(l.v);
    if (rc == 0 && !old->retired)
        rc = s->store->ops->release_retire(s->store, old->id, err, errlen);
    return rc ? -1 : 0;
}

int upd__lifecycle_channel_known(srv *s, const char *name, char *why, size_t whylen)
{
    if (!strcmp(name, "stable"))
        return 0;
    chan_list l;
    channels_of(s, &l);
    const char **names = calloc(l.n + 2, sizeof *names);
    char list[512] = "";
    size_t k = 0;
    int known = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (!strcmp(l.v[i].name, name))
            known = 1;
        int seen = 0;
        for (size_t j = 0; j < k; j++)
            seen |= !strcmp(names[j], l.v[i].name);
        if (seen || !names)
            continue;
        names[k++] = l.v[i].name;
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s'%s'", len ? ", " : "", l.v[i].name);
    }
    if (!known) {
        int has_stable = 0;
        for (size_t j = 0; j < k; j++)
            has_stable |= !strcmp(names[j], "stable");
        if (names && !has_stable)
            names[k++] = "stable";
        const char *best = names ? upd_closest(name, names) : NULL;
        char b[UPD_NAME_MAX + 40] = "";
        if (best)
            snprintf(b, sizeof b, "; did you mean '%s'?", best);
        snprintf(why, whylen, "there is no channel '%s' (channels: %s)%s", name,
                 list[0] ? list : "only 'stable' so far", b);
    }
    free(names);
    free(l.v);
    return known ? 0 : -1;
}

int upd__lifecycle_pin_fits(srv *s, const char *mac, const upd_release_row *rel, char *why,
                            size_t whylen)
{
    upd_device_row *d = malloc(sizeof *d);
    if (!d || s->store->ops->device_get(s->store, mac, d) != 0 || !d->family[0]) {
        free(d);
        return 0; /* never heard from: nothing to check it against */
    }
    int rc = 0;
    upd_image_report rep;
    int fs = !strcmp(rel->mode, "fs");
    if (upd__release_report(s, rel, &rep) == 0) {
        upd_client client = !strcmp(d->family, "esp8266") ? UPD_CLIENT_ESP8266_ARDUINO
                            : strstr(d->user_agent, "ESP32 HTTP Client") ? UPD_CLIENT_ESP_IDF
                                                                         : UPD_CLIENT_ESP32_ARDUINO;
        upd_device_facts f;
        char how[160] = "";
        upd__device_facts(s, d, fs, client, d, &f, how, sizeof how);
        upd_fit_result fr;
        memset(&fr, 0, sizeof fr);
        if (upd_fit_check(&rep, &f, &fr) != 0) {
            snprintf(why, whylen, "device %s cannot take release %lld (version %.100s): %s", mac,
                     (long long)rel->id, rel->version,
                     fr.explanation[0] ? fr.explanation : upd_fit_code_name(fr.code));
            rc = -1;
        }
    }
    free(d);
    return rc;
}

int upd__lifecycle_pin_signed(srv *s, const char *mac, const upd_release_row *rel, char *why,
                              size_t whylen)
{
    upd_device_row *d = malloc(sizeof *d);
    if (!d)
        return UPD_STORE_EFAIL;
    int rc = 0;
    if (s->store->ops->device_get(s->store, mac, d) == 0)
        rc = upd__sign_device_accepts(s, d, rel, why, whylen);
    free(d);
    return rc;
}
