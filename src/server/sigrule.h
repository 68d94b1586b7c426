/* Signed releases on the server (docs/signing.md "On the server"): a channel may require
 * its ESP8266 releases to be signed with one key (`updraft channel set C
 * --require-signed KEY`), and an upload may be signed by the server with a key it holds
 * (`updraft serve --sign-key FILE`, `updraft release add --sign`).
 *
 * The rule: an ESP8266 device built for signed updates installs only images whose
 * signature verifies with its key (Updater error 12 otherwise, after the whole
 * download), so a channel that requires a key takes, as a current release, only
 * ESP8266 images (applications and filesystem images: the Updater verifies both) that
 * verify with it; an unsigned or wrongly signed image is refused at upload and at
 * `channel set` with the reason. ESP32 releases are not checked: Arduino-ESP32 and
 * ESP-IDF do not verify this format. These rules live here, above the store
 * (DESIGN.md). The server's signing key never leaves the process: it is read once at
 * start, and the API shows only its id. */
#ifndef UPD_SERVER_SIGRULE_H
#define UPD_SERVER_SIGRULE_H

#include <stddef.h>
#include <stdint.h>

#include "host/fileinspect.h"
#include "store.h"

struct srv;
struct upd_sig_key;

/* Start-up: load the private key of cfg.sign_key (when given) into s. 0, or -1 after
 * saying why on stderr (the server does not start). */
int upd__sign_setup(struct srv *s);
void upd__sign_free(struct srv *s);
/* The server's signing key's description and id ("RSA-2048", hex), or NULL when the
 * server holds none. */
const char *upd__sign_server_key(const struct srv *s, char id[65]);

/* Does the image at path (inspected as fi; version and channel for messages) satisfy
 * channel name's key? 0 yes (no key required, an ESP32 image, or it verifies); -1 no,
 * with the sentence in err; UPD_STORE_EFAIL when the store failed or the key stored is
 * unreadable. */
int upd__sign_file_accepted(struct srv *s, const char *name, const char *path,
                            const upd_file_info *fi, const char *what, char *err, size_t errlen);

/* The same for every channel whose current release is release id old (an upload that
 * replaces it takes its place on them). */
int upd__sign_replace_accepted(struct srv *s, int64_t old, const char *path,
                               const upd_file_info *fi, char *err, size_t errlen);

/* The same for a stored release (its blob). */
int upd__sign_channel_accepts(struct srv *s, const char *name, const upd_release_row *rel,
                              char *err, size_t errlen);

/* May device d be pinned to release rel? Its effective channel's key (filter.h
 * upd__device_channel) must verify rel, as the device verifies what it installs. 0 yes
 * (no key, an ESP32 release, or it verifies); -1 no, with the sentence in err;
 * UPD_STORE_EFAIL when the store failed. */
int upd__sign_device_accepts(struct srv *s, const upd_device_row *d, const upd_release_row *rel,
                             char *err, size_t errlen);

/* May release rel be rolled out to a target? Every known ESP8266 device the target holds
 * must be on a channel whose key, if any, verifies rel. The check rides on a pass over
 * the target's devices that the caller makes anyway (a rollout's plan reads them once):
 * _new (NULL: out of memory), then _device for each device of the target in any order
 * (those not ESP8266 are skipped), then _end, which frees w and answers 0 yes; -1 no,
 * with the sentence in err (how many devices, the first of them in the device list's
 * order, the channel); UPD_STORE_EFAIL when the store failed (_failed says so). */
typedef struct upd_sign_walk upd_sign_walk;
upd_sign_walk *upd__sign_walk_new(struct srv *s, const upd_release_row *rel);
void upd__sign_walk_device(upd_sign_walk *w, const upd_device_row *d);
void upd__sign_walk_failed(upd_sign_walk *w);
int upd__sign_walk_end(upd_sign_walk *w, char *err, size_t errlen);

/* Sign the upload at path in place (payload || signature || u32 length) with the
 * server's key and inspect it again into fi. 0; -1 with err when the server has no key
 * (*status 400), the file is signed already or the key cannot sign it (*status 422), or
 * the file cannot be rewritten (*status 500). */
int upd__sign_upload(struct srv *s, const char *path, upd_file_info *fi, unsigned *status,
                     char *err, size_t errlen);

/* Require the public key pem (PEM text, NUL-terminated) on channel name, or drop the
 * requirement (pem NULL). Refused (-1, err; *status 400 for a key that is no RSA public
 * key, 409 for a conflict) when a current ESP8266 release of the channel does not
 * verify with it, except one of the platform and mode of incoming, which the caller is
 * about to replace (incoming may be NULL); or a UPD_STORE_* error. */
int upd__sign_require(struct srv *s, const char *name, const char *pem,
                      const upd_release_row *incoming, unsigned *status, char *err, size_t errlen);

/* May the signed ESP8266 image rep (sig_len set) be offered to device d (known: its
 * registry row, may be NULL)? The Updater writes the chip's flash mode into byte 2 of a
 * plain image on flash and then verifies what is on flash, so a signed image whose mode
 * differs from the chip's fails with Updater error 12 after the whole download. 0 yes
 * (the mode is the chip's, or the chip's mode is not known: the image the device runs is
 * not one of our releases); -1 no, with the sentence in why. */
int upd__sign_mode_refused(struct srv *s, const upd_device_row *d, const upd_device_row *known,
                           const upd_image_report *rep, char *why, size_t whylen);

/* The key channel name requires, for the API: its description and id (id[65]);
 * 0 when there is one, else -1. */
int upd__sign_channel_key(struct srv *s, const char *name, char desc[32], char id[65]);

#endif
