/* `updraft inspect FILE...`: what each file is, and whether a device accepts it. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fileinspect.h"
#include "inspect_layout.h"
#include "inspectjson.h"
#include "sbv2.h"
#include "signing.h"
#include "updraft/error.h"
#include "updraft/image.h"

static const char *inspect_usage =
    "usage: updraft inspect [--json] [--allow-fs] [--segments] [--board SIZE [--fs SIZE]]\n"
    "                       [--pubkey KEY] FILE...\n"
    "\n"
    "Says what each firmware file is (ESP8266 Arduino app, gzip-compressed app, ESP32\n"
    "app, boot loader, partition table, filesystem image, merged factory image, HTML page\n"
    "saved as .bin, ...) and whether an ESP8266/ESP32 device would accept it as an\n"
    "over-the-air update. FILE may be - for standard input.\n"
    "\n"
    "  --json       one JSON array with an object per file, for scripts\n"
    "  --allow-fs   count filesystem images (LittleFS) as acceptable too\n"
    "  --segments   list every segment of each image\n"
    "  --board SIZE ESP8266 images: on the core's standard flash layouts of a SIZE board\n"
    "               (512K, 1M, 2M, 4M, 8M, 16M), the largest sketch that can still update\n"
    "               itself, plain and gzip-compressed, and whether this image can\n"
    "  --fs SIZE    with --board: only the layout with a SIZE filesystem (64K, 1M, 0 ...)\n"
    "  --pubkey KEY check each file's signature against the public key KEY (PEM) as an\n"
    "               ESP8266 device holding it does: signed and verifies, signed but does\n"
    "               NOT verify with this key, or unsigned; only the first is acceptable\n"
    "\n"
    "Exit status: 0 when every file is an acceptable OTA application image, 1 when at\n"
    "least one is not, 2 on usage errors or unreadable files.\n";

struct style {
    const char *good, *bad, *dim, *bold, *off;
};

static const char *checksum_word(int8_t ok)
{
    return ok == 1 ? "ok" : ok == 0 ? "MISMATCH" : "not checked";
}

static void print_image(const char *label, const upd_image_info *im, int segments,
                        const struct style *st)
{
    printf("  %-10s at 0x%x: %u segment%s, entry 0x%08x, checksum %s, ends at 0x%x\n", label,
           im->offset, im->segment_count, im->segment_count == 1 ? "" : "s", im->entry,
           checksum_word(im->checksum_ok), im->end);
    if (!segments)
        return;
    for (unsigned i = 0; i < im->segment_count && i < UPD_IMAGE_MAX_SEGMENTS; i++)
        printf("    %sseg %-2u load 0x%08x  %8u bytes at file 0x%x%s\n", st->dim, i,
               im->seg[i].load, im->seg[i].len, im->seg[i].offset, st->off);
}

static void print_hash(const upd_image_info *im)
{
    if (im->esp32 && im->hash_appended)
        printf("  %-10s %s\n", "sha256",
               im->hash_ok == 1   ? "appended, ok"
               : im->hash_ok == 0 ? "appended, MISMATCH"
                                  : "appended, not checked");
}

static void print_notes(const upd_image_report *r)
{
    static const struct {
        uint32_t bit;
        const char *text;
    } notes[] = {
        {UPD_NOTE_CRC_PATCHED_XOR, "app XOR checksum verified with the core 3.x length/CRC "
                                   "words at 0x1010 taken out (as elf2bin writes them)"},
        {UPD_NOTE_UNALIGNED_SEGMENTS, "segment lengths not multiples of 4 (normal for Arduino)"},
        {UPD_NOTE_TRAILING_DATA, "data after the end of the image: the device stores it but "
                                 "does not run it"},
        {UPD_NOTE_SIGNED, "signed image"},
        {UPD_NOTE_NO_APP_DESC, "no esp_app_desc_t (old ESP-IDF): the image does not say its "
                               "version; give it with --version when releasing"},
        {UPD_NOTE_NO_SHA256, "no SHA-256 appended (the boot loader checks only the XOR "
                             "checksum)"},
        {UPD_NOTE_HASH_UNCHECKED, "appended SHA-256 not checked"},
        {UPD_NOTE_PREFIX_ONLY, "only part of the file was available"},
    };
    for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++)
        if (r->notes & notes[i].bit)
            printf("  %-10s %s\n", "note", notes[i].text);
}

static void print_sig(const upd_sigview *v, const struct style *st)
{
    if (v->esp32) {
        printf("  %-10s %s\n", "secboot v2", v->sb_why);
        for (int i = 0; i < v->sb.nblocks; i++) {
            const upd_sbv2_block *b = &v->sb.b[i];
            printf("  %-10s block %d at 0x%x: %s, CRC %s, image digest %s, signature %s%s%s\n", "",
                   i, v->sb.sector + (uint32_t)i * 1216u, b->scheme,
                   b->crc_ok == 1 ? "ok" : "MISMATCH", b->digest_ok == 1 ? "ok" : "MISMATCH",
                   b->sig_ok == 1   ? "verifies"
                   : b->sig_ok == 0 ? "does NOT verify"
                                    : "not checked",
                   b->key_digest[0] ? ", key digest " : "", b->key_digest);
        }
    }
    if (v->key) {
        printf("  %-10s %s%s%s\n", "signature", v->status == UPD_SIG_VERIFIES ? st->good : st->bad,
               v->why, st->off);
        printf("  %-10s %s, id %s\n", "pubkey", v->key, v->key_id);
    } else if (v->len) {
        printf("  %-10s %u-byte signature", "signature", v->len);
        if (v->len == 128 || v->len == 256 || v->len == 384 || v->len == 512)
            printf(" (an RSA-%u key's)", v->len * 8u);
        printf(", not checked: --pubkey KEY checks it against the devices' key\n");
    }
}

/* The bytes of a file for the signature check: mapped (*mapped set) or, for standard
 * input, read into memory. NULL when it cannot be read (the inspection says why). */
static uint8_t *file_bytes(const char *name, size_t *len, int *mapped)
{
    *mapped = 0;
    *len = 0;
    if (!strcmp(name, "-")) {
        size_t cap = 1u << 20, n = 0;
        uint8_t *b = malloc(cap);
        for (ssize_t k; b && (k = read(STDIN_FILENO, b + n, cap - n)) > 0;) {
            n += (size_t)k;
            if (n == cap) {
                uint8_t *nb = cap < (256u << 20) ? realloc(b, cap * 2) : NULL;
                if (!nb) {
                    free(b);
                    return NULL;
                }
                b = nb;
                cap *= 2;
            }
        }
        *len = n;
        return b;
    }
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return NULL;
    void *p = MAP_FAILED;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return NULL;
    *len = (size_t)st.st_size;
    *mapped = 1;
    return p;
}

static void print_human(const char *name, const upd_file_info *fi, int allow_fs, int segments,
                        const upd_sigview *sv, const struct style *st)
{
    const upd_image_report *r = &fi->report;
    int ok = upd_inspect_acceptable(r, allow_fs) && upd_sig_acceptable(sv);
    printf("%s%s%s\n", st->bold, name, st->off);
    printf("  %-10s %s%s%s: %s\n", "verdict", ok ? st->good : st->bad, upd_verdict_name(r->verdict),
           st->off, r->reason);
    printf("  %-10s %s", "kind", upd_kind_slug(r->kind));
    if (r->gzip && fi->has_inner)
        printf(" (holding %s)", upd_kind_slug(fi->inner.kind));
    printf("\n");
    if (r->error)
        printf("  %-10s %s\n", "error", upd_err_name(r->error));
    if (r->platform != UPD_PLATFORM_UNKNOWN) {
        const char *chip = upd_chip_name(r->chip);
        printf("  %-10s %s%s%s%s\n", "platform", upd_platform_name(r->platform), chip ? " (" : "",
               chip ? chip : "", chip ? ")" : "");
    }
    if (r->has_app || r->has_boot) {
        printf("  %-10s ", "flash");
        if (r->flash_size >= 1048576u)
            printf("%u MiB", r->flash_size / 1048576u);
        else if (r->flash_size)
            printf("%u KiB", r->flash_size / 1024u);
        printf("%s%s", r->flash_size ? ", " : "", upd_flash_mode_name(r->flash_mode));
        if (upd_flash_freq_mhz(r->flash_freq_code))
            printf(", %u MHz", upd_flash_freq_mhz(r->flash_freq_code));
        printf("\n");
    }
    printf("  %-10s %llu bytes", "size", (unsigned long long)fi->size);
    if (fi->has_inner)
        printf(" (gzip; %llu bytes unpacked)", (unsigned long long)fi->inner_size);
    printf("\n");
    if (r->gzip && r->gzip_name[0])
        printf("  %-10s '%s'\n", "gzip name", r->gzip_name);
    printf("  %-10s %s\n", "md5", fi->md5_hex);
    printf("  %-10s %s\n", "sha256", fi->sha256_hex);
    if (r->has_boot) {
        print_image("boot", &r->boot, segments, st);
        print_hash(&r->boot);
    }
    if (r->has_app) {
        print_image("app", &r->app, segments, st);
        print_hash(&r->app);
    }
    if (r->crc_offset)
        printf("  %-10s length/CRC-32 at 0x%x: %s (0x%08x)\n", "crc", r->crc_offset,
               r->crc_stored == r->crc_calc ? "ok" : "MISMATCH", r->crc_stored);
    if (r->desc.present) {
        printf("  %-10s version '%s', project '%s', ESP-IDF '%s', built '%s %s', "
               "secure_version %u\n",
               "app desc", r->desc.version, r->desc.project, r->desc.idf_ver, r->desc.date,
               r->desc.time, r->desc.secure_version);
    }
    for (unsigned i = 0; i < r->app_part_count; i++)
        printf("  %-10s app partition at 0x%x, %u bytes\n", "partition", r->app_part_offset[i],
               r->app_part_size[i]);
    print_notes(r);
    print_sig(sv, st);
}

int upd_cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},     {"board", required_argument, NULL, 'b'},
        {"fs", required_argument, NULL, 'F'}, {"allow-fs", no_argument, NULL, 'f'},
        {"segments", no_argument, NULL, 's'}, {"pubkey", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},     {NULL, 0, NULL, 0}};
    int json = 0, allow_fs = 0, segments = 0, c;
    uint32_t board = 0, fs_size = UINT32_MAX;
    const char *fs_arg = NULL, *pubkey = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "jfsh", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (upd__parse_size(optarg, &board) != 0 || board == 0) {
                fprintf(stderr,
                        "updraft inspect: --board %s: give the flash size: 512K, 1M, 2M, 4M, "
                        "8M or 16M\n",
                        optarg);
                return 2;
            }
            break;
        case 'F':
            fs_arg = optarg;
            if (upd__parse_size(optarg, &fs_size) != 0) {
                fprintf(stderr,
                        "updraft inspect: --fs %s: give the filesystem size in bytes or with K "
                        "or M (64K, 1M, 0)\n",
                        optarg);
                return 2;
            }
            break;
        case 'j':
            json = 1;
            break;
        case 'k':
            pubkey = optarg;
            break;
        case 'f':
            allow_fs = 1;
            break;
        case 's':
            segments = 1;
            break;
        case 'h':
            fputs(inspect_usage, stdout);
            return 0;
        default:
            fputs(inspect_usage, stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "updraft inspect: name at least one file\n\n%s", inspect_usage);
        return 2;
    }
    if (fs_arg && !board) {
        fprintf(stderr, "updraft inspect: --fs %s needs --board (the flash size it is on)\n",
                fs_arg);
        return 2;
    }
    if (board) {
        char berr[256];
        if (upd__layout_check(board, fs_size, berr, sizeof berr) != 0) {
            fprintf(stderr, "updraft inspect: %s\n", berr);
            return 2;
        }
    }
    upd_sig_key *key = NULL;
    if (pubkey) {
        char kerr[1024];
        if (upd_sig_load_public(pubkey, &key, kerr, sizeof kerr) != 0) {
            fprintf(stderr, "updraft inspect: --pubkey %s\n", kerr);
            return 2;
        }
    }
    int tty = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    struct style st = tty ? (struct style){"\033[32m", "\033[31m", "\033[2m", "\033[1m", "\033[0m"}
                          : (struct style){"", "", "", "", ""};
    upd_file_info *fi = malloc(sizeof *fi);
    if (!fi) {
        fprintf(stderr, "updraft inspect: out of memory\n");
        upd_sig_key_free(key);
        return 2;
    }
    cJSON *all = json ? cJSON_CreateArray() : NULL;
    int status = 0;
    for (int i = optind; i < argc; i++) {
        char err[512];
        const char *name = argv[i];
        size_t blen = 0;
        int mapped = 0;
        /* standard input is read here only when its bytes are needed again */
        uint8_t *bytes = strcmp(name, "-") || key ? file_bytes(name, &blen, &mapped) : NULL;
        int rc;
        if (!strcmp(name, "-") && key) {
            rc = bytes ? 0 : -1;
            if (bytes)
                upd_inspect_buf(bytes, blen, fi);
            else
                snprintf(err, sizeof err, "cannot read standard input");
        } else
            rc = !strcmp(name, "-") ? upd_inspect_fd(STDIN_FILENO, "(stdin)", fi, err, sizeof err)
                                    : upd_inspect_file(name, fi, err, sizeof err);
        upd_sigview sv;
        upd_sig_view(&fi->report, bytes, blen, key, &sv);
        if (mapped)
            munmap(bytes, blen);
        else
            free(bytes);
        if (rc != 0) {
            fprintf(stderr, "updraft inspect: %s\n", err);
            status = 2;
            if (json) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "file", name);
                cJSON_AddBoolToObject(o, "acceptable", 0);
                cJSON_AddStringToObject(o, "read_error", err);
                cJSON_AddItemToArray(all, o);
            }
            continue;
        }
        if ((!upd_inspect_acceptable(&fi->report, allow_fs) || !upd_sig_acceptable(&sv)) &&
            status == 0)
            status = 1;
        upd_layout_ctx lc;
        upd__layout_ctx(fi, strcmp(name, "-") ? name : NULL, &lc);
        if (json) {
            cJSON *o = upd_inspect_json(name, fi, allow_fs, &sv);
            upd__layout_json(o, fi, &lc, board, fs_size);
            cJSON_AddItemToArray(all, o);
        } else {
            if (i > optind)
                printf("\n");
            print_human(name, fi, allow_fs, segments, &sv, &st);
            upd__layout_print(fi, &lc, board, fs_size);
        }
    }
    if (json) {
        char *text = cJSON_Print(all);
        if (text) {
            puts(text);
            cJSON_free(text);
        }
        cJSON_Delete(all);
    }
    free(fi);
    upd_sig_key_free(key);
    return status;
}
