/* What the admin commands share: options, subcommands and their help, JSON fields,
 * tables, and the server's errors said in the CLI's words. */
#ifndef UPD_CLI_CLIUTIL_H
#define UPD_CLI_CLIUTIL_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* A string field of o, "-" when absent or not a string. */
const char *upd_cli_jstr(const cJSON *o, const char *k);
/* "kitchen,lab" from a JSON array of strings (a device's "tags"), "-" when empty. */
void upd_cli_tag_text(const cJSON *a, char *out, size_t cap);
/* A number field of o, -1 when absent. */
long long upd_cli_jnum(const cJSON *o, const char *k);
void upd_cli_print_json(const cJSON *j);

/* Take the flag out of argv (argv[0] is the subcommand); 1 when it was there. */
int upd_cli_flag(int *argc, char **argv, const char *flag);
/* Take "--name VALUE" (or "--name=VALUE") out of argv; NULL when absent. A missing
 * VALUE prints "updraft CMD: --name needs a value" and sets *bad. */
const char *upd_cli_opt(int *argc, char **argv, const char *cmd, const char *name, int *bad);
/* The arguments of a subcommand that takes only --json besides known options: takes
 * --json into *json, refuses unknown options, and checks that argv holds nargs words
 * (the subcommand's name included). 0 when fine, else the exit status (2), said. */
int upd_cli_plain_args(int *argc, char **argv, const char *cmd, const char *const *known, int nargs,
                       int *json);
/* Print j as JSON, free it, return 0 (the --json answer of a command). */
int upd_cli_json_done(cJSON *j);

/* After the options were taken: an option left over is unknown; say so, with the
 * closest of known (a NULL-terminated list) when one is close. 1 when one was left. */
int upd_cli_unknown_options(int argc, char **argv, const char *cmd, const char *const *known);
/* The word of list (NULL-terminated) closest to w, when it is close enough to be a typo
 * of it; else NULL. */
const char *upd_cli_closest(const char *w, const char *const *list);

/* A command's subcommands. */
typedef struct upd_cli_sub {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
    const char *synopsis;              /* "list [--json]" */
    const char *help;                  /* what it does and every option, lines of text */
} upd_cli_sub;

/* Run `updraft CMD SUB ...`: SUB's function; `--help` anywhere (or `help SUB`) prints
 * SUB's help on stdout and returns 0; no SUB prints the command's usage on stderr (2),
 * `updraft CMD --help` on stdout (0); an unknown SUB says so with the closest one (2). */
int upd_cli_dispatch(const char *cmd, const char *what, const upd_cli_sub *subs, int argc,
                     char **argv);
/* Print the running subcommand's usage line to stderr (for a wrong number of
 * arguments) and return 2. */
int upd_cli_usage(void);

/* A release id argument of `updraft CMD`; 0 after saying why when it is not one. */
long long upd_cli_release_id(const char *cmd, const char *arg);

/* A table: columns of at most width characters (0: the rest of the line); a longer
 * value is cut with an ellipsis so the columns stay. */
typedef struct upd_cli_col {
    const char *title;
    int width;
} upd_cli_col;
void upd_cli_table_head(const upd_cli_col *cols, int n);
void upd_cli_table_row(const upd_cli_col *cols, int n, const char *const *vals);

/* One server error the caller says in its own words: when the answer has this status
 * (and kind, unless NULL), print text instead of the server's; a "%s" in text stands for
 * the answer's "reason" (else its "error"). */
typedef struct upd_cli_err {
    int status;
    const char *kind;
    const char *text;
} upd_cli_err;

/* A refusal of the token said in the CLI's words (403: the role the command needs, or a
 * ci token's channels; 429: too many failed authentications from this address). 1 when
 * the answer was one and was said, else 0. */
int upd_cli_auth_error(const char *cmd, int status, const cJSON *j);

/* upd_api_call with the caller's words for the errors in errs (n of them). On an error
 * answer prints "updraft CMD: ..." and returns NULL; *status (when not NULL) is the HTTP
 * status (0 when the server could not be reached). An entry of errs with text NULL prints
 * nothing: the caller says it, from upd_cli_last_error. */
cJSON *upd_cli_call(const char *cmd, const char *method, const char *path, const char *json_body,
                    const upd_cli_err *errs, size_t n, int *status);
/* The JSON of the last error answer upd_cli_call returned NULL for (NULL when there was
 * none, or it was not JSON); valid until the next upd_cli_call. */
const cJSON *upd_cli_last_error(void);

#endif
