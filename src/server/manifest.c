/* esp32FOTA manifests (manifest.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "manifest.h"
#include "metrics.h"

/* A Host header fit to be put into a URL: host name, IPv4, [IPv6], optional :port. */
static int host_ok(const char *h)
{
    if (!h || !*h || strlen(h) > 255)
        return 0;
    for (const char *p = h; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr(".-:[]_", *p)))
            return 0;
    return 1;
}

/* The firmware version as esp32FOTA compares it: a number when the release's version is a
 * plain number up to 65535 (the library's integer versions), else the string (semver). */
static cJSON *version_json(const char *v)
{
    size_t n = strlen(v);
    if (n && n <= 5 && strspn(v, "0123456789") == n && (n == 1 || v[0] != '0')) {
        long x = strtol(v, NULL, 10);
        if (x <= 65535)
            return cJSON_CreateNumber((double)x);
    }
    return cJSON_CreateString(v);
}

enum MHD_Result upd__manifest_route(req *r, struct MHD_Connection *c, const char *rest)
{
    srv *s = r->s;
    r->started = 1;
    const char *slash = strchr(rest, '/');
    char channel[UPD_NAME_MAX];
    if (!slash || strcmp(slash, "/esp32.json") || (size_t)(slash - rest) >= sizeof channel)
        return upd__reply_text(r, c, MHD_HTTP_NOT_FOUND,
                               "updraft: expected /manifest/<channel>/esp32.json (the "
                               "esp32FOTA manifest of a channel)");
    memcpy(channel, rest, (size_t)(slash - rest));
    channel[slash - rest] = '\0';
    if (!upd__valid_channel(channel))
        return upd__reply_text(r, c, MHD_HTTP_NOT_FOUND,
                               "updraft: not a channel name (letters, digits, . _ -)");
    enum MHD_Result aret; /* 401, or 429 after too many failures (authlimit.h) */
    if (upd__device_auth_refused(r, c, NULL,
                                 "updraft: device authentication required: send the user and "
                                 "password configured on the server (HTTP Basic; esp32FOTA: "
                                 "setExtraHTTPHeader(\"Authorization\", \"Basic ...\"))",
                                 &aret))
        return aret;
    const char *type = upd__arg(c, "type");
    if (type && (!*type || !upd__printable(type, 63)))
        return upd__reply_text(r, c, MHD_HTTP_BAD_REQUEST,
                               "updraft: ?type= must be the firmware type the sketch gives "
                               "esp32FOTA: 1 to 63 printable characters");
    const char *host = upd__header(c, "X-Forwarded-Host");
    if (!host)
        host = upd__header(c, "Host");
    if (!host_ok(host))
        return upd__reply_text(r, c, MHD_HTTP_BAD_REQUEST,
                               "updraft: the manifest holds an absolute download URL, built "
                               "from the request's Host header: send a valid one");
    const char *proto = upd__header(c, "X-Forwarded-Proto");
    const char *scheme = proto && !strcasecmp(proto, "https")  ? "https"
                         : proto && !strcasecmp(proto, "http") ? "http"
                         : s->cfg.tls_cert                     ? "https"
                                                               : "http";
    upd_release_row *rel = malloc(sizeof *rel);
    if (!rel)
        return MHD_NO;
    int rc = s->store->ops->channel_current(s->store, channel, "esp32", "sketch", rel);
    if (rc != 0) {
        free(rel);
        if (rc != UPD_STORE_ENOTFOUND)
            return upd__reply_text(r, c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                   "updraft: the database failed (the server log says why)");
        /* an empty list: esp32FOTA finds no entry of its type and reports no update */
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(3, (void *)"[]\n", MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, "Content-Type", "application/json");
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        char why[300];
        snprintf(why, sizeof why,
                 "channel '%.64s' has no current ESP32 application release: publish one with "
                 "'updraft release add FILE --version V --channel %.64s'",
                 channel, channel);
        MHD_add_response_header(resp, "X-Updraft-Reason", why);
        return upd__queue(r, c, MHD_HTTP_OK, resp);
    }
    cJSON *rj = upd__release_json(rel);
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(rj, "url");
    char url[600];
    snprintf(url, sizeof url, "%s://%s%s", scheme, host,
             cJSON_IsString(path) ? path->valuestring : "");
    cJSON_Delete(rj);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", type ? type : channel);
    cJSON_AddItemToObject(j, "version", version_json(rel->version));
    cJSON_AddStringToObject(j, "url", url);
    free(rel);
    return upd__reply_json(r, c, MHD_HTTP_OK, j);
}
