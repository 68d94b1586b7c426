/* Slow and greedy clients (docs/security.md "Slow clients"): a limit on the connections
 * one address may hold open, and a deadline for the request head.
 *
 * libmicrohttpd's own per-address limit counts per daemon, and `updraft serve` runs one
 * daemon per thread (SO_REUSEPORT spreads one address's connections over all of them):
 * this module counts per process. Its idle timeout is reset by every byte, so a client
 * that sends one byte of its head now and then keeps the connection for days: this
 * module gives the head a deadline from the moment the connection was accepted (or the
 * previous answer ended, on a kept-alive connection) and cuts the connection when it
 * passes (a thread of its own looks once a second; the socket is shut down, and
 * libmicrohttpd then closes it).
 *
 * Addresses count as in authlimit.h: IPv4 one by one (IPv4-mapped IPv6 as IPv4), IPv6 by
 * their /64. Each address is logged at most once per UPD_CONNGUARD_LOG_S, with what it
 * did since its last line. */
#ifndef UPD_SERVER_CONNGUARD_H
#define UPD_SERVER_CONNGUARD_H

#include <stdint.h>
#include <sys/types.h>

#include <microhttpd.h>

#define UPD_CONNGUARD_LOG_S 60
/* the defaults of --max-per-address and --head-timeout */
#define UPD_CONNGUARD_PER_ADDRESS 128
#define UPD_CONNGUARD_HEAD_S      10

typedef struct upd_connguard upd_connguard;

/* A guard allowing per_address open connections per address and head_s seconds for the
 * first request head of a connection, keep_s for the next ones (the idle timeout; at
 * least head_s). Starts the deadline thread. NULL when out of memory or the thread cannot start. */
upd_connguard *upd_connguard_new(unsigned per_address, unsigned head_s, unsigned keep_s);
/* Stop the thread and free the guard; after the daemons are stopped. NULL is fine. */
void upd_connguard_free(upd_connguard *g);

/* libmicrohttpd callbacks, cls = the guard: MHD_OPTION_ACCEPT_POLICY_CALLBACK refuses a
 * connection from an address at its limit; MHD_OPTION_NOTIFY_CONNECTION counts the
 * connections and keeps the record the deadline thread looks at. */
enum MHD_Result upd_connguard_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);
void upd_connguard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code);

/* A request head arrived complete on c (the first call of the request handler): its
 * deadline is off. */
void upd_connguard_head_done(struct MHD_Connection *c);
/* A request on c ended (MHD_OPTION_NOTIFY_COMPLETED): the next head, if the connection
 * is kept alive, has keep_s seconds from now. */
void upd_connguard_request_done(struct MHD_Connection *c);

/* Counters since the start: connections refused because their address was at its
 * limit, and connections cut because their head was not complete in time. */
uint64_t upd_connguard_refused(const upd_connguard *g);
uint64_t upd_connguard_cut(const upd_connguard *g);

#endif
