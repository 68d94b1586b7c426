/* The report: the list of checks, and printing it all for a human (colour on a terminal)
 * or as one JSON object. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <unistd.h>

#include "doctor.h"
#include "updraft/image.h"

/* Terminal escapes for the human output ("" each when not a terminal). */
struct style {
    const char *good, *bad, *warn, *dim, *bold, *off;
};

static const char *const level_name[] = {"ok", "info", "warn", "fail"};

void upd__doctor_note(doctor *d, const char *name, int level, const char *fmt, ...)
{
    if (d->nchecks == MAX_CHECKS)
        return;
    check *c = &d->checks[d->nchecks++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->level = level;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->text, sizeof c->text, fmt, ap);
    va_end(ap);
}

/* n with a comma every three digits ("17,306"). */
static void thousands(unsigned n, char *out, size_t cap)
{
    char d[16];
    int len = snprintf(d, sizeof d, "%u", n), o = 0;
    for (int i = 0; i < len && o + 2 < (int)cap; i++) {
        if (i && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = d[i];
    }
    out[o] = '\0';
}

static const char *as_name(int as)
{
    return as == AS_ESP32 ? "esp32" : as == AS_IDF ? "esp-idf" : "esp8266";
}

static void first_line(const char *s, char *out, size_t cap)
{
    size_t n = strcspn(s, "\r\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

static void print_human(const doctor *d, const run *r, const struct style *st)
{
    const struct opts *o = d->o;
    int esp32 = o->as != AS_ESP8266;
    printf("%s%s%s  as %s, %s mode\n", st->bold, o->url, st->off, as_name(o->as),
           o->mode == UPD_MODE_FS ? "spiffs" : "sketch");
    const char *colour = d->would_update ? st->good : st->bad;
    if (!strcmp(d->result, "no-update"))
        printf("  %-10s %sno update%s (HTTP_UPDATE_NO_UPDATES)\n", "result", colour, st->off);
    else if (d->code == 0)
        printf("  %-10s %supdate%s (HTTP_UPDATE_OK)%s\n", "result", colour, st->off,
               d->would_update ? ""
               : d->bricks     ? ", then the device no longer boots"
                               : ", but see below");
    else
        printf("  %-10s %sfailed%s %d %s: %s\n", "result", colour, st->off, d->code,
               upd__doctor_code_name(d->code, esp32), upd__doctor_code_text(d->code, esp32));
    if (d->cause[0])
        printf("  %-10s %s\n", "cause", d->cause);
    if (d->fix[0])
        printf("  %-10s %s\n", "fix", d->fix);
    printf("  %-10s %s\n", "verdict",
           d->loop           ? "a real device would update, then get the same update again at "
                               "every check (update loop: see the 'loop' check)"
           : d->would_update ? "a real device would update (or be told \"no update\")"
                             : "a real device would NOT update");
    char line[256];
    for (int i = 0; i < r->nx; i++) {
        const xchg *x = &r->x[i];
        first_line(x->req, line, sizeof line);
        printf("  %-10s %s (%zu bytes) to %s:%u%s%s\n", i ? "then" : "request", line, x->req_len,
               x->host, (unsigned)x->port, x->tls ? " over TLS" : "",
               x->connect_failed ? ": connection failed" : "");
        resp rp;
        upd__doctor_parse_resp(x->raw, x->raw_len, &rp);
        if (x->raw_len)
            printf("  %-10s %s%s\n", "response",
                   rp.status_line[0] ? rp.status_line : "(no status line)",
                   rp.complete ? "" : " (headers incomplete)");
    }
    for (int i = 0; i < d->nchecks; i++) {
        const check *c = &d->checks[i];
        const char *col = c->level == L_OK     ? st->good
                          : c->level == L_FAIL ? st->bad
                          : c->level == L_WARN ? st->warn
                                               : st->dim;
        printf("  %-10s %s%-4s%s %s\n", c->name, col, level_name[c->level], st->off, c->text);
    }
    if (d->mfln.done) {
        printf("  %-10s what the TLS buffers cost an ESP8266 (BearSSL::WiFiClientSecure, receive "
               "buffer + %u, send buffer + %u bytes):\n",
               "tls-ram", UPD_DOCTOR_BEARSSL_IN, UPD_DOCTOR_BEARSSL_OUT);
        printf("  %-10s | `setBufferSizes` | TLS buffers on the device | with this server |\n", "");
        printf("  %-10s |---|---|---|\n", "");
        for (int k = 0; k <= UPD_DOCTOR_MFLN_N; k++) {
            unsigned rx = k ? upd__doctor_mfln_len(k - 1) : 16384, tx = k ? rx : 512;
            char ram[32], who[96];
            thousands(upd__doctor_bearssl_ram(rx, tx), ram, sizeof ram);
            if (k && !d->mfln.accepted[k - 1])
                snprintf(who, sizeof who, "refused (probeMaxFragmentLength is false)");
            else if (d->mfln.data[k] < 0)
                snprintf(who, sizeof who, "not measured");
            else if (k && d->mfln.data[k] > (long)rx)
                snprintf(who, sizeof who, "FAILS: records of %ld bytes", d->mfln.data[k]);
            else
                snprintf(who, sizeof who, "works");
            if (k)
                printf("  %-10s | (%u, %u) | %s bytes | %s |\n", "", rx, tx, ram, who);
            else
                printf("  %-10s | default (%u, %u) | %s bytes | %s |\n", "", rx, tx, ram, who);
        }
    }
}

static cJSON *json_report(const doctor *d, const run *r, int status)
{
    const struct opts *o = d->o;
    int esp32 = o->as != AS_ESP8266;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "url", o->url);
    cJSON_AddStringToObject(j, "as", as_name(o->as));
    cJSON_AddStringToObject(j, "mode", o->mode == UPD_MODE_FS ? "spiffs" : "sketch");
    cJSON_AddBoolToObject(j, "would_update", d->would_update);
    cJSON_AddStringToObject(j, "result", d->result);
    cJSON_AddNumberToObject(j, "code", d->code);
    cJSON_AddStringToObject(j, "code_name", upd__doctor_code_name(d->code, esp32));
    cJSON_AddStringToObject(j, "text", d->code ? upd__doctor_code_text(d->code, esp32) : "");
    cJSON_AddBoolToObject(j, "bricks", d->bricks);
    cJSON_AddBoolToObject(j, "loop", d->loop);
    cJSON_AddStringToObject(j, "cause", d->cause);
    cJSON_AddStringToObject(j, "fix", d->fix);
    if (d->final.status)
        cJSON_AddNumberToObject(j, "status", d->final.status);
    else
        cJSON_AddNullToObject(j, "status");
    cJSON *ex = cJSON_AddArrayToObject(j, "exchanges");
    for (int i = 0; i < r->nx; i++) {
        const xchg *x = &r->x[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "host", x->host);
        cJSON_AddNumberToObject(e, "port", x->port);
        cJSON_AddBoolToObject(e, "tls", x->tls);
        cJSON_AddStringToObject(e, "request", x->req);
        resp rp;
        upd__doctor_parse_resp(x->raw, x->raw_len, &rp);
        cJSON_AddStringToObject(e, "status_line", rp.status_line);
        cJSON *h = cJSON_AddObjectToObject(e, "headers");
        for (int k = 0; k < rp.nh; k++)
            cJSON_AddStringToObject(h, rp.name[k], rp.value[k]);
        cJSON_AddNumberToObject(e, "bytes", (double)x->raw_len);
        if (x->net_error[0])
            cJSON_AddStringToObject(e, "error", x->net_error);
        if (x->tls_problem[0])
            cJSON_AddStringToObject(e, "tls_problem", x->tls_problem);
        cJSON_AddItemToArray(ex, e);
    }
    if (d->alt_done) {
        cJSON *a = cJSON_AddObjectToObject(j, "redirects_alternative");
        cJSON_AddBoolToObject(a, "follow", d->alt_follow);
        cJSON_AddStringToObject(a, "result", d->alt_result);
        cJSON_AddNumberToObject(a, "code", d->alt_code);
    }
    if (d->have_body) {
        cJSON *b = cJSON_AddObjectToObject(j, "body");
        cJSON_AddNumberToObject(b, "bytes", (double)d->body_len);
        cJSON_AddBoolToObject(b, "complete", d->body_complete);
        cJSON_AddStringToObject(b, "md5", d->body_md5_hex);
        if (d->fi) {
            cJSON_AddStringToObject(b, "kind", upd_kind_slug(d->fi->report.kind));
            cJSON_AddStringToObject(b, "verdict", upd_verdict_name(d->fi->report.verdict));
            cJSON_AddStringToObject(b, "platform", upd_platform_name(d->fi->report.platform));
            cJSON_AddStringToObject(b, "reason", d->fi->report.reason);
        }
        if (d->fit_done) {
            cJSON_AddStringToObject(b, "fit", upd_fit_code_name(d->fit.code));
            cJSON_AddStringToObject(b, "fit_explanation", d->fit.explanation);
        }
    }
    if (d->mfln.done) {
        cJSON *t = cJSON_AddArrayToObject(j, "tls_buffers");
        for (int k = 0; k <= UPD_DOCTOR_MFLN_N; k++) {
            unsigned rx = k ? upd__doctor_mfln_len(k - 1) : 16384, tx = k ? rx : 512;
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "receive", rx);
            cJSON_AddNumberToObject(e, "send", tx);
            cJSON_AddNumberToObject(e, "ram", upd__doctor_bearssl_ram(rx, tx));
            cJSON_AddBoolToObject(e, "accepted", !k || d->mfln.accepted[k - 1]);
            if (d->mfln.data[k] >= 0 && (!k || d->mfln.accepted[k - 1])) {
                cJSON_AddNumberToObject(e, "largest_record_data", (double)d->mfln.data[k]);
                cJSON_AddNumberToObject(e, "largest_record_wire", (double)d->mfln.wire[k]);
            }
            cJSON_AddItemToArray(t, e);
        }
    }
    cJSON *cs = cJSON_AddArrayToObject(j, "checks");
    for (int i = 0; i < d->nchecks; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "name", d->checks[i].name);
        cJSON_AddStringToObject(c, "level", level_name[d->checks[i].level]);
        cJSON_AddStringToObject(c, "text", d->checks[i].text);
        cJSON_AddItemToArray(cs, c);
    }
    cJSON_AddNumberToObject(j, "seconds", r->elapsed / 1000.0);
    cJSON_AddNumberToObject(j, "exit", status);
    return j;
}

void upd__doctor_print(const doctor *d, const run *r, int status)
{
    if (d->o->json) {
        cJSON *j = json_report(d, r, status);
        char *text = cJSON_Print(j);
        if (text) {
            puts(text);
            cJSON_free(text);
        }
        cJSON_Delete(j);
        return;
    }
    int tty = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    struct style st =
        tty ? (struct style){"\033[32m", "\033[31m", "\033[33m", "\033[2m", "\033[1m", "\033[0m"}
            : (struct style){"", "", "", "", "", ""};
    print_human(d, r, &st);
}
