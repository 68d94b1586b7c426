/* The fleet's rules for what a device's check-ins and downloads mean (DESIGN.md "Rules
 * above the store"): did it install the release it was offered or fail it, which facts
 * changed, which check-ins become events, and the hold on a release that failed on a
 * device (a growing back-off, then no more offers until `updraft device retry`). Every
 * store backend calls these through upd_rules inside its batch transaction, and the
 * check path asks upd__outcome_hold before offering. docs/protocol.md "Failed releases". */
#ifndef UPD_SERVER_OUTCOME_H
#define UPD_SERVER_OUTCOME_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The most back-off steps `--failure-backoff` takes. */
#define UPD_BACKOFF_MAX 8

typedef struct upd_outcome_cfg {
    /* after failure k (1-based) the release is held back for backoff_ms[k-1]; a failure
     * after the last step stops offers until a retry */
    int64_t backoff_ms[UPD_BACKOFF_MAX];
    int nbackoff;
} upd_outcome_cfg;

/* The rules for store->apply_batch, with cfg (which must outlive them). */
void upd__outcome_rules(const upd_outcome_cfg *cfg, upd_rules *out);

/* Is release rel_id held back from device d at now_ms? 0 no; 1 yes, with the sentence
 * that says why and what to do in why. */
int upd__outcome_hold(const upd_outcome_cfg *cfg, const upd_device_row *d, int64_t rel_id,
                      const char *rel_version, int64_t now_ms, char *why, size_t whylen);

#endif
