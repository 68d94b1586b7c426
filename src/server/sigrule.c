/* Signed releases on the server: see sigrule.h. */
#include "sigrule.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filter.h"
#include "imageid.h"
#include "signing.h"
#include "srv.h"

/* A PEM public key is well under this (RSA-4096: about 800 bytes). */
#define PEM_MAX 4096

int upd__sign_setup(srv *s)
{
    if (!s->cfg.sign_key)
        return 0;
    char err[1024];
    upd_sig_key *k = NULL;
    if (upd_sig_load_private(s->cfg.sign_key, &k, err, sizeof err) != 0) {
        fprintf(stderr, "updraft: --sign-key %s\n", err);
        return -1;
    }
    if (!upd_sig_key_is_rsa(k)) {
        fprintf(stderr,
                "updraft: --sign-key %s is an %s key: ESP8266 devices verify RSA signatures "
                "only (docs/signing.md); give an RSA key ('updraft keygen --type rsa2048')\n",
                s->cfg.sign_key, upd_sig_key_desc(k));
        upd_sig_key_free(k);
        return -1;
    }
    s->sign_key = k;
    char id[65] = "";
    upd_sig_key_id(k, id);
    printf("updraft: signs uploads on request with %s key %.16s (--sign-key)\n",
           upd_sig_key_desc(k), id);
    return 0;
}

void upd__sign_free(srv *s)
{
    upd_sig_key_free(s->sign_key);
    s->sign_key = NULL;
}

const char *upd__sign_server_key(const srv *s, char id[65])
{
    if (!s->sign_key)
        return NULL;
    if (upd_sig_key_id(s->sign_key, id) != 0)
        id[0] = '\0';
    return upd_sig_key_desc(s->sign_key);
}

/* The key channel name requires: 1 with *k loaded, 0 none, or UPD_STORE_EFAIL. */
static int channel_key(srv *s, const char *name, upd_sig_key **k, char *err, size_t errlen)
{
    char pem[PEM_MAX], id[65];
    *k = NULL;
    int rc = s->store->ops->channel_key_get(s->store, name, pem, sizeof pem, id);
    if (rc == UPD_STORE_ENOTFOUND)
        return 0;
    if (rc != 0) {
        snprintf(err, errlen, "could not read the signing key of channel '%s'", name);
        return UPD_STORE_EFAIL;
    }
    char kerr[512];
    if (upd_sig_public_from_pem(pem, strlen(pem), "the stored key", k, kerr, sizeof kerr) != 0) {
        snprintf(err, errlen, "channel '%s': %s", name, kerr);
        return UPD_STORE_EFAIL;
    }
    return 1;
}

/* Check the file at path against k, the key of channel name. 0 verifies; -1 with the
 * sentence in err, which says why the caller wanted it: requiring the key (requiring),
 * pinning a device to it (device: its MAC), or the channel taking it (neither). */
static int check_path_for(const upd_sig_key *k, const char *name, const char *path,
                          const char *what, int requiring, const char *device, char *err,
                          size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    void *p = MAP_FAILED;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0)
        p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (fd >= 0)
        close(fd);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "cannot read %s back to check its signature", what);
        return UPD_STORE_EFAIL;
    }
    char why[600];
    int st_ = upd_sig_check(k, p, (size_t)st.st_size, why, sizeof why);
    munmap(p, (size_t)st.st_size);
    if (st_ == UPD_SIG_VERIFIES)
        return 0;
    char id[65] = "";
    upd_sig_key_id(k, id);
    if (device)
        snprintf(err, errlen,
                 "device %s uses channel '%s', which requires releases signed with %s key "
                 "%.16s, and %s is %s: the device would download it and refuse it (Updater "
                 "error 12). Pin it to a release signed with that key, or first move it to a "
                 "channel without the requirement ('updraft device channel %s CHANNEL'; a "
                 "channel named in the device's update URL comes first)",
                 device, name, upd_sig_key_desc(k), id, what, why, device);
    else if (requiring)
        snprintf(err, errlen,
                 "channel '%s' cannot require %s key %.16s: %s is %s. Its devices would be "
                 "left with an image they refuse: make a release signed with that key its "
                 "current one in the same step ('updraft channel set %s RELEASE "
                 "--require-signed KEY')",
                 name, upd_sig_key_desc(k), id, what, why, name);
    else
        snprintf(err, errlen,
                 "channel '%s' requires releases signed with %s key %.16s, and %s is %s. Sign "
                 "it ('updraft sign FILE --key KEY', or 'updraft release add --sign' on a "
                 "server started with --sign-key), or put it on a channel without the "
                 "requirement",
                 name, upd_sig_key_desc(k), id, what, why);
    return -1;
}

static int check_path(const upd_sig_key *k, const char *name, const char *path, const char *what,
                      int requiring, char *err, size_t errlen)
{
    return check_path_for(k, name, path, what, requiring, NULL, err, errlen);
}

int upd__sign_file_accepted(srv *s, const char *name, const char *path, const upd_file_info *fi,
                            const char *what, char *err, size_t errlen)
{
    if (fi->report.platform == UPD_PLATFORM_ESP32)
        return 0;
    upd_sig_key *k = NULL;
    int rc = channel_key(s, name, &k, err, errlen);
    if (rc <= 0)
        return rc;
    rc = check_path(k, name, path, what, 0, err, errlen);
    upd_sig_key_free(k);
    return rc;
}

typedef struct current_ctx {
    const char *name; /* channels of this name, or */
    int64_t release;  /* channels serving this release */
    upd_release_row rel[8];
    char names[8][UPD_NAME_MAX];
    int n;
} current_ctx;

static int collect_current(void *ctx, const upd_channel_row *c)
{
    current_ctx *cc = ctx;
    if (cc->n < 8 && (cc->name ? !strcmp(c->name, cc->name) : c->release_id == cc->release)) {
        cc->rel[cc->n].id = c->release_id;
        upd__copy(cc->names[cc->n], sizeof cc->names[0], c->name);
        cc->n++;
    }
    return 0;
}

int upd__sign_replace_accepted(srv *s, int64_t old, const char *path, const upd_file_info *fi,
                               char *err, size_t errlen)
{
    current_ctx *cc = calloc(1, sizeof *cc);
    if (!cc) {
        snprintf(err, errlen, "out of memory");
        return UPD_STORE_EFAIL;
    }
    cc->release = old;
    int rc = s->store->ops->channel_list(s->store, collect_current, cc) ? UPD_STORE_EFAIL : 0;
    for (int i = 0; rc == 0 && i < cc->n; i++)
        rc = upd__sign_file_accepted(s, cc->names[i], path, fi, "this upload", err, errlen);
    free(cc);
    return rc;
}

int upd__sign_channel_accepts(srv *s, const char *name, const upd_release_row *rel, char *err,
                              size_t errlen)
{
    if (!strcmp(rel->platform, "esp32"))
        return 0;
    upd_sig_key *k = NULL;
    int rc = channel_key(s, name, &k, err, errlen);
    if (rc <= 0)
        return rc;
    char path[PATH_MAX], what[160];
    upd__blob_path(s, rel->sha256, path, sizeof path);
    snprintf(what, sizeof what, "release %lld (version %.100s)", (long long)rel->id, rel->version);
    rc = check_path(k, name, path, what, 0, err, errlen);
    upd_sig_key_free(k);
    return rc;
}

int upd__sign_device_accepts(srv *s, const upd_device_row *d, const upd_release_row *rel, char *err,
                             size_t errlen)
{
    if (!strcmp(rel->platform, "esp32"))
        return 0;
    const char *name = upd__device_channel(d);
    upd_sig_key *k = NULL;
    int rc = channel_key(s, name, &k, err, errlen);
    if (rc <= 0)
        return rc;
    char path[PATH_MAX], what[160];
    upd__blob_path(s, rel->sha256, path, sizeof path);
    snprintf(what, sizeof what, "release %lld (version %.100s)", (long long)rel->id, rel->version);
    rc = check_path_for(k, name, path, what, 0, d->mac, err, errlen);
    upd_sig_key_free(k);
    return rc;
}

/* The channels the target's devices use, each judged once. The store reads the devices
 * in no particular order: the device and the channel a refusal names are the first in
 * the device list's order (last seen, newest first, ties by MAC), whatever order they
 * came in. */
#define TGT_CHANNELS 64
struct upd_sign_walk {
    srv *s;
    const upd_release_row *rel;
    int n;
    struct {
        char name[UPD_NAME_MAX];
        int refused; /* 0 takes it, 1 refuses, -1 could not tell (the store failed) */
        int64_t devices;
        char mac[UPD_MAC_STR]; /* the first of them */
        int64_t seen;          /* its last_seen_ms */
        char why[1024];        /* the refusal's sentence */
    } ch[TGT_CHANNELS];
    int first; /* the channel of the first device refused */
    int failed;
};

upd_sign_walk *upd__sign_walk_new(srv *s, const upd_release_row *rel)
{
    upd_sign_walk *w = calloc(1, sizeof *w);
    if (w) {
        w->s = s;
        w->rel = rel;
        w->first = -1;
    }
    return w;
}

void upd__sign_walk_device(upd_sign_walk *w, const upd_device_row *d)
{
    if (!strcmp(w->rel->platform, "esp32") || strcmp(d->family, "esp8266"))
        return;
    const char *name = upd__device_channel(d);
    int i = 0;
    while (i < w->n && strcmp(w->ch[i].name, name))
        i++;
    if (i == w->n) {
        if (w->n == TGT_CHANNELS)
            return; /* more channels than that in one target: the first ones are judged */
        upd__copy(w->ch[i].name, sizeof w->ch[i].name, name);
        int rc = upd__sign_channel_accepts(w->s, name, w->rel, w->ch[i].why, sizeof w->ch[i].why);
        w->ch[i].refused = rc == 0 ? 0 : rc == -1 ? 1 : -1;
        if (rc != 0 && rc != -1)
            w->failed = 1;
        w->n++;
    }
    if (w->ch[i].refused != 1)
        return;
    if (w->ch[i].devices++ == 0 || d->last_seen_ms > w->ch[i].seen ||
        (d->last_seen_ms == w->ch[i].seen && strcmp(d->mac, w->ch[i].mac) < 0)) {
        upd__copy(w->ch[i].mac, sizeof w->ch[i].mac, d->mac);
        w->ch[i].seen = d->last_seen_ms;
    }
    if (w->first < 0 || w->ch[i].seen > w->ch[w->first].seen ||
        (w->ch[i].seen == w->ch[w->first].seen && strcmp(w->ch[i].mac, w->ch[w->first].mac) < 0))
        w->first = i;
}

void upd__sign_walk_failed(upd_sign_walk *w)
{
    w->failed = 1;
}

int upd__sign_walk_end(upd_sign_walk *w, char *err, size_t errlen)
{
    if (w->failed) {
        snprintf(err, errlen,
                 "could not check the target's devices against their channels' "
                 "signing keys (the database failed)");
        free(w);
        return UPD_STORE_EFAIL;
    }
    int rc = 0;
    if (w->first >= 0) {
        int64_t total = 0;
        int nch = 0;
        for (int i = 0; i < w->n; i++)
            if (w->ch[i].refused == 1) {
                total += w->ch[i].devices;
                nch++;
            }
        snprintf(err, errlen,
                 "%lld device(s) of the target (%s on channel '%s'%s) would download release "
                 "%lld and refuse it (Updater error 12): %s. Or leave them out of the target "
                 "(add 'channel!=%s' to it)",
                 (long long)total, w->ch[w->first].mac, w->ch[w->first].name,
                 nch > 1 ? ", and other channels that require a key" : "", (long long)w->rel->id,
                 w->ch[w->first].why, w->ch[w->first].name);
        rc = -1;
    }
    free(w);
    return rc;
}

int upd__sign_upload(srv *s, const char *path, upd_file_info *fi, unsigned *status, char *err,
                     size_t errlen)
{
    *status = 422;
    if (!s->sign_key) {
        *status = 400;
        snprintf(err, errlen,
                 "this server holds no signing key: start it with --sign-key FILE (a private "
                 "key 'updraft keygen' made), or sign the file before uploading it ('updraft "
                 "sign FILE --key KEY')");
        return -1;
    }
    if (fi->report.platform == UPD_PLATFORM_ESP32) {
        snprintf(err, errlen,
                 "this is an ESP32-family image: ESP32 devices do not verify ESP8266-style "
                 "signatures; upload it without sign (Secure Boot v2 images are signed with "
                 "espsecure before the upload)");
        return -1;
    }
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat st;
    void *p = MAP_FAILED;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0)
        p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        if (fd >= 0)
            close(fd);
        *status = 500;
        snprintf(err, errlen, "the server could not read the upload back: %s", strerror(errno));
        return -1;
    }
    size_t len = (size_t)st.st_size;
    uint8_t sig[1024 + 4];
    size_t sl = 0;
    char why[600];
    int rc = -1;
    if (fi->report.sig_len || (fi->report.gzip && upd_sig_check(s->sign_key, p, len, why,
                                                                sizeof why) == UPD_SIG_VERIFIES)) {
        snprintf(err, errlen,
                 "the file is signed already: upload it without sign (a device verifies only "
                 "the last signature)");
    } else if (upd_sig_sign(s->sign_key, p, len, sig, 1024, &sl, why, sizeof why) != 0) {
        snprintf(err, errlen, "the server could not sign it: %s", why);
    } else {
        for (int i = 0; i < 4; i++)
            sig[sl + (size_t)i] = (uint8_t)(sl >> (8 * i));
        rc = 0;
    }
    munmap(p, len);
    if (rc == 0) {
        /* append, flush; on any failure cut the file back to what was uploaded */
        ssize_t w = pwrite(fd, sig, sl + 4, (off_t)len);
        if (w != (ssize_t)(sl + 4) || fsync(fd) != 0) {
            int e = errno;
            if (ftruncate(fd, (off_t)len) != 0) { /* the upload is dropped anyway */
            }
            *status = 500;
            snprintf(err, errlen, "the server could not write the signed file: %s", strerror(e));
            rc = -1;
        }
    }
    close(fd);
    if (rc != 0)
        return -1;
    char ierr[512];
    if (upd_inspect_file(path, fi, ierr, sizeof ierr) != 0) {
        *status = 500;
        snprintf(err, errlen, "the server could not read the signed file back: %s", ierr);
        return -1;
    }
    return 0;
}

int upd__sign_require(srv *s, const char *name, const char *pem, const upd_release_row *incoming,
                      unsigned *status, char *err, size_t errlen)
{
    *status = 400;
    if (!upd__valid_channel(name)) {
        snprintf(err, errlen, "'%.100s' is not a channel name", name);
        return -1;
    }
    if (!pem)
        return s->store->ops->channel_key_set(s->store, name, NULL, NULL, NULL, err, errlen);
    upd_sig_key *k = NULL;
    char kerr[512];
    if (strlen(pem) >= PEM_MAX) {
        snprintf(err, errlen, "the key is longer than %d bytes: give a PEM public key", PEM_MAX);
        return -1;
    }
    if (upd_sig_public_from_pem(pem, strlen(pem), "the key", &k, kerr, sizeof kerr) != 0) {
        snprintf(err, errlen, "%s", kerr);
        return -1;
    }
    if (!upd_sig_key_is_rsa(k)) {
        snprintf(err, errlen,
                 "the key is %s: ESP8266 devices verify RSA signatures only (docs/signing.md); "
                 "give the RSA public key the devices hold",
                 upd_sig_key_desc(k));
        upd_sig_key_free(k);
        return -1;
    }
    /* what the channel serves now must verify, or its devices would be stranded */
    current_ctx *cc = calloc(1, sizeof *cc);
    int rc = cc ? 0 : UPD_STORE_EFAIL;
    if (cc) {
        cc->name = name;
        rc = s->store->ops->channel_list(s->store, collect_current, cc) ? UPD_STORE_EFAIL : 0;
    }
    for (int i = 0; cc && rc == 0 && i < cc->n; i++) {
        upd_release_row *r = &cc->rel[i];
        if (s->store->ops->release_get(s->store, r->id, r) != 0)
            continue;
        if (!strcmp(r->platform, "esp32") ||
            (incoming && !strcmp(incoming->platform, r->platform) &&
             !strcmp(incoming->mode, r->mode)))
            continue;
        char path[PATH_MAX], what[200];
        upd__blob_path(s, r->sha256, path, sizeof path);
        snprintf(what, sizeof what, "its current release %lld (version %.100s)", (long long)r->id,
                 r->version);
        rc = check_path(k, name, path, what, 1, err, errlen);
        if (rc == -1)
            *status = 409;
    }
    free(cc);
    char id[65] = "";
    if (rc == 0 && upd_sig_key_id(k, id) == 0) {
        char *pub = upd_sig_key_public_pem(k);
        rc = pub ? s->store->ops->channel_key_set(s->store, name, pub, id, upd_sig_key_desc(k), err,
                                                  errlen)
                 : UPD_STORE_EFAIL;
        free(pub);
    }
    upd_sig_key_free(k);
    return rc;
}

int upd__sign_channel_key(srv *s, const char *name, char desc[32], char id[65])
{
    upd_sig_key *k = NULL;
    char err[256];
    if (channel_key(s, name, &k, err, sizeof err) != 1)
        return -1;
    snprintf(desc, 32, "%s", upd_sig_key_desc(k));
    if (upd_sig_key_id(k, id) != 0)
        id[0] = '\0';
    upd_sig_key_free(k);
    return 0;
}

int upd__sign_mode_refused(srv *s, const upd_device_row *d, const upd_device_row *known,
                           const upd_image_report *rep, char *why, size_t whylen)
{
    if (!rep->sig_len || rep->gzip || strcmp(d->family, "esp8266") != 0)
        return 0;
    upd_release_row *r = malloc(sizeof *r);
    upd_image_report *rr = malloc(sizeof *rr);
    int mode = -1, found = 0;
    if (r && rr) {
        found =
            (d->sketch_md5[0] && s->store->ops->release_by_hash(s->store, d->sketch_md5, r) == 0) ||
            (d->sketch_sha256[0] &&
             s->store->ops->release_by_hash(s->store, d->sketch_sha256, r) == 0);
        if (!found && !d->sketch_md5[0] && !d->sketch_sha256[0] && known &&
            known->running_release > 0)
            found = s->store->ops->release_get(s->store, known->running_release, r) == 0;
    }
    if (found && upd__release_report(s, r, rr) == 0 && !rr->gzip) {
        const char *how = NULL;
        if (d->sketch_md5[0] || d->sketch_sha256[0])
            upd__imageid_runs(r, d->sketch_md5, d->sketch_sha256, &how);
        mode = upd__imageid_flash_mode(how);
        if (mode < 0)
            mode = rr->flash_mode;
    }
    int64_t running = found ? r->id : 0;
    free(r);
    free(rr);
    if (mode < 0 || mode == rep->flash_mode)
        return 0;
    snprintf(why, whylen,
             "it is signed and built for %s flash, and the device runs in %s (it runs release "
             "%lld): its Updater writes the chip's mode into the image on flash before it "
             "checks the signature, which then fails (Updater error 12). Build and sign the "
             "image in %s mode for these devices",
             upd_flash_mode_name(rep->flash_mode), upd_flash_mode_name((uint8_t)mode),
             (long long)running, upd_flash_mode_name((uint8_t)mode));
    return -1;
}
