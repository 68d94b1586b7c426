/* What a server shows while it cannot reach its database (a PostgreSQL server that went
 * away): devices are answered from the read cache (store_cache.c), their records held by
 * the writer (writer.h upd_writer_held) and the store reconnects by itself (store.h
 * reachable). This module says so: the /readyz sentence and the metrics
 * (docs/scaling.md "Losing the database"). */
#ifndef UPD_SERVER_OUTAGE_H
#define UPD_SERVER_OUTAGE_H

#include <stddef.h>

#include "srv.h"

/* Register the metrics of server s (updraft_database_reachable,
 * updraft_database_unreachable_seconds, updraft_held_records,
 * updraft_cache_stale_answers_total). Once, before the server answers. */
void upd__outage_init(srv *s);

/* 1 when the database of s cannot be reached, with a sentence (ending in a newline) about
 * it appended to out (cap bytes: the whole buffer); else 0, out unchanged. */
int upd__outage_say(srv *s, char *out, size_t cap);

#endif
