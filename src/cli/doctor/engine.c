/* Running the device's client engine (upd_client_ctx) on the posix port: a temporary flash
 * laid out like the device's, every byte of every exchange recorded. */
#include <stdlib.h>
#include <strings.h>

#include "doctor.h"
#include "../toolmark.h"
#include "updraft/error.h"
#include "updraft/image.h"

typedef struct act_ctx {
    upd_posix_port *pp;
    run *r;
    int chip;
} act_ctx;

/* esp_ota_set_boot_partition() verifies the image in the slot before it switches
 * (esp_image_verify: magic, chip id, segments, checksum, appended hash): an image that
 * is not an app for this chip fails there, which Arduino-ESP32's Update reports as
 * error 9 (activate). */
static int act_verify(void *ctx, uint32_t start, uint32_t size)
{
    act_ctx *a = ctx;
    a->r->act_called = 1;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return -1;
    int rc = -1;
    if (upd_posix_flash_read(&a->pp->flash, start, buf, size) == 0) {
        upd_source src;
        upd_source_init_mem(&src, buf, size);
        upd_image_report *rep = malloc(sizeof *rep);
        upd_sha256_ops sha = a->pp->port.crypto.sha256;
        if (rep && upd_image_inspect(&src, &sha, rep) == 0 && rep->verdict == UPD_VERDICT_OTA_APP &&
            rep->platform == UPD_PLATFORM_ESP32 &&
            (a->chip == UPD_CHIP_UNKNOWN || (int)rep->chip == a->chip)) {
            rc = upd_posix_state_activate(&a->pp->state, start, size);
        } else if (rep) {
            a->r->act_refused = 1;
            if (rep->verdict == UPD_VERDICT_OTA_APP && rep->platform == UPD_PLATFORM_ESP32) {
                const char *ic = upd_chip_name(rep->chip), *dc = upd_chip_name(a->chip);
                say(a->r->act_reason, sizeof a->r->act_reason,
                    "the image is for %s, the device is %s (\"Mismatch chip id\")",
                    ic ? ic : "another chip", dc ? dc : "another chip");
            } else {
                say(a->r->act_reason, sizeof a->r->act_reason, "%s", rep->reason);
            }
        }
        free(rep);
    }
    free(buf);
    return rc;
}

/* Read what is left of the last response after the engine stopped (a refused body is
 * still worth a look), until close, the Content-Length, or a quiet second or two. */
static void drain(upd_posix_port *pp, xchg *x, uint32_t idle_ms)
{
    uint8_t in[16384];
    for (;;) {
        resp r;
        upd__doctor_parse_resp(x->raw, x->raw_len, &r);
        if (r.complete) {
            const char *cl = upd__doctor_header(&r, "Content-Length");
            const char *te = upd__doctor_header(&r, "Transfer-Encoding");
            if (r.status == 304 || r.status == 204 || (r.status >= 100 && r.status < 200))
                return;
            if (cl && !(te && strcasecmp(te, "identity")) && atoll(cl) >= 0 &&
                r.body_len >= (size_t)atoll(cl))
                return;
            if (te && strstr(te, "chunked") && upd__doctor_last_chunk_came(&r))
                return;
        }
        if (x->raw_len >= RAW_MAX)
            return;
        int k = upd_posix_net_recv(&pp->net, in, sizeof in, idle_ms);
        if (k <= 0) {
            if (k == 0)
                x->closed = 1;
            return;
        }
        upd__doctor_xchg_append(x, in, (size_t)k);
    }
}

/* One check as the device makes it, recording every byte. Returns 0, or -1 when the
 * engine refused the configuration (err says why). */
static int run_check(upd_posix_port *pp, const upd_client_config *cfg, run *r, char *err,
                     size_t errlen)
{
    static uint32_t cbuf[4096 / 4];
    upd_client_ctx c;
    memset(r, 0, sizeof *r);
    int e = upd_client_init(&c, cfg, &pp->port, cbuf, sizeof cbuf);
    if (e) {
        say(err, errlen, "the client engine refused the settings: %s", upd_strerror(e));
        return -1;
    }
    r->t0 = upd_posix_now_ms(NULL);
    xchg *x = NULL;
    int open = 0;
    uint8_t in[4096], marked[4096];
    for (int done = 0; !done;) {
        switch (upd_client_poll(&c)) {
        case UPD_CLIENT_WANT_CONNECT: {
            if (open)
                upd_posix_net_close(&pp->net);
            open = 0;
            if (r->nx == MAX_XCHG) {
                upd_client_transport_error(&c, UPD_PORT_ECONNECT);
                break;
            }
            x = &r->x[r->nx++];
            snprintf(x->host, sizeof x->host, "%s", upd_client_host(&c));
            x->port = upd_client_port(&c);
            x->tls = upd_client_tls(&c);
            if (upd__doctor_xchg_connect(x, &pp->net, x->host, cfg->timeout_ms) != 0) {
                upd_client_transport_error(&c, UPD_PORT_ECONNECT);
                break;
            }
            open = 1;
            upd_client_connected(&c);
            break;
        }
        case UPD_CLIENT_WANT_SEND: {
            size_t n;
            const uint8_t *p = upd_client_want_send(&c, &n);
            /* the request's first bytes: say that doctor sends it (toolmark.h) */
            size_t m = x->req_len ? 0 : upd_cli_toolmark(p, n, "doctor", marked, sizeof marked);
            if (m) {
                size_t sent = 0;
                while (sent < m) {
                    int k = upd_posix_net_send(&pp->net, marked + sent, m - sent, cfg->timeout_ms);
                    if (k <= 0)
                        break;
                    sent += (size_t)k;
                }
                if (sent < m) {
                    snprintf(x->net_error, sizeof x->net_error, "%s", pp->net.error);
                    upd_client_transport_error(&c, UPD_PORT_ESEND);
                    break;
                }
                if (m < sizeof x->req) {
                    memcpy(x->req, marked, m);
                    x->req_len = m;
                    x->req[m] = '\0';
                }
                upd_client_sent(&c, n);
                break;
            }
            int k = upd_posix_net_send(&pp->net, p, n, cfg->timeout_ms);
            if (k <= 0) {
                snprintf(x->net_error, sizeof x->net_error, "%s", pp->net.error);
                upd_client_transport_error(&c, UPD_PORT_ESEND);
                break;
            }
            if (x->req_len + (size_t)k < sizeof x->req) {
                memcpy(x->req + x->req_len, p, (size_t)k);
                x->req_len += (size_t)k;
                x->req[x->req_len] = '\0';
            }
            upd_client_sent(&c, (size_t)k);
            break;
        }
        case UPD_CLIENT_WANT_RECV: {
            int k = upd_posix_net_recv(&pp->net, in, sizeof in, 100);
            if (k > 0) {
                upd__doctor_xchg_received(x, in, (size_t)k);
                upd_client_feed(&c, in, (size_t)k);
            } else if (k == 0) {
                x->closed = 1;
                upd_client_eof(&c);
            } else if (k != UPD_PORT_ETIMEOUT) {
                x->reset = 1;
                snprintf(x->net_error, sizeof x->net_error, "%s", pp->net.error);
                upd_client_transport_error(&c, k);
            }
            break;
        }
        case UPD_CLIENT_DONE:
        default:
            done = 1;
            break;
        }
    }
    r->result = upd_client_result_of(&c);
    r->error = upd_client_error(&c);
    r->detail = upd_client_detail(&c);
    r->status = upd_client_status(&c);
    r->elapsed = upd_posix_now_ms(NULL) - r->t0;
    if (open && x && !x->closed && !x->reset && r->result == UPD_CLIENT_FAILED)
        drain(pp, x, cfg->timeout_ms < 2000 ? cfg->timeout_ms : 2000);
    if (open)
        upd_posix_net_close(&pp->net);
    return 0;
}

void upd__doctor_run_free(run *r)
{
    for (int i = 0; i < r->nx; i++)
        free(r->x[i].raw);
    r->nx = 0;
}

/* A fresh posix port with the device's layout, whose state's activate verifies the image
 * as the ESP32 does (act_verify; the other state ops get the posix state back). */
static int st_read(void *ctx, unsigned area, void *buf, uint32_t len)
{
    return upd_posix_state_read(&((act_ctx *)ctx)->pp->state, area, buf, len);
}

static int st_write(void *ctx, unsigned area, const void *buf, uint32_t len)
{
    return upd_posix_state_write(&((act_ctx *)ctx)->pp->state, area, buf, len);
}

static int open_port(doctor *d, upd_posix_port *pp, act_ctx *act, run *r, char *err, size_t errlen)
{
    if (upd_posix_port_open(pp, NULL, NULL, &d->layout, err, errlen) != 0)
        return -1;
    pp->net.insecure = d->o->insecure;
    pp->net.ca_file = d->o->cacert;
    act->pp = pp;
    act->r = r;
    act->chip = d->o->chip;
    pp->port.state = (upd_state_ops){st_read, st_write, act_verify, act};
    return 0;
}

int upd__doctor_engine_check(doctor *d, const upd_client_config *cfg, run *r, char *err,
                             size_t errlen)
{
    upd_posix_port *pp = calloc(1, sizeof *pp);
    act_ctx act;
    if (!pp) {
        say(err, errlen, "out of memory");
        return -1;
    }
    int rc = open_port(d, pp, &act, r, err, errlen);
    if (rc == 0)
        rc = run_check(pp, cfg, r, err, errlen);
    upd_posix_port_close(pp);
    free(pp);
    return rc;
}
