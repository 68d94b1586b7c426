/* The payload of the PostgreSQL store's notifications (src/server/pgnotify.c): what a
 * server sends for a change to some devices' rows and for one to no device's row, and
 * what a server makes of every payload, its own, another's, an earlier version's ("<id>"
 * alone), `updraft db migrate`'s, and ones it cannot read wholly; and what the previous
 * version's reader (kept here as it was) makes of this one's. That two servers act on
 * them is tested black-box (test_devsync.py, pg.devsync.admin and pg.devsync.fleet). */
#include <string.h>

#include "pgnotify.h"
#include "upd_test.h"

typedef struct seen {
    char macs[8][18];
    int n;
} seen;

static void got(void *ctx, const char *mac)
{
    seen *s = ctx;
    if (s->n < 8)
        strcpy(s->macs[s->n], mac);
    s->n++;
}

static int read_as(const char *payload, const char *self, seen *s)
{
    memset(s, 0, sizeof *s);
    return upd__pgnotify_read(payload, self, got, s);
}

static void test_write(void)
{
    char out[UPD_PGNOTIFY_CAP];
    const char *one[] = {"5C:CF:7F:00:00:01"};
    CHECK_INT(upd__pgnotify_devices(out, sizeof out, "host-1-17", one, 1), ==, 27);
    CHECK_STR(out, "host-1-17 5C:CF:7F:00:00:01");
    const char *two[] = {"5C:CF:7F:00:00:01", "A4:CF:12:AB:CD:EF"};
    upd__pgnotify_devices(out, sizeof out, "h", two, 2);
    CHECK_STR(out, "h 5C:CF:7F:00:00:01 A4:CF:12:AB:CD:EF");
    /* none, or a MAC not in the canonical form: the id alone (anything) */
    upd__pgnotify_devices(out, sizeof out, "h", two, 0);
    CHECK_STR(out, "h");
    const char *odd[] = {"5C:CF:7F:00:00:01", "5c:cf:7f:00:00:02"};
    upd__pgnotify_devices(out, sizeof out, "h", odd, 2);
    CHECK_STR(out, "h");
    const char *quote[] = {"5C:CF:7F:00:00:0'"};
    upd__pgnotify_devices(out, sizeof out, "h", quote, 1);
    CHECK_STR(out, "h");
    /* as many as fit in PostgreSQL's 8000 bytes; one more: the id alone */
    static char macs[500][18];
    const char *ptr[500];
    for (int i = 0; i < 500; i++) {
        snprintf(macs[i], sizeof macs[i], "5C:CF:7F:00:%02X:%02X", i >> 8, i & 255);
        ptr[i] = macs[i];
    }
    const char *id = "a-host-name.example-12345-1765000000123456789";
    size_t fit = (UPD_PGNOTIFY_CAP - 1 - strlen(id)) / 18;
    size_t len = upd__pgnotify_devices(out, sizeof out, id, ptr, fit);
    CHECK_INT(len, ==, strlen(id) + 18 * fit);
    CHECK(len < UPD_PGNOTIFY_CAP);
    seen s;
    CHECK_INT(read_as(out, "b", &s), ==, UPD_PGNOTIFY_DEVICES);
    CHECK_INT(s.n, ==, (int)fit);
    CHECK_STR(s.macs[7], macs[7]);
    CHECK_INT(upd__pgnotify_devices(out, sizeof out, id, ptr, fit + 1), ==, strlen(id));
    CHECK_STR(out, id);
    /* a smaller buffer bounds it too: what does not fit makes it the id alone */
    char small[30];
    upd__pgnotify_devices(small, sizeof small, "h", two, 1);
    CHECK_STR(small, "h 5C:CF:7F:00:00:01");
    upd__pgnotify_devices(small, sizeof small, "h", two, 2);
    CHECK_STR(small, "h");
}

static void test_no_devices(void)
{
    char out[UPD_PGNOTIFY_CAP];
    CHECK_INT(upd__pgnotify_no_devices(out, sizeof out, "host-1-17"), ==, 11);
    CHECK_STR(out, "host-1-17 -");
    seen s;
    CHECK_INT(read_as(out, "b-3-4", &s), ==, UPD_PGNOTIFY_NO_DEVICES);
    CHECK_INT(s.n, ==, 0);
    /* its own: nothing */
    CHECK_INT(read_as(out, "host-1-17", &s), ==, UPD_PGNOTIFY_OWN);
    /* a buffer too small for it: the id alone (anything), or as much of it as fits */
    char small[12];
    CHECK_INT(upd__pgnotify_no_devices(small, sizeof small, "host-1-17"), ==, 11);
    CHECK_STR(small, "host-1-17 -");
    CHECK_INT(upd__pgnotify_no_devices(small, 11, "host-1-17"), ==, 9);
    CHECK_STR(small, "host-1-17");
    CHECK_INT(read_as(small, "b-3-4", &s), ==, UPD_PGNOTIFY_ALL);
    /* '-' with anything more, or in another place: not this form, so anything */
    const char *odd[] = {
        "a-1-2 - ",
        "a-1-2 -- ",
        "a-1-2 --",
        "a-1-2  -",
        "a-1-2 - 5C:CF:7F:00:00:01",
        "a-1-2 5C:CF:7F:00:00:01 -",
        " -",
        "a-1-2 +",
        "a-1-2 _",
    };
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        CHECK_INT(read_as(odd[i], "b-3-4", &s), ==, UPD_PGNOTIFY_ALL);
        CHECK_INT(s.n, ==, 0);
    }
}

/* The reader of the previous version (d9e7885's upd__pgnotify_read, as it was), to show
 * what a server not yet upgraded makes of this version's payloads during a rolling
 * upgrade. */
static int is_mac_prev(const char *s, size_t n)
{
    if (n != 17)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (i % 3 == 2 ? c != ':' : !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

static int read_prev(const char *payload, const char *self, seen *s)
{
    memset(s, 0, sizeof *s);
    const char *sp = strchr(payload, ' ');
    size_t idlen = sp ? (size_t)(sp - payload) : strlen(payload);
    if (idlen == strlen(self) && !memcmp(payload, self, idlen))
        return UPD_PGNOTIFY_OWN;
    if (!sp || !idlen)
        return UPD_PGNOTIFY_ALL;
    const char *p = sp;
    size_t n = 0;
    while (*p) {
        if (*p != ' ' || !is_mac_prev(p + 1, strcspn(p + 1, " ")))
            return UPD_PGNOTIFY_ALL;
        p += 18;
        n++;
    }
    for (p = sp; *p; p += 18) {
        char mac[18];
        memcpy(mac, p + 1, 17);
        mac[17] = '\0';
        got(s, mac);
    }
    return n ? UPD_PGNOTIFY_DEVICES : UPD_PGNOTIFY_ALL;
}

static void test_rolling_upgrade(void)
{
    char out[UPD_PGNOTIFY_CAP];
    seen s;
    /* this version's "no device's row", read by the previous one: anything (it drops
     * more than it needs to, never less), and its own is still its own */
    upd__pgnotify_no_devices(out, sizeof out, "a-1-2");
    CHECK_INT(read_prev(out, "b-3-4", &s), ==, UPD_PGNOTIFY_ALL);
    CHECK_INT(s.n, ==, 0);
    CHECK_INT(read_prev(out, "a-1-2", &s), ==, UPD_PGNOTIFY_OWN);
    /* the devices and the id alone: as both versions read them */
    const char *one[] = {"5C:CF:7F:00:00:01"};
    upd__pgnotify_devices(out, sizeof out, "a-1-2", one, 1);
    CHECK_INT(read_prev(out, "b-3-4", &s), ==, UPD_PGNOTIFY_DEVICES);
    CHECK_INT(read_as(out, "b-3-4", &s), ==, UPD_PGNOTIFY_DEVICES);
    CHECK_INT(read_prev("a-1-2", "b-3-4", &s), ==, UPD_PGNOTIFY_ALL);
    CHECK_INT(read_as("a-1-2", "b-3-4", &s), ==, UPD_PGNOTIFY_ALL);
}

static void test_read(void)
{
    seen s;
    /* another server's device change: its MACs, in order */
    CHECK_INT(read_as("a-1-2 5C:CF:7F:00:00:01 A4:CF:12:AB:CD:EF", "b-3-4", &s), ==,
              UPD_PGNOTIFY_DEVICES);
    CHECK_INT(s.n, ==, 2);
    CHECK_STR(s.macs[0], "5C:CF:7F:00:00:01");
    CHECK_STR(s.macs[1], "A4:CF:12:AB:CD:EF");
    /* its own, in either form: nothing */
    CHECK_INT(read_as("b-3-4 5C:CF:7F:00:00:01", "b-3-4", &s), ==, UPD_PGNOTIFY_OWN);
    CHECK_INT(read_as("b-3-4", "b-3-4", &s), ==, UPD_PGNOTIFY_OWN);
    CHECK_INT(s.n, ==, 0);
    /* an id that begins like ours is another's */
    CHECK_INT(read_as("b-3-45 5C:CF:7F:00:00:01", "b-3-4", &s), ==, UPD_PGNOTIFY_DEVICES);
    CHECK_INT(read_as("b-3", "b-3-4", &s), ==, UPD_PGNOTIFY_ALL);
    /* the id alone (a whole-fleet change, or any change of an earlier version), and
     * `updraft db migrate`'s: everything */
    CHECK_INT(read_as("a-1-2", "b-3-4", &s), ==, UPD_PGNOTIFY_ALL);
    CHECK_INT(read_as("db-migrate", "b-3-4", &s), ==, UPD_PGNOTIFY_ALL);
    CHECK_INT(read_as("", "b-3-4", &s), ==, UPD_PGNOTIFY_ALL);
    /* what is not wholly a list of MACs: everything, and no MAC given */
    const char *odd[] = {
        "a-1-2 ",
        "a-1-2 5C:CF:7F:00:00:01 ",
        "a-1-2  5C:CF:7F:00:00:01",
        "a-1-2 5C:CF:7F:00:00:01 releases",
        "a-1-2 5c:cf:7f:00:00:01",
        "a-1-2 5C:CF:7F:00:00:011",
        "a-1-2 5C:CF:7F:00:00",
        "a-1-2 5C-CF-7F-00-00-01",
        " 5C:CF:7F:00:00:01",
    };
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        CHECK_INT(read_as(odd[i], "b-3-4", &s), ==, UPD_PGNOTIFY_ALL);
        CHECK_INT(s.n, ==, 0);
    }
}

int main(void)
{
    RUN(test_write);
    RUN(test_read);
    RUN(test_no_devices);
    RUN(test_rolling_upgrade);
    return upd_test_summary();
}
