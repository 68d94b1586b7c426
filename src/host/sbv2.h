/* ESP-IDF Secure Boot v2 signature sectors appended to ESP32-family apps (host only:
 * GnuTLS for SHA-256 and RSA-PSS, zlib for CRC-32). docs/signing.md "ESP32: Secure Boot
 * v2".
 *
 * Layout (ESP-IDF esp_secure_boot.h, ets_secure_boot_sig_block_t): the app image (as
 * esp_image_verify measures it, appended SHA-256 included), 0xFF padding to the next
 * 4096-byte boundary, then a 4096-byte sector of up to 3 signature blocks of 1216 bytes:
 *   0     magic 0xE7, version (0x02 RSA-3072 PSS, 0x03 ECDSA), 2 reserved bytes
 *   4     SHA-256 of everything before the sector
 *   36    RSA-3072: public key n (384 bytes LE), e (u32 LE), rinv (384), mdash (u32)
 *   812   RSA-PSS signature (384 bytes LE) of that SHA-256 (MGF1-SHA-256, 32-byte salt)
 *   1196  CRC-32 (zlib's) of bytes 0..1195
 *   1200  16 bytes padding
 * The device's eFuse holds the SHA-256 of the public key part (bytes 36..811 for RSA):
 * the "key digest". A device with Secure Boot v2 boots (and, with signed-app checks,
 * installs) an app only when a block's key digest is one of its eFuse digests and the
 * block's signature verifies. */
#ifndef UPD_HOST_SBV2_H
#define UPD_HOST_SBV2_H

#include <stddef.h>
#include <stdint.h>

#define UPD_SBV2_MAX_BLOCKS 3

typedef struct upd_sbv2_block {
    uint8_t version;     /* 2 RSA-3072 (PSS), 3 ECDSA */
    int8_t crc_ok;       /* the block's CRC-32 */
    int8_t digest_ok;    /* its image digest is the SHA-256 of the bytes before the sector */
    int8_t sig_ok;       /* 1 verifies with the block's key, 0 does not, -1 not checked */
    char key_digest[65]; /* SHA-256 of the public key part (RSA), "" when not known */
    char scheme[16];     /* "RSA-3072", "ECDSA", "unknown" */
} upd_sbv2_block;

typedef struct upd_sbv2_info {
    int present;     /* a signature sector (magic 0xE7) at the 4 KB boundary after the image */
    int truncated;   /* the file ends inside the sector */
    uint32_t sector; /* its offset */
    int nblocks;     /* blocks with the magic byte (at most 3) */
    upd_sbv2_block b[UPD_SBV2_MAX_BLOCKS];
    int nvalid; /* blocks a device could accept: CRC, digest and signature good */
} upd_sbv2_info;

/* Look at data[0..len) for the sector after an app image that ends at image_end. */
void upd_sbv2_inspect(const uint8_t *data, size_t len, uint32_t image_end, upd_sbv2_info *out);

/* One sentence: what a device with Secure Boot v2 (or signed-app checks) on does with
 * the image, into out. */
void upd_sbv2_verdict(const upd_sbv2_info *info, char *out, size_t cap);

#endif
