// SecureUpdate: updates over https from an updraft server started with --tls-cert/--tls-key.
// The server is checked with its CA certificate (or, simpler and weaker, the SHA-1
// fingerprint of its certificate, which changes with every renewal), and the TLS
// buffers are made small for a device short of RAM: the library asks the server for a
// Max Fragment Length of 512 bytes first; accepted, both buffers are 512 bytes (about 26 KB
// of heap less than BearSSL's default); refused, only the send buffer is small.
#include <ESP8266WiFi.h>
#include <Updraft.h>

#ifndef WIFI_SSID
#define WIFI_SSID     "my-network"
#define WIFI_PASSWORD "my-password"
#endif
#ifndef UPDRAFT_URL
#define UPDRAFT_URL "https://ota.example.com:8443/update/stable"
#endif
#ifndef FIRMWARE_VERSION
#define FIRMWARE_VERSION "1.0.0"
#endif
#ifndef CHECK_INTERVAL_MS
#define CHECK_INTERVAL_MS (60 * 60 * 1000UL) // hourly, +- 20 %
#endif
#ifndef UPDRAFT_TLS_BUFFER
#define UPDRAFT_TLS_BUFFER 512 // 512, 1024, 2048 or 4096
#endif
// Either the CA (PEM; the server's own certificate works for a self-signed one) ...
#ifndef UPDRAFT_CA_PEM
static const char caPem[] = R"PEM(-----BEGIN CERTIFICATE-----
...your CA certificate...
-----END CERTIFICATE-----
)PEM";
#define UPDRAFT_CA_PEM caPem
#endif
// ... or the fingerprint: openssl x509 -in cert.pem -noout -fingerprint -sha1
#ifndef UPDRAFT_FINGERPRINT
#define UPDRAFT_FINGERPRINT "" // e.g. "5F:F1:60:31:09:04:3E:F2:90:D2:B0:8A:50:38:04:E8:37:9F:BC:76"
#endif

Updraft ota;
BearSSL::X509List* ca;

void setup()
{
    Serial.begin(115200);
    WiFi.mode(WIFI_STA);
    WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
    while (WiFi.status() != WL_CONNECTED)
        delay(200);
    // BearSSL checks the certificate's dates: the clock must be right (SNTP).
    configTime(0, 0, "pool.ntp.org");
    while (time(nullptr) < 1700000000)
        delay(200);

    ota.begin(UPDRAFT_URL, FIRMWARE_VERSION);
    const char* fp = UPDRAFT_FINGERPRINT;
    if (*fp) {
        ota.setFingerprint(fp);
    } else {
        ca = new BearSSL::X509List(UPDRAFT_CA_PEM);
        ota.setTrustAnchors(ca);
    }
    ota.setBufferSizes(UPDRAFT_TLS_BUFFER);
    ota.setIntervalMs(CHECK_INTERVAL_MS, 20);
}

void loop()
{
    if (ota.due()) {
        UpdraftResult r = ota.check(); // UPDRAFT_OK reboots
        Serial.printf("updraft: result %d error %d (%s), MFLN %s\n", (int)r, ota.lastError(),
                      ota.lastErrorString(), ota.lastMflnAccepted() ? "accepted" : "refused");
    }
    delay(10);
}
