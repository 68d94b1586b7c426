/* Adoption over time (GET /api/v1/adoption; docs/api.md "Fleet"): a snapshot of how many
 * devices run each version, per platform, recorded by fleet.c's thread every hour (serve
 * --adoption-every) from its reading of the registry, kept UPD_ADOPTION_KEEP_MS, and
 * answered as series ready for a chart: per bucket (hour, day or any duration) the last
 * snapshot in it, each version's devices and share of its platform. */
#ifndef UPD_SERVER_ADOPTION_H
#define UPD_SERVER_ADOPTION_H

#include <stdint.h>

#include "fleet.h"

/* Snapshots older than this are deleted when a new one is recorded. */
#define UPD_ADOPTION_KEEP_MS (400ll * 86400 * 1000)
/* The most buckets one answer has. */
#define UPD_ADOPTION_MAX_BUCKETS 2000

/* Record sc's versions as the snapshot at sc->at_ms. 0, or a UPD_STORE_* error (logged). */
int upd__adoption_record(srv *s, const upd_fleet_scan *sc);

/* GET /api/v1/adoption. */
enum MHD_Result upd__adoption_route(req *r, struct MHD_Connection *c, const char *method);

#endif
