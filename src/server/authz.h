/* Who may do what on the admin API (authz.c): the route table (every /api/v1 route and
 * the roles that may call it, in one place), the bearer tokens (the bootstrap admin
 * token and named tokens, tokens.c), the record of their use, and the audit trail of
 * admin actions. A request the table does not know is refused (404/405): a route
 * without a role cannot be reached. */
#ifndef UPD_SERVER_AUTHZ_H
#define UPD_SERVER_AUTHZ_H

#include <stdint.h>

#include "store.h"

/* Roles, as bits of a route's mask. */
enum {
    UPD_ROLE_ADMIN = 1,    /* everything, tokens included */
    UPD_ROLE_OPERATOR = 2, /* releases, channels, rollouts, pins, device settings */
    UPD_ROLE_VIEWER = 4,   /* read only */
    UPD_ROLE_CI = 8        /* add releases (optionally only to given channels) */
};

/* The bootstrap admin token's name (its row in the token table records its use). */
#define UPD_BOOTSTRAP_TOKEN "admin-token"

/* One admin API route: method ("GET" answers HEAD too), path under /api/v1 ("{id}",
 * "{mac}", "{name}" stand for one segment), the roles that may call it (mask), and what
 * it does in a few words (refusals and audit events say it). */
typedef struct upd_route {
    const char *method;
    const char *path;
    unsigned roles;
    const char *what;
} upd_route;

/* Who sent a request: the token's name, role and (ci) channels, and its address. */
typedef struct upd_principal {
    char name[UPD_NAME_MAX];
    unsigned role;      /* one UPD_ROLE_* bit; 0 none (not authenticated) */
    char channels[512]; /* ci: the channels it may upload to, "a,b"; "" any */
    char ip[48];
    /* a dashboard session (session.h): its id (SHA-256 of the cookie) and CSRF value;
     * both "" for a bearer token */
    char session[65];
    char csrf[65];
} upd_principal;

/* A role's name ("operator"), NULL for a value that is not one role. */
const char *upd__role_name(unsigned role);
/* The role named s, 0 when there is none. */
unsigned upd__role_parse(const char *s);
/* The names of the roles in mask: "operator or admin". */
void upd__roles_text(unsigned mask, char *out, size_t cap);

/* The route of the table for method and path (under /api/v1), NULL when none. */
const upd_route *upd__authz_find(const char *method, const char *path);

/* Is the channel in the comma-separated list? */
int upd__channel_in_list(const char *list, const char *channel);

typedef struct upd_authz upd_authz;
upd_authz *upd__authz_new(void);
/* Records the uses not yet written (the store must still be open), then frees. */
struct srv;
void upd__authz_free(struct srv *s);
/* Write the token uses gathered since the last write (batched: at most one write every
 * few seconds on the request path; `token list` and the shutdown write at once). */
void upd__authz_flush(struct srv *s);

#endif
