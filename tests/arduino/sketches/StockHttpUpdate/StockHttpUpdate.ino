// The sketch of docs/arduino.md, "Stock ESPhttpUpdate": the core's own client against
// updraft's /update, nothing of updraft on the device. The settings are macros so that
// the test build (tests/arduino) runs the same code against a server on any port; the
// line that prints the result is the test's.
#include <ESP8266WiFi.h>
#include <ESP8266httpUpdate.h>
#ifndef UPDRAFT_URL
#define UPDRAFT_URL      "http://192.168.1.10:8080/update/stable"
#define FIRMWARE_VERSION "1.0.0"
#define WIFI_SSID        "my-network"
#define WIFI_PASSWORD    "my-password"
#endif

void setup() {
  Serial.begin(115200);
  WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
  while (WiFi.status() != WL_CONNECTED) delay(200);
}

void loop() {
  WiFiClient client;  // reboots into the new sketch when there is one
  t_httpUpdate_return r = ESPhttpUpdate.update(client, UPDRAFT_URL, FIRMWARE_VERSION);
  Serial.printf("result %d %d\n", (int)r, ESPhttpUpdate.getLastError());
  delay(15 * 60 * 1000);
}
