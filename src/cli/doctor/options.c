/* `updraft doctor`'s command line: the options, the URL, the usage text. */
#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <strings.h>

#include "doctor.h"
#include "updraft/image.h"

const char upd__doctor_usage[] =
    "usage: updraft doctor URL [options]\n"
    "\n"
    "Asks URL for an update exactly as a device does (same request, byte for byte) and\n"
    "reports the result that device would get: its error code and text, the cause and\n"
    "the fix. Also checks the body with the image inspector, x-MD5, redirects, Range and\n"
    "HEAD support, and TLS. Works against any server.\n"
    "\n"
    "  --as esp8266|esp32|esp-idf   which client (default esp8266: ESPhttpUpdate;\n"
    "                       esp32: Arduino-ESP32 HTTPUpdate; esp-idf: esp_https_ota)\n"
    "  --mac M              STA MAC (AP MAC derived; --ap-mac to set it)\n"
    "  --version V          x-*-version the sketch passes (not sent when absent)\n"
    "  --free-space N       free space the device reports (bytes; default: its layout's)\n"
    "  --chip-size N        real flash size (default 4194304)\n"
    "  --sketch-size N      length of the running .bin (default 400000)\n"
    "  --sketch-md5 H       md5 of the running .bin (32 hex)\n"
    "  --sketch-sha256 H    ESP32: SHA-256 of the running app (64 hex)\n"
    "  --sdk-version S      x-*-sdk-version\n"
    "  --chip-id N          ESP8266 chip id (default: from the MAC)\n"
    "  --chip NAME          ESP32 family: the device's chip (esp32, esp32c3, ...)\n"
    "  --flash-mode M       the chip's flash mode: qio, qout, dio (default), dout\n"
    "  --flash-map-core     ESP8266 core >= 3.1 with flash-map support (no -107 check)\n"
    "  --mode sketch|spiffs what to update (default sketch)\n"
    "  --follow-redirects   as setFollowRedirects(HTTPC_STRICT_FOLLOW_REDIRECTS)\n"
    "  --user U --password P   HTTP basic authentication, as setAuthorization(U, P)\n"
    "  --timeout MS         wait for the response headers (default 8000, the device's)\n"
    "  --stream-timeout MS  a stalled body (default 60000, the Updater's)\n"
    "  --insecure           https: do not verify the certificate\n"
    "  --cacert FILE        https: trust these CA certificates (PEM)\n"
    "  --no-probes          skip the extra HEAD and Range requests (and, over HTTPS,\n"
    "                       the TLS record-size probes)\n"
    "  --json               one JSON object, for scripts\n"
    "\n"
    "Exit status: 0 when a real device would update (or be told \"no update\" with 304),\n"
    "1 when it would fail or install an image it cannot boot, 2 on usage errors.\n";

static int parse_num(const char *s, long long *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    long long v = strtoll(s, &end, 0);
    if (*end == 'K' || *end == 'k')
        v *= 1024, end++;
    else if (*end == 'M' || *end == 'm')
        v *= 1024 * 1024, end++;
    if (*end || v < 0 || v > 0xFFFFFFFFll)
        return -1;
    *out = v;
    return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
    int n = 0;
    for (const char *p = s; *p && n < 12;) {
        if (*p == ':' || *p == '-') {
            p++;
            continue;
        }
        if (!isxdigit((unsigned char)p[0]))
            return -1;
        int v = isdigit((unsigned char)*p) ? *p - '0' : (tolower((unsigned char)*p) - 'a' + 10);
        mac[n / 2] = (uint8_t)(n % 2 ? (mac[n / 2] | v) : v << 4);
        n++;
        p++;
        if (n == 12 && *p)
            return -1;
    }
    return n == 12 ? 0 : -1;
}

int upd__doctor_is_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* http[s]://host[:port][/path] */
int upd__doctor_parse_url(struct opts *o, char *err, size_t errlen)
{
    const char *u = o->url, *p;
    if (!strncmp(u, "http://", 7)) {
        o->tls = 0;
        p = u + 7;
    } else if (!strncmp(u, "https://", 8)) {
        o->tls = 1;
        p = u + 8;
    } else {
        say(err, errlen, "the URL must start with http:// or https:// (got '%s')", u);
        return -1;
    }
    const char *hend = p;
    if (*p == '[') {
        hend = strchr(p, ']');
        if (!hend) {
            say(err, errlen, "unterminated [IPv6 address] in '%s'", u);
            return -1;
        }
        if ((size_t)(hend - p - 1) >= sizeof o->host)
            return -1;
        memcpy(o->host, p + 1, (size_t)(hend - p - 1));
        o->host[hend - p - 1] = '\0';
        hend++;
    } else {
        while (*hend && *hend != '/' && *hend != ':' && *hend != '?')
            hend++;
        if ((size_t)(hend - p) >= sizeof o->host || hend == p) {
            say(err, errlen, "no host name in '%s'", u);
            return -1;
        }
        memcpy(o->host, p, (size_t)(hend - p));
        o->host[hend - p] = '\0';
    }
    if (strchr(o->host, '@')) {
        say(err, errlen,
            "user:password@ in the URL is not sent by the device's client: use "
            "--user and --password");
        return -1;
    }
    o->port = o->tls ? 443 : 80;
    p = hend;
    if (*p == ':') {
        long long v;
        char num[8] = {0};
        size_t k = strcspn(p + 1, "/?");
        if (k == 0 || k >= sizeof num) {
            say(err, errlen, "bad port in '%s'", u);
            return -1;
        }
        memcpy(num, p + 1, k);
        if (parse_num(num, &v) != 0 || v == 0 || v > 65535) {
            say(err, errlen, "bad port in '%s'", u);
            return -1;
        }
        o->port = (uint16_t)v;
        p += 1 + k;
    }
    if (*p == '?')
        say(o->path, sizeof o->path, "/%s", p);
    else
        say(o->path, sizeof o->path, "%s", *p ? p : "/");
    return 0;
}

enum {
    O_AS = 256,
    O_MAC,
    O_AP_MAC,
    O_VERSION,
    O_FREE,
    O_CHIPSIZE,
    O_SKSIZE,
    O_MD5,
    O_SHA,
    O_SDK,
    O_CHIPID,
    O_CHIP,
    O_FMODE,
    O_FMAP,
    O_MODE,
    O_FOLLOW,
    O_USER,
    O_PASS,
    O_TIMEOUT,
    O_STIMEOUT,
    O_INSECURE,
    O_CACERT,
    O_NOPROBES,
    O_JSON,
    O_HELP,
    O_FSSIZE,
};

static const struct option long_options[] = {
    {"as", required_argument, NULL, O_AS},
    {"mac", required_argument, NULL, O_MAC},
    {"ap-mac", required_argument, NULL, O_AP_MAC},
    {"version", required_argument, NULL, O_VERSION},
    {"free-space", required_argument, NULL, O_FREE},
    {"chip-size", required_argument, NULL, O_CHIPSIZE},
    {"sketch-size", required_argument, NULL, O_SKSIZE},
    {"fs-size", required_argument, NULL, O_FSSIZE},
    {"sketch-md5", required_argument, NULL, O_MD5},
    {"sketch-sha256", required_argument, NULL, O_SHA},
    {"sdk-version", required_argument, NULL, O_SDK},
    {"chip-id", required_argument, NULL, O_CHIPID},
    {"chip", required_argument, NULL, O_CHIP},
    {"flash-mode", required_argument, NULL, O_FMODE},
    {"flash-map-core", no_argument, NULL, O_FMAP},
    {"mode", required_argument, NULL, O_MODE},
    {"follow-redirects", no_argument, NULL, O_FOLLOW},
    {"user", required_argument, NULL, O_USER},
    {"password", required_argument, NULL, O_PASS},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"stream-timeout", required_argument, NULL, O_STIMEOUT},
    {"insecure", no_argument, NULL, O_INSECURE},
    {"cacert", required_argument, NULL, O_CACERT},
    {"no-probes", no_argument, NULL, O_NOPROBES},
    {"json", no_argument, NULL, O_JSON},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

/* The field a size option (or --chip-id) sets. */
static long long *size_option(struct opts *o, int c)
{
    switch (c) {
    case O_FREE:
        return &o->free_space;
    case O_CHIPSIZE:
        return &o->chip_size;
    case O_SKSIZE:
        return &o->sketch_size;
    case O_CHIPID:
        return &o->chip_id;
    default:
        return &o->fs_size;
    }
}

/* The words an option takes, and what each means. */
struct word {
    const char *name;
    int value; /* >= 0 */
};

static const struct word as_words[] = {
    {"esp8266", AS_ESP8266}, {"esp32", AS_ESP32}, {"esp-idf", AS_IDF}, {"idf", AS_IDF}, {NULL, 0}};
static const struct word mode_words[] = {
    {"sketch", UPD_MODE_SKETCH}, {"spiffs", UPD_MODE_FS}, {"fs", UPD_MODE_FS}, {NULL, 0}};
/* the flash mode byte of the image header */
static const struct word flash_mode_words[] = {
    {"qio", 0}, {"qout", 1}, {"dio", 2}, {"dout", 3}, {NULL, 0}};

/* The value of word a in words (compared with cmp), or -1. */
static int lookup(const struct word *words, const char *a, int (*cmp)(const char *, const char *))
{
    for (const struct word *w = words; w->name; w++)
        if (!cmp(a, w->name))
            return w->value;
    return -1;
}

/* --name with n hex digits: *out = a, or -1 with err. */
static int hex_option(const char *name, const char *a, size_t n, const char **out, char *err,
                      size_t errlen)
{
    if (!upd__doctor_is_hex(a, n)) {
        say(err, errlen, "--%s takes %zu hex digits", name, n);
        return -1;
    }
    *out = a;
    return 0;
}

/* The command line (see upd__doctor_usage). */
int upd__doctor_parse_args(int argc, char **argv, struct opts *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->free_space = o->chip_size = o->sketch_size = o->chip_id = o->fs_size = -1;
    o->chip = UPD_CHIP_UNKNOWN;
    o->flash_mode = 2;
    o->probes = 1;
    o->timeout = 8000;
    o->stream_timeout = 60000;
    optind = 1;
    int c;
    long long v;
    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        const char *a = optarg;
        switch (c) {
        case O_AS:
            if ((o->as = lookup(as_words, a, strcmp)) < 0) {
                say(err, errlen, "--as takes esp8266, esp32 or esp-idf (got '%s')", a);
                return -1;
            }
            break;
        case O_MAC:
        case O_AP_MAC:
            if (parse_mac(a, c == O_MAC ? o->mac : o->ap_mac) != 0) {
                say(err, errlen, "bad MAC '%s' (want 5C:CF:7F:0A:1B:2C)", a);
                return -1;
            }
            if (c == O_MAC)
                o->have_mac = 1;
            else
                o->have_ap_mac = 1;
            break;
        case O_VERSION:
            o->version = a;
            break;
        case O_FREE:
        case O_CHIPSIZE:
        case O_SKSIZE:
        case O_CHIPID:
        case O_FSSIZE:
        case O_TIMEOUT:
        case O_STIMEOUT:
            if (parse_num(a, &v) != 0) {
                say(err, errlen, "'%s' is not a number", a);
                return -1;
            }
            if (c == O_TIMEOUT || c == O_STIMEOUT)
                *(c == O_TIMEOUT ? &o->timeout : &o->stream_timeout) = v ? (uint32_t)v : 1;
            else
                *size_option(o, c) = v;
            break;
        case O_MD5:
            if (hex_option("sketch-md5", a, 32, &o->sketch_md5, err, errlen) != 0)
                return -1;
            break;
        case O_SHA:
            if (hex_option("sketch-sha256", a, 64, &o->sketch_sha256, err, errlen) != 0)
                return -1;
            break;
        case O_SDK:
            o->sdk = a;
            break;
        case O_CHIP:
            o->chip = (int)upd_chip_parse(a);
            if (o->chip == UPD_CHIP_UNKNOWN) {
                say(err, errlen, "unknown chip '%s' (esp32, esp32s3, esp32c3, ...)", a);
                return -1;
            }
            break;
        case O_FMODE:
            if ((o->flash_mode = lookup(flash_mode_words, a, strcasecmp)) < 0) {
                say(err, errlen, "--flash-mode takes qio, qout, dio or dout");
                return -1;
            }
            break;
        case O_FMAP:
            o->flash_map = 1;
            break;
        case O_MODE:
            if ((o->mode = lookup(mode_words, a, strcmp)) < 0) {
                say(err, errlen, "--mode takes sketch or spiffs");
                return -1;
            }
            break;
        case O_FOLLOW:
            o->follow = 1;
            break;
        case O_USER:
            o->user = a;
            break;
        case O_PASS:
            o->password = a;
            break;
        case O_INSECURE:
            o->insecure = 1;
            break;
        case O_CACERT:
            o->cacert = a;
            break;
        case O_NOPROBES:
            o->probes = 0;
            break;
        case O_JSON:
            o->json = 1;
            break;
        case O_HELP:
        case 'h':
            return 1;
        default:
            say(err, errlen, "unknown option");
            return -1;
        }
    }
    if (optind != argc - 1) {
        say(err, errlen, optind >= argc ? "name the URL to check" : "give exactly one URL");
        return -1;
    }
    o->url = argv[optind];
    if (upd__doctor_parse_url(o, err, errlen) != 0)
        return -1;
    if (strlen(o->host) > UPD_CLIENT_HOST_MAX) {
        say(err, errlen, "host name longer than %d characters: the device's client cannot use it",
            UPD_CLIENT_HOST_MAX);
        return -1;
    }
    if (!o->have_mac) {
        static const uint8_t m8266[6] = {0x5C, 0xCF, 0x7F, 0x0A, 0x1B, 0x2C};
        static const uint8_t m32[6] = {0x24, 0x6F, 0x28, 0x0A, 0x1B, 0x2C};
        memcpy(o->mac, o->as == AS_ESP8266 ? m8266 : m32, 6);
    }
    if (!o->have_ap_mac) { /* the soft-AP MAC: the STA MAC with the local bit (5C -> 5E) */
        memcpy(o->ap_mac, o->mac, 6);
        o->ap_mac[0] |= 0x02;
        if (o->ap_mac[0] == o->mac[0])
            o->ap_mac[5]++;
    }
    if ((o->user != NULL) != (o->password != NULL)) {
        say(err, errlen, "give --user and --password together");
        return -1;
    }
    return 0;
}
