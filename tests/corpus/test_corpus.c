/* The real firmware corpus (shared/testdata/firmware, read in place, never copied):
 * every file must be classified as its MANIFEST.tsv `kind` says, with the manifest's
 * size, SHA-256, flash mode, entry point, chip and app description, and every file
 * that is not an app must be refused with a message that names it and says what to
 * upload instead. Exits 77 (ctest: skipped) with a clear message when the corpus
 * folder is absent, as on a user's fresh clone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileinspect.h"
#include "upd_test.h"
#include "updraft/error.h"
#include "updraft/fit.h"
#include "updraft/image.h"

#define MAX_COLS 24

static const char *dir;

/* Split a TSV line in place. */
static int split(char *line, char **cols)
{
    int n = 0;
    char *p = line;
    while (n < MAX_COLS) {
        cols[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    char *nl = strpbrk(cols[n - 1], "\r\n");
    if (nl)
        *nl = '\0';
    return n;
}

static int col(char **names, int n, const char *want)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], want))
            return i;
    printf("  MANIFEST.tsv has no column '%s'\n", want);
    exit(1);
}

/* The manifest writes strings as 'text'; give the text between the quotes. */
static const char *unquote(const char *s, char *buf, size_t cap)
{
    const char *a = strchr(s, '\'');
    const char *b = a ? strrchr(s, '\'') : NULL;
    if (!a || b == a) {
        snprintf(buf, cap, "%s", s);
        return buf;
    }
    snprintf(buf, cap, "%.*s", (int)(b - a - 1), a + 1);
    return buf;
}

/* Words the refusal message must contain for each manifest kind. */
static const char *kind_word(const char *kind, const char *file)
{
    if (!strcmp(kind, "bootloader"))
        return "boot loader";
    if (!strcmp(kind, "init-data"))
        return "init data";
    if (!strcmp(kind, "partition-table"))
        return "partition table";
    if (!strcmp(kind, "fs-image"))
        return "LittleFS";
    if (!strcmp(kind, "merged-factory"))
        return "merged factory";
    if (strstr(file, "nonos-sdk"))
        return "NONOS SDK";
    if (strstr(file, "flat-image"))
        return "whole-flash";
    return "";
}

static int matches_kind(const char *kind, const upd_file_info *fi)
{
    const upd_image_report *r = &fi->report;
    if (!strcmp(kind, "esp8266-app"))
        return r->kind == UPD_KIND_ESP8266_APP && r->verdict == UPD_VERDICT_OTA_APP;
    if (!strcmp(kind, "esp8266-app-gz"))
        return r->kind == UPD_KIND_GZIP && fi->has_inner &&
               fi->inner.kind == UPD_KIND_ESP8266_APP && r->verdict == UPD_VERDICT_OTA_APP;
    if (!strcmp(kind, "esp32-app"))
        return r->kind == UPD_KIND_ESP32_APP && r->verdict == UPD_VERDICT_OTA_APP;
    if (!strcmp(kind, "bootloader"))
        return (r->kind == UPD_KIND_ESP8266_BOOTLOADER || r->kind == UPD_KIND_ESP32_BOOTLOADER) &&
               r->verdict == UPD_VERDICT_REJECTED;
    if (!strcmp(kind, "init-data"))
        return r->kind == UPD_KIND_INIT_DATA && r->verdict == UPD_VERDICT_REJECTED;
    if (!strcmp(kind, "partition-table"))
        return r->kind == UPD_KIND_PARTITION_TABLE && r->verdict == UPD_VERDICT_REJECTED;
    if (!strcmp(kind, "fs-image"))
        return (r->kind == UPD_KIND_LITTLEFS || r->kind == UPD_KIND_SPIFFS) &&
               r->verdict == UPD_VERDICT_FS_IMAGE;
    if (!strcmp(kind, "merged-factory"))
        return r->kind == UPD_KIND_MERGED_FACTORY && r->verdict == UPD_VERDICT_REJECTED;
    if (!strcmp(kind, "other"))
        return r->verdict == UPD_VERDICT_REJECTED && r->kind != UPD_KIND_UNKNOWN;
    printf("  unknown manifest kind '%s'\n", kind);
    return 0;
}

static upd_file_info fi;

static void test_manifest(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/MANIFEST.tsv", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f)
        return;
    static char header[8192], line[8192];
    char *names[MAX_COLS], *c[MAX_COLS];
    CHECK(fgets(header, sizeof header, f) != NULL);
    int nn = split(header, names);
    int c_file = col(names, nn, "file"), c_kind = col(names, nn, "kind");
    int c_size = col(names, nn, "size"), c_sha = col(names, nn, "sha256");
    int c_mode = col(names, nn, "flash_mode"), c_chip = col(names, nn, "chip_id");
    int c_entry = col(names, nn, "entry"), c_hash = col(names, nn, "sha256_appended");
    int c_proj = col(names, nn, "app_desc_project"), c_ver = col(names, nn, "app_desc_version");
    int c_idf = col(names, nn, "app_desc_idf");
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        int n = split(line, c);
        if (n < nn || !c[c_file][0])
            continue;
        rows++;
        const char *file = c[c_file], *kind = c[c_kind];
        char err[512], buf[128];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        int rc = upd_inspect_file(path, &fi, err, sizeof err);
        CHECK_INT(rc, ==, 0);
        if (rc) {
            printf("  %s\n", err);
            continue;
        }
        const upd_image_report *r = &fi.report;
        printf("  %-72s %-15s -> %s/%s\n", file, kind, upd_kind_slug(r->kind),
               upd_verdict_name(r->verdict));
        if (!matches_kind(kind, &fi))
            printf("  FAIL %s: manifest kind %s, got kind %s verdict %s: %s\n", file, kind,
                   upd_kind_slug(r->kind), upd_verdict_name(r->verdict), r->reason);
        CHECK(matches_kind(kind, &fi));
        CHECK_INT(fi.size, ==, strtoull(c[c_size], NULL, 10));
        CHECK_STR(fi.sha256_hex, c[c_sha]);
        CHECK(r->reason[0] != '\0');
        if (r->verdict == UPD_VERDICT_REJECTED) {
            /* the message names what the file is and what to upload instead */
            CHECK_CONTAINS(r->reason, kind_word(kind, file));
            CHECK_CONTAINS(r->reason, "upload");
            CHECK(r->error < 0);
        } else {
            CHECK_INT(r->error, ==, 0);
        }
        int image = !strcmp(kind, "esp8266-app") || !strcmp(kind, "esp8266-app-gz") ||
                    !strcmp(kind, "esp32-app");
        if (image) {
            CHECK_STR(upd_flash_mode_name(r->flash_mode), c[c_mode]);
            /* entry column: "0x400828a0", or "0x4010f45c / app 0x401000b8" */
            const char *app_entry = strstr(c[c_entry], "app ");
            unsigned long entry = strtoul(app_entry ? app_entry + 4 : c[c_entry], NULL, 16);
            CHECK_INT(r->app.entry, ==, entry);
            CHECK_INT(r->app.checksum_ok, ==, 1);
        }
        if (!strcmp(kind, "esp32-app")) {
            CHECK_INT(r->chip, ==, strtol(c[c_chip], NULL, 10));
            CHECK_INT(r->app.hash_appended, ==, strcmp(c[c_hash], "ok") == 0);
            if (r->app.hash_appended)
                CHECK_INT(r->app.hash_ok, ==, 1);
            int has_desc = strcmp(c[c_proj], "none") != 0;
            CHECK_INT(r->desc.present, ==, has_desc);
            if (has_desc) {
                CHECK_STR(r->desc.project, unquote(c[c_proj], buf, sizeof buf));
                CHECK_STR(r->desc.version, unquote(c[c_ver], buf, sizeof buf));
                CHECK_STR(r->desc.idf_ver, unquote(c[c_idf], buf, sizeof buf));
            }
        }
        if (!strcmp(kind, "esp8266-app") || !strcmp(kind, "esp8266-app-gz"))
            CHECK_INT(r->chip, ==, UPD_CHIP_ESP8266);
    }
    fclose(f);
    printf("  %d manifest rows checked\n", rows);
    CHECK_INT(rows, >=, 20);
}

/* The traps the corpus README names, checked one by one. */
static void test_known_traps(void)
{
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/%s", dir,
             "esp8266-app_wbec_pio-espressif8266-4.0.1_core3.0.2_4M.bin");
    if (upd_inspect_file(path, &fi, err, sizeof err) == 0) {
        CHECK_INT(fi.report.crc_offset, ==, 0x1010);
        CHECK(fi.report.notes & UPD_NOTE_CRC_PATCHED_XOR);
        CHECK(fi.report.notes & UPD_NOTE_UNALIGNED_SEGMENTS);
        CHECK_INT(fi.report.boot.segment_count, ==, 2);
    } else {
        CHECK(0);
    }
    snprintf(path, sizeof path, "%s/%s", dir, "esp8266-app_tasmota-14.3.0.4-de_core2.7.8_1M.bin");
    if (upd_inspect_file(path, &fi, err, sizeof err) == 0) {
        CHECK_INT(fi.report.crc_offset, ==, 0xFF8);
        CHECK_INT(fi.report.crc_stored, ==, 0x4c7899f6u);
        CHECK(!(fi.report.notes & UPD_NOTE_CRC_PATCHED_XOR));
    } else {
        CHECK(0);
    }
    snprintf(path, sizeof path, "%s/%s", dir,
             "esp32c3-merged-factory_tasmota32c3-14.3.0.4-de_starts-with-E9.factory.bin");
    if (upd_inspect_file(path, &fi, err, sizeof err) == 0) {
        CHECK_INT(fi.report.chip, ==, UPD_CHIP_ESP32C3);
        CHECK_INT(fi.report.app_part_count, >=, 1);
        CHECK_INT(fi.report.app_part_offset[0], ==, 0xE0000);
        CHECK_CONTAINS(fi.report.reason, "0xe0000");
    } else {
        CHECK(0);
    }
    snprintf(path, sizeof path, "%s/%s", dir, "esp32-app_tasmota32-2020_idf3.x_no-app-desc.bin");
    if (upd_inspect_file(path, &fi, err, sizeof err) == 0)
        CHECK(fi.report.notes & UPD_NOTE_NO_APP_DESC);
    else
        CHECK(0);
    snprintf(path, sizeof path, "%s/%s", dir,
             "esp32-app_tasmota32-release-2022_idf4.4.3_no-sha256.bin");
    if (upd_inspect_file(path, &fi, err, sizeof err) == 0)
        CHECK(fi.report.notes & UPD_NOTE_NO_SHA256);
    else
        CHECK(0);
}

/* Whether each ESP8266 Arduino image's eboot inflates gzip (image.h): 2.5.x and the esptool
 * test image carry the 1384-byte eboot without the inflater, 2.7.x and 3.0.x the ones with
 * it. Every esp8266-app(-gz) row of the manifest must be listed here, so that a new corpus
 * file needs a decision. */
static const struct {
    const char *file;
    int inflates;
} eboots[] = {
    {"esp8266-app_tasmota-14.3.0.4-de_core2.7.8_1M.bin", 1},
    {"esp8266-app-gz_tasmota-14.3.0.4-de_core2.7.8_1M.bin.gz", 1},
    {"esp8266-app-gz_tasmota-minimal_release-2022_core2.7.4.9_1M.bin.gz", 1},
    {"esp8266-app_wbec_pio-espressif8266-4.0.1_core3.0.2_4M.bin", 1},
    {"esp8266-app_milight-hub_pio-d1mini_core2.5.x_4M.bin", 0},
    {"esp8266-app_esptool-testimage_arduino-deepsleep_4M.bin", 0},
};

static void test_eboot_inflates(void)
{
    char path[4096], line[8192], err[512];
    snprintf(path, sizeof path, "%s/MANIFEST.tsv", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f)
        return;
    int seen = 0;
    while (fgets(line, sizeof line, f)) {
        char *cols[MAX_COLS];
        int n = split(line, cols);
        if (n < 6 || strncmp(cols[5], "esp8266-app", 11) != 0)
            continue;
        int want = -1;
        for (size_t i = 0; i < sizeof eboots / sizeof eboots[0]; i++)
            if (!strcmp(eboots[i].file, cols[0]))
                want = eboots[i].inflates;
        if (want < 0)
            printf("  %s: not in the eboot table of test_corpus.c\n", cols[0]);
        CHECK(want >= 0);
        snprintf(path, sizeof path, "%s/%s", dir, cols[0]);
        if (upd_inspect_file(path, &fi, err, sizeof err) != 0) {
            printf("  %s: %s\n", cols[0], err);
            CHECK(0);
            continue;
        }
        CHECK_INT(fi.report.eboot_inflates, ==, want);
        if (fi.report.eboot_inflates != want)
            printf("    %s\n", cols[0]);
        seen++;
    }
    fclose(f);
    CHECK_INT(seen, ==, (int)(sizeof eboots / sizeof eboots[0]));
}

/* The real LittleFS image (1024000 bytes = 0xFA000) against the filesystem area the
 * rules compute from a request: it fills 4m1m's and 2m1m's exactly, and is refused with
 * -100 and the area's numbers everywhere smaller. */
static void test_littlefs_area(void)
{
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, "esp8266-littlefs_wbec_1000K.bin");
    if (upd_inspect_file(path, &fi, err, sizeof err) != 0) {
        printf("  %s\n", err);
        CHECK(0);
        return;
    }
    CHECK_INT(fi.report.size, ==, 1024000);
    CHECK_INT(fi.report.verdict, ==, UPD_VERDICT_FS_IMAGE);
    static const struct {
        uint32_t chip, fs_start;
        int ok;
    } cases[] = {
        {4u << 20, 0x300000u, 1}, /* 4m1m: 0x300000..0x3FA000 */
        {2u << 20, 0x100000u, 1}, /* 2m1m: 0x100000..0x1FA000 */
        {4u << 20, 0x200000u, 1}, /* 4m2m */
        {4u << 20, 0x301000u, 0}, /* one sector less than 4m1m (not a standard layout) */
        {2u << 20, 0x180000u, 0}, /* 2m512 */
        {1u << 20, 0x7B000u, 0},  /* 1m512 */
        {4u << 20, 0x3FB000u, 0}, /* 4m: no filesystem */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        upd_device_facts dev;
        memset(&dev, 0, sizeof dev);
        dev.client = UPD_CLIENT_ESP8266_ARDUINO;
        dev.mode = UPD_MODE_FS;
        dev.chip = UPD_CHIP_ESP8266;
        dev.has_sketch_size = dev.has_free_space = dev.has_chip_size = 1;
        dev.sketch_size = 400000; /* roundup: 401408 */
        dev.free_space = cases[i].fs_start - 401408u;
        dev.chip_size = cases[i].chip;
        upd_fit_result res;
        int rc = upd_fit_check(&fi.report, &dev, &res);
        CHECK_INT(rc, ==, cases[i].ok ? 0 : UPD_ENOFIT);
        CHECK_INT(res.http_error, ==, cases[i].ok ? 0 : -100);
        if (!cases[i].ok) {
            CHECK_CONTAINS(res.explanation, "1024000");
            CHECK_CONTAINS(res.explanation, "-100");
        }
        if (rc != (cases[i].ok ? 0 : UPD_ENOFIT))
            printf("    case %u: %s\n", (unsigned)i, res.explanation);
    }
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
        printf("SKIPPED: the real firmware corpus was not found at '%s' (it lives in "
               "../shared/testdata/firmware beside the repository, which a user's clone does "
               "not have); set UPD_FIRMWARE_DIR to run these tests\n",
               dir ? dir : "(unset)");
        return 77;
    }
    fclose(f);
    RUN(test_manifest);
    RUN(test_known_traps);
    RUN(test_eboot_inflates);
    RUN(test_littlefs_area);
    return upd_test_summary();
}
