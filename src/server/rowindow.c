/* Delivery windows on a zone's wall clock (rowindow.h). */
#include <stdio.h>

#include "rowindow.h"

int upd__window_parse(const char *s, upd_window *w, char *norm, size_t cap, char *why,
                      size_t whylen)
{
    unsigned h1, m1, h2, m2;
    char tail;
    if (!s || sscanf(s, "%2u:%2u-%2u:%2u%c", &h1, &m1, &h2, &m2, &tail) != 4 || s[0] < '0' ||
        s[0] > '9') {
        snprintf(why, whylen,
                 "'%.40s' is not a window: give the hours as HH:MM-HH:MM, e.g. 02:00-05:00 "
                 "(22:00-04:00 crosses midnight)",
                 s ? s : "");
        return -1;
    }
    if (h1 > 23 || m1 > 59 || h2 > 24 || m2 > 59 || (h2 == 24 && m2)) {
        snprintf(why, whylen,
                 "'%.40s' is not a window: hours are 00 to 23 (24:00 ends a day), minutes 00 "
                 "to 59",
                 s);
        return -1;
    }
    if (h1 * 60 + m1 == h2 * 60 + m2 || (h1 == 0 && m1 == 0 && h2 == 24)) {
        snprintf(why, whylen,
                 "'%.40s' is not a window: it would be always open or never: leave the window "
                 "out to deliver at any time",
                 s);
        return -1;
    }
    w->start = (int)(h1 * 60 + m1);
    w->end = (int)(h2 * 60 + m2);
    snprintf(norm, cap, "%02u:%02u-%02u:%02u", h1, m1, h2, m2);
    return 0;
}

int upd__window_contains(const upd_window *w, const upd_tzone *tz, int64_t t)
{
    int64_t local = t + (tz ? upd__tz_offset(tz, t, NULL, NULL) : 0);
    int64_t sod = local % 86400;
    if (sod < 0)
        sod += 86400;
    int minute = (int)(sod / 60);
    if (w->start < w->end)
        return minute >= w->start && minute < w->end;
    return minute >= w->start || minute < w->end; /* across midnight */
}

int64_t upd__window_next(const upd_window *w, const upd_tzone *tz, int64_t t, int want)
{
    if (upd__window_contains(w, tz, t) == want)
        return t;
    /* the window's edges fall on whole minutes of the local clock, and every offset since
     * 1972 is a whole number of minutes: step to the next minute, then minute by minute */
    int64_t m = t - ((t % 60) + 60) % 60 + 60;
    for (int i = 0; i < 8 * 24 * 60; i++, m += 60)
        if (upd__window_contains(w, tz, m) == want)
            return m;
    return -1;
}
