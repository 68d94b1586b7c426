/* ESP-IDF Secure Boot v2 signature sectors: see sbv2.h. */
#include "sbv2.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "hexsum.h"

#define SECTOR    4096u
#define BLOCK     1216u
#define CRC_LEN   1196u
#define KEY_AT    36u
#define KEY_LEN   776u /* n, e, rinv, mdash */
#define SIG_AT    812u
#define RSA_BYTES 384u

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A little-endian number of n bytes as big-endian (out n bytes). */
static void reverse(const uint8_t *in, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = in[n - 1 - i];
}

/* The RSA-PSS signature of block b over digest, with the key in the block: 1, 0. */
static int rsa_pss_verifies(const uint8_t *b, const uint8_t digest[32])
{
    uint8_t n[RSA_BYTES], e[4], sig[RSA_BYTES];
    reverse(b + KEY_AT, RSA_BYTES, n);
    reverse(b + KEY_AT + RSA_BYTES, 4, e);
    reverse(b + SIG_AT, RSA_BYTES, sig);
    gnutls_pubkey_t pub;
    if (gnutls_pubkey_init(&pub) != 0)
        return 0;
    gnutls_datum_t nd = {n, RSA_BYTES}, ed = {e, 4}, hd = {(unsigned char *)digest, 32},
                   sd = {sig, RSA_BYTES};
    int ok = gnutls_pubkey_import_rsa_raw(pub, &nd, &ed) == 0 &&
             gnutls_pubkey_verify_hash2(pub, GNUTLS_SIGN_RSA_PSS_RSAE_SHA256, 0, &hd, &sd) >= 0;
    gnutls_pubkey_deinit(pub);
    return ok;
}

void upd_sbv2_inspect(const uint8_t *data, size_t len, uint32_t image_end, upd_sbv2_info *out)
{
    memset(out, 0, sizeof *out);
    size_t sector = ((size_t)image_end + SECTOR - 1) & ~(size_t)(SECTOR - 1);
    if (!data || sector >= len || data[sector] != 0xE7)
        return;
    out->present = 1;
    out->sector = (uint32_t)sector;
    out->truncated = len - sector < SECTOR;
    uint8_t image_digest[32];
    int have_digest = gnutls_hash_fast(GNUTLS_DIG_SHA256, data, sector, image_digest) == 0;
    for (int i = 0; i < UPD_SBV2_MAX_BLOCKS; i++) {
        size_t at = sector + (size_t)i * BLOCK;
        if (at + BLOCK > len || data[at] != 0xE7)
            break;
        const uint8_t *b = data + at;
        upd_sbv2_block *k = &out->b[out->nblocks++];
        k->version = b[1];
        k->crc_ok = (int8_t)(le32(b + CRC_LEN) == (uint32_t)crc32(0L, b, CRC_LEN));
        k->digest_ok = (int8_t)(have_digest && !memcmp(b + 4, image_digest, 32));
        k->sig_ok = -1;
        if (k->version == 0x02) {
            uint8_t kd[32];
            snprintf(k->scheme, sizeof k->scheme, "RSA-3072");
            if (gnutls_hash_fast(GNUTLS_DIG_SHA256, b + KEY_AT, KEY_LEN, kd) == 0)
                upd_hex(kd, 32, k->key_digest);
            k->sig_ok = (int8_t)(k->crc_ok && rsa_pss_verifies(b, b + 4));
        } else {
            snprintf(k->scheme, sizeof k->scheme, k->version == 0x03 ? "ECDSA" : "unknown");
        }
        if (k->crc_ok == 1 && k->digest_ok == 1 && k->sig_ok != 0)
            out->nvalid++;
    }
}

void upd_sbv2_verdict(const upd_sbv2_info *info, char *out, size_t cap)
{
    if (!info->present) {
        snprintf(out, cap,
                 "no Secure Boot v2 signature: a device with Secure Boot v2 (or signed-app "
                 "checks) on refuses it (esp_ota_end fails, Arduino-ESP32 Update error); sign "
                 "it with espsecure sign_data --version 2 for such devices");
        return;
    }
    if (info->truncated && info->nblocks == 0) {
        snprintf(out, cap,
                 "the signature sector is cut short: a device with Secure Boot v2 "
                 "refuses it; upload the whole signed file");
        return;
    }
    if (info->nvalid == 0) {
        const upd_sbv2_block *k = info->nblocks ? &info->b[0] : NULL;
        snprintf(out, cap,
                 "Secure Boot v2 signature sector, but no valid block (%s): a device with "
                 "Secure Boot v2 refuses it; sign the unchanged image again",
                 !k                  ? "no block"
                 : k->crc_ok != 1    ? "block 0's CRC does not match"
                 : k->digest_ok != 1 ? "the image was changed after signing"
                                     : "block 0's signature does not verify with its key");
        return;
    }
    size_t n = (size_t)snprintf(out, cap,
                                "signed for Secure Boot v2: a device with it on boots the "
                                "image only when its eFuse holds the key digest of ");
    int first = 1;
    for (int i = 0; i < info->nblocks && n < cap; i++) {
        const upd_sbv2_block *k = &info->b[i];
        if (k->crc_ok != 1 || k->digest_ok != 1 || k->sig_ok == 0)
            continue;
        n += (size_t)snprintf(out + n, cap - n, "%sblock %d (%s%s%s%s)", first ? "" : " or ", i,
                              k->scheme, k->key_digest[0] ? ", key digest " : "", k->key_digest,
                              k->sig_ok == -1 ? ", signature not checked" : "");
        first = 0;
    }
    if (n < cap)
        snprintf(out + n, cap - n, "; other devices ignore the sector");
}
