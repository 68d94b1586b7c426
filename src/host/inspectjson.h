/* One file's inspection as JSON, and what its signature says: `updraft inspect --json`
 * and the server's upload preview (POST /api/v1/inspect) both use this, so that they
 * say the same about a file, in the same fields. */
#ifndef UPD_HOST_INSPECTJSON_H
#define UPD_HOST_INSPECTJSON_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "fileinspect.h"
#include "sbv2.h"
#include "signing.h"

/* A file's ESP8266 signature (payload || signature || u32 length, docs/signing.md): what
 * the inspector saw, and with a key what a device holding the key makes of it; for an
 * ESP32-family app, its Secure Boot v2 signature sector. */
typedef struct upd_sigview {
    uint32_t len;    /* signature length, 0 none seen */
    int status;      /* upd_sig_status, or -1: not checked */
    const char *key; /* the key's description (NULL: no key given) */
    char key_id[65];
    char why[512];
    int esp32;        /* an ESP32-family app: the Secure Boot v2 view below */
    upd_sbv2_info sb; /* its signature sector */
    char sb_why[600];
} upd_sigview;

/* Fill v from the report r and the file's bytes (data may be NULL: only what r says);
 * k (may be NULL) is the devices' public key to check the signature against. */
void upd_sig_view(const upd_image_report *r, const uint8_t *data, size_t len, const upd_sig_key *k,
                  upd_sigview *v);

/* With a key, only an image that verifies is one the device takes: 1 acceptable. */
int upd_sig_acceptable(const upd_sigview *v);

/* Is the verdict one a device takes as an update (filesystem images with allow_fs)? */
int upd_inspect_acceptable(const upd_image_report *r, int allow_fs);

/* The JSON object `updraft inspect --json` prints for one file: "file" (name),
 * "acceptable", "verdict", "kind", "reason", "error", "platform", "chip", sizes, hashes,
 * "flash", "boot"/"app" images, "crc", "app_desc", "gzip", signature fields and "notes".
 * The caller owns the result (cJSON_Delete); NULL when out of memory. */
cJSON *upd_inspect_json(const char *name, const upd_file_info *fi, int allow_fs,
                        const upd_sigview *sv);

#endif
