/* Device-fit rules: given an inspected image and what a device reported about itself,
 * predict what that device's own update client would make of the image, exactly as the
 * ESP8266 (ESP8266httpUpdate + Updater), Arduino-ESP32 (HTTPUpdate + Update) or ESP-IDF
 * (esp_https_ota) code would: success, or which error code. Facts: shared/spec
 * esp8266-http-update.md sections 2, 3, 8 and esp32-ota.md sections 1, 3. */
#ifndef UPDRAFT_FIT_H
#define UPDRAFT_FIT_H

#include <stdint.h>

#include "updraft/image.h"

/* Which update client runs on the device. */
typedef enum upd_client {
    UPD_CLIENT_ESP8266_ARDUINO = 0, /* ESP8266httpUpdate + Updater (x-ESP8266-* headers) */
    UPD_CLIENT_ESP32_ARDUINO,       /* Arduino-ESP32 HTTPUpdate + Update (x-ESP32-*) */
    UPD_CLIENT_ESP_IDF              /* esp_https_ota */
} upd_client;

typedef enum upd_update_mode {
    UPD_MODE_SKETCH = 0, /* application image */
    UPD_MODE_FS          /* filesystem image ("spiffs" mode, LittleFS too) */
} upd_update_mode;

/* What a device told us (headers) or what we know of it. A fact not known has its
 * has_* flag 0; the rules then skip the check the device would make with it. */
typedef struct upd_device_facts {
    upd_client client;
    upd_update_mode mode;
    upd_chip chip;           /* UPD_CHIP_UNKNOWN when the device did not say which chip */
    uint8_t has_free_space;  /* x-*-free-space */
    uint8_t has_chip_size;   /* x-*-chip-size (real flash size from the JEDEC id) */
    uint8_t has_fs_size;     /* size of the filesystem area (spiffs mode) */
    uint8_t has_sketch_size; /* x-ESP8266-sketch-size: length of the running image */
    uint8_t flash_map_core;  /* ESP8266 core >= 3.1 with FLASH_MAP_SUPPORT: no -107 check */
    uint8_t no_gzip;         /* ESP8266 core < 2.7: eboot cannot inflate gzip images */
    uint32_t free_space;
    uint32_t chip_size;
    uint32_t fs_size;
    uint32_t sketch_size;
} upd_device_facts;

/* The predicted outcome. */
typedef enum upd_fit_code {
    UPD_FIT_OK = 0,           /* the device installs and boots the image */
    UPD_FIT_NO_SPACE,         /* -100 (HTTP check) */
    UPD_FIT_NO_SPACE_ROUNDUP, /* Updater error 4: fits by length, not by its 4 KB round-up */
    UPD_FIT_BAD_HEADER,       /* -106 */
    UPD_FIT_FLASH_TOO_SMALL,  /* -107, or Updater error 9 on flash-map cores */
    UPD_FIT_WRONG_PLATFORM,   /* image for the other family: installs and bricks, or fails */
    UPD_FIT_WRONG_CHIP,       /* ESP32 family, other chip: rejected when activating */
    UPD_FIT_NOT_INSTALLABLE,  /* the image is not an acceptable OTA file at all */
    UPD_FIT_GZIP_UNSUPPORTED, /* gzip image on a client that cannot inflate it */
    UPD_FIT_WRONG_MODE,       /* an app sent in filesystem mode or the reverse */
    UPD_FIT_INFLATE_NO_ROOM,  /* gzip: the inflated image is longer than the sketch area */
    UPD_FIT_INFLATE_OVERRUN   /* gzip: eboot's erases reach staged data it has not read */
} upd_fit_code;

typedef struct upd_fit_result {
    upd_fit_code code;
    int http_error;    /* the HTTPUpdate result code the device reports (-100, -106, ...), 0 */
    int updater_error; /* the Update/Updater library error number (4, 7, 9 ...), 0 */
    uint8_t bricks;    /* 1 if the device would install it and then fail to boot */
    char explanation[UPD_REASON_MAX];
} upd_fit_result;

/* Predict the device's result for image img. Fills *out fully. Returns 0 when the
 * device would install the image and boot it (out->code == UPD_FIT_OK), else
 * UPD_ENOFIT (out->code says why), or UPD_EINVAL for NULL arguments. */
int upd_fit_check(const upd_image_report *img, const upd_device_facts *dev, upd_fit_result *out);

/* The flash size the ESP8266 core reads from an image's size code (header byte 3, high
 * nibble) in ESP.magicFlashChipSize(): 0 512K, 1 256K, 2 1M, 3 2M, 4 4M, 8 8M, 9 16M; every
 * other code gives 0, which never fails the device's -107 / Updater 9 check. */
uint32_t upd_esp8266_magic_flash_size(uint8_t code);

/* ---- ESP8266 flash layouts --------------------------------------------------------- */

/* One of the ESP8266 Arduino core's standard flash layouts (tools/sdk/ld/eagle.flash.
 * <name>.ld). Offsets are physical (_FS_start/_FS_end - 0x40200000): the sketch and the
 * staged update share [0, fs_start), the filesystem is [fs_start, fs_end). A layout
 * without filesystem has fs_start == fs_end. */
typedef struct upd_esp8266_flashmap {
    const char *name; /* "4m1m", "1m64", "1m" ... */
    uint32_t chip_size;
    uint32_t fs_start, fs_end;
} upd_esp8266_flashmap;

/* The i-th standard layout (ordered by chip size, then filesystem size), NULL past the
 * end. */
const upd_esp8266_flashmap *upd_esp8266_flashmap_at(unsigned i);

/* The standard layout of a chip size whose filesystem starts at fs_start, NULL if none. */
const upd_esp8266_flashmap *upd_esp8266_flashmap_find(uint32_t chip_size, uint32_t fs_start);

/* The filesystem area of an ESP8266 device, from what its update request says: start =
 * roundup(sketch_size, 4096) + free_space (that is how getFreeSketchSpace() is defined),
 * end = that of the standard layout of chip_size starting there, else the lowest end
 * among chip_size's layouts with a filesystem (all of them agree but on 2 MB, where the
 * layouts with 512 KB and 1 MB filesystems end a sector lower). Fills *start, *end
 * (*end == *start: no room at all) and *layout (NULL when no standard layout starts there;
 * layout may be NULL). Returns 0, or UPD_EINVAL for NULL outputs, a chip size with no
 * standard layouts, or a start beyond the chip's filesystem end. */
int upd_esp8266_fs_area(uint32_t chip_size, uint32_t sketch_size, uint32_t free_space,
                        uint32_t *start, uint32_t *end, const upd_esp8266_flashmap **layout);

/* Short stable name of a fit code: "ok", "no-space", "no-space-roundup", ... */
const char *upd_fit_code_name(upd_fit_code c);

/* Text the device's client prints for its HTTPUpdate error code (-100 .. -109, and the
 * HTTPClient errors -1 .. -11), as in the core's sources; "" for unknown. */
const char *upd_device_error_text(int http_error);

#endif
