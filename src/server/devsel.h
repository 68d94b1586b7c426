/* Selecting devices with a target filter (filter.h) over the store: the filter compiled
 * into the store's conditions (devquery.h) with the store's plain pre-selection
 * (upd_device_filter), and what SQL cannot say (a chip term) matched in memory, above
 * the store (DESIGN.md "Rules above the store"). Used by the API's device listing and the bulk
 * tag commands; rollouts count and plan their targets the same way. */
#ifndef UPD_SERVER_DEVSEL_H
#define UPD_SERVER_DEVSEL_H

#include <stdint.h>

#include "filter.h"
#include "store.h"

struct srv;

/* The matching environment of the server: now, and a device's chip as the server
 * knows it (chip.h). */
void upd__devsel_env(struct srv *s, upd_filter_env *env);

/* Call cb for the devices that pass pre (NULL: every device; its limit and offset are
 * ignored) and match f (NULL: no filter), in pre's order (newest seen first by default),
 * skipping the first offset matches and stopping after limit of them (limit <= 0: no
 * limit; cb NULL: only count). *total (when not NULL) receives the number of all
 * matches. 0, or a
 * UPD_STORE_* error. */
int upd__devsel_list(struct srv *s, const upd_device_filter *pre, const upd_filter *f,
                     int64_t offset, int64_t limit, upd_device_cb cb, void *ctx, int64_t *total);

/* How many devices a downgrade of channel name to rel concerns: those that effectively
 * use the channel, of rel's platform, not pinned, running a version newer than rel's
 * (0 for filesystem releases). 0, or a UPD_STORE_* error. */
int upd__devsel_newer(struct srv *s, const char *name, const upd_release_row *rel, int64_t *out);

#endif
