/* Smart delivery of ESP8266 Arduino releases (docs/protocol.md "gzip delivery"): every such
 * release gets a gzip copy at upload, and a device gets that copy instead of the plain
 * image when the image it runs is known (a release of ours, by the hashes of imageid.h,
 * or the registry's running release) and carries an eboot that inflates (its core's
 * Updater then accepts gzip too): always then, and it is the only way when only the
 * compressed image fits. Unknown devices get the plain image. */
#ifndef UPD_SERVER_DELIVERY_H
#define UPD_SERVER_DELIVERY_H

#include "host/fileinspect.h"
#include "store.h"

struct srv;

/* At upload: when fi is a plain ESP8266 Arduino application, compress the file at path
 * (gzcopy.h: level 9, verified by inflating back), check the copy with the inspector,
 * store it as a blob and fill rel->gz_*. Leaves rel->gz_size 0 for other files. Returns 0,
 * or -1 with err set (the upload then goes on without a copy: the server logs it). */
int upd__delivery_make_gzip(struct srv *s, const char *path, const upd_file_info *fi,
                            upd_release_row *rel, char *err, size_t errlen);

/* Start-up: make the gzip copy of every ESP8266 Arduino release stored without one (by an
 * updraft from before copies). Logs what it could not do; never fails the start. */
void upd__delivery_refresh(struct srv *s);

/* The report of rel's gzip copy for the fit rules: the release's own report (rep) with
 * the copy's length, its first byte, ISIZE and min stage. */
void upd__delivery_gzip_report(const upd_release_row *rel, const upd_image_report *rep,
                               upd_image_report *out);

/* Whether the device's running image inflates gzip: 1 when it is a known release (by its
 * reported sketch MD5/SHA-256 through release_by_hash; when it reports none, the
 * registry's running_release) whose eboot inflates, with *flash_mode the mode byte the
 * device boots with (the one in the hash that matched, imageid.h); -1 when it is a known
 * release whose eboot does not inflate (an ESP8266 core before 2.7); 0 when it is not
 * known. why says why not (for the event). */
int upd__delivery_device_inflates(struct srv *s, const upd_device_row *d,
                                  const upd_device_row *known, int *flash_mode, char *why,
                                  size_t whylen);

#endif
