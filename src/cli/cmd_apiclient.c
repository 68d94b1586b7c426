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

/* ---- which server, which token ------------------------------------------------------- */

static struct target {
    int resolved;
    char url[1024];
    char token[512];
    char url_source[128];    /* "UPDRAFT_URL", ... */
    char token_source[1200]; /* "the token in UPDRAFT_TOKEN", ... */
    char note[2400];         /* said once on stderr (a device URL given as the server's) */
} T;

/* Copy src into dst of cap bytes, cut short when needed. */
static void copy(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void upd_api_login_path(char *out, size_t cap)
{
    const char *x = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    if (x && *x)
        snprintf(out, cap, "%s/updraft/login", x);
    else
        snprintf(out, cap, "%s/.config/updraft/login", home && *home ? home : ".");
}

/* The first line of a small file into out (trailing blanks and newline cut); 0 ok. */
static int read_line(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fgets(out, (int)cap, f) != NULL;
    fclose(f);
    if (!ok)
        return -1;
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
        out[--n] = '\0';
    return n ? 0 : -1;
}

/* url= and token= of the login file; 0 when it has both. */
static int read_login(char *url, size_t ucap, char *token, size_t tcap)
{
    char path[1024], line[1200];
    upd_api_login_path(path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    url[0] = token[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!strncmp(line, "url=", 4))
            copy(url, ucap, line + 4);
        else if (!strncmp(line, "token=", 6))
            copy(token, tcap, line + 6);
    }
    fclose(f);
    return url[0] && token[0] ? 0 : -1;
}

static int is_local(const char *url)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    return !strncmp(h, "127.", 4) || !strncasecmp(h, "localhost", 9) || !strncmp(h, "[::1]", 5);
}

/* The device paths: a URL ending in one of them is the devices' URL, not the server's. */
static void strip_device_path(char *url)
{
    static const char *const paths[] = {"/update", "/fw/", "/releases/", "/manifest/"};
    char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    if (!p)
        return;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char *at = strstr(p, paths[i]);
        if (!at || (paths[i][strlen(paths[i]) - 1] != '/' && at[strlen(paths[i])] != '\0' &&
                    at[strlen(paths[i])] != '?'))
            continue;
        char was[1024];
        copy(was, sizeof was, url);
        *at = '\0';
        snprintf(T.note, sizeof T.note,
                 "note: %s is where devices ask for updates; the admin commands use the "
                 "server's base URL %s (set that in UPDRAFT_URL)",
                 was, url);
        return;
    }
}

static void resolve(void)
{
    if (T.resolved)
        return;
    T.resolved = 1;
    char lurl[1024], ltok[512];
    int have_login = read_login(lurl, sizeof lurl, ltok, sizeof ltok) == 0;
    const char *env = getenv("UPDRAFT_URL");
    if (env && *env) {
        snprintf(T.url, sizeof T.url, "%s", env);
        snprintf(T.url_source, sizeof T.url_source, "UPDRAFT_URL");
    } else if (have_login) {
        snprintf(T.url, sizeof T.url, "%s", lurl);
        snprintf(T.url_source, sizeof T.url_source, "the server saved by 'updraft login'");
    } else {
        snprintf(T.url, sizeof T.url, "http://127.0.0.1:8080");
        snprintf(T.url_source, sizeof T.url_source, "the default");
    }
    strip_device_path(T.url);
    const char *tok = getenv("UPDRAFT_TOKEN");
    char path[1024];
    if (tok && *tok) {
        snprintf(T.token, sizeof T.token, "%s", tok);
        snprintf(T.token_source, sizeof T.token_source, "the token in UPDRAFT_TOKEN");
    } else if (have_login && !strcmp(lurl, T.url)) {
        snprintf(T.token, sizeof T.token, "%s", ltok);
        upd_api_login_path(path, sizeof path);
        snprintf(T.token_source, sizeof T.token_source, "the token 'updraft login' saved in %s",
                 path);
    } else if (is_local(T.url)) {
        const char *data = getenv("UPDRAFT_DATA");
        snprintf(path, sizeof path, "%s/admin-token", data && *data ? data : "updraft-data");
        if (read_line(path, T.token, sizeof T.token) == 0)
            snprintf(T.token_source, sizeof T.token_source, "the token in %s", path);
        else
            T.token[0] = '\0';
    }
    if (!T.token[0])
        snprintf(T.token_source, sizeof T.token_source, "a request without a token");
}

void upd_api_set_target(const char *url, const char *token)
{
    memset(&T, 0, sizeof T);
    T.resolved = 1;
    snprintf(T.url, sizeof T.url, "%s", url);
    snprintf(T.url_source, sizeof T.url_source, "the URL given");
    strip_device_path(T.url);
    snprintf(T.token, sizeof T.token, "%s", token ? token : "");
    snprintf(T.token_source, sizeof T.token_source, "%s",
             token && *token ? "the token given" : "a request without a token");
}

const char *upd_api_url(void)
{
    resolve();
    return T.url;
}

const char *upd_api_token_source(void)
{
    resolve();
    return T.token_source;
}

const char *upd_api_token_hint(void)
{
    resolve();
    return T.token[0]
               ? "it is not this server's admin token, nor a named token that is still valid "
                 "(revoked ones are refused; an admin lists them with 'updraft token list'). "
                 "The admin token is printed by 'updraft serve' at its first start and kept in "
                 "its data directory as admin-token; on another machine run 'updraft login "
                 "URL' once, or set UPDRAFT_TOKEN"
               : "this server needs its admin token: run 'updraft login URL' once (it asks "
                 "for the token printed by 'updraft serve' at its first start and kept in its "
                 "data directory as admin-token), or set UPDRAFT_TOKEN";
}

static int parse_base(char *host, size_t hcap, char *port, size_t pcap, char *prefix, size_t xcap,
                      int *tls, char *err, size_t errlen)
{
    resolve();
    if (T.note[0]) {
        fprintf(stderr, "updraft: %s\n", T.note);
        T.note[0] = '\0';
    }
    const char *url = T.url;
    *tls = !strncasecmp(url, "https://", 8);
    if (!*tls && strncasecmp(url, "http://", 7)) {
        snprintf(err, errlen, "the server URL %s (%s) must start with http:// or https://", url,
                 T.url_source);
        return -1;
    }
    const char *h = url + (*tls ? 8 : 7);
    const char *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    char hp[300];
    if (hl == 0 || hl >= sizeof hp) {
        snprintf(err, errlen, "the server URL %s (%s) has no host", url, T.url_source);
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
    upd_api_body b = {body_fd >= 0 ? NULL : body,
                      body_fd >= 0 ? 0 : len,
                      body_fd,
                      body_fd >= 0 ? len : 0,
                      NULL,
                      0};
    return upd_api_request_parts(method, path, content_type, &b, out, err, errlen);
}

int upd_api_request_parts(const char *method, const char *path, const char *content_type,
                          const upd_api_body *b, upd_api_resp *out, char *err, size_t errlen)
{
    const void *body = b->head;
    int body_fd = b->fd;
    size_t len = b->head_len + b->file_len + b->tail_len;
    char host[300], port[16], prefix[512];
    int tls = 0;
    memset(out, 0, sizeof *out);
    if (parse_base(host, sizeof host, port, sizeof port, prefix, sizeof prefix, &tls, err, errlen))
        return -1;
    const char *token = T.token[0] ? T.token : NULL;
    char *pend;
    unsigned long pnum = strtoul(port, &pend, 10);
    if (!port[0] || *pend || pnum == 0 || pnum > 65535) {
        snprintf(err, errlen, "the server URL %s (%s) has a bad port '%s'", T.url, T.url_source,
                 port);
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
                     : ": is 'updraft serve' running there? (set the server with UPDRAFT_URL "
                       "or 'updraft login URL')");
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
        fail = send_all(&net, body, b->head_len);
    if (!fail && body_fd >= 0) {
        int tty = isatty(2);
        char buf[65536];
        size_t done = 0, flen = b->file_len;
        while (!fail && done < flen) {
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
                progress(done, flen, done >= flen);
        }
    }
    if (!fail && b->tail)
        fail = send_all(&net, b->tail, b->tail_len);
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
        snprintf(err, errlen, "not an HTTP answer from %s: is it the updraft server?", T.url);
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
