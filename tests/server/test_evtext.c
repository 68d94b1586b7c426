/* The event sentences both stores write (src/server/evtext.c): each one exactly, and cut
 * short, never overflowed, in a small buffer. */
#include <string.h>

#include "evtext.h"
#include "upd_test.h"

static upd_release_row rel(void)
{
    upd_release_row r;
    memset(&r, 0, sizeof r);
    r.id = 3;
    strcpy(r.version, "1.2.0");
    strcpy(r.platform, "esp8266");
    strcpy(r.mode, "sketch");
    strcpy(r.kind, "esp8266-arduino");
    r.size = 300000;
    return r;
}

static void test_releases(void)
{
    char d[UPD_DETAIL_MAX];
    upd_release_row r = rel();
    upd__evtext_release_added(d, sizeof d, &r);
    CHECK_STR(d, "release 3 added: version 1.2.0, esp8266 esp8266-arduino, 300000 bytes");
    r.gz_size = 200000;
    upd__evtext_release_added(d, sizeof d, &r);
    CHECK_STR(d, "release 3 added: version 1.2.0, esp8266 esp8266-arduino, 300000 bytes (gzip "
                 "copy 200000 bytes)");
    upd__evtext_release_retired(d, sizeof d, 3, "1.2.0", 1);
    CHECK_STR(d, "release 3 (version 1.2.0) retired");
    upd__evtext_release_retired(d, sizeof d, 3, "1.2.0", 0);
    CHECK_STR(d, "release 3 (version 1.2.0) unretired");
    upd__evtext_release_notes(d, sizeof d, 3, "1.2.0", 120);
    CHECK_STR(d, "release 3 (version 1.2.0): notes set (120 bytes)");
    upd__evtext_release_notes(d, sizeof d, 3, "1.2.0", 0);
    CHECK_STR(d, "release 3 (version 1.2.0): notes cleared");
    upd__evtext_release_deleted(d, sizeof d, &r);
    CHECK_STR(d, "release 3 (version 1.2.0, esp8266 esp8266-arduino) deleted");
}

static void test_channels(void)
{
    char d[UPD_DETAIL_MAX];
    upd_release_row r = rel();
    upd__evtext_channel_set(d, sizeof d, "beta", &r, 0);
    CHECK_STR(d, "channel 'beta' (esp8266 sketch) now serves release 3 (version 1.2.0)");
    upd__evtext_channel_set(d, sizeof d, "beta", &r, 1);
    CHECK_STR(d, "channel 'beta' (esp8266 sketch) now serves release 3 (version 1.2.0), also to "
                 "devices that run a newer version (--allow-downgrade)");
    upd__evtext_channel_signing(d, sizeof d, "beta", 1, "0123456789abcdef0123", "RSA-2048");
    CHECK_STR(d, "channel 'beta' requires releases signed with RSA-2048 key 0123456789abcdef");
    upd__evtext_channel_signing(d, sizeof d, "beta", 1, NULL, NULL);
    CHECK_STR(d, "channel 'beta' requires releases signed with the key ");
    upd__evtext_channel_signing(d, sizeof d, "beta", 0, "0123", "RSA-2048");
    CHECK_STR(d, "channel 'beta' no longer requires signed releases");
    upd__evtext_channel_chip(d, sizeof d, "c3", "ESP32-C3");
    CHECK_STR(d, "channel 'c3' is declared for ESP32-C3 devices");
    upd__evtext_channel_chip(d, sizeof d, "c3", "");
    CHECK_STR(d, "channel 'c3' no longer declares a chip");
    upd__evtext_channel_chip(d, sizeof d, "c3", NULL);
    CHECK_STR(d, "channel 'c3' no longer declares a chip");
}

static void test_devices(void)
{
    char d[UPD_DETAIL_MAX];
    upd__evtext_pin(d, sizeof d, 3, "1.2.0");
    CHECK_STR(d, "pinned to release 3 (version 1.2.0)");
    upd__evtext_pin(d, sizeof d, 0, "ignored");
    CHECK_STR(d, "unpinned");
    upd__evtext_channel_assigned(d, sizeof d, "beta");
    CHECK_STR(d, "assigned to channel 'beta'");
    upd__evtext_channel_assigned(d, sizeof d, NULL);
    CHECK_STR(d, "channel assignment cleared (follows 'stable' or the URL)");
    upd__evtext_retry(d, sizeof d, 3, 1);
    CHECK_STR(d, "retry: release 3 (failed 1 time) is offered again");
    upd__evtext_retry(d, sizeof d, 3, 2);
    CHECK_STR(d, "retry: release 3 (failed 2 times) is offered again");
    upd__evtext_retry(d, sizeof d, 0, 0);
    CHECK_STR(d, "retry: no release was held back");
    upd__evtext_device_deleted(d, sizeof d, 1);
    CHECK_STR(d, "device deleted with its 1 event: it is new to the server if it checks in again");
    upd__evtext_device_deleted(d, sizeof d, 12);
    CHECK_STR(d, "device deleted with its 12 events: it is new to the server if it checks in "
                 "again");
    upd__evtext_rollout(d, sizeof d, 4, "wave 2 of 3 opened");
    CHECK_STR(d, "rollout 4: wave 2 of 3 opened");
}

static void test_refusals(void)
{
    char e[200];
    upd__evtext_retired_refused(e, sizeof e, 7, 0);
    CHECK_STR(e, "release 7 is retired: pick a release that is not retired (GET /api/v1/releases)");
    upd__evtext_retired_refused(e, sizeof e, 7, 1);
    CHECK_STR(e, "release 7 is retired: pin a release that is not retired");
    upd__evtext_tags_refused(e, sizeof e, "AA:BB:CC:DD:EE:FF", 1);
    CHECK_STR(e, "the tags of device AA:BB:CC:DD:EE:FF changed meanwhile");
    upd__evtext_tags_refused(e, sizeof e, "AA:BB:CC:DD:EE:FF", 0);
    CHECK_STR(e, "device AA:BB:CC:DD:EE:FF is not in the registry");
}

/* A long version is cut at 200 characters; a small buffer holds a cut sentence. */
static void test_bounds(void)
{
    upd_release_row r = rel();
    memset(r.version, 'v', 250);
    r.version[250] = 0;
    r.gz_size = 5;
    char d[UPD_DETAIL_MAX];
    upd__evtext_release_added(d, sizeof d, &r);
    CHECK_INT(strlen(d), ==,
              strlen("release 3 added: version , esp8266 esp8266-arduino, 300000 "
                     "bytes (gzip copy 5 bytes)") +
                  200);
    char small[16];
    memset(small, 'x', sizeof small);
    upd__evtext_release_added(small, sizeof small, &r);
    CHECK_STR(small, "release 3 added");
    upd__evtext_channel_set(small, sizeof small, "beta", &r, 1);
    CHECK_INT(strlen(small), ==, 15);
}

int main(void)
{
    RUN(test_releases);
    RUN(test_channels);
    RUN(test_devices);
    RUN(test_refusals);
    RUN(test_bounds);
    return upd_test_summary();
}
