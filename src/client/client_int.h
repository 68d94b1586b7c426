/* Private interface between the parts of the device update engine: the HTTP side
 * (client.c: request, response headers, results) and the flash side (stage.c: staging
 * area, writes, verification, boot command, resume record). */
#ifndef UPD_CLIENT_INT_H
#define UPD_CLIENT_INT_H

#include "updraft/client.h"
#include "updraft/error.h"

/* Compile-time features (1: built in; 0: left out to save code on small devices). All
 * are 1 by default but SIGN and INSPECT, the two that need a heavy part besides the
 * engine (a signature verifier in the port; the core's inspector). With a feature left
 * out, init refuses a configuration or port that asks for it (UPD_EUNSUPPORTED) rather
 * than silently behaving like the plain device client.
 *   SIGN      signed images through port->crypto.verify (spec section 5); 0 by default:
 *             a device that checks signatures adds a verifier (RSA or ECDSA code,
 *             kilobytes) to its port and this define with it; a port with a verifier
 *             on a build without SIGN is refused at init (fails closed, never unsigned).
 *   REPORT    UPD_CLIENT_F_REPORT, the x-updraft-report outcome header
 *   RESUME    UPD_CLIENT_F_RESUME, Range downloads from the UPD_STATE_RESUME record
 *   SHA256    UPD_CLIENT_F_SHA256 and expected_sha256
 *   VERSION   version_only (getAvailableVersion)
 *   ROLLBACK  upd_client_boot_state / upd_client_confirm (else UPD_EUNSUPPORTED)
 *   INSPECT   UPD_CLIENT_F_INSPECT, the core's inspector before committing; 0 by
 *             default: the engine's call links the whole inspector from libupdraft-core
 *             (about 18 KB of ESP8266 code) into every firmware, used or not. The host
 *             build turns it on (src/client/CMakeLists.txt): its tools link it anyway.
 * The parity configuration (features 0, no verifier) needs none of them. */
/* A build that cannot pass -D flags (the Arduino IDE building the updraft Arduino
 * library, tools/arduino-lib.py) sets them in upd_client_config.h beside the sources. */
#if defined(__has_include)
#if __has_include("upd_client_config.h")
#include "upd_client_config.h"
#endif
#endif
#ifndef UPD_CLIENT_WITH_SIGN
#define UPD_CLIENT_WITH_SIGN 0
#endif
#ifndef UPD_CLIENT_WITH_REPORT
#define UPD_CLIENT_WITH_REPORT 1
#endif
#ifndef UPD_CLIENT_WITH_RESUME
#define UPD_CLIENT_WITH_RESUME 1
#endif
#ifndef UPD_CLIENT_WITH_SHA256
#define UPD_CLIENT_WITH_SHA256 1
#endif
#ifndef UPD_CLIENT_WITH_VERSION
#define UPD_CLIENT_WITH_VERSION 1
#endif
#ifndef UPD_CLIENT_WITH_ROLLBACK
#define UPD_CLIENT_WITH_ROLLBACK 1
#endif
#ifndef UPD_CLIENT_WITH_INSPECT
#define UPD_CLIENT_WITH_INSPECT 0
#endif

/* Out of line where GCC's inlining at -Os makes the lx106 code bigger, not smaller (a
 * function inlined into a large caller adds register spills there); measured with
 * xtensa-lx106-elf-size, docs/client.md. */
#if defined(__GNUC__)
#define UPD__NOINLINE __attribute__((noinline))
#else
#define UPD__NOINLINE
#endif

enum upd__client_state {
    UPD__CS_CONNECT = 0, /* wants a connection */
    UPD__CS_SEND,        /* the request is going out */
    UPD__CS_HEADERS,     /* status line and headers */
    UPD__CS_PEEK,        /* 200 in sketch mode: waiting for the first 4 bytes */
    UPD__CS_BODY,        /* writing the body to flash */
    UPD__CS_DONE
};

/* flags */
enum {
    UPD__CF_MD5_SEEN = 1u << 0,    /* x-MD5 with a non-empty value */
    UPD__CF_MD5_LEN_OK = 1u << 1,  /* ... of exactly 32 characters */
    UPD__CF_MD5_HEX_OK = 1u << 2,  /* ... all hex digits (else it can never match) */
    UPD__CF_SHA_SET = 1u << 3,     /* an expected SHA-256 is known */
    UPD__CF_TE_CHUNKED = 1u << 4,  /* Transfer-Encoding: chunked */
    UPD__CF_TE_OTHER = 1u << 5,    /* another Transfer-Encoding: HTTPClient gives -9 */
    UPD__CF_RESUMING = 1u << 6,    /* the request carries Range: bytes=N- */
    UPD__CF_ETAG = 1u << 7,        /* an ETag came (etag_crc) */
    UPD__CF_CRANGE = 1u << 8,      /* Content-Range: exactly the rest of the file */
    UPD__CF_SHA_HDR_BAD = 1u << 9, /* x-SHA256 present but not 64 hex digits */
    UPD__CF_REC = 1u << 10,        /* a resume record may exist: clear it at the end */
    UPD__CF_VER_LONG = 1u << 11,   /* x-version longer than UPD_CLIENT_VERSION_MAX */
    UPD__CF_REPORTED = 1u << 12,   /* the request carries x-updraft-report */
    UPD__CF_OFFER = 1u << 13       /* an image was offered: record the outcome */
};

#define UPD__EBOOT_MAGIC    0xEB001000u
#define UPD__EBOOT_COPY_RAW 1u

/* ESP8266 Updater errors (positive), as ESPhttpUpdate.getLastError() reports them. */
#define UPD__UE_WRITE            1
#define UPD__UE_ERASE            2
#define UPD__UE_READ             3
#define UPD__UE_SPACE            4
#define UPD__UE_STREAM           6
#define UPD__UE_MD5              7
#define UPD__UE_NEW_FLASH_CONFIG 9
#define UPD__UE_MAGIC_BYTE       10
#define UPD__UE_SIGN             12
/* Arduino-ESP32 Update: activation of the new slot failed. */
#define UPD__UE32_ACTIVATE 9

/* Finish the check with result r and device error code err (0 for OK/NO_UPDATES). */
void upd__client_finish(upd_client_ctx *c, int r, int err);

/* Byte helpers (stage.c). The engine calls these instead of the C library's: on the
 * ESP8266 every call out of the engine is a long call (-mlongcalls: a literal and a
 * 6-byte sequence at each call site), a call inside it a 3-byte direct one. */
void upd__bcopy(void *dst, const void *src, uint32_t n); /* overlapping allowed */
void upd__bfill(void *dst, uint8_t v, uint32_t n);
int upd__bdiffer(const void *a, const void *b, uint32_t n); /* 0 if equal */
uint32_t upd__slen(const char *s);
/* CRC-32/MPEG-2 of n bytes (the core's), as the records and the ETag use it. */
uint32_t upd__crc(const void *p, uint32_t n);

/* stage.c */
uint32_t upd__rd32(const uint8_t *p);
void upd__wr32(uint8_t *p, uint32_t v);
uint32_t upd__roundup_sector(uint32_t n);
/* x-*-free-space as the device reports it. */
uint32_t upd__free_space(const upd_client_ctx *c);
/* ESP.magicFlashChipSize(code): 0 for codes the ESP8266 core does not know. */
uint32_t upd__magic_flash_size(uint8_t code);
/* Update.begin(total): staging address into c->start; 0 or an Updater error. */
int upd__stage_begin(upd_client_ctx *c);
/* Hash and write the c->fill bytes at the start of buf; 0 or the device error code. */
int upd__stage_flush(upd_client_ctx *c);
/* Update.end(): MD5, header re-read, extensions, boot command. Finishes the check. */
void upd__stage_end(upd_client_ctx *c);
/* Records in the port's state areas (enum upd_state_area): a u32 magic first and the
 * CRC-32/MPEG-2 of the bytes before it in the last 4. write: magic 0 writes r as it is
 * (a cleared record); returns the port's result. read: 0 if a record with that magic
 * and a good CRC came, else -1. */
int upd__rec_write(const upd_client_ctx *c, unsigned area, uint8_t *r, uint32_t size,
                   uint32_t magic);
int upd__rec_read(const upd_client_ctx *c, unsigned area, uint8_t *r, uint32_t size,
                  uint32_t magic);
/* Resume record: load at init (1 = a download can be resumed: total, start, received
 * set; the hashes are taken at the end over the flash, nothing to re-run), save, clear. */
int upd__resume_load(upd_client_ctx *c);
/* At a 206: 0 if the record (reloaded) describes the same file as the response; the
 * record's x-MD5 / SHA-256 become the expected hashes. */
int upd__resume_match(upd_client_ctx *c);
void upd__resume_save(upd_client_ctx *c);
#if UPD_CLIENT_WITH_RESUME
void upd__resume_clear(upd_client_ctx *c);
#else
static inline void upd__resume_clear(upd_client_ctx *c)
{
    (void)c; /* no record without resume */
}
#endif

#endif
