/* A rollout's target (rotarget.h). */
#include <stdio.h>
#include <string.h>

#include "chip.h"
#include "rotarget.h"
#include "srv.h"

int upd__ro_target_compile(const char *text, struct srv *s, upd_ro_target *t, char *canon,
                           size_t cap, char *why, size_t whylen)
{
    t->s = s;
    if (!text || !strcmp(text, "all"))
        text = "";
    char err[512];
    if (upd__filter_parse(text, &t->f, err, sizeof err) != 0) {
        snprintf(why, whylen, "%s (docs/filters.md)", err);
        return -1;
    }
    if (canon && cap) {
        upd__filter_format(&t->f, canon, cap);
        if (!canon[0])
            snprintf(canon, cap, "all");
    }
    return 0;
}

static int chip_of(void *ctx, const upd_device_row *d)
{
    char how[160];
    return (int)upd__chip_of_device(ctx, d, d, how, sizeof how);
}

int upd__ro_target_match(const upd_ro_target *t, const upd_device_row *d, int64_t now_ms)
{
    if (t->f.nterms == 0)
        return 1;
    upd_filter_env env = {now_ms, t->s ? chip_of : NULL, t->s};
    return upd__filter_match(&t->f, d, &env);
}
