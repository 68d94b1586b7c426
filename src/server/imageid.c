/* The hashes by which a device reports the image it runs (imageid.h). What a device
 * reports is the hash of its image AS IT IS ON ITS FLASH, which is not always the
 * file's:
 * - ESP8266 Arduino (x-ESP8266-sketch-md5 = ESP.getSketchMD5(), the MD5 of the first
 *   getSketchSize() bytes of flash): the Updater rewrites byte 2 of a plain image (the
 *   flash mode) to the running chip's mode, so a device that installed release R in
 *   another mode reports the MD5 of R with byte 2 = 0, 1, 2 or 3
 *   (spec/esp8266-http-update.md section 8). A gzip image is not rewritten: eboot
 *   inflates it as it is, and the device reports the inflated image's MD5. A signed
 *   image (payload || signature || u32 length) runs as its payload: getSketchSize()
 *   walks the app image, so the MD5 covers the payload alone.
 * - ESP32 family (Arduino-ESP32 x-ESP32-sketch-md5 = ESP.getSketchMD5(), sketch-sha256
 *   = esp_partition_get_sha256() of the running slot): both cover the image as
 *   esp_image_verify measures it, image_len = header, segments, checksum padding and,
 *   when byte 23 says so, the appended 32-byte SHA-256; bytes after it (padding to a
 *   sector, a secure boot signature block, junk) are not part of it. The MD5 is that of
 *   image_len bytes. The SHA-256 is the APPENDED DIGEST when there is one
 *   (bootloader_common_get_sha256_of_partition copies it; it is the SHA-256 of the image
 *   without its last 32 bytes), else the SHA-256 of image_len bytes
 *   (spec/esp32-ota.md section 1).
 * - Every release is also known by its file's MD5 and SHA-256 (a device or tool that
 *   reports those). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devhash.h"
#include "imageid.h"
#include "refresh.h"
#include "srv.h"

static void add(upd_release_row *rel, const char *hex, const char *what)
{
    if (!hex || !hex[0])
        return;
    for (int i = 0; i < rel->nhash; i++)
        if (!strcasecmp(rel->hash[i].hex, hex))
            return; /* the first (most telling) description stays */
    if (rel->nhash >= UPD_REL_HASH_MAX)
        return;
    upd_release_hash *h = &rel->hash[rel->nhash++];
    size_t n = strnlen(hex, sizeof h->hex - 1);
    for (size_t i = 0; i < n; i++)
        h->hex[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] - 'A' + 'a' : hex[i]);
    h->hex[n] = '\0';
    upd__copy(h->what, sizeof h->what, what);
}

static const char *const MODE_WHAT[4] = {"MD5 in QIO flash mode", "MD5 in QOUT flash mode",
                                         "MD5 in DIO flash mode", "MD5 in DOUT flash mode"};

/* The images an ESP8266 Arduino device can hold after installing data[0..len): the
 * file, and the same with each other flash mode in byte 2. */
static int add_esp8266_modes(upd_release_row *rel, const uint8_t *data, size_t len,
                             const char *what_own)
{
    char hex[33];
    if (upd_devhash_md5_in_mode(data, len, data[2], hex) != 0)
        return -1;
    add(rel, hex, what_own);
    for (uint8_t m = 0; m < 4; m++)
        if (m != data[2]) {
            if (upd_devhash_md5_in_mode(data, len, m, hex) != 0)
                return -1;
            add(rel, hex, MODE_WHAT[m]);
        }
    return 0;
}

/* The hashes an ESP32-family device reports once it runs data[0..len): see the top. */
static int add_esp32_image(upd_release_row *rel, const upd_image_report *rep, const uint8_t *data,
                           size_t len)
{
    char md5[33], sha[65];
    int appended;
    if (upd_devhash_esp32(data, len, rep, md5, sha, &appended) != 0)
        return -1;
    add(rel, md5, "image-length MD5");
    add(rel, sha, appended ? "appended SHA-256" : "image-length SHA-256");
    return 0;
}

int upd__imageid_compute(const char *path, const upd_file_info *fi, upd_release_row *rel, char *err,
                         size_t errlen)
{
    rel->nhash = 0;
    rel->hash_rules = UPD_IMAGEID_RULES;
    add(rel, fi->md5_hex, "file MD5");
    add(rel, fi->sha256_hex, "file SHA-256");
    if (fi->has_inner)
        add(rel, fi->inner_md5_hex, "inflated image MD5");
    const upd_image_report *rep = &fi->report;
    /* a plain (not gzip) application: ESP8266 flash-mode variants, ESP32 image length */
    int esp32 = rep->platform == UPD_PLATFORM_ESP32;
    if ((rep->platform != UPD_PLATFORM_ESP8266 && !esp32) || rep->gzip || rep->first_byte != 0xE9 ||
        fi->size < 4 || rep->verdict != UPD_VERDICT_OTA_APP || (esp32 && !rep->has_app))
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    size_t len = (size_t)fi->size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    const uint8_t *data = map;
    int rc;
    if (esp32) {
        rc = add_esp32_image(rel, rep, data, len);
    } else {
        rc = add_esp8266_modes(rel, data, len, "file MD5");
        /* signed: what runs is the payload (signature and its length word left out) */
        if (rc == 0 && rep->sig_len > 0 && (uint64_t)rep->sig_len + 4 < len)
            rc = add_esp8266_modes(rel, data, len - rep->sig_len - 4, "signed payload MD5");
    }
    munmap(map, len);
    if (rc != 0)
        snprintf(err, errlen, "cannot hash %s: GnuTLS failed", path);
    return rc;
}

int upd__imageid_flash_mode(const char *how)
{
    for (int m = 0; m < 4; m++)
        if (how && !strcmp(how, MODE_WHAT[m]))
            return m;
    return -1;
}

int upd__imageid_runs(const upd_release_row *rel, const char *md5, const char *sha256,
                      const char **how)
{
    for (int i = 0; i < rel->nhash; i++) {
        const upd_release_hash *h = &rel->hash[i];
        const char *x = h->hex[32] ? sha256 : md5;
        if (x && x[0] && !strcasecmp(x, h->hex)) {
            if (how)
                *how = h->what;
            return 1;
        }
    }
    return 0;
}

static int hashes_stale(const upd_release_row *r)
{
    return r->hash_rules != UPD_IMAGEID_RULES;
}

static int hashes_update(srv *s, const char *path, const upd_file_info *fi, upd_release_row *r,
                         char *err, size_t errlen)
{
    if (upd__imageid_compute(path, fi, r, err, errlen) != 0 ||
        s->store->ops->release_set_hashes(s->store, r, err, errlen) != 0)
        return -1;
    return 1;
}

void upd__imageid_refresh(srv *s)
{
    static const upd_refresh w = {
        hashes_stale, hashes_update, "cannot compute the hashes devices report for it",
        "devices running it in another flash mode may be offered it again",
        "computed the device hashes of"};
    upd__refresh_releases(s, &w);
}
