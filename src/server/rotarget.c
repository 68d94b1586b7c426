/* A rollout's target (rotarget.h). */
#include <stdio.h>
#include <string.h>

#include "rotarget.h"

int upd__ro_target_compile(const char *text, upd_ro_target *t, char *why, size_t whylen)
{
    memset(t, 0, sizeof *t);
    if (!text || !text[0] || !strcmp(text, "all")) {
        t->all = 1;
        return 0;
    }
    snprintf(why, whylen,
             "target '%.100s' is not understood: this server takes only 'all' (every device "
             "of the release's platform)",
             text);
    return -1;
}

int upd__ro_target_match(const upd_ro_target *t, const upd_device_row *d)
{
    (void)d;
    return t->all;
}
