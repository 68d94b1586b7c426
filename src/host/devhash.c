/* Device-reported image hashes (devhash.h). */
#include <gnutls/crypto.h>
#include <string.h>

#include "devhash.h"
#include "fileinspect.h"

int upd_devhash_md5_in_mode(const uint8_t *data, size_t len, uint8_t mode, char hex[33])
{
    gnutls_hash_hd_t h;
    uint8_t head[4], out[16];
    if (!data || len < 4 || gnutls_hash_init(&h, GNUTLS_DIG_MD5) < 0)
        return -1;
    memcpy(head, data, 4);
    head[2] = mode;
    gnutls_hash(h, head, 4);
    gnutls_hash(h, data + 4, len - 4);
    gnutls_hash_deinit(h, out);
    upd_hex(out, 16, hex);
    return 0;
}

int upd_devhash_esp32(const uint8_t *data, size_t len, const upd_image_report *rep, char md5[33],
                      char sha256[65], int *appended)
{
    size_t n = rep->app.end;
    uint8_t out[32];
    if (!data || rep->platform != UPD_PLATFORM_ESP32 || rep->verdict != UPD_VERDICT_OTA_APP ||
        !rep->has_app || n == 0 || n > len)
        return -1;
    if (gnutls_hash_fast(GNUTLS_DIG_MD5, data, n, out) < 0)
        return -1;
    upd_hex(out, 16, md5);
    if (appended)
        *appended = rep->app.hash_appended != 0;
    if (rep->app.hash_appended) {
        upd_hex(rep->app.sha256, 32, sha256);
        return 0;
    }
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data, n, out) < 0)
        return -1;
    upd_hex(out, 32, sha256);
    return 0;
}

int upd_devhash_esp8266_rewrites(const uint8_t *data, size_t len)
{
    return data && len >= 4 && data[0] == 0xE9;
}
