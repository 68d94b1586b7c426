/* Failed authentication, limited per source address with a growing delay (authlimit.c).
 *
 * A source gets UPD_AUTHLIMIT_FREE failures; each failure after that blocks it for a
 * delay that doubles from 1 s up to UPD_AUTHLIMIT_MAX_S. While it is blocked the server
 * answers its requests at once with 429 and Retry-After, without looking at the
 * credentials (no guess is evaluated, no thread waits). A success while not blocked
 * forgets its failures; UPD_AUTHLIMIT_FORGET_S without a failure forgets the source.
 * IPv4 addresses count one by one (IPv4-mapped IPv6 ones as IPv4), IPv6 addresses by
 * their /64 (one host usually holds a whole /64). Each source is logged at most once per
 * UPD_AUTHLIMIT_LOG_S, with what it did since. */
#ifndef UPD_SERVER_AUTHLIMIT_H
#define UPD_SERVER_AUTHLIMIT_H

#include <stdint.h>

#define UPD_AUTHLIMIT_FREE     5
#define UPD_AUTHLIMIT_MAX_S    300
#define UPD_AUTHLIMIT_FORGET_S 900
#define UPD_AUTHLIMIT_LOG_S    60

typedef struct upd_authlimit upd_authlimit;

/* A limiter for one kind of credential; what names it in the log ("admin API",
 * "device"). NULL when out of memory. */
upd_authlimit *upd_authlimit_new(const char *what);
void upd_authlimit_free(upd_authlimit *l); /* NULL is fine */

/* A source is an address and a scope: the credential tried, where one address may
 * rightly try several (devices behind one NAT: each device's own credentials are a
 * scope, the fleet's another); NULL or "" for the address alone (the admin API).
 *
 * Before looking at a request's credentials: 0 go on, else the seconds the source must
 * still wait (answer 429 with Retry-After: that many). Counts a refusal. */
unsigned upd_authlimit_check(upd_authlimit *l, const char *ip, const char *scope, int64_t now_ms);
/* The credentials were wrong: count it (callers do not count a request that sent none:
 * that is a challenge, not a guess). Returns the seconds the source is
 * now blocked for (0: not blocked yet). */
unsigned upd_authlimit_fail(upd_authlimit *l, const char *ip, const char *scope, int64_t now_ms);
/* The credentials were right: forget the source's failures (not when it was last
 * logged). Cheap when no source failed lately. */
void upd_authlimit_ok(upd_authlimit *l, const char *ip, const char *scope);

/* Plain counters since the start (for the status route and /metrics): failed
 * authentications, and requests answered 429 because of them. */
uint64_t upd_authlimit_failures(const upd_authlimit *l);
uint64_t upd_authlimit_refused(const upd_authlimit *l);

#endif
