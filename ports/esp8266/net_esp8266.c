/* ESP8266 NONOS SDK port, transport: the update engine driven from espconn callbacks
 * and a 100 ms os_timer (upd_esp8266.h). The SDK calls back into us; we never block.
 *
 *   WANT_CONNECT  DNS (espconn_gethostbyname), then espconn_connect / _secure_connect
 *   WANT_SEND     copy up to 1460 bytes into e->tx, espconn_send; the sent callback
 *                 reports them to the engine and sends the rest
 *   WANT_RECV     the receive callback feeds the engine; the timer polls it, which
 *                 applies the engine's timeouts with the port clock
 *   DONE          disconnect and call the application's done function, from the timer
 *                 (the SDK forbids espconn_disconnect inside espconn callbacks) */
#include <string.h>

#include "upd_esp8266.h"

#define TICK_MS 100u

static void step(upd_esp8266 *e);

static upd_esp8266 *of(void *arg)
{
    struct espconn *conn = arg;
    return conn ? conn->reverse : NULL;
}

/* Dotted quad to network-order bytes; 0 if host is not an IPv4 literal. */
static int parse_ipv4(const char *s, uint8_t ip[4])
{
    for (int i = 0; i < 4; i++) {
        unsigned v = 0, digits = 0;
        while (*s >= '0' && *s <= '9' && digits < 4) {
            v = v * 10u + (unsigned)(*s++ - '0');
            digits++;
        }
        if (!digits || v > 255 || (i < 3 ? *s++ != '.' : *s != '\0'))
            return 0;
        ip[i] = (uint8_t)v;
    }
    return 1;
}

static void finish_later(upd_esp8266 *e)
{
    e->finishing = 1;
    os_timer_disarm(&e->timer);
    os_timer_arm(&e->timer, 1, 0);
}

static void on_tick(void *arg)
{
    upd_esp8266 *e = arg;
    if (!e->client)
        return;
    if (e->finishing) {
        upd_client_ctx *c = e->client;
        e->client = NULL;
        e->finishing = 0;
        os_timer_disarm(&e->timer);
        if (e->connected) {
            e->connected = 0;
            if (e->tls)
                espconn_secure_disconnect(&e->conn);
            else
                espconn_disconnect(&e->conn);
        }
        if (e->done)
            e->done(e->done_arg, upd_client_result_of(c), upd_client_error(c));
        return;
    }
    e->in_timer = 1;
    step(e);
    e->in_timer = 0;
}

/* ---- espconn callbacks ----------------------------------------------------------------------- */

static void on_connect(void *arg)
{
    upd_esp8266 *e = of(arg);
    if (!e || !e->client)
        return;
    e->connected = 1;
    upd_client_connected(e->client);
    step(e);
}

/* The "reconnect" callback is the SDK's error callback: the connection failed or broke. */
static void on_error(void *arg, int8_t err)
{
    upd_esp8266 *e = of(arg);
    if (!e || !e->client)
        return;
    int was = e->connected;
    e->connected = 0;
    e->sending = 0;
    if (!was)
        upd_client_transport_error(e->client, UPD_PORT_ECONNECT);
    else
        upd_client_transport_error(e->client,
                                   err == ESPCONN_TIMEOUT ? UPD_PORT_ETIMEOUT : UPD_PORT_ELOST);
    step(e);
}

static void on_disconnect(void *arg)
{
    upd_esp8266 *e = of(arg);
    if (!e || !e->client)
        return;
    e->connected = 0;
    e->sending = 0;
    upd_client_eof(e->client);
    step(e);
}

static void on_recv(void *arg, char *data, unsigned short len)
{
    upd_esp8266 *e = of(arg);
    if (!e || !e->client)
        return;
    upd_client_feed(e->client, data, len); /* bytes past the body are not needed */
    step(e);
}

static void on_sent(void *arg)
{
    upd_esp8266 *e = of(arg);
    if (!e || !e->client || !e->sending)
        return;
    e->sending = 0;
    upd_client_sent(e->client, e->tx_len);
    step(e);
}

static void connect_ip(upd_esp8266 *e)
{
    struct espconn *conn = &e->conn;
    memcpy(e->tcp.remote_ip, &e->ip.addr, 4);
    e->tcp.remote_port = upd_client_port(e->client);
    e->tcp.local_port = (int)espconn_port();
    conn->type = ESPCONN_TCP;
    conn->state = ESPCONN_NONE;
    conn->proto.tcp = &e->tcp;
    conn->reverse = e;
    espconn_regist_connectcb(conn, on_connect);
    espconn_regist_reconcb(conn, on_error);
    espconn_regist_disconcb(conn, on_disconnect);
    espconn_regist_recvcb(conn, on_recv);
    espconn_regist_sentcb(conn, on_sent);
    e->tls = (uint8_t)upd_client_tls(e->client);
    int8_t r = e->tls ? espconn_secure_connect(conn) : espconn_connect(conn);
    if (r != ESPCONN_OK) {
        upd_client_transport_error(e->client, UPD_PORT_ECONNECT);
        step(e);
    }
}

static void on_dns(const char *name, ip_addr_t *ip, void *arg)
{
    (void)name;
    upd_esp8266 *e = of(arg);
    if (!e || !e->client)
        return;
    if (!ip || !ip->addr) {
        upd_client_transport_error(e->client, UPD_PORT_ECONNECT);
        step(e);
        return;
    }
    e->ip = *ip;
    connect_ip(e);
}

/* ---- the engine's wishes ------------------------------------------------------------------------ */

static void want_connect(upd_esp8266 *e)
{
    const char *host = upd_client_host(e->client);
    uint8_t ip[4];
    if (e->connected) { /* a redirect: the old connection goes first */
        if (!e->in_timer)
            return; /* not from inside an espconn callback: the timer comes back here */
        e->connected = 0;
        if (e->tls)
            espconn_secure_disconnect(&e->conn);
        else
            espconn_disconnect(&e->conn);
    }
    memset(&e->conn, 0, sizeof e->conn);
    memset(&e->tcp, 0, sizeof e->tcp);
    e->conn.reverse = e;
    if (parse_ipv4(host, ip)) {
        memcpy(&e->ip.addr, ip, 4);
        connect_ip(e);
        return;
    }
    int8_t r = espconn_gethostbyname(&e->conn, host, &e->ip, on_dns);
    if (r == ESPCONN_OK)
        connect_ip(e); /* cached */
    else if (r != ESPCONN_INPROGRESS) {
        upd_client_transport_error(e->client, UPD_PORT_ECONNECT);
        step(e);
    }
}

static void want_send(upd_esp8266 *e)
{
    if (e->sending)
        return;
    size_t n;
    const uint8_t *p = upd_client_want_send(e->client, &n);
    if (!p || !n)
        return;
    if (n > sizeof e->tx)
        n = sizeof e->tx;
    memcpy(e->tx, p, n);
    e->tx_len = (uint16_t)n;
    e->sending = 1;
    int8_t r = e->tls ? espconn_secure_send(&e->conn, e->tx, e->tx_len)
                      : espconn_send(&e->conn, e->tx, e->tx_len);
    if (r != ESPCONN_OK) {
        e->sending = 0;
        upd_client_transport_error(e->client, UPD_PORT_ESEND);
        step(e);
    }
}

/* Do what the engine wants now; the callbacks and the timer call this again. */
static void step(upd_esp8266 *e)
{
    if (!e->client || e->finishing)
        return;
    switch (upd_client_poll(e->client)) {
    case UPD_CLIENT_WANT_CONNECT:
        want_connect(e);
        break;
    case UPD_CLIENT_WANT_SEND:
        want_send(e);
        break;
    case UPD_CLIENT_WANT_RECV:
        break; /* the receive callback and the timer move on */
    case UPD_CLIENT_DONE:
    default:
        finish_later(e);
        break;
    }
}

int upd_esp8266_check_start(upd_esp8266 *e, upd_client_ctx *c, upd_esp8266_done_fn done, void *arg)
{
    if (e->client)
        return -1;
    e->client = c;
    e->done = done;
    e->done_arg = arg;
    e->connected = e->sending = e->finishing = 0;
    os_timer_disarm(&e->timer);
    os_timer_setfn(&e->timer, on_tick, e);
    os_timer_arm(&e->timer, TICK_MS, 1);
    step(e);
    return 0;
}
