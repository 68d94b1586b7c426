/* The failed-authentication limit (src/server/authlimit.c) on a fake clock: the free
 * failures, the doubling delay and its cap, what a success and a quiet quarter of an hour
 * forget, IPv6 counted per /64, a full table, the counters. (tests/server/test_tokens.py
 * checks the same through the real server, from 127.0.0.1 only.) */
#include <stdio.h>

#include "authlimit.h"
#include "upd_test.h"

#define T0  (1800000000000LL)
#define SEC (1000LL)

/* Fail n times at now; the last answer. */
static unsigned fail_sc(upd_authlimit *l, const char *ip, const char *scope, int n, int64_t now)
{
    unsigned w = 0;
    for (int i = 0; i < n; i++)
        w = upd_authlimit_fail(l, ip, scope, now);
    return w;
}

static unsigned fail_n(upd_authlimit *l, const char *ip, int n, int64_t now)
{
    return fail_sc(l, ip, NULL, n, now);
}

static void test_free_then_doubling(void)
{
    upd_authlimit *l = upd_authlimit_new("test");
    CHECK_INT(upd_authlimit_check(l, "10.0.0.1", NULL, T0), ==, 0);
    CHECK_INT(fail_n(l, "10.0.0.1", UPD_AUTHLIMIT_FREE, T0), ==, 0);
    CHECK_INT(upd_authlimit_check(l, "10.0.0.1", NULL, T0), ==, 0);
    CHECK_INT(upd_authlimit_fail(l, "10.0.0.1", NULL, T0), ==, 1);
    CHECK_INT(upd_authlimit_check(l, "10.0.0.1", NULL, T0 + 500), ==, 1);
    CHECK_INT(upd_authlimit_check(l, "10.0.0.2", NULL, T0), ==, 0); /* another address */
    int64_t now = T0 + SEC;
    unsigned want = 2;
    for (int i = 0; i < 12; i++) { /* 2, 4, ... 256, then the cap */
        CHECK_INT(upd_authlimit_check(l, "10.0.0.1", NULL, now), ==, 0);
        unsigned w = upd_authlimit_fail(l, "10.0.0.1", NULL, now);
        CHECK_INT(w, ==, want > UPD_AUTHLIMIT_MAX_S ? UPD_AUTHLIMIT_MAX_S : want);
        CHECK_INT(upd_authlimit_check(l, "10.0.0.1", NULL, now + (int64_t)w * SEC - 1), >, 0);
        now += (int64_t)w * SEC;
        want *= 2;
    }
    CHECK_INT(upd_authlimit_failures(l), ==, UPD_AUTHLIMIT_FREE + 1 + 12);
    CHECK_INT(upd_authlimit_refused(l), ==, 1 + 12);
    upd_authlimit_free(l);
}

static void test_success_and_quiet_forget(void)
{
    upd_authlimit *l = upd_authlimit_new("test");
    fail_n(l, "10.0.0.1", UPD_AUTHLIMIT_FREE - 1, T0);
    upd_authlimit_ok(l, "10.0.0.1", NULL);
    CHECK_INT(fail_n(l, "10.0.0.1", UPD_AUTHLIMIT_FREE, T0), ==, 0); /* counted afresh */
    CHECK_INT(upd_authlimit_fail(l, "10.0.0.1", NULL, T0), ==, 1);
    /* blocked: a success cannot happen (check refuses first); after the wait it can */
    upd_authlimit_ok(l, "10.0.0.1", NULL);
    CHECK_INT(fail_n(l, "10.0.0.1", UPD_AUTHLIMIT_FREE, T0 + 2 * SEC), ==, 0);
    /* a quarter of an hour without failures forgets the failures too */
    CHECK_INT(upd_authlimit_fail(l, "10.0.0.1", NULL, T0 + 2 * SEC), ==, 1);
    int64_t later = T0 + (UPD_AUTHLIMIT_FORGET_S + 10) * SEC;
    CHECK_INT(upd_authlimit_check(l, "10.0.0.1", NULL, later), ==, 0);
    CHECK_INT(fail_n(l, "10.0.0.1", UPD_AUTHLIMIT_FREE, later), ==, 0);
    upd_authlimit_free(l);
}

static void test_ipv6_per_64(void)
{
    upd_authlimit *l = upd_authlimit_new("test");
    /* one host rotating through its /64 counts as one source */
    char ip[64];
    for (int i = 0; i < UPD_AUTHLIMIT_FREE; i++) {
        snprintf(ip, sizeof ip, "2001:db8:1:2::%x", i + 1);
        CHECK_INT(upd_authlimit_fail(l, ip, NULL, T0), ==, 0);
    }
    CHECK_INT(upd_authlimit_fail(l, "2001:db8:1:2:ffff::9", NULL, T0), ==, 1);
    CHECK_INT(upd_authlimit_check(l, "2001:db8:1:2:abcd::1", NULL, T0), ==, 1);
    CHECK_INT(upd_authlimit_check(l, "2001:db8:1:3::1", NULL, T0), ==, 0); /* the next /64 */
    /* an IPv4 client of a dual-stack socket is its IPv4 address, not one big "/64" */
    CHECK_INT(fail_n(l, "::ffff:192.0.2.1", UPD_AUTHLIMIT_FREE + 1, T0), ==, 1);
    CHECK_INT(upd_authlimit_check(l, "192.0.2.1", NULL, T0), ==, 1);
    CHECK_INT(upd_authlimit_check(l, "::ffff:192.0.2.2", NULL, T0), ==, 0);
    upd_authlimit_free(l);
}

static void test_scopes(void)
{
    upd_authlimit *l = upd_authlimit_new("test");
    /* one device behind a NAT failing with its own credentials: its neighbours are not
     * made to wait, the same credential from the address is */
    CHECK_INT(fail_sc(l, "10.0.0.1", "5C:CF:7F:00:00:01", UPD_AUTHLIMIT_FREE + 1, T0), ==, 1);
    CHECK_INT(upd_authlimit_check(l, "10.0.0.1", "5C:CF:7F:00:00:01", T0), ==, 1);
    CHECK_INT(upd_authlimit_check(l, "10.0.0.1", "5C:CF:7F:00:00:02", T0), ==, 0);
    CHECK_INT(upd_authlimit_check(l, "10.0.0.1", NULL, T0), ==, 0);
    CHECK_INT(upd_authlimit_check(l, "::ffff:10.0.0.1", "5C:CF:7F:00:00:01", T0), ==, 1);
    upd_authlimit_free(l);
}

static void test_full_table(void)
{
    upd_authlimit *l = upd_authlimit_new("test");
    char ip[64];
    /* far more sources than slots: none is lost track of while it is blocked */
    for (int i = 0; i < 20000; i++) {
        snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
        upd_authlimit_fail(l, ip, NULL, T0 + i);
    }
    CHECK_INT(upd_authlimit_failures(l), ==, 20000);
    /* a source that keeps failing is blocked as usual among them */
    CHECK_INT(fail_n(l, "192.0.2.7", UPD_AUTHLIMIT_FREE + 1, T0 + 30000), ==, 1);
    CHECK_INT(upd_authlimit_check(l, "192.0.2.7", NULL, T0 + 30000), ==, 1);
    upd_authlimit_free(l);
    upd_authlimit_free(NULL);
}

int main(void)
{
    RUN(test_free_then_doubling);
    RUN(test_success_and_quiet_forget);
    RUN(test_ipv6_per_64);
    RUN(test_scopes);
    RUN(test_full_table);
    return upd_test_summary();
}
