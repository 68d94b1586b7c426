// StaticLayout: the classic "<base>/<MAC>.version then <base>/<MAC>.bin" sketch, with the
// library doing the download. updraft serves both (docs/protocol.md, "the static
// layout"): <MAC>.version is the version this device should run, as plain text without
// a newline; <MAC>.bin gets the same answer as /update (the release, or 304).
#include <ESP8266HTTPClient.h>
#include <ESP8266WiFi.h>
#include <Updraft.h>

#ifndef WIFI_SSID
#define WIFI_SSID     "my-network"
#define WIFI_PASSWORD "my-password"
#endif
#ifndef UPDRAFT_BASE
#define UPDRAFT_BASE "http://192.168.1.10:8080/fw/" // ends with '/'
#endif
#ifndef FIRMWARE_VERSION
#define FIRMWARE_VERSION "1.0.0"
#endif
#ifndef CHECK_INTERVAL_MS
#define CHECK_INTERVAL_MS (15 * 60 * 1000UL)
#endif

Updraft ota;
String binUrl;
unsigned long lastCheck;
bool checked;

void setup()
{
    Serial.begin(115200);
    WiFi.mode(WIFI_STA);
    WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
    while (WiFi.status() != WL_CONNECTED)
        delay(200);
    String mac = WiFi.macAddress(); // "5C:CF:7F:0A:1B:2C": the server takes it with colons
    binUrl = String(UPDRAFT_BASE) + mac + ".bin";
    ota.begin(binUrl.c_str(), FIRMWARE_VERSION); // binUrl stays: a global
}

void loop()
{
    if (checked && millis() - lastCheck < CHECK_INTERVAL_MS) {
        delay(10);
        return;
    }
    checked = true;
    lastCheck = millis();
    WiFiClient client;
    HTTPClient http;
    String url = String(UPDRAFT_BASE) + WiFi.macAddress() + ".version";
    if (!http.begin(client, url)) {
        Serial.println("updraft: bad URL " + url);
        return;
    }
    int code = http.GET();
    String version = code == 200 ? http.getString() : String();
    http.end();
    if (code != 200) {
        Serial.printf("updraft: %s: HTTP %d\n", url.c_str(), code);
        return;
    }
    if (version == FIRMWARE_VERSION) {
        Serial.println("updraft: current (" + version + ")");
        return;
    }
    Serial.println("updraft: " + version + " is offered, this is " + String(FIRMWARE_VERSION));
    UpdraftResult r = ota.check(); // UPDRAFT_OK reboots
    Serial.printf("updraft: result %d error %d (%s)\n", (int)r, ota.lastError(), ota.lastErrorString());
}
