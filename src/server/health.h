/* /healthz (the process answers) and /readyz (it can serve devices: the database
 * answers, the blob store is readable, the writer keeps up), for load balancers,
 * systemd and Kubernetes probes. docs/operations.md "Health". */
#ifndef UPD_SERVER_HEALTH_H
#define UPD_SERVER_HEALTH_H

#include "srv.h"

/* 1 when ready, else 0 with the reasons (lines) in why (cap bytes). */
int upd__health_ready(srv *s, char *why, size_t cap);

/* Answer GET|HEAD /healthz or /readyz (url). */
enum MHD_Result upd__health_route(req *r, struct MHD_Connection *c, const char *url);

#endif
