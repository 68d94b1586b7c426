/* The fleet at a glance (GET /api/v1/overview and /api/v1/problems; docs/api.md "Fleet"):
 * a thread of its own reads the device registry (never on the check path) and keeps in
 * memory what those answer: devices seen and silent, versions by platform, the active
 * rollouts' status (rollout.c's own counts), the problems grouped (problems.h). An answer
 * that finds the figures older than UPD_FLEET_MAX_AGE_MS is given them (with their
 * time) and has the thread read the registry again; ?fresh=1 waits for a reading that
 * starts after the request. The same reading is the adoption snapshot (adoption.h) when
 * one is due. */
#ifndef UPD_SERVER_FLEET_H
#define UPD_SERVER_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "srv.h"

#define UPD_FLEET_MAX_AGE_MS 10000
/* An answer that finds no reading yet (the first one since the server started is under
 * way) waits this long for it, then answers 202 "building" with how far it got; the
 * client asks again after UPD_FLEET_RETRY_MS. */
#define UPD_FLEET_FIRST_WAIT_MS 100
#define UPD_FLEET_RETRY_MS      250
/* Seen in 24 h, else silent. */
#define UPD_FLEET_SEEN_MS (24ll * 3600 * 1000)
#define UPD_FLEET_SAMPLE  5

/* Which devices: real ones, or those an updraft tool made (x-updraft-tool). */
enum { UPD_FT_REAL, UPD_FT_SIM, UPD_FT_DOCTOR, UPD_FT_OTHER, UPD_FT_N };
#define UPD_FT_ALL ((1u << UPD_FT_N) - 1)

typedef struct upd_fleet_version {
    char platform[16];
    char version[UPD_VER_MAX];
    int tool;
    int64_t devices;
} upd_fleet_version;

typedef struct upd_fleet_problem {
    const char *kind, *reason; /* literals (problems.h) */
    int64_t release;
    char version[UPD_VER_MAX]; /* the release's, "" */
    int tool;
    int64_t devices;
    char sentence[UPD_DETAIL_MAX]; /* the first device's (newest seen) */
    int nsample;
    char sample[UPD_FLEET_SAMPLE][UPD_MAC_STR];
} upd_fleet_problem;

/* One reading of the registry; read-only once published. */
typedef struct upd_fleet_scan {
    int refs;
    int64_t at_ms, took_ms;
    int64_t total[UPD_FT_N], seen[UPD_FT_N], silent[UPD_FT_N], never[UPD_FT_N];
    upd_fleet_version *v;
    size_t nv, capv;
    upd_fleet_problem *p;
    size_t np, capp;
    cJSON *rollouts; /* the active rollouts as GET /api/v1/rollouts/<id> shows them */
} upd_fleet_scan;

typedef struct upd_fleet upd_fleet;

/* Start the thread for server s; adoption_ms: how often an adoption snapshot is
 * recorded (0: hourly). NULL when out of memory. */
upd_fleet *upd__fleet_start(srv *s, int64_t adoption_ms);
/* Stop and free (NULL is harmless). */
void upd__fleet_stop(upd_fleet *f);

/* The first reading since the start, while it is under way. */
typedef struct upd_fleet_building {
    int building;
    int64_t started_ms, devices_read;
} upd_fleet_building;

/* The latest reading, held until upd__fleet_put. fresh: one that starts after this call
 * (waits for it). Otherwise the latest; when there is none yet, the one under way: with
 * b, for at most UPD_FLEET_FIRST_WAIT_MS, after which NULL with b->building set and how
 * far that reading got; without b, until it is done. NULL (b->building 0) when the
 * store failed and there is no reading. */
upd_fleet_scan *upd__fleet_get(upd_fleet *f, int fresh, upd_fleet_building *b);
void upd__fleet_put(upd_fleet *f, upd_fleet_scan *sc);

/* The query arguments every fleet route takes: tool= (none, any, sim, doctor; absent:
 * every device) as a mask of UPD_FT_*, fresh=1. 0, or -1 answered (400) in *ret. */
int upd__fleet_args(req *r, struct MHD_Connection *c, unsigned *mask, int *fresh,
                    enum MHD_Result *ret);
/* What a GET fleet route starts with: the method (use names the route for the 405), the
 * arguments of upd__fleet_args and the latest reading. The reading (give it back with
 * upd__fleet_put), or NULL with the answer in *ret (202 while the first reading is under
 * way: upd__fleet_building_reply; 503 when the store failed). */
upd_fleet_scan *upd__fleet_route_scan(req *r, struct MHD_Connection *c, const char *method,
                                      const char *use, unsigned *mask, enum MHD_Result *ret);
/* 202 {"building": true, "started", "devices_read", "retry_ms", "message"}: the answer
 * of a fleet route while the first reading since the start is under way. */
enum MHD_Result upd__fleet_building_reply(req *r, struct MHD_Connection *c,
                                          const upd_fleet_building *b);
/* The tool class of a device row (UPD_FT_*). */
int upd__fleet_tool(const char *tool);

/* The problem groups of sc for the devices of mask, merged over tools, most devices
 * first, into a malloc'd *out (the caller frees it). Returns how many. */
size_t upd__fleet_problems(const upd_fleet_scan *sc, unsigned mask, upd_fleet_problem **out);
/* "as_of" and "scan_ms" of sc into j. */
void upd__fleet_as_of(const upd_fleet_scan *sc, cJSON *j);

/* GET /api/v1/overview. */
enum MHD_Result upd__overview_route(req *r, struct MHD_Connection *c, const char *method);

#endif
