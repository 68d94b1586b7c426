/* The simulated device: a faithful model of an ESP8266 (Arduino core) or ESP32 (two OTA
 * slots + otadata) for running the real update engine (updraft/client.h) against
 * simulated flash, with power cuts at any flash erase/write, in the spirit of MCUboot's
 * simulator. docs/sim.md describes what is modelled and what is counted.
 *
 * Device side (this header, simflash.c, simdev.c): portable C11, no malloc, no OS
 * header; its MD5 and SHA-256 are the device crypto library's (updraft/md5.h, sha256.h).
 * The flash is sparse: a table of 4 KB sector pages, NULL meaning erased; pages come from
 * the host through upd_sim_pages (so 10,000 devices can share the pages of identical
 * firmware, see simhost.h). Everything else the caller owns.
 *
 * Facts: shared/spec/esp8266-http-update.md sections 3-4 (layouts, staging, eboot
 * command and copy, gzip), shared/spec/esp32-ota.md section 4 (otadata, rollback). */
#ifndef UPD_SIM_H
#define UPD_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "updraft/client.h"
#include "updraft/md5.h"
#include "updraft/port.h"
#include "updraft/sha256.h"

#define UPD_SIM_SECTOR      4096u
#define UPD_SIM_MAX_SECTORS 1024u /* 4 MB of flash at most */

/* ---- host services ------------------------------------------------------------------ */

/* Where flash pages come from (host side). A page is 4096 bytes.
 *   alloc:   a private, writable page (contents undefined); NULL when out of memory
 *            (the flash operation then fails like a hardware error, not a power cut).
 *   ref:     the flash maps a shared page once more (refcount + 1).
 *   release: the flash drops a page; shared says whether it was mapped shared.
 *   intern:  optional (NULL: pages stay private): give a private page's content to the
 *            pool; returns the shared page to map instead (the private page is freed or
 *            becomes the shared one). */
typedef struct upd_sim_pages {
    uint8_t *(*alloc)(void *ctx);
    void (*ref)(void *ctx, uint8_t *page);
    void (*release)(void *ctx, uint8_t *page, int shared);
    uint8_t *(*intern)(void *ctx, uint8_t *page);
    void *ctx;
} upd_sim_pages;

/* eboot's inflater (host side: zlib). begin/end bracket one stream; step takes up to
 * in_len bytes and produces up to out_cap, telling how many of each; 1 at the end of
 * the stream, 0 to go on, negative on damaged data. NULL functions: the device cannot
 * inflate (a gzip image then fails to copy, as on a core < 2.7). */
typedef struct upd_sim_inflate {
    int (*begin)(void *ctx);
    int (*step)(void *ctx, const uint8_t *in, uint32_t in_len, uint32_t *consumed, uint8_t *out,
                uint32_t out_cap, uint32_t *produced);
    void (*end)(void *ctx);
    void *ctx;
} upd_sim_inflate;

/* Shared by any number of devices driven from one thread. */
#define UPD_SIM_SCRATCH (2u * UPD_SIM_SECTOR + sizeof(upd_image_report))
typedef struct upd_sim_env {
    upd_sim_pages pages;
    upd_sim_inflate inflate;
    upd_clock_ops clock; /* handed to the engine as the device's clock */
    uint8_t *scratch;    /* UPD_SIM_SCRATCH bytes, 8-byte aligned: boot-time buffers */
} upd_sim_env;

/* ---- layouts -------------------------------------------------------------------------- */

enum upd_sim_platform { UPD_SIM_ESP8266 = 0, UPD_SIM_ESP32 = 1 };

typedef struct upd_sim_layout {
    const char *name;
    uint8_t platform;
    uint8_t size_code; /* image header size nibble that matches the chip */
    uint32_t chip_size;
    uint32_t fs_start, fs_end;   /* ESP8266: _FS_start/_FS_end - 0x40200000 */
    uint32_t resume;             /* the sector the sim keeps UPD_STATE_RESUME in */
    uint32_t otadata;            /* ESP32: two sectors, one entry each */
    uint32_t slot[2], slot_size; /* ESP32: ota_0, ota_1 */
} upd_sim_layout;

/* "esp8266-1m64" (1 MB, 64 KB FS), "esp8266-1m0", "esp8266-2m1m", "esp8266-4m1m",
 * "esp8266-4m2m", "esp8266-4m3m", "esp32-4m" (Arduino default.csv). NULL if unknown. */
const upd_sim_layout *upd_sim_layout_find(const char *name);
/* The i-th layout (NULL past the end). */
const upd_sim_layout *upd_sim_layout_at(unsigned i);

/* ---- the device ------------------------------------------------------------------------- */

/* Who is touching the flash: the application (the update engine, and the sim's
 * "app" confirming an ESP32 image), or the boot loader (eboot's copy, the ESP32
 * bootloader's otadata updates). Power cuts are counted per phase. */
enum upd_sim_phase { UPD_SIM_PH_APP = 0, UPD_SIM_PH_BOOT = 1, UPD_SIM_PH__N = 2 };

/* Device life states. */
enum upd_sim_state {
    UPD_SIM_OFF = 0, /* power was cut: nothing works until upd_sim_boot() */
    UPD_SIM_RUNNING, /* an intact application runs */
    UPD_SIM_BRICKED  /* the boot found no intact application: the device is dead */
};

/* upd_sim_boot() results. */
enum upd_sim_boot_result {
    UPD_SIM_BOOTED = 0, /* an application runs (see running_*) */
    UPD_SIM_BOOT_CUT,   /* the power was cut during the boot loader's work: boot again */
    UPD_SIM_BOOT_BRICK  /* no intact application */
};

typedef struct upd_sim_flash {
    uint8_t *sec[UPD_SIM_MAX_SECTORS];     /* NULL: erased */
    uint8_t priv[UPD_SIM_MAX_SECTORS / 8]; /* bit set: sec[i] is private (writable) */
    uint32_t nsec;
    uint32_t ops[UPD_SIM_PH__N]; /* erases + writes per phase, since the device was made */
    uint32_t erases, writes, reads;
    int32_t cut_left; /* ops of cut_phase still allowed before the cut; -1: no cut armed */
    uint8_t cut_phase;
    int32_t weak_left;    /* writes of the app phase before a weak one; -1: none armed */
    uint32_t weak_writes; /* writes that left a bit unprogrammed (upd_sim_arm_weak_write) */
    uint8_t off;          /* the power is off (after a cut) */
    uint32_t nor_violations, range_violations, oom;
} upd_sim_flash;

typedef struct upd_sim_dev {
    const upd_sim_layout *lay;
    const upd_sim_env *env;
    upd_sim_flash flash;
    upd_port port;
    uint8_t rtc[UPD_STATE_BOOT_SIZE];      /* RTC user memory (ESP8266): the eboot command */
    uint8_t report[UPD_STATE_REPORT_SIZE]; /* UPD_STATE_REPORT: kept like NVS (survives
                                              resets and cuts; not a modelled flash area) */
    upd_md5 md5;
    upd_sha256 sha;
    uint32_t rng;                    /* garbage for cut operations and lost RTC memory */
    uint8_t state;                   /* enum upd_sim_state */
    uint8_t phase;                   /* enum upd_sim_phase */
    uint8_t flash_mode;              /* the chip's flash mode (0 QIO .. 3 DOUT) */
    uint8_t cut_seen[UPD_SIM_PH__N]; /* a cut happened in this phase since the last good boot */
    /* what runs (valid in UPD_SIM_RUNNING) */
    uint32_t run_addr; /* where the running image starts (ESP8266 0; ESP32 its slot) */
    uint32_t run_size; /* sketch size */
    int8_t run_slot;   /* ESP32 0/1, ESP8266 -1 */
    uint8_t run_md5[16];
    char run_md5_hex[33];
    char run_sha256_hex[65]; /* ESP32: UPPERCASE, as x-ESP32-sketch-sha256 */
    uint8_t pending_verify;  /* ESP32: booted an image that must confirm itself */
    /* counters */
    uint32_t boots, cuts[UPD_SIM_PH__N], copies, rollbacks;
    uint8_t bricked_phase; /* UPD_SIM_BRICKED: the phase blamed (a cut in BOOT, else APP) */
    uint8_t refuse;        /* upd_sim_arm_refusal: the firmware refuses the next image */
} upd_sim_dev;

/* Make a device with erased flash (every sector NULL). env must outlive it. seed
 * chooses the garbage of cut operations. The port (dev->port) is ready: flash, state,
 * clock (env's), crypto (MD5, SHA-256); no transport (drive the engine yourself). */
void upd_sim_init(upd_sim_dev *dev, const upd_sim_layout *lay, const upd_sim_env *env,
                  uint32_t seed);

/* Drop every page (before the memory of dev is reused or freed). */
void upd_sim_free(upd_sim_dev *dev);

/* "Serial-flash" a factory image: ESP8266 at 0, ESP32 into ota_0 with otadata erased.
 * Not counted as operations, never cut. 0, or -1 if it does not fit / out of memory. */
int upd_sim_flash_image(upd_sim_dev *dev, const void *image, uint32_t len);

/* Map len bytes of shared, page-aligned pages at addr (pages[i] covers addr + i*4096;
 * a NULL page is erased). Each page gets one reference (pages.ref). For fleets: the
 * factory image's pages are made once and shared by every device. */
void upd_sim_map_shared(upd_sim_dev *dev, uint32_t addr, uint8_t *const *pages, uint32_t n);

/* Give every private page to the pool (pages.intern): identical sectors of many
 * devices end up as one page. Harmless without intern. */
void upd_sim_intern(upd_sim_dev *dev);

/* Power on (after upd_sim_init, a cut, or a reset): the boot loader runs (ESP8266:
 * eboot executes a valid RTC command, copying the staged image to 0, inflating gzip,
 * then clears it; ESP32: otadata selection, NEW -> PENDING_VERIFY, an unconfirmed
 * PENDING_VERIFY -> ABORTED and rollback), then the application image is verified
 * (the core's inspector: it must be an intact app of the platform). A cut power loses
 * the RTC memory. Returns enum upd_sim_boot_result and sets dev->state. */
int upd_sim_boot(upd_sim_dev *dev);

/* dev's flash is known to hold exactly what twin's holds (the same shared pages): take
 * twin's boot result instead of booting (fleets: one boot check for 10,000 devices). */
void upd_sim_boot_as(upd_sim_dev *dev, const upd_sim_dev *twin);

/* ESP32: the running application marks itself valid (otadata PENDING_VERIFY -> VALID;
 * esp_ota_mark_app_valid_cancel_rollback). 0, or -1 (power cut, see dev->state). */
int upd_sim_confirm(upd_sim_dev *dev);

/* Arm a power cut: the n-th (0-based) flash erase/write from now in phase ph is cut
 * half-way (an erase leaves the sector partly erased and partly garbage; a write
 * programs only a prefix), then the power is off: every later operation fails and the
 * device is UPD_SIM_OFF until upd_sim_boot(). n < 0 disarms. */
void upd_sim_arm_cut(upd_sim_dev *dev, int ph, int32_t n);

/* Arm a weak write: the n-th (0-based) flash write from now by the application (the
 * update client) leaves one bit that should have gone from 1 to 0 at 1 (a worn NOR
 * cell) and still reports success, as the ESP8266's spi_flash_write does (it does not
 * read back). A write with no bit to clear is taken as it is and the next one is weak.
 * n < 0 disarms. */
void upd_sim_arm_weak_write(upd_sim_dev *dev, int32_t n);

/* The firmware that runs refuses the image it is downloading, at the point where the
 * device's own update library would (Update.end(), after the whole image was written):
 *   ESP8266: a firmware built with a signing key checks every image against it (the
 *     port's crypto.verify is set): an image not signed with that key fails with Updater
 *     error 12 (UPDATE_ERROR_SIGN, "Signature verification failed");
 *   ESP32: esp_ota_set_boot_partition rejects the image (its own esp_image_verify: an
 *     image for another chip or revision, or refused by secure boot): the activation
 *     fails, Update error 9 ("Could Not Activate The Firmware").
 * Arm it before the engine reads the response's headers (with a verifier the ESP8266
 * library ignores x-MD5 from the headers on). on 0 disarms; upd_sim_init starts disarmed. */
void upd_sim_arm_refusal(upd_sim_dev *dev, int on);

/* Cut the power now (between flash operations): RTC memory is lost. */
void upd_sim_power_cut(upd_sim_dev *dev);

/* Fill cfg's device fields from what runs: flavor, sketch_md5 / sketch_sha256
 * (pointers into dev), and the port's layout (sketch size, slot of the next update). */
void upd_sim_client_config(upd_sim_dev *dev, upd_client_config *cfg);

/* The eboot command as the sim reads it: 1 if the RTC memory holds a valid copy
 * command (magic, action 1, CRC-32/MPEG-2), with its args. */
int upd_sim_eboot_command(const upd_sim_dev *dev, uint32_t *from, uint32_t *to, uint32_t *size);

/* Read flash (for tests): 0 or -1 outside the chip. Not counted. */
int upd_sim_read(const upd_sim_dev *dev, uint32_t addr, void *buf, uint32_t len);

/* Length of the esptool image at addr (ESP8266: the Arduino .bin at 0, walking the app
 * at 0x1000; ESP32: header, segments, checksum, appended SHA-256), 0 if none. */
uint32_t upd_sim_image_length(const upd_sim_dev *dev, uint32_t addr, int platform);

/* ---- otadata (ESP32) -------------------------------------------------------------------- */

enum {
    UPD_SIM_OTA_NEW = 0,
    UPD_SIM_OTA_PENDING_VERIFY = 1,
    UPD_SIM_OTA_VALID = 2,
    UPD_SIM_OTA_INVALID = 3,
    UPD_SIM_OTA_ABORTED = 4,
    UPD_SIM_OTA_UNDEFINED = -1
};

/* Entry i (0/1) of otadata: 1 if valid (seq set, CRC right) with its seq and state. */
int upd_sim_otadata_entry(const upd_sim_dev *dev, int i, uint32_t *seq, uint32_t *state);

#endif
