/* A rollout's target: which devices a rollout is for, as a compiled filter. Until the
 * fleet filter module (filter.h) lands, the only target is every device of the
 * release's platform ("" or "all"). */
#ifndef UPD_SERVER_ROTARGET_H
#define UPD_SERVER_ROTARGET_H

#include <stddef.h>

#include "store.h"

typedef struct upd_ro_target {
    int all;
} upd_ro_target;

/* Compile text into t: 0, or -1 with what is wrong and what to do in why. */
int upd__ro_target_compile(const char *text, upd_ro_target *t, char *why, size_t whylen);
/* Does device d (a registry row, or a new device's request facts) belong to t? Cheap:
 * called on the device check path. */
int upd__ro_target_match(const upd_ro_target *t, const upd_device_row *d);

#endif
