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

#include "sigdev.h"
#include "signing.h"

static uint32_t payload_len;

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

/* payload || signature by priv || u32 length in sd_file; returns the file length. */
static uint32_t make_signed(const upd_sig_key *priv)
{
    payload_len = sd_arduino_payload();
    size_t sl = 0;
    char err[256];
    CHECK_INT(
        upd_sig_sign(priv, sd_file, payload_len, sd_file + payload_len, 1024, &sl, err, sizeof err),
        ==, 0);
    tw_put_le32(sd_file + payload_len + sl, (uint32_t)sl);
    return payload_len + (uint32_t)sl + 4;
}

/* One check against a 200 carrying sd_file[0, len), the device holding pub; the wrong
 * x-MD5 is ignored with a verifier, as by the core's Updater. */
static upd_client_result serve(uint32_t len, upd_sig_key *pub)
{
    sd_port(&sd_layout, SD_BASE);
    sd_mp.port.crypto.verify = upd_sig_port_verify;
    sd_mp.port.crypto.verify_ctx = pub;
    sd_mp.port.crypto.verify_sig_len = upd_sig_key_sig_len(pub);
    sd_respond(len, len, "x-MD5: 0123456789abcdef0123456789abcdef\r\n");
    return sd_run(UPD_CLIENT_ESP8266_ARDUINO);
}

static void installs(upd_keytype t, uint32_t want_sig)
{
    upd_sig_key *priv = NULL, *pub = NULL;
    make_key(t, &priv, &pub);
    CHECK_INT((int)upd_sig_key_sig_len(pub), ==, (int)want_sig);
    uint32_t len = make_signed(priv);
    sd_check_installed(serve(len, pub), len, payload_len);
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
    sd_check_refused(serve(len, pub));
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
    sd_file[0x1000 + 77] ^= 0x01;
    refused("one bit of the payload changed after signing", len, pub);
    len = make_signed(priv);
    sd_file[payload_len + 3] ^= 0x80;
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
