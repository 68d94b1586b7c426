/* Release adoption: how many devices run each release now (the registry's
 * running_release), shown with the release in the API and the dashboard's Releases page. */
#ifndef UPD_SERVER_RELADOPT_H
#define UPD_SERVER_RELADOPT_H

#include "srv.h"

/* Add "adoption": {"devices": N, "tool_devices": M} to each release object of the JSON
 * array releases (objects with an "id"): the real devices that run it and those
 * updraft's tools made (sim, doctor). 0, or -1 when the store failed (then nothing is
 * added). */
int upd__reladopt_add(srv *s, cJSON *releases);

#endif
