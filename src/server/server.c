/* `updraft serve`: setup (data directory, admin token, store, writer thread), the
 * libmicrohttpd daemons (one per thread, epoll, SO_REUSEPORT, explicit limits), request
 * dispatch and the completion callback that turns finished downloads into device events. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fleet.h"
#include "fsutil.h"
#include "connguard.h"
#include "datalock.h"
#include "filesend.h"
#include "finisher.h"
#include "delivery.h"
#include "devmem.h"
#include "health.h"
#include "outage.h"
#include "rollout.h"
#include "imageid.h"
#include "log.h"
#include "metrics.h"
#include "reload.h"
#include "sdnotify.h"
#include "sigrule.h"
#include "srv.h"

/* TCP_DEFER_ACCEPT on the listening sockets: seconds a connection may stay silent
 * before it is handed to the server anyway. */
#define UPD_DEFER_ACCEPT_S 5

/* ---- setup helpers ---------------------------------------------------------------------- */

/* The admin token: UPDRAFT_ADMIN_TOKEN, else <data>/admin-token, else a new random one
 * written there with mode 0600. */
static int setup_token(srv *s)
{
    const char *env = getenv("UPDRAFT_ADMIN_TOKEN");
    if (env && *env) {
        if (strlen(env) >= sizeof s->token || strlen(env) < 8) {
            fprintf(stderr, "updraft: UPDRAFT_ADMIN_TOKEN must be 8 to %zu characters long\n",
                    sizeof s->token - 1);
            return -1;
        }
        upd__copy(s->token, sizeof s->token, env);
        printf("admin token: from UPDRAFT_ADMIN_TOKEN\n");
        return 0;
    }
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/admin-token", s->data_dir);
    char *text = NULL;
    if (upd_read_file(path, &text, NULL) == 0) {
        text[strcspn(text, "\r\n")] = '\0';
        if (strlen(text) >= 8 && strlen(text) < sizeof s->token) {
            upd__copy(s->token, sizeof s->token, text);
            free(text);
            printf("admin token: in %s\n", path);
            return 0;
        }
        free(text);
        fprintf(stderr,
                "updraft: %s does not hold a usable token (8 to %zu characters): delete it to "
                "generate a new one, or set UPDRAFT_ADMIN_TOKEN\n",
                path, sizeof s->token - 1);
        return -1;
    }
    if (errno != ENOENT) {
        fprintf(stderr, "updraft: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    unsigned char rnd[24];
    if (gnutls_rnd(GNUTLS_RND_KEY, rnd, sizeof rnd) != 0) {
        fprintf(stderr, "updraft: no random numbers for the admin token (GnuTLS)\n");
        return -1;
    }
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(s->token + 2 * i, 3, "%02x", rnd[i]);
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s/admin-token.tmp", s->data_dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0 || write(fd, s->token, strlen(s->token)) < 0 ||
        write(fd, "\n", 1) != 1 || fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "updraft: cannot write the admin token to %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    printf("admin token: %s\n  (generated now, stored in %s, mode 0600; the admin commands on "
           "this machine read it there, elsewhere run 'updraft login URL' once)\n",
           s->token, path);
    return 0;
}

/* 1 if something listens on the address (a bind without SO_REUSEPORT fails with
 * EADDRINUSE), else 0; port 0 (any free port) is never in use. */
int upd__port_in_use(const struct sockaddr_storage *ss, socklen_t len)
{
    uint16_t port = ss->ss_family == AF_INET6
                        ? ((const struct sockaddr_in6 *)(const void *)ss)->sin6_port
                        : ((const struct sockaddr_in *)(const void *)ss)->sin_port;
    if (port == 0)
        return 0;
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, used = 0;
    if (fd < 0)
        return 0; /* let libmicrohttpd report what is wrong */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* TIME_WAIT is no user */
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one); /* as libmicrohttpd */
    if (bind(fd, (const struct sockaddr *)ss, len) != 0 && errno == EADDRINUSE)
        used = 1;
    close(fd);
    return used;
}

/* Parse HOST:PORT / [V6]:PORT / :PORT / PORT into a socket address. */
int upd__parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256] = "0.0.0.0";
    const char *port;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof host)
            return -1;
        memcpy(host, spec + 1, (size_t)(close - spec - 1));
        host[close - spec - 1] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        if (colon) {
            if ((size_t)(colon - spec) >= sizeof host)
                return -1;
            if (colon != spec) {
                memcpy(host, spec, (size_t)(colon - spec));
                host[colon - spec] = '\0';
            }
            port = colon + 1;
        } else {
            port = spec;
        }
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 0 || p > 65535)
        return -1;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* ---- request handling --------------------------------------------------------------------- */

/* /metrics on the main address: with the admin token, unless --metrics-listen moved it. */
static enum MHD_Result metrics_route(req *r, struct MHD_Connection *c, const char *method)
{
    r->started = 1;
    if (r->s->cfg.metrics_listen) {
        char msg[400];
        snprintf(msg, sizeof msg,
                 "updraft: /metrics is served on the metrics address (--metrics-listen %.200s)",
                 r->s->cfg.metrics_listen);
        return upd__reply_text(r, c, MHD_HTTP_NOT_FOUND, msg);
    }
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return upd__reply_text(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "updraft: /metrics takes GET");
    if (!upd__api_token_ok(r->s, c)) {
        upd__metrics_auth_failure(1);
        return upd__reply_text(r, c, MHD_HTTP_UNAUTHORIZED,
                               "updraft: /metrics needs the admin token (Authorization: Bearer "
                               "<token>), or run the server with --metrics-listen ADDR to serve "
                               "it without one on a separate address");
    }
    return upd__metrics_reply(r, c);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    srv *s = cls;
    (void)version;
    req *r = *con_cls;
    if (r && r->fs_end) /* resumed after filesend.h sent the answer: close */
        return upd__close_quietly();
    if (!r || !r->s) { /* the first call (the URI log callback may have made r: reqlimit.c) */
        if (!r) {
            r = calloc(1, sizeof *r);
            if (!r)
                return MHD_NO;
            *con_cls = r;
        }
        r->s = s;
        upd_connguard_head_done(c);
        if (s->cfg.tls_cert && upd__tls_fit_records(c) < 0)
            return MHD_NO; /* cannot send records the device can take */
        if (r->query_fields)
            return upd__reply_query_too_long(c, url, r->query_fields);
        upd_head_size hs;
        if (upd__head_check(c, method, url, &hs))
            return upd__reply_head_too_big(c, url, &hs);
    }
    if (!strncmp(url, "/api/v1", 7) && (url[7] == '\0' || url[7] == '/'))
        return upd__api_route(r, c, url, method, upload_data, upload_data_size);
    /* device endpoints and the rest carry no body: answer on the first call */
    if (r->responded) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!strcmp(url, "/healthz") || !strcmp(url, "/readyz"))
        return upd__health_route(r, c, url);
    if (!strcmp(url, "/metrics"))
        return metrics_route(r, c, method);
    if (!strcmp(url, "/")) /* the dashboard (webui.c); its files under /ui/: device.c */
        return upd__webui_route(r, c, url, method);
    return upd__device_route(r, c, url, method);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    upd_connguard_request_done(c);
    req *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    if (r->fs_end) /* sent by filesend.h: how it ended, in libmicrohttpd's terms */
        toe = r->fs_end == UPD_FILESEND_SENT + 1       ? MHD_REQUEST_TERMINATED_COMPLETED_OK
              : r->fs_end == UPD_FILESEND_TIMEOUT + 1  ? MHD_REQUEST_TERMINATED_TIMEOUT_REACHED
              : r->fs_end == UPD_FILESEND_SHUTDOWN + 1 ? MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN
                                                       : MHD_REQUEST_TERMINATED_WITH_ERROR;
    if (r->dl) {
        upd_record rec;
        memset(&rec, 0, sizeof rec);
        rec.type = UPD_REC_DOWNLOAD;
        rec.at_ms = upd__now_ms();
        upd__copy(rec.mac, sizeof rec.mac, r->mac);
        rec.release_id = r->release_id;
        if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
            if (r->dl_to_end) {
                snprintf(rec.event, sizeof rec.event, "download-completed");
                rec.bytes = (int64_t)r->dl_len;
                snprintf(rec.detail, sizeof rec.detail, "release %lld: %llu bytes sent%s",
                         (long long)r->release_id, (unsigned long long)r->dl_len,
                         r->dl_gzip ? " (its gzip copy)" : "");
                upd_writer_push(r->s->writer, &rec);
                upd__metrics_download(UPD_DL_COMPLETED, r->dl_len);
            }
        } else {
            int ok = 0;
            uint64_t acked = upd__tcp_acked(c, &ok);
            int64_t bytes = -1;
            if (ok && r->acked_ok && acked >= r->acked0) {
                uint64_t d = acked - r->acked0;
                /* minus the response header (ours: its length; libmicrohttpd's: about 300
                 * bytes); never more than the body */
                uint64_t h = r->fs_head ? r->fs_head : 300;
                d = d > h ? d - h : 0;
                bytes = (int64_t)(d > r->dl_len ? r->dl_len : d);
            }
            snprintf(rec.event, sizeof rec.event, "download-aborted");
            rec.bytes = bytes;
            snprintf(rec.detail, sizeof rec.detail,
                     "release %lld: the connection ended after %s%lld of %llu bytes%s (%s)",
                     (long long)r->release_id, bytes < 0 ? "an unknown number " : "about ",
                     (long long)(bytes < 0 ? 0 : bytes), (unsigned long long)r->dl_len,
                     r->dl_gzip ? " of its gzip copy" : "",
                     toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timed out"
                     : toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN
                         ? "server shutting down"
                         : "closed by the device or the network");
            upd_writer_push(r->s->writer, &rec);
            upd__metrics_download(UPD_DL_ABORTED, bytes < 0 ? 0 : (uint64_t)bytes);
        }
    }
    upd__upload_free(r->up);
    if (r->deferred)
        MHD_destroy_response(r->deferred);
    free(r->body);
    free(r);
}

/* Set by upd__close_quietly for the log line libmicrohttpd writes right after, on the same
 * thread, when the handler returns MHD_NO. */
static _Thread_local int closing_quietly;

enum MHD_Result upd__close_quietly(void)
{
    closing_quietly = 1;
    return MHD_NO;
}

/* libmicrohttpd's messages (one for each refused or aborted connection, among others),
 * each kind at most once per UPD_LOG_INTERVAL_MS (lograte.c). */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    srv *s = cls;
    unsigned long dropped;
    /* the kind: the format, or its first argument when the format is only "%s" */
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n'))
        buf[--n] = '\0';
    if (closing_quietly) { /* the handler's MHD_NO after filesend.h: no error */
        closing_quietly = 0;
        if (strstr(buf, "pplication reported internal error"))
            return;
    }
    const void *kind = fmt;
    if (!strcmp(fmt, "%s\n") || !strcmp(fmt, "%s")) {
        /* the text is the kind: hash its first 48 bytes into a stable key */
        uintptr_t h = 5381;
        for (size_t i = 0; i < n && i < 48; i++)
            h = h * 33 + (unsigned char)buf[i];
        kind = (const void *)(h | 1);
    }
    if (!upd__lograte_allow(&s->http_log, kind, upd__mono_ms(), &dropped))
        return;
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            *p = ' ';
    upd__log_limited(UPD_LOG_WARN, "http", dropped, buf);
}

/* Until SIGTERM or SIGINT (returned): SIGHUP reloads (reload.h); under a systemd
 * watchdog, the watchdog is fed every half interval while the server is ready (the
 * database answers, the blob store reads: health.h), so a server that hangs or loses its
 * database is restarted. ready: the READY=1 state sent again after a reload. */
static int wait_signals(srv *s, const sigset_t *sigs, const char *ready)
{
    uint64_t wd = upd__sd_watchdog_usec();
    int was_ready = 1;
    for (;;) {
        int sig;
        if (wd) {
            struct timespec ts = {(time_t)(wd / 2 / 1000000), (long)(wd / 2 % 1000000) * 1000};
            sig = sigtimedwait(sigs, NULL, &ts);
            if (sig < 0) {
                char why[1024];
                int ok = upd__health_ready(s, why, sizeof why);
                if (ok)
                    upd__sd_notify("WATCHDOG=1");
                if (ok != was_ready) /* say it once, when it changes */
                    upd__log(ok ? UPD_LOG_INFO : UPD_LOG_ERROR, ok ? "ready" : "not-ready", "%s",
                             ok ? "ready again: the watchdog is fed" : why);
                was_ready = ok;
                continue;
            }
        } else if (sigwait(sigs, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            return sig;
        upd__sd_notify("RELOADING=1");
        upd__reload(s);
        upd__sd_notify(ready);
    }
}

/* ---- main ------------------------------------------------------------------------------------ */

int upd_server_main(const upd_server_config *cfg)
{
    srv *s = calloc(1, sizeof *s);
    if (!s)
        return 1;
    int status = 1, lockfd = -1;
    int tls = 0;
    s->cfg = *cfg;
    const char *data = cfg->data_dir ? cfg->data_dir : "./updraft-data";
    const char *listen = cfg->listen ? cfg->listen : "0.0.0.0:8080";
    s->max_upload = cfg->max_upload ? cfg->max_upload : 64ull << 20;
    pthread_mutex_init(&s->cache_mu, NULL);
    pthread_mutex_init(&s->resp_mu, NULL);
    upd__lograte_init(&s->http_log, UPD_LOG_INTERVAL_MS);
    upd__upspace_init(s);
    upd__log_configure(cfg->log_format, cfg->log_level); /* checked by the CLI */
    unsigned threads = cfg->threads;
    if (!threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n < 2 ? 2 : n > 64 ? 64 : (unsigned)n;
    }

    /* The address first: a server that cannot listen must not touch the data dir. */
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (upd__parse_listen(listen, &ss, &sslen) != 0) {
        fprintf(stderr,
                "updraft: --listen '%s' is not HOST:PORT (e.g. 0.0.0.0:8080, [::]:8080, :8080)\n",
                listen);
        goto out;
    }
    /* SO_REUSEPORT would also let a second updraft (same user, same port) start quietly
     * and take half of the connections, with its own data directory. A plain bind first
     * fails on any port that has a listener, ours included. */
    if (upd__port_in_use(&ss, sslen)) {
        fprintf(stderr,
                "updraft: cannot listen on %s: the port is in use (another updraft serve or "
                "another program listens there: stop it, or choose another --listen)\n",
                listen);
        goto out;
    }
    char merr[512];
    if (cfg->metrics_listen && upd__metrics_addr_ok(cfg->metrics_listen, merr, sizeof merr)) {
        fprintf(stderr, "updraft: %s\n", merr);
        goto out;
    }

    upd__copy(s->data_dir, sizeof s->data_dir, data);
    snprintf(s->tmp_dir, sizeof s->tmp_dir, "%s/tmp", data);
    snprintf(s->blob_dir, sizeof s->blob_dir, "%s/blobs/sha256", data);
    if (upd_mkdir_p(s->data_dir, 0700) != 0) {
        fprintf(stderr,
                "updraft: cannot create the data directory %s: %s: pick another with --data "
                "DIR\n",
                data, strerror(errno));
        goto out;
    }
    /* One server per data directory (datalock.h), before anything in it is touched: two
     * servers on one directory would each delete the other's unfinished uploads and
     * keep their own caches of rows the other one changes. */
    char lerr[4400];
    int holder;
    lockfd = upd_datalock_take(s->data_dir, "updraft serve", &holder, lerr, sizeof lerr);
    if (lockfd < 0) {
        fprintf(stderr, "updraft serve: %s\n", lerr);
        goto out;
    }
    if (upd_mkdir_p(s->tmp_dir, 0700) != 0 || upd_mkdir_p(s->blob_dir, 0750) != 0) {
        fprintf(stderr,
                "updraft: cannot create the data directory %s: %s: pick another with --data "
                "DIR\n",
                data, strerror(errno));
        goto out;
    }
    if ((cfg->tls_cert != NULL) != (cfg->tls_key != NULL)) {
        fprintf(stderr, "updraft: --tls-cert and --tls-key go together: give both PEM files\n");
        goto out;
    }
    if (cfg->tls_cert) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            fprintf(stderr, "updraft: this libmicrohttpd was built without TLS: run behind a "
                            "TLS proxy instead (docs/operations.md)\n");
            goto out;
        }
        /* every handshake asks reload.c for the pair in force: SIGHUP replaces it */
        char terr[600];
        if (upd__tls_load(cfg->tls_cert, cfg->tls_key, terr, sizeof terr) != 0) {
            fprintf(stderr, "updraft: %s\n", terr);
            goto out;
        }
        tls = 1;
    }
    char aerr[600];
    if (upd__devauth_load(s, aerr, sizeof aerr) != 0) {
        fprintf(stderr, "updraft: %s\n", aerr);
        goto out;
    }
    if (setup_token(s) != 0 || upd__sign_setup(s) != 0)
        goto out;

    char db[PATH_MAX + 16], err[1600];
    snprintf(db, sizeof db, "%s/updraft.db", data);
    upd_store *inner = cfg->db ? upd_store_pg_open(cfg->db, (int)threads + 3, err, sizeof err)
                               : upd_store_sqlite_open(db, (int)threads + 3, err, sizeof err);
    if (!inner && !cfg->db && upd__upspace_give_up_reserve(s)) /* a full disk (upspace.c) */
        inner = upd_store_sqlite_open(db, (int)threads + 3, err, sizeof err);
    if (!inner) {
        if (!cfg->db)
            upd__upspace_explain(s, err, sizeof err);
        fprintf(stderr, "updraft: %s\n", err);
        goto out;
    }
    s->store = upd_store_cached(inner);
    if (!s->store) {
        inner->ops->close(inner);
        fprintf(stderr, "updraft: out of memory\n");
        goto out;
    }
    if (cfg->device_memory >= 0 &&
        upd_store_cached_devmem(s->store, cfg->device_memory ? (size_t)cfg->device_memory
                                                             : UPD_DEVMEM_DEFAULT) != 0) {
        fprintf(stderr, "updraft: out of memory\n");
        goto out;
    }
    upd__metrics_init();
    upd__devmem_metrics_init(s->store);
    s->authz = upd__authz_new();
    s->admin_limit = upd_authlimit_new("admin API");
    s->device_limit = upd_authlimit_new("device");
    if (!s->authz || !s->admin_limit || !s->device_limit) {
        fprintf(stderr, "updraft: out of memory\n");
        goto out;
    }
    upd__blob_gc(s);
    upd__upspace_startup_check(s);
    upd__upspace_keep_reserve(s);
    upd__blob_sync(s);
    upd__imageid_refresh(s);
    upd__delivery_refresh(s);
    s->outcome.nbackoff = cfg->nbackoff < UPD_BACKOFF_MAX ? cfg->nbackoff : UPD_BACKOFF_MAX;
    for (int i = 0; i < s->outcome.nbackoff; i++)
        s->outcome.backoff_ms[i] = cfg->backoff_ms[i];
    upd__outcome_rules(&s->outcome, &s->rules);
    /* Signals: blocked in every thread (so before the first one starts: a SIGTERM the
     * kernel hands to a thread that does not block it ends the process at once, with
     * the writer's queue unwritten); the main thread waits for them below. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    s->rollouts = upd__rollouts_start(s, err, sizeof err);
    if (!s->rollouts) {
        fprintf(stderr, "updraft: %s\n", err);
        goto out;
    }
    upd_rules outcome = s->rules;
    upd__rollout_rules(s->rollouts, &outcome, &s->rules);
    s->writer = upd_writer_start(s->store, cfg->record_queue, cfg->keep_events_ms, &s->rules);
    if (!s->writer) {
        fprintf(stderr, "updraft: cannot start the writer thread\n");
        goto out;
    }
    s->fleet = upd__fleet_start(s, cfg->adoption_ms);
    if (!s->fleet) {
        fprintf(stderr, "updraft: cannot start the fleet thread (overview, adoption)\n");
        goto out;
    }
    upd__outage_init(s);

    /* More descriptors: every connection and every download holds one or two. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    /* suspend/resume: uploads are finished on the finisher's threads (upload.c) */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_TURBO |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (tls)
        flags |= MHD_USE_TLS;
    unsigned limit = cfg->connection_limit ? cfg->connection_limit : 16384;
    unsigned timeout = cfg->timeout_s ? cfg->timeout_s : 90;
    s->guard = upd_connguard_new(cfg->per_address ? cfg->per_address : UPD_CONNGUARD_PER_ADDRESS,
                                 cfg->head_timeout_s ? cfg->head_timeout_s : UPD_CONNGUARD_HEAD_S,
                                 timeout);
    s->finisher = upd_finisher_start(2);
    /* plain HTTP: file bodies sent by our own threads, one per request thread (filesend.h;
     * the request threads are capped below) */
    if (!tls)
        s->filesend =
            upd_filesend_new(threads < UPD_MAX_DAEMONS ? threads : UPD_MAX_DAEMONS, timeout);
    if (!s->guard || !s->finisher || (!tls && !s->filesend)) {
        fprintf(stderr, "updraft: out of memory\n");
        goto out;
    }
    struct MHD_OptionItem tls_opts[] = {
        {tls ? MHD_OPTION_HTTPS_CERT_CALLBACK : MHD_OPTION_END, 0, upd__tls_cert_callback()},
        {MHD_OPTION_END, 0, NULL},
    };
    /* One daemon per thread rather than one daemon with a thread pool: the pool's
     * threads all wait on one listening socket, so every new connection woke each of
     * them (and all but one found nothing to accept). Separate sockets bound to the
     * same port with SO_REUSEPORT (MHD_OPTION_LISTENING_ADDRESS_REUSE) let the kernel
     * give each connection to one thread. The connection limit is shared out. */
    if (threads > UPD_MAX_DAEMONS)
        threads = UPD_MAX_DAEMONS;
    unsigned per_limit = (limit + threads - 1) / threads;
    unsigned port = 0;
    for (unsigned i = 0; i < threads; i++) {
        struct MHD_Daemon *d = MHD_start_daemon(
            flags, 0, upd_connguard_accept, s->guard, handler, s, MHD_OPTION_EXTERNAL_LOGGER,
            mhd_log, s, MHD_OPTION_NOTIFY_CONNECTION, upd_connguard_notify, s->guard,
            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, per_limit,
            MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
            (size_t)UPD_CONN_MEMORY, MHD_OPTION_CONNECTION_MEMORY_INCREMENT, (size_t)1024,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT, 0u, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
            MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_URI_LOG_CALLBACK, upd__uri_seen,
            NULL, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
        if (!d) {
            fprintf(stderr,
                    "updraft: cannot listen on %s: the port is in use, or the address is not "
                    "on this machine (or, with --tls-*, the certificate or key is not valid "
                    "PEM)\n",
                    listen);
            goto out;
        }
        s->mhd[s->nmhd++] = d;
        /* Wake for a connection only once its request has arrived (devices send it
         * right after connecting): no read that finds nothing and no epoll
         * registration for a connection that is answered at once. */
        const union MHD_DaemonInfo *li = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
        int defer_s = UPD_DEFER_ACCEPT_S;
        if (li)
            setsockopt(li->listen_fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_s, sizeof defer_s);
        if (i == 0) {
            /* the others bind the port this one got (it may have asked for port 0) */
            const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
            port = di ? di->port : 0;
            if (ss.ss_family == AF_INET6)
                ((struct sockaddr_in6 *)(void *)&ss)->sin6_port = htons((uint16_t)port);
            else
                ((struct sockaddr_in *)(void *)&ss)->sin_port = htons((uint16_t)port);
        }
    }
    char murl[300];
    if (cfg->metrics_listen &&
        upd__metrics_listen(s, cfg->metrics_listen, murl, sizeof murl, err, sizeof err) != 0) {
        fprintf(stderr, "updraft: %s\n", err);
        goto out;
    }
    char host[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)&ss)->sin6_addr, host, sizeof host);
    else
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)&ss)->sin_addr, host, sizeof host);
    printf("data: %s\n", s->data_dir);
    printf("listening on %s://%s%s%s:%u\n", tls ? "https" : "http",
           ss.ss_family == AF_INET6 ? "[" : "", host, ss.ss_family == AF_INET6 ? "]" : "", port);
    if (cfg->metrics_listen)
        printf("metrics on %s\n", murl);
    fflush(stdout);

    char state[700];
    snprintf(state, sizeof state, "READY=1\nSTATUS=listening on %s://%s%s%s:%u",
             tls ? "https" : "http", ss.ss_family == AF_INET6 ? "[" : "", host,
             ss.ss_family == AF_INET6 ? "]" : "", port);
    upd__sd_notify(state);
    upd__log(UPD_LOG_INFO, "server-started",
             "updraft %s listening on %s://%s%s%s:%u, data %s%s%s, %u threads", UPD_VERSION_STRING,
             tls ? "https" : "http", ss.ss_family == AF_INET6 ? "[" : "", host,
             ss.ss_family == AF_INET6 ? "]" : "", port, s->data_dir,
             cfg->metrics_listen ? ", metrics on " : "", cfg->metrics_listen ? murl : "", threads);
    int sig = wait_signals(s, &sigs, state);
    upd__sd_notify("STOPPING=1");
    printf("shutting down (%s)\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    upd__log(UPD_LOG_INFO, "server-stopping",
             "%s: ending open requests, writing queued device "
             "records",
             sig == SIGTERM ? "SIGTERM" : "SIGINT");
    fflush(stdout);
    status = 0;
out:
    upd__metrics_listen_stop();
    /* the uploads being finished resume their connections: before the daemons stop */
    upd_finisher_stop(s->finisher);
    /* likewise the downloads waiting for their sockets (recorded as aborted by the stop) */
    upd_filesend_stop(s->filesend);
    for (unsigned i = 0; i < s->nmhd; i++)
        MHD_stop_daemon(s->mhd[i]);
    upd_finisher_free(s->finisher);
    upd_filesend_free(s->filesend);
    upd_connguard_free(s->guard); /* after the daemons: their connections are closed */
    upd__resp_cache_free(s);
    upd__fleet_stop(s->fleet);
    upd_writer_stop(s->writer);
    upd__rollouts_stop(s->rollouts);
    upd__authz_free(s); /* writes the tokens' last uses: before the store closes */
    upd_authlimit_free(s->admin_limit);
    upd_authlimit_free(s->device_limit);
    if (s->store)
        s->store->ops->close(s->store);
    upd__sign_free(s);
    upd__reload_free(s);
    free(s->cache);
    pthread_mutex_destroy(&s->cache_mu);
    pthread_mutex_destroy(&s->resp_mu);
    upd__lograte_free(&s->http_log);
    upd__upspace_free(s);
    upd__log_flush();
    memset(s->token, 0, sizeof s->token);
    free(s);
    upd_datalock_release(lockfd); /* last: the store is closed */
    return status;
}
