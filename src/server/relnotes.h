/* Release notes: Markdown text kept with a release (docs/api.md "Release notes"), set at
 * upload (the `notes` field) or later with PUT /api/v1/releases/<id>/notes. The server
 * keeps the text as given; the dashboard renders a strict subset of Markdown safely
 * (docs/dashboard.md). */
#ifndef UPD_SERVER_RELNOTES_H
#define UPD_SERVER_RELNOTES_H

#include <stddef.h>
#include <stdint.h>

#include "srv.h"

/* Is text acceptable as notes: at most UPD_NOTES_MAX - 1 bytes of UTF-8 with no control
 * character but tab, line feed and carriage return? 0, or -1 with why (what is wrong and
 * where, in the terms of the API). */
int upd__relnotes_check(const char *text, size_t len, char *why, size_t whylen);

/* PUT /api/v1/releases/<id>/notes {"notes": "..."} ("" or null clears them): answers the
 * release. */
enum MHD_Result upd__relnotes_route(req *r, struct MHD_Connection *c, const char *method,
                                    int64_t id);

#endif
