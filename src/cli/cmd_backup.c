/* `updraft backup DIR` and `updraft restore DIR`: a consistent copy of a data directory,
 * taken while the server runs, and its way back (src/server/backup.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backup.h"
#include "cli.h"
#include "cliutil.h"

static const char BACKUP_HELP[] =
    "usage: updraft backup DIR [--data DATA]\n"
    "\n"
    "Copy the server's data directory DATA (default ./updraft-data) into DIR, a new or\n"
    "empty directory, while the server runs: the database with SQLite's online backup\n"
    "(one consistent snapshot), every firmware file a release of that snapshot refers to\n"
    "(its SHA-256 checked against its name), and the admin token. The copy is checked\n"
    "(SQLite integrity check, every file's hash) before updraft.db appears in DIR: a\n"
    "directory with updraft.db in it is a whole backup.\n"
    "\n"
    "  --data DATA   the data directory of 'updraft serve' (default ./updraft-data)\n"
    "\n"
    "Restore with 'updraft restore DIR --data DATA' (docs/operations.md).\n"
    "A server on PostgreSQL (--db) keeps everything in the database, firmware included:\n"
    "back that up with pg_dump (docs/operations.md \"Backup with PostgreSQL\").\n";

static const char RESTORE_HELP[] =
    "usage: updraft restore DIR [--data DATA] [--force]\n"
    "\n"
    "Restore the backup DIR (made by 'updraft backup DIR') into the data directory DATA\n"
    "(default ./updraft-data, created). The backup is checked first (SQLite integrity\n"
    "check, every firmware file's SHA-256): a damaged backup changes nothing. Refused\n"
    "while a server uses DATA (stop it first), and when DATA holds anything already.\n"
    "\n"
    "  --data DATA   the data directory to restore into (default ./updraft-data)\n"
    "  --force       replace the database and admin token of a data directory that is\n"
    "                not empty (its releases, devices and events are those of the backup\n"
    "                afterwards)\n"
    "\n"
    "Then start the server on it: 'updraft serve --data DATA'. To move the backup into\n"
    "PostgreSQL, restore it into a data directory, then 'updraft db migrate --from DATA\n"
    "--to URL'.\n";

static void print_summary(const upd_backup_summary *s)
{
    printf("%ld release%s (%ld firmware file%s, %.1f MiB), %ld device%s%s", s->releases,
           s->releases == 1 ? "" : "s", s->blobs, s->blobs == 1 ? "" : "s",
           (double)s->blob_bytes / (1024.0 * 1024.0), s->devices, s->devices == 1 ? "" : "s",
           s->token ? ", the admin token" : "");
}

/* --db: a server on PostgreSQL. Its backup is PostgreSQL's (pg_dump takes one
 * consistent snapshot of every table, the blobs included, while the servers run): said
 * instead of done. 1 when it was. */
static int refuse_db(int *argc, char **argv, const char *cmd)
{
    int bad = 0;
    const char *db = upd_cli_opt(argc, argv, cmd, "--db", &bad);
    if (!db && !bad)
        return 0;
    if (!strcmp(cmd, "backup"))
        fprintf(stderr,
                "updraft backup: a server on PostgreSQL (--db) keeps releases, firmware (the "
                "blobs tables), devices and events in the database: back it up with "
                "PostgreSQL's tools, which take one consistent snapshot while the servers "
                "run:\n  pg_dump --format=custom --file=updraft.dump URL\nand restore it "
                "into an empty database with\n  pg_restore --dbname=NEWURL updraft.dump\n"
                "(docs/operations.md \"Backup with PostgreSQL\"). updraft backup copies the "
                "data directory of a server on SQLite.\n");
    else
        fprintf(stderr,
                "updraft restore: a backup goes back into a data directory: restore it there "
                "(updraft restore DIR --data DATA), then move it into PostgreSQL with\n"
                "  updraft db migrate --from DATA --to URL\n"
                "A backup of a database on PostgreSQL (pg_dump) is restored with pg_restore "
                "(docs/operations.md \"Backup with PostgreSQL\").\n");
    return 1;
}

/* Options of both: DIR, --data, and (restore) --force. NULL DIR: usage printed. */
static const char *parse(int *argc, char **argv, const char *cmd, const char *help,
                         const char **data, int *force)
{
    static const char *const known[] = {"--data", "--force", "--help", NULL};
    int bad = 0;
    *data = upd_cli_opt(argc, argv, cmd, "--data", &bad);
    if (!*data)
        *data = "./updraft-data";
    if (force)
        *force = upd_cli_flag(argc, argv, "--force");
    if (bad || upd_cli_unknown_options(*argc, argv, cmd, known))
        return NULL;
    if (*argc != 2) {
        fprintf(stderr, "updraft %s: %s\n\n%s", cmd,
                *argc < 2 ? "which directory? give DIR" : "one DIR only", help);
        return NULL;
    }
    return argv[1];
}

int upd_cmd_backup(int argc, char **argv)
{
    if (upd_cli_flag(&argc, argv, "--help") || upd_cli_flag(&argc, argv, "-h")) {
        fputs(BACKUP_HELP, stdout);
        return 0;
    }
    if (refuse_db(&argc, argv, "backup"))
        return 1;
    const char *data;
    const char *dir = parse(&argc, argv, "backup", BACKUP_HELP, &data, NULL);
    if (!dir)
        return 2;
    upd_backup_summary sum;
    char err[8192];
    if (upd_backup(data, dir, &sum, err, sizeof err) != 0) {
        fprintf(stderr, "updraft backup: %s\n", err);
        /* the data directory of a server on PostgreSQL: its blob cache, no database */
        char db[4200], blobs[4200];
        snprintf(db, sizeof db, "%s/updraft.db", data);
        snprintf(blobs, sizeof blobs, "%s/blobs", data);
        if (access(db, F_OK) != 0 && access(blobs, F_OK) == 0)
            fprintf(stderr, "(a server on PostgreSQL keeps only a cache there: back up its "
                            "database with pg_dump, docs/operations.md \"Backup with "
                            "PostgreSQL\")\n");
        return 1;
    }
    printf("backed up %s into %s: ", data, dir);
    print_summary(&sum);
    printf("\nrestore it with: updraft restore %s --data DATA\n", dir);
    return 0;
}

int upd_cmd_restore(int argc, char **argv)
{
    if (upd_cli_flag(&argc, argv, "--help") || upd_cli_flag(&argc, argv, "-h")) {
        fputs(RESTORE_HELP, stdout);
        return 0;
    }
    if (refuse_db(&argc, argv, "restore"))
        return 1;
    const char *data;
    int force = 0;
    const char *dir = parse(&argc, argv, "restore", RESTORE_HELP, &data, &force);
    if (!dir)
        return 2;
    upd_backup_summary sum;
    char err[8192];
    if (upd_restore(dir, data, force, &sum, err, sizeof err) != 0) {
        fprintf(stderr, "updraft restore: %s\n", err);
        return 1;
    }
    printf("restored %s into %s: ", dir, data);
    print_summary(&sum);
    printf("\nstart the server on it: updraft serve --data %s\n", data);
    return 0;
}
