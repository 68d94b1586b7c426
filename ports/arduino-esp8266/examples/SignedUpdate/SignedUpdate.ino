// SignedUpdate: installs only images signed with your key. Sign as the esp8266 core does
// (a private.key / public.key pair beside the sketch makes the core's build sign the
// .bin: payload || RSA signature || length), or with `updraft sign` / the server's
// --sign-key (docs/signing.md). The check reads the staged image back from flash, hashes
// it (SHA-256) and verifies the RSA-2048 PKCS#1 signature with the core's BearSSL before
// it writes the boot command; an unsigned or wrongly signed image fails with Updater
// error 12 (Signature verification failed) and the running sketch stays.
#include <ESP8266WiFi.h>
#include <Updraft.h>

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
// openssl rsa -in private.key -pubout   (the public half only: it is not a secret)
#ifndef UPDRAFT_PUBKEY_PEM
static const char pubkeyPem[] = R"KEY(-----BEGIN PUBLIC KEY-----
...your public key...
-----END PUBLIC KEY-----
)KEY";
#define UPDRAFT_PUBKEY_PEM pubkeyPem
#endif

Updraft ota;
BearSSL::PublicKey* key;

void setup()
{
    Serial.begin(115200);
    WiFi.mode(WIFI_STA);
    WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
    while (WiFi.status() != WL_CONNECTED)
        delay(200);

    ota.begin(UPDRAFT_URL, FIRMWARE_VERSION);
    key = new BearSSL::PublicKey(UPDRAFT_PUBKEY_PEM);
    if (!ota.setSigningKey(key))
        Serial.println("updraft: UPDRAFT_PUBKEY_PEM is not an RSA public key");
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
