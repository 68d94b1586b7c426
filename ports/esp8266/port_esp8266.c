/* ESP8266 NONOS SDK port: flash, state, clock and MD5 (upd_esp8266.h). No heap: every
 * buffer is in the caller's upd_esp8266 or on the stack (at most 256 bytes). */
#include <string.h>

#include "upd_esp8266.h"

#define SECTOR UPD_FLASH_SECTOR

/* ---- flash -------------------------------------------------------------------------------- */

/* Any address, length and buffer: spi_flash_read needs 4-byte aligned flash address,
 * length and RAM buffer, so read whole words into a bounce buffer and copy out. */
int upd_esp8266_flash_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    (void)ctx;
    uint8_t *out = buf;
    uint32_t bounce[64];
    while (len) {
        uint32_t a = addr & ~3u, skip = addr - a;
        uint32_t n = sizeof bounce - skip < len ? (uint32_t)sizeof bounce - skip : len;
        uint32_t words = (skip + n + 3u) & ~3u;
        if (spi_flash_read(a, bounce, words) != SPI_FLASH_RESULT_OK)
            return -1;
        memcpy(out, (const uint8_t *)bounce + skip, n);
        out += n;
        addr += n;
        len -= n;
    }
    return 0;
}

int upd_esp8266_flash_erase(void *ctx, uint32_t addr)
{
    (void)ctx;
    if (addr % SECTOR || addr / SECTOR > 0xFFFFu)
        return -1;
    return spi_flash_erase_sector((uint16_t)(addr / SECTOR)) == SPI_FLASH_RESULT_OK ? 0 : -1;
}

/* The engine hands 4-byte aligned addresses, lengths and buffers (port.h). */
int upd_esp8266_flash_write(void *ctx, uint32_t addr, const void *buf, uint32_t len)
{
    (void)ctx;
    if ((addr | len) & 3u || ((uintptr_t)buf & 3u))
        return -1;
    void *p = (void *)(uintptr_t)buf; /* the SDK's prototype is not const-correct */
    return spi_flash_write(addr, p, len) == SPI_FLASH_RESULT_OK ? 0 : -1;
}

/* ---- state ---------------------------------------------------------------------------------- */

/* RTC memory takes whole blocks of 4 bytes from a 4-byte aligned buffer. */
static int rtc_read(uint8_t block, void *buf, uint32_t len)
{
    uint32_t w[UPD_STATE_BOOT_SIZE / 4];
    if (len > sizeof w || !system_rtc_mem_read(block, w, (uint16_t)((len + 3u) & ~3u)))
        return -1;
    memcpy(buf, w, len);
    return 0;
}

static int rtc_write(uint8_t block, const void *buf, uint32_t len)
{
    uint32_t w[UPD_STATE_BOOT_SIZE / 4];
    if (len > sizeof w)
        return -1;
    memset(w, 0, sizeof w);
    memcpy(w, buf, len);
    return system_rtc_mem_write(block, w, (uint16_t)((len + 3u) & ~3u)) ? 0 : -1;
}

/* The state sector (when given): [0,128) the resume record, [128,224) the outcome
 * report. Without one, the resume record is in RTC memory and there is no report. */
#define SECTOR_REPORT_OFF UPD_STATE_RESUME_SIZE
#define SECTOR_USED       (UPD_STATE_RESUME_SIZE + UPD_STATE_REPORT_SIZE)

int upd_esp8266_state_read(void *ctx, unsigned area, void *buf, uint32_t len)
{
    upd_esp8266 *e = ctx;
    if (area == UPD_STATE_BOOT && len <= UPD_STATE_BOOT_SIZE)
        return rtc_read(UPD_ESP8266_RTC_BOOT_BLOCK, buf, len);
    if (area == UPD_STATE_REPORT && len <= UPD_STATE_REPORT_SIZE && e->resume_sector_addr)
        return upd_esp8266_flash_read(e, e->resume_sector_addr + SECTOR_REPORT_OFF, buf, len);
    if (area != UPD_STATE_RESUME || len > UPD_STATE_RESUME_SIZE)
        return -1;
    if (e->resume_sector_addr)
        return upd_esp8266_flash_read(e, e->resume_sector_addr, buf, len);
    return rtc_read(UPD_ESP8266_RTC_RESUME_BLOCK, buf, len);
}

/* A record in the state sector: read both records, replace one, erase the sector and
 * program both again (one write). A power cut between the erase and the write loses
 * both: the download starts over and nothing is reported, which is safe. */
static int sector_write(upd_esp8266 *e, uint32_t off, uint32_t cap, const void *buf, uint32_t len)
{
    uint32_t w[SECTOR_USED / 4];
    if (upd_esp8266_flash_read(e, e->resume_sector_addr, w, sizeof w) != 0)
        return -1;
    memset((uint8_t *)w + off, 0xFF, cap);
    memcpy((uint8_t *)w + off, buf, len);
    if (upd_esp8266_flash_erase(e, e->resume_sector_addr) != 0)
        return -1;
    return upd_esp8266_flash_write(e, e->resume_sector_addr, w, sizeof w);
}

int upd_esp8266_state_write(void *ctx, unsigned area, const void *buf, uint32_t len)
{
    upd_esp8266 *e = ctx;
    if (area == UPD_STATE_BOOT && len <= UPD_STATE_BOOT_SIZE)
        return rtc_write(UPD_ESP8266_RTC_BOOT_BLOCK, buf, len);
    if (area == UPD_STATE_REPORT && len <= UPD_STATE_REPORT_SIZE && e->resume_sector_addr)
        return sector_write(e, SECTOR_REPORT_OFF, UPD_STATE_REPORT_SIZE, buf, len);
    if (area != UPD_STATE_RESUME || len > UPD_STATE_RESUME_SIZE)
        return -1;
    if (!e->resume_sector_addr)
        return rtc_write(UPD_ESP8266_RTC_RESUME_BLOCK, buf, len);
    return sector_write(e, 0, UPD_STATE_RESUME_SIZE, buf, len);
}

/* ---- clock ----------------------------------------------------------------------------------- */

/* Milliseconds from the microsecond counter: only differences are added, so the 71-minute
 * wrap of system_get_time() does not show (call at least once per 71 minutes: the engine
 * polls every 100 ms while a check runs). */
uint32_t upd_esp8266_now_ms(void *ctx)
{
    upd_esp8266 *e = ctx;
    uint32_t now = system_get_time();
    uint32_t us = now - e->last_us + e->us_rest;
    e->last_us = now;
    e->ms += us / 1000u;
    e->us_rest = us % 1000u;
    return e->ms;
}

/* ---- MD5 from ROM ------------------------------------------------------------------------------ */

static void md5_init(void *ctx)
{
    MD5Init(ctx);
}

/* MD5Update takes at most 65535 bytes at a time. */
static void md5_update(void *ctx, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len) {
        uint16_t n = len > 0xFFFFu ? 0xFFFFu : (uint16_t)len;
        MD5Update(ctx, p, n);
        p += n;
        len -= n;
    }
}

static void md5_final(void *ctx, uint8_t out[16])
{
    MD5Final(out, ctx);
}

/* ---- set-up ------------------------------------------------------------------------------------- */

void upd_esp8266_layout(upd_flash_layout *out, uint32_t sketch_size, uint32_t fs_start,
                        uint32_t fs_end, uint8_t flash_mode)
{
    memset(out, 0, sizeof *out);
    uint32_t code = (spi_flash_get_id() >> 16) & 0xFFu; /* JEDEC: size = 2^code bytes */
    out->chip_size = code >= 17 && code <= 28 ? 1u << code : 0;
    out->sketch_size = sketch_size;
    out->fs_start = fs_start;
    out->fs_end = fs_end;
    out->flash_mode = flash_mode;
}

void upd_esp8266_init(upd_esp8266 *e, const upd_flash_layout *layout, uint32_t resume_sector_addr)
{
    memset(e, 0, sizeof *e);
    e->resume_sector_addr = resume_sector_addr & ~(SECTOR - 1u);
    e->last_us = system_get_time();
    upd_port *p = &e->port;
    p->flash.read = upd_esp8266_flash_read;
    p->flash.erase = upd_esp8266_flash_erase;
    p->flash.write = upd_esp8266_flash_write;
    p->flash.ctx = e;
    p->flash.layout = *layout;
    p->clock.now_ms = upd_esp8266_now_ms;
    p->clock.ctx = e;
    p->crypto.md5.init = md5_init;
    p->crypto.md5.update = md5_update;
    p->crypto.md5.final = md5_final;
    p->crypto.md5.ctx = &e->md5;
    /* no SHA-256 in the SDK's documented API; no signature verification yet */
    p->state.read = upd_esp8266_state_read;
    p->state.write = upd_esp8266_state_write;
    p->state.activate = NULL; /* ESP8266: eboot's command, not a slot switch */
    p->state.ctx = e;
}

void upd_esp8266_device_config(upd_client_config *cfg)
{
    wifi_get_macaddr(STATION_IF, cfg->sta_mac);
    wifi_get_macaddr(SOFTAP_IF, cfg->ap_mac);
    cfg->chip_id = system_get_chip_id();
    cfg->sdk_version = system_get_sdk_version();
    cfg->flavor = UPD_CLIENT_ESP8266_ARDUINO;
}
