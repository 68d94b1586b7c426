/* The posix port of the device client's port contract (updraft/port.h), for host tools
 * (`updraft doctor`, simulators, tests) on Linux:
 *
 *   transport  BSD sockets: getaddrinfo, connect with a timeout, send/recv with
 *              poll-based timeouts; TLS through GnuTLS (system trust, a CA file, or no
 *              verification), with the certificate problem named in words
 *   flash      a file is the flash chip: 4 KB sectors, erase sets 0xFF, a write can only
 *              clear bits (as NOR flash), misuse is counted
 *   clock      CLOCK_MONOTONIC in milliseconds
 *   crypto     MD5 and SHA-256 from GnuTLS; no signature verifier by default (NULL: a
 *              tool that checks signatures sets upd_sig_port_verify, src/host/signing.h)
 *   state      the boot, resume and outcome-report areas (and the ESP32 activation) in
 *              a small file
 *
 * Unlike the engine, the port may allocate (GnuTLS does) and includes OS headers; it is
 * a static library for the host only (updraft-port-posix). Every function that can
 * fail returns 0 (or a count) or a negative number, and leaves a sentence saying what
 * failed in the object's `error` field. */
#ifndef UPD_POSIX_H
#define UPD_POSIX_H

#include <stddef.h>
#include <stdint.h>

#include "updraft/port.h"

#define UPD_POSIX_ERROR_MAX 320

/* ---- transport ----------------------------------------------------------------------- */

typedef struct upd_posix_net {
    int fd;        /* -1 when closed */
    void *session; /* gnutls_session_t of a TLS connection, else NULL */
    void *cred;    /* gnutls_certificate_credentials_t, made on the first TLS connect */
    /* settings (set after upd_posix_net_init, before connecting) */
    int insecure;        /* 1: do not verify the server's certificate */
    const char *ca_file; /* PEM file of trusted CAs; NULL: the system's trust store */
    /* what happened on the last connection, for tools */
    int tls;                               /* the connection is TLS */
    int tls_verify_failed;                 /* the handshake failed on the certificate */
    unsigned tls_status;                   /* gnutls_certificate_status_t bits, 0 = trusted */
    char tls_problem[UPD_POSIX_ERROR_MAX]; /* the certificate problem in words, "" none
                                              (filled with --insecure too: not enforced) */
    char tls_info[128];                    /* protocol and cipher, e.g. "TLS1.3 AES-256-GCM" */
    char peer[64];                         /* numeric address:port connected to */
    int closed_by_peer;                    /* recv saw the peer's close */
    char error[UPD_POSIX_ERROR_MAX];       /* the last failure in words */
} upd_posix_net;

/* Make n a closed connection with default settings (verify certificates against the
 * system's trust store). */
void upd_posix_net_init(upd_posix_net *n);
/* Close the connection and free the TLS credentials. */
void upd_posix_net_free(upd_posix_net *n);
/* The four upd_transport_ops functions (ctx is the upd_posix_net). connect resolves
 * host (name or address) and tries each address until one answers within timeout_ms
 * in total; with tls it completes the TLS handshake in the same time. */
int upd_posix_net_connect(void *ctx, const char *host, uint16_t port, int tls, uint32_t timeout_ms);
int upd_posix_net_send(void *ctx, const void *buf, size_t len, uint32_t timeout_ms);
int upd_posix_net_recv(void *ctx, void *buf, size_t len, uint32_t timeout_ms);
void upd_posix_net_close(void *ctx);
upd_transport_ops upd_posix_net_ops(upd_posix_net *n);

/* ---- flash ------------------------------------------------------------------------------ */

typedef struct upd_posix_flash {
    int fd;
    uint32_t size; /* bytes of flash (a multiple of 4096) */
    uint32_t erases, writes, reads;
    int32_t fail_erase_at, fail_write_at; /* fail the Nth (0-based) erase/write; -1 never */
    uint32_t nor_violations;              /* writes that tried to set a bit (the bit stays 0) */
    uint32_t misuse;                      /* unaligned or out-of-range operations (refused) */
    char error[UPD_POSIX_ERROR_MAX];
} upd_posix_flash;

/* Open (or create) the file at path as a flash chip of size bytes (a multiple of 4096).
 * A new or shorter file is extended with 0xFF (erased flash); existing contents are
 * kept. path NULL: an anonymous temporary file (in $TMPDIR or /tmp), gone when closed.
 * Returns 0 or -1 (f->error says why). */
int upd_posix_flash_open(upd_posix_flash *f, const char *path, uint32_t size);
void upd_posix_flash_close(upd_posix_flash *f);
int upd_posix_flash_read(void *ctx, uint32_t addr, void *buf, uint32_t len);
int upd_posix_flash_erase(void *ctx, uint32_t addr);
int upd_posix_flash_write(void *ctx, uint32_t addr, const void *buf, uint32_t len);

/* ---- clock ------------------------------------------------------------------------------ */

/* CLOCK_MONOTONIC in milliseconds (wraps after 49 days, as the contract allows). */
uint32_t upd_posix_now_ms(void *ctx);

/* ---- crypto ----------------------------------------------------------------------------- */

typedef struct upd_posix_hash {
    void *h; /* gnutls_hash_hd_t while a hash runs */
    int alg; /* gnutls_digest_algorithm_t */
} upd_posix_hash;

/* upd_md5_ops / upd_sha256_ops functions over an upd_posix_hash (ctx). init starts over
 * (a hash left running is dropped). final writes 16 (MD5) or 32 (SHA-256) bytes. */
void upd_posix_md5_init(void *ctx);
void upd_posix_sha256_init(void *ctx);
void upd_posix_hash_update(void *ctx, const void *data, size_t len);
void upd_posix_hash_final(void *ctx, uint8_t *out);
void upd_posix_hash_free(upd_posix_hash *h);

/* ---- persistent state ------------------------------------------------------------------- */

/* File layout: [0,128) UPD_STATE_BOOT, [128,256) UPD_STATE_RESUME, [256,264) the last
 * activation (u32 LE start, u32 LE size; ESP32), [264,360) UPD_STATE_REPORT (the
 * outcome report, docs/client.md). A new file is all zero; an older, shorter file is
 * extended with zeros when opened (a zero report is "nothing to report"). */
#define UPD_POSIX_STATE_REPORT_OFF 264u
#define UPD_POSIX_STATE_FILE_SIZE  (UPD_POSIX_STATE_REPORT_OFF + UPD_STATE_REPORT_SIZE)

typedef struct upd_posix_state {
    int fd;
    uint8_t mem[UPD_POSIX_STATE_FILE_SIZE]; /* the file's contents */
    int boot_writes, resume_writes, report_writes, activations;
    char error[UPD_POSIX_ERROR_MAX];
} upd_posix_state;

/* Open (or create) the state file; path NULL keeps the state in memory only. */
int upd_posix_state_open(upd_posix_state *s, const char *path);
void upd_posix_state_close(upd_posix_state *s);
int upd_posix_state_read(void *ctx, unsigned area, void *buf, uint32_t len);
int upd_posix_state_write(void *ctx, unsigned area, const void *buf, uint32_t len);
int upd_posix_state_activate(void *ctx, uint32_t start, uint32_t size);

/* ---- the whole port --------------------------------------------------------------------- */

typedef struct upd_posix_port {
    upd_port port; /* give &port to upd_client_init() */
    upd_posix_net net;
    upd_posix_flash flash;
    upd_posix_state state;
    upd_posix_hash md5, sha256;
} upd_posix_port;

/* Open a complete port: flash file flash_path (NULL: temporary) of layout->chip_size
 * bytes rounded up to 4096, state file state_path (NULL: in memory), sockets, clock and
 * hashes; layout is copied into port.flash.layout. Returns 0, or -1 with a sentence in
 * err. Close with upd_posix_port_close() (also after a failed open). */
int upd_posix_port_open(upd_posix_port *p, const char *flash_path, const char *state_path,
                        const upd_flash_layout *layout, char *err, size_t errlen);
void upd_posix_port_close(upd_posix_port *p);

#endif
