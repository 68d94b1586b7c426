/* The server's monotonic clock, in one place: milliseconds (and nanoseconds) of
 * CLOCK_MONOTONIC, which never jumps with the wall clock (NTP, an operator's `date`).
 * Only differences between two readings mean something (lwIP's clock contract); wall-clock
 * times (events, audit, "2026-12-07T02:15Z") are upd__now_ms (srv.h), CLOCK_REALTIME.
 *
 * Threads: any. */
#ifndef UPD_SERVER_CLOCK_H
#define UPD_SERVER_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in milliseconds. */
static inline int64_t upd__mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CLOCK_MONOTONIC in nanoseconds (durations of store calls, metrics.h). */
static inline int64_t upd__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CLOCK_REALTIME ms milliseconds from now: the deadline pthread_cond_timedwait takes for a
 * condition variable of the default clock (a wait of at most ms). */
static inline struct timespec upd__deadline_ms(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (ms > 0 ? ms : 0) % 1000 * 1000000;
    ts.tv_sec += (time_t)((ms > 0 ? ms : 0) / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}

#endif
