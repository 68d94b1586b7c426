/* What SIGHUP reloads without dropping a connection (docs/operations.md "Reload"): the
 * device credentials (--device-auth, UPDRAFT_DEVICE_AUTH, --device-auth-file) and the TLS
 * certificate and key (--tls-cert, --tls-key). Each is read, checked and then swapped in
 * with one atomic pointer store: a request or TLS handshake sees the old set or the new
 * one, never half of each. A set that fails to load leaves the one in force. Replaced
 * sets are kept until the server stops (a handshake under way may still point into
 * one); a reload costs the size of the credentials file. */
#ifndef UPD_SERVER_RELOAD_H
#define UPD_SERVER_RELOAD_H

#include <stddef.h>

#include "srv.h"

typedef struct upd_devauth {
    int fleet; /* fleet credentials set */
    char fleet_user[128];
    char fleet_pass[128];
    dev_cred *creds; /* per-device credentials (--device-auth-file) */
    size_t ncreds;
    struct upd_devauth *older; /* the set this one replaced */
} upd_devauth;

/* Load the device credentials of s->cfg and put them in force. 0 ok, else -1 with the
 * reason (file and line) in err and the set in force unchanged. */
int upd__devauth_load(srv *s, char *err, size_t errlen);
/* The credentials in force (never NULL after a successful load). */
const upd_devauth *upd__devauth(srv *s);

/* Load --tls-cert/--tls-key and put them in force for new handshakes. 0 ok, else -1 with
 * the reason in err (unreadable file, not PEM, key not the certificate's). */
int upd__tls_load(const char *cert_file, const char *key_file, char *err, size_t errlen);
/* The libmicrohttpd option that makes each TLS handshake use the certificate in force
 * (MHD_OPTION_HTTPS_CERT_CALLBACK's value). */
void *upd__tls_cert_callback(void);

/* SIGHUP: reload both; a line per part on stdout/stderr. 0 when everything reloaded. */
int upd__reload(srv *s);

/* Free every loaded set (after the daemons stopped). */
void upd__reload_free(srv *s);

#endif
