/* Request heads too large for an answer.
 *
 * libmicrohttpd keeps a connection's request head (request line and header lines, plus a
 * record for each field) and the response's header lines in one memory pool of
 * UPD_CONN_MEMORY bytes. A head that fits but leaves too little room for the answer's
 * header lines was parsed, handed to us, and then closed without any answer ("failed to
 * create response header"): requests with 3.0 to 3.9 KB of headers got nothing back. A
 * head larger than the pool gets libmicrohttpd's own 431.
 *
 * So a head above UPD_HEAD_MAX (a budget that counts each field's record too) is refused
 * here, before any response is built from the pool: the answer is written straight to the
 * connection (it is short and nothing else is in flight on it: libmicrohttpd reads the
 * next request only after the previous answer went out), and the connection is closed.
 * Every request thus gets a complete answer. */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "srv.h"

typedef struct head_acc {
    size_t bytes;  /* header lines and query arguments, as sent (about) */
    size_t fields; /* their number */
    size_t query;  /* the query arguments' share */
} head_acc;

static enum MHD_Result count_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    head_acc *a = cls;
    (void)key;
    size_t n = key_size + (value ? value_size : 0);
    if (kind == MHD_GET_ARGUMENT_KIND) {
        a->query += n + 2; /* '&' and '=' */
        a->bytes += n + 2;
    } else {
        a->bytes += n + 4; /* ": " and CRLF */
    }
    a->fields++;
    return MHD_YES;
}

int upd__head_check(struct MHD_Connection *c, const char *method, const char *url,
                    upd_head_size *out)
{
    head_acc a = {0, 0, 0};
    MHD_get_connection_values_n(c, MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND | MHD_COOKIE_KIND,
                                count_field, &a);
    size_t line = strlen(method) + 1 + strlen(url) + a.query + sizeof " HTTP/1.1\r\n";
    out->bytes = line + a.bytes - a.query;
    out->line = line;
    out->fields = a.fields;
    out->cost = out->bytes + a.fields * UPD_HEAD_FIELD_COST;
    /* browsers (the dashboard and its API) send larger heads than devices */
    int web =
        (url[0] == '/' && url[1] == '\0') || !strncmp(url, "/ui/", 4) || !strncmp(url, "/api/", 5);
    out->max = web ? UPD_HEAD_MAX_WEB : UPD_HEAD_MAX;
    return out->cost > out->max;
}

static int send_direct(struct MHD_Connection *c, const char *p, size_t n)
{
    const union MHD_ConnectionInfo *ti =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ti && ti->tls_session) {
        gnutls_session_t ses = (gnutls_session_t)ti->tls_session;
        while (n > 0) {
            ssize_t w = gnutls_record_send(ses, p, n);
            if (w == GNUTLS_E_INTERRUPTED || w == GNUTLS_E_AGAIN)
                continue; /* a few hundred bytes on an idle connection: no real wait */
            if (w <= 0)
                return -1;
            p += w;
            n -= (size_t)w;
        }
        return 0;
    }
    const union MHD_ConnectionInfo *fi =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!fi)
        return -1;
    while (n > 0) {
        ssize_t w = send(fi->connect_fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    shutdown(fi->connect_fd, SHUT_WR); /* the answer is all there is */
    return 0;
}

/* Write a refusal straight to the connection and close it: status line, the message (in a
 * JSON error object for the API, with kind), nothing else. */
static enum MHD_Result reply_direct(struct MHD_Connection *c, const char *url, const char *status,
                                    const char *kind, const char *msg)
{
    int api = !strncmp(url, "/api/", 5);
    char body[700];
    if (api)
        snprintf(body, sizeof body, "{\"error\":\"%s\",\"kind\":\"%s\"}\n", msg, kind);
    else
        snprintf(body, sizeof body, "%s\n", msg);
    char out[1024];
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %s\r\nConnection: close\r\nContent-Type: %s\r\n"
                     "Cache-Control: no-store\r\nContent-Length: %zu\r\n\r\n%s",
                     status, api ? "application/json" : "text/plain; charset=utf-8", strlen(body),
                     body);
    if (n > 0 && (size_t)n < sizeof out)
        send_direct(c, out, (size_t)n);
    return MHD_NO; /* close: libmicrohttpd sends nothing more */
}

enum MHD_Result upd__reply_head_too_big(struct MHD_Connection *c, const char *url,
                                        const upd_head_size *h)
{
    int uri = h->line > h->max / 2;
    char msg[512];
    if (uri)
        snprintf(msg, sizeof msg,
                 "the request line is %zu bytes; this server takes request heads of at most "
                 "%d bytes: send long values (such as release notes) in the body, not in the "
                 "URL (docs/api.md)",
                 h->line, (int)h->max);
    else
        snprintf(msg, sizeof msg,
                 "the request head is %zu bytes in %zu fields; this server takes at most %d "
                 "bytes (each field counts %d more): send fewer or shorter headers",
                 h->bytes, h->fields, (int)h->max, UPD_HEAD_FIELD_COST);
    return reply_direct(c, url, uri ? "414 URI Too Long" : "431 Request Header Fields Too Large",
                        uri ? "uri-too-long" : "headers-too-large", msg);
}

/* libmicrohttpd 0.9.75 records every query argument of the request line in the
 * connection's memory pool before any of our code sees the request. When the records fill
 * the pool (about 80 arguments, "&&&..." is enough), it decides on its own 431 but cannot
 * build it, and leaves the connection waiting for a head it has no room to read: no answer
 * until the head deadline. It calls the URI log callback just before that parse, with the
 * request line's URI in its own buffer (the line cut into NUL-terminated pieces, the HTTP
 * version last): past UPD_QUERY_FIELDS_MAX arguments the query is cut off there (so none is
 * recorded) and the handler answers 414 on the request's first call.
 *
 * A URI with a NUL byte in it cannot be measured that way (libmicrohttpd looks for the
 * query past the NUL; a string function stops at it), and no valid URL holds one: such a
 * request is refused at once, with a 400 written to the connection and the connection shut
 * down, whatever libmicrohttpd then does with the rest of the line. */
void *upd__uri_seen(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    size_t len = strlen(uri);
    /* the piece after the URI is the HTTP version (libmicrohttpd checked it): anything
     * else means the URI went on past a NUL byte; the comparison stops at the next NUL,
     * which is inside the line */
    if (strncmp(uri + len + 1, "HTTP/", 5) != 0) {
        reply_direct(c, uri, "400 Bad Request", "bad-request",
                     "the request line holds a NUL byte: send a URL without control "
                     "characters (encode bytes as %XX)");
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (fi)
            shutdown(fi->connect_fd, SHUT_RDWR); /* libmicrohttpd sees the end and closes */
        return NULL;
    }
    char *q = memchr(uri, '?', len);
    if (!q)
        return NULL;
    size_t n = 1;
    for (const char *p = q + 1; *p; p++)
        n += *p == '&';
    if (n <= UPD_QUERY_FIELDS_MAX)
        return NULL;
    req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->query_fields = n;
    q[1] = '\0'; /* the buffer is libmicrohttpd's, writable: it cuts the line up the same way */
    return r;
}

enum MHD_Result upd__reply_query_too_long(struct MHD_Connection *c, const char *url, size_t fields)
{
    char msg[300];
    snprintf(msg, sizeof msg,
             "the query has %zu arguments; this server takes at most %d: send long lists "
             "(such as MAC addresses) in the body, not in the URL (docs/api.md)",
             fields, UPD_QUERY_FIELDS_MAX);
    return reply_direct(c, url, "414 URI Too Long", "uri-too-long", msg);
}
