/* The `updraft` command's subcommands. Each takes the arguments after its name
 * (argv[0] is the subcommand name) and returns the process exit status. */
#ifndef UPD_CLI_H
#define UPD_CLI_H

int upd_cmd_inspect(int argc, char **argv);
int upd_cmd_serve(int argc, char **argv);
int upd_cmd_release(int argc, char **argv);
int upd_cmd_device(int argc, char **argv);
int upd_cmd_channel(int argc, char **argv);
int upd_cmd_rollout(int argc, char **argv); /* cmd_rollout.c */
int upd_cmd_sim(int argc, char **argv);
int upd_cmd_doctor(int argc, char **argv);
int upd_cmd_login(int argc, char **argv);
int upd_cmd_logout(int argc, char **argv);
int upd_cmd_backup(int argc, char **argv);  /* cmd_backup.c */
int upd_cmd_restore(int argc, char **argv); /* cmd_backup.c */
int upd_cmd_db(int argc, char **argv);      /* cmd_db.c */
int upd_cmd_events(int argc, char **argv);
int upd_cmd_problems(int argc, char **argv);
int upd_cmd_keygen(int argc, char **argv); /* cmd_sign.c */
int upd_cmd_sign(int argc, char **argv);   /* cmd_sign.c */
int upd_cmd_token(int argc, char **argv);  /* cmd_token.c */
/* `updraft device list` (cmd_device_list.c), a subcommand of `updraft device`: argv[0]
 * is "list"; its usage line and help for the subcommand table. */
int upd_cmd_device_list(int argc, char **argv);
extern const char UPD_DEVICE_LIST_SYNOPSIS[], UPD_DEVICE_LIST_HELP[];
/* `updraft device delete` (cmd_device_delete.c), a subcommand of `updraft device`:
 * argv[0] is "delete"; its usage line and help for the subcommand table. */
int upd_cmd_device_delete(int argc, char **argv);
extern const char UPD_DEVICE_DELETE_SYNOPSIS[];
extern const char UPD_DEVICE_DELETE_HELP[];
/* `updraft device tag|untag` (cmd_device_tag.c). */
int upd_cmd_device_tag(int argc, char **argv);
int upd_cmd_device_untag(int argc, char **argv);
extern const char UPD_DEVICE_TAG_SYNOPSIS[], UPD_DEVICE_TAG_HELP[];
extern const char UPD_DEVICE_UNTAG_SYNOPSIS[], UPD_DEVICE_UNTAG_HELP[];
/* `updraft release notes` (cmd_release_notes.c); the notes of a file ("-": standard
 * input) for `release add --notes-file` too: malloc'd text, or NULL after saying why. */
int upd_cmd_release_notes(int argc, char **argv);
char *upd_cli_read_notes(const char *cmd, const char *file);

#endif
