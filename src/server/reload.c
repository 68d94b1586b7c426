/* Device credentials and TLS certificate, loaded at start and on SIGHUP (reload.h). */
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "fsutil.h"
#include "reload.h"

/* ---- device credentials ---------------------------------------------------------------- */

static int split_cred(const char *text, char *user, size_t ucap, char *pass, size_t pcap)
{
    const char *colon = strchr(text, ':');
    if (!colon || colon == text || (size_t)(colon - text) >= ucap || strlen(colon + 1) >= pcap ||
        !colon[1])
        return -1;
    memcpy(user, text, (size_t)(colon - text));
    user[colon - text] = '\0';
    strcpy(pass, colon + 1);
    return 0;
}

static void devauth_free(upd_devauth *a)
{
    if (!a)
        return;
    if (a->creds) {
        memset(a->creds, 0, a->ncreds * sizeof a->creds[0]);
        free(a->creds);
    }
    memset(a, 0, sizeof *a);
    free(a);
}

/* Read the credentials of cfg into a; 0 ok, -1 with err. */
static int devauth_read(const upd_server_config *cfg, upd_devauth *a, char *err, size_t errlen)
{
    const char *fleet = cfg->device_auth ? cfg->device_auth : getenv("UPDRAFT_DEVICE_AUTH");
    if (fleet && *fleet) {
        if (split_cred(fleet, a->fleet_user, sizeof a->fleet_user, a->fleet_pass,
                       sizeof a->fleet_pass) != 0) {
            snprintf(err, errlen, "--device-auth must be USER:PASSWORD (both non-empty)");
            return -1;
        }
        a->fleet = 1;
    }
    if (!cfg->device_auth_file)
        return 0;
    char *text;
    size_t len;
    if (upd_read_file(cfg->device_auth_file, &text, &len) != 0) {
        snprintf(err, errlen, "cannot read the device credentials file %s: %s",
                 cfg->device_auth_file, strerror(errno));
        return -1;
    }
    int lineno = 0, rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        line[strcspn(line, "\r#")] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            continue;
        char *sp = p + strcspn(p, " \t");
        char *cred = sp;
        while (*cred == ' ' || *cred == '\t')
            cred++;
        *sp = '\0';
        char *e = cred + strcspn(cred, " \t");
        *e = '\0';
        dev_cred dc;
        if (upd__parse_mac(p, strlen(p), dc.mac) != 0 ||
            split_cred(cred, dc.user, sizeof dc.user, dc.pass, sizeof dc.pass) != 0) {
            snprintf(err, errlen,
                     "%s line %d: expected 'MAC USER:PASSWORD' (e.g. 5C:CF:7F:0A:1B:2C "
                     "dev1:secret)",
                     cfg->device_auth_file, lineno);
            rc = -1;
            break;
        }
        dev_cred *nc = realloc(a->creds, (a->ncreds + 1) * sizeof *nc);
        if (!nc) {
            snprintf(err, errlen, "out of memory reading %s", cfg->device_auth_file);
            rc = -1;
            break;
        }
        a->creds = nc;
        a->creds[a->ncreds++] = dc;
    }
    memset(text, 0, len);
    free(text);
    return rc;
}

int upd__devauth_load(srv *s, char *err, size_t errlen)
{
    upd_devauth *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (devauth_read(&s->cfg, a, err, errlen) != 0) {
        devauth_free(a);
        return -1;
    }
    a->older = atomic_load(&s->devauth);
    atomic_store(&s->devauth, a);
    return 0;
}

const upd_devauth *upd__devauth(srv *s)
{
    return atomic_load_explicit(&s->devauth, memory_order_acquire);
}

/* ---- TLS certificate ------------------------------------------------------------------- */

#define MAX_CHAIN 16

typedef struct tls_set {
    gnutls_pcert_st pcert[MAX_CHAIN];
    unsigned npcert;
    gnutls_privkey_t key;
    struct tls_set *older;
} tls_set;

static tls_set *_Atomic g_tls;

static void tls_set_free(tls_set *t)
{
    for (unsigned i = 0; i < t->npcert; i++)
        gnutls_pcert_deinit(&t->pcert[i]);
    if (t->key)
        gnutls_privkey_deinit(t->key);
    free(t);
}

/* The DER of a public key, for comparing two; 0 ok. */
static int pubkey_der(gnutls_pubkey_t pk, gnutls_datum_t *out)
{
    return gnutls_pubkey_export2(pk, GNUTLS_X509_FMT_DER, out) == 0 ? 0 : -1;
}

/* 1 when key is the private key of the certificate's public key. */
static int key_matches(gnutls_pcert_st *cert, gnutls_privkey_t key)
{
    gnutls_pubkey_t pk;
    if (gnutls_pubkey_init(&pk) != 0)
        return 0;
    int ok = 0;
    gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
    if (gnutls_pubkey_import_privkey(pk, key, 0, 0) == 0 && pubkey_der(pk, &a) == 0 &&
        pubkey_der(cert->pubkey, &b) == 0)
        ok = a.size == b.size && !memcmp(a.data, b.data, a.size);
    gnutls_free(a.data);
    gnutls_free(b.data);
    gnutls_pubkey_deinit(pk);
    return ok;
}

int upd__tls_load(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
    char *cert = NULL, *key = NULL;
    size_t clen = 0, klen = 0;
    if (upd_read_file(cert_file, &cert, &clen) != 0) {
        snprintf(err, errlen, "cannot read the TLS certificate %s: %s", cert_file, strerror(errno));
        return -1;
    }
    if (upd_read_file(key_file, &key, &klen) != 0) {
        snprintf(err, errlen, "cannot read the TLS key %s: %s", key_file, strerror(errno));
        free(cert);
        return -1;
    }
    tls_set *t = calloc(1, sizeof *t);
    int rc = -1;
    gnutls_datum_t cd = {(unsigned char *)cert, (unsigned)clen};
    gnutls_datum_t kd = {(unsigned char *)key, (unsigned)klen};
    unsigned n = MAX_CHAIN;
    if (!t)
        snprintf(err, errlen, "out of memory");
    else if (gnutls_pcert_list_import_x509_raw(t->pcert, &n, &cd, GNUTLS_X509_FMT_PEM, 0) != 0 ||
             n == 0)
        snprintf(err, errlen,
                 "%s holds no PEM certificate chain (at most %d certificates, the server's "
                 "first)",
                 cert_file, MAX_CHAIN);
    else if ((t->npcert = n, gnutls_privkey_init(&t->key)) != 0 ||
             gnutls_privkey_import_x509_raw(t->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0) != 0)
        snprintf(err, errlen, "%s holds no unencrypted PEM private key", key_file);
    else if (!key_matches(&t->pcert[0], t->key))
        snprintf(err, errlen,
                 "the key in %s is not the key of the certificate in %s: give the pair that "
                 "belongs together",
                 key_file, cert_file);
    else
        rc = 0;
    memset(key, 0, klen);
    free(key);
    free(cert);
    if (rc != 0) {
        if (t)
            tls_set_free(t);
        return -1;
    }
    t->older = atomic_load(&g_tls);
    atomic_store(&g_tls, t);
    return 0;
}

/* gnutls_certificate_retrieve_function2: every handshake takes the set in force. */
static int cert_cb(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                   const gnutls_pk_algorithm_t *algos, int nalgos, gnutls_pcert_st **pcert,
                   unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    (void)session;
    (void)req_ca_dn;
    (void)nreqs;
    (void)algos;
    (void)nalgos;
    tls_set *t = atomic_load_explicit(&g_tls, memory_order_acquire);
    if (!t)
        return -1;
    *pcert = t->pcert;
    *pcert_length = t->npcert;
    *pkey = t->key;
    return 0;
}

void *upd__tls_cert_callback(void)
{
    return (void *)cert_cb;
}

int upd__reload(srv *s)
{
    int rc = 0;
    char err[600];
    if (upd__devauth_load(s, err, sizeof err) != 0) {
        upd__log(UPD_LOG_ERROR, "reload-failed",
                 "device credentials not reloaded (the old ones stay in force): %s", err);
        rc = -1;
    } else {
        const upd_devauth *a = upd__devauth(s);
        upd__log(UPD_LOG_INFO, "reload", "device credentials: %s, %zu per-device",
                 a->fleet ? "fleet credentials set" : "no fleet credentials", a->ncreds);
    }
    if (s->cfg.tls_cert) {
        if (upd__tls_load(s->cfg.tls_cert, s->cfg.tls_key, err, sizeof err) != 0) {
            upd__log(UPD_LOG_ERROR, "reload-failed",
                     "TLS certificate not reloaded (the old one stays in force): %s", err);
            rc = -1;
        } else
            upd__log(UPD_LOG_INFO, "reload", "TLS certificate from %s", s->cfg.tls_cert);
    }
    return rc;
}

void upd__reload_free(srv *s)
{
    upd_devauth *a = atomic_exchange(&s->devauth, NULL);
    while (a) {
        upd_devauth *o = a->older;
        devauth_free(a);
        a = o;
    }
    tls_set *t = atomic_exchange(&g_tls, NULL);
    while (t) {
        tls_set *o = t->older;
        tls_set_free(t);
        t = o;
    }
}
