/* Signed firmware on the host: see signing.h. All crypto is GnuTLS's. */
#include "signing.h"
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct upd_sig_key {
    gnutls_privkey_t priv; /* NULL for a public key alone */
    gnutls_pubkey_t pub;
    int algo; /* gnutls_pk_algorithm_t */
    unsigned bits;
    char desc[32];
};

/* Key files are small: anything larger is not one. */
#define KEY_FILE_MAX (64u * 1024u)

int upd_keytype_parse(const char *s, upd_keytype *t)
{
    static const struct {
        const char *word;
        upd_keytype t;
    } words[] = {{"rsa", UPD_KEY_RSA2048},           {"rsa2048", UPD_KEY_RSA2048},
                 {"rsa-2048", UPD_KEY_RSA2048},      {"rsa3072", UPD_KEY_RSA3072},
                 {"rsa-3072", UPD_KEY_RSA3072},      {"ecdsa", UPD_KEY_ECDSA_P256},
                 {"p256", UPD_KEY_ECDSA_P256},       {"p-256", UPD_KEY_ECDSA_P256},
                 {"ecdsa-p256", UPD_KEY_ECDSA_P256}, {"ecdsa-p-256", UPD_KEY_ECDSA_P256}};
    for (size_t i = 0; s && i < sizeof words / sizeof words[0]; i++)
        if (!strcasecmp(s, words[i].word)) {
            *t = words[i].t;
            return 0;
        }
    return -1;
}

/* A GnuTLS datum as a NUL-terminated malloc'd string; the datum is wiped and freed. */
static char *take_datum(gnutls_datum_t *d)
{
    char *s = malloc(d->size + 1u);
    if (s) {
        memcpy(s, d->data, d->size);
        s[d->size] = '\0';
    }
    explicit_bzero(d->data, d->size);
    gnutls_free(d->data);
    d->data = NULL;
    d->size = 0;
    return s;
}

int upd_sig_keygen(upd_keytype t, char **priv_pem, char **pub_pem, char *err, size_t errlen)
{
    gnutls_x509_privkey_t x = NULL;
    gnutls_privkey_t pk = NULL;
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t d = {NULL, 0}, p = {NULL, 0};
    *priv_pem = *pub_pem = NULL;
    int algo = t == UPD_KEY_ECDSA_P256 ? GNUTLS_PK_ECDSA : GNUTLS_PK_RSA;
    unsigned bits = t == UPD_KEY_RSA2048   ? 2048u
                    : t == UPD_KEY_RSA3072 ? 3072u
                                           : GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1);
    int rc = gnutls_x509_privkey_init(&x);
    if (rc == 0)
        rc = gnutls_x509_privkey_generate(x, (gnutls_pk_algorithm_t)algo, bits, 0);
    if (rc == 0)
        rc = gnutls_x509_privkey_export2_pkcs8(x, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &d);
    if (rc == 0)
        rc = gnutls_privkey_init(&pk);
    if (rc == 0)
        rc = gnutls_privkey_import_x509(pk, x, 0);
    if (rc == 0)
        rc = gnutls_pubkey_init(&pub);
    if (rc == 0)
        rc = gnutls_pubkey_import_privkey(pub, pk, 0, 0);
    if (rc == 0)
        rc = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &p);
    if (rc == 0) {
        *priv_pem = take_datum(&d);
        *pub_pem = take_datum(&p);
        if (!*priv_pem || !*pub_pem) {
            free(*priv_pem);
            free(*pub_pem);
            *priv_pem = *pub_pem = NULL;
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    } else {
        snprintf(err, errlen, "cannot make the key pair: %s", gnutls_strerror(rc));
        if (d.data)
            take_datum(&d); /* wipes it */
        if (p.data)
            gnutls_free(p.data);
    }
    gnutls_pubkey_deinit(pub);
    gnutls_privkey_deinit(pk);
    gnutls_x509_privkey_deinit(x);
    return rc == 0 ? 0 : -1;
}

/* Read a small file; caller wipes and frees. NULL with err set. */
static char *read_small(const char *path, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(KEY_FILE_MAX + 1u);
    size_t n = 0;
    ssize_t k = 0;
    while (buf && n < KEY_FILE_MAX + 1u && (k = read(fd, buf + n, KEY_FILE_MAX + 1u - n)) > 0)
        n += (size_t)k;
    int e = errno;
    close(fd);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (k < 0 || n > KEY_FILE_MAX) {
        if (k < 0)
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
        else
            snprintf(err, errlen, "%s is larger than %u KiB: not a PEM key file", path,
                     KEY_FILE_MAX / 1024u);
        explicit_bzero(buf, n);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Fill in what the key is from its public half. 0, or -1 with err. */
static int describe(upd_sig_key *k, const char *what, char *err, size_t errlen)
{
    unsigned bits = 0;
    int algo = gnutls_pubkey_get_pk_algorithm(k->pub, &bits);
    if (algo < 0) {
        snprintf(err, errlen, "%s: cannot tell the key's type: %s", what, gnutls_strerror(algo));
        return -1;
    }
    k->algo = algo;
    k->bits = bits;
    if (algo == GNUTLS_PK_RSA)
        snprintf(k->desc, sizeof k->desc, "RSA-%u", bits);
    else if (algo == GNUTLS_PK_ECDSA)
        snprintf(k->desc, sizeof k->desc, "ECDSA P-%u", bits);
    else
        snprintf(k->desc, sizeof k->desc, "%s", gnutls_pk_algorithm_get_name(algo));
    return 0;
}

static upd_sig_key *key_new(void)
{
    upd_sig_key *k = calloc(1, sizeof *k);
    if (k && gnutls_pubkey_init(&k->pub) != 0) {
        free(k);
        k = NULL;
    }
    return k;
}

/* Import a PEM private key (text of len bytes) into a new key. */
static int import_private(const char *pem, size_t len, const char *what, upd_sig_key **out,
                          char *err, size_t errlen)
{
    upd_sig_key *k = key_new();
    if (!k) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    gnutls_datum_t d = {(unsigned char *)pem, (unsigned)len};
    int rc = gnutls_privkey_init(&k->priv);
    if (rc == 0)
        rc = gnutls_privkey_import_x509_raw(k->priv, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (rc == 0)
        rc = gnutls_pubkey_import_privkey(k->pub, k->priv, 0, 0);
    if (rc != 0) {
        if (strstr(pem, "ENCRYPTED"))
            snprintf(err, errlen,
                     "%s is an encrypted (password-protected) private key: give an unencrypted "
                     "copy ('openssl pkey -in KEY -out plain.key') and keep that one safe",
                     what);
        else
            snprintf(err, errlen,
                     "%s is not a private key updraft can read (%s): give a PEM "
                     "RSA or ECDSA private key, as 'updraft keygen' or 'openssl genrsa' make",
                     what, gnutls_strerror(rc));
        upd_sig_key_free(k);
        return -1;
    }
    if (describe(k, what, err, errlen) != 0) {
        upd_sig_key_free(k);
        return -1;
    }
    *out = k;
    return 0;
}

int upd_sig_load_private(const char *path, upd_sig_key **out, char *err, size_t errlen)
{
    size_t len = 0;
    char *pem = read_small(path, &len, err, errlen);
    if (!pem)
        return -1;
    int rc;
    if (!strstr(pem, "PRIVATE KEY-----") && strstr(pem, "PUBLIC KEY-----")) {
        snprintf(err, errlen,
                 "%s is a public key: signing needs the private key (the file 'updraft keygen' "
                 "wrote without .pub)",
                 path);
        rc = -1;
    } else
        rc = import_private(pem, len, path, out, err, errlen);
    explicit_bzero(pem, len);
    free(pem);
    return rc;
}

int upd_sig_public_from_pem(const char *pem, size_t len, const char *what, upd_sig_key **out,
                            char *err, size_t errlen)
{
    *out = NULL;
    if (memmem(pem, len, "PRIVATE KEY-----", 16)) {
        /* its public half; the private part is dropped */
        upd_sig_key *k = NULL;
        if (import_private(pem, len, what, &k, err, errlen) != 0)
            return -1;
        gnutls_privkey_deinit(k->priv);
        k->priv = NULL;
        *out = k;
        return 0;
    }
    upd_sig_key *k = key_new();
    if (!k) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    gnutls_datum_t d = {(unsigned char *)pem, (unsigned)len};
    int rc = gnutls_pubkey_import(k->pub, &d, GNUTLS_X509_FMT_PEM);
    if (rc != 0) {
        if (memmem(pem, len, "RSA PUBLIC KEY-----", 19))
            snprintf(err, errlen,
                     "%s is a PKCS#1 'RSA PUBLIC KEY': give the key as 'PUBLIC KEY' (the form "
                     "the ESP8266 core's BearSSL::PublicKey takes): 'openssl rsa -RSAPublicKey_in "
                     "-in KEY -pubout -out public.key'",
                     what);
        else
            snprintf(err, errlen,
                     "%s is not a PEM public key (%s): give the 'PUBLIC KEY' file 'updraft "
                     "keygen' wrote (.pub) or 'openssl rsa -in private.key -pubout' makes",
                     what, gnutls_strerror(rc));
        upd_sig_key_free(k);
        return -1;
    }
    if (describe(k, what, err, errlen) != 0) {
        upd_sig_key_free(k);
        return -1;
    }
    *out = k;
    return 0;
}

int upd_sig_load_public(const char *path, upd_sig_key **out, char *err, size_t errlen)
{
    size_t len = 0;
    char *pem = read_small(path, &len, err, errlen);
    if (!pem)
        return -1;
    int rc = upd_sig_public_from_pem(pem, len, path, out, err, errlen);
    explicit_bzero(pem, len);
    free(pem);
    return rc;
}

void upd_sig_key_free(upd_sig_key *k)
{
    if (!k)
        return;
    if (k->priv)
        gnutls_privkey_deinit(k->priv);
    gnutls_pubkey_deinit(k->pub);
    free(k);
}

const char *upd_sig_key_desc(const upd_sig_key *k)
{
    return k->desc;
}

int upd_sig_key_is_rsa(const upd_sig_key *k)
{
    return k->algo == GNUTLS_PK_RSA;
}

uint32_t upd_sig_key_sig_len(const upd_sig_key *k)
{
    return k->algo == GNUTLS_PK_RSA ? (k->bits + 7u) / 8u : 0;
}

char *upd_sig_key_public_pem(const upd_sig_key *k)
{
    gnutls_datum_t d = {NULL, 0};
    if (gnutls_pubkey_export2(k->pub, GNUTLS_X509_FMT_PEM, &d) != 0)
        return NULL;
    return take_datum(&d);
}

int upd_sig_key_id(const upd_sig_key *k, char hex[65])
{
    gnutls_datum_t d = {NULL, 0};
    uint8_t h[32];
    if (gnutls_pubkey_export2(k->pub, GNUTLS_X509_FMT_DER, &d) != 0)
        return -1;
    int rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, d.data, d.size, h);
    gnutls_free(d.data);
    if (rc != 0)
        return -1;
    static const char x[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = x[h[i] >> 4];
        hex[2 * i + 1] = x[h[i] & 15];
    }
    hex[64] = '\0';
    return 0;
}

int upd_sig_sign(const upd_sig_key *k, const uint8_t *data, size_t len, uint8_t *sig, size_t cap,
                 size_t *sig_len, char *err, size_t errlen)
{
    if (!k->priv) {
        snprintf(err, errlen, "a public key cannot sign: give the private key");
        return -1;
    }
    if (k->algo != GNUTLS_PK_RSA) {
        snprintf(err, errlen,
                 "the key is %s: the ESP8266 Arduino core verifies RSA signatures only (its "
                 "SigningVerifier wants an ECDSA signature as long as the 65-byte public key, "
                 "but its ECDSA check takes only even lengths, so every ECDSA-signed image is "
                 "refused with Updater error 12); sign with an RSA key ('updraft keygen --type "
                 "rsa2048')",
                 k->desc);
        return UPD_SIG_EECDSA;
    }
    if (len > UINT_MAX) {
        snprintf(err, errlen, "the file is too large to sign (4 GiB at most)");
        return -1;
    }
    gnutls_datum_t d = {(unsigned char *)data, (unsigned)len}, s = {NULL, 0};
    int rc = gnutls_privkey_sign_data2(k->priv, GNUTLS_SIGN_RSA_SHA256, 0, &d, &s);
    if (rc != 0) {
        snprintf(err, errlen, "signing failed: %s", gnutls_strerror(rc));
        return -1;
    }
    if (s.size > cap || s.size != upd_sig_key_sig_len(k)) {
        snprintf(err, errlen, "signing gave %u bytes, expected %u", s.size, upd_sig_key_sig_len(k));
        gnutls_free(s.data);
        return -1;
    }
    memcpy(sig, s.data, s.size);
    *sig_len = s.size;
    gnutls_free(s.data);
    return 0;
}

int upd_sig_trailer(const uint8_t *data, size_t len, uint32_t *sig_len, size_t *payload_len)
{
    if (len < 8)
        return 0;
    const uint8_t *t = data + len - 4;
    uint32_t sl =
        (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    if (sl < 64 || sl > 1024 || (size_t)sl > len - 4 - 1)
        return 0;
    *sig_len = sl;
    *payload_len = len - 4 - sl;
    return 1;
}

const char *upd_sig_status_slug(upd_sig_status st)
{
    switch (st) {
    case UPD_SIG_UNSIGNED:
        return "unsigned";
    case UPD_SIG_VERIFIES:
        return "verifies";
    case UPD_SIG_MISMATCH:
        return "does-not-verify";
    case UPD_SIG_OTHER_LENGTH:
        return "other-key-length";
    }
    return "?";
}

/* The legacy format of cores 2.5.2 and older: raw RSA (PKCS#1 v1.5 padding, no
 * DigestInfo) over the bare SHA-256 of the payload. 1 when sig is that. */
static int legacy_signature(const upd_sig_key *k, const uint8_t *payload, size_t plen,
                            const uint8_t *sig, uint32_t sl)
{
    uint8_t h[32];
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, payload, plen, h) != 0)
        return 0;
    gnutls_datum_t hd = {h, 32}, sd = {(unsigned char *)sig, sl};
    return gnutls_pubkey_verify_hash2(k->pub, GNUTLS_SIGN_RSA_RAW, GNUTLS_VERIFY_USE_TLS1_RSA, &hd,
                                      &sd) >= 0;
}

int upd_sig_check(const upd_sig_key *k, const uint8_t *data, size_t len, char *why, size_t whylen)
{
    char dummy[8];
    if (!why) {
        why = dummy;
        whylen = sizeof dummy;
    }
    uint32_t sl = 0, want = upd_sig_key_sig_len(k);
    size_t plen = 0;
    if (!upd_sig_trailer(data, len, &sl, &plen)) {
        snprintf(why, whylen,
                 "unsigned: nothing after the image says a signature is there (the last 4 bytes "
                 "are not a signature length); a device holding this key refuses it (Updater "
                 "error 12): sign it with 'updraft sign'");
        return UPD_SIG_UNSIGNED;
    }
    if (!want) {
        snprintf(why, whylen,
                 "signed (%u-byte signature), but this key is %s: ESP8266 devices verify RSA "
                 "signatures only; give the RSA public key the devices hold",
                 sl, k->desc);
        return UPD_SIG_OTHER_LENGTH;
    }
    if (sl != want) {
        snprintf(why, whylen,
                 "signed, but with a %u-byte signature where this key (%s) makes %u-byte ones: "
                 "signed with another key; a device holding this key refuses it (Updater "
                 "error 12)",
                 sl, k->desc, want);
        return UPD_SIG_OTHER_LENGTH;
    }
    if (plen > UINT_MAX) {
        snprintf(why, whylen, "the file is too large to check (4 GiB at most)");
        return -1;
    }
    gnutls_datum_t d = {(unsigned char *)data, (unsigned)plen},
                   s = {(unsigned char *)data + plen, sl};
    int rc = gnutls_pubkey_verify_data2(k->pub, GNUTLS_SIGN_RSA_SHA256, 0, &d, &s);
    if (rc >= 0) {
        snprintf(why, whylen,
                 "signed, verifies with this key (%s): a device holding it installs the %zu-byte "
                 "payload",
                 k->desc, plen);
        return UPD_SIG_VERIFIES;
    }
    if (rc != GNUTLS_E_PK_SIG_VERIFY_FAILED) {
        snprintf(why, whylen, "cannot check the signature: %s", gnutls_strerror(rc));
        return -1;
    }
    if (legacy_signature(k, data, plen, data + plen, sl))
        snprintf(why, whylen,
                 "signed with this key (%s) in the legacy format of ESP8266 cores 2.5.2 and "
                 "older (raw RSA over the bare SHA-256): current cores refuse it (Updater error "
                 "12); sign the unsigned image again with 'updraft sign'",
                 k->desc);
    else
        snprintf(why, whylen,
                 "signed, does NOT verify with this key (%s): signed with another key, or "
                 "changed after signing; a device holding this key refuses it (Updater error 12)",
                 k->desc);
    return UPD_SIG_MISMATCH;
}

int upd_sig_port_verify(void *ctx, const uint8_t digest[32], const uint8_t *sig, size_t sig_len)
{
    const upd_sig_key *k = ctx;
    if (!k || k->algo != GNUTLS_PK_RSA || sig_len != upd_sig_key_sig_len(k))
        return -1;
    gnutls_datum_t hd = {(unsigned char *)digest, 32},
                   sd = {(unsigned char *)sig, (unsigned)sig_len};
    return gnutls_pubkey_verify_hash2(k->pub, GNUTLS_SIGN_RSA_SHA256, 0, &hd, &sd) >= 0 ? 0 : -1;
}

int upd_sig_write_file(const char *path, const void *data, size_t len, unsigned mode, int replace)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (!replace && access(path, F_OK) == 0) {
        errno = EEXIST;
        return -1;
    }
    int fd = mkostemp(tmp, O_CLOEXEC); /* 0600 */
    if (fd < 0)
        return -1;
    const uint8_t *p = data;
    size_t off = 0;
    int ok = fchmod(fd, (mode_t)mode) == 0;
    while (ok && off < len) {
        ssize_t k = write(fd, p + off, len - off);
        if (k < 0 && errno == EINTR)
            continue;
        ok = k > 0;
        off += ok ? (size_t)k : 0;
    }
    ok = ok && fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (ok) {
        if (replace)
            ok = rename(tmp, path) == 0;
        else
            ok = link(tmp, path) == 0; /* refuses an existing path, even one made just now */
        e = errno;
    }
    if (!ok || !replace)
        unlink(tmp);
    if (!ok) {
        errno = e;
        return -1;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    upd_fsync_dir(dir);
    return 0;
}
