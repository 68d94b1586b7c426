/* `updraft inspect --board SIZE [--fs SIZE]` (inspect_layout.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gzcopy.h"
#include "inspect_layout.h"
#include "updraft/fit.h"

#define SECTOR 4096u

static uint32_t rup(uint32_t n)
{
    return (n + SECTOR - 1u) & ~(SECTOR - 1u);
}

int upd__parse_size(const char *s, uint32_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1024 * 1024, end++;
    if ((*end == 'B' || *end == 'b') && mul != 1)
        end++;
    if (*end || end == s || v > 0xFFFFFFFFull / mul)
        return -1;
    *out = (uint32_t)(v * mul);
    return 0;
}

static uint32_t lowest_fs_end(uint32_t board)
{
    uint32_t lo = 0;
    const upd_esp8266_flashmap *m;
    for (unsigned i = 0; (m = upd_esp8266_flashmap_at(i)) != NULL; i++)
        if (m->chip_size == board && m->fs_end > m->fs_start && (!lo || m->fs_end < lo))
            lo = m->fs_end;
    return lo;
}

int upd__layout_check(uint32_t board, uint32_t fs_size, char *err, size_t errlen)
{
    uint32_t end = lowest_fs_end(board);
    if (!end) {
        snprintf(err, errlen,
                 "--board %u bytes: the ESP8266 core has layouts for 512K, 1M, 2M, 4M, 8M and "
                 "16M boards only",
                 board);
        return -1;
    }
    if (fs_size == UINT32_MAX)
        return 0;
    if (fs_size % SECTOR) {
        snprintf(err, errlen, "--fs %u: a filesystem size is a multiple of 4096 bytes", fs_size);
        return -1;
    }
    if (fs_size + 64u * 1024u > end) {
        snprintf(err, errlen,
                 "--fs %u: on this board the filesystem ends at 0x%x, so it can be at most %u "
                 "bytes and still leave 64 KiB for a sketch",
                 fs_size, end, end - 64u * 1024u);
        return -1;
    }
    return 0;
}

void upd__layout_ctx(const upd_file_info *fi, const char *path, upd_layout_ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    const upd_image_report *r = &fi->report;
    int gz = r->gzip && fi->has_inner;
    const upd_image_report *app = gz ? &fi->inner : r;
    ctx->fs_image = r->verdict == UPD_VERDICT_FS_IMAGE;
    if (r->verdict != UPD_VERDICT_OTA_APP || app->kind != UPD_KIND_ESP8266_APP)
        return;
    ctx->esp8266 = 1;
    ctx->inflates = app->eboot_inflates;
    for (unsigned i = 0; i < app->boot.segment_count && i < UPD_IMAGE_MAX_SEGMENTS; i++)
        if (app->boot.seg[i].load >= 0x4010F000u && app->boot.seg[i].load < 0x40110000u)
            ctx->eboot_code += app->boot.seg[i].len;
    if (gz) {
        ctx->plain_len = (uint32_t)fi->inner_size;
        ctx->gz_len = (uint32_t)fi->size;
        ctx->gz_min_stage = r->gzip_min_stage_known ? r->gzip_min_stage : rup(ctx->plain_len);
        return;
    }
    ctx->plain_len = (uint32_t)fi->size;
    /* the copy the server would keep: the same compression (gzcopy.h) */
    FILE *f = path ? fopen(path, "rb") : NULL;
    uint8_t *buf = f ? malloc(fi->size ? (size_t)fi->size : 1) : NULL;
    if (buf && fread(buf, 1, (size_t)fi->size, f) == (size_t)fi->size) {
        uint8_t *z = NULL;
        size_t zl = 0;
        uint32_t ms = 0;
        char err[160];
        if (upd_gzip_compress(buf, (size_t)fi->size, &z, &zl, err, sizeof err) == 0 &&
            upd_gzip_min_stage(z, zl, &ms, NULL, err, sizeof err) == 0) {
            ctx->gz_len = (uint32_t)zl;
            ctx->gz_min_stage = ms;
        }
        free(z);
    }
    free(buf);
    if (f)
        fclose(f);
}

/* The filesystem size a layout's name says ("4m2m": 2 MiB, "1m64": 64 KiB, "1m": 0): the
 * core's menus name them so, while the areas are a few sectors shorter (4m2m: 0x1FA000). */
static uint32_t nominal_fs(const char *name)
{
    const char *p = name;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p)
        p++; /* the chip size's unit */
    uint32_t v = 0;
    while (*p >= '0' && *p <= '9')
        v = v * 10u + (uint32_t)(*p++ - '0');
    return *p == 'm' ? v * 1024u * 1024u : v * 1024u;
}

/* The layouts --board/--fs name. */
static int layouts(uint32_t board, uint32_t fs_size, upd_esp8266_flashmap *out, int cap)
{
    int n = 0;
    const upd_esp8266_flashmap *m;
    for (unsigned i = 0; (m = upd_esp8266_flashmap_at(i)) != NULL && n < cap; i++)
        if (m->chip_size == board && (fs_size == UINT32_MAX || m->fs_end - m->fs_start == fs_size ||
                                      nominal_fs(m->name) == fs_size))
            out[n++] = *m;
    if (n == 0 && fs_size != UINT32_MAX && lowest_fs_end(board)) {
        uint32_t end = lowest_fs_end(board);
        out[n++] = (upd_esp8266_flashmap){"custom", board, end - fs_size, end};
    }
    return n;
}

/* The report of the image in the form asked (gz 0 plain, 1 gzip) for the fit rules. */
static void form_report(const upd_file_info *fi, const upd_layout_ctx *ctx, int gz,
                        upd_image_report *out)
{
    const upd_image_report *r = &fi->report;
    int file_gz = r->gzip && fi->has_inner;
    if (!gz) {
        *out = file_gz ? fi->inner : *r;
        return;
    }
    if (file_gz) {
        *out = *r;
        return;
    }
    *out = *r;
    out->size = out->inspected = ctx->gz_len;
    out->first_byte = 0x1F;
    out->first_size_code = 0; /* byte 3 of a gzip header: its flags, 0 */
    out->kind = UPD_KIND_GZIP;
    out->inner_kind = r->kind;
    out->gzip = 1;
    out->gzip_isize = ctx->plain_len;
    out->gzip_min_stage_known = 1;
    out->gzip_min_stage = ctx->gz_min_stage;
}

typedef struct row {
    upd_esp8266_flashmap map;
    uint32_t largest_plain, largest_gz; /* bytes (sector multiples); 0 none */
    int fits_area;                      /* the image fits the sketch area at all */
    int ok[2];
    upd_fit_result res[2];
} row;

static void compute(const upd_file_info *fi, const upd_layout_ctx *ctx, row *w)
{
    uint32_t a = w->map.fs_start;
    w->largest_plain = a / (2u * SECTOR) * SECTOR;
    w->largest_gz = 0;
    if (ctx->gz_len && ctx->inflates == 1)
        for (uint32_t k = a / SECTOR; k > 0; k--) {
            uint64_t l = (uint64_t)k * SECTOR;
            uint64_t c = (l * ctx->gz_len + ctx->plain_len - 1) / ctx->plain_len;
            if (l + rup((uint32_t)c) <= a) {
                w->largest_gz = (uint32_t)l;
                break;
            }
        }
    w->fits_area = rup(ctx->plain_len) <= a;
    for (int gz = 0; gz < 2; gz++) {
        memset(&w->res[gz], 0, sizeof w->res[gz]);
        w->ok[gz] = 0;
        if (!w->fits_area)
            continue;
        if (gz && (ctx->inflates != 1 || !ctx->gz_len))
            continue;
        upd_image_report *rep = malloc(sizeof *rep);
        if (!rep)
            continue;
        form_report(fi, ctx, gz, rep);
        upd_device_facts f;
        memset(&f, 0, sizeof f);
        f.client = UPD_CLIENT_ESP8266_ARDUINO;
        f.mode = UPD_MODE_SKETCH;
        f.chip = UPD_CHIP_ESP8266;
        f.has_chip_size = f.has_free_space = f.has_sketch_size = 1;
        f.chip_size = w->map.chip_size;
        f.sketch_size = ctx->plain_len; /* this very image runs and updates itself */
        f.free_space = a - rup(ctx->plain_len);
        w->ok[gz] = upd_fit_check(rep, &f, &w->res[gz]) == 0;
        free(rep);
        if (gz && w->ok[gz] && w->res[0].code == UPD_FIT_FLASH_TOO_SMALL) {
            /* the Updater does not look at a gzip image's size code, but the image would
             * run believing in a larger flash: the server does not send it (policy.c) */
            w->ok[gz] = 0;
            w->res[gz] = w->res[0];
            snprintf(w->res[gz].explanation, sizeof w->res[gz].explanation,
                     "the Updater would take the gzip copy (it does not check the size code of "
                     "gzip images), but the image is built for a larger flash than this board's; "
                     "updraft serve does not send it");
        }
    }
}

static void eboot_line(const upd_layout_ctx *ctx)
{
    if (ctx->inflates == 1)
        printf("  %-10s inflates gzip updates (%u bytes of boot loader code: cores from 2.7.0 on "
               "link the inflater)\n",
               "eboot", ctx->eboot_code);
    else if (ctx->inflates == 0)
        printf("  %-10s does not inflate gzip (%u bytes of boot loader code: a core before "
               "2.7.0): a device running this image takes plain updates only\n",
               "eboot", ctx->eboot_code);
}

/* A filesystem image on a layout: what ESP8266httpUpdate in spiffs mode would do, with
 * the area the rules compute from the request of a device on that layout (a 400000-byte
 * sketch: the start follows from free-space, the sketch size does not matter). */
static int fs_fit(const upd_file_info *fi, const upd_esp8266_flashmap *m, upd_fit_result *res)
{
    upd_device_facts f;
    memset(&f, 0, sizeof f);
    memset(res, 0, sizeof *res);
    f.client = UPD_CLIENT_ESP8266_ARDUINO;
    f.mode = UPD_MODE_FS;
    f.chip = UPD_CHIP_ESP8266;
    f.has_chip_size = f.has_free_space = f.has_sketch_size = 1;
    f.chip_size = m->chip_size;
    f.sketch_size = SECTOR;
    f.free_space = m->fs_start - SECTOR;
    if (m->fs_start < SECTOR)
        return 0;
    if (!strcmp(m->name, "custom")) {
        f.has_fs_size = 1; /* not a standard start: its own end */
        f.fs_size = m->fs_end - m->fs_start;
    }
    return upd_fit_check(&fi->report, &f, res) == 0;
}

static void print_fs(const upd_file_info *fi, uint32_t board, uint32_t fs_size)
{
    upd_esp8266_flashmap maps[16];
    int n = layouts(board, fs_size, maps, 16);
    for (int i = 0; i < n; i++) {
        upd_fit_result res;
        int ok = fs_fit(fi, &maps[i], &res);
        printf("  %-10s %s%s%s: filesystem 0x%x..0x%x (%u bytes): %s%s%s\n", i ? "" : "layout",
               strcmp(maps[i].name, "custom") ? "eagle.flash." : "", maps[i].name,
               strcmp(maps[i].name, "custom") ? ".ld" : "", maps[i].fs_start, maps[i].fs_end,
               maps[i].fs_end - maps[i].fs_start,
               ok ? "this image fits" : "no: ", ok ? "" : res.explanation, "");
    }
}

void upd__layout_print(const upd_file_info *fi, const upd_layout_ctx *ctx, uint32_t board,
                       uint32_t fs_size)
{
    if (ctx->fs_image && board) {
        print_fs(fi, board, fs_size);
        return;
    }
    if (!ctx->esp8266) {
        if (board)
            printf("  %-10s --board applies to ESP8266 Arduino applications and filesystem "
                   "images only\n",
                   "layout");
        return;
    }
    eboot_line(ctx);
    if (ctx->gz_len)
        printf("  %-10s %u bytes compressed (zlib level 9, %.1f%% of %u); eboot may inflate it "
               "from 0x%x up\n",
               "gzip", ctx->gz_len, 100.0 * ctx->gz_len / ctx->plain_len, ctx->plain_len,
               ctx->gz_min_stage);
    if (!board)
        return;
    upd_esp8266_flashmap maps[16];
    int n = layouts(board, fs_size, maps, 16);
    for (int i = 0; i < n; i++) {
        row w;
        w.map = maps[i];
        compute(fi, ctx, &w);
        uint32_t fs = w.map.fs_end - w.map.fs_start;
        printf("  %-10s %s%s%s: sketch area 0x0..0x%x (%u bytes), filesystem %u bytes\n",
               i ? "" : "layout", strcmp(w.map.name, "custom") ? "eagle.flash." : "", w.map.name,
               strcmp(w.map.name, "custom") ? ".ld" : "", w.map.fs_start, w.map.fs_start, fs);
        printf("  %-10s   largest sketch that can update itself: plain %u bytes, ", "",
               w.largest_plain);
        if (w.largest_gz)
            printf("gzip %u bytes (at this image's ratio)\n", w.largest_gz);
        else
            printf("gzip -- (%s)\n", ctx->inflates != 1 ? "this eboot does not inflate"
                                                        : "no gzip copy could be made");
        printf("  %-10s   this image (%u bytes) updating itself: ", "", ctx->plain_len);
        if (!w.fits_area) {
            printf("no: it is longer than the sketch area\n");
            continue;
        }
        printf("plain %s", w.ok[0] ? "yes" : "no");
        printf(", gzip %s\n", w.ok[1] ? "yes" : "no");
        for (int gz = 0; gz < 2; gz++)
            if (!w.ok[gz] && w.res[gz].explanation[0])
                printf("  %-10s     %s: %s\n", "", gz ? "gzip" : "plain", w.res[gz].explanation);
    }
}

static void add_fit(cJSON *o, const char *name, int ok, const upd_fit_result *r, int applies)
{
    cJSON *f = cJSON_AddObjectToObject(o, name);
    cJSON_AddBoolToObject(f, "ok", ok);
    cJSON_AddStringToObject(f, "code", applies ? upd_fit_code_name(r->code) : "n/a");
    cJSON_AddStringToObject(f, "explanation", applies ? r->explanation : "");
}

void upd__layout_json(cJSON *o, const upd_file_info *fi, const upd_layout_ctx *ctx, uint32_t board,
                      uint32_t fs_size)
{
    if (ctx->fs_image && board) {
        cJSON *arr = cJSON_AddArrayToObject(o, "layouts");
        upd_esp8266_flashmap maps[16];
        int n = layouts(board, fs_size, maps, 16);
        for (int i = 0; i < n; i++) {
            upd_fit_result res;
            int ok = fs_fit(fi, &maps[i], &res);
            cJSON *l = cJSON_CreateObject();
            cJSON_AddStringToObject(l, "name", maps[i].name);
            cJSON_AddNumberToObject(l, "chip_size", maps[i].chip_size);
            cJSON_AddNumberToObject(l, "fs_start", maps[i].fs_start);
            cJSON_AddNumberToObject(l, "fs_end", maps[i].fs_end);
            cJSON_AddNumberToObject(l, "fs_size", maps[i].fs_end - maps[i].fs_start);
            add_fit(l, "fs_fit", ok, &res, 1);
            cJSON_AddItemToArray(arr, l);
        }
        return;
    }
    if (!ctx->esp8266)
        return;
    if (ctx->inflates < 0)
        cJSON_AddNullToObject(o, "eboot_inflates");
    else
        cJSON_AddBoolToObject(o, "eboot_inflates", ctx->inflates == 1);
    cJSON_AddNumberToObject(o, "eboot_code_bytes", ctx->eboot_code);
    if (ctx->gz_len) {
        cJSON *g = cJSON_AddObjectToObject(o, "gzip_copy");
        cJSON_AddNumberToObject(g, "size", ctx->gz_len);
        cJSON_AddNumberToObject(g, "inflated_size", ctx->plain_len);
        cJSON_AddNumberToObject(g, "min_stage", ctx->gz_min_stage);
    }
    if (!board)
        return;
    cJSON *arr = cJSON_AddArrayToObject(o, "layouts");
    upd_esp8266_flashmap maps[16];
    int n = layouts(board, fs_size, maps, 16);
    for (int i = 0; i < n; i++) {
        row w;
        w.map = maps[i];
        compute(fi, ctx, &w);
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "name", w.map.name);
        cJSON_AddNumberToObject(l, "chip_size", w.map.chip_size);
        cJSON_AddNumberToObject(l, "fs_start", w.map.fs_start);
        cJSON_AddNumberToObject(l, "fs_end", w.map.fs_end);
        cJSON_AddNumberToObject(l, "fs_size", w.map.fs_end - w.map.fs_start);
        cJSON_AddNumberToObject(l, "largest_plain", w.largest_plain);
        if (w.largest_gz)
            cJSON_AddNumberToObject(l, "largest_gzip", w.largest_gz);
        else
            cJSON_AddNullToObject(l, "largest_gzip");
        cJSON_AddBoolToObject(l, "fits_sketch_area", w.fits_area);
        add_fit(l, "self_update_plain", w.ok[0], &w.res[0], w.fits_area);
        add_fit(l, "self_update_gzip", w.ok[1], &w.res[1],
                w.fits_area && ctx->inflates == 1 && ctx->gz_len);
        cJSON_AddItemToArray(arr, l);
    }
}
