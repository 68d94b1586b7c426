/* The in-memory test port (memport.h). */
#include <string.h>

#include "memport.h"
#include "updraft/error.h"
#include "updraft/image.h"

/* ---- flash --------------------------------------------------------------------------- */

static int in_window(memport *m, uint32_t addr, uint32_t len)
{
    if (addr < m->base || addr - m->base > m->size || len > m->size - (addr - m->base)) {
        m->range_violations++;
        return 0;
    }
    return 1;
}

static int f_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    memport *m = ctx;
    if (!in_window(m, addr, len))
        return -1;
    m->reads++;
    memcpy(buf, m->flash + (addr - m->base), len);
    return 0;
}

static int f_erase(void *ctx, uint32_t addr)
{
    memport *m = ctx;
    if (addr % UPD_FLASH_SECTOR || !in_window(m, addr, UPD_FLASH_SECTOR))
        return -1;
    if ((int32_t)m->erases++ == m->fail_erase_at)
        return -1;
    uint32_t s = (addr - m->base) / UPD_FLASH_SECTOR;
    memset(m->flash + (addr - m->base), 0xFF, UPD_FLASH_SECTOR);
    if (s < sizeof m->erased * 8)
        m->erased[s / 8] |= (uint8_t)(1u << (s % 8));
    return 0;
}

static int f_write(void *ctx, uint32_t addr, const void *buf, uint32_t len)
{
    memport *m = ctx;
    if ((addr | len) & 3u || ((uintptr_t)buf & 3u) || !in_window(m, addr, len))
        return -1;
    int drop = (int32_t)m->writes == m->drop_bit_at;
    if ((int32_t)m->writes++ == m->fail_write_at)
        return -1;
    const uint8_t *p = buf;
    uint8_t *f = m->flash + (addr - m->base);
    for (uint32_t i = 0; i < len; i++) {
        uint32_t s = (addr - m->base + i) / UPD_FLASH_SECTOR;
        if (s < sizeof m->erased * 8 && !(m->erased[s / 8] & (1u << (s % 8))))
            m->unerased_writes++;
        if (p[i] & ~f[i])
            m->nor_violations++;
        f[i] &= p[i];
    }
    if (drop && len)
        f[len / 2] ^= 0x01;
    return 0;
}

/* ---- state, clock, crypto -------------------------------------------------------------- */

static int s_read(void *ctx, unsigned area, void *buf, uint32_t len)
{
    memport *m = ctx;
    if (m->state_fail)
        return -1;
    if (area == UPD_STATE_BOOT && len <= sizeof m->boot)
        memcpy(buf, m->boot, len);
    else if (area == UPD_STATE_RESUME && len <= sizeof m->resume)
        memcpy(buf, m->resume, len);
    else if (area == UPD_STATE_REPORT && len <= sizeof m->report)
        memcpy(buf, m->report, len);
    else
        return -1;
    return 0;
}

static int s_write(void *ctx, unsigned area, const void *buf, uint32_t len)
{
    memport *m = ctx;
    if (m->state_fail)
        return -1;
    if (area == UPD_STATE_BOOT && len <= sizeof m->boot) {
        memcpy(m->boot, buf, len);
        m->boot_writes++;
    } else if (area == UPD_STATE_RESUME && len <= sizeof m->resume) {
        memcpy(m->resume, buf, len);
        m->resume_writes++;
    } else if (area == UPD_STATE_REPORT && len <= sizeof m->report) {
        memcpy(m->report, buf, len);
        m->report_writes++;
    } else
        return -1;
    return 0;
}

/* The slot as an upd_source, read through the window. */
static int slot_read(const upd_source *src, uint32_t off, void *buf, uint32_t len)
{
    memport *m = src->ctx;
    uint32_t start = m->act_start;
    if (off >= src->avail)
        return 0;
    if (len > src->avail - off)
        len = src->avail - off;
    if (start < m->base || start - m->base > m->size || off > m->size - (start - m->base) ||
        len > m->size - (start - m->base) - off)
        return UPD_EIO;
    memcpy(buf, m->flash + (start - m->base) + off, len);
    return (int)len;
}

/* esp_ota_set_boot_partition() runs esp_image_verify() over the new slot and refuses
 * an image the boot loader would not boot: here the core's inspector stands in for it,
 * plus the chip id check (ESP_ERR_OTA_VALIDATE_FAILED). */
static int slot_bootable(memport *m, uint32_t start, uint32_t size)
{
    static upd_image_report rep; /* 1.2 KB: not on the 4 KB lx106 stack */
    static upd_sha256 sha;
    upd_sha256_ops ops;
    upd_sha256_ops_init(&ops, &sha);
    upd_source src = {slot_read, m, size, size};
    m->act_start = start;
    int e = upd_image_inspect(&src, &ops, &rep);
    if (e == 0 && (rep.verdict != UPD_VERDICT_OTA_APP || rep.platform != UPD_PLATFORM_ESP32))
        e = UPD_ENOTAPP;
    if (e == 0 && rep.chip == (upd_chip)m->chip)
        return 1;
    m->activate_reason = e; /* 0: a good image for another chip */
    m->activate_rejects++;
    return 0;
}

static int s_activate(void *ctx, uint32_t start, uint32_t size)
{
    memport *m = ctx;
    if (m->state_fail || !slot_bootable(m, start, size))
        return -1;
    m->activated++;
    m->act_start = start;
    m->act_size = size;
    return 0;
}

static uint32_t c_now(void *ctx)
{
    memport *m = ctx;
    m->now += m->tick;
    return m->now;
}

static int v_verify(void *ctx, const uint8_t digest[32], const uint8_t *sig, size_t sig_len)
{
    memport *m = ctx;
    m->verifies++;
    if (sig_len != m->port.crypto.verify_sig_len || memcmp(sig, digest, 32) != 0)
        return -1;
    for (size_t i = 32; i < sig_len; i++)
        if (sig[i])
            return -1;
    return 0;
}

static int r_boot_state(void *ctx)
{
    return ((memport *)ctx)->boot_state;
}

static int r_confirm(void *ctx)
{
    memport *m = ctx;
    if (m->state_fail)
        return -1;
    m->confirms++;
    m->boot_state = UPD_BOOT_VALID;
    return 0;
}

void memport_enable_rollback(memport *m)
{
    m->port.rollback = (upd_rollback_ops){r_boot_state, r_confirm, m};
}

void memport_enable_verify(memport *m, uint32_t sig_len)
{
    m->port.crypto.verify = v_verify;
    m->port.crypto.verify_ctx = m;
    m->port.crypto.verify_sig_len = sig_len;
}

void memport_sign(const void *payload, size_t n, uint8_t *sig, uint32_t sig_len)
{
    memset(sig, 0, sig_len);
    tw_sha256(payload, n, sig);
}

/* ---- transport --------------------------------------------------------------------------- */

static int t_connect(void *ctx, const char *host, uint16_t port, int tls, uint32_t timeout_ms)
{
    memport *m = ctx;
    (void)timeout_ms;
    m->connects++;
    if (m->connect_fail)
        return UPD_PORT_ECONNECT;
    size_t n = strlen(host);
    if (n >= sizeof m->host)
        n = sizeof m->host - 1;
    memcpy(m->host, host, n);
    m->host[n] = '\0';
    m->tcp_port = port;
    m->tls = tls;
    m->cur = m->cur + 1;
    m->pos = 0;
    if (m->cur < MP_MAX_RESP)
        m->req_start[m->cur] = m->sent_len;
    return 0;
}

static int t_send(void *ctx, const void *buf, size_t len, uint32_t timeout_ms)
{
    memport *m = ctx;
    (void)timeout_ms;
    size_t k = len > 100 ? 100 : len; /* in pieces, to exercise partial sends */
    if (k > MP_SENT_MAX - m->sent_len)
        return UPD_PORT_ESEND;
    memcpy(m->sent + m->sent_len, buf, k);
    m->sent_len += k;
    return (int)k;
}

static int t_recv(void *ctx, void *buf, size_t len, uint32_t timeout_ms)
{
    memport *m = ctx;
    if (m->cur < 0 || m->cur >= m->nresp)
        return 0;
    const mp_resp *r = &m->resp[m->cur];
    if (m->pos >= r->len) {
        if (r->end == MP_STALL) {
            m->now += timeout_ms;
            return UPD_PORT_ETIMEOUT;
        }
        return r->end == MP_RESET ? UPD_PORT_ELOST : 0;
    }
    size_t piece = m->piece ? m->piece : 256;
    size_t k = r->len - m->pos;
    if (k > piece)
        k = piece;
    if (k > len)
        k = len;
    memcpy(buf, r->data + m->pos, k);
    m->pos += k;
    return (int)k;
}

static void t_close(void *ctx)
{
    (void)ctx;
}

void memport_init(memport *m, uint8_t *mem, uint32_t base, uint32_t size,
                  const upd_flash_layout *layout)
{
    memset(m, 0, sizeof *m);
    m->flash = mem;
    m->base = base;
    m->size = size;
    m->fail_erase_at = -1;
    m->fail_write_at = -1;
    m->drop_bit_at = -1;
    m->cur = -1;
    m->tick = 1;
    upd_port *p = &m->port;
    p->transport = (upd_transport_ops){t_connect, t_send, t_recv, t_close, m};
    p->flash.read = f_read;
    p->flash.erase = f_erase;
    p->flash.write = f_write;
    p->flash.ctx = m;
    p->flash.layout = *layout;
    p->clock = (upd_clock_ops){c_now, m};
    upd_md5_ops_init(&p->crypto.md5, &m->md5);
    upd_sha256_ops_init(&p->crypto.sha256, &m->sha);
    p->state = (upd_state_ops){s_read, s_write, s_activate, m};
}

void memport_add_response(memport *m, const void *data, size_t len, int end)
{
    if (m->nresp < MP_MAX_RESP)
        m->resp[m->nresp++] = (mp_resp){data, len, end};
}

const char *memport_request(const memport *m, int i, char *out, size_t cap)
{
    out[0] = '\0';
    if (i < 0 || i > m->cur || i >= MP_MAX_RESP || cap == 0)
        return out;
    size_t a = m->req_start[i];
    size_t b = i + 1 <= m->cur && i + 1 < MP_MAX_RESP ? m->req_start[i + 1] : m->sent_len;
    size_t n = b - a < cap - 1 ? b - a : cap - 1;
    memcpy(out, m->sent + a, n);
    out[n] = '\0';
    return out;
}
