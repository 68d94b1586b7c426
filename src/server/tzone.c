/* Time zone rules from TZif files (tzone.h; RFC 8536 sections 3 and 3.3). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "closest.h"
#include "tzone.h"

#define TZIF_MAX (256 * 1024) /* the largest tzdata file is under 4 KiB */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* ---- calendar ------------------------------------------------------------------------- */

/* Days since 1970-01-01 of y-m-d (proleptic Gregorian; H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void upd__tz_civil(int64_t days, int *y, int *m, int *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : md[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* ---- the footer: a POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3") --------------------------- */

/* An abbreviation: letters, or <...> with letters, digits, + and -. */
static const char *tz_name(const char *p, char *out)
{
    size_t n = 0;
    if (*p == '<') {
        p++;
        while (*p && *p != '>') {
            if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-')
                return NULL;
            if (n + 1 < UPD_TZ_ABBR_MAX)
                out[n++] = *p;
            p++;
        }
        if (*p != '>')
            return NULL;
        p++;
    } else {
        while (isalpha((unsigned char)*p)) {
            if (n + 1 < UPD_TZ_ABBR_MAX)
                out[n++] = *p;
            p++;
        }
    }
    out[n] = '\0';
    return n >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]], hh up to maxh: seconds into *secs. */
static const char *tz_hms(const char *p, int maxh, int32_t *secs)
{
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char)*p))
        return NULL;
    int32_t v[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
        if (k && *p != ':')
            break;
        if (k)
            p++;
        if (!isdigit((unsigned char)*p))
            return NULL;
        int x = 0, nd = 0;
        while (isdigit((unsigned char)*p) && nd < 3) {
            x = x * 10 + (*p++ - '0');
            nd++;
        }
        if ((k == 0 && x > maxh) || (k > 0 && x > 59))
            return NULL;
        v[k] = x;
    }
    *secs = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
    return p;
}

static const char *tz_num(const char *p, int lo, int hi, int *out)
{
    if (!isdigit((unsigned char)*p))
        return NULL;
    int x = 0;
    while (isdigit((unsigned char)*p)) {
        x = x * 10 + (*p++ - '0');
        if (x > hi)
            return NULL;
    }
    if (x < lo)
        return NULL;
    *out = x;
    return p;
}

/* ",Mm.w.d[/time]" or ",Jn[/time]" or ",n[/time]" */
static const char *tz_day(const char *p, upd_tz_day *dy)
{
    if (*p++ != ',')
        return NULL;
    memset(dy, 0, sizeof *dy);
    if (*p == 'M') {
        dy->kind = 'M';
        if (!(p = tz_num(p + 1, 1, 12, &dy->m)) || *p++ != '.' || !(p = tz_num(p, 1, 5, &dy->w)) ||
            *p++ != '.' || !(p = tz_num(p, 0, 6, &dy->d)))
            return NULL;
    } else if (*p == 'J') {
        dy->kind = 'J';
        if (!(p = tz_num(p + 1, 1, 365, &dy->n)))
            return NULL;
    } else {
        dy->kind = 'n';
        if (!(p = tz_num(p, 0, 365, &dy->n)))
            return NULL;
    }
    dy->secs = 2 * 3600;
    if (*p == '/' && !(p = tz_hms(p + 1, 167, &dy->secs)))
        return NULL;
    return p;
}

/* Parse rule s (the footer's text) into tz. 0 ok, -1 not a rule we can read; an empty
 * footer is no rule (0, has_rule 0). */
static int parse_rule(upd_tzone *tz, const char *s)
{
    tz->has_rule = 0;
    if (!*s)
        return 0;
    int32_t west;
    const char *p = tz_name(s, tz->std_abbr);
    if (!p || !(p = tz_hms(p, 24, &west)))
        return -1;
    tz->std_off = -west;
    tz->has_rule = 1;
    tz->rule_dst = 0;
    if (!*p)
        return 0;
    if (!(p = tz_name(p, tz->dst_abbr)))
        return -1;
    tz->rule_dst = 1;
    tz->dst_off = tz->std_off + 3600;
    if (*p && *p != ',') {
        if (!(p = tz_hms(p, 24, &west)))
            return -1;
        tz->dst_off = -west;
    }
    /* a zone with DST and no rule days: POSIX leaves it to the implementation; tzdata
     * always writes them */
    if (!(p = tz_day(p, &tz->start)) || !(p = tz_day(p, &tz->end)) || *p)
        return -1;
    return 0;
}

/* The local time (seconds since 1970 of the local clock) at which day dy of year y begins
 * its transition. */
static int64_t rule_local(const upd_tz_day *dy, int64_t y)
{
    int64_t day;
    if (dy->kind == 'M') {
        int64_t first = days_from_civil(y, dy->m, 1);
        int dow = (int)((first % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
        int md = 1 + (dy->d - dow + 7) % 7 + (dy->w - 1) * 7;
        while (md > month_days(y, dy->m))
            md -= 7;
        day = first + md - 1;
    } else if (dy->kind == 'J') {
        day = days_from_civil(y, 1, 1) + dy->n - 1 + (is_leap(y) && dy->n >= 60);
    } else {
        day = days_from_civil(y, 1, 1) + dy->n;
    }
    return day * 86400 + dy->secs;
}

/* Is UTC instant t in the rule's daylight saving time? */
static int rule_is_dst(const upd_tzone *tz, int64_t t)
{
    int y, m, d;
    upd__tz_civil(floor_div(t + tz->std_off, 86400), &y, &m, &d);
    /* the start is said in standard time, the end in daylight saving time */
    int64_t start = rule_local(&tz->start, y) - tz->std_off;
    int64_t end = rule_local(&tz->end, y) - tz->dst_off;
    if (start < end)
        return t >= start && t < end;
    return !(t >= end && t < start); /* southern hemisphere, or negative DST */
}

/* ---- the file --------------------------------------------------------------------------- */

/* Parse the TZif data (n bytes). 0, or -1 with why. */
static int parse_tzif(upd_tzone *tz, const unsigned char *b, size_t n, char *why, size_t whylen)
{
    if (n < 44 || memcmp(b, "TZif", 4)) {
        snprintf(why, whylen, "is not a time zone file (TZif)");
        return -1;
    }
    int version = b[4];
    const unsigned char *h = b;
    int tsize = 4;
    for (int pass = 0; pass < 2; pass++) {
        uint32_t isut = be32(h + 20), isstd = be32(h + 24), leap = be32(h + 28),
                 timecnt = be32(h + 32), typecnt = be32(h + 36), charcnt = be32(h + 40);
        size_t need = 44 + (size_t)timecnt * (size_t)(tsize + 1) + (size_t)typecnt * 6 + charcnt +
                      (size_t)leap * (size_t)(tsize + 4) + isstd + isut;
        if (timecnt > (1u << 20) || typecnt > (1u << 16) || leap > (1u << 16) ||
            (size_t)(h - b) + need > n || typecnt == 0) {
            snprintf(why, whylen, "is a damaged time zone file");
            return -1;
        }
        if (pass == 0 && version >= '2') {
            h += need; /* the version 1 block is for old readers: the 64-bit one follows */
            tsize = 8;
            if ((size_t)(h - b) + 44 > n || memcmp(h, "TZif", 4)) {
                snprintf(why, whylen, "is a damaged time zone file");
                return -1;
            }
            continue;
        }
        if (timecnt > UPD_TZ_MAX_TRANS || typecnt > UPD_TZ_MAX_TYPES) {
            snprintf(why, whylen, "has more transitions than updraft reads (%u)", timecnt);
            return -1;
        }
        const unsigned char *p = h + 44;
        tz->ntrans = (int)timecnt;
        tz->ntypes = (int)typecnt;
        for (uint32_t i = 0; i < timecnt; i++, p += tsize)
            tz->trans[i] = tsize == 8 ? be64(p) : (int64_t)(int32_t)be32(p);
        for (uint32_t i = 0; i < timecnt; i++, p++) {
            if (*p >= typecnt) {
                snprintf(why, whylen, "is a damaged time zone file");
                return -1;
            }
            tz->tidx[i] = *p;
        }
        const unsigned char *types = p, *chars = p + typecnt * 6;
        for (uint32_t i = 0; i < typecnt; i++) {
            tz->off[i] = (int32_t)be32(types + i * 6);
            tz->isdst[i] = types[i * 6 + 4];
            uint8_t ai = types[i * 6 + 5];
            size_t k = 0;
            while (ai + k < charcnt && chars[ai + k] && k + 1 < UPD_TZ_ABBR_MAX) {
                tz->abbr[i][k] = (char)chars[ai + k];
                k++;
            }
            tz->abbr[i][k] = '\0';
        }
        for (int i = 1; i < tz->ntrans; i++)
            if (tz->trans[i] <= tz->trans[i - 1]) {
                snprintf(why, whylen, "is a damaged time zone file (transitions out of order)");
                return -1;
            }
        /* the footer: "\n<rule>\n" */
        const unsigned char *f = h + need;
        if (tsize == 8 && (size_t)(f - b) < n && *f == '\n') {
            const unsigned char *e = memchr(f + 1, '\n', n - (size_t)(f + 1 - b));
            char rule[128];
            if (!e || (size_t)(e - f - 1) >= sizeof rule) {
                snprintf(why, whylen, "has a damaged rule at its end");
                return -1;
            }
            memcpy(rule, f + 1, (size_t)(e - f - 1));
            rule[e - f - 1] = '\0';
            if (parse_rule(tz, rule) != 0) {
                snprintf(why, whylen, "has a rule updraft cannot read ('%.60s')", rule);
                return -1;
            }
        }
        break;
    }
    return 0;
}

/* Is name a zone name (no path tricks)? */
static int name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= UPD_TZ_NAME_MAX || name[0] == '/' || name[0] == '.')
        return 0;
    for (const char *p = name; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr("/_+-", *p))
            return 0;
        if (*p == '/' && (p[1] == '/' || p[1] == '.' || !p[1]))
            return 0;
    }
    return 1;
}

/* The zone names of dir/zone1970.tab and zone.tab (their third column) plus UTC, for "did
 * you mean". A malloc'd NULL-terminated list of malloc'd strings; NULL when unreadable. */
static char **zone_names(const char *dir)
{
    size_t n = 0, cap = 0;
    char **v = NULL;
    static const char *const files[] = {"zone1970.tab", "zone.tab"};
    for (int k = 0; k < 2; k++) {
        char path[512], line[512];
        snprintf(path, sizeof path, "%s/%s", dir, files[k]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        while (fgets(line, sizeof line, f)) {
            if (line[0] == '#')
                continue;
            char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
            if (!t2)
                continue;
            char *z = t2 + 1;
            z[strcspn(z, "\t\n")] = '\0';
            if (n + 2 > cap) {
                size_t nc = cap ? cap * 2 : 512;
                char **nv = realloc(v, nc * sizeof *nv);
                if (!nv)
                    break;
                v = nv;
                cap = nc;
            }
            if ((v[n] = strdup(z)) != NULL)
                n++;
        }
        fclose(f);
    }
    if (!v)
        return NULL;
    v[n] = strdup("UTC");
    v[n + 1] = NULL;
    return v;
}

int upd__tz_load(upd_tzone *tz, const char *name, const char *dir, char *why, size_t whylen)
{
    memset(tz, 0, sizeof *tz);
    if (!dir) {
        const char *e = getenv("TZDIR");
        dir = e && *e ? e : "/usr/share/zoneinfo";
    }
    if (!name_ok(name ? name : "")) {
        snprintf(why, whylen,
                 "'%.80s' is not a time zone name: give one of the tz database, e.g. "
                 "Europe/Berlin, America/New_York or UTC",
                 name ? name : "");
        return -1;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        int err = f ? EISDIR : errno;
        if (f)
            fclose(f);
        struct stat ds;
        if (stat(dir, &ds) != 0) {
            snprintf(why, whylen,
                     "time zone '%s' cannot be read: there is no time zone database at %s "
                     "(install tzdata)",
                     name, dir);
            return -1;
        }
        char **names = err == ENOENT || err == EISDIR ? zone_names(dir) : NULL;
        const char *near = names ? upd_closest(name, (const char *const *)names) : NULL;
        if (err == ENOENT || err == EISDIR)
            snprintf(why, whylen, "there is no time zone '%s' (in %s)%s%s%s", name, dir,
                     near ? ": did you mean " : ": give one such as Europe/Berlin or UTC",
                     near ? near : "", near ? "?" : "");
        else
            snprintf(why, whylen, "time zone '%s' cannot be read (%s): %s", name, path,
                     strerror(err));
        for (size_t i = 0; names && names[i]; i++)
            free(names[i]);
        free(names);
        return -1;
    }
    unsigned char *buf = malloc(TZIF_MAX);
    size_t n = buf ? fread(buf, 1, TZIF_MAX, f) : 0;
    fclose(f);
    if (!buf) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    char w[160];
    int rc = parse_tzif(tz, buf, n, w, sizeof w);
    free(buf);
    if (rc) {
        snprintf(why, whylen, "time zone '%s': %s %s", name, path, w);
        return -1;
    }
    snprintf(tz->name, sizeof tz->name, "%s", name);
    return 0;
}

int32_t upd__tz_offset(const upd_tzone *tz, int64_t t, int *isdst, char *abbr)
{
    int type;
    if (tz->ntrans == 0 || t < tz->trans[0]) {
        /* before the first transition: time type 0 (RFC 8536 3.2), unless there is only a
         * rule */
        if (tz->ntrans == 0 && tz->has_rule)
            goto rule;
        type = 0;
    } else if (t >= tz->trans[tz->ntrans - 1] && tz->has_rule) {
        goto rule;
    } else {
        int lo = 0, hi = tz->ntrans - 1; /* the last transition at or before t */
        while (lo < hi) {
            int mid = lo + (hi - lo + 1) / 2;
            if (tz->trans[mid] <= t)
                lo = mid;
            else
                hi = mid - 1;
        }
        type = tz->tidx[lo];
    }
    if (isdst)
        *isdst = tz->isdst[type];
    if (abbr)
        snprintf(abbr, UPD_TZ_ABBR_MAX, "%s", tz->abbr[type]);
    return tz->off[type];
rule:;
    int dst = tz->rule_dst && rule_is_dst(tz, t);
    if (isdst)
        *isdst = dst;
    if (abbr)
        snprintf(abbr, UPD_TZ_ABBR_MAX, "%s", dst ? tz->dst_abbr : tz->std_abbr);
    return dst ? tz->dst_off : tz->std_off;
}
