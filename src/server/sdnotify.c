/* systemd notifications (sdnotify.h). */
#include <systemd/sd-daemon.h>

#include "sdnotify.h"

void upd__sd_notify(const char *state)
{
    sd_notify(0, state);
}

uint64_t upd__sd_watchdog_usec(void)
{
    uint64_t usec = 0;
    return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}
