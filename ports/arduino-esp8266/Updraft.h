// Updraft: the updraft device client (src/client + src/core, C11, no heap) in an
// Arduino-ESP8266 sketch. The engine does the update check exactly as the core's
// ESPhttpUpdate does (same request headers, same checks, same error numbers), plus what
// the library adds: resume of a cut download (Range), the outcome report to the server,
// SHA-256, signed images with the core's BearSSL.
//
//   #include <Updraft.h>
//   Updraft ota;
//   void setup() { ...WiFi...; ota.begin("http://ota.example.com:8080/update/stable", "1.0.0"); }
//   void loop()  { if (ota.due()) ota.check(); }    // OK: reboots into the new sketch
//
// The port (this class) gives the engine (updraft/port.h):
//   transport  WiFiClient, or BearSSL::WiFiClientSecure for https:// (a CA list, a SHA-1
//              fingerprint or insecure; small TLS buffers after an MFLN probe)
//   flash      ESP.flashRead / ESP.flashEraseSector / ESP.flashWrite: the calls the
//              core's Updater stages with, at the Updater's address
//   boot       eboot_command_write(): the core's eboot command, as Updater::end() does
//   state      resume record and outcome report in a flash sector of their own (survive a
//              power cut) or, without one, in RTC user memory (survive a reset)
//   crypto     MD5 from the ROM (MD5Init/Update/Final), SHA-256 and RSA from BearSSL
// docs/arduino.md explains it and what it costs in flash and RAM.
#ifndef UPDRAFT_ARDUINO_H
#define UPDRAFT_ARDUINO_H

#include <Arduino.h>
#include <WiFiClient.h>
#include <WiFiClientSecureBearSSL.h>
#include <bearssl/bearssl_hash.h>
#include <md5.h>

extern "C" {
#include "updraft/client.h"
#include "updraft/error.h"
}

// Results, numbered as ESPhttpUpdate's HTTPUpdateResult.
enum UpdraftResult {
    UPDRAFT_FAILED = 0,     // lastError(), lastErrorString()
    UPDRAFT_NO_UPDATES = 1, // the server said 304: this is the current release
    UPDRAFT_OK = 2          // staged, verified, eboot command written: reboot to apply
};

class Updraft
{
  public:
    Updraft();

    // Where to ask ("http://host[:port]/path" or "https://..."), and the running version
    // (x-ESP8266-version). Both strings must stay valid (literals, globals). false for a
    // URL that is not http(s)://host[:port][/path] or a host longer than 63 characters.
    bool begin(const char *url, const char *currentVersion);

    // ---- https (BearSSL::WiFiClientSecure) ----
    void setTrustAnchors(const BearSSL::X509List *ca); // the server's CA (or its certificate)
    void setFingerprint(const char *sha1Hex);          // SHA-1 of the server's certificate
    void setInsecure();                                // no check at all (tests only)
    // TLS buffers for a device short of RAM: probes the server for Max Fragment Length
    // `size` (512, 1024, 2048 or 4096) before each check; accepted: rx and tx buffers of
    // that size (about 2 * size + 2 KB of heap less than the default 16 KB + 512 B);
    // refused: rx stays 16 KB (the server sends full records), tx is `size`.
    void setBufferSizes(int size);
    bool lastMflnAccepted() const
    {
        return _mflnAccepted;
    }

    // ---- what the library adds to ESPhttpUpdate ----
    // A flash sector (its address, a multiple of 4096, outside the sketch, the OTA area
    // and the filesystem; e.g. the EEPROM sector when EEPROM is not used) for the resume
    // record and the outcome report, so that both survive a power cut. Without one they
    // live in RTC user memory (offsets 32..63 and 96..127 of ESP.rtcUserMemory*: leave
    // those words alone) and survive a reset, not a power cut.
    void setStateSector(uint32_t flashAddress);
    // Resume a cut download with Range (default on).
    void setResume(bool on);
    // Report the outcome of the last attempt to the server on the next check
    // (x-updraft-report; default on).
    void setReport(bool on);
    // Accept only images signed with this RSA key (the core's signing.py format:
    // payload || signature || length). The key must stay valid. false: not an RSA key.
    bool setSigningKey(const BearSSL::PublicKey *key);
    // Called with (0, total) when the body starts, after each flash write, and with
    // (total, total) at the end.
    void onProgress(void (*fn)(uint32_t done, uint32_t total));
    // Reboot at once after UPDRAFT_OK (default true; ESPhttpUpdate.rebootOnUpdate).
    void rebootOnUpdate(bool on)
    {
        _reboot = on;
    }
    // Timeouts: response headers (default 8 s) and a stalled body (default 60 s).
    void setTimeouts(uint32_t headersMs, uint32_t bodyMs);
    // HTTP Basic authorization (the device credentials of `updraft serve --device-auth`).
    void setAuthorization(const char *user, const char *password);
    // Follow 301/302/303/307 (default off, as ESPhttpUpdate).
    void followRedirects(bool on)
    {
        _cfg.follow_redirects = on ? 1 : 0;
    }

    // ---- checking ----
    // One update check now. UPDRAFT_OK reboots (rebootOnUpdate) and does not return.
    UpdraftResult check();
    // Check every `minutes` +- `jitterPercent` % (so that a fleet switched on together
    // spreads out); the first check comes after a random part of one interval.
    void setInterval(uint32_t minutes, uint8_t jitterPercent = 20);
    void setIntervalMs(uint32_t ms, uint8_t jitterPercent = 20);
    // true when the next check is due (millis() based; call from loop()).
    bool due();
    uint32_t nextCheckInMs() const;

    // ESPhttpUpdate.getLastError() numbering: HTTPClient's -1..-11, -100..-109, the
    // Updater's 1..16, the engine's own (-50..) for checks the core does not make.
    int lastError() const
    {
        return _error;
    }
    const char *lastErrorString() const
    {
        return upd_client_strerror(_error);
    }
    int lastHttpStatus() const
    {
        return _status;
    }
    // The version the server offered in the last response ("" if none).
    const char *offeredVersion() const
    {
        return upd_client_offered_version(&_ctx);
    }

    // The engine's port (for tests and for driving the engine by hand).
    const upd_port *port() const
    {
        return &_port;
    }

  private:
    static int tConnect(void *ctx, const char *host, uint16_t port, int tls, uint32_t ms);
    static int tSend(void *ctx, const void *buf, size_t len, uint32_t ms);
    static int tRecv(void *ctx, void *buf, size_t len, uint32_t ms);
    static void tClose(void *ctx);
    static int fRead(void *ctx, uint32_t addr, void *buf, uint32_t len);
    static int fErase(void *ctx, uint32_t addr);
    static int fWrite(void *ctx, uint32_t addr, const void *buf, uint32_t len);
    static uint32_t now(void *ctx);
    static void md5Init(void *ctx);
    static void md5Update(void *ctx, const void *data, size_t len);
    static void md5Final(void *ctx, uint8_t out[16]);
    static void shaInit(void *ctx);
    static void shaUpdate(void *ctx, const void *data, size_t len);
    static void shaFinal(void *ctx, uint8_t out[32]);
    static int verify(void *ctx, const uint8_t digest[32], const uint8_t *sig, size_t len);
    static int sRead(void *ctx, unsigned area, void *buf, uint32_t len);
    static int sWrite(void *ctx, unsigned area, const void *buf, uint32_t len);
    static void progress(void *arg, uint32_t done, uint32_t total);
    void schedule(bool first);

    upd_client_config _cfg;
    upd_port _port;
    upd_client_ctx _ctx;
    uint32_t _buf[2048 / 4]; // the engine's buffer: flash written in 2 KB pieces
    char _host[UPD_CLIENT_HOST_MAX + 1];
    char _md5hex[33];
    char _auth[96];
    WiFiClient _plain;
    BearSSL::WiFiClientSecure *_tls; // made at the first https check (heap: ~1 KB)
    Client *_conn;
    const BearSSL::X509List *_ca;
    const char *_fingerprint;
    const BearSSL::PublicKey *_key;
    int _tlsBuf;
    bool _mflnAccepted;
    bool _insecure;
    bool _reboot;
    uint32_t _stateSector;
    md5_context_t _md5;
    br_sha256_context _sha;
    void (*_progress)(uint32_t, uint32_t);
    uint32_t _intervalMs, _nextAt;
    uint8_t _jitter;
    bool _scheduled;
    int _error;
    int _status;
};

#endif
