// PowerSafeReport: keeps the download's progress and the outcome of the last update in
// a flash sector of their own, so that both survive a power cut (RTC memory, the default,
// survives a reset only): after a cut the next check asks for the rest of the image
// (Range) instead of starting over, and the server still learns how the last attempt
// ended (x-updraft-report: "installed 2.0.0" or "failed with 7 (MD5 check failed)"),
// shown on its dashboard and in `updraft events`.
//
// The sector must be used by nothing else: here the EEPROM sector (just after the
// filesystem), so this sketch must not use the EEPROM library.
#include <ESP8266WiFi.h>
#include <Updraft.h>
#include <flash_hal.h>

#ifndef WIFI_SSID
#define WIFI_SSID     "my-network"
#define WIFI_PASSWORD "my-password"
#endif
#ifndef UPDRAFT_URL
#define UPDRAFT_URL "http://192.168.1.10:8080/update/stable"
#endif
#ifndef FIRMWARE_VERSION
#define FIRMWARE_VERSION "1.0.0"
#endif
#ifndef CHECK_INTERVAL_MS
#define CHECK_INTERVAL_MS (15 * 60 * 1000UL)
#endif
#ifndef UPDRAFT_STATE_SECTOR
#define UPDRAFT_STATE_SECTOR ((uint32_t)FS_end - 0x40200000u) // the EEPROM sector
#endif

Updraft ota;

void setup()
{
    Serial.begin(115200);
    Serial.printf("\nrunning %s (reset: %s)\n", FIRMWARE_VERSION, ESP.getResetReason().c_str());
    WiFi.mode(WIFI_STA);
    WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
    while (WiFi.status() != WL_CONNECTED)
        delay(200);

    ota.begin(UPDRAFT_URL, FIRMWARE_VERSION);
    ota.setStateSector(UPDRAFT_STATE_SECTOR);
    ota.setResume(true); // on by default; shown here
    ota.setReport(true);
    ota.setIntervalMs(CHECK_INTERVAL_MS, 20);
}

void loop()
{
    if (ota.due()) {
        UpdraftResult r = ota.check(); // UPDRAFT_OK reboots
        Serial.printf("updraft: result %d error %d (%s)\n", (int)r, ota.lastError(), ota.lastErrorString());
    }
    delay(10);
}
