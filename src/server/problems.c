/* Which devices need an operator, and why (problems.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "metrics.h"
#include "problems.h"
#include "rollout.h"
#include "updraft/fit.h"

/* The first words of the check path's answer to a device that runs its target
 * (policy.c): such a device has nothing to fix. */
#define UP_TO_DATE "up to date"

int upd__problem_candidate(const upd_device_row *d)
{
    if (!d->family[0] || d->last_seen_ms <= 0)
        return 0; /* never checked in (pinned or assigned by an operator only) */
    if (d->hold_release > 0 && d->hold_failures > 0)
        return 1;
    if (d->offered_release > 0)
        return 1;
    return strncmp(d->last_result, UP_TO_DATE, strlen(UP_TO_DATE)) != 0;
}

/* The request a device with registry row d sends, as far as the row says it. */
static void devreq_of(const upd_device_row *d, upd_devreq *dr)
{
    memset(dr, 0, sizeof *dr);
    dr->dev = *d;
    dr->has_mac = 1;
    dr->family_known = 1;
    dr->client = !strcmp(d->family, "esp8266")                ? UPD_CLIENT_ESP8266_ARDUINO
                 : strstr(d->user_agent, "ESP32 HTTP Client") ? UPD_CLIENT_ESP_IDF
                                                              : UPD_CLIENT_ESP32_ARDUINO;
    upd__copy(dr->url_channel, sizeof dr->url_channel, d->url_channel);
}

int upd__problem_of(srv *s, const upd_device_row *d, int64_t now_ms, upd_problem *out)
{
    memset(out, 0, sizeof *out);
    if (!upd__problem_candidate(d))
        return 0;
    /* gone quiet after a download: the new image may not boot */
    if (d->offered_release > 0 && d->offer_downloads >= 1 &&
        now_ms - d->last_seen_ms >= UPD_RO_DEFAULT_SILENT) {
        upd_release_row rel;
        char ver[120] = "?";
        if (s->store->ops->release_get(s->store, d->offered_release, &rel) == 0)
            snprintf(ver, sizeof ver, "%.100s", rel.version);
        char seen[40];
        upd__iso_time(d->last_seen_ms, seen, sizeof seen);
        out->kind = "silent-after-update";
        out->reason = "silent";
        out->release = d->offered_release;
        snprintf(out->sentence, sizeof out->sentence,
                 "downloaded release %lld (version %s) and has not checked in since %s: it may "
                 "not boot the new image; look at the device (serial log, power), "
                 "'updraft device show %s' has its history",
                 (long long)d->offered_release, ver, seen, d->mac);
        return 1;
    }
    /* downloaded again and again without running it (outcome.c's rule, which holds the
     * release back from a real device: then the decision below says so too) */
    if (d->offered_release > 0 && d->offer_downloads >= 3 &&
        !(d->hold_release == d->offered_release && d->hold_failures > 0)) {
        out->kind = "update-loop";
        out->reason = "loop";
        out->release = d->offered_release;
        out->event = "failed"; /* the sentence is that of its last "failed" event */
        return 1;
    }
    upd_devreq *dr = malloc(sizeof *dr);
    upd_decision *dec = malloc(sizeof *dec);
    int found = 0;
    if (!dr || !dec)
        goto done;
    devreq_of(d, dr);
    upd__decide(s, dr, d, dec);
    if (strcmp(dec->result, "declined") != 0)
        goto done;
    if (dec->decline == UPD_DECLINE_OTHER && dec->have_rel) {
        /* a rollout holding the release back until the device's wave opens is no fault */
        upd_rollout_pick pk;
        if (upd__rollout_pick(s->rollouts, d->mac, d, d->family, 0, d->offered_release, &pk) ==
                UPD_RO_HOLD &&
            pk.release_id == dec->rel.id)
            goto done;
    }
    found = 1;
    out->release = dec->have_rel ? dec->rel.id : 0;
    upd__copy(out->sentence, sizeof out->sentence, dec->detail);
    out->reason = upd__decline_class(dec->decline);
    if (dec->decline == UPD_DECLINE_HELD_BACK) {
        out->kind = d->offer_downloads >= 3                ? "update-loop"
                    : strstr(d->last_report, "rollback=1") ? "rolled-back"
                                                           : "failed";
    } else {
        out->kind = "declined";
    }
done:
    free(dr);
    free(dec);
    return found;
}

/* One group as the API answers it. */
static cJSON *group_json(const upd_fleet_problem *p)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "kind", p->kind);
    cJSON_AddStringToObject(j, "reason", p->reason);
    if (p->release > 0)
        cJSON_AddNumberToObject(j, "release", (double)p->release);
    else
        cJSON_AddNullToObject(j, "release");
    if (p->version[0])
        cJSON_AddStringToObject(j, "version", p->version);
    else
        cJSON_AddNullToObject(j, "version");
    cJSON_AddNumberToObject(j, "devices", (double)p->devices);
    cJSON_AddStringToObject(j, "sentence", p->sentence);
    cJSON *sm = cJSON_AddArrayToObject(j, "sample");
    for (int i = 0; i < p->nsample; i++)
        cJSON_AddItemToArray(sm, cJSON_CreateString(p->sample[i]));
    return j;
}

enum MHD_Result upd__problems_route(req *r, struct MHD_Connection *c, const char *method)
{
    unsigned mask;
    enum MHD_Result ret;
    upd_fleet_scan *sc =
        upd__fleet_route_scan(r, c, method, "use GET /api/v1/problems", &mask, &ret);
    if (!sc)
        return ret;
    upd_fleet_problem *g = NULL;
    size_t ng = upd__fleet_problems(sc, mask, &g);
    cJSON *j = cJSON_CreateObject();
    upd__fleet_as_of(sc, j);
    int64_t devices = 0;
    cJSON *arr = cJSON_AddArrayToObject(j, "groups");
    for (size_t i = 0; i < ng; i++) {
        devices += g[i].devices;
        cJSON_AddItemToArray(arr, group_json(&g[i]));
    }
    cJSON_AddNumberToObject(j, "devices", (double)devices);
    free(g);
    upd__fleet_put(r->s->fleet, sc);
    return upd__reply_json(r, c, MHD_HTTP_OK, j);
}
