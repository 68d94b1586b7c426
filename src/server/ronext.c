/* What a rollout waits for (ronext.h): the same order of conditions as the rollout
 * engine's step (rollout.c), without acting on any. */
#include "ronext.h"

#include <string.h>

void upd__ro_next(const upd_rollout_row *row, int nwaves, int window_open, int64_t window_change_ms,
                  int64_t now_ms, upd_ro_next *out)
{
    out->kind = UPD_RONEXT_NONE;
    out->wave = 0;
    out->at_ms = -1;
    int closed = window_open == 0;
    if (!strcmp(row->state, "paused")) {
        out->kind = UPD_RONEXT_PAUSED;
        out->wave = row->wave < nwaves ? row->wave + 1 : 0;
        return;
    }
    if (!strcmp(row->state, "scheduled")) {
        out->wave = 1;
        if (now_ms < row->start_at_ms) {
            out->kind = UPD_RONEXT_START;
            out->at_ms = row->start_at_ms;
        } else if (closed) {
            out->kind = UPD_RONEXT_WINDOW;
            out->at_ms = window_change_ms;
        }
        return;
    }
    if (strcmp(row->state, "running"))
        return;
    if (row->wave == 0) {
        out->wave = 1;
        if (closed) {
            out->kind = UPD_RONEXT_WINDOW;
            out->at_ms = window_change_ms;
        }
        return;
    }
    out->wave = row->wave < nwaves ? row->wave + 1 : 0;
    int64_t soaked = row->wave_opened_ms + row->soak_ms;
    if (now_ms < soaked) {
        out->kind = UPD_RONEXT_SOAK;
        out->at_ms = soaked;
        return;
    }
    /* soaked: results first (the engine's sentence), then the window */
    out->kind = UPD_RONEXT_WAITING;
}

const char *upd__ro_next_name(upd_ro_next_kind k)
{
    static const char *const names[] = {NULL, "start", "soak", "window", "paused", "waiting"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : NULL;
}
