/* A tiny formatter for messages into fixed buffers (no stdio in the core). Private. */
#ifndef UPD_CORE_STRBUF_H
#define UPD_CORE_STRBUF_H

#include <stddef.h>

/* Format into buf (always NUL-terminated, truncated to cap-1 bytes). Conversions:
 * %s string (NULL prints "(null)"), %u unsigned int, %d int, %x unsigned int as 0x-less
 * lowercase hex, %X the same uppercase, %c char, %K unsigned int byte count printed
 * human-readably ("612 KiB", "1.5 MiB", "4 MiB", "512 bytes"), %% percent. Returns the length
 * written. */
size_t upd__fmt(char *buf, size_t cap, const char *fmt, ...);

/* The same, appending to the NUL-terminated string already in buf. */
size_t upd__fmt_append(char *buf, size_t cap, const char *fmt, ...);

#endif
