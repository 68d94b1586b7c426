/* Dashboard sessions (session.h): sign-in, the cookie, its checks on every request, CSRF
 * and Origin on writes, sign-out, and the end of a revoked token's sessions. */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hexsum.h"
#include "log.h"
#include "metrics.h"
#include "session.h"

/* A session's last use is written at most this often (a read per request, not a write). */
#define TOUCH_MS 60000

static int is_hex64(const char *s)
{
    return strlen(s) == 64 && upd_is_hex(s, 64);
}

static int64_t idle_ms(const srv *s)
{
    return s->cfg.session_idle_ms > 0 ? s->cfg.session_idle_ms : UPD_SESSION_IDLE_MS;
}

static int64_t max_ms(const srv *s)
{
    return s->cfg.session_max_ms > 0 ? s->cfg.session_max_ms : UPD_SESSION_MAX_MS;
}

/* Does the token the session was opened with still stand? 1 yes (who filled), 0 no,
 * -1 the store failed. */
static int token_stands(srv *s, const upd_session_row *x, int64_t now, upd_principal *who,
                        int64_t *token_expires)
{
    *token_expires = 0;
    if (!x->token_key[0]) { /* the bootstrap token: the one in force now? */
        char h[65];
        if (upd_sha256_hex(s->token, strlen(s->token), h) != 0 || !upd__secret_eq(h, x->token_hash))
            return 0;
        upd__copy(who->name, sizeof who->name, UPD_BOOTSTRAP_TOKEN);
        who->role = UPD_ROLE_ADMIN;
        who->channels[0] = '\0';
        return 1;
    }
    upd_token_row t;
    int rc = s->store->ops->token_by_key(s->store, x->token_key, &t);
    if (rc == UPD_STORE_ENOTFOUND)
        return 0;
    if (rc)
        return -1;
    if (!upd__secret_eq(t.hash, x->token_hash) || strcmp(t.name, x->token_name) ||
        (t.expires_ms && t.expires_ms <= now))
        return 0;
    upd__copy(who->name, sizeof who->name, t.name);
    who->role = upd__role_parse(t.role);
    upd__copy(who->channels, sizeof who->channels, t.channels);
    *token_expires = t.expires_ms;
    return who->role ? 1 : 0;
}

int upd__session_auth(srv *s, struct MHD_Connection *c, upd_principal *who, char *why,
                      size_t whylen)
{
    snprintf(why, whylen,
             "your dashboard session is over (signed out, expired, or its token was revoked): "
             "sign in again");
    const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, UPD_SESSION_COOKIE);
    char id[65];
    if (!cookie || !is_hex64(cookie) || upd_sha256_hex(cookie, strlen(cookie), id) != 0)
        return 0;
    upd_session_row x;
    int rc = s->store->ops->session_get(s->store, id, &x);
    if (rc == UPD_STORE_ENOTFOUND)
        return 0;
    if (rc)
        return -1;
    int64_t now = upd__now_ms(), texp = 0;
    int ok = x.expires_ms > now && x.last_ms > now - idle_ms(s);
    if (ok) {
        upd_principal p;
        memset(&p, 0, sizeof p);
        upd__copy(p.ip, sizeof p.ip, who->ip);
        ok = token_stands(s, &x, now, &p, &texp);
        if (ok < 0)
            return -1;
        if (ok)
            *who = p;
    }
    if (!ok) {
        s->store->ops->session_delete(s->store, id, NULL, NULL);
        return 0;
    }
    int64_t touch = idle_ms(s) / 4; /* well within the idle time, at most once a minute */
    if (touch > TOUCH_MS)
        touch = TOUCH_MS;
    if (now - x.last_ms >= touch)
        s->store->ops->session_touch(s->store, id, now);
    upd__copy(who->session, sizeof who->session, id);
    upd__copy(who->csrf, sizeof who->csrf, x.csrf);
    return 1;
}

/* Does the Origin header name this server (the Host the request was sent to, by http or
 * https: a TLS proxy in front may change the scheme)? */
static int same_origin(struct MHD_Connection *c, const char *origin)
{
    const char *host = upd__header(c, "Host");
    const char *rest = NULL;
    if (!strncasecmp(origin, "http://", 7))
        rest = origin + 7;
    else if (!strncasecmp(origin, "https://", 8))
        rest = origin + 8;
    return host && rest && *host && !strcasecmp(rest, host);
}

int upd__session_write_refused(req *r, struct MHD_Connection *c, const char *method,
                               enum MHD_Result *ret)
{
    if (!r->who.session[0] || !strcmp(method, "GET") || !strcmp(method, "HEAD"))
        return 0;
    const char *h = upd__header(c, "X-CSRF-Token");
    if (!h || !upd__secret_eq(h, r->who.csrf)) {
        *ret = upd__reply_error(r, c, MHD_HTTP_FORBIDDEN, "csrf",
                                "%s: a change made with a dashboard session must send the "
                                "session's X-CSRF-Token header (GET /api/v1/session gives it); "
                                "reload the dashboard",
                                h ? "the X-CSRF-Token header is not this session's"
                                  : "no X-CSRF-Token header");
        return -1;
    }
    const char *o = upd__header(c, "Origin");
    if (o && !same_origin(c, o)) {
        *ret = upd__reply_error(r, c, MHD_HTTP_FORBIDDEN, "origin",
                                "the request comes from a page of %.200s, not of this server: "
                                "changes with a dashboard session are taken only from the "
                                "dashboard itself",
                                o);
        return -1;
    }
    return 0;
}

int upd__session_is_signin(const char *path, const char *method)
{
    return !strcmp(path, "/session") && !strcmp(method, "POST");
}

/* The cookie's attributes: Secure when the browser reached us over TLS (natively, or
 * through a proxy that says so). */
static void set_cookie(req *r, struct MHD_Connection *c, struct MHD_Response *resp,
                       const char *value, long long max_age_s)
{
    const char *fp = upd__header(c, "X-Forwarded-Proto");
    int secure = r->s->cfg.tls_cert || (fp && !strcasecmp(fp, "https"));
    char v[256];
    snprintf(v, sizeof v, "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
             UPD_SESSION_COOKIE, value, max_age_s, secure ? "; Secure" : "");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, v);
}

/* Reply JSON j with a Set-Cookie header. */
static enum MHD_Result reply_cookie(req *r, struct MHD_Connection *c, unsigned status, cJSON *j,
                                    const char *value, long long max_age_s)
{
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!text)
        return MHD_NO;
    size_t len = strlen(text);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    set_cookie(r, c, resp, value, max_age_s);
    return upd__queue(r, c, status, resp);
}

static void add_time(cJSON *j, const char *name, int64_t ms)
{
    char t[40];
    upd__iso_time(ms, t, sizeof t);
    cJSON_AddStringToObject(j, name, t);
}

/* {"name", "role", "csrf", ...} of who. */
static cJSON *who_json(const upd_principal *who)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", who->name);
    cJSON_AddStringToObject(j, "role", upd__role_name(who->role));
    if (who->channels[0])
        cJSON_AddStringToObject(j, "channels", who->channels);
    if (who->csrf[0])
        cJSON_AddStringToObject(j, "csrf", who->csrf);
    else
        cJSON_AddNullToObject(j, "csrf");
    return j;
}

/* POST /api/v1/session {"token": "..."} (or the request's Bearer token). */
static enum MHD_Result sign_in(req *r, struct MHD_Connection *c)
{
    srv *s = r->s;
    upd__client_ip(c, r->who.ip, sizeof r->who.ip);
    int64_t now = upd__now_ms();
    unsigned wait = upd_authlimit_check(s->admin_limit, r->who.ip, NULL, now);
    if (wait)
        return upd__reply_throttled(r, c, wait, 1);
    /* a page of another site may not sign a browser in (to the attacker's token: login
     * CSRF); the dashboard's own sign-in sends its Origin, the CLI none */
    const char *o = upd__header(c, "Origin");
    if (o && !same_origin(c, o))
        return upd__reply_error(r, c, MHD_HTTP_FORBIDDEN, "origin",
                                "the sign-in comes from a page of %.200s, not of this server: "
                                "sign in on the dashboard itself",
                                o);
    char secret[200] = "";
    const char *bearer = upd__header(c, "Authorization");
    if (r->body_len) {
        enum MHD_Result ret = MHD_NO;
        cJSON *j = upd__api_json_body(r, c, &ret);
        if (!j)
            return ret;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "token");
        if (cJSON_IsString(t))
            upd__copy(secret, sizeof secret, t->valuestring);
        int bad = t && (!cJSON_IsString(t) || strlen(t->valuestring) >= sizeof secret);
        cJSON_Delete(j);
        /* the body holds a secret: it is not kept for the audit event */
        memset(r->body, 0, r->body_len);
        r->body_len = 0;
        if (bad)
            return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-json",
                                    "\"token\" must be the API token as a string");
    }
    if (!secret[0] && bearer && !strncasecmp(bearer, "Bearer ", 7)) {
        const char *b = bearer + 7;
        while (*b == ' ')
            b++;
        upd__copy(secret, sizeof secret, b);
    }
    if (!secret[0])
        return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-json",
                                "sign in with the body {\"token\": \"<an API token>\"}: the "
                                "bootstrap token (admin-token in the data directory) or one "
                                "made with 'updraft token create'");
    char why[512];
    int ok = upd__authz_secret(s, secret, &r->who, why, sizeof why);
    if (ok < 0) {
        memset(secret, 0, sizeof secret);
        return upd__api_store_failed(r, c, "reading the API tokens");
    }
    if (!ok) {
        memset(secret, 0, sizeof secret);
        upd__metrics_auth_failure(1);
        wait = upd_authlimit_fail(s->admin_limit, r->who.ip, NULL, upd__now_ms());
        if (wait)
            return upd__reply_throttled(r, c, wait, 1);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "error", why);
        cJSON_AddStringToObject(j, "kind", r->who.name[0] ? "expired" : "unauthorized");
        return upd__reply_json(r, c, MHD_HTTP_UNAUTHORIZED, j);
    }
    upd_authlimit_ok(s->admin_limit, r->who.ip, NULL);
    const upd_route *rt = upd__authz_find("POST", "/session");
    if (!rt || !(rt->roles & r->who.role)) {
        memset(secret, 0, sizeof secret);
        char need[64], msg[512];
        upd__roles_text(rt ? rt->roles : 0, need, sizeof need);
        snprintf(msg, sizeof msg,
                 "POST /api/v1/session (%s) needs a token with role %s; this token ('%s') has "
                 "role %s, which only adds releases: sign in with another token",
                 rt ? rt->what : "sign in", need, r->who.name, upd__role_name(r->who.role));
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "error", msg);
        cJSON_AddStringToObject(j, "kind", "forbidden");
        cJSON_AddStringToObject(j, "token", r->who.name);
        cJSON_AddStringToObject(j, "role", upd__role_name(r->who.role));
        cJSON *needs = cJSON_AddArrayToObject(j, "needs");
        static const unsigned order[] = {UPD_ROLE_VIEWER, UPD_ROLE_CI, UPD_ROLE_OPERATOR,
                                         UPD_ROLE_ADMIN};
        for (int i = 0; i < 4; i++)
            if (rt && (rt->roles & order[i]))
                cJSON_AddItemToArray(needs, cJSON_CreateString(upd__role_name(order[i])));
        return upd__reply_json(r, c, MHD_HTTP_FORBIDDEN, j);
    }
    upd_session_row x;
    memset(&x, 0, sizeof x);
    char cookie[65];
    int bad = upd_random_hex(32, cookie) != 0 ||
              upd_sha256_hex(cookie, strlen(cookie), x.id) != 0 ||
              upd_random_hex(32, x.csrf) != 0 ||
              upd_sha256_hex(secret, strlen(secret), x.token_hash) != 0;
    /* a named token ("upd_" + 12-hex-digit key id + "_" + secret, tokens.c): its key id
     * finds its row again; the bootstrap token has none */
    if (strcmp(r->who.name, UPD_BOOTSTRAP_TOKEN) && strlen(secret) > 16)
        snprintf(x.token_key, sizeof x.token_key, "%.12s", secret + 4);
    memset(secret, 0, sizeof secret);
    if (bad)
        return upd__reply_error(r, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "random",
                                "no random numbers for the session (GnuTLS)");
    upd__copy(x.token_name, sizeof x.token_name, r->who.name);
    x.created_ms = now;
    x.last_ms = now;
    x.expires_ms = now + max_ms(s);
    upd__copy(x.ip, sizeof x.ip, r->who.ip);
    char err[512];
    if (s->store->ops->session_insert(s->store, &x, now, now - idle_ms(s), err, sizeof err) != 0) {
        memset(cookie, 0, sizeof cookie);
        return upd__api_store_failed(r, c, err);
    }
    r->route = rt; /* the sign-in is an audit event */
    upd__copy(r->who.session, sizeof r->who.session, x.id);
    upd__copy(r->who.csrf, sizeof r->who.csrf, x.csrf);
    cJSON *j = who_json(&r->who);
    add_time(j, "expires", x.expires_ms);
    cJSON_AddNumberToObject(j, "idle_timeout", (double)(idle_ms(s) / 1000));
    enum MHD_Result ret = reply_cookie(r, c, MHD_HTTP_OK, j, cookie, (long long)(max_ms(s) / 1000));
    memset(cookie, 0, sizeof cookie);
    return ret;
}

enum MHD_Result upd__session_route(req *r, struct MHD_Connection *c, const char *method)
{
    srv *s = r->s;
    if (!strcmp(method, "POST"))
        return sign_in(r, c);
    if (!strcmp(method, "GET")) {
        cJSON *j = who_json(&r->who);
        cJSON_AddStringToObject(j, "via", r->who.session[0] ? "session" : "token");
        if (r->who.session[0]) {
            upd_session_row x;
            if (s->store->ops->session_get(s->store, r->who.session, &x) == 0)
                add_time(j, "expires", x.expires_ms);
            cJSON_AddNumberToObject(j, "idle_timeout", (double)(idle_ms(s) / 1000));
        }
        return upd__reply_json(r, c, MHD_HTTP_OK, j);
    }
    if (!strcmp(method, "DELETE")) {
        if (!r->who.session[0])
            return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "no-session",
                                    "this request carries no dashboard session to end (DELETE "
                                    "/api/v1/session signs a browser out; a token is revoked "
                                    "with DELETE /api/v1/tokens/<name>)");
        if (s->store->ops->session_delete(s->store, r->who.session, NULL, NULL) != 0)
            return upd__api_store_failed(r, c, "ending the session");
        cJSON *j = cJSON_CreateObject();
        cJSON_AddBoolToObject(j, "signed_out", 1);
        return reply_cookie(r, c, MHD_HTTP_OK, j, "", 0);
    }
    return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                            "use POST /api/v1/session to sign in, GET to see who you are, "
                            "DELETE to sign out");
}

void upd__session_end_token(srv *s, const char *name)
{
    int64_t n = 0;
    if (s->store->ops->session_delete(s->store, NULL, name, &n) != 0)
        upd__log(UPD_LOG_ERROR, "database-failed",
                 "could not end the dashboard sessions of the revoked token '%s' (they end "
                 "at their next use: the token no longer stands)",
                 name);
    else if (n)
        upd__log(UPD_LOG_INFO, "sessions-ended",
                 "%lld dashboard session(s) of the revoked token '%s' ended", (long long)n, name);
}
