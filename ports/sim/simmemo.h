/* Memoised hashes for simulated devices (host side: allocates). A fleet's devices hash
 * the same bytes again and again (every device reads back the same downloaded image, and
 * boots the same one): computing MD5 and SHA-256 over every simulated byte took most of
 * `updraft sim`'s CPU. A memo records whole streams it has hashed (the bytes, the state
 * after every 4 KB, the digest); a later computation whose bytes are the same, compared
 * byte for byte (memcmp), gets the recorded digest. At the first byte that differs (a
 * flipped bit, a weak write, another image) it takes the recorded state from before that
 * point and goes on computing with the real function: the digest is always the one the
 * function gives for the bytes fed, only the work is saved. The computing is done by the
 * device crypto library (updraft/md5.h, updraft/sha256.h) in the device's own state.
 * docs/sim.md "What a simulated device costs". */
#ifndef UPD_SIMMEMO_H
#define UPD_SIMMEMO_H

#include <stdint.h>

#include "updraft/md5.h"
#include "updraft/sha256.h"

typedef struct upd_sim_memo upd_sim_memo;

/* One device's computation in a memo (caller-owned, zeroed or set by the ops_init
 * functions; one per device and hash, as the port's hash state is). */
typedef struct upd_sim_memo_ctx {
    upd_sim_memo *memo;
    void *state;  /* the real hash state (the device's upd_md5 / upd_sha256) */
    uint32_t pos; /* bytes fed so far */
    uint32_t gen; /* the reference's generation when it was taken */
    int8_t ref;   /* the recorded stream matched or being recorded, -1 none */
    uint8_t mode; /* idle, matching, recording, computing */
} upd_sim_memo_ctx;

/* A memo of MD5 or of SHA-256 computations (one of each per fleet, one thread). NULL when
 * out of memory. */
upd_sim_memo *upd_sim_memo_new_md5(void);
upd_sim_memo *upd_sim_memo_new_sha256(void);
void upd_sim_memo_free(upd_sim_memo *m);

/* Point a port's hash ops at the memo, with c as the computation and state as the real
 * hash state (both outlive the ops). Digests are the same as upd_md5_ops_init(ops, state)
 * gives for every sequence of calls. */
void upd_sim_memo_md5_ops(upd_md5_ops *ops, upd_sim_memo_ctx *c, upd_sim_memo *m, upd_md5 *state);
void upd_sim_memo_sha256_ops(upd_sha256_ops *ops, upd_sim_memo_ctx *c, upd_sim_memo *m,
                             upd_sha256 *state);

/* Computations answered from a record (hits), computed (misses), and bytes not hashed. */
void upd_sim_memo_stats(const upd_sim_memo *m, uint64_t *hits, uint64_t *misses,
                        uint64_t *bytes_saved);

#endif
