/* Device error texts in the words of each device client, for host tools (doctor, sim).
 * Kept out of the device library: a device only needs its own client's words. */
#ifndef UPD_HOST_DEVTEXT_H
#define UPD_HOST_DEVTEXT_H

#include "updraft/fit.h"

/* upd_client_strerror() in the words of the given device client: Arduino-ESP32's
 * Update library numbers its errors differently from the ESP8266 Updater from 8 on (9 is
 * "Could Not Activate The Firmware" there, "New Flash Configuration Wrong" on ESP8266),
 * and its HTTPUpdate uses -108 for "no partition". Never NULL. */
const char *upd_client_strerror_for(upd_client flavor, int err);

#endif
