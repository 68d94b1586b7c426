/* One connection's worth of bytes: the record of an exchange (what was sent, every byte
 * that came and when, what the port said), and the response read from those bytes. */
#include <ctype.h>
#include <stdlib.h>
#include <strings.h>

#include "doctor.h"

void upd__doctor_xchg_append(xchg *x, const void *p, size_t n)
{
    if (x->raw_len + n > RAW_MAX)
        n = RAW_MAX - x->raw_len;
    if (x->raw_len + n > x->raw_cap) {
        size_t cap = x->raw_cap ? x->raw_cap : 65536;
        while (cap < x->raw_len + n)
            cap *= 2;
        uint8_t *q = realloc(x->raw, cap);
        if (!q)
            return;
        x->raw = q;
        x->raw_cap = cap;
    }
    memcpy(x->raw + x->raw_len, p, n);
    x->raw_len += n;
}

void upd__doctor_xchg_received(xchg *x, const void *p, size_t n)
{
    uint32_t now = upd_posix_now_ms(NULL);
    if (!x->raw_len)
        x->t_first = now;
    if (now - x->t_last > x->longest_gap)
        x->longest_gap = now - x->t_last;
    x->t_last = now;
    upd__doctor_xchg_append(x, p, n);
}

int upd__doctor_xchg_connect(xchg *x, upd_posix_net *net, const char *host, uint32_t timeout_ms)
{
    x->t_start = upd_posix_now_ms(NULL);
    int rc = upd_posix_net_connect(net, host, x->port, x->tls, timeout_ms);
    snprintf(x->peer, sizeof x->peer, "%s", net->peer);
    snprintf(x->tls_problem, sizeof x->tls_problem, "%s", net->tls_problem);
    snprintf(x->tls_info, sizeof x->tls_info, "%s", net->tls_info);
    x->tls_verify_failed = net->tls_verify_failed;
    if (rc != 0) {
        x->connect_failed = 1;
        snprintf(x->net_error, sizeof x->net_error, "%s", net->error);
        return -1;
    }
    x->t_connected = x->t_last = upd_posix_now_ms(NULL);
    return 0;
}

void upd__doctor_send_all(upd_posix_net *net, const void *p, size_t n, uint32_t timeout_ms)
{
    for (size_t sent = 0; sent < n;) {
        int k = upd_posix_net_send(net, (const uint8_t *)p + sent, n - sent, timeout_ms);
        if (k <= 0)
            break;
        sent += (size_t)k;
    }
}

void upd__doctor_parse_resp(const uint8_t *raw, size_t n, resp *r)
{
    memset(r, 0, sizeof *r);
    size_t i = 0, line = 0;
    int first = 1;
    while (i < n) {
        if (raw[i] != '\n') {
            i++;
            continue;
        }
        size_t e = i;
        if (e > line && raw[e - 1] == '\r')
            e--;
        if (e == line && !first) {
            r->complete = 1;
            r->body = raw + i + 1;
            r->body_len = n - i - 1;
            return;
        }
        if (first) {
            size_t k = e - line < sizeof r->status_line - 1 ? e - line : sizeof r->status_line - 1;
            memcpy(r->status_line, raw + line, k);
            r->status_line[k] = '\0';
            for (size_t j = 0; j < k; j++)
                if ((unsigned char)r->status_line[j] < 32 || (unsigned char)r->status_line[j] > 126)
                    r->status_line[j] = '.';
            if (!strncmp(r->status_line, "HTTP/1.", 7)) {
                const char *sp = strchr(r->status_line, ' ');
                r->status = sp ? atoi(sp + 1) : 0;
            }
            first = 0;
        } else if (r->nh < MAX_HDR) {
            const uint8_t *c = memchr(raw + line, ':', e - line);
            if (c) {
                size_t nl = (size_t)(c - (raw + line));
                size_t v0 = (size_t)(c - raw) + 1;
                while (v0 < e && (raw[v0] == ' ' || raw[v0] == '\t'))
                    v0++;
                size_t vl = e - v0;
                while (vl && (raw[v0 + vl - 1] == ' ' || raw[v0 + vl - 1] == '\t'))
                    vl--;
                if (nl >= sizeof r->name[0])
                    nl = sizeof r->name[0] - 1;
                if (vl >= sizeof r->value[0])
                    vl = sizeof r->value[0] - 1;
                memcpy(r->name[r->nh], raw + line, nl);
                r->name[r->nh][nl] = '\0';
                memcpy(r->value[r->nh], raw + v0, vl);
                r->value[r->nh][vl] = '\0';
                r->nh++;
            }
        }
        i++;
        line = i;
    }
}

const char *upd__doctor_header(const resp *r, const char *name)
{
    for (int i = r->nh - 1; i >= 0; i--)
        if (!strcasecmp(r->name[i], name))
            return r->value[i];
    return NULL;
}

int upd__doctor_last_chunk_came(const resp *r)
{
    return r->body_len >= 5 && !memcmp(r->body + r->body_len - 5, "0\r\n\r\n", 5);
}

long long upd__doctor_dechunk(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t i = 0, o = 0;
    for (;;) {
        size_t sz = 0;
        int digits = 0;
        while (i < n && isxdigit(in[i])) {
            int d = isdigit(in[i]) ? in[i] - '0' : tolower(in[i]) - 'a' + 10;
            if (sz > (SIZE_MAX >> 4))
                return -1;
            sz = sz << 4 | (size_t)d;
            i++;
            digits++;
        }
        while (i < n && in[i] != '\n')
            i++;
        if (!digits || i >= n)
            return -1;
        i++;
        if (sz == 0)
            return (long long)o;
        if (sz > n - i)
            return -1;
        memcpy(out + o, in + i, sz);
        o += sz;
        i += sz;
        if (i < n && in[i] == '\r')
            i++;
        if (i < n && in[i] == '\n')
            i++;
    }
}
