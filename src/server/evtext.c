/* Event sentences (evtext.h). */
#include <stdio.h>
#include <string.h>

#include "evtext.h"

void upd__evtext_release_added(char *d, size_t cap, const upd_release_row *r)
{
    int n = snprintf(d, cap, "release %lld added: version %.200s, %s %s, %lld bytes",
                     (long long)r->id, r->version, r->platform, r->kind, (long long)r->size);
    if (r->gz_size > 0 && n >= 0 && (size_t)n < cap)
        snprintf(d + n, cap - (size_t)n, " (gzip copy %lld bytes)", (long long)r->gz_size);
}

void upd__evtext_release_retired(char *d, size_t cap, int64_t id, const char *version, int retired)
{
    snprintf(d, cap, "release %lld (version %.200s) %s", (long long)id, version,
             retired ? "retired" : "unretired");
}

void upd__evtext_release_notes(char *d, size_t cap, int64_t id, const char *version, size_t bytes)
{
    if (bytes)
        snprintf(d, cap, "release %lld (version %.200s): notes set (%zu bytes)", (long long)id,
                 version, bytes);
    else
        snprintf(d, cap, "release %lld (version %.200s): notes cleared", (long long)id, version);
}

void upd__evtext_release_deleted(char *d, size_t cap, const upd_release_row *r)
{
    snprintf(d, cap, "release %lld (version %.200s, %s %s) deleted", (long long)r->id, r->version,
             r->platform, r->kind);
}

void upd__evtext_channel_set(char *d, size_t cap, const char *name, const upd_release_row *r,
                             int downgrade)
{
    snprintf(d, cap, "channel '%s' (%s %s) now serves release %lld (version %.200s)%s", name,
             r->platform, r->mode, (long long)r->id, r->version,
             downgrade ? ", also to devices that run a newer version (--allow-downgrade)" : "");
}

void upd__evtext_channel_signing(char *d, size_t cap, const char *name, int required,
                                 const char *key_id, const char *desc)
{
    if (!required)
        snprintf(d, cap, "channel '%s' no longer requires signed releases", name);
    else
        snprintf(d, cap, "channel '%s' requires releases signed with %s key %.16s", name,
                 desc ? desc : "the", key_id ? key_id : "");
}

void upd__evtext_channel_chip(char *d, size_t cap, const char *name, const char *chip)
{
    if (!chip || !chip[0])
        snprintf(d, cap, "channel '%s' no longer declares a chip", name);
    else
        snprintf(d, cap, "channel '%s' is declared for %s devices", name, chip);
}

void upd__evtext_pin(char *d, size_t cap, int64_t id, const char *version)
{
    if (id > 0)
        snprintf(d, cap, "pinned to release %lld (version %.200s)", (long long)id, version);
    else
        snprintf(d, cap, "unpinned");
}

void upd__evtext_channel_assigned(char *d, size_t cap, const char *channel)
{
    if (channel && channel[0])
        snprintf(d, cap, "assigned to channel '%s'", channel);
    else
        snprintf(d, cap, "channel assignment cleared (follows 'stable' or the URL)");
}

void upd__evtext_retry(char *d, size_t cap, int64_t hold_release, int64_t hold_failures)
{
    if (hold_release > 0)
        snprintf(d, cap, "retry: release %lld (failed %lld time%s) is offered again",
                 (long long)hold_release, (long long)hold_failures, hold_failures == 1 ? "" : "s");
    else
        snprintf(d, cap, "retry: no release was held back");
}

void upd__evtext_device_deleted(char *d, size_t cap, int64_t nevents)
{
    snprintf(d, cap,
             "device deleted with its %lld event%s: it is new to the server if it checks in "
             "again",
             (long long)nevents, nevents == 1 ? "" : "s");
}

void upd__evtext_rollout(char *d, size_t cap, int64_t id, const char *detail)
{
    snprintf(d, cap, "rollout %lld: %s", (long long)id, detail);
}

void upd__evtext_retired_refused(char *err, size_t cap, int64_t id, int pin)
{
    snprintf(err, cap, "release %lld is retired: %s", (long long)id,
             pin ? "pin a release that is not retired"
                 : "pick a release that is not retired (GET /api/v1/releases)");
}

void upd__evtext_tags_refused(char *err, size_t cap, const char *mac, int conflict)
{
    snprintf(err, cap,
             conflict ? "the tags of device %s changed meanwhile"
                      : "device %s is not in the registry",
             mac);
}
