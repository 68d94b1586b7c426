/* Webhooks: JSON bodies POSTed to http:// or https:// URLs by a thread of their own, off
 * the device check path, retried with a growing back-off (docs/rollouts.md "Webhooks").
 * https URLs are verified against the system's trust store. */
#ifndef UPD_SERVER_WEBHOOK_H
#define UPD_SERVER_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

typedef struct upd_webhooks upd_webhooks;

/* Attempts per message, and the wait before attempt k+1 (1 s, doubling, at most 5 min). */
#define UPD_WEBHOOK_ATTEMPTS 8

/* Is url a webhook URL this server can call ("http://host[:port]/path" or https)? 0 yes;
 * -1 with the reason in why. */
int upd__webhook_check_url(const char *url, char *why, size_t whylen);

/* What the sending thread says when a message was delivered (ok 1) or given up (ok 0,
 * why: the last failure); tag is the message's. */
typedef void (*upd_webhook_done)(void *ctx, int64_t tag, const char *url, int ok, int attempts,
                                 const char *why);
/* Start the sending thread; done may be NULL. NULL when out of memory or the thread
 * cannot start. */
upd_webhooks *upd__webhooks_start(upd_webhook_done done, void *ctx);
/* Queue body for url (both copied), tagged with tag. Never blocks on I/O. */
void upd__webhook_post(upd_webhooks *w, const char *url, const char *body, int64_t tag);
/* Stop: what is still queued is dropped (and counted on stderr); a POST under way is
 * given 2 s to finish. Then free. NULL is harmless. */
void upd__webhooks_stop(upd_webhooks *w);

#endif
