/* Time zone rules (src/server/tzone.c) and delivery windows (src/server/rowindow.c).
 *
 * Without arguments: unit tests on the system's time zone database (Debian's tzdata):
 * known offsets around DST transitions, the footer's POSIX rule checked against the
 * file's own transitions, windows across midnight and DST nights, the errors.
 * With --dump: reads "ZONE UTC-SECONDS" lines and prints "ZONE T OFFSET ABBR W..." (W:
 * 1/0 for each window of the WINDOWS list below), for tests/server/test_tzone.py, which
 * compares every line with Python's zoneinfo, an implementation of its own.
 * Exit 77 (skipped) when the database is not installed. */
#define _GNU_SOURCE /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rowindow.h"
#include "tzone.h"
#include "upd_test.h"

static upd_tzone TZ, TZ2; /* 90 KB each: kept off the stack */

static const char *const WINDOWS[] = {"02:00-05:00", "22:00-04:00", "00:30-01:30",
                                      "23:00-24:00", "02:30-03:00", NULL};

/* seconds since 1970 of a UTC date and time */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
    int64_t yy = y - (mo <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    return days * 86400 + h * 3600 + mi * 60;
}

static int load(upd_tzone *tz, const char *name)
{
    char why[300];
    if (upd__tz_load(tz, name, NULL, why, sizeof why) != 0) {
        printf("  cannot load %s: %s\n", name, why);
        return -1;
    }
    return 0;
}

static void test_berlin_transitions(void)
{
    if (load(&TZ, "Europe/Berlin")) {
        CHECK(0);
        return;
    }
    char abbr[UPD_TZ_ABBR_MAX];
    int dst;
    /* 2026-03-29 01:00 UTC: 02:00 CET becomes 03:00 CEST */
    CHECK_INT(upd__tz_offset(&TZ, utc(2026, 3, 29, 1, 0) - 1, &dst, abbr), ==, 3600);
    CHECK_INT(dst, ==, 0);
    CHECK_STR(abbr, "CET");
    CHECK_INT(upd__tz_offset(&TZ, utc(2026, 3, 29, 1, 0), &dst, abbr), ==, 7200);
    CHECK_INT(dst, ==, 1);
    CHECK_STR(abbr, "CEST");
    /* 2026-10-25 01:00 UTC: 03:00 CEST becomes 02:00 CET */
    CHECK_INT(upd__tz_offset(&TZ, utc(2026, 10, 25, 1, 0) - 1, NULL, NULL), ==, 7200);
    CHECK_INT(upd__tz_offset(&TZ, utc(2026, 10, 25, 1, 0), NULL, NULL), ==, 3600);
    /* past the file's last transition (2037): the footer's rule */
    CHECK_INT(upd__tz_offset(&TZ, utc(2080, 3, 31, 1, 0) - 1, NULL, NULL), ==, 3600);
    CHECK_INT(upd__tz_offset(&TZ, utc(2080, 3, 31, 1, 0), NULL, NULL), ==, 7200);
    CHECK_INT(upd__tz_offset(&TZ, utc(2080, 7, 1, 12, 0), &dst, abbr), ==, 7200);
    CHECK_STR(abbr, "CEST");
    CHECK_INT(upd__tz_offset(&TZ, utc(2080, 12, 1, 12, 0), NULL, NULL), ==, 3600);
}

static void test_southern_and_negative_dst(void)
{
    /* Sydney: DST from the first Sunday of October to the first of April */
    if (load(&TZ, "Australia/Sydney") == 0) {
        CHECK_INT(upd__tz_offset(&TZ, utc(2090, 1, 15, 0, 0), NULL, NULL), ==, 11 * 3600);
        CHECK_INT(upd__tz_offset(&TZ, utc(2090, 7, 15, 0, 0), NULL, NULL), ==, 10 * 3600);
    } else {
        CHECK(0);
    }
    /* Dublin: IST is standard time, winter time (GMT) is a negative DST */
    if (load(&TZ, "Europe/Dublin") == 0) {
        CHECK_INT(upd__tz_offset(&TZ, utc(2090, 1, 15, 0, 0), NULL, NULL), ==, 0);
        CHECK_INT(upd__tz_offset(&TZ, utc(2090, 7, 15, 0, 0), NULL, NULL), ==, 3600);
    } else {
        CHECK(0);
    }
    /* Lord Howe: a half-hour DST */
    if (load(&TZ, "Australia/Lord_Howe") == 0) {
        CHECK_INT(upd__tz_offset(&TZ, utc(2090, 1, 15, 0, 0), NULL, NULL), ==, 11 * 3600);
        CHECK_INT(upd__tz_offset(&TZ, utc(2090, 7, 15, 0, 0), NULL, NULL), ==, 10 * 3600 + 1800);
    } else {
        CHECK(0);
    }
}

/* The footer's rule must say what the file's own transitions say: cut the transitions at
 * the year since which the zone's current rule applies, and compare up to the file's last
 * transition (2037) at every transition and every 6 hours. */
static void test_rule_matches_transitions(void)
{
    static const struct {
        const char *zone;
        int since;
    } zones[] = {
        {"Europe/Berlin", 1997},    {"Europe/London", 1997},    {"Europe/Dublin", 1997},
        {"America/New_York", 2008}, {"America/St_Johns", 2012}, {"Australia/Lord_Howe", 2009},
        {"Australia/Sydney", 2009}, {"Pacific/Chatham", 2008},  {"Pacific/Auckland", 2008},
        {"Asia/Jerusalem", 2014},   {"America/Havana", 2013},   {"America/Nuuk", 2024},
        {"America/Santiago", 2024}};
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        if (load(&TZ, zones[z].zone) != 0) {
            CHECK(0);
            continue;
        }
        TZ2 = TZ;
        int64_t cut = utc(zones[z].since, 1, 1, 0, 0), last = TZ.trans[TZ.ntrans - 1];
        int k = 0;
        while (k < TZ2.ntrans && TZ2.trans[k] < cut)
            k++;
        TZ2.ntrans = k;
        int bad = 0, n = 0;
        for (int64_t t = cut; t < last + 86400 && bad < 3; t += 6 * 3600, n++) {
            char a1[UPD_TZ_ABBR_MAX], a2[UPD_TZ_ABBR_MAX];
            int32_t o1 = upd__tz_offset(&TZ, t, NULL, a1), o2 = upd__tz_offset(&TZ2, t, NULL, a2);
            if (o1 != o2 || strcmp(a1, a2)) {
                printf("  %s at %lld: file %d %s, rule %d %s\n", zones[z].zone, (long long)t, o1,
                       a1, o2, a2);
                bad++;
            }
        }
        for (int i = k; i < TZ.ntrans && bad < 3; i++)
            for (int64_t t = TZ.trans[i] - 1; t <= TZ.trans[i] + 1; t++)
                if (upd__tz_offset(&TZ, t, NULL, NULL) != upd__tz_offset(&TZ2, t, NULL, NULL)) {
                    printf("  %s at transition %lld%+lld: file and rule differ\n", zones[z].zone,
                           (long long)TZ.trans[i], (long long)(t - TZ.trans[i]));
                    bad++;
                }
        CHECK_INT(bad, ==, 0);
        CHECK_INT(TZ.has_rule, ==, 1);
        CHECK_INT(n, >, 1000);
    }
}

static void test_window_parse(void)
{
    upd_window w;
    char norm[16], why[200];
    CHECK_INT(upd__window_parse("2:00-5:00", &w, norm, sizeof norm, why, sizeof why), ==, 0);
    CHECK_STR(norm, "02:00-05:00");
    CHECK_INT(w.start, ==, 120);
    CHECK_INT(w.end, ==, 300);
    CHECK_INT(upd__window_parse("22:30-24:00", &w, norm, sizeof norm, why, sizeof why), ==, 0);
    CHECK_INT(w.end, ==, 1440);
    static const char *const bad[][2] = {{"02:00", "HH:MM-HH:MM"},
                                         {"02:00-05:00x", "HH:MM-HH:MM"},
                                         {"25:00-05:00", "hours are 00 to 23"},
                                         {"02:60-05:00", "minutes 00"},
                                         {"24:00-05:00", "hours are 00 to 23"},
                                         {"02:00-24:30", "24:00 ends a day"},
                                         {"03:00-03:00", "always open or never"},
                                         {"00:00-24:00", "always open or never"},
                                         {"-1:00-02:00", "HH:MM-HH:MM"},
                                         {"", "HH:MM-HH:MM"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        CHECK_INT(upd__window_parse(bad[i][0], &w, norm, sizeof norm, why, sizeof why), ==, -1);
        CHECK_CONTAINS(why, bad[i][1]);
    }
}

static void test_window_dst_nights(void)
{
    if (load(&TZ, "Europe/Berlin")) {
        CHECK(0);
        return;
    }
    upd_window w;
    char norm[16], why[200];
    upd__window_parse("02:00-05:00", &w, norm, sizeof norm, why, sizeof why);
    /* a winter night: 02:00 CET is 01:00 UTC, 05:00 CET 04:00 UTC */
    CHECK_INT(upd__window_contains(&w, &TZ, utc(2026, 1, 10, 0, 59)), ==, 0);
    CHECK_INT(upd__window_contains(&w, &TZ, utc(2026, 1, 10, 1, 0)), ==, 1);
    CHECK_INT(upd__window_contains(&w, &TZ, utc(2026, 1, 10, 3, 59)), ==, 1);
    CHECK_INT(upd__window_contains(&w, &TZ, utc(2026, 1, 10, 4, 0)), ==, 0);
    /* a summer night: 00:00 to 03:00 UTC */
    CHECK_INT(upd__window_contains(&w, &TZ, utc(2026, 7, 10, 0, 0)), ==, 1);
    CHECK_INT(upd__window_contains(&w, &TZ, utc(2026, 7, 10, 3, 0)), ==, 0);
    /* the night the clocks go forward (2026-03-29, 02:00 CET -> 03:00 CEST at 01:00 UTC):
     * 02:00-03:00 does not exist; the window runs 01:00-03:00 UTC, two hours */
    int64_t open = upd__window_next(&w, &TZ, utc(2026, 3, 28, 12, 0), 1);
    CHECK_INT(open, ==, utc(2026, 3, 29, 1, 0));
    CHECK_INT(upd__window_next(&w, &TZ, open, 0), ==, utc(2026, 3, 29, 3, 0));
    /* the night they go back (2026-10-25, 03:00 CEST -> 02:00 CET at 01:00 UTC): 02:00
     * CEST is 00:00 UTC, 05:00 CET 04:00 UTC: four hours */
    open = upd__window_next(&w, &TZ, utc(2026, 10, 24, 12, 0), 1);
    CHECK_INT(open, ==, utc(2026, 10, 25, 0, 0));
    CHECK_INT(upd__window_next(&w, &TZ, open, 0), ==, utc(2026, 10, 25, 4, 0));
    /* across midnight: 22:00-04:00 Berlin in winter is 21:00-03:00 UTC */
    upd__window_parse("22:00-04:00", &w, norm, sizeof norm, why, sizeof why);
    CHECK_INT(upd__window_contains(&w, &TZ, utc(2026, 1, 10, 20, 59)), ==, 0);
    CHECK_INT(upd__window_contains(&w, &TZ, utc(2026, 1, 10, 21, 0)), ==, 1);
    CHECK_INT(upd__window_contains(&w, &TZ, utc(2026, 1, 10, 23, 30)), ==, 1);
    CHECK_INT(upd__window_contains(&w, &TZ, utc(2026, 1, 11, 2, 59)), ==, 1);
    CHECK_INT(upd__window_contains(&w, &TZ, utc(2026, 1, 11, 3, 0)), ==, 0);
    CHECK_INT(upd__window_next(&w, &TZ, utc(2026, 1, 11, 3, 0), 1), ==, utc(2026, 1, 11, 21, 0));
    /* the next opening from inside is now; to the minute from a second inside */
    CHECK_INT(upd__window_next(&w, &TZ, utc(2026, 1, 10, 22, 0) + 17, 1), ==,
              utc(2026, 1, 10, 22, 0) + 17);
    CHECK_INT(upd__window_next(&w, &TZ, utc(2026, 1, 10, 20, 0) + 17, 1), ==,
              utc(2026, 1, 10, 21, 0));
    /* UTC when no zone */
    CHECK_INT(upd__window_contains(&w, NULL, utc(2026, 1, 10, 21, 30)), ==, 0);
    CHECK_INT(upd__window_contains(&w, NULL, utc(2026, 1, 10, 22, 0)), ==, 1);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static void test_errors(void)
{
    char why[400];
    CHECK_INT(upd__tz_load(&TZ, "Europe/Berln", NULL, why, sizeof why), ==, -1);
    CHECK_CONTAINS(why, "there is no time zone 'Europe/Berln'");
    CHECK_CONTAINS(why, "did you mean Europe/Berlin?");
    CHECK_INT(upd__tz_load(&TZ, "Mars/Olympus_Mons", NULL, why, sizeof why), ==, -1);
    CHECK_CONTAINS(why, "there is no time zone 'Mars/Olympus_Mons'");
    CHECK_INT(upd__tz_load(&TZ, "../../etc/passwd", NULL, why, sizeof why), ==, -1);
    CHECK_CONTAINS(why, "is not a time zone name");
    CHECK_INT(upd__tz_load(&TZ, "/etc/passwd", NULL, why, sizeof why), ==, -1);
    CHECK_CONTAINS(why, "is not a time zone name");
    CHECK_INT(upd__tz_load(&TZ, "Europe", NULL, why, sizeof why), ==, -1);
    CHECK_CONTAINS(why, "there is no time zone 'Europe'");
    CHECK_INT(upd__tz_load(&TZ, "", NULL, why, sizeof why), ==, -1);
    CHECK_INT(upd__tz_load(&TZ, "Europe/Berlin", "/nonexistent/zoneinfo", why, sizeof why), ==, -1);
    CHECK_CONTAINS(why, "no time zone database at /nonexistent/zoneinfo (install tzdata)");
    /* damaged files in a directory of our own */
    char dir[] = "/tmp/updraft-tz-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    char path[300];
    snprintf(path, sizeof path, "%s/Bad", dir);
    write_file(path, "not a zone file at all, not at all, no no no no", 48);
    CHECK_INT(upd__tz_load(&TZ, "Bad", dir, why, sizeof why), ==, -1);
    CHECK_CONTAINS(why, "is not a time zone file (TZif)");
    FILE *f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
    unsigned char buf[8192];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    CHECK_INT(n, >, 1000);
    snprintf(path, sizeof path, "%s/Cut", dir);
    write_file(path, buf, n / 2);
    CHECK_INT(upd__tz_load(&TZ, "Cut", dir, why, sizeof why), ==, -1);
    CHECK_CONTAINS(why, "damaged");
    /* a rule we cannot read */
    size_t e = n - 1;
    while (e > 0 && buf[e - 1] != '\n')
        e--;
    memcpy(buf + e, "CET-1CEST,X3\n", 13);
    snprintf(path, sizeof path, "%s/Rule", dir);
    write_file(path, buf, e + 13);
    CHECK_INT(upd__tz_load(&TZ, "Rule", dir, why, sizeof why), ==, -1);
    CHECK_CONTAINS(why, "has a rule updraft cannot read ('CET-1CEST,X3')");
    /* the same file with its rule intact loads, from that directory */
    memcpy(buf + e, "CET-1CEST,M3.5.0,M10.5.0/3\n", 27);
    write_file(path, buf, e + 27);
    CHECK_INT(upd__tz_load(&TZ, "Rule", dir, why, sizeof why), ==, 0);
    const char *names[] = {"Bad", "Cut", "Rule"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* --dump: the lines for test_tzone.py */
static int dump(void)
{
    upd_window w[8];
    int nw = 0;
    char norm[16], why[300], line[256], zone[UPD_TZ_NAME_MAX] = "";
    for (; WINDOWS[nw]; nw++)
        upd__window_parse(WINDOWS[nw], &w[nw], norm, sizeof norm, why, sizeof why);
    printf("windows");
    for (int i = 0; i < nw; i++)
        printf(" %s", WINDOWS[i]);
    printf("\n");
    while (fgets(line, sizeof line, stdin)) {
        char name[UPD_TZ_NAME_MAX];
        long long t;
        if (sscanf(line, "%63s %lld", name, &t) != 2)
            continue;
        if (strcmp(name, zone)) {
            if (upd__tz_load(&TZ, name, NULL, why, sizeof why) != 0) {
                printf("%s error %s\n", name, why);
                zone[0] = '\0';
                continue;
            }
            snprintf(zone, sizeof zone, "%s", name);
        }
        char abbr[UPD_TZ_ABBR_MAX];
        int32_t off = upd__tz_offset(&TZ, t, NULL, abbr);
        printf("%s %lld %d %s", name, t, off, abbr);
        for (int i = 0; i < nw; i++)
            printf(" %d", upd__window_contains(&w[i], &TZ, t));
        printf("\n");
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct stat st;
    if (stat("/usr/share/zoneinfo/Europe/Berlin", &st) != 0) {
        printf("SKIPPED: no time zone database in /usr/share/zoneinfo (install tzdata)\n");
        return 77;
    }
    if (argc > 1 && !strcmp(argv[1], "--dump"))
        return dump();
    RUN(test_berlin_transitions);
    RUN(test_southern_and_negative_dst);
    RUN(test_rule_matches_transitions);
    RUN(test_window_parse);
    RUN(test_window_dst_nights);
    RUN(test_errors);
    return upd_test_summary();
}
