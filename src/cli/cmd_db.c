/* `updraft db migrate`: a SQLite installation moved into PostgreSQL
 * (src/server/store_migrate.h, docs/scaling.md "Moving from SQLite"). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cliutil.h"
#include "store.h"
#include "store_migrate.h"

static const char MIGRATE_HELP[] =
    "usage: updraft db migrate --from DIR --to URL\n"
    "\n"
    "Move the installation of a server on SQLite (releases and their firmware files,\n"
    "devices, tags, events, channels, pins, rollouts, tokens, the audit trail) into an\n"
    "empty PostgreSQL database, for several servers to share (docs/scaling.md \"Moving\n"
    "from SQLite\"). Stop the server first: a data directory in use is refused. Every\n"
    "table is copied in one transaction, every row count and every firmware file's\n"
    "SHA-256 is checked in the database before it commits: a run that fails moves\n"
    "nothing (the database may then hold updraft's empty tables). A database that holds\n"
    "an installation already is refused. DIR is left as it was (but for the schema\n"
    "update a server start would make).\n\n"
    "  --from DIR   the data directory of the server on SQLite (its --data; it holds\n"
    "               updraft.db and blobs/)\n"
    "  --to URL     the PostgreSQL database: postgres://USER[:PASSWORD]@HOST[:PORT]/DB\n"
    "               (or any libpq URL), as 'updraft serve --db' takes it\n";

static const char DB_USAGE[] = "usage: updraft db migrate --from DIR --to URL\n"
                               "(see 'updraft db migrate --help')\n";

/* The store's words for the URL's option ("--db or UPDRAFT_DB") said as this command's. */
static void in_our_words(char *err)
{
    static const char theirs[] = "--db or UPDRAFT_DB";
    char *p = strstr(err, theirs);
    if (p) {
        memcpy(p, "--to", 4);
        memmove(p + 4, p + sizeof theirs - 1, strlen(p + sizeof theirs - 1) + 1);
    }
}

static int migrate(int argc, char **argv)
{
    static const char *const known[] = {"--from", "--to", "--help", NULL};
    int bad = 0;
    const char *from = upd_cli_opt(&argc, argv, "db migrate", "--from", &bad);
    const char *to = upd_cli_opt(&argc, argv, "db migrate", "--to", &bad);
    if (bad || upd_cli_unknown_options(argc, argv, "db migrate", known))
        return 2;
    if (argc != 1) {
        fprintf(stderr, "updraft db migrate: unexpected '%s'\n%s", argv[1], DB_USAGE);
        return 2;
    }
    if (!from || !to) {
        fprintf(stderr,
                "updraft db migrate: %s: give the data directory of the SQLite server (--from "
                "DIR) and the PostgreSQL database to move it into (--to postgres://...)\n",
                !from ? "--from DIR is missing" : "--to URL is missing");
        return 2;
    }
    if (!upd_store_is_pg_url(to)) {
        fprintf(stderr,
                "updraft db migrate: --to needs a PostgreSQL URL like "
                "postgres://updraft@db.example/updraft, not '%.80s'\n",
                to);
        return 2;
    }
    upd_migrate_summary sum;
    char err[8192], shown[1024];
    upd_store_pg_url_shown(to, shown, sizeof shown);
    if (upd_store_migrate(from, to, &sum, err, sizeof err) != 0) {
        in_our_words(err);
        fprintf(stderr, "updraft db migrate: %s\nnothing was moved.\n", err);
        return 1;
    }
    printf("moved %s into %s (schema version %d):\n", from, shown, sum.schema);
    for (int i = 0; i < sum.ntables; i++)
        printf("  %-16s %10lld row%s\n", sum.table[i].name, (long long)sum.table[i].rows,
               sum.table[i].rows == 1 ? "" : "s");
    printf("  %-16s %10lld file%s, %.1f MiB\n", "firmware", (long long)sum.blobs,
           sum.blobs == 1 ? "" : "s", (double)sum.blob_bytes / (1024.0 * 1024.0));
    printf("every table's row count and every firmware file's SHA-256 matched in the database.\n"
           "Start the servers on it: updraft serve --db URL --data DIR, each with a data\n"
           "directory of its own (its cache). The admin token stays %s/admin-token: copy\n"
           "it into their data directories or give it as UPDRAFT_ADMIN_TOKEN (named tokens\n"
           "moved with the database). %s is left as it was: keep it until the servers on\n"
           "the database answer as before.\n",
           from, from);
    return 0;
}

int upd_cmd_db(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") ||
            (i == 1 && !strcmp(argv[i], "help"))) {
            fputs(MIGRATE_HELP, stdout);
            return 0;
        }
    if (argc < 2 || strcmp(argv[1], "migrate")) {
        static const char *const subs[] = {"migrate", NULL};
        const char *close = argc < 2 ? NULL : upd_cli_closest(argv[1], subs);
        if (argc >= 2)
            fprintf(stderr, "updraft db: unknown subcommand '%s'%s\n", argv[1],
                    close ? "; did you mean 'migrate'?" : "");
        fputs(DB_USAGE, stderr);
        return 2;
    }
    return migrate(argc - 1, argv + 1);
}
