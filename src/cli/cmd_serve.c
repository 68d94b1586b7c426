/* `updraft serve`: run the update server (src/server). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "server.h"
#include "store.h"

static void serve_usage(FILE *f)
{
    fprintf(
        f,
        "usage: updraft serve [options]\n"
        "\n"
        "Run the update server: devices update from /update, /fw/<MAC>.bin and\n"
        "/releases/<id>/<name>.bin; operators use the API under /api/v1.\n"
        "\n"
        "  --listen HOST:PORT       address to listen on (default 0.0.0.0:8080; :0 picks a port)\n"
        "  --data DIR               state: database, firmware blobs, admin token\n"
        "                           (default ./updraft-data, created; one server per\n"
        "                           directory: a second one is refused)\n"
        "  --db URL                 keep the database in PostgreSQL instead of SQLite in\n"
        "                           DIR: postgres://USER[:PASS]@HOST[:PORT]/DB (also\n"
        "                           UPDRAFT_DB); several servers may share it\n"
        "                           (docs/scaling.md)\n"
        "  --tls-cert FILE          PEM certificate (chain) for native HTTPS\n"
        "  --tls-key FILE           PEM private key for native HTTPS\n"
        "  --device-auth USER:PASS  HTTP Basic credentials every device must send\n"
        "                           (also UPDRAFT_DEVICE_AUTH)\n"
        "  --device-auth-file FILE  per-device credentials, lines 'MAC USER:PASS'\n"
        "  --threads N              request threads (default: one per CPU)\n"
        "  --connection-limit N     most connections at once (default 16384)\n"
        "  --timeout SECONDS        idle connection timeout (default 90)\n"
        "  --max-upload MIB         largest release upload (default 64)\n"
        "  --keep-events AGE        delete device and admin events older than AGE, e.g.\n"
        "                           90d (default), 12h, 30m, 45s; 'forever' keeps them\n"
        "  --failure-backoff AGES   after a release failed on a device, hold it back for\n"
        "                           the first AGE (0: offer it again at once), after a\n"
        "                           second failure the next...; one failure more stops\n"
        "                           offering it to that device until 'updraft device\n"
        "                           retry MAC' (default 0,15m,2h; 'none': stop at the\n"
        "                           first failure)\n"
        "\n"
        "The admin token comes from UPDRAFT_ADMIN_TOKEN, else DIR/admin-token\n"
        "(generated and printed on first start). SIGTERM or SIGINT stop the server.\n");
}

/* "90d", "12h", "30m", "45s" (or plain seconds) into milliseconds; "forever" = 0. */
static int parse_age(const char *v, int64_t *out)
{
    if (v && !strcmp(v, "forever")) {
        *out = 0;
        return 0;
    }
    char *end;
    unsigned long long x = v ? strtoull(v, &end, 10) : 0;
    if (!v || !*v || end == v || x == 0 || x > 36500ull * 86400ull)
        return -1;
    unsigned long long unit = 1000;
    if (*end == 'd')
        unit = 86400000ull;
    else if (*end == 'h')
        unit = 3600000ull;
    else if (*end == 'm')
        unit = 60000ull;
    else if (*end != 's' && *end != '\0')
        return -1;
    if (*end && end[1])
        return -1;
    if (x * unit > 36500ull * 86400000ull)
        return -1;
    *out = (int64_t)(x * unit);
    return 0;
}

/* "15m,2h" into cfg's back-off steps; "none" = no steps. */
static int parse_backoff(const char *v, upd_server_config *cfg)
{
    int64_t steps[8];
    int n = 0;
    if (!v)
        return -1;
    if (strcmp(v, "none")) {
        char buf[256];
        if (strlen(v) >= sizeof buf)
            return -1;
        strcpy(buf, v);
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (n == 8)
                return -1;
            if (!strcmp(t, "0"))
                steps[n] = 0; /* no wait: offered again at the next check */
            else if (parse_age(t, &steps[n]) != 0 || steps[n] == 0)
                return -1;
            n++;
        }
        if (n == 0 || v[strlen(v) - 1] == ',' || v[0] == ',' || strstr(v, ",,"))
            return -1;
    }
    memcpy(cfg->backoff_ms, steps, (size_t)n * sizeof steps[0]);
    cfg->nbackoff = n;
    return 0;
}

static int parse_uint(const char *opt, const char *v, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long x = v ? strtoul(v, &end, 10) : 0;
    if (!v || !*v || *end || x == 0 || x > max) {
        fprintf(stderr, "updraft serve: %s needs a number from 1 to %lu\n", opt, max);
        return -1;
    }
    *out = x;
    return 0;
}

int upd_cmd_serve(int argc, char **argv)
{
    upd_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.keep_events_ms = 90ll * 86400000ll;
    /* a first failure is often the link or the power: try again at once; then wait */
    cfg.backoff_ms[0] = 0;
    cfg.backoff_ms[1] = 15ll * 60000;
    cfg.backoff_ms[2] = 2ll * 3600000;
    cfg.nbackoff = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long n;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            serve_usage(stdout);
            return 0;
        }
#define TAKE(field)                                                                                \
    do {                                                                                           \
        if (!v) {                                                                                  \
            fprintf(stderr, "updraft serve: %s needs a value\n", a);                               \
            return 2;                                                                              \
        }                                                                                          \
        cfg.field = v;                                                                             \
        i++;                                                                                       \
    } while (0)
        if (!strcmp(a, "--listen"))
            TAKE(listen);
        else if (!strcmp(a, "--data"))
            TAKE(data_dir);
        else if (!strcmp(a, "--db"))
            TAKE(db);
        else if (!strcmp(a, "--tls-cert"))
            TAKE(tls_cert);
        else if (!strcmp(a, "--tls-key"))
            TAKE(tls_key);
        else if (!strcmp(a, "--device-auth"))
            TAKE(device_auth);
        else if (!strcmp(a, "--device-auth-file"))
            TAKE(device_auth_file);
#undef TAKE
        else if (!strcmp(a, "--threads")) {
            if (parse_uint(a, v, 256, &n))
                return 2;
            cfg.threads = (unsigned)n;
            i++;
        } else if (!strcmp(a, "--connection-limit")) {
            if (parse_uint(a, v, 1000000, &n))
                return 2;
            cfg.connection_limit = (unsigned)n;
            i++;
        } else if (!strcmp(a, "--timeout")) {
            if (parse_uint(a, v, 86400, &n))
                return 2;
            cfg.timeout_s = (unsigned)n;
            i++;
        } else if (!strcmp(a, "--keep-events")) {
            if (parse_age(v, &cfg.keep_events_ms) != 0) {
                fprintf(stderr, "updraft serve: --keep-events needs an age like 90d, 12h, 30m "
                                "or 45s (up to 100 years), or 'forever'\n");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--failure-backoff")) {
            if (parse_backoff(v, &cfg) != 0) {
                fprintf(stderr, "updraft serve: --failure-backoff needs ages separated by commas "
                                "like 15m,2h (at most 8, each like 90d, 12h, 30m or 45s), or "
                                "'none'\n");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--max-upload")) {
            if (parse_uint(a, v, 4096, &n))
                return 2;
            cfg.max_upload = (uint64_t)n << 20;
            i++;
        } else {
            fprintf(stderr, "updraft serve: unknown option '%s'\n\n", a);
            serve_usage(stderr);
            return 2;
        }
    }
    if (!cfg.db) {
        const char *env = getenv("UPDRAFT_DB");
        cfg.db = env && *env ? env : NULL;
    }
    if (cfg.db && !upd_store_is_pg_url(cfg.db)) {
        fprintf(stderr,
                "updraft serve: --db (or UPDRAFT_DB) needs a PostgreSQL URL like "
                "postgres://updraft@db.example/updraft, not '%s' (without it the server keeps "
                "its SQLite database in the --data directory)\n",
                cfg.db);
        return 2;
    }
    return upd_server_main(&cfg);
}
