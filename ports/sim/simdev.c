/* The simulated device: flash layouts, the port (state areas, ESP32 activation), the
 * ESP8266 boot (eboot command in RTC memory, sector-by-sector copy, gzip inflation)
 * and the ESP32 boot (otadata, NEW/PENDING_VERIFY/VALID/ABORTED, rollback), and the
 * check that an intact application boots. See sim.h and docs/sim.md. */
#include <string.h>

#include "simint.h"
#include "updraft/error.h"

#define SECTOR UPD_SIM_SECTOR

#define EBOOT_MAGIC    0xEB001000u
#define EBOOT_COPY_RAW 1u

/* ESP8266: Arduino boards.txt flash layouts (_FS_start/_FS_end - 0x40200000); the sim keeps
 * the resume record in the EEPROM sector (chip - 0x5000). ESP32: Arduino default.csv
 * (nvs 0x9000, otadata 0xE000, app0 0x10000, app1 0x150000, spiffs 0x290000). */
static const upd_sim_layout layouts[] = {
    {"esp8266-1m64", UPD_SIM_ESP8266, 0x2, 0x100000, 0xEB000, 0xFB000, 0xFB000, 0, {0, 0}, 0},
    {"esp8266-1m0", UPD_SIM_ESP8266, 0x2, 0x100000, 0xFB000, 0xFB000, 0xFB000, 0, {0, 0}, 0},
    {"esp8266-2m1m", UPD_SIM_ESP8266, 0x3, 0x200000, 0x100000, 0x1FA000, 0x1FB000, 0, {0, 0}, 0},
    {"esp8266-4m1m", UPD_SIM_ESP8266, 0x4, 0x400000, 0x300000, 0x3FA000, 0x3FB000, 0, {0, 0}, 0},
    {"esp8266-4m2m", UPD_SIM_ESP8266, 0x4, 0x400000, 0x200000, 0x3FA000, 0x3FB000, 0, {0, 0}, 0},
    {"esp8266-4m3m", UPD_SIM_ESP8266, 0x4, 0x400000, 0x100000, 0x3FA000, 0x3FB000, 0, {0, 0}, 0},
    {"esp32-4m",
     UPD_SIM_ESP32,
     0x2,
     0x400000,
     0x290000,
     0x3F0000,
     0x9000,
     0xE000,
     {0x10000, 0x150000},
     0x140000},
};

const upd_sim_layout *upd_sim_layout_at(unsigned i)
{
    return i < sizeof layouts / sizeof layouts[0] ? &layouts[i] : NULL;
}

const upd_sim_layout *upd_sim_layout_find(const char *name)
{
    for (unsigned i = 0; name && i < sizeof layouts / sizeof layouts[0]; i++)
        if (!strcmp(layouts[i].name, name))
            return &layouts[i];
    return NULL;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t roundup(uint32_t n)
{
    return (n + SECTOR - 1u) & ~(SECTOR - 1u);
}

static int esp32(const upd_sim_dev *dev)
{
    return dev->lay->platform == UPD_SIM_ESP32;
}

/* ---- the port's state operations ---------------------------------------------------------- */

static int s_read(void *ctx, unsigned area, void *buf, uint32_t len)
{
    upd_sim_dev *dev = ctx;
    if (dev->flash.off || len > UPD_STATE_BOOT_SIZE)
        return -1;
    if (area == UPD_STATE_BOOT) {
        memcpy(buf, dev->rtc, len);
        return 0;
    }
    if (area == UPD_STATE_RESUME)
        return upd_sim_read(dev, dev->lay->resume, buf, len);
    if (area == UPD_STATE_REPORT && len <= sizeof dev->report) {
        memcpy(buf, dev->report, len);
        return 0;
    }
    return -1;
}

/* The resume record lives in a flash sector of its own: erase + write, both counted and
 * cuttable (a cut leaves a record whose CRC fails: the download starts over). */
static int s_write(void *ctx, unsigned area, const void *buf, uint32_t len)
{
    upd_sim_dev *dev = ctx;
    if (dev->flash.off || len > UPD_STATE_BOOT_SIZE)
        return -1;
    if (area == UPD_STATE_BOOT) {
        memcpy(dev->rtc, buf, len); /* RTC user memory: survives a reset, not a power loss */
        return 0;
    }
    if (area == UPD_STATE_REPORT && len <= sizeof dev->report) {
        memcpy(dev->report, buf, len);
        return 0;
    }
    if (area != UPD_STATE_RESUME)
        return -1;
    uint32_t w[UPD_STATE_RESUME_SIZE / 4];
    memset(w, 0xFF, sizeof w);
    memcpy(w, buf, len);
    if (upd__sim_erase(dev, dev->lay->resume) != 0)
        return -1;
    return upd__sim_write(dev, dev->lay->resume, w, (len + 3u) & ~3u);
}

/* ---- otadata (ESP32) ------------------------------------------------------------------------ */

/* esp_rom_crc32_le: the reflected CRC-32, crc inverted on the way in and out. */
static uint32_t crc32_le(uint32_t crc, const uint8_t *p, uint32_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1u ? crc >> 1 ^ 0xEDB88320u : crc >> 1;
    }
    return ~crc;
}

int upd_sim_otadata_entry(const upd_sim_dev *dev, int i, uint32_t *seq, uint32_t *state)
{
    uint8_t e[32];
    if (!esp32(dev) || upd_sim_read(dev, dev->lay->otadata + (uint32_t)i * SECTOR, e, 32) != 0)
        return 0;
    *seq = get32(e);
    *state = get32(e + 24);
    return *seq != 0xFFFFFFFFu && get32(e + 28) == crc32_le(0xFFFFFFFFu, e, 4);
}

/* Rewrite entry i (its own sector): erase, then the 32 bytes. 0 or -1 (cut). */
static int write_entry(upd_sim_dev *dev, int i, uint32_t seq, uint32_t state)
{
    uint32_t w[8];
    uint8_t *e = (uint8_t *)w;
    memset(e, 0xFF, 32); /* seq_label: left erased */
    put32(e, seq);
    put32(e + 24, state);
    put32(e + 28, crc32_le(0xFFFFFFFFu, e, 4));
    uint32_t addr = dev->lay->otadata + (uint32_t)i * SECTOR;
    if (upd__sim_erase(dev, addr) != 0)
        return -1;
    return upd__sim_write(dev, addr, w, 32);
}

/* The selectable entry: highest ota_seq among valid ones that are not INVALID/ABORTED
 * (rollback enabled). -1 if none. */
static int active_entry(const upd_sim_dev *dev, int any_state, uint32_t *seq, uint32_t *state)
{
    int best = -1;
    for (int i = 0; i < 2; i++) {
        uint32_t q, st;
        if (!upd_sim_otadata_entry(dev, i, &q, &st))
            continue;
        if (!any_state && (st == UPD_SIM_OTA_INVALID || st == UPD_SIM_OTA_ABORTED))
            continue;
        if (best < 0 || q > *seq) {
            best = i;
            *seq = q;
            *state = st;
        }
    }
    return best;
}

/* esp_ota_set_boot_partition: the next sequence number that names the slot, written to
 * the entry that is not the active one (so the switch is one sector write). */
static int s_activate(void *ctx, uint32_t start, uint32_t size)
{
    upd_sim_dev *dev = ctx;
    (void)size;
    if (!esp32(dev) || dev->flash.off || dev->refuse)
        return -1;
    int slot = start == dev->lay->slot[0] ? 0 : start == dev->lay->slot[1] ? 1 : -1;
    if (slot < 0)
        return -1;
    uint32_t seq = 0, st = 0;
    int act = active_entry(dev, 1, &seq, &st);
    int idx = 0;
    if (act >= 0) {
        seq++;
        while ((seq - 1u) % 2u != (uint32_t)slot)
            seq++;
        idx = act ^ 1;
    } else {
        seq = (uint32_t)slot + 1u;
    }
    return write_entry(dev, idx, seq, UPD_SIM_OTA_NEW);
}

int upd_sim_confirm(upd_sim_dev *dev)
{
    if (!esp32(dev) || dev->state != UPD_SIM_RUNNING)
        return dev->state == UPD_SIM_RUNNING ? 0 : -1;
    if (!dev->pending_verify)
        return 0;
    uint32_t seq = 0, st = 0;
    int act = active_entry(dev, 0, &seq, &st);
    dev->phase = UPD_SIM_PH_APP;
    if (act >= 0 && st == UPD_SIM_OTA_PENDING_VERIFY &&
        write_entry(dev, act, seq, UPD_SIM_OTA_VALID) != 0)
        return -1;
    dev->pending_verify = 0;
    return 0;
}

/* The port's rollback ops (ESP32): the running image's otadata state, and confirm. */
static int s_boot_state(void *ctx)
{
    upd_sim_dev *dev = ctx;
    if (dev->state != UPD_SIM_RUNNING)
        return -1;
    if (dev->pending_verify)
        return UPD_BOOT_PENDING;
    /* an ABORTED/INVALID entry newer than the one that runs: the update was rolled back */
    uint32_t seq = 0, st = 0;
    int act = active_entry(dev, 0, &seq, &st);
    for (int i = 0; i < 2; i++) {
        uint32_t q, s2;
        if (i != act && upd_sim_otadata_entry(dev, i, &q, &s2) &&
            (s2 == UPD_SIM_OTA_ABORTED || s2 == UPD_SIM_OTA_INVALID) && (act < 0 || q > seq))
            return UPD_BOOT_ROLLED_BACK;
    }
    return UPD_BOOT_VALID;
}

static int s_confirm(void *ctx)
{
    return upd_sim_confirm(ctx);
}

/* A signature check with a key no image the sim is given was signed with. */
static int s_verify_reject(void *ctx, const uint8_t digest[32], const uint8_t *sig, size_t len)
{
    (void)ctx;
    (void)digest;
    (void)sig;
    (void)len;
    return -1;
}

void upd_sim_arm_refusal(upd_sim_dev *dev, int on)
{
    dev->refuse = (uint8_t)(on != 0);
    if (!esp32(dev)) {
        dev->port.crypto.verify = on ? s_verify_reject : NULL;
        dev->port.crypto.verify_ctx = on ? dev : NULL;
    }
}

/* ---- set up ------------------------------------------------------------------------------------
 */

void upd_sim_init(upd_sim_dev *dev, const upd_sim_layout *lay, const upd_sim_env *env,
                  uint32_t seed)
{
    memset(dev, 0, sizeof *dev);
    dev->lay = lay;
    dev->env = env;
    dev->flash.nsec = lay->chip_size / SECTOR;
    if (dev->flash.nsec > UPD_SIM_MAX_SECTORS)
        dev->flash.nsec = UPD_SIM_MAX_SECTORS;
    dev->flash.cut_left = -1;
    dev->flash.weak_left = -1;
    dev->rng = seed * 2654435761u ^ 0x5EEDu;
    dev->flash_mode = 2; /* DIO */
    dev->run_slot = -1;
    upd_port *p = &dev->port;
    upd__sim_flash_ops(dev, &p->flash);
    p->clock = env->clock;
    upd_md5_ops_init(&p->crypto.md5, &dev->md5);
    upd_sha256_ops_init(&p->crypto.sha256, &dev->sha);
    p->state.read = s_read;
    p->state.write = s_write;
    p->state.activate = lay->platform == UPD_SIM_ESP32 ? s_activate : NULL;
    if (lay->platform == UPD_SIM_ESP32)
        p->rollback = (upd_rollback_ops){s_boot_state, s_confirm, dev};
    p->state.ctx = dev;
}

void upd_sim_free(upd_sim_dev *dev)
{
    for (uint32_t s = 0; s < dev->flash.nsec; s++)
        upd__sim_drop(dev, s);
}

int upd_sim_flash_image(upd_sim_dev *dev, const void *image, uint32_t len)
{
    uint32_t addr = esp32(dev) ? dev->lay->slot[0] : 0;
    uint32_t room = esp32(dev) ? dev->lay->slot_size : dev->lay->fs_start;
    if (len > room)
        return -1;
    return upd__sim_load(dev, addr, image, len);
}

/* ---- images on flash ----------------------------------------------------------------------------
 */

/* Walk an esptool image's header and segments at addr; the end (checksum byte on a
 * 16-byte boundary), or 0. */
static uint32_t walk(const upd_sim_dev *dev, uint32_t addr, uint32_t hdr, uint32_t limit)
{
    uint8_t h[8];
    if (upd_sim_read(dev, addr, h, 8) != 0 || h[0] != 0xE9 || h[1] == 0 || h[1] > 16)
        return 0;
    uint32_t pos = addr + hdr;
    for (unsigned i = 0; i < h[1]; i++) {
        uint8_t sh[8];
        if (upd_sim_read(dev, pos, sh, 8) != 0)
            return 0;
        uint32_t n = get32(sh + 4);
        if (n > limit || pos + 8u + n > limit)
            return 0;
        pos += 8u + n;
    }
    pos = (pos + 16u) & ~15u;
    return pos <= limit ? pos : 0;
}

uint32_t upd_sim_image_length(const upd_sim_dev *dev, uint32_t addr, int platform)
{
    if (platform == UPD_SIM_ESP32) {
        uint32_t limit = addr + dev->lay->slot_size;
        uint8_t h[24];
        if (upd_sim_read(dev, addr, h, 24) != 0)
            return 0;
        uint32_t end = walk(dev, addr, 24, limit);
        if (end && h[23] == 1)
            end += 32;
        return end && end <= limit ? end - addr : 0;
    }
    uint8_t b;
    if (upd_sim_read(dev, addr, &b, 1) != 0 || b != 0xE9)
        return 0;
    uint32_t end = walk(dev, addr + 0x1000, 8, addr + dev->lay->fs_start);
    return end ? end - addr : 0;
}

struct flash_src {
    const upd_sim_dev *dev;
    uint32_t base;
};

static int src_read(const upd_source *src, uint32_t off, void *buf, uint32_t len)
{
    const struct flash_src *fs = src->ctx;
    if (off >= src->avail)
        return 0;
    if (len > src->avail - off)
        len = src->avail - off;
    return upd_sim_read(fs->dev, fs->base + off, buf, len) == 0 ? (int)len : UPD_EIO;
}

/* The boot check: an intact application of the platform at addr (the core's
 * inspector: header, segments, checksum, ESP8266 eboot + app, ESP32 appended SHA-256).
 * On success the running image's size and hashes are recorded as the device's client
 * reports them: the MD5 of the image's length (ESP.getSketchMD5(); on ESP32 the length
 * esp_image_verify measures, the appended SHA-256 included, nothing after it), and on
 * ESP32 the SHA-256 esp_partition_get_sha256() returns: the appended digest when the
 * image has one, else the SHA-256 of that length. */
static int boot_image(upd_sim_dev *dev, uint32_t addr, int slot)
{
    int plat = dev->lay->platform;
    uint32_t len = upd_sim_image_length(dev, addr, plat);
    if (!len)
        return -1;
    struct flash_src fs = {dev, addr};
    upd_source src = {src_read, &fs, len, len};
    upd_image_report *rep = (upd_image_report *)(void *)(dev->env->scratch + 2u * SECTOR);
    /* the device's own hash functions (the port's: the device crypto library, or what the
     * host put in front of it, simmemo.h) */
    const upd_md5_ops *md5 = &dev->port.crypto.md5;
    const upd_sha256_ops *sha = &dev->port.crypto.sha256;
    int e = upd_image_inspect(&src, sha, rep);
    if (e != 0 || rep->verdict != UPD_VERDICT_OTA_APP)
        return -1;
    if (plat == UPD_SIM_ESP32 ? rep->platform != UPD_PLATFORM_ESP32 || rep->app.hash_ok == 0
                              : rep->platform != UPD_PLATFORM_ESP8266 || !rep->has_app)
        return -1;
    md5->init(md5->ctx);
    if (plat == UPD_SIM_ESP32)
        sha->init(sha->ctx);
    uint8_t *buf = dev->env->scratch;
    for (uint32_t off = 0; off < len; off += SECTOR) {
        uint32_t k = len - off < SECTOR ? len - off : SECTOR;
        upd_sim_read(dev, addr + off, buf, k);
        md5->update(md5->ctx, buf, k);
        if (plat == UPD_SIM_ESP32)
            sha->update(sha->ctx, buf, k);
    }
    static const char hx[] = "0123456789abcdef", HX[] = "0123456789ABCDEF";
    md5->final(md5->ctx, dev->run_md5);
    for (int i = 0; i < 16; i++) {
        dev->run_md5_hex[2 * i] = hx[dev->run_md5[i] >> 4];
        dev->run_md5_hex[2 * i + 1] = hx[dev->run_md5[i] & 15];
    }
    dev->run_md5_hex[32] = '\0';
    dev->run_sha256_hex[0] = '\0';
    if (plat == UPD_SIM_ESP32) {
        uint8_t d[32];
        sha->final(sha->ctx, d);
        if (rep->app.hash_appended)
            memcpy(d, rep->app.sha256, 32);
        for (int i = 0; i < 32; i++) {
            dev->run_sha256_hex[2 * i] = HX[d[i] >> 4];
            dev->run_sha256_hex[2 * i + 1] = HX[d[i] & 15];
        }
        dev->run_sha256_hex[64] = '\0';
    }
    dev->run_addr = addr;
    dev->run_size = len;
    dev->run_slot = (int8_t)slot;
    return 0;
}

/* ---- ESP8266: eboot -------------------------------------------------------------------------- */

int upd_sim_eboot_command(const upd_sim_dev *dev, uint32_t *from, uint32_t *to, uint32_t *size)
{
    const uint8_t *c = dev->rtc;
    if (get32(c) != EBOOT_MAGIC || get32(c + 124) != upd_crc32_mpeg2(0xFFFFFFFFu, c, 124) ||
        get32(c + 4) != EBOOT_COPY_RAW)
        return 0;
    *from = get32(c + 8);
    *to = get32(c + 12);
    *size = get32(c + 16);
    return 1;
}

/* One destination sector: erase, write 4 KB (eboot's SPIEraseSector + SPIWrite). */
static int put_sector(upd_sim_dev *dev, uint32_t to, const uint8_t *buf)
{
    if (upd__sim_erase(dev, to) != 0)
        return -1;
    return upd__sim_write(dev, to, buf, SECTOR);
}

/* copy_raw: roundup(size, 4096) bytes sector by sector from the staged area to `to`,
 * inflating when the staged data is gzip (output length = the stream's, i.e. ISIZE).
 * Not atomic: a cut leaves a half-copied sketch. 0, or -1 (cut, bad data). */
static int eboot_copy(upd_sim_dev *dev, uint32_t from, uint32_t to, uint32_t size)
{
    uint8_t *in = dev->env->scratch, *out = dev->env->scratch + SECTOR;
    uint32_t n = roundup(size), end = dev->flash.nsec * SECTOR;
    if (from % SECTOR || to % SECTOR || n > end || from > end - n || to > end - n)
        return -1;
    uint8_t magic[2];
    upd_sim_read(dev, from, magic, 2);
    const upd_sim_inflate *z = &dev->env->inflate;
    if (!(magic[0] == 0x1F && magic[1] == 0x8B) || !z->step) {
        for (uint32_t off = 0; off < n; off += SECTOR) {
            upd_sim_read(dev, from + off, in, SECTOR);
            if (put_sector(dev, to + off, in) != 0)
                return -1;
        }
        return 0;
    }
    /* eboot: the output length is the gzip trailer's ISIZE, read from flash; it inflates
     * exactly that many bytes and never looks at the trailer's CRC */
    uint8_t t[4];
    if (size < 18 || upd_sim_read(dev, from + size - 4u, t, 4) != 0)
        return -1;
    uint32_t left = get32(t);
    if (z->begin(z->ctx) != 0)
        return -1;
    /* The staged data is read in 4 KB blocks, the next one only when the inflater has
     * used up the current one and more output is wanted (eboot's read callback runs
     * when uzlib needs the block's first byte). Each output sector is erased and written
     * once it is full: a block not read yet may have been overwritten by then. */
    uint32_t in_off = 0, in_len = 0, in_pos = 0, dst = to;
    int r = 0;
    while (left > 0 && r >= 0) {
        uint32_t want = left < SECTOR ? left : SECTOR, fill = 0;
        while (fill < want) {
            if (in_pos == in_len) {
                if (in_off >= n) {
                    r = -1; /* the stream does not end within the staged data */
                    break;
                }
                upd_sim_read(dev, from + in_off, in, SECTOR);
                in_off += SECTOR;
                in_len = SECTOR;
                in_pos = 0;
            }
            uint32_t used = 0, made = 0;
            r = z->step(z->ctx, in + in_pos, in_len - in_pos, &used, out + fill, want - fill,
                        &made);
            in_pos += used;
            fill += made;
            if (r < 0 || (r == 1 && fill < want)) {
                r = -1; /* damaged data (uzlib: error 6), or shorter than ISIZE */
                break;
            }
            if (used == 0 && made == 0 && in_pos < in_len) {
                r = -1; /* no progress */
                break;
            }
        }
        if (r < 0)
            break;
        memset(out + fill, 0xFF, SECTOR - fill);
        if (dst > end - SECTOR || put_sector(dev, dst, out) != 0) {
            r = -1;
            break;
        }
        dst += SECTOR;
        left -= want;
    }
    z->end(z->ctx);
    return r < 0 ? -1 : 0;
}

/* ---- power on ---------------------------------------------------------------------------------
 */

static int booted(upd_sim_dev *dev)
{
    dev->state = UPD_SIM_RUNNING;
    dev->phase = UPD_SIM_PH_APP;
    dev->boots++;
    dev->cut_seen[0] = dev->cut_seen[1] = 0;
    return UPD_SIM_BOOTED;
}

static int bricked(upd_sim_dev *dev)
{
    dev->state = UPD_SIM_BRICKED;
    dev->bricked_phase = dev->cut_seen[UPD_SIM_PH_BOOT] ? UPD_SIM_PH_BOOT : UPD_SIM_PH_APP;
    dev->phase = UPD_SIM_PH_APP;
    return UPD_SIM_BOOT_BRICK;
}

static int boot_esp8266(upd_sim_dev *dev)
{
    uint32_t from, to, size;
    if (upd_sim_eboot_command(dev, &from, &to, &size)) {
        dev->copies++;
        eboot_copy(dev, from, to, size);
        if (dev->flash.off)
            return UPD_SIM_BOOT_CUT;
        memset(dev->rtc, 0, sizeof dev->rtc); /* eboot_command_clear */
    }
    return boot_image(dev, 0, -1) == 0 ? booted(dev) : bricked(dev);
}

static int boot_esp32(upd_sim_dev *dev)
{
    int slot = 0;
    dev->pending_verify = 0;
    for (;;) {
        uint32_t seq = 0, st = 0;
        int act = active_entry(dev, 0, &seq, &st);
        if (act < 0)
            break; /* no usable otadata: the first app slot */
        if (st == UPD_SIM_OTA_PENDING_VERIFY) {
            /* booted once and never confirmed: roll back */
            if (write_entry(dev, act, seq, UPD_SIM_OTA_ABORTED) != 0)
                return UPD_SIM_BOOT_CUT;
            dev->rollbacks++;
            continue;
        }
        if (st == UPD_SIM_OTA_NEW) {
            if (write_entry(dev, act, seq, UPD_SIM_OTA_PENDING_VERIFY) != 0)
                return UPD_SIM_BOOT_CUT;
            dev->pending_verify = 1;
        }
        slot = (int)((seq - 1u) % 2u);
        break;
    }
    /* the selected slot, else the other one (the bootloader tries every app partition) */
    for (int k = 0; k < 2; k++) {
        int s = k == 0 ? slot : slot ^ 1;
        if (boot_image(dev, dev->lay->slot[s], s) == 0) {
            if (k == 1)
                dev->pending_verify = 0;
            return booted(dev);
        }
    }
    return bricked(dev);
}

void upd_sim_boot_as(upd_sim_dev *dev, const upd_sim_dev *twin)
{
    dev->flash.off = 0;
    dev->state = twin->state;
    dev->phase = UPD_SIM_PH_APP;
    dev->boots++;
    dev->run_addr = twin->run_addr;
    dev->run_size = twin->run_size;
    dev->run_slot = twin->run_slot;
    dev->pending_verify = twin->pending_verify;
    memcpy(dev->run_md5, twin->run_md5, sizeof dev->run_md5);
    memcpy(dev->run_md5_hex, twin->run_md5_hex, sizeof dev->run_md5_hex);
    memcpy(dev->run_sha256_hex, twin->run_sha256_hex, sizeof dev->run_sha256_hex);
}

int upd_sim_boot(upd_sim_dev *dev)
{
    dev->flash.off = 0;
    dev->phase = UPD_SIM_PH_BOOT;
    dev->state = UPD_SIM_OFF;
    int r = esp32(dev) ? boot_esp32(dev) : boot_esp8266(dev);
    if (r == UPD_SIM_BOOT_CUT)
        dev->phase = UPD_SIM_PH_APP;
    return r;
}

void upd_sim_client_config(upd_sim_dev *dev, upd_client_config *cfg)
{
    const upd_sim_layout *l = dev->lay;
    upd_flash_layout *fl = &dev->port.flash.layout;
    cfg->flavor = esp32(dev) ? UPD_CLIENT_ESP32_ARDUINO : UPD_CLIENT_ESP8266_ARDUINO;
    cfg->mode = UPD_MODE_SKETCH;
    cfg->sketch_md5 = dev->run_md5_hex;
    cfg->sketch_sha256 = esp32(dev) ? dev->run_sha256_hex : NULL;
    memset(fl, 0, sizeof *fl);
    fl->chip_size = l->chip_size;
    fl->sketch_size = dev->run_size;
    fl->fs_start = l->fs_start;
    fl->fs_end = l->fs_end;
    fl->flash_mode = dev->flash_mode;
    if (esp32(dev)) {
        fl->slot_start = l->slot[dev->run_slot == 1 ? 0 : 1];
        fl->slot_size = l->slot_size;
    }
    dev->phase = UPD_SIM_PH_APP;
}
