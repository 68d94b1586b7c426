/* Device endpoints: the Arduino httpUpdate protocol (GET /update[/<channel>]), the
 * static layout (GET /fw/<MAC>.version, /fw/<MAC>.bin) and immutable downloads with
 * Range (GET|HEAD /releases/<id>/<name>.bin). Wire facts: shared/spec. A 200 here always
 * carries a complete, validated image with its exact Content-Length; everything else is
 * 304 or an error code the device understands. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devmem.h"
#include "filesend.h"
#include "log.h"
#include "manifest.h"
#include "metrics.h"
#include "reload.h"
#include "srv.h"

/* ---- reading the device's headers ---------------------------------------------------- */

static void copy_clean(char *dst, size_t cap, const char *src)
{
    dst[0] = '\0';
    if (!src)
        return;
    size_t n = 0;
    for (; src[n]; n++)
        if (n + 1 >= cap || (unsigned char)src[n] < 0x20 || (unsigned char)src[n] > 0x7E)
            return;
    memcpy(dst, src, n + 1);
}

static int64_t parse_num(const char *s)
{
    if (!s || !*s)
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (1ull << 40))
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    return (int64_t)v;
}

static void copy_hex(char *dst, size_t n, const char *src)
{
    dst[0] = '\0';
    if (!src || strlen(src) != n)
        return;
    for (size_t i = 0; i < n; i++) {
        char ch = src[i];
        if (ch >= 'A' && ch <= 'F')
            ch = (char)(ch - 'A' + 'a');
        else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            dst[0] = '\0';
            return;
        }
        dst[i] = ch;
    }
    dst[n] = '\0';
}

/* The device headers, collected in one pass over the request's headers (names in any
 * case): the x-ESP8266-* and x-ESP32-* fields, and the User-Agent. */
enum {
    F_STA_MAC,
    F_BASE_MAC, /* Arduino-ESP32 3.x; the only MAC of chips without WiFi (ESP32-H2, -P4) */
    F_AP_MAC,
    F_CHIP_ID,
    F_SDK,
    F_VERSION,
    F_SKETCH_SIZE,
    F_SKETCH_MD5,
    F_SKETCH_SHA256,
    F_FREE_SPACE,
    F_CHIP_SIZE,
    F_MODE,
    F__COUNT
};
#define FIELD(name)                                                                                \
    {                                                                                              \
        name, sizeof name - 1                                                                      \
    }
static const struct {
    const char *lower; /* the name after x-ESP8266- / x-ESP32-, lowercase */
    size_t len;        /* compared first: most names are ruled out by their length */
} fields[F__COUNT] = {
    FIELD("sta-mac"),       FIELD("base-mac"),   FIELD("ap-mac"),      FIELD("chip-id"),
    FIELD("sdk-version"),   FIELD("version"),    FIELD("sketch-size"), FIELD("sketch-md5"),
    FIELD("sketch-sha256"), FIELD("free-space"), FIELD("chip-size"),   FIELD("mode"),
};
#undef FIELD

struct devhdrs {
    const char *f[2][F__COUNT]; /* [0] x-ESP8266-, [1] x-ESP32-; the first of each wins */
    const char *ua;
    const char *report; /* x-updraft-report */
    const char *tool;   /* x-updraft-tool */
};

/* a[0..n) equals lower (lowercase letters, digits, '-') in any case of the letters: the
 * header names of every check, compared without strcasecmp's locale tables */
static int name_is(const char *a, const char *lower, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)a[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (unsigned char)(ch | 0x20);
        if (ch != (unsigned char)lower[i])
            return 0;
    }
    return 1;
}

/* Which of fields[] rest[0..n) names (any case), or -1: one candidate by the length and a
 * letter or two, then one comparison (the headers of every check go through here). */
static int field_of(const char *rest, size_t n)
{
    int i;
    char c0 = (char)(rest[0] | 0x20), c1 = n > 1 ? (char)(rest[1] | 0x20) : 0;
    switch (n) {
    case 4:
        i = F_MODE;
        break;
    case 6:
        i = F_AP_MAC;
        break;
    case 7:
        i = c0 == 's' ? F_STA_MAC : c0 == 'c' ? F_CHIP_ID : F_VERSION;
        break;
    case 8:
        i = F_BASE_MAC;
        break;
    case 9:
        i = F_CHIP_SIZE;
        break;
    case 10:
        i = c0 == 'f' ? F_FREE_SPACE : F_SKETCH_MD5;
        break;
    case 11:
        i = c1 == 'd' ? F_SDK : F_SKETCH_SIZE;
        break;
    case 13:
        i = F_SKETCH_SHA256;
        break;
    default:
        return -1;
    }
    return fields[i].len == n && name_is(rest, fields[i].lower, n) ? i : -1;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t kl, const char *value, size_t value_size)
{
    struct devhdrs *h = cls;
    (void)kind;
    (void)value_size;
    if (!key || !value)
        return MHD_YES;
    if (kl > 5 && (key[0] | 0x20) == 'x' && key[1] == '-') {
        int fam = -1;
        size_t skip = 0;
        /* the cores send "x-ESP8266-" and "x-ESP32-" as written here; any case is fine */
        if (kl > 10 && (!memcmp(key, "x-ESP8266-", 10) || name_is(key, "x-esp8266-", 10))) {
            fam = 0;
            skip = 10;
        } else if (kl > 8 && (!memcmp(key, "x-ESP32-", 8) || name_is(key, "x-esp32-", 8))) {
            fam = 1;
            skip = 8;
        }
        if (fam >= 0) {
            int i = field_of(key + skip, kl - skip);
            if (i >= 0 && !h->f[fam][i])
                h->f[fam][i] = value;
        } else if (!h->report && kl == 16 && name_is(key + 2, "updraft-report", 14)) {
            h->report = value;
        } else if (!h->tool && kl == 14 && name_is(key + 2, "updraft-tool", 12)) {
            h->tool = value;
        }
    } else if (!h->ua && kl == 10 && name_is(key, "user-agent", 10)) {
        h->ua = value;
    }
    return MHD_YES;
}

/* x-updraft-tool: the updraft tool that sends the request ("sim", "doctor"; real devices
 * never send it): a lowercase word, else nothing. docs/protocol.md "Tool devices". */
static void tool_of(const char *t, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    if (!t)
        return;
    for (; t[n]; n++)
        if (n + 1 >= cap ||
            !((t[n] >= 'a' && t[n] <= 'z') || (t[n] >= '0' && t[n] <= '9') || t[n] == '-'))
            return;
    memcpy(out, t, n + 1);
}

/* Read the x-ESP8266-* / x-ESP32-* headers (any case) into dr; *report (when not NULL):
 * the x-updraft-report header found in the same pass, or NULL. */
static void read_devreq(struct MHD_Connection *c, upd_devreq *dr, const char **report)
{
    struct devhdrs h;
    memset(&h, 0, sizeof h);
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, collect_header, &h);
    if (report)
        *report = h.report;
    memset(dr, 0, sizeof *dr);
    upd_device_row *d = &dr->dev;
    d->sketch_size = d->free_space = d->chip_size = -1;
    const char *ua = h.ua;
    int fam = -1; /* which header family the request carries */
    for (int f = 0; f < 2 && fam < 0; f++)
        if (h.f[f][F_STA_MAC] || h.f[f][F_BASE_MAC] || h.f[f][F_MODE] || h.f[f][F_FREE_SPACE])
            fam = f;
    if (fam == 0 || (fam < 0 && ua && !strcasecmp(ua, "ESP8266-http-Update"))) {
        dr->family_known = 1;
        dr->client = UPD_CLIENT_ESP8266_ARDUINO;
        strcpy(d->family, "esp8266");
        fam = 0;
    } else if (fam == 1 || (ua && !strcasecmp(ua, "ESP32-http-Update"))) {
        dr->family_known = 1;
        dr->client = UPD_CLIENT_ESP32_ARDUINO;
        strcpy(d->family, "esp32");
        fam = 1;
    } else if (ua && !strncasecmp(ua, "ESP32 HTTP Client", 17)) {
        dr->family_known = 1;
        dr->client = UPD_CLIENT_ESP_IDF;
        strcpy(d->family, "esp32");
        fam = 1;
    }
    copy_clean(d->user_agent, sizeof d->user_agent, ua);
    tool_of(h.tool, d->tool, sizeof d->tool);
    upd__client_ip(c, d->ip, sizeof d->ip);
    if (fam < 0)
        return;
    const char *const *v = h.f[fam];
    /* identity: the STA MAC (the key registries already hold), else the base MAC, which
     * is all an ESP32-H2 or -P4 sends */
    if (v[F_STA_MAC] && upd__parse_mac(v[F_STA_MAC], strlen(v[F_STA_MAC]), d->mac) == 0)
        dr->has_mac = 1;
    else if (v[F_BASE_MAC] && upd__parse_mac(v[F_BASE_MAC], strlen(v[F_BASE_MAC]), d->mac) == 0)
        dr->has_mac = 1;
    if (v[F_BASE_MAC] && upd__parse_mac(v[F_BASE_MAC], strlen(v[F_BASE_MAC]), dr->base_mac) != 0)
        dr->base_mac[0] = '\0';
    if (!v[F_AP_MAC] || upd__parse_mac(v[F_AP_MAC], strlen(v[F_AP_MAC]), d->ap_mac) != 0)
        d->ap_mac[0] = '\0';
    if (parse_num(v[F_CHIP_ID]) >= 0)
        copy_clean(d->chip_id, sizeof d->chip_id, v[F_CHIP_ID]);
    copy_clean(d->sdk, sizeof d->sdk, v[F_SDK]);
    copy_clean(d->version, sizeof d->version, v[F_VERSION]);
    d->sketch_size = parse_num(v[F_SKETCH_SIZE]);
    copy_hex(d->sketch_md5, 32, v[F_SKETCH_MD5]);
    copy_hex(d->sketch_sha256, 64, v[F_SKETCH_SHA256]);
    d->free_space = parse_num(v[F_FREE_SPACE]);
    d->chip_size = parse_num(v[F_CHIP_SIZE]);
    copy_clean(d->mode, sizeof d->mode, v[F_MODE]);
    /* Arduino-ESP32 3.x names the filesystem it updates; every one is a filesystem image
     * for the data partition, as spiffs always was */
    static const char *const fs_modes[] = {"spiffs", "fatfs", "littlefs", "flashfs"};
    if (!d->mode[0] || !strcasecmp(d->mode, "sketch")) /* nearly every check */
        return;
    for (size_t i = 0; i < sizeof fs_modes / sizeof fs_modes[0]; i++)
        if (!strcasecmp(d->mode, fs_modes[i]))
            dr->mode_fs = 1;
    if (!strcasecmp(d->mode, "version"))
        dr->mode_version = 1;
}

/* ---- the device's outcome report (docs/protocol.md "Outcome report") ----------------- */

/* Take the next "key=value" field of a report: 1 with key/value set, 0 at the end. */
static int report_field(const char **p, char *key, size_t kcap, char *val, size_t vcap)
{
    const char *s = *p;
    if (!*s)
        return 0;
    const char *eq = strchr(s, '='), *semi = strchr(s, ';');
    const char *end = semi ? semi : s + strlen(s);
    if (!eq || eq > end || (size_t)(eq - s) >= kcap || (size_t)(end - eq - 1) >= vcap)
        return -1;
    memcpy(key, s, (size_t)(eq - s));
    key[eq - s] = '\0';
    memcpy(val, eq + 1, (size_t)(end - eq - 1));
    val[end - eq - 1] = '\0';
    *p = semi ? semi + 1 : end;
    return 1;
}

/* Parse x-updraft-report into dr (report[0] stays 0 for an absent or invalid header;
 * unknown fields are ignored, a v other than 1 voids the whole header). */
static void read_report(srv *s, const char *h, upd_devreq *dr)
{
    if (!h || strlen(h) > 200)
        return;
    char key[16], val[64], md5[33] = "", version[48] = "";
    int v = 0, have_result = 0, rollback = -1;
    long result = 0;
    const char *p = h;
    int f;
    while ((f = report_field(&p, key, sizeof key, val, sizeof val)) == 1) {
        char *end;
        if (!strcmp(key, "v"))
            v = !strcmp(val, "1");
        else if (!strcmp(key, "result")) {
            result = strtol(val, &end, 10);
            have_result = *val && !*end && result > -1000 && result < 1000;
        } else if (!strcmp(key, "md5"))
            copy_hex(md5, 32, val);
        else if (!strcmp(key, "version"))
            copy_clean(version, sizeof version, val);
        else if (!strcmp(key, "rollback"))
            rollback = !strcmp(val, "1") ? 1 : !strcmp(val, "0") ? 0 : -1;
    }
    if (f < 0 || !v || !have_result || rollback < 0)
        return;
    snprintf(dr->report, sizeof dr->report, "v=1;result=%ld%s%s%s%s;rollback=%d", result,
             md5[0] ? ";md5=" : "", md5, version[0] ? ";version=" : "", version, rollback);
    upd_release_row *rel = md5[0] ? malloc(sizeof *rel) : NULL;
    if (rel && s->store->ops->release_by_hash(s->store, md5, rel) == 0)
        dr->report_release = rel->id;
    free(rel);
    char what[96];
    if (version[0])
        snprintf(what, sizeof what, "version %s", version);
    else if (md5[0])
        snprintf(what, sizeof what, "the image with MD5 %s", md5);
    else
        snprintf(what, sizeof what, "the offered image");
    if (result == 0 && rollback) {
        upd__copy(dr->report_kind, sizeof dr->report_kind, "report-rolled-back");
        snprintf(dr->report_detail, sizeof dr->report_detail,
                 "the device reports: %s was installed, then rolled back by its boot loader "
                 "(the application did not confirm it)",
                 what);
    } else if (result == 0) {
        upd__copy(dr->report_kind, sizeof dr->report_kind, "report-installed");
        snprintf(dr->report_detail, sizeof dr->report_detail, "the device reports: %s installed",
                 what);
    } else {
        const char *text = upd_device_error_text((int)result);
        upd__copy(dr->report_kind, sizeof dr->report_kind, "report-failed");
        snprintf(dr->report_detail, sizeof dr->report_detail,
                 "the device reports: %s failed with %ld%s%s%s", what, result, text[0] ? " (" : "",
                 text, text[0] ? ")" : "");
    }
}

/* ---- device auth -------------------------------------------------------------------- */

/* 1 when the request may go on: no device auth configured, or the right credentials. */
static int device_auth_ok(srv *s, struct MHD_Connection *c, const char *mac)
{
    const upd_devauth *a = upd__devauth(s); /* the set in force (SIGHUP replaces it) */
    if (!a->fleet && a->ncreds == 0)
        return 1;
    char user[128], pass[128];
    if (upd__basic_auth(c, user, sizeof user, pass, sizeof pass) != 0)
        return 0;
    if (mac && mac[0]) {
        for (size_t i = 0; i < a->ncreds; i++)
            if (!strcmp(a->creds[i].mac, mac))
                return upd__secret_eq(user, a->creds[i].user) &
                       upd__secret_eq(pass, a->creds[i].pass);
    }
    if (a->fleet && upd__secret_eq(user, a->fleet_user) & upd__secret_eq(pass, a->fleet_pass))
        return 1;
    if (!mac || !mac[0]) {
        /* a download that names no device: any device's credentials will do */
        for (size_t i = 0; i < a->ncreds; i++)
            if (upd__secret_eq(user, a->creds[i].user) & upd__secret_eq(pass, a->creds[i].pass))
                return 1;
    }
    return 0;
}

int upd__device_auth_ok(srv *s, struct MHD_Connection *c, const char *mac)
{
    return device_auth_ok(s, c, mac);
}

#define DEVICE_AUTH_401                                                                            \
    "updraft: device authentication required: the device must send the user and password "         \
    "configured on the server (HTTP Basic, ESPhttpUpdate.setAuthorization)"

int upd__device_auth_refused(req *r, struct MHD_Connection *c, const char *mac, const char *text401,
                             enum MHD_Result *ret)
{
    srv *s = r->s;
    const upd_devauth *a = upd__devauth(s); /* the set in force (SIGHUP replaces it) */
    if (!a->fleet && a->ncreds == 0)
        return 0;
    if (!MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION)) {
        /* no credentials at all: a challenge, not a guess. Not counted against the source:
         * a device behind the same address (one NAT, one test host) that sends the right
         * credentials must not be throttled because another one sends none. */
        *ret = upd__reply_text(r, c, MHD_HTTP_UNAUTHORIZED, text401 ? text401 : DEVICE_AUTH_401);
        return 1;
    }
    char ip[48];
    upd__client_ip(c, ip, sizeof ip);
    /* the credential tried is the scope (authlimit.h): a device with credentials of its
     * own is counted by its MAC, the rest as the fleet's; so one device with a wrong
     * password does not make the devices sharing its address (NAT) wait */
    const char *scope = "fleet";
    for (size_t i = 0; mac && mac[0] && i < a->ncreds; i++)
        if (!strcmp(a->creds[i].mac, mac)) {
            scope = mac;
            break;
        }
    int64_t now = upd__now_ms();
    unsigned wait = upd_authlimit_check(s->device_limit, ip, scope, now);
    if (!wait) {
        if (device_auth_ok(s, c, mac)) {
            upd_authlimit_ok(s->device_limit, ip, scope);
            return 0;
        }
        upd__metrics_auth_failure(0);
        wait = upd_authlimit_fail(s->device_limit, ip, scope, now);
        if (!wait) {
            *ret =
                upd__reply_text(r, c, MHD_HTTP_UNAUTHORIZED, text401 ? text401 : DEVICE_AUTH_401);
            return 1;
        }
    }
    *ret = upd__reply_throttled(r, c, wait, 0);
    return 1;
}

/* ---- answers ------------------------------------------------------------------------- */

static void set_reason_header(struct MHD_Response *resp, const char *detail)
{
    char clean[UPD_DETAIL_MAX];
    size_t n = 0;
    for (const char *p = detail; *p && n + 1 < sizeof clean; p++)
        clean[n++] = ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7E) ? ' ' : *p;
    clean[n] = '\0';
    MHD_add_response_header(resp, "X-Updraft-Reason", clean);
}

/* Queue a kept response (caller holds resp_mu, so no miss replaces it meanwhile). */
static enum MHD_Result queue_kept(req *r, struct MHD_Connection *c, unsigned status,
                                  struct MHD_Response *resp)
{
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    r->responded = 1;
    return ret;
}

/* X-Updraft-Result: what the decision was, in one word ("declined": a release was there and
 * refused to this device; "current": it runs what it would be offered; "none": nothing to
 * offer), so tools (updraft sim) tell a refusal from "up to date" without reading the
 * sentence. Devices ignore it. */
static void set_result_header(struct MHD_Response *resp, const char *result)
{
    if (result && result[0])
        MHD_add_response_header(resp, "X-Updraft-Result", result);
}

/* 304 with the reason. A fleet on one release gets the same few reasons over and over,
 * so the answers are kept by reason (and result) and queued again instead of being built
 * (and freed) for every check. */
static enum MHD_Result not_modified(req *r, struct MHD_Connection *c, const char *detail,
                                    const char *result)
{
    srv *s = r->s;
    enum MHD_Result ret;
    if (!result)
        result = "";
    pthread_mutex_lock(&s->resp_mu);
    for (unsigned i = 0; i < UPD_RESP_SLOTS; i++)
        if (s->nm[i].resp && !strcmp(s->nm[i].reason, detail) && !strcmp(s->nm[i].result, result)) {
            ret = queue_kept(r, c, MHD_HTTP_NOT_MODIFIED, s->nm[i].resp);
            pthread_mutex_unlock(&s->resp_mu);
            return ret;
        }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        pthread_mutex_unlock(&s->resp_mu);
        return MHD_NO;
    }
    set_reason_header(resp, detail);
    set_result_header(resp, result);
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    ret = queue_kept(r, c, MHD_HTTP_NOT_MODIFIED, resp);
    nm_slot *slot = &s->nm[s->nm_next++ % UPD_RESP_SLOTS];
    if (slot->resp)
        MHD_destroy_response(slot->resp);
    slot->resp = resp;
    upd__copy(slot->reason, sizeof slot->reason, detail);
    upd__copy(slot->result, sizeof slot->result, result);
    pthread_mutex_unlock(&s->resp_mu);
    return ret;
}

/* "Nothing to install" for ESP-IDF's esp_https_ota (User-Agent "ESP32 HTTP Client/..."):
 * never a 304. Read in esp_https_ota.c (docs/protocol.md has the table):
 * - v4.4 to v5.4 do not know 304: esp_https_ota_begin() accepts it, esp_https_ota_perform()
 *   then calls esp_ota_begin(), which with bulk_flash_erase (image length 0 =
 *   OTA_SIZE_UNKNOWN) erases the whole passive slot, and only then fails on the missing
 *   image header. IDF before sequential writes (v4.2 and older) erases the slot in every
 *   case. Only v5.5 and later report a 304 as ESP_ERR_HTTP_NOT_MODIFIED.
 * - The answers that stop esp_https_ota_begin() before esp_ota_begin() is ever called:
 *   403/404 from about v4.2, any other 4xx and 5xx from v4.4; older trees have no
 *   status check at all. A redirect (301/302/307, followed by every version) WITHOUT a
 *   Location header stops all of them: esp_http_client_set_redirection() returns
 *   ESP_ERR_INVALID_ARG when there is no Location, and _http_connect() gives up with
 *   "URL redirection Failed" before anything is erased (with partial download, the HEAD
 *   fails the same way after at most max_redirection_count tries).
 * So: 302 without Location, the reason in X-Updraft-Reason and in the body for humans. */
static enum MHD_Result idf_no_update(req *r, struct MHD_Connection *c, const char *detail)
{
    char text[UPD_DETAIL_MAX + 320];
    snprintf(text, sizeof text,
             "updraft: no update for this esp_https_ota client: %.*s. (A 302 without Location: "
             "the one answer that makes every esp_https_ota version stop before it erases a "
             "slot; devices without identity headers belong on /releases/<id>/<name>.bin or "
             "a manifest they compare themselves, see docs/protocol.md)",
             UPD_DETAIL_MAX - 1, detail);
    size_t len = strlen(text);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    set_reason_header(resp, detail);
    MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    return upd__queue(r, c, MHD_HTTP_FOUND, resp);
}

void upd__resp_cache_free(srv *s)
{
    for (unsigned i = 0; i < UPD_RESP_SLOTS; i++) {
        if (s->nm[i].resp)
            MHD_destroy_response(s->nm[i].resp);
        if (s->dl[i].resp)
            MHD_destroy_response(s->dl[i].resp);
        s->nm[i].resp = s->dl[i].resp = NULL;
    }
}

static void url_stem(const upd_release_row *rel, char *out, size_t cap)
{
    char name[128];
    upd__copy(name, sizeof name, rel->filename[0] ? rel->filename : "firmware");
    size_t n = strlen(name);
    if (n > 3 && !strcmp(name + n - 3, ".gz"))
        name[n -= 3] = '\0';
    if (n > 4 && !strcmp(name + n - 4, ".bin"))
        name[n -= 4] = '\0';
    snprintf(out, cap, "%s", name);
}

static void push_download(req *r, const char *event, int64_t bytes, const char *detail)
{
    upd_record rec;
    memset(&rec, 0, sizeof rec);
    rec.type = UPD_REC_DOWNLOAD;
    rec.at_ms = upd__now_ms();
    upd__copy(rec.mac, sizeof rec.mac, r->mac);
    upd__copy(rec.event, sizeof rec.event, event);
    rec.release_id = r->release_id;
    rec.bytes = bytes;
    upd__copy(rec.detail, sizeof rec.detail, detail);
    upd_writer_push(r->s->writer, &rec);
}

/* Parse a single "bytes=" range against size. Returns 1 with [*first, *last] for a
 * satisfiable range, 0 to serve the whole file (no Range, a syntax we ignore, or
 * several ranges), -1 when unsatisfiable (416). */
static int parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last)
{
    if (!h)
        return 0;
    while (*h == ' ')
        h++;
    if (strncasecmp(h, "bytes=", 6))
        return 0;
    h += 6;
    if (strchr(h, ','))
        return 0;
    while (*h == ' ')
        h++;
    uint64_t a = 0, b = 0;
    int has_a = 0, has_b = 0;
    while (*h >= '0' && *h <= '9') {
        if (a > UINT64_MAX / 10 - 10)
            a = UINT64_MAX / 10; /* saturate: past any file, so unsatisfiable */
        else
            a = a * 10 + (uint64_t)(*h - '0');
        h++;
        has_a = 1;
    }
    if (*h++ != '-')
        return 0;
    while (*h >= '0' && *h <= '9') {
        if (b > UINT64_MAX / 10 - 10)
            b = UINT64_MAX / 10; /* absurdly long: clamped below anyway */
        else
            b = b * 10 + (uint64_t)(*h - '0');
        h++;
        has_b = 1;
    }
    while (*h == ' ')
        h++;
    if (*h || (!has_a && !has_b))
        return 0;
    if (!has_a) { /* suffix: the last b bytes */
        if (b == 0)
            return -1;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return 1;
    }
    if (has_b && b < a)
        return 0; /* invalid: ignore the header (RFC 9110) */
    if (a >= size)
        return -1;
    *first = a;
    *last = (!has_b || b >= size) ? size - 1 : b;
    return 1;
}

/* Open the release's blob; -1 (logged) when it is missing or not the release's size. */
static int open_blob(srv *s, const upd_release_row *rel)
{
    char path[PATH_MAX + 80];
    upd__blob_local(s, rel->sha256, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || (uint64_t)st.st_size != (uint64_t)rel->size) {
        upd__log(UPD_LOG_ERROR, "release-unreadable",
                 "release %lld: blob %s is %s: restore the data directory from a backup",
                 (long long)rel->id, path, fd < 0 ? strerror(errno) : "of the wrong size");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* The response with the image's bytes first..first+len-1 from fd (taken over) and the
 * headers of serve_image; NULL (fd closed) when out of memory. */
static struct MHD_Response *image_response(int fd, const upd_release_row *rel, uint64_t first,
                                           uint64_t len, int ranged, int immutable)
{
    struct MHD_Response *resp = MHD_create_response_from_fd_at_offset64(len, fd, first);
    if (!resp) {
        close(fd);
        return NULL;
    }
    char buf[160];
    uint64_t size = (uint64_t)rel->size;
    MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    snprintf(buf, sizeof buf, "\"%s\"", rel->sha256);
    MHD_add_response_header(resp, "ETag", buf);
    MHD_add_response_header(resp, "x-version", rel->version);
    /* the whole image's SHA-256, for clients that verify more than the MD5 (updraft's) */
    MHD_add_response_header(resp, "x-SHA256", rel->sha256);
    if (!ranged)
        MHD_add_response_header(resp, "x-MD5", rel->md5);
    else {
        snprintf(buf, sizeof buf, "bytes %llu-%llu/%llu", (unsigned long long)first,
                 (unsigned long long)(first + len - 1), (unsigned long long)size);
        MHD_add_response_header(resp, "Content-Range", buf);
    }
    char stem[128];
    url_stem(rel, stem, sizeof stem);
    snprintf(buf, sizeof buf, "attachment; filename=\"%s.bin\"", stem);
    MHD_add_response_header(resp, "Content-Disposition", buf);
    MHD_add_response_header(resp, "Cache-Control",
                            immutable ? "public, max-age=31536000, immutable" : "no-cache");
    return resp;
}

/* Download accounting for the completion callback, and the download-started event
 * for a response that starts at the image's first byte. */
static void begin_download(req *r, struct MHD_Connection *c, const upd_release_row *rel,
                           uint64_t first, uint64_t len)
{
    uint64_t size = (uint64_t)rel->size;
    r->dl_gzip = rel->gz_size < 0;               /* a served gzip copy (served_gzip) */
    r->acked0 = upd__tcp_acked(c, &r->acked_ok); /* to measure an aborted download */
    r->dl = 1;
    r->dl_to_end = first + len == size;
    r->release_id = rel->id;
    r->dl_len = len;
    upd__metrics_download(UPD_DL_STARTED, 0);
    if (first == 0) {
        char d[UPD_DETAIL_MAX];
        snprintf(d, sizeof d, "release %lld: sending %llu of %llu bytes%s", (long long)rel->id,
                 (unsigned long long)len, (unsigned long long)size,
                 r->dl_gzip ? " (its gzip copy)" : "");
        push_download(r, "download-started", (int64_t)len, d);
    }
}

/* Give back a response a send of ours used: a kept one (dl slot) may be replaced again
 * once no send uses it; one that was not kept is destroyed. */
static void release_image(srv *s, struct MHD_Response *resp)
{
    pthread_mutex_lock(&s->resp_mu);
    unsigned i = 0;
    while (i < UPD_RESP_SLOTS && s->dl[i].resp != resp)
        i++;
    if (i < UPD_RESP_SLOTS)
        s->dl[i].busy--;
    pthread_mutex_unlock(&s->resp_mu);
    if (i == UPD_RESP_SLOTS)
        MHD_destroy_response(resp);
}

/* filesend.h's end of a send: for the completion callback (server.c), which writes the
 * download's record as it does for libmicrohttpd's sends. */
static void image_sent(void *cls, upd_filesend_end how, uint64_t body_sent)
{
    req *r = cls;
    (void)body_sent;
    r->fs_end = (int)how + 1;
    release_image(r->s, r->fs_resp);
}

/* Send the image's bytes first..first+len-1 from fd with resp's headers: ourselves
 * (filesend.h) on a plain-HTTP connection, else (HTTPS, the sender stopping) queued to
 * libmicrohttpd. Takes our use of resp over (release_image). */
static enum MHD_Result send_image(req *r, struct MHD_Connection *c, unsigned status,
                                  struct MHD_Response *resp, int fd, uint64_t first, uint64_t len)
{
    srv *s = r->s;
    r->responded = 1;
    r->status = status;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    char head[2048];
    size_t hlen = s->filesend && ci ? upd_filesend_head(status, resp, len, head, sizeof head) : 0;
    if (hlen) {
        r->fs_resp = resp;
        r->fs_head = hlen;
        int rc = upd_filesend_start_send(s->filesend, c, ci->connect_fd, head, hlen, fd, first, len,
                                         image_sent, r);
        if (rc > 0)
            return upd__close_quietly(); /* all sent, or the device went away */
        if (rc == 0)
            return MHD_YES; /* the rest from a sender thread; then closed */
        r->fs_head = 0;
    }
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    release_image(s, resp);
    return ret;
}

/* Send the whole image of rel. The response (the open blob and its headers) is kept
 * per release and used again for the next device: libmicrohttpd and filesend.h send a
 * file with sendfile() from an explicit offset, so connections can share it, and
 * release rows and blobs never change. A kept response a send of ours uses is not
 * replaced until it ends (busy). */
static enum MHD_Result queue_whole_image(req *r, struct MHD_Connection *c,
                                         const upd_release_row *rel, int immutable, int head)
{
    srv *s = r->s;
    enum MHD_Result ret;
    pthread_mutex_lock(&s->resp_mu);
    for (unsigned i = 0; i < UPD_RESP_SLOTS; i++)
        if (s->dl[i].resp && s->dl[i].release_id == rel->id && s->dl[i].immutable == immutable &&
            s->dl[i].gzip == (rel->gz_size < 0)) {
            if (!head) {
                begin_download(r, c, rel, 0, (uint64_t)rel->size);
                s->dl[i].busy++;
                struct MHD_Response *resp = s->dl[i].resp;
                int fd = s->dl[i].fd;
                pthread_mutex_unlock(&s->resp_mu);
                return send_image(r, c, MHD_HTTP_OK, resp, fd, 0, (uint64_t)rel->size);
            }
            ret = queue_kept(r, c, MHD_HTTP_OK, s->dl[i].resp);
            pthread_mutex_unlock(&s->resp_mu);
            return ret;
        }
    pthread_mutex_unlock(&s->resp_mu);
    int fd = open_blob(s, rel);
    if (fd < 0)
        return upd__reply_text(r, c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                               "updraft: the release's file is missing or damaged on the server");
    struct MHD_Response *resp = image_response(fd, rel, 0, (uint64_t)rel->size, 0, immutable);
    if (!resp)
        return MHD_NO;
    if (!head)
        begin_download(r, c, rel, 0, (uint64_t)rel->size);
    pthread_mutex_lock(&s->resp_mu);
    /* the next slot no send uses; none free: this response is used once */
    dl_slot *slot = NULL;
    for (unsigned k = 0; k < UPD_RESP_SLOTS && !slot; k++, s->dl_next++)
        if (!s->dl[s->dl_next % UPD_RESP_SLOTS].busy)
            slot = &s->dl[s->dl_next % UPD_RESP_SLOTS];
    if (slot) {
        if (slot->resp)
            MHD_destroy_response(slot->resp);
        slot->resp = resp;
        slot->fd = fd;
        slot->busy = !head;
        slot->release_id = rel->id;
        slot->immutable = immutable;
        slot->gzip = rel->gz_size < 0;
    }
    if (head) {
        ret = queue_kept(r, c, MHD_HTTP_OK, resp);
        if (!slot)
            MHD_destroy_response(resp);
    }
    pthread_mutex_unlock(&s->resp_mu);
    if (head)
        return ret;
    return send_image(r, c, MHD_HTTP_OK, resp, fd, 0, (uint64_t)rel->size);
}

/* Answer with the release's image (or the slice a Range asks for), straight from the
 * blob file (sendfile). immutable: the long-cache headers of /releases/. */
static enum MHD_Result serve_image(req *r, struct MHD_Connection *c, const upd_release_row *rel,
                                   const char *method, int immutable)
{
    srv *s = r->s;
    uint64_t size = (uint64_t)rel->size, first = 0, last = size - 1;
    int rr = parse_range(upd__header(c, "Range"), size, &first, &last);
    if (rr < 0) {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        char buf[64];
        snprintf(buf, sizeof buf, "bytes */%llu", (unsigned long long)size);
        MHD_add_response_header(resp, "Content-Range", buf);
        MHD_add_response_header(resp, "Accept-Ranges", "bytes");
        return upd__queue(r, c, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp);
    }
    int head = !strcmp(method, "HEAD");
    if (rr == 0)
        return queue_whole_image(r, c, rel, immutable, head);
    int fd = open_blob(s, rel);
    if (fd < 0)
        return upd__reply_text(r, c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                               "updraft: the release's file is missing or damaged on the server");
    uint64_t len = last - first + 1;
    struct MHD_Response *resp = image_response(fd, rel, first, len, 1, immutable);
    if (!resp)
        return MHD_NO;
    if (head)
        return upd__queue(r, c, MHD_HTTP_PARTIAL_CONTENT, resp);
    begin_download(r, c, rel, first, len);
    return send_image(r, c, MHD_HTTP_PARTIAL_CONTENT, resp, fd, first, len);
}

/* Turn rel into the row of its gzip copy for serve_image: the copy's blob, MD5 and length
 * (x-MD5 is the MD5 of the bytes sent); gz_size -1 marks it as the copy. */
static void served_gzip(upd_release_row *rel)
{
    upd__copy(rel->sha256, sizeof rel->sha256, rel->gz_sha256);
    upd__copy(rel->md5, sizeof rel->md5, rel->gz_md5);
    rel->size = rel->gz_size;
    rel->gz_size = -1;
}

static void push_checkin(req *r, const upd_devreq *dr, const upd_decision *dec,
                         const char *result_override)
{
    upd__metrics_check(result_override ? result_override : dec->result, dec->decline);
    if (upd__log_on(UPD_LOG_DEBUG))
        upd__log(UPD_LOG_DEBUG, "check", "%s %s: %s", dr->has_mac ? dr->dev.mac : "(no MAC)",
                 result_override ? result_override : dec->result, dec->detail);
    if (dr->report[0])
        upd__metrics_report(dr->report_kind);
    if (!dr->has_mac)
        return;
    upd_record rec;
    memset(&rec, 0, sizeof rec);
    rec.type = UPD_REC_CHECKIN;
    rec.at_ms = upd__now_ms();
    rec.dev = dr->dev;
    upd__copy(rec.result, sizeof rec.result, result_override ? result_override : dec->result);
    rec.release_id = dec->have_rel ? dec->rel.id : 0;
    rec.rollout_id = dec->rollout_id;
    upd__copy(rec.detail, sizeof rec.detail, dec->detail);
    upd__copy(rec.report, sizeof rec.report, dr->report);
    rec.report_release = dr->report_release;
    upd__copy(rec.report_kind, sizeof rec.report_kind, dr->report_kind);
    upd__copy(rec.report_detail, sizeof rec.report_detail, dr->report_detail);
    upd_writer_push(r->s->writer, &rec);
}

/* GET /update, /update/<channel>, and /fw/<MAC>.bin requests that carry device headers. */
static enum MHD_Result handle_update(req *r, struct MHD_Connection *c, const char *method,
                                     const char *channel, const char *path_mac)
{
    srv *s = r->s;
    upd_devreq dr;
    const char *report;
    read_devreq(c, &dr, &report);
    read_report(s, report, &dr);
    if (path_mac) {
        if (dr.has_mac && strcmp(dr.dev.mac, path_mac) != 0 && strcmp(dr.base_mac, path_mac) != 0)
            return upd__reply_text(r, c, MHD_HTTP_FORBIDDEN,
                                   "updraft: the MAC in the URL is not the device's STA MAC "
                                   "(or base MAC)");
        upd__copy(dr.dev.mac, sizeof dr.dev.mac, path_mac);
        dr.has_mac = 1;
    }
    if (!dr.family_known)
        return upd__reply_text(r, c, MHD_HTTP_FORBIDDEN,
                               "updraft: this is the device update endpoint: ESP8266/ESP32 "
                               "update clients send the x-ESP8266-* or x-ESP32-* headers. "
                               "Humans: see /api/v1 and docs/protocol.md");
    if (dr.dev.mode[0] && !dr.mode_fs && !dr.mode_version && strcasecmp(dr.dev.mode, "sketch"))
        return upd__reply_text(r, c, MHD_HTTP_BAD_REQUEST,
                               "updraft: unknown x-*-mode: expected sketch, spiffs, fatfs, "
                               "littlefs, flashfs or version");
    enum MHD_Result aret;
    if (upd__device_auth_refused(r, c, dr.has_mac ? dr.dev.mac : NULL, NULL, &aret))
        return aret;
    if (channel) {
        if (!upd__valid_channel(channel))
            return upd__reply_text(r, c, MHD_HTTP_NOT_FOUND,
                                   "updraft: not a channel name (letters, digits, . _ -)");
        upd__copy(dr.url_channel, sizeof dr.url_channel, channel);
        upd__copy(dr.dev.url_channel, sizeof dr.dev.url_channel, channel);
    }
    /* on the stack (8 KB together), not malloc'd: this runs for every check */
    upd_device_row known_row;
    upd_device_row *known = NULL;
    int known_rc = 0;
    if (dr.has_mac &&
        (known_rc = upd_store_cached_device_check(s->store, dr.dev.mac, &known_row)) == 0)
        known = &known_row;
    upd_decision decision;
    upd_decision *dec = &decision;
    if (known_rc == UPD_STORE_EFAIL) {
        /* its pin and channel are unknown: no offer, rather than a wrong one */
        memset(dec, 0, sizeof *dec);
        dec->result = "none";
        dec->decline = UPD_DECLINE_OTHER;
        upd__copy(dec->detail, sizeof dec->detail,
                  "the database cannot be reached and this device is not in the cache: "
                  "nothing is offered until it is back");
    } else
        upd__decide(s, &dr, known, dec);
    enum MHD_Result ret;
    upd__copy(r->mac, sizeof r->mac, dr.has_mac ? dr.dev.mac : "");
    if (dr.mode_version) {
        int tell = dec->have_rel && (dec->offer || !strcmp(dec->result, "current"));
        if (tell) {
            struct MHD_Response *resp =
                MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
            if (!resp)
                return MHD_NO;
            MHD_add_response_header(resp, "x-version", dec->rel.version);
            MHD_add_response_header(resp, "x-MD5", dec->rel.md5);
            MHD_add_response_header(resp, "Cache-Control", "no-cache");
            ret = upd__queue(r, c, MHD_HTTP_OK, resp);
            char d[UPD_DETAIL_MAX];
            snprintf(d, sizeof d, "version query: told it release %lld (version %.200s)",
                     (long long)dec->rel.id, dec->rel.version);
            upd__copy(dec->detail, sizeof dec->detail, d);
            push_checkin(r, &dr, dec, "version");
        } else {
            ret = not_modified(r, c, dec->detail, dec->result);
            push_checkin(r, &dr, dec, NULL);
        }
    } else if (dec->offer) {
        push_checkin(r, &dr, dec, NULL); /* "offered" goes before "download-started" */
        upd__metrics_offer(dec->gzip);
        if (dec->gzip)
            served_gzip(&dec->rel);
        ret = serve_image(r, c, &dec->rel, method, 0);
    } else if (dr.client == UPD_CLIENT_ESP_IDF) {
        ret = idf_no_update(r, c, dec->detail);
        push_checkin(r, &dr, dec, NULL);
    } else {
        ret = not_modified(r, c, dec->detail, dec->result);
        push_checkin(r, &dr, dec, NULL);
    }
    return ret;
}

/* The platform a static-layout request comes from when the device is not known yet:
 * the device headers when it sends them, else the User-Agent of the Arduino HTTP
 * clients ("ESP8266HTTPClient" and "ESP32HTTPClient" are HTTPClient's defaults; the
 * httpUpdate and ESP-IDF clients' own ones too). NULL: it does not say. */
static const char *static_family(struct MHD_Connection *c)
{
    if (upd__header(c, "x-ESP8266-STA-MAC") || upd__header(c, "x-ESP8266-mode"))
        return "esp8266";
    if (upd__header(c, "x-ESP32-STA-MAC") || upd__header(c, "x-ESP32-mode"))
        return "esp32";
    const char *ua = upd__header(c, "User-Agent");
    if (!ua)
        return NULL;
    if (!strncasecmp(ua, "ESP8266", 7))
        return "esp8266";
    if (!strncasecmp(ua, "ESP32", 5))
        return "esp32";
    return NULL;
}

/* GET /fw/<MAC>.version and /fw/<MAC>.bin */
static enum MHD_Result handle_fw(req *r, struct MHD_Connection *c, const char *method,
                                 const char *rest)
{
    srv *s = r->s;
    const char *dot = strrchr(rest, '.');
    char mac[UPD_MAC_STR];
    if (!dot || upd__parse_mac(rest, (size_t)(dot - rest), mac) != 0)
        return upd__reply_text(r, c, MHD_HTTP_NOT_FOUND,
                               "updraft: expected /fw/<MAC>.version or /fw/<MAC>.bin (MAC as "
                               "5CCF7F0A1B2C or 5C:CF:7F:0A:1B:2C)");
    int is_bin = !strcmp(dot, ".bin");
    if (!is_bin && strcmp(dot, ".version"))
        return upd__reply_text(r, c, MHD_HTTP_NOT_FOUND,
                               "updraft: expected /fw/<MAC>.version or /fw/<MAC>.bin");
    if (is_bin && (upd__header(c, "x-ESP8266-STA-MAC") || upd__header(c, "x-ESP32-STA-MAC") ||
                   upd__header(c, "x-ESP32-BASE-MAC") || upd__header(c, "x-ESP8266-mode") ||
                   upd__header(c, "x-ESP32-mode")))
        return handle_update(r, c, method, NULL, mac);
    enum MHD_Result aret;
    if (upd__device_auth_refused(r, c, mac, NULL, &aret))
        return aret;
    upd_device_row *known = malloc(sizeof *known);
    upd_release_row *rel = malloc(sizeof *rel);
    if (!known || !rel) {
        free(known);
        free(rel);
        return MHD_NO;
    }
    int known_rc = upd_store_cached_device_check(s->store, mac, known);
    int have_known = known_rc == 0;
    char why[UPD_DETAIL_MAX];
    int pinned;
    enum MHD_Result ret;
    upd__copy(r->mac, sizeof r->mac, mac);
    if (known_rc == UPD_STORE_EFAIL) {
        /* its pin is unknown: no release, rather than a wrong one */
        const char *ua = upd__header(c, "User-Agent");
        static const char down[] = "updraft: the database cannot be reached and this device is "
                                   "not in the cache: try again later";
        ret = is_bin && ua && !strncasecmp(ua, "ESP32 HTTP Client", 17)
                  ? idf_no_update(r, c, down + 9)
                  : upd__reply_text(r, c, MHD_HTTP_SERVICE_UNAVAILABLE, down);
        free(known);
        free(rel);
        return ret;
    }
    /* Which platform's release: the device's, as its earlier requests told, else as this
     * request tells. A device nothing identifies gets no answer rather than the version
     * of another platform's release (it would download, be refused, and ask again at
     * every check); a pin is the operator's own choice and is answered as it is. */
    const char *family = have_known && known->family[0] ? known->family : static_family(c);
    int rc = upd__target(s, family ? family : "", 0, "", have_known ? known : NULL, rel, &pinned,
                         why, sizeof why);
    const char *ua = upd__header(c, "User-Agent");
    int idf = is_bin && ua && !strncasecmp(ua, "ESP32 HTTP Client", 17);
    if (idf && (rc != 0 || (!family && !pinned))) {
        /* esp_https_ota: never a 404, which IDF v4.1 and older take as an image */
        ret = idf_no_update(r, c, rc != 0 ? why : "this device is not known yet");
    } else if (rc == 0 && !family && !pinned) {
        char msg[UPD_DETAIL_MAX];
        snprintf(msg, sizeof msg,
                 "updraft: device %s is not known as an ESP8266 or an ESP32 (no check-in "
                 "with device headers yet) and this request does not say which (no "
                 "x-ESP8266-*/x-ESP32-* headers, no ESP User-Agent), so no release is "
                 "answered: let the device check in once (httpUpdate of /fw/<MAC>.bin or "
                 "/update), or pin it ('updraft device pin %s RELEASE')",
                 mac, mac);
        ret = upd__reply_text(r, c, MHD_HTTP_NOT_FOUND, msg);
    } else if (rc != 0) {
        char msg[UPD_DETAIL_MAX + 16];
        snprintf(msg, sizeof msg, "updraft: %s", why);
        ret = upd__reply_text(r, c, MHD_HTTP_NOT_FOUND, msg);
    } else if (is_bin) {
        ret = serve_image(r, c, rel, method, 0);
    } else {
        size_t n = strlen(rel->version);
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(n, rel->version, MHD_RESPMEM_MUST_COPY);
        if (!resp)
            ret = MHD_NO;
        else {
            MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
            MHD_add_response_header(resp, "Cache-Control", "no-cache");
            MHD_add_response_header(resp, "x-MD5", rel->md5);
            ret = upd__queue(r, c, MHD_HTTP_OK, resp);
        }
    }
    free(known);
    free(rel);
    return ret;
}

/* GET|HEAD /releases/<id>/<name>.bin */
static enum MHD_Result handle_release_file(req *r, struct MHD_Connection *c, const char *method,
                                           const char *rest)
{
    srv *s = r->s;
    char *end;
    long long id = strtoll(rest, &end, 10);
    size_t n = strlen(end);
    if (id <= 0 || end == rest || *end != '/' || n < 6 || strcmp(end + n - 4, ".bin") ||
        strchr(end + 1, '/'))
        return upd__reply_text(r, c, MHD_HTTP_NOT_FOUND,
                               "updraft: expected /releases/<id>/<name>.bin");
    upd_devreq dr;
    read_devreq(c, &dr, NULL);
    enum MHD_Result aret;
    if (upd__device_auth_refused(r, c, dr.has_mac ? dr.dev.mac : NULL, NULL, &aret))
        return aret;
    upd_release_row *rel = malloc(sizeof *rel);
    if (!rel)
        return MHD_NO;
    enum MHD_Result ret;
    if (s->store->ops->release_get(s->store, id, rel) != 0)
        ret = upd__reply_text(r, c, MHD_HTTP_NOT_FOUND, "updraft: no such release");
    else {
        upd__copy(r->mac, sizeof r->mac, dr.has_mac ? dr.dev.mac : "");
        ret = serve_image(r, c, rel, method, 1);
    }
    free(rel);
    return ret;
}

enum MHD_Result upd__device_route(req *r, struct MHD_Connection *c, const char *url,
                                  const char *method)
{
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, "Allow", "GET, HEAD");
        return upd__queue(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
    }
    if (!strcmp(url, "/update"))
        return handle_update(r, c, method, NULL, NULL);
    if (!strncmp(url, "/update/", 8))
        return handle_update(r, c, method, url + 8, NULL);
    if (!strncmp(url, "/fw/", 4))
        return handle_fw(r, c, method, url + 4);
    if (!strncmp(url, "/releases/", 10))
        return handle_release_file(r, c, method, url + 10);
    if (!strncmp(url, "/manifest/", 10))
        return upd__manifest_route(r, c, url + 10);
    if (!strncmp(url, "/ui/", 4)) /* the dashboard's files: after every device path */
        return upd__webui_route(r, c, url, method);
    return upd__reply_text(r, c, MHD_HTTP_NOT_FOUND,
                           "updraft: not found. Devices: /update, /update/<channel>, "
                           "/fw/<MAC>.version, /fw/<MAC>.bin, /releases/<id>/<name>.bin, "
                           "/manifest/<channel>/esp32.json (esp32FOTA); "
                           "admin API: /api/v1/");
}
