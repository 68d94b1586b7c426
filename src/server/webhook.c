/* Webhooks (webhook.h): a queue and one thread that POSTs each message, with retries. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "upd_posix.h"
#include "webhook.h"

#define TIMEOUT_MS  10000
#define BACKOFF_MAX (5 * 60 * 1000)

typedef struct msg {
    struct msg *next;
    char *url, *body;
    int64_t tag;
    int attempts;
    int64_t due_ms; /* monotonic */
    char why[UPD_POSIX_ERROR_MAX];
} msg;

struct upd_webhooks {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    msg *head;
    int stop;
    pthread_t thread;
    upd_webhook_done done;
    void *ctx;
};

typedef struct url_parts {
    int tls;
    char host[256];
    unsigned port;
    const char *path;
} url_parts;

static int parse_url(const char *url, url_parts *u, char *why, size_t whylen)
{
    memset(u, 0, sizeof *u);
    const char *p;
    if (!strncasecmp(url, "http://", 7)) {
        p = url + 7;
        u->port = 80;
    } else if (!strncasecmp(url, "https://", 8)) {
        p = url + 8;
        u->tls = 1;
        u->port = 443;
    } else {
        snprintf(why, whylen, "'%.100s' is not an http:// or https:// URL", url);
        return -1;
    }
    const char *end = p + strcspn(p, "/?#");
    const char *hs = p, *he;
    if (*p == '[') { /* [IPv6]:port */
        he = memchr(p, ']', (size_t)(end - p));
        if (!he) {
            snprintf(why, whylen, "'%.100s': an IPv6 address is written [addr]", url);
            return -1;
        }
        hs = p + 1;
        p = he + 1;
    } else {
        he = memchr(p, ':', (size_t)(end - p));
        if (!he)
            he = end;
        p = he;
    }
    if (he == hs || (size_t)(he - hs) >= sizeof u->host || memchr(hs, '@', (size_t)(he - hs))) {
        snprintf(why, whylen, "'%.100s' names no host (or credentials: not supported)", url);
        return -1;
    }
    memcpy(u->host, hs, (size_t)(he - hs));
    if (*p == ':') {
        char *e;
        unsigned long port = strtoul(p + 1, &e, 10);
        if (e == p + 1 || e != end || port == 0 || port > 65535) {
            snprintf(why, whylen, "'%.100s': the port is not a number from 1 to 65535", url);
            return -1;
        }
        u->port = (unsigned)port;
    } else if (p != end) {
        snprintf(why, whylen, "'%.100s' is not a URL", url);
        return -1;
    }
    u->path = *end ? end : "/";
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f) {
            snprintf(why, whylen, "a URL has no spaces or control characters");
            return -1;
        }
    return 0;
}

int upd__webhook_check_url(const char *url, char *why, size_t whylen)
{
    url_parts u;
    if (strlen(url) > 500) {
        snprintf(why, whylen, "the URL is longer than 500 characters");
        return -1;
    }
    return parse_url(url, &u, why, whylen);
}

/* Send all len bytes of buf; 0 ok. */
static int send_all(upd_posix_net *n, const char *buf, size_t len)
{
    while (len > 0) {
        int k = upd_posix_net_send(n, buf, len, TIMEOUT_MS);
        if (k <= 0)
            return -1;
        buf += k;
        len -= (size_t)k;
    }
    return 0;
}

/* One POST; 0 when the answer is 2xx, else -1 with why. */
static int post_once(const char *url, const char *body, char *why, size_t whylen)
{
    url_parts u;
    if (parse_url(url, &u, why, whylen))
        return -1;
    upd_posix_net n;
    upd_posix_net_init(&n);
    int rc = -1;
    size_t blen = strlen(body);
    char head[1024], host[300];
    int v6 = strchr(u.host, ':') != NULL;
    if (u.port == (u.tls ? 443u : 80u))
        snprintf(host, sizeof host, "%s%s%s", v6 ? "[" : "", u.host, v6 ? "]" : "");
    else
        snprintf(host, sizeof host, "%s%s%s:%u", v6 ? "[" : "", u.host, v6 ? "]" : "", u.port);
    int hl = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: updraft\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      u.path, host, blen);
    if (hl <= 0 || (size_t)hl >= sizeof head) {
        snprintf(why, whylen, "the URL is too long");
        goto out;
    }
    if (upd_posix_net_connect(&n, u.host, (uint16_t)u.port, u.tls, TIMEOUT_MS) != 0 ||
        send_all(&n, head, (size_t)hl) != 0 || send_all(&n, body, blen) != 0) {
        snprintf(why, whylen, "%s", n.error[0] ? n.error : "cannot connect or send");
        goto out;
    }
    char resp[256];
    size_t got = 0;
    while (got < sizeof resp - 1 && !memchr(resp, '\n', got)) {
        int k = upd_posix_net_recv(&n, resp + got, sizeof resp - 1 - got, TIMEOUT_MS);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    resp[got] = '\0';
    unsigned status = 0;
    if (sscanf(resp, "HTTP/%*u.%*u %u", &status) != 1) {
        snprintf(why, whylen, "no HTTP answer%s%.250s", n.error[0] ? ": " : "", n.error);
        goto out;
    }
    if (status < 200 || status > 299) {
        char *eol = strpbrk(resp, "\r\n");
        if (eol)
            *eol = '\0';
        snprintf(why, whylen, "answered '%.120s'", resp);
        goto out;
    }
    rc = 0;
out:
    upd_posix_net_free(&n);
    return rc;
}

static void *thread_main(void *arg)
{
    upd_webhooks *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        /* the message due first */
        msg **best = NULL;
        for (msg **m = &w->head; *m; m = &(*m)->next)
            if (!best || (*m)->due_ms < (*best)->due_ms)
                best = m;
        if (w->stop)
            break;
        int64_t now = upd__mono_ms();
        if (!best || (*best)->due_ms > now) {
            struct timespec ts = upd__deadline_ms(best ? (*best)->due_ms - now : 60000);
            pthread_cond_timedwait(&w->cv, &w->mu, &ts);
            continue;
        }
        msg *m = *best;
        *best = m->next; /* out of the queue while it is being sent */
        pthread_mutex_unlock(&w->mu);
        m->attempts++;
        int ok = post_once(m->url, m->body, m->why, sizeof m->why) == 0;
        int last = ok || m->attempts >= UPD_WEBHOOK_ATTEMPTS;
        if (last) {
            if (!ok)
                fprintf(stderr, "updraft: webhook %s: given up after %d attempts: %s\n", m->url,
                        m->attempts, m->why);
            pthread_mutex_lock(&w->mu);
            upd_webhook_done done = w->done; /* NULL once stopping: its owner is going */
            pthread_mutex_unlock(&w->mu);
            if (done)
                done(w->ctx, m->tag, m->url, ok, m->attempts, ok ? "" : m->why);
            free(m->url);
            free(m->body);
            free(m);
        } else {
            int64_t back = (int64_t)1000 << (m->attempts - 1);
            m->due_ms = upd__mono_ms() + (back > BACKOFF_MAX ? BACKOFF_MAX : back);
        }
        pthread_mutex_lock(&w->mu);
        if (!last) {
            m->next = w->head;
            w->head = m;
        }
    }
    int left = 0;
    while (w->head) {
        msg *m = w->head;
        w->head = m->next;
        left++;
        free(m->url);
        free(m->body);
        free(m);
    }
    pthread_mutex_unlock(&w->mu);
    if (left)
        fprintf(stderr, "updraft: %d webhook message%s not delivered (the server stopped)\n", left,
                left == 1 ? "" : "s");
    return NULL;
}

upd_webhooks *upd__webhooks_start(upd_webhook_done done, void *ctx)
{
    upd_webhooks *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->done = done;
    w->ctx = ctx;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, thread_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return NULL;
    }
    return w;
}

void upd__webhook_post(upd_webhooks *w, const char *url, const char *body, int64_t tag)
{
    if (!w)
        return;
    msg *m = calloc(1, sizeof *m);
    if (!m)
        return;
    m->url = strdup(url);
    m->body = strdup(body);
    if (!m->url || !m->body) {
        free(m->url);
        free(m->body);
        free(m);
        return;
    }
    m->tag = tag;
    m->due_ms = upd__mono_ms();
    pthread_mutex_lock(&w->mu);
    msg **t = &w->head;
    while (*t)
        t = &(*t)->next;
    *t = m;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void upd__webhooks_stop(upd_webhooks *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    w->done = NULL;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    /* a POST under way may take its timeouts: the server does not wait that long to stop */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 2;
    if (pthread_timedjoin_np(w->thread, NULL, &ts) != 0) {
        fprintf(stderr, "updraft: a webhook POST was still under way at shutdown: not sent\n");
        pthread_detach(w->thread); /* it ends with the process; w stays for it */
        return;
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
