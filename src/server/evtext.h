/* The sentences the stores write inside their transactions: the "detail" of their events
 * (release-added, channel-set, pinned, retry, device-deleted, ...) and the refusals they
 * explain. Composed here, once, for both backends (DESIGN.md "Rules above the store"),
 * from what the store read in the transaction. Each writes a NUL-terminated sentence of
 * at most cap bytes (cut short when longer; versions are cut at 200 characters). The
 * wording is the API's and the event log's (docs/api.md): change it here and in the docs
 * together. */
#ifndef UPD_SERVER_EVTEXT_H
#define UPD_SERVER_EVTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* "release 3 added: version 1.2.0, esp8266 esp8266-arduino, 300000 bytes" (+ its gzip copy) */
void upd__evtext_release_added(char *d, size_t cap, const upd_release_row *r);
/* "release 3 (version 1.2.0) retired" / "... unretired" (retired: 1 or 0) */
void upd__evtext_release_retired(char *d, size_t cap, int64_t id, const char *version, int retired);
/* "release 3 (version 1.2.0): notes set (120 bytes)", or "... notes cleared" (bytes 0) */
void upd__evtext_release_notes(char *d, size_t cap, int64_t id, const char *version, size_t bytes);
/* "release 3 (version 1.2.0, esp8266 esp8266-arduino) deleted" */
void upd__evtext_release_deleted(char *d, size_t cap, const upd_release_row *r);
/* "channel 'beta' (esp8266 sketch) now serves release 3 (version 1.2.0)", and with
 * downgrade, that it also serves devices that run a newer version */
void upd__evtext_channel_set(char *d, size_t cap, const char *name, const upd_release_row *r,
                             int downgrade);
/* A channel's signing key: required (key_id, NULL ""; desc: its description, NULL "the")
 * or no longer (required 0). */
void upd__evtext_channel_signing(char *d, size_t cap, const char *name, int required,
                                 const char *key_id, const char *desc);
/* A channel's chip: declared (chip) or cleared (chip NULL or ""). */
void upd__evtext_channel_chip(char *d, size_t cap, const char *name, const char *chip);
/* A device's pin: "pinned to release 3 (version 1.2.0)", or "unpinned" (id 0). */
void upd__evtext_pin(char *d, size_t cap, int64_t id, const char *version);
/* A device's channel: assigned (channel) or cleared (NULL or ""). */
void upd__evtext_channel_assigned(char *d, size_t cap, const char *channel);
/* `updraft device retry`: the hold lifted (hold_release 0: there was none). */
void upd__evtext_retry(char *d, size_t cap, int64_t hold_release, int64_t hold_failures);
/* A forgotten device, with how many events went with it. */
void upd__evtext_device_deleted(char *d, size_t cap, int64_t nevents);
/* A rollout's event: "rollout 4: " and the rollout module's sentence. */
void upd__evtext_rollout(char *d, size_t cap, int64_t id, const char *detail);

/* The refusals both stores explain (their ECONFLICT / ENOTFOUND), into err:
 * a retired release given to a channel (pin 0) or a pin (pin 1); */
void upd__evtext_retired_refused(char *err, size_t cap, int64_t id, int pin);
/* tags not written: the device's tags changed since they were read (conflict 1), or the
 * device is gone (0). */
void upd__evtext_tags_refused(char *err, size_t cap, const char *mac, int conflict);

#endif
