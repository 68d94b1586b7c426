// BasicUpdate: ask an updraft server for a new sketch every few minutes (with jitter, so
// that a fleet switched on together does not ask all at once), show the download's
// progress on Serial, and reboot into the new sketch when it is staged and verified.
// After the reboot the next check reports the outcome to the server (x-updraft-report:
// the dashboard shows "installed 1.0.1").
//
// Publish a release on the server:  updraft release add firmware.bin --version 1.0.1 --channel stable
#include <ESP8266WiFi.h>
#include <Updraft.h>

#ifndef WIFI_SSID
#define WIFI_SSID     "my-network"
#define WIFI_PASSWORD "my-password"
#endif
#ifndef UPDRAFT_URL
#define UPDRAFT_URL "http://192.168.1.10:8080/update/stable" // updraft serve, channel "stable"
#endif
#ifndef FIRMWARE_VERSION
#define FIRMWARE_VERSION "1.0.0" // the version of this sketch, as published on the server
#endif
#ifndef CHECK_INTERVAL_MS
#define CHECK_INTERVAL_MS (15 * 60 * 1000UL) // every 15 minutes, +- 20 %
#endif

Updraft ota;

static void showProgress(uint32_t done, uint32_t total)
{
    Serial.printf("updraft: %u of %u bytes\n", (unsigned)done, (unsigned)total);
}

void setup()
{
    Serial.begin(115200);
    Serial.printf("\nrunning %s\n", FIRMWARE_VERSION);
    WiFi.mode(WIFI_STA);
    WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
    while (WiFi.status() != WL_CONNECTED)
        delay(200);

    if (!ota.begin(UPDRAFT_URL, FIRMWARE_VERSION))
        Serial.println("updraft: UPDRAFT_URL is not http://host[:port]/path");
    ota.onProgress(showProgress);
    ota.setIntervalMs(CHECK_INTERVAL_MS, 20);
}

void loop()
{
    if (ota.due()) {
        switch (ota.check()) { // UPDRAFT_OK reboots into the new sketch
        case UPDRAFT_NO_UPDATES:
            Serial.println("updraft: no update");
            break;
        case UPDRAFT_FAILED:
            Serial.printf("updraft: failed: %d %s\n", ota.lastError(), ota.lastErrorString());
            break;
        default:
            break;
        }
        Serial.printf("updraft: next check in %u s\n", (unsigned)(ota.nextCheckInMs() / 1000));
    }
    delay(10);
}
