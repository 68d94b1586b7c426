/* A rollout's delivery window (docs/rollouts.md "Delivery windows"): the hours of the day,
 * on the wall clock of a time zone (tzone.h), in which its waves open and its release is
 * offered. "02:00-05:00"; "22:00-04:00" crosses midnight. The wall clock decides: on the
 * night the clocks go forward a window that spans the skipped hour is that much shorter,
 * on the night they go back that much longer. */
#ifndef UPD_SERVER_ROWINDOW_H
#define UPD_SERVER_ROWINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "tzone.h"

typedef struct upd_window {
    int start, end; /* minutes of the local day: start in 0..1439, end in 0..1440, != start */
} upd_window;

/* Parse "HH:MM-HH:MM" (end 24:00 allowed) into w, normalised into norm (cap bytes,
 * "02:00-05:00"). 0, or -1 with why. */
int upd__window_parse(const char *s, upd_window *w, char *norm, size_t cap, char *why,
                      size_t whylen);

/* Is UTC instant t (seconds) inside w on the wall clock of tz (NULL: UTC)? */
int upd__window_contains(const upd_window *w, const upd_tzone *tz, int64_t t);

/* The first instant at or after t (seconds, to the minute) at which w is open (want 1) or
 * closed (want 0); -1 when there is none within 8 days. */
int64_t upd__window_next(const upd_window *w, const upd_tzone *tz, int64_t t, int want);

#endif
