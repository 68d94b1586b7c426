/* A rollout's target: which devices a rollout is for, as a filter (filter.h,
 * docs/filters.md) compiled once and matched on the device check path. "" and "all"
 * stand for every device (of the release's platform: the rollout adds that). */
#ifndef UPD_SERVER_ROTARGET_H
#define UPD_SERVER_ROTARGET_H

#include <stddef.h>
#include <stdint.h>

#include "filter.h"
#include "store.h"

struct srv;

typedef struct upd_ro_target {
    upd_filter f;
    struct srv *s; /* for the chip of ESP32 devices (chip.h) */
} upd_ro_target;

/* Compile text into t; canon (cap bytes, may be NULL) receives its canonical form
 * ("all" for every device). 0, or -1 with what is wrong and what to do in why. */
int upd__ro_target_compile(const char *text, struct srv *s, upd_ro_target *t, char *canon,
                           size_t cap, char *why, size_t whylen);
/* Does device d (a registry row, or a new device's request facts) belong to t at now_ms?
 * No allocation: called on the device check path. */
int upd__ro_target_match(const upd_ro_target *t, const upd_device_row *d, int64_t now_ms);

#endif
