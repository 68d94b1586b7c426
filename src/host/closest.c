/* The closest word (closest.h). */
#include <string.h>

#include "closest.h"

/* Optimal string alignment distance (a swap of two letters is one typo), capped. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    size_t d[41][41];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t c = a[i - 1] != b[j - 1];
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + c < v)
                v = d[i - 1][j - 1] + c;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

const char *upd_closest(const char *w, const char *const *list)
{
    const char *best = NULL;
    size_t bd = 99;
    for (size_t i = 0; list && list[i]; i++) {
        size_t dd = distance(w, list[i]);
        /* a prefix of a word is close too ("rel" for "release") */
        if (strlen(w) >= 2 && !strncmp(list[i], w, strlen(w)))
            dd = 1;
        if (dd < bd) {
            bd = dd;
            best = list[i];
        }
    }
    size_t len = strlen(w);
    return best && bd <= (len <= 4 ? 1u : len <= 8 ? 2u : 3u) ? best : NULL;
}
