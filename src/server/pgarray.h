/* PostgreSQL array literals ("{\"a\",NULL,\"b\\\"c\"}"), built one element at a time: the
 * text form of an array parameter, so that one prepared statement takes any number of
 * rows (INSERT ... SELECT ... FROM unnest($1::text[], $2::bigint[], ...)). The PostgreSQL
 * store writes the writer thread's batches this way (store_pg.c). No libpq needed. */
#ifndef UPD_SERVER_PGARRAY_H
#define UPD_SERVER_PGARRAY_H

#include <stddef.h>
#include <stdint.h>

typedef struct upd_pgarr {
    char *buf; /* "{" elements..., the closing "}" added by upd__pgarr_text */
    size_t len, cap;
    size_t n;   /* elements */
    int failed; /* out of memory: upd__pgarr_text returns NULL */
} upd_pgarr;

/* An empty array. upd__pgarr_free releases its memory; upd__pgarr_clear empties it and
 * keeps the memory for the next one. Freeing a zeroed or freed one is harmless. */
void upd__pgarr_init(upd_pgarr *a);
void upd__pgarr_clear(upd_pgarr *a);
void upd__pgarr_free(upd_pgarr *a);

/* Append one element. str: s as a quoted string ('"' and '\' escaped), NULL gives SQL
 * NULL; bytes that are not UTF-8 become '?' (the store sends text as UTF-8).
 * str_or_null: "" is NULL too. int: a number; int_or_null: NULL when v < 0. */
void upd__pgarr_str(upd_pgarr *a, const char *s);
void upd__pgarr_str_or_null(upd_pgarr *a, const char *s);
void upd__pgarr_int(upd_pgarr *a, int64_t v);
void upd__pgarr_int_or_null(upd_pgarr *a, int64_t v);
void upd__pgarr_null(upd_pgarr *a);

/* The literal, NUL-terminated, valid until the next change of a; NULL when memory ran
 * out on the way (the statement must not run with a part of its rows). */
const char *upd__pgarr_text(upd_pgarr *a);

#endif
