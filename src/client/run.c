/* upd_client_run: the engine driven synchronously through the port's transport. The
 * loop every event-driven caller writes too, kept here once. */
#include "client_int.h"

#define RECV_WAIT_MS 100u /* short waits: the engine's clock decides about timeouts */

upd_client_result upd_client_run(upd_client_ctx *c)
{
    if (!c || !c->port)
        return UPD_CLIENT_FAILED;
    const upd_transport_ops *t = &c->port->transport;
    if (!t->connect || !t->send || !t->recv || !t->close) {
        upd_client_transport_error(c, UPD_PORT_ECONNECT);
        return upd_client_result_of(c);
    }
    uint8_t in[256];
    int open = 0;
    uint32_t to = c->cfg->timeout_ms ? c->cfg->timeout_ms : 8000u;
    for (;;) {
        switch (upd_client_poll(c)) {
        case UPD_CLIENT_WANT_CONNECT: {
            if (open)
                t->close(t->ctx);
            open = 0;
            if (t->connect(t->ctx, c->host, c->tcp_port, c->tls, to) != 0) {
                upd_client_transport_error(c, UPD_PORT_ECONNECT);
                break;
            }
            open = 1;
            upd_client_connected(c);
            break;
        }
        case UPD_CLIENT_WANT_SEND: {
            size_t n;
            const uint8_t *p = upd_client_want_send(c, &n);
            int k = t->send(t->ctx, p, n, to);
            if (k <= 0)
                upd_client_transport_error(c, UPD_PORT_ESEND);
            else
                upd_client_sent(c, (size_t)k);
            break;
        }
        case UPD_CLIENT_WANT_RECV: {
            int k = t->recv(t->ctx, in, sizeof in, RECV_WAIT_MS);
            if (k > 0)
                upd_client_feed(c, in, (size_t)k);
            else if (k == 0)
                upd_client_eof(c);
            else if (k != UPD_PORT_ETIMEOUT)
                upd_client_transport_error(c, k);
            break;
        }
        case UPD_CLIENT_DONE:
        default:
            if (open)
                t->close(t->ctx);
            return upd_client_result_of(c);
        }
    }
}
