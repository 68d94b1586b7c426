/* The writer's record queue (see recqueue.h). A block holds records one after another,
 * each as two bytes of length (little-endian) and the packed record. Records are added
 * at the last block's end, a new block started when one does not fit; read and taken from
 * the first block's start (head), which is freed once read to its end. One empty block
 * is kept for the next burst rather than freed and allocated again. */
#include <stdlib.h>
#include <string.h>

#include "reccodec.h"
#include "recqueue.h"

#define BLOCK_BYTES 65536

typedef struct block {
    struct block *next;
    size_t head; /* the first record not taken */
    size_t used; /* the end of the last record */
    unsigned char data[BLOCK_BYTES];
} block;

struct upd_recq {
    block *first, *last, *spare;
    size_t count, bytes;
};

upd_recq *upd__recq_new(void)
{
    return calloc(1, sizeof(upd_recq));
}

void upd__recq_free(upd_recq *q)
{
    if (!q)
        return;
    for (block *b = q->first, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(q->spare);
    free(q);
}

size_t upd__recq_count(const upd_recq *q)
{
    return q->count;
}

size_t upd__recq_bytes(const upd_recq *q)
{
    return q->bytes;
}

static block *new_block(upd_recq *q)
{
    block *b = q->spare;
    if (b)
        q->spare = NULL;
    else if (!(b = malloc(sizeof *b)))
        return NULL;
    b->next = NULL;
    b->head = b->used = 0;
    return b;
}

int upd__recq_push(upd_recq *q, const unsigned char *p, size_t len)
{
    if (len > 0xffff)
        return -1;
    block *b = q->last;
    if (!b || BLOCK_BYTES - b->used < 2 + len) {
        block *nb = new_block(q);
        if (!nb)
            return -1;
        if (b)
            b->next = nb;
        else
            q->first = nb;
        q->last = b = nb;
    }
    b->data[b->used] = (unsigned char)(len & 0xff);
    b->data[b->used + 1] = (unsigned char)(len >> 8);
    memcpy(b->data + b->used + 2, p, len);
    b->used += 2 + len;
    q->count++;
    q->bytes += 2 + len;
    return 0;
}

static size_t rec_len(const block *b, size_t at)
{
    return 2 + (b->data[at] | (size_t)b->data[at + 1] << 8);
}

size_t upd__recq_copy(const upd_recq *q, size_t k, unsigned char **buf, size_t *cap)
{
    size_t n = 0;
    const block *b = q->first;
    size_t at = b ? b->head : 0;
    for (size_t i = 0; i < k && b; i++) {
        if (at == b->used) {
            b = b->next;
            if (!b)
                break;
            at = b->head;
        }
        size_t len = rec_len(b, at);
        if (*cap - n < len) {
            size_t nc = *cap ? *cap * 2 : BLOCK_BYTES;
            while (nc - n < len)
                nc *= 2;
            unsigned char *nb = realloc(*buf, nc);
            if (!nb)
                return 0;
            *buf = nb;
            *cap = nc;
        }
        memcpy(*buf + n, b->data + at, len);
        n += len;
        at += len;
    }
    return n;
}

size_t upd__recq_unpack(const unsigned char *buf, size_t len, upd_record *out, size_t max)
{
    size_t n = 0, at = 0;
    while (n < max && len - at >= 2) {
        size_t rl = buf[at] | (size_t)buf[at + 1] << 8;
        if (len - at - 2 < rl || upd__rec_unpack(buf + at + 2, rl, &out[n]) != rl)
            break;
        at += 2 + rl;
        n++;
    }
    return n;
}

/* Free the blocks at the front that were read to their end (the last one is emptied for
 * reuse instead). */
static void drop_read(upd_recq *q)
{
    while (q->first && q->first->head == q->first->used) {
        block *b = q->first;
        if (b == q->last) {
            b->head = b->used = 0;
            return;
        }
        q->first = b->next;
        if (q->spare)
            free(b);
        else
            q->spare = b;
    }
}

void upd__recq_pop(upd_recq *q, size_t k)
{
    for (; k && q->count; k--) {
        drop_read(q);
        block *b = q->first;
        size_t len = rec_len(b, b->head);
        b->head += len;
        q->bytes -= len;
        q->count--;
    }
    drop_read(q);
}
