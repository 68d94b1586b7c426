/* `updraft keygen` and `updraft sign`: key pairs, and images signed the way the ESP8266
 * Arduino core verifies them (src/host/signing.h, docs/signing.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cliutil.h"
#include "fileinspect.h"
#include "signing.h"

static const char KEYGEN_HELP[] =
    "usage: updraft keygen KEYFILE [--type TYPE] [--pub PUBFILE] [--force]\n"
    "\n"
    "Make a key pair for signed updates: the private key in KEYFILE (PEM, PKCS#8, file\n"
    "mode 0600: keep it off the devices and out of version control) and the public key in\n"
    "PUBFILE (PEM 'PUBLIC KEY', default KEYFILE.pub): the key devices hold\n"
    "(BearSSL::PublicKey in the sketch, or the core's build signs automatically with\n"
    "private.key and public.key in the sketch folder), and the key a channel requires\n"
    "('updraft channel set CHANNEL --require-signed PUBFILE').\n"
    "\n"
    "  --type TYPE   rsa2048 (default), rsa3072, or ecdsa-p256. The ESP8266 Arduino core\n"
    "                verifies RSA only: 'updraft sign' refuses ECDSA keys. ECDSA P-256 and\n"
    "                RSA-3072 keys also serve ESP-IDF Secure Boot v2 (signed with espsecure)\n"
    "  --pub PUBFILE where the public key goes (default KEYFILE.pub)\n"
    "  --force       replace existing files (without it an existing file is never touched)\n"
    "\n"
    "Exit status: 0 when both files were written, 1 when they could not be, 2 on usage\n"
    "errors.\n";

static const char SIGN_HELP[] =
    "usage: updraft sign FILE --key KEYFILE [-o OUT] [--force]\n"
    "\n"
    "Sign a firmware image for ESP8266 devices that verify updates (the Arduino core's\n"
    "Update.installSignature, or the core's automatic signing): OUT is FILE, then the\n"
    "RSASSA-PKCS1-v1_5 SHA-256 signature of FILE, then the signature's length as 4 bytes\n"
    "little-endian, the format the core's Updater checks (byte for byte what the core's\n"
    "tools/signing.py makes for an RSA-2048 key; for RSA-3072 that script writes a wrong\n"
    "length word, updraft the right one). Sign the file devices download: for a gzip\n"
    "update, compress first, then sign the .bin.gz. The signature is checked with the\n"
    "key's public half before OUT is written.\n"
    "\n"
    "  --key KEYFILE the PEM private key (RSA-2048 or RSA-3072; 'updraft keygen' makes one)\n"
    "  -o, --out OUT where the signed image goes (default FILE.signed)\n"
    "  --force       replace OUT when it exists\n"
    "\n"
    "Exit status: 0 when OUT was written, 1 when FILE cannot be signed (not an image a\n"
    "device takes, already signed, an ECDSA key), 2 on usage errors or unreadable files.\n";

static int usage_error(const char *cmd, const char *help, const char *msg)
{
    fprintf(stderr, "updraft %s: %s\n\n%s", cmd, msg, help);
    return 2;
}

int upd_cmd_keygen(int argc, char **argv)
{
    static const char *const known[] = {"--type", "--pub", "--force", "--help", NULL};
    if (upd_cli_flag(&argc, argv, "--help") || upd_cli_flag(&argc, argv, "-h")) {
        fputs(KEYGEN_HELP, stdout);
        return 0;
    }
    int bad = 0;
    const char *type = upd_cli_opt(&argc, argv, "keygen", "--type", &bad);
    const char *pub = upd_cli_opt(&argc, argv, "keygen", "--pub", &bad);
    int force = upd_cli_flag(&argc, argv, "--force");
    if (bad || upd_cli_unknown_options(argc, argv, "keygen", known))
        return 2;
    if (argc != 2)
        return usage_error("keygen", KEYGEN_HELP, "name the private key file to write");
    upd_keytype t = UPD_KEY_RSA2048;
    char msg[4200];
    if (type && upd_keytype_parse(type, &t) != 0) {
        snprintf(msg, sizeof msg, "--type %s: give rsa2048, rsa3072 or ecdsa-p256", type);
        return usage_error("keygen", KEYGEN_HELP, msg);
    }
    const char *keyfile = argv[1];
    char pubbuf[4096];
    if (!pub) {
        snprintf(pubbuf, sizeof pubbuf, "%s.pub", keyfile);
        pub = pubbuf;
    }
    if (!strcmp(pub, keyfile)) {
        snprintf(msg, sizeof msg, "--pub %s is the private key's file: give another name", pub);
        return usage_error("keygen", KEYGEN_HELP, msg);
    }
    /* both names are checked first: never one file written and the other refused */
    const char *names[2] = {keyfile, pub};
    for (int i = 0; i < 2 && !force; i++)
        if (access(names[i], F_OK) == 0) {
            fprintf(stderr,
                    "updraft keygen: %s exists: it is left as it is (a key devices hold cannot "
                    "be made again); choose another name, or pass --force to replace it\n",
                    names[i]);
            return 1;
        }
    char err[512], *priv_pem = NULL, *pub_pem = NULL;
    if (upd_sig_keygen(t, &priv_pem, &pub_pem, err, sizeof err) != 0) {
        fprintf(stderr, "updraft keygen: %s\n", err);
        return 1;
    }
    size_t plen = strlen(priv_pem);
    int rc = upd_sig_write_file(keyfile, priv_pem, plen, 0600, force);
    int e = errno;
    explicit_bzero(priv_pem, plen);
    free(priv_pem);
    if (rc != 0) {
        fprintf(stderr, "updraft keygen: cannot write %s: %s\n", keyfile, strerror(e));
        free(pub_pem);
        return 1;
    }
    mode_t um = umask(0);
    umask(um);
    if (upd_sig_write_file(pub, pub_pem, strlen(pub_pem), 0644 & ~um, force) != 0) {
        e = errno;
        fprintf(stderr, "updraft keygen: cannot write %s: %s (removed %s again)\n", pub,
                strerror(e), keyfile);
        unlink(keyfile);
        free(pub_pem);
        return 1;
    }
    upd_sig_key *k = NULL;
    char id[65] = "";
    if (upd_sig_public_from_pem(pub_pem, strlen(pub_pem), pub, &k, err, sizeof err) == 0)
        upd_sig_key_id(k, id);
    printf("wrote %s (%s private key, mode 0600) and %s (its public key)\nkey id %s\n", keyfile,
           k ? upd_sig_key_desc(k) : "?", pub, id);
    if (t == UPD_KEY_ECDSA_P256)
        printf("note: ESP8266 devices verify RSA signatures only; 'updraft sign' takes RSA keys. "
               "Use this key for ESP-IDF Secure Boot v2 (espsecure).\n");
    upd_sig_key_free(k);
    free(pub_pem);
    return 0;
}

/* The whole file in memory (mmap); NULL with a message said. */
static uint8_t *map_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "updraft sign: cannot open %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size == 0) {
        fprintf(stderr, "updraft sign: %s is %s: give a firmware file\n", path,
                S_ISREG(st.st_mode) ? "empty" : "not a regular file");
        close(fd);
        return NULL;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        fprintf(stderr, "updraft sign: cannot read %s: %s\n", path, strerror(errno));
        return NULL;
    }
    *len = (size_t)st.st_size;
    return p;
}

int upd_cmd_sign(int argc, char **argv)
{
    static const char *const known[] = {"--key", "--out", "-o", "--force", "--help", NULL};
    if (upd_cli_flag(&argc, argv, "--help") || upd_cli_flag(&argc, argv, "-h")) {
        fputs(SIGN_HELP, stdout);
        return 0;
    }
    int bad = 0;
    const char *keyfile = upd_cli_opt(&argc, argv, "sign", "--key", &bad);
    const char *out = upd_cli_opt(&argc, argv, "sign", "--out", &bad);
    const char *o2 = upd_cli_opt(&argc, argv, "sign", "-o", &bad);
    int force = upd_cli_flag(&argc, argv, "--force");
    if (bad || upd_cli_unknown_options(argc, argv, "sign", known))
        return 2;
    if (o2)
        out = o2;
    if (argc != 2)
        return usage_error("sign", SIGN_HELP, "name one firmware file to sign");
    if (!keyfile)
        return usage_error("sign", SIGN_HELP,
                           "give the private key: --key KEYFILE ('updraft keygen KEYFILE' "
                           "makes one)");
    const char *file = argv[1];
    char outbuf[4096], err[1024];
    if (!out) {
        snprintf(outbuf, sizeof outbuf, "%s.signed", file);
        out = outbuf;
    }
    if (!force && access(out, F_OK) == 0) {
        fprintf(stderr,
                "updraft sign: %s exists: choose another name with -o, or pass --force "
                "to replace it\n",
                out);
        return 1;
    }
    upd_sig_key *k = NULL;
    if (upd_sig_load_private(keyfile, &k, err, sizeof err) != 0) {
        fprintf(stderr, "updraft sign: --key %s\n", err);
        return 2;
    }
    size_t len = 0;
    uint8_t *data = map_file(file, &len);
    if (!data) {
        upd_sig_key_free(k);
        return 2;
    }
    int status = 1;
    uint8_t *signed_buf = NULL;
    upd_file_info *fi = malloc(sizeof *fi);
    if (!fi) {
        fprintf(stderr, "updraft sign: out of memory\n");
        goto done;
    }
    /* only what a device takes is worth signing */
    upd_inspect_buf(data, len, fi);
    const upd_image_report *r = &fi->report;
    if (r->verdict != UPD_VERDICT_OTA_APP && r->verdict != UPD_VERDICT_FS_IMAGE) {
        fprintf(stderr, "updraft sign: %s is not an image a device installs: %s\n", file,
                r->reason);
        goto done;
    }
    uint32_t sl = 0;
    size_t plen = 0;
    if (r->sig_len || upd_sig_trailer(data, len, &sl, &plen)) {
        char why[512];
        int st = r->sig_len || r->gzip ? upd_sig_check(k, data, len, why, sizeof why) : -1;
        if (r->sig_len || st == UPD_SIG_VERIFIES) {
            fprintf(stderr,
                    "updraft sign: %s is signed already (%u-byte signature%s): a device "
                    "verifies only the last signature; sign the unsigned image\n",
                    file, r->sig_len ? r->sig_len : sl,
                    st == UPD_SIG_VERIFIES ? ", by this key" : "");
            goto done;
        }
    }
    uint8_t sig[1024];
    size_t siglen = 0;
    int rc = upd_sig_sign(k, data, len, sig, sizeof sig, &siglen, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "updraft sign: --key %s: %s\n", keyfile, err);
        goto done;
    }
    size_t total = len + siglen + 4;
    signed_buf = malloc(total);
    if (!signed_buf) {
        fprintf(stderr, "updraft sign: out of memory\n");
        goto done;
    }
    memcpy(signed_buf, data, len);
    memcpy(signed_buf + len, sig, siglen);
    for (int i = 0; i < 4; i++)
        signed_buf[len + siglen + (size_t)i] = (uint8_t)(siglen >> (8 * i));
    char why[512];
    if (upd_sig_check(k, signed_buf, total, why, sizeof why) != UPD_SIG_VERIFIES) {
        fprintf(stderr, "updraft sign: the signature made does not verify (%s); nothing written\n",
                why);
        goto done;
    }
    mode_t um = umask(0);
    umask(um);
    if (upd_sig_write_file(out, signed_buf, total, 0644 & ~um, force) != 0) {
        fprintf(stderr, "updraft sign: cannot write %s: %s\n", out, strerror(errno));
        goto done;
    }
    char id[65] = "";
    upd_sig_key_id(k, id);
    printf("%s: %zu bytes signed with %s (%s key, id %.16s...) into %s: %zu bytes (image, "
           "%zu-byte signature, 4-byte length)\n",
           file, len, keyfile, upd_sig_key_desc(k), id, out, total, siglen);
    status = 0;
done:
    free(signed_buf);
    free(fi);
    munmap(data, len);
    upd_sig_key_free(k);
    return status;
}
