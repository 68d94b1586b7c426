/* One page of the device listing (GET /api/v1/devices, the dashboard's Devices table,
 * `updraft device list`): its order, including version order (updraft's version
 * comparison, the one upgrades use: 1.10.0 after 1.9.0), and its paging, by offset or by
 * an opaque keyset cursor (`after`: the `next` of the page before), which costs the same
 * on page 1000 as on page 1. Selection by devsel.h; every order reads from an index
 * (store migration 16), version order one version at a time. */
#ifndef UPD_SERVER_DEVPAGE_H
#define UPD_SERVER_DEVPAGE_H

#include <stddef.h>
#include <stdint.h>

#include "filter.h"
#include "store.h"

struct srv;

/* Sorts: the store's orders (UPD_ORDER_*), then version order. */
enum { UPD_DEVPAGE_VERSION = UPD_ORDER_COUNT, UPD_DEVPAGE_VERSION_DESC, UPD_DEVPAGE_SORTS };

#define UPD_DEVPAGE_CURSOR 192 /* a cursor's text, with its NUL */

/* The sort named text ("-last_seen" (the default, also for NULL or ""), "last_seen",
 * "mac", "-mac", "-first_seen", "first_seen", "version", "-version"), or -1. */
int upd__devpage_sort(const char *text);

/* The name of sort (upd__devpage_sort's words). */
const char *upd__devpage_sort_name(int sort);

/* The sort whose listing answered text as its next cursor, or -1 when text is not a
 * cursor (a refused `after` says which sort it belongs to: docs/api.md). */
int upd__devpage_cursor_sort(const char *text);

typedef struct upd_devpage {
    const upd_device_filter *pre; /* the plain selection (its order, limit, offset unused) */
    const upd_filter *f;          /* NULL: none */
    int sort;                     /* UPD_ORDER_* or UPD_DEVPAGE_VERSION[_DESC] */
    int64_t offset;               /* rows to skip (not with after) */
    int64_t limit;                /* rows on the page, >= 1 */
    const char *after;            /* NULL, or the cursor a page answered as next */
} upd_devpage;

/* Call cb for the devices of page p (at most p->limit), put the number of all the devices
 * p selects in *total and, when more follow the page, the cursor of the next page in next
 * (else ""). 0; a UPD_STORE_* error; or -1 when p->after is not a cursor of this listing
 * (a sentence in err that says what to do). */
int upd__devpage_list(struct srv *s, const upd_devpage *p, upd_device_cb cb, void *ctx,
                      int64_t *total, char next[UPD_DEVPAGE_CURSOR], char *err, size_t errlen);

#endif
