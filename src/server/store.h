/* The server's persistent state behind one interface: releases, channels, devices and
 * their events. Two backends hold every SQL statement and schema migration:
 * store_sqlite.c (the default) and store_pg.c (several servers on one PostgreSQL).
 *
 * Threads: every operation may be called from any thread at the same time. Admin
 * writes are synchronous and transactional; device-state writes arrive in batches from
 * the writer thread (writer.h) through apply_batch. Rows are plain structs copied out;
 * strings are NUL-terminated, "" when unknown; integers -1 when unknown. */
#ifndef UPD_SERVER_STORE_H
#define UPD_SERVER_STORE_H

#include <stddef.h>
#include <stdint.h>

#define UPD_NAME_MAX   64   /* channel names, platform and mode words (with NUL) */
#define UPD_VER_MAX    256  /* version strings (255 characters + NUL) */
#define UPD_NOTES_MAX  4096 /* release notes */
#define UPD_DETAIL_MAX 512  /* event details */
/* x-updraft-report, normalised (docs/protocol.md "Outcome report"): at most 144 bytes. */
#define UPD_REPORT_MAX 160
/* A routine check that changes nothing is recorded as an event at most this often. */
#define UPD_CHECK_EVENT_MS (60 * 60 * 1000)
#define UPD_MAC_STR        18  /* "AA:BB:CC:DD:EE:FF" + NUL */
#define UPD_TAGS_MAX       256 /* a device's tags: "kitchen,lab" (tags.h) */

/* Results of store operations (besides 0). */
enum {
    UPD_STORE_ENOTFOUND = -2, /* no such row */
    UPD_STORE_ECONFLICT = -3, /* a unique key is taken (same image uploaded twice) */
    UPD_STORE_EFAIL = -4      /* the database failed: see the error text */
};

/* One hash by which a device that installed a release can report it (imageid.h). */
#define UPD_REL_HASH_MAX 12
typedef struct upd_release_hash {
    char hex[65];  /* lowercase: 32 digits (MD5) or 64 (SHA-256) */
    char what[24]; /* how a device comes to report it: "file", "flash mode DOUT", ... */
} upd_release_hash;

typedef struct upd_release_row {
    int64_t id;
    char version[UPD_VER_MAX];
    char platform[16];          /* "esp8266", "esp32", or "any" (filesystem images) */
    char mode[8];               /* "sketch" or "fs" */
    char kind[32];              /* upd_kind_slug of the image */
    char chip[16];              /* "ESP32-C3", "ESP8266", "" */
    char channel[UPD_NAME_MAX]; /* channel named at upload, "" */
    char filename[128];
    char notes[UPD_NOTES_MAX];
    char md5[33];       /* of the file as served */
    char sha256[65];    /* of the file as served; also its blob name */
    char inner_md5[33]; /* gzip releases: md5 of the inflated image (what devices report) */
    int64_t size;
    int64_t inner_size;
    int64_t created_ms;
    int retired;
    /* every hash a device running this release can report (imageid.c computes them;
     * hash_rules: the version of those rules they were computed with, 0 = never) */
    int nhash;
    int hash_rules;
    upd_release_hash hash[UPD_REL_HASH_MAX];
    /* ESP8266 Arduino releases: the gzip copy kept next to the file, served to devices
     * whose eboot inflates (policy.c); gz_size 0 = none */
    char gz_sha256[65];
    char gz_md5[33];
    int64_t gz_size;
    int64_t gz_min_stage; /* the lowest address eboot may inflate it from (gzcopy.h) */
    /* rows from channel_current only: the channel was set with --allow-downgrade, so it
     * offers this release to devices that run a newer version too (policy.c); else 0 */
    int channel_downgrade;
} upd_release_row;

typedef struct upd_device_row {
    char mac[UPD_MAC_STR]; /* identity: STA MAC */
    char ap_mac[UPD_MAC_STR];
    char family[16]; /* "esp8266", "esp32", "" */
    char chip_id[24];
    char sdk[64];
    char version[UPD_VER_MAX];
    int64_t sketch_size;
    char sketch_md5[33];
    char sketch_sha256[65];
    int64_t free_space;
    int64_t chip_size;
    char mode[16];
    char ip[48];
    char user_agent[128];
    int64_t first_seen_ms;
    int64_t last_seen_ms;
    /* state kept by the server */
    char channel[UPD_NAME_MAX]; /* assigned channel, "" = none */
    int64_t pin_release;        /* 0 = not pinned */
    int64_t offered_release;    /* last release offered and not yet seen running, 0 */
    int64_t offered_ms;
    int64_t offer_downloads; /* completed downloads of offered_release */
    int64_t running_release; /* release we know it runs, 0 unknown */
    char last_result[UPD_DETAIL_MAX];
    int64_t last_event_ms;            /* when the device's last event was recorded */
    char last_report[UPD_REPORT_MAX]; /* the last x-updraft-report recorded, normalised */
    /* a release that failed on the device is held back from it (outcome.c) */
    int64_t hold_release;  /* 0 = none */
    int64_t hold_failures; /* failures of hold_release on this device */
    int64_t hold_until_ms; /* not offered before this time; 0 with failures: not at all */
    /* the updraft tool that made this device ("sim", "doctor": its x-updraft-tool header),
     * "" a real device; kept once set */
    char tool[16];
    /* the channel in the URL of its last update check (/update/<channel>), "" when that
     * URL named none: the channel it then uses (filter.h upd__device_channel) */
    char url_channel[UPD_NAME_MAX];
    char tags[UPD_TAGS_MAX]; /* sorted, comma-separated: "kitchen,lab"; "" none (tags.h) */
} upd_device_row;

/* A device as the writer reads it: its row and the image it ran when its open offer was
 * made ("" unknown). */
typedef struct upd_device_state {
    upd_device_row row;
    char pre_md5[33], pre_sha256[65], pre_version[UPD_VER_MAX];
} upd_device_state;

typedef struct upd_event_row {
    int64_t id;
    int64_t at_ms;
    char mac[UPD_MAC_STR]; /* "" for events of no device (admin actions, anonymous downloads) */
    char kind[24];
    int64_t release_id; /* 0 none */
    int64_t bytes;      /* -1 none */
    char detail[UPD_DETAIL_MAX];
    /* admin actions ("audit" events): the API token's name and the address it came
     * from; "" for the rest */
    char actor[UPD_NAME_MAX];
    char source[48];
} upd_event_row;

/* A named API token (authz.h). The secret itself is never stored: hash is the SHA-256
 * (hex) of the whole secret, key_id the public part of it that finds the row. The
 * bootstrap admin token (the data directory's admin-token) has a row of its own with
 * key_id "" and hash "": its use is recorded there, it never matches a secret. */
typedef struct upd_token_row {
    char name[UPD_NAME_MAX];
    char role[16];      /* "admin", "operator", "viewer", "ci" */
    char channels[512]; /* ci: the channels it may upload to, "a,b"; "" any */
    char key_id[32];    /* "" the bootstrap token */
    char hash[65];
    int64_t created_ms; /* 0 unknown (the bootstrap token) */
    char created_by[UPD_NAME_MAX];
    int64_t expires_ms;   /* 0 never */
    int64_t last_used_ms; /* 0 never */
    char last_used_from[48];
} upd_token_row;

/* One token's latest use, as authz.c batches them. */
typedef struct upd_token_use {
    char name[UPD_NAME_MAX];
    int64_t at_ms;
    char from[48];
} upd_token_use;

/* A dashboard session (session.h). The cookie's value is never stored: id is the SHA-256
 * (hex) of it. The session acts for the token it was opened with (token_key finds a
 * named token's row, token_hash is the SHA-256 of the token's secret): when that token
 * is revoked, expires or (the bootstrap token) is replaced, the session is over. */
typedef struct upd_session_row {
    char id[65];
    char csrf[65]; /* the value writes must send in X-CSRF-Token */
    char token_name[UPD_NAME_MAX];
    char token_key[32]; /* "" the bootstrap token */
    char token_hash[65];
    int64_t created_ms;
    int64_t last_ms;    /* its last use (written at most once a minute) */
    int64_t expires_ms; /* absolute end */
    char ip[48];        /* where it was opened from */
} upd_session_row;

typedef struct upd_channel_row {
    char name[UPD_NAME_MAX];
    char platform[16];
    char mode[8];
    int64_t release_id;
    char version[UPD_VER_MAX];
    int64_t updated_ms;
    char chip[16]; /* the chip the channel is declared for ("ESP32-C3"), "" none */
} upd_channel_row;

/* A condition of a device listing that the store evaluates itself (in SQL). devquery.c
 * compiles target filters (filter.h) into these: the rules stay there, the store only
 * compares columns. A device passes when one of the n values holds; with negate when none
 * does. FAMILY and VERSION never pass for a device that did not send that fact. */
enum {
    UPD_DC_FAMILY,    /* text: its family */
    UPD_DC_CHANNEL,   /* text: its effective channel (filter.h upd__device_channel) */
    UPD_DC_TAG,       /* text: it carries the tag */
    UPD_DC_TAG_PART,  /* text: it carries a tag that contains the text */
    UPD_DC_VERSION,   /* text: its version string is the text (byte for byte) */
    UPD_DC_MAC,       /* text: its MAC ("AA:BB:CC:DD:EE:FF") */
    UPD_DC_MAC_PART,  /* text: its MAC contains it: with colons ("0A:1B") as written, without
                       * ("0A1B") in the MAC's 12 hex digits; upper case */
    UPD_DC_SEEN_MIN,  /* num: last seen at or after num (ms since the epoch); never seen: no */
    UPD_DC_SEEN_MAX,  /* num: never seen, or last seen at or before num */
    UPD_DC_PINNED,    /* num: -1 pinned, 0 not pinned, > 0 pinned to that release */
    UPD_DC_ATTENTION, /* num: 1 a failed release is no longer offered to it, 0 not */
    UPD_DC_TOOL,      /* text: "none" no tool made it, else that tool made it */
    UPD_DC_NO_VERSION /* no values: it never sent its version (negate: it did) */
};

typedef struct upd_device_cond {
    int field;  /* UPD_DC_* */
    int negate; /* 1: none of the values holds */
    int n;      /* values in text[] (text fields) or num[] (the others); at most 256 */
    const char *const *text;
    const int64_t *num;
} upd_device_cond;

typedef struct upd_device_filter {
    const char *channel;         /* effective channel (assigned, else "stable"); NULL any */
    const char *platform;        /* family; NULL any */
    const char *version;         /* exact version string; NULL any */
    int64_t seen_since_ms;       /* 0 any */
    int attention;               /* 1: only devices a failed release is no longer offered to */
    int64_t pinned_to;           /* > 0: only devices pinned to this release */
    const char *tool;            /* NULL any device; "none" real devices only; "any" the tools'
                                  * devices only; "sim"/"doctor" that tool's */
    int limit;                   /* <= 0: 1000 */
    int64_t offset;              /* rows to skip (paging), 0 none */
    int order;                   /* UPD_ORDER_*: the listing's order (0: last seen, newest first) */
    const upd_device_cond *cond; /* ncond more conditions, all must hold */
    int ncond;
    /* keyset paging: with after, only the rows after (after_num, after_mac) in the
     * listing's order (after_num: last or first seen; unused for the MAC orders) */
    int after;
    int64_t after_num;
    const char *after_mac;
    /* 1 + the number of devices the filter selects, when the caller has just counted them
     * (device_count); 0 not counted. Lets a listing pick its plan without counting again. */
    int64_t counted;
} upd_device_filter;

/* Orders of a device listing (upd_device_filter.order); ties go by MAC, in the same
 * direction (a descending order is the exact reverse of the ascending one). */
enum {
    UPD_ORDER_SEEN_DESC = 0, /* last seen, newest first */
    UPD_ORDER_SEEN,          /* last seen, oldest first (never seen first) */
    UPD_ORDER_MAC,
    UPD_ORDER_MAC_DESC,
    UPD_ORDER_FIRST_DESC, /* first seen, newest first */
    UPD_ORDER_FIRST,
    UPD_ORDER_COUNT
};

/* One device's new tags (store op device_set_tags). */
typedef struct upd_tag_write {
    char mac[UPD_MAC_STR];
    char old[UPD_TAGS_MAX];      /* the tags the caller read and edited */
    char tags[UPD_TAGS_MAX];     /* the tags to write */
    char detail[UPD_DETAIL_MAX]; /* the "tags" event's sentence */
} upd_tag_write;

/* What the writer thread hands over: one device request (check-in) or one download. */
typedef enum upd_record_type { UPD_REC_CHECKIN = 1, UPD_REC_DOWNLOAD } upd_record_type;

typedef struct upd_record {
    upd_record_type type;
    int64_t at_ms;
    upd_device_row dev;    /* CHECKIN: the facts the request carried (unknown: ""/-1) */
    char mac[UPD_MAC_STR]; /* DOWNLOAD: the device, "" when unknown */
    char result[16];       /* CHECKIN: "offered", "declined", "current", "none", "version" */
    int64_t release_id;    /* offered / downloaded release, 0 none */
    char event[24];        /* DOWNLOAD: "download-started" / "download-completed" / ... */
    int64_t bytes;
    char detail[UPD_DETAIL_MAX];
    /* CHECKIN with an outcome report: the normalised header (the idempotency key), the
     * event kind ("report-installed", "report-failed", "report-rolled-back") and its
     * sentence; report[0] == 0 when the device sent none (or an invalid one). */
    char report[UPD_REPORT_MAX];
    int64_t report_release; /* the release whose MD5 the report names, 0 unknown */
    char report_kind[24];
    char report_detail[256];
    /* CHECKIN: the rollout whose release the decision chose (rollout.h), 0 none */
    int64_t rollout_id;
} upd_record;

/* What one record means for the device's state, as the fleet's rules (outcome.c) decide
 * it; the store writes exactly this, in the batch's transaction. */
#define UPD_PLAN_EVENTS 4
typedef struct upd_plan {
    /* check-ins */
    int facts_known;   /* the row holds the request's facts already: only times change */
    int write_event;   /* record the check-in as an event and as the last result */
    const char *kind;  /* that event's kind: "offered", "declined", "check" */
    int open_offer;    /* rec->release_id is now offered; remember the image run now */
    int set_running;   /* running_release = rec->release_id */
    int64_t updated;   /* > 0: it runs this offered release now: close the offer */
    int failed;        /* the open offer failed: its download count starts again */
    int record_report; /* store rec->report as the device's last report */
    /* both kinds: the hold on a failed release (set_hold: write the three values) */
    int set_hold;
    int64_t hold_release, hold_failures, hold_until_ms;
    /* events to add, in this order, before the check-in's own */
    int nev;
    struct {
        const char *kind; /* a literal */
        int64_t release;
        char detail[UPD_DETAIL_MAX];
    } ev[UPD_PLAN_EVENTS];
    /* both kinds: the device's state in a rollout changed (rollout.c): write
     * (rollout_id, mac) -> rollout_state at the record's time; rollout_id 0 nothing */
    int64_t rollout_id;
    const char *rollout_state; /* a literal */
} upd_plan;

/* The fleet's rules as the store calls them inside apply_batch (outcome.h). */
typedef struct upd_rules {
    void *ctx;
    /* A check-in. old: the device before it (NULL: never seen); offered: the release of
     * its open offer (NULL: none, or gone). */
    void (*checkin)(void *ctx, const upd_record *rec, const upd_device_state *old,
                    const upd_release_row *offered, upd_plan *plan);
    /* A completed download of the release offered to the device; now: the device with
     * the download counted. Only hold and events of the plan are used. */
    void (*downloaded)(void *ctx, const upd_record *rec, const upd_device_state *now,
                       upd_plan *plan);
} upd_rules;

/* A staged rollout of one release (rollout.h says what the fields mean; the store keeps
 * them as they are). */
#define UPD_WAVES_MAX  16
#define UPD_TARGET_MAX 512
typedef struct upd_rollout_row {
    int64_t id;
    int64_t release_id;
    char target[UPD_TARGET_MAX];         /* the target filter, "" every device of the platform */
    int64_t rollback_of;                 /* > 0: its devices are those that got that rollout's */
    char waves[128];                     /* "1%,10%,50%,100%" as given (normalised) */
    char thresholds[UPD_WAVES_MAX * 12]; /* of the waves opened so far, "123,4294967296" */
    int64_t max_fail_bp;                 /* failure share that pauses it, in 1/100 %; -1 none */
    int64_t max_fail_count;              /* failures that pause it (more than this); -1 none */
    int64_t min_success;
    int64_t min_sample;
    int64_t soak_ms;
    int64_t silent_ms;
    char window[16]; /* "02:00-05:00", "" any time */
    char tz[64];
    int allow_downgrade;
    int64_t start_at_ms;
    char webhook[512];
    char state[16]; /* "scheduled", "running", "paused", "completed", "aborted" */
    int wave;       /* waves opened so far */
    int64_t wave_opened_ms;
    int64_t health_from_ms;      /* results before this (a resume) do not count */
    char reason[UPD_DETAIL_MAX]; /* the sentence of its last state change */
    int64_t created_ms;
    int64_t updated_ms;
    char created_by[64];
} upd_rollout_row;

/* The devices of one platform running one version at one moment (adoption.h): what
 * the adoption chart is drawn from. tool: "" real devices, "sim"/"doctor" an updraft
 * tool's. */
typedef struct upd_adoption_row {
    int64_t at_ms;
    char platform[16]; /* "esp8266", "esp32", "" unknown */
    char version[UPD_VER_MAX];
    char tool[16];
    int64_t devices;
} upd_adoption_row;

typedef struct upd_store upd_store;

typedef int (*upd_release_cb)(void *ctx, const upd_release_row *r);
typedef int (*upd_device_cb)(void *ctx, const upd_device_row *d);
typedef int (*upd_event_cb)(void *ctx, const upd_event_row *e);
typedef int (*upd_channel_cb)(void *ctx, const upd_channel_row *c);
typedef int (*upd_rollout_cb)(void *ctx, const upd_rollout_row *r);
/* One device's state in a rollout ("offered", "downloading", "updated", ...) since at_ms. */
typedef int (*upd_rollout_dev_cb)(void *ctx, const char *mac, const char *state, int64_t at_ms);
typedef int (*upd_token_cb)(void *ctx, const upd_token_row *t);
typedef int (*upd_adoption_cb)(void *ctx, const upd_adoption_row *a);
/* How many devices run release id: real ones and those updraft's tools made. */
typedef int (*upd_release_adoption_cb)(void *ctx, int64_t id, int64_t devices,
                                       int64_t tool_devices);

/* Every operation returns 0, UPD_STORE_ENOTFOUND, UPD_STORE_ECONFLICT or
 * UPD_STORE_EFAIL (then err, when not NULL, holds the reason). List callbacks return 0
 * to go on, non-zero to stop. */
typedef struct upd_store_ops {
    void (*close)(upd_store *st);
    /* Insert r with its hash list and its gzip copy when r->gz_size > 0 (id and
     * created_ms are assigned and written back) and,
     * when channel is not NULL/"", make it that channel's current release: one
     * transaction. */
    int (*release_insert)(upd_store *st, upd_release_row *r, const char *channel, char *err,
                          size_t errlen);
    int (*release_get)(upd_store *st, int64_t id, upd_release_row *out);
    int (*release_by_sha256)(upd_store *st, const char *sha256, upd_release_row *out);
    /* The newest release whose hash list (upd_release_row.hash) holds hex: what a device
     * that reports hex as its sketch MD5 or SHA-256 runs. */
    int (*release_by_hash)(upd_store *st, const char *hex, upd_release_row *out);
    /* Replace a release's hash list with r->hash[0..nhash) computed by rules version
     * r->hash_rules (the server's start-up refresh of older rows). */
    int (*release_set_hashes)(upd_store *st, const upd_release_row *r, char *err, size_t errlen);
    int (*release_list)(upd_store *st, upd_release_cb cb, void *ctx);
    /* Record r->gz_* as release r->id's gzip copy (the start-up backfill of releases
     * stored before there were copies, delivery.h). */
    int (*release_set_gzip)(upd_store *st, const upd_release_row *r, char *err, size_t errlen);
    /* Retire a release and take it out of every channel that points to it. */
    int (*release_retire)(upd_store *st, int64_t id, char *err, size_t errlen);
    /* Serve a retired release again (channels are not changed); event
     * "release-unretired". ENOTFOUND when there is no such release. */
    int (*release_unretire)(upd_store *st, int64_t id, char *err, size_t errlen);
    /* Replace a release's notes (at most UPD_NOTES_MAX - 1 bytes); event "release-notes".
     * ENOTFOUND when there is no such release. */
    int (*release_set_notes)(upd_store *st, int64_t id, const char *notes, char *err,
                             size_t errlen);
    /* For each release some device runs (running_release), the devices that run it. */
    int (*release_adoption)(upd_store *st, upd_release_adoption_cb cb, void *ctx);
    /* Delete a release with its hashes and gzip copy (devices' offers, holds and
     * running_release that name it are cleared); event "release-deleted". ECONFLICT,
     * with nothing deleted, when a channel serves it or a device is pinned to it: then
     * *channels and *pins count them. The caller removes blobs no longer referenced. */
    int (*release_delete)(upd_store *st, int64_t id, int *channels, int *pins, char *err,
                          size_t errlen);
    /* Is the blob with this sha256 referenced by a release (its file or its gzip copy)?
     * 1 yes, 0 no, <0 error */
    int (*blob_referenced)(upd_store *st, const char *sha256);
    /* Make release_id the current release of channel name for its platform and mode,
     * with an event "channel-set"; a retired release: ECONFLICT. Clears the channel's
     * downgrade permission (channel_set_downgrade). */
    int (*channel_set)(upd_store *st, const char *name, int64_t release_id, char *err,
                       size_t errlen);
    int (*channel_current)(upd_store *st, const char *name, const char *platform, const char *mode,
                           upd_release_row *out);
    int (*channel_list)(upd_store *st, upd_channel_cb cb, void *ctx);
    /* The chip channel name is declared for (chip.c) into out ("ESP32-C3"), or
     * UPD_STORE_ENOTFOUND (out "") when it declares none. */
    int (*channel_chip_get)(upd_store *st, const char *name, char *out, size_t cap);
    /* Declare channel name's chip (a chip name as upd_chip_name gives it), or clear the
     * declaration (chip NULL or ""), with a "channel-chip" event: one transaction. */
    int (*channel_chip_set)(upd_store *st, const char *name, const char *chip, char *err,
                            size_t errlen);
    /* The public key (PEM) channel name requires its ESP8266 releases to be signed with
     * (sigrule.c) into pem (cap bytes) and its id (SHA-256 hex of the key) into key_id[65],
     * or UPD_STORE_ENOTFOUND (both "") when it requires none. */
    int (*channel_key_get)(upd_store *st, const char *name, char *pem, size_t cap, char key_id[65]);
    /* Require the key pem (with its id and description, for the event) on channel name,
     * or drop the requirement (pem NULL or ""), with a "channel-signing" event: one
     * transaction. */
    int (*channel_key_set)(upd_store *st, const char *name, const char *pem, const char *key_id,
                           const char *desc, char *err, size_t errlen);
    int (*device_get)(upd_store *st, const char *mac, upd_device_row *out);
    int (*device_list)(upd_store *st, const upd_device_filter *f, upd_device_cb cb, void *ctx);
    /* How many devices f matches (limit and offset ignored). */
    int (*device_count)(upd_store *st, const upd_device_filter *f, int64_t *out);
    /* The devices f passes (its limit, offset, order, cond and after ignored), in no order,
     * each with only what a target filter (filter.h) and a device's chip (chip.h) read:
     * mac, family, version, sketch_md5, sketch_sha256, last_seen_ms, channel, pin_release,
     * running_release, hold_release, hold_failures, hold_until_ms, tool, url_channel and
     * tags; the other fields are zero (sketch_size, free_space, chip_size -1). For passes
     * over a whole fleet (a rollout's plan, waves and counts): no sort, fewer columns. */
    int (*device_scan)(upd_store *st, const upd_device_filter *f, upd_device_cb cb, void *ctx);
    /* The distinct version strings devices sent (not ""), in no order, each with the number
     * of devices f matches that run it; f NULL: every version any device runs, with -1
     * (not counted: read from the index alone). cb returns non-zero to stop. */
    int (*device_versions)(upd_store *st, const upd_device_filter *f,
                           int (*cb)(void *ctx, const char *version, int64_t devices), void *ctx);
    /* release_id 0 unpins. Creates the device row when it does not exist yet. */
    int (*device_set_pin)(upd_store *st, const char *mac, int64_t release_id, char *err,
                          size_t errlen);
    /* channel NULL or "" clears the assignment. */
    int (*device_set_channel)(upd_store *st, const char *mac, const char *channel, char *err,
                              size_t errlen);
    /* Events, newest first; mac NULL = all; kind NULL = all; before_id 0 = newest. */
    int (*event_list)(upd_store *st, const char *mac, const char *kind, int64_t before_id,
                      int limit, upd_event_cb cb, void *ctx);
    /* Delete up to max events older than before_ms (oldest first). Returns how many
     * were deleted (>= 0) or UPD_STORE_EFAIL. With several servers on one database one
     * prunes at a time: the others delete nothing (0) meanwhile. */
    int (*events_prune)(upd_store *st, int64_t before_ms, int max);
    /* Gather the query planner's statistics again when the tables grew or shrank much since
     * they were last gathered (SQLite: ANALYZE within an analysis limit, seen by every
     * connection). NULL where the database does it by itself (PostgreSQL's autovacuum).
     * 1 gathered, 0 not needed, UPD_STORE_EFAIL. */
    int (*refresh_stats)(upd_store *st);
    /* Apply the writer thread's records in one transaction: for each, read the device,
     * ask rules what the record means (upd_plan) and write that. */
    int (*apply_batch)(upd_store *st, const upd_record *recs, size_t n, const upd_rules *rules,
                       char *err, size_t errlen);
    /* Lift the hold on a failed release (`updraft device retry`); event "retry". */
    int (*device_clear_hold)(upd_store *st, const char *mac, char *err, size_t errlen);
    /* Forget a device: its row and its events go, in one transaction that records one
     * event "device-deleted" under its MAC (the audit trail keeps who went when). A
     * device that checks in again is new. *nevents: how many events went with it. */
    int (*device_delete)(upd_store *st, const char *mac, int64_t *nevents, char *err,
                         size_t errlen);
    /* Write the tags of n devices, each with an event "tags" (w[i].detail), in one
     * transaction, and only if each device's tags are still w[i].old: else nothing is
     * written and ECONFLICT (read them again and retry) or ENOTFOUND (a device is gone),
     * err naming the device. */
    int (*device_set_tags)(upd_store *st, const upd_tag_write *w, size_t n, char *err,
                           size_t errlen);
    /* Insert rollout r (id, created_ms, updated_ms are assigned and written back) with an
     * event of kind ("rollout-created") and detail: one transaction. */
    int (*rollout_insert)(upd_store *st, upd_rollout_row *r, const char *kind, const char *detail,
                          char *err, size_t errlen);
    /* Write r's state, wave, wave_opened_ms, health_from_ms, thresholds, reason and
     * updated_ms with an
     * event of kind and detail (release r->release_id): one transaction. */
    int (*rollout_update)(upd_store *st, const upd_rollout_row *r, const char *kind,
                          const char *detail, char *err, size_t errlen);
    int (*rollout_get)(upd_store *st, int64_t id, upd_rollout_row *out);
    /* Every rollout, oldest first. */
    int (*rollout_list)(upd_store *st, upd_rollout_cb cb, void *ctx);
    /* The devices of rollout id with their states (written by apply_batch from plans). */
    int (*rollout_devices)(upd_store *st, int64_t id, upd_rollout_dev_cb cb, void *ctx);
    /* Add an event as it is (id is assigned; actor and source kept): the audit trail of
     * admin actions (authz.c). */
    int (*event_add)(upd_store *st, const upd_event_row *e, char *err, size_t errlen);
    /* Named API tokens (authz.h): insert (ECONFLICT when the name is taken), find by
     * key id (ENOTFOUND), list by name, delete by name (ENOTFOUND; the bootstrap row is
     * never deleted: ECONFLICT), and record the latest uses (n of them, one
     * transaction; a use older than the one recorded changes nothing). */
    int (*token_insert)(upd_store *st, const upd_token_row *t, char *err, size_t errlen);
    int (*token_by_key)(upd_store *st, const char *key_id, upd_token_row *out);
    int (*token_list)(upd_store *st, upd_token_cb cb, void *ctx);
    int (*token_delete)(upd_store *st, const char *name, char *err, size_t errlen);
    int (*token_touch)(upd_store *st, const upd_token_use *uses, size_t n, char *err,
                       size_t errlen);
    /* channel_set, and the channel offers the release to devices that run a newer
     * version too (`channel set --allow-downgrade`: channel_current's rows say
     * channel_downgrade) until the channel is set again. */
    int (*channel_set_downgrade)(upd_store *st, const char *name, int64_t release_id, char *err,
                                 size_t errlen);
    /* Blobs kept in the database itself, shared by every server on it (store_pg.c);
     * NULL in a store whose blobs are only the files of one data directory (SQLite).
     * blob_put: store the size bytes fd reads (from its start) as blob sha256, in
     * chunks, never all in memory; nothing when it is stored already; one transaction.
     * blob_get: write blob sha256 to fd chunk by chunk (*size: its length);
     * ENOTFOUND when it is not stored. blob_drop: delete blob sha256 unless a release
     * refers to it (0 also when there is none). blob_prune: delete the blobs stored
     * before before_ms that no release refers to (uploads that were never recorded);
     * how many (>= 0) or EFAIL. */
    int (*blob_put)(upd_store *st, const char *sha256, int fd, int64_t size, char *err,
                    size_t errlen);
    int (*blob_get)(upd_store *st, const char *sha256, int fd, int64_t *size, char *err,
                    size_t errlen);
    int (*blob_drop)(upd_store *st, const char *sha256);
    int (*blob_prune)(upd_store *st, int64_t before_ms);
    /* Call changed(ctx, mac), from a thread of the store's, soon after another server on
     * the same database changed releases, channels or devices' settings (PostgreSQL:
     * LISTEN/NOTIFY), and when it may have missed such a change (its connection came
     * back): read caches then drop what they hold. mac names the one device whose row
     * changed (or went) when the change said so (pgnotify.h); it is "" when releases,
     * channels or rollouts changed and no device's row did; else it is NULL: anything
     * may have changed. NULL in a store no other server writes (SQLite). Once per store;
     * 0 or EFAIL. */
    int (*watch)(upd_store *st, void (*changed)(void *ctx, const char *mac), void *ctx);
    /* Events with an id above after_id, oldest first, at most limit (<= 0: 100); mac and
     * kind NULL = all: the tail a poller asks for (GET /api/v1/events?after=). */
    int (*event_tail)(upd_store *st, const char *mac, const char *kind, int64_t after_id, int limit,
                      upd_event_cb cb, void *ctx);
    /* Record one adoption snapshot (rows[0..n), all of one at_ms) and delete the rows
     * older than prune_before_ms (0: none): one transaction (adoption.h). */
    int (*adoption_add)(upd_store *st, const upd_adoption_row *rows, size_t n,
                        int64_t prune_before_ms, char *err, size_t errlen);
    /* The snapshots' rows from since_ms on, oldest first; platform NULL = all. */
    int (*adoption_list)(upd_store *st, const char *platform, int64_t since_ms, upd_adoption_cb cb,
                         void *ctx);
    /* Dashboard sessions (session.h). session_insert: store s and, in the same
     * transaction, delete the sessions that are over (expires_ms <= now_ms, or last_ms <=
     * idle_before_ms). session_get: by id (ENOTFOUND). session_touch: set last_ms.
     * session_delete: session id, or (id NULL) every session opened with the token named
     * token_name; *n (may be NULL) says how many went. */
    int (*session_insert)(upd_store *st, const upd_session_row *s, int64_t now_ms,
                          int64_t idle_before_ms, char *err, size_t errlen);
    int (*session_get)(upd_store *st, const char *id, upd_session_row *out);
    int (*session_touch)(upd_store *st, const char *id, int64_t last_ms);
    int (*session_delete)(upd_store *st, const char *id, const char *token_name, int64_t *n);
    /* Can the database be reached? 1 yes. 0: a database server that went away (or a
     * connection it broke): operations fail at once (EFAIL) until the store, which
     * reconnects by itself, reaches it again; *since_ms (wall clock, may be NULL) says
     * since when and why (whylen bytes, may be NULL) the database's last words. NULL in
     * a store that cannot lose its database (SQLite: a file). */
    int (*reachable)(upd_store *st, int64_t *since_ms, char *why, size_t whylen);
    /* Of the servers on one database, is this the one that runs the fleet-wide jobs
     * (rollouts' waves and health: rollout.c)? 1 yes, 0 another one does (or none while
     * the database is lost). One at a time (PostgreSQL: a session advisory lock of the
     * watch connection, so it passes on when that server goes); needs watch running.
     * NULL in a store only one server uses (SQLite): always. */
    int (*leads)(upd_store *st);
    /* The server stops and will not wait longer: the apply_batch running (in another
     * thread) gives up as soon as it can (its transaction rolled back, EFAIL), and so does
     * any after it. NULL in a store whose batches are short (SQLite). */
    void (*interrupt)(upd_store *st);
    /* The states of rollout id's devices recorded at or after since_ms (at_ms: the time
     * of the device's request), in no order: what a server reads back once a second
     * (rollout.c) instead of every device's state. NULL in a store only one server uses
     * (SQLite). */
    int (*rollout_devices_since)(upd_store *st, int64_t id, int64_t since_ms, upd_rollout_dev_cb cb,
                                 void *ctx);
    /* The devices whose rows other servers on the database wrote (check-ins, downloads,
     * admin writes) since the last call: cb(ctx, mac) for each (a device may come more
     * than once, and again at the next call), none this server wrote. *mark is the
     * caller's place in the database's changes: 0 the first time (nothing is reported
     * then, the place is only taken), given back as this call left it; unchanged when
     * the call fails (EFAIL): the next one reports what this one missed. A device
     * deleted elsewhere is not reported: its NOTIFY is (watch). What devsync.c polls each
     * second; NULL in a store only one server writes (SQLite). */
    int (*device_changes)(upd_store *st, uint64_t *mark, void (*cb)(void *ctx, const char *mac),
                          void *ctx);
} upd_store_ops;

struct upd_store {
    const upd_store_ops *ops;
};

/* Open (create, migrate) the SQLite store at path. pool is the number of connections
 * for concurrent readers. Returns NULL with a message in err on failure. */
upd_store *upd_store_sqlite_open(const char *path, int pool, char *err, size_t errlen);

/* Is s a PostgreSQL connection URL ("postgres://..." or "postgresql://...")? 1 or 0. */
int upd_store_is_pg_url(const char *s);

/* url as it may be shown (in messages, logs): without its password ("user:***@"). */
void upd_store_pg_url_shown(const char *url, char *out, size_t cap);

/* The PostgreSQL store's advisory lock of schema migrations (held by whoever changes the
 * schema or moves an installation in: store_migrate.h) and the channel of its
 * notifications of changes (store op watch). */
#define UPD_PG_MIGRATE_LOCK   "7535327101"
#define UPD_PG_NOTIFY_CHANNEL "updraft_changed"

/* Open (migrate) the PostgreSQL store at url (a libpq connection URL) with pool
 * connections (store_pg.c). Returns NULL with a message in err (the URL shown without
 * its password) when it cannot connect or the schema is newer than this updraft's. */
upd_store *upd_store_pg_open(const char *url, int pool, char *err, size_t errlen);

/* Copy the SQLite database at src (which must exist) into the new file dst with
 * SQLite's online backup: one consistent snapshot even while a server writes to src
 * (WAL). 0 when the copy passes PRAGMA integrity_check, else -1 with the reason in err. */
int upd_store_sqlite_copy(const char *src, const char *dst, char *err, size_t errlen);

/* Make the database at path one self-contained file (rollback-journal mode: no -wal or
 * -shm beside it, readable from read-only media) and check it (integrity_check).
 * 0, or -1 with the reason in err. */
int upd_store_sqlite_seal(const char *path, char *err, size_t errlen);

/* PRAGMA integrity_check of the SQLite database at path (opened read-only): 0 when it
 * passes, else -1 with the reason in err. */
int upd_store_sqlite_check(const char *path, char *err, size_t errlen);

/* Wrap a store with the read cache of the device check path (store_cache.c): release,
 * channel and device reads are served from memory until a write through the wrapper
 * (or at most a second) makes them stale. Owns inner from then on (close closes it).
 * NULL (inner left open) when out of memory. */
upd_store *upd_store_cached(upd_store *inner);

/* Reads the cache of st (a store upd_store_cached made) answered with a row older than
 * its freshness because the database failed (store_cache.c). */
uint64_t upd_store_cached_stale(upd_store *st);

/* What the other servers' changes that st's watch told (store.h watch) said changed:
 * anything (its connection came back, too), no device's row, a device's row (one per
 * device named). */
typedef struct upd_store_told {
    uint64_t anything, not_devices, devices;
} upd_store_told;
void upd_store_cached_told(upd_store *st, upd_store_told *out);

#endif
