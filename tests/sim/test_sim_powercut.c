/* Exhaustive power-cut test: the real update engine (libupdraft-client) on the
 * simulated device (ports/sim), MCUboot-simulator style. For a full update, the power
 * is cut at every single flash erase/write of the client's work in turn (a cut
 * operation is half done: partly erased sector, partly programmed write); after each
 * cut the device reboots and must boot an intact image (the old one), and further
 * checks must converge on the new one (resuming where the record says). Then the same
 * for eboot's copy (ESP8266): those cuts do brick the device, and are counted as boot
 * loader bricks, never as client bricks. ESP32: cuts in the boot loader's and the
 * app's otadata updates never brick; an unconfirmed image is rolled back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgwriter.h"
#include "sim.h"
#include "simhost.h"
#include "upd_test.h"
#include "updraft/client.h"
#include "updraft/error.h"

#define KB 1024u

static upd_sim_host *host;

/* ---- images --------------------------------------------------------------------------- */

typedef struct image {
    uint8_t *data;
    uint32_t len;
    char md5[33];    /* of the bytes served */
    char sha[65];
    char run_md5[33]; /* of what runs once installed (the inflated image for gzip) */
} image;

static void hex(char *out, const uint8_t *p, int n)
{
    for (int i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static void finish_image(image *im, const uint8_t *runs, uint32_t runs_len)
{
    uint8_t d[32];
    tw_md5(im->data, im->len, d);
    hex(im->md5, d, 16);
    tw_sha256(im->data, im->len, d);
    hex(im->sha, d, 32);
    tw_md5(runs, runs_len, d);
    hex(im->run_md5, d, 16);
}

/* The factory image: made by the sim's own maker. */
static image old_image(int platform, uint8_t size_code, uint32_t code)
{
    image im;
    im.data = malloc(code + 64 * KB);
    int32_t n = upd_sim_make_image(platform, size_code, im.data, code + 64 * KB, code, 11, "1.0.0");
    CHECK(n > 0);
    im.len = (uint32_t)n;
    finish_image(&im, im.data, im.len);
    return im;
}

/* The update: made by the test image writer (another writer than the sim's). */
static image new_image(int platform, uint8_t size_code, uint32_t code, int gz)
{
    image im;
    uint32_t cap = code + 64 * KB;
    im.data = malloc(cap);
    int32_t n;
    if (platform == UPD_SIM_ESP32) {
        tw_seg segs[] = {{0x3F400020u, 4096u, 301}, {0x3FFBDB60u, 2048u, 302},
                         {0x400D0020u, code & ~3u, 303}, {0x40080000u, 8192u, 304}};
        tw_esp32_opts o;
        memset(&o, 0, sizeof o);
        o.mode = 2;
        o.size_freq = (uint8_t)(size_code << 4);
        o.entry = 0x40083908u;
        o.segs = segs;
        o.nseg = 4;
        o.hash_appended = 1;
        o.app_desc = 1;
        o.version = "2.0.0";
        o.project = "powercut";
        o.max_rev_full = 0xFFFF;
        n = tw_esp32_image(im.data, cap, &o);
    } else {
        tw_seg segs[] = {{0x40201010u, code, 201}, {0x40100000u, 903u, 202},
                         {0x401002E8u, 20000u, 203}, {0x3FFE8000u, 36u, 204},
                         {0x3FFE8030u, 99u, 205}};
        tw_arduino_opts o = {2, (uint8_t)(size_code << 4), 2, segs, 5, TW_CRC_AT_1010};
        n = tw_arduino_bin(im.data, cap, &o);
    }
    CHECK(n > 0);
    im.len = (uint32_t)n;
    if (!gz) {
        finish_image(&im, im.data, im.len);
        return im;
    }
    uint8_t *z = malloc(cap + 4 * KB);
    int32_t zn = tw_gzip_store(z, cap + 4 * KB, im.data, im.len, "firmware.bin");
    CHECK(zn > 0);
    image g = {z, (uint32_t)zn, "", "", ""};
    finish_image(&g, im.data, im.len);
    free(im.data);
    return g;
}

/* ---- an in-memory server and the engine driven by hand --------------------------------- */

typedef struct server {
    const image *im;
    int checks, ranges;
} server;

static const char *header_value(const char *req, const char *name, char *out, size_t cap)
{
    const char *p = strstr(req, name);
    if (!p)
        return NULL;
    p += strlen(name);
    size_t n = strcspn(p, "\r\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

/* What updraft serve would say: 304 when the device runs the image, 206 for a Range,
 * else 200 with the image (Content-Length, x-MD5, x-SHA256, ETag). */
static uint8_t *respond(server *s, const char *req, size_t *len)
{
    char v[80], head[512];
    const image *im = s->im;
    s->checks++;
    int hl;
    uint32_t from = 0;
    if ((header_value(req, "sketch-md5: ", v, sizeof v) && !strcmp(v, im->run_md5))) {
        hl = snprintf(head, sizeof head, "HTTP/1.0 304 Not Modified\r\n\r\n");
        *len = (size_t)hl;
        uint8_t *r = malloc(*len);
        memcpy(r, head, *len);
        return r;
    }
    if (header_value(req, "Range: bytes=", v, sizeof v)) {
        from = (uint32_t)strtoul(v, NULL, 10);
        s->ranges++;
        hl = snprintf(head, sizeof head,
                      "HTTP/1.0 206 Partial Content\r\nContent-Range: bytes %u-%u/%u\r\n",
                      (unsigned)from, (unsigned)(im->len - 1), (unsigned)im->len);
    } else {
        hl = snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\n");
    }
    hl += snprintf(head + hl, sizeof head - (size_t)hl,
                   "Content-Length: %u\r\nx-MD5: %s\r\nx-SHA256: %s\r\nETag: \"%s\"\r\n\r\n",
                   (unsigned)(im->len - from), im->md5, im->sha, im->sha);
    *len = (size_t)hl + im->len - from;
    uint8_t *r = malloc(*len);
    memcpy(r, head, (size_t)hl);
    memcpy(r + hl, im->data + from, im->len - from);
    return r;
}

static uint32_t cbuf[2048 / 4];
static char last_req[2048]; /* the last request check() sent */

/* One update check of the device against the server; the engine's result. */
static int check(upd_sim_dev *dev, server *s, uint32_t features, int *err)
{
    upd_client_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.host = "10.0.0.1";
    cfg.port = 8080;
    cfg.path = "/update";
    cfg.version = "1.0.0";
    cfg.sdk_version = "2.2.2-dev(38a443e)";
    cfg.chip_id = 0x0A1B2C;
    static const uint8_t mac[6] = {0x5C, 0xCF, 0x7F, 0x0A, 0x1B, 0x2C};
    memcpy(cfg.sta_mac, mac, 6);
    memcpy(cfg.ap_mac, mac, 6);
    cfg.features = features;
    upd_sim_client_config(dev, &cfg);
    upd_client_ctx c;
    if (upd_client_init(&c, &cfg, &dev->port, cbuf, sizeof cbuf) != 0)
        return -1;
    char req[2048];
    size_t rl = 0, rlen = 0, rpos = 0;
    uint8_t *resp = NULL;
    for (;;) {
        switch (upd_client_poll(&c)) {
        case UPD_CLIENT_WANT_CONNECT:
            upd_client_connected(&c);
            break;
        case UPD_CLIENT_WANT_SEND: {
            size_t n;
            const uint8_t *p = upd_client_want_send(&c, &n);
            if (rl + n < sizeof req) {
                memcpy(req + rl, p, n);
                rl += n;
            }
            upd_client_sent(&c, n);
            break;
        }
        case UPD_CLIENT_WANT_RECV:
            if (!resp) {
                req[rl] = '\0';
                memcpy(last_req, req, rl + 1);
                resp = respond(s, req, &rlen);
            }
            if (rpos < rlen) {
                size_t k = rlen - rpos < 1460 ? rlen - rpos : 1460;
                upd_client_feed(&c, resp + rpos, k);
                rpos += k;
            } else {
                upd_client_eof(&c);
            }
            break;
        case UPD_CLIENT_DONE:
        default:
            free(resp);
            *err = upd_client_error(&c);
            return upd_client_result_of(&c);
        }
    }
}

/* ---- scenarios ----------------------------------------------------------------------------- */

typedef struct scenario {
    const char *name;
    const char *layout;
    uint32_t old_code, new_code;
    int gz;
    uint32_t features;
} scenario;

typedef struct tally {
    int cases, old_boots, resumed, bricked_client, bricked_boot, intact_after_boot_cut;
} tally;

/* A device running the old image. */
static void fresh(upd_sim_dev *dev, const scenario *sc, const image *old)
{
    const upd_sim_layout *l = upd_sim_layout_find(sc->layout);
    upd_sim_init(dev, l, upd_sim_host_env(host), 7);
    CHECK_INT(upd_sim_flash_image(dev, old->data, old->len), ==, 0);
    CHECK_INT(upd_sim_boot(dev), ==, UPD_SIM_BOOTED);
    CHECK_STR(dev->run_md5_hex, old->run_md5);
}

/* Check until the server says 304 (rebooting after each installed update); 1 if the
 * device ends on the new image, never bricked. */
static int converge(upd_sim_dev *dev, server *s, const scenario *sc, const image *nw)
{
    for (int i = 0; i < 8; i++) {
        int err = 0, r = check(dev, s, sc->features, &err);
        if (r == UPD_CLIENT_NO_UPDATES)
            return strcmp(dev->run_md5_hex, nw->run_md5) == 0;
        if (r == UPD_CLIENT_OK) {
            if (upd_sim_boot(dev) != UPD_SIM_BOOTED)
                return 0;
            if (upd_sim_confirm(dev) != 0)
                return 0;
        } else if (dev->state != UPD_SIM_RUNNING) {
            return 0;
        }
    }
    return 0;
}

static void client_cuts(const scenario *sc, tally *t)
{
    const upd_sim_layout *l = upd_sim_layout_find(sc->layout);
    image old = old_image(l->platform, l->size_code, sc->old_code);
    image nw = new_image(l->platform, l->size_code, sc->new_code, sc->gz);
    server s = {&nw, 0, 0};
    static upd_sim_dev dev;

    /* the dry run: how many erases/writes does the client's work take? */
    fresh(&dev, sc, &old);
    uint32_t before = dev.flash.ops[UPD_SIM_PH_APP];
    int err = 0;
    CHECK_INT(check(&dev, &s, sc->features, &err), ==, UPD_CLIENT_OK);
    uint32_t ops = dev.flash.ops[UPD_SIM_PH_APP] - before;
    CHECK(ops > 10);
    CHECK_INT(upd_sim_boot(&dev), ==, UPD_SIM_BOOTED);
    CHECK_STR(dev.run_md5_hex, nw.run_md5);
    upd_sim_free(&dev);

    for (uint32_t n = 0; n < ops; n++) {
        fresh(&dev, sc, &old);
        upd_sim_arm_cut(&dev, UPD_SIM_PH_APP, (int32_t)n);
        int r = check(&dev, &s, sc->features, &err);
        t->cases++;
        CHECK_INT(dev.state, ==, UPD_SIM_OFF);
        CHECK_INT(r, ==, UPD_CLIENT_FAILED);
        int b = upd_sim_boot(&dev);
        if (b != UPD_SIM_BOOTED) {
            t->bricked_client++;
            printf("  %s: cut at client op %u: boot %d (bricked)\n", sc->name, (unsigned)n, b);
            CHECK_INT(b, ==, UPD_SIM_BOOTED);
            upd_sim_free(&dev);
            continue;
        }
        /* the power went before the boot command: the old image, intact */
        if (!strcmp(dev.run_md5_hex, old.run_md5))
            t->old_boots++;
        else
            CHECK_STR(dev.run_md5_hex, nw.run_md5);
        int ranges = s.ranges;
        int ok = converge(&dev, &s, sc, &nw);
        if (!ok)
            printf("  %s: cut at client op %u: did not converge (state %d)\n", sc->name,
                   (unsigned)n, dev.state);
        CHECK(ok);
        t->resumed += s.ranges > ranges;
        CHECK_INT(dev.flash.nor_violations, ==, 0);
        CHECK_INT(dev.flash.range_violations, ==, 0);
        upd_sim_free(&dev);
    }
    printf("  %s: %u client erase/write ops, %d cuts: old image booted %d, resumed %d, "
           "client bricks %d\n",
           sc->name, (unsigned)ops, t->cases, t->old_boots, t->resumed, t->bricked_client);
    free(old.data);
    free(nw.data);
}

/* eboot's copy (ESP8266): cut at each of its erases/writes. */
static void boot_cuts(const scenario *sc, tally *t)
{
    const upd_sim_layout *l = upd_sim_layout_find(sc->layout);
    image old = old_image(l->platform, l->size_code, sc->old_code);
    image nw = new_image(l->platform, l->size_code, sc->new_code, sc->gz);
    server s = {&nw, 0, 0};
    static upd_sim_dev dev;
    int err;

    fresh(&dev, sc, &old);
    CHECK_INT(check(&dev, &s, sc->features, &err), ==, UPD_CLIENT_OK);
    uint32_t before = dev.flash.ops[UPD_SIM_PH_BOOT];
    CHECK_INT(upd_sim_boot(&dev), ==, UPD_SIM_BOOTED);
    uint32_t ops = dev.flash.ops[UPD_SIM_PH_BOOT] - before;
    CHECK(ops >= 2);
    upd_sim_free(&dev);

    int cases = 0;
    for (uint32_t n = 0; n < ops; n++) {
        fresh(&dev, sc, &old);
        CHECK_INT(check(&dev, &s, sc->features, &err), ==, UPD_CLIENT_OK);
        upd_sim_arm_cut(&dev, UPD_SIM_PH_BOOT, (int32_t)n);
        cases++;
        CHECK_INT(upd_sim_boot(&dev), ==, UPD_SIM_BOOT_CUT);
        CHECK_INT(dev.cuts[UPD_SIM_PH_BOOT], ==, 1);
        CHECK_INT(dev.cuts[UPD_SIM_PH_APP], ==, 0);
        /* power back: the RTC command is gone, eboot boots what is at 0x1000 */
        int b = upd_sim_boot(&dev);
        if (b == UPD_SIM_BOOT_BRICK) {
            CHECK_INT(dev.bricked_phase, ==, UPD_SIM_PH_BOOT);
            t->bricked_boot++;
        } else {
            CHECK_INT(b, ==, UPD_SIM_BOOTED);
            t->intact_after_boot_cut++;
        }
        upd_sim_free(&dev);
    }
    printf("  %s: %u eboot copy ops, %d cuts: bricked by the boot loader %d, still intact %d\n",
           sc->name, (unsigned)ops, cases, t->bricked_boot, t->intact_after_boot_cut);
    /* the truth: the copy is not atomic */
    CHECK(t->bricked_boot > cases / 2);
    free(old.data);
    free(nw.data);
}

static const scenario esp8266_raw = {"esp8266-4m1m", "esp8266-4m1m", 90000, 120000, 0,
                                     UPD_CLIENT_F_ALL | UPD_CLIENT_F_INSPECT};
static const scenario esp8266_gz = {"esp8266-4m1m-gzip", "esp8266-4m1m", 90000, 60000, 1,
                                    UPD_CLIENT_F_ALL | UPD_CLIENT_F_INSPECT};
static const scenario esp8266_1m = {"esp8266-1m64-parity", "esp8266-1m64", 150000, 160000, 0, 0};
static const scenario esp32_all = {"esp32-4m", "esp32-4m", 90000, 120000, 0,
                                   UPD_CLIENT_F_ALL | UPD_CLIENT_F_INSPECT};
static const scenario esp32_parity = {"esp32-4m-parity", "esp32-4m", 60000, 70000, 0, 0};

static int total_cases;

static void run_client(const scenario *sc)
{
    tally t = {0};
    client_cuts(sc, &t);
    CHECK_INT(t.bricked_client, ==, 0);
    CHECK_INT(t.old_boots, ==, t.cases); /* no cut of the client's work installs anything */
    total_cases += t.cases;
}

static void test_esp8266_client_cuts(void)
{
    run_client(&esp8266_raw);
}

static void test_esp8266_gzip_client_cuts(void)
{
    run_client(&esp8266_gz);
}

static void test_esp8266_1m_parity_client_cuts(void)
{
    run_client(&esp8266_1m);
}

static void test_esp32_client_cuts(void)
{
    run_client(&esp32_all);
}

static void test_esp32_parity_client_cuts(void)
{
    run_client(&esp32_parity);
}

static void test_esp8266_eboot_cuts(void)
{
    tally t = {0};
    boot_cuts(&esp8266_raw, &t);
    total_cases += t.bricked_boot + t.intact_after_boot_cut;
}

static void test_esp8266_gzip_eboot_cuts(void)
{
    tally t = {0};
    boot_cuts(&esp8266_gz, &t);
    total_cases += t.bricked_boot + t.intact_after_boot_cut;
}

/* ESP32: the boot loader's NEW -> PENDING_VERIFY write and the app's confirmation can
 * be cut anywhere: the device boots the old or the new image, never nothing. */
static void test_esp32_otadata_cuts(void)
{
    const scenario *sc = &esp32_all;
    const upd_sim_layout *l = upd_sim_layout_find(sc->layout);
    image old = old_image(l->platform, l->size_code, sc->old_code);
    image nw = new_image(l->platform, l->size_code, sc->new_code, 0);
    server s = {&nw, 0, 0};
    static upd_sim_dev dev;
    int err, cases = 0, olds = 0, news = 0;
    for (int ph = 0; ph < 2; ph++) {
        for (int32_t n = 0; n < 2; n++) {
            fresh(&dev, sc, &old);
            CHECK_INT(check(&dev, &s, sc->features, &err), ==, UPD_CLIENT_OK);
            if (ph == UPD_SIM_PH_BOOT) {
                upd_sim_arm_cut(&dev, UPD_SIM_PH_BOOT, n);
                CHECK_INT(upd_sim_boot(&dev), ==, UPD_SIM_BOOT_CUT);
            } else {
                CHECK_INT(upd_sim_boot(&dev), ==, UPD_SIM_BOOTED);
                CHECK_STR(dev.run_md5_hex, nw.run_md5);
                CHECK(dev.pending_verify);
                upd_sim_arm_cut(&dev, UPD_SIM_PH_APP, n);
                CHECK_INT(upd_sim_confirm(&dev), ==, -1);
            }
            cases++;
            CHECK_INT(upd_sim_boot(&dev), ==, UPD_SIM_BOOTED);
            if (!strcmp(dev.run_md5_hex, old.run_md5))
                olds++;
            else if (!strcmp(dev.run_md5_hex, nw.run_md5))
                news++;
            CHECK(converge(&dev, &s, sc, &nw));
            upd_sim_free(&dev);
        }
    }
    CHECK_INT(olds + news, ==, cases);
    printf("  esp32 otadata cuts: %d (old image booted %d, new %d)\n", cases, olds, news);
    total_cases += cases;
    free(old.data);
    free(nw.data);
}

/* ESP32 rollback: a new image that never confirms itself is rolled back at the next
 * boot (PENDING_VERIFY -> ABORTED), the old image runs again. */
static void test_esp32_rollback(void)
{
    const scenario *sc = &esp32_all;
    const upd_sim_layout *l = upd_sim_layout_find(sc->layout);
    image old = old_image(l->platform, l->size_code, sc->old_code);
    image nw = new_image(l->platform, l->size_code, sc->new_code, 0);
    server s = {&nw, 0, 0};
    static upd_sim_dev dev;
    int err;
    uint32_t seq, st;
    fresh(&dev, sc, &old);
    CHECK_INT(dev.run_slot, ==, 0);
    CHECK_INT(check(&dev, &s, sc->features, &err), ==, UPD_CLIENT_OK);
    CHECK(upd_sim_otadata_entry(&dev, 0, &seq, &st));
    CHECK_INT(seq, ==, 2);
    CHECK_INT(st, ==, UPD_SIM_OTA_NEW);
    CHECK_INT(upd_sim_boot(&dev), ==, UPD_SIM_BOOTED);
    CHECK_INT(dev.run_slot, ==, 1);
    CHECK_STR(dev.run_md5_hex, nw.run_md5);
    CHECK(upd_sim_otadata_entry(&dev, 0, &seq, &st));
    CHECK_INT(st, ==, UPD_SIM_OTA_PENDING_VERIFY);
    /* no confirmation: reset */
    CHECK_INT(upd_sim_boot(&dev), ==, UPD_SIM_BOOTED);
    CHECK_INT(dev.rollbacks, ==, 1);
    CHECK_INT(dev.run_slot, ==, 0);
    CHECK_STR(dev.run_md5_hex, old.run_md5);
    CHECK(upd_sim_otadata_entry(&dev, 0, &seq, &st));
    CHECK_INT(st, ==, UPD_SIM_OTA_ABORTED);
    /* the next update is confirmed and stays */
    CHECK_INT(check(&dev, &s, sc->features, &err), ==, UPD_CLIENT_OK);
    CHECK_INT(upd_sim_boot(&dev), ==, UPD_SIM_BOOTED);
    CHECK_INT(upd_sim_confirm(&dev), ==, 0);
    CHECK_INT(upd_sim_boot(&dev), ==, UPD_SIM_BOOTED);
    CHECK_INT(dev.run_slot, ==, 1);
    CHECK_STR(dev.run_md5_hex, nw.run_md5);
    CHECK_INT(dev.rollbacks, ==, 1);
    CHECK(upd_sim_otadata_entry(&dev, 1, &seq, &st));
    CHECK_INT(seq, ==, 4);
    CHECK_INT(st, ==, UPD_SIM_OTA_VALID);
    upd_sim_free(&dev);
    free(old.data);
    free(nw.data);
}

/* The same through the engine's API (upd_client_boot_state / upd_client_confirm on the
 * sim's rollback ops) and the outcome report: update -> reboot -> PENDING, not confirmed
 * -> reboot -> the old image, and the next check reports rollback=1; update -> confirm
 * -> stays (rollback=0). ESP8266 has no rollback ops. */
static void test_esp32_engine_confirm_and_report(void)
{
    const scenario *sc = &esp32_all;
    const upd_sim_layout *l = upd_sim_layout_find(sc->layout);
    image old = old_image(l->platform, l->size_code, sc->old_code);
    image nw = new_image(l->platform, l->size_code, sc->new_code, 0);
    server s = {&nw, 0, 0};
    static upd_sim_dev dev;
    int err;
    uint32_t f = sc->features | UPD_CLIENT_F_REPORT;
    char want[160];
    fresh(&dev, sc, &old);
    CHECK_INT(upd_client_boot_state(&dev.port), ==, UPD_BOOT_VALID);
    CHECK_INT(check(&dev, &s, f, &err), ==, UPD_CLIENT_OK);
    CHECK(strstr(last_req, "x-updraft-report") == NULL);
    CHECK_INT(upd_sim_boot(&dev), ==, UPD_SIM_BOOTED);
    CHECK_STR(dev.run_md5_hex, nw.run_md5);
    CHECK_INT(upd_client_boot_state(&dev.port), ==, UPD_BOOT_PENDING);
    /* the app's health check fails: no confirmation, reset */
    CHECK_INT(upd_sim_boot(&dev), ==, UPD_SIM_BOOTED);
    CHECK_STR(dev.run_md5_hex, old.run_md5);
    CHECK_INT(upd_client_boot_state(&dev.port), ==, UPD_BOOT_ROLLED_BACK);
    /* the next check tells the server, and gets the update again */
    CHECK_INT(check(&dev, &s, f, &err), ==, UPD_CLIENT_OK);
    snprintf(want, sizeof want, "\r\nx-updraft-report: v=1;result=0;md5=%s;rollback=1\r\n", nw.md5);
    CHECK_CONTAINS(last_req, want);
    CHECK_INT(upd_sim_boot(&dev), ==, UPD_SIM_BOOTED);
    CHECK_INT(upd_client_boot_state(&dev.port), ==, UPD_BOOT_PENDING);
    CHECK_INT(upd_client_confirm(&dev.port), ==, 0);
    CHECK_INT(upd_client_boot_state(&dev.port), ==, UPD_BOOT_VALID);
    CHECK_INT(upd_sim_boot(&dev), ==, UPD_SIM_BOOTED);
    CHECK_STR(dev.run_md5_hex, nw.run_md5);
    CHECK_INT(dev.rollbacks, ==, 1);
    /* converged: 304, and the report of the installed image goes with that check */
    CHECK_INT(check(&dev, &s, f, &err), ==, UPD_CLIENT_NO_UPDATES);
    snprintf(want, sizeof want, "\r\nx-updraft-report: v=1;result=0;md5=%s;rollback=0\r\n", nw.md5);
    CHECK_CONTAINS(last_req, want);
    CHECK_INT(check(&dev, &s, f, &err), ==, UPD_CLIENT_NO_UPDATES);
    CHECK(strstr(last_req, "x-updraft-report") == NULL);
    upd_sim_free(&dev);
    /* ESP8266 (eboot copies over the old image): no rollback, nothing to confirm */
    const scenario *e8 = &esp8266_raw;
    image o8 = old_image(UPD_SIM_ESP8266, upd_sim_layout_find(e8->layout)->size_code, e8->old_code);
    fresh(&dev, e8, &o8);
    CHECK_INT(upd_client_boot_state(&dev.port), ==, UPD_EUNSUPPORTED);
    CHECK_INT(upd_client_confirm(&dev.port), ==, UPD_EUNSUPPORTED);
    upd_sim_free(&dev);
    free(o8.data);
    free(old.data);
    free(nw.data);
}

/* The eboot command and copy, byte for byte (spec section 3), and the staging math. */
static void test_esp8266_staging_and_eboot(void)
{
    const scenario *sc = &esp8266_raw;
    const upd_sim_layout *l = upd_sim_layout_find(sc->layout);
    image old = old_image(l->platform, l->size_code, sc->old_code);
    image nw = new_image(l->platform, l->size_code, sc->new_code, 0);
    server s = {&nw, 0, 0};
    static upd_sim_dev dev;
    int err;
    fresh(&dev, sc, &old);
    CHECK_INT(dev.run_size, ==, old.len);
    CHECK_INT(check(&dev, &s, 0, &err), ==, UPD_CLIENT_OK);
    uint32_t from, to, size;
    CHECK(upd_sim_eboot_command(&dev, &from, &to, &size));
    CHECK_INT(from, ==, 0x300000u - ((nw.len + 4095u) & ~4095u)); /* top of the free gap */
    CHECK_INT(to, ==, 0);
    CHECK_INT(size, ==, nw.len);
    uint8_t *staged = malloc(nw.len);
    CHECK_INT(upd_sim_read(&dev, from, staged, nw.len), ==, 0);
    CHECK(memcmp(staged, nw.data, nw.len) == 0);
    CHECK_INT(upd_sim_boot(&dev), ==, UPD_SIM_BOOTED);
    CHECK_INT(dev.copies, ==, 1);
    CHECK_INT(dev.run_size, ==, nw.len);
    CHECK(!upd_sim_eboot_command(&dev, &from, &to, &size)); /* cleared */
    CHECK_INT(dev.flash.ops[UPD_SIM_PH_BOOT], ==, 2 * ((nw.len + 4095u) / 4096u));
    free(staged);
    upd_sim_free(&dev);
    /* a cut power loses the RTC memory: the staged image is never copied */
    fresh(&dev, sc, &old);
    CHECK_INT(check(&dev, &s, 0, &err), ==, UPD_CLIENT_OK);
    upd_sim_power_cut(&dev);
    CHECK_INT(upd_sim_boot(&dev), ==, UPD_SIM_BOOTED);
    CHECK_INT(dev.copies, ==, 0);
    CHECK_STR(dev.run_md5_hex, old.run_md5);
    CHECK_INT(upd_sim_confirm(&dev), ==, 0); /* ESP8266: nothing to confirm */
    upd_sim_free(&dev);
    free(old.data);
    free(nw.data);
}

/* Every page the devices took went back to the pool. */
static void test_pages_released(void)
{
    uint64_t priv, shared;
    upd_sim_host_pages(host, &priv, &shared);
    CHECK_INT(priv, ==, 0);
    CHECK_INT(shared, ==, 0);
}

int main(void)
{
    host = upd_sim_host_new(0);
    RUN(test_esp8266_staging_and_eboot);
    RUN(test_esp8266_client_cuts);
    RUN(test_esp8266_gzip_client_cuts);
    RUN(test_esp8266_1m_parity_client_cuts);
    RUN(test_esp32_client_cuts);
    RUN(test_esp32_parity_client_cuts);
    RUN(test_esp8266_eboot_cuts);
    RUN(test_esp8266_gzip_eboot_cuts);
    RUN(test_esp32_otadata_cuts);
    RUN(test_esp32_rollback);
    RUN(test_esp32_engine_confirm_and_report);
    RUN(test_pages_released);
    printf("power-cut cases run: %d\n", total_cases);
    upd_sim_host_free(host);
    return upd_test_summary();
}
