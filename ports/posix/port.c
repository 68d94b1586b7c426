/* posix port: file-backed NOR flash, clock, GnuTLS hashes, persistent state in a small
 * file, and the whole upd_port (upd_posix.h). The transport is in net.c. */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "upd_posix.h"

#define SECTOR UPD_FLASH_SECTOR

__attribute__((format(printf, 3, 4))) static void say(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

/* pread/pwrite all of len bytes; 0 or -1. */
static int pread_all(int fd, void *buf, size_t len, off_t off)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t k = pread(fd, p, len, off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        len -= (size_t)k;
        off += k;
    }
    return 0;
}

static int pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t k = pwrite(fd, p, len, off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        len -= (size_t)k;
        off += k;
    }
    return 0;
}

/* A temporary file that is gone when closed. */
static int temp_fd(void)
{
    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/updraft-port-XXXXXX", dir && dir[0] ? dir : "/tmp");
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

/* ---- flash ------------------------------------------------------------------------------ */

int upd_posix_flash_open(upd_posix_flash *f, const char *path, uint32_t size)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->fail_erase_at = f->fail_write_at = -1;
    if (size == 0 || size % SECTOR) {
        say(f->error, sizeof f->error, "flash size %u is not a positive multiple of 4096", size);
        return -1;
    }
    f->size = size;
    f->fd = path ? open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644) : temp_fd();
    if (f->fd < 0) {
        say(f->error, sizeof f->error, "flash file %s: %s", path ? path : "(temporary)",
            strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(f->fd, &st) != 0) {
        say(f->error, sizeof f->error, "flash file: %s", strerror(errno));
        return -1;
    }
    /* extend with erased sectors */
    static uint8_t ff[SECTOR];
    memset(ff, 0xFF, sizeof ff);
    off_t have = st.st_size;
    if (have % SECTOR) {
        if (pwrite_all(f->fd, ff, (size_t)(SECTOR - have % SECTOR), have) != 0)
            goto io;
        have += SECTOR - have % SECTOR;
    }
    for (off_t o = have; o < (off_t)size; o += SECTOR)
        if (pwrite_all(f->fd, ff, SECTOR, o) != 0)
            goto io;
    return 0;
io:
    say(f->error, sizeof f->error, "flash file: cannot extend to %u bytes: %s", size, strerror(errno));
    return -1;
}

void upd_posix_flash_close(upd_posix_flash *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

static int in_range(upd_posix_flash *f, uint32_t addr, uint32_t len, const char *op)
{
    if (addr > f->size || len > f->size - addr) {
        f->misuse++;
        say(f->error, sizeof f->error, "flash %s of %u bytes at 0x%x: outside the %u-byte chip",
            op, len, addr, f->size);
        return 0;
    }
    return 1;
}

int upd_posix_flash_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    upd_posix_flash *f = ctx;
    if (!in_range(f, addr, len, "read"))
        return -1;
    f->reads++;
    if (len && pread_all(f->fd, buf, len, (off_t)addr) != 0) {
        say(f->error, sizeof f->error, "flash read at 0x%x: %s", addr, strerror(errno));
        return -1;
    }
    return 0;
}

int upd_posix_flash_erase(void *ctx, uint32_t addr)
{
    upd_posix_flash *f = ctx;
    if (addr % SECTOR) {
        f->misuse++;
        say(f->error, sizeof f->error, "flash erase at 0x%x: not a sector start", addr);
        return -1;
    }
    if (!in_range(f, addr, SECTOR, "erase"))
        return -1;
    if ((int32_t)f->erases++ == f->fail_erase_at) {
        say(f->error, sizeof f->error, "flash erase at 0x%x: injected failure", addr);
        return -1;
    }
    static uint8_t ff[SECTOR];
    memset(ff, 0xFF, sizeof ff);
    if (pwrite_all(f->fd, ff, SECTOR, (off_t)addr) != 0) {
        say(f->error, sizeof f->error, "flash erase at 0x%x: %s", addr, strerror(errno));
        return -1;
    }
    return 0;
}

/* NOR semantics: programming can only turn 1 bits into 0. */
int upd_posix_flash_write(void *ctx, uint32_t addr, const void *buf, uint32_t len)
{
    upd_posix_flash *f = ctx;
    if ((addr | len) & 3u || ((uintptr_t)buf & 3u)) {
        f->misuse++;
        say(f->error, sizeof f->error,
            "flash write of %u bytes at 0x%x: address, length and buffer must be 4-byte aligned",
            len, addr);
        return -1;
    }
    if (!in_range(f, addr, len, "write"))
        return -1;
    if ((int32_t)f->writes++ == f->fail_write_at) {
        say(f->error, sizeof f->error, "flash write at 0x%x: injected failure", addr);
        return -1;
    }
    const uint8_t *p = buf;
    uint8_t cur[SECTOR];
    for (uint32_t done = 0; done < len;) {
        uint32_t k = len - done < SECTOR ? len - done : SECTOR;
        if (pread_all(f->fd, cur, k, (off_t)(addr + done)) != 0)
            goto io;
        for (uint32_t i = 0; i < k; i++) {
            if (p[done + i] & ~cur[i])
                f->nor_violations++;
            cur[i] &= p[done + i];
        }
        if (pwrite_all(f->fd, cur, k, (off_t)(addr + done)) != 0)
            goto io;
        done += k;
    }
    return 0;
io:
    say(f->error, sizeof f->error, "flash write at 0x%x: %s", addr, strerror(errno));
    return -1;
}

/* ---- clock ------------------------------------------------------------------------------ */

uint32_t upd_posix_now_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* ---- hashes ------------------------------------------------------------------------------ */

static void hash_start(upd_posix_hash *h, gnutls_digest_algorithm_t alg)
{
    upd_posix_hash_free(h);
    h->alg = (int)alg;
    gnutls_hash_hd_t hd;
    if (gnutls_hash_init(&hd, alg) == 0)
        h->h = hd;
}

void upd_posix_md5_init(void *ctx)
{
    hash_start(ctx, GNUTLS_DIG_MD5);
}

void upd_posix_sha256_init(void *ctx)
{
    hash_start(ctx, GNUTLS_DIG_SHA256);
}

void upd_posix_hash_update(void *ctx, const void *data, size_t len)
{
    upd_posix_hash *h = ctx;
    if (h->h && len)
        gnutls_hash((gnutls_hash_hd_t)h->h, data, len);
}

void upd_posix_hash_final(void *ctx, uint8_t *out)
{
    upd_posix_hash *h = ctx;
    size_t n = h->alg == (int)GNUTLS_DIG_SHA256 ? 32 : 16;
    if (!h->h) { /* allocation failed at init: a hash that never matches */
        memset(out, 0, n);
        return;
    }
    gnutls_hash_deinit((gnutls_hash_hd_t)h->h, out);
    h->h = NULL;
}

void upd_posix_hash_free(upd_posix_hash *h)
{
    if (h->h)
        gnutls_hash_deinit((gnutls_hash_hd_t)h->h, NULL);
    h->h = NULL;
}

static void md5_final(void *ctx, uint8_t out[16])
{
    upd_posix_hash_final(ctx, out);
}

static void sha256_final(void *ctx, uint8_t out[32])
{
    upd_posix_hash_final(ctx, out);
}

/* ---- state ------------------------------------------------------------------------------- */

int upd_posix_state_open(upd_posix_state *s, const char *path)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    if (!path)
        return 0;
    s->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->fd < 0) {
        say(s->error, sizeof s->error, "state file %s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t k = pread(s->fd, s->mem, sizeof s->mem, 0);
    if (k < 0) {
        say(s->error, sizeof s->error, "state file %s: %s", path, strerror(errno));
        return -1;
    }
    if ((size_t)k < sizeof s->mem && pwrite_all(s->fd, s->mem, sizeof s->mem, 0) != 0) {
        say(s->error, sizeof s->error, "state file %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

void upd_posix_state_close(upd_posix_state *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static int area_at(unsigned area, uint32_t len, uint32_t *off)
{
    if (area == UPD_STATE_BOOT && len <= UPD_STATE_BOOT_SIZE)
        *off = 0;
    else if (area == UPD_STATE_RESUME && len <= UPD_STATE_RESUME_SIZE)
        *off = UPD_STATE_BOOT_SIZE;
    else if (area == UPD_STATE_REPORT && len <= UPD_STATE_REPORT_SIZE)
        *off = UPD_POSIX_STATE_REPORT_OFF;
    else
        return -1;
    return 0;
}

static int persist(upd_posix_state *s, uint32_t off, uint32_t len)
{
    if (s->fd < 0)
        return 0;
    if (pwrite_all(s->fd, s->mem + off, len, (off_t)off) != 0 || fdatasync(s->fd) != 0) {
        say(s->error, sizeof s->error, "state file: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int upd_posix_state_read(void *ctx, unsigned area, void *buf, uint32_t len)
{
    upd_posix_state *s = ctx;
    uint32_t off;
    if (area_at(area, len, &off) != 0)
        return -1;
    memcpy(buf, s->mem + off, len);
    return 0;
}

int upd_posix_state_write(void *ctx, unsigned area, const void *buf, uint32_t len)
{
    upd_posix_state *s = ctx;
    uint32_t off;
    if (area_at(area, len, &off) != 0)
        return -1;
    memcpy(s->mem + off, buf, len);
    if (area == UPD_STATE_BOOT)
        s->boot_writes++;
    else if (area == UPD_STATE_RESUME)
        s->resume_writes++;
    else
        s->report_writes++;
    return persist(s, off, len);
}

int upd_posix_state_activate(void *ctx, uint32_t start, uint32_t size)
{
    upd_posix_state *s = ctx;
    uint8_t *p = s->mem + 256;
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(start >> (8 * i));
        p[4 + i] = (uint8_t)(size >> (8 * i));
    }
    s->activations++;
    return persist(s, 256, 8);
}

/* ---- the whole port ---------------------------------------------------------------------- */

int upd_posix_port_open(upd_posix_port *p, const char *flash_path, const char *state_path,
                        const upd_flash_layout *layout, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->flash.fd = -1;
    p->state.fd = -1;
    upd_posix_net_init(&p->net);
    uint32_t size = layout->chip_size;
    size = size > 0xFFFFFFFFu - (SECTOR - 1u) ? 0xFFFFF000u : (size + SECTOR - 1u) & ~(SECTOR - 1u);
    if (upd_posix_flash_open(&p->flash, flash_path, size) != 0) {
        say(err, errlen, "%s", p->flash.error);
        return -1;
    }
    if (upd_posix_state_open(&p->state, state_path) != 0) {
        say(err, errlen, "%s", p->state.error);
        return -1;
    }
    upd_port *u = &p->port;
    u->transport = upd_posix_net_ops(&p->net);
    u->flash.read = upd_posix_flash_read;
    u->flash.erase = upd_posix_flash_erase;
    u->flash.write = upd_posix_flash_write;
    u->flash.ctx = &p->flash;
    u->flash.layout = *layout;
    u->clock.now_ms = upd_posix_now_ms;
    u->clock.ctx = NULL;
    u->crypto.md5 = (upd_md5_ops){upd_posix_md5_init, upd_posix_hash_update, md5_final, &p->md5};
    u->crypto.sha256 =
        (upd_sha256_ops){upd_posix_sha256_init, upd_posix_hash_update, sha256_final, &p->sha256};
    u->crypto.verify = NULL; /* no verifier: the tools check unsigned images, as devices do */
    u->state = (upd_state_ops){upd_posix_state_read, upd_posix_state_write,
                               upd_posix_state_activate, &p->state};
    return 0;
}

void upd_posix_port_close(upd_posix_port *p)
{
    upd_posix_net_free(&p->net);
    upd_posix_flash_close(&p->flash);
    upd_posix_state_close(&p->state);
    upd_posix_hash_free(&p->md5);
    upd_posix_hash_free(&p->sha256);
}
