/* The server's log (log.h). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "log.h"

atomic_int upd__log_level_now = UPD_LOG_INFO;
static int g_json;

static const char *const LEVELS[] = {"error", "warn", "info", "debug"};

int upd__log_configure(const char *format, const char *level)
{
    int json = 0, lv = UPD_LOG_INFO;
    if (format && !strcmp(format, "json"))
        json = 1;
    else if (format && strcmp(format, "text"))
        return -1;
    if (level) {
        lv = -1;
        for (int i = 0; i < 4; i++)
            if (!strcmp(level, LEVELS[i]))
                lv = i;
        if (lv < 0)
            return -1;
    }
    g_json = json;
    atomic_store(&upd__log_level_now, lv);
    return 0;
}

/* The repeat limit: events by name (a small table; a new name takes the slot used
 * longest ago). */
#define SLOTS 32
typedef struct slot {
    const char *event;
    int64_t window_ms; /* when this slot's window began */
    unsigned lines;    /* lines in this window */
    unsigned long held;
    int level;
} slot;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static slot g_slots[SLOTS];

/* Write one line (under g_mu). held: lines held back before it. */
static void emit(int level, const char *event, const char *msg, unsigned long held)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03ldZ", ts.tv_nsec / 1000000);
    if (g_json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "time", when);
        cJSON_AddStringToObject(j, "level", LEVELS[level]);
        cJSON_AddStringToObject(j, "event", event);
        cJSON_AddStringToObject(j, "msg", msg);
        if (held)
            cJSON_AddNumberToObject(j, "suppressed", (double)held);
        char *text = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (text) {
            fprintf(stderr, "%s\n", text);
            free(text);
        }
    } else if (held) {
        fprintf(stderr, "%s %s %s: %s (%lu more %s lines held back in the last %d s)\n", when,
                LEVELS[level], event, msg, held, event, UPD_LOG_WINDOW_MS / 1000);
    } else {
        fprintf(stderr, "%s %s %s: %s\n", when, LEVELS[level], event, msg);
    }
    fflush(stderr);
}

void upd__log(upd_log_level level, const char *event, const char *fmt, ...)
{
    if (!upd__log_on(level))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* one line: a message with a newline inside would pass for two events */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    int64_t now = upd__mono_ms();
    pthread_mutex_lock(&g_mu);
    slot *sl = NULL, *oldest = &g_slots[0];
    for (int i = 0; i < SLOTS; i++) {
        if (g_slots[i].event && !strcmp(g_slots[i].event, event)) {
            sl = &g_slots[i];
            break;
        }
        if (!g_slots[i].event || g_slots[i].window_ms < oldest->window_ms)
            oldest = &g_slots[i];
    }
    if (!sl) {
        sl = oldest;
        if (sl->event && sl->held) /* say what the evicted name held back */
            emit(sl->level, sl->event, "lines held back by the repeat limit", sl->held);
        memset(sl, 0, sizeof *sl);
        sl->event = event;
        sl->window_ms = now;
    }
    if (now - sl->window_ms >= UPD_LOG_WINDOW_MS) {
        sl->window_ms = now;
        sl->lines = 0;
    }
    if (sl->lines >= UPD_LOG_BURST) {
        sl->held++;
        sl->level = (int)level;
    } else {
        sl->lines++;
        emit((int)level, event, msg, sl->held);
        sl->held = 0;
    }
    pthread_mutex_unlock(&g_mu);
}

void upd__log_limited(upd_log_level level, const char *event, unsigned long held, const char *msg)
{
    if (!upd__log_on(level))
        return;
    pthread_mutex_lock(&g_mu);
    emit((int)level, event, msg, held);
    pthread_mutex_unlock(&g_mu);
}

void upd__log_flush(void)
{
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < SLOTS; i++)
        if (g_slots[i].event && g_slots[i].held) {
            emit(g_slots[i].level, g_slots[i].event, "lines held back by the repeat limit",
                 g_slots[i].held);
            g_slots[i].held = 0;
        }
    pthread_mutex_unlock(&g_mu);
}
