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
#include <string.h>
#include <sys/socket.h>

#include "srv.h"

typedef struct head_acc {
    size_t bytes;  /* header lines and query arguments, as sent (about) */
    size_t fields; /* their number */
    size_t query;  /* the query arguments' share */
} head_acc;

static enum MHD_Result count_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    head_acc *a = cls;
    size_t n = strlen(key) + (value ? strlen(value) : 0);
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
    MHD_get_connection_values(c, MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND | MHD_COOKIE_KIND,
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
    int api = !strncmp(url, "/api/", 5);
    char body[700];
    if (api)
        snprintf(body, sizeof body, "{\"error\":\"%s\",\"kind\":\"%s\"}\n", msg,
                 uri ? "uri-too-long" : "headers-too-large");
    else
        snprintf(body, sizeof body, "%s\n", msg);
    char out[1024];
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %s\r\nConnection: close\r\nContent-Type: %s\r\n"
                     "Cache-Control: no-store\r\nContent-Length: %zu\r\n\r\n%s",
                     uri ? "414 URI Too Long" : "431 Request Header Fields Too Large",
                     api ? "application/json" : "text/plain; charset=utf-8", strlen(body), body);
    if (n > 0 && (size_t)n < sizeof out)
        send_direct(c, out, (size_t)n);
    return MHD_NO; /* close: libmicrohttpd sends nothing more */
}
