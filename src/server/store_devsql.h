/* The SQL of a device listing (upd_device_filter, store.h) for both store backends: the
 * conditions the filter has (and only those: a listing of every device is a plain scan of
 * an index, a count a plain count), the keyset condition of `after`, the order and the
 * page. Part of the backends (SQL only, no fleet rule): store_sqlite.c and store_pg.c
 * build their device listings, counts and version tallies with it, each in its dialect.
 * The statement's parameters are collected in order; the backend binds them. */
#ifndef UPD_SERVER_STORE_DEVSQL_H
#define UPD_SERVER_STORE_DEVSQL_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define UPD_DEVSQL_PARAMS 320 /* 256 filter values and the plain fields, keyset, page */
/* The patterns made from a filter's values (4096 bytes of text at most, filter.h): a MAC
 * part twice with colons (3 bytes a character at most), a tag's escaped for LIKE (2), and
 * a few bytes around each value */
#define UPD_DEVSQL_SCRATCH (4 * 4096 + UPD_DEVSQL_PARAMS * 8)

enum { UPD_DEVSQL_SQLITE, UPD_DEVSQL_PG };

enum {
    UPD_DEVSQL_LIST,     /* SELECT <cols> ... ORDER BY ... LIMIT ... OFFSET ... */
    UPD_DEVSQL_COUNT,    /* SELECT count(*) ... */
    UPD_DEVSQL_VERSIONS, /* SELECT version, count(*) ... GROUP BY version */
    UPD_DEVSQL_DISTINCT  /* the versions devices run, from the index alone, f unused */
};

typedef struct upd_devsql_param {
    int is_text;
    const char *text; /* not copied: lives as long as the filter */
    int64_t num;
} upd_devsql_param;

typedef struct upd_devsql {
    char *sql; /* malloc'd, NUL-terminated */
    int nparam;
    upd_devsql_param param[UPD_DEVSQL_PARAMS];
    char scratch[UPD_DEVSQL_SCRATCH]; /* parameters made here (MAC and LIKE patterns) */
    size_t used;
} upd_devsql;

/* Build into *q (its sql freed by upd__devsql_free) the statement of kind for f (NULL:
 * every device), selecting cols (LIST only: the backend's column list) from table
 * devices, in dialect. narrow (SQLite): the MAC and tag conditions as a set of rowids
 * read from their small indexes, which the plan then starts from: right when they select
 * few devices (a search), wrong when they select many (the order's index is read then,
 * stopping at the page's end). narrow (PostgreSQL): devices has the trigram index of the
 * MACs (store_pg.c pg-migration 3): a search by a part of a MAC is read from devices
 * (the index finds its matches), not from every device_seen row. 0, or -1 (out of
 * memory, too many values). */
int upd__devsql_build(upd_devsql *q, int dialect, int kind, const char *cols,
                      const upd_device_filter *f, int narrow);

/* 1 when f has a MAC or tag condition (where narrow makes a difference). */
int upd__devsql_searches(const upd_device_filter *f);

void upd__devsql_free(upd_devsql *q);

#endif
