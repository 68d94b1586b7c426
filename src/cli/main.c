/* `updraft`: one binary, several subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cliutil.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"inspect", upd_cmd_inspect, "say what firmware files are and whether devices accept them"},
    {"serve", upd_cmd_serve, "run the update server (device endpoints, admin API, registry)"},
    {"release", upd_cmd_release, "add, list, show and retire releases (over the API)"},
    {"device", upd_cmd_device, "list and show devices, pin them, set their channel"},
    {"channel", upd_cmd_channel, "set and list what each channel serves"},
    {"rollout", upd_cmd_rollout, "roll a release out in waves that pause themselves on failures"},
    {"sim", upd_cmd_sim, "simulate a fleet of devices updating from a server (faults, power cuts)"},
    {"doctor", upd_cmd_doctor,
     "ask a server for an update as a device does; say what fails and why"},
    {"login", upd_cmd_login, "remember a server and its admin token for the commands above"},
    {"logout", upd_cmd_logout, "forget them"},
    {"token", upd_cmd_token, "create, list and revoke named API tokens with roles"},
    {"events", upd_cmd_events, "show what devices and admins did; --follow for new events"},
    {"problems", upd_cmd_problems, "show the devices that need attention, grouped by reason"},
    {"backup", upd_cmd_backup, "copy a data directory (database and firmware) while serving"},
    {"restore", upd_cmd_restore, "put a backup back into a data directory"},
    {"db", upd_cmd_db, "move a SQLite installation into PostgreSQL (db migrate)"},
    {"keygen", upd_cmd_keygen, "make a key pair for signed updates"},
    {"sign", upd_cmd_sign, "sign a firmware image the way ESP8266 devices verify it"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: updraft <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n'updraft <command> --help' tells more about one command. Options without a\n"
            "command go to serve: 'updraft --listen :8081' is 'updraft serve --listen :8081'.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("updraft %s\n", UPD_VERSION_STRING);
        return 0;
    }
    /* Options without a command are serve's: `updraft --listen :8081` (and so
     * `./scripts/run.sh --listen :8081`) is `updraft serve --listen :8081`. */
    if (argv[1][0] == '-' && argv[1][1])
        return upd_cmd_serve(argc, argv);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    const char *names[sizeof commands / sizeof commands[0] + 1];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        names[i] = commands[i].name;
    names[sizeof commands / sizeof commands[0]] = NULL;
    const char *close = upd_cli_closest(argv[1], names);
    fprintf(stderr, "updraft: unknown command '%s'%s%s%s\n\n", argv[1],
            close ? "; did you mean '" : "", close ? close : "", close ? "'?" : "");
    usage(stderr);
    return 2;
}
