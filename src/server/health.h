/* /healthz (the process answers) and /readyz (it can serve devices: the database
 * answers, the blob store is readable, the writer keeps up), for load balancers,
 * systemd and Kubernetes probes. docs/operations.md "Health". */
#ifndef UPD_SERVER_HEALTH_H
#define UPD_SERVER_HEALTH_H

#include "srv.h"

/* 1 when ready for the watchdog, else 0 with the reasons (lines) in why (cap bytes). A
 * database that cannot be reached does not count here (the store reconnects by itself
 * and the server answers from its cache meanwhile); /readyz says it. */
int upd__health_ready(srv *s, char *why, size_t cap);

/* Answer GET|HEAD /healthz or /readyz (url). */
enum MHD_Result upd__health_route(req *r, struct MHD_Connection *c, const char *url);

#endif
