/* ESP-IDF's esp_https_ota, read by doctor itself: it is not an engine flavor. The request is
 * esp_http_client's shape (esp32-ota.md section 3), the verdict esp_https_ota's. */
#include <stdlib.h>

#include "doctor.h"

/* Where the next request goes. */
typedef struct target {
    char host[256];
    uint16_t port;
    int tls;
    char path[2048];
} target;

/* esp_http_client's GET for t, into x. */
static void make_request(const doctor *d, const target *t, xchg *x)
{
    snprintf(x->host, sizeof x->host, "%.*s", (int)sizeof x->host - 1, t->host);
    x->port = t->port;
    x->tls = t->tls;
    char hostport[300];
    if (t->port == (t->tls ? 443 : 80))
        say(hostport, sizeof hostport, "%s", t->host);
    else
        say(hostport, sizeof hostport, "%s:%u", t->host, (unsigned)t->port);
    x->req_len = (size_t)snprintf(x->req, sizeof x->req,
                                  "GET %s HTTP/1.1\r\nx-updraft-tool: doctor\r\nHost: "
                                  "%s\r\nUser-Agent: ESP32 HTTP Client/1.0\r\n%s%s%s\r\n",
                                  t->path, hostport, d->auth[0] ? "Authorization: Basic " : "",
                                  d->auth, d->auth[0] ? "\r\n" : "");
}

/* Read the whole answer (HTTP/1.1: until Content-Length, the last chunk or close). Sets
 * r->error to -11 when the headers do not come in time. */
static void read_answer(const doctor *d, upd_posix_net *net, xchg *x, run *r)
{
    uint8_t in[16384];
    for (;;) {
        resp rp;
        upd__doctor_parse_resp(x->raw, x->raw_len, &rp);
        if (rp.complete) {
            const char *cl = upd__doctor_header(&rp, "Content-Length");
            const char *te = upd__doctor_header(&rp, "Transfer-Encoding");
            if (rp.status == 304 || rp.status == 204)
                break;
            if (te && strstr(te, "chunked")) {
                if (upd__doctor_last_chunk_came(&rp))
                    break;
            } else if (cl && rp.body_len >= (size_t)atoll(cl)) {
                break;
            }
        }
        uint32_t to = rp.complete ? d->cfg.stream_timeout_ms : d->cfg.timeout_ms;
        int k = upd_posix_net_recv(net, in, sizeof in, to);
        if (k == 0) {
            x->closed = 1;
            break;
        }
        if (k < 0) {
            if (k == UPD_PORT_ETIMEOUT && !rp.complete)
                r->error = -11;
            x->reset = k != UPD_PORT_ETIMEOUT;
            break;
        }
        upd__doctor_xchg_received(x, in, (size_t)k);
    }
}

/* The redirect esp_http_client follows from answer rp: 1 with t updated, or 0 (none, or one
 * it refuses: https to http, a Location it cannot read). */
static int follow(const resp *rp, target *t)
{
    const char *loc = upd__doctor_header(rp, "Location");
    if (!rp->complete || rp->status < 301 || rp->status > 308 || rp->status == 304 ||
        rp->status == 305 || rp->status == 306 || !loc)
        return 0;
    if (loc[0] == '/') {
        snprintf(t->path, sizeof t->path, "%s", loc);
        return 1;
    }
    if (strncmp(loc, "http://", 7) && strncmp(loc, "https://", 8))
        return 0;
    if (t->tls && loc[4] != 's')
        return 0; /* esp_http_client refuses https -> http */
    struct opts u;
    memset(&u, 0, sizeof u);
    u.url = loc;
    char e[128];
    if (upd__doctor_parse_url(&u, e, sizeof e) != 0)
        return 0;
    snprintf(t->host, sizeof t->host, "%s", u.host);
    t->port = u.port;
    t->tls = u.tls;
    snprintf(t->path, sizeof t->path, "%s", u.path);
    return 1;
}

int upd__doctor_idf_check(doctor *d, run *r, char *err, size_t errlen)
{
    const struct opts *o = d->o;
    upd_posix_port *pp = calloc(1, sizeof *pp);
    if (!pp) {
        say(err, errlen, "out of memory");
        return -1;
    }
    if (upd_posix_port_open(pp, NULL, NULL, &d->layout, err, errlen) != 0) {
        free(pp);
        return -1;
    }
    pp->net.insecure = o->insecure;
    pp->net.ca_file = o->cacert;
    memset(r, 0, sizeof *r);
    target t;
    snprintf(t.host, sizeof t.host, "%s", o->host);
    t.port = o->port;
    t.tls = o->tls;
    snprintf(t.path, sizeof t.path, "%s", o->path);
    r->t0 = upd_posix_now_ms(NULL);
    for (int hop = 0; hop <= 10; hop++) {
        xchg *x = &r->x[r->nx++];
        make_request(d, &t, x);
        if (upd__doctor_xchg_connect(x, &pp->net, t.host, d->cfg.timeout_ms) != 0) {
            r->error = -1;
            break;
        }
        upd__doctor_send_all(&pp->net, x->req, x->req_len, d->cfg.timeout_ms);
        read_answer(d, &pp->net, x, r);
        upd_posix_net_close(&pp->net);
        resp rp;
        upd__doctor_parse_resp(x->raw, x->raw_len, &rp);
        r->status = rp.status;
        if (r->error || hop == 10 || !follow(&rp, &t))
            break;
    }
    r->elapsed = upd_posix_now_ms(NULL) - r->t0;
    upd_posix_port_close(pp);
    free(pp);
    return 0;
}

void upd__doctor_idf_judge(doctor *d, const run *r)
{
    const resp *p = &d->final;
    const xchg *x = d->fx;
    const char *cl = upd__doctor_header(p, "Content-Length"),
               *te = upd__doctor_header(p, "Transfer-Encoding");
    d->result = "failed";
    if (r->error == -1 || !x) {
        d->code = -1;
        upd__doctor_explain(d, r);
        return;
    }
    if (r->error == -11) {
        d->code = -11;
        upd__doctor_explain(d, r);
        return;
    }
    if (p->status == 304) {
        /* docs/protocol.md "esp_https_ota on /update": only IDF >= v5.5 knows 304 */
        d->code = 0;
        d->result = "no-update";
        say(d->cause, sizeof d->cause,
            "304 Not Modified: IDF v5.5 and later report \"not modified\"; v4.4 to v5.4 take it "
            "as a 0-byte image, and with bulk_flash_erase erase the whole passive slot before "
            "failing (v4.1 and older erase it in any case)");
        say(d->fix, sizeof d->fix,
            "for \"no update\" answer a 302 without Location (every IDF version stops before "
            "erasing; updraft does so), or give such devices an immutable URL and let them "
            "compare the version");
        return;
    }
    if (p->status >= 301 && p->status <= 308 && p->status != 304 &&
        !upd__doctor_header(p, "Location")) {
        d->code = 0; /* esp_https_ota returns an error, but a harmless one */
        d->result = "no-update";
        say(d->cause, sizeof d->cause,
            "%d without Location: esp_https_ota_begin() fails (\"URL redirection Failed\") "
            "before anything is erased, in every IDF version: the safe \"no update\" for an "
            "esp_https_ota client (updraft answers so when it has nothing for it)",
            p->status);
        say(d->fix, sizeof d->fix,
            "nothing to fix when there is no update for this device; to offer one, serve the "
            "image with 200");
        return;
    }
    if (p->status != 200) {
        d->code = p->status >= 300 && p->status < 400 ? -104 : p->status == 404 ? -102 : -104;
        if (p->status >= 300 && p->status < 400)
            say(d->cause, sizeof d->cause,
                "a %d redirect esp_http_client does not follow (https to http, no Location, "
                "more than 10)",
                p->status);
        else
            say(d->cause, sizeof d->cause,
                "the server answered \"%s\": esp_https_ota needs 200 (or 304)", p->status_line);
        say(d->fix, sizeof d->fix, "serve the image with 200 at this URL");
        return;
    }
    int chunked = te && strstr(te, "chunked");
    if (!cl && !chunked) {
        d->code = -101;
        say(d->cause, sizeof d->cause,
            "no Content-Length and no chunked framing: the body just ends at close, which "
            "esp_https_ota does not accept");
        say(d->fix, sizeof d->fix, "send Content-Length (or correct chunked framing)");
        return;
    }
    if (!d->have_body || !d->body_complete) {
        d->code = 6;
        say(d->cause, sizeof d->cause, "the body ended or stalled before it was complete");
        say(d->fix, sizeof d->fix, "send exactly Content-Length bytes, without pauses");
        return;
    }
    if (d->fit_done &&
        (d->fit.code == UPD_FIT_NO_SPACE || d->fit.code == UPD_FIT_NO_SPACE_ROUNDUP)) {
        /* esp_ota_write() refuses to write past the passive slot: esp_https_ota_perform()
         * returns its ESP_ERR_INVALID_SIZE (after writing what fitted) */
        d->code = UPD__DOCTOR_IDF_INVALID_SIZE;
        say(d->cause, sizeof d->cause,
            "esp_https_ota stops with ESP_ERR_INVALID_SIZE when the image passes the end of the "
            "passive OTA slot: %s",
            d->fit.explanation);
        say(d->fix, sizeof d->fix,
            "make the image smaller than the OTA slot, or give the device a partition table "
            "with larger OTA slots (a USB flash)");
        return;
    }
    if (!d->fit_done || d->fit.code != UPD_FIT_OK) {
        d->code = -106;
        say(d->cause, sizeof d->cause,
            "esp_https_ota refuses the image (ESP_ERR_OTA_VALIDATE_FAILED): %s",
            d->fit_done ? d->fit.explanation : "not an image");
        say(d->fix, sizeof d->fix, "publish the ESP-IDF application .bin built for this chip");
        return;
    }
    d->code = 0;
    d->result = "ok";
}
