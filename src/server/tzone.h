/* Time zone rules read from the system's time zone database (TZif files, RFC 8536, as
 * Debian's tzdata installs them under /usr/share/zoneinfo), for a rollout's delivery
 * window (docs/rollouts.md "Delivery windows"). No process-global state: no TZ variable,
 * no tzset/localtime; a zone is a value that any thread may read.
 *
 * A zone answers "what is the UTC offset at instant t": from its transitions, and after
 * the last one from the POSIX TZ rule of the file's footer (so that a zone stays right
 * past 2037 and with the "slim" files that list only past transitions). */
#ifndef UPD_SERVER_TZONE_H
#define UPD_SERVER_TZONE_H

#include <stddef.h>
#include <stdint.h>

#define UPD_TZ_NAME_MAX  64
#define UPD_TZ_MAX_TRANS 1200 /* the most in tzdata 2025 is 242 (Europe/London) */
#define UPD_TZ_MAX_TYPES 64
#define UPD_TZ_ABBR_MAX  8

/* A day of a POSIX TZ rule: Mm.w.d, Jn (1..365, no Feb 29) or n (0..365), at secs local. */
typedef struct upd_tz_day {
    char kind; /* 'M', 'J' or 'n' */
    int m, w, d, n;
    int32_t secs; /* time of day, -167h..167h */
} upd_tz_day;

typedef struct upd_tzone {
    char name[UPD_TZ_NAME_MAX];
    int ntrans, ntypes;
    int64_t trans[UPD_TZ_MAX_TRANS]; /* UTC seconds, ascending */
    uint8_t tidx[UPD_TZ_MAX_TRANS];  /* the type from trans[i] on */
    int32_t off[UPD_TZ_MAX_TYPES];   /* seconds east of UTC */
    uint8_t isdst[UPD_TZ_MAX_TYPES];
    char abbr[UPD_TZ_MAX_TYPES][UPD_TZ_ABBR_MAX];
    /* the footer's rule (has_rule 0: the last type holds for ever) */
    int has_rule, rule_dst;
    int32_t std_off, dst_off; /* seconds east */
    char std_abbr[UPD_TZ_ABBR_MAX], dst_abbr[UPD_TZ_ABBR_MAX];
    upd_tz_day start, end;
} upd_tzone;

/* Load zone name ("Europe/Berlin", "UTC") from dir (NULL: $TZDIR, else
 * /usr/share/zoneinfo) into tz. 0, or -1 with why saying what was wrong in words for
 * the operator (a name that is no zone, with the closest one when it looks like a typo;
 * a file that is not a TZif file). */
int upd__tz_load(upd_tzone *tz, const char *name, const char *dir, char *why, size_t whylen);

/* The offset east of UTC in seconds at UTC instant t (seconds since 1970), whether it is
 * daylight saving time (isdst, may be NULL) and its abbreviation (abbr, may be NULL,
 * UPD_TZ_ABBR_MAX bytes). */
int32_t upd__tz_offset(const upd_tzone *tz, int64_t t, int *isdst, char *abbr);

/* Civil date of the UTC-based day number days (days since 1970-01-01). */
void upd__tz_civil(int64_t days, int *y, int *m, int *d);

#endif
