/* Which ESP32-family chip a device is, and which chip a channel is declared for
 * (docs/protocol.md "Wrong chip within the family").
 *
 * Arduino-ESP32 does not say which chip it runs on (ESP32, -S2, -S3, -C3, ...), and its
 * client finds out that an image is for another chip only at the very end
 * (Update.end -> esp_ota_set_boot_partition: error 9), after it erased and wrote the
 * whole slot. So the server must know: from the image the device runs (its reported
 * hashes, when they are a release's), from what the registry knows it ran, or from
 * the operator, who declares the chip of a channel; a declared channel takes only
 * releases for that chip, so a mixed fleet split into channels is safe by
 * configuration. These rules live here, above the store (DESIGN.md). */
#ifndef UPD_SERVER_CHIP_H
#define UPD_SERVER_CHIP_H

#include <stddef.h>

#include "store.h"
#include "updraft/image.h"

struct srv;

/* The chip of an ESP32-family device: that of the release whose device hashes
 * (imageid.h) the request reports, else of the release whose hashes it reported at
 * its previous check (known's sketch hashes), else of the release the registry knows
 * it runs (known->running_release). UPD_CHIP_UNKNOWN when none says. known may be
 * NULL. When how is not NULL it receives the evidence ("it runs release 4"). */
upd_chip upd__chip_of_device(struct srv *s, const upd_device_row *d, const upd_device_row *known,
                             char *how, size_t howlen);

/* May rel become a current release of channel name? 0 yes (the channel declares no
 * chip, rel is a filesystem image, or rel is for the declared chip); -1 no, with the
 * sentence (what is wrong, what to do) in err; UPD_STORE_EFAIL when the store failed. */
int upd__chip_channel_accepts(struct srv *s, const char *name, const upd_release_row *rel,
                              char *err, size_t errlen);

/* Declare channel name for chip (any spelling upd_chip_parse takes: "esp32c3",
 * "ESP32-C3"), or clear the declaration (chip NULL or "" or "-"). Refused when chip is
 * not an ESP32-family chip or a current release of the channel is for another chip
 * (except one of the platform and mode of incoming, which the caller is about to
 * replace; incoming may be NULL). Returns 0; -1 with the sentence in err (the caller
 * answers 400 when *bad_name, else 409); or a UPD_STORE_* error. */
int upd__chip_declare(struct srv *s, const char *name, const char *chip,
                      const upd_release_row *incoming, int *bad_name, char *err, size_t errlen);

#endif
