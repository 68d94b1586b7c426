/* posix port, transport: one TCP or TLS connection with timeouts (upd_posix.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "upd_posix.h"

static uint32_t now_ms(void)
{
    return upd_posix_now_ms(NULL);
}

__attribute__((format(printf, 2, 3))) static void set_error(upd_posix_net *n, const char *fmt,
                                                             ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->error, sizeof n->error, fmt, ap);
    va_end(ap);
}

void upd_posix_net_init(upd_posix_net *n)
{
    memset(n, 0, sizeof *n);
    n->fd = -1;
}

void upd_posix_net_free(upd_posix_net *n)
{
    upd_posix_net_close(n);
    if (n->cred)
        gnutls_certificate_free_credentials((gnutls_certificate_credentials_t)n->cred);
    n->cred = NULL;
}

void upd_posix_net_close(void *ctx)
{
    upd_posix_net *n = ctx;
    if (n->session) {
        gnutls_deinit((gnutls_session_t)n->session);
        n->session = NULL;
    }
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
}

/* Wait until fd is ready for events, at most ms. 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, uint32_t ms)
{
    struct pollfd p = {fd, events, 0};
    uint32_t t0 = now_ms();
    for (;;) {
        uint32_t spent = now_ms() - t0;
        int left = spent >= ms ? 0 : (int)(ms - spent);
        int r = poll(&p, 1, left);
        if (r > 0)
            return 1;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* Connect one address within ms; the socket, or -1 with errno set. */
static int connect_one(const struct addrinfo *ai, uint32_t ms)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        int w = wait_fd(fd, POLLOUT, ms);
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (w == 0)
            soerr = ETIMEDOUT;
        else if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            soerr = soerr ? soerr : errno;
        if (soerr) {
            close(fd);
            errno = soerr;
            return -1;
        }
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void peer_name(upd_posix_net *n, const struct addrinfo *ai)
{
    char host[INET6_ADDRSTRLEN + 2], serv[8];
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        snprintf(n->peer, sizeof n->peer, ai->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
                 serv);
}

static int is_ip_literal(const char *host)
{
    unsigned char tmp[16];
    return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

/* The verification result in words, into n->tls_problem. */
static void describe_status(upd_posix_net *n, unsigned status)
{
    n->tls_status = status;
    n->tls_problem[0] = '\0';
    if (!status)
        return;
    gnutls_datum_t out = {NULL, 0};
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) == 0) {
        snprintf(n->tls_problem, sizeof n->tls_problem, "%s", (const char *)out.data);
        gnutls_free(out.data);
        size_t k = strlen(n->tls_problem);
        while (k && n->tls_problem[k - 1] == ' ')
            n->tls_problem[--k] = '\0';
    } else {
        snprintf(n->tls_problem, sizeof n->tls_problem, "certificate status 0x%x", status);
    }
}

static int tls_handshake(upd_posix_net *n, const char *host, uint32_t ms)
{
    int r;
    if (!n->cred) {
        gnutls_certificate_credentials_t cred;
        if (gnutls_certificate_allocate_credentials(&cred) < 0) {
            set_error(n, "TLS: out of memory");
            return -1;
        }
        n->cred = cred;
        r = n->ca_file ? gnutls_certificate_set_x509_trust_file(cred, n->ca_file, GNUTLS_X509_FMT_PEM)
                       : gnutls_certificate_set_x509_system_trust(cred);
        if (n->ca_file && r <= 0) {
            set_error(n, "TLS: could not read any CA certificate from %s: %s", n->ca_file,
                      r < 0 ? gnutls_strerror(r) : "no certificate in the file");
            return -1;
        }
    }
    gnutls_session_t s;
    if (gnutls_init(&s, GNUTLS_CLIENT) < 0) {
        set_error(n, "TLS: out of memory");
        return -1;
    }
    n->session = s;
    gnutls_set_default_priority(s);
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, (gnutls_certificate_credentials_t)n->cred);
    if (!is_ip_literal(host))
        gnutls_server_name_set(s, GNUTLS_NAME_DNS, host, strlen(host));
    if (!n->insecure)
        gnutls_session_set_verify_cert(s, host, 0);
    gnutls_transport_set_int(s, n->fd);
    gnutls_handshake_set_timeout(s, ms ? ms : GNUTLS_DEFAULT_HANDSHAKE_TIMEOUT);
    do {
        r = gnutls_handshake(s);
    } while (r < 0 && !gnutls_error_is_fatal(r) && r != GNUTLS_E_AGAIN);
    if (r < 0) {
        if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
            n->tls_verify_failed = 1;
            describe_status(n, gnutls_session_get_verify_cert_status(s));
            set_error(n, "TLS: the server's certificate is not trusted: %s%s", n->tls_problem,
                      n->ca_file ? "" : " (checked against the system's trust store)");
        } else if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_TIMEDOUT) {
            set_error(n, "TLS: the handshake did not finish in time");
        } else {
            set_error(n, "TLS handshake failed: %s%s", gnutls_strerror(r),
                      r == GNUTLS_E_UNEXPECTED_PACKET_LENGTH || r == GNUTLS_E_PREMATURE_TERMINATION
                          ? " (is the server speaking plain HTTP on this port?)"
                          : "");
        }
        return -1;
    }
    /* Verified, or --insecure: still say what a verifying client would find. */
    unsigned status = 0;
    if (gnutls_certificate_verify_peers3(s, host, &status) == 0)
        describe_status(n, status);
    char *desc = gnutls_session_get_desc(s);
    if (desc) {
        snprintf(n->tls_info, sizeof n->tls_info, "%s", desc);
        gnutls_free(desc);
    }
    return 0;
}

int upd_posix_net_connect(void *ctx, const char *host, uint16_t port, int tls, uint32_t timeout_ms)
{
    upd_posix_net *n = ctx;
    upd_posix_net_close(n);
    n->error[0] = n->peer[0] = n->tls_problem[0] = n->tls_info[0] = '\0';
    n->tls = tls;
    n->tls_verify_failed = 0;
    n->tls_status = 0;
    n->closed_by_peer = 0;
    uint32_t t0 = now_ms();
    char serv[8];
    snprintf(serv, sizeof serv, "%u", (unsigned)port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    int g = getaddrinfo(host, serv, &hints, &res);
    if (g != 0) {
        set_error(n, "cannot resolve host name '%s': %s", host,
                  g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
        return UPD_PORT_ECONNECT;
    }
    int err = 0;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        uint32_t spent = now_ms() - t0;
        if (spent >= timeout_ms && err)
            break;
        n->fd = connect_one(ai, spent >= timeout_ms ? 1 : timeout_ms - spent);
        if (n->fd >= 0) {
            peer_name(n, ai);
            break;
        }
        err = errno;
        peer_name(n, ai);
    }
    freeaddrinfo(res);
    if (n->fd < 0) {
        char what[80];
        snprintf(what, sizeof what, "%s", n->peer[0] ? n->peer : host);
        set_error(n, "could not connect to %s: %s", what,
                  err == ETIMEDOUT ? "no answer in time (timed out)" : strerror(err));
        return UPD_PORT_ECONNECT;
    }
    if (tls) {
        uint32_t spent = now_ms() - t0;
        /* blocking socket with timeouts for the handshake */
        int fl = fcntl(n->fd, F_GETFL);
        fcntl(n->fd, F_SETFL, fl & ~O_NONBLOCK);
        uint32_t left = spent >= timeout_ms ? 1 : timeout_ms - spent;
        struct timeval tv = {(time_t)(left / 1000u), (suseconds_t)(left % 1000u) * 1000};
        setsockopt(n->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(n->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (tls_handshake(n, host, left) != 0) {
            int fd = n->fd;
            n->fd = -1;
            if (n->session)
                gnutls_deinit((gnutls_session_t)n->session);
            n->session = NULL;
            close(fd);
            return UPD_PORT_ECONNECT;
        }
        fcntl(n->fd, F_SETFL, fl | O_NONBLOCK);
    }
    return 0;
}

int upd_posix_net_send(void *ctx, const void *buf, size_t len, uint32_t timeout_ms)
{
    upd_posix_net *n = ctx;
    if (n->fd < 0) {
        set_error(n, "send: not connected");
        return UPD_PORT_ESEND;
    }
    if (len > 0x7FFFFFFF)
        len = 0x7FFFFFFF;
    for (;;) {
        int w = wait_fd(n->fd, POLLOUT, timeout_ms);
        if (w <= 0) {
            set_error(n, "send: %s", w == 0 ? "the peer did not take data in time" : strerror(errno));
            return UPD_PORT_ESEND;
        }
        ssize_t k;
        if (n->session) {
            k = gnutls_record_send((gnutls_session_t)n->session, buf, len);
            if (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED)
                continue;
            if (k < 0) {
                set_error(n, "TLS send: %s", gnutls_strerror((int)k));
                return UPD_PORT_ESEND;
            }
        } else {
            k = send(n->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (k < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (k < 0) {
                set_error(n, "send: %s", strerror(errno));
                return UPD_PORT_ESEND;
            }
        }
        return (int)k;
    }
}

int upd_posix_net_recv(void *ctx, void *buf, size_t len, uint32_t timeout_ms)
{
    upd_posix_net *n = ctx;
    if (n->fd < 0)
        return 0;
    if (len > 0x7FFFFFFF)
        len = 0x7FFFFFFF;
    gnutls_session_t s = (gnutls_session_t)n->session;
    uint32_t t0 = now_ms();
    for (;;) {
        if (!s || gnutls_record_check_pending(s) == 0) {
            uint32_t spent = now_ms() - t0;
            int w = wait_fd(n->fd, POLLIN, spent >= timeout_ms ? 0 : timeout_ms - spent);
            if (w == 0)
                return UPD_PORT_ETIMEOUT;
            if (w < 0) {
                set_error(n, "recv: %s", strerror(errno));
                return UPD_PORT_ELOST;
            }
        }
        if (s) {
            ssize_t k = gnutls_record_recv(s, buf, len);
            if (k > 0)
                return (int)k;
            if (k == 0 || k == GNUTLS_E_PREMATURE_TERMINATION) {
                n->closed_by_peer = 1;
                return 0;
            }
            if (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED) {
                if (now_ms() - t0 >= timeout_ms)
                    return UPD_PORT_ETIMEOUT;
                continue;
            }
            set_error(n, "TLS recv: %s", gnutls_strerror((int)k));
            return UPD_PORT_ELOST;
        }
        ssize_t k = recv(n->fd, buf, len, MSG_DONTWAIT);
        if (k > 0)
            return (int)k;
        if (k == 0) {
            n->closed_by_peer = 1;
            return 0;
        }
        if (errno == EAGAIN || errno == EINTR) {
            if (now_ms() - t0 >= timeout_ms)
                return UPD_PORT_ETIMEOUT;
            continue;
        }
        set_error(n, "recv: %s", strerror(errno));
        return UPD_PORT_ELOST;
    }
}

upd_transport_ops upd_posix_net_ops(upd_posix_net *n)
{
    upd_transport_ops t = {upd_posix_net_connect, upd_posix_net_send, upd_posix_net_recv,
                           upd_posix_net_close, n};
    return t;
}
