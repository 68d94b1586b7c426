/* Release uploads: the body (raw, or the file part of a multipart/form-data form) is
 * streamed to a temp file in <data>/tmp, then fsynced, inspected by the core through
 * upd_inspect_file, moved into the blob store and recorded in one transaction. Until
 * the transaction commits nothing is visible; a crash leaves at most a temp file or an
 * unreferenced blob, both removed at the next start and never served. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "host/fileinspect.h"
#include "delivery.h"
#include "imageid.h"
#include "chip.h"
#include "finisher.h"
#include "sigrule.h"
#include "lifecycle.h"
#include "rollout.h"
#include "relnotes.h"
#include "srv.h"
#include "updraft/error.h"
#include "updraft/version.h"

struct upload {
    srv *s;
    uint64_t reserved; /* upload room taken (upspace.c), given back when it ends */
    int fd;
    char tmp[PATH_MAX + 32];
    uint64_t received;
    unsigned fail_status; /* set when the upload already failed */
    char fail_kind[32];
    char fail_msg[512];
    struct MHD_PostProcessor *pp;
    int saw_file;
    char version[UPD_VER_MAX + 1];
    char channel[UPD_NAME_MAX + 1];
    char platform[17];
    char filename[129];
    char notes[UPD_NOTES_MAX + 1];
    int too_long; /* a form field was longer than we keep */
    /* the version exists on this platform with other bytes: "replace" retires that
     * release (its channels serve the new one), "allow-duplicate" keeps both */
    char same_version[24];
    char sign[8]; /* "1": the server signs the file with its key (sigrule.h) */
    /* POST /api/v1/inspect: run every check of an upload, store nothing (preview.c) */
    int preview;
    unsigned said_status; /* what publishing would answer: status and body */
    cJSON *said;
    int finishing;            /* 1: on the finisher's thread (finisher.h), 2: done there */
    enum MHD_Result finished; /* what finish() returned there */
    struct MHD_Connection *conn;
};

static void fail(struct upload *up, unsigned status, const char *kind, const char *msg)
{
    if (up->fail_status)
        return;
    up->fail_status = status;
    upd__copy(up->fail_kind, sizeof up->fail_kind, kind);
    upd__copy(up->fail_msg, sizeof up->fail_msg, msg);
}

static void write_data(srv *s, struct upload *up, const char *data, size_t size)
{
    if (up->fail_status || size == 0)
        return;
    if (up->received + size > s->max_upload) {
        char m[256];
        snprintf(m, sizeof m,
                 "the upload is larger than %llu bytes, the server's limit: firmware images are "
                 "smaller; check the file, or start the server with a larger --max-upload",
                 (unsigned long long)s->max_upload);
        fail(up, MHD_HTTP_CONTENT_TOO_LARGE, "too-large", m);
        return;
    }
    if (up->received + size > up->reserved) {
        /* no Content-Length, or more than it said: take room as the body arrives */
        uint64_t more = up->received + size - up->reserved;
        if (more < (1u << 20))
            more = 1u << 20;
        if (up->reserved + more > s->max_upload)
            more = s->max_upload - up->reserved;
        char why[512];
        int rc = upd__upspace_take(s, more, why, sizeof why);
        if (rc != 0) {
            fail(up, rc == -1 ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_INSUFFICIENT_STORAGE,
                 rc == -1 ? "busy" : "storage", why);
            return;
        }
        up->reserved += more;
    }
    while (size > 0) {
        ssize_t w = write(up->fd, data, size);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            char m[256];
            snprintf(m, sizeof m,
                     "the server could not store the upload: %s; free space in the "
                     "data directory and retry",
                     strerror(errno));
            fail(up, MHD_HTTP_INSUFFICIENT_STORAGE, "storage", m);
            return;
        }
        data += w;
        size -= (size_t)w;
        up->received += (uint64_t)w;
    }
}

static void append_field(struct upload *up, char *dst, size_t cap, const char *data, uint64_t off,
                         size_t size)
{
    if (off + size >= cap) {
        up->too_long = 1;
        return;
    }
    memcpy(dst + off, data, size);
    dst[off + size] = '\0';
}

static enum MHD_Result post_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *filename, const char *content_type,
                                 const char *transfer_encoding, const char *data, uint64_t off,
                                 size_t size)
{
    req *r = cls;
    struct upload *up = r->up;
    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    if (!key)
        return MHD_YES;
    if (filename || !strcmp(key, "file")) {
        if (up->saw_file == 2)
            return MHD_YES;
        if (off == 0 && up->saw_file == 0 && filename && !up->filename[0])
            upd__copy(up->filename, sizeof up->filename, filename);
        if (off == 0 && up->received > 0)
            up->saw_file = 2; /* a second file part: only the first one counts */
        else {
            up->saw_file = 1;
            write_data(r->s, up, data, size);
        }
        return MHD_YES;
    }
    if (!strcmp(key, "version"))
        append_field(up, up->version, sizeof up->version, data, off, size);
    else if (!strcmp(key, "channel"))
        append_field(up, up->channel, sizeof up->channel, data, off, size);
    else if (!strcmp(key, "platform"))
        append_field(up, up->platform, sizeof up->platform, data, off, size);
    else if (!strcmp(key, "notes"))
        append_field(up, up->notes, sizeof up->notes, data, off, size);
    else if (!strcmp(key, "filename"))
        append_field(up, up->filename, sizeof up->filename, data, off, size);
    else if (!strcmp(key, "sign"))
        append_field(up, up->sign, sizeof up->sign, data, off, size);
    return MHD_YES;
}

void upd__upload_free(struct upload *up)
{
    if (!up)
        return;
    cJSON_Delete(up->said);
    if (up->pp)
        MHD_destroy_post_processor(up->pp);
    if (up->fd >= 0)
        close(up->fd);
    if (up->tmp[0])
        unlink(up->tmp);
    upd__upspace_give(up->s, up->reserved);
    free(up);
}

static void take_arg(struct MHD_Connection *c, const char *name, char *dst, size_t cap,
                     struct upload *up)
{
    const char *v = upd__arg(c, name);
    if (!v)
        return;
    if (strlen(v) >= cap)
        up->too_long = 1;
    else
        strcpy(dst, v);
}

/* An upload refused before its body is read: the answer goes now, and libmicrohttpd
 * closes the connection instead of reading the rest. Returns 1 (answered) or -1. */
static int refuse_now(req *r, struct MHD_Connection *c, unsigned status, const char *kind,
                      const char *msg)
{
    return upd__reply_error(r, c, status, kind, "%s", msg) == MHD_YES ? 1 : -1;
}

int upd__upload_begin(req *r, struct MHD_Connection *c, int preview)
{
    srv *s = r->s;
    /* The size first, from Content-Length: too large, or no room, is said before a byte
     * of the body is read (libmicrohttpd sends no 100 Continue then). */
    const char *cl = upd__header(c, "Content-Length");
    uint64_t len = 0;
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(cl, &end, 10);
        if (end == cl || *end || errno || cl[0] == '-')
            return refuse_now(r, c, MHD_HTTP_BAD_REQUEST, "bad-request",
                              "the Content-Length header is not a number of bytes");
        len = v;
    }
    char m[640];
    if (len > s->max_upload) {
        snprintf(m, sizeof m,
                 "the upload is %llu bytes, larger than %llu bytes, the server's limit: "
                 "firmware images are smaller; check the file, or start the server with a "
                 "larger --max-upload",
                 (unsigned long long)len, (unsigned long long)s->max_upload);
        return refuse_now(r, c, MHD_HTTP_CONTENT_TOO_LARGE, "too-large", m);
    }
    if (len) {
        int rc = upd__upspace_take(s, len, m, sizeof m);
        if (rc != 0)
            return refuse_now(
                r, c, rc == -1 ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_INSUFFICIENT_STORAGE,
                rc == -1 ? "busy" : "storage", m);
    }
    struct upload *up = calloc(1, sizeof *up);
    if (!up) {
        upd__upspace_give(s, len);
        return -1;
    }
    up->s = s;
    up->preview = preview;
    up->reserved = len;
    up->fd = -1;
    r->up = up;
    take_arg(c, "version", up->version, sizeof up->version, up);
    take_arg(c, "channel", up->channel, sizeof up->channel, up);
    take_arg(c, "platform", up->platform, sizeof up->platform, up);
    take_arg(c, "notes", up->notes, sizeof up->notes, up);
    take_arg(c, "filename", up->filename, sizeof up->filename, up);
    take_arg(c, "same_version", up->same_version, sizeof up->same_version, up);
    take_arg(c, "sign", up->sign, sizeof up->sign, up);
    snprintf(up->tmp, sizeof up->tmp, "%s/upload-XXXXXX", s->tmp_dir);
    up->fd = mkostemp(up->tmp, O_CLOEXEC);
    if (up->fd < 0) {
        char tm[PATH_MAX + 200];
        snprintf(tm, sizeof tm, "the server cannot create a temp file in %s: %s", s->tmp_dir,
                 strerror(errno));
        up->tmp[0] = '\0';
        fail(up, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage", tm);
        return 0;
    }
    const char *ct = upd__header(c, "Content-Type");
    if (ct && !strncasecmp(ct, "multipart/form-data", 19)) {
        up->pp = MHD_create_post_processor(c, 64 * 1024, post_iter, r);
        if (!up->pp)
            fail(up, MHD_HTTP_BAD_REQUEST, "bad-request",
                 "the multipart/form-data body has no usable boundary: send the form as curl "
                 "-F file=@firmware.bin does, or send the file as the raw body");
    }
    return 0;
}

enum MHD_Result upd__upload_feed(req *r, struct MHD_Connection *c, const char *data, size_t size)
{
    (void)c;
    struct upload *up = r->up;
    if (up->fail_status)
        return MHD_YES;
    if (up->pp) {
        if (MHD_post_process(up->pp, data, size) != MHD_YES)
            fail(up, MHD_HTTP_BAD_REQUEST, "bad-request",
                 "the multipart/form-data body is malformed: send it as curl -F does, or "
                 "send the file as the raw body");
    } else {
        write_data(r->s, up, data, size);
    }
    return MHD_YES;
}

static void clean_filename(char *f)
{
    const char *base = strrchr(f, '/');
    if (!base)
        base = strrchr(f, '\\');
    if (base)
        memmove(f, base + 1, strlen(base + 1) + 1);
    for (char *p = f; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            *p = '_';
    if (f[0] == '.')
        f[0] = '_';
}

static int ascii_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7E)
            return 0;
    return 1;
}

/* An answer of finish(): sent now, or, for a preview (POST /api/v1/inspect), kept as what
 * publishing the file would answer (preview.c says it with the inspection). */
static enum MHD_Result say(req *r, struct MHD_Connection *c, unsigned status, cJSON *j)
{
    struct upload *up = r->up;
    if (!up->preview)
        return upd__reply_json(r, c, status, j);
    cJSON_Delete(up->said);
    up->said = j;
    up->said_status = status;
    return MHD_YES;
}

__attribute__((format(printf, 5, 6))) static enum MHD_Result
say_error(req *r, struct MHD_Connection *c, unsigned status, const char *kind, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error", msg);
    cJSON_AddStringToObject(j, "kind", kind);
    return say(r, c, status, j);
}

static enum MHD_Result finish(req *r, struct MHD_Connection *c)
{
    srv *s = r->s;
    struct upload *up = r->up;
    if (up->pp && !up->fail_status)
        MHD_post_process(up->pp, "", 0);
    if (up->fail_status)
        return upd__reply_error(r, c, up->fail_status, up->fail_kind, "%s", up->fail_msg);
    if (up->too_long)
        return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-request",
                                "a field is too long: version at most %d characters, channel %d, "
                                "platform 16, filename 128, notes %d",
                                UPD_VER_MAX - 1, UPD_NAME_MAX - 1, UPD_NOTES_MAX - 1);
    char nwhy[300];
    if (up->notes[0] && upd__relnotes_check(up->notes, strlen(up->notes), nwhy, sizeof nwhy) != 0)
        return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-notes", "%s", nwhy);
    if (up->received == 0)
        return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "empty",
                                "no file was uploaded: send the firmware .bin as the request "
                                "body (Content-Type: application/octet-stream) or as the 'file' "
                                "field of a multipart/form-data form");
    if (fsync(up->fd) != 0)
        return upd__reply_error(r, c, MHD_HTTP_INSUFFICIENT_STORAGE, "storage",
                                "the server could not flush the upload to disk: %s",
                                strerror(errno));
    close(up->fd);
    up->fd = -1;

    upd_file_info *fi = malloc(sizeof *fi);
    upd_release_row *rel = calloc(1, sizeof *rel);
    enum MHD_Result ret;
    char err[1024];
    if (!fi || !rel) {
        free(fi);
        free(rel);
        return MHD_NO;
    }
    int have_fi = 0;
    if (upd_inspect_file(up->tmp, fi, err, sizeof err) != 0) {
        ret = say_error(r, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage",
                        "the server could not read the upload back: %s", err);
        goto out;
    }
    have_fi = 1;
    const upd_image_report *rep = &fi->report;
    if (rep->verdict != UPD_VERDICT_OTA_APP && rep->verdict != UPD_VERDICT_FS_IMAGE) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "error", upd_strerror(rep->error ? rep->error : UPD_ENOTAPP));
        cJSON_AddStringToObject(j, "kind", upd_kind_slug(rep->kind));
        cJSON_AddStringToObject(j, "kind_description", upd_kind_desc(rep->kind));
        cJSON_AddStringToObject(j, "reason", rep->reason);
        cJSON_AddStringToObject(j, "code", upd_err_name(rep->error ? rep->error : UPD_ENOTAPP));
        cJSON_AddStringToObject(j, "verdict", upd_verdict_name(rep->verdict));
        ret = say(r, c, MHD_HTTP_UNPROCESSABLE_CONTENT, j);
        goto out;
    }
    if (up->sign[0] && strcmp(up->sign, "0") && strcmp(up->sign, "false")) {
        /* signed by the server's key (sigrule.h); fi then describes the signed file */
        unsigned st = 0;
        if (strcmp(up->sign, "1") && strcmp(up->sign, "true")) {
            ret = say_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-request",
                            "sign must be 1 (the server signs the file) or 0");
            goto out;
        }
        if (upd__sign_upload(s, up->tmp, fi, &st, err, sizeof err) != 0) {
            ret = say_error(r, c, st, st == 400 ? "no-signing-key" : "sign", "%s", err);
            goto out;
        }
    }
    int fs = rep->verdict == UPD_VERDICT_FS_IMAGE;
    char vwhy[300] = "the release needs a version and the image names none";
    if (!up->version[0] && rep->desc.present &&
        upd__lifecycle_image_version(&rep->desc, up->version, sizeof up->version, vwhy,
                                     sizeof vwhy) != 0)
        up->version[0] = '\0';
    if (!up->version[0]) {
        cJSON *j = cJSON_CreateObject();
        char m[600];
        snprintf(m, sizeof m,
                 "%s: pass ?version=1.2.3 (or the 'version' form field); devices compare it "
                 "with the version they send",
                 vwhy);
        cJSON_AddStringToObject(j, "error", m);
        cJSON_AddStringToObject(j, "kind", "no-version");
        cJSON_AddStringToObject(j, "reason", vwhy);
        ret = say(r, c, MHD_HTTP_BAD_REQUEST, j);
        goto out;
    }
    if (!ascii_printable(up->version) || strlen(up->version) > UPD_VERSION_MAX) {
        ret = say_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-request",
                        "the version must be printable ASCII of at most %d characters "
                        "(it is sent to devices in the x-version header)",
                        UPD_VERSION_MAX);
        goto out;
    }
    if (up->channel[0] && !upd__valid_channel(up->channel)) {
        ret = say_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-request",
                        "channel '%s' is not a valid name: use letters, digits, '.', "
                        "'_' and '-' (at most 63)",
                        up->channel);
        goto out;
    }
    const char *img_platform = upd_platform_name(rep->platform);
    if (up->platform[0]) {
        if (strcasecmp(up->platform, "esp8266") && strcasecmp(up->platform, "esp32")) {
            ret = say_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-request",
                            "platform must be esp8266 or esp32, not '%s'", up->platform);
            goto out;
        }
        for (char *p = up->platform; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        if (!fs && rep->platform != UPD_PLATFORM_UNKNOWN && strcmp(up->platform, img_platform)) {
            cJSON *j = cJSON_CreateObject();
            char m[256];
            snprintf(m, sizeof m,
                     "the image is an %s image but platform=%s was given: upload the %s build, "
                     "or leave platform out",
                     img_platform, up->platform, up->platform);
            cJSON_AddStringToObject(j, "error", m);
            cJSON_AddStringToObject(j, "kind", upd_kind_slug(rep->kind));
            cJSON_AddStringToObject(j, "reason", rep->reason);
            ret = say(r, c, MHD_HTTP_UNPROCESSABLE_CONTENT, j);
            goto out;
        }
    }
    upd__copy(rel->version, sizeof rel->version, up->version);
    upd__copy(rel->platform, sizeof rel->platform,
              fs ? (up->platform[0] ? up->platform : "any")
                 : (rep->platform != UPD_PLATFORM_UNKNOWN ? img_platform : up->platform));
    if (!rel->platform[0])
        snprintf(rel->platform, sizeof rel->platform, "any");
    upd__copy(rel->mode, sizeof rel->mode, fs ? "fs" : "sketch");
    upd__copy(rel->kind, sizeof rel->kind, upd_kind_slug(rep->kind));
    const char *chip = upd_chip_name(rep->chip);
    upd__copy(rel->chip, sizeof rel->chip, chip ? chip : "");
    clean_filename(up->filename);
    upd__copy(rel->filename, sizeof rel->filename, up->filename[0] ? up->filename : "firmware.bin");
    upd__copy(rel->notes, sizeof rel->notes, up->notes);
    upd__copy(rel->md5, sizeof rel->md5, fi->md5_hex);
    upd__copy(rel->sha256, sizeof rel->sha256, fi->sha256_hex);
    rel->size = (int64_t)fi->size;
    rel->inner_size = -1;
    if (fi->has_inner) {
        upd__copy(rel->inner_md5, sizeof rel->inner_md5, fi->inner_md5_hex);
        rel->inner_size = (int64_t)fi->inner_size;
    }
    if (upd__imageid_compute(up->tmp, fi, rel, err, sizeof err) != 0) {
        ret = say_error(r, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage", "%s", err);
        goto out;
    }
    upd_release_row existing;
    int dup = s->store->ops->release_by_sha256(s->store, rel->sha256, &existing) == 0;
    if (!dup && !up->preview &&
        upd__delivery_make_gzip(s, up->tmp, fi, rel, err, sizeof err) != 0) {
        /* the release is served plain: devices lose only the smaller download */
        upd__log(UPD_LOG_WARN, "upload", "release upload: no gzip copy: %s", err);
        rel->gz_size = 0;
    }
    if (dup) {
        cJSON *j = cJSON_CreateObject();
        char m[512];
        if (existing.retired)
            snprintf(m, sizeof m,
                     "this exact file is release %lld (version %.200s), which is retired: "
                     "unretire it to serve it again (POST /api/v1/releases/%lld/unretire)",
                     (long long)existing.id, existing.version, (long long)existing.id);
        else
            snprintf(m, sizeof m,
                     "this exact file is already release %lld (version %.200s): to serve it on "
                     "another channel use PUT /api/v1/channels/<name> {\"release\": %lld}",
                     (long long)existing.id, existing.version, (long long)existing.id);
        cJSON_AddStringToObject(j, "error", m);
        cJSON_AddStringToObject(j, "kind", "duplicate");
        cJSON_AddNumberToObject(j, "release", (double)existing.id);
        cJSON_AddBoolToObject(j, "retired", existing.retired);
        ret = say(r, c, MHD_HTTP_CONFLICT, j);
        goto out;
    }
    int replace = !strcmp(up->same_version, "replace");
    if (up->same_version[0] && !replace && strcmp(up->same_version, "allow-duplicate")) {
        ret = say_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-request",
                        "same_version must be 'replace' or 'allow-duplicate'");
        goto out;
    }
    /* a ci token may be limited to some channels (authz.h) */
    if (!up->preview && upd__authz_upload_channel(r, c, up->channel, replace, &ret) != 0)
        goto out;
    upd_release_row *other = malloc(sizeof *other);
    int same = other && upd__lifecycle_same_version(s, rel, other);
    if (same && !up->same_version[0]) {
        cJSON *j = cJSON_CreateObject();
        char m[600];
        snprintf(m, sizeof m,
                 "release %lld already has version %.200s for %s (%s) with other bytes: devices "
                 "could not tell the two apart by version. Give this build its own version, "
                 "replace release %lld with it, or keep both on purpose",
                 (long long)other->id, other->version, rel->platform,
                 other->retired ? "retired" : "active", (long long)other->id);
        cJSON_AddStringToObject(j, "error", m);
        cJSON_AddStringToObject(j, "kind", "version-exists");
        cJSON_AddNumberToObject(j, "release", (double)other->id);
        ret = say(r, c, MHD_HTTP_CONFLICT, j);
        free(other);
        goto out;
    }
    if (!same || !replace) {
        free(other);
        other = NULL;
    }
    if (up->channel[0]) {
        /* a channel declared for a chip takes only that chip's images (chip.h) */
        int crc = upd__chip_channel_accepts(s, up->channel, rel, err, sizeof err);
        if (crc != 0) {
            ret = say_error(r, c, crc == -1 ? MHD_HTTP_CONFLICT : MHD_HTTP_INTERNAL_SERVER_ERROR,
                            crc == -1 ? "wrong-chip" : "storage", "%s", err);
            goto out;
        }
        /* a channel that requires signatures takes only images that verify (sigrule.h) */
        crc = upd__sign_file_accepted(s, up->channel, up->tmp, fi, "this upload", err, sizeof err);
        if (crc != 0) {
            ret = upd__reply_error(
                r, c, crc == -1 ? MHD_HTTP_UNPROCESSABLE_CONTENT : MHD_HTTP_INTERNAL_SERVER_ERROR,
                crc == -1 ? "signature" : "storage", "%s", err);
            goto out;
        }
    }
    if (other && upd__rollout_release_lock(s->rollouts, other->id, 0, err, sizeof err)) {
        /* replace retires the old build: not while a rollout offers it */
        ret = upd__reply_error(r, c, MHD_HTTP_CONFLICT, "in-rollout",
                               "cannot replace release %lld: %s", (long long)other->id, err);
        free(other);
        goto out;
    }
    if (other)
        upd__rollout_release_unlock(s->rollouts);
    if (other) {
        /* replace: the channels that serve the old build must take the new one */
        int crc = upd__sign_replace_accepted(s, other->id, up->tmp, fi, err, sizeof err);
        if (crc != 0) {
            ret = upd__reply_error(
                r, c, crc == -1 ? MHD_HTTP_UNPROCESSABLE_CONTENT : MHD_HTTP_INTERNAL_SERVER_ERROR,
                crc == -1 ? "signature" : "storage", "%s", err);
            free(other);
            goto out;
        }
    }
    if (up->preview) { /* what would be published: nothing is stored */
        free(other);
        upd__copy(rel->channel, sizeof rel->channel, up->channel);
        ret = say(r, c, MHD_HTTP_OK, upd__release_json(rel));
        goto out;
    }
    if (upd__blob_commit(s, up->tmp, rel->sha256, err, sizeof err) != 0) {
        ret = say_error(r, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage", "%s", err);
        goto out;
    }
    up->tmp[0] = '\0'; /* now the blob's; the store GC owns it if the insert fails */
    int rc = s->store->ops->release_insert(s->store, rel, up->channel, err, sizeof err);
    if (rc == UPD_STORE_ECONFLICT) {
        ret = say_error(r, c, MHD_HTTP_CONFLICT, "duplicate",
                        "this exact file was just added as another release: list them "
                        "with GET /api/v1/releases");
        free(other);
        goto out;
    }
    if (rc != 0) {
        ret = say_error(r, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage", "%s", err);
        free(other);
        goto out;
    }
    if (other) {
        /* replace: the channels that served the old build serve the new one */
        if (upd__lifecycle_replace(s, other, rel, err, sizeof err) != 0)
            upd__log(UPD_LOG_ERROR, "database-failed", "release %lld: replacing release %lld: %s",
                     (long long)rel->id, (long long)other->id, err);
        free(other);
    }
    {
        cJSON *j = upd__release_json(rel);
        cJSON *insp = cJSON_AddObjectToObject(j, "inspection");
        cJSON_AddStringToObject(insp, "verdict", upd_verdict_name(rep->verdict));
        cJSON_AddStringToObject(insp, "reason", rep->reason);
        cJSON_AddStringToObject(insp, "flash_mode", upd_flash_mode_name(rep->flash_mode));
        cJSON_AddNumberToObject(insp, "flash_size", rep->flash_size);
        ret = say(r, c, MHD_HTTP_CREATED, j);
        r->audit_release = rel->id; /* the audit event names it (authz.c) */
        snprintf(r->audit_note, sizeof r->audit_note, "release %lld, version %.60s, %s%s%.63s",
                 (long long)rel->id, rel->version, rel->platform,
                 up->channel[0] ? ", channel " : "", up->channel);
    }
out:
    if (up->preview && up->said) {
        cJSON *said = up->said;
        up->said = NULL;
        ret = upd__preview_reply(r, c, up->tmp, up->filename, have_fi ? fi : NULL, up->said_status,
                                 said);
    }
    free(fi);
    free(rel);
    return ret;
}

static enum MHD_Result finish_now(req *r, struct MHD_Connection *c)
{
    enum MHD_Result ret = finish(r, c);
    /* A refused upload's temp file goes now, inside the handler, before the answer
     * leaves: whoever reads the 4xx finds nothing left behind (the completion callback,
     * upd__upload_free, runs only after the answer was sent). */
    struct upload *up = r->up;
    if (up->fd >= 0)
        close(up->fd);
    up->fd = -1;
    if (up->tmp[0])
        unlink(up->tmp);
    up->tmp[0] = '\0';
    upd__upspace_give(r->s, up->reserved); /* the temp file is gone or is a blob now */
    up->reserved = 0;
    return ret;
}

/* On the finisher's thread: the work, its answer kept in r (r->defer), then the connection
 * resumed; libmicrohttpd calls the handler again, which sends the answer. */
static void finish_job(void *arg)
{
    req *r = arg;
    struct upload *up = r->up;
    up->finished = finish_now(r, up->conn);
    r->defer = 0;
    up->finishing = 2;
    MHD_resume_connection(up->conn);
}

enum MHD_Result upd__upload_finish(req *r, struct MHD_Connection *c)
{
    struct upload *up = r->up;
    if (up->finishing == 2) { /* resumed: send what the work left */
        if (!r->deferred)
            return up->finished;
        struct MHD_Response *resp = r->deferred;
        r->deferred = NULL;
        return upd__queue(r, c, r->deferred_status, resp);
    }
    /* Finishing (fsync, hashing, inspection, the database) takes long for a large file:
     * not on this thread, which answers devices too (finisher.h). A refused upload is
     * answered at once. */
    if (up->fail_status || !r->s->finisher)
        return finish_now(r, c);
    up->finishing = 1;
    up->conn = c;
    r->defer = 1;
    MHD_suspend_connection(c);
    if (upd_finisher_submit(r->s->finisher, finish_job, r) != 0) {
        MHD_resume_connection(c);
        r->defer = 0;
        up->finishing = 0;
        return finish_now(r, c);
    }
    return MHD_YES;
}
