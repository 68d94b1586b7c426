/* Staged rollouts (docs/rollouts.md): one release offered to a target's devices in waves
 * (each a superset of the one before), membership by a stable hash of the device's MAC
 * and the rollout's id, a health rule that pauses the rollout by itself, and the state
 * machine scheduled -> running <-> paused -> completed | aborted.
 *
 * The state lives in memory for the device check path (upd__rollout_pick reads it under
 * a read lock, nothing else), and in the store (rollouts and rollout_devices) so that a
 * restart resumes where it stood. The devices' states come from the fleet's rules
 * (outcome.c): upd__rollout_rules wraps them, so the writer thread's transaction that
 * records "updated" or "failed" also records the device's state in the rollout. A
 * thread of its own opens waves when their soak has passed, notices silent devices,
 * starts scheduled rollouts, writes the pauses the health rule made and sends webhooks. */
#ifndef UPD_SERVER_ROLLOUT_H
#define UPD_SERVER_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct upd_rollouts upd_rollouts;
struct srv;

/* Defaults of `rollout create` (docs/rollouts.md). */
#define UPD_RO_DEFAULT_WAVES  "1%,10%,50%,100%"
#define UPD_RO_DEFAULT_FAIL   500 /* 5% in 1/100 % */
#define UPD_RO_DEFAULT_SAMPLE 10
#define UPD_RO_DEFAULT_SOAK   (60 * 60 * 1000)
#define UPD_RO_DEFAULT_SILENT (30 * 60 * 1000)
/* A wave's threshold that takes every device, later ones too (hashes are 32-bit). */
#define UPD_RO_ALL ((uint64_t)1 << 32)

/* Results of the admin operations (besides 0), with a sentence in why. */
enum {
    UPD_RO_EINVAL = -1,    /* bad parameters: 400 */
    UPD_RO_ENOTFOUND = -2, /* no such rollout or release: 404 */
    UPD_RO_ECONFLICT = -3, /* not in a state that allows it, or the target overlaps: 409 */
    UPD_RO_EFAIL = -4      /* the store failed: 500 */
};

/* ---- parsing (API and CLI say the same) ---- */

/* Waves: "1%,10%,50%,100%", counts "10,100,1000", or both ("10,25%,100%"); at most
 * UPD_WAVES_MAX, each taking at least as many devices as the one before (percentages
 * with up to two decimals). pct[i]: 1 when val[i] is in 1/100 %, 0 a count. Normalised
 * text into norm. 0, or -1 with the reason in why. */
int upd__rollout_parse_waves(const char *s, int *n, int64_t *val, int *pct, char *norm,
                             size_t normcap, char *why, size_t whycap);
/* "5%", "3", "5%,3": the failure share (1/100 %, -1 none) and count (-1 none). 0 ok. */
int upd__rollout_parse_failures(const char *s, int64_t *bp, int64_t *count, char *why,
                                size_t whycap);
/* "90s", "5m", "2h", "1d", "0", "1h30m": milliseconds; -1 when not a duration. */
int64_t upd__parse_duration(const char *s);

/* ---- the engine ---- */

/* Load the rollouts that are not over from s's store and start the rollout thread.
 * NULL with the reason in err. */
upd_rollouts *upd__rollouts_start(struct srv *s, char *err, size_t errlen);
/* Stop the thread (writing what it still has to) and free. NULL is harmless. */
void upd__rollouts_stop(upd_rollouts *ro);
/* The fleet's rules inner, with each device's rollout state recorded as they decide. */
void upd__rollout_rules(upd_rollouts *ro, const upd_rules *inner, upd_rules *out);

/* ---- the check path ---- */

enum { UPD_RO_NONE = 0, UPD_RO_OFFER = 1, UPD_RO_HOLD = 2 };
typedef struct upd_rollout_pick {
    int64_t rollout_id;
    int64_t release_id;
    int wave; /* 1-based wave of the device; 0 not in an open one */
    int allow_downgrade;
    /* HOLD: why the rollout's release is not offered now, as facts; the sentence is made
     * by upd__rollout_hold_why only when the answer uses it (most held devices' checks
     * end "current": no text is formatted for them) */
    int scheduled; /* the rollout has not started */
    int paused;
    int waves_open;          /* waves opened so far */
    int outside_window;      /* its delivery window is closed */
    int64_t window_opens_ms; /* when it opens next (outside_window) */
    char window[16], tz[64]; /* the window, when the device is held by it */
} upd_rollout_pick;

/* The sentence for a HOLD pick: why the device is not offered the rollout's release. */
void upd__rollout_hold_why(const upd_rollout_pick *pk, char *out, size_t cap);

/* What the active rollouts say about device mac (facts: its registry row when known,
 * else what its request said; family from the request) for a sketch or filesystem
 * update: UPD_RO_NONE no rollout covers it; UPD_RO_OFFER the rollout's release is the
 * device's target; UPD_RO_HOLD a rollout covers it but does not offer its release now
 * (wave not open, paused, outside its window): neither may the channel. Never blocks on
 * I/O. offered_release: the release the device has an open offer of (0 none), so that a
 * device in flight when a rollout pauses finishes. */
int upd__rollout_pick(upd_rollouts *ro, const char *mac, const upd_device_row *facts,
                      const char *family, int mode_fs, int64_t offered_release,
                      upd_rollout_pick *out);

/* The wave (1, 2, ...) of row's opened waves that device mac is in by its stable place in
 * the rollout, 0 when none (a device that joined and then left the target). */
int upd__rollout_wave_of(const upd_rollout_row *row, const char *mac);

/* ---- admin (rollout_api.c) ---- */

typedef struct upd_rollout_counts {
    int64_t eligible, offered, downloading, updated, failed, rolled_back, silent, pending;
} upd_rollout_counts;

#define UPD_RO_SAMPLE 5
typedef struct upd_rollout_status {
    upd_rollout_row row;
    upd_release_row rel;
    int nwaves;
    struct {
        int pct;
        int64_t value;      /* 1/100 % or a count */
        uint64_t threshold; /* opened: as frozen; else as it would be now */
        int open;
        upd_rollout_counts c; /* the devices that joined in this wave */
        int nsample;
        char sample[UPD_RO_SAMPLE][UPD_MAC_STR];
    } wave[UPD_WAVES_MAX];
    upd_rollout_counts total;
    char health[UPD_DETAIL_MAX]; /* the failure share now, in a sentence */
    int window_open;             /* 1 open or no window, 0 closed, -1 not known (not active) */
    int64_t window_change_ms;    /* when it next opens or closes; -1 never or not known */
    char next[UPD_DETAIL_MAX];   /* what it waits for */
    /* the same as data (ronext.h): an upd_ro_next_kind, the wave that opens next (0
     * none) and when (-1 not known) */
    int next_kind, next_wave;
    int64_t next_at_ms;
} upd_rollout_status;

/* Create r (release_id, target, waves, thresholds... as given; state and times are set
 * here). plan_only: check and count as for a create, store nothing (r->id is the id the
 * next rollout gets). st (optional) receives the per-wave counts. 0 or UPD_RO_E*. */
int upd__rollout_create(upd_rollouts *ro, upd_rollout_row *r, int plan_only, upd_rollout_status *st,
                        char *why, size_t whylen);
/* Rollback of rollout id: a rollout of release_id (0: the newest release of the same
 * platform and mode older than the bad one) for the devices that got id's release, with
 * downgrades allowed; id is aborted first. r: waves, soak ... of the new one. */
int upd__rollout_rollback(upd_rollouts *ro, int64_t id, upd_rollout_row *r, char *why,
                          size_t whylen);
/* "pause", "resume" or "abort" rollout id, said by by, with an optional note. */
int upd__rollout_act(upd_rollouts *ro, int64_t id, const char *action, const char *by,
                     const char *note, upd_rollout_row *out, char *why, size_t whylen);
/* Guard of a release's deletion or retirement (lifecycle.c): an active rollout (scheduled,
 * running, paused) that offers release_id, or rolls devices back to it, needs it; for a
 * deletion (deleting set) any rollout that names it does (its history keeps it). 1 when
 * one does, with the sentence naming it in why (nothing held); 0 when none does: then no
 * rollout can be created until upd__rollout_release_unlock (call it after the change).
 * ro NULL: 0, nothing to unlock. */
int upd__rollout_release_lock(upd_rollouts *ro, int64_t release_id, int deleting, char *why,
                              size_t whylen);
void upd__rollout_release_unlock(upd_rollouts *ro);

/* The status of rollout id (any state). */
int upd__rollout_status(upd_rollouts *ro, int64_t id, upd_rollout_status *out, char *why,
                        size_t whylen);

#endif
