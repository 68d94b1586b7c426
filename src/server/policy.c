/* Deciding what a device gets (policy v1): its pinned release, else its channel's
 * current release; offered only when it is not what the device runs, not a downgrade
 * (unless pinned), and the core's fit rules say the device's own client will install
 * and boot it. Every "no" carries a sentence that says why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "delivery.h"
#include "chip.h"
#include "sigrule.h"
#include "host/fileinspect.h"
#include "imageid.h"
#include "metrics.h"
#include "rollout.h"
#include "srv.h"
#include "updraft/version.h"

int upd__release_report(srv *s, const upd_release_row *rel, upd_image_report *out)
{
    pthread_mutex_lock(&s->cache_mu);
    for (size_t i = 0; i < s->ncache; i++)
        if (s->cache[i].id == rel->id) {
            *out = s->cache[i].rep;
            pthread_mutex_unlock(&s->cache_mu);
            return 0;
        }
    pthread_mutex_unlock(&s->cache_mu);

    char path[PATH_MAX + 80], err[512];
    upd__blob_local(s, rel->sha256, path, sizeof path);
    upd_file_info *fi = malloc(sizeof *fi);
    if (!fi)
        return -1;
    if (upd_inspect_file(path, fi, err, sizeof err) != 0) {
        upd__log(UPD_LOG_ERROR, "release-unreadable", "release %lld: %s", (long long)rel->id, err);
        free(fi);
        return -1;
    }
    *out = fi->report;
    free(fi);

    pthread_mutex_lock(&s->cache_mu);
    if (s->ncache == s->capcache) {
        size_t nc = s->capcache ? s->capcache * 2 : 16;
        report_entry *p = realloc(s->cache, nc * sizeof *p);
        if (p) {
            s->cache = p;
            s->capcache = nc;
        }
    }
    if (s->ncache < s->capcache) {
        s->cache[s->ncache].id = rel->id;
        s->cache[s->ncache].rep = *out;
        s->ncache++;
    }
    pthread_mutex_unlock(&s->cache_mu);
    return 0;
}

int upd__target(srv *s, const char *family, int mode_fs, const char *url_channel,
                const upd_device_row *known, upd_release_row *out, int *pinned, char *why,
                size_t whylen)
{
    const char *mode = mode_fs ? "fs" : "sketch";
    *pinned = 0;
    if (known && known->pin_release > 0) {
        int rc = s->store->ops->release_get(s->store, known->pin_release, out);
        if (rc == 0 && !out->retired && !strcmp(out->mode, mode)) {
            *pinned = 1;
            return 0;
        }
        if (rc == UPD_STORE_EFAIL) {
            snprintf(why, whylen,
                     "the database cannot be reached and release %lld, which the device is "
                     "pinned to, is not in the cache: nothing is offered until it is back",
                     (long long)known->pin_release);
            return -1;
        }
        if (rc != 0 || out->retired) {
            snprintf(why, whylen,
                     "pinned to release %lld, which is %s: nothing is offered; pin another "
                     "release or unpin the device",
                     (long long)known->pin_release, rc ? "gone" : "retired");
            return -1;
        }
        /* pinned to an app but asking for a filesystem (or the reverse): use the channel */
    }
    const char *ch = url_channel && url_channel[0] ? url_channel
                     : known && known->channel[0]  ? known->channel
                                                   : "stable";
    const char *fams[3];
    int nf = 0;
    if (family && family[0])
        fams[nf++] = family;
    else {
        fams[nf++] = "esp8266";
        fams[nf++] = "esp32";
    }
    if (mode_fs)
        fams[nf++] = "any";
    int failed = 0;
    for (int i = 0; i < nf; i++) {
        int rc = s->store->ops->channel_current(s->store, ch, fams[i], mode, out);
        if (rc == 0)
            return 0;
        failed |= rc == UPD_STORE_EFAIL;
    }
    if (failed)
        snprintf(why, whylen,
                 "the database cannot be reached and channel '%s' is not in the cache: "
                 "nothing is offered until it is back",
                 ch);
    else
        snprintf(why, whylen,
                 "channel '%s' has no current %s release%s%s: nothing to install (publish one with "
                 "'updraft release add FILE --version V --channel %s')",
                 ch, mode_fs ? "filesystem" : "application", family && family[0] ? " for " : "",
                 family && family[0] ? family : "", ch);
    return -1;
}

static int runs_release(const upd_devreq *dr, const upd_release_row *rel, const char **how)
{
    const upd_device_row *d = &dr->dev;
    if (!dr->mode_fs) {
        if (upd__imageid_runs(rel, d->sketch_md5, d->sketch_sha256, how))
            return 1;
        if (d->sketch_md5[0] || d->sketch_sha256[0]) {
            /* it told us its image hash and it differs: a different image, whatever the
             * version string says (a rebuild with an unchanged version) */
            return 0;
        }
    }
    if (d->version[0] && upd_version_cmp(d->version, rel->version) == 0) {
        *how = "same version";
        return 1;
    }
    return 0;
}

/* A refusal for the wrong chip says how the device's chip is known and, when its
 * channel is declared for another chip, what to do (chip.h). */
static void wrong_chip_advice(srv *s, const upd_devreq *dr, const upd_device_row *known,
                              const char *chip_how, char *detail, size_t cap)
{
    const char *ch = dr->url_channel[0]           ? dr->url_channel
                     : known && known->channel[0] ? known->channel
                                                  : "stable";
    char declared[16];
    size_t n = strlen(detail);
    if (chip_how[0])
        snprintf(detail + n, cap - n, " (the device's chip is known: %s)", chip_how);
    n = strlen(detail);
    if (s->store->ops->channel_chip_get(s->store, ch, declared, sizeof declared) == 0)
        snprintf(detail + n, cap - n,
                 "; channel '%s' is declared for %s devices: assign this device to a channel "
                 "for its chip ('updraft device channel MAC CHANNEL')",
                 ch, declared);
}

void upd__device_facts(srv *s, const upd_device_row *d, int mode_fs, upd_client client,
                       const upd_device_row *known, upd_device_facts *f, char *chip_how,
                       size_t howlen)
{
    memset(f, 0, sizeof *f);
    f->client = client;
    f->mode = mode_fs ? UPD_MODE_FS : UPD_MODE_SKETCH;
    f->chip = !strcmp(d->family, "esp8266") ? UPD_CHIP_ESP8266
                                            : upd__chip_of_device(s, d, known, chip_how, howlen);
    if (d->free_space >= 0 && d->free_space <= UINT32_MAX) {
        f->has_free_space = 1;
        f->free_space = (uint32_t)d->free_space;
    }
    if (d->chip_size > 0 && d->chip_size <= UINT32_MAX) {
        f->has_chip_size = 1;
        f->chip_size = (uint32_t)d->chip_size;
    }
    if (d->sketch_size > 0 && d->sketch_size <= UINT32_MAX) {
        f->has_sketch_size = 1;
        f->sketch_size = (uint32_t)d->sketch_size;
    }
}

void upd__decide(srv *s, const upd_devreq *dr, const upd_device_row *known, upd_decision *out)
{
    memset(out, 0, sizeof *out);
    out->result = "none";
    out->decline = UPD_DECLINE_OTHER;
    const upd_device_row *d = &dr->dev;
    char why[UPD_DETAIL_MAX];
    /* pin > active rollout > channel (docs/rollouts.md "Precedence") */
    upd_rollout_pick pk;
    int ro = UPD_RO_NONE, downgrade_ok = 0;
    if (dr->has_mac && !(known && known->pin_release > 0))
        ro = upd__rollout_pick(s->rollouts, d->mac, known ? known : d,
                               d->family[0] ? d->family
                               : known      ? known->family
                                            : "",
                               dr->mode_fs, known ? known->offered_release : 0, &pk);
    if (ro == UPD_RO_OFFER && s->store->ops->release_get(s->store, pk.release_id, &out->rel) == 0 &&
        !out->rel.retired) {
        out->rollout_id = pk.rollout_id;
        downgrade_ok = pk.allow_downgrade;
    } else if (upd__target(s, d->family, dr->mode_fs, dr->url_channel, known, &out->rel,
                           &out->pinned, why, sizeof why) != 0) {
        upd__copy(out->detail, sizeof out->detail, why);
        return;
    }
    upd_release_row *rel = &out->rel;
    out->have_rel = 1;
    const char *how = NULL;
    if (runs_release(dr, rel, &how)) {
        /* the answer of nearly every check: built without snprintf, which cost more than
         * the rest of the decision */
        out->result = "current";
        char id[24], *p = out->detail;
        int n = 0;
        uint64_t v = rel->id < 0 ? 0 : (uint64_t)rel->id;
        do
            id[n++] = (char)('0' + v % 10);
        while (v /= 10);
        size_t vl = strlen(rel->version);
        if (vl > 200)
            vl = 200;
        memcpy(p, "up to date: runs release ", 25);
        p += 25;
        while (n)
            *p++ = id[--n];
        memcpy(p, " (version ", 10);
        p += 10;
        memcpy(p, rel->version, vl);
        p += vl;
        *p++ = ',';
        *p++ = ' ';
        size_t hl = strlen(how);
        memcpy(p, how, hl);
        p += hl;
        *p++ = ')';
        *p = '\0';
        return;
    }
    if (ro == UPD_RO_HOLD && rel->id == pk.release_id) {
        /* the channel serves what a rollout holds back from this device */
        out->result = "declined";
        upd__rollout_hold_why(&pk, out->detail, sizeof out->detail);
        return;
    }
    /* a downgrade: offered to a pinned device, by a rollout that allows it, or by a
     * channel set with --allow-downgrade (once: a device that runs it is current above) */
    int downgrade = !out->pinned && d->version[0] && upd_version_cmp(rel->version, d->version) < 0;
    if (downgrade && !downgrade_ok && !rel->channel_downgrade) {
        out->result = "declined";
        out->decline = UPD_DECLINE_DOWNGRADE;
        snprintf(out->detail, sizeof out->detail,
                 "release %lld has version %.100s, older than the running %.100s: downgrades "
                 "are offered only to pinned devices ('updraft device pin MAC %lld') or by a "
                 "channel set with --allow-downgrade",
                 (long long)rel->id, rel->version, d->version, (long long)rel->id);
        return;
    }
    if (!dr->mode_fs && !d->version[0] && !d->sketch_md5[0] && !d->sketch_sha256[0]) {
        /* an old core that says nothing about its image: avoid an endless update loop */
        if (known && known->running_release == rel->id) {
            out->result = "current";
            snprintf(out->detail, sizeof out->detail,
                     "up to date: it sends no version or MD5, and it last installed release %lld",
                     (long long)rel->id);
            return;
        }
        if (d->sketch_size > 0 &&
            (d->sketch_size == rel->size || d->sketch_size == rel->inner_size)) {
            out->result = "current";
            snprintf(out->detail, sizeof out->detail,
                     "up to date (assumed): it sends no version or MD5 and its sketch is as "
                     "long as release %lld (%lld bytes)",
                     (long long)rel->id, (long long)d->sketch_size);
            return;
        }
    }
    if (known && known->hold_release == rel->id &&
        upd__outcome_hold(&s->outcome, known, rel->id, rel->version, upd__now_ms(), why,
                          sizeof why)) {
        out->result = "declined";
        out->decline = UPD_DECLINE_HELD_BACK;
        upd__copy(out->detail, sizeof out->detail, why);
        return;
    }
    char via[64] = "";
    if (out->pinned)
        snprintf(via, sizeof via, " (pinned)");
    else if (out->rollout_id)
        snprintf(via, sizeof via, " (rollout %lld, wave %d)", (long long)out->rollout_id, pk.wave);
    upd_image_report rep;
    if (upd__release_report(s, rel, &rep) != 0) {
        out->result = "declined";
        out->decline = UPD_DECLINE_UNREADABLE;
        snprintf(out->detail, sizeof out->detail,
                 "release %lld cannot be read from the blob store: check the data directory "
                 "(the server log says more)",
                 (long long)rel->id);
        return;
    }
    upd_device_facts f;
    char chip_how[160] = "";
    upd__device_facts(s, d, dr->mode_fs, dr->client, known, &f, chip_how, sizeof chip_how);
    /* can the device inflate gzip? Needed for a gzip release and for the gzip copy */
    char gz_why[UPD_DETAIL_MAX] = "";
    int inflates = 0, mode = -1;
    if (!dr->mode_fs && !strcmp(d->family, "esp8266") && (rep.gzip || rel->gz_size > 0))
        inflates = upd__delivery_device_inflates(s, d, known, &mode, gz_why, sizeof gz_why);
    if (inflates < 0)
        f.no_gzip = 1; /* its core is older than 2.7: a gzip release would fail -106 */
    upd_fit_result fr;
    memset(&fr, 0, sizeof fr);
    int plain_ok = upd_fit_check(&rep, &f, &fr) == 0;
    /* the gzip copy (delivery.h): to a device known to inflate, whenever it fits */
    int space = plain_ok || fr.code == UPD_FIT_NO_SPACE || fr.code == UPD_FIT_NO_SPACE_ROUNDUP;
    if (!dr->mode_fs && rel->gz_size > 0 && space) {
        if (!f.has_sketch_size || !f.has_free_space) {
            snprintf(gz_why, sizeof gz_why,
                     "the device did not say its sketch size and free space");
        } else if (inflates != 1) {
            /* gz_why says why */
        } else if (rep.sig_len) {
            /* a copy of a signed release made before copies skipped them (delivery.c) */
            snprintf(gz_why, sizeof gz_why,
                     "the release is signed and its gzip copy is not (a device that verifies "
                     "signatures would refuse it: Updater error 12)");
        } else if (mode != rep.flash_mode && rep.flash_mode != 3) {
            /* eboot writes the inflated image as it is: its flash mode byte would replace
             * the one the device boots with (the Updater patches it only in plain images) */
            snprintf(gz_why, sizeof gz_why,
                     "the device boots in %s flash mode and the image says %s (eboot does not "
                     "rewrite it)",
                     upd_flash_mode_name((uint8_t)mode), upd_flash_mode_name(rep.flash_mode));
        } else {
            upd_image_report gzrep;
            upd_fit_result gr;
            upd__delivery_gzip_report(rel, &rep, &gzrep);
            if (upd_fit_check(&gzrep, &f, &gr) == 0) {
                out->offer = 1;
                out->gzip = 1;
                out->result = "offered";
                snprintf(out->detail, sizeof out->detail,
                         "release %lld (version %.100s) offered%s as its gzip copy (%lld bytes "
                         "instead of %lld)%s%.200s",
                         (long long)rel->id, rel->version, via, (long long)rel->gz_size,
                         (long long)rel->size, plain_ok ? "" : ", the only form that fits: plain, ",
                         plain_ok ? "" : fr.explanation);
                return;
            }
            snprintf(gz_why, sizeof gz_why, "%s", gr.explanation);
        }
    }
    if (!plain_ok) {
        out->result = "declined";
        out->decline = UPD_DECLINE_FIT + (int)fr.code;
        snprintf(out->detail, sizeof out->detail, "release %lld (version %.100s) not offered: %s",
                 (long long)rel->id, rel->version,
                 fr.explanation[0] ? fr.explanation : upd_fit_code_name(fr.code));
        if (fr.code == UPD_FIT_WRONG_CHIP)
            wrong_chip_advice(s, dr, known, chip_how, out->detail, sizeof out->detail);
        if (gz_why[0] && rel->gz_size > 0 && space) {
            size_t n = strlen(out->detail);
            snprintf(out->detail + n, sizeof out->detail - n,
                     "; its gzip copy (%lld bytes) is not sent: %s", (long long)rel->gz_size,
                     gz_why);
        }
        return;
    }
    char sig_why[360];
    if (!dr->mode_fs && upd__sign_mode_refused(s, d, known, &rep, sig_why, sizeof sig_why)) {
        out->result = "declined";
        out->decline = UPD_DECLINE_OTHER;
        snprintf(out->detail, sizeof out->detail, "release %lld (version %.100s) not offered: %s",
                 (long long)rel->id, rel->version, sig_why);
        return;
    }
    out->offer = 1;
    out->result = "offered";
    snprintf(out->detail, sizeof out->detail, "release %lld (version %.200s) offered%s%s%.100s%s",
             (long long)rel->id, rel->version, via, downgrade ? " as a downgrade from " : "",
             downgrade ? d->version : "",
             downgrade && !downgrade_ok ? " (channel set with --allow-downgrade)" : "");
    if (rel->gz_size > 0 && gz_why[0] && !dr->mode_fs) {
        size_t n = strlen(out->detail);
        snprintf(out->detail + n, sizeof out->detail - n, " plain (not its gzip copy: %.200s)",
                 gz_why);
    }
}
