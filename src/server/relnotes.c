/* Release notes (relnotes.h): the rule for their text and the API that sets them. */
#include <stdio.h>
#include <string.h>

#include "relnotes.h"
#include "utf8.h"

int upd__relnotes_check(const char *text, size_t len, char *why, size_t whylen)
{
    if (len >= UPD_NOTES_MAX) {
        snprintf(why, whylen,
                 "the notes are %zu bytes; at most %d are kept: shorten them, or link to a "
                 "longer changelog",
                 len, UPD_NOTES_MAX - 1);
        return -1;
    }
    const unsigned char *p = (const unsigned char *)text;
    size_t line = 1;
    for (size_t i = 0; i < len;) {
        unsigned char ch = p[i];
        if (ch == '\n')
            line++;
        if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || ch == 0x7F) {
            snprintf(why, whylen,
                     "the notes hold the control character 0x%02X at byte %zu (line %zu): "
                     "notes are text (tabs and line breaks are fine)",
                     ch, i, line);
            return -1;
        }
        size_t k = (size_t)upd_utf8_seq(p + i);
        if (!k) {
            snprintf(why, whylen,
                     "the notes are not UTF-8 at byte %zu (line %zu): save them as UTF-8", i, line);
            return -1;
        }
        i += k;
    }
    return 0;
}

enum MHD_Result upd__relnotes_route(req *r, struct MHD_Connection *c, const char *method,
                                    int64_t id)
{
    srv *s = r->s;
    if (strcmp(method, "PUT"))
        return upd__reply_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
                                "use PUT /api/v1/releases/<id>/notes {\"notes\": \"...\"}");
    enum MHD_Result ret = MHD_NO;
    cJSON *body = upd__api_json_body(r, c, &ret);
    if (!body)
        return ret;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "notes");
    if (!cJSON_IsString(v) && !cJSON_IsNull(v)) {
        cJSON_Delete(body);
        return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-json",
                                "the body must be {\"notes\": \"text\"} (Markdown, at most %d "
                                "bytes; \"\" or null clears them)",
                                UPD_NOTES_MAX - 1);
    }
    const char *text = cJSON_IsString(v) ? v->valuestring : "";
    char why[300], err[512];
    if (upd__relnotes_check(text, strlen(text), why, sizeof why) != 0) {
        cJSON_Delete(body);
        return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-notes", "%s", why);
    }
    int rc = s->store->ops->release_set_notes(s->store, id, text, err, sizeof err);
    cJSON_Delete(body);
    if (rc == UPD_STORE_ENOTFOUND)
        return upd__reply_error(r, c, MHD_HTTP_NOT_FOUND, "not-found",
                                "there is no release %lld: list them with GET /api/v1/releases",
                                (long long)id);
    if (rc)
        return upd__api_store_failed(r, c, err);
    upd_release_row rel;
    if (s->store->ops->release_get(s->store, id, &rel) != 0)
        return upd__api_store_failed(r, c, "the release row vanished");
    return upd__reply_json(r, c, MHD_HTTP_OK, upd__release_json(&rel));
}
