/* Prometheus metrics (metrics.h): per-thread counter shards, summed at each scrape. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connguard.h"
#include "health.h"
#include "filesend.h"
#include "metrics.h"
#include "updraft/fit.h"

#ifndef UPD_VERSION_STRING
#define UPD_VERSION_STRING "unknown"
#endif

/* Store latency buckets, upper bounds in seconds (and the same in ns below). */
static const char *const BUCKET_LE[] = {"0.0001", "0.00025", "0.0005", "0.001", "0.0025",
                                        "0.005",  "0.01",    "0.025",  "0.05",  "0.1",
                                        "0.25",   "0.5",     "1",      "2.5",   "+Inf"};
static const int64_t BUCKET_NS[] = {100000,    250000,    500000,     1000000,    2500000,
                                    5000000,   10000000,  25000000,   50000000,   100000000,
                                    250000000, 500000000, 1000000000, 2500000000, INT64_MAX};
#define NBUCKETS ((int)(sizeof BUCKET_NS / sizeof BUCKET_NS[0]))
_Static_assert(sizeof BUCKET_LE / sizeof BUCKET_LE[0] == NBUCKETS, "one label per bucket");

static const char *const CHECK_RESULTS[] = {"offered", "declined", "current",
                                            "none",    "version",  "other"};
#define NRESULTS ((int)(sizeof CHECK_RESULTS / sizeof CHECK_RESULTS[0]))
static const char *const REPORT_KINDS[] = {"installed", "failed", "rolled-back"};
static const char *const STORE_OPS[] = {"read", "batch"};

/* One shard's counters: indexes into c[]. */
enum {
    C_CHECK = 0,
    C_DECLINE = C_CHECK + NRESULTS,
    C_OFFER = C_DECLINE + UPD_DECLINE_N, /* plain, gzip */
    C_DL = C_OFFER + 2,                  /* started, completed, aborted */
    C_DL_BYTES = C_DL + 3,
    C_REPORT = C_DL_BYTES + 1, /* installed, failed, rolled-back */
    C_AUTH = C_REPORT + 3,     /* device, admin */
    C_STORE = C_AUTH + 2,      /* per op: NBUCKETS buckets (not cumulative), sum ns */
    C_STORE_STRIDE = NBUCKETS + 1,
    C_N = C_STORE + 2 * C_STORE_STRIDE
};

#define NSHARDS 16
typedef struct shard {
    _Alignas(64) _Atomic uint64_t c[C_N];
} shard;

static shard g_shards[NSHARDS];
static atomic_uint g_next_shard;
static _Thread_local shard *t_shard;

static struct {
    upd_metrics_collector fn;
    void *ctx;
} g_collectors[16];
static atomic_int g_ncollectors;
static int64_t g_start_s;

/* This thread's shard: request threads get one each (round robin; more threads than
 * shards share, which stays correct: the adds are atomic). */
static inline shard *my_shard(void)
{
    if (!t_shard)
        t_shard =
            &g_shards[atomic_fetch_add_explicit(&g_next_shard, 1, memory_order_relaxed) % NSHARDS];
    return t_shard;
}

static inline void add(int i, uint64_t n)
{
    atomic_fetch_add_explicit(&my_shard()->c[i], n, memory_order_relaxed);
}

static uint64_t sum(int i)
{
    uint64_t t = 0;
    for (int k = 0; k < NSHARDS; k++)
        t += atomic_load_explicit(&g_shards[k].c[i], memory_order_relaxed);
    return t;
}

void upd__metrics_check(const char *result, int decline)
{
    int i = NRESULTS - 1;
    for (int k = 0; k < NRESULTS - 1; k++)
        if (!strcmp(result, CHECK_RESULTS[k])) {
            i = k;
            break;
        }
    add(C_CHECK + i, 1);
    if (i == 1)
        add(C_DECLINE + (decline >= 0 && decline < UPD_DECLINE_N ? decline : UPD_DECLINE_OTHER), 1);
}

void upd__metrics_offer(int gzip)
{
    add(C_OFFER + (gzip ? 1 : 0), 1);
}

void upd__metrics_download(int what, uint64_t bytes)
{
    if (what < UPD_DL_STARTED || what > UPD_DL_ABORTED)
        return;
    add(C_DL + what, 1);
    if (bytes)
        add(C_DL_BYTES, bytes);
}

void upd__metrics_report(const char *kind)
{
    if (!kind || strncmp(kind, "report-", 7))
        return;
    for (int k = 0; k < 3; k++)
        if (!strcmp(kind + 7, REPORT_KINDS[k]))
            add(C_REPORT + k, 1);
}

void upd__metrics_auth_failure(int admin)
{
    add(C_AUTH + (admin ? 1 : 0), 1);
}

void upd__metrics_store(int op, int64_t ns)
{
    if (op != UPD_STORE_READ && op != UPD_STORE_BATCH)
        return;
    if (ns < 0)
        ns = 0;
    int b = 0;
    while (b < NBUCKETS - 1 && ns > BUCKET_NS[b])
        b++;
    int base = C_STORE + op * C_STORE_STRIDE;
    add(base + b, 1);
    add(base + NBUCKETS, (uint64_t)ns);
}

void upd__metrics_init(void)
{
    g_start_s = (int64_t)time(NULL);
}

int upd__metrics_register(upd_metrics_collector fn, void *ctx)
{
    int n = atomic_load(&g_ncollectors);
    if (n >= (int)(sizeof g_collectors / sizeof g_collectors[0]))
        return -1;
    g_collectors[n].fn = fn;
    g_collectors[n].ctx = ctx;
    atomic_store(&g_ncollectors, n + 1);
    return 0;
}

/* # HELP and # TYPE of a family. */
static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

const char *upd__decline_class(int d)
{
    switch (d) {
    case UPD_DECLINE_DOWNGRADE:
        return "downgrade";
    case UPD_DECLINE_HELD_BACK:
        return "held-back";
    case UPD_DECLINE_UNREADABLE:
        return "release-unreadable";
    case UPD_DECLINE_OTHER:
        return "other";
    default:
        return upd_fit_code_name((upd_fit_code)(d - UPD_DECLINE_FIT));
    }
}

/* A label value as the format wants it: backslash, quote and newline escaped. */
static void label_value(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f);
        if (*v == '\n') {
            fputs("\\n", f);
            continue;
        }
        fputc(*v, f);
    }
}

char *upd__metrics_render(srv *s, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;

    family(f, "updraft_build_info", "gauge", "The running updraft: its version.");
    fputs("updraft_build_info{version=\"", f);
    label_value(f, UPD_VERSION_STRING);
    fputs("\"} 1\n", f);
    family(f, "updraft_start_time_seconds", "gauge",
           "When the server started, seconds since the epoch.");
    fprintf(f, "updraft_start_time_seconds %lld\n", (long long)g_start_s);

    family(f, "updraft_checks_total", "counter",
           "Device update checks answered, by result (offered: an image follows; declined: "
           "the device's release does not fit it or is held back; current: up to date; none: "
           "no release for it; version: a version query answered).");
    for (int k = 0; k < NRESULTS; k++)
        fprintf(f, "updraft_checks_total{result=\"%s\"} %llu\n", CHECK_RESULTS[k],
                (unsigned long long)sum(C_CHECK + k));

    family(f, "updraft_declines_total", "counter",
           "Checks declined, by reason class (the fit rule that failed, downgrade, "
           "held-back after failures, release-unreadable).");
    for (int d = 1; d < UPD_DECLINE_N; d++) {
        if (d > UPD_FIT_INFLATE_OVERRUN && d < UPD_DECLINE_DOWNGRADE)
            continue;
        fprintf(f, "updraft_declines_total{reason=\"%s\"} %llu\n", upd__decline_class(d),
                (unsigned long long)sum(C_DECLINE + d));
    }

    family(f, "updraft_offers_total", "counter",
           "Images offered to devices at a check, by form (plain file or its gzip copy).");
    fprintf(f, "updraft_offers_total{form=\"plain\"} %llu\n", (unsigned long long)sum(C_OFFER));
    fprintf(f, "updraft_offers_total{form=\"gzip\"} %llu\n", (unsigned long long)sum(C_OFFER + 1));

    static const char *const dl[] = {"started", "completed", "aborted"};
    family(f, "updraft_downloads_total", "counter",
           "Image downloads (whole images and ranges), by how they went.");
    for (int k = 0; k < 3; k++)
        fprintf(f, "updraft_downloads_total{state=\"%s\"} %llu\n", dl[k],
                (unsigned long long)sum(C_DL + k));
    family(f, "updraft_download_bytes_total", "counter",
           "Image bytes sent to devices (completed downloads, and what aborted ones are "
           "known to have delivered).");
    fprintf(f, "updraft_download_bytes_total %llu\n", (unsigned long long)sum(C_DL_BYTES));
    family(f, "updraft_downloads_waiting", "gauge",
           "Downloads whose device has not yet taken the rest of the image, waiting for its "
           "socket on the download senders (plain HTTP; docs/architecture.md).");
    fprintf(f, "updraft_downloads_waiting %u\n", upd_filesend_in_flight(s->filesend));

    family(f, "updraft_reports_total", "counter",
           "Outcome reports received from devices (x-updraft-report), by outcome.");
    for (int k = 0; k < 3; k++)
        fprintf(f, "updraft_reports_total{outcome=\"%s\"} %llu\n", REPORT_KINDS[k],
                (unsigned long long)sum(C_REPORT + k));

    family(f, "updraft_auth_failures_total", "counter",
           "Requests refused for missing or wrong credentials, by who (device: HTTP Basic "
           "of --device-auth; admin: the API token).");
    fprintf(f, "updraft_auth_failures_total{who=\"device\"} %llu\n",
            (unsigned long long)sum(C_AUTH));
    fprintf(f, "updraft_auth_failures_total{who=\"admin\"} %llu\n",
            (unsigned long long)sum(C_AUTH + 1));

    /* the failed-authentication limit's own plain counters (authlimit.h) */
    family(f, "updraft_auth_throttled_total", "counter",
           "Requests answered 429 (Retry-After) without looking at their credentials, because "
           "their address failed to authenticate too often (docs/security.md), by who.");
    fprintf(f, "updraft_auth_throttled_total{who=\"device\"} %llu\n",
            (unsigned long long)upd_authlimit_refused(s->device_limit));
    fprintf(f, "updraft_auth_throttled_total{who=\"admin\"} %llu\n",
            (unsigned long long)upd_authlimit_refused(s->admin_limit));

    family(f, "updraft_connections_refused_total", "counter",
           "Connections refused because their address already held --max-per-address open "
           "connections (docs/security.md).");
    fprintf(f, "updraft_connections_refused_total %llu\n",
            (unsigned long long)upd_connguard_refused(s->guard));
    family(f, "updraft_connections_cut_total", "counter",
           "Connections cut because their request head was not complete within "
           "--head-timeout (docs/security.md).");
    fprintf(f, "updraft_connections_cut_total %llu\n",
            (unsigned long long)upd_connguard_cut(s->guard));

    family(f, "updraft_dropped_records_total", "counter",
           "Device records dropped because the writer's queue was full or the store failed (a full "
           "disk; the registry "
           "missed them; the devices were answered).");
    fprintf(f, "updraft_dropped_records_total %llu\n",
            (unsigned long long)(s->writer ? upd_writer_dropped(s->writer) : 0));

    upd_writer_queue_stats q;
    memset(&q, 0, sizeof q);
    if (s->writer)
        upd_writer_queue(s->writer, &q);
    family(f, "updraft_queued_records", "gauge",
           "Device records waiting to be written (held ones included): the writer is behind by "
           "this many.");
    fprintf(f, "updraft_queued_records %zu\n", q.records);
    family(f, "updraft_queued_record_bytes", "gauge", "The memory those records take, packed.");
    fprintf(f, "updraft_queued_record_bytes %zu\n", q.bytes);
    family(
        f, "updraft_record_queue_max_records", "gauge",
        "The queue's bound in records (--record-queue); its bound in bytes is 1 KiB per record.");
    fprintf(f, "updraft_record_queue_max_records %zu\n", q.max_records);
    family(f, "updraft_record_queue_waits_total", "counter",
           "Device records that found the queue full while the database was reachable and waited "
           "for room (their devices' answers waited with them; dropped after 2 s).");
    fprintf(f, "updraft_record_queue_waits_total %llu\n", (unsigned long long)q.waits);
    family(f, "updraft_record_queue_wait_seconds_total", "counter",
           "The time those records waited, in all.");
    fprintf(f, "updraft_record_queue_wait_seconds_total %.6f\n", q.wait_seconds);

    family(f, "updraft_store_seconds", "histogram",
           "Database latency: check-path reads that missed the cache (op=read), batches of "
           "device records written in one transaction (op=batch).");
    for (int op = 0; op < 2; op++) {
        int base = C_STORE + op * C_STORE_STRIDE;
        uint64_t cum = 0;
        for (int b = 0; b < NBUCKETS; b++) {
            cum += sum(base + b);
            fprintf(f, "updraft_store_seconds_bucket{op=\"%s\",le=\"%s\"} %llu\n", STORE_OPS[op],
                    BUCKET_LE[b], (unsigned long long)cum);
        }
        uint64_t ns = sum(base + NBUCKETS);
        fprintf(f, "updraft_store_seconds_sum{op=\"%s\"} %llu.%09llu\n", STORE_OPS[op],
                (unsigned long long)(ns / 1000000000u), (unsigned long long)(ns % 1000000000u));
        /* the buckets' total: _count equals the +Inf bucket in every scrape */
        fprintf(f, "updraft_store_seconds_count{op=\"%s\"} %llu\n", STORE_OPS[op],
                (unsigned long long)cum);
    }

    unsigned open = 0;
    for (unsigned i = 0; i < s->nmhd; i++) {
        const union MHD_DaemonInfo *di =
            MHD_get_daemon_info(s->mhd[i], MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (di)
            open += di->num_connections;
    }
    family(f, "updraft_open_connections", "gauge",
           "Connections open on the device and API port (all request threads).");
    fprintf(f, "updraft_open_connections %u\n", open);

    int nc = atomic_load(&g_ncollectors);
    for (int k = 0; k < nc; k++)
        g_collectors[k].fn(f, g_collectors[k].ctx);

    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

enum MHD_Result upd__metrics_reply(req *r, struct MHD_Connection *c)
{
    r->started = 1;
    size_t len;
    char *text = upd__metrics_render(r->s, &len);
    if (!text)
        return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    return upd__queue(r, c, MHD_HTTP_OK, resp);
}

/* ---- --metrics-listen ------------------------------------------------------------------ */

static struct MHD_Daemon *g_listener;

/* The metrics address answers on the request's first call: nothing it serves takes a
 * body. */
static enum MHD_Result listener_handler(void *cls, struct MHD_Connection *c, const char *url,
                                        const char *method, const char *version,
                                        const char *upload_data, size_t *upload_data_size,
                                        void **con_cls)
{
    (void)version;
    (void)upload_data;
    if (*con_cls) { /* answered already: drop the rest of a body */
        *upload_data_size = 0;
        return MHD_YES;
    }
    static int answered;
    *con_cls = &answered;
    req r;
    memset(&r, 0, sizeof r);
    r.s = cls;
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, "Allow", "GET, HEAD");
        return upd__queue(&r, c, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
    }
    if (!strcmp(url, "/metrics"))
        return upd__metrics_reply(&r, c);
    if (!strcmp(url, "/healthz") || !strcmp(url, "/readyz"))
        return upd__health_route(&r, c, url);
    return upd__reply_text(&r, c, MHD_HTTP_NOT_FOUND,
                           "updraft: this is the metrics address (--metrics-listen): /metrics, "
                           "/healthz and /readyz");
}

/* Parse addr into ss; -1 with the reason in err when it is not usable. */
static int metrics_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sslen, char *err,
                        size_t errlen)
{
    if (upd__parse_listen(addr, ss, sslen) != 0) {
        snprintf(err, errlen,
                 "--metrics-listen '%s' is not HOST:PORT (e.g. 127.0.0.1:9100, [::1]:9100)", addr);
        return -1;
    }
    if (upd__port_in_use(ss, *sslen)) {
        snprintf(err, errlen,
                 "cannot listen on %s (--metrics-listen): the port is in use: choose another",
                 addr);
        return -1;
    }
    return 0;
}

int upd__metrics_addr_ok(const char *addr, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    return metrics_addr(addr, &ss, &sslen, err, errlen);
}

int upd__metrics_listen(srv *s, const char *addr, char *url, size_t urlcap, char *err,
                        size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (metrics_addr(addr, &ss, &sslen, err, errlen) != 0)
        return -1;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    g_listener = MHD_start_daemon(flags, 0, NULL, NULL, listener_handler, s, MHD_OPTION_SOCK_ADDR,
                                  (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 64u,
                                  MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!g_listener) {
        snprintf(err, errlen,
                 "cannot listen on %s (--metrics-listen): the port is in use, or the address is "
                 "not on this machine",
                 addr);
        return -1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(g_listener, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = di ? di->port : 0;
    char host[INET6_ADDRSTRLEN] = "";
    int v6 = ss.ss_family == AF_INET6;
    if (v6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)&ss)->sin6_addr, host, sizeof host);
    else
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)&ss)->sin_addr, host, sizeof host);
    snprintf(url, urlcap, "http://%s%s%s:%u/metrics", v6 ? "[" : "", host, v6 ? "]" : "", port);
    return 0;
}

void upd__metrics_listen_stop(void)
{
    if (g_listener)
        MHD_stop_daemon(g_listener);
    g_listener = NULL;
}
