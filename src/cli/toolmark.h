/* updraft's own tools say so to updraft servers: `x-updraft-tool: sim` / `doctor` in the
 * requests of the devices they make up (real devices never send it). The server marks
 * such devices (the device row's "tool"), keeps them out of the fleet's figures and never
 * holds a release back from them (docs/protocol.md "Tool devices"). */
#ifndef UPD_CLI_TOOLMARK_H
#define UPD_CLI_TOOLMARK_H

#include <stddef.h>
#include <stdint.h>

/* The request bytes p[0..n) with "x-updraft-tool: TOOL" added after the request line,
 * into out (cap bytes). Returns the new length, or 0 when p is not the start of a request
 * (no method and request line in it) or the result does not fit: then send p as it is. */
size_t upd_cli_toolmark(const uint8_t *p, size_t n, const char *tool, uint8_t *out, size_t cap);

#endif
