/* The port contract: everything the device update engine (updraft/client.h) needs from
 * the platform, in small ops structs of function pointers plus one opaque ctx each.
 * A port (ports/<name>/) fills an upd_port; the engine never includes an OS header and
 * never allocates. Every context is owned by the caller and must outlive the engine.
 * docs/porting.md explains each operation and how to write a port.
 *
 * Return values: 0 (or a byte count) on success, a negative number on failure. Flash
 * and state failures may be any negative number (the engine maps them to the device's
 * own error codes); transport failures use the UPD_PORT_E* codes below. */
#ifndef UPDRAFT_PORT_H
#define UPDRAFT_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "updraft/image.h" /* upd_sha256_ops */

/* ---- transport: one TCP (or TLS) connection at a time ----------------------------- */

/* Transport failures, numbered as the ESP8266 HTTPClient numbers them, so that a driver
 * can hand them to upd_client_transport_error() unchanged. */
#define UPD_PORT_ECONNECT -1  /* connection (or TLS handshake) failed */
#define UPD_PORT_ESEND    -2  /* sending the request failed */
#define UPD_PORT_ELOST    -5  /* the connection broke (reset), not a clean close */
#define UPD_PORT_ETIMEOUT -11 /* recv: nothing arrived within timeout_ms (not fatal) */

/* Used by the synchronous driver upd_client_run() (src/client/run.c), never by the
 * engine itself. Timeouts are in milliseconds; 0 means "do not wait".
 *   connect: open a connection to host:port (tls 1: https). 0 or UPD_PORT_ECONNECT.
 *   send:    send up to len bytes; return the number sent (> 0) or UPD_PORT_ESEND.
 *   recv:    receive up to len bytes; return the number received (> 0), 0 when the peer
 *            closed the connection cleanly, UPD_PORT_ETIMEOUT when nothing arrived in
 *            time, UPD_PORT_ELOST on a broken connection.
 *   close:   close the connection (harmless when none is open). */
typedef struct upd_transport_ops {
    int (*connect)(void *ctx, const char *host, uint16_t port, int tls, uint32_t timeout_ms);
    int (*send)(void *ctx, const void *buf, size_t len, uint32_t timeout_ms);
    int (*recv)(void *ctx, void *buf, size_t len, uint32_t timeout_ms);
    void (*close)(void *ctx);
    void *ctx;
} upd_transport_ops;

/* ---- flash ------------------------------------------------------------------------ */

#define UPD_FLASH_SECTOR 4096u

/* Where things are on the device's flash (physical byte addresses from 0).
 * ESP8266 (Arduino): the running sketch at 0, the filesystem at [fs_start, fs_end);
 *   free space = fs_start - roundup(sketch_size, 4096); a new sketch is staged at
 *   fs_start - roundup(len, 4096) and copied to 0 by eboot after the reboot.
 * ESP32: the running app is sketch_size bytes in its own slot; the update goes to the
 *   next OTA slot [slot_start, slot_start + slot_size); the filesystem partition is
 *   [fs_start, fs_end). */
typedef struct upd_flash_layout {
    uint32_t chip_size;   /* real flash size (the JEDEC id's), x-*-chip-size */
    uint32_t sketch_size; /* length of the running .bin, x-*-sketch-size */
    uint32_t fs_start;    /* filesystem area; on ESP8266 also the end of the sketch area */
    uint32_t fs_end;
    uint32_t slot_start; /* ESP32 only: the next OTA slot */
    uint32_t slot_size;  /* ESP32 only: x-ESP32-free-space */
    uint8_t flash_mode;  /* the running chip's mode (0 QIO, 1 QOUT, 2 DIO, 3 DOUT) */
} upd_flash_layout;

/* NOR flash in 4 KB sectors.
 *   read:  any address, length and buffer alignment (the port bounces through an
 *          aligned buffer if its hardware needs one). 0 or negative.
 *   erase: the sector that starts at addr (addr % 4096 == 0): all bytes become 0xFF.
 *   write: program len bytes at addr; addr and len are multiples of 4 and buf is 4-byte
 *          aligned; the engine writes only into sectors it erased before, in increasing
 *          address order. 0 or negative.
 * A simulated port may cut the power at any erase or write (the engine keeps every
 * state it cannot lose in the state area, see upd_state_ops). */
typedef struct upd_flash_ops {
    int (*read)(void *ctx, uint32_t addr, void *buf, uint32_t len);
    int (*erase)(void *ctx, uint32_t addr);
    int (*write)(void *ctx, uint32_t addr, const void *buf, uint32_t len);
    void *ctx;
    upd_flash_layout layout;
} upd_flash_ops;

/* ---- clock -------------------------------------------------------------------------- */

/* Milliseconds from any origin. Wraparound is fine: the engine only uses differences
 * (now - then, in uint32_t arithmetic), never absolute values. */
typedef struct upd_clock_ops {
    uint32_t (*now_ms)(void *ctx);
    void *ctx;
} upd_clock_ops;

/* ---- crypto --------------------------------------------------------------------------- */

/* MD5 in three steps over caller-owned state (ctx), same shape as upd_sha256_ops. */
typedef struct upd_md5_ops {
    void (*init)(void *ctx);
    void (*update)(void *ctx, const void *data, size_t len);
    void (*final)(void *ctx, uint8_t out[16]);
    void *ctx;
} upd_md5_ops;

/* md5 is required (x-MD5, the ESP8266 client's check). sha256 may have NULL functions:
 * then no SHA-256 is checked (neither a hash the server announced nor the one ESP32
 * images append). verify (optional): 0 if sig is a valid signature of the SHA-256
 * digest under the device's key, else negative. With verify set the device only accepts
 * signed images (payload || signature || u32 LE signature length, spec section 5, as
 * the ESP8266 Updater with a verifier compiled in): the engine requires the length to be
 * verify_sig_len, hashes the payload read back from flash with sha256 (required then),
 * calls verify, and commits only the payload; x-MD5 is ignored. verify NULL: images are
 * not expected to be signed (a signed file is installed with its trailer, as the real
 * client without a verifier does). verify needs an engine built with
 * UPD_CLIENT_WITH_SIGN=1 (the host build; off by default on a device): otherwise
 * upd_client_init refuses the port with UPD_EUNSUPPORTED. */
typedef struct upd_crypto_ops {
    upd_md5_ops md5;
    upd_sha256_ops sha256;
    int (*verify)(void *ctx, const uint8_t digest[32], const uint8_t *sig, size_t sig_len);
    void *verify_ctx;
    /* The verifier's signature length in bytes (the RSA modulus length: 256 for
     * RSA-2048), at most the engine's buffer size; 0 means 256. */
    uint32_t verify_sig_len;
} upd_crypto_ops;

/* ---- small persistent state --------------------------------------------------------- */

/* Areas of persistent state, each a small byte array the port keeps for the engine. */
enum upd_state_area {
    /* 128 bytes. ESP8266: the eboot command in RTC user memory (0x60001200), read by
     * the boot loader after the reboot (survives a reset, not a power loss). */
    UPD_STATE_BOOT = 0,
    /* UPD_STATE_RESUME_SIZE bytes: download progress for resuming with Range. Should
     * survive a power loss (flash) for resume after a power cut; RTC memory gives
     * resume after a reset only. A port without it returns negative: no resume. */
    UPD_STATE_RESUME = 1,
    /* UPD_STATE_REPORT_SIZE bytes: the outcome of the last update attempt, sent to the
     * server on the next check (UPD_CLIENT_F_REPORT). Should survive a reset and a power
     * loss (flash, NVS). A port without it returns negative: nothing is reported. */
    UPD_STATE_REPORT = 2
};

#define UPD_STATE_BOOT_SIZE   128u
#define UPD_STATE_RESUME_SIZE 128u
#define UPD_STATE_REPORT_SIZE 96u

/* What the boot loader made of the running image (upd_state_ops.boot_state). */
enum upd_boot_state {
    UPD_BOOT_VALID = 0,      /* confirmed (or the platform needs no confirmation) */
    UPD_BOOT_PENDING = 1,    /* first boot after an update: confirm, or the next reset
                                rolls back (ESP32 otadata PENDING_VERIFY) */
    UPD_BOOT_ROLLED_BACK = 2 /* the last activated image was not confirmed (ABORTED) or
                                did not boot (INVALID): this is the previous image */
};

/*   read/write: len bytes at the start of area. 0 or negative. A never-written area
 *     reads as anything (the engine checks magic and CRC).
 *   activate: ESP32 only (NULL on ESP8266): make the slot at start (size bytes, a
 *     verified image) the boot partition for the next reset (otadata). 0 or negative.
 *   (rollback: see upd_rollback_ops below.) */
typedef struct upd_state_ops {
    int (*read)(void *ctx, unsigned area, void *buf, uint32_t len);
    int (*write)(void *ctx, unsigned area, const void *buf, uint32_t len);
    int (*activate)(void *ctx, uint32_t start, uint32_t size);
    void *ctx;
} upd_state_ops;

/* ---- rollback (optional) -------------------------------------------------------------- */

/* Only where the boot loader can roll back: ESP32 with two OTA slots and rollback
 * enabled. NULL functions on ESP8266, whose eboot copies the new image over the old one
 * (nothing to go back to).
 *   boot_state: enum upd_boot_state of the running image, or negative.
 *   confirm:    the running image is good (otadata PENDING_VERIFY -> VALID,
 *               esp_ota_mark_app_valid_cancel_rollback); harmless when already VALID.
 *               0 or negative.
 * The application calls them through upd_client_boot_state() / upd_client_confirm();
 * the engine calls boot_state for the outcome report's rollback flag. */
typedef struct upd_rollback_ops {
    int (*boot_state)(void *ctx);
    int (*confirm)(void *ctx);
    void *ctx;
} upd_rollback_ops;

/* ---- the whole port ------------------------------------------------------------------ */

typedef struct upd_port {
    upd_transport_ops transport; /* only for upd_client_run() */
    upd_flash_ops flash;
    upd_clock_ops clock;
    upd_crypto_ops crypto;
    upd_state_ops state;
    upd_rollback_ops rollback; /* optional: zero where the platform cannot roll back */
} upd_port;

#endif
