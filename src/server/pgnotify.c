/* The notifications' payload (pgnotify.h): written and read here, sent and received by
 * store_pg.c. */
#include <string.h>

#include "pgnotify.h"

#define MAC_LEN    17   /* "AA:BB:CC:DD:EE:FF" */
#define NO_DEVICES " -" /* after the id: no device's row changed */

/* Is s (n bytes) a MAC as upd__parse_mac writes it? */
static int is_mac(const char *s, size_t n)
{
    if (n != MAC_LEN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (i % 3 == 2 ? c != ':' : !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

size_t upd__pgnotify_devices(char *out, size_t cap, const char *id, const char *const *macs,
                             size_t n)
{
    size_t idlen = strlen(id);
    if (!cap)
        return 0;
    if (cap > UPD_PGNOTIFY_CAP)
        cap = UPD_PGNOTIFY_CAP;
    if (idlen >= cap)
        idlen = cap - 1; /* not a payload of this form: cut, it only says "anything" */
    memcpy(out, id, idlen);
    size_t len = idlen;
    for (size_t i = 0; i < n; i++) {
        size_t m = strlen(macs[i]);
        if (!is_mac(macs[i], m) || len + 1 + m >= cap) {
            len = idlen; /* anything may have changed */
            break;
        }
        out[len++] = ' ';
        memcpy(out + len, macs[i], m);
        len += m;
    }
    out[len] = '\0';
    return len;
}

size_t upd__pgnotify_no_devices(char *out, size_t cap, const char *id)
{
    size_t idlen = strlen(id), n = idlen + strlen(NO_DEVICES);
    if (!cap)
        return 0;
    if (cap > UPD_PGNOTIFY_CAP)
        cap = UPD_PGNOTIFY_CAP;
    if (n >= cap) /* anything: the id alone, cut to fit (as upd__pgnotify_devices) */
        return upd__pgnotify_devices(out, cap, id, NULL, 0);
    memcpy(out, id, idlen);
    memcpy(out + idlen, NO_DEVICES, n - idlen + 1);
    return n;
}

int upd__pgnotify_read(const char *payload, const char *self,
                       void (*cb)(void *ctx, const char *mac), void *ctx)
{
    const char *sp = strchr(payload, ' ');
    size_t idlen = sp ? (size_t)(sp - payload) : strlen(payload);
    if (idlen == strlen(self) && !memcmp(payload, self, idlen))
        return UPD_PGNOTIFY_OWN;
    if (!sp || !idlen)
        return UPD_PGNOTIFY_ALL;
    if (!strcmp(sp, NO_DEVICES))
        return UPD_PGNOTIFY_NO_DEVICES;
    /* every MAC is read before any is given: a payload half understood means anything */
    const char *p = sp;
    size_t n = 0;
    while (*p) {
        if (*p != ' ' || !is_mac(p + 1, strcspn(p + 1, " ")))
            return UPD_PGNOTIFY_ALL;
        p += 1 + MAC_LEN;
        n++;
    }
    for (p = sp; *p; p += 1 + MAC_LEN) {
        char mac[MAC_LEN + 1];
        memcpy(mac, p + 1, MAC_LEN);
        mac[MAC_LEN] = '\0';
        cb(ctx, mac);
    }
    return n ? UPD_PGNOTIFY_DEVICES : UPD_PGNOTIFY_ALL;
}
