/* Who may do what on the admin API (authz.h): the route table, authentication of each
 * /api/v1 request, the batched record of token use, and the audit trail. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "metrics.h"
#include "session.h"
#include "srv.h"

#define ANY     (UPD_ROLE_ADMIN | UPD_ROLE_OPERATOR | UPD_ROLE_VIEWER | UPD_ROLE_CI)
#define READ    (UPD_ROLE_ADMIN | UPD_ROLE_OPERATOR | UPD_ROLE_VIEWER)
#define OPERATE (UPD_ROLE_ADMIN | UPD_ROLE_OPERATOR)
#define UPLOAD  (UPD_ROLE_ADMIN | UPD_ROLE_OPERATOR | UPD_ROLE_CI)
#define ADMIN   UPD_ROLE_ADMIN

/* Every admin API route and the roles that may call it: the one place that says it.
 * Paths are under /api/v1; "{id}", "{mac}", "{name}" stand for one path segment. GET
 * also answers HEAD. A route that is not here cannot be called (404/405), whatever the
 * router in api.c knows. A new route: one line here and one in docs/api.md's role table
 * ("Tokens and roles"); tests/server/test_tokens.py requires the two to agree, a role for
 * every route a heading of docs/api.md names, and calls each route with each role. The
 * first line whose path and method match decides (a literal segment before "{...}"). */
static const upd_route ROUTES[] = {
    {"GET", "/", ANY, "show the server's status and who you are"},
    {"GET", "/roles", ANY, "show which role each API route needs"},
    {"GET", "/releases", READ, "list releases"},
    {"POST", "/releases", UPLOAD, "add a release"},
    {"POST", "/inspect", UPLOAD, "inspect a file before publishing it (nothing is stored)"},
    {"GET", "/releases/{id}", READ, "show a release"},
    {"DELETE", "/releases/{id}", OPERATE, "delete a release"},
    {"POST", "/releases/{id}/retire", OPERATE, "retire a release"},
    {"POST", "/releases/{id}/unretire", OPERATE, "serve a retired release again"},
    {"PUT", "/releases/{id}/notes", OPERATE, "set a release's notes"},
    {"GET", "/channels", READ, "list channels"},
    {"PUT", "/channels/{name}", OPERATE, "set what a channel serves"},
    {"POST", "/channels/{name}", OPERATE, "set what a channel serves"},
    {"GET", "/devices", READ, "list devices"},
    {"POST", "/devices/tags", OPERATE, "tag or untag the devices a filter or list selects"},
    {"GET", "/devices/{mac}", READ, "show a device"},
    {"DELETE", "/devices/{mac}", ADMIN, "delete a device and its history"},
    {"POST", "/devices/{mac}/pin", OPERATE, "pin a device to a release"},
    {"PUT", "/devices/{mac}/pin", OPERATE, "pin a device to a release"},
    {"DELETE", "/devices/{mac}/pin", OPERATE, "unpin a device"},
    {"POST", "/devices/{mac}/tags", OPERATE, "tag or untag a device"},
    {"POST", "/devices/{mac}/retry", OPERATE, "offer a failed release to a device again"},
    {"PUT", "/devices/{mac}/channel", OPERATE, "assign a device to a channel"},
    {"POST", "/devices/{mac}/channel", OPERATE, "assign a device to a channel"},
    {"DELETE", "/devices/{mac}/channel", OPERATE, "clear a device's channel"},
    {"GET", "/events", READ, "list events"},
    {"GET", "/overview", READ,
     "show the fleet at a glance (devices, versions, rollouts, problems)"},
    {"GET", "/adoption", READ, "show the share of each version over time"},
    {"GET", "/problems", READ, "list the devices that need attention, grouped by reason"},
    {"GET", "/rollouts", READ, "list rollouts"},
    {"POST", "/rollouts", OPERATE, "create a rollout"},
    {"POST", "/rollouts/plan", READ, "say what a rollout would do (nothing starts)"},
    {"GET", "/rollouts/{id}", READ, "show a rollout"},
    {"POST", "/rollouts/{id}/pause", OPERATE, "pause a rollout"},
    {"POST", "/rollouts/{id}/resume", OPERATE, "resume a paused rollout"},
    {"POST", "/rollouts/{id}/abort", OPERATE, "abort a rollout"},
    {"POST", "/rollouts/{id}/rollback", OPERATE, "roll a rollout's devices back"},
    {"POST", "/session", READ, "sign in to the dashboard (a session cookie)"},
    {"GET", "/session", ANY, "show whom the request acts for (and the session's CSRF value)"},
    {"DELETE", "/session", ANY, "sign out of the dashboard"},
    {"GET", "/tokens", ADMIN, "list API tokens"},
    {"POST", "/tokens", ADMIN, "create an API token"},
    {"DELETE", "/tokens/{name}", ADMIN, "revoke an API token"},
};
#define NROUTES ((int)(sizeof ROUTES / sizeof ROUTES[0]))

/* POST routes that change nothing (a preview, a plan: the dashboard calls them as the
 * user types): no audit event records them. */
static int read_only(const upd_route *rt)
{
    return !strcmp(rt->path, "/inspect") || !strcmp(rt->path, "/rollouts/plan");
}

/* Token uses are written at most this often from the request path. */
#define FLUSH_MS 10000
#define PENDING  64

struct upd_authz {
    pthread_mutex_t mu;
    upd_token_use pend[PENDING];
    size_t npend;
    int64_t flushed_ms;
};

static const char *const ROLE_NAMES[] = {"admin", "operator", "viewer", "ci"};

const char *upd__role_name(unsigned role)
{
    for (unsigned i = 0; i < 4; i++)
        if (role == 1u << i)
            return ROLE_NAMES[i];
    return NULL;
}

unsigned upd__role_parse(const char *s)
{
    for (unsigned i = 0; i < 4; i++)
        if (s && !strcmp(s, ROLE_NAMES[i]))
            return 1u << i;
    return 0;
}

/* Roles are said least powerful first: "viewer, operator or admin". */
static const unsigned ORDER[] = {UPD_ROLE_VIEWER, UPD_ROLE_CI, UPD_ROLE_OPERATOR, UPD_ROLE_ADMIN};

/* The roles of mask as a JSON array of names. */
static cJSON *roles_json(unsigned mask)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < 4; i++)
        if (mask & ORDER[i])
            cJSON_AddItemToArray(arr, cJSON_CreateString(upd__role_name(ORDER[i])));
    return arr;
}

void upd__roles_text(unsigned mask, char *out, size_t cap)
{
    const unsigned *order = ORDER;
    int n = 0, total = __builtin_popcount(mask);
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < 4; i++) {
        if (!(mask & order[i]))
            continue;
        n++;
        len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%s%s",
                                n == 1       ? ""
                                : n == total ? " or "
                                             : ", ",
                                upd__role_name(order[i]));
    }
}

int upd__channel_in_list(const char *list, const char *channel)
{
    size_t n = strlen(channel);
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && n && !strncmp(p, channel, n))
            return 1;
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* Does path match the pattern ("{x}" matches one non-empty segment)? */
static int path_match(const char *pat, const char *path)
{
    while (*pat && *path) {
        if (*pat == '{') {
            const char *pe = strchr(pat, '}');
            size_t seg = strcspn(path, "/");
            if (!pe || seg == 0)
                return 0;
            pat = pe + 1;
            path += seg;
            continue;
        }
        if (*pat != *path)
            return 0;
        pat++;
        path++;
    }
    return *pat == '\0' && *path == '\0';
}

/* One segment of path where pattern pat has name ("{mac}"): into out, "" if none. */
static void path_param(const char *pat, const char *path, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    while (*pat && *path) {
        if (*pat == '{') {
            const char *pe = strchr(pat, '}');
            size_t seg = strcspn(path, "/");
            if (!pe)
                return;
            if ((size_t)(pe + 1 - pat) == strlen(name) && !strncmp(pat, name, strlen(name))) {
                snprintf(out, cap, "%.*s", (int)seg, path);
                return;
            }
            pat = pe + 1;
            path += seg;
            continue;
        }
        pat++;
        path++;
    }
}

upd_authz *upd__authz_new(void)
{
    upd_authz *a = calloc(1, sizeof *a);
    if (a)
        pthread_mutex_init(&a->mu, NULL);
    return a;
}

/* Write the gathered uses; force: now, else only when FLUSH_MS went by. */
static void flush(srv *s, int force)
{
    upd_authz *a = s->authz;
    if (!a)
        return;
    upd_token_use batch[PENDING];
    size_t n = 0;
    int64_t now = upd__now_ms();
    pthread_mutex_lock(&a->mu);
    if (a->npend && (force || a->npend == PENDING || now - a->flushed_ms >= FLUSH_MS)) {
        n = a->npend;
        memcpy(batch, a->pend, n * sizeof batch[0]);
        a->npend = 0;
        a->flushed_ms = now;
    }
    pthread_mutex_unlock(&a->mu);
    char err[256];
    if (n && s->store->ops->token_touch(s->store, batch, n, err, sizeof err) != 0)
        upd__log(UPD_LOG_ERROR, "database-failed", "could not record the API tokens' last use: %s",
                 err);
}

void upd__authz_flush(srv *s)
{
    flush(s, 1);
}

void upd__authz_free(srv *s)
{
    if (!s->authz)
        return;
    if (s->store)
        flush(s, 1);
    pthread_mutex_destroy(&s->authz->mu);
    free(s->authz);
    s->authz = NULL;
}

static void note_use(srv *s, const upd_principal *who)
{
    upd_authz *a = s->authz;
    int64_t now = upd__now_ms();
    pthread_mutex_lock(&a->mu);
    size_t i = 0;
    while (i < a->npend && strcmp(a->pend[i].name, who->name))
        i++;
    if (i < PENDING) {
        if (i == a->npend) {
            a->npend++;
            if (!a->flushed_ms)
                a->flushed_ms = now;
        }
        upd__copy(a->pend[i].name, sizeof a->pend[i].name, who->name);
        upd__copy(a->pend[i].from, sizeof a->pend[i].from, who->ip);
        a->pend[i].at_ms = now;
    }
    pthread_mutex_unlock(&a->mu);
    flush(s, 0);
}

enum MHD_Result upd__reply_throttled(req *r, struct MHD_Connection *c, unsigned secs, int json)
{
    char text[512];
    snprintf(text, sizeof text,
             "too many failed authentications from this address: wait %u s, then retry with "
             "the right credentials",
             secs);
    char *body = NULL;
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "error", text);
        cJSON_AddStringToObject(j, "kind", "too-many-failures");
        cJSON_AddNumberToObject(j, "retry_after", secs);
        body = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
    } else {
        body = strdup(text);
    }
    if (!body)
        return MHD_NO;
    size_t len = strlen(body);
    char *full = realloc(body, len + 2);
    if (!full) {
        free(body);
        return MHD_NO;
    }
    full[len] = '\n';
    full[len + 1] = '\0';
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len + 1, full, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(full);
        return MHD_NO;
    }
    char ra[16];
    snprintf(ra, sizeof ra, "%u", secs);
    MHD_add_response_header(resp, "Retry-After", ra);
    MHD_add_response_header(resp, "Content-Type",
                            json ? "application/json" : "text/plain; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    return upd__queue(r, c, MHD_HTTP_TOO_MANY_REQUESTS, resp);
}

/* Record an audit event: what the principal did (or tried) on route rt. */
static void audit(req *r, const upd_route *rt, const char *path, const char *method,
                  const char *what)
{
    srv *s = r->s;
    upd_event_row e;
    memset(&e, 0, sizeof e);
    e.at_ms = upd__now_ms();
    upd__copy(e.kind, sizeof e.kind, "audit");
    e.bytes = -1;
    upd__copy(e.actor, sizeof e.actor, r->who.name);
    upd__copy(e.source, sizeof e.source, r->who.ip);
    /* the release it concerns; a device's MAC stays in the detail only (the device's own
     * events are its history, which `device delete` removes) */
    char v[64];
    path_param(rt->path, path, "{id}", v, sizeof v);
    if (v[0] >= '1' && v[0] <= '9')
        e.release_id = strtoll(v, NULL, 10);
    if (r->audit_release > 0)
        e.release_id = r->audit_release;
    /* the JSON body as sent, on one line, cut short (never a secret: the server makes
     * them; an upload's body is a file and is not kept here) */
    char body[200] = "";
    if (r->body && r->body_len) {
        size_t n = 0;
        for (size_t i = 0; i < r->body_len && n + 4 < sizeof body; i++) {
            unsigned char ch = (unsigned char)r->body[i];
            if (ch == '\r' || ch == '\n' || ch == '\t')
                ch = ' ';
            if (ch < 0x20 || ch == 0x7f)
                continue;
            if (ch == ' ' && n && body[n - 1] == ' ')
                continue;
            body[n++] = (char)ch;
        }
        if (n + 4 >= sizeof body)
            memcpy(body + n, "...", 4);
        else
            body[n] = '\0';
    }
    snprintf(e.detail, sizeof e.detail, "%s (%s /api/v1%s%s%s)%s%s", what, method, path,
             body[0] ? " " : "", body, r->audit_note[0] ? ": " : "", r->audit_note);
    char err[256];
    upd__log(UPD_LOG_INFO, "audit", "%s by %s from %s", e.detail, e.actor[0] ? e.actor : "?",
             e.source[0] ? e.source : "?");
    if (s->store->ops->event_add(s->store, &e, err, sizeof err) != 0)
        upd__log(UPD_LOG_ERROR, "database-failed", "could not record the audit event '%s': %s",
                 e.detail, err);
}

int upd__authz_secret(srv *s, const char *secret, upd_principal *who, char *why, size_t whylen)
{
    if (upd__secret_eq(secret, s->token)) {
        upd__copy(who->name, sizeof who->name, UPD_BOOTSTRAP_TOKEN);
        who->role = UPD_ROLE_ADMIN;
        return 1;
    }
    return upd__token_check(s, secret, who, why, whylen);
}

const upd_route *upd__authz_find(const char *method, const char *path)
{
    for (int i = 0; i < NROUTES; i++)
        if (!strcmp(ROUTES[i].method, method) && path_match(ROUTES[i].path, path))
            return &ROUTES[i];
    return NULL;
}

/* The token of the request (Authorization: Bearer, the scheme in any case; without one,
 * a dashboard session's cookie: session.h) into who. 1 when it is valid, 0 when missing
 * or wrong (why says which), -1 store failure. */
static int authenticate(srv *s, struct MHD_Connection *c, upd_principal *who, char *why,
                        size_t whylen)
{
    const char *h = upd__header(c, "Authorization");
    if (!h && MHD_lookup_connection_value(c, MHD_COOKIE_KIND, UPD_SESSION_COOKIE))
        return upd__session_auth(s, c, who, why, whylen);
    if (!h || strncasecmp(h, "Bearer ", 7)) {
        snprintf(why, whylen,
                 "missing admin token: send 'Authorization: Bearer <token>' (the bootstrap "
                 "token is in the data directory's admin-token file, or UPDRAFT_ADMIN_TOKEN; "
                 "an admin makes named tokens with POST /api/v1/tokens)");
        return 0;
    }
    h += 7;
    while (*h == ' ')
        h++;
    return upd__authz_secret(s, h, who, why, whylen);
}

int upd__authz_token_ok(srv *s, struct MHD_Connection *c, unsigned roles)
{
    upd_principal who;
    memset(&who, 0, sizeof who);
    upd__client_ip(c, who.ip, sizeof who.ip);
    const int presented = upd__header(c, "Authorization") != NULL;
    if (presented && upd_authlimit_check(s->admin_limit, who.ip, NULL, upd__now_ms()))
        return 0;
    char why[512];
    int ok = authenticate(s, c, &who, why, sizeof why);
    if (ok == 0 && presented)
        upd_authlimit_fail(s->admin_limit, who.ip, NULL, upd__now_ms());
    if (ok != 1)
        return 0;
    upd_authlimit_ok(s->admin_limit, who.ip, NULL);
    note_use(s, &who);
    return (who.role & roles) != 0;
}

int upd__authz_begin(req *r, struct MHD_Connection *c, const char *path, const char *method,
                     enum MHD_Result *ret)
{
    srv *s = r->s;
    upd__client_ip(c, r->who.ip, sizeof r->who.ip);
    /* A request without credentials is a challenge, not a guess: it is neither throttled
     * nor counted, so that a client behind the same address that sends a right token is
     * never held up by one that sends none. */
    const int presented = upd__header(c, "Authorization") != NULL;
    unsigned wait =
        presented ? upd_authlimit_check(s->admin_limit, r->who.ip, NULL, upd__now_ms()) : 0;
    if (wait) {
        *ret = upd__reply_throttled(r, c, wait, 1);
        return -1;
    }
    char why[512];
    int ok = authenticate(s, c, &r->who, why, sizeof why);
    if (ok < 0) {
        *ret = upd__api_store_failed(r, c, "reading the API tokens");
        return -1;
    }
    if (!ok) {
        r->who.role = 0;
        if (presented) {
            upd__metrics_auth_failure(1);
            wait = upd_authlimit_fail(s->admin_limit, r->who.ip, NULL, upd__now_ms());
        }
        if (wait) {
            *ret = upd__reply_throttled(r, c, wait, 1);
        } else if (r->who.name[0]) { /* a token that expired: say so, and its name */
            cJSON *j = cJSON_CreateObject();
            char msg[700];
            snprintf(msg, sizeof msg, "%s: ask an admin for a new one (POST /api/v1/tokens)", why);
            cJSON_AddStringToObject(j, "error", msg);
            cJSON_AddStringToObject(j, "kind", "expired");
            cJSON_AddStringToObject(j, "reason", why);
            cJSON_AddStringToObject(j, "token", r->who.name);
            *ret = upd__reply_json(r, c, MHD_HTTP_UNAUTHORIZED, j);
        } else {
            *ret = upd__reply_error(r, c, MHD_HTTP_UNAUTHORIZED, "unauthorized", "%s", why);
        }
        return -1;
    }
    upd_authlimit_ok(s->admin_limit, r->who.ip, NULL);
    note_use(s, &r->who);
    if (upd__session_write_refused(r, c, method, ret)) /* CSRF and Origin (session.h) */
        return -1;
    /* the route and its roles */
    const char *p = *path ? path : "/";
    const char *m = !strcmp(method, "HEAD") ? "GET" : method;
    int known_path = 0;
    char allowed[64] = "";
    for (int i = 0; i < NROUTES; i++) {
        if (!path_match(ROUTES[i].path, p))
            continue;
        known_path = 1;
        if (strcmp(ROUTES[i].method, m)) {
            if (!strstr(allowed, ROUTES[i].method) && strlen(allowed) + 10 < sizeof allowed)
                snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s",
                         allowed[0] ? ", " : "", ROUTES[i].method);
            continue;
        }
        r->route = &ROUTES[i];
        break;
    }
    if (!r->route && !known_path) {
        *ret = upd__reply_error(r, c, MHD_HTTP_NOT_FOUND, "not-found",
                                "no such API path: see docs/api.md (releases, channels, "
                                "devices, events, rollouts, tokens under /api/v1)");
        return -1;
    }
    if (!r->route) {
        *ret = upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                "%s is not a method of /api/v1%s: use %s", method, p, allowed);
        return -1;
    }
    if (!(r->route->roles & r->who.role)) {
        char need[64];
        upd__roles_text(r->route->roles, need, sizeof need);
        cJSON *j = cJSON_CreateObject();
        char msg[512];
        snprintf(msg, sizeof msg,
                 "%s /api/v1%s (%s) needs a token with role %s; this token ('%s') has role %s",
                 method, r->route->path, r->route->what, need, r->who.name,
                 upd__role_name(r->who.role));
        cJSON_AddStringToObject(j, "error", msg);
        cJSON_AddStringToObject(j, "kind", "forbidden");
        cJSON_AddStringToObject(j, "token", r->who.name);
        cJSON_AddStringToObject(j, "role", upd__role_name(r->who.role));
        cJSON_AddItemToObject(j, "needs", roles_json(r->route->roles));
        char what[300];
        snprintf(what, sizeof what, "refused: %s needs role %s", r->route->what, need);
        audit(r, r->route, p, method, what);
        *ret = upd__reply_json(r, c, MHD_HTTP_FORBIDDEN, j);
        return -1;
    }
    return 0;
}

void upd__authz_audit(req *r, const char *path, const char *method)
{
    if (!r->route || !strcmp(r->route->method, "GET") || read_only(r->route) || r->status < 200 ||
        r->status > 299)
        return;
    audit(r, r->route, *path ? path : "/", method, r->route->what);
}

enum MHD_Result upd__roles_route(req *r, struct MHD_Connection *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "roles", roles_json(ANY));
    cJSON *arr = cJSON_AddArrayToObject(j, "routes");
    for (int i = 0; i < NROUTES; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "method", ROUTES[i].method);
        cJSON_AddStringToObject(o, "path", ROUTES[i].path);
        cJSON_AddItemToObject(o, "roles", roles_json(ROUTES[i].roles));
        cJSON_AddStringToObject(o, "what", ROUTES[i].what);
        cJSON_AddItemToArray(arr, o);
    }
    return upd__reply_json(r, c, MHD_HTTP_OK, j);
}
