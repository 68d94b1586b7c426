/* Why devices failed in a rollout, per wave: the devices that failed, rolled back or went
 * silent, grouped by the sentence the server recorded for each (the device's own report,
 * else the server's inference) with counts, for GET /api/v1/rollouts/<id> and the
 * dashboard's rollout page. */
#ifndef UPD_SERVER_ROREASONS_H
#define UPD_SERVER_ROREASONS_H

#include "srv.h"

/* The most devices whose events are read for one answer; past it the rest are counted
 * under one "not looked up" reason (a rollout pauses long before that many fail). */
#define UPD_ROREASONS_LOOKUPS 1000

/* Add "failures": [{"state", "reason", "count", "macs": [up to 3]}] (most devices first)
 * to every object of rollout's "waves_detail", for the rollout row of release rel. 0, or
 * -1 when the store failed (then nothing is added). */
int upd__roreasons_add(srv *s, const upd_rollout_row *row, const upd_release_row *rel,
                       cJSON *rollout);

#endif
