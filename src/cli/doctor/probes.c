/* Extra requests the device does not make: HEAD and Range, as esp_https_ota and updraft's
 * device library (resuming) use them. Each replays the device's last request with one
 * more header, on a connection of its own. */
#include <stdlib.h>

#include "doctor.h"

typedef struct probe {
    xchg x; /* the answer's bytes (x.raw, x.raw_len) */
    resp r;
    int ok; /* a complete response came */
    char error[UPD_POSIX_ERROR_MAX];
} probe;

/* The last request again, as method with an extra header line. */
static void probe_run(const doctor *d, const char *method, const char *extra, probe *pr)
{
    memset(pr, 0, sizeof *pr);
    const xchg *x = d->fx;
    char req[4200];
    const char *sp = strchr(x->req, ' ');
    size_t body = x->req_len >= 2 ? x->req_len - 2 : 0; /* before the final CRLF */
    if (!sp || (size_t)(sp - x->req) > body)
        return;
    int n = snprintf(req, sizeof req, "%s%.*s%s\r\n", method, (int)(body - (size_t)(sp - x->req)),
                     sp, extra);
    if (n <= 0 || (size_t)n >= sizeof req)
        return;
    upd_posix_net net;
    upd_posix_net_init(&net);
    net.insecure = d->o->insecure;
    net.ca_file = d->o->cacert;
    uint32_t to = d->cfg.timeout_ms;
    if (upd_posix_net_connect(&net, x->host, x->port, x->tls, to) != 0) {
        snprintf(pr->error, sizeof pr->error, "%s", net.error);
        upd_posix_net_free(&net);
        return;
    }
    upd__doctor_send_all(&net, req, (size_t)n, to);
    uint8_t in[8192];
    for (;;) {
        upd__doctor_parse_resp(pr->x.raw, pr->x.raw_len, &pr->r);
        if (pr->r.complete) {
            const char *cl = upd__doctor_header(&pr->r, "Content-Length");
            if (!strcmp(method, "HEAD") || pr->r.status == 304 || pr->r.status == 416 ||
                (cl && pr->r.body_len >= (size_t)atoll(cl)) || pr->r.body_len > 4096)
                break;
        }
        int k = upd_posix_net_recv(&net, in, sizeof in, to);
        if (k <= 0)
            break;
        upd__doctor_xchg_append(&pr->x, in, (size_t)k);
    }
    pr->ok = pr->r.complete;
    if (!pr->ok)
        snprintf(pr->error, sizeof pr->error, "no complete answer (%.200s)",
                 net.error[0] ? net.error : "closed or timed out");
    upd_posix_net_free(&net);
}

static void probe_free(probe *pr)
{
    free(pr->x.raw);
    pr->x.raw = NULL;
}

/* HEAD must give 200 and the GET's Content-Length (esp_https_ota asks it first). */
static void check_head(doctor *d, unsigned long long total)
{
    probe pr;
    probe_run(d, "HEAD", "", &pr);
    const char *hcl = pr.ok ? upd__doctor_header(&pr.r, "Content-Length") : NULL;
    if (pr.ok && pr.r.status == 200 && hcl && (unsigned long long)atoll(hcl) == total)
        upd__doctor_note(d, "head", L_OK, "200 with the same Content-Length (%s)", hcl);
    else if (pr.ok)
        upd__doctor_note(
            d, "head", L_WARN,
            "HEAD answered \"%s\"%s%s: esp_https_ota's partial download asks HEAD for the size "
            "first (newer ESP-IDF falls back to Range: bytes=0-0); answer HEAD with the GET's "
            "headers",
            pr.r.status_line, hcl ? ", Content-Length " : ", no Content-Length", hcl ? hcl : "");
    else
        upd__doctor_note(d, "head", L_WARN, "HEAD: %s", pr.error);
    probe_free(&pr);
}

/* Three Range requests: the first byte (206 with Content-Range), one byte past the end
 * (clamped), beyond the end (416). */
static void check_range(doctor *d, unsigned long long total)
{
    const char *who = d->o->as == AS_IDF
                          ? "esp_https_ota's partial download"
                          : "the stock client does not use it; updraft's device library resumes "
                            "with it, esp_https_ota's partial download needs it";
    probe pr;
    char extra[128], text[1024];
    int level = L_OK;
    text[0] = '\0';
    /* 1. the first byte */
    probe_run(d, "GET", "Range: bytes=0-0\r\n", &pr);
    char want[96];
    say(want, sizeof want, "bytes 0-0/%llu", total);
    const char *cr = pr.ok ? upd__doctor_header(&pr.r, "Content-Range") : NULL;
    if (!pr.ok) {
        level = L_WARN;
        add(text, sizeof text, "bytes=0-0: %s; ", pr.error);
    } else if (pr.r.status == 200) {
        level = L_WARN;
        add(text, sizeof text,
            "Range ignored: 200 to `Range: bytes=0-0` (%s: a server that ignores Range "
            "corrupts the image when downloaded in chunks); ",
            who);
    } else if (pr.r.status != 206 || !cr || strcmp(cr, want) != 0) {
        level = L_WARN;
        add(text, sizeof text, "bytes=0-0 answered \"%s\", Content-Range %s (want 206, %s); ",
            pr.r.status_line, cr ? cr : "missing", want);
    } else {
        add(text, sizeof text, "206 with Content-Range: %s; ", cr);
    }
    int ignored = pr.ok && pr.r.status == 200;
    probe_free(&pr);
    if (!ignored && total > 10) {
        /* 2. one byte past the end: must be clamped (RFC 9110) */
        say(extra, sizeof extra, "Range: bytes=%llu-%llu\r\n", total - 10, total);
        probe_run(d, "GET", extra, &pr);
        say(want, sizeof want, "bytes %llu-%llu/%llu", total - 10, total - 1, total);
        cr = pr.ok ? upd__doctor_header(&pr.r, "Content-Range") : NULL;
        if (pr.ok && pr.r.status == 206 && cr && !strcmp(cr, want)) {
            add(text, sizeof text, "a range one byte past the end is clamped; ");
        } else {
            level = L_WARN;
            add(text, sizeof text,
                "a range one byte past the end (bytes=%llu-%llu) answered \"%s\"%s%s: the last "
                "position must be clamped to the length (RFC 9110; esp_https_ota's resumed "
                "first chunk asks like that); ",
                total - 10, total, pr.ok ? pr.r.status_line : pr.error, cr ? ", " : "",
                cr ? cr : "");
        }
        probe_free(&pr);
        /* 3. beyond the end: 416 */
        say(extra, sizeof extra, "Range: bytes=%llu-\r\n", total);
        probe_run(d, "GET", extra, &pr);
        if (pr.ok && pr.r.status == 416) {
            add(text, sizeof text, "416 beyond the end");
        } else {
            level = L_WARN;
            add(text, sizeof text, "a range beyond the end answered \"%s\" (want 416)",
                pr.ok ? pr.r.status_line : pr.error);
        }
        probe_free(&pr);
    }
    size_t tl = strlen(text);
    while (tl && (text[tl - 1] == ' ' || text[tl - 1] == ';'))
        text[--tl] = '\0';
    if (!upd__doctor_header(&d->final, "Accept-Ranges") && level == L_OK)
        add(text, sizeof text, " (but no Accept-Ranges: bytes header)");
    upd__doctor_note(d, "range", level, "%s", text);
}

void upd__doctor_check_probes(doctor *d)
{
    const resp *p = &d->final;
    const char *cl = upd__doctor_header(p, "Content-Length");
    if (!d->o->probes || !d->fx || p->status != 200 || !cl || atoll(cl) <= 0 ||
        upd__doctor_header(p, "Transfer-Encoding"))
        return;
    unsigned long long total = (unsigned long long)atoll(cl);
    check_head(d, total);
    check_range(d, total);
}
