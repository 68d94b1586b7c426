/* An in-memory port for the client's unit tests (host and lx106): a window of NOR
 * flash with erase/write counters, fault injection and NOR checks (a write may only
 * clear bits of erased sectors), the two state areas, a fake clock, MD5 and SHA-256,
 * and a scripted transport that plays canned responses (in pieces of any size, then a
 * close or a stall) and records the requests. The full simulated device (eboot copy,
 * ESP32 otadata, power cuts) is ports/sim; this is only what unit tests need. */
#ifndef UPD_TEST_MEMPORT_H
#define UPD_TEST_MEMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "imgwriter.h"
#include "updraft/port.h"

/* Whether the engine under test has the core's inspector (UPD_CLIENT_F_INSPECT): the
 * host build does, the lx106 (device) build does not (src/client/CMakeLists.txt). */
#if defined(UPD_CLIENT_WITH_INSPECT) && UPD_CLIENT_WITH_INSPECT
#define MP_HAVE_INSPECT 1
#else
#define MP_HAVE_INSPECT 0
#endif

#define MP_MAX_RESP 12 /* responses per check (redirect chains) */
#define MP_SENT_MAX 2048

enum mp_end { MP_CLOSE = 0, MP_STALL = 1, MP_RESET = 2 };

typedef struct mp_resp {
    const uint8_t *data;
    size_t len;
    int end; /* enum mp_end after the bytes */
} mp_resp;

typedef struct memport {
    upd_port port;
    /* flash window [base, base + size) */
    uint8_t *flash;
    uint32_t base, size;
    uint32_t erases, writes, reads;
    int32_t fail_erase_at, fail_write_at; /* fail the Nth (0-based) erase/write; -1 never */
    int32_t drop_bit_at; /* the Nth write "succeeds" but bit 0 of its middle byte is wrong
                            (a write the flash did not keep); -1 never */
    int nor_violations, range_violations, unerased_writes;
    uint8_t erased[64]; /* bit per sector of the window: erased since the start */
    /* state */
    uint8_t boot[UPD_STATE_BOOT_SIZE];
    uint8_t resume[UPD_STATE_RESUME_SIZE];
    uint8_t report[UPD_STATE_REPORT_SIZE];
    int boot_writes, resume_writes, report_writes, state_fail;
    int boot_state, confirms; /* after memport_enable_rollback */
    int activated;
    uint32_t act_start, act_size;
    /* ESP32 activate checks the slot as the boot loader's esp_image_verify would (the
     * core's inspector: magic, header, segments, checksum, appended SHA-256) and that
     * the image's chip id is this chip (UPD_CHIP_ESP32 after memport_init); a rejected
     * image fails activate, as esp_ota_set_boot_partition does (Update error 9). */
    uint16_t chip;
    int activate_rejects; /* activations refused */
    int activate_reason;  /* the inspector's code for the last refusal (0: chip) */
    /* clock: each read advances by tick ms */
    uint32_t now, tick;
    /* crypto */
    upd_md5 md5; /* the port's hashes: the device crypto library's */
    upd_sha256 sha;
    int no_sha;
    int verifies; /* calls of the fake verifier */
    /* transport */
    mp_resp resp[MP_MAX_RESP];
    int nresp;
    int cur; /* the connection's response index, -1 none */
    size_t pos;
    size_t piece; /* bytes per recv (0: 256) */
    int connects, connect_fail;
    char host[64];
    uint16_t tcp_port;
    int tls;
    char sent[MP_SENT_MAX]; /* all requests, one after another */
    size_t sent_len;
    size_t req_start[MP_MAX_RESP]; /* where each request starts in sent */
} memport;

/* Set up m with the flash window mem (size bytes standing for physical addresses
 * [base, base + size), contents left as given) and the layout. */
void memport_init(memport *m, uint8_t *mem, uint32_t base, uint32_t size,
                  const upd_flash_layout *layout);

/* Give the port a fake signature verifier (crypto.verify) for sig_len-byte signatures:
 * it accepts exactly the signature memport_sign() makes, the SHA-256 digest followed by
 * zeros up to sig_len bytes (a stand-in for RSA with a 2048-bit modulus: 256). */
void memport_enable_verify(memport *m, uint32_t sig_len);

/* The fake signature of payload (n bytes) into sig (sig_len >= 32 bytes). */
void memport_sign(const void *payload, size_t n, uint8_t *sig, uint32_t sig_len);

/* Give the port the rollback ops (an ESP32 with otadata): boot_state returns
 * m->boot_state, confirm sets it to UPD_BOOT_VALID and counts. */
void memport_enable_rollback(memport *m);

/* Queue a response for the next connection. */
void memport_add_response(memport *m, const void *data, size_t len, int end);

/* NUL-terminated copy of the i-th request into out (cap bytes). */
const char *memport_request(const memport *m, int i, char *out, size_t cap);

#endif
