/* The ESP8266 NONOS SDK port of the device client's port contract (updraft/port.h).
 *
 *   flash      spi_flash_erase_sector / spi_flash_write / spi_flash_read (reads of any
 *              alignment bounce through a small aligned buffer)
 *   state      UPD_STATE_BOOT: RTC user memory block 128 (0x60001200), where eboot reads
 *              its command; UPD_STATE_RESUME and UPD_STATE_REPORT: a flash sector of their
 *              own (resume at 0, report at 128; survives power loss) or, when none is
 *              given, the resume record in RTC blocks 160..191 (survives a reset only)
 *              and no outcome report
 *   clock      system_get_time() folded into a 32-bit millisecond counter (the raw
 *              microsecond counter wraps every 71 minutes)
 *   crypto     MD5 from ROM (MD5Init/MD5Update/MD5Final); no SHA-256, no signatures
 *   transport  event-driven: espconn callbacks and a 100 ms os_timer drive the engine
 *              (upd_esp8266_check_start); upd_client_run() is not used on this SDK
 *
 * Declarations of the SDK functions: esp8266_sdk.h (ours, mirroring the documented API).
 * Built as an object library in the lx106 cross build and run over a fake SDK under
 * QEMU (tests/esp8266); docs/porting.md explains it. */
#ifndef UPD_ESP8266_H
#define UPD_ESP8266_H

#include <stdint.h>

#include "esp8266_sdk.h"
#include "updraft/client.h"

#define UPD_ESP8266_RTC_BOOT_BLOCK   128u /* 0x60001200: the eboot command */
#define UPD_ESP8266_RTC_RESUME_BLOCK 160u /* 128 bytes after it, up to block 191 */

/* Called once when a check ends (result, upd_client_error()), from the SDK's timer
 * context; on UPD_CLIENT_OK the application reboots (system_restart()) to let eboot copy
 * the staged image. */
typedef void (*upd_esp8266_done_fn)(void *arg, upd_client_result result, int error);

typedef struct upd_esp8266 {
    upd_port port;
    /* clock */
    uint32_t last_us, ms, us_rest;
    /* crypto */
    md5_context_t md5;
    /* state: 0 keeps the resume record in RTC memory */
    uint32_t resume_sector_addr;
    /* transport (espconn) */
    struct espconn conn;
    esp_tcp tcp;
    ip_addr_t ip;
    ETSTimer timer;
    upd_client_ctx *client;
    uint8_t tx[1460] __attribute__((aligned(4))); /* espconn_send needs it until sent */
    uint16_t tx_len;
    uint8_t connected, sending, finishing, tls, in_timer;
    upd_esp8266_done_fn done;
    void *done_arg;
} upd_esp8266;

/* The layout of the running Arduino-style firmware: chip_size from the flash's JEDEC id,
 * sketch_size as ESP.getSketchSize() gives it, the filesystem area [fs_start, fs_end)
 * in physical addresses (_FS_start/_FS_end minus 0x40200000), the chip's flash mode. */
void upd_esp8266_layout(upd_flash_layout *out, uint32_t sketch_size, uint32_t fs_start,
                        uint32_t fs_end, uint8_t flash_mode);

/* Fill e->port (flash, state, clock, crypto; no transport ops). resume_sector_addr: a
 * 4 KB-aligned flash address reserved for the resume record and the outcome report, or
 * 0: resume record in RTC memory, no outcome report (UPD_CLIENT_F_REPORT does nothing). */
void upd_esp8266_init(upd_esp8266 *e, const upd_flash_layout *layout,
                      uint32_t resume_sector_addr);

/* Fill the device facts of cfg the way ESP8266httpUpdate does: STA and AP MAC, chip id,
 * SDK version. */
void upd_esp8266_device_config(upd_client_config *cfg);

/* Start one update check with the engine c (already upd_client_init()ed with e->port,
 * cfg and its buffer): connects with espconn (TLS with espconn_secure_* when cfg->tls),
 * moves the bytes from the callbacks, applies the timeouts from a 100 ms timer, and
 * calls done when the check is over. Returns 0, or -1 if a check is already running. */
int upd_esp8266_check_start(upd_esp8266 *e, upd_client_ctx *c, upd_esp8266_done_fn done,
                            void *arg);

/* The port operations, for tests and other drivers. */
int upd_esp8266_flash_read(void *ctx, uint32_t addr, void *buf, uint32_t len);
int upd_esp8266_flash_erase(void *ctx, uint32_t addr);
int upd_esp8266_flash_write(void *ctx, uint32_t addr, const void *buf, uint32_t len);
int upd_esp8266_state_read(void *ctx, unsigned area, void *buf, uint32_t len);
int upd_esp8266_state_write(void *ctx, unsigned area, const void *buf, uint32_t len);
uint32_t upd_esp8266_now_ms(void *ctx);

#endif
