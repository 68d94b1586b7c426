/* Memoised hashes for simulated devices (simmemo.h): recorded streams, matched byte for
 * byte, with the real hash state every 4 KB so that a stream that departs from a record
 * goes on from the state before the first byte that differs. */
#include "simmemo.h"

#include <stdlib.h>
#include <string.h>

#define REFS 8           /* recorded streams kept */
#define STEP 4096u       /* a state is kept after every STEP bytes of a record */
#define MAX  (16u << 20) /* longer streams are not recorded (a record is in memory) */

enum { M_IDLE = 0, M_MATCH, M_RECORD, M_COMPUTE };
enum { R_FREE = 0, R_RECORDING, R_DONE };

/* The hash function the memo stands in front of. */
typedef struct alg {
    size_t state_size, digest_size;
    void (*init)(void *st);
    void (*update)(void *st, const void *p, size_t n);
    void (*final)(void *st, uint8_t *out);
} alg;

/* A recorded stream: its bytes, states[k] = the state after data[0, k * STEP), and its
 * digest once complete. users: computations that are matching it (it is not replaced
 * while one is); gen changes whenever it is. */
typedef struct ref {
    uint8_t *data, *states;
    size_t len, cap, nstates, states_cap;
    uint8_t digest[32];
    int status;
    uint32_t users, gen;
    uint64_t used; /* for replacing the least recently used */
} ref;

struct upd_sim_memo {
    alg a;
    ref refs[REFS];
    uint64_t tick, hits, misses, saved;
};

static void md5_init(void *st)
{
    upd_md5_init(st);
}
static void md5_update(void *st, const void *p, size_t n)
{
    upd_md5_update(st, p, n);
}
static void md5_final(void *st, uint8_t *out)
{
    upd_md5_final(st, out);
}
static void sha_init(void *st)
{
    upd_sha256_init(st);
}
static void sha_update(void *st, const void *p, size_t n)
{
    upd_sha256_update(st, p, n);
}
static void sha_final(void *st, uint8_t *out)
{
    upd_sha256_final(st, out);
}

static upd_sim_memo *memo_new(alg a)
{
    upd_sim_memo *m = calloc(1, sizeof *m);
    if (m)
        m->a = a;
    return m;
}

upd_sim_memo *upd_sim_memo_new_md5(void)
{
    return memo_new((alg){sizeof(upd_md5), 16, md5_init, md5_update, md5_final});
}

upd_sim_memo *upd_sim_memo_new_sha256(void)
{
    return memo_new((alg){sizeof(upd_sha256), 32, sha_init, sha_update, sha_final});
}

void upd_sim_memo_free(upd_sim_memo *m)
{
    if (!m)
        return;
    for (int i = 0; i < REFS; i++) {
        free(m->refs[i].data);
        free(m->refs[i].states);
    }
    free(m);
}

void upd_sim_memo_stats(const upd_sim_memo *m, uint64_t *hits, uint64_t *misses,
                        uint64_t *bytes_saved)
{
    *hits = m->hits;
    *misses = m->misses;
    *bytes_saved = m->saved;
}

static void ref_reset(ref *r)
{
    r->status = R_FREE;
    r->len = 0;
    r->nstates = 0;
    r->gen++;
}

/* Append n bytes (and nothing else) to a record; -1 when it would grow beyond MAX or
 * memory runs out. */
static int ref_append(ref *r, const uint8_t *p, size_t n)
{
    if (r->len + n > MAX)
        return -1;
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 65536;
        while (cap < r->len + n)
            cap *= 2;
        uint8_t *d = realloc(r->data, cap);
        if (!d)
            return -1;
        r->data = d;
        r->cap = cap;
    }
    memcpy(r->data + r->len, p, n);
    r->len += n;
    return 0;
}

static int ref_keep_state(ref *r, const void *st, size_t size)
{
    if (r->nstates == r->states_cap) {
        size_t cap = r->states_cap ? r->states_cap * 2 : 128;
        uint8_t *s = realloc(r->states, cap * size);
        if (!s)
            return -1;
        r->states = s;
        r->states_cap = cap;
    }
    memcpy(r->states + r->nstates * size, st, size);
    r->nstates++;
    return 0;
}

/* The computation stops using its record (matching or recording). */
static void let_go(upd_sim_memo *m, upd_sim_memo_ctx *c)
{
    if (c->ref >= 0) {
        ref *r = &m->refs[c->ref];
        if (c->mode == M_MATCH && r->gen == c->gen && r->users)
            r->users--;
        if (c->mode == M_RECORD && r->gen == c->gen)
            ref_reset(r); /* abandoned half way: not a stream anyone finished */
    }
    c->ref = -1;
}

/* A matching computation meets bytes its record does not have: the real state after
 * the bytes fed so far (all equal to the record's), from the last kept state before. */
static void depart(upd_sim_memo *m, upd_sim_memo_ctx *c)
{
    const alg *a = &m->a;
    ref *r = &m->refs[c->ref];
    size_t k = c->pos / STEP;
    memcpy(c->state, r->states + k * a->state_size, a->state_size);
    if (c->pos > k * STEP)
        a->update(c->state, r->data + k * STEP, c->pos - k * STEP);
    m->saved += k * STEP;
    let_go(m, c);
    c->mode = M_COMPUTE;
    m->misses++;
}

/* Start recording into a free record, or the least recently used one nobody matches.
 * 0, or -1 when there is none (then the computation just computes). */
static int start_record(upd_sim_memo *m, upd_sim_memo_ctx *c)
{
    int best = -1;
    for (int i = 0; i < REFS; i++) {
        ref *r = &m->refs[i];
        if (r->status == R_FREE) {
            best = i;
            break;
        }
        if (r->status == R_DONE && !r->users && (best < 0 || r->used < m->refs[best].used))
            best = i;
    }
    if (best < 0)
        return -1;
    ref *r = &m->refs[best];
    ref_reset(r);
    m->a.init(c->state);
    if (ref_keep_state(r, c->state, m->a.state_size) != 0) {
        ref_reset(r);
        return -1;
    }
    r->status = R_RECORDING;
    r->used = ++m->tick;
    c->ref = (int8_t)best;
    c->gen = r->gen;
    c->mode = M_RECORD;
    m->misses++;
    return 0;
}

/* Feed n bytes to a recording computation: hashed in pieces that end at every STEP
 * boundary, the state kept there. */
static void record(upd_sim_memo *m, upd_sim_memo_ctx *c, const uint8_t *p, size_t n)
{
    const alg *a = &m->a;
    ref *r = &m->refs[c->ref];
    if (ref_append(r, p, n) != 0) {
        let_go(m, c);
        c->mode = M_COMPUTE;
        a->update(c->state, p, n);
        return;
    }
    while (n) {
        size_t room = STEP - c->pos % STEP, k = n < room ? n : room;
        a->update(c->state, p, k);
        c->pos += (uint32_t)k;
        p += k;
        n -= k;
        if (c->pos % STEP == 0 && ref_keep_state(r, c->state, a->state_size) != 0) {
            let_go(m, c);
            c->mode = M_COMPUTE;
            a->update(c->state, p, n);
            return;
        }
    }
}

static void memo_init(void *ctx)
{
    upd_sim_memo_ctx *c = ctx;
    let_go(c->memo, c);
    c->mode = M_MATCH;
    c->pos = 0;
}

static void memo_update(void *ctx, const void *data, size_t n)
{
    upd_sim_memo_ctx *c = ctx;
    upd_sim_memo *m = c->memo;
    const uint8_t *p = data;
    if (!n)
        return;
    if (c->mode == M_IDLE) /* update without init: as the function does, on its state */
        c->mode = M_COMPUTE;
    if (c->mode == M_MATCH && c->ref < 0) {
        /* the first bytes choose the record to follow */
        for (int i = 0; i < REFS; i++) {
            ref *r = &m->refs[i];
            if (r->status == R_DONE && r->len >= n && !memcmp(r->data, p, n)) {
                c->ref = (int8_t)i;
                c->gen = r->gen;
                r->users++;
                r->used = ++m->tick;
                break;
            }
        }
        if (c->ref < 0) {
            if (start_record(m, c) != 0) {
                c->mode = M_COMPUTE;
                m->misses++;
                m->a.init(c->state);
            }
        } else {
            c->pos = (uint32_t)n;
            return;
        }
    } else if (c->mode == M_MATCH) {
        const ref *r = &m->refs[c->ref];
        if (c->pos + n <= r->len && !memcmp(r->data + c->pos, p, n)) {
            c->pos += (uint32_t)n;
            return;
        }
        depart(m, c);
    }
    if (c->mode == M_RECORD)
        record(m, c, p, n);
    else
        m->a.update(c->state, p, n);
}

static void memo_final(void *ctx, uint8_t *out)
{
    upd_sim_memo_ctx *c = ctx;
    upd_sim_memo *m = c->memo;
    const alg *a = &m->a;
    if (c->mode == M_MATCH && c->ref < 0) {
        a->init(c->state); /* nothing fed */
        c->mode = M_COMPUTE;
    }
    if (c->mode == M_MATCH) {
        ref *r = &m->refs[c->ref];
        if (c->pos == r->len) {
            memcpy(out, r->digest, a->digest_size);
            m->hits++;
            m->saved += r->len;
            let_go(m, c);
            c->mode = M_IDLE;
            return;
        }
        depart(m, c); /* a prefix of the record */
    }
    a->final(c->state, out);
    if (c->mode == M_RECORD) {
        ref *r = &m->refs[c->ref];
        memcpy(r->digest, out, a->digest_size);
        r->status = R_DONE;
        c->ref = -1;
    }
    c->mode = M_IDLE;
}

static void ctx_init(upd_sim_memo_ctx *c, upd_sim_memo *m, void *state)
{
    c->memo = m;
    c->state = state;
    c->pos = 0;
    c->gen = 0;
    c->ref = -1;
    c->mode = M_IDLE;
}

void upd_sim_memo_md5_ops(upd_md5_ops *ops, upd_sim_memo_ctx *c, upd_sim_memo *m, upd_md5 *state)
{
    ctx_init(c, m, state);
    ops->init = memo_init;
    ops->update = memo_update;
    ops->final = memo_final;
    ops->ctx = c;
}

void upd_sim_memo_sha256_ops(upd_sha256_ops *ops, upd_sim_memo_ctx *c, upd_sim_memo *m,
                             upd_sha256 *state)
{
    ctx_init(c, m, state);
    ops->init = memo_init;
    ops->update = memo_update;
    ops->final = memo_final;
    ops->ctx = c;
}
