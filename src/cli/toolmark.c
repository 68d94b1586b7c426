/* x-updraft-tool in the requests of updraft sim and doctor (toolmark.h). */
#include "toolmark.h"

#include <stdio.h>
#include <string.h>

size_t upd_cli_toolmark(const uint8_t *p, size_t n, const char *tool, uint8_t *out, size_t cap)
{
    static const char *const methods[] = {"GET ", "HEAD ", "POST ", NULL};
    int is_req = 0;
    for (int i = 0; methods[i]; i++) {
        size_t m = strlen(methods[i]);
        if (n >= m && !memcmp(p, methods[i], m))
            is_req = 1;
    }
    const uint8_t *eol = is_req ? memchr(p, '\n', n) : NULL;
    if (!eol)
        return 0;
    size_t line = (size_t)(eol - p) + 1;
    char hdr[64];
    int h = snprintf(hdr, sizeof hdr, "x-updraft-tool: %s\r\n", tool);
    if (h <= 0 || (size_t)h >= sizeof hdr || n + (size_t)h > cap)
        return 0;
    memcpy(out, p, line);
    memcpy(out + line, hdr, (size_t)h);
    memcpy(out + line + (size_t)h, p + line, n - line);
    return n + (size_t)h;
}
