/* The simulated device's NOR flash: sparse 4 KB sectors (NULL = erased), copy-on-write
 * of shared pages, NOR semantics (a write only clears bits), operation counters per
 * phase, and power cuts at the n-th erase/write. Also the port's flash operations. */
#include <string.h>

#include "simint.h"

#define SECTOR UPD_SIM_SECTOR

static int is_priv(const upd_sim_flash *f, uint32_t s)
{
    return (f->priv[s / 8] >> (s % 8)) & 1u;
}

static void set_priv(upd_sim_flash *f, uint32_t s, int on)
{
    if (on)
        f->priv[s / 8] |= (uint8_t)(1u << (s % 8));
    else
        f->priv[s / 8] &= (uint8_t) ~(1u << (s % 8));
}

uint32_t upd__sim_rand(upd_sim_dev *dev)
{
    /* xorshift32; never 0 */
    uint32_t x = dev->rng ? dev->rng : 0x9E3779B9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    dev->rng = x;
    return x;
}

void upd__sim_drop(upd_sim_dev *dev, uint32_t s)
{
    upd_sim_flash *f = &dev->flash;
    if (f->sec[s]) {
        const upd_sim_pages *p = &dev->env->pages;
        p->release(p->ctx, f->sec[s], !is_priv(f, s));
    }
    f->sec[s] = NULL;
    set_priv(f, s, 0);
}

/* A writable page for sector s (copy of a shared page, or 0xFF for an erased one). */
static uint8_t *writable(upd_sim_dev *dev, uint32_t s)
{
    upd_sim_flash *f = &dev->flash;
    if (f->sec[s] && is_priv(f, s))
        return f->sec[s];
    const upd_sim_pages *p = &dev->env->pages;
    uint8_t *page = p->alloc(p->ctx);
    if (!page) {
        f->oom++;
        return NULL;
    }
    if (f->sec[s]) {
        memcpy(page, f->sec[s], SECTOR);
        p->release(p->ctx, f->sec[s], 1);
    } else {
        memset(page, 0xFF, SECTOR);
    }
    f->sec[s] = page;
    set_priv(f, s, 1);
    return page;
}

void upd__sim_power_off(upd_sim_dev *dev)
{
    dev->flash.off = 1;
    dev->state = UPD_SIM_OFF;
    dev->cuts[dev->phase]++;
    dev->cut_seen[dev->phase] = 1;
    /* RTC memory does not survive a power loss: what eboot finds is garbage */
    for (uint32_t i = 0; i < sizeof dev->rtc; i++)
        dev->rtc[i] = (uint8_t)upd__sim_rand(dev);
}

void upd_sim_power_cut(upd_sim_dev *dev)
{
    if (!dev->flash.off)
        upd__sim_power_off(dev);
}

/* Count an erase/write of the current phase; 1 if the power is cut during it. */
static int op_cut(upd_sim_dev *dev)
{
    upd_sim_flash *f = &dev->flash;
    unsigned ph = dev->phase;
    f->ops[ph]++;
    if (f->cut_left < 0 || f->cut_phase != ph)
        return 0;
    if (f->cut_left > 0) {
        f->cut_left--;
        return 0;
    }
    f->cut_left = -1;
    return 1;
}

void upd_sim_arm_cut(upd_sim_dev *dev, int ph, int32_t n)
{
    dev->flash.cut_phase = (uint8_t)ph;
    dev->flash.cut_left = n < 0 ? -1 : n;
}

void upd_sim_arm_weak_write(upd_sim_dev *dev, int32_t n)
{
    dev->flash.weak_left = n < 0 ? -1 : n;
}

/* For a weak write: a bit of the len bytes (old: on flash, in: to program) that the
 * write would clear, searched from a random bit on, as an index (byte * 8 + bit), or -1
 * if the write clears no bit. */
static int64_t weak_bit(upd_sim_dev *dev, const uint8_t *old, const uint8_t *in, uint32_t len)
{
    uint32_t start = upd__sim_rand(dev) % (len * 8u);
    for (uint32_t k = 0; k < len * 8u; k++) {
        uint32_t b = (start + k) % (len * 8u);
        uint8_t m = (uint8_t)(1u << (b % 8u));
        if ((old[b / 8u] & m) && !(in[b / 8u] & m))
            return b;
    }
    return -1;
}

int upd_sim_read(const upd_sim_dev *dev, uint32_t addr, void *buf, uint32_t len)
{
    const upd_sim_flash *f = &dev->flash;
    uint32_t size = f->nsec * SECTOR;
    if (addr > size || len > size - addr)
        return -1;
    uint8_t *out = buf;
    while (len) {
        uint32_t s = addr / SECTOR, o = addr % SECTOR, k = SECTOR - o;
        if (k > len)
            k = len;
        if (f->sec[s])
            memcpy(out, f->sec[s] + o, k);
        else
            memset(out, 0xFF, k);
        out += k;
        addr += k;
        len -= k;
    }
    return 0;
}

int upd__sim_erase(upd_sim_dev *dev, uint32_t addr)
{
    upd_sim_flash *f = &dev->flash;
    if (f->off)
        return -1;
    if (addr % SECTOR || addr / SECTOR >= f->nsec) {
        f->range_violations++;
        return -1;
    }
    uint32_t s = addr / SECTOR;
    f->erases++;
    if (op_cut(dev)) {
        /* cut half-way: a prefix erased, the rest neither old data nor erased */
        uint8_t *p = writable(dev, s);
        if (p) {
            uint32_t k = upd__sim_rand(dev) % SECTOR;
            memset(p, 0xFF, k);
            for (uint32_t i = k; i < SECTOR; i++)
                p[i] |= (uint8_t)upd__sim_rand(dev);
        }
        upd__sim_power_off(dev);
        return -1;
    }
    upd__sim_drop(dev, s);
    return 0;
}

/* NOR programming of k bytes: each byte of p becomes p & in (a write only clears bits);
 * a byte that would need a bit set counts as a violation. Eight bytes at a time, the
 * bytes looked at one by one only in a word with a violation: this runs for every
 * simulated byte written. */
static void program(upd_sim_flash *f, uint8_t *restrict p, const uint8_t *restrict in, uint32_t k)
{
    uint32_t i = 0, bad = 0;
    for (; i + 8 <= k; i += 8) {
        uint64_t a, b, v;
        memcpy(&a, p + i, 8);
        memcpy(&b, in + i, 8);
        v = a & b;
        if (v != b)
            for (int j = 0; j < 8; j++)
                bad += ((v >> (8 * j)) & 0xFFu) != ((b >> (8 * j)) & 0xFFu);
        memcpy(p + i, &v, 8);
    }
    for (; i < k; i++) {
        uint8_t v = p[i] & in[i];
        bad += v != in[i];
        p[i] = v;
    }
    f->nor_violations += bad;
}

int upd__sim_write(upd_sim_dev *dev, uint32_t addr, const void *buf, uint32_t len)
{
    upd_sim_flash *f = &dev->flash;
    if (f->off)
        return -1;
    uint32_t size = f->nsec * SECTOR;
    if ((addr | len) & 3u || ((uintptr_t)buf & 3u)) {
        f->range_violations++;
        return -1;
    }
    if (addr > size || len > size - addr) {
        f->range_violations++;
        return -1;
    }
    f->writes++;
    uint32_t n = len;
    int cut = op_cut(dev);
    int64_t weak = -1; /* bit (of this write) that stays 1 */
    if (!cut && f->weak_left >= 0 && dev->phase == UPD_SIM_PH_APP && len && f->weak_left-- == 0) {
        uint8_t old[SECTOR];
        if (len <= SECTOR && upd_sim_read(dev, addr, old, len) == 0)
            weak = weak_bit(dev, old, buf, len);
        if (weak < 0)
            f->weak_left = 0; /* nothing to clear here: the next write is the weak one */
        else
            f->weak_writes++;
    }
    uint32_t done = 0;
    if (cut)
        n = upd__sim_rand(dev) % (len + 1); /* only a prefix gets programmed */
    const uint8_t *in = buf;
    while (n) {
        uint32_t s = addr / SECTOR, o = addr % SECTOR, k = SECTOR - o;
        if (k > n)
            k = n;
        uint8_t *p = writable(dev, s);
        if (!p)
            return -1;
        program(f, p + o, in, k);
        if (weak >= 0 && (uint64_t)weak / 8u - done < k)
            p[o + (uint32_t)((uint64_t)weak / 8u - done)] |= (uint8_t)(1u << (weak % 8));
        done += k;
        in += k;
        addr += k;
        n -= k;
    }
    if (cut) {
        upd__sim_power_off(dev);
        return -1;
    }
    return 0;
}

/* ---- the port's flash operations ---------------------------------------------------------- */

static int f_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    upd_sim_dev *dev = ctx;
    if (dev->flash.off)
        return -1;
    dev->flash.reads++;
    if (upd_sim_read(dev, addr, buf, len) != 0) {
        dev->flash.range_violations++;
        return -1;
    }
    return 0;
}

static int f_erase(void *ctx, uint32_t addr)
{
    return upd__sim_erase(ctx, addr);
}

static int f_write(void *ctx, uint32_t addr, const void *buf, uint32_t len)
{
    return upd__sim_write(ctx, addr, buf, len);
}

void upd__sim_flash_ops(upd_sim_dev *dev, upd_flash_ops *ops)
{
    ops->read = f_read;
    ops->erase = f_erase;
    ops->write = f_write;
    ops->ctx = dev;
}

/* ---- sharing ------------------------------------------------------------------------------ */

void upd_sim_map_shared(upd_sim_dev *dev, uint32_t addr, uint8_t *const *pages, uint32_t n)
{
    const upd_sim_pages *p = &dev->env->pages;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t s = addr / SECTOR + i;
        if (s >= dev->flash.nsec)
            return;
        upd__sim_drop(dev, s);
        if (pages[i]) {
            p->ref(p->ctx, pages[i]);
            dev->flash.sec[s] = pages[i];
        }
    }
}

static int all_ff(const uint8_t *p)
{
    for (uint32_t i = 0; i < SECTOR; i++)
        if (p[i] != 0xFF)
            return 0;
    return 1;
}

void upd_sim_intern(upd_sim_dev *dev)
{
    upd_sim_flash *f = &dev->flash;
    const upd_sim_pages *p = &dev->env->pages;
    for (uint32_t s = 0; s < f->nsec; s++) {
        if (!f->sec[s] || !is_priv(f, s))
            continue;
        if (all_ff(f->sec[s])) {
            upd__sim_drop(dev, s);
            continue;
        }
        if (!p->intern)
            continue;
        f->sec[s] = p->intern(p->ctx, f->sec[s]);
        set_priv(f, s, 0);
    }
}

int upd__sim_load(upd_sim_dev *dev, uint32_t addr, const uint8_t *data, uint32_t len)
{
    upd_sim_flash *f = &dev->flash;
    if (addr % SECTOR || addr > f->nsec * SECTOR || len > f->nsec * SECTOR - addr)
        return -1;
    for (uint32_t off = 0; off < len; off += SECTOR) {
        uint32_t s = (addr + off) / SECTOR, k = len - off < SECTOR ? len - off : SECTOR;
        upd__sim_drop(dev, s);
        uint8_t *p = writable(dev, s);
        if (!p)
            return -1;
        memcpy(p, data + off, k);
    }
    return 0;
}
