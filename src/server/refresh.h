/* Start-up work on releases stored by an older updraft (their device hashes, their gzip
 * copy): find the rows a rule marks stale, and bring each up to date from its blob. */
#ifndef UPD_SERVER_REFRESH_H
#define UPD_SERVER_REFRESH_H

#include "host/fileinspect.h"
#include "srv.h"

typedef struct upd_refresh {
    /* 1 when r needs the work */
    int (*stale)(const upd_release_row *r);
    /* do it for r, whose blob is at path and inspects as fi: 1 done, 0 nothing to do,
     * -1 failed (err says why) */
    int (*update)(srv *s, const char *path, const upd_file_info *fi, upd_release_row *r, char *err,
                  size_t errlen);
    const char *failed; /* "cannot compute the hashes devices report for it" */
    const char *result; /* what a failure means for devices */
    const char *done;   /* "computed the device hashes of" */
} upd_refresh;

/* Run the work on every stale release; logs failures and how many were done. */
void upd__refresh_releases(srv *s, const upd_refresh *w);

#endif
