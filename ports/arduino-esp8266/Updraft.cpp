// The Arduino-ESP8266 port of the updraft device client (Updraft.h). Everything the
// engine needs comes from the core: the same flash calls and eboot command as the core's
// Updater, WiFiClient / BearSSL::WiFiClientSecure, the ROM's MD5, BearSSL's SHA-256 and
// RSA. No heap use of its own, except the BearSSL::WiFiClientSecure object (and its TLS
// buffers) made at the first https check.
#include "Updraft.h"

#include <ESP8266WiFi.h>
#include <eboot_command.h>
#include <flash_hal.h>
#include <string.h>

// RTC user memory (ESP.rtcUserMemory*, 4-byte words from 0x60001100) when no state
// sector is given: the resume record in words 96..127 (RTC blocks 160..191, as the
// NONOS port), the outcome report in words 40..63. Words 64..95 (0x60001200) hold the
// eboot command.
#define RTC_RESUME_WORD 96u
#define RTC_REPORT_WORD 40u
// The state sector: [0, 128) the resume record, [128, 224) the outcome report.
#define SECTOR_REPORT_OFF UPD_STATE_RESUME_SIZE
#define SECTOR_USED       (UPD_STATE_RESUME_SIZE + UPD_STATE_REPORT_SIZE)

Updraft::Updraft()
    : _tls(nullptr), _conn(nullptr), _ca(nullptr), _fingerprint(nullptr), _key(nullptr), _tlsBuf(0),
      _mflnAccepted(false), _insecure(false), _reboot(true), _stateSector(0), _progress(nullptr),
      _intervalMs(0), _nextAt(0), _jitter(0), _scheduled(false), _error(0), _status(0)
{
    memset(&_cfg, 0, sizeof _cfg);
    memset(&_port, 0, sizeof _port);
    memset(&_ctx, 0, sizeof _ctx);
    _host[0] = _md5hex[0] = _auth[0] = 0;
    _cfg.flavor = UPD_CLIENT_ESP8266_ARDUINO;
    _cfg.mode = UPD_MODE_SKETCH;
    _cfg.features = UPD_CLIENT_F_ALL | UPD_CLIENT_F_REPORT;
    _port.transport = {tConnect, tSend, tRecv, tClose, this};
    _port.flash.read = fRead;
    _port.flash.erase = fErase;
    _port.flash.write = fWrite;
    _port.flash.ctx = this;
    _port.clock = {now, this};
    _port.crypto.md5 = {md5Init, md5Update, md5Final, this};
    _port.crypto.sha256.init = shaInit;
    _port.crypto.sha256.update = shaUpdate;
    _port.crypto.sha256.final = shaFinal;
    _port.crypto.sha256.ctx = this;
    _port.state.read = sRead;
    _port.state.write = sWrite;
    _port.state.ctx = this;
}

bool Updraft::begin(const char *url, const char *currentVersion)
{
    uint8_t tls;
    if (!url)
        return false;
    if (!strncmp(url, "http://", 7)) {
        tls = 0;
        url += 7;
    } else if (!strncmp(url, "https://", 8)) {
        tls = 1;
        url += 8;
    } else {
        return false;
    }
    const char *path = strchr(url, '/');
    size_t hostport = path ? (size_t)(path - url) : strlen(url);
    const char *colon = (const char *)memchr(url, ':', hostport);
    size_t hostlen = colon ? (size_t)(colon - url) : hostport;
    if (hostlen == 0 || hostlen > UPD_CLIENT_HOST_MAX)
        return false;
    uint32_t port = tls ? 443 : 80;
    if (colon) {
        port = 0;
        const char *p = colon + 1;
        if (p == url + hostport)
            return false;
        for (; p < url + hostport; p++) {
            if (*p < '0' || *p > '9' || (port = port * 10 + (uint32_t)(*p - '0')) > 65535)
                return false;
        }
        if (!port)
            return false;
    }
    memcpy(_host, url, hostlen);
    _host[hostlen] = 0;
    _cfg.host = _host;
    _cfg.port = (uint16_t)port;
    _cfg.tls = tls;
    _cfg.path = path ? path : "/";
    _cfg.version = currentVersion;
    return true;
}

void Updraft::setTrustAnchors(const BearSSL::X509List *ca)
{
    _ca = ca;
    _fingerprint = nullptr;
    _insecure = false;
}

void Updraft::setFingerprint(const char *sha1Hex)
{
    _fingerprint = sha1Hex;
    _ca = nullptr;
    _insecure = false;
}

void Updraft::setInsecure()
{
    _insecure = true;
    _ca = nullptr;
    _fingerprint = nullptr;
}

void Updraft::setBufferSizes(int size)
{
    _tlsBuf = size;
}

void Updraft::setStateSector(uint32_t flashAddress)
{
    _stateSector = flashAddress;
}

void Updraft::setResume(bool on)
{
    _cfg.features = on ? _cfg.features | UPD_CLIENT_F_RESUME : _cfg.features & ~UPD_CLIENT_F_RESUME;
}

void Updraft::setReport(bool on)
{
    _cfg.features = on ? _cfg.features | UPD_CLIENT_F_REPORT : _cfg.features & ~UPD_CLIENT_F_REPORT;
}

bool Updraft::setSigningKey(const BearSSL::PublicKey *key)
{
    if (key && !key->isRSA())
        return false;
    _key = key;
    _port.crypto.verify = key ? verify : nullptr;
    _port.crypto.verify_ctx = this;
    _port.crypto.verify_sig_len = 0;
    if (key) {
        // the modulus length in bytes, leading zero bytes not counted
        const br_rsa_public_key *k = key->getRSA();
        size_t n = k->nlen;
        const unsigned char *m = k->n;
        while (n && !*m) {
            m++;
            n--;
        }
        _port.crypto.verify_sig_len = (uint32_t)n;
    }
    return true;
}

void Updraft::onProgress(void (*fn)(uint32_t done, uint32_t total))
{
    _progress = fn;
    _cfg.progress = fn ? progress : nullptr;
    _cfg.progress_arg = this;
}

void Updraft::setTimeouts(uint32_t headersMs, uint32_t bodyMs)
{
    _cfg.timeout_ms = headersMs;
    _cfg.stream_timeout_ms = bodyMs;
}

void Updraft::setAuthorization(const char *user, const char *password)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char plain[70];
    size_t ul = user ? strlen(user) : 0, pl = password ? strlen(password) : 0;
    _auth[0] = 0;
    _cfg.auth = nullptr;
    if (!user || ul + 1 + pl > sizeof plain)
        return; // too long for the request buffer: not sent
    memcpy(plain, user, ul);
    plain[ul] = ':';
    memcpy(plain + ul + 1, password, pl);
    size_t n = ul + 1 + pl, o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(uint8_t)plain[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(uint8_t)plain[i + 1] << 8;
        if (i + 2 < n)
            v |= (uint8_t)plain[i + 2];
        _auth[o++] = b64[(v >> 18) & 63];
        _auth[o++] = b64[(v >> 12) & 63];
        _auth[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        _auth[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    _auth[o] = 0;
    _cfg.auth = _auth;
}

// ---- checking ------------------------------------------------------------------------------

UpdraftResult Updraft::check()
{
    _error = 0;
    _status = 0;
    if (!_cfg.host) {
        _error = UPD_EINVAL;
        return UPDRAFT_FAILED;
    }
    // The device facts, read now as ESPhttpUpdate reads them for each request.
    String md5 = ESP.getSketchMD5();
    strncpy(_md5hex, md5.c_str(), sizeof _md5hex - 1);
    _md5hex[sizeof _md5hex - 1] = 0;
    _cfg.sketch_md5 = _md5hex;
    _cfg.sdk_version = ESP.getSdkVersion();
    _cfg.chip_id = ESP.getChipId();
    WiFi.macAddress(_cfg.sta_mac);
    WiFi.softAPmacAddress(_cfg.ap_mac);
#if defined(FLASH_MAP_SUPPORT) && FLASH_MAP_SUPPORT
    _cfg.flash_map_core = 1;
#endif
    upd_flash_layout &l = _port.flash.layout;
    l.chip_size = ESP.getFlashChipRealSize();
    l.sketch_size = ESP.getSketchSize();
    l.fs_start = (uint32_t)FS_start - 0x40200000u;
    l.fs_end = (uint32_t)FS_end - 0x40200000u;
    l.flash_mode = (uint8_t)ESP.getFlashChipMode();

    int e = upd_client_init(&_ctx, &_cfg, &_port, _buf, sizeof _buf);
    if (e != 0) {
        _error = e;
        return UPDRAFT_FAILED;
    }
    upd_client_result r = upd_client_run(&_ctx);
    _error = upd_client_error(&_ctx);
    _status = upd_client_status(&_ctx);
    if (_intervalMs)
        schedule(false);
    if (r == UPD_CLIENT_OK && _reboot) {
        delay(100);
        ESP.restart();
    }
    return (UpdraftResult)r;
}

void Updraft::setInterval(uint32_t minutes, uint8_t jitterPercent)
{
    setIntervalMs(minutes * 60000u, jitterPercent);
}

void Updraft::setIntervalMs(uint32_t ms, uint8_t jitterPercent)
{
    _intervalMs = ms;
    _jitter = jitterPercent > 100 ? 100 : jitterPercent;
    schedule(true);
}

// The next check: interval +- jitter % (uniform), the first one after a random part of
// an interval. random() is the core's, seeded from the hardware RNG (RANDOM_REG32).
void Updraft::schedule(bool first)
{
    uint32_t wait;
    if (first) {
        wait = (uint32_t)random(0, (long)(_intervalMs / 1000u) + 1) * 1000u;
    } else {
        uint32_t spread = (uint32_t)((uint64_t)_intervalMs * _jitter / 100u);
        uint32_t low = _intervalMs - spread;
        wait =
            low +
            (uint32_t)(((uint64_t)(uint32_t)random(0, 0x7FFFFFFF) * (2u * (uint64_t)spread + 1u)) >>
                       31);
    }
    _nextAt = millis() + wait;
    _scheduled = true;
}

bool Updraft::due()
{
    if (!_scheduled)
        return true;
    return (int32_t)(millis() - _nextAt) >= 0;
}

uint32_t Updraft::nextCheckInMs() const
{
    int32_t d = (int32_t)(_nextAt - millis());
    return !_scheduled || d < 0 ? 0 : (uint32_t)d;
}

void Updraft::progress(void *arg, uint32_t done, uint32_t total)
{
    Updraft *u = (Updraft *)arg;
    if (u->_progress)
        u->_progress(done, total);
}

// ---- transport -------------------------------------------------------------------------------

int Updraft::tConnect(void *ctx, const char *host, uint16_t port, int tls, uint32_t ms)
{
    Updraft *u = (Updraft *)ctx;
    if (!tls) {
        u->_plain.setTimeout(ms);
        u->_conn = &u->_plain;
        return u->_plain.connect(host, port) ? 0 : UPD_PORT_ECONNECT;
    }
    if (!u->_tls)
        u->_tls = new BearSSL::WiFiClientSecure();
    BearSSL::WiFiClientSecure *s = u->_tls;
    if (u->_ca)
        s->setTrustAnchors(u->_ca);
    else if (u->_fingerprint)
        s->setFingerprint(u->_fingerprint);
    else if (u->_insecure)
        s->setInsecure();
    else
        return UPD_PORT_ECONNECT; // https without a way to check the server: refused
    if (u->_tlsBuf) {
        u->_mflnAccepted =
            BearSSL::WiFiClientSecure::probeMaxFragmentLength(host, port, (uint16_t)u->_tlsBuf);
        s->setBufferSizes(u->_mflnAccepted ? u->_tlsBuf : 16384 + 325, u->_tlsBuf);
    }
    s->setTimeout(ms);
    u->_conn = s;
    return s->connect(host, port) ? 0 : UPD_PORT_ECONNECT;
}

int Updraft::tSend(void *ctx, const void *buf, size_t len, uint32_t ms)
{
    (void)ms;
    Updraft *u = (Updraft *)ctx;
    size_t n = u->_conn ? u->_conn->write((const uint8_t *)buf, len) : 0;
    return n ? (int)n : UPD_PORT_ESEND;
}

// What arrived, waiting up to ms (delay() lets the SDK run); 0 once the peer closed and
// everything was read. WiFiClient cannot tell a reset from a close: both read as 0, which
// the engine takes as the device does (in the body: Updater error 6).
int Updraft::tRecv(void *ctx, void *buf, size_t len, uint32_t ms)
{
    Updraft *u = (Updraft *)ctx;
    Client *c = u->_conn;
    if (!c)
        return UPD_PORT_ELOST;
    uint32_t t0 = millis();
    for (;;) {
        int avail = c->available();
        if (avail > 0) {
            int k = c->read((uint8_t *)buf, (size_t)avail < len ? (size_t)avail : len);
            return k > 0 ? k : UPD_PORT_ELOST;
        }
        if (!c->connected())
            return 0;
        if (millis() - t0 >= ms)
            return UPD_PORT_ETIMEOUT;
        delay(1);
    }
}

void Updraft::tClose(void *ctx)
{
    Updraft *u = (Updraft *)ctx;
    if (u->_conn)
        u->_conn->stop();
    u->_conn = nullptr;
}

// ---- flash: the Updater's calls -----------------------------------------------------------

int Updraft::fRead(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    (void)ctx;
    return ESP.flashRead(addr, (uint8_t *)buf, len) ? 0 : -1; // any alignment (core >= 3.0)
}

int Updraft::fErase(void *ctx, uint32_t addr)
{
    (void)ctx;
    return ESP.flashEraseSector(addr / FLASH_SECTOR_SIZE) ? 0 : -1;
}

int Updraft::fWrite(void *ctx, uint32_t addr, const void *buf, uint32_t len)
{
    (void)ctx;
    return ESP.flashWrite(addr, (const uint32_t *)buf, len) ? 0 : -1; // aligned (port.h)
}

uint32_t Updraft::now(void *ctx)
{
    (void)ctx;
    return millis();
}

// ---- crypto ------------------------------------------------------------------------------------

void Updraft::md5Init(void *ctx)
{
    MD5Init(&((Updraft *)ctx)->_md5);
}

void Updraft::md5Update(void *ctx, const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *)data;
    while (len) { // the ROM takes at most 65535 bytes at a time
        uint16_t n = len > 0x8000u ? 0x8000u : (uint16_t)len;
        MD5Update(&((Updraft *)ctx)->_md5, p, n);
        p += n;
        len -= n;
    }
}

void Updraft::md5Final(void *ctx, uint8_t out[16])
{
    MD5Final(out, &((Updraft *)ctx)->_md5);
}

void Updraft::shaInit(void *ctx)
{
    br_sha256_init(&((Updraft *)ctx)->_sha);
}

void Updraft::shaUpdate(void *ctx, const void *data, size_t len)
{
    br_sha256_update(&((Updraft *)ctx)->_sha, data, len);
}

void Updraft::shaFinal(void *ctx, uint8_t out[32])
{
    br_sha256_out(&((Updraft *)ctx)->_sha, out);
}

// RSA PKCS#1 v1.5 over the SHA-256 digest, as the core's BearSSL::SigningVerifier checks
// its signed images.
int Updraft::verify(void *ctx, const uint8_t digest[32], const uint8_t *sig, size_t len)
{
    Updraft *u = (Updraft *)ctx;
    if (!u->_key || !u->_key->isRSA())
        return -1;
    uint8_t out[32];
    br_rsa_pkcs1_vrfy vrfy = br_rsa_pkcs1_vrfy_get_default();
    if (!vrfy(sig, len, BR_HASH_OID_SHA256, sizeof out, u->_key->getRSA(), out))
        return -1;
    return memcmp(out, digest, sizeof out) == 0 ? 0 : -1;
}

// ---- state --------------------------------------------------------------------------------------

static int rtcRead(uint32_t word, void *buf, uint32_t len)
{
    uint32_t w[UPD_STATE_RESUME_SIZE / 4];
    if (len > sizeof w || !ESP.rtcUserMemoryRead(word, w, (len + 3u) & ~3u))
        return -1;
    memcpy(buf, w, len);
    return 0;
}

static int rtcWrite(uint32_t word, const void *buf, uint32_t len)
{
    uint32_t w[UPD_STATE_RESUME_SIZE / 4];
    if (len > sizeof w)
        return -1;
    memset(w, 0, sizeof w);
    memcpy(w, buf, len);
    return ESP.rtcUserMemoryWrite(word, w, (len + 3u) & ~3u) ? 0 : -1;
}

int Updraft::sRead(void *ctx, unsigned area, void *buf, uint32_t len)
{
    Updraft *u = (Updraft *)ctx;
    if (area == UPD_STATE_RESUME && len <= UPD_STATE_RESUME_SIZE)
        return u->_stateSector ? fRead(u, u->_stateSector, buf, len)
                               : rtcRead(RTC_RESUME_WORD, buf, len);
    if (area == UPD_STATE_REPORT && len <= UPD_STATE_REPORT_SIZE)
        return u->_stateSector ? fRead(u, u->_stateSector + SECTOR_REPORT_OFF, buf, len)
                               : rtcRead(RTC_REPORT_WORD, buf, len);
    return -1; // the boot command is only written (eboot reads and clears it)
}

// A record in the state sector: read both records, replace one, erase, write both (one
// write). A power cut between the erase and the write loses both: the download starts
// over and nothing is reported, which is safe.
static int sectorWrite(uint32_t sector, uint32_t off, uint32_t cap, const void *buf, uint32_t len)
{
    uint32_t w[SECTOR_USED / 4];
    if (!ESP.flashRead(sector, w, sizeof w))
        return -1;
    memset((uint8_t *)w + off, 0xFF, cap);
    memcpy((uint8_t *)w + off, buf, len);
    if (!ESP.flashEraseSector(sector / FLASH_SECTOR_SIZE))
        return -1;
    return ESP.flashWrite(sector, w, sizeof w) ? 0 : -1;
}

int Updraft::sWrite(void *ctx, unsigned area, const void *buf, uint32_t len)
{
    Updraft *u = (Updraft *)ctx;
    if (area == UPD_STATE_BOOT && len <= UPD_STATE_BOOT_SIZE) {
        // The engine's 128 bytes are the core's struct eboot_command (magic, action,
        // args, CRC-32); eboot_command_write() puts it where eboot reads it, as
        // Updater::end() does.
        struct eboot_command cmd;
        static_assert(sizeof cmd == UPD_STATE_BOOT_SIZE, "eboot command is 128 bytes");
        memset(&cmd, 0, sizeof cmd);
        memcpy(&cmd, buf, len);
        if ((cmd.magic & EBOOT_MAGIC_MASK) != EBOOT_MAGIC) {
            eboot_command_clear(); // not a command: none (eboot_command_write would make it one)
            return 0;
        }
        eboot_command_write(&cmd);
        return 0;
    }
    if (area == UPD_STATE_RESUME && len <= UPD_STATE_RESUME_SIZE)
        return u->_stateSector ? sectorWrite(u->_stateSector, 0, UPD_STATE_RESUME_SIZE, buf, len)
                               : rtcWrite(RTC_RESUME_WORD, buf, len);
    if (area == UPD_STATE_REPORT && len <= UPD_STATE_REPORT_SIZE)
        return u->_stateSector ? sectorWrite(u->_stateSector, SECTOR_REPORT_OFF,
                                             UPD_STATE_REPORT_SIZE, buf, len)
                               : rtcWrite(RTC_REPORT_WORD, buf, len);
    return -1;
}
