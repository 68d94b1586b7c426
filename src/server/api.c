/* The admin API under /api/v1 (Authorization: Bearer <token>). JSON in, JSON out;
 * every error is {"error": what was wrong and what to do, "kind": short word}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reladopt.h"
#include "chip.h"
#include "connguard.h"
#include "sigrule.h"
#include "adoption.h"
#include "devpage.h"
#include "devsel.h"
#include "fleet.h"
#include "lifecycle.h"
#include "metrics.h"
#include "problems.h"
#include "relnotes.h"
#include "session.h"
#include "srv.h"
#include "tagging.h"

#define MAX_JSON_BODY (64 * 1024)

static void add_time(cJSON *j, const char *name, int64_t ms)
{
    if (ms <= 0) {
        cJSON_AddNullToObject(j, name);
        return;
    }
    char t[40];
    upd__iso_time(ms, t, sizeof t);
    cJSON_AddStringToObject(j, name, t);
}

static void add_str_or_null(cJSON *j, const char *name, const char *v)
{
    if (v && v[0])
        cJSON_AddStringToObject(j, name, v);
    else
        cJSON_AddNullToObject(j, name);
}

static void add_int_or_null(cJSON *j, const char *name, int64_t v)
{
    if (v >= 0)
        cJSON_AddNumberToObject(j, name, (double)v);
    else
        cJSON_AddNullToObject(j, name);
}

cJSON *upd__release_json(const upd_release_row *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", (double)r->id);
    cJSON_AddStringToObject(j, "version", r->version);
    cJSON_AddStringToObject(j, "platform", r->platform);
    cJSON_AddStringToObject(j, "mode", r->mode);
    cJSON_AddStringToObject(j, "kind", r->kind);
    add_str_or_null(j, "chip", r->chip);
    add_str_or_null(j, "channel", r->channel);
    cJSON_AddStringToObject(j, "filename", r->filename);
    cJSON_AddStringToObject(j, "notes", r->notes);
    cJSON_AddNumberToObject(j, "size", (double)r->size);
    cJSON_AddStringToObject(j, "md5", r->md5);
    cJSON_AddStringToObject(j, "sha256", r->sha256);
    if (r->inner_md5[0]) {
        cJSON_AddStringToObject(j, "inflated_md5", r->inner_md5);
        cJSON_AddNumberToObject(j, "inflated_size", (double)r->inner_size);
    }
    if (r->gz_size > 0) {
        /* the copy ESP8266 devices whose eboot inflates get (delivery.h) */
        cJSON *g = cJSON_AddObjectToObject(j, "gzip");
        cJSON_AddNumberToObject(g, "size", (double)r->gz_size);
        cJSON_AddStringToObject(g, "md5", r->gz_md5);
        cJSON_AddStringToObject(g, "sha256", r->gz_sha256);
        cJSON_AddNumberToObject(g, "min_stage", (double)r->gz_min_stage);
    } else {
        cJSON_AddNullToObject(j, "gzip");
    }
    add_time(j, "created", r->created_ms);
    cJSON_AddBoolToObject(j, "retired", r->retired);
    /* what a device running it can report as its image hash (imageid.c) */
    cJSON *hs = cJSON_AddArrayToObject(j, "device_hashes");
    for (int i = 0; i < r->nhash; i++) {
        cJSON *h = cJSON_CreateObject();
        cJSON_AddStringToObject(h, "hex", r->hash[i].hex);
        cJSON_AddStringToObject(h, "what", r->hash[i].what);
        cJSON_AddItemToArray(hs, h);
    }
    char url[256], stem[128];
    upd__copy(stem, sizeof stem, r->filename[0] ? r->filename : "firmware");
    size_t n = strlen(stem);
    if (n > 3 && !strcmp(stem + n - 3, ".gz"))
        stem[n -= 3] = '\0';
    if (n > 4 && !strcmp(stem + n - 4, ".bin"))
        stem[n -= 4] = '\0';
    snprintf(url, sizeof url, "/releases/%lld/%s.bin", (long long)r->id, stem);
    cJSON_AddStringToObject(j, "url", url);
    return j;
}

cJSON *upd__api_device_json(const upd_device_row *d)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "mac", d->mac);
    add_str_or_null(j, "ap_mac", d->ap_mac);
    add_str_or_null(j, "platform", d->family);
    add_str_or_null(j, "chip_id", d->chip_id);
    add_str_or_null(j, "sdk", d->sdk);
    add_str_or_null(j, "version", d->version);
    add_int_or_null(j, "sketch_size", d->sketch_size);
    add_str_or_null(j, "sketch_md5", d->sketch_md5);
    add_str_or_null(j, "sketch_sha256", d->sketch_sha256);
    add_int_or_null(j, "free_space", d->free_space);
    add_int_or_null(j, "chip_size", d->chip_size);
    add_str_or_null(j, "mode", d->mode);
    add_str_or_null(j, "ip", d->ip);
    add_str_or_null(j, "user_agent", d->user_agent);
    add_time(j, "first_seen", d->first_seen_ms);
    add_time(j, "last_seen", d->last_seen_ms);
    add_str_or_null(j, "channel", d->channel);
    add_str_or_null(j, "url_channel", d->url_channel); /* in the URL of its last check */
    cJSON_AddStringToObject(j, "effective_channel", upd__device_channel(d));
    upd__tags_json(j, d->tags);
    if (d->pin_release > 0)
        cJSON_AddNumberToObject(j, "pinned_release", (double)d->pin_release);
    else
        cJSON_AddNullToObject(j, "pinned_release");
    if (d->offered_release > 0)
        cJSON_AddNumberToObject(j, "offered_release", (double)d->offered_release);
    else
        cJSON_AddNullToObject(j, "offered_release");
    cJSON_AddNumberToObject(j, "offer_downloads", (double)d->offer_downloads);
    if (d->running_release > 0)
        cJSON_AddNumberToObject(j, "running_release", (double)d->running_release);
    else
        cJSON_AddNullToObject(j, "running_release");
    add_str_or_null(j, "last_result", d->last_result);
    add_str_or_null(j, "tool", d->tool); /* "sim"/"doctor": an updraft tool made it */
    /* a release that failed on it and is held back (outcome.c) */
    if (d->hold_release > 0 && d->hold_failures > 0) {
        cJSON *h = cJSON_AddObjectToObject(j, "held");
        cJSON_AddNumberToObject(h, "release", (double)d->hold_release);
        cJSON_AddNumberToObject(h, "failures", (double)d->hold_failures);
        if (d->hold_until_ms)
            add_time(h, "until", d->hold_until_ms);
        else
            cJSON_AddNullToObject(h, "until");
    } else {
        cJSON_AddNullToObject(j, "held");
    }
    if (d->hold_release > 0 && d->hold_failures > 0 && d->hold_until_ms == 0) {
        char a[256];
        snprintf(a, sizeof a,
                 "release %lld failed on it %lld times and is no longer offered: fix the "
                 "release or the device, then 'updraft device retry %s'",
                 (long long)d->hold_release, (long long)d->hold_failures, d->mac);
        cJSON_AddStringToObject(j, "attention", a);
    } else {
        cJSON_AddNullToObject(j, "attention");
    }
    return j;
}

cJSON *upd__event_json(const upd_event_row *e)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", (double)e->id);
    add_time(j, "at", e->at_ms);
    add_str_or_null(j, "mac", e->mac);
    cJSON_AddStringToObject(j, "kind", e->kind);
    if (e->release_id > 0)
        cJSON_AddNumberToObject(j, "release", (double)e->release_id);
    else
        cJSON_AddNullToObject(j, "release");
    add_int_or_null(j, "bytes", e->bytes);
    cJSON_AddStringToObject(j, "detail", e->detail);
    if (e->actor[0]) { /* an admin action: which token did it, from where */
        cJSON_AddStringToObject(j, "actor", e->actor);
        add_str_or_null(j, "source", e->source);
    }
    return j;
}

static int collect_release(void *ctx, const upd_release_row *r)
{
    cJSON_AddItemToArray(ctx, upd__release_json(r));
    return 0;
}

static int collect_device(void *ctx, const upd_device_row *d)
{
    cJSON_AddItemToArray(ctx, upd__api_device_json(d));
    return 0;
}

static int collect_event(void *ctx, const upd_event_row *e)
{
    cJSON_AddItemToArray(ctx, upd__event_json(e));
    return 0;
}

static int collect_channel(void *ctx, const upd_channel_row *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", c->name);
    cJSON_AddStringToObject(j, "platform", c->platform);
    cJSON_AddStringToObject(j, "mode", c->mode);
    cJSON_AddNumberToObject(j, "release", (double)c->release_id);
    cJSON_AddStringToObject(j, "version", c->version);
    add_time(j, "updated", c->updated_ms);
    add_str_or_null(j, "chip", c->chip);
    cJSON_AddItemToArray(ctx, j);
    return 0;
}

/* A JSON text with nothing but blanks after it (cJSON stops at the end of the value). */
static cJSON *parse_json(const char *text, size_t len)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    while (j && end && end < text + len &&
           (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if (j && end != text + len) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

enum MHD_Result upd__api_store_failed(req *r, struct MHD_Connection *c, const char *err)
{
    return upd__reply_error(r, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage",
                            "the database failed: %s (the server log may say more)",
                            err && err[0] ? err : "unknown error");
}

cJSON *upd__api_json_body(req *r, struct MHD_Connection *c, enum MHD_Result *ret)
{
    if (r->body_too_big) {
        *ret = upd__reply_error(r, c, MHD_HTTP_CONTENT_TOO_LARGE, "too-large",
                                "the JSON body is larger than %d bytes", MAX_JSON_BODY);
        return NULL;
    }
    cJSON *j = r->body ? parse_json(r->body, r->body_len) : NULL;
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        *ret = upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-json",
                                "the body must be a JSON object, e.g. {\"release\": 3}");
        return NULL;
    }
    return j;
}

/* {"release": N} (number or numeric string) -> N, or replies 400 and returns -1. */
static int64_t body_release(req *r, struct MHD_Connection *c, enum MHD_Result *ret)
{
    cJSON *j = upd__api_json_body(r, c, ret);
    if (!j)
        return -1;
    cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "release");
    int64_t id = -1;
    if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble < 9.0e15)
        id = (int64_t)v->valuedouble;
    else if (cJSON_IsString(v)) {
        char *end;
        long long x = strtoll(v->valuestring, &end, 10);
        if (*end == '\0' && x > 0)
            id = x;
    }
    cJSON_Delete(j);
    if (id < 1)
        *ret = upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-json",
                                "the body must name a release id: {\"release\": 3} (ids: GET "
                                "/api/v1/releases)");
    return id;
}

/* An error whose reason (no API words in it) clients may show on its own. */
static enum MHD_Result reply_reason(req *r, struct MHD_Connection *c, unsigned status,
                                    const char *kind, const char *reason, const char *api_hint)
{
    cJSON *j = cJSON_CreateObject();
    char m[1400];
    snprintf(m, sizeof m, "%s: %s", reason, api_hint);
    cJSON_AddStringToObject(j, "error", m);
    cJSON_AddStringToObject(j, "kind", kind);
    cJSON_AddStringToObject(j, "reason", reason);
    return upd__reply_json(r, c, status, j);
}

/* Is "name": true in the JSON body? */
static int body_flag(req *r, const char *name)
{
    cJSON *j = r->body ? parse_json(r->body, r->body_len) : NULL;
    int v = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, name));
    cJSON_Delete(j);
    return v;
}

static int body_false(req *r, const char *name)
{
    cJSON *j = r->body ? parse_json(r->body, r->body_len) : NULL;
    int v = cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, name));
    cJSON_Delete(j);
    return v;
}

static int64_t parse_id(const char *s, const char **rest)
{
    char *end;
    if (*s < '0' || *s > '9') /* strtoll would take blanks and signs */
        return -1;
    long long v = strtoll(s, &end, 10);
    if (end == s || v <= 0 || (*end && *end != '/'))
        return -1;
    *rest = end;
    return v;
}

static enum MHD_Result no_release(req *r, struct MHD_Connection *c, int64_t id)
{
    return upd__reply_error(r, c, MHD_HTTP_NOT_FOUND, "not-found",
                            "there is no release %lld: list them with GET /api/v1/releases",
                            (long long)id);
}

static enum MHD_Result releases(req *r, struct MHD_Connection *c, const char *method,
                                const char *sub)
{
    srv *s = r->s;
    char err[512] = "";
    if (!*sub) {
        if (!strcmp(method, "GET")) {
            cJSON *arr = cJSON_CreateArray();
            if (s->store->ops->release_list(s->store, collect_release, arr) != 0) {
                cJSON_Delete(arr);
                return upd__api_store_failed(r, c, NULL);
            }
            upd__lifecycle_add_serving(s, arr);
            upd__reladopt_add(s, arr);
            cJSON *j = cJSON_CreateObject();
            cJSON_AddItemToObject(j, "releases", arr);
            return upd__reply_json(r, c, MHD_HTTP_OK, j);
        }
        if (!strcmp(method, "POST"))
            return upd__upload_finish(r, c);
        return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                "use GET to list releases or POST to add one");
    }
    const char *rest;
    int64_t id = parse_id(sub + 1, &rest);
    if (id < 0)
        return upd__reply_error(r, c, MHD_HTTP_NOT_FOUND, "not-found",
                                "expected /api/v1/releases/<id> with a numeric id");
    upd_release_row rel;
    if (!*rest && !strcmp(method, "DELETE"))
        return upd__lifecycle_delete(r, c, id);
    if (!*rest) {
        if (strcmp(method, "GET"))
            return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                    "use GET to show a release, DELETE to delete it, POST "
                                    ".../retire or .../unretire");
        if (s->store->ops->release_get(s->store, id, &rel) != 0)
            return no_release(r, c, id);
        cJSON *j = upd__release_json(&rel);
        cJSON *one = cJSON_CreateArray();
        cJSON_AddItemReferenceToArray(one, j);
        upd__lifecycle_add_serving(s, one);
        upd__reladopt_add(s, one);
        cJSON_Delete(one);
        upd_image_report rep;
        if (upd__release_report(s, &rel, &rep) == 0) {
            cJSON *insp = cJSON_AddObjectToObject(j, "inspection");
            cJSON_AddStringToObject(insp, "verdict", upd_verdict_name(rep.verdict));
            cJSON_AddStringToObject(insp, "reason", rep.reason);
            cJSON_AddStringToObject(insp, "flash_mode", upd_flash_mode_name(rep.flash_mode));
            cJSON_AddNumberToObject(insp, "flash_size", rep.flash_size);
        }
        return upd__reply_json(r, c, MHD_HTTP_OK, j);
    }
    if (!strcmp(rest, "/retire")) {
        if (strcmp(method, "POST"))
            return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                    "use POST /api/v1/releases/<id>/retire");
        return upd__lifecycle_retire(r, c, id);
    }
    if (!strcmp(rest, "/notes"))
        return upd__relnotes_route(r, c, method, id);
    if (!strcmp(rest, "/unretire")) {
        if (strcmp(method, "POST"))
            return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                    "use POST /api/v1/releases/<id>/unretire");
        return upd__lifecycle_unretire(r, c, id);
    }
    (void)err;
    return upd__reply_error(r, c, MHD_HTTP_NOT_FOUND, "not-found",
                            "unknown release path: /api/v1/releases/<id>, .../retire or "
                            ".../unretire");
}

/* "require_signed": {"key", "key_id"} of the key channel name requires, or null. */
static void add_channel_key(srv *s, cJSON *j, const char *name)
{
    char desc[32], id[65];
    if (upd__sign_channel_key(s, name, desc, id) != 0) {
        cJSON_AddNullToObject(j, "require_signed");
        return;
    }
    cJSON *k = cJSON_AddObjectToObject(j, "require_signed");
    cJSON_AddStringToObject(k, "key", desc);
    cJSON_AddStringToObject(k, "key_id", id);
}

static void add_channel_keys(srv *s, cJSON *arr)
{
    cJSON *ch;
    cJSON_ArrayForEach(ch, arr)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(ch, "name");
        if (cJSON_IsString(n))
            add_channel_key(s, ch, n->valuestring);
    }
}

static enum MHD_Result channels(req *r, struct MHD_Connection *c, const char *method,
                                const char *sub)
{
    srv *s = r->s;
    char err[512] = "";
    if (!*sub) {
        if (strcmp(method, "GET"))
            return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                    "use GET /api/v1/channels, or PUT /api/v1/channels/<name>");
        cJSON *arr = cJSON_CreateArray();
        if (s->store->ops->channel_list(s->store, collect_channel, arr) != 0) {
            cJSON_Delete(arr);
            return upd__api_store_failed(r, c, NULL);
        }
        add_channel_keys(s, arr);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToObject(j, "channels", arr);
        return upd__reply_json(r, c, MHD_HTTP_OK, j);
    }
    const char *name = sub + 1;
    if (!upd__valid_channel(name))
        return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-request",
                                "'%.100s' is not a channel name: use letters, digits, '.', '_' "
                                "and '-'",
                                name);
    if (strcmp(method, "PUT") && strcmp(method, "POST"))
        return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                "use PUT /api/v1/channels/<name> {\"release\": ID}");
    enum MHD_Result ret = MHD_NO;
    /* {"release": ID} and/or {"chip": "esp32c3"} ({"chip": null} clears it) */
    cJSON *body = upd__api_json_body(r, c, &ret);
    if (!body)
        return ret;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "release");
    const cJSON *cv = cJSON_GetObjectItemCaseSensitive(body, "chip");
    /* {"require_signed": "-----BEGIN PUBLIC KEY-----..."} or null (sigrule.h) */
    const cJSON *kv = cJSON_GetObjectItemCaseSensitive(body, "require_signed");
    int64_t id = 0;
    if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble < 9.0e15)
        id = (int64_t)v->valuedouble;
    else if (cJSON_IsString(v)) {
        char *end;
        long long x = strtoll(v->valuestring, &end, 10);
        id = *end == '\0' && x > 0 ? x : -1;
    } else if (v)
        id = -1;
    char chip[48] = "";
    int have_chip = cv != NULL, bad_chip = cv && !cJSON_IsNull(cv) && !cJSON_IsString(cv);
    if (cJSON_IsString(cv))
        upd__copy(chip, sizeof chip, cv->valuestring);
    int have_key = kv != NULL, bad_key = kv && !cJSON_IsNull(kv) && !cJSON_IsString(kv);
    char *pem = cJSON_IsString(kv) ? strdup(kv->valuestring) : NULL;
    cJSON_Delete(body);
    if (id < 0 || bad_chip || bad_key || (!id && !have_chip && !have_key)) {
        free(pem);
        return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-json",
                                "the body must name a release id and/or the channel's chip "
                                "and/or the key its releases must be signed with: "
                                "{\"release\": 3}, {\"release\": 3, \"chip\": \"esp32c3\"}, "
                                "{\"chip\": null}, {\"require_signed\": \"-----BEGIN PUBLIC "
                                "KEY-----...\"} (ids: GET /api/v1/releases)");
    }
    char why[1024];
    if (body_false(r, "create") && upd__lifecycle_channel_known(s, name, why, sizeof why) != 0) {
        free(pem);
        return reply_reason(r, c, MHD_HTTP_NOT_FOUND, "unknown-channel", why,
                            "to start a new channel, leave \"create\": false out");
    }
    upd_release_row rel;
    if (id && s->store->ops->release_get(s->store, id, &rel) != 0) {
        free(pem);
        return no_release(r, c, id);
    }
    int rc;
    if (have_key) {
        /* before the release is set: the release is then checked against the new key */
        unsigned st = 0;
        rc = upd__sign_require(s, name, pem, id ? &rel : NULL, &st, err, sizeof err);
        free(pem);
        pem = NULL;
        if (rc == -1)
            return upd__reply_error(r, c, st, st == 409 ? "signature" : "bad-key", "%s", err);
        if (rc)
            return upd__api_store_failed(r, c, err);
    }
    if (have_chip) {
        int bad_name = 0;
        rc = upd__chip_declare(s, name, chip, id ? &rel : NULL, &bad_name, err, sizeof err);
        if (rc == -1)
            return upd__reply_error(r, c, bad_name ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_CONFLICT,
                                    bad_name ? "bad-request" : "wrong-chip", "%s", err);
        if (rc)
            return upd__api_store_failed(r, c, err);
    }
    if (id) {
        rc = upd__chip_channel_accepts(s, name, &rel, err, sizeof err);
        if (rc == -1)
            return upd__reply_error(r, c, MHD_HTTP_CONFLICT, "wrong-chip", "%s", err);
        if (rc)
            return upd__api_store_failed(r, c, err);
        rc = upd__sign_channel_accepts(s, name, &rel, err, sizeof err);
        if (rc == -1)
            return upd__reply_error(r, c, MHD_HTTP_CONFLICT, "signature", "%s", err);
        if (rc)
            return upd__api_store_failed(r, c, err);
        /* "allow_downgrade": devices that run a newer version get it too (policy.c) */
        rc = body_flag(r, "allow_downgrade")
                 ? s->store->ops->channel_set_downgrade(s->store, name, id, err, sizeof err)
                 : s->store->ops->channel_set(s->store, name, id, err, sizeof err);
        if (rc == UPD_STORE_ENOTFOUND)
            return no_release(r, c, id);
        if (rc == UPD_STORE_ECONFLICT)
            return upd__reply_error(r, c, MHD_HTTP_CONFLICT, "retired", "%s", err);
        if (rc)
            return upd__api_store_failed(r, c, err);
    }
    char declared[16] = "";
    s->store->ops->channel_chip_get(s->store, name, declared, sizeof declared);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", name);
    if (id) {
        cJSON_AddStringToObject(j, "platform", rel.platform);
        cJSON_AddStringToObject(j, "mode", rel.mode);
        cJSON_AddNumberToObject(j, "release", (double)id);
        cJSON_AddStringToObject(j, "version", rel.version);
        /* the devices on it that run a newer version: offered it only with the flag */
        int64_t newer = 0;
        if (upd__devsel_newer(s, name, &rel, &newer) != 0)
            newer = -1;
        cJSON_AddNumberToObject(j, "newer_devices", (double)newer);
        cJSON_AddBoolToObject(j, "allow_downgrade", body_flag(r, "allow_downgrade"));
    }
    add_str_or_null(j, "chip", declared);
    add_channel_key(s, j, name);
    return upd__reply_json(r, c, MHD_HTTP_OK, j);
}

static enum MHD_Result devices(req *r, struct MHD_Connection *c, const char *method,
                               const char *sub)
{
    srv *s = r->s;
    char err[512] = "";
    upd_writer_flush(s->writer); /* show what devices just did */
    if (!*sub) {
        if (strcmp(method, "GET"))
            return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                    "use GET /api/v1/devices");
        upd_device_filter f;
        memset(&f, 0, sizeof f);
        f.channel = upd__arg(c, "channel");
        f.platform = upd__arg(c, "platform");
        f.version = upd__arg(c, "version");
        const char *since = upd__arg(c, "seen-since");
        if (!since)
            since = upd__arg(c, "seen_since");
        if (since) {
            f.seen_since_ms = upd__parse_time(since);
            if (f.seen_since_ms < 0)
                return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-request",
                                        "seen-since must be seconds since 1970 or a UTC time "
                                        "like 2026-11-27T10:00:00Z");
        }
        const char *att = upd__arg(c, "attention");
        if (att && strcmp(att, "1") && strcmp(att, "true") && strcmp(att, "0") &&
            strcmp(att, "false"))
            return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-request",
                                    "attention must be 1 or 0");
        f.attention = att && (!strcmp(att, "1") || !strcmp(att, "true"));
        const char *lim = upd__arg(c, "limit"), *off = upd__arg(c, "offset"),
                   *pin = upd__arg(c, "pinned");
        char *end = NULL;
        long long lv = lim ? strtoll(lim, &end, 10) : 1000;
        if (lim && (*end || lv < 1 || lv > 100000))
            return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-limit",
                                    "limit must be a number from 1 to 100000");
        long long ov = off ? strtoll(off, &end, 10) : 0;
        if (off && (*end || ov < 0))
            return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-offset",
                                    "offset must be a number of devices to skip (0 or more)");
        long long pv = pin ? strtoll(pin, &end, 10) : 0;
        if (pin && (*end || pv < 1))
            return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-pinned",
                                    "pinned must be a release id");
        f.limit = (int)lv;
        f.offset = ov;
        f.pinned_to = pv;
        /* sort=-last_seen (the default), last_seen, mac, -mac, -first_seen, first_seen,
         * version, -version; after= the cursor of the page before (devpage.h) */
        int sort = upd__devpage_sort(upd__arg(c, "sort"));
        if (sort < 0)
            return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-sort",
                                    "sort must be last_seen, first_seen, mac or version, with a "
                                    "'-' before it for the reverse order (default -last_seen: "
                                    "the newest seen first; version: in updraft's version "
                                    "order, 1.10.0 after 1.9.0)");
        const char *after = upd__arg(c, "after");
        if (after && off)
            return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-after",
                                    "after (the next page's cursor) and offset cannot be used "
                                    "together: leave offset out");
        f.tool = upd__arg(c, "tool");
        const char *ftext = upd__arg(c, "filter");
        upd_filter *filt = NULL;
        if (ftext) {
            if (!(filt = malloc(sizeof *filt)))
                return MHD_NO;
            if (upd__filter_parse(ftext, filt, err, sizeof err) != 0) {
                free(filt);
                return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-filter", "%s", err);
            }
        }
        if (f.tool && strcmp(f.tool, "none") && strcmp(f.tool, "any") && strcmp(f.tool, "sim") &&
            strcmp(f.tool, "doctor")) {
            free(filt);
            return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-tool",
                                    "tool must be none (real devices only), any (the devices "
                                    "updraft's tools made), sim or doctor");
        }
        int64_t total = 0, hidden = -1;
        cJSON *arr = cJSON_CreateArray();
        char next[UPD_DEVPAGE_CURSOR];
        upd_devpage pg = {&f, filt, sort, ov, lv, after};
        int rc = upd__devpage_list(s, &pg, collect_device, arr, &total, next, err, sizeof err);
        if (rc == -1) { /* with the cursor's own sort, when it is a cursor */
            free(filt);
            cJSON_Delete(arr);
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "error", err);
            cJSON_AddStringToObject(e, "kind", "bad-after");
            int cs = upd__devpage_cursor_sort(after);
            if (cs >= 0)
                cJSON_AddStringToObject(e, "cursor_sort", upd__devpage_sort_name(cs));
            return upd__reply_json(r, c, MHD_HTTP_BAD_REQUEST, e);
        }
        if (rc == 0 && f.tool && !strcmp(f.tool, "none")) {
            /* what the listing leaves out: the tools' devices that match the rest */
            upd_device_filter t = f;
            t.tool = "any";
            rc = upd__devsel_list(s, &t, filt, 0, -1, NULL, NULL, &hidden);
        }
        if (rc != 0) {
            free(filt);
            cJSON_Delete(arr);
            return upd__api_store_failed(r, c, NULL);
        }
        cJSON *j = cJSON_CreateObject();
        if (filt) {
            upd__filter_format(filt, err, sizeof err);
            cJSON_AddStringToObject(j, "filter", err);
            free(filt);
        }
        cJSON_AddNumberToObject(j, "total", (double)total);
        if (hidden >= 0)
            cJSON_AddNumberToObject(j, "tool_devices_hidden", (double)hidden);
        cJSON_AddNumberToObject(j, "offset", (double)ov);
        cJSON_AddStringToObject(j, "sort", upd__devpage_sort_name(sort));
        if (next[0])
            cJSON_AddStringToObject(j, "next", next);
        else
            cJSON_AddNullToObject(j, "next");
        cJSON_AddItemToObject(j, "devices", arr);
        return upd__reply_json(r, c, MHD_HTTP_OK, j);
    }
    if (!strcmp(sub, "/tags"))
        return upd__tagging_api(r, c, method, NULL);
    const char *macs = sub + 1;
    const char *slash = strchr(macs, '/');
    size_t mlen = slash ? (size_t)(slash - macs) : strlen(macs);
    char mac[UPD_MAC_STR];
    if (upd__parse_mac(macs, mlen, mac) != 0)
        return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-request",
                                "'%.*s' is not a MAC address: write it as 5C:CF:7F:0A:1B:2C or "
                                "5ccf7f0a1b2c",
                                (int)(mlen > 40 ? 40 : mlen), macs);
    const char *action = slash ? slash : "";
    if (!*action && !strcmp(method, "DELETE")) {
        int64_t nev = 0;
        int rc = s->store->ops->device_delete(s->store, mac, &nev, err, sizeof err);
        if (rc == UPD_STORE_ENOTFOUND)
            return upd__reply_error(r, c, MHD_HTTP_NOT_FOUND, "not-found",
                                    "device %s is not in the registry: check its MAC", mac);
        if (rc)
            return upd__api_store_failed(r, c, err);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "mac", mac);
        cJSON_AddBoolToObject(j, "deleted", 1);
        cJSON_AddNumberToObject(j, "events_deleted", (double)nev);
        return upd__reply_json(r, c, MHD_HTTP_OK, j);
    }
    if (!*action) {
        if (strcmp(method, "GET"))
            return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                    "use GET or DELETE /api/v1/devices/<mac>");
        upd_device_row d;
        if (s->store->ops->device_get(s->store, mac, &d) != 0)
            return upd__reply_error(r, c, MHD_HTTP_NOT_FOUND, "not-found",
                                    "device %s has never contacted this server (and was not "
                                    "pinned or assigned): check its MAC",
                                    mac);
        cJSON *j = upd__api_device_json(&d);
        cJSON *hist = cJSON_AddArrayToObject(j, "history");
        const char *lim = upd__arg(c, "limit");
        s->store->ops->event_list(s->store, mac, NULL, 0, lim ? atoi(lim) : 100, collect_event,
                                  hist);
        return upd__reply_json(r, c, MHD_HTTP_OK, j);
    }
    if (!strcmp(action, "/pin")) {
        int rc;
        if (!strcmp(method, "DELETE")) {
            rc = s->store->ops->device_set_pin(s->store, mac, 0, err, sizeof err);
        } else if (!strcmp(method, "POST") || !strcmp(method, "PUT")) {
            enum MHD_Result ret = MHD_NO;
            int64_t id = body_release(r, c, &ret);
            if (id < 0)
                return ret;
            upd_release_row rel;
            char why[1024];
            int have = s->store->ops->release_get(s->store, id, &rel) == 0;
            if (have && (rc = upd__lifecycle_pin_signed(s, mac, &rel, why, sizeof why)) != 0)
                return rc == -1 ? upd__reply_error(r, c, MHD_HTTP_CONFLICT, "unsigned-for-channel",
                                                   "%s", why)
                                : upd__api_store_failed(r, c, why);
            if (!body_flag(r, "force") && have &&
                upd__lifecycle_pin_fits(s, mac, &rel, why, sizeof why) != 0)
                return reply_reason(r, c, MHD_HTTP_CONFLICT, "wont-fit", why,
                                    "to pin it anyway, add \"force\": true");
            rc = s->store->ops->device_set_pin(s->store, mac, id, err, sizeof err);
            if (rc == UPD_STORE_ENOTFOUND)
                return no_release(r, c, id);
        } else {
            return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                    "use POST .../pin {\"release\": ID} or DELETE .../pin");
        }
        if (rc == UPD_STORE_ECONFLICT)
            return upd__reply_error(r, c, MHD_HTTP_CONFLICT, "retired", "%s", err);
        if (rc)
            return upd__api_store_failed(r, c, err);
    } else if (!strcmp(action, "/tags")) {
        return upd__tagging_api(r, c, method, mac);
    } else if (!strcmp(action, "/retry")) {
        if (strcmp(method, "POST"))
            return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                    "use POST .../retry");
        int rc = s->store->ops->device_clear_hold(s->store, mac, err, sizeof err);
        if (rc == UPD_STORE_ENOTFOUND)
            return upd__reply_error(r, c, MHD_HTTP_NOT_FOUND, "not-found",
                                    "device %s has never contacted this server: check its MAC",
                                    mac);
        if (rc)
            return upd__api_store_failed(r, c, err);
    } else if (!strcmp(action, "/channel")) {
        if (!strcmp(method, "DELETE")) {
            int rc = s->store->ops->device_set_channel(s->store, mac, NULL, err, sizeof err);
            if (rc)
                return upd__api_store_failed(r, c, err);
        } else if (!strcmp(method, "PUT") || !strcmp(method, "POST")) {
            enum MHD_Result ret = MHD_NO;
            cJSON *j = upd__api_json_body(r, c, &ret);
            if (!j)
                return ret;
            cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "channel");
            const char *ch = cJSON_IsString(v) ? v->valuestring : NULL;
            char why[1024];
            if (ch && *ch && upd__valid_channel(ch) &&
                cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "create")) &&
                upd__lifecycle_channel_known(s, ch, why, sizeof why) != 0) {
                cJSON_Delete(j);
                return reply_reason(r, c, MHD_HTTP_NOT_FOUND, "unknown-channel", why,
                                    "to assign a channel that serves nothing yet, leave "
                                    "\"create\": false out");
            }
            if (!cJSON_IsNull(v) && (!ch || (*ch && !upd__valid_channel(ch)))) {
                cJSON_Delete(j);
                return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-json",
                                        "the body must be {\"channel\": \"beta\"} (letters, "
                                        "digits, '.', '_', '-'), or {\"channel\": null} to clear");
            }
            int rc = s->store->ops->device_set_channel(s->store, mac, ch, err, sizeof err);
            cJSON_Delete(j);
            if (rc)
                return upd__api_store_failed(r, c, err);
        } else {
            return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                    "use PUT .../channel {\"channel\": \"beta\"}");
        }
    } else {
        return upd__reply_error(r, c, MHD_HTTP_NOT_FOUND, "not-found",
                                "unknown device path: /api/v1/devices/<mac>, .../pin, "
                                ".../channel, .../tags, .../retry");
    }
    upd_device_row d;
    if (s->store->ops->device_get(s->store, mac, &d) != 0)
        return upd__api_store_failed(r, c, "the device row vanished");
    return upd__reply_json(r, c, MHD_HTTP_OK, upd__api_device_json(&d));
}

static enum MHD_Result events(req *r, struct MHD_Connection *c, const char *method)
{
    srv *s = r->s;
    if (strcmp(method, "GET"))
        return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                "use GET /api/v1/events");
    upd_writer_flush(s->writer);
    const char *macarg = upd__arg(c, "mac");
    char mac[UPD_MAC_STR];
    if (macarg && upd__parse_mac(macarg, strlen(macarg), mac) != 0)
        return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-request",
                                "mac must be a MAC address like 5C:CF:7F:0A:1B:2C");
    const char *before = upd__arg(c, "before");
    const char *lim = upd__arg(c, "limit");
    const char *after = upd__arg(c, "after");
    if (after) /* the tail since the last event a poller saw, oldest first */
        return upd__events_tail(r, c, macarg ? mac : NULL, after, before, lim);
    cJSON *arr = cJSON_CreateArray();
    if (s->store->ops->event_list(s->store, macarg ? mac : NULL, upd__arg(c, "kind"),
                                  before ? atoll(before) : 0, lim ? atoi(lim) : 100, collect_event,
                                  arr) != 0) {
        cJSON_Delete(arr);
        return upd__api_store_failed(r, c, NULL);
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "events", arr);
    return upd__reply_json(r, c, MHD_HTTP_OK, j);
}

static enum MHD_Result dispatch(req *r, struct MHD_Connection *c, const char *path,
                                const char *method);

int upd__api_token_ok(srv *s, struct MHD_Connection *c)
{
    /* /metrics: any token that may read (authz.c) */
    return upd__authz_token_ok(s, c, UPD_ROLE_VIEWER | UPD_ROLE_OPERATOR | UPD_ROLE_ADMIN);
}

enum MHD_Result upd__api_route(req *r, struct MHD_Connection *c, const char *url,
                               const char *method, const char *upload_data,
                               size_t *upload_data_size)
{
    const char *path = url + 7; /* after "/api/v1" */
    /* a file in the body: a release, or one to inspect before publishing (preview.c) */
    int is_preview = !strcmp(path, "/inspect") && !strcmp(method, "POST");
    int is_upload = (!strcmp(path, "/releases") && !strcmp(method, "POST")) || is_preview;
    if (!r->started) {
        r->started = 1;
        /* who sent it and whether their role may call the route (authz.c) */
        enum MHD_Result ret = MHD_NO;
        if (upd__session_is_signin(path, method)) /* authenticated by its body (session.h) */
            return MHD_YES;
        if (upd__authz_begin(r, c, path, method, &ret) != 0)
            return ret;
        if (is_upload && upd__upload_begin(r, c, is_preview) < 0)
            return MHD_NO;
        return MHD_YES; /* upload_begin may have answered already (r->responded) */
    }
    if (r->responded) { /* answered before the body was read: drop the rest */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (is_upload)
            upd__upload_feed(r, c, upload_data, *upload_data_size);
        else if (r->body_len + *upload_data_size > MAX_JSON_BODY)
            r->body_too_big = 1;
        else {
            char *nb = realloc(r->body, r->body_len + *upload_data_size + 1);
            if (!nb)
                return MHD_NO;
            memcpy(nb + r->body_len, upload_data, *upload_data_size);
            r->body = nb;
            r->body_len += *upload_data_size;
            nb[r->body_len] = '\0';
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    enum MHD_Result ret = dispatch(r, c, path, method);
    upd__authz_audit(r, path, method); /* a write that succeeded is an audit event */
    return ret;
}

/* The route of an authorized request (authz.c let it through). */
static enum MHD_Result dispatch(req *r, struct MHD_Connection *c, const char *path,
                                const char *method)
{
    /* HEAD is answered as GET (libmicrohttpd sends the headers without the body) */
    if (!strcmp(method, "HEAD"))
        method = "GET";
    if (!strncmp(path, "/tokens", 7) && (path[7] == '\0' || path[7] == '/'))
        return upd__tokens_route(r, c, method, path + 7);
    if (!strcmp(path, "/roles"))
        return upd__roles_route(r, c);
    if (!strcmp(path, "/session"))
        return upd__session_route(r, c, method);
    if (!strncmp(path, "/releases", 9) && (path[9] == '\0' || path[9] == '/'))
        return releases(r, c, method, path + 9);
    if (!strncmp(path, "/channels", 9) && (path[9] == '\0' || path[9] == '/'))
        return channels(r, c, method, path + 9);
    if (!strncmp(path, "/devices", 8) && (path[8] == '\0' || path[8] == '/'))
        return devices(r, c, method, path + 8);
    if (!strcmp(path, "/events"))
        return events(r, c, method);
    if (!strcmp(path, "/overview"))
        return upd__overview_route(r, c, method);
    if (!strcmp(path, "/problems"))
        return upd__problems_route(r, c, method);
    if (!strcmp(path, "/adoption"))
        return upd__adoption_route(r, c, method);
    if (!strcmp(path, "/inspect"))
        return upd__upload_finish(r, c); /* only POST reaches it (authz.c) */
    if (!strncmp(path, "/rollouts", 9) && (path[9] == '\0' || path[9] == '/'))
        return upd__rollout_route(r, c, method, path + 9);
    if (!strcmp(path, "") || !strcmp(path, "/")) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "service", "updraft");
        cJSON_AddNumberToObject(j, "dropped_device_records",
                                (double)upd_writer_dropped(r->s->writer));
        char why[256];
        uint64_t lost = upd_writer_lost(r->s->writer, why, sizeof why);
        cJSON *dr = cJSON_AddObjectToObject(j, "dropped_device_records_by_cause");
        cJSON_AddNumberToObject(dr, "queue_full",
                                (double)(upd_writer_dropped(r->s->writer) - lost));
        cJSON_AddNumberToObject(dr, "store_failed", (double)lost);
        if (lost)
            cJSON_AddStringToObject(dr, "last_error", why);
        upd__upspace_json(r->s, j);
        /* failed authentication (authlimit.h): attempts, and requests answered 429 */
        cJSON *af = cJSON_AddObjectToObject(j, "auth_failures");
        cJSON_AddNumberToObject(af, "admin", (double)upd_authlimit_failures(r->s->admin_limit));
        cJSON_AddNumberToObject(af, "device", (double)upd_authlimit_failures(r->s->device_limit));
        cJSON *at = cJSON_AddObjectToObject(j, "auth_throttled");
        cJSON_AddNumberToObject(at, "admin", (double)upd_authlimit_refused(r->s->admin_limit));
        cJSON_AddNumberToObject(at, "device", (double)upd_authlimit_refused(r->s->device_limit));
        /* slow and greedy clients (connguard.h) */
        cJSON *sc = cJSON_AddObjectToObject(j, "slow_clients");
        cJSON_AddNumberToObject(sc, "refused_per_address",
                                (double)upd_connguard_refused(r->s->guard));
        cJSON_AddNumberToObject(sc, "cut_slow_head", (double)upd_connguard_cut(r->s->guard));
        cJSON *who = cJSON_AddObjectToObject(j, "token");
        cJSON_AddStringToObject(who, "name", r->who.name);
        cJSON_AddStringToObject(who, "role", upd__role_name(r->who.role));
        if (r->who.channels[0])
            cJSON_AddStringToObject(who, "channels", r->who.channels);
        return upd__reply_json(r, c, MHD_HTTP_OK, j);
    }
    return upd__reply_error(r, c, MHD_HTTP_NOT_FOUND, "not-found",
                            "no such API path: see docs/api.md (releases, channels, devices, "
                            "events, rollouts, tokens under /api/v1)");
}
