/* What a device's records mean (outcome.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imageid.h"
#include "outcome.h"
#include "srv.h"
#include "updraft/version.h"

/* Does the device of d (its request's facts) run release r? By its image hash when it
 * sends one, else by its version. */
static int same_image(const upd_device_row *d, const upd_release_row *r)
{
    if (d->sketch_md5[0] || d->sketch_sha256[0])
        return upd__imageid_runs(r, d->sketch_md5, d->sketch_sha256, NULL);
    if (d->version[0])
        return upd_version_cmp(d->version, r->version) == 0;
    return 0;
}

/* Would the upsert leave the facts of old as they are? (It keeps a column when the
 * request does not say: "" or -1; but the URL's channel is always said, "" too.) */
static int same_facts(const upd_device_row *n, const upd_device_row *o)
{
#define TXT(f) (!n->f[0] || !strcmp(n->f, o->f))
#define NUM(f) (n->f < 0 || n->f == o->f)
    return o->first_seen_ms != 0 && TXT(ap_mac) && TXT(family) && TXT(chip_id) && TXT(sdk) &&
           TXT(version) && NUM(sketch_size) && TXT(sketch_md5) && TXT(sketch_sha256) &&
           NUM(free_space) && NUM(chip_size) && TXT(mode) && TXT(ip) && TXT(user_agent) &&
           TXT(tool) && !strcmp(n->url_channel, o->url_channel);
#undef TXT
#undef NUM
}

static char *add_event(upd_plan *p, const char *kind, int64_t release)
{
    if (p->nev >= UPD_PLAN_EVENTS)
        return NULL;
    p->ev[p->nev].kind = kind;
    p->ev[p->nev].release = release;
    p->ev[p->nev].detail[0] = '\0';
    return p->ev[p->nev++].detail;
}

static void fmt_time(int64_t ms, char *out, size_t cap)
{
    upd__iso_time(ms, out, cap);
}

/* Release rel failed on the device d once more (at at_ms): hold it back. Not from a device
 * an updraft tool made (tool: its name, "" a real device): doctor and sim share MACs with
 * nothing real, and their "failures" (a doctor run never installs what it downloads) must
 * not hold a release back from that MAC. */
static void failure(const upd_outcome_cfg *cfg, const upd_device_row *d, const char *tool,
                    int64_t rel, int64_t at_ms, upd_plan *p)
{
    if (tool && tool[0]) {
        char *e = add_event(p, "not-held", rel);
        if (e)
            snprintf(e, UPD_DETAIL_MAX,
                     "release %lld is not held back from this device: updraft %.15s made it",
                     (long long)rel, tool);
        return;
    }
    int64_t n = (d && d->hold_release == rel ? d->hold_failures : 0) + 1;
    p->set_hold = 1;
    p->hold_release = rel;
    p->hold_failures = n;
    p->hold_until_ms = n <= cfg->nbackoff ? at_ms + cfg->backoff_ms[n - 1] : 0;
    char *e = add_event(p, "held", rel);
    if (!e)
        return;
    if (p->hold_until_ms == at_ms) {
        snprintf(e, UPD_DETAIL_MAX,
                 "release %lld failed on this device %lld time%s: offered again at its next "
                 "check",
                 (long long)rel, (long long)n, n == 1 ? "" : "s");
    } else if (p->hold_until_ms) {
        char t[40];
        fmt_time(p->hold_until_ms, t, sizeof t);
        snprintf(e, UPD_DETAIL_MAX,
                 "release %lld failed on this device %lld time%s: offered again after %s "
                 "('updraft device retry %s' offers it now)",
                 (long long)rel, (long long)n, n == 1 ? "" : "s", t, d ? d->mac : "MAC");
    } else {
        snprintf(e, UPD_DETAIL_MAX,
                 "release %lld failed on this device %lld time%s: no longer offered to it; "
                 "'updraft device retry %s' offers it again",
                 (long long)rel, (long long)n, n == 1 ? "" : "s", d ? d->mac : "MAC");
    }
}

static void checkin(void *ctx, const upd_record *rec, const upd_device_state *oldst,
                    const upd_release_row *offered, upd_plan *p)
{
    const upd_outcome_cfg *cfg = ctx;
    const upd_device_row *d = &rec->dev, *old = oldst ? &oldst->row : NULL;
    memset(p, 0, sizeof *p);
    p->kind = !strcmp(rec->result, "offered")    ? "offered"
              : !strcmp(rec->result, "declined") ? "declined"
                                                 : "check";
    p->facts_known = old && same_facts(d, old);
    const char *tool = d->tool[0] ? d->tool : old ? old->tool : "";
    /* A check that says what the last event said is written as an event at most once per
     * UPD_CHECK_EVENT_MS (devices check every few minutes; an event per check would grow
     * without end): last_seen shows the rest. An offer is always an event. */
    p->write_event = !strcmp(p->kind, "offered") || !old || strcmp(old->last_result, rec->detail) ||
                     rec->at_ms - old->last_event_ms >= UPD_CHECK_EVENT_MS;
    int failed_now = 0;
    if (old && old->offered_release > 0 && offered) {
        char *e;
        if (same_image(d, offered)) {
            p->updated = offered->id;
            if ((e = add_event(p, "updated", offered->id)))
                snprintf(e, UPD_DETAIL_MAX, "now runs release %lld (version %.200s)",
                         (long long)offered->id, offered->version);
            if (old->hold_release == offered->id) {
                p->set_hold = 1; /* all three 0: it runs it now */
            }
        } else if (old->offer_downloads >= 1) {
            /* downloaded since the offer: still on the image it had then? */
            int back = 0;
            if (d->sketch_md5[0] && oldst->pre_md5[0])
                back = !strcasecmp(d->sketch_md5, oldst->pre_md5);
            else if (d->sketch_sha256[0] && oldst->pre_sha256[0])
                back = !strcasecmp(d->sketch_sha256, oldst->pre_sha256);
            else if (d->version[0] && oldst->pre_version[0])
                back = upd_version_cmp(d->version, oldst->pre_version) == 0;
            if (back) {
                p->failed = 1;
                if ((e = add_event(p, "failed", offered->id)))
                    snprintf(e, UPD_DETAIL_MAX,
                             "downloaded release %lld (version %.200s) but still runs its "
                             "previous image: the update was refused, failed to boot or was "
                             "rolled back",
                             (long long)offered->id, offered->version);
                failure(cfg, old, tool, offered->id, rec->at_ms, p);
                failed_now = 1;
            }
        }
    }
    /* the device's own report of its last attempt: once per distinct report (a device
     * repeats it until it gets an answer) */
    if (rec->report[0] && (!old || strcmp(old->last_report, rec->report) != 0)) {
        p->record_report = 1;
        char *e = add_event(p, rec->report_kind, rec->report_release);
        if (e)
            snprintf(e, UPD_DETAIL_MAX, "%s", rec->report_detail);
        int bad = !strcmp(rec->report_kind, "report-failed") ||
                  !strcmp(rec->report_kind, "report-rolled-back");
        if (bad && rec->report_release > 0 && !failed_now)
            failure(cfg, old, tool, rec->report_release, rec->at_ms, p);
    }
    if (!strcmp(p->kind, "offered"))
        p->open_offer = !old || old->offered_release != rec->release_id;
    else if (!strcmp(rec->result, "current") && rec->release_id > 0)
        p->set_running = !old || old->running_release != rec->release_id;
}

static void downloaded(void *ctx, const upd_record *rec, const upd_device_state *now, upd_plan *p)
{
    const upd_outcome_cfg *cfg = ctx;
    memset(p, 0, sizeof *p);
    int64_t count = now->row.offer_downloads;
    if (count < 3 || count % 3 != 0)
        return;
    char *e = add_event(p, "failed", rec->release_id);
    if (e)
        snprintf(e, UPD_DETAIL_MAX,
                 "release %lld downloaded %lld times since it was offered and the device does "
                 "not run it: it fails to install or boot; check the device's serial log",
                 (long long)rec->release_id, (long long)count);
    failure(cfg, &now->row, now->row.tool, rec->release_id, rec->at_ms, p);
}

void upd__outcome_rules(const upd_outcome_cfg *cfg, upd_rules *out)
{
    out->ctx = (void *)cfg;
    out->checkin = checkin;
    out->downloaded = downloaded;
}

int upd__outcome_hold(const upd_outcome_cfg *cfg, const upd_device_row *d, int64_t rel_id,
                      const char *rel_version, int64_t now_ms, char *why, size_t whylen)
{
    (void)cfg;
    if (!d || d->hold_release != rel_id || d->hold_failures <= 0)
        return 0;
    if (d->hold_until_ms == 0) {
        snprintf(why, whylen,
                 "release %lld (version %.100s) failed on this device %lld time%s: not offered "
                 "again; 'updraft device retry %s' offers it again",
                 (long long)rel_id, rel_version, (long long)d->hold_failures,
                 d->hold_failures == 1 ? "" : "s", d->mac);
        return 1;
    }
    if (now_ms >= d->hold_until_ms)
        return 0;
    char t[40];
    fmt_time(d->hold_until_ms, t, sizeof t);
    snprintf(why, whylen,
             "release %lld (version %.100s) failed on this device %lld time%s: offered again "
             "after %s; 'updraft device retry %s' offers it now",
             (long long)rel_id, rel_version, (long long)d->hold_failures,
             d->hold_failures == 1 ? "" : "s", t, d->mac);
    return 1;
}
