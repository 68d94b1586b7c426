/* Tagging devices over the API (docs/api.md "Tags"): one device
 * (POST /api/v1/devices/<mac>/tags) or many, selected by a target filter or a list of
 * MACs (POST /api/v1/devices/tags, with a dry run). Name rules and list edits: tags.h;
 * the selection: devsel.h; the store writes each device's new list with an event. */
#ifndef UPD_SERVER_TAGGING_H
#define UPD_SERVER_TAGGING_H

#include <cjson/cJSON.h>

#include "srv.h"

/* The request on .../devices/<mac>/tags (mac normalised) or, mac NULL, on
 * .../devices/tags. */
enum MHD_Result upd__tagging_api(req *r, struct MHD_Connection *c, const char *method,
                                 const char *mac);

/* Add "tags": [...] of the comma-separated list to j. */
void upd__tags_json(cJSON *j, const char *list);

#endif
