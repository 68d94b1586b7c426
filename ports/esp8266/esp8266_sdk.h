/* Our own declarations of the ESP8266 NONOS SDK functions this port uses. They mirror
 * the SDK's documented API (ESP8266 Non-OS SDK API Reference: espconn, SPI flash, RTC
 * memory, system and timer functions) and, for MD5, the ROM functions the Arduino core
 * declares; no SDK header is needed to compile the port. A project that has the SDK
 * can compile against the real headers instead: define UPD_ESP8266_USE_SDK_HEADERS and
 * this file includes them.
 *
 * Only what the port calls is declared. Types use stdint.h; the SDK's c_types.h names
 * (uint8, sint8, uint32 ...) are the same sizes. */
#ifndef UPD_ESP8266_SDK_H
#define UPD_ESP8266_SDK_H

#ifdef UPD_ESP8266_USE_SDK_HEADERS
#include "c_types.h"
#include "espconn.h"
#include "osapi.h"
#include "spi_flash.h"
#include "user_interface.h"
#else

#include <stdbool.h>
#include <stdint.h>

/* ---- espconn (TCP and TLS connections, callbacks) ---------------------------------------- */

#define ESPCONN_OK         0   /* no error */
#define ESPCONN_MEM        -1  /* out of memory */
#define ESPCONN_TIMEOUT    -3  /* timeout */
#define ESPCONN_RTE        -4  /* routing problem */
#define ESPCONN_INPROGRESS -5  /* operation in progress (DNS lookup) */
#define ESPCONN_MAXNUM     -7  /* too many connections */
#define ESPCONN_ABRT       -8  /* connection aborted */
#define ESPCONN_RST        -9  /* connection reset */
#define ESPCONN_CLSD       -10 /* connection closed */
#define ESPCONN_CONN       -11 /* not connected */
#define ESPCONN_ARG        -12 /* illegal argument */
#define ESPCONN_IF         -14 /* low-level error */
#define ESPCONN_ISCONN     -15 /* already connected */

enum espconn_type { ESPCONN_INVALID = 0, ESPCONN_TCP = 0x10, ESPCONN_UDP = 0x20 };

enum espconn_state {
    ESPCONN_NONE,
    ESPCONN_WAIT,
    ESPCONN_LISTEN,
    ESPCONN_CONNECT,
    ESPCONN_WRITE,
    ESPCONN_READ,
    ESPCONN_CLOSE
};

typedef void (*espconn_connect_callback)(void *arg);
typedef void (*espconn_reconnect_callback)(void *arg, int8_t err);
typedef void (*espconn_recv_callback)(void *arg, char *pdata, unsigned short len);
typedef void (*espconn_sent_callback)(void *arg);

typedef struct _esp_tcp {
    int remote_port;
    int local_port;
    uint8_t local_ip[4];
    uint8_t remote_ip[4];
    espconn_connect_callback connect_callback;
    espconn_reconnect_callback reconnect_callback;
    espconn_connect_callback disconnect_callback;
    espconn_connect_callback write_finish_fn;
} esp_tcp;

typedef struct _esp_udp {
    int remote_port;
    int local_port;
    uint8_t local_ip[4];
    uint8_t remote_ip[4];
} esp_udp;

struct espconn {
    enum espconn_type type;
    enum espconn_state state;
    union {
        esp_tcp *tcp;
        esp_udp *udp;
    } proto;
    espconn_recv_callback recv_callback;
    espconn_sent_callback sent_callback;
    uint8_t link_cnt;
    void *reverse; /* free for the application: the port keeps its context here */
};

typedef struct ip_addr {
    uint32_t addr; /* network byte order */
} ip_addr_t;

typedef void (*dns_found_callback)(const char *name, ip_addr_t *ipaddr, void *callback_arg);

int8_t espconn_connect(struct espconn *espconn);
int8_t espconn_disconnect(struct espconn *espconn);
int8_t espconn_send(struct espconn *espconn, uint8_t *psent, uint16_t length);
int8_t espconn_regist_connectcb(struct espconn *espconn, espconn_connect_callback connect_cb);
int8_t espconn_regist_reconcb(struct espconn *espconn, espconn_reconnect_callback recon_cb);
int8_t espconn_regist_disconcb(struct espconn *espconn, espconn_connect_callback discon_cb);
int8_t espconn_regist_recvcb(struct espconn *espconn, espconn_recv_callback recv_cb);
int8_t espconn_regist_sentcb(struct espconn *espconn, espconn_sent_callback sent_cb);
uint32_t espconn_port(void);
int8_t espconn_gethostbyname(struct espconn *pespconn, const char *hostname, ip_addr_t *addr,
                             dns_found_callback found);
/* TLS (the SDK's SSL library; needs espconn_secure_set_size for the buffer) */
int8_t espconn_secure_connect(struct espconn *espconn);
int8_t espconn_secure_disconnect(struct espconn *espconn);
int8_t espconn_secure_send(struct espconn *espconn, uint8_t *psent, uint16_t length);

/* ---- SPI flash ---------------------------------------------------------------------------- */

typedef enum {
    SPI_FLASH_RESULT_OK,
    SPI_FLASH_RESULT_ERR,
    SPI_FLASH_RESULT_TIMEOUT
} SpiFlashOpResult;

#define SPI_FLASH_SEC_SIZE 4096

/* sec: sector number (address / 4096). */
SpiFlashOpResult spi_flash_erase_sector(uint16_t sec);
/* des_addr, size: multiples of 4; src_addr 4-byte aligned in RAM. */
SpiFlashOpResult spi_flash_write(uint32_t des_addr, uint32_t *src_addr, uint32_t size);
/* src_addr, size: multiples of 4; des_addr 4-byte aligned in RAM. */
SpiFlashOpResult spi_flash_read(uint32_t src_addr, uint32_t *des_addr, uint32_t size);
/* JEDEC id: manufacturer in bits 0..7, size as a power of two in bits 16..23. */
uint32_t spi_flash_get_id(void);

/* ---- RTC memory ----------------------------------------------------------------------------- */

/* des_addr/src_addr: in 4-byte blocks; blocks 0..63 belong to the system, 64..191 (512
 * bytes) to the user. Block 128 is 0x60001200, where eboot reads its command. */
bool system_rtc_mem_read(uint8_t src_addr, void *des_addr, uint16_t load_size);
bool system_rtc_mem_write(uint8_t des_addr, const void *src_addr, uint16_t save_size);

/* ---- system ------------------------------------------------------------------------------------ */

/* Microseconds since boot; wraps every 2^32 us (about 71 minutes). */
uint32_t system_get_time(void);
uint32_t system_get_chip_id(void);
const char *system_get_sdk_version(void);
#define STATION_IF 0x00
#define SOFTAP_IF  0x01
bool wifi_get_macaddr(uint8_t if_index, uint8_t *macaddr);

/* ---- software timers (os_timer_* are macros over these) -------------------------------------- */

typedef void ETSTimerFunc(void *timer_arg);

typedef struct _ETSTIMER_ {
    struct _ETSTIMER_ *timer_next;
    uint32_t timer_expire;
    uint32_t timer_period;
    ETSTimerFunc *timer_func;
    void *timer_arg;
} ETSTimer;

void ets_timer_setfn(ETSTimer *ptimer, ETSTimerFunc *pfunction, void *parg);
void ets_timer_arm_new(ETSTimer *ptimer, uint32_t time, bool repeat_flag, bool ms_flag);
void ets_timer_disarm(ETSTimer *ptimer);
#define os_timer_setfn(t, fn, arg) ets_timer_setfn(t, fn, arg)
#define os_timer_arm(t, ms, rep)   ets_timer_arm_new(t, ms, rep, 1)
#define os_timer_disarm(t)         ets_timer_disarm(t)

/* ---- MD5 in ROM (as the Arduino core's md5.h declares it) ------------------------------------- */

typedef struct {
    uint32_t buf[4];
    uint32_t bits[2];
    uint8_t in[64];
} md5_context_t;

void MD5Init(md5_context_t *ctx);
void MD5Update(md5_context_t *ctx, const uint8_t *buf, const uint16_t len);
void MD5Final(uint8_t digest[16], md5_context_t *ctx);

#endif /* UPD_ESP8266_USE_SDK_HEADERS */
#endif
