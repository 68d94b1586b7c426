/* Log lines by kind, at most one per kind per interval. A client that opens and drops
 * connections in a loop made libmicrohttpd log each one (33,503 lines in one run); a
 * blocked log (a full stderr pipe) then stalled the thread that serves devices. The first
 * line of a kind goes out at once; the ones after it within UPD_LOG_INTERVAL_MS are
 * counted, and the count rides on the next line of that kind. */
#include <string.h>

#include "srv.h"

void upd__lograte_init(upd_lograte *lr, int64_t interval_ms)
{
    memset(lr, 0, sizeof *lr);
    lr->interval_ms = interval_ms;
    pthread_mutex_init(&lr->mu, NULL);
}

void upd__lograte_free(upd_lograte *lr)
{
    pthread_mutex_destroy(&lr->mu);
}

int upd__lograte_allow(upd_lograte *lr, const void *kind, int64_t now_ms, unsigned long *dropped)
{
    *dropped = 0;
    pthread_mutex_lock(&lr->mu);
    upd_lograte_slot *slot = NULL, *oldest = &lr->slot[0];
    for (size_t i = 0; i < UPD_LOGRATE_KINDS; i++) {
        if (lr->slot[i].kind == kind) {
            slot = &lr->slot[i];
            break;
        }
        if (lr->slot[i].last_ms < oldest->last_ms)
            oldest = &lr->slot[i];
    }
    int allow = 1;
    if (!slot) { /* a new kind takes the slot used longest ago */
        slot = oldest;
        slot->kind = kind;
        slot->dropped = 0;
    } else if (now_ms - slot->last_ms < lr->interval_ms) {
        slot->dropped++;
        allow = 0;
    }
    if (allow) {
        *dropped = slot->dropped;
        slot->dropped = 0;
        slot->last_ms = now_ms;
    }
    pthread_mutex_unlock(&lr->mu);
    return allow;
}
