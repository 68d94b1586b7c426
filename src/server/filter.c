/* The target filter (filter.h, docs/filters.md): parsed once, matched without
 * allocating. */
#include <stdio.h>
#include <string.h>

#include "filter.h"
#include "host/closest.h"
#include "srv.h"
#include "tags.h"
#include "updraft/image.h"
#include "updraft/version.h"

static const char *const KEYS[UPD_FK__COUNT + 1] = {
    [UPD_FK_PLATFORM] = "platform", [UPD_FK_CHIP] = "chip",       [UPD_FK_CHANNEL] = "channel",
    [UPD_FK_TAG] = "tag",           [UPD_FK_VERSION] = "version", [UPD_FK_SEEN] = "seen",
    [UPD_FK_MAC] = "mac",           [UPD_FK_PINNED] = "pinned",   [UPD_FK_ATTENTION] = "attention",
    [UPD_FK_TOOL] = "tool",         [UPD_FK__COUNT] = NULL};

static const char *const OPS[] = {"=", "!=", "<", "<=", ">", ">=", "~", "!~"};

#define ALL_KEYS                                                                                   \
    "keys are platform, chip, channel, tag, version, seen, mac, pinned, attention, tool "          \
    "(docs/filters.md)"

/* What each key takes, said when a term is wrong. */
static const char *const TAKES[UPD_FK__COUNT] = {
    [UPD_FK_PLATFORM] = "platform takes = or != with esp8266 or esp32 (platform=esp8266)",
    [UPD_FK_CHIP] = "chip takes = or != with chip names: esp8266, esp32, esp32s2, esp32s3, "
                    "esp32c2, esp32c3, esp32c5, esp32c6, esp32c61, esp32h2, esp32p4 "
                    "(chip=esp32c3,esp32s3)",
    [UPD_FK_CHANNEL] = "channel takes = or != with channel names: letters, digits, '.', '_', "
                       "'-' (channel=beta,stable)",
    [UPD_FK_TAG] = "tag takes = (has any of the tags) or != (has none of them) with tags "
                   "(tag=lab,kitchen), or ~ (has a tag containing it) with a part of a tag "
                   "(tag~kitch)",
    [UPD_FK_VERSION] = "version takes =, != with versions (version=1.2.0,1.2.1) or one of <, "
                       "<=, >, >= with one version (version<2.0.0)",
    [UPD_FK_SEEN] = "seen takes < or > (or <=, >=) with one age: a number and s, m, h, d or w "
                    "(seen<24h: seen in the last 24 hours; seen>7d: not seen for 7 days)",
    [UPD_FK_MAC] = "mac takes = or != with MAC addresses (mac=5C:CF:7F:0A:1B:2C,5ccf7f0a1b2d), "
                   "or ~ with a part of one: hex digits, with or without ':' or '-' "
                   "(mac~0A:1B, mac~0a1b)",
    [UPD_FK_PINNED] = "pinned takes = or != with yes, no or a release id (pinned=yes, pinned=4)",
    [UPD_FK_ATTENTION] = "attention takes = or != with yes or no (attention=yes: a failed "
                         "release is no longer offered to the device)",
    [UPD_FK_TOOL] = "tool takes = or != with none (a real device), sim or doctor (the updraft "
                    "tool that made the device)",
};

/* The error sentence about one term: "filter term 'X': what: takes". */
static int bad(char *err, size_t errlen, const char *term, size_t tlen, const char *what,
               const char *takes)
{
    snprintf(err, errlen, "filter term '%.*s': %s%s%s", (int)(tlen > 80 ? 80 : tlen), term, what,
             takes ? ": " : "", takes ? takes : "");
    return -1;
}

static int lower_eq(const char *a, size_t n, const char *word)
{
    if (strlen(word) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = a[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch != word[i])
            return 0;
    }
    return 1;
}

/* yes/no words: 1, 0, or -1 when v is neither. */
static int yes_no(const char *v, size_t n)
{
    if (lower_eq(v, n, "yes") || lower_eq(v, n, "true") || lower_eq(v, n, "1"))
        return 1;
    if (lower_eq(v, n, "no") || lower_eq(v, n, "false") || lower_eq(v, n, "0"))
        return 0;
    return -1;
}

/* An age: digits and one unit letter; ms in *out. */
static int parse_age(const char *v, size_t n, int64_t *out)
{
    if (n < 2)
        return -1;
    int64_t x = 0;
    size_t i = 0;
    for (; i < n - 1; i++) {
        if (v[i] < '0' || v[i] > '9' || x > 100000000)
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    static const struct {
        char u;
        int64_t ms;
    } units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}, {'w', 604800000}};
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++)
        if (v[n - 1] == units[u].u) {
            *out = x * units[u].ms;
            return 0;
        }
    return -1;
}

/* Check and normalise value v (n bytes) of a term with key k into out (cap bytes) and
 * *num; 0, or -1 with err set. */
static int parse_value(upd_filter_key k, const char *term, size_t tlen, const char *v, size_t n,
                       char *out, size_t cap, int64_t *num, char *err, size_t errlen)
{
    char what[160];
    *num = 0;
    if (n == 0)
        return bad(err, errlen, term, tlen, "a value is missing", TAKES[k]);
    if (n >= cap || n >= UPD_VER_MAX)
        return bad(err, errlen, term, tlen, "a value is too long", TAKES[k]);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7E)
            return bad(err, errlen, term, tlen, "a value has a character that is not printable",
                       TAKES[k]);
    memcpy(out, v, n);
    out[n] = '\0';
    switch (k) {
    case UPD_FK_PLATFORM:
        for (size_t i = 0; i < n; i++)
            if (out[i] >= 'A' && out[i] <= 'Z')
                out[i] = (char)(out[i] - 'A' + 'a');
        if (strcmp(out, "esp8266") && strcmp(out, "esp32")) {
            snprintf(what, sizeof what, "'%.40s' is not a platform", out);
            return bad(err, errlen, term, tlen, what, TAKES[k]);
        }
        return 0;
    case UPD_FK_CHIP: {
        upd_chip c = upd_chip_parse(out);
        if (c == UPD_CHIP_UNKNOWN || !upd_chip_name(c)) {
            snprintf(what, sizeof what, "'%.40s' is not a chip name", out);
            return bad(err, errlen, term, tlen, what, TAKES[k]);
        }
        *num = c;
        snprintf(out, cap, "%s", upd_chip_name(c));
        size_t w = 0; /* "ESP32-C3" -> "esp32c3" */
        for (const char *p = out; *p; p++)
            if (*p != '-')
                out[w++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        out[w] = '\0';
        return 0;
    }
    case UPD_FK_CHANNEL:
        if (!upd__valid_channel(out)) {
            snprintf(what, sizeof what, "'%.40s' is not a channel name", out);
            return bad(err, errlen, term, tlen, what, TAKES[k]);
        }
        return 0;
    case UPD_FK_TAG: {
        char why[256];
        if (upd__tag_check(v, n, why, sizeof why) != 0)
            return bad(err, errlen, term, tlen, why, NULL);
        return 0;
    }
    case UPD_FK_VERSION:
        return 0;
    case UPD_FK_SEEN:
        if (parse_age(v, n, num) != 0) {
            snprintf(what, sizeof what, "'%.40s' is not an age", out);
            return bad(err, errlen, term, tlen, what, TAKES[k]);
        }
        return 0;
    case UPD_FK_MAC: {
        char mac[UPD_MAC_STR];
        if (upd__parse_mac(v, n, mac) != 0) {
            snprintf(what, sizeof what, "'%.40s' is not a MAC address", out);
            return bad(err, errlen, term, tlen, what, TAKES[k]);
        }
        snprintf(out, cap, "%s", mac);
        return 0;
    }
    case UPD_FK_PINNED: {
        int yn = yes_no(v, n);
        if (yn >= 0) {
            *num = yn ? -1 : 0;
            snprintf(out, cap, "%s", yn ? "yes" : "no");
            return 0;
        }
        int64_t id = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i] < '0' || v[i] > '9' || id > 100000000000LL) {
                snprintf(what, sizeof what, "'%.40s' is neither yes, no nor a release id", out);
                return bad(err, errlen, term, tlen, what, TAKES[k]);
            }
            id = id * 10 + (v[i] - '0');
        }
        if (id < 1)
            return bad(err, errlen, term, tlen, "release ids begin at 1", TAKES[k]);
        *num = id;
        snprintf(out, cap, "%lld", (long long)id);
        return 0;
    }
    case UPD_FK_ATTENTION: {
        int yn = yes_no(v, n);
        if (yn < 0) {
            snprintf(what, sizeof what, "'%.40s' is neither yes nor no", out);
            return bad(err, errlen, term, tlen, what, TAKES[k]);
        }
        *num = yn;
        snprintf(out, cap, "%s", yn ? "yes" : "no");
        return 0;
    }
    case UPD_FK_TOOL:
        for (size_t i = 0; i < n; i++)
            if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '-') ||
                n > 15) {
                snprintf(what, sizeof what, "'%.40s' is not a tool name", out);
                return bad(err, errlen, term, tlen, what, TAKES[k]);
            }
        return 0;
    default:
        return -1;
    }
}

/* A value of mac~ or tag~ (a part of a MAC: hex digits, one ':' or '-' between them; of
 * a tag: its characters) normalised into out: "0A:1B", "0A1B", "kitch". */
static int parse_part(upd_filter_key k, const char *term, size_t tlen, const char *v, size_t n,
                      char *out, size_t cap, char *err, size_t errlen)
{
    char what[160];
    if (n == 0)
        return bad(err, errlen, term, tlen, "a value is missing", TAKES[k]);
    if (n >= cap || n > (k == UPD_FK_MAC ? 17 : 24)) {
        snprintf(what, sizeof what, "'%.40s' is longer than a %s", v, KEYS[k]);
        return bad(err, errlen, term, tlen, what, TAKES[k]);
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = v[i];
        if (ch >= 'A' && ch <= 'Z' && k == UPD_FK_TAG)
            ch = (char)(ch - 'A' + 'a');
        if (ch >= 'a' && ch <= 'f' && k == UPD_FK_MAC)
            ch = (char)(ch - 'a' + 'A');
        int ok = k == UPD_FK_MAC
                     ? (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'F') ||
                           ((ch == ':' || ch == '-') && i > 0 && i + 1 < n && out[w - 1] != ':')
                     : (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                           ch == '_' || ch == '-';
        if (!ok) {
            snprintf(what, sizeof what, "'%.*s' is not a part of a %s", (int)(n > 40 ? 40 : n), v,
                     k == UPD_FK_MAC ? "MAC address" : "tag");
            return bad(err, errlen, term, tlen, what, TAKES[k]);
        }
        out[w++] = ch == '-' && k == UPD_FK_MAC ? ':' : ch;
    }
    out[w] = '\0';
    return 0;
}

/* Parse one term (tlen bytes at term) into f. */
static int parse_term(upd_filter *f, size_t *used, const char *term, size_t tlen, char *err,
                      size_t errlen)
{
    size_t kl = 0;
    while (kl < tlen && ((term[kl] >= 'a' && term[kl] <= 'z') ||
                         (term[kl] >= 'A' && term[kl] <= 'Z') || term[kl] == '_'))
        kl++;
    const char *op = term + kl;
    size_t ol = 0;
    int opi = -1;
    if (kl < tlen) {
        if (op[0] == '!' && kl + 1 < tlen && op[1] == '=')
            ol = 2, opi = UPD_FOP_NE;
        else if (op[0] == '!' && kl + 1 < tlen && op[1] == '~')
            ol = 2, opi = UPD_FOP_HASNT;
        else if (op[0] == '~')
            ol = 1, opi = UPD_FOP_HAS;
        else if (op[0] == '<' && kl + 1 < tlen && op[1] == '=')
            ol = 2, opi = UPD_FOP_LE;
        else if (op[0] == '>' && kl + 1 < tlen && op[1] == '=')
            ol = 2, opi = UPD_FOP_GE;
        else if (op[0] == '=' && kl + 1 < tlen && op[1] == '=')
            ol = 2, opi = UPD_FOP_EQ;
        else if (op[0] == '=')
            ol = 1, opi = UPD_FOP_EQ;
        else if (op[0] == '<')
            ol = 1, opi = UPD_FOP_LT;
        else if (op[0] == '>')
            ol = 1, opi = UPD_FOP_GT;
    }
    if (kl == 0 || opi < 0)
        return bad(
            err, errlen, term, tlen, "not KEY=VALUE (or KEY!=, KEY<, KEY<=, KEY>, KEY>=, KEY~)",
            "write terms like platform=esp8266 tag=lab,kitchen version<2.0.0 seen<24h; " ALL_KEYS);
    char key[16] = "";
    int k = -1;
    if (kl < sizeof key) {
        for (size_t i = 0; i < kl; i++)
            key[i] = (char)(term[i] >= 'A' && term[i] <= 'Z' ? term[i] - 'A' + 'a' : term[i]);
        key[kl] = '\0';
        for (int i = 0; i < UPD_FK__COUNT; i++)
            if (!strcmp(key, KEYS[i]))
                k = i;
        if (k < 0 && !strcmp(key, "tags"))
            k = UPD_FK_TAG;
        if (k < 0 && !strcmp(key, "family"))
            k = UPD_FK_PLATFORM;
    }
    if (k < 0) {
        char what[160];
        const char *near = kl < sizeof key ? upd_closest(key, KEYS) : NULL;
        snprintf(what, sizeof what, "unknown key '%.*s'%s%s%s", (int)(kl > 30 ? 30 : kl), term,
                 near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
        return bad(err, errlen, term, tlen, what, ALL_KEYS);
    }
    int ordered = opi >= UPD_FOP_LT && opi <= UPD_FOP_GE;
    int part = opi == UPD_FOP_HAS || opi == UPD_FOP_HASNT;
    if ((k == UPD_FK_SEEN && !ordered) || (k != UPD_FK_SEEN && k != UPD_FK_VERSION && ordered) ||
        (part && k != UPD_FK_MAC && k != UPD_FK_TAG)) {
        char what[64];
        snprintf(what, sizeof what, "%s cannot be compared with %s", KEYS[k], OPS[opi]);
        return bad(err, errlen, term, tlen, what, TAKES[k]);
    }
    if (f->nterms >= UPD_FILTER_TERMS)
        return bad(err, errlen, term, tlen, "too many terms", "a filter has at most 32 terms");
    upd_filter_term *t = &f->term[f->nterms];
    t->key = (uint8_t)k;
    t->op = (uint8_t)opi;
    t->n = 0;
    const char *v = term + kl + ol, *end = term + tlen;
    int nv = 0, first = 0;
    for (int i = 0; i < f->nterms; i++)
        first += f->term[i].n;
    t->first = (uint16_t)first;
    for (const char *p = v;; nv++) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *ve = comma ? comma : end;
        if (first + nv >= UPD_FILTER_VALUES)
            return bad(err, errlen, term, tlen, "too many values",
                       "a filter has at most 256 values in all");
        upd_filter_value *fv = &f->value[first + nv];
        if (*used >= sizeof f->buf - 1)
            return bad(err, errlen, term, tlen, "the filter is too long",
                       "a filter has at most 4095 characters");
        fv->off = (uint16_t)*used;
        fv->num = 0;
        if (part ? parse_part((upd_filter_key)k, term, tlen, p, (size_t)(ve - p), f->buf + *used,
                              sizeof f->buf - *used, err, errlen) != 0
                 : parse_value((upd_filter_key)k, term, tlen, p, (size_t)(ve - p), f->buf + *used,
                               sizeof f->buf - *used, &fv->num, err, errlen) != 0)
            return -1;
        *used += strlen(f->buf + *used) + 1;
        if (!comma)
            break;
        p = comma + 1;
    }
    nv++;
    if (ordered && nv > 1) {
        char what[64];
        snprintf(what, sizeof what, "%s compares with one value", OPS[opi]);
        return bad(err, errlen, term, tlen, what, TAKES[k]);
    }
    t->n = (uint16_t)nv;
    if (k == UPD_FK_CHIP)
        f->has_chip = 1;
    f->nterms++;
    return 0;
}

int upd__filter_parse(const char *text, upd_filter *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    if (!text)
        return 0;
    size_t len = strlen(text), used = 0;
    if (len >= UPD_FILTER_TEXT_MAX) {
        snprintf(err, errlen,
                 "the filter is %zu characters long: a filter has at most %d (select long MAC "
                 "lists with tags instead)",
                 len, UPD_FILTER_TEXT_MAX - 1);
        return -1;
    }
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ' ' && *e != '\t' && *e != '\n' && *e != '\r')
            e++;
        if (parse_term(f, &used, p, (size_t)(e - p), err, errlen) != 0) {
            memset(f, 0, sizeof *f);
            return -1;
        }
        p = e;
    }
    return 0;
}

const char *upd__device_channel(const upd_device_row *d)
{
    return d->url_channel[0] ? d->url_channel : d->channel[0] ? d->channel : "stable";
}

/* The device's chip, UPD_CHIP_UNKNOWN when not known. */
static int device_chip(const upd_device_row *d, const upd_filter_env *env)
{
    if (!strcmp(d->family, "esp8266"))
        return UPD_CHIP_ESP8266;
    if (!strcmp(d->family, "esp32") && env && env->chip)
        return env->chip(env->ctx, d);
    return UPD_CHIP_UNKNOWN;
}

static int compare(int c, int op)
{
    switch (op) {
    case UPD_FOP_LT:
        return c < 0;
    case UPD_FOP_LE:
        return c <= 0;
    case UPD_FOP_GT:
        return c > 0;
    case UPD_FOP_GE:
        return c >= 0;
    default:
        return c == 0;
    }
}

int upd__filter_version_holds(const upd_filter *f, const upd_filter_term *t, const char *v)
{
    const upd_filter_value *val = &f->value[t->first];
    if (t->op >= UPD_FOP_LT && t->op <= UPD_FOP_GE)
        return compare(upd_version_cmp(v, f->buf + val->off), t->op);
    int any = 0;
    for (int i = 0; i < t->n && !any; i++)
        any = upd_version_cmp(v, f->buf + val[i].off) == 0;
    return t->op == UPD_FOP_NE ? !any : any;
}

/* Does one term hold for d? */
static int term_holds(const upd_filter *f, const upd_filter_term *t, const upd_device_row *d,
                      const upd_filter_env *env)
{
    const upd_filter_value *v = &f->value[t->first];
    int known = 1, any = 0;
    switch (t->key) {
    case UPD_FK_SEEN: {
        /* a device never seen is "not seen" for any age */
        int64_t age = d->last_seen_ms > 0 && env ? env->now_ms - d->last_seen_ms : INT64_MAX;
        return compare(age < v->num ? -1 : age > v->num ? 1 : 0, t->op);
    }
    case UPD_FK_VERSION:
        /* a device that never said its version matches no version term */
        return d->version[0] && upd__filter_version_holds(f, t, d->version);
    case UPD_FK_PLATFORM:
        known = d->family[0] != 0;
        for (int i = 0; i < t->n && !any; i++)
            any = !strcmp(d->family, f->buf + v[i].off);
        break;
    case UPD_FK_CHIP: {
        int chip = device_chip(d, env);
        known = chip != UPD_CHIP_UNKNOWN;
        for (int i = 0; i < t->n && !any; i++)
            any = chip == v[i].num;
        break;
    }
    case UPD_FK_CHANNEL: {
        const char *ch = upd__device_channel(d);
        for (int i = 0; i < t->n && !any; i++)
            any = !strcmp(ch, f->buf + v[i].off);
        break;
    }
    case UPD_FK_TAG:
        for (int i = 0; i < t->n && !any; i++) {
            const char *tag = f->buf + v[i].off;
            any = t->op >= UPD_FOP_HAS ? strstr(d->tags, tag) != NULL /* no ',' in tag */
                                       : upd__tags_has(d->tags, tag, strlen(tag));
        }
        break;
    case UPD_FK_MAC: {
        char hex[UPD_MAC_STR];
        size_t w = 0;
        for (const char *p = d->mac; *p && w + 1 < sizeof hex; p++)
            if (*p != ':')
                hex[w++] = *p;
        hex[w] = '\0';
        for (int i = 0; i < t->n && !any; i++) {
            const char *m = f->buf + v[i].off;
            any = t->op < UPD_FOP_HAS ? !strcmp(d->mac, m)
                                      : strstr(strchr(m, ':') ? d->mac : hex, m) != NULL;
        }
        break;
    }
    case UPD_FK_PINNED:
        for (int i = 0; i < t->n && !any; i++)
            any = v[i].num < 0    ? d->pin_release > 0
                  : v[i].num == 0 ? d->pin_release <= 0
                                  : d->pin_release == v[i].num;
        break;
    case UPD_FK_ATTENTION: {
        int att = d->hold_release > 0 && d->hold_failures > 0 && d->hold_until_ms == 0;
        for (int i = 0; i < t->n && !any; i++)
            any = att == (int)v[i].num;
        break;
    }
    case UPD_FK_TOOL:
        for (int i = 0; i < t->n && !any; i++) {
            const char *w = f->buf + v[i].off;
            any = !strcmp(w, "none") ? d->tool[0] == 0 : !strcmp(d->tool, w);
        }
        break;
    default:
        return 0;
    }
    /* a fact the device never sent (platform, chip) matches neither = nor != */
    return known && (t->op == UPD_FOP_NE || t->op == UPD_FOP_HASNT ? !any : any);
}

int upd__filter_match(const upd_filter *f, const upd_device_row *d, const upd_filter_env *env)
{
    for (int i = 0; i < f->nterms; i++)
        if (!term_holds(f, &f->term[i], d, env))
            return 0;
    return 1;
}

void upd__filter_format(const upd_filter *f, char *out, size_t cap)
{
    size_t n = 0;
    if (!cap)
        return;
    out[0] = '\0';
    for (int i = 0; i < f->nterms && n < cap; i++) {
        const upd_filter_term *t = &f->term[i];
        int w = snprintf(out + n, cap - n, "%s%s%s", i ? " " : "", KEYS[t->key], OPS[t->op]);
        n += w > 0 ? (size_t)w : 0;
        for (int j = 0; j < t->n && n < cap; j++) {
            w = snprintf(out + n, cap - n, "%s%s", j ? "," : "",
                         f->buf + f->value[t->first + j].off);
            n += w > 0 ? (size_t)w : 0;
        }
    }
}
