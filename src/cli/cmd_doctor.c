/* `updraft doctor URL`: ask a server for an update exactly as a device does and say what
 * that device would make of the answer: its own result code and text, the cause and
 * the fix in plain words, plus what the device does not check (is the body an image
 * this device boots? does the server get Range and HEAD right? TLS?).
 *
 * The request and the verdict come from the device update engine (upd_client_ctx, in
 * parity mode: features 0) running on the posix port with a temporary flash of the
 * device's layout, so doctor and the device library can never disagree. ESP-IDF's
 * esp_https_ota is not an engine flavor: doctor reads that exchange itself. The modules
 * are in doctor/ (doctor/doctor.h says which does what); this file runs them in order. */
#include <gnutls/gnutls.h>
#include <stdlib.h>

#include "cli.h"
#include "doctor/doctor.h"

static const char *result_name(upd_client_result result)
{
    return result == UPD_CLIENT_OK           ? "ok"
           : result == UPD_CLIENT_NO_UPDATES ? "no-update"
                                             : "failed";
}

/* The final exchange and its response. */
static void take_final(doctor *d, const run *r)
{
    d->fx = r->nx ? &r->x[r->nx - 1] : NULL;
    if (d->fx)
        upd__doctor_parse_resp(d->fx->raw, d->fx->raw_len, &d->final);
}

/* The engine's result, the body's checks, the cause and fix; whether the device would
 * really update (an image installed that it cannot boot does not count). */
static void engine_verdict(doctor *d, const run *r)
{
    take_final(d, r);
    d->code = r->result == UPD_CLIENT_FAILED ? r->error : 0;
    d->result = result_name(r->result);
    upd__doctor_analyze_body(d);
    upd__doctor_explain(d, r);
    d->would_update = r->result != UPD_CLIENT_FAILED;
    if (r->result != UPD_CLIENT_OK || !d->fit_done || d->fit.code == UPD_FIT_OK)
        return;
    d->would_update = 0;
    if (d->o->mode != UPD_MODE_SKETCH)
        return;
    d->bricks = d->fit.bricks;
    if (d->fit.http_error || d->fit.updater_error)
        upd__doctor_note(d, "engine", L_WARN,
                         "the client engine and the core's fit rules disagree: the engine "
                         "installed the image, the fit rules predict %d/%d",
                         d->fit.http_error, d->fit.updater_error);
}

/* When a redirect is involved, the check again with the other redirect setting. */
static void check_other_redirect_setting(doctor *d, const run *r)
{
    const struct opts *o = d->o;
    int redirected = r->nx > 1;
    int refused_redirect = d->code == -104 && !o->follow &&
                           (d->final.status == 301 || d->final.status == 302 ||
                            d->final.status == 303 || d->final.status == 307);
    if (!refused_redirect && !(o->follow && redirected))
        return;
    run *alt = calloc(1, sizeof *alt);
    upd_client_config cfg = d->cfg;
    cfg.follow_redirects = (uint8_t)!o->follow;
    char err[512];
    if (alt && upd__doctor_engine_check(d, &cfg, alt, err, sizeof err) == 0) {
        d->alt_done = 1;
        d->alt_follow = !o->follow;
        d->alt_code = alt->result == UPD_CLIENT_FAILED ? alt->error : 0;
        d->alt_result = result_name(alt->result);
        upd__doctor_note(d, "redirect", refused_redirect ? L_INFO : L_WARN,
                         "%s the device would get: %s (%d %s)",
                         o->follow ? "without redirects enabled (the sketch's default)"
                                   : "with setFollowRedirects(HTTPC_STRICT_FOLLOW_REDIRECTS)",
                         alt->result == UPD_CLIENT_OK           ? "update"
                         : alt->result == UPD_CLIENT_NO_UPDATES ? "no update"
                                                                : "failed",
                         d->alt_code,
                         d->alt_code ? upd__doctor_code_text(d->alt_code, o->as != AS_ESP8266)
                                     : "OK");
        upd__doctor_run_free(alt);
    }
    free(alt);
}

static void check_tls(doctor *d)
{
    const xchg *x = d->fx;
    if (!x || !x->tls || x->connect_failed)
        return;
    if (x->tls_problem[0])
        upd__doctor_note(d, "tls", L_WARN, "%s; certificate NOT trusted: %s (ignored: --insecure)",
                         x->tls_info, x->tls_problem);
    else
        upd__doctor_note(d, "tls", L_OK, "%s, certificate verified", x->tls_info);
}

int upd_cmd_doctor(int argc, char **argv)
{
    static struct opts o;
    char err[512];
    int pa = upd__doctor_parse_args(argc, argv, &o, err, sizeof err);
    if (pa == 1) {
        fputs(upd__doctor_usage, stdout);
        return 0;
    }
    if (pa != 0) {
        fprintf(stderr, "updraft doctor: %s (see updraft doctor --help)\n", err);
        return 2;
    }
    doctor *d = calloc(1, sizeof *d);
    run *r = calloc(1, sizeof *r);
    if (!d || !r) {
        fprintf(stderr, "updraft doctor: out of memory\n");
        return 2;
    }
    d->o = &o;
    if (upd__doctor_make_layout(d, err, sizeof err) != 0) {
        fprintf(stderr, "updraft doctor: %s\n", err);
        return 2;
    }
    upd__doctor_make_config(d);
    gnutls_global_init();
    if (o.as == AS_IDF) {
        if (upd__doctor_idf_check(d, r, err, sizeof err) != 0) {
            fprintf(stderr, "updraft doctor: %s\n", err);
            return 2;
        }
        take_final(d, r);
        upd__doctor_analyze_body(d);
        upd__doctor_idf_judge(d, r);
        d->would_update = d->code == 0;
    } else {
        if (upd__doctor_engine_check(d, &d->cfg, r, err, sizeof err) != 0) {
            fprintf(stderr, "updraft doctor: %s\n", err);
            return 2;
        }
        engine_verdict(d, r);
        check_other_redirect_setting(d, r);
        upd__doctor_check_loop(d, r);
    }
    check_tls(d);
    upd__doctor_check_headers(d);
    upd__doctor_check_md5(d);
    upd__doctor_check_probes(d);
    upd__doctor_check_mfln(d);
    int status = d->would_update && !d->loop ? 0 : 1;
    upd__doctor_print(d, r, status);
    upd__doctor_run_free(r);
    free(d->fi);
    free(d);
    free(r);
    gnutls_global_deinit();
    return status;
}
