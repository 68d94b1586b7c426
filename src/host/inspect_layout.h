/* `updraft inspect --board SIZE [--fs SIZE]`: for an ESP8266 Arduino image, what its
 * eboot can do and how large a sketch can still update itself on a board's standard flash
 * layouts, plain and gzip-compressed, and whether this image can (the core's fit rules,
 * docs/fit-rules.md). */
#ifndef UPD_HOST_INSPECT_LAYOUT_H
#define UPD_HOST_INSPECT_LAYOUT_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "fileinspect.h"

/* Parse a size: "1M", "512K", "64k", "4096" (bytes). 0 and *out set, or -1. */
int upd__parse_size(const char *s, uint32_t *out);

/* What inspect needs besides the file's report: the gzip copy of a plain ESP8266 image
 * (computed here) or the file itself when it is gzip. */
typedef struct upd_layout_ctx {
    int esp8266;        /* an ESP8266 Arduino application, plain or gzip */
    int fs_image;       /* a filesystem image: --board says where it fits */
    uint32_t plain_len; /* the inflated image's length */
    uint32_t gz_len;    /* the gzip form's length, 0 when it could not be made */
    uint32_t gz_min_stage;
    int8_t inflates;     /* eboot_inflates of the image */
    uint32_t eboot_code; /* bytes of eboot code in IRAM */
} upd_layout_ctx;

/* Fill ctx from fi (and the file's bytes at path for plain images: compressed here). */
void upd__layout_ctx(const upd_file_info *fi, const char *path, upd_layout_ctx *ctx);

/* Human lines (after the file's report): the eboot line for every ESP8266 image; with
 * board (chip size, 0 = none) the layouts: fs_size UINT32_MAX = every standard layout of
 * the board, else the one whose filesystem has that size. */
void upd__layout_print(const upd_file_info *fi, const upd_layout_ctx *ctx, uint32_t board,
                       uint32_t fs_size);

/* The same as JSON members of o: "eboot_inflates", "gzip_copy", "layouts". */
void upd__layout_json(cJSON *o, const upd_file_info *fi, const upd_layout_ctx *ctx, uint32_t board,
                      uint32_t fs_size);

/* Is fs_size a filesystem a board can have (standard, or any 4 KB multiple that leaves a
 * sketch area)? 0 yes, -1 with a message in err. */
int upd__layout_check(uint32_t board, uint32_t fs_size, char *err, size_t errlen);

#endif
