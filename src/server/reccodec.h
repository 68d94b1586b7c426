/* Device records (store.h upd_record) packed for the writer's queue. A record is a fixed
 * struct of about 2.9 KB, most of it text fields sized for their longest value; a real
 * check-in uses a tenth of that. Packed, each text field is its length and its bytes and
 * each number a variable-length integer, so the queue holds ten times the records in the
 * same memory and absorbs a fleet's burst (docs/operations.md "The record queue").
 * upd__rec_unpack(upd__rec_pack(r)) gives r back exactly (text up to its NUL). */
#ifndef UPD_SERVER_RECCODEC_H
#define UPD_SERVER_RECCODEC_H

#include <stddef.h>

#include "store.h"

/* The most bytes a record can pack to (every text field full, every number at its
 * largest), and a bound of it for buffers on the stack. */
size_t upd__rec_packed_max(void);
#define UPD_REC_PACKED_MAX (sizeof(upd_record) + 512)

/* Pack r into out (cap bytes, at least upd__rec_packed_max() is always enough).
 * Returns the bytes written, 0 when cap is too small. */
size_t upd__rec_pack(const upd_record *r, unsigned char *out, size_t cap);

/* Unpack the record at in (len bytes available) into r (every field set). Returns the
 * bytes it took, 0 when in does not hold a whole packed record. */
size_t upd__rec_unpack(const unsigned char *in, size_t len, upd_record *r);

#endif
