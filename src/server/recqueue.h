/* The writer's queue of device records, packed (reccodec.h): first in, first out, in
 * blocks of 64 KB that are allocated as it grows and freed as it empties, so a queue that
 * absorbed a burst gives its memory back. Records are read in order without being taken
 * off (a batch that the database could not write stays at the front) and taken off once
 * written. Not thread-safe: the writer calls it under its lock. */
#ifndef UPD_SERVER_RECQUEUE_H
#define UPD_SERVER_RECQUEUE_H

#include <stddef.h>

#include "store.h"

typedef struct upd_recq upd_recq;

/* NULL when out of memory. */
upd_recq *upd__recq_new(void);
void upd__recq_free(upd_recq *q);

/* The records queued and the bytes they take (their packed form and its length). */
size_t upd__recq_count(const upd_recq *q);
size_t upd__recq_bytes(const upd_recq *q);

/* Append the packed record p (len bytes, from upd__rec_pack: at most 65,535). 0, or -1
 * when out of memory (nothing appended). */
int upd__recq_push(upd_recq *q, const unsigned char *p, size_t len);

/* Copy the first k records (k <= count) as they are queued into *buf (grown with
 * realloc, *cap its size) for upd__recq_unpack outside the lock. Returns the bytes
 * copied, or 0 when out of memory. */
size_t upd__recq_copy(const upd_recq *q, size_t k, unsigned char **buf, size_t *cap);

/* Unpack the records upd__recq_copy copied (len bytes) into out (room for max). Returns
 * the records unpacked (fewer only if buf was not such a copy). */
size_t upd__recq_unpack(const unsigned char *buf, size_t len, upd_record *out, size_t max);

/* Take the first k records (k <= count) off the queue. */
void upd__recq_pop(upd_recq *q, size_t k);

#endif
