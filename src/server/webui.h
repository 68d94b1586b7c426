/* The dashboard's files, compiled into the binary (tools/webembed.c makes webassets.c
 * from web/ at build time) and served by webui.c: GET / is index.html, the rest is under
 * /ui/. docs/dashboard.md. */
#ifndef UPD_SERVER_WEBUI_H
#define UPD_SERVER_WEBUI_H

#include <stddef.h>

typedef struct upd_webasset {
    const char *path;    /* "/ui/js/app.js" */
    const char *type;    /* its Content-Type */
    const char *etag;    /* strong ETag of the bytes, quoted */
    const char *etag_gz; /* ... of the gzip copy */
    const unsigned char *data;
    size_t len;
    const unsigned char *gz; /* NULL when gzip would save little */
    size_t gzlen;
} upd_webasset;

extern const upd_webasset upd__webassets[];
extern const size_t upd__nwebassets;

#endif
