/* Which release an image is: every hash a device that installed a release can report
 * for it, computed once from the release's file (at upload, and at start-up for rows
 * computed by older rules), and the one test "does this device run that release" that
 * every part of the server uses (the check's "already runs it", the updated/failed
 * inference, chip detection, release_by_hash, the outcome report).
 * docs/protocol.md, "How a device's image is recognised". */
#ifndef UPD_SERVER_IMAGEID_H
#define UPD_SERVER_IMAGEID_H

#include "host/fileinspect.h"
#include "store.h"

/* The version of the rules below; bump it when they change so that the server
 * recomputes the lists of releases stored before (upd__imageid_refresh). */
#define UPD_IMAGEID_RULES 2 /* 2: ESP32 image-length MD5 and appended SHA-256 */

/* Fill rel->hash, rel->nhash and rel->hash_rules for the file at path, whose
 * inspection is fi (rel->md5/sha256 need not be set). Returns 0, or -1 with a message
 * in err when the file cannot be read. */
int upd__imageid_compute(const char *path, const upd_file_info *fi, upd_release_row *rel, char *err,
                         size_t errlen);

/* Does a device that reports md5 and/or sha256 (hex, any case; NULL or "" when it
 * sends none) run rel? 1 yes (then *how, when how is not NULL, names the hash that
 * matched, e.g. "MD5 in DOUT flash mode"), 0 no. */
int upd__imageid_runs(const upd_release_row *rel, const char *md5, const char *sha256,
                      const char **how);

/* The flash mode (0 QIO .. 3 DOUT) a device runs in when upd__imageid_runs matched it by
 * the hash described by how (an ESP8266 flash-mode variant); -1 when that hash says
 * nothing of the mode (the file's own bytes: the release's mode). */
int upd__imageid_flash_mode(const char *how);

struct srv;
/* Start-up: recompute the hash lists of releases whose lists older rules made (or
 * none), from their blobs. Logs what it could not do; never fails the start. */
void upd__imageid_refresh(struct srv *s);

#endif
