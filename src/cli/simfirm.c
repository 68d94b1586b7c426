/* Bad releases of `updraft sim`: parsing, the devices each one fails on, the tally per
 * release (simfirm.h). */
#include <stdlib.h>
#include <string.h>

#include "simfirm.h"

static const char *const MODES[] = {"good", "rollback", "loop", "refuse"};

static void say_spec(const char *spec)
{
    fprintf(stderr, "updraft sim: --bad-release %s: ", spec);
}

/* The share part: "0.5" or "50%". 0 or -1. */
static int parse_share(const char *s, double *out)
{
    char *e;
    double d = strtod(s, &e);
    if (e == s)
        return -1;
    if (*e == '%' && !e[1])
        d /= 100.0;
    else if (*e)
        return -1;
    if (!(d >= 0.0 && d <= 1.0))
        return -1;
    *out = d;
    return 0;
}

static int find_mode(const char *s)
{
    for (int m = UPD_SIMFIRM_ROLLBACK; m <= UPD_SIMFIRM_REFUSE; m++)
        if (!strcmp(s, MODES[m]))
            return m;
    return -1;
}

int upd_simfirm_add(upd_simfirm *f, const char *spec, int esp32)
{
    char buf[256];
    if (strlen(spec) >= sizeof buf) {
        say_spec(spec);
        fprintf(stderr, "too long\n");
        return -1;
    }
    strcpy(buf, spec);
    /* from the right: [:MODE], then :FAILRATE; the rest is the version */
    int mode = UPD_SIMFIRM_LOOP;
    char *c = strrchr(buf, ':');
    if (c && find_mode(c + 1) > 0) {
        mode = find_mode(c + 1);
        *c = '\0';
        c = strrchr(buf, ':');
    } else if (c && c > buf && !(c[1] >= '0' && c[1] <= '9') && c[1] != '.' &&
               memchr(buf, ':', (size_t)(c - buf))) {
        say_spec(spec);
        fprintf(stderr,
                "unknown mode '%s': rollback (ESP32: the boot loader goes back to the previous "
                "image), loop (the new firmware keeps crashing and never checks in again) or "
                "refuse (the device's Updater rejects the image)\n",
                c + 1);
        return -1;
    }
    if (!c || c == buf) {
        say_spec(spec);
        fprintf(stderr, "expected VERSION:FAILRATE[:MODE], e.g. 2.0.0:0.5:loop or "
                        "2.0.0:10%%:refuse\n");
        return -1;
    }
    double rate;
    if (parse_share(c + 1, &rate) != 0) {
        say_spec(spec);
        fprintf(stderr,
                "FAILRATE '%s' is not a share of the devices: a number from 0 to 1 (0.5) or a "
                "percentage (50%%)\n",
                c + 1);
        return -1;
    }
    *c = '\0';
    size_t vl = strlen(buf);
    int ok = vl > 0 && vl < UPD_SIMFIRM_VERS_MAX;
    for (size_t i = 0; ok && i < vl; i++)
        ok = buf[i] > ' ' && buf[i] <= '~';
    if (!ok) {
        say_spec(spec);
        fprintf(stderr,
                "the version must be the release's version as the server sends it in x-version "
                "(1 to %d printable characters, no spaces)\n",
                UPD_SIMFIRM_VERS_MAX - 1);
        return -1;
    }
    if (mode == UPD_SIMFIRM_ROLLBACK && !esp32) {
        say_spec(spec);
        fprintf(stderr, "an ESP8266 cannot roll back: eboot copies the new image over the old "
                        "one, so there is no previous image to boot. Use loop (the new firmware "
                        "keeps crashing) or refuse (the Updater rejects it), or simulate ESP32 "
                        "devices (--platform esp32)\n");
        return -1;
    }
    for (int i = 0; i < f->nbad; i++)
        if (!strcmp(f->bad[i].version, buf)) {
            say_spec(spec);
            fprintf(stderr, "version %s is already given by another --bad-release\n", buf);
            return -1;
        }
    if (f->nbad == UPD_SIMFIRM_BAD_MAX) {
        say_spec(spec);
        fprintf(stderr, "at most %d bad releases\n", UPD_SIMFIRM_BAD_MAX);
        return -1;
    }
    upd_simfirm_bad *b = &f->bad[f->nbad++];
    memcpy(b->version, buf, vl + 1);
    b->rate = rate;
    b->mode = mode;
    return 0;
}

/* A 32-bit mix (murmur3's finalizer). */
static uint32_t mix(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int upd_simfirm_setup(upd_simfirm *f, uint32_t ndev, uint32_t first, uint32_t seed)
{
    f->ndev = ndev;
    f->nrel = 0;
    for (int b = 0; b < f->nbad; b++)
        memcpy(f->rel[f->nrel++], f->bad[b].version, UPD_SIMFIRM_VERS_MAX);
    f->flags = calloc(ndev ? ndev : 1, UPD_SIMFIRM_REL_MAX);
    if (!f->flags)
        return -1;
    if (!f->nbad)
        return 0;
    f->badmask = calloc(ndev ? ndev : 1, 1);
    uint64_t *key = malloc((ndev ? ndev : 1) * sizeof *key);
    if (!f->badmask || !key) {
        free(key);
        return -1;
    }
    for (int b = 0; b < f->nbad; b++) {
        upd_simfirm_bad *bad = &f->bad[b];
        /* FNV-1a of the version, so each release picks its own devices */
        uint32_t hv = 2166136261u;
        for (const char *p = bad->version; *p; p++)
            hv = (hv ^ (uint8_t)*p) * 16777619u;
        for (uint32_t i = 0; i < ndev; i++)
            key[i] = (uint64_t)mix(mix(seed ^ 0x5BADF00Du) ^ mix(hv + first + i)) << 32 | i;
        qsort(key, ndev, sizeof *key, cmp_u64);
        double want = bad->rate * (double)ndev + 0.5;
        bad->n = want >= (double)ndev ? ndev : (uint32_t)want;
        for (uint32_t k = 0; k < bad->n; k++)
            f->badmask[(uint32_t)key[k]] |= (uint8_t)(1u << b);
    }
    free(key);
    return 0;
}

int upd_simfirm_mode(const upd_simfirm *f, uint32_t dev, const char *version)
{
    if (!f->badmask || dev >= f->ndev || !version || !version[0])
        return UPD_SIMFIRM_GOOD;
    for (int b = 0; b < f->nbad; b++)
        if ((f->badmask[dev] >> b & 1u) && !strcmp(f->bad[b].version, version))
            return f->bad[b].mode;
    return UPD_SIMFIRM_GOOD;
}

/* The tally's index of version, added when there is room; -1 when not tallied. */
static int rel_index(upd_simfirm *f, const char *version)
{
    for (int i = 0; i < f->nrel; i++)
        if (!strcmp(f->rel[i], version))
            return i;
    if (f->nrel == UPD_SIMFIRM_REL_MAX || strlen(version) >= UPD_SIMFIRM_VERS_MAX)
        return -1;
    strcpy(f->rel[f->nrel], version);
    return f->nrel++;
}

void upd_simfirm_note(upd_simfirm *f, uint32_t dev, const char *version, unsigned flag)
{
    if (!f->flags || dev >= f->ndev || !version || !version[0])
        return;
    int r = rel_index(f, version);
    if (r >= 0)
        f->flags[(size_t)dev * UPD_SIMFIRM_REL_MAX + (size_t)r] |= (uint8_t)flag;
}

typedef struct tally {
    unsigned offered, updated, rolled_back, looping, refused;
} tally;

static void count(const upd_simfirm *f, upd_simfirm_running_fn running, void *ctx, tally *t)
{
    memset(t, 0, sizeof(tally) * UPD_SIMFIRM_REL_MAX);
    for (uint32_t d = 0; d < f->ndev; d++) {
        const uint8_t *fl = f->flags + (size_t)d * UPD_SIMFIRM_REL_MAX;
        const char *run = running ? running(ctx, d) : NULL;
        for (int r = 0; r < f->nrel; r++) {
            t[r].offered += !!(fl[r] & UPD_SIMFIRM_F_OFFERED);
            t[r].rolled_back += !!(fl[r] & UPD_SIMFIRM_F_ROLLED_BACK);
            t[r].looping += !!(fl[r] & UPD_SIMFIRM_F_LOOPING);
            t[r].refused += !!(fl[r] & UPD_SIMFIRM_F_REFUSED);
            t[r].updated += run && !strcmp(run, f->rel[r]);
        }
    }
}

static const upd_simfirm_bad *bad_of(const upd_simfirm *f, const char *version)
{
    for (int b = 0; b < f->nbad; b++)
        if (!strcmp(f->bad[b].version, version))
            return &f->bad[b];
    return NULL;
}

void upd_simfirm_print(const upd_simfirm *f, FILE *out, upd_simfirm_running_fn running, void *ctx)
{
    if (!f->nrel)
        return;
    tally t[UPD_SIMFIRM_REL_MAX];
    count(f, running, ctx, t);
    fprintf(out, "  per release        offered  updated  rolled back  looping (silent)  "
                 "refused (Updater)\n");
    for (int r = 0; r < f->nrel; r++) {
        const upd_simfirm_bad *b = bad_of(f, f->rel[r]);
        fprintf(out, "    %-16s %8u %8u %12u %17u %18u", f->rel[r], t[r].offered, t[r].updated,
                t[r].rolled_back, t[r].looping, t[r].refused);
        if (b)
            fprintf(out, "   bad on %u device%s (%g%%, %s)", b->n, b->n == 1 ? "" : "s",
                    b->rate * 100.0, MODES[b->mode]);
        fputc('\n', out);
    }
}

void upd_simfirm_json(const upd_simfirm *f, FILE *out, upd_simfirm_running_fn running, void *ctx)
{
    tally t[UPD_SIMFIRM_REL_MAX];
    count(f, running, ctx, t);
    fputc('[', out);
    for (int r = 0; r < f->nrel; r++) {
        const upd_simfirm_bad *b = bad_of(f, f->rel[r]);
        /* versions are printable ASCII without spaces (x-version); escape " and \ */
        fprintf(out, "%s{\"version\": \"", r ? ", " : "");
        for (const char *p = f->rel[r]; *p; p++) {
            if (*p == '"' || *p == '\\')
                fputc('\\', out);
            fputc(*p, out);
        }
        fputs("\", \"bad\": ", out);
        if (b)
            fprintf(out, "{\"share\": %g, \"mode\": \"%s\", \"devices\": %u}", b->rate,
                    MODES[b->mode], b->n);
        else
            fputs("null", out);
        fprintf(out,
                ", \"offered\": %u, \"updated\": %u, \"rolled_back\": %u, \"looping\": %u, "
                "\"refused\": %u}",
                t[r].offered, t[r].updated, t[r].rolled_back, t[r].looping, t[r].refused);
    }
    fputc(']', out);
}

void upd_simfirm_free(upd_simfirm *f)
{
    free(f->badmask);
    free(f->flags);
    f->badmask = NULL;
    f->flags = NULL;
}

int upd_simfirm_duration(const char *v, uint64_t *ms)
{
    char *e;
    if (!v || !*v || *v == '-' || *v == '+')
        return -1;
    double x = strtod(v, &e);
    if (e == v || !(x > 0))
        return -1;
    double unit = 1000.0;
    if (!strcmp(e, "ms"))
        unit = 1.0;
    else if (!strcmp(e, "s") || !*e)
        unit = 1000.0;
    else if (!strcmp(e, "m"))
        unit = 60000.0;
    else if (!strcmp(e, "h"))
        unit = 3600000.0;
    else
        return -1;
    double r = x * unit;
    if (r < 1.0 || r > 30.0 * 86400000.0)
        return -1;
    *ms = (uint64_t)(r + 0.5);
    return 0;
}
