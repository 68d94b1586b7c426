/* The target filter (src/server/filter.c) and tag lists (src/server/tags.c): parsing,
 * the errors on bad input, matching device rows, the canonical form. */
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "tags.h"
#include "upd_test.h"
#include "updraft/image.h"

#define NOW  (1800000000000LL)
#define HOUR (3600000LL)

static upd_filter F; /* 10 KB: kept off the stack */

static upd_device_row dev(const char *mac, const char *family, const char *version,
                          int64_t seen_ago_ms)
{
    upd_device_row d;
    memset(&d, 0, sizeof d);
    strcpy(d.mac, mac);
    strcpy(d.family, family);
    strcpy(d.version, version);
    d.last_seen_ms = seen_ago_ms < 0 ? 0 : NOW - seen_ago_ms;
    return d;
}

static int chip_of(void *ctx, const upd_device_row *d)
{
    (void)ctx;
    return !strcmp(d->mac, "24:0A:C4:00:00:01") ? UPD_CHIP_ESP32C3 : UPD_CHIP_UNKNOWN;
}

static const upd_filter_env ENV = {NOW, chip_of, NULL};

/* parse text, expect success, match d */
static int m(const char *text, const upd_device_row *d)
{
    char err[512] = "";
    if (upd__filter_parse(text, &F, err, sizeof err) != 0) {
        printf("  parse of '%s' failed: %s\n", text, err);
        return -1;
    }
    return upd__filter_match(&F, d, &ENV);
}

/* parse text, expect failure; the message in err */
static int refuse(const char *text, char *err, size_t cap)
{
    err[0] = '\0';
    int rc = upd__filter_parse(text, &F, err, cap);
    if (rc == 0)
        printf("  '%s' parsed, expected an error\n", text);
    return rc != 0;
}

static void test_empty_matches_all(void)
{
    upd_device_row d = dev("5C:CF:7F:00:00:01", "esp8266", "1.0.0", HOUR);
    CHECK_INT(m(NULL, &d), ==, 1);
    CHECK_INT(m("", &d), ==, 1);
    CHECK_INT(m("   \t ", &d), ==, 1);
    CHECK_INT(F.nterms, ==, 0);
}

static void test_platform_and_or(void)
{
    upd_device_row a = dev("5C:CF:7F:00:00:01", "esp8266", "1.0.0", HOUR);
    upd_device_row b = dev("24:0A:C4:00:00:01", "esp32", "1.0.0", HOUR);
    upd_device_row u = dev("24:0A:C4:00:00:09", "", "", HOUR);
    CHECK_INT(m("platform=esp8266", &a), ==, 1);
    CHECK_INT(m("platform=esp8266", &b), ==, 0);
    CHECK_INT(m("platform=esp8266,esp32", &b), ==, 1);
    CHECK_INT(m("platform!=esp8266", &b), ==, 1);
    CHECK_INT(m("platform!=esp8266", &a), ==, 0);
    CHECK_INT(m("platform=ESP32", &b), ==, 1); /* case folded */
    /* a device that never said its platform matches neither = nor != */
    CHECK_INT(m("platform=esp8266", &u), ==, 0);
    CHECK_INT(m("platform!=esp8266", &u), ==, 0);
    /* AND of terms */
    CHECK_INT(m("platform=esp8266 version=1.0.0", &a), ==, 1);
    CHECK_INT(m("platform=esp8266 version=2.0.0", &a), ==, 0);
}

static void test_version_order(void)
{
    upd_device_row d = dev("5C:CF:7F:00:00:01", "esp8266", "v1.10.0", HOUR);
    upd_device_row none = dev("5C:CF:7F:00:00:02", "esp8266", "", HOUR);
    CHECK_INT(m("version<2.0.0", &d), ==, 1);
    CHECK_INT(m("version<1.9", &d), ==, 0); /* 1.10 > 1.9: numeric, not by bytes */
    CHECK_INT(m("version>1.9", &d), ==, 1);
    CHECK_INT(m("version>=1.10", &d), ==, 1);
    CHECK_INT(m("version<=1.10.0", &d), ==, 1);
    CHECK_INT(m("version=1.10.0", &d), ==, 1); /* "v1.10.0" is the same version */
    CHECK_INT(m("version==1.10.0", &d), ==, 1);
    CHECK_INT(m("version!=1.10.0,2.0", &d), ==, 0);
    CHECK_INT(m("version!=2.0", &d), ==, 1);
    CHECK_INT(m("version=0.9,1.10", &d), ==, 1);
    CHECK_INT(m("version<2.0.0", &none), ==, 0);
    CHECK_INT(m("version!=2.0.0", &none), ==, 0);
}

static void test_seen(void)
{
    upd_device_row recent = dev("5C:CF:7F:00:00:01", "esp8266", "1", 2 * HOUR);
    upd_device_row old = dev("5C:CF:7F:00:00:02", "esp8266", "1", 8 * 24 * HOUR);
    upd_device_row never = dev("5C:CF:7F:00:00:03", "esp8266", "1", -1);
    CHECK_INT(m("seen<24h", &recent), ==, 1);
    CHECK_INT(m("seen<24h", &old), ==, 0);
    CHECK_INT(m("seen>7d", &old), ==, 1);
    CHECK_INT(m("seen>7d", &recent), ==, 0);
    CHECK_INT(m("seen<1w", &old), ==, 0);
    CHECK_INT(m("seen<90m", &recent), ==, 0);
    CHECK_INT(m("seen<7201s", &recent), ==, 1);
    CHECK_INT(m("seen>7d", &never), ==, 1); /* never seen: not seen for any age */
    CHECK_INT(m("seen<24h", &never), ==, 0);
}

static void test_channel_effective(void)
{
    upd_device_row d = dev("5C:CF:7F:00:00:01", "esp8266", "1", HOUR);
    CHECK_STR(upd__device_channel(&d), "stable");
    CHECK_INT(m("channel=stable", &d), ==, 1);
    strcpy(d.channel, "beta");
    CHECK_STR(upd__device_channel(&d), "beta");
    CHECK_INT(m("channel=stable", &d), ==, 0);
    CHECK_INT(m("channel=beta,stable", &d), ==, 1);
    strcpy(d.url_channel, "lab");
    /* the URL's channel wins over the assigned one, as the policy decides */
    CHECK_STR(upd__device_channel(&d), "lab");
    CHECK_INT(m("channel=beta", &d), ==, 0);
    CHECK_INT(m("channel=lab", &d), ==, 1);
    CHECK_INT(m("channel!=beta", &d), ==, 1);
}

static void test_tags(void)
{
    upd_device_row d = dev("5C:CF:7F:00:00:01", "esp8266", "1", HOUR);
    CHECK_INT(m("tag=lab", &d), ==, 0);
    CHECK_INT(m("tag!=lab", &d), ==, 1);
    strcpy(d.tags, "kitchen,lab");
    CHECK_INT(m("tag=lab", &d), ==, 1);
    CHECK_INT(m("tag=la", &d), ==, 0); /* whole tags, not prefixes */
    CHECK_INT(m("tag=kitchen,attic", &d), ==, 1);
    CHECK_INT(m("tag=attic,cellar", &d), ==, 0);
    CHECK_INT(m("tag!=attic,kitchen", &d), ==, 0);
    CHECK_INT(m("tags=lab", &d), ==, 1); /* the plural is taken too */
    CHECK_INT(m("tag=lab tag=kitchen", &d), ==, 1);
    CHECK_INT(m("tag=lab tag=attic", &d), ==, 0);
}

static void test_mac_pinned_attention_tool(void)
{
    upd_device_row d = dev("5C:CF:7F:0A:1B:2C", "esp8266", "1", HOUR);
    CHECK_INT(m("mac=5ccf7f0a1b2c", &d), ==, 1);
    CHECK_INT(m("mac=5C-CF-7F-0A-1B-2D,5c:cf:7f:0a:1b:2c", &d), ==, 1);
    CHECK_INT(m("mac!=5C:CF:7F:0A:1B:2C", &d), ==, 0);
    CHECK_INT(m("pinned=no", &d), ==, 1);
    CHECK_INT(m("pinned=yes", &d), ==, 0);
    d.pin_release = 4;
    CHECK_INT(m("pinned=yes", &d), ==, 1);
    CHECK_INT(m("pinned=4", &d), ==, 1);
    CHECK_INT(m("pinned=5", &d), ==, 0);
    CHECK_INT(m("pinned!=4", &d), ==, 0);
    CHECK_INT(m("attention=no", &d), ==, 1);
    d.hold_release = 3;
    d.hold_failures = 2;
    d.hold_until_ms = NOW + HOUR; /* still retried later: not yet attention */
    CHECK_INT(m("attention=yes", &d), ==, 0);
    d.hold_until_ms = 0;
    CHECK_INT(m("attention=yes", &d), ==, 1);
    CHECK_INT(m("tool=none", &d), ==, 1);
    CHECK_INT(m("tool=sim", &d), ==, 0);
    strcpy(d.tool, "sim");
    CHECK_INT(m("tool=sim,doctor", &d), ==, 1);
    CHECK_INT(m("tool!=none", &d), ==, 1);
}

static void test_chip(void)
{
    upd_device_row e8 = dev("5C:CF:7F:00:00:01", "esp8266", "1", HOUR);
    upd_device_row c3 = dev("24:0A:C4:00:00:01", "esp32", "1", HOUR);
    upd_device_row unknown = dev("24:0A:C4:00:00:02", "esp32", "1", HOUR);
    CHECK_INT(m("chip=esp8266", &e8), ==, 1);
    CHECK_INT(m("chip=esp32c3", &c3), ==, 1);
    CHECK_INT(m("chip=ESP32-C3", &c3), ==, 1);
    CHECK_INT(m("chip=esp32s3", &c3), ==, 0);
    CHECK_INT(m("chip!=esp32s3", &c3), ==, 1);
    CHECK_INT(F.has_chip, ==, 1);
    /* an unknown chip matches no chip term */
    CHECK_INT(m("chip=esp32c3", &unknown), ==, 0);
    CHECK_INT(m("chip!=esp32c3", &unknown), ==, 0);
    /* without a chip callback ESP32 chips are unknown */
    char err[256];
    CHECK_INT(upd__filter_parse("chip=esp32c3", &F, err, sizeof err), ==, 0);
    CHECK_INT(upd__filter_match(&F, &c3, NULL), ==, 0);
}

static void test_errors(void)
{
    char err[512];
    CHECK(refuse("verison<2.0", err, sizeof err));
    CHECK_CONTAINS(err, "filter term 'verison<2.0'");
    CHECK_CONTAINS(err, "unknown key 'verison'");
    CHECK_CONTAINS(err, "did you mean version?");
    CHECK_CONTAINS(err, "keys are platform, chip, channel, tag");

    CHECK(refuse("platform=esp8266 esp32", err, sizeof err));
    CHECK_CONTAINS(err, "filter term 'esp32': not KEY=VALUE");

    CHECK(refuse("platform=esp8285", err, sizeof err));
    CHECK_CONTAINS(err,
                   "'esp8285' is not a platform: platform takes = or != with esp8266 or esp32");

    CHECK(refuse("tag<lab", err, sizeof err));
    CHECK_CONTAINS(err, "tag cannot be compared with <");

    CHECK(refuse("seen=24h", err, sizeof err));
    CHECK_CONTAINS(err, "seen cannot be compared with =");
    CHECK(refuse("seen<24", err, sizeof err));
    CHECK_CONTAINS(err, "'24' is not an age");
    CHECK(refuse("seen<1y", err, sizeof err));
    CHECK_CONTAINS(err, "a number and s, m, h, d or w");

    CHECK(refuse("version<1.0,2.0", err, sizeof err));
    CHECK_CONTAINS(err, "< compares with one value");

    CHECK(refuse("tag=", err, sizeof err));
    CHECK_CONTAINS(err, "a value is missing");
    CHECK(refuse("tag=lab,,kitchen", err, sizeof err));
    CHECK_CONTAINS(err, "a value is missing");
    CHECK(refuse("tag=Lab", err, sizeof err));
    CHECK_CONTAINS(err, "capital letters");
    CHECK(refuse("tag=a_very_long_tag_name_beyond_24", err, sizeof err));
    CHECK_CONTAINS(err, "longer than 24");

    CHECK(refuse("mac=5C:CF:7F:0A:1B", err, sizeof err));
    CHECK_CONTAINS(err, "'5C:CF:7F:0A:1B' is not a MAC address");
    CHECK(refuse("chip=esp99", err, sizeof err));
    CHECK_CONTAINS(err, "'esp99' is not a chip name");
    CHECK(refuse("channel=be/ta", err, sizeof err));
    CHECK_CONTAINS(err, "not a channel name");
    CHECK(refuse("pinned=maybe", err, sizeof err));
    CHECK_CONTAINS(err, "neither yes, no nor a release id");
    CHECK_INT(upd__filter_parse("pinned=0", &F, err, sizeof err), ==, 0); /* 0 is "no" */
    CHECK(refuse("attention=2", err, sizeof err));
    CHECK(refuse("tool=SIM", err, sizeof err));
    CHECK(refuse("=esp8266", err, sizeof err));
    CHECK(refuse("platform", err, sizeof err));
    CHECK(refuse("platform!esp8266", err, sizeof err));
    CHECK(refuse("version=1.0\x01", err, sizeof err));
    CHECK_CONTAINS(err, "not printable");
    /* a failed parse leaves the empty filter, never half of one */
    CHECK_INT(F.nterms, ==, 0);
}

static void test_limits(void)
{
    char err[512];
    char *text = malloc(UPD_FILTER_TEXT_MAX + 64);
    /* 33 terms */
    text[0] = '\0';
    for (int i = 0; i < 33; i++)
        strcat(text, "tag=lab ");
    CHECK(refuse(text, err, sizeof err));
    CHECK_CONTAINS(err, "at most 32 terms");
    /* 257 values */
    strcpy(text, "tag=a");
    for (int i = 0; i < 256; i++)
        strcat(text, ",a");
    CHECK(refuse(text, err, sizeof err));
    CHECK_CONTAINS(err, "at most 256 values");
    /* too long */
    memset(text, ' ', UPD_FILTER_TEXT_MAX + 10);
    text[UPD_FILTER_TEXT_MAX + 10] = '\0';
    CHECK(refuse(text, err, sizeof err));
    CHECK_CONTAINS(err, "at most 4095");
    /* a long version value */
    strcpy(text, "version=");
    memset(text + 8, '1', 300);
    text[308] = '\0';
    CHECK(refuse(text, err, sizeof err));
    CHECK_CONTAINS(err, "too long");
    free(text);
}

static void test_format_round_trip(void)
{
    char err[256], out[512], again[512];
    CHECK_INT(upd__filter_parse("  Platform=ESP8266   tag=lab,kitchen version<2.0.0 seen<24h "
                                "mac=5ccf7f0a1b2c chip=ESP32-C3 pinned=true attention=0",
                                &F, err, sizeof err),
              ==, 0);
    upd__filter_format(&F, out, sizeof out);
    CHECK_STR(out, "platform=esp8266 tag=lab,kitchen version<2.0.0 seen<24h "
                   "mac=5C:CF:7F:0A:1B:2C chip=esp32c3 pinned=yes attention=no");
    CHECK_INT(upd__filter_parse(out, &F, err, sizeof err), ==, 0);
    upd__filter_format(&F, again, sizeof again);
    CHECK_STR(again, out);
    /* a copy of the struct works the same (no interior pointers) */
    upd_filter *copy = malloc(sizeof *copy);
    memcpy(copy, &F, sizeof F);
    upd_device_row d = dev("5C:CF:7F:0A:1B:2C", "esp8266", "1.5", HOUR);
    strcpy(d.tags, "lab");
    d.pin_release = 2;
    upd_device_row c3 = d;
    CHECK_INT(upd__filter_match(copy, &d, &ENV), ==, 0); /* chip is ESP8266 */
    CHECK_INT(upd__filter_parse("platform=esp8266 tag=lab version<2 seen<24h pinned=yes", copy, err,
                                sizeof err),
              ==, 0);
    CHECK_INT(upd__filter_match(copy, &c3, &ENV), ==, 1);
    free(copy);
    upd__filter_format(&F, out, 8); /* cut short, still terminated */
    CHECK_INT(strlen(out), ==, 7);
}

static void test_tag_lists(void)
{
    char out[UPD_TAGS_MAX], err[256];
    const char *add[] = {"lab", "kitchen", "lab"};
    CHECK_INT(upd__tags_edit("", add, 3, 1, out, err, sizeof err), ==, 0);
    CHECK_STR(out, "kitchen,lab");
    const char *more[] = {"attic"};
    CHECK_INT(upd__tags_edit(out, more, 1, 1, out, err, sizeof err), ==, 0);
    CHECK_STR(out, "attic,kitchen,lab");
    const char *rm[] = {"kitchen", "cellar"};
    CHECK_INT(upd__tags_edit(out, rm, 2, 0, out, err, sizeof err), ==, 0);
    CHECK_STR(out, "attic,lab");
    CHECK_INT(upd__tags_has(out, "lab", 3), ==, 1);
    CHECK_INT(upd__tags_has(out, "la", 2), ==, 0);
    CHECK_INT(upd__tags_has(out, "attic", 5), ==, 1);
    CHECK_INT(upd__tags_has("", "lab", 3), ==, 0);
    /* at most 10 */
    const char *ten[] = {"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9", "t10"};
    CHECK_INT(upd__tags_edit("", ten, 10, 1, out, err, sizeof err), ==, 0);
    CHECK_INT(upd__tags_edit(out, ten + 10, 1, 1, out, err, sizeof err), ==, -1);
    CHECK_CONTAINS(err, "at most 10 tags");
    CHECK_INT(upd__tags_edit(out, ten, 1, 1, out, err, sizeof err), ==, 0); /* has it: fine */
    CHECK_INT(upd__tag_check("floor-2.b_x", 11, err, sizeof err), ==, 0);
    CHECK_INT(upd__tag_check("-x", 2, err, sizeof err), ==, -1);
    CHECK_CONTAINS(err, "does not begin with a letter or digit");
    CHECK_INT(upd__tag_check("a b", 3, err, sizeof err), ==, -1);
    CHECK_INT(upd__tag_check("", 0, err, sizeof err), ==, -1);
    CHECK_CONTAINS(err, "is empty");
}

int main(void)
{
    RUN(test_empty_matches_all);
    RUN(test_platform_and_or);
    RUN(test_version_order);
    RUN(test_seen);
    RUN(test_channel_effective);
    RUN(test_tags);
    RUN(test_mac_pinned_attention_tool);
    RUN(test_chip);
    RUN(test_errors);
    RUN(test_limits);
    RUN(test_format_round_trip);
    RUN(test_tag_lists);
    return upd_test_summary();
}
