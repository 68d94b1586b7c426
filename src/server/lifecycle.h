/* The release lifecycle without traps (issue 10): retiring the release a channel serves
 * only with a fallback or on purpose, unretire, delete only what nothing needs, one
 * version per platform unless asked, channels that exist, pins a device can take. The
 * rules and the API calls that apply them (docs/api.md, docs/operations.md). */
#ifndef UPD_SERVER_LIFECYCLE_H
#define UPD_SERVER_LIFECYCLE_H

#include "srv.h"

/* POST /api/v1/releases/<id>/retire [{"fallback": "previous"} | {"force": true}] */
enum MHD_Result upd__lifecycle_retire(req *r, struct MHD_Connection *c, int64_t id);
/* POST /api/v1/releases/<id>/unretire */
enum MHD_Result upd__lifecycle_unretire(req *r, struct MHD_Connection *c, int64_t id);
/* DELETE /api/v1/releases/<id> */
enum MHD_Result upd__lifecycle_delete(req *r, struct MHD_Connection *c, int64_t id);

/* The channels that serve each release now, for release listings: fills "serving" of
 * every object of the array rels (objects with "id"). */
void upd__lifecycle_add_serving(srv *s, cJSON *rels);

/* Upload: is there another release (other bytes) with this version, platform and mode?
 * 1 with it in *out, 0 no. */
int upd__lifecycle_same_version(srv *s, const upd_release_row *rel, upd_release_row *out);

/* Upload with "replace": the channels that serve old serve new from now on, and old is
 * retired. 0, or -1 with err. */
int upd__lifecycle_replace(srv *s, const upd_release_row *old, const upd_release_row *new_rel,
                           char *err, size_t errlen);

/* The version an image names for itself (ESP-IDF app description), when it is the
 * application's: 0 with it in out; -1 when there is none or it is not the application's
 * (the framework's version, as the Arduino library builder leaves it), with why. */
int upd__lifecycle_image_version(const upd_app_desc *d, char *out, size_t cap, char *why,
                                 size_t whylen);

/* Does a channel of this name exist (serves a release for some platform)? "stable" always
 * does. 0 yes; -1 no, with why saying which exist and the closest. */
int upd__lifecycle_channel_known(srv *s, const char *name, char *why, size_t whylen);

/* Can the device of mac take release rel when pinned to it? 0 yes (or the device is not
 * known yet); -1 no, with the fit rule's reason in why. */
int upd__lifecycle_pin_fits(srv *s, const char *mac, const upd_release_row *rel, char *why,
                            size_t whylen);

/* Does release rel verify with the key the channel of device mac requires (sigrule.h)?
 * Unlike the fit rules, no "force" passes this: the device itself refuses the image. 0
 * yes (or the device is not known); -1 no, with the reason in why; UPD_STORE_EFAIL. */
int upd__lifecycle_pin_signed(srv *s, const char *mac, const upd_release_row *rel, char *why,
                              size_t whylen);

#endif
