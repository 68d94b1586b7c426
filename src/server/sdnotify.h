/* systemd's service protocol (Type=notify, WatchdogSec=): readiness, reload, stop and
 * watchdog messages to $NOTIFY_SOCKET through libsystemd. Outside systemd (no
 * NOTIFY_SOCKET) every call does nothing. docs/operations.md "systemd". */
#ifndef UPD_SERVER_SDNOTIFY_H
#define UPD_SERVER_SDNOTIFY_H

#include <stdint.h>

/* Send state ("READY=1", "RELOADING=1", "STOPPING=1", "WATCHDOG=1", "STATUS=..."; several
 * separated by newlines). */
void upd__sd_notify(const char *state);

/* The watchdog interval systemd asks for (WatchdogSec=), in microseconds; 0: none. */
uint64_t upd__sd_watchdog_usec(void);

#endif
