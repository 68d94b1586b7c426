/* Liveness and readiness (health.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "health.h"
#include "outage.h"

static int count_one(void *ctx, const upd_release_row *rel)
{
    (void)rel;
    ++*(int *)ctx;
    return 1; /* one row is enough: the database answered */
}

/* What keeps the server from serving devices, as sentences into out ("" when ready).
 * watchdog: for the watchdog, which does not count a lost database that the store
 * reconnects to by itself (a restart would only drop the records held meanwhile). */
static void not_ready(srv *s, char *out, size_t cap, int watchdog)
{
    out[0] = '\0';
    int n = 0;
    if (upd__outage_say(s, out, cap)) {
        if (watchdog)
            out[0] = '\0';
    } else if (s->store->ops->release_list(s->store, count_one, &n) != 0)
        snprintf(out + strlen(out), cap - strlen(out),
                 "the database does not answer (the server log says why)\n");
    DIR *d = opendir(s->blob_dir);
    if (!d)
        snprintf(out + strlen(out), cap - strlen(out), "the blob store %.300s cannot be read: %s\n",
                 s->blob_dir, strerror(errno));
    else
        closedir(d);
}

int upd__health_ready(srv *s, char *why, size_t cap)
{
    not_ready(s, why, cap, 1);
    return why[0] == '\0';
}

enum MHD_Result upd__health_route(req *r, struct MHD_Connection *c, const char *url)
{
    r->started = 1;
    if (!strcmp(url, "/healthz"))
        return upd__reply_text(r, c, MHD_HTTP_OK, "ok");
    char why[1024];
    not_ready(r->s, why, sizeof why, 0);
    if (why[0])
        return upd__reply_text(r, c, MHD_HTTP_SERVICE_UNAVAILABLE, why);
    return upd__reply_text(r, c, MHD_HTTP_OK, "ready");
}
