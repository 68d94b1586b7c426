/* esp32FOTA's JSON manifest: GET /manifest/<channel>/esp32.json names the channel's current
 * ESP32 release and its download URL, in the format the esp32FOTA Arduino library reads
 * (docs/protocol.md "esp32FOTA manifest"). The library sends no device identity, so the
 * answer is the channel's release for every device: no pins, no fit rules. */
#ifndef UPD_SERVER_MANIFEST_H
#define UPD_SERVER_MANIFEST_H

#include "srv.h"

/* Answer GET|HEAD /manifest/... (rest: what follows "/manifest/"). */
enum MHD_Result upd__manifest_route(req *r, struct MHD_Connection *c, const char *rest);

#endif
