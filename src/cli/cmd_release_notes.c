/* `updraft release notes ID [--set FILE | --clear]` and the notes file of `release add
 * --notes-file FILE`: release notes (Markdown) read from a file or standard input, over
 * PUT /api/v1/releases/<id>/notes (docs/api.md "Release notes"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cliutil.h"

/* The server keeps at most 4,095 bytes (docs/api.md). */
#define NOTES_MAX 4095

char *upd_cli_read_notes(const char *cmd, const char *file)
{
    FILE *f = strcmp(file, "-") ? fopen(file, "rb") : stdin;
    if (!f) {
        fprintf(stderr,
                "updraft %s: cannot read the notes file %s: no such file or no "
                "permission\n",
                cmd, file);
        return NULL;
    }
    char *buf = malloc(NOTES_MAX + 2);
    size_t n = buf ? fread(buf, 1, NOTES_MAX + 1, f) : 0;
    int rerr = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!buf)
        return NULL;
    if (rerr) {
        fprintf(stderr, "updraft %s: cannot read the notes file %s\n", cmd, file);
        free(buf);
        return NULL;
    }
    if (n > NOTES_MAX) {
        fprintf(stderr,
                "updraft %s: the notes in %s are longer than 4,095 bytes, what the server "
                "keeps: shorten them, or link to a longer changelog\n",
                cmd, file);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (strlen(buf) != n) {
        fprintf(stderr, "updraft %s: %s holds a NUL byte: notes are text (Markdown)\n", cmd, file);
        free(buf);
        return NULL;
    }
    return buf;
}

int upd_cmd_release_notes(int argc, char **argv)
{
    static const char *const known[] = {"--set", "--clear", "--json", NULL};
    int bad = 0, json;
    const char *set = upd_cli_opt(&argc, argv, "release notes", "--set", &bad);
    int clear = upd_cli_flag(&argc, argv, "--clear");
    if (bad || upd_cli_plain_args(&argc, argv, "release notes", known, 2, &json))
        return 2;
    long long id = upd_cli_release_id("release notes", argv[1]);
    if (!id)
        return 2;
    if (set && clear) {
        fprintf(stderr, "updraft release notes: --set and --clear exclude each other\n");
        return 2;
    }
    char path[96], nf[160];
    snprintf(path, sizeof path, "/api/v1/releases/%lld%s", id, set || clear ? "/notes" : "");
    snprintf(nf, sizeof nf, "there is no release %lld: 'updraft release list' shows them", id);
    const upd_cli_err errs[] = {{404, NULL, nf}, {400, "bad-notes", "%s"}};
    char *body = NULL;
    if (set || clear) {
        char *text = clear ? strdup("") : upd_cli_read_notes("release notes", set);
        if (!text)
            return 1;
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "notes", text);
        body = cJSON_PrintUnformatted(b);
        cJSON_Delete(b);
        free(text);
    }
    cJSON *j =
        upd_cli_call("release notes", set || clear ? "PUT" : "GET", path, body, errs, 2, NULL);
    cJSON_free(body);
    if (!j)
        return 1;
    if (json)
        return upd_cli_json_done(j);
    const char *notes = upd_cli_jstr(j, "notes");
    if (set)
        printf("release %lld (version %s): notes set, %zu bytes\n", id, upd_cli_jstr(j, "version"),
               strlen(notes));
    else if (clear)
        printf("release %lld (version %s): notes cleared\n", id, upd_cli_jstr(j, "version"));
    else if (notes[0])
        printf("%s%s", notes, notes[strlen(notes) - 1] == '\n' ? "" : "\n");
    else
        fprintf(stderr,
                "release %lld (version %s) has no notes: 'updraft release notes %lld "
                "--set FILE' gives it some\n",
                id, upd_cli_jstr(j, "version"), id);
    cJSON_Delete(j);
    return 0;
}
