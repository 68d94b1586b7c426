/* The upload preview, POST /api/v1/inspect (docs/api.md): a file is received as an
 * upload is (upload.c), every check of `POST /api/v1/releases` runs on it, and nothing
 * is stored. The answer is the inspector's view of the file, the same JSON as `updraft
 * inspect --json` (inspectjson.h, inspect_layout.h), and what publishing it would answer:
 * {"file", "inspection": {...}, "publish": {"ok", "status", "release" | "error", "kind",
 * "reason", ...}}. The dashboard shows this before its Publish button. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inspect_layout.h"
#include "inspectjson.h"
#include "srv.h"

/* The file's bytes for the signature view; NULL when it cannot be mapped. */
static uint8_t *map_file(const char *path, size_t *len)
{
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    void *p = MAP_FAILED;
    if (fstat(fd, &st) == 0 && st.st_size > 0)
        p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return NULL;
    *len = (size_t)st.st_size;
    return p;
}

/* ?board=4M[&fs=1M]: the ESP8266 layouts to judge the image on, as `inspect --board`. */
static int layout_args(struct MHD_Connection *c, uint32_t *board, uint32_t *fs, char *err,
                       size_t errlen)
{
    const char *b = upd__arg(c, "board"), *f = upd__arg(c, "fs");
    *board = 0;
    *fs = UINT32_MAX;
    if (f && !b) {
        snprintf(err, errlen, "fs=%.40s needs board= (the flash size it is on)", f);
        return -1;
    }
    if (b && (upd__parse_size(b, board) != 0 || *board == 0)) {
        snprintf(err, errlen, "board=%.40s: give the flash size: 512K, 1M, 2M, 4M, 8M or 16M", b);
        return -1;
    }
    if (f && upd__parse_size(f, fs) != 0) {
        snprintf(err, errlen, "fs=%.40s: give the filesystem size in bytes or with K or M", f);
        return -1;
    }
    return b ? upd__layout_check(*board, *fs, err, errlen) : 0;
}

enum MHD_Result upd__preview_reply(req *r, struct MHD_Connection *c, const char *path,
                                   const char *filename, const upd_file_info *fi, unsigned status,
                                   cJSON *said)
{
    if (!fi) /* the file could not be read back: that is the answer */
        return upd__reply_json(r, c, status, said);
    uint32_t board, fs;
    char err[300];
    if (layout_args(c, &board, &fs, err, sizeof err) != 0) {
        cJSON_Delete(said);
        return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-request", "%s", err);
    }
    const char *name = filename && filename[0] ? filename : "firmware.bin";
    size_t len = 0;
    uint8_t *bytes = map_file(path, &len);
    upd_sigview sv;
    upd_sig_view(&fi->report, bytes, len, NULL, &sv);
    if (bytes)
        munmap(bytes, len);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "file", name);
    cJSON *insp = upd_inspect_json(name, fi, 1, &sv);
    upd_layout_ctx lc;
    upd__layout_ctx(fi, path, &lc);
    upd__layout_json(insp, fi, &lc, board, fs);
    cJSON_AddItemToObject(j, "inspection", insp);
    cJSON *pub = cJSON_AddObjectToObject(j, "publish");
    int ok = status >= 200 && status < 300;
    cJSON_AddBoolToObject(pub, "ok", ok);
    cJSON_AddNumberToObject(pub, "status", status);
    if (ok) {
        /* the release it would be: no id, time or URL yet */
        cJSON_DeleteItemFromObjectCaseSensitive(said, "id");
        cJSON_DeleteItemFromObjectCaseSensitive(said, "url");
        cJSON_DeleteItemFromObjectCaseSensitive(said, "created");
        cJSON_DeleteItemFromObjectCaseSensitive(said, "retired");
        cJSON_AddItemToObject(pub, "release", said);
    } else {
        /* the refusal, in the fields POST /api/v1/releases answers it with */
        cJSON *it = said->child;
        while (it) {
            cJSON *next = it->next;
            cJSON_AddItemToObject(pub, it->string, cJSON_DetachItemViaPointer(said, it));
            it = next;
        }
        cJSON_Delete(said);
    }
    return upd__reply_json(r, c, MHD_HTTP_OK, j);
}
