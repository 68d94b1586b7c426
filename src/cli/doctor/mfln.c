/* TLS record sizes, as an ESP8266 with small BearSSL buffers needs them (docs/doctor.md
 * "TLS records"): which RFC 6066 max_fragment_length values the server accepts, asked the
 * way the ESP8266 core's probeMaxFragmentLength(host, port, N) asks (a TLS 1.2
 * ClientHello with the extension; accepted when the ServerHello echoes it), what record
 * size it then sends (a whole TLS connection asking for N, the request replayed, the
 * length of every record that comes read off the wire), and what each
 * setBufferSizes(N, N) costs the device.
 *
 * The device's cost, from WiFiClientSecureBearSSL.cpp (the core allocates its input
 * buffer as the receive size + 325 bytes and its output buffer as the send size + 85):
 * the default (16384, 512) and (N, N) for each length. */
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "doctor.h"

#define READ_MAX (256u << 10) /* response bytes read per measurement */

static const unsigned LENS[UPD_DOCTOR_MFLN_N] = {512, 1024, 2048, 4096};

unsigned upd__doctor_mfln_len(int i)
{
    return LENS[i];
}

unsigned upd__doctor_bearssl_ram(unsigned rx, unsigned tx)
{
    return rx + UPD_DOCTOR_BEARSSL_IN + tx + UPD_DOCTOR_BEARSSL_OUT;
}

/* A TCP connection to the URL's host and port with timeouts on every read and write;
 * -1 when it cannot be made. */
static int dial(const struct opts *o, uint32_t timeout_ms)
{
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)o->port);
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(o->host, port, &hints, &ai) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    return fd;
}

static size_t put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

/* The ClientHello of a TLS 1.2 client asking for max_fragment_length code (1: 512 ... 4:
 * 4096), as a record, into out (cap 512); its length. */
static size_t client_hello(const struct opts *o, int code, uint8_t *out)
{
    static const unsigned suites[] = {0xC02F, 0xC02B, 0xC030, 0xC02C, 0xC027, 0xC023,
                                      0xC013, 0xC009, 0x009C, 0x003C, 0x002F, 0x0035};
    static const unsigned sigalgs[] = {0x0401, 0x0403, 0x0501, 0x0503, 0x0601, 0x0804, 0x0201};
    uint8_t b[512];
    size_t n = 0;
    n += put16(b + n, 0x0303);
    gnutls_rnd(GNUTLS_RND_NONCE, b + n, 32);
    n += 32;
    b[n++] = 0; /* no session id */
    n += put16(b + n, (unsigned)(sizeof suites / sizeof suites[0] * 2));
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
        n += put16(b + n, suites[i]);
    b[n++] = 1; /* compression: null */
    b[n++] = 0;
    size_t ext_at = n;
    n += 2;
    struct in6_addr a6;
    struct in_addr a4;
    size_t hl = strlen(o->host);
    if (hl < 200 && inet_pton(AF_INET, o->host, &a4) != 1 &&
        inet_pton(AF_INET6, o->host, &a6) != 1) { /* server_name: a name, not an address */
        n += put16(b + n, 0);
        n += put16(b + n, (unsigned)hl + 5);
        n += put16(b + n, (unsigned)hl + 3);
        b[n++] = 0;
        n += put16(b + n, (unsigned)hl);
        memcpy(b + n, o->host, hl);
        n += hl;
    }
    n += put16(b + n, 1); /* max_fragment_length */
    n += put16(b + n, 1);
    b[n++] = (uint8_t)code;
    n += put16(b + n, 10); /* supported_groups: secp256r1, secp384r1, x25519 */
    n += put16(b + n, 8);
    n += put16(b + n, 6);
    n += put16(b + n, 23);
    n += put16(b + n, 24);
    n += put16(b + n, 29);
    n += put16(b + n, 11); /* ec_point_formats: uncompressed */
    n += put16(b + n, 2);
    b[n++] = 1;
    b[n++] = 0;
    n += put16(b + n, 13); /* signature_algorithms */
    n += put16(b + n, (unsigned)(sizeof sigalgs / sizeof sigalgs[0] * 2 + 2));
    n += put16(b + n, (unsigned)(sizeof sigalgs / sizeof sigalgs[0] * 2));
    for (size_t i = 0; i < sizeof sigalgs / sizeof sigalgs[0]; i++)
        n += put16(b + n, sigalgs[i]);
    n += put16(b + n, 0xff01); /* renegotiation_info: empty */
    n += put16(b + n, 1);
    b[n++] = 0;
    put16(b + ext_at, (unsigned)(n - ext_at - 2));
    size_t m = 0;
    out[m++] = 0x16; /* handshake record */
    m += put16(out + m, 0x0301);
    m += put16(out + m, (unsigned)n + 4);
    out[m++] = 1; /* client_hello */
    out[m++] = 0;
    m += put16(out + m, (unsigned)n);
    memcpy(out + m, b, n);
    return m + n;
}

static int read_full(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = recv(fd, p, n, 0);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Ask for code as the core's probe does. 1 accepted (the ServerHello echoes it), 0 not
 * (another ServerHello, or an alert: the name of the alert in why), -1 no answer. */
static int probe(const struct opts *o, int code, uint32_t timeout_ms, char *why, size_t whylen)
{
    why[0] = '\0';
    int fd = dial(o, timeout_ms);
    if (fd < 0) {
        say(why, whylen, "no connection");
        return -1;
    }
    uint8_t hello[512];
    size_t n = client_hello(o, code, hello);
    int rc = -1;
    uint8_t h[5], *msg = malloc(1 << 16);
    if (!msg || send(fd, hello, n, MSG_NOSIGNAL) != (ssize_t)n || read_full(fd, h, 5) != 0) {
        say(why, whylen, "no answer to the ClientHello");
        goto out;
    }
    size_t len = (size_t)h[3] << 8 | h[4];
    if (read_full(fd, msg, len) != 0) {
        say(why, whylen, "the answer to the ClientHello ended early");
        goto out;
    }
    if (h[0] == 0x15 && len >= 2) {
        say(why, whylen, "alert %s", gnutls_alert_get_strname((gnutls_alert_description_t)msg[1]));
        rc = 0;
        goto out;
    }
    /* ServerHello: type 2, u24 length, version, random, session id, suite, compression,
     * extensions */
    if (h[0] != 0x16 || len < 4 + 38 || msg[0] != 2) {
        say(why, whylen, "the answer is no ServerHello");
        goto out;
    }
    size_t end = 4 + ((size_t)msg[1] << 16 | (size_t)msg[2] << 8 | msg[3]);
    if (end > len)
        end = len; /* a ServerHello split over records: judge what came */
    size_t p = 4 + 2 + 32;
    p += 1 + (size_t)msg[p];
    p += 3;
    rc = 0;
    if (p + 2 <= end) {
        size_t elen = (size_t)msg[p] << 8 | msg[p + 1];
        p += 2;
        size_t eend = p + elen < end ? p + elen : end;
        while (p + 4 <= eend) {
            unsigned type = (unsigned)msg[p] << 8 | msg[p + 1];
            size_t l = (size_t)msg[p + 2] << 8 | msg[p + 3];
            if (type == 1 && l == 1 && p + 5 <= eend && msg[p + 4] == code)
                rc = 1;
            p += 4 + l;
        }
    }
out:
    free(msg);
    close(fd);
    return rc;
}

/* The TLS records of one connection, read off the wire under GnuTLS. */
typedef struct wire {
    int fd;
    gnutls_session_t s;
    uint8_t hdr[5];
    size_t have; /* bytes of hdr */
    size_t left; /* body bytes of the current record still to come */
    int type;
    long largest; /* the longest application_data record, header excluded */
    long records;
} wire;

static ssize_t pull(gnutls_transport_ptr_t ptr, void *buf, size_t n)
{
    wire *w = ptr;
    ssize_t r = recv(w->fd, buf, n, 0);
    if (r < 0) {
        gnutls_transport_set_errno(w->s, errno == EAGAIN ? ETIMEDOUT : errno);
        return -1;
    }
    const uint8_t *p = buf;
    for (ssize_t i = 0; i < r;) {
        if (w->left) {
            size_t k = (size_t)(r - i) < w->left ? (size_t)(r - i) : w->left;
            w->left -= k;
            i += (ssize_t)k;
            continue;
        }
        w->hdr[w->have++] = p[i++];
        if (w->have == 5) {
            w->type = w->hdr[0];
            w->left = (size_t)w->hdr[3] << 8 | w->hdr[4];
            w->have = 0;
            if (w->type == 23) {
                w->records++;
                if ((long)w->left > w->largest)
                    w->largest = (long)w->left;
            }
        }
    }
    return r;
}

/* GnuTLS's wait for bytes (its handshake timeout needs one with a transport of ours). */
static int pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms)
{
    wire *w = ptr;
    struct pollfd p = {w->fd, POLLIN, 0};
    return poll(&p, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

static ssize_t push(gnutls_transport_ptr_t ptr, const void *buf, size_t n)
{
    wire *w = ptr;
    ssize_t r = send(w->fd, buf, n, MSG_NOSIGNAL);
    if (r < 0)
        gnutls_transport_set_errno(w->s, errno == EAGAIN ? ETIMEDOUT : errno);
    return r;
}

/* One TLS 1.2 connection asking for records of at most len bytes (0: not asking), the
 * request replayed on it; the longest application record's data (wire length less the
 * cipher's overhead) into *data, its wire length into *wire_len. 0, or -1 with why. */
static int measure(const struct opts *o, const char *req, size_t req_len, unsigned len,
                   uint32_t timeout_ms, long *data, long *wire_len, char *why, size_t whylen)
{
    wire w = {0};
    w.fd = dial(o, timeout_ms);
    if (w.fd < 0) {
        say(why, whylen, "no connection");
        return -1;
    }
    gnutls_certificate_credentials_t cred = NULL;
    gnutls_session_t s = NULL;
    int rc = -1;
    if (gnutls_certificate_allocate_credentials(&cred) < 0 || gnutls_init(&s, GNUTLS_CLIENT) < 0)
        goto out;
    /* TLS 1.2 as BearSSL speaks it; the certificate is not what is measured here */
    gnutls_priority_set_direct(s, "NORMAL:-VERS-ALL:+VERS-TLS1.2", NULL);
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, o->host, &a4) != 1 && inet_pton(AF_INET6, o->host, &a6) != 1)
        gnutls_server_name_set(s, GNUTLS_NAME_DNS, o->host, strlen(o->host));
    if (len)
        gnutls_record_set_max_size(s, len);
    w.s = s;
    gnutls_transport_set_ptr(s, &w);
    gnutls_transport_set_pull_function(s, pull);
    gnutls_transport_set_push_function(s, push);
    gnutls_transport_set_pull_timeout_function(s, pull_timeout);
    gnutls_handshake_set_timeout(s, timeout_ms);
    int r;
    do
        r = gnutls_handshake(s);
    while (r < 0 && !gnutls_error_is_fatal(r));
    if (r < 0) {
        say(why, whylen, "handshake failed: %s", gnutls_strerror(r));
        goto out;
    }
    for (size_t off = 0; off < req_len;) {
        ssize_t k = gnutls_record_send(s, req + off, req_len - off);
        if (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED)
            continue;
        if (k < 0) {
            say(why, whylen, "sending the request failed: %s", gnutls_strerror((int)k));
            goto out;
        }
        off += (size_t)k;
    }
    static char buf[16384];
    size_t got = 0;
    while (got < READ_MAX) {
        ssize_t k = gnutls_record_recv(s, buf, sizeof buf);
        if (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED)
            continue;
        if (k <= 0)
            break; /* the end of the answer, a reset or the timeout: what came is measured */
        got += (size_t)k;
    }
    if (!w.records) {
        say(why, whylen, "no answer to the request");
        goto out;
    }
    /* the cipher's overhead per record, less the 5-byte header it counts (w.largest has
     * none); for CBC suites the most it can be, so data is then a lower bound */
    long over = (long)gnutls_record_overhead_size(s) - 5;
    *wire_len = w.largest;
    *data = w.largest > over ? w.largest - over : 0;
    rc = 0;
out:
    if (s)
        gnutls_deinit(s);
    if (cred)
        gnutls_certificate_free_credentials(cred);
    close(w.fd);
    return rc;
}

void upd__doctor_check_mfln(doctor *d)
{
    const struct opts *o = d->o;
    const xchg *x = d->fx;
    if (!o->tls || !o->probes || o->as != AS_ESP8266 || !x || x->connect_failed || !x->req_len)
        return;
    upd_doctor_mfln *m = &d->mfln;
    memset(m, 0, sizeof *m);
    m->done = 1;
    uint32_t t = o->timeout ? o->timeout : 8000;
    char why[160], list[96] = "", refused[256] = "";
    for (int i = 0; i < UPD_DOCTOR_MFLN_N; i++) {
        int a = probe(o, i + 1, t, why, sizeof why);
        m->accepted[i] = a == 1;
        if (a == 1)
            add(list, sizeof list, "%s%u", list[0] ? ", " : "", LENS[i]);
        else
            add(refused, sizeof refused, "%s%u (%s)", refused[0] ? "; " : "", LENS[i],
                why[0] ? why : "not echoed");
    }
    if (list[0])
        upd__doctor_note(d, "mfln", L_OK,
                         "accepts max_fragment_length %s (probeMaxFragmentLength(host, port, N) "
                         "is true%s%s)",
                         list, refused[0] ? "; not: " : "", refused);
    else
        upd__doctor_note(d, "mfln", L_WARN,
                         "accepts no max_fragment_length (%s): an ESP8266 must keep the default "
                         "16 KB receive buffer, %u bytes of RAM for TLS",
                         refused, upd__doctor_bearssl_ram(16384, 512));
    /* the records it sends: asking nothing, and each length it accepts */
    char text[900] = "";
    int bad = 0;
    for (int i = -1; i < UPD_DOCTOR_MFLN_N; i++) {
        if (i >= 0 && !m->accepted[i])
            continue;
        unsigned len = i < 0 ? 0 : LENS[i];
        long data = 0, wl = 0;
        int k = i + 1;
        if (measure(o, x->req, x->req_len, len, t, &data, &wl, why, sizeof why) != 0) {
            m->data[k] = -1;
            if (len)
                add(text, sizeof text, "%sasking %u: %s", text[0] ? "; " : "", len, why);
            else
                add(text, sizeof text, "asking none: %s", why);
            bad = 1;
            continue;
        }
        m->data[k] = data;
        m->wire[k] = wl;
        if (len && data > (long)len)
            bad = 1;
        if (len)
            add(text, sizeof text, "%sasking %u: at most %ld bytes of data (%ld on the wire)%s",
                text[0] ? "; " : "", len, data, wl,
                data > (long)len ? " LONGER than asked: the device drops the connection (-5)" : "");
        else
            add(text, sizeof text, "asking none: up to %ld bytes of data (%ld on the wire)", data,
                wl);
    }
    upd__doctor_note(d, "records", bad ? L_FAIL : L_OK, "%s", text);
}
