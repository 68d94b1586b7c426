/* Smart delivery (delivery.h): the gzip copy of a release and whether a device may get it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delivery.h"
#include "refresh.h"
#include "host/gzcopy.h"
#include "imageid.h"
#include "srv.h"

static uint8_t *read_all(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    uint8_t *p = malloc((size_t)st.st_size);
    size_t got = 0;
    while (p && got < (size_t)st.st_size) {
        ssize_t n = read(fd, p + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(p);
            p = NULL;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return p;
}

static int write_tmp(const char *dir, const uint8_t *data, size_t len, char *tmp, size_t cap)
{
    snprintf(tmp, cap, "%s/gzip-XXXXXX", dir);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    int ok = off == len && fsync(fd) == 0;
    close(fd);
    if (!ok)
        unlink(tmp);
    return ok ? 0 : -1;
}

int upd__delivery_make_gzip(srv *s, const char *path, const upd_file_info *fi, upd_release_row *rel,
                            char *err, size_t errlen)
{
    rel->gz_size = 0;
    const upd_image_report *rep = &fi->report;
    /* a signed image gets no copy: the copy would carry no signature of its own, and a
     * device that verifies signatures refuses it (docs/signing.md; sign a .bin.gz to
     * serve a compressed signed release) */
    if (rep->kind != UPD_KIND_ESP8266_APP || rep->verdict != UPD_VERDICT_OTA_APP || rep->gzip ||
        rep->sig_len)
        return 0;
    size_t len = 0, glen = 0;
    uint8_t *plain = read_all(path, &len), *gz = NULL;
    if (!plain) {
        snprintf(err, errlen, "cannot read %s back", path);
        return -1;
    }
    int rc = upd_gzip_compress(plain, len, &gz, &glen, err, errlen);
    free(plain);
    if (rc != 0)
        return -1;
    upd_file_info *gi = malloc(sizeof *gi);
    if (!gi) {
        free(gz);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    upd_inspect_buf(gz, glen, gi);
    /* what eboot would write must be this very release, and the rules need its limit */
    if (gi->report.verdict != UPD_VERDICT_OTA_APP || strcmp(gi->inner_md5_hex, fi->md5_hex) != 0 ||
        !gi->report.gzip_min_stage_known) {
        snprintf(err, errlen, "the gzip copy does not inspect as this release (%s)",
                 gi->report.reason);
        free(gi);
        free(gz);
        return -1;
    }
    char tmp[PATH_MAX + 32];
    rc = write_tmp(s->tmp_dir, gz, glen, tmp, sizeof tmp);
    free(gz);
    if (rc != 0) {
        snprintf(err, errlen, "cannot write the gzip copy to %s: %s", s->tmp_dir, strerror(errno));
        free(gi);
        return -1;
    }
    if (upd__blob_commit(s, tmp, gi->sha256_hex, err, errlen) != 0) {
        unlink(tmp);
        free(gi);
        return -1;
    }
    upd__copy(rel->gz_sha256, sizeof rel->gz_sha256, gi->sha256_hex);
    upd__copy(rel->gz_md5, sizeof rel->gz_md5, gi->md5_hex);
    rel->gz_size = (int64_t)glen;
    rel->gz_min_stage = gi->report.gzip_min_stage;
    free(gi);
    return 0;
}

static int without_copy(const upd_release_row *r)
{
    return r->gz_size <= 0 && !r->retired && !strcmp(r->kind, "esp8266-app") &&
           !strcmp(r->mode, "sketch");
}

static int make_copy(srv *s, const char *path, const upd_file_info *fi, upd_release_row *r,
                     char *err, size_t errlen)
{
    if (upd__delivery_make_gzip(s, path, fi, r, err, errlen) != 0 ||
        (r->gz_size > 0 && s->store->ops->release_set_gzip(s->store, r, err, errlen) != 0))
        return -1;
    return r->gz_size > 0;
}

void upd__delivery_refresh(srv *s)
{
    static const upd_refresh w = {without_copy, make_copy, "no gzip copy",
                                  "devices get its plain image", "made the gzip copy of"};
    upd__refresh_releases(s, &w);
}

void upd__delivery_gzip_report(const upd_release_row *rel, const upd_image_report *rep,
                               upd_image_report *out)
{
    *out = *rep;
    out->size = (uint32_t)rel->gz_size;
    out->inspected = out->size;
    out->first_byte = 0x1F;
    out->first_size_code = 0; /* byte 3 of a gzip header: its flags (none), not a size code */
    out->kind = UPD_KIND_GZIP;
    out->inner_kind = rep->kind;
    out->gzip = 1;
    out->gzip_isize = rep->size;
    out->gzip_min_stage_known = 1;
    out->gzip_min_stage = (uint32_t)rel->gz_min_stage;
}

int upd__delivery_device_inflates(srv *s, const upd_device_row *d, const upd_device_row *known,
                                  int *flash_mode, char *why, size_t whylen)
{
    if (strcmp(d->family, "esp8266") != 0) {
        snprintf(why, whylen, "not an ESP8266");
        return 0;
    }
    upd_release_row *r = malloc(sizeof *r);
    if (!r) {
        snprintf(why, whylen, "out of memory");
        return 0;
    }
    int found =
        (d->sketch_md5[0] && s->store->ops->release_by_hash(s->store, d->sketch_md5, r) == 0) ||
        (d->sketch_sha256[0] && s->store->ops->release_by_hash(s->store, d->sketch_sha256, r) == 0);
    /* a device that reports a hash we do not know runs something else, whatever the
     * registry remembers of it */
    if (!found && !d->sketch_md5[0] && !d->sketch_sha256[0] && known && known->running_release > 0)
        found = s->store->ops->release_get(s->store, known->running_release, r) == 0;
    int yes = 0;
    if (!found) {
        snprintf(why, whylen, "the image it runs is not one of our releases");
    } else {
        upd_image_report *rep = malloc(sizeof *rep);
        if (rep && upd__release_report(s, r, rep) == 0) {
            yes = rep->eboot_inflates == 1 ? 1 : rep->eboot_inflates == 0 ? -1 : 0;
            const char *how = NULL;
            if (yes == 1 && (d->sketch_md5[0] || d->sketch_sha256[0]))
                upd__imageid_runs(r, d->sketch_md5, d->sketch_sha256, &how);
            int m = upd__imageid_flash_mode(how);
            *flash_mode = m >= 0 ? m : rep->flash_mode;
            if (yes == -1)
                snprintf(why, whylen,
                         "it runs release %lld, whose boot loader (eboot) does not inflate gzip "
                         "(an ESP8266 core before 2.7)",
                         (long long)r->id);
            else if (yes == 0)
                snprintf(why, whylen, "it runs release %lld, without an Arduino boot loader",
                         (long long)r->id);
        } else {
            snprintf(why, whylen, "release %lld cannot be read", (long long)r->id);
        }
        free(rep);
    }
    free(r);
    return yes;
}
