/* One file's inspection as JSON, and what its signature says: shared by `updraft inspect
 * --json` and the server's upload preview (POST /api/v1/inspect), so that both say the
 * same about a file in the same words. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "fileinspect.h"
#include "inspectjson.h"
#include "updraft/error.h"

int upd_inspect_acceptable(const upd_image_report *r, int allow_fs)
{
    return r->verdict == UPD_VERDICT_OTA_APP || (allow_fs && r->verdict == UPD_VERDICT_FS_IMAGE);
}

void upd_sig_view(const upd_image_report *r, const uint8_t *data, size_t len, const upd_sig_key *k,
                  upd_sigview *v)
{
    memset(v, 0, sizeof *v);
    v->status = -1;
    uint32_t sl = 0;
    size_t plen = 0;
    if (r->sig_len)
        v->len = r->sig_len;
    else if (r->gzip && data && upd_sig_trailer(data, len, &sl, &plen))
        v->len = sl; /* a signed .bin.gz: the inspector looks at the gzip member only */
    if (r->platform == UPD_PLATFORM_ESP32 && r->has_app && r->verdict == UPD_VERDICT_OTA_APP &&
        data) {
        v->esp32 = 1;
        upd_sbv2_inspect(data, len, r->app.end, &v->sb);
        upd_sbv2_verdict(&v->sb, v->sb_why, sizeof v->sb_why);
    }
    if (!k || !data)
        return;
    v->key = upd_sig_key_desc(k);
    upd_sig_key_id(k, v->key_id);
    if (r->platform == UPD_PLATFORM_ESP32) {
        snprintf(v->why, sizeof v->why,
                 "not checked: ESP32-family devices do not verify ESP8266-style signatures "
                 "(their boot loader checks Secure Boot v2 signature blocks)");
        return;
    }
    v->status = upd_sig_check(k, data, len, v->why, sizeof v->why);
}

/* With --pubkey, only an image that verifies is one the device takes. */
int upd_sig_acceptable(const upd_sigview *v)
{
    return !v->key || v->status == UPD_SIG_VERIFIES || v->status == -1;
}

static void sig_json(cJSON *o, const upd_sigview *v)
{
    if (v->esp32) {
        cJSON *s = cJSON_AddObjectToObject(o, "secure_boot_v2");
        cJSON_AddBoolToObject(s, "signed", v->sb.present);
        cJSON_AddStringToObject(s, "verdict", v->sb_why);
        if (v->sb.present)
            cJSON_AddNumberToObject(s, "sector", v->sb.sector);
        cJSON *arr = cJSON_AddArrayToObject(s, "blocks");
        for (int i = 0; i < v->sb.nblocks; i++) {
            const upd_sbv2_block *b = &v->sb.b[i];
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "scheme", b->scheme);
            cJSON_AddBoolToObject(j, "crc_ok", b->crc_ok == 1);
            cJSON_AddBoolToObject(j, "digest_ok", b->digest_ok == 1);
            cJSON_AddItemToObject(j, "signature_ok",
                                  b->sig_ok < 0 ? cJSON_CreateNull() : cJSON_CreateBool(b->sig_ok));
            if (b->key_digest[0])
                cJSON_AddStringToObject(j, "key_digest", b->key_digest);
            else
                cJSON_AddNullToObject(j, "key_digest");
            cJSON_AddItemToArray(arr, j);
        }
    }
    if (!v->key && !v->len)
        return;
    cJSON *j = cJSON_AddObjectToObject(o, "signature");
    if (v->len)
        cJSON_AddNumberToObject(j, "len", v->len);
    else
        cJSON_AddNullToObject(j, "len");
    cJSON_AddStringToObject(j, "status",
                            v->status >= 0 ? upd_sig_status_slug(v->status) : "not-checked");
    if (v->key) {
        cJSON_AddStringToObject(j, "reason", v->why);
        cJSON_AddStringToObject(j, "key", v->key);
        cJSON_AddStringToObject(j, "key_id", v->key_id);
    }
}

static cJSON *image_json(const upd_image_info *im)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "offset", im->offset);
    cJSON_AddNumberToObject(o, "end", im->end);
    cJSON_AddNumberToObject(o, "entry", im->entry);
    cJSON_AddStringToObject(o, "flash_mode", upd_flash_mode_name(im->flash_mode));
    cJSON_AddNumberToObject(o, "size_freq", im->size_freq);
    cJSON_AddNumberToObject(o, "checksum_stored", im->checksum_stored);
    cJSON_AddNumberToObject(o, "checksum_calc", im->checksum_calc);
    cJSON_AddItemToObject(o, "checksum_ok",
                          im->checksum_ok < 0 ? cJSON_CreateNull()
                                              : cJSON_CreateBool(im->checksum_ok));
    if (im->esp32) {
        cJSON_AddNumberToObject(o, "chip_id", im->chip_id);
        cJSON_AddBoolToObject(o, "hash_appended", im->hash_appended);
        cJSON_AddItemToObject(o, "hash_ok",
                              im->hash_ok < 0 ? cJSON_CreateNull() : cJSON_CreateBool(im->hash_ok));
        cJSON_AddNumberToObject(o, "min_rev_full", im->min_rev_full);
        cJSON_AddNumberToObject(o, "max_rev_full", im->max_rev_full);
    }
    cJSON *segs = cJSON_AddArrayToObject(o, "segments");
    for (unsigned i = 0; i < im->segment_count && i < UPD_IMAGE_MAX_SEGMENTS; i++) {
        cJSON *s = cJSON_CreateObject();
        cJSON_AddNumberToObject(s, "load", im->seg[i].load);
        cJSON_AddNumberToObject(s, "len", im->seg[i].len);
        cJSON_AddNumberToObject(s, "offset", im->seg[i].offset);
        cJSON_AddItemToArray(segs, s);
    }
    return o;
}

cJSON *upd_inspect_json(const char *name, const upd_file_info *fi, int allow_fs,
                        const upd_sigview *sv)
{
    const upd_image_report *r = &fi->report;
    cJSON *o = cJSON_CreateObject();
    char hex[65];
    cJSON_AddStringToObject(o, "file", name);
    cJSON_AddBoolToObject(o, "acceptable",
                          upd_inspect_acceptable(r, allow_fs) && upd_sig_acceptable(sv));
    cJSON_AddStringToObject(o, "verdict", upd_verdict_name(r->verdict));
    cJSON_AddStringToObject(o, "kind", upd_kind_slug(r->kind));
    if (fi->has_inner)
        cJSON_AddStringToObject(o, "inner_kind", upd_kind_slug(fi->inner.kind));
    cJSON_AddStringToObject(o, "reason", r->reason);
    if (r->error)
        cJSON_AddStringToObject(o, "error", upd_err_name(r->error));
    else
        cJSON_AddNullToObject(o, "error");
    cJSON_AddStringToObject(o, "platform", upd_platform_name(r->platform));
    if (upd_chip_name(r->chip))
        cJSON_AddStringToObject(o, "chip", upd_chip_name(r->chip));
    else
        cJSON_AddNullToObject(o, "chip");
    cJSON_AddNumberToObject(o, "size", (double)fi->size);
    if (fi->has_inner)
        cJSON_AddNumberToObject(o, "inner_size", (double)fi->inner_size);
    cJSON_AddStringToObject(o, "md5", fi->md5_hex);
    cJSON_AddStringToObject(o, "sha256", fi->sha256_hex);
    if (r->has_app || r->has_boot) {
        cJSON *f = cJSON_AddObjectToObject(o, "flash");
        cJSON_AddStringToObject(f, "mode", upd_flash_mode_name(r->flash_mode));
        cJSON_AddNumberToObject(f, "size", r->flash_size);
        cJSON_AddNumberToObject(f, "freq_mhz", upd_flash_freq_mhz(r->flash_freq_code));
    }
    if (r->has_boot)
        cJSON_AddItemToObject(o, "boot", image_json(&r->boot));
    if (r->has_app)
        cJSON_AddItemToObject(o, "app", image_json(&r->app));
    if (r->crc_offset) {
        cJSON *c = cJSON_AddObjectToObject(o, "crc");
        cJSON_AddNumberToObject(c, "offset", r->crc_offset);
        cJSON_AddNumberToObject(c, "len", r->crc_len);
        cJSON_AddNumberToObject(c, "stored", r->crc_stored);
        cJSON_AddNumberToObject(c, "calc", r->crc_calc);
        cJSON_AddBoolToObject(c, "ok", r->crc_stored == r->crc_calc);
    }
    if (r->desc.present) {
        cJSON *d = cJSON_AddObjectToObject(o, "app_desc");
        cJSON_AddStringToObject(d, "version", r->desc.version);
        cJSON_AddStringToObject(d, "project", r->desc.project);
        cJSON_AddStringToObject(d, "idf_ver", r->desc.idf_ver);
        cJSON_AddStringToObject(d, "date", r->desc.date);
        cJSON_AddStringToObject(d, "time", r->desc.time);
        cJSON_AddNumberToObject(d, "secure_version", r->desc.secure_version);
        upd_hex(r->desc.elf_sha256, 32, hex);
        cJSON_AddStringToObject(d, "elf_sha256", hex);
    }
    if (r->gzip) {
        cJSON *g = cJSON_AddObjectToObject(o, "gzip");
        cJSON_AddNumberToObject(g, "isize", r->gzip_isize);
        cJSON_AddNumberToObject(g, "mtime", r->gzip_mtime);
        cJSON_AddStringToObject(g, "name", r->gzip_name);
    }
    if (r->sig_len)
        cJSON_AddNumberToObject(o, "signature_len", r->sig_len);
    sig_json(o, sv);
    cJSON *notes = cJSON_AddArrayToObject(o, "notes");
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {
        {UPD_NOTE_CRC_PATCHED_XOR, "crc-patched-xor"},
        {UPD_NOTE_UNALIGNED_SEGMENTS, "unaligned-segments"},
        {UPD_NOTE_TRAILING_DATA, "trailing-data"},
        {UPD_NOTE_SIGNED, "signed"},
        {UPD_NOTE_NO_APP_DESC, "no-app-desc"},
        {UPD_NOTE_NO_SHA256, "no-sha256"},
        {UPD_NOTE_HASH_UNCHECKED, "hash-unchecked"},
        {UPD_NOTE_PREFIX_ONLY, "prefix-only"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (r->notes & names[i].bit)
            cJSON_AddItemToArray(notes, cJSON_CreateString(names[i].name));
    if (r->app_part_count) {
        cJSON *parts = cJSON_AddArrayToObject(o, "app_partitions");
        for (unsigned i = 0; i < r->app_part_count; i++) {
            cJSON *p = cJSON_CreateObject();
            cJSON_AddNumberToObject(p, "offset", r->app_part_offset[i]);
            cJSON_AddNumberToObject(p, "size", r->app_part_size[i]);
            cJSON_AddItemToArray(parts, p);
        }
    }
    return o;
}
