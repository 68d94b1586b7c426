/* `updraft serve`: run the update server (src/server). Its options come from one table:
 * the flags, their --help lines and the keys of the configuration file (--config), so
 * no option can lack a key or a line of help. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "server.h"
#include "store.h"

/* The configuration file the service reads when no --config is given (docs/operations.md
 * "Configuration file"): only when started by systemd, and only if it exists. */
#define UPD_DEFAULT_CONFIG "/etc/updraft/updraft.conf"

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

/* A number from 1 to max; -1 when v is not one. */
static int parse_uint(const char *v, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long x = v ? strtoul(v, &end, 10) : 0;
    if (!v || !*v || *end || x == 0 || x > max || v[0] == '-')
        return -1;
    *out = x;
    return 0;
}

/* Each option's setter: 0 ok, else -1 and what the value should be in err. */
typedef int (*opt_set)(upd_server_config *cfg, const char *v, char *err, size_t errlen);

#define STRING_OPT(fn, field)                                                                      \
    static int fn(upd_server_config *cfg, const char *v, char *err, size_t errlen)                 \
    {                                                                                              \
        (void)err;                                                                                 \
        (void)errlen;                                                                              \
        cfg->field = v;                                                                            \
        return 0;                                                                                  \
    }
STRING_OPT(set_listen, listen)
STRING_OPT(set_data, data_dir)
STRING_OPT(set_tls_cert, tls_cert)
STRING_OPT(set_tls_key, tls_key)
STRING_OPT(set_device_auth, device_auth)
STRING_OPT(set_device_auth_file, device_auth_file)
STRING_OPT(set_metrics_listen, metrics_listen)
STRING_OPT(set_sign_key, sign_key)

static int set_log_format(upd_server_config *cfg, const char *v, char *err, size_t errlen)
{
    if (strcmp(v, "text") && strcmp(v, "json")) {
        snprintf(err, errlen, "needs text or json");
        return -1;
    }
    cfg->log_format = v;
    return 0;
}

static int set_log_level(upd_server_config *cfg, const char *v, char *err, size_t errlen)
{
    if (strcmp(v, "error") && strcmp(v, "warn") && strcmp(v, "info") && strcmp(v, "debug")) {
        snprintf(err, errlen, "needs error, warn, info or debug");
        return -1;
    }
    cfg->log_level = v;
    return 0;
}
#undef STRING_OPT

#define UINT_OPT(fn, max, expr)                                                                    \
    static int fn(upd_server_config *cfg, const char *v, char *err, size_t errlen)                 \
    {                                                                                              \
        unsigned long n;                                                                           \
        if (parse_uint(v, max, &n) != 0) {                                                         \
            snprintf(err, errlen, "needs a number from 1 to %lu", (unsigned long)(max));           \
            return -1;                                                                             \
        }                                                                                          \
        expr;                                                                                      \
        return 0;                                                                                  \
    }
UINT_OPT(set_threads, 256, cfg->threads = (unsigned)n)
UINT_OPT(set_connection_limit, 1000000, cfg->connection_limit = (unsigned)n)
UINT_OPT(set_timeout, 86400, cfg->timeout_s = (unsigned)n)
UINT_OPT(set_per_address, 1000000, cfg->per_address = (unsigned)n)
UINT_OPT(set_head_timeout, 3600, cfg->head_timeout_s = (unsigned)n)
UINT_OPT(set_max_upload, 4096, cfg->max_upload = (uint64_t)n << 20)
#undef UINT_OPT

/* --device-memory: devices whose check-path row is kept in memory; 0 none */
static int set_device_memory(upd_server_config *cfg, const char *v, char *err, size_t errlen)
{
    unsigned long n;
    if (v && !strcmp(v, "0")) {
        cfg->device_memory = -1;
        return 0;
    }
    if (parse_uint(v, 100000000, &n) != 0) {
        snprintf(err, errlen,
                 "needs a number of devices from 0 (none: every check reads the database) to "
                 "100000000");
        return -1;
    }
    cfg->device_memory = (int64_t)n;
    return 0;
}

/* --record-queue: device records the writer's queue holds */
static int set_record_queue(upd_server_config *cfg, const char *v, char *err, size_t errlen)
{
    unsigned long n;
    if (parse_uint(v, 16777216, &n) != 0 || n < 1024) {
        snprintf(err, errlen,
                 "needs a number of device records from 1024 to 16777216 (default 65536)");
        return -1;
    }
    cfg->record_queue = (size_t)n;
    return 0;
}

static int set_db(upd_server_config *cfg, const char *v, char *err, size_t errlen)
{
    if (!upd_store_is_pg_url(v)) {
        snprintf(err, errlen,
                 "needs a PostgreSQL URL like postgres://updraft@db.example/updraft, not '%.80s' "
                 "(without it the server keeps its SQLite database in the data directory)",
                 v);
        return -1;
    }
    cfg->db = v;
    return 0;
}

static int set_keep_events(upd_server_config *cfg, const char *v, char *err, size_t errlen)
{
    if (parse_age(v, &cfg->keep_events_ms) == 0)
        return 0;
    snprintf(err, errlen, "needs an age like 90d, 12h, 30m or 45s (up to 100 years), or 'forever'");
    return -1;
}

static int set_adoption(upd_server_config *cfg, const char *v, char *err, size_t errlen)
{
    if (parse_age(v, &cfg->adoption_ms) == 0 && cfg->adoption_ms >= 1000)
        return 0;
    snprintf(err, errlen, "needs an age of at least 1s like 1h (default), 15m or 10s");
    return -1;
}

/* --session-idle, --session-max: a positive age (dashboard sessions, session.h) */
static int set_session_age(int64_t *out, const char *v, char *err, size_t errlen)
{
    if (strcmp(v, "forever") && parse_age(v, out) == 0)
        return 0;
    snprintf(err, errlen, "needs an age like 12h, 30m, 7d or 45s");
    return -1;
}

static int set_session_idle(upd_server_config *cfg, const char *v, char *err, size_t errlen)
{
    return set_session_age(&cfg->session_idle_ms, v, err, errlen);
}

static int set_session_max(upd_server_config *cfg, const char *v, char *err, size_t errlen)
{
    return set_session_age(&cfg->session_max_ms, v, err, errlen);
}

static int set_backoff(upd_server_config *cfg, const char *v, char *err, size_t errlen)
{
    if (parse_backoff(v, cfg) == 0)
        return 0;
    snprintf(err, errlen,
             "needs ages separated by commas like 15m,2h (at most 8, each like 90d, 12h, 30m "
             "or 45s), or 'none'");
    return -1;
}

/* The options of `updraft serve`: flag, configuration key, value, help (lines after the
 * first are indented under it), setter. */
typedef struct serve_opt {
    const char *flag;
    const char *key;
    const char *arg;
    const char *help;
    opt_set set;
} serve_opt;

static const serve_opt OPTS[] = {
    {"--listen", "listen", "HOST:PORT",
     "address to listen on (default 0.0.0.0:8080; :0 picks a port)", set_listen},
    {"--data", "data", "DIR",
     "state: database, firmware blobs, admin token\n(default ./updraft-data, created; one "
     "server per\ndirectory: a second one is refused)",
     set_data},
    {"--db", "db", "URL",
     "keep the database in PostgreSQL instead of SQLite in\nDIR: postgres://USER@HOST[:PORT]/DB "
     "(also\nUPDRAFT_DB); several servers may share it\n(docs/scaling.md)",
     set_db},
    {"--tls-cert", "tls-cert", "FILE", "PEM certificate (chain) for native HTTPS", set_tls_cert},
    {"--tls-key", "tls-key", "FILE", "PEM private key for native HTTPS", set_tls_key},
    {"--device-auth", "device-auth", "USER:PASS",
     "HTTP Basic credentials every device must send\n(also UPDRAFT_DEVICE_AUTH)", set_device_auth},
    {"--device-auth-file", "device-auth-file", "FILE",
     "per-device credentials, lines 'MAC USER:PASS'", set_device_auth_file},
    {"--sign-key", "sign-key", "FILE",
     "RSA private key (PEM) that signs uploads on request\n('updraft release add --sign'); never "
     "readable\nthrough the API (docs/signing.md)",
     set_sign_key},
    {"--threads", "threads", "N", "request threads (default: one per CPU)", set_threads},
    {"--connection-limit", "connection-limit", "N", "most connections at once (default 16384)",
     set_connection_limit},
    {"--timeout", "timeout", "SECONDS", "idle connection timeout (default 90)", set_timeout},
    {"--max-per-address", "max-per-address", "N",
     "most connections open at once from one address\n(an IPv6 /64 counts as one; default 128)",
     set_per_address},
    {"--head-timeout", "head-timeout", "SECONDS",
     "a request head must arrive complete within this\ntime of the connection (default 10)",
     set_head_timeout},
    {"--max-upload", "max-upload", "MIB", "largest release upload (default 64)", set_max_upload},
    {"--keep-events", "keep-events", "AGE",
     "delete device and admin events older than AGE, e.g.\n90d (default), 12h, 30m, 45s; "
     "'forever' keeps them",
     set_keep_events},
    {"--device-memory", "device-memory", "N",
     "keep what a check reads of a device's row in memory\nfor up to N devices (default "
     "1000000, about 170 B\neach; 0: none): checks of a fleet read no database\n(with --db, "
     "rows other servers write are dropped\nwithin a second)",
     set_device_memory},
    {"--record-queue", "record-queue", "RECORDS",
     "device records waiting to be written that are held in\nmemory (default 65536, up to 1 KB "
     "each): a burst\nwaits in it, a database outage is held in it\n(docs/operations.md)",
     set_record_queue},
    {"--adoption-every", "adoption-every", "AGE",
     "record how many devices run each version this often,\nfor the adoption chart "
     "(default 1h; shorter for\ntests and demos; kept 400 days)",
     set_adoption},
    {"--failure-backoff", "failure-backoff", "AGES",
     "after a release failed on a device, hold it back for\nthe first AGE (0: offer it again at "
     "once), after a\nsecond failure the next...; one failure more stops\noffering it to that "
     "device until 'updraft device\nretry MAC' (default 0,15m,2h; 'none': stop at the\nfirst "
     "failure)",
     set_backoff},
    {"--session-idle", "session-idle", "AGE",
     "a dashboard session unused this long ends (default\n12h; docs/dashboard.md)",
     set_session_idle},
    {"--session-max", "session-max", "AGE",
     "a dashboard session ends this long after sign-in\n(default 7d)", set_session_max},
    {"--log-format", "log-format", "FORMAT",
     "the log on stderr: text (default) or json, one line\nper event", set_log_format},
    {"--log-level", "log-level", "LEVEL",
     "error, warn, info (default) or debug (debug: a line\nper device check)", set_log_level},
    {"--metrics-listen", "metrics-listen", "HOST:PORT",
     "serve /metrics (Prometheus) there without a token,\ne.g. 127.0.0.1:9100 (default: on "
     "--listen, with the\nadmin token)",
     set_metrics_listen},
};
#define NOPTS (sizeof OPTS / sizeof OPTS[0])

static void serve_usage(FILE *f)
{
    fprintf(f, "usage: updraft serve [options]\n"
               "\n"
               "Run the update server: devices update from /update, /fw/<MAC>.bin and\n"
               "/releases/<id>/<name>.bin; operators use the API under /api/v1.\n"
               "\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char head[64];
        snprintf(head, sizeof head, "%s %s", OPTS[i].flag, OPTS[i].arg);
        const char *h = OPTS[i].help;
        int first = 1;
        while (*h) {
            size_t n = strcspn(h, "\n");
            if (first && strlen(head) <= 23)
                fprintf(f, "  %-23s  %.*s\n", head, (int)n, h);
            else if (first)
                fprintf(f, "  %s  %.*s\n", head, (int)n, h);
            else
                fprintf(f, "  %-23s  %.*s\n", "", (int)n, h);
            first = 0;
            h += n;
            if (*h)
                h++;
        }
    }
    fprintf(f, "  --config FILE            read options from FILE first: lines 'key = value',\n"
               "                           '#' comments; each key is an option's name without\n"
               "                           '--' (listen = :8080); options given here win\n"
               "                           (default under systemd: " UPD_DEFAULT_CONFIG ",\n"
               "                           if it exists)\n"
               "  --print-config           print every key of the configuration file with the\n"
               "                           value the options and FILE give it, and exit\n"
               "\n"
               "The bootstrap admin token comes from UPDRAFT_ADMIN_TOKEN, else DIR/admin-token\n"
               "(generated and printed on first start); 'updraft token create' makes named\n"
               "tokens with roles. Failed authentication (admin token, device credentials) is\n"
               "limited per address: after 5 failures, 429 with a delay that doubles up to 5\n"
               "minutes (docs/security.md). SIGTERM or SIGINT stop the server;\n"
               "SIGHUP reloads the TLS certificate and the device credentials.\n");
}

static const serve_opt *find_flag(const char *a)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (!strcmp(a, OPTS[i].flag))
            return &OPTS[i];
    return NULL;
}

/* The values as given (for --print-config), by option; the file's values, owned. */
static const char *given[NOPTS];
static char *owned[NOPTS];
static size_t nowned;

/* Trim spaces and tabs at both ends of s, in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Read the configuration file path into cfg. Every line is 'key = value', a comment
 * ('#' first) or blank; a value may be in double quotes (to keep '#' or spaces at its
 * ends). The file's text is kept (cfg points into it) until the process ends. 0 ok,
 * else an error naming the file and line is on stderr. */
static int read_config(const char *path, upd_server_config *cfg)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "updraft serve: cannot read the configuration file %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    unsigned char seen[NOPTS] = {0};
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            fprintf(stderr, "updraft serve: %s line %d: longer than %zu characters\n", path, lineno,
                    sizeof line - 2);
            rc = -1;
            break;
        }
        line[strcspn(line, "\n")] = '\0';
        char *p = trim(line);
        if (!*p || *p == '#')
            continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            fprintf(stderr,
                    "updraft serve: %s line %d: expected 'key = value' (e.g. 'listen = "
                    ":8080'), got '%.80s'\n",
                    path, lineno, p);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(p), *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = '\0';
            val++;
        } else {
            /* a comment after the value: '#' after a space */
            char *hash = strstr(val, " #");
            if (!hash)
                hash = strstr(val, "\t#");
            if (hash) {
                *hash = '\0';
                val = trim(val);
            }
        }
        const serve_opt *o = NULL;
        for (size_t i = 0; i < NOPTS; i++)
            if (!strcmp(key, OPTS[i].key))
                o = &OPTS[i];
        if (!o) {
            fprintf(stderr,
                    "updraft serve: %s line %d: unknown key '%.80s' (the keys are the options "
                    "of 'updraft serve --help' without '--': 'updraft serve --print-config' "
                    "lists them)\n",
                    path, lineno, key);
            rc = -1;
            break;
        }
        size_t idx = (size_t)(o - OPTS);
        if (seen[idx]) {
            fprintf(stderr, "updraft serve: %s line %d: '%s' is set twice in the file\n", path,
                    lineno, key);
            rc = -1;
            break;
        }
        seen[idx] = 1;
        char *copy = strdup(val); /* cfg points into it until upd_cmd_serve returns */
        char err[256];
        if (!copy) {
            rc = -1;
            break;
        }
        owned[nowned++] = copy;
        if (!*copy || o->set(cfg, copy, err, sizeof err) != 0) {
            fprintf(stderr, "updraft serve: %s line %d: %s %s (got '%.80s')\n", path, lineno, key,
                    *copy ? err : "needs a value", copy);
            rc = -1;
            break;
        }
        given[idx] = copy;
    }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "updraft serve: cannot read the configuration file %s: %s\n", path,
                strerror(errno));
        rc = -1;
    }
    fclose(f);
    return rc;
}

/* --print-config: every key, set ones with their value, the others commented out. */
static void print_config(const char *from)
{
    printf("# updraft serve configuration (updraft serve --config FILE)%s%s\n"
           "# 'key = value' per line; the keys are the options of 'updraft serve --help'.\n",
           from ? ": values from " : "", from ? from : "");
    for (size_t i = 0; i < NOPTS; i++) {
        printf("\n");
        const char *h = OPTS[i].help;
        while (*h) {
            size_t n = strcspn(h, "\n");
            printf("# %.*s\n", (int)n, h);
            h += n;
            if (*h)
                h++;
        }
        if (given[i])
            printf("%s = %s\n", OPTS[i].key, given[i]);
        else
            printf("#%s = %s\n", OPTS[i].key, OPTS[i].arg);
    }
}

static int serve(int argc, char **argv)
{
    upd_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.keep_events_ms = 90ll * 86400000ll;
    /* a first failure is often the link or the power: try again at once; then wait */
    cfg.backoff_ms[0] = 0;
    cfg.backoff_ms[1] = 15ll * 60000;
    cfg.backoff_ms[2] = 2ll * 3600000;
    cfg.nbackoff = 3;
    /* UPDRAFT_DB: under what the configuration file and the options say */
    const char *env_db = getenv("UPDRAFT_DB");
    if (env_db && *env_db) {
        char err[256];
        if (set_db(&cfg, env_db, err, sizeof err) != 0) {
            fprintf(stderr, "updraft serve: UPDRAFT_DB %s\n", err);
            return 2;
        }
    }
    /* first pass: --help, --config, --print-config, unknown options and missing values */
    const char *config = NULL;
    int print = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            serve_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--print-config")) {
            print = 1;
            continue;
        }
        if (strcmp(a, "--config") && !find_flag(a)) {
            fprintf(stderr, "updraft serve: unknown option '%s'\n\n", a);
            serve_usage(stderr);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "updraft serve: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--config"))
            config = argv[i + 1];
        i++;
    }
    /* under systemd (it sets INVOCATION_ID), the packaged file when there is one */
    struct stat st;
    if (!config && getenv("INVOCATION_ID") && stat(UPD_DEFAULT_CONFIG, &st) == 0)
        config = UPD_DEFAULT_CONFIG;
    if (config) {
        if (read_config(config, &cfg) != 0)
            return 2;
        if (!print)
            printf("config: %s\n", config);
    }
    /* second pass: the options, over what the file set */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--print-config"))
            continue;
        if (!strcmp(argv[i], "--config")) {
            i++;
            continue;
        }
        const serve_opt *o = find_flag(argv[i]);
        char err[256];
        if (o->set(&cfg, argv[i + 1], err, sizeof err) != 0) {
            fprintf(stderr, "updraft serve: %s %s\n", o->flag, err);
            return 2;
        }
        given[o - OPTS] = argv[i + 1];
        i++;
    }
    if (print) {
        print_config(config);
        return 0;
    }
    return upd_server_main(&cfg);
}

int upd_cmd_serve(int argc, char **argv)
{
    int rc = serve(argc, argv);
    while (nowned)
        free(owned[--nowned]);
    return rc;
}
