// versioncheck: the esp8266/Arduino core's ESPhttpUpdate.getAvailableVersion() (a request
// with x-ESP8266-mode: version) once, on the core's host emulation, with the identity
// variables of ../shared/realclient (UPD_MAC, UPD_FREE_SPACE, ...). Built next to
// realclient by tests/realclient/build-realclient.sh; run through run-esp8266-update.sh
// with REALCLIENT_BIN=<build>/bin/versioncheck.
//
// env: UPD_URL (http://host:port/path), UPD_VERSION (current version, may be empty),
//      UPD_AUTH_USER/UPD_AUTH_PASS (setAuthorization)
// output (stdout):
//   RESULT <HTTPUpdateResult> ERR <getLastError()> <getLastErrorString()>
//   AVAILABLE <the x-version the server announced>               (only with RESULT 2)

#include <ESP8266WiFi.h>
#include <ESP8266httpUpdate.h>
#include <stdlib.h>
#include <unistd.h>

static void out_line(const String& s)
{
    fflush(stdout);
    String  l = s + "\n";
    ssize_t w = write(1, l.c_str(), l.length());
    (void)w;
}

void setup()
{
    const char* u       = getenv("UPD_URL");
    const char* v       = getenv("UPD_VERSION");
    String      url     = u ? u : "";
    String      version = v ? v : "";
    if (!url.startsWith("http://"))
    {
        out_line("RESULT 0 ERR -1 UPD_URL must be http://host:port/path");
        exit(2);
    }
    String   rest     = url.substring(7);
    int      slash    = rest.indexOf('/');
    String   hostport = slash < 0 ? rest : rest.substring(0, slash);
    String   uri      = slash < 0 ? String("/") : rest.substring(slash);
    int      colon    = hostport.indexOf(':');
    String   host     = colon < 0 ? hostport : hostport.substring(0, colon);
    uint16_t port     = colon < 0 ? 80 : (uint16_t)hostport.substring(colon + 1).toInt();

    if (getenv("UPD_AUTH_USER") && getenv("UPD_AUTH_PASS"))
        ESPhttpUpdate.setAuthorization(getenv("UPD_AUTH_USER"), getenv("UPD_AUTH_PASS"));
    WiFiClient       client;
    String           available;
    HTTPUpdateResult ret = ESPhttpUpdate.getAvailableVersion(client, host, port, uri, version, available);
    out_line(String("RESULT ") + String((int)ret) + " ERR " + String(ESPhttpUpdate.getLastError()) + " "
             + ESPhttpUpdate.getLastErrorString());
    if (ret == HTTP_UPDATE_OK)
        out_line(String("AVAILABLE ") + available);
    exit(ret == HTTP_UPDATE_FAILED ? 1 : 0);
}

void loop() { }
