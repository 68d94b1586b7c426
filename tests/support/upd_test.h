/* A tiny test harness that runs the same on the host and on lx106 under QEMU (where
 * printf goes out through semihosting). Each test file defines test functions and a
 * main() made of RUN(fn) lines, then returns upd_test_summary().
 *
 *   static void test_something(void) { CHECK(x == 1); CHECK_INT(a, ==, b); }
 *   int main(void) { RUN(test_something); return upd_test_summary(); }
 */
#ifndef UPD_TEST_H
#define UPD_TEST_H

#include <stdio.h>
#include <string.h>

static int upd_test__failed_checks;
static int upd_test__passed;
static int upd_test__failed;
static const char *upd_test__current;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            upd_test__failed_checks++;                                                             \
            printf("  FAIL %s:%d: %s: CHECK(%s)\n", __FILE__, __LINE__, upd_test__current, #cond); \
        }                                                                                          \
    } while (0)

/* CHECK_INT(a, op, b): compares as long long and prints both values on failure. */
#define CHECK_INT(a, op, b)                                                                        \
    do {                                                                                           \
        long long upd__a = (long long)(a), upd__b = (long long)(b);                                \
        if (!(upd__a op upd__b)) {                                                                 \
            upd_test__failed_checks++;                                                             \
            printf("  FAIL %s:%d: %s: %s %s %s (%lld vs %lld)\n", __FILE__, __LINE__,              \
                   upd_test__current, #a, #op, #b, upd__a, upd__b);                                \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *upd__a = (a), *upd__b = (b);                                                   \
        if (upd__a == NULL || upd__b == NULL || strcmp(upd__a, upd__b) != 0) {                     \
            upd_test__failed_checks++;                                                             \
            printf("  FAIL %s:%d: %s: %s == %s (\"%s\" vs \"%s\")\n", __FILE__, __LINE__,          \
                   upd_test__current, #a, #b, upd__a ? upd__a : "(null)",                          \
                   upd__b ? upd__b : "(null)");                                                    \
        }                                                                                          \
    } while (0)

/* CHECK_CONTAINS(haystack, needle): substring check on messages. */
#define CHECK_CONTAINS(h, n)                                                                       \
    do {                                                                                           \
        const char *upd__h = (h), *upd__n = (n);                                                   \
        if (upd__h == NULL || strstr(upd__h, upd__n) == NULL) {                                    \
            upd_test__failed_checks++;                                                             \
            printf("  FAIL %s:%d: %s: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__,       \
                   upd_test__current, upd__h ? upd__h : "(null)", upd__n);                         \
        }                                                                                          \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        int upd__before = upd_test__failed_checks;                                                 \
        upd_test__current = #fn;                                                                   \
        fn();                                                                                      \
        if (upd_test__failed_checks == upd__before) {                                              \
            upd_test__passed++;                                                                    \
            printf("ok - %s\n", #fn);                                                              \
        } else {                                                                                   \
            upd_test__failed++;                                                                    \
            printf("not ok - %s\n", #fn);                                                          \
        }                                                                                          \
    } while (0)

/* Prints "N passed, M failed" and returns the process exit status. */
static inline int upd_test_summary(void)
{
    printf("%d passed, %d failed\n", upd_test__passed, upd_test__failed);
    return upd_test__failed ? 1 : 0;
}

#endif
