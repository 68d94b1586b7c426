/* The payload of the PostgreSQL store's notifications of admin changes (NOTIFY
 * updraft_changed, sent in the change's transaction; every server LISTENs: store.h watch):
 *
 *   "<id>"                   anything may have changed: every cached row goes (release,
 *                            channel and rollout changes, a release deleted, `updraft db
 *                            migrate`'s "db-migrate")
 *   "<id> <MAC>[ <MAC>...]"  only the rows of these devices changed (pin, channel, tags,
 *                            retry) or went (deleted): the others stay
 *
 * <id> is the sending server's (letters, digits, '-', '.': store_pg.c), each MAC as
 * upd__parse_mac writes it ("5C:CF:7F:00:00:01"). A server of the previous version takes
 * any payload but its own id for "anything may have changed", and this one reads what it
 * cannot read wholly so too: servers of both versions share a database during a rolling
 * upgrade, each as careful as before. No I/O; any thread. */
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

enum {
    UPD_PGNOTIFY_OWN,     /* the server's own change: its caches know it */
    UPD_PGNOTIFY_ALL,     /* anything may have changed */
    UPD_PGNOTIFY_DEVICES, /* these devices' rows: cb had each */
};

/* What payload means to server self: UPD_PGNOTIFY_OWN, _ALL, or _DEVICES after calling
 * cb(ctx, mac) for each MAC it names, in order. A payload not wholly in the forms above
 * is UPD_PGNOTIFY_ALL, and cb is not called. */
int upd__pgnotify_read(const char *payload, const char *self,
                       void (*cb)(void *ctx, const char *mac), void *ctx);

#endif
