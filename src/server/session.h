/* Dashboard sessions (docs/dashboard.md, docs/security.md): a browser signs in once with
 * an API token (POST /api/v1/session) and gets a cookie, updraft_session=<256 random
 * bits>, HttpOnly, SameSite=Strict, Secure under TLS. The store keeps only the cookie's
 * SHA-256 (so sessions survive restarts and are shared by servers on one database), the
 * token the session acts for, and its times: it ends after --session-idle without use,
 * at --session-max after sign-in, at sign-out, and when its token is revoked, expires or
 * (the bootstrap token) is replaced. A cookie-authenticated write must carry the
 * session's CSRF value in X-CSRF-Token, and an Origin header, when sent, naming this
 * server. authz.c's route table and roles apply to sessions as to the token itself. */
#ifndef UPD_SERVER_SESSION_H
#define UPD_SERVER_SESSION_H

#include <stddef.h>

#include "srv.h"

#define UPD_SESSION_COOKIE "updraft_session"
/* Defaults of --session-idle and --session-max. */
#define UPD_SESSION_IDLE_MS (12ll * 3600 * 1000)
#define UPD_SESSION_MAX_MS  (7ll * 86400 * 1000)

/* The request's session cookie into who (name, role, channels, session, csrf): 1 valid,
 * 0 none or over (why says so in the dashboard's words; an ended session's row is
 * deleted), -1 the store failed. */
int upd__session_auth(srv *s, struct MHD_Connection *c, upd_principal *who, char *why,
                      size_t whylen);
/* For an authenticated request: a write (not GET/HEAD) from a session without the right
 * X-CSRF-Token, or with an Origin of another site, is refused: 0 go on, else answered
 * (*ret, 403 kind csrf or origin). Bearer requests always go on. */
int upd__session_write_refused(req *r, struct MHD_Connection *c, const char *method,
                               enum MHD_Result *ret);
/* Is this the sign-in request (POST /api/v1/session: it carries its token in its body
 * and is authenticated by the session route itself, not before)? */
int upd__session_is_signin(const char *path, const char *method);
/* /api/v1/session: POST signs in, GET says who the request acts for, DELETE signs out. */
enum MHD_Result upd__session_route(req *r, struct MHD_Connection *c, const char *method);
/* The token named name was revoked: end its sessions (logged when the store fails). */
void upd__session_end_token(srv *s, const char *name);

#endif
