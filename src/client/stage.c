/* The device update engine, flash side: where the new image goes (the ESP8266
 * Updater's staging math, shared/spec/esp8266-http-update.md section 3), writing it
 * sector by sector through the port, the Updater's checks at the end, the engine's own
 * checks (SHA-256, the core's inspector), the eboot command, and the resume record. */
#include <stddef.h>
#include <string.h>

#include "client_int.h"

#define SECTOR UPD_FLASH_SECTOR

#define RESUME_MAGIC 0x52445055u /* "UPDR" */
/* Resume record (UPD_STATE_RESUME): magic, u8 version 1, u8 flavor, u8 mode, u8 RF_*,
 * then the context's fields from total to head as they are (the device's own byte
 * order: the record never leaves it), the CRC last. */
#define RR_BODY 8
#define RR_ID   4 /* version, flavor, mode */
#define RR_RF   7
#define RR_ETAG (RR_BODY + offsetof(upd_client_ctx, etag_crc) - offsetof(upd_client_ctx, total))
#define RR_MD5  (RR_BODY + offsetof(upd_client_ctx, md5) - offsetof(upd_client_ctx, total))
#define RR_SHA  (RR_BODY + offsetof(upd_client_ctx, sha256) - offsetof(upd_client_ctx, total))
#define RR_LEN  (offsetof(upd_client_ctx, head) + 16 - offsetof(upd_client_ctx, total))
#define RF_MD5  1u
#define RF_SHA  2u
#define RF_ETAG 4u
_Static_assert(RR_BODY + RR_LEN + 4 <= UPD_STATE_RESUME_SIZE, "resume record too long");
_Static_assert(offsetof(upd_client_ctx, written) - offsetof(upd_client_ctx, total) == 8,
               "resume record: total, start, written (tests read it at 16)");

void upd__bcopy(void *dst, const void *src, uint32_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (d < s)
        for (uint32_t i = 0; i < n; i++)
            d[i] = s[i];
    else
        for (uint32_t i = n; i > 0; i--)
            d[i - 1] = s[i - 1];
}

void upd__bfill(void *dst, uint8_t v, uint32_t n)
{
    uint8_t *d = dst;
    for (uint32_t i = 0; i < n; i++)
        d[i] = v;
}

int upd__bdiffer(const void *a, const void *b, uint32_t n)
{
    const uint8_t *x = a, *y = b;
    for (uint32_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return 1;
    return 0;
}

uint32_t upd__slen(const char *s)
{
    uint32_t n = 0;
    while (s[n])
        n++;
    return n;
}

void upd__wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

#if UPD_CLIENT_WITH_RESUME || UPD_CLIENT_WITH_REPORT || UPD_CLIENT_WITH_SIGN
uint32_t upd__rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
#endif

uint32_t upd__roundup_sector(uint32_t n)
{
    return n > 0xFFFFFFFFu - (SECTOR - 1u) ? 0xFFFFF000u : (n + SECTOR - 1u) & ~(SECTOR - 1u);
}

int upd__rec_write(const upd_client_ctx *c, unsigned area, uint8_t *r, uint32_t size,
                   uint32_t magic)
{
    if (magic) {
        upd__wr32(r, magic);
        upd__wr32(r + size - 4, upd__crc(r, size - 4));
    }
    const upd_state_ops *s = &c->port->state;
    return s->write(s->ctx, area, r, size);
}

#if UPD_CLIENT_WITH_RESUME || UPD_CLIENT_WITH_REPORT /* the records read back */
int upd__rec_read(const upd_client_ctx *c, unsigned area, uint8_t *r, uint32_t size, uint32_t magic)
{
    const upd_state_ops *s = &c->port->state;
    if (!s->read || s->read(s->ctx, area, r, size) < 0 || upd__rd32(r) != magic ||
        upd__rd32(r + size - 4) != upd__crc(r, size - 4))
        return -1;
    return 0;
}
#endif

static int esp32(const upd_client_ctx *c)
{
    return c->cfg->flavor == UPD_CLIENT_ESP32_ARDUINO;
}

static int sketch(const upd_client_ctx *c)
{
    return c->cfg->mode == UPD_MODE_SKETCH;
}

uint32_t upd__free_space(const upd_client_ctx *c)
{
    const upd_flash_layout *l = &c->port->flash.layout;
    if (esp32(c))
        return l->slot_size;
    uint32_t used = upd__roundup_sector(l->sketch_size);
    return l->fs_start > used ? l->fs_start - used : 0;
}

uint32_t upd__crc(const void *p, uint32_t n)
{
    return upd_crc32_mpeg2(0xFFFFFFFFu, p, n);
}

uint32_t upd__magic_flash_size(uint8_t code)
{
    return upd_esp8266_magic_flash_size(code); /* one table, in the core's fit rules */
}

/* Update.begin's placement of c->total bytes; 0 and *start, or Updater error 4. */
static int placement(const upd_client_ctx *c, uint32_t *start)
{
    const upd_flash_layout *l = &c->port->flash.layout;
    uint32_t rl = upd__roundup_sector(c->total);
    if (esp32(c)) {
        *start = sketch(c) ? l->slot_start : l->fs_start;
        return 0;
    }
    if (sketch(c)) {
        /* the new image at the top of the free gap, below the filesystem */
        uint32_t s = l->fs_start > rl ? l->fs_start - rl : 0;
        if (s < upd__roundup_sector(l->sketch_size))
            return UPD__UE_SPACE;
        *start = s;
        return 0;
    }
    if (l->fs_start > l->fs_end || rl > l->fs_end - l->fs_start)
        return UPD__UE_SPACE;
    *start = l->fs_start;
    return 0;
}

#if UPD_CLIENT_WITH_SHA256 || UPD_CLIENT_WITH_SIGN || UPD_CLIENT_WITH_INSPECT
static int sha_ops_ok(const upd_client_ctx *c)
{
    const upd_sha256_ops *s = &c->port->crypto.sha256;
    return s->init && s->update && s->final;
}
#endif

/* Read n staged bytes at off into buf as they were received: the bytes the engine held
 * back (ESP32) or the Updater patched (ESP8266 flash mode) come from c->head, unless
 * as_flashed (then only the ESP32's held-back bytes, which are not on flash yet). */
static int staged_read(const upd_client_ctx *c, uint32_t off, uint8_t *buf, uint32_t n,
                       int as_flashed)
{
    const upd_flash_ops *f = &c->port->flash;
    if (f->read(f->ctx, c->start + off, buf, n) < 0)
        return -1;
    uint32_t held = !sketch(c) ? 0u : esp32(c) ? 16u : as_flashed ? 0u : 4u;
    for (uint32_t i = off; i < held && i < off + n; i++)
        buf[i - off] = c->head[i];
    return 0;
}

/* Hash the first len staged bytes read back from flash (so what the device boots is
 * what is verified, not only what came over the network): MD5 if md5, SHA-256 if sha.
 * 0 or Updater error 3 (read). */
static int hash_staged(upd_client_ctx *c, uint32_t len, int as_flashed, int md5, int sha)
{
    const upd_crypto_ops *k = &c->port->crypto;
    if (md5)
        k->md5.init(k->md5.ctx);
    if (sha)
        k->sha256.init(k->sha256.ctx);
    for (uint32_t off = 0; off < len; off += c->chunk) {
        uint32_t n = len - off < c->chunk ? len - off : c->chunk;
        if (staged_read(c, off, c->buf, n, as_flashed) != 0)
            return UPD__UE_READ;
        if (md5)
            k->md5.update(k->md5.ctx, c->buf, n);
        if (sha)
            k->sha256.update(k->sha256.ctx, c->buf, n);
    }
    return 0;
}

static void progress(const upd_client_ctx *c, uint32_t done)
{
    if (c->cfg->progress)
        c->cfg->progress(c->cfg->progress_arg, done, c->total);
}

int upd__stage_begin(upd_client_ctx *c)
{
    int e = placement(c, &c->start);
    if (e)
        return e;
    /* ESP8266httpUpdate calls Update.setMD5 after Update.begin: a wrong length is -105
     * (with a verifier x-MD5 is ignored entirely, spec section 2) */
    if ((c->flags & UPD__CF_MD5_SEEN) && !(c->flags & UPD__CF_MD5_LEN_OK) &&
        !(UPD_CLIENT_WITH_SIGN && c->port->crypto.verify))
        return -105;
    c->received = 0;
    c->written = 0;
    c->saved = 0;
    progress(c, 0);
    return 0;
}

int upd__stage_flush(upd_client_ctx *c)
{
    const upd_flash_ops *f = &c->port->flash;
    uint8_t *b = c->buf;
    uint32_t n = c->fill, addr = c->start + c->written;
    if (c->written == 0 && sketch(c)) {
        if (esp32(c)) {
            /* Hold the first bytes back: the slot is not bootable until the end. */
            uint32_t k = n < 16 ? n : 16;
            upd__bcopy(c->head, b, k);
            upd__bfill(b, 0xFF, k);
        } else {
            upd__bcopy(c->head, b, n < 4 ? n : 4);
            /* The Updater writes the running chip's flash mode into byte 2 (not gzip). */
            if (n > 2 && b[0] != 0x1F)
                b[2] = f->layout.flash_mode;
        }
    }
    if (addr % SECTOR == 0 && f->erase(f->ctx, addr) < 0)
        return UPD__UE_ERASE;
    while (n & 3u) /* the last piece: pad to a word with erased bytes */
        b[n++] = 0xFF;
    if (f->write(f->ctx, addr, b, n) < 0)
        return UPD__UE_WRITE;
    c->written += n;
    progress(c, c->received + c->fill);
#if UPD_CLIENT_WITH_RESUME
    if ((c->cfg->features & UPD_CLIENT_F_RESUME) && c->written % SECTOR == 0 &&
        c->received + c->fill < c->total) {
        uint32_t step = c->cfg->resume_step ? upd__roundup_sector(c->cfg->resume_step) : 16384u;
        if (c->written - c->saved >= step)
            upd__resume_save(c);
    }
#endif
    return 0;
}

/* ---- the end: Update.end() and the engine's own checks --------------------------------- */

#if UPD_CLIENT_WITH_INSPECT
static int flash_src_read(const upd_source *src, uint32_t off, void *buf, uint32_t len)
{
    const upd_client_ctx *c = src->ctx;
    if (off >= src->avail)
        return 0;
    if (len > src->avail - off)
        len = src->avail - off;
    /* judge the image as received: without the Updater's flash-mode patch */
    return staged_read(c, off, buf, len, 0) != 0 ? UPD_EIO : (int)len;
}

/* The core's inspector over the staged image (the report lives in the caller's buffer,
 * free by now). 0 if it is an image this device boots, else UPD_EIMAGE (c->detail). */
static int inspect(upd_client_ctx *c)
{
    upd_image_report *rep = (upd_image_report *)(void *)c->buf;
    upd_source src = {flash_src_read, c, c->total, c->total};
    const upd_sha256_ops *sha = sha_ops_ok(c) ? &c->port->crypto.sha256 : NULL;
    int e = upd_image_inspect(&src, sha, rep);
    int ok;
    if (esp32(c))
        ok = e == 0 && rep->verdict == UPD_VERDICT_OTA_APP && rep->platform == UPD_PLATFORM_ESP32;
    else
        ok = e == 0 &&
             ((rep->verdict == UPD_VERDICT_OTA_APP && rep->platform == UPD_PLATFORM_ESP8266) ||
              rep->kind == UPD_KIND_GZIP);
    if (ok)
        return 0;
    c->detail = e ? e : UPD_ENOTAPP;
    return UPD_EIMAGE;
}
#endif

/* The eboot command (spec section 3): copy size bytes from the staged area to 0. */
static int write_boot_command(upd_client_ctx *c)
{
    uint8_t cmd[UPD_STATE_BOOT_SIZE];
    upd__bfill(cmd, 0, sizeof cmd);
    /* magic (below), action, args[0]: from, args[1]: to = 0, args[2]: size */
    upd__wr32(cmd + 4, UPD__EBOOT_COPY_RAW);
    upd__wr32(cmd + 8, c->start);
    upd__wr32(cmd + 16, c->total);
    return upd__rec_write(c, UPD_STATE_BOOT, cmd, sizeof cmd, UPD__EBOOT_MAGIC) < 0 ? UPD_ESTATE
                                                                                    : 0;
}

#if UPD_CLIENT_WITH_SIGN
/* Signed image (spec section 5): payload || signature || u32 LE length. The length must
 * be the verifier's; the payload is hashed as it is on flash and verified through the
 * port; then only the payload counts (c->total). 0, or an Updater error (12, 3). */
static int check_signature(upd_client_ctx *c)
{
    const upd_crypto_ops *k = &c->port->crypto;
    uint32_t want = k->verify_sig_len ? k->verify_sig_len : 256u, sl;
    uint8_t *b = c->buf, digest[32];
    if (!sha_ops_ok(c) || c->total < 4 || want > c->cap)
        return UPD__UE_SIGN;
    if (staged_read(c, c->total - 4, b, 4, 1) != 0)
        return UPD__UE_READ;
    sl = upd__rd32(b);
    if (sl != want || sl >= c->total - 4)
        return UPD__UE_SIGN;
    uint32_t plen = c->total - 4 - sl;
    if (hash_staged(c, plen, 1, 0, 1) != 0)
        return UPD__UE_READ;
    k->sha256.final(k->sha256.ctx, digest);
    if (staged_read(c, plen, b, sl, 1) != 0)
        return UPD__UE_READ;
    if (k->verify(k->verify_ctx, digest, b, sl) != 0)
        return UPD__UE_SIGN;
    c->total = plen;
    return 0;
}
#endif

/* Update.end()'s checks, then the engine's own: 0 when the staged image may be
 * committed, else the error to fail with. The hashes are taken over the image read
 * back from flash (as received: before the flash-mode patch, with the held-back bytes),
 * so a write the flash did not keep fails the check instead of being booted. */
static int end_checks(upd_client_ctx *c)
{
    const upd_crypto_ops *k = &c->port->crypto;
    const upd_flash_ops *f = &c->port->flash;
    uint8_t md5[16];
    int e, signing = UPD_CLIENT_WITH_SIGN && k->verify;
    int want_md5 = !signing && (c->flags & UPD__CF_MD5_SEEN); /* x-MD5 is ignored when signing */
#if UPD_CLIENT_WITH_SHA256
    uint8_t sha[32];
    int want_sha = (c->flags & UPD__CF_SHA_SET) && sha_ops_ok(c);
#else
    int want_sha = 0;
#endif
    if ((want_md5 || want_sha) && (e = hash_staged(c, c->total, 0, want_md5, want_sha)) != 0)
        return e;
    if (want_md5)
        k->md5.final(k->md5.ctx, md5);
#if UPD_CLIENT_WITH_SHA256
    if (want_sha)
        k->sha256.final(k->sha256.ctx, sha);
#endif
#if UPD_CLIENT_WITH_SIGN
    if (signing) {
        if ((e = check_signature(c)) != 0)
            return e;
    } else
#endif
        if (want_md5 && (!(c->flags & UPD__CF_MD5_HEX_OK) || upd__bdiffer(md5, c->md5, 16) != 0))
        return UPD__UE_MD5;
    if (sketch(c) && esp32(c)) {
        /* Update.end() writes the bytes it held back */
        uint32_t n = c->total < 16 ? c->total : 16;
        upd__bfill(c->buf, 0xFF, 16);
        upd__bcopy(c->buf, c->head, n);
        if (f->write(f->ctx, c->start, c->buf, (n + 3u) & ~3u) < 0)
            return UPD__UE_WRITE;
    } else if (sketch(c)) {
        /* Updater::_verifyEnd: re-read the header from flash */
        uint8_t h[4];
        if (f->read(f->ctx, c->start, h, 4) < 0)
            return UPD__UE_READ;
        if (!(h[0] == 0x1F && h[1] == 0x8B)) {
            if (h[0] != 0xE9)
                return UPD__UE_MAGIC_BYTE;
            if (upd__magic_flash_size(h[3] >> 4) > f->layout.chip_size)
                return UPD__UE_NEW_FLASH_CONFIG;
        }
    }
    /* Beyond the real client: SHA-256 and the inspector. */
#if UPD_CLIENT_WITH_SHA256
    if (c->flags & UPD__CF_SHA_HDR_BAD)
        return UPD_ESHA256;
    if (c->flags & UPD__CF_SHA_SET) {
        if (!want_sha) {
            c->detail = UPD_EUNSUPPORTED; /* the port has no SHA-256 */
            return UPD_ESHA256;
        }
        if (upd__bdiffer(sha, c->sha256, 32) != 0)
            return UPD_ESHA256;
    }
#endif
#if UPD_CLIENT_WITH_INSPECT
    if ((c->cfg->features & UPD_CLIENT_F_INSPECT) && sketch(c) && (e = inspect(c)) != 0)
        return e;
#endif
    return 0;
}

void upd__stage_end(upd_client_ctx *c)
{
    progress(c, c->total);
    int e = end_checks(c);
    /* The downloaded bytes failed a check, or are about to be committed: drop the resume
     * record, or the next check would resume over the same bad bytes on flash and fail
     * the same way forever (found by `updraft sim --faults corrupt=P`: a bit flipped
     * before a saved resume point). A read or write error keeps it: the bytes may be
     * fine. */
    if (e != UPD__UE_READ && e != UPD__UE_WRITE)
        upd__resume_clear(c);
    if (!e && sketch(c)) {
        if (!esp32(c))
            e = write_boot_command(c);
        else if (c->port->state.activate(c->port->state.ctx, c->start, c->total) < 0)
            e = UPD__UE32_ACTIVATE; /* Update.end(): esp_ota_set_boot_partition failed */
    }
    if (e < 0 && !c->detail)
        c->detail = e; /* the engine's own errors (SHA-256, inspector, state) */
    upd__client_finish(c, e ? UPD_CLIENT_FAILED : UPD_CLIENT_OK, e);
}

/* ---- resume record ----------------------------------------------------------------------- */

#if UPD_CLIENT_WITH_RESUME
/* The record into r (UPD_STATE_RESUME_SIZE bytes) if there is a valid one for this
 * flavor and mode: its RF_* flags, else -1. */
static int resume_read(const upd_client_ctx *c, uint8_t *r)
{
    if (upd__rec_read(c, UPD_STATE_RESUME, r, UPD_STATE_RESUME_SIZE, RESUME_MAGIC) != 0 ||
        r[RR_ID] != 1 || r[RR_ID + 1] != (uint8_t)c->cfg->flavor ||
        r[RR_ID + 2] != (uint8_t)c->cfg->mode)
        return -1;
    return r[RR_RF];
}

int upd__resume_load(upd_client_ctx *c)
{
    uint8_t *r = c->buf; /* free: the request is built after this */
    int rf = resume_read(c, r);
    if (rf < 0)
        return 0;
    c->flags |= UPD__CF_REC;
    /* total, start, written, head (etag, md5, sha256 count at the 206: resume_match) */
    upd__bcopy(&c->total, r + RR_BODY, RR_LEN);
    uint32_t done = c->written, want;
    if (done == 0 || done >= c->total || done % SECTOR || placement(c, &want) != 0 ||
        want != c->start)
        return 0;
    c->received = c->saved = done;
    return 1;
}

int upd__resume_match(upd_client_ctx *c)
{
    uint8_t *r = c->buf; /* free between the headers and the body */
    int rf = resume_read(c, r);
    uint32_t etag;
    upd__bcopy(&etag, r + RR_ETAG, 4);
    /* (the record's total and start are the context's since resume_load) */
    if (rf < 0 || ((rf & RF_ETAG) && (!(c->flags & UPD__CF_ETAG) || c->etag_crc != etag)))
        return -1;
    if (rf & RF_MD5) {
        if ((c->flags & UPD__CF_MD5_SEEN) &&
            (!(c->flags & UPD__CF_MD5_HEX_OK) || upd__bdiffer(c->md5, r + RR_MD5, 16) != 0))
            return -1;
        upd__bcopy(c->md5, r + RR_MD5, 16);
        c->flags |= UPD__CF_MD5_SEEN | UPD__CF_MD5_LEN_OK | UPD__CF_MD5_HEX_OK;
    }
    if ((rf & RF_SHA) && !c->cfg->expected_sha256) {
        if ((c->flags & UPD__CF_SHA_SET) && upd__bdiffer(c->sha256, r + RR_SHA, 32) != 0)
            return -1;
        upd__bcopy(c->sha256, r + RR_SHA, 32);
        c->flags |= UPD__CF_SHA_SET;
    }
    return 0;
}

void upd__resume_save(upd_client_ctx *c)
{
    uint8_t r[UPD_STATE_RESUME_SIZE];
    upd__bfill(r, 0, sizeof r);
    r[RR_ID] = 1;
    r[RR_ID + 1] = (uint8_t)c->cfg->flavor;
    r[RR_ID + 2] = (uint8_t)c->cfg->mode;
    r[RR_RF] =
        (uint8_t)(((c->flags & UPD__CF_MD5_SEEN) && (c->flags & UPD__CF_MD5_HEX_OK) ? RF_MD5 : 0u) |
                  (c->flags & UPD__CF_SHA_SET ? RF_SHA : 0u) |
                  (c->flags & UPD__CF_ETAG ? RF_ETAG : 0u));
    upd__bcopy(r + RR_BODY, &c->total, RR_LEN);
    c->flags |= UPD__CF_REC;
    if (upd__rec_write(c, UPD_STATE_RESUME, r, sizeof r, RESUME_MAGIC) >= 0)
        c->saved = c->written;
}

void upd__resume_clear(upd_client_ctx *c)
{
    /* Only when there can be a record: we resumed or saved in this check. */
    if (!(c->cfg->features & UPD_CLIENT_F_RESUME) || !(c->flags & UPD__CF_REC))
        return;
    c->flags &= ~(uint32_t)UPD__CF_REC;
    uint8_t r[UPD_STATE_RESUME_SIZE];
    upd__bfill(r, 0, sizeof r);
    upd__rec_write(c, UPD_STATE_RESUME, r, sizeof r, 0);
    c->saved = 0;
}

#endif

/* ---- rollback (ESP32 slots) ---------------------------------------------------------------- */

int upd_client_boot_state(const upd_port *port)
{
    if (!UPD_CLIENT_WITH_ROLLBACK || !port || !port->rollback.boot_state)
        return UPD_EUNSUPPORTED;
    int st = port->rollback.boot_state(port->rollback.ctx);
    return st < 0 ? UPD_ESTATE : st;
}

int upd_client_confirm(const upd_port *port)
{
    if (!UPD_CLIENT_WITH_ROLLBACK || !port || !port->rollback.confirm)
        return UPD_EUNSUPPORTED;
    return port->rollback.confirm(port->rollback.ctx) < 0 ? UPD_ESTATE : 0;
}
