/* The device memory's table and rules (src/server/devmem.c): records round-trip every
 * field a check reads; thousands of devices put, replaced and dropped in a random order
 * agree with a plain array at every step (the table grows and shifts entries back on
 * deletion); the bound; a drop makes a read and a batch's record of its device (or of its
 * group) from before it not count, and leaves the other devices' be; a clear, every one;
 * the rows check-in and download records leave. That the server follows the database with
 * it is tested black-box (test_devmem.py) and by the debug builds' check of each answer. */
#include <stdlib.h>
#include <string.h>

#include "devmem.h"
#include "upd_test.h"

static void mac_of(unsigned i, char out[UPD_MAC_STR])
{
    snprintf(out, UPD_MAC_STR, "5C:CF:%02X:%02X:%02X:%02X", (i >> 24) & 255, (i >> 16) & 255,
             (i >> 8) & 255, i & 255);
}

static void row_of(unsigned i, int64_t v, upd_device_row *r)
{
    memset(r, 0, sizeof *r);
    r->sketch_size = r->free_space = r->chip_size = -1;
    mac_of(i, r->mac);
    strcpy(r->family, i % 3 ? "esp8266" : "esp32");
    snprintf(r->version, sizeof r->version, "1.%u.%lld", i, (long long)v);
    if (i % 2)
        strcpy(r->sketch_md5, "0123456789abcdef0123456789abcdef");
    if (i % 5 == 0)
        memset(r->sketch_sha256, 'e', 64);
    r->last_seen_ms = 1765000000000 + v;
    if (i % 7 == 0)
        strcpy(r->channel, "beta");
    r->pin_release = i % 11 == 0 ? 3 : 0;
    r->offered_release = (int64_t)(i % 4);
    r->running_release = v;
    r->hold_release = i % 13 == 0 ? 2 : 0;
    r->hold_failures = i % 13 == 0 ? 1 : 0;
    r->hold_until_ms = i % 13 == 0 ? 1765000000999 : 0;
    if (i % 17 == 0)
        strcpy(r->tool, "sim");
    if (i % 19 == 0)
        strcpy(r->url_channel, "lab");
    if (i % 6 == 0)
        strcpy(r->tags, "attic,kitchen");
}

static void put_one(upd_devmem *m, const upd_device_row *r)
{
    upd_devmem_rec *rec = upd__devmem_make(r);
    CHECK(rec != NULL);
    upd__devmem_note(m, rec);
    upd__devmem_put(m, &rec, 1);
}

static void test_roundtrip(void)
{
    upd_devmem *m = upd__devmem_new(10);
    upd_device_row in, out;
    row_of(5, 7, &in);
    strcpy(in.version, "a version of 255 bytes");
    memset(in.tags, 'x', 255);
    in.tags[255] = '\0';
    put_one(m, &in);
    CHECK_INT(upd__devmem_get(m, in.mac, &out), ==, 0);
    const char *what = "";
    CHECK(upd__devmem_same(&in, &out, &what));
    CHECK(what == NULL);
    CHECK_INT(out.sketch_size, ==, -1);
    CHECK_STR(out.ip, "");
    /* a field a record does not hold is not compared; one it holds is */
    out.free_space = 5;
    CHECK(upd__devmem_same(&in, &out, &what));
    out.hold_until_ms++;
    CHECK(!upd__devmem_same(&in, &out, &what));
    CHECK_STR(what, "hold_until_ms");
    /* what it cannot hold is refused, never changed */
    upd_device_row odd = in;
    strcpy(odd.sketch_md5, "0123456789ABCDEF0123456789ABCDEF");
    CHECK(upd__devmem_make(&odd) == NULL);
    odd = in;
    strcpy(odd.mac, "5c:cf:00:00:00:05");
    CHECK(upd__devmem_make(&odd) == NULL);
    CHECK_INT(upd__devmem_get(m, "5C:CF:00:00:00:06", &out), ==, UPD_STORE_ENOTFOUND);
    CHECK_INT(upd__devmem_get(m, "not a mac", &out), ==, UPD_STORE_ENOTFOUND);
    upd__devmem_free(m);
}

static void test_random(void)
{
    enum { N = 5000, STEPS = 60000 };
    upd_devmem *m = upd__devmem_new(N);
    int64_t *ref = calloc(N, sizeof *ref); /* 0: not held, else the row's v */
    unsigned seed = 12345;
    int held = 0, bad = 0;
    for (int step = 0; step < STEPS && !bad; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned i = (seed >> 8) % N, op = (seed >> 4) % 8;
        upd_device_row r;
        char mac[UPD_MAC_STR];
        mac_of(i, mac);
        if (op < 5) { /* put (new or replacing) */
            row_of(i, step + 1, &r);
            put_one(m, &r);
            held += !ref[i];
            ref[i] = step + 1;
        } else if (op < 7) {
            upd__devmem_drop(m, mac);
            held -= !!ref[i];
            ref[i] = 0;
        } else {
            int rc = upd__devmem_get(m, mac, &r);
            upd_device_row want;
            const char *what;
            if (ref[i]) {
                row_of(i, ref[i], &want);
                bad |= rc != 0 || !upd__devmem_same(&r, &want, &what);
            } else
                bad |= rc != UPD_STORE_ENOTFOUND;
        }
    }
    CHECK(!bad);
    /* at the end every device agrees */
    for (unsigned i = 0; i < N; i++) {
        upd_device_row r, want;
        char mac[UPD_MAC_STR];
        const char *what;
        mac_of(i, mac);
        int rc = upd__devmem_get(m, mac, &r);
        if (ref[i]) {
            row_of(i, ref[i], &want);
            bad |= rc != 0 || !upd__devmem_same(&r, &want, &what);
        } else
            bad |= rc != UPD_STORE_ENOTFOUND;
    }
    CHECK(!bad);
    upd_devmem_stats st;
    upd__devmem_stats(m, &st);
    CHECK_INT(st.devices, ==, held);
    CHECK_INT(st.full, ==, 0);
    CHECK(st.bytes > st.devices * 100 && st.bytes < st.devices * 400 + 200000);
    upd__devmem_clear(m);
    upd__devmem_stats(m, &st);
    CHECK_INT(st.devices, ==, 0);
    free(ref);
    upd__devmem_free(m);
}

static void test_bound_and_drop(void)
{
    upd_devmem *m = upd__devmem_new(3);
    upd_device_row r;
    for (unsigned i = 0; i < 5; i++) {
        row_of(i, 1, &r);
        put_one(m, &r);
    }
    upd_devmem_stats st;
    upd__devmem_stats(m, &st);
    CHECK_INT(st.devices, ==, 3);
    CHECK_INT(st.full, ==, 2);
    row_of(2, 9, &r); /* a device held is replaced even when full */
    put_one(m, &r);
    upd_device_row out;
    CHECK_INT(upd__devmem_get(m, r.mac, &out), ==, 0);
    CHECK_INT(out.running_release, ==, 9);

    /* a row read before a drop of its device is not kept; one read after is, unless
     * held already */
    upd__devmem_drop(m, r.mac);
    CHECK_INT(upd__devmem_get(m, r.mac, &out), ==, UPD_STORE_ENOTFOUND);
    uint32_t k = upd__devmem_mark(m, r.mac);
    upd__devmem_drop(m, r.mac);
    CHECK(upd__devmem_mark(m, r.mac) != k);
    row_of(2, 10, &r);
    upd__devmem_fill(m, &r, k);
    CHECK_INT(upd__devmem_get(m, r.mac, &out), ==, UPD_STORE_ENOTFOUND);
    upd__devmem_fill(m, &r, upd__devmem_mark(m, r.mac));
    CHECK_INT(upd__devmem_get(m, r.mac, &out), ==, 0);
    row_of(2, 11, &r);
    upd__devmem_fill(m, &r, upd__devmem_mark(m, r.mac));
    CHECK_INT(upd__devmem_get(m, r.mac, &out), ==, 0);
    CHECK_INT(out.running_release, ==, 10);

    /* a batch's record noted before a drop of its device: the device is dropped, not put
     * (and stays dropped when the drop came after the put) */
    row_of(2, 12, &r);
    upd_devmem_rec *rec = upd__devmem_make(&r);
    upd__devmem_note(m, rec);
    upd__devmem_drop(m, r.mac);
    upd__devmem_put(m, &rec, 1);
    CHECK_INT(upd__devmem_get(m, r.mac, &out), ==, UPD_STORE_ENOTFOUND);
    rec = upd__devmem_make(&r);
    upd__devmem_note(m, rec);
    upd__devmem_put(m, &rec, 1);
    CHECK_INT(upd__devmem_get(m, r.mac, &out), ==, 0);
    upd__devmem_drop(m, r.mac);
    CHECK_INT(upd__devmem_get(m, r.mac, &out), ==, UPD_STORE_ENOTFOUND);

    /* a clear: no row read and no record noted before it is kept, whatever the device */
    upd_device_row r3, r4;
    row_of(3, 1, &r3);
    row_of(4, 1, &r4);
    k = upd__devmem_mark(m, r3.mac);
    rec = upd__devmem_make(&r4);
    upd__devmem_note(m, rec);
    upd__devmem_clear(m);
    upd__devmem_fill(m, &r3, k);
    upd__devmem_put(m, &rec, 1);
    CHECK_INT(upd__devmem_get(m, r3.mac, &out), ==, UPD_STORE_ENOTFOUND);
    CHECK_INT(upd__devmem_get(m, r4.mac, &out), ==, UPD_STORE_ENOTFOUND);
    upd__devmem_free(m);
}

/* Without a drop the marks are not even made: with one server and no admin write, the
 * memory is its table (updraft_device_memory_bytes); the first drop adds them. */
static void test_marks_made_at_first_drop(void)
{
    upd_devmem *m = upd__devmem_new(10);
    upd_device_row r;
    row_of(1, 1, &r);
    put_one(m, &r);
    upd_devmem_stats a, b;
    upd__devmem_stats(m, &a);
    upd__devmem_clear(m);
    put_one(m, &r);
    upd__devmem_stats(m, &b);
    CHECK_INT(b.bytes, ==, a.bytes);
    upd__devmem_drop(m, r.mac);
    upd__devmem_stats(m, &b);
    CHECK(b.bytes >= a.bytes + 65536 * 4 - 1024); /* less the record */
    upd__devmem_free(m);
}

/* A device written (upd__devmem_drop: an admin write here or on another server, another
 * server's batch): a row read or a record noted before is not kept for the devices of its
 * group, and is for the others (what the drop costs the batches in flight). */
static void test_groups(void)
{
    upd_devmem *m = upd__devmem_new(100);
    upd_device_row r, out;
    row_of(1, 1, &r);
    /* a device of another group than device 1's */
    char other[32] = "";
    for (unsigned i = 2; i < 100 && !other[0]; i++) {
        upd_device_row o;
        row_of(i, 1, &o);
        uint32_t before = upd__devmem_mark(m, r.mac);
        upd__devmem_drop(m, o.mac);
        if (upd__devmem_mark(m, r.mac) == before)
            strcpy(other, o.mac);
    }
    CHECK(other[0] != '\0');

    /* a check's read before a drop of its group: not kept; of another group: kept */
    uint32_t k = upd__devmem_mark(m, r.mac);
    upd__devmem_drop(m, r.mac);
    upd__devmem_fill(m, &r, k);
    CHECK_INT(upd__devmem_get(m, r.mac, &out), ==, UPD_STORE_ENOTFOUND);
    k = upd__devmem_mark(m, r.mac);
    upd__devmem_drop(m, other);
    upd__devmem_fill(m, &r, k);
    CHECK_INT(upd__devmem_get(m, r.mac, &out), ==, 0);

    /* a batch's record noted before a drop of another group: put (a drop does not cost
     * every batch in flight its rows); of its group: the device goes */
    row_of(1, 5, &r);
    upd_devmem_rec *rec = upd__devmem_make(&r);
    upd__devmem_note(m, rec);
    upd__devmem_drop(m, other);
    upd__devmem_put(m, &rec, 1);
    CHECK_INT(upd__devmem_get(m, r.mac, &out), ==, 0);
    CHECK_INT(out.running_release, ==, 5);
    row_of(1, 6, &r);
    rec = upd__devmem_make(&r);
    upd__devmem_note(m, rec);
    upd__devmem_drop(m, r.mac);
    upd__devmem_fill(m, &r, upd__devmem_mark(m, r.mac)); /* nothing: another row came */
    upd__devmem_put(m, &rec, 1);
    CHECK_INT(upd__devmem_get(m, r.mac, &out), ==, UPD_STORE_ENOTFOUND);
    upd__devmem_free(m);
}

static void test_rules(void)
{
    upd_device_row old, out;
    row_of(1, 4, &old); /* esp8266, md5, offered 1, running 4 */
    upd_record *rec = calloc(1, sizeof *rec);
    upd_plan p;
    memset(&p, 0, sizeof p);
    rec->type = UPD_REC_CHECKIN;
    rec->at_ms = old.last_seen_ms - 5; /* an older record: last_seen stays */
    strcpy(rec->dev.mac, old.mac);
    strcpy(rec->dev.version, "2.0.0");
    strcpy(rec->dev.url_channel, "");
    upd__devmem_after_checkin(&old, rec, &p, &out);
    CHECK_STR(out.version, "2.0.0");
    CHECK_STR(out.family, "esp8266"); /* not said: kept */
    CHECK_STR(out.sketch_md5, old.sketch_md5);
    CHECK_INT(out.last_seen_ms, ==, old.last_seen_ms);
    /* facts known: only the time moves (the URL channel is part of the facts) */
    p.facts_known = 1;
    rec->at_ms = old.last_seen_ms + 5;
    strcpy(rec->dev.version, "9.9.9");
    upd__devmem_after_checkin(&old, rec, &p, &out);
    CHECK_STR(out.version, old.version);
    CHECK_INT(out.last_seen_ms, ==, old.last_seen_ms + 5);
    /* updated closes the offer; a new offer; a hold */
    memset(&p, 0, sizeof p);
    p.updated = 1;
    p.open_offer = 1;
    rec->release_id = 6;
    p.set_hold = 1;
    p.hold_release = 1;
    p.hold_failures = 2;
    p.hold_until_ms = 77;
    upd__devmem_after_checkin(&old, rec, &p, &out);
    CHECK_INT(out.running_release, ==, 1);
    CHECK_INT(out.offered_release, ==, 6);
    CHECK_INT(out.hold_release, ==, 1);
    CHECK_INT(out.hold_failures, ==, 2);
    CHECK_INT(out.hold_until_ms, ==, 77);
    /* a new device takes the request's facts, a tool's mark, the URL's channel */
    memset(&p, 0, sizeof p);
    p.set_running = 1;
    rec->release_id = 3;
    strcpy(rec->dev.family, "esp32");
    strcpy(rec->dev.tool, "sim");
    strcpy(rec->dev.url_channel, "lab");
    upd__devmem_after_checkin(NULL, rec, &p, &out);
    CHECK_STR(out.mac, old.mac);
    CHECK_STR(out.family, "esp32");
    CHECK_STR(out.tool, "sim");
    CHECK_STR(out.url_channel, "lab");
    CHECK_STR(out.channel, "");
    CHECK_INT(out.running_release, ==, 3);
    CHECK_INT(out.pin_release, ==, 0);
    CHECK_INT(out.last_seen_ms, ==, rec->at_ms);
    /* an existing device: the tool's mark stays when the request names none, the URL's
     * channel is always the request's */
    strcpy(old.tool, "doctor");
    strcpy(old.url_channel, "lab");
    rec->dev.tool[0] = rec->dev.url_channel[0] = '\0';
    memset(&p, 0, sizeof p);
    upd__devmem_after_checkin(&old, rec, &p, &out);
    CHECK_STR(out.tool, "doctor");
    CHECK_STR(out.url_channel, "");
    /* a download: the row as read after it, and the hold */
    memset(&p, 0, sizeof p);
    p.set_hold = 1;
    p.hold_release = 0;
    upd__devmem_after_download(&old, &p, &out);
    CHECK_INT(out.hold_release, ==, 0);
    CHECK_INT(out.running_release, ==, old.running_release);
    free(rec);
}

int main(void)
{
    RUN(test_roundtrip);
    RUN(test_random);
    RUN(test_bound_and_drop);
    RUN(test_marks_made_at_first_drop);
    RUN(test_groups);
    RUN(test_rules);
    return upd_test_summary();
}
