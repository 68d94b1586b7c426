/* `updraft db migrate` (store_migrate.h): the SQLite database's tables copied into
 * PostgreSQL with COPY, the data directory's firmware files into the blob tables, all in
 * one PostgreSQL transaction that is committed only after every count and every hash
 * was checked. SQL of both backends, nothing else: the rows are moved as they are. */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <libpq-fe.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "datalock.h"
#include "hexsum.h"
#include "store.h"
#include "store_migrate.h"
#include "utf8.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* Blob chunk size, as store_pg.c writes them (its reader takes chunks of any size). */
#define CHUNK (1 << 20)

/* Tables in the order they are copied (a release before what refers to it); a table of
 * the SQLite database not named here comes after them, copied the same way. */
static const char *const ORDER[] = {
    "releases",      "release_hashes",  "release_gzip", "channels",
    "channel_chips", "channel_keys",    "devices",      "api_tokens",
    "rollouts",      "rollout_devices", "events",
};

typedef struct mig {
    sqlite3 *lite;
    PGconn *pg;
    const char *data;
    char shown[1024]; /* the URL without its password */
    char *err;
    size_t errlen;
    upd_migrate_summary *sum;
} mig;

/* ---- PostgreSQL ------------------------------------------------------------------------ */

/* The first line of libpq's message (without the "ERROR:  " PostgreSQL puts first). */
static void pg_reason(char *out, size_t cap, const char *m)
{
    if (!m || !*m)
        m = "no reason given";
    if (!strncmp(m, "ERROR:  ", 8))
        m += 8;
    size_t n = strcspn(m, "\n");
    snprintf(out, cap, "%.*s", (int)n, m);
}

/* Did r reach status want? Else err says what failed (what: "copying devices"). */
static int pg_ok(mig *m, PGresult *r, ExecStatusType want, const char *what)
{
    if (r && PQresultStatus(r) == want)
        return 1;
    char why[600];
    pg_reason(why, sizeof why, r ? PQresultErrorMessage(r) : PQerrorMessage(m->pg));
    snprintf(m->err, m->errlen, "%s in %s failed: %s", what, m->shown, why);
    return 0;
}

static int pg_cmd(mig *m, const char *sql, const char *what)
{
    PGresult *r = PQexec(m->pg, sql);
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int ok = s == PGRES_TUPLES_OK || pg_ok(m, r, PGRES_COMMAND_OK, what);
    PQclear(r);
    return ok ? 0 : -1;
}

/* One number from sql (a count). */
static int pg_num(mig *m, const char *sql, const char *what, int64_t *out)
{
    PGresult *r = PQexec(m->pg, sql);
    int ok = pg_ok(m, r, PGRES_TUPLES_OK, what) && PQntuples(r) == 1;
    if (ok)
        *out = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else if (r && PQresultStatus(r) == PGRES_TUPLES_OK)
        snprintf(m->err, m->errlen, "%s in %s: no answer", what, m->shown);
    PQclear(r);
    return ok ? 0 : -1;
}

/* ---- SQLite ---------------------------------------------------------------------------- */

static int lite_num(mig *m, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_prepare_v2(m->lite, sql, -1, &st, NULL) == SQLITE_OK &&
             sqlite3_step(st) == SQLITE_ROW;
    if (ok)
        *out = sqlite3_column_int64(st, 0);
    else
        snprintf(m->err, m->errlen, "cannot read the SQLite database in %s (%s): %s", m->data, sql,
                 sqlite3_errmsg(m->lite));
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}

/* The SQLite database's tables, in the order of ORDER then by name, into m->sum. */
static int list_tables(mig *m)
{
    upd_migrate_summary *s = m->sum;
    for (size_t i = 0; i < sizeof ORDER / sizeof ORDER[0]; i++) {
        int64_t n = 0;
        char sql[160];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'", ORDER[i]);
        if (lite_num(m, sql, &n) != 0)
            return -1;
        if (n)
            snprintf(s->table[s->ntables++].name, sizeof s->table[0].name, "%s", ORDER[i]);
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(m->lite,
                           "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE "
                           "'sqlite\\_%' ESCAPE '\\' ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(m->err, m->errlen, "cannot list the tables of the SQLite database in %s: %s",
                 m->data, sqlite3_errmsg(m->lite));
        return -1;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int known = 0;
        for (int i = 0; i < s->ntables; i++)
            known |= !strcmp(s->table[i].name, name);
        if (known)
            continue;
        if (s->ntables == UPD_MIGRATE_TABLES_MAX || strlen(name) >= sizeof s->table[0].name ||
            strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name)) {
            snprintf(m->err, m->errlen,
                     "the SQLite database in %s has a table updraft does "
                     "not know (%.60s): it was changed by hand or by a newer updraft",
                     m->data, name);
            sqlite3_finalize(st);
            return -1;
        }
        snprintf(s->table[s->ntables++].name, sizeof s->table[0].name, "%s", name);
    }
    sqlite3_finalize(st);
    return 0;
}

/* ---- rows ------------------------------------------------------------------------------ */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static int buf_room(buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->len + more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* A text value in COPY's text format: backslash, tab, newline and CR escaped; bytes that
 * are not UTF-8 (a device's header kept by SQLite as it came) become '?', as the
 * PostgreSQL store writes them. */
static int put_text(buf *b, const unsigned char *s, int n)
{
    if (buf_room(b, (size_t)n * 2 + 1) != 0)
        return -1;
    for (int i = 0; i < n;) {
        unsigned char c = s[i];
        int k = c ? upd_utf8_seq(s + i) : 0;
        if (k == 0 || i + k > n) {
            b->p[b->len++] = '?';
            i++;
        } else if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
            b->p[b->len++] = '\\';
            b->p[b->len++] = c == '\\' ? '\\' : c == '\t' ? 't' : c == '\n' ? 'n' : 'r';
            i++;
        } else {
            memcpy(b->p + b->len, s + i, (size_t)k);
            b->len += (size_t)k;
            i += k;
        }
    }
    return 0;
}

/* One SQLite row as one line of COPY text. */
static int put_row(buf *b, sqlite3_stmt *st, int ncol)
{
    for (int c = 0; c < ncol; c++) {
        if (buf_room(b, 40) != 0)
            return -1;
        if (c)
            b->p[b->len++] = '\t';
        switch (sqlite3_column_type(st, c)) {
        case SQLITE_NULL:
            memcpy(b->p + b->len, "\\N", 2);
            b->len += 2;
            break;
        case SQLITE_INTEGER:
            b->len +=
                (size_t)snprintf(b->p + b->len, 24, "%lld", (long long)sqlite3_column_int64(st, c));
            break;
        case SQLITE_FLOAT:
            b->len += (size_t)snprintf(b->p + b->len, 32, "%.17g", sqlite3_column_double(st, c));
            break;
        default: {
            const unsigned char *t = sqlite3_column_text(st, c);
            if (put_text(b, t ? t : (const unsigned char *)"", sqlite3_column_bytes(st, c)) != 0)
                return -1;
        }
        }
    }
    if (buf_room(b, 1) != 0)
        return -1;
    b->p[b->len++] = '\n';
    return 0;
}

/* The columns of table t in SQLite, comma-separated, each checked to exist in
 * PostgreSQL's table of the same name. */
static int columns(mig *m, const char *t, char *cols, size_t cap)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT name FROM pragma_table_info('%s') ORDER BY cid", t);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(m->lite, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(m->err, m->errlen, "cannot read the columns of %s in the SQLite database: %s", t,
                 sqlite3_errmsg(m->lite));
        return -1;
    }
    const char *p[] = {t};
    PGresult *r = PQexecParams(m->pg,
                               "SELECT column_name FROM information_schema.columns WHERE "
                               "table_schema=current_schema() AND table_name=$1",
                               1, NULL, p, NULL, NULL, 0);
    int rc = pg_ok(m, r, PGRES_TUPLES_OK, "reading the columns of the tables") ? 0 : -1;
    size_t len = 0;
    cols[0] = 0;
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int found = 0;
        for (int i = 0; i < PQntuples(r); i++)
            found |= !strcmp(PQgetvalue(r, i, 0), name);
        if (!found && !strcmp(t, "devices") && !strcmp(name, "last_seen_ms"))
            continue; /* PostgreSQL's device_seen (copy_seen) */
        if (!found || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name)) {
            snprintf(m->err, m->errlen,
                     "the table %s of the SQLite database has a column %.60s that the "
                     "PostgreSQL schema in %s lacks: the two schemas differ (a database "
                     "changed by hand?)",
                     t, name, m->shown);
            rc = -1;
        } else if (len + strlen(name) + 2 >= cap) {
            snprintf(m->err, m->errlen, "the table %s has too many columns", t);
            rc = -1;
        } else {
            len += (size_t)snprintf(cols + len, cap - len, "%s%s", len ? "," : "", name);
        }
    }
    PQclear(r);
    sqlite3_finalize(st);
    return rc;
}

static int copy_rows(mig *m, const char *t, const char *cols, const char *from, const char *what,
                     int64_t *rows);

/* Copy table t: every SQLite row through one COPY; *rows: how many PostgreSQL took. */
static int copy_table(mig *m, const char *t, int64_t *rows)
{
    char cols[2048], what[96];
    if (columns(m, t, cols, sizeof cols) != 0)
        return -1;
    snprintf(what, sizeof what, "copying the table %s", t);
    return copy_rows(m, t, cols, t, what, rows);
}

/* The SQLite rows of "SELECT cols FROM from" into PostgreSQL's table t(cols), through one
 * COPY; *rows: how many PostgreSQL took. */
static int copy_rows(mig *m, const char *t, const char *cols, const char *from, const char *what,
                     int64_t *rows)
{
    char sql[2400];
    snprintf(sql, sizeof sql, "COPY %s(%s) FROM STDIN", t, cols);
    PGresult *r = PQexec(m->pg, sql);
    int ok = pg_ok(m, r, PGRES_COPY_IN, what);
    PQclear(r);
    if (!ok)
        return -1;
    snprintf(sql, sizeof sql, "SELECT %s FROM %s", cols, from);
    sqlite3_stmt *st = NULL;
    const char *fail = NULL;
    char why[600] = "";
    buf b = {0};
    if (sqlite3_prepare_v2(m->lite, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(why, sizeof why, "cannot read %s from the SQLite database: %s", t,
                 sqlite3_errmsg(m->lite));
        fail = why;
    }
    int ncol = st ? sqlite3_column_count(st) : 0, step = SQLITE_DONE;
    while (!fail && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (put_row(&b, st, ncol) != 0) {
            fail = "out of memory";
        } else if (b.len >= 1 << 16) {
            if (PQputCopyData(m->pg, b.p, (int)b.len) != 1)
                fail = "the database connection failed";
            b.len = 0;
        }
    }
    if (!fail && step != SQLITE_DONE) {
        snprintf(why, sizeof why, "cannot read %s from the SQLite database: %s", t,
                 sqlite3_errmsg(m->lite));
        fail = why;
    }
    if (!fail && b.len && PQputCopyData(m->pg, b.p, (int)b.len) != 1)
        fail = "the database connection failed";
    sqlite3_finalize(st);
    free(b.p);
    PQputCopyEnd(m->pg, fail ? fail : NULL);
    r = PQgetResult(m->pg);
    ok = pg_ok(m, r, PGRES_COMMAND_OK, what);
    if (ok)
        *rows = strtoll(PQcmdTuples(r), NULL, 10);
    else if (fail)
        snprintf(m->err, m->errlen, "%s into %s failed: %s", what, m->shown, fail);
    PQclear(r);
    while ((r = PQgetResult(m->pg)) != NULL)
        PQclear(r);
    return ok ? 0 : -1;
}

/* PostgreSQL keeps each device's last-seen time in a row of device_seen (store_pg.c
 * migration 19), SQLite in the devices row: copied there, checked by count and sum. */
static int copy_seen(mig *m)
{
    int64_t copied = 0, want[2] = {0, 0}, have[2] = {0, 0};
    if (copy_rows(m, "device_seen", "mac,last_seen_ms", "devices", "copying the last-seen times",
                  &copied) != 0 ||
        lite_num(m, "SELECT count(*) FROM devices", &want[0]) != 0 ||
        lite_num(m, "SELECT COALESCE(sum(last_seen_ms),0) FROM devices", &want[1]) != 0 ||
        pg_num(m, "SELECT count(*) FROM device_seen", "counting the last-seen times", &have[0]) !=
            0 ||
        pg_num(m, "SELECT COALESCE(sum(last_seen_ms),0) FROM device_seen",
               "adding up the last-seen times", &have[1]) != 0)
        return -1;
    if (copied != want[0] || have[0] != want[0] || have[1] != want[1]) {
        snprintf(m->err, m->errlen,
                 "the devices' last-seen times differ after the copy (%lld devices in SQLite, "
                 "%lld times in %s, sums %lld and %lld): nothing was moved",
                 (long long)want[0], (long long)have[0], m->shown, (long long)want[1],
                 (long long)have[1]);
        return -1;
    }
    return 0;
}

/* After rows with their own ids: the identity columns of t go on after the largest. */
static int reset_identity(mig *m, const char *t)
{
    const char *p[] = {t};
    PGresult *r = PQexecParams(m->pg,
                               "SELECT column_name FROM information_schema.columns WHERE "
                               "table_schema=current_schema() AND table_name=$1 AND "
                               "is_identity='YES'",
                               1, NULL, p, NULL, NULL, 0);
    int rc = pg_ok(m, r, PGRES_TUPLES_OK, "reading the identity columns") ? 0 : -1;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        const char *c = PQgetvalue(r, i, 0);
        char sql[400];
        snprintf(sql, sizeof sql,
                 "SELECT setval(pg_get_serial_sequence('%s','%s'), COALESCE(max(%s),0)+1, false) "
                 "FROM %s",
                 t, c, c, t);
        rc = pg_cmd(m, sql, "setting the next id");
    }
    PQclear(r);
    return rc;
}

/* ---- blobs ----------------------------------------------------------------------------- */

static int read_full(int fd, unsigned char *p, size_t n)
{
    while (n) {
        ssize_t got = read(fd, p, n);
        if (got <= 0)
            return -1;
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

/* Firmware file sha256 of the data directory into the blob tables, hashed on the way in
 * (it must be its name) and read back from the database (it must be again). */
static int copy_blob(mig *m, const char *sha, unsigned char *chunk)
{
    char path[PATH_MAX + 100], hex[65];
    snprintf(path, sizeof path, "%s/blobs/sha256/%.2s/%s", m->data, sha, sha);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(m->err, m->errlen,
                 "a release refers to the firmware file %s, which cannot be read (%s): restore "
                 "the data directory from a backup (updraft restore), then migrate",
                 path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int64_t size = (int64_t)st.st_size, chunks = (size + CHUNK - 1) / CHUNK;
    char a[4][24];
    snprintf(a[0], sizeof a[0], "%lld", (long long)size);
    snprintf(a[1], sizeof a[1], "%lld", (long long)chunks);
    snprintf(a[2], sizeof a[2], "%lld", (long long)time(NULL) * 1000);
    const char *pnew[4] = {sha, a[0], a[1], a[2]};
    PGresult *r = PQexecParams(m->pg,
                               "INSERT INTO blobs(sha256, size, chunks, created_ms) "
                               "VALUES($1,$2,$3,$4)",
                               4, NULL, pnew, NULL, NULL, 0);
    int rc = pg_ok(m, r, PGRES_COMMAND_OK, "storing a firmware file") ? 0 : -1;
    PQclear(r);
    gnutls_hash_hd_t h = NULL;
    unsigned char d[32];
    if (rc == 0 && gnutls_hash_init(&h, GNUTLS_DIG_SHA256) != 0) {
        snprintf(m->err, m->errlen, "cannot hash: GnuTLS refused SHA-256");
        rc = -1;
    }
    for (int64_t i = 0; rc == 0 && i < chunks; i++) {
        size_t n = (size_t)(size - i * CHUNK < CHUNK ? size - i * CHUNK : CHUNK);
        if (read_full(fd, chunk, n) != 0) {
            snprintf(m->err, m->errlen, "cannot read the firmware file %s: %s", path,
                     errno ? strerror(errno) : "it became shorter");
            rc = -1;
            break;
        }
        gnutls_hash(h, chunk, n);
        snprintf(a[3], sizeof a[3], "%lld", (long long)i);
        const char *pc[3] = {sha, a[3], (const char *)chunk};
        int len[3] = {0, 0, (int)n}, fmt[3] = {0, 0, 1};
        r = PQexecParams(m->pg, "INSERT INTO blob_chunks(sha256, seq, data) VALUES($1,$2,$3)", 3,
                         NULL, pc, len, fmt, 0);
        rc = pg_ok(m, r, PGRES_COMMAND_OK, "storing a firmware file") ? 0 : -1;
        PQclear(r);
    }
    close(fd);
    if (h)
        gnutls_hash_deinit(h, d);
    if (rc == 0) {
        upd_hex(d, 32, hex);
        if (strcmp(hex, sha)) {
            snprintf(m->err, m->errlen,
                     "the firmware file %s is damaged: its SHA-256 is %s, not its name: restore "
                     "the data directory from a backup (updraft restore), then migrate",
                     path, hex);
            return -1;
        }
    }
    /* what the database holds now, chunk by chunk */
    h = NULL;
    if (rc == 0 && gnutls_hash_init(&h, GNUTLS_DIG_SHA256) != 0)
        rc = -1;
    int64_t back = 0;
    for (int64_t i = 0; rc == 0 && i < chunks; i++) {
        snprintf(a[3], sizeof a[3], "%lld", (long long)i);
        const char *pc[2] = {sha, a[3]};
        r = PQexecParams(m->pg, "SELECT data FROM blob_chunks WHERE sha256=$1 AND seq=$2", 2, NULL,
                         pc, NULL, NULL, 1);
        rc = pg_ok(m, r, PGRES_TUPLES_OK, "reading a firmware file back") && PQntuples(r) == 1 ? 0
                                                                                               : -1;
        if (rc == 0) {
            gnutls_hash(h, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
            back += PQgetlength(r, 0, 0);
        }
        PQclear(r);
    }
    if (h)
        gnutls_hash_deinit(h, d);
    if (rc == 0) {
        upd_hex(d, 32, hex);
        if (strcmp(hex, sha) || back != size) {
            snprintf(m->err, m->errlen,
                     "the firmware file %s read back from %s is not what was written (SHA-256 "
                     "%s, %lld bytes of %lld)",
                     path, m->shown, hex, (long long)back, (long long)size);
            return -1;
        }
        m->sum->blobs++;
        m->sum->blob_bytes += (uint64_t)size;
    }
    return rc;
}

/* Every firmware file a release refers to (its file, its gzip copy). */
static int copy_blobs(mig *m)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(m->lite,
                           "SELECT sha256 FROM releases UNION SELECT sha256 FROM release_gzip "
                           "ORDER BY 1",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(m->err, m->errlen, "cannot read the releases of the SQLite database: %s",
                 sqlite3_errmsg(m->lite));
        return -1;
    }
    unsigned char *chunk = malloc(CHUNK);
    int rc = chunk ? 0 : -1, step;
    if (!chunk)
        snprintf(m->err, m->errlen, "out of memory");
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *sha = (const char *)sqlite3_column_text(st, 0);
        if (!sha || strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64) {
            snprintf(m->err, m->errlen,
                     "a release of the SQLite database names the blob '%.80s', "
                     "which is not a SHA-256: the database was changed by hand",
                     sha ? sha : "");
            rc = -1;
        } else {
            rc = copy_blob(m, sha, chunk);
        }
    }
    free(chunk);
    sqlite3_finalize(st);
    return rc;
}

/* ---- the run --------------------------------------------------------------------------- */

/* Nothing of an installation in the database yet (the bootstrap token's row aside, which
 * every schema has): else err lists what is there. */
static int check_empty(mig *m)
{
    char held[1024] = "";
    size_t len = 0;
    for (int i = 0; i <= m->sum->ntables; i++) {
        const char *t = i < m->sum->ntables ? m->sum->table[i].name : "blobs";
        char sql[160];
        int64_t n = 0;
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s%s", t,
                 !strcmp(t, "api_tokens") ? " WHERE key_id IS NOT NULL" : "");
        if (pg_num(m, sql, "looking for an installation", &n) != 0)
            return -1;
        if (n && len + 80 < sizeof held)
            len += (size_t)snprintf(held + len, sizeof held - len, "%s%s: %lld", len ? ", " : "", t,
                                    (long long)n);
    }
    if (len) {
        snprintf(
            m->err, m->errlen,
            "the database %s is not empty: it holds rows (%s: an installation moved or started "
            "there already). updraft db migrate moves an installation only into an empty "
            "database: create a new one (createdb) and give its URL",
            m->shown, held);
        return -1;
    }
    return 0;
}

static int run(mig *m)
{
    int64_t lite_v = 0, pg_v = 0;
    if (lite_num(m, "PRAGMA user_version", &lite_v) != 0 ||
        pg_num(m, "SELECT version FROM updraft_schema WHERE part='store'", "reading the schema",
               &pg_v) != 0)
        return -1;
    if (lite_v != pg_v) {
        snprintf(m->err, m->errlen,
                 "the SQLite database has schema version %lld, the database %s %lld: both must "
                 "be this updraft's",
                 (long long)lite_v, m->shown, (long long)pg_v);
        return -1;
    }
    m->sum->schema = (int)lite_v;
    if (list_tables(m) != 0)
        return -1;
    /* servers that start meanwhile wait for the schema lock, running ones cannot write */
    if (pg_cmd(m, "BEGIN", "starting a transaction") != 0 ||
        pg_cmd(m, "SELECT pg_advisory_xact_lock(" UPD_PG_MIGRATE_LOCK ")", "locking the schema") !=
            0)
        return -1;
    char lock[1024] = "LOCK TABLE blobs, blob_chunks";
    for (int i = 0; i < m->sum->ntables; i++)
        snprintf(lock + strlen(lock), sizeof lock - strlen(lock), ", %s", m->sum->table[i].name);
    snprintf(lock + strlen(lock), sizeof lock - strlen(lock), " IN EXCLUSIVE MODE");
    if (pg_cmd(m, lock, "locking the tables") != 0 || check_empty(m) != 0)
        return -1;
    /* the bootstrap token's row of the schema gives way to the SQLite one */
    if (pg_cmd(m, "DELETE FROM api_tokens WHERE key_id IS NULL", "clearing the tokens") != 0)
        return -1;
    if (sqlite3_exec(m->lite, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(m->err, m->errlen, "cannot read the SQLite database: %s", sqlite3_errmsg(m->lite));
        return -1;
    }
    for (int i = 0; i < m->sum->ntables; i++) {
        const char *t = m->sum->table[i].name;
        int64_t copied = 0, want = 0, have = 0;
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", t);
        if (copy_table(m, t, &copied) != 0 || reset_identity(m, t) != 0 ||
            lite_num(m, sql, &want) != 0 || pg_num(m, sql, "counting the rows copied", &have) != 0)
            return -1;
        if (copied != want || have != want) {
            snprintf(m->err, m->errlen,
                     "the table %s has %lld rows in SQLite but %lld in %s after the copy (%lld "
                     "copied): nothing was moved",
                     t, (long long)want, (long long)have, m->shown, (long long)copied);
            return -1;
        }
        m->sum->table[i].rows = have;
        if (!strcmp(t, "devices") && copy_seen(m) != 0)
            return -1;
    }
    if (copy_blobs(m) != 0)
        return -1;
    int64_t nblobs = 0;
    if (pg_num(m, "SELECT count(*) FROM blobs", "counting the blobs", &nblobs) != 0)
        return -1;
    if (nblobs != m->sum->blobs) {
        snprintf(m->err, m->errlen, "%lld blobs in %s after storing %lld firmware files",
                 (long long)nblobs, m->shown, (long long)m->sum->blobs);
        return -1;
    }
    /* servers running on the database drop their read caches when it commits */
    if (pg_cmd(m, "NOTIFY " UPD_PG_NOTIFY_CHANNEL ", 'db-migrate'", "notifying the servers") != 0 ||
        pg_cmd(m, "COMMIT", "committing the copy") != 0)
        return -1;
    return 0;
}

int upd_store_migrate(const char *data, const char *url, upd_migrate_summary *sum, char *err,
                      size_t errlen)
{
    memset(sum, 0, sizeof *sum);
    mig m = {.data = data, .err = err, .errlen = errlen, .sum = sum};
    upd_store_pg_url_shown(url, m.shown, sizeof m.shown);
    char db[PATH_MAX + 16], why[4400];
    struct stat st;
    if (stat(data, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "there is no data directory %s (%s)", data,
                 errno ? strerror(errno) : "not a directory");
        return -1;
    }
    snprintf(db, sizeof db, "%s/updraft.db", data);
    if (stat(db, &st) != 0) {
        snprintf(err, errlen,
                 "%s holds no updraft.db: it is not the data directory of an updraft server "
                 "on SQLite",
                 data);
        return -1;
    }
    int holder = 0;
    int lock = upd_datalock_take(data, "updraft db migrate", &holder, why, sizeof why);
    if (lock == -2) {
        snprintf(err, errlen,
                 "a server uses %s (process %d): stop it first (what devices report while the "
                 "copy runs would be lost), migrate, then start the servers with --db",
                 data, holder);
        return -1;
    }
    if (lock < 0) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    int rc = -1;
    upd_store *s = NULL;
    if (upd_store_sqlite_check(db, why, sizeof why) != 0) {
        snprintf(err, errlen,
                 "the SQLite database %s is damaged (%s): restore a backup (updraft restore) "
                 "first",
                 db, why);
        goto out;
    }
    /* both schemas as this updraft's: the SQLite one as a server start would leave it */
    if (!(s = upd_store_sqlite_open(db, 1, why, sizeof why))) {
        snprintf(err, errlen, "%s", why);
        goto out;
    }
    s->ops->close(s);
    if (!(s = upd_store_pg_open(url, 2, why, sizeof why))) {
        snprintf(err, errlen, "%s", why);
        goto out;
    }
    s->ops->close(s);
    if (sqlite3_open_v2(db, &m.lite, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", db, m.lite ? sqlite3_errmsg(m.lite) : "");
        goto out;
    }
    m.pg = PQconnectdb(url);
    if (PQstatus(m.pg) != CONNECTION_OK || PQsetClientEncoding(m.pg, "UTF8") != 0) {
        pg_reason(why, sizeof why, PQerrorMessage(m.pg));
        snprintf(err, errlen, "cannot connect to the database %s: %s", m.shown, why);
        goto out;
    }
    PQclear(PQexec(m.pg, "SET client_min_messages=warning"));
    rc = run(&m);
    if (rc != 0 && PQstatus(m.pg) == CONNECTION_OK)
        PQclear(PQexec(m.pg, "ROLLBACK"));
out:
    if (m.pg)
        PQfinish(m.pg);
    if (m.lite)
        sqlite3_close(m.lite);
    upd_datalock_release(lock);
    return rc;
}
