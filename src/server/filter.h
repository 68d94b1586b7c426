/* The target filter: ONE syntax that selects devices, for the CLI (`device list
 * --filter`, `device tag --filter`), the API (`GET /api/v1/devices?filter=`), rollouts
 * and later the web UI (docs/filters.md):
 *
 *     platform=esp8266 tag=lab,kitchen version<2.0.0 seen<24h
 *
 * Terms are separated by spaces and all must hold (AND); a term is KEY OP VALUES where
 * VALUES is one value or several separated by commas, any of which may hold (OR); `!=`
 * holds when none of them does. Keys: platform, chip, channel (the channel the device
 * effectively uses), tag, version (=, !=, <, <=, >, >= in updraft's version order),
 * seen (<, > an age: 90s, 30m, 24h, 7d, 2w), mac, pinned (yes, no, a release id),
 * attention (yes, no), tool (none, sim, doctor); mac and tag also take ~ (a part of the
 * MAC, of a tag: the search box) and !~.
 *
 * A filter is parsed once (upd__filter_parse) into a self-contained struct (no pointers:
 * it may be copied and kept), then matched against device rows in memory
 * (upd__filter_match) without allocating: cheap enough for the device check path.
 * The store is never given filter text: devquery.c compiles what SQL can say into the
 * store's conditions (store.h upd_device_cond), callers match the rest above it
 * (DESIGN.md). */
#ifndef UPD_SERVER_FILTER_H
#define UPD_SERVER_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define UPD_FILTER_TEXT_MAX 4096 /* longest filter text accepted (with NUL) */
#define UPD_FILTER_TERMS    32   /* terms in one filter */
#define UPD_FILTER_VALUES   256  /* values in one filter, all terms together */

typedef enum upd_filter_key {
    UPD_FK_PLATFORM,
    UPD_FK_CHIP,
    UPD_FK_CHANNEL,
    UPD_FK_TAG,
    UPD_FK_VERSION,
    UPD_FK_SEEN,
    UPD_FK_MAC,
    UPD_FK_PINNED,
    UPD_FK_ATTENTION,
    UPD_FK_TOOL,
    UPD_FK__COUNT
} upd_filter_key;

typedef enum upd_filter_op {
    UPD_FOP_EQ,
    UPD_FOP_NE,
    UPD_FOP_LT,
    UPD_FOP_LE,
    UPD_FOP_GT,
    UPD_FOP_GE,
    UPD_FOP_HAS,  /* "~": mac and tag, a part of it (mac~0a1b, tag~kitch) */
    UPD_FOP_HASNT /* "!~": none of the parts */
} upd_filter_op;

typedef struct upd_filter_value {
    uint16_t off; /* the value's normalised text: buf + off, NUL-terminated */
    int64_t num;  /* seen: age in ms; chip: upd_chip; pinned: -1 yes, 0 no, > 0 release id;
                   * attention: 1 yes, 0 no */
} upd_filter_value;

typedef struct upd_filter_term {
    uint8_t key;       /* upd_filter_key */
    uint8_t op;        /* upd_filter_op */
    uint16_t first, n; /* values[first .. first + n) */
} upd_filter_term;

typedef struct upd_filter {
    int nterms;
    int has_chip; /* a chip term: matching asks env->chip */
    upd_filter_term term[UPD_FILTER_TERMS];
    upd_filter_value value[UPD_FILTER_VALUES];
    char buf[UPD_FILTER_TEXT_MAX]; /* the values' normalised texts */
} upd_filter;

/* What matching needs besides the row. */
typedef struct upd_filter_env {
    int64_t now_ms; /* for seen terms: ms since the epoch, as last_seen_ms */
    /* The device's chip (an upd_chip; UPD_CHIP_UNKNOWN when not known). Asked only for
     * filters with a chip term (f->has_chip) and ESP32-family devices; NULL: such
     * devices' chips are unknown. */
    int (*chip)(void *ctx, const upd_device_row *d);
    void *ctx;
} upd_filter_env;

/* Parse text (NULL or only spaces: the empty filter, which matches every device) into
 * *f. 0 on success; -1 with a sentence in err that quotes the bad term, says what is
 * wrong and what is allowed ("filter term 'verison<2.0': unknown key 'verison' (did you
 * mean version?): keys are platform, chip, ..."). */
int upd__filter_parse(const char *text, upd_filter *f, char *err, size_t errlen);

/* 1 when device d matches every term of f, else 0. No allocation, no I/O (except what
 * env->chip does). env may be NULL when f has no seen or chip term. */
int upd__filter_match(const upd_filter *f, const upd_device_row *d, const upd_filter_env *env);

/* Does version v (a device's, not empty) satisfy t, a version term of f? The one rule the
 * filter's matching and the store's version lists (devquery.c) both use. */
int upd__filter_version_holds(const upd_filter *f, const upd_filter_term *t, const char *v);

/* The filter in its canonical form ("platform=esp8266 tag=kitchen,lab seen<86400s"),
 * which parses back to the same filter; "" for the empty filter. Cut short to cap. */
void upd__filter_format(const upd_filter *f, char *out, size_t cap);

/* The channel a device effectively uses, as policy.c decides it: the channel in the URL
 * of its last check (/update/<channel>), else the one assigned to it, else "stable". */
const char *upd__device_channel(const upd_device_row *d);

#endif
