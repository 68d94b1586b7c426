/* The device engine (UPD_CLIENT_WITH_SIGN) with a real RSA verifier on the host: the
 * port's crypto.verify is upd_sig_port_verify (src/host/signing.c, GnuTLS), the images
 * are signed by upd_sig_sign, the code behind `updraft sign` (its output is byte for byte
 * the ESP8266 core's tools/signing.py format: tests/cli/test_signing.py). What the
 * client tests check with a fake verifier (tests/client/test_client_sign.c), here with
 * real keys: RSA-2048 and RSA-3072 images install (only the payload is committed), and
 * another key, a changed byte, the wrong key size or no signature fail with Updater
 * error 12 with no boot command written (nothing for eboot to copy). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imgwriter.h"
#include "memport.h"
#include "signing.h"
#include "upd_test.h"
#include "updraft/client.h"

#define KB 1024u

static uint32_t cbuf[2048 / 4];
static uint8_t flash[20 * KB];
static uint8_t file[8 * KB + 1024];
static char resp[9 * KB + 1024];
static memport mp;
static upd_client_ctx cl;
static uint32_t payload_len;

static const upd_flash_layout L = {.chip_size = 1024 * KB,
                                   .sketch_size = 300000,
                                   .fs_start = 0xEB000,
                                   .fs_end = 0xFB000,
                                   .flash_mode = 2};
#define BASE (0xEB000u - 12 * KB)

static const tw_seg segs[] = {{0x40201010u, 2500u, 211u},
                              {0x40100000u, 903u, 212u},
                              {0x3FFE8000u, 36u, 213u},
                              {0x3FFE8030u, 99u, 214u}};

/* A key pair made by upd_sig_keygen: the private key (loaded from a file, as `updraft
 * sign` does) and its public half as a device holds it (PEM "PUBLIC KEY"). */
static void make_key(upd_keytype t, upd_sig_key **priv, upd_sig_key **pub)
{
    char *ppem = NULL, *upem = NULL, err[256];
    CHECK_INT(upd_sig_keygen(t, &ppem, &upem, err, sizeof err), ==, 0);
    CHECK_INT(upd_sig_public_from_pem(upem, strlen(upem), "pub", pub, err, sizeof err), ==, 0);
    char path[] = "/tmp/updraft-test-key-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_INT((int)write(fd, ppem, strlen(ppem)), ==, (int)strlen(ppem));
    close(fd);
    CHECK_INT(upd_sig_load_private(path, priv, err, sizeof err), ==, 0);
    unlink(path);
    free(ppem);
    free(upem);
}

/* payload || signature by priv || u32 length; returns the file length. */
static uint32_t make_signed(const upd_sig_key *priv)
{
    tw_arduino_opts o = {2, 0x20, 2, segs, 4, TW_CRC_AT_1010};
    int32_t n = tw_arduino_bin(file, sizeof file, &o);
    CHECK(n > 0);
    payload_len = (uint32_t)n;
    size_t sl = 0;
    char err[256];
    CHECK_INT(upd_sig_sign(priv, file, payload_len, file + payload_len, 1024, &sl, err, sizeof err),
              ==, 0);
    tw_put_le32(file + payload_len + sl, (uint32_t)sl);
    return payload_len + (uint32_t)sl + 4;
}

/* One check against a 200 carrying file[0, len), the device holding pub. */
static upd_client_result serve(uint32_t len, upd_sig_key *pub)
{
    memset(flash, 0xA5, sizeof flash);
    memport_init(&mp, flash, BASE, sizeof flash, &L);
    mp.port.crypto.verify = upd_sig_port_verify;
    mp.port.crypto.verify_ctx = pub;
    mp.port.crypto.verify_sig_len = upd_sig_key_sig_len(pub);
    int hl = snprintf(resp, sizeof resp,
                      "HTTP/1.1 200 OK\r\nContent-Length: %u\r\nx-MD5: "
                      "0123456789abcdef0123456789abcdef\r\n\r\n",
                      (unsigned)len);
    memcpy(resp + hl, file, len);
    memport_add_response(&mp, resp, (size_t)hl + len, MP_CLOSE);
    upd_client_config cfg = {0};
    cfg.flavor = UPD_CLIENT_ESP8266_ARDUINO;
    cfg.host = "10.0.0.3";
    cfg.path = "/signed";
    cfg.sdk_version = "2.2.2";
    cfg.sketch_md5 = "00000000000000000000000000000000";
    CHECK_INT(upd_client_init(&cl, &cfg, &mp.port, cbuf, sizeof cbuf), ==, 0);
    return upd_client_run(&cl);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void installs(upd_keytype t, uint32_t want_sig)
{
    upd_sig_key *priv = NULL, *pub = NULL;
    make_key(t, &priv, &pub);
    CHECK_INT((int)upd_sig_key_sig_len(pub), ==, (int)want_sig);
    uint32_t len = make_signed(priv);
    /* the wrong x-MD5 is ignored with a verifier, as by the core's Updater */
    CHECK_INT(serve(len, pub), ==, UPD_CLIENT_OK);
    CHECK_INT(upd_client_error(&cl), ==, 0);
    CHECK_INT(mp.boot_writes, ==, 1);
    CHECK_INT((int)le32(mp.boot + 16), ==, (int)payload_len); /* eboot copies the payload */
    uint32_t at = L.fs_start - ((len + 4095u) & ~4095u);
    CHECK_INT((int)le32(mp.boot + 8), ==, (int)at);
    CHECK(memcmp(flash + (at - BASE), file, len) == 0);
    /* the private key verifies too (its public half) */
    CHECK_INT(serve(len, priv), ==, UPD_CLIENT_OK);
    upd_sig_key_free(priv);
    upd_sig_key_free(pub);
}

static void test_rsa2048_installs(void)
{
    installs(UPD_KEY_RSA2048, 256);
}

static void test_rsa3072_installs(void)
{
    installs(UPD_KEY_RSA3072, 384);
}

static void refused(const char *what, uint32_t len, upd_sig_key *pub)
{
    printf("  %s\n", what);
    CHECK_INT(serve(len, pub), ==, UPD_CLIENT_FAILED);
    CHECK_INT(upd_client_error(&cl), ==, 12);
    CHECK_INT(mp.boot_writes, ==, 0); /* nothing for eboot: the running image stays */
}

static void test_refusals(void)
{
    upd_sig_key *priv = NULL, *pub = NULL, *opriv = NULL, *opub = NULL, *p3 = NULL, *u3 = NULL;
    make_key(UPD_KEY_RSA2048, &priv, &pub);
    make_key(UPD_KEY_RSA2048, &opriv, &opub);
    make_key(UPD_KEY_RSA3072, &p3, &u3);
    uint32_t len = make_signed(priv);
    refused("another RSA-2048 key", len, opub);
    refused("an RSA-3072 key (other signature length)", len, u3);
    file[0x1000 + 77] ^= 0x01;
    refused("one bit of the payload changed after signing", len, pub);
    len = make_signed(priv);
    file[payload_len + 3] ^= 0x80;
    refused("one bit of the signature changed", len, pub);
    len = make_signed(priv);
    refused("no signature (the payload alone)", payload_len, pub);
    upd_sig_key_free(priv);
    upd_sig_key_free(pub);
    upd_sig_key_free(opriv);
    upd_sig_key_free(opub);
    upd_sig_key_free(p3);
    upd_sig_key_free(u3);
}

int main(void)
{
    RUN(test_rsa2048_installs);
    RUN(test_rsa3072_installs);
    RUN(test_refusals);
    return upd_test_summary();
}
