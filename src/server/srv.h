/* Internals shared by the server's modules: the server state, the per-request state,
 * and the small HTTP helpers (http.c). Not a public interface. */
#ifndef UPD_SERVER_SRV_H
#define UPD_SERVER_SRV_H

#include <limits.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>

#include "authlimit.h"
#include "authz.h"
#include "server.h"
#include "outcome.h"
#include "store.h"
#include "writer.h"
#include "updraft/fit.h"
#include "updraft/image.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* libmicrohttpd's memory pool per connection: request headers, response headers and the
 * read buffer. A device request is about 500 bytes; 10,000 devices downloading at once
 * must fit in a few tens of MB (bench/server). Admin uploads stream through it in
 * smaller reads. */
#define UPD_CONN_MEMORY (4 * 1024)

/* ---- lograte.c: at most one log line per kind per interval ---- */
#define UPD_LOGRATE_KINDS   32
#define UPD_LOG_INTERVAL_MS 60000

typedef struct upd_lograte_slot {
    const void *kind; /* what identifies the kind (a format string) */
    int64_t last_ms;  /* when its last line went out */
    unsigned long dropped;
} upd_lograte_slot;

typedef struct upd_lograte {
    pthread_mutex_t mu;
    int64_t interval_ms;
    upd_lograte_slot slot[UPD_LOGRATE_KINDS];
} upd_lograte;

void upd__lograte_init(upd_lograte *lr, int64_t interval_ms);
void upd__lograte_free(upd_lograte *lr);
/* May a line of this kind go out now (now_ms: a monotonic clock)? 1 yes, with *dropped
 * the lines of the kind held back since its last one; 0 no (it is counted). */
int upd__lograte_allow(upd_lograte *lr, const void *kind, int64_t now_ms, unsigned long *dropped);

typedef struct dev_cred {
    char mac[UPD_MAC_STR];
    char user[128];
    char pass[128];
} dev_cred;

/* Responses kept and queued again and again (libmicrohttpd counts a response's users:
 * one replaced here lives on until the connections sending it are done). */
#define UPD_RESP_SLOTS  16
#define UPD_MAX_DAEMONS 64 /* request threads (--threads): one libmicrohttpd daemon each */

typedef struct nm_slot { /* 304 answers, by their reason and result */
    struct MHD_Response *resp;
    char reason[UPD_DETAIL_MAX];
    char result[16];
} nm_slot;

typedef struct dl_slot { /* whole-image answers (blob fd + headers), by release */
    struct MHD_Response *resp;
    int64_t release_id;
    int immutable;
    int gzip;      /* the release's gzip copy (delivery.h) */
    int fd;        /* the blob the response sends from */
    unsigned busy; /* sends of ours (filesend.h) using it: not replaced meanwhile */
} dl_slot;

typedef struct report_entry {
    int64_t id;
    upd_image_report rep;
} report_entry;

typedef struct srv {
    upd_server_config cfg;
    char data_dir[PATH_MAX];
    char tmp_dir[PATH_MAX];
    char blob_dir[PATH_MAX]; /* <data>/blobs/sha256 */
    char token[160];
    upd_store *store;
    upd_writer *writer;
    upd_outcome_cfg outcome; /* the fleet's rules on failed releases */
    upd_rules rules;
    struct upd_rollouts *rollouts; /* staged rollouts (rollout.h) */
    /* one libmicrohttpd daemon per request thread, each with its own listening socket on
     * the same port (SO_REUSEPORT): the kernel hands each new connection to one of them */
    struct MHD_Daemon *mhd[UPD_MAX_DAEMONS];
    unsigned nmhd;
    struct upd_devauth *_Atomic devauth; /* device credentials in force (reload.h) */
    pthread_mutex_t cache_mu;
    report_entry *cache;
    size_t ncache, capcache;
    uint64_t max_upload;
    pthread_mutex_t resp_mu; /* the slots below; held while queueing one of them */
    nm_slot nm[UPD_RESP_SLOTS];
    dl_slot dl[UPD_RESP_SLOTS];
    unsigned nm_next, dl_next;    /* the slot a miss replaces next (round robin) */
    struct upd_sig_key *sign_key; /* --sign-key: signs uploads on request (sigrule.h) */
    upd_lograte http_log;         /* libmicrohttpd's messages (server.c) */
    upd_authz *authz;             /* token use, batched (authz.h) */
    upd_authlimit *admin_limit, *device_limit; /* failed authentication (authlimit.h) */
    struct upd_fleet *fleet;       /* the registry's figures for the dashboard (fleet.h) */
    struct upd_connguard *guard;   /* connections per address, head deadline (connguard.h) */
    struct upd_finisher *finisher; /* upload finishing off the device threads (finisher.h) */
    struct upd_filesend *filesend; /* plain-HTTP file bodies (filesend.h); NULL with TLS */
    pthread_mutex_t upspace_mu;    /* room for uploads in <data>/tmp (upspace.c) */
    uint64_t upspace_used, upspace_max;
} srv;

struct upload;

/* One request (MHD's con_cls). */
typedef struct req {
    srv *s;
    int started;
    int responded; /* a response was queued (possibly before the body was read) */
    /* JSON bodies of admin calls */
    char *body;
    size_t body_len;
    int body_too_big;
    struct upload *up;
    /* download accounting for the completion callback */
    int dl;
    int dl_to_end; /* the response carries the file's last byte */
    char mac[UPD_MAC_STR];
    int64_t release_id;
    uint64_t dl_len;
    int dl_gzip;     /* the gzip copy of the release is being sent */
    uint64_t acked0; /* TCP bytes acked on the socket when the download began */
    int acked_ok;
    /* sent by filesend.h: how it ended (upd_filesend_end + 1; 0: not ended, or not ours),
     * its header's length, and the response whose headers and file it sent */
    int fs_end;
    size_t fs_head;
    struct MHD_Response *fs_resp;
    char ip[48];
    unsigned status; /* of the response queued */
    /* admin API: who sent it, the route it matched (authz.c), and what the audit event
     * adds (a release the handler made, a few words) */
    upd_principal who;
    const upd_route *route;
    int64_t audit_release;
    char audit_note[320];
    /* work done off the handler's thread (finisher.h): while defer is set, upd__queue keeps
     * the response here instead of sending it; the handler sends it when called again */
    int defer;
    struct MHD_Response *deferred;
    unsigned deferred_status;
    /* query arguments counted by upd__uri_seen when there were too many (0: not too many);
     * a req made there has no s until the handler's first call */
    size_t query_fields;
} req;

/* ---- http.c ---- */
/* Copy the NUL-terminated src into dst of cap bytes, cut short if needed (NULL -> ""). */
void upd__copy(char *dst, size_t cap, const char *src);
int64_t upd__now_ms(void);
/* Format ms since the epoch as "2026-11-27T01:42:27.123Z". */
void upd__iso_time(int64_t ms, char *out, size_t cap);
/* Parse "2026-11-27T01:42:27Z", "2026-11-27" or seconds since the epoch; -1 if bad. */
int64_t upd__parse_time(const char *s);
const char *upd__header(struct MHD_Connection *c, const char *name);
const char *upd__arg(struct MHD_Connection *c, const char *name);
/* Normalize a MAC (with or without ':'/'-', any case) to "AA:BB:CC:DD:EE:FF". 0 ok, -1 bad. */
int upd__parse_mac(const char *in, size_t len, char out[UPD_MAC_STR]);
/* Constant-time string comparison; 1 when equal. */
int upd__secret_eq(const char *a, const char *b);
/* Decode "Authorization: Basic ..." into user and pass. 0 ok, -1 absent or malformed. */
int upd__basic_auth(struct MHD_Connection *c, char *user, size_t ucap, char *pass, size_t pcap);
void upd__client_ip(struct MHD_Connection *c, char *out, size_t cap);
/* Queue a response and drop our reference. */
enum MHD_Result upd__queue(req *r, struct MHD_Connection *c, unsigned status,
                           struct MHD_Response *resp);
/* Reply with JSON (takes ownership of j). */
enum MHD_Result upd__reply_json(req *r, struct MHD_Connection *c, unsigned status, cJSON *j);
/* Reply {"error": msg, "kind": kind}. */
enum MHD_Result upd__reply_error(req *r, struct MHD_Connection *c, unsigned status,
                                 const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Plain-text reply (human readers: error pages of device endpoints). */
enum MHD_Result upd__reply_text(req *r, struct MHD_Connection *c, unsigned status,
                                const char *text);
/* Is s a safe header value: printable ASCII, no CR/LF, at most max bytes? */
int upd__printable(const char *s, size_t max);
/* Is s a valid channel name: [A-Za-z0-9._-]{1,63}? */
int upd__valid_channel(const char *s);

/* ---- tlsrec.c ---- */
/* On an HTTPS connection whose client negotiated smaller TLS records (max_fragment_length
 * 512..4096), make the session send records of at most that length. Call before the
 * first response byte. Returns the length now in force, 0 when nothing was negotiated (or
 * plain HTTP), -1 when GnuTLS refused the limit. */
int upd__tls_fit_records(struct MHD_Connection *c);

/* ---- server.c ---- */
/* Parse HOST:PORT / [V6]:PORT / :PORT / PORT into a socket address. 0 ok, -1 bad. */
int upd__parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len);
/* 1 if something listens on the address already (port 0 never is), else 0. */
int upd__port_in_use(const struct sockaddr_storage *ss, socklen_t len);

/* ---- device.c ---- */
/* 1 when the request may go on: no device auth configured, or the credentials of the
 * device mac (NULL: any device's, or the fleet's). */
int upd__device_auth_ok(srv *s, struct MHD_Connection *c, const char *mac);
/* The same with the failed-authentication limit (authlimit.h): 0 the request may go on
 * (or no device auth is configured); else it was answered (*ret): 401 with text401 (NULL:
 * the httpUpdate wording), or 429 with Retry-After when its address failed too often
 * (its credentials are then not looked at). Failures are counted in the metrics. */
int upd__device_auth_refused(req *r, struct MHD_Connection *c, const char *mac, const char *text401,
                             enum MHD_Result *ret);

/* ---- api.c ---- */
/* 1 when the request carries a token that may read (viewer, operator, admin: /metrics). */
int upd__api_token_ok(srv *s, struct MHD_Connection *c);

/* ---- reqlimit.c ---- */
/* The largest request head taken (request line and header lines, each field counted
 * UPD_HEAD_FIELD_COST more for its record in the connection's memory pool). Below it,
 * every answer's header lines fit in UPD_CONN_MEMORY; a device request is about 500.
 * The dashboard's paths (/, /ui/, /api/) take UPD_HEAD_MAX_WEB: a browser's head with
 * the session cookie costs about 2,000 (Debian's chromium, tests/web/measure-head.mjs),
 * and their answers fit beside a head of up to about 3,500 (docs/security.md). */
#define UPD_HEAD_MAX        2560
#define UPD_HEAD_MAX_WEB    3072
#define UPD_HEAD_FIELD_COST 64

typedef struct upd_head_size {
    size_t bytes;  /* request line and header lines */
    size_t line;   /* the request line's share */
    size_t fields; /* header lines and query arguments */
    size_t cost;   /* bytes + fields * UPD_HEAD_FIELD_COST */
    size_t max;    /* the limit of its path: UPD_HEAD_MAX, or UPD_HEAD_MAX_WEB */
} upd_head_size;

/* Measure the request head of c into out; 1 when it is above its path's limit. */
int upd__head_check(struct MHD_Connection *c, const char *method, const char *url,
                    upd_head_size *out);
/* Answer 431 (or 414 when the request line is most of it) on the connection itself, then
 * close it: a response built through libmicrohttpd may not fit beside such a head. */
/* libmicrohttpd's URI log callback (MHD_OPTION_URI_LOG_CALLBACK): past UPD_QUERY_FIELDS_MAX
 * query arguments it returns a req marked query_fields (the handler answers 414 with
 * upd__reply_query_too_long), else NULL. */
#define UPD_QUERY_FIELDS_MAX 32
void *upd__uri_seen(void *cls, const char *uri, struct MHD_Connection *c);
enum MHD_Result upd__reply_query_too_long(struct MHD_Connection *c, const char *url, size_t fields);
enum MHD_Result upd__reply_head_too_big(struct MHD_Connection *c, const char *url,
                                        const upd_head_size *h);

/* ---- authz.c / tokens.c ---- */
/* First call of an /api/v1 request (path after "/api/v1"): the failed-authentication
 * limit, the token, the route and its roles. 0: go on (r->who, r->route set); else the
 * request is answered (*ret): 401, 403, 404, 405, 429 or 500. */
int upd__authz_begin(req *r, struct MHD_Connection *c, const char *path, const char *method,
                     enum MHD_Result *ret);
/* After the route answered: an admin write that succeeded becomes an audit event. */
void upd__authz_audit(req *r, const char *path, const char *method);
/* 1 when the request's bearer token is valid and its role is one of roles (a mask);
 * a wrong token counts as a failed authentication of its address (authlimit.h), and an
 * address blocked for failures gets 0 without its token being looked at. */
int upd__authz_token_ok(srv *s, struct MHD_Connection *c, unsigned roles);
/* GET /api/v1/roles: the route table. */
enum MHD_Result upd__roles_route(req *r, struct MHD_Connection *c);
/* 429 with Retry-After: secs (JSON for the API, plain text for devices). */
enum MHD_Result upd__reply_throttled(req *r, struct MHD_Connection *c, unsigned secs, int json);
/* A token's secret (the bootstrap token or a named one) into who: 1 valid, 0 unknown,
 * wrong or expired (why says which), -1 the store failed. */
int upd__authz_secret(srv *s, const char *secret, upd_principal *who, char *why, size_t whylen);
/* A named token's secret into who: 1 valid, 0 unknown, wrong or expired (why says
 * which), -1 the store failed. */
int upd__token_check(srv *s, const char *secret, upd_principal *who, char *why, size_t whylen);
/* /api/v1/tokens[/<name>] (sub: what follows /tokens). */
enum MHD_Result upd__tokens_route(req *r, struct MHD_Connection *c, const char *method,
                                  const char *sub);
/* May r's token add a release to channel ("" none)? 0 yes, else replies 403 itself. */
int upd__authz_upload_channel(req *r, struct MHD_Connection *c, const char *channel, int replaces,
                              enum MHD_Result *ret);

/* ---- upspace.c ---- */
/* Uploads in progress together hold at most this many times --max-upload in <data>/tmp,
 * and leave this much of the disk free (for the database and the device records). */
#define UPD_UPLOAD_SPACE_FACTOR 2
#define UPD_UPLOAD_DISK_RESERVE (16 << 20)

void upd__upspace_init(srv *s);
void upd__upspace_free(srv *s);
/* Take n bytes of upload room. 0 ok; -1 the uploads in progress hold the budget, -2 the
 * disk has no room; why (whylen bytes) says so in the API's words. */
int upd__upspace_take(srv *s, uint64_t n, char *why, size_t whylen);
/* Give back n bytes taken. */
void upd__upspace_give(srv *s, uint64_t n);
/* <data>/space-reserve: set aside while there is room (keep), given up (1) when the disk
 * is full so that the store can open at start; explain appends "no space left on DIR" to
 * err when that is the case. */
#define UPD_SPACE_RESERVE (4 << 20)
void upd__upspace_keep_reserve(srv *s);
int upd__upspace_give_up_reserve(srv *s);
void upd__upspace_explain(srv *s, char *err, size_t errlen);
/* At start: warn (stderr) when the data directory's disk is (nearly) full. */
void upd__upspace_startup_check(srv *s);
/* Add "upload_room": {"used", "max"} (bytes) to j (GET /api/v1). */
void upd__upspace_json(srv *s, cJSON *j);

/* ---- webui.c: the dashboard's files (webui.h, docs/dashboard.md) ---- */
/* GET/HEAD / and /ui/<path>: the file with its ETag, gzip when accepted, 304. */
enum MHD_Result upd__webui_route(req *r, struct MHD_Connection *c, const char *url,
                                 const char *method);
/* The dashboard's Content-Security-Policy, nosniff and Referrer-Policy on resp. */
void upd__webui_security_headers(struct MHD_Response *resp);

/* ---- tcpinfo.c ---- */
uint64_t upd__tcp_acked(struct MHD_Connection *c, int *ok);

/* ---- server.c (more) ---- */
/* MHD_NO for a handler whose connection must close with nothing more sent (filesend.h sent
 * the answer): without libmicrohttpd's "internal error" log line it would write. */
enum MHD_Result upd__close_quietly(void);

/* ---- blobs.c ---- */
void upd__blob_path(const srv *s, const char *sha256, char *out, size_t cap);
/* Move the fsynced temp file at tmp into the blob store as sha256 (durably). 0 ok. */
int upd__blob_commit(const srv *s, const char *tmp, const char *sha256, char *err, size_t errlen);
/* Startup: remove temp files and blobs no release references. */
void upd__blob_gc(srv *s);
/* The path of blob sha256 in the data directory into path; with a store that keeps
 * blobs (PostgreSQL) a blob missing there is fetched first. 0, or -1 (logged) when it
 * could not be fetched. */
int upd__blob_local(srv *s, const char *sha256, char *path, size_t cap);
/* Startup with a store that keeps blobs: fetch the releases' blobs this server lacks,
 * store the ones the database lacks, prune the database's unreferenced ones. */
void upd__blob_sync(srv *s);
/* Remove blob sha256 (local file and database copy) unless a release refers to it. */
void upd__blob_drop(srv *s, const char *sha256);

/* ---- policy.c ---- */
typedef struct upd_devreq {
    upd_device_row dev; /* facts from the request ("" / -1 unknown) */
    int has_mac;
    char base_mac[UPD_MAC_STR]; /* x-ESP32-BASE-MAC when sent, else "" */
    upd_client client;
    int family_known;
    int mode_fs;      /* a filesystem mode: spiffs, fatfs, littlefs, flashfs */
    int mode_version; /* "ask only" version mode */
    char url_channel[UPD_NAME_MAX];
    /* x-updraft-report, when valid: normalised, its event kind and sentence */
    char report[UPD_REPORT_MAX];
    int64_t report_release;
    char report_kind[24];
    char report_detail[256];
} upd_devreq;

typedef struct upd_decision {
    int offer;    /* 1: send rel */
    int gzip;     /* with offer: send rel's gzip copy (rel.gz_*) instead of its file */
    int have_rel; /* rel is filled */
    int pinned;
    int64_t rollout_id; /* rel is this rollout's release (rollout.h), 0 not */
    upd_release_row rel;
    const char *result; /* "offered", "declined", "current", "none" */
    int decline;        /* when declined: why, by class (upd_decline in metrics.h) */
    char detail[UPD_DETAIL_MAX];
} upd_decision;

/* Decide what the device of dr gets. known: its registry row or NULL. */
void upd__decide(srv *s, const upd_devreq *dr, const upd_device_row *known, upd_decision *out);
/* The release a device should run (pin, else channel), without the fit rules; 0 found. */
int upd__target(srv *s, const char *family, int mode_fs, const char *url_channel,
                const upd_device_row *known, upd_release_row *out, int *pinned, char *why,
                size_t whylen);
/* The facts the fit rules need from what device d said (request facts, or a registry
 * row), for client in sketch or filesystem mode; known: its registry row or NULL.
 * chip_how (howlen bytes) says how an ESP32's chip is known ("" when it is not). */
void upd__device_facts(srv *s, const upd_device_row *d, int mode_fs, upd_client client,
                       const upd_device_row *known, upd_device_facts *f, char *chip_how,
                       size_t howlen);
/* The inspection report of a release's blob (cached). 0 ok. */
int upd__release_report(srv *s, const upd_release_row *rel, upd_image_report *out);

/* ---- device.c / api.c / upload.c ---- */
/* Destroy the kept responses (after the daemon stopped). */
void upd__resp_cache_free(srv *s);
enum MHD_Result upd__device_route(req *r, struct MHD_Connection *c, const char *url,
                                  const char *method);
enum MHD_Result upd__api_route(req *r, struct MHD_Connection *c, const char *url,
                               const char *method, const char *upload_data,
                               size_t *upload_data_size);
cJSON *upd__release_json(const upd_release_row *rel);
/* An event as the API answers it (docs/api.md "Events"). */
cJSON *upd__event_json(const upd_event_row *e);
/* GET /api/v1/events?after=ID (evtail.c): the events after ID, oldest first; mac
 * normalised or NULL; before and limit as given (NULL: none). */
enum MHD_Result upd__events_tail(req *r, struct MHD_Connection *c, const char *mac,
                                 const char *after, const char *before, const char *limit);
/* A device row as the API answers it (docs/api.md "Devices"). */
cJSON *upd__api_device_json(const upd_device_row *d);
/* A rollout's status as GET /api/v1/rollouts/<id> answers it (plan: as a plan). */
struct upd_rollout_status;
cJSON *upd__rollout_status_json(const struct upd_rollout_status *st, int plan);
/* /api/v1/rollouts<rest> (rollout_api.c). */
enum MHD_Result upd__rollout_route(req *r, struct MHD_Connection *c, const char *method,
                                   const char *rest);
/* The request's JSON body as an object; replies 400 itself and returns NULL when bad. */
cJSON *upd__api_json_body(req *r, struct MHD_Connection *c, enum MHD_Result *ret);
/* 500 "the database failed: err". */
enum MHD_Result upd__api_store_failed(req *r, struct MHD_Connection *c, const char *err);
/* Upload of a release: feed body bytes (size 0 = end of body). */
/* Start an upload: 0 go on (the body follows), 1 refused and answered already (too large,
 * no room: before the body is read), -1 out of memory. */
/* preview: POST /api/v1/inspect, which runs every check of an upload and stores nothing;
 * its answer (preview.c) is the inspection and what publishing would answer. */
struct upd_file_info;
int upd__upload_begin(req *r, struct MHD_Connection *c, int preview);
enum MHD_Result upd__preview_reply(req *r, struct MHD_Connection *c, const char *path,
                                   const char *filename, const struct upd_file_info *fi,
                                   unsigned status, cJSON *said);
enum MHD_Result upd__upload_feed(req *r, struct MHD_Connection *c, const char *data, size_t size);
enum MHD_Result upd__upload_finish(req *r, struct MHD_Connection *c);
void upd__upload_free(struct upload *up);

#endif
