/* HTTP/1.1 client of the admin commands (see cmd_apiclient.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cmd_apiclient.h"
#include "upd_posix.h"

/* Waits of the admin client: generous, an upload of a large image may take a while. */
#define API_TIMEOUT_MS 60000u

static int parse_base(char *host, size_t hcap, char *port, size_t pcap, char *prefix, size_t xcap,
                      int *tls, char *err, size_t errlen)
{
    const char *url = getenv("UPDRAFT_URL");
    if (!url || !*url)
        url = "http://127.0.0.1:8080";
    *tls = !strncasecmp(url, "https://", 8);
    if (!*tls && strncasecmp(url, "http://", 7)) {
        snprintf(err, errlen, "UPDRAFT_URL=%s must start with http:// or https://", url);
        return -1;
    }
    const char *h = url + (*tls ? 8 : 7);
    const char *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    char hp[300];
    if (hl == 0 || hl >= sizeof hp) {
        snprintf(err, errlen, "UPDRAFT_URL=%s has no host", url);
        return -1;
    }
    memcpy(hp, h, hl);
    hp[hl] = '\0';
    snprintf(prefix, xcap, "%s", slash ? slash : "");
    size_t pl = strlen(prefix);
    if (pl && prefix[pl - 1] == '/')
        prefix[pl - 1] = '\0';
    char *colon = strrchr(hp, ':');
    char *rb = strrchr(hp, ']');
    if (colon && (!rb || colon > rb)) {
        *colon = '\0';
        snprintf(port, pcap, "%s", colon + 1);
    } else {
        snprintf(port, pcap, "%s", *tls ? "443" : "80");
    }
    if (hp[0] == '[') {
        size_t n = strlen(hp);
        if (n >= 2 && hp[n - 1] == ']') {
            hp[n - 1] = '\0';
            memmove(hp, hp + 1, n - 1);
        }
    }
    snprintf(host, hcap, "%s", hp);
    return 0;
}

static int send_all(upd_posix_net *net, const void *p, size_t n)
{
    const char *b = p;
    while (n) {
        int w = upd_posix_net_send(net, b, n, API_TIMEOUT_MS);
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static void progress(size_t done, size_t total, int final)
{
    int width = 40;
    int fill = total ? (int)((double)done / (double)total * width) : width;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : ' ';
    bar[width] = '\0';
    fprintf(stderr, "\r[%s] %3d%% %.1f/%.1f KiB", bar, total ? (int)(100.0 * done / total) : 100,
            done / 1024.0, total / 1024.0);
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

int upd_api_request(const char *method, const char *path, const char *content_type,
                    const void *body, size_t len, int body_fd, upd_api_resp *out, char *err,
                    size_t errlen)
{
    char host[300], port[16], prefix[512];
    int tls = 0;
    memset(out, 0, sizeof *out);
    if (parse_base(host, sizeof host, port, sizeof port, prefix, sizeof prefix, &tls, err, errlen))
        return -1;
    const char *token = getenv("UPDRAFT_TOKEN");
    char *pend;
    unsigned long pnum = strtoul(port, &pend, 10);
    if (!port[0] || *pend || pnum == 0 || pnum > 65535) {
        snprintf(err, errlen, "UPDRAFT_URL has a bad port '%s'", port);
        return -1;
    }
    upd_posix_net net;
    upd_posix_net_init(&net);
    /* https: the system's trust store, or UPDRAFT_CA_FILE (e.g. a self-signed server's
     * certificate); UPDRAFT_INSECURE=1 skips verification */
    net.ca_file = getenv("UPDRAFT_CA_FILE");
    net.insecure = getenv("UPDRAFT_INSECURE") && !strcmp(getenv("UPDRAFT_INSECURE"), "1");
    if (upd_posix_net_connect(&net, host, (uint16_t)pnum, tls, 10000) != 0) {
        snprintf(err, errlen, "cannot connect to %s:%s: %s%s", host, port, net.error,
                 net.tls_verify_failed
                     ? " (give the server's certificate with UPDRAFT_CA_FILE=cert.pem)"
                     : ": is 'updraft serve' running there? (UPDRAFT_URL)");
        upd_posix_net_free(&net);
        return -1;
    }
    char head[4096];
    int n = snprintf(head, sizeof head,
                     "%s %s%s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: updraft-cli\r\n"
                     "Connection: close\r\nAccept: application/json\r\n%s%s%s"
                     "%s%s%sContent-Length: %zu\r\n\r\n",
                     method, prefix, path, host, port, token ? "Authorization: Bearer " : "",
                     token ? token : "", token ? "\r\n" : "", content_type ? "Content-Type: " : "",
                     content_type ? content_type : "", content_type ? "\r\n" : "", len);
    if (n < 0 || (size_t)n >= sizeof head) {
        snprintf(err, errlen, "request too long");
        upd_posix_net_free(&net);
        return -1;
    }
    int fail = send_all(&net, head, (size_t)n);
    if (!fail && body)
        fail = send_all(&net, body, len);
    if (!fail && body_fd >= 0) {
        int tty = isatty(2);
        char buf[65536];
        size_t done = 0;
        while (!fail && done < len) {
            ssize_t r = read(body_fd, buf, sizeof buf);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                snprintf(err, errlen, "reading the file failed after %zu bytes", done);
                upd_posix_net_free(&net);
                return -1;
            }
            fail = send_all(&net, buf, (size_t)r);
            done += (size_t)r;
            if (tty)
                progress(done, len, done >= len);
        }
    }
    /* read the answer, even after a send error: the server may have refused early */
    size_t cap = 8192, got = 0;
    char *resp = malloc(cap);
    while (resp) {
        if (got + 1 >= cap) {
            char *nr = realloc(resp, cap *= 2);
            if (!nr) {
                free(resp);
                resp = NULL;
                break;
            }
            resp = nr;
        }
        int r = upd_posix_net_recv(&net, resp + got, cap - got - 1, API_TIMEOUT_MS);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    upd_posix_net_free(&net);
    if (!resp || got == 0) {
        free(resp);
        snprintf(err, errlen, "the server closed the connection without an answer%s",
                 fail ? " (while sending the request)" : "");
        return -1;
    }
    resp[got] = '\0';
    int status = 0;
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) {
        free(resp);
        snprintf(err, errlen, "not an HTTP answer: is UPDRAFT_URL the updraft server?");
        return -1;
    }
    char *hend = strstr(resp, "\r\n\r\n");
    size_t off = hend ? (size_t)(hend + 4 - resp) : got;
    out->status = status;
    out->len = got - off;
    out->body = malloc(out->len + 1);
    if (!out->body) {
        free(resp);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(out->body, resp + off, out->len);
    out->body[out->len] = '\0';
    free(resp);
    return 0;
}

void upd_api_urlencode(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (; *s && n + 4 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            out[n++] = (char)ch;
        } else {
            out[n++] = '%';
            out[n++] = hex[ch >> 4];
            out[n++] = hex[ch & 15];
        }
    }
    out[n] = '\0';
}

cJSON *upd_api_call(const char *cmd, const char *method, const char *path, const char *json_body)
{
    upd_api_resp resp;
    char err[512];
    if (upd_api_request(method, path, json_body ? "application/json" : NULL, json_body,
                        json_body ? strlen(json_body) : 0, -1, &resp, err, sizeof err) != 0) {
        fprintf(stderr, "updraft %s: %s\n", cmd, err);
        return NULL;
    }
    cJSON *j = cJSON_Parse(resp.body);
    if (resp.status < 200 || resp.status > 299) {
        cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
        fprintf(stderr, "updraft %s: the server answered %d: %s\n", cmd, resp.status,
                cJSON_IsString(e) ? e->valuestring : resp.body);
        if (resp.status == 401)
            fprintf(stderr, "  set UPDRAFT_TOKEN to the admin token (printed by 'updraft serve' "
                            "on first start, stored in its data directory as admin-token)\n");
        cJSON_Delete(j);
        j = NULL;
    } else if (!j) {
        fprintf(stderr, "updraft %s: the server's answer is not JSON\n", cmd);
    }
    free(resp.body);
    return j;
}
