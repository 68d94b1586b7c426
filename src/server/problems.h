/* Problems (GET /api/v1/problems, `updraft problems`; docs/api.md "Problems"): the devices
 * that need an operator, by what is wrong. Nothing here decides anew: a device's problem
 * is what the server's own rules say about it, in the sentence the server records for it:
 *
 *   declined             its target release is not offered to it: the decision of
 *                        policy.c (the fit rules: would fail -100, wrong chip...; a
 *                        downgrade; a blob that cannot be read; a signing requirement);
 *                        reason: the class ("no-space", "wrong-chip", "downgrade"...)
 *   failed, rolled-back, a release failed on it (it kept its old image, reported a
 *   update-loop          failure or a rollback, or downloaded it again and again) and is
 *                        held back from it (outcome.c's sentence: when it is offered
 *                        again, how to offer it now)
 *   silent-after-update  it downloaded the release it was offered and has not checked in
 *                        for UPD_RO_DEFAULT_SILENT (the rollouts' --silent-after default)
 *
 * A device waiting for its rollout wave is not a problem. fleet.c runs these over the
 * registry and keeps the groups in memory. */
#ifndef UPD_SERVER_PROBLEMS_H
#define UPD_SERVER_PROBLEMS_H

#include <stdint.h>

#include "srv.h"

typedef struct upd_problem {
    const char *kind;   /* a literal: "declined", "failed", ... */
    const char *reason; /* a literal: the class of a decline, or "held-back", "silent" */
    int64_t release;    /* the release concerned, 0 none */
    char sentence[UPD_DETAIL_MAX];
    /* when not NULL: the sentence is the detail of the device's latest event of this
     * kind (the caller reads it once per group) */
    const char *event;
} upd_problem;

/* May device d have a problem (from its row alone, cheaply)? A device whose last check
 * was answered 'up to date' and that has no open offer is not looked at further. */
int upd__problem_candidate(const upd_device_row *d);

/* Device d's problem at now_ms: 1 with out filled, 0 none. Calls the decision of the
 * check path (no store lock may be held). */
int upd__problem_of(srv *s, const upd_device_row *d, int64_t now_ms, upd_problem *out);

/* GET /api/v1/problems (fleet.c's groups). */
enum MHD_Result upd__problems_route(req *r, struct MHD_Connection *c, const char *method);

#endif
