/* `updraft serve`: the update server (device endpoints, admin API, device registry). */
#ifndef UPD_SERVER_SERVER_H
#define UPD_SERVER_SERVER_H

#include <stdint.h>

typedef struct upd_server_config {
    const char *listen;   /* "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT"; NULL: 0.0.0.0:8080 */
    const char *data_dir; /* NULL: ./updraft-data */
    const char *db;       /* PostgreSQL URL; NULL: SQLite in data_dir (updraft.db) */
    const char *tls_cert; /* PEM files for native HTTPS; both or neither */
    const char *tls_key;
    const char *device_auth;      /* "USER:PASSWORD" every device must send (HTTP Basic) */
    const char *device_auth_file; /* lines "MAC USER:PASSWORD": per-device credentials */
    const char *metrics_listen;   /* "HOST:PORT" for /metrics without a token; NULL: /metrics
                                   * on the main address, with the admin token */
    const char *log_format;       /* "text" (NULL) or "json" (log.h) */
    const char *log_level;        /* "error", "warn", "info" (NULL) or "debug" */
    const char *sign_key;         /* private key PEM: signs uploads on request (sigrule.h) */
    unsigned threads;             /* request threads; 0: number of CPUs (at least 2) */
    unsigned connection_limit;    /* 0: 16384 */
    unsigned timeout_s;           /* idle connection timeout; 0: 90 */
    unsigned per_address;         /* open connections per address; 0: 128 (connguard.h) */
    unsigned head_timeout_s;      /* seconds for a request head; 0: 10 (connguard.h) */
    uint64_t max_upload;          /* largest upload accepted, bytes; 0: 64 MiB */
    int64_t keep_events_ms;       /* delete events older than this; 0 keeps them all */
    int64_t session_idle_ms;      /* a dashboard session ends unused this long; 0: 12 h */
    int64_t session_max_ms;       /* ... and this long after sign-in at the latest; 0: 7 d */
    /* back-off after a release failed on a device: step k waits backoff_ms[k-1]; a
     * failure after the last step stops offers until `device retry` (outcome.h) */
    int64_t backoff_ms[8];
    int nbackoff;
    int64_t adoption_ms; /* an adoption snapshot this often (adoption.h); 0: hourly */
    /* devices whose check-path row is kept in memory (devmem.h; SQLite only): 0 the
     * default (UPD_DEVMEM_DEFAULT), -1 none (every check reads the database) */
    int64_t device_memory;
    /* the writer's queue of device records, records (writer.h); 0: the default */
    size_t record_queue;
} upd_server_config;

/* Run the server until SIGTERM or SIGINT. Prints where it listens and the admin token
 * information on stdout, errors on stderr. Returns a process exit status (0 after a
 * clean shutdown, 1 when it could not start). */
int upd_server_main(const upd_server_config *cfg);

#endif
