/* Device and channel chips (chip.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chip.h"
#include "srv.h"

/* The chip of rel when it is an ESP32-family application, else UPD_CHIP_UNKNOWN. */
static upd_chip release_chip(const upd_release_row *rel)
{
    if (strcmp(rel->platform, "esp32") || !rel->chip[0])
        return UPD_CHIP_UNKNOWN;
    return upd_chip_parse(rel->chip);
}

upd_chip upd__chip_of_device(srv *s, const upd_device_row *d, const upd_device_row *known,
                             char *how, size_t howlen)
{
    upd_release_row *r = malloc(sizeof *r);
    upd_chip chip = UPD_CHIP_UNKNOWN;
    if (!r)
        return chip;
    /* the evidence, strongest first: what it runs now, what it ran at its last check,
     * what the registry knows it installed */
    const char *hashes[4] = {d->sketch_md5, d->sketch_sha256, known ? known->sketch_md5 : "",
                             known ? known->sketch_sha256 : ""};
    static const char *const said[4] = {"it runs", "it runs", "it ran", "it ran"};
    for (int i = 0; i < 4 && chip == UPD_CHIP_UNKNOWN; i++)
        if (hashes[i][0] && s->store->ops->release_by_hash(s->store, hashes[i], r) == 0 &&
            (chip = release_chip(r)) != UPD_CHIP_UNKNOWN && how)
            snprintf(how, howlen, "%s release %lld, an %s image", said[i], (long long)r->id,
                     upd_chip_name(chip));
    if (chip == UPD_CHIP_UNKNOWN && known && known->running_release > 0 &&
        s->store->ops->release_get(s->store, known->running_release, r) == 0 &&
        (chip = release_chip(r)) != UPD_CHIP_UNKNOWN && how)
        snprintf(how, howlen, "it installed release %lld, an %s image", (long long)r->id,
                 upd_chip_name(chip));
    free(r);
    return chip;
}

int upd__chip_channel_accepts(srv *s, const char *name, const upd_release_row *rel, char *err,
                              size_t errlen)
{
    char declared[16];
    int rc = s->store->ops->channel_chip_get(s->store, name, declared, sizeof declared);
    if (rc == UPD_STORE_ENOTFOUND || !strcmp(rel->mode, "fs"))
        return 0;
    if (rc != 0) {
        snprintf(err, errlen, "could not read the chip of channel '%s'", name);
        return UPD_STORE_EFAIL;
    }
    upd_chip want = upd_chip_parse(declared), have = release_chip(rel);
    if (!strcmp(rel->platform, "esp8266"))
        have = UPD_CHIP_ESP8266;
    if (have == want)
        return 0;
    const char *hn = upd_chip_name(have);
    char what[160];
    if (rel->id > 0)
        snprintf(what, sizeof what, "release %lld (version %.100s)", (long long)rel->id,
                 rel->version);
    else
        snprintf(what, sizeof what, "this image (version %.100s)", rel->version);
    snprintf(err, errlen,
             "channel '%s' is declared for %s devices, and %s is an image for %s: put it on a "
             "channel for its chip, or change the declaration with 'updraft channel chip %s "
             "CHIP' ('-' clears it)",
             name, declared, what, hn ? hn : "no known chip", name);
    return -1;
}

typedef struct current_ctx {
    const char *name;
    int64_t ids[8];
    char platform[8][16], mode[8][8];
    int n;
} current_ctx;

static int collect_current(void *ctx, const upd_channel_row *c)
{
    current_ctx *k = ctx;
    if (strcmp(c->name, k->name) || k->n >= 8)
        return 0;
    k->ids[k->n] = c->release_id;
    upd__copy(k->platform[k->n], sizeof k->platform[0], c->platform);
    upd__copy(k->mode[k->n], sizeof k->mode[0], c->mode);
    k->n++;
    return 0;
}

int upd__chip_declare(srv *s, const char *name, const char *chip, const upd_release_row *incoming,
                      int *bad_name, char *err, size_t errlen)
{
    *bad_name = 0;
    if (!chip || !chip[0] || !strcmp(chip, "-"))
        return s->store->ops->channel_chip_set(s->store, name, NULL, err, errlen);
    upd_chip c = upd_chip_parse(chip);
    if (c == UPD_CHIP_UNKNOWN || c == UPD_CHIP_ESP8266 || !upd_chip_name(c)) {
        *bad_name = 1;
        snprintf(err, errlen,
                 "'%.40s' is not an ESP32-family chip: use esp32, esp32s2, esp32s3, esp32c2, "
                 "esp32c3, esp32c5, esp32c6, esp32c61, esp32h2 or esp32p4",
                 chip);
        return -1;
    }
    const char *canon = upd_chip_name(c);
    current_ctx k;
    memset(&k, 0, sizeof k);
    k.name = name;
    if (s->store->ops->channel_list(s->store, collect_current, &k) != 0) {
        snprintf(err, errlen, "could not list the releases of channel '%s'", name);
        return UPD_STORE_EFAIL;
    }
    upd_release_row *r = malloc(sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return UPD_STORE_EFAIL;
    }
    int rc = 0;
    for (int i = 0; i < k.n && rc == 0; i++) {
        if (incoming && !strcmp(k.platform[i], incoming->platform) &&
            !strcmp(k.mode[i], incoming->mode))
            continue; /* about to be replaced */
        if (s->store->ops->release_get(s->store, k.ids[i], r) != 0 || !strcmp(r->mode, "fs"))
            continue;
        upd_chip have = !strcmp(r->platform, "esp8266") ? UPD_CHIP_ESP8266 : release_chip(r);
        if (have != c) {
            const char *hn = upd_chip_name(have);
            snprintf(err, errlen,
                     "channel '%s' serves release %lld (version %.100s), an image for %s: it "
                     "cannot be declared for %s devices; put a %s release on it first "
                     "('updraft channel set %s RELEASE --chip %s')",
                     name, (long long)r->id, r->version, hn ? hn : "no known chip", canon, canon,
                     name, chip);
            rc = -1;
        }
    }
    free(r);
    if (rc)
        return rc;
    return s->store->ops->channel_chip_set(s->store, name, canon, err, errlen);
}
