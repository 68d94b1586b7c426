/* Small HTTP helpers of the server: replies, headers, MACs, Basic auth, time. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "srv.h"

void upd__copy(char *dst, size_t cap, const char *src)
{
    if (!cap)
        return;
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

int64_t upd__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void upd__iso_time(int64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03dZ", buf, (int)(ms % 1000));
}

int64_t upd__parse_time(const char *s)
{
    if (!s || !*s)
        return -1;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end == '\0' && v >= 0)
        return (int64_t)v * 1000;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p) {
        memset(&tm, 0, sizeof tm);
        p = strptime(s, "%Y-%m-%d", &tm);
    }
    if (!p)
        return -1;
    if (*p == '.')
        while (isdigit((unsigned char)*++p))
            ;
    if (*p && strcmp(p, "Z") && strcmp(p, "+00:00"))
        return -1;
    return (int64_t)timegm(&tm) * 1000;
}

const char *upd__header(struct MHD_Connection *c, const char *name)
{
    /* MHD compares header names without regard to case. */
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

const char *upd__arg(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static int hex_val(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = (char)(ch | 0x20);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Every check parses one or two MACs: six pairs read straight, no per-character modulo. */
int upd__parse_mac(const char *in, size_t len, char out[UPD_MAC_STR])
{
    static const char hex[] = "0123456789ABCDEF";
    /* 12 hex digits, or 6 pairs with one separator (':' or '-') between every two */
    size_t step = len == 17 ? 3 : 2;
    if (len != 12 && len != 17)
        return -1;
    char sep = in[2], buf[UPD_MAC_STR];
    if (len == 17 && sep != ':' && sep != '-')
        return -1;
    for (size_t i = 0; i < 6; i++) {
        const char *p = in + i * step;
        if (step == 3 && i < 5 && p[2] != sep)
            return -1;
        int hi = hex_val(p[0]), lo = hex_val(p[1]);
        if (hi < 0 || lo < 0)
            return -1;
        buf[i * 3] = hex[hi];
        buf[i * 3 + 1] = hex[lo];
        buf[i * 3 + 2] = i == 5 ? '\0' : ':';
    }
    memcpy(out, buf, UPD_MAC_STR);
    return 0;
}

int upd__secret_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0 && lb > 0;
}

static int b64val(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

int upd__basic_auth(struct MHD_Connection *c, char *user, size_t ucap, char *pass, size_t pcap)
{
    const char *h = upd__header(c, "Authorization");
    if (!h || strncasecmp(h, "Basic ", 6))
        return -1;
    h += 6;
    while (*h == ' ')
        h++;
    char dec[512];
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; *h && *h != '='; h++) {
        int v = b64val((unsigned char)*h);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 >= sizeof dec)
                return -1;
            dec[n++] = (char)((acc >> bits) & 0xFF);
        }
    }
    dec[n] = '\0';
    if (memchr(dec, '\0', n))
        return -1;
    char *colon = strchr(dec, ':');
    if (!colon)
        return -1;
    *colon = '\0';
    if (strlen(dec) >= ucap || strlen(colon + 1) >= pcap)
        return -1;
    strcpy(user, dec);
    strcpy(pass, colon + 1);
    return 0;
}

void upd__client_ip(struct MHD_Connection *c, char *out, size_t cap)
{
    out[0] = '\0';
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    char buf[INET6_ADDRSTRLEN] = "";
    if (sa->sa_family == AF_INET && cap >= 16) {
        /* by hand: inet_ntop formats IPv4 with sprintf, a visible cost on every check */
        const unsigned char *b =
            (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        char *o = out;
        for (int i = 0; i < 4; i++) {
            unsigned v = b[i];
            if (v >= 100)
                *o++ = (char)('0' + v / 100);
            if (v >= 10)
                *o++ = (char)('0' + v / 10 % 10);
            *o++ = (char)('0' + v % 10);
            *o++ = i == 3 ? '\0' : '.';
        }
        return;
    }
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
                  sizeof buf);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf,
                  sizeof buf);
    snprintf(out, cap, "%s", buf);
}

enum MHD_Result upd__queue(req *r, struct MHD_Connection *c, unsigned status,
                           struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    if (r && r->defer) { /* not on the connection's thread: kept for the handler */
        if (r->deferred)
            MHD_destroy_response(r->deferred);
        r->deferred = resp;
        r->deferred_status = status;
        return MHD_YES;
    }
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    if (r) {
        r->responded = 1;
        r->status = status;
    }
    return ret;
}

enum MHD_Result upd__reply_json(req *r, struct MHD_Connection *c, unsigned status, cJSON *j)
{
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text)
        return MHD_NO;
    size_t len = strlen(text);
    text[len] = '\0';
    /* one extra newline is nicer for curl users: build it into a new buffer */
    char *body = malloc(len + 2);
    if (!body) {
        free(text);
        return MHD_NO;
    }
    memcpy(body, text, len);
    body[len] = '\n';
    body[len + 1] = '\0';
    free(text);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len + 1, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"updraft admin\"");
    return upd__queue(r, c, status, resp);
}

enum MHD_Result upd__reply_error(req *r, struct MHD_Connection *c, unsigned status,
                                 const char *kind, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error", msg);
    cJSON_AddStringToObject(j, "kind", kind);
    return upd__reply_json(r, c, status, j);
}

enum MHD_Result upd__reply_text(req *r, struct MHD_Connection *c, unsigned status, const char *text)
{
    size_t len = strlen(text);
    char *body = malloc(len + 2);
    if (!body)
        return MHD_NO;
    memcpy(body, text, len);
    body[len] = '\n';
    body[len + 1] = '\0';
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len + 1, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, "WWW-Authenticate", "Basic realm=\"updraft\"");
    return upd__queue(r, c, status, resp);
}

int upd__printable(const char *s, size_t max)
{
    size_t n = 0;
    for (; *s; s++, n++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7F)
            return 0;
    return n <= max;
}

int upd__valid_channel(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= UPD_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
            return 0;
    return 1;
}
