/* Device error texts per device client: see devtext.h. */
#include "devtext.h"

#include <string.h>

#include "updraft/client.h"

/* Arduino-ESP32's Update library errors 1..12, in its own words. */
static const char *const esp32_update_texts[] = {
    "Flash Write Failed",
    "Flash Erase Failed",
    "Flash Read Failed",
    "Not Enough Space",
    "Bad Size Given",
    "Stream Read Timeout",
    "MD5 Check Failed",
    "Wrong Magic Byte",
    "Could Not Activate The Firmware",
    "Partition Could Not be Found",
    "Bad Argument",
    "Aborted",
};

const char *upd_client_strerror_for(upd_client flavor, int err)
{
    if (flavor == UPD_CLIENT_ESP32_ARDUINO) {
        if (err >= 1 && err <= 12)
            return esp32_update_texts[err - 1];
        if (err == -108)
            return "Partition Could Not be Found"; /* HTTP_UE_NO_PARTITION on ESP32 */
    }
    return upd_client_strerror(err);
}
