/* HTTP/1.1 client of the admin commands (see cmd_apiclient.h). */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd_apiclient.h"

static int parse_base(char *host, size_t hcap, char *port, size_t pcap, char *prefix, size_t xcap,
                      char *err, size_t errlen)
{
    const char *url = getenv("UPDRAFT_URL");
    if (!url || !*url)
        url = "http://127.0.0.1:8080";
    if (!strncasecmp(url, "https://", 8)) {
        snprintf(err, errlen,
                 "UPDRAFT_URL=%s: the CLI speaks plain http only; run it on the server host "
                 "with UPDRAFT_URL=http://127.0.0.1:PORT (or through an SSH tunnel)",
                 url);
        return -1;
    }
    if (strncasecmp(url, "http://", 7)) {
        snprintf(err, errlen, "UPDRAFT_URL=%s must start with http://", url);
        return -1;
    }
    const char *h = url + 7;
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
        snprintf(port, pcap, "80");
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

static int send_all(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
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
    memset(out, 0, sizeof *out);
    if (parse_base(host, sizeof host, port, sizeof port, prefix, sizeof prefix, err, errlen))
        return -1;
    const char *token = getenv("UPDRAFT_TOKEN");
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s (check UPDRAFT_URL)", host, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen,
                 "cannot connect to %s:%s: %s: is 'updraft serve' running there? (UPDRAFT_URL)",
                 host, port, strerror(errno));
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
        close(fd);
        return -1;
    }
    int fail = send_all(fd, head, (size_t)n);
    if (!fail && body)
        fail = send_all(fd, body, len);
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
                close(fd);
                return -1;
            }
            fail = send_all(fd, buf, (size_t)r);
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
        ssize_t r = recv(fd, resp + got, cap - got - 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
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
