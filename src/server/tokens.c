/* Named API tokens (authz.h): made, listed and revoked over /api/v1/tokens, checked on
 * every admin request. A token is "upd_" + a 12-hex-digit key id + "_" + 48 hex digits
 * (24 random bytes from GnuTLS); the store keeps the key id (to find the row) and the
 * SHA-256 of the whole token, compared in constant time. With 192 random bits a fast
 * hash is enough: no password-style stretching is needed to make guessing hopeless. */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hexsum.h"
#include "session.h"
#include "srv.h"

#define KEY_HEX    12
#define SECRET_HEX 48
#define TOKEN_LEN  (4 + KEY_HEX + 1 + SECRET_HEX)
/* the longest lifetime --expires takes: 10 years */
#define MAX_EXPIRES_S (10LL * 366 * 24 * 3600)

int upd__token_check(srv *s, const char *secret, upd_principal *who, char *why, size_t whylen)
{
    snprintf(why, whylen,
             "wrong admin token: it is not the server's bootstrap token (admin-token in its "
             "data directory, or UPDRAFT_ADMIN_TOKEN) nor a token made with POST "
             "/api/v1/tokens that is still valid");
    if (strlen(secret) != TOKEN_LEN || strncmp(secret, "upd_", 4) || secret[4 + KEY_HEX] != '_' ||
        !upd_is_hex(secret + 4, KEY_HEX) || !upd_is_hex(secret + 5 + KEY_HEX, SECRET_HEX))
        return 0;
    char key[KEY_HEX + 1], h[65];
    memcpy(key, secret + 4, KEY_HEX);
    key[KEY_HEX] = '\0';
    upd_token_row t;
    int rc = s->store->ops->token_by_key(s->store, key, &t);
    if (rc == UPD_STORE_ENOTFOUND)
        return 0;
    if (rc)
        return -1;
    if (upd_sha256_hex(secret, strlen(secret), h) != 0 || !upd__secret_eq(h, t.hash))
        return 0;
    if (t.expires_ms && t.expires_ms <= upd__now_ms()) {
        char at[40];
        upd__iso_time(t.expires_ms, at, sizeof at);
        snprintf(why, whylen, "the token '%s' expired at %s", t.name, at);
        upd__copy(who->name, sizeof who->name, t.name); /* known, role 0: expired */
        return 0;
    }
    upd__copy(who->name, sizeof who->name, t.name);
    who->role = upd__role_parse(t.role);
    upd__copy(who->channels, sizeof who->channels, t.channels);
    return who->role ? 1 : 0;
}

int upd__authz_upload_channel(req *r, struct MHD_Connection *c, const char *channel, int replaces,
                              enum MHD_Result *ret)
{
    const upd_principal *w = &r->who;
    if (w->role != UPD_ROLE_CI || !w->channels[0])
        return 0;
    const char *why = NULL;
    if (!channel[0])
        why = "names no channel";
    else if (!upd__channel_in_list(w->channels, channel))
        why = "names another channel";
    else if (replaces)
        why = "asks for same_version=replace (the channels serving the other release would "
              "change too)";
    if (!why)
        return 0;
    cJSON *j = cJSON_CreateObject();
    char msg[900];
    snprintf(msg, sizeof msg,
             "the token '%s' (role ci) may add releases only to the channels %s, and this "
             "upload %s: name one of them with channel=NAME",
             w->name, w->channels, why);
    cJSON_AddStringToObject(j, "error", msg);
    cJSON_AddStringToObject(j, "kind", "forbidden-channel");
    cJSON_AddStringToObject(j, "token", w->name);
    cJSON_AddStringToObject(j, "role", "ci");
    cJSON *arr = cJSON_AddArrayToObject(j, "channels");
    char list[512];
    upd__copy(list, sizeof list, w->channels);
    char *save = NULL;
    for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save))
        cJSON_AddItemToArray(arr, cJSON_CreateString(p));
    *ret = upd__reply_json(r, c, MHD_HTTP_FORBIDDEN, j);
    return -1;
}

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

static cJSON *token_json(const upd_token_row *t)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", t->name);
    cJSON_AddStringToObject(j, "role", t->role);
    if (t->channels[0]) {
        cJSON *arr = cJSON_AddArrayToObject(j, "channels");
        char list[512];
        upd__copy(list, sizeof list, t->channels);
        char *save = NULL;
        for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save))
            cJSON_AddItemToArray(arr, cJSON_CreateString(p));
    } else {
        cJSON_AddNullToObject(j, "channels");
    }
    add_time(j, "created", t->created_ms);
    if (t->created_by[0])
        cJSON_AddStringToObject(j, "created_by", t->created_by);
    else
        cJSON_AddNullToObject(j, "created_by");
    add_time(j, "expires", t->expires_ms);
    cJSON_AddBoolToObject(j, "expired", t->expires_ms && t->expires_ms <= upd__now_ms());
    add_time(j, "last_used", t->last_used_ms);
    if (t->last_used_from[0])
        cJSON_AddStringToObject(j, "last_used_from", t->last_used_from);
    else
        cJSON_AddNullToObject(j, "last_used_from");
    cJSON_AddBoolToObject(j, "bootstrap", !t->key_id[0]);
    return j;
}

static int collect_token(void *ctx, const upd_token_row *t)
{
    cJSON_AddItemToArray(ctx, token_json(t));
    return 0;
}

static enum MHD_Result create(req *r, struct MHD_Connection *c)
{
    srv *s = r->s;
    enum MHD_Result ret = MHD_NO;
    cJSON *body = upd__api_json_body(r, c, &ret);
    if (!body)
        return ret;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(body, "name");
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(body, "role");
    const cJSON *chans = cJSON_GetObjectItemCaseSensitive(body, "channels");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(body, "expires_in");
    upd_token_row t;
    memset(&t, 0, sizeof t);
    const char *bad = NULL;
    char badbuf[300];
    if (!cJSON_IsString(name) || !upd__valid_channel(name->valuestring))
        bad = "\"name\" must be the token's name: letters, digits, '.', '_' and '-', at most "
              "63 (e.g. {\"name\": \"ci-bot\", \"role\": \"ci\"})";
    else if (!cJSON_IsString(role) || !upd__role_parse(role->valuestring))
        bad = "\"role\" must be admin, operator, viewer or ci";
    else if (exp && !cJSON_IsNull(exp) &&
             (!cJSON_IsNumber(exp) || exp->valuedouble < 1 || exp->valuedouble > MAX_EXPIRES_S))
        bad = "\"expires_in\" must be the token's lifetime in seconds (1 to 10 years), or "
              "left out for a token that does not expire";
    else if (chans && !cJSON_IsNull(chans) && !cJSON_IsArray(chans))
        bad = "\"channels\" must be a list of channel names, e.g. [\"beta\", \"stable\"]";
    else if (chans && cJSON_IsArray(chans) && cJSON_GetArraySize(chans) > 0 &&
             strcmp(role->valuestring, "ci"))
        bad = "\"channels\" limits a ci token's uploads: give it only with \"role\": \"ci\"";
    if (!bad && cJSON_IsArray(chans)) {
        size_t n = 0;
        const cJSON *ch;
        cJSON_ArrayForEach(ch, chans)
        {
            if (!cJSON_IsString(ch) || !upd__valid_channel(ch->valuestring)) {
                snprintf(badbuf, sizeof badbuf,
                         "\"channels\": '%.60s' is not a channel name: use letters, digits, "
                         "'.', '_' and '-'",
                         cJSON_IsString(ch) ? ch->valuestring : "(not a string)");
                bad = badbuf;
                break;
            }
            size_t len = strlen(ch->valuestring);
            if (n + len + 2 > sizeof t.channels) {
                bad = "\"channels\" names too many channels (at most 500 characters)";
                break;
            }
            if (upd__channel_in_list(t.channels, ch->valuestring))
                continue;
            n += (size_t)snprintf(t.channels + n, sizeof t.channels - n, "%s%s", n ? "," : "",
                                  ch->valuestring);
        }
    }
    if (bad) {
        cJSON_Delete(body);
        return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-json", "%s", bad);
    }
    upd__copy(t.name, sizeof t.name, name->valuestring);
    upd__copy(t.role, sizeof t.role, role->valuestring);
    t.created_ms = upd__now_ms();
    if (cJSON_IsNumber(exp))
        t.expires_ms = t.created_ms + (int64_t)exp->valuedouble * 1000;
    cJSON_Delete(body);
    upd__copy(t.created_by, sizeof t.created_by, r->who.name);
    unsigned char rnd[KEY_HEX / 2 + SECRET_HEX / 2];
    if (gnutls_rnd(GNUTLS_RND_KEY, rnd, sizeof rnd) != 0)
        return upd__reply_error(r, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "random",
                                "no random numbers for the token (GnuTLS): retry");
    char secret[TOKEN_LEN + 1], khex[KEY_HEX + 1], shex[SECRET_HEX + 1];
    upd_hex(rnd, KEY_HEX / 2, khex);
    upd_hex(rnd + KEY_HEX / 2, SECRET_HEX / 2, shex);
    snprintf(secret, sizeof secret, "upd_%s_%s", khex, shex);
    upd__copy(t.key_id, sizeof t.key_id, khex);
    if (upd_sha256_hex(secret, strlen(secret), t.hash) != 0)
        return upd__reply_error(r, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "hash",
                                "hashing the token failed (GnuTLS): retry");
    char err[256];
    int rc = s->store->ops->token_insert(s->store, &t, err, sizeof err);
    gnutls_memset(rnd, 0, sizeof rnd);
    if (rc == UPD_STORE_ECONFLICT)
        return upd__reply_error(r, c, MHD_HTTP_CONFLICT, "exists",
                                "a token named '%s' exists: revoke it first (DELETE "
                                "/api/v1/tokens/%s) or choose another name",
                                t.name, t.name);
    if (rc)
        return upd__api_store_failed(r, c, err);
    snprintf(r->audit_note, sizeof r->audit_note, "token '%.63s', role %s%s%.60s", t.name, t.role,
             t.channels[0] ? ", channels " : "", t.channels);
    cJSON *j = token_json(&t);
    cJSON_AddStringToObject(j, "token", secret);
    gnutls_memset(secret, 0, sizeof secret);
    return upd__reply_json(r, c, MHD_HTTP_CREATED, j);
}

enum MHD_Result upd__tokens_route(req *r, struct MHD_Connection *c, const char *method,
                                  const char *sub)
{
    srv *s = r->s;
    if (!*sub && !strcmp(method, "GET")) {
        upd__authz_flush(s); /* the last uses, up to now */
        cJSON *arr = cJSON_CreateArray();
        if (s->store->ops->token_list(s->store, collect_token, arr) != 0) {
            cJSON_Delete(arr);
            return upd__api_store_failed(r, c, NULL);
        }
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToObject(j, "tokens", arr);
        return upd__reply_json(r, c, MHD_HTTP_OK, j);
    }
    if (!*sub && !strcmp(method, "POST"))
        return create(r, c);
    const char *name = sub + 1;
    if (*sub == '/' && !strcmp(method, "DELETE")) {
        char err[256];
        int rc = s->store->ops->token_delete(s->store, name, err, sizeof err);
        if (rc == UPD_STORE_ENOTFOUND)
            return upd__reply_error(r, c, MHD_HTTP_NOT_FOUND, "not-found",
                                    "there is no token '%.64s': list them with GET "
                                    "/api/v1/tokens",
                                    name);
        if (rc == UPD_STORE_ECONFLICT)
            return upd__reply_error(r, c, MHD_HTTP_CONFLICT, "bootstrap",
                                    "'%s' is the bootstrap token of the data directory: it is "
                                    "not revoked over the API; to replace it, stop the server, "
                                    "delete <data>/admin-token (or change UPDRAFT_ADMIN_TOKEN) "
                                    "and start it again",
                                    UPD_BOOTSTRAP_TOKEN);
        if (rc)
            return upd__api_store_failed(r, c, err);
        upd__session_end_token(s, name); /* its dashboard sessions end with it */
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "name", name);
        cJSON_AddBoolToObject(j, "revoked", 1);
        return upd__reply_json(r, c, MHD_HTTP_OK, j);
    }
    return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                            "use GET or POST /api/v1/tokens, DELETE /api/v1/tokens/<name>");
}
