/* The database lost: readiness sentence and metrics (outage.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "outage.h"
#include "writer.h"

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Is the database reachable? since: when it was lost (wall ms), why its last words. */
static int reachable(srv *s, int64_t *since, char *why, size_t cap)
{
    *since = 0;
    if (cap)
        why[0] = '\0';
    const upd_store_ops *o = s->store->ops;
    return !o->reachable || o->reachable(s->store, since, why, cap);
}

int upd__outage_say(srv *s, char *out, size_t cap)
{
    int64_t since;
    char why[256];
    if (reachable(s, &since, why, sizeof why))
        return 0;
    size_t n = strlen(out);
    if (n >= cap)
        return 1;
    int64_t secs = since ? (wall_ms() - since + 500) / 1000 : 0;
    size_t held = s->writer ? upd_writer_held(s->writer, NULL) : 0;
    snprintf(out + n, cap - n,
             "the database cannot be reached (for %lld s: %.200s): checks are answered from "
             "the cache, %zu device records are held until it is back, %llu dropped since "
             "start; reconnecting every second\n",
             (long long)secs, why[0] ? why : "connection lost", held,
             (unsigned long long)(s->writer ? upd_writer_dropped(s->writer) : 0));
    return 1;
}

static void collect(FILE *f, void *ctx)
{
    srv *s = ctx;
    int64_t since;
    char why[8];
    int up = reachable(s, &since, why, sizeof why);
    fprintf(f,
            "# HELP updraft_database_reachable 1 when the database answers, 0 while it cannot "
            "be reached (checks are answered from the cache, records held).\n"
            "# TYPE updraft_database_reachable gauge\nupdraft_database_reachable %d\n",
            up);
    fprintf(f,
            "# HELP updraft_database_unreachable_seconds How long the database has not been "
            "reachable, 0 when it is.\n"
            "# TYPE updraft_database_unreachable_seconds gauge\n"
            "updraft_database_unreachable_seconds %.3f\n",
            up || !since ? 0.0 : (double)(wall_ms() - since) / 1000.0);
    fprintf(f,
            "# HELP updraft_held_records Device records held while the database cannot be "
            "reached, written when it is back (beyond the queue's bound they are dropped: "
            "updraft_dropped_records_total).\n"
            "# TYPE updraft_held_records gauge\nupdraft_held_records %zu\n",
            s->writer ? upd_writer_held(s->writer, NULL) : 0);
    fprintf(f,
            "# HELP updraft_cache_stale_answers_total Store reads on the check path answered "
            "from the cache past its freshness because the database failed.\n"
            "# TYPE updraft_cache_stale_answers_total counter\n"
            "updraft_cache_stale_answers_total %llu\n",
            (unsigned long long)upd_store_cached_stale(s->store));
    if (!s->store->ops->leads)
        return; /* no other server (SQLite) */
    upd_store_told t;
    upd_store_cached_told(s->store, &t);
    fprintf(
        f,
        "# HELP updraft_other_server_changes_total Other servers' admin changes this "
        "server was told of (PostgreSQL NOTIFY), by what they changed: anything (every "
        "cached row and the device memory dropped; also counted at start and when the "
        "database is reached again), not_devices (releases, channels, rollouts: the read caches "
        "dropped, the device memory kept), devices (one per device named: those "
        "dropped).\n"
        "# TYPE updraft_other_server_changes_total counter\n"
        "updraft_other_server_changes_total{changed=\"anything\"} %llu\n"
        "updraft_other_server_changes_total{changed=\"not_devices\"} %llu\n"
        "updraft_other_server_changes_total{changed=\"devices\"} %llu\n",
        (unsigned long long)t.anything, (unsigned long long)t.not_devices,
        (unsigned long long)t.devices);
}

void upd__outage_init(srv *s)
{
    upd__metrics_register(collect, s);
}
