/* A fake ESP8266 NONOS SDK for running the real ESP8266 port (ports/esp8266) with the
 * real engine, on lx106 under QEMU and on the host. It implements every function that
 * ports/esp8266/esp8266_sdk.h declares, with the SDK's rules checked and every breach
 * counted (fk.violations, with the first few described in fk.why):
 *
 *   spi_flash_*     a 1 MB chip (JEDEC size code 20) modelled as a sparse map of
 *                   FK_SLOTS 4 KB sectors, allocated on first touch and filled with an
 *                   "old contents" pattern (not 0xFF: a missing erase shows). Write and
 *                   read need a 4-byte aligned flash address, length and RAM buffer; a
 *                   write may only clear bits and only into a sector erased since the
 *                   test began; out of range or out of slots is an error.
 *   system_rtc_mem  768 bytes from 0x60001000 in 4-byte blocks; user blocks 64..191,
 *                   whole blocks from a 4-byte aligned buffer.
 *   system_get_time a fake microsecond clock, started just before the 32-bit wrap.
 *   ets_timer_*     software timers fired by fk_run(); setfn only on a disarmed timer.
 *   espconn_*       one TCP connection that plays a script: connect callback, the request
 *                   taken through espconn_send / sent callback (the buffer must stay
 *                   unchanged until the sent callback), then the response through the
 *                   receive callback in pieces from an odd address, then a close, a reset
 *                   (reconnect callback) or a stall. espconn_disconnect inside an espconn
 *                   callback, a second send before the sent callback, or calls on a
 *                   connection that is not open are violations.
 *   MD5Init/...     a real MD5 (RFC 1321) over the ROM's context layout.
 *
 * Events run one at a time from fk_run(), never nested, as the SDK's task loop does. */
#ifndef UPD_FAKE_SDK_H
#define UPD_FAKE_SDK_H

#include <stddef.h>
#include <stdint.h>

#include "esp8266_sdk.h"

#define FK_FLASH_SIZE   (1024u * 1024u)
#define FK_JEDEC_ID     0x001440E0u /* 1 MB: size code 0x14 = 20 */
#define FK_SLOTS        6
#define FK_RTC_BASE     0x60001000u
#define FK_RTC_BLOCKS   192u
#define FK_REQ_MAX      1024
#define FK_WHY_MAX      4
#define FK_WHY_LEN      96
#define FK_IP_OF_NAME   0x0700000Au /* 10.0.0.7 in network order, for any DNS name */

enum fk_end {
    FK_CLOSE = 0, /* the server closes: disconnect callback */
    FK_RESET,     /* the connection breaks: reconnect callback with ESPCONN_RST */
    FK_STALL      /* nothing more arrives */
};

/* What the server does on the next connection. */
typedef struct fk_script {
    const uint8_t *head; /* status line and headers (NUL-free bytes), then body */
    size_t head_len;
    const uint8_t *body;
    size_t body_len;
    size_t cut;       /* deliver only this many bytes of head + body (0: all) */
    size_t piece;     /* bytes per receive callback (0: 536, the SDK's TCP MSS) */
    int end;          /* enum fk_end after the bytes */
    int refuse;       /* 1: the connection fails (reconnect callback, ESPCONN_RST) */
} fk_script;

typedef struct fk_slot {
    uint32_t addr; /* sector address, or 0xFFFFFFFF when free */
    uint8_t erased;
    uint8_t data[SPI_FLASH_SEC_SIZE];
} fk_slot;

typedef struct fk_state {
    /* flash */
    fk_slot slot[FK_SLOTS];
    uint32_t erases, writes, reads;
    uint32_t erased_addr[16]; /* sector addresses in erase order */
    /* RTC memory */
    uint32_t rtc[FK_RTC_BLOCKS];
    uint32_t rtc_writes;
    uint32_t rtc_last_addr, rtc_last_size; /* byte address (0x600010xx..) and size */
    /* clock */
    uint64_t us;
    /* timers */
    ETSTimer *timers[4];
    /* network */
    fk_script script;
    struct espconn *conn;
    int net;          /* enum fk_net (fake_sdk.c) */
    int in_callback;  /* inside an espconn callback */
    int connects, disconnects, dns_lookups;
    uint8_t remote_ip[4];
    int remote_port;
    int send_pending;
    const uint8_t *send_ptr;
    uint16_t send_len;
    uint8_t send_copy[1460];
    char req[FK_REQ_MAX + 1]; /* the request(s) of the last connection, room for a NUL */
    size_t req_len;
    size_t delivered; /* response bytes delivered */
    uint64_t next_net_us; /* when the next network event is due (0: none) */
    int net_event;        /* which one */
    /* checks */
    int violations;
    char why[FK_WHY_MAX][FK_WHY_LEN];
} fk_state;

extern fk_state fk;

/* Reset everything: empty flash map, RTC memory zero, clock at 2^32 - 3 s, no timers,
 * no connection, no violations. */
void fk_reset(void);

/* The server's answer to the next connection. */
void fk_set_script(const fk_script *s);

/* Run the SDK's event loop (timers and network events, in time order) until *stop
 * becomes non-zero or max_ms of fake time passed. Returns 0 when stopped, -1 on the time
 * limit or when nothing is left to happen. */
int fk_run(const volatile int *stop, uint32_t max_ms);

/* Bytes of flash (any range inside one sector): from the map, or the "old contents"
 * pattern of a sector never touched. */
void fk_flash_peek(uint32_t addr, void *out, uint32_t len);

#endif
