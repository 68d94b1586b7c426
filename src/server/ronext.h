/* What a rollout waits for, as data (the rollout page's "Next", GET /api/v1/rollouts/<id>
 * "next_kind" and "next_at"): computed from the rollout's row and its window now, so
 * every server on one database answers the same, not only the one that opens the waves
 * (docs/rollouts.md). The engine's sentence (rollout.c e->next) says the rest. */
#ifndef UPD_SERVER_RONEXT_H
#define UPD_SERVER_RONEXT_H

#include <stdint.h>

#include "store.h"

typedef enum upd_ro_next_kind {
    UPD_RONEXT_NONE,    /* over (completed, aborted) or nothing known */
    UPD_RONEXT_START,   /* scheduled: wave 1 opens at at_ms (start_at) */
    UPD_RONEXT_SOAK,    /* wave `wave` soaks: wave + 1 may open at at_ms */
    UPD_RONEXT_WINDOW,  /* a wave is due but the delivery window is closed: it opens at at_ms
                         * (-1: no opening within 8 days) */
    UPD_RONEXT_PAUSED,  /* paused: nothing opens until someone resumes it */
    UPD_RONEXT_WAITING, /* soaked; waits for results (--min-success, --min-sample, the last
                         * wave's devices): the engine's sentence says which */
} upd_ro_next_kind;

typedef struct upd_ro_next {
    upd_ro_next_kind kind;
    int wave;      /* the wave that opens next (1-based), 0 none */
    int64_t at_ms; /* when (START, SOAK, WINDOW), else -1 */
} upd_ro_next;

/* What row (nwaves waves; its window open now or not: window_open 1 open or none, 0
 * closed, window_change_ms when that changes, -1 never/unknown) waits for at now_ms. */
void upd__ro_next(const upd_rollout_row *row, int nwaves, int window_open, int64_t window_change_ms,
                  int64_t now_ms, upd_ro_next *out);

/* "start", "soak", "window", "paused", "waiting"; NULL for UPD_RONEXT_NONE. */
const char *upd__ro_next_name(upd_ro_next_kind k);

#endif
