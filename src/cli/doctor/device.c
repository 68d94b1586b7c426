/* The device doctor simulates: its flash layout (the one the posix port lays out in a
 * temporary file) and the engine's configuration, from the options. */
#include <stdlib.h>

#include "fsutil.h"
#include "doctor.h"
#include "updraft/fit.h"

/* The Arduino layouts of the device. */
int upd__doctor_make_layout(doctor *d, char *err, size_t errlen)
{
    struct opts *o = d->o;
    upd_flash_layout *l = &d->layout;
    memset(l, 0, sizeof *l);
    uint32_t chip = o->chip_size >= 0 ? (uint32_t)o->chip_size : 4u << 20;
    if (chip < 512u * 1024u || chip % 4096u) {
        say(err, errlen, "--chip-size %u: give the flash size in bytes (e.g. 4194304 or 4M)", chip);
        return -1;
    }
    l->chip_size = chip;
    l->flash_mode = (uint8_t)o->flash_mode;
    if (o->as == AS_ESP8266) {
        /* the Arduino layouts: 1M with 64K FS; 2M and more with a 1M filesystem below the
         * last 24 KB (EEPROM, RF calibration, SDK parameters) */
        uint32_t fs_end = chip <= (1u << 20) ? chip - 0x5000u : chip - 0x6000u;
        uint32_t fs = o->fs_size >= 0      ? (uint32_t)o->fs_size
                      : chip <= (1u << 20) ? 0x10000u
                                           : fs_end - (chip - (1u << 20));
        l->sketch_size = o->sketch_size >= 0 ? (uint32_t)o->sketch_size : 400000u;
        uint32_t used = sector_roundup(l->sketch_size);
        if (o->free_space >= 0) {
            /* free = fs_start - roundup(sketch_size): place the filesystem to match, and
             * without --fs-size end it where the core's standard layouts do (the rule the
             * server uses, upd_esp8266_fs_area) */
            l->fs_start = used + (uint32_t)o->free_space;
            uint32_t s0, e0;
            if (o->fs_size < 0 && upd_esp8266_fs_area(chip, l->sketch_size, (uint32_t)o->free_space,
                                                      &s0, &e0, NULL) == 0)
                fs = e0 - s0;
            if ((uint64_t)l->fs_start + fs > chip) {
                if (l->fs_start > chip) {
                    say(err, errlen,
                        "--free-space %lld with a %u-byte sketch does not fit a %u-byte chip: "
                        "give --chip-size or --sketch-size",
                        o->free_space, l->sketch_size, chip);
                    return -1;
                }
                fs = chip - l->fs_start;
            }
        } else {
            if (fs > fs_end || fs_end - fs < used) {
                say(err, errlen, "the sketch does not fit this layout: give --free-space");
                return -1;
            }
            l->fs_start = fs_end - fs;
        }
        l->fs_end = l->fs_start + fs;
    } else {
        /* Arduino-ESP32 default partitions (4 MB): app0 0x10000, app1 0x150000 (1280 KB
         * each), spiffs 0x290000; the update goes to app1 */
        l->sketch_size = o->sketch_size >= 0 ? (uint32_t)o->sketch_size : 900000u;
        l->slot_size = o->free_space >= 0 ? (uint32_t)o->free_space : 0x140000u;
        l->slot_start = 0x150000u;
        if ((uint64_t)l->slot_start + l->slot_size > chip) {
            l->slot_start = 0x10000u;
            if ((uint64_t)l->slot_start + l->slot_size > chip) {
                say(err, errlen, "--free-space %u does not fit a %u-byte chip", l->slot_size, chip);
                return -1;
            }
        }
        l->fs_start = ((l->slot_start + l->slot_size + 0xFFFFu) & ~0xFFFFu);
        uint32_t fs = o->fs_size >= 0 ? (uint32_t)o->fs_size : 0x160000u;
        if (l->fs_start > chip)
            l->fs_start = chip;
        l->fs_end = (uint64_t)l->fs_start + fs > chip ? chip : l->fs_start + fs;
    }
    return 0;
}

/* The device's settings as its sketch gives them to the client (and the credentials as
 * HTTPClient sends them). */
void upd__doctor_make_config(doctor *d)
{
    struct opts *o = d->o;
    upd_client_config *c = &d->cfg;
    if (o->user) {
        char up[512];
        say(up, sizeof up, "%s:%s", o->user, o->password);
        upd_base64(up, d->auth, sizeof d->auth);
    }
    memset(c, 0, sizeof *c);
    c->flavor = o->as == AS_ESP32 ? UPD_CLIENT_ESP32_ARDUINO : UPD_CLIENT_ESP8266_ARDUINO;
    c->mode = (upd_update_mode)o->mode;
    c->host = o->host;
    c->port = o->port;
    c->tls = (uint8_t)o->tls;
    c->path = o->path;
    c->auth = d->auth[0] ? d->auth : NULL;
    c->version = o->version;
    if (o->sdk)
        snprintf(d->sdk, sizeof d->sdk, "%s", o->sdk);
    else
        snprintf(d->sdk, sizeof d->sdk, "%s",
                 o->as == AS_ESP8266 ? "2.2.2-dev(38a443e)" : "v4.4.7");
    c->sdk_version = d->sdk;
    c->sketch_md5 = o->sketch_md5 ? o->sketch_md5 : "00000000000000000000000000000000";
    c->sketch_sha256 = o->sketch_sha256;
    memcpy(c->sta_mac, o->mac, 6);
    memcpy(c->ap_mac, o->ap_mac, 6);
    /* ESP.getChipId(): the low three bytes of the MAC */
    c->chip_id = o->chip_id >= 0 ? (uint32_t)o->chip_id
                                 : (uint32_t)o->mac[3] << 16 | (uint32_t)o->mac[4] << 8 | o->mac[5];
    c->follow_redirects = (uint8_t)o->follow;
    c->flash_map_core = (uint8_t)o->flash_map;
    c->timeout_ms = o->timeout;
    c->stream_timeout_ms = o->stream_timeout;
    c->features = 0; /* exact parity with the device's client */
}

uint32_t upd__doctor_reported_free(const doctor *d)
{
    if (d->o->as != AS_ESP8266)
        return d->layout.slot_size;
    uint32_t used = sector_roundup(d->layout.sketch_size);
    return d->layout.fs_start > used ? d->layout.fs_start - used : 0;
}
