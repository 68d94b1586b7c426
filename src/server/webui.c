/* The dashboard's files (webui.h): GET / answers index.html, GET /ui/<path> the rest,
 * from memory. Each answer carries a strong ETag (If-None-Match -> 304), Cache-Control
 * no-cache (the browser asks again each time and mostly gets a 304: the URLs carry no
 * version, so nothing may be kept unchecked across an upgrade), the gzip copy when the
 * client accepts gzip (Vary: Accept-Encoding), and the dashboard's security headers: a
 * strict Content-Security-Policy (only this server's own scripts and styles, nothing
 * inline, no frames, no plugins), nosniff and no referrer. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "srv.h"
#include "webui.h"

#define CSP                                                                                        \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "             \
    "form-action 'self'"

void upd__webui_security_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

static const upd_webasset *find(const char *path)
{
    for (size_t i = 0; i < upd__nwebassets; i++)
        if (!strcmp(upd__webassets[i].path, path))
            return &upd__webassets[i];
    return NULL;
}

/* Does the list header (Accept-Encoding, If-None-Match) hold the token tok, with no
 * ";q=0"? Tokens are compared whole, without regard to case; "W/" is ignored (an
 * If-None-Match compares weakly, RFC 9110 13.1.2). */
static int has_token(const char *list, const char *tok)
{
    size_t tl = strlen(tok);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!strncmp(p, "W/", 2))
            p += 2;
        const char *end = p + strcspn(p, ",");
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *te = semi ? semi : end;
        while (te > p && (te[-1] == ' ' || te[-1] == '\t'))
            te--;
        if ((size_t)(te - p) == tl && !strncasecmp(p, tok, tl)) {
            if (!semi)
                return 1;
            /* q=0, q=0.0, q=0.000: refused */
            const char *q = semi + 1;
            while (*q == ' ')
                q++;
            if (strncasecmp(q, "q=", 2))
                return 1;
            q += 2;
            if (*q != '0')
                return 1;
            q++;
            if (*q == '.')
                q++;
            while (*q == '0')
                q++;
            return !(q >= end || *q == ' ' || *q == ',' || *q == ';') ? 1 : 0;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

static enum MHD_Result not_found(req *r, struct MHD_Connection *c, const char *url)
{
    char msg[400];
    snprintf(msg, sizeof msg,
             "updraft: the dashboard has no file %.200s: open the dashboard at / "
             "(docs/dashboard.md)",
             url);
    size_t len = strlen(msg);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, msg, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    upd__webui_security_headers(resp);
    return upd__queue(r, c, MHD_HTTP_NOT_FOUND, resp);
}

enum MHD_Result upd__webui_route(req *r, struct MHD_Connection *c, const char *url,
                                 const char *method)
{
    r->started = 1;
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, "Allow", "GET, HEAD");
        upd__webui_security_headers(resp);
        return upd__queue(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
    }
    const upd_webasset *a = find(!strcmp(url, "/") ? "/ui/index.html" : url);
    if (!a)
        return not_found(r, c, url);
    const char *ae = upd__header(c, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    int gz = a->gz && ae && has_token(ae, "gzip");
    const char *inm = upd__header(c, MHD_HTTP_HEADER_IF_NONE_MATCH);
    int fresh =
        inm && (has_token(inm, a->etag) || has_token(inm, a->etag_gz) || has_token(inm, "*"));
    struct MHD_Response *resp;
    if (fresh)
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    else
        resp = MHD_create_response_from_buffer(
            gz ? a->gzlen : a->len, (void *)(gz ? a->gz : a->data), MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    if (!fresh) {
        MHD_add_response_header(resp, "Content-Type", a->type);
        if (gz)
            MHD_add_response_header(resp, "Content-Encoding", "gzip");
    }
    MHD_add_response_header(resp, "ETag", gz ? a->etag_gz : a->etag);
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    if (a->gz)
        MHD_add_response_header(resp, "Vary", "Accept-Encoding");
    upd__webui_security_headers(resp);
    return upd__queue(r, c, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp);
}
