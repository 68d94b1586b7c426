/* The server's log (docs/operations.md "Logs"): one line per event that matters, on
 * stderr, as text or as JSON (--log-format), from --log-level up. Each event has a name
 * ("release-added", "reload-failed", "check", ...); an event that repeats is limited to
 * UPD_LOG_BURST lines per UPD_LOG_WINDOW_MS, and the lines it held back are counted on
 * its next line (and at shutdown), so a flood never fills the journal nor blocks a
 * request thread on a full pipe. The startup banner (address, admin token) stays on
 * stdout. */
#ifndef UPD_SERVER_LOG_H
#define UPD_SERVER_LOG_H

#include <stdatomic.h>

typedef enum upd_log_level {
    UPD_LOG_ERROR = 0,
    UPD_LOG_WARN,
    UPD_LOG_INFO,
    UPD_LOG_DEBUG,
} upd_log_level;

#define UPD_LOG_BURST     10
#define UPD_LOG_WINDOW_MS 60000

/* Set the format ("text" or "json"; NULL: text) and the level ("error", "warn", "info",
 * "debug"; NULL: info). 0 ok, -1 for an unknown value. */
int upd__log_configure(const char *format, const char *level);

extern atomic_int upd__log_level_now;

/* Is level logged? (one relaxed load: cheap enough for the check path) */
static inline int upd__log_on(upd_log_level level)
{
    return (int)level <= atomic_load_explicit(&upd__log_level_now, memory_order_relaxed);
}

/* Log one event (event: a literal name, lower case words with '-'). */
void upd__log(upd_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Log a line the caller limits itself (held: the lines it held back before this one). */
void upd__log_limited(upd_log_level level, const char *event, unsigned long held, const char *msg);

/* Say what the limit held back and has not said yet (at shutdown). */
void upd__log_flush(void);

#endif
