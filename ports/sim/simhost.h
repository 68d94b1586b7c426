/* The host side of the simulator (allocates; not for devices): a page pool that shares
 * identical flash sectors between devices (so a fleet of 10,000 simulated devices with
 * the same firmware costs a few KB each), eboot's inflater (zlib), a monotonic clock,
 * and a maker of synthetic factory images (what devices run before an update). */
#ifndef UPD_SIMHOST_H
#define UPD_SIMHOST_H

#include <stdint.h>

#include "sim.h"

typedef struct upd_sim_host upd_sim_host;

/* A pool and everything else upd_sim_env needs. share: 1 to dedupe pages on
 * upd_sim_intern(), 0 to keep every page private. NULL when out of memory. */
upd_sim_host *upd_sim_host_new(int share);
void upd_sim_host_free(upd_sim_host *h);
/* The environment to give to upd_sim_init() (valid until upd_sim_host_free). */
const upd_sim_env *upd_sim_host_env(upd_sim_host *h);

/* Pages in use: private (one device's) and shared (interned), and bytes they take. */
void upd_sim_host_pages(const upd_sim_host *h, uint64_t *priv, uint64_t *shared);

/* Make shared pages of an image (n = roundup(len, 4096) / 4096 pages into pages[];
 * the caller keeps one reference of each until upd_sim_host_unshare). */
int upd_sim_host_share(upd_sim_host *h, const uint8_t *img, uint32_t len, uint8_t **pages,
                       uint32_t n);
void upd_sim_host_unshare(upd_sim_host *h, uint8_t **pages, uint32_t n);

/* A synthetic factory image for a platform: ESP8266 Arduino .bin (eboot padded to
 * 0x1000 + an app of 5 segments) or ESP32 app (app description with version, appended
 * SHA-256), flash mode DIO, size code size_code, code_len bytes of pseudo-random code
 * from seed. Returns the length, or -1 if it does not fit in cap. */
int32_t upd_sim_make_image(int platform, uint8_t size_code, uint8_t *buf, uint32_t cap,
                           uint32_t code_len, uint32_t seed, const char *version);

/* Milliseconds of CLOCK_MONOTONIC. */
uint32_t upd_sim_host_ms(void *ctx);

#endif
