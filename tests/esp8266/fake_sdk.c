/* The fake ESP8266 NONOS SDK (fake_sdk.h): the SDK functions the port calls, with the
 * SDK's rules checked. Written for this test; it models behaviour, not the SDK's code. */
#include "fake_sdk.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "imgwriter.h"
#include "updraft/md5.h"

fk_state fk;

enum fk_net { NET_IDLE, NET_DNS, NET_CONNECTING, NET_OPEN, NET_CLOSED };
enum fk_event { EV_NONE, EV_DNS, EV_CONNECT, EV_REFUSE, EV_SENT, EV_RECV, EV_END, EV_DISCON };

#define US(ms) ((uint64_t)(ms)*1000u)

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void violation(const char *fmt, ...)
{
    if (fk.violations < FK_WHY_MAX) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(fk.why[fk.violations], FK_WHY_LEN, fmt, ap);
        va_end(ap);
    }
    fk.violations++;
}

void fk_reset(void)
{
    memset(&fk, 0, sizeof fk);
    for (int i = 0; i < FK_SLOTS; i++)
        fk.slot[i].addr = 0xFFFFFFFFu;
    fk.us = 0x100000000ull - US(3000); /* system_get_time() wraps 3 s into the test */
    fk.net = NET_IDLE;
}

void fk_set_script(const fk_script *s)
{
    fk.script = *s;
}

/* ---- SPI flash --------------------------------------------------------------------------- */

/* What a never-touched sector holds: not 0xFF, so a write without erase shows. */
static uint8_t old_byte(uint32_t addr)
{
    uint32_t x = addr * 2654435761u;
    return (uint8_t)((x >> 24) ^ 0x5A);
}

void fk_flash_peek(uint32_t addr, void *out, uint32_t len)
{
    uint8_t *o = out;
    for (uint32_t i = 0; i < len; i++) {
        uint32_t a = addr + i, sec = a & ~(SPI_FLASH_SEC_SIZE - 1u);
        const fk_slot *s = NULL;
        for (int k = 0; k < FK_SLOTS; k++)
            if (fk.slot[k].addr == sec)
                s = &fk.slot[k];
        o[i] = s ? s->data[a - sec] : old_byte(a);
    }
}

static fk_slot *slot_of(uint32_t sec, int alloc)
{
    for (int k = 0; k < FK_SLOTS; k++)
        if (fk.slot[k].addr == sec)
            return &fk.slot[k];
    if (!alloc)
        return NULL;
    for (int k = 0; k < FK_SLOTS; k++)
        if (fk.slot[k].addr == 0xFFFFFFFFu) {
            fk_slot *s = &fk.slot[k];
            s->addr = sec;
            s->erased = 0;
            for (uint32_t i = 0; i < SPI_FLASH_SEC_SIZE; i++)
                s->data[i] = old_byte(sec + i);
            return s;
        }
    violation("flash: more than %d sectors touched (0x%lx)", FK_SLOTS, (unsigned long)sec);
    return NULL;
}

SpiFlashOpResult spi_flash_erase_sector(uint16_t sec)
{
    uint32_t addr = (uint32_t)sec * SPI_FLASH_SEC_SIZE;
    if (addr >= FK_FLASH_SIZE) {
        violation("erase: sector %u is beyond the 1 MB chip", (unsigned)sec);
        return SPI_FLASH_RESULT_ERR;
    }
    fk_slot *s = slot_of(addr, 1);
    if (!s)
        return SPI_FLASH_RESULT_ERR;
    memset(s->data, 0xFF, sizeof s->data);
    s->erased = 1;
    if (fk.erases < sizeof fk.erased_addr / sizeof fk.erased_addr[0])
        fk.erased_addr[fk.erases] = addr;
    fk.erases++;
    return SPI_FLASH_RESULT_OK;
}

static int aligned_op(const char *op, uint32_t addr, const void *ram, uint32_t size)
{
    if ((addr | size) & 3u || ((uintptr_t)ram & 3u)) {
        violation("%s: flash 0x%lx, size %lu, RAM %p: not 4-byte aligned", op, (unsigned long)addr,
                  (unsigned long)size, ram);
        return -1;
    }
    if (addr > FK_FLASH_SIZE || size > FK_FLASH_SIZE - addr) {
        violation("%s: 0x%lx + %lu is beyond the chip", op, (unsigned long)addr,
                  (unsigned long)size);
        return -1;
    }
    return 0;
}

SpiFlashOpResult spi_flash_write(uint32_t des_addr, uint32_t *src_addr, uint32_t size)
{
    fk.writes++;
    if (aligned_op("spi_flash_write", des_addr, src_addr, size) != 0)
        return SPI_FLASH_RESULT_ERR;
    const uint8_t *src = (const uint8_t *)src_addr;
    for (uint32_t i = 0; i < size; i++) {
        uint32_t a = des_addr + i, sec = a & ~(SPI_FLASH_SEC_SIZE - 1u);
        fk_slot *s = slot_of(sec, 1);
        if (!s)
            return SPI_FLASH_RESULT_ERR;
        if (!s->erased) {
            violation("write: 0x%lx is in a sector not erased before", (unsigned long)a);
            return SPI_FLASH_RESULT_ERR;
        }
        uint8_t *d = &s->data[a - sec];
        if ((*d & src[i]) != src[i])
            violation("write: 0x%lx: 0x%02x over 0x%02x sets bits (NOR)", (unsigned long)a, src[i],
                      *d);
        *d &= src[i];
    }
    return SPI_FLASH_RESULT_OK;
}

SpiFlashOpResult spi_flash_read(uint32_t src_addr, uint32_t *des_addr, uint32_t size)
{
    fk.reads++;
    if (aligned_op("spi_flash_read", src_addr, des_addr, size) != 0)
        return SPI_FLASH_RESULT_ERR;
    uint8_t *d = (uint8_t *)des_addr;
    for (uint32_t i = 0; i < size;) {
        uint32_t a = src_addr + i, sec = a & ~(SPI_FLASH_SEC_SIZE - 1u);
        uint32_t n = sec + SPI_FLASH_SEC_SIZE - a;
        if (n > size - i)
            n = size - i;
        fk_flash_peek(a, d + i, n);
        i += n;
    }
    return SPI_FLASH_RESULT_OK;
}

uint32_t spi_flash_get_id(void)
{
    return FK_JEDEC_ID;
}

/* ---- RTC memory ---------------------------------------------------------------------------- */

static int rtc_check(const char *op, uint8_t block, const void *buf, uint16_t size)
{
    if (block < 64 || (uint32_t)block * 4u + size > FK_RTC_BLOCKS * 4u || size % 4u ||
        ((uintptr_t)buf & 3u)) {
        violation("%s: block %u, %u bytes, buffer %p: outside user blocks 64..191, not whole "
                  "blocks or not aligned",
                  op, (unsigned)block, (unsigned)size, buf);
        return -1;
    }
    return 0;
}

bool system_rtc_mem_read(uint8_t src_addr, void *des_addr, uint16_t load_size)
{
    if (rtc_check("system_rtc_mem_read", src_addr, des_addr, load_size) != 0)
        return false;
    memcpy(des_addr, &fk.rtc[src_addr], load_size);
    return true;
}

bool system_rtc_mem_write(uint8_t des_addr, const void *src_addr, uint16_t save_size)
{
    if (rtc_check("system_rtc_mem_write", des_addr, src_addr, save_size) != 0)
        return false;
    memcpy(&fk.rtc[des_addr], src_addr, save_size);
    fk.rtc_writes++;
    fk.rtc_last_addr = FK_RTC_BASE + 4u * des_addr;
    fk.rtc_last_size = save_size;
    return true;
}

/* ---- system ---------------------------------------------------------------------------------- */

uint32_t system_get_time(void)
{
    return (uint32_t)fk.us;
}

uint32_t system_get_chip_id(void)
{
    return 0x00A0B1C2u;
}

const char *system_get_sdk_version(void)
{
    return "2.2.2-dev(38a443e)";
}

bool wifi_get_macaddr(uint8_t if_index, uint8_t *macaddr)
{
    static const uint8_t mac[6] = {0x5C, 0xCF, 0x7F, 0x0A, 0x1B, 0x2C};
    memcpy(macaddr, mac, 6);
    if (if_index == SOFTAP_IF)
        macaddr[0] = 0x5E;
    return if_index == STATION_IF || if_index == SOFTAP_IF;
}

/* ---- timers ------------------------------------------------------------------------------------
 */

static int timer_index(ETSTimer *t)
{
    for (int i = 0; i < 4; i++)
        if (fk.timers[i] == t)
            return i;
    return -1;
}

void ets_timer_setfn(ETSTimer *ptimer, ETSTimerFunc *pfunction, void *parg)
{
    if (timer_index(ptimer) >= 0)
        violation("os_timer_setfn on an armed timer (disarm it first)");
    ptimer->timer_func = pfunction;
    ptimer->timer_arg = parg;
}

void ets_timer_arm_new(ETSTimer *ptimer, uint32_t time, bool repeat_flag, bool ms_flag)
{
    if (!ptimer->timer_func)
        violation("os_timer_arm before os_timer_setfn");
    int i = timer_index(ptimer);
    if (i < 0)
        i = timer_index(NULL);
    if (i < 0) {
        violation("more than 4 timers armed");
        return;
    }
    uint32_t us = ms_flag ? time * 1000u : time;
    fk.timers[i] = ptimer;
    ptimer->timer_expire = (uint32_t)fk.us + us; /* kept as the SDK does: 32 bits */
    ptimer->timer_period = repeat_flag ? us : 0;
}

void ets_timer_disarm(ETSTimer *ptimer)
{
    int i = timer_index(ptimer);
    if (i >= 0)
        fk.timers[i] = NULL;
}

/* ---- espconn ------------------------------------------------------------------------------------
 */

static void schedule(int ev, uint32_t after_us)
{
    fk.net_event = ev;
    fk.next_net_us = fk.us + after_us;
}

static int usable(struct espconn *c, const char *op)
{
    if (!c || c != fk.conn || fk.net != NET_OPEN) {
        violation("%s on a connection that is not open", op);
        return 0;
    }
    return 1;
}

int8_t espconn_regist_connectcb(struct espconn *espconn, espconn_connect_callback connect_cb)
{
    espconn->proto.tcp->connect_callback = connect_cb;
    return ESPCONN_OK;
}

int8_t espconn_regist_reconcb(struct espconn *espconn, espconn_reconnect_callback recon_cb)
{
    espconn->proto.tcp->reconnect_callback = recon_cb;
    return ESPCONN_OK;
}

int8_t espconn_regist_disconcb(struct espconn *espconn, espconn_connect_callback discon_cb)
{
    espconn->proto.tcp->disconnect_callback = discon_cb;
    return ESPCONN_OK;
}

int8_t espconn_regist_recvcb(struct espconn *espconn, espconn_recv_callback recv_cb)
{
    espconn->recv_callback = recv_cb;
    return ESPCONN_OK;
}

int8_t espconn_regist_sentcb(struct espconn *espconn, espconn_sent_callback sent_cb)
{
    espconn->sent_callback = sent_cb;
    return ESPCONN_OK;
}

uint32_t espconn_port(void)
{
    return 4097u + (uint32_t)fk.connects;
}

static dns_found_callback dns_cb;

/* Every name resolves to 10.0.0.7, always asynchronously (ESPCONN_INPROGRESS). */
int8_t espconn_gethostbyname(struct espconn *pespconn, const char *hostname, ip_addr_t *addr,
                             dns_found_callback found)
{
    (void)hostname;
    (void)addr;
    fk.dns_lookups++;
    if (!found || fk.net == NET_DNS) {
        violation("espconn_gethostbyname without a callback or while one is pending");
        return ESPCONN_ARG;
    }
    fk.conn = pespconn;
    fk.net = NET_DNS;
    dns_cb = found;
    schedule(EV_DNS, 20000);
    return ESPCONN_INPROGRESS;
}

int8_t espconn_connect(struct espconn *espconn)
{
    if (fk.in_callback && fk.net == NET_OPEN)
        violation("espconn_connect while a connection is open");
    if (!espconn || espconn->type != ESPCONN_TCP || !espconn->proto.tcp) {
        violation("espconn_connect: not a TCP espconn with proto.tcp");
        return ESPCONN_ARG;
    }
    esp_tcp *t = espconn->proto.tcp;
    if (!t->connect_callback || !t->reconnect_callback || !t->disconnect_callback ||
        !espconn->recv_callback || !espconn->sent_callback)
        violation("espconn_connect before every callback was registered");
    if (t->remote_port <= 0 || t->remote_port > 65535 || t->local_port <= 0)
        violation("espconn_connect: remote port %d, local port %d", t->remote_port, t->local_port);
    fk.connects++;
    fk.conn = espconn;
    memcpy(fk.remote_ip, t->remote_ip, 4);
    fk.remote_port = t->remote_port;
    fk.net = NET_CONNECTING;
    fk.send_pending = 0;
    fk.req_len = 0;
    fk.delivered = 0;
    schedule(fk.script.refuse ? EV_REFUSE : EV_CONNECT, 5000);
    return ESPCONN_OK;
}

int8_t espconn_secure_connect(struct espconn *espconn)
{
    return espconn_connect(espconn);
}

int8_t espconn_disconnect(struct espconn *espconn)
{
    if (fk.in_callback)
        violation("espconn_disconnect inside an espconn callback (the SDK forbids it)");
    if (!usable(espconn, "espconn_disconnect"))
        return ESPCONN_ARG;
    fk.disconnects++;
    fk.net = NET_CLOSED;
    fk.send_pending = 0;
    schedule(EV_DISCON, 1000); /* the SDK confirms with the disconnect callback */
    return ESPCONN_OK;
}

int8_t espconn_secure_disconnect(struct espconn *espconn)
{
    return espconn_disconnect(espconn);
}

int8_t espconn_send(struct espconn *espconn, uint8_t *psent, uint16_t length)
{
    if (!usable(espconn, "espconn_send"))
        return ESPCONN_ARG;
    if (fk.send_pending) {
        violation("espconn_send before the sent callback of the previous send");
        return ESPCONN_MAXNUM;
    }
    if (!length || length > sizeof fk.send_copy) {
        violation("espconn_send of %u bytes", (unsigned)length);
        return ESPCONN_ARG;
    }
    fk.send_pending = 1;
    fk.send_ptr = psent;
    fk.send_len = length;
    memcpy(fk.send_copy, psent, length);
    schedule(EV_SENT, 2000);
    return ESPCONN_OK;
}

int8_t espconn_secure_send(struct espconn *espconn, uint8_t *psent, uint16_t length)
{
    return espconn_send(espconn, psent, length);
}

/* ---- MD5 (RFC 1321) over the ROM's context: buf = state, bits = bit count, in = block -- */

/* The hashing is the device crypto library's (updraft/md5.h); these move its state in
 * and out of the ROM's layout, which the port sees (sizeof md5_context_t). */
static void md5_from_rom(const md5_context_t *c, upd_md5 *m)
{
    memcpy(m->h, c->buf, sizeof m->h);
    m->len_lo = c->bits[0] >> 3 | c->bits[1] << 29;
    m->len_hi = c->bits[1] >> 3;
    m->fill = m->len_lo & 63u;
    memcpy(m->buf, c->in, sizeof m->buf);
}

static void md5_to_rom(const upd_md5 *m, md5_context_t *c)
{
    memcpy(c->buf, m->h, sizeof m->h);
    c->bits[0] = m->len_lo << 3;
    c->bits[1] = m->len_hi << 3 | m->len_lo >> 29;
    memcpy(c->in, m->buf, sizeof m->buf);
}

void MD5Init(md5_context_t *ctx)
{
    upd_md5 m;
    upd_md5_init(&m);
    md5_to_rom(&m, ctx);
}

void MD5Update(md5_context_t *ctx, const uint8_t *buf, const uint16_t len)
{
    upd_md5 m;
    md5_from_rom(ctx, &m);
    upd_md5_update(&m, buf, len);
    md5_to_rom(&m, ctx);
}

void MD5Final(uint8_t digest[16], md5_context_t *ctx)
{
    upd_md5 m;
    md5_from_rom(ctx, &m);
    upd_md5_final(&m, digest);
    md5_to_rom(&m, ctx);
}

/* ---- the event loop ------------------------------------------------------------------------ */

/* Callbacks into the port, marked so that forbidden calls inside them are caught. */
static void call_connect(espconn_connect_callback cb)
{
    fk.in_callback++;
    cb(fk.conn);
    fk.in_callback--;
}

static void deliver_end(void)
{
    esp_tcp *t = fk.conn->proto.tcp;
    if (fk.script.end == FK_STALL)
        return;
    fk.net = NET_CLOSED;
    fk.in_callback++;
    if (fk.script.end == FK_RESET)
        t->reconnect_callback(fk.conn, ESPCONN_RST);
    else
        t->disconnect_callback(fk.conn);
    fk.in_callback--;
}

static void deliver_recv(void)
{
    static uint8_t piece[1460 + 1];
    size_t total = fk.script.head_len + fk.script.body_len;
    size_t limit = fk.script.cut && fk.script.cut < total ? fk.script.cut : total;
    size_t n = fk.script.piece ? fk.script.piece : 536;
    if (n > 1460)
        n = 1460;
    if (n > limit - fk.delivered)
        n = limit - fk.delivered;
    for (size_t i = 0; i < n; i++) {
        size_t at = fk.delivered + i;
        piece[1 + i] =
            at < fk.script.head_len ? fk.script.head[at] : fk.script.body[at - fk.script.head_len];
    }
    fk.delivered += n;
    schedule(fk.delivered < limit ? EV_RECV : EV_END, 3000);
    fk.in_callback++;
    fk.conn->recv_callback(fk.conn, (char *)piece + 1, (unsigned short)n); /* odd address */
    fk.in_callback--;
}

static void net_event(void)
{
    int ev = fk.net_event;
    fk.net_event = EV_NONE;
    fk.next_net_us = 0;
    switch (ev) {
    case EV_DNS: {
        ip_addr_t ip;
        uint8_t b[4] = {10, 0, 0, 7};
        memcpy(&ip.addr, b, 4);
        fk.net = NET_IDLE;
        fk.in_callback++;
        dns_cb("ota.example", &ip, fk.conn);
        fk.in_callback--;
        break;
    }
    case EV_CONNECT:
        fk.net = NET_OPEN;
        call_connect(fk.conn->proto.tcp->connect_callback);
        break;
    case EV_REFUSE:
        fk.net = NET_CLOSED;
        fk.in_callback++;
        fk.conn->proto.tcp->reconnect_callback(fk.conn, ESPCONN_RST);
        fk.in_callback--;
        break;
    case EV_SENT:
        if (fk.net != NET_OPEN)
            break;
        if (memcmp(fk.send_ptr, fk.send_copy, fk.send_len) != 0)
            violation("espconn_send: the buffer changed before the sent callback");
        if (fk.req_len + fk.send_len <= FK_REQ_MAX) {
            memcpy(fk.req + fk.req_len, fk.send_copy, fk.send_len);
            fk.req_len += fk.send_len;
        }
        fk.send_pending = 0;
        /* the server answers once the request's blank line arrived */
        if (fk.req_len >= 4 && !memcmp(fk.req + fk.req_len - 4, "\r\n\r\n", 4))
            schedule(EV_RECV, 10000);
        fk.in_callback++;
        fk.conn->sent_callback(fk.conn);
        fk.in_callback--;
        break;
    case EV_RECV:
        if (fk.net == NET_OPEN)
            deliver_recv();
        break;
    case EV_END:
        if (fk.net == NET_OPEN)
            deliver_end();
        break;
    case EV_DISCON: /* after the application's espconn_disconnect */
        call_connect(fk.conn->proto.tcp->disconnect_callback);
        break;
    }
}

int fk_run(const volatile int *stop, uint32_t max_ms)
{
    uint64_t end = fk.us + US(max_ms);
    while (!*stop) {
        /* the earliest of: the network event, each armed timer */
        uint64_t best = 0;
        int which = -1; /* -1 network, else a timer index */
        if (fk.next_net_us)
            best = fk.next_net_us;
        for (int i = 0; i < 4; i++) {
            ETSTimer *t = fk.timers[i];
            if (!t)
                continue;
            uint64_t due = fk.us + (uint32_t)(t->timer_expire - (uint32_t)fk.us);
            if ((uint32_t)(t->timer_expire - (uint32_t)fk.us) > 0x80000000u)
                due = fk.us; /* overdue */
            if (!best || due < best) {
                best = due;
                which = i;
            }
        }
        if (!best || best > end)
            return -1;
        if (best > fk.us)
            fk.us = best;
        if (which < 0) {
            net_event();
            continue;
        }
        ETSTimer *t = fk.timers[which];
        if (t->timer_period)
            t->timer_expire = (uint32_t)fk.us + t->timer_period;
        else
            fk.timers[which] = NULL;
        t->timer_func(t->timer_arg);
    }
    return 0;
}
