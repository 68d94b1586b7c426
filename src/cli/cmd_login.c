/* `updraft login URL` / `updraft logout`: remember a server and its admin token for the
 * admin commands (cmd_apiclient.h says where they look). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "fsutil.h"
#include "cliutil.h"
#include "cmd_apiclient.h"

static const char LOGIN_HELP[] =
    "usage: updraft login URL [--token TOKEN]\n"
    "       updraft logout\n\n"
    "Check that TOKEN is the admin token of the updraft server at URL (e.g.\n"
    "http://fw.example.com:8080) and keep both for the admin commands (release, device,\n"
    "channel) in $XDG_CONFIG_HOME/updraft/login (~/.config/updraft/login), readable by\n"
    "you alone. Without --token it is asked for (standard input). UPDRAFT_URL and\n"
    "UPDRAFT_TOKEN, when set, still take precedence. The admin token is printed by\n"
    "'updraft serve' at its first start and kept in its data directory as admin-token.\n"
    "'updraft logout' forgets them.\n";

/* Read the token from standard input (without echo on a terminal). */
static int ask_token(char *out, size_t cap)
{
    int tty = isatty(0);
    struct termios old, quiet;
    if (tty) {
        fprintf(stderr, "admin token: ");
        fflush(stderr);
        if (tcgetattr(0, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= (tcflag_t)~ECHO;
            tcsetattr(0, TCSAFLUSH, &quiet);
        } else {
            tty = 0;
        }
    }
    int ok = fgets(out, (int)cap, stdin) != NULL;
    if (tty) {
        tcsetattr(0, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    out[ok ? strcspn(out, "\r\n") : 0] = '\0';
    return out[0] ? 0 : -1;
}

/* mkdir -p of the directory part of path, mode 0700. */
static int make_dirs(const char *path)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    return upd_mkdir_p(dir, 0700);
}

/* Write the login file whole or not at all (a temp file, then rename). */
static int save(const char *url, const char *token, char *err, size_t errlen)
{
    char path[1024], tmp[1100];
    upd_api_login_path(path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    if (make_dirs(path) != 0) {
        snprintf(err, errlen, "cannot create the folder of %s: %s", path, strerror(errno));
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    int ok =
        f && fprintf(f, "url=%s\ntoken=%s\n", url, token) > 0 && fflush(f) == 0 && fsync(fd) == 0;
    if (f)
        ok = fclose(f) == 0 && ok;
    else
        close(fd);
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int upd_cmd_login(int argc, char **argv)
{
    static const char *const known[] = {"--token", "--help", NULL};
    if (upd_cli_flag(&argc, argv, "--help") || upd_cli_flag(&argc, argv, "-h")) {
        fputs(LOGIN_HELP, stdout);
        return 0;
    }
    int bad = 0;
    const char *given = upd_cli_opt(&argc, argv, "login", "--token", &bad);
    if (bad || upd_cli_unknown_options(argc, argv, "login", known))
        return 2;
    if (argc != 2) {
        fputs(LOGIN_HELP, stderr);
        return 2;
    }
    const char *url = argv[1];
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
        fprintf(stderr,
                "updraft login: '%s' is not a server URL: write it as "
                "http://HOST:PORT or https://HOST:PORT\n",
                url);
        return 2;
    }
    char token[512];
    if (given)
        snprintf(token, sizeof token, "%s", given);
    else if (ask_token(token, sizeof token) != 0) {
        fprintf(stderr, "updraft login: no token given: pass --token TOKEN or type it when "
                        "asked\n");
        return 2;
    }
    upd_api_set_target(url, token);
    int status = 0;
    /* the status route: any valid token may read it (a ci token too), and it says whose */
    cJSON *j = upd_cli_call("login", "GET", "/api/v1/", NULL, NULL, 0, &status);
    if (!j)
        return 1;
    const cJSON *who = cJSON_GetObjectItemCaseSensitive(j, "token");
    char whom[200] = "";
    if (cJSON_IsObject(who))
        snprintf(whom, sizeof whom, " as token '%s' (role %s)", upd_cli_jstr(who, "name"),
                 upd_cli_jstr(who, "role"));
    cJSON_Delete(j);
    char err[1200];
    if (save(upd_api_url(), token, err, sizeof err) != 0) {
        fprintf(stderr, "updraft login: %s\n", err);
        return 1;
    }
    char path[1024];
    upd_api_login_path(path, sizeof path);
    printf("logged in to %s%s: the admin commands use it and its token (kept in %s)\n",
           upd_api_url(), whom, path);
    return 0;
}

int upd_cmd_logout(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(LOGIN_HELP, stdout);
        return 0;
    }
    if (argc != 1) {
        fputs(LOGIN_HELP, stderr);
        return 2;
    }
    char path[1024];
    upd_api_login_path(path, sizeof path);
    if (unlink(path) != 0 && errno != ENOENT) {
        fprintf(stderr, "updraft logout: cannot remove %s: %s\n", path, strerror(errno));
        return 1;
    }
    printf("logged out: %s removed\n", path);
    return 0;
}
