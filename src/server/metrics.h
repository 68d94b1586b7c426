/* Server metrics in the Prometheus text exposition format (GET /metrics; docs/operations.md
 * "Metrics"). The counters sit on the device check path, so counting costs one relaxed
 * atomic add on a per-thread shard (no lock, no shared cache line between request
 * threads); a scrape sums the shards. The state is the process's (one server per
 * process). */
#ifndef UPD_SERVER_METRICS_H
#define UPD_SERVER_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "srv.h"

/* Why a check was declined, by class (the label of updraft_declines_total). */
typedef enum upd_decline {
    UPD_DECLINE_FIT = 0, /* the fit rules: class is upd_fit_code + UPD_DECLINE_FIT */
    UPD_DECLINE_DOWNGRADE = 12,
    UPD_DECLINE_HELD_BACK,  /* the release failed on this device: back-off or stopped */
    UPD_DECLINE_UNREADABLE, /* the release's blob cannot be read */
    UPD_DECLINE_OTHER,
    UPD_DECLINE_N
} upd_decline;

/* The class of a decline as the metrics' label and the problems' reason say it:
 * "no-space", "wrong-chip" (the fit codes), "downgrade", "held-back",
 * "release-unreadable", "other". */
const char *upd__decline_class(int decline);

enum { UPD_DL_STARTED, UPD_DL_COMPLETED, UPD_DL_ABORTED };
enum { UPD_STORE_READ, UPD_STORE_BATCH };

/* A device check answered with result ("offered", "declined", "current", "none",
 * "version"); decline: its class when declined. */
void upd__metrics_check(const char *result, int decline);
/* An image offered to a device: gzip 1 for the release's gzip copy. */
void upd__metrics_offer(int gzip);
/* A download started, completed or aborted (UPD_DL_*), with the body bytes it sent
 * (completed, aborted: those known to have reached the device; started: 0). */
void upd__metrics_download(int what, uint64_t bytes);
/* An outcome report received ("report-installed", "report-failed", "report-rolled-back"). */
void upd__metrics_report(const char *kind);
/* A request refused for its credentials: admin 1 for the admin token, 0 for a device's. */
void upd__metrics_auth_failure(int admin);
/* A store call took ns nanoseconds (upd__mono_ns, clock.h): a check-path read that missed
 * the cache (UPD_STORE_READ), or one batch of device records written (UPD_STORE_BATCH). */
void upd__metrics_store(int op, int64_t ns);

/* Another module's metrics (rollouts by state, ...): fn writes complete families (# HELP,
 * # TYPE, samples) to f at each scrape, from any thread. At most 16 collectors; register
 * before the server starts answering. 0 ok, -1 when full. */
typedef void (*upd_metrics_collector)(FILE *f, void *ctx);
int upd__metrics_register(upd_metrics_collector fn, void *ctx);

/* The whole exposition of server s into a malloc'd, NUL-terminated text (*len bytes);
 * NULL when out of memory. */
char *upd__metrics_render(srv *s, size_t *len);

/* Note the start time (updraft_start_time_seconds). */
void upd__metrics_init(void);

/* --metrics-listen: serve /metrics (and /healthz, /readyz) on their own address, without
 * a token, from one thread of their own. url (urlcap bytes): where, as
 * "http://HOST:PORT/metrics" with the port it got. 0 ok, else -1 with a message for the
 * operator in err. */
int upd__metrics_listen(srv *s, const char *addr, char *url, size_t urlcap, char *err,
                        size_t errlen);
/* Check --metrics-listen's address before anything starts: 0 usable, else -1 with the
 * reason in err. */
int upd__metrics_addr_ok(const char *addr, char *err, size_t errlen);
/* Stop that listener (nothing when none runs). */
void upd__metrics_listen_stop(void);

/* Answer GET|HEAD /metrics (the caller checked who may ask). */
enum MHD_Result upd__metrics_reply(req *r, struct MHD_Connection *c);

#endif
