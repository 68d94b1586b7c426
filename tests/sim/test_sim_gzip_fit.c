/* eboot's gzip inflation at the boundary (docs/fit-rules.md "gzip"): a real ESP8266
 * Arduino image from the corpus, compressed as the server keeps it (upd_gzip_compress), is
 * installed by the real update engine on a simulated 1 MB device running a smaller sketch,
 * for every possible filesystem start of the layout in turn. The simulated eboot reads the
 * staged data block by block and erases its output sector by sector, as eboot.c does. For
 * each start the core's fit rule (upd_fit_check, fed what the device's request says and the
 * gzip copy's report with its min stage) must say exactly what happened: installed and
 * booted; refused by the updater before writing (old image intact); or installed and then
 * bricked by eboot's inflation. The sector where the rule turns from "inflate-overrun" to
 * "ok" is shown to behave so in the simulator: one sector lower bricks, at it boots. Skipped
 * (exit 77) when the corpus is absent. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileinspect.h"
#include "gzcopy.h"
#include "sim.h"
#include "simhost.h"
#include "upd_test.h"
#include "updraft/client.h"
#include "updraft/error.h"
#include "updraft/fit.h"

#define SECTOR 4096u

static upd_sim_host *host;
static const char *dir;

typedef struct blob {
    uint8_t *data;
    uint32_t len;
    char md5[33];
} blob;

static uint8_t *load(const char *path, uint32_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = (uint32_t)n;
    return p;
}

/* ---- the engine against an in-memory server that always sends one body ----------------- */

static uint32_t cbuf[2048 / 4];

static int install(upd_sim_dev *dev, const blob *body, int *err)
{
    upd_client_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.host = "10.0.0.1";
    cfg.port = 8080;
    cfg.path = "/update";
    cfg.version = "1.0.0";
    cfg.sdk_version = "2.2.2-dev(38a443e)";
    static const uint8_t mac[6] = {0x5C, 0xCF, 0x7F, 0x0A, 0x1B, 0x2D};
    memcpy(cfg.sta_mac, mac, 6);
    memcpy(cfg.ap_mac, mac, 6);
    upd_sim_client_config(dev, &cfg);
    upd_client_ctx c;
    if (upd_client_init(&c, &cfg, &dev->port, cbuf, sizeof cbuf) != 0)
        return -1;
    char head[256];
    int hl =
        snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Length: %u\r\nx-MD5: %s\r\n\r\n",
                 (unsigned)body->len, body->md5);
    size_t pos = 0, total = (size_t)hl + body->len;
    for (;;) {
        switch (upd_client_poll(&c)) {
        case UPD_CLIENT_WANT_CONNECT:
            upd_client_connected(&c);
            break;
        case UPD_CLIENT_WANT_SEND: {
            size_t n;
            upd_client_want_send(&c, &n);
            upd_client_sent(&c, n);
            break;
        }
        case UPD_CLIENT_WANT_RECV:
            if (pos < total) {
                uint8_t chunk[1460];
                size_t k = total - pos < sizeof chunk ? total - pos : sizeof chunk;
                for (size_t i = 0; i < k; i++) {
                    size_t at = pos + i;
                    chunk[i] = at < (size_t)hl ? (uint8_t)head[at] : body->data[at - (size_t)hl];
                }
                upd_client_feed(&c, chunk, k);
                pos += k;
            } else {
                upd_client_eof(&c);
            }
            break;
        case UPD_CLIENT_DONE:
        default:
            *err = upd_client_error(&c);
            return upd_client_result_of(&c);
        }
    }
}

/* ---- one filesystem start ------------------------------------------------------------ */

enum outcome { OUT_UPDATED, OUT_REFUSED, OUT_BRICKED, OUT_OTHER };

static const char *outcome_name(int o)
{
    static const char *const n[] = {"updated", "refused", "bricked", "other"};
    return n[o];
}

/* What the simulator does with the gzip copy when the filesystem starts at fs_start. */
static int simulate(uint32_t fs_start, const blob *old, const blob *gz, const char *new_md5)
{
    upd_sim_layout lay = *upd_sim_layout_find("esp8266-1m64");
    lay.name = "esp8266-1m-custom";
    lay.fs_start = fs_start;
    static upd_sim_dev dev;
    upd_sim_init(&dev, &lay, upd_sim_host_env(host), 3);
    CHECK_INT(upd_sim_flash_image(&dev, old->data, old->len), ==, 0);
    CHECK_INT(upd_sim_boot(&dev), ==, UPD_SIM_BOOTED);
    int err = 0, r = install(&dev, gz, &err), out;
    if (r != UPD_CLIENT_OK) {
        int b = upd_sim_boot(&dev);
        out = b == UPD_SIM_BOOTED && !strcmp(dev.run_md5_hex, old->md5) ? OUT_REFUSED : OUT_OTHER;
    } else {
        int b = upd_sim_boot(&dev);
        out = b == UPD_SIM_BOOTED && !strcmp(dev.run_md5_hex, new_md5) ? OUT_UPDATED
              : b == UPD_SIM_BOOT_BRICK                                ? OUT_BRICKED
                                                                       : OUT_OTHER;
    }
    upd_sim_free(&dev);
    return out;
}

/* What the fit rule predicts for the same device. */
static int predict(uint32_t fs_start, const blob *old, const upd_image_report *rep,
                   upd_fit_result *res)
{
    upd_device_facts f;
    memset(&f, 0, sizeof f);
    f.client = UPD_CLIENT_ESP8266_ARDUINO;
    f.mode = UPD_MODE_SKETCH;
    f.chip = UPD_CHIP_ESP8266;
    f.has_chip_size = f.has_free_space = f.has_sketch_size = 1;
    f.chip_size = 0x100000u;
    f.sketch_size = old->len;
    f.free_space = fs_start - ((old->len + SECTOR - 1) & ~(SECTOR - 1));
    upd_fit_check(rep, &f, res);
    switch (res->code) {
    case UPD_FIT_OK:
        return OUT_UPDATED;
    case UPD_FIT_NO_SPACE:
    case UPD_FIT_NO_SPACE_ROUNDUP:
        return OUT_REFUSED;
    case UPD_FIT_INFLATE_NO_ROOM:
    case UPD_FIT_INFLATE_OVERRUN:
        return OUT_BRICKED;
    default:
        return OUT_OTHER;
    }
}

static void test_boundary(const char *file, uint32_t old_code)
{
    char path[4096], err[256];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    blob plain = {0};
    plain.data = load(path, &plain.len);
    CHECK(plain.data != NULL);
    if (!plain.data)
        return;
    static upd_file_info fi;
    upd_inspect_buf(plain.data, plain.len, &fi);
    memcpy(plain.md5, fi.md5_hex, 33);

    blob gz = {0};
    size_t gl = 0;
    CHECK_INT(upd_gzip_compress(plain.data, plain.len, &gz.data, &gl, err, sizeof err), ==, 0);
    gz.len = (uint32_t)gl;
    upd_inspect_buf(gz.data, gz.len, &fi);
    memcpy(gz.md5, fi.md5_hex, 33);
    static upd_image_report rep;
    rep = fi.report;
    CHECK_INT(rep.verdict, ==, UPD_VERDICT_OTA_APP);
    CHECK_INT(rep.gzip_min_stage_known, ==, 1);
    CHECK_INT(rep.gzip_isize, ==, plain.len);

    /* the device runs a smaller sketch made by the sim */
    blob old = {0};
    old.data = malloc(old_code + 65536u);
    int32_t on =
        upd_sim_make_image(UPD_SIM_ESP8266, 0x2, old.data, old_code + 65536u, old_code, 5, "1.0.0");
    CHECK(on > 0);
    old.len = (uint32_t)on;
    upd_inspect_buf(old.data, old.len, &fi);
    memcpy(old.md5, fi.md5_hex, 33);

    uint32_t out_sec = (plain.len + SECTOR - 1) / SECTOR, in_sec = (gz.len + SECTOR - 1) / SECTOR;
    uint32_t old_sec = (old.len + SECTOR - 1) / SECTOR;
    uint32_t min_sec = rep.gzip_min_stage / SECTOR, boundary = 0;
    int agree = 0, cases = 0, counts[4] = {0, 0, 0, 0};
    /* every sector-aligned filesystem start a 1 MB layout can have (its end: 0xFB000) */
    for (uint32_t fs = old_sec + in_sec - 2; fs <= 0xFBu; fs++) {
        upd_fit_result res;
        int want = predict(fs * SECTOR, &old, &rep, &res);
        int got = simulate(fs * SECTOR, &old, &gz, plain.md5);
        cases++;
        counts[got]++;
        agree += want == got;
        if (want != got)
            printf("  %s: FS start 0x%x: rule says %s (%s), the simulator %s\n", file,
                   (unsigned)(fs * SECTOR), outcome_name(want), res.explanation, outcome_name(got));
        CHECK_INT(want, ==, got);
        if (want == OUT_UPDATED && !boundary)
            boundary = fs;
    }
    printf("  %s: %u bytes, gzip %u bytes (%u and %u sectors), min stage sector %u (side by "
           "side: %u); running sketch %u sectors; %d FS starts: %d updated, %d refused, %d "
           "bricked, %d other; rule and simulator agree on %d; lowest FS start that updates: "
           "0x%x\n",
           file, (unsigned)plain.len, (unsigned)gz.len, (unsigned)out_sec, (unsigned)in_sec,
           (unsigned)min_sec, (unsigned)out_sec, (unsigned)old_sec, cases, counts[0], counts[1],
           counts[2], counts[3], agree, (unsigned)(boundary * SECTOR));
    CHECK_INT(agree, ==, cases);
    CHECK_INT(counts[OUT_OTHER], ==, 0);
    /* the boundary is the exact min stage: one sector lower bricks, at it updates */
    CHECK(boundary > 0);
    CHECK_INT(boundary, ==, min_sec + in_sec > out_sec ? min_sec + in_sec : out_sec);
    CHECK_INT(simulate(boundary * SECTOR, &old, &gz, plain.md5), ==, OUT_UPDATED);
    CHECK_INT(simulate((boundary - 1) * SECTOR, &old, &gz, plain.md5), ==, OUT_BRICKED);
    /* and the exact limit is lower than "the inflated and the staged image side by side" */
    CHECK_INT(min_sec, <, out_sec);
    free(plain.data);
    free(gz.data);
    free(old.data);
}

/* Tasmota 14.3.0.4 (core 2.7.8), 900528 bytes: built for 1 MB boards, where it can only
 * ever update compressed. */
static void test_tasmota_1m(void)
{
    test_boundary("esp8266-app_tasmota-14.3.0.4-de_core2.7.8_1M.bin", 200000u);
}

/* wbec (core 3.0.2), 773456 bytes. */
static void test_wbec(void)
{
    test_boundary("esp8266-app_wbec_pio-espressif8266-4.0.1_core3.0.2_4M.bin", 100000u);
}

int main(int argc, char **argv)
{
    dir = getenv("UPD_FIRMWARE_DIR");
    if (!dir && argc > 1)
        dir = argv[1];
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/MANIFEST.tsv", dir ? dir : "");
    FILE *f = dir ? fopen(probe, "r") : NULL;
    if (!f) {
        printf("SKIPPED: the real firmware corpus was not found at '%s' (../shared/testdata/"
               "firmware beside the repository); set UPD_FIRMWARE_DIR to run this test\n",
               dir ? dir : "(unset)");
        return 77;
    }
    fclose(f);
    host = upd_sim_host_new(0);
    RUN(test_tasmota_1m);
    RUN(test_wbec);
    upd_sim_host_free(host);
    return upd_test_summary();
}
