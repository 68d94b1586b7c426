/* A target filter (filter.h) compiled into the conditions the store evaluates in SQL
 * (store.h upd_device_cond): what the rule is stays here, above the store; the store only
 * compares columns. Version terms (updraft's version order, docs/versions.md) become the
 * set of the version strings devices sent that satisfy them, read from the store's tally
 * of versions; seen terms become times. A chip term cannot be said in SQL (the chip comes
 * from the image a device runs, chip.h): a filter with one is marked residual, and the
 * caller matches the rows the conditions select with upd__filter_match. */
#ifndef UPD_SERVER_DEVQUERY_H
#define UPD_SERVER_DEVQUERY_H

#include <stddef.h>
#include <stdint.h>

#include "filter.h"
#include "store.h"

/* The most version strings the version terms of one filter may stand for in SQL; beyond
 * it (a fleet of very many versions) the terms are matched above the store instead. */
#define UPD_DEVQUERY_VERSIONS 240

typedef struct upd_devquery {
    upd_device_cond cond[UPD_FILTER_TERMS + 8];
    int ncond;
    int residual; /* 1: rows the conditions select must still pass upd__filter_match */
    int64_t num[UPD_FILTER_VALUES];
    const char *text[UPD_FILTER_VALUES + UPD_DEVQUERY_VERSIONS];
    int ntext;
    char *vbuf; /* the versions devices run, NUL-separated (malloc'd) */
    size_t vlen, vcap;
    size_t *voff; /* where each starts in vbuf (malloc'd) */
    int nv, nvcap;
} upd_devquery;

/* Compile f (NULL or empty: no condition) into *q, with the current time now_ms for seen
 * terms, reading the versions devices run from st when f has a version term. The
 * conditions point into f and q: both must outlive their use. 0, or a UPD_STORE_* error.
 * upd__devquery_free releases q in every case. */
int upd__devquery_compile(upd_store *st, const upd_filter *f, int64_t now_ms, upd_devquery *q);

void upd__devquery_free(upd_devquery *q);

#endif
