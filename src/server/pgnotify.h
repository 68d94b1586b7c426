/* The payload of the PostgreSQL store's notifications of admin changes (NOTIFY
 * updraft_changed, sent in the change's transaction; every server LISTENs: store.h watch):
 *
 *   "<id>"                   anything may have changed: every cached row goes, the
 *                            device memory too (a change to too many devices to name,
 *                            `updraft db migrate`'s "db-migrate", any change of an
 *                            earlier version)
 *   "<id> -"                 releases, channels or rollouts changed, no device's row
 *                            (devices, device_seen): the read caches go, the device
 *                            memory stays (docs/scaling.md lists the writes of each kind)
 *   "<id> <MAC>[ <MAC>...]"  only the rows of these devices changed (pin, channel, tags,
 *                            retry, a release deleted: with "<id> -" after it) or went
 *                            (deleted): the others stay
 *
 * <id> is the sending server's (letters, digits, '-', '.': store_pg.c), each MAC as
 * upd__parse_mac writes it ("5C:CF:7F:00:00:01"). A server of an earlier version takes
 * any payload but its own id for "anything may have changed" (the one before this reads
 * "<id> -" so too: '-' is not a MAC), and this one reads what it cannot read wholly so
 * too: servers of both versions share a database during a rolling upgrade, each as
 * careful as before. No I/O; any thread. */
#ifndef UPD_SERVER_PGNOTIFY_H
#define UPD_SERVER_PGNOTIFY_H

#include <stddef.h>

/* PostgreSQL's bound on a payload is 8000 bytes; with the NUL, a buffer of this size. */
#define UPD_PGNOTIFY_CAP 8000

/* The payload server id sends for a change to the rows of macs[0..n), into out (cap
 * bytes, UPD_PGNOTIFY_CAP for the longest): the id and the MACs, or the id alone (anything
 * may have changed) when n is 0, a MAC is not in upd__parse_mac's form, or they do not
 * fit (about 440 devices). Its length. */
size_t upd__pgnotify_devices(char *out, size_t cap, const char *id, const char *const *macs,
                             size_t n);

/* The payload server id sends for a change to no device's row ("<id> -"), into out (cap
 * bytes): the id alone (anything) when that does not fit. Its length. */
size_t upd__pgnotify_no_devices(char *out, size_t cap, const char *id);

enum {
    UPD_PGNOTIFY_OWN,        /* the server's own change: its caches know it */
    UPD_PGNOTIFY_ALL,        /* anything may have changed */
    UPD_PGNOTIFY_DEVICES,    /* these devices' rows: cb had each */
    UPD_PGNOTIFY_NO_DEVICES, /* releases, channels or rollouts: no device's row */
};

/* What payload means to server self: UPD_PGNOTIFY_OWN, _ALL, _NO_DEVICES, or _DEVICES
 * after calling cb(ctx, mac) for each MAC it names, in order. A payload not wholly in the
 * forms above is UPD_PGNOTIFY_ALL, and cb is not called. */
int upd__pgnotify_read(const char *payload, const char *self,
                       void (*cb)(void *ctx, const char *mac), void *ctx);

#endif
