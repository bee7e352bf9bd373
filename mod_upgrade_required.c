/* mod_upgrade_required - answer "426 Upgrade Required" (RFC 9110 §15.5.22)
 * when a request arrives over a protocol that a location refuses.
 *
 * Directives (all names and keywords case-insensitive):
 *
 *   UpgradeRequired Off | requirement [requirement ...]
 *       server config, virtual host, directory, .htaccess (AuthConfig)
 *       requirement: TLS, TLS/1.0 .. TLS/1.3, HTTP/1.1, HTTP/2, websocket
 *       default: none (the module does nothing)
 *       <Location /api> UpgradeRequired TLS/1.3 </Location>
 *
 *   UpgradeRequiredHeader "protocol[/version][, ...]"
 *       same contexts; replaces the Upgrade value of the 426
 *       UpgradeRequiredHeader "TLS/1.0, HTTP/1.1"
 *
 *   UpgradeRequiredRedirect Off|301|302|307|308     (default Off)
 *       same contexts; a browser's GET/HEAD navigation that fails only
 *       its TLS requirement over plain HTTP is redirected to https
 *   UpgradeRequiredReportOnly On|Off               (default Off)
 *       same contexts; decide and report (UPGRADE_REQUIRED_REPORT, an
 *       info line), refuse nothing
 *
 *   UpgradeRequiredHTTPSURL https://host[:port]
 *       server config, virtual host; the https address of the page's
 *       link and the redirect (default: https:// and the ServerName)
 *
 *   UpgradeRequiredTrustedProxy address[/bits] ...
 *   UpgradeRequiredProxyHeader Forwarded|X-Forwarded-Proto ...
 *   UpgradeRequiredProxyTLS On|Off                 (default Off)
 *   UpgradeRequiredAcmeExempt On|Off               (default On)
 *       server config, virtual host
 *       UpgradeRequiredTrustedProxy 10.0.0.0/8 ::1
 *
 * A refused request gets 426 with Upgrade (and Connection: Upgrade on
 * HTTP/1.x), Sec-WebSocket-Version: 13 when a WebSocket handshake was
 * required, and a short HTML page unless ErrorDocument 426 is set.  The
 * environment variable UPGRADE_REQUIRED and the note "upgrade-required"
 * carry the Upgrade value; "no-upgrade-required" in the environment
 * exempts a request.
 *
 * The policy enforced is the one in the request's final per-directory
 * configuration (README.md, "Where it acts in the request cycle"): this
 * file holds that one decision and the hooks that place it; the rest is
 * in upreq_config.c, upreq_verdict.c and upreq_response.c (upreq.h).
 */

#include "upreq.h"
#include "upreq_metrics.h"

/* Keeps a function's stack (a verdict, the canary that guards it) off the
 * path of requests that need none of it: the hooks below run for every
 * request. */
#if defined(__GNUC__)
#define UPREQ_NOINLINE __attribute__((noinline))
#else
#define UPREQ_NOINLINE
#endif

/* Requests the module never refuses (README): error documents,
 * forward-proxy requests, CONNECT, and no-upgrade-required. */
static int upreq_request_is_exempt(request_rec *r)
{
    const char *why = NULL;

    if (r->prev && ap_is_HTTP_ERROR(r->prev->status)) {
        why = "error document";
    }
    else if (r->proxyreq == PROXYREQ_PROXY) {
        why = "forward-proxy request";
    }
    else if (r->method_number == M_CONNECT) {
        why = "CONNECT";
    }
    else if (apr_table_get(r->subprocess_env, UPREQ_EXEMPT_ENV)) {
        why = UPREQ_EXEMPT_ENV " is set";
    }
    if (why && APLOGrdebug(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "UPREQ002: not refused: %s", why);
    }
    return why != NULL;
}

static void upreq_log_pass(request_rec *r, const upreq_dir_conf *d,
                           const upreq_verdict *v, const char *phase)
{
    if (APLOGrdebug(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "UPREQ003: policy of %s met (%s)%s%s%s",
                      ap_escape_logitem(r->pool, d->policy.where), phase,
                      v->why ? ": " : "",
                      v->why ? upreq_log_reason(r, v) : "",
                      v->h2c_candidate ? "; h2c upgrade let through" : "");
    }
}

/* ------------------------------------------------------------------ */
/* the decision                                                        */

/* The state of a main request whose handler has started and that holds
 * nothing else: shared and read-only, so that marking costs no
 * allocation (upreq_handler). */
static const upreq_req upreq_handler_started = { .in_handler = 1 };

/* The request's own state, made on first write. */
static upreq_req *upreq_state(request_rec *r)
{
    upreq_req *st = ap_get_module_config(r->request_config,
                                         &upgrade_required_module);

    if (st == NULL || st == &upreq_handler_started) {
        upreq_req *own = apr_pcalloc(r->pool, sizeof(*own));

        own->in_handler = (st != NULL);
        ap_set_module_config(r->request_config, &upgrade_required_module,
                             own);
        st = own;
    }
    return st;
}

static const upreq_srv_conf *upreq_srv(request_rec *r)
{
    return ap_get_module_config(r->server->module_config,
                                &upgrade_required_module);
}

/* Did the request fail policy d?  Fills v; exemptions (an environment
 * look-up among them) are asked only of a request that fails: one that
 * meets its policy does not pay for them. */
static int upreq_fails(request_rec *r, const upreq_dir_conf *d,
                       upreq_verdict *v)
{
    upreq_evaluate(r, &d->policy, upreq_srv(r), v);
    return v->failed && !v->h2c_candidate && !upreq_request_is_exempt(r);
}

/* A browser's top-level navigation (Fetch Metadata; without it, the
 * Upgrade-Insecure-Requests signal, W3C UIR §3.2.1). */
static int upreq_is_navigation(request_rec *r)
{
    const char *mode = apr_table_get(r->headers_in, "Sec-Fetch-Mode");
    const char *uir;

    if (mode) {
        return strcasecmp(mode, "navigate") == 0;
    }
    uir = apr_table_get(r->headers_in, "Upgrade-Insecure-Requests");
    return uir && strcmp(uir, "1") == 0;
}

/* UpgradeRequiredRedirect: only a GET or HEAD navigation over plain HTTP
 * (as the connection or a trusted proxy says) that fails its TLS
 * requirement and nothing else; every other request gets the 426. */
static int upreq_wants_redirect(request_rec *r, const upreq_dir_conf *d,
                                const upreq_verdict *v)
{
    return upreq_redirect(d) && r->main == NULL
           && v->failed == UPREQ_R_TLS && !v->tls_too_old
           && r->method_number == M_GET && upreq_is_navigation(r);
}

/* What a request that fails policy d gets: the redirect, the 426, or,
 * with UpgradeRequiredReportOnly, a report and nothing else (DECLINED). */
static int upreq_answer(request_rec *r, const upreq_dir_conf *d,
                        upreq_verdict *v, const char *phase)
{
    int redirect = upreq_wants_redirect(r, d, v);

    if (upreq_report_only(d)) {
        upreq_report(r, d, v, redirect);
        return DECLINED;
    }
    if (APLOGrdebug(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "UPREQ004: refusing by the policy of %s (%s)%s%s",
                      ap_escape_logitem(r->pool, d->policy.where), phase,
                      v->why ? ": " : "", v->why ? upreq_log_reason(r, v)
                                                 : "");
    }
    return redirect ? upreq_redirect_to_https(r, d, v)
                    : upreq_refuse(r, d, v, 1);
}

/* Can the path be a file name below the document root?  A longer one
 * (ENAMETOOLONG) makes map_to_storage answer 403 before header_parser. */
static int upreq_path_fits_storage(request_rec *r)
{
    const char *uri = r->uri, *seg = uri;

    for (; *uri; uri++) {
        if (*uri == '/') {
            seg = uri + 1;
        }
        else if (uri - seg >= 255) {
            return 0;
        }
    }
    return (apr_size_t)(uri - r->uri) + strlen(ap_document_root(r))
           < PATH_MAX;
}

/* TEMPORARY wiring of the counters (issue 17), until the redesigned
 * decision counts in its one outcome function. */

/* what the client used for a TLS requirement */
static upreq_client upreq_tls_client(request_rec *r, const upreq_verdict *v)
{
    const upreq_conn_tls *t = v->tls ? v->tls : upreq_tls_state(r);
    int by_conn = !v->via_proxy || v->tls_used
                  || (v->why && strcmp(v->why, "TLS connection") == 0);

    if (v->via_proxy && (v->failed & UPREQ_R_TLS) && !v->tls_too_old) {
        return UPREQ_CL_PLAIN;      /* the proxy says plain, or nothing */
    }
    if (!by_conn) {
        return UPREQ_CL_TLS;        /* the proxy says https: no version */
    }
    if (!t->is_tls) {
        return UPREQ_CL_PLAIN;
    }
    return t->minor >= 0 && t->minor <= 3
           ? (upreq_client)(UPREQ_CL_TLS10 + t->minor) : UPREQ_CL_TLS;
}

/* The TLS requirement's count; an ACME request is not judged on TLS
 * (v->peer unset): met where the connection meets it anyway, else
 * exempt. */
static void upreq_count_tls(request_rec *r, const upreq_policy *pol,
                            const upreq_verdict *v, upreq_outcome miss)
{
    upreq_client cl = upreq_tls_client(r, v);
    int minor = pol->tls_minor;
    upreq_outcome out = miss;

    if (!(v->failed & UPREQ_R_TLS)) {
        out = v->peer || (cl >= UPREQ_CL_TLS10 && cl <= UPREQ_CL_TLS13
                          && (int)(cl - UPREQ_CL_TLS10) >= minor)
              || (minor == UPREQ_TLS_ANY && cl != UPREQ_CL_PLAIN)
              ? UPREQ_OUT_MET : UPREQ_OUT_EXEMPT;
    }
    upreq_metrics_add(r, minor == UPREQ_TLS_ANY ? UPREQ_RL_TLS
                      : (upreq_req_label)(UPREQ_RL_TLS10 + minor), out, cl);
}

/* What the requirements that failed got, from the answer rv: DECLINED
 * is report-only's (or an exemption's, when the request did not fail). */
static upreq_outcome upreq_miss(int fails, int rv)
{
    return !fails ? UPREQ_OUT_EXEMPT
         : rv == DECLINED ? UPREQ_OUT_REPORTED
         : ap_is_HTTP_REDIRECT(rv) ? UPREQ_OUT_REDIRECTED
         : UPREQ_OUT_REFUSED;
}

/* One count per requirement of d's policy for main request r, which
 * got rv. */
static void upreq_count(request_rec *r, const upreq_dir_conf *d,
                        const upreq_verdict *v, int fails, int rv)
{
    int reqs = d->policy.reqs;
    upreq_outcome miss = UPREQ_OUT_MET;
    upreq_client http;

    /* not counted (SPEC); an h2c offer counts as what it becomes */
    if (v->h2c_candidate || r->proxyreq == PROXYREQ_PROXY
        || r->method_number == M_CONNECT) {
        return;
    }
    if (v->failed) {
        miss = upreq_miss(fails, rv);
    }
    if (reqs & UPREQ_R_TLS) {
        upreq_count_tls(r, &d->policy, v, miss);
    }
    if (reqs & (UPREQ_R_HTTP11 | UPREQ_R_HTTP2)) {
        http = r->proto_num >= HTTP_VERSION(2, 0) ? UPREQ_CL_HTTP2
             : r->proto_num >= HTTP_VERSION(1, 1) ? UPREQ_CL_HTTP11
             : UPREQ_CL_HTTP10;
        if (reqs & UPREQ_R_HTTP11) {
            upreq_metrics_add(r, UPREQ_RL_HTTP11, (v->failed & UPREQ_R_HTTP11)
                              ? miss : UPREQ_OUT_MET, http);
        }
        if (reqs & UPREQ_R_HTTP2) {
            upreq_metrics_add(r, UPREQ_RL_HTTP2, (v->failed & UPREQ_R_HTTP2)
                              ? miss : UPREQ_OUT_MET, http);
        }
    }
    if (reqs & UPREQ_R_WS) {
        upreq_metrics_add(r, UPREQ_RL_WS, (v->failed & UPREQ_R_WS)
                          ? miss : UPREQ_OUT_MET,
                          (v->failed & UPREQ_R_WS) ? UPREQ_CL_NO_HANDSHAKE
                                                   : UPREQ_CL_HANDSHAKE);
    }
}

/* The one decision: OK to go on (DECLINED), or the answer.  Every hook
 * below calls it with the per-directory configuration that is final for
 * the request at that point (README: "Where it acts in the request
 * cycle"); "early" is the translate_name optimisation, which leaves an
 * h2c offer to header_parser (mod_http2 reads H2Upgrade per directory). */
static int upreq_decide(request_rec *r, const upreq_dir_conf *d,
                        const char *phase, int early)
{
    upreq_req *st;
    upreq_verdict v = { 0 };
    int fails = upreq_fails(r, d, &v), rv;

    /* left to header_parser: an h2c offer; a refusal of a path that
     * map_to_storage would refuse first (asked only of a refusal) */
    if (early && (v.h2c_candidate
                  || (fails && !upreq_path_fits_storage(r)))) {
        return DECLINED;
    }
    st = upreq_state(r);
    st->decided = &d->policy;
    st->h2c_offer = !fails && v.h2c_candidate && !upreq_request_is_exempt(r);
    if (!fails) {
        upreq_log_pass(r, d, &v, phase);
        rv = DECLINED;
    }
    else {
        rv = upreq_answer(r, d, &v, phase);
    }
    if (r->main == NULL && r->prev == NULL) {
        upreq_count(r, d, &v, fails, rv);   /* TEMPORARY wiring, issue 17 */
    }
    return rv;
}

/* Was the request decided under a policy that asks the same? */
static int upreq_decided_as(const upreq_req *st, const upreq_policy *pol)
{
    return st && st->decided && st->decided->reqs == pol->reqs
           && st->decided->tls_minor == pol->tls_minor;
}

static const upreq_dir_conf *upreq_dir(request_rec *r)
{
    return ap_get_module_config(r->per_dir_config,
                                &upgrade_required_module);
}

static request_rec *upreq_main_request(request_rec *r)
{
    while (r->main) {
        r = r->main;
    }
    return r;
}

/* ------------------------------------------------------------------ */
/* a refusal decided in a subrequest                                   */

static ap_filter_rec_t *upreq_pending_filter_handle;

/* Give m the refusal a subrequest left pending, if m answers 426 and has
 * not got our fields yet; once.  page: the body is still to be made. */
static void upreq_apply_pending(request_rec *m, int page)
{
    upreq_req *st = ap_get_module_config(m->request_config,
                                         &upgrade_required_module);
    upreq_pending *pend;

    if (st == NULL || st->pending == NULL
        || m->status != HTTP_UPGRADE_REQUIRED) {
        return;
    }
    pend = st->pending;
    st->pending = NULL;
    if (apr_table_get(m->notes, UPREQ_NOTE) == NULL) {
        upreq_refuse(m, &pend->d, &pend->v, page);
    }
}

/* Keep subrequest r's refusal for its main request: a module may pass
 * the 426 on, through ap_die() (the insert_error_filter hook) or on its
 * own (mod_dav's Destination errors: this filter). */
static void upreq_keep_pending(request_rec *r, const upreq_dir_conf *d,
                               const upreq_verdict *v)
{
    request_rec *m = upreq_main_request(r);
    upreq_req *mst = upreq_state(m);

    if (mst->pending == NULL) {
        mst->pending = apr_palloc(m->pool, sizeof(*mst->pending));
        ap_add_output_filter_handle(upreq_pending_filter_handle, NULL, m,
                                    m->connection);
    }
    mst->pending->d = *d;
    mst->pending->v = *v;
}

static apr_status_t upreq_pending_filter(ap_filter_t *f,
                                         apr_bucket_brigade *bb)
{
    upreq_apply_pending(f->r, 0);
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* ------------------------------------------------------------------ */
/* hooks                                                               */

/* translate_name, after every other translator but core's: the early
 * decision, an optimisation of the one in header_parser.  It is taken
 * only where it must give the same answer (README): the virtual host
 * has nothing that changes the policy after the first Location walk
 * (upreq_scan_tree), no section merged before <Location> can replace a
 * value the decision uses, no translator has claimed the request or
 * changed its URI, and httpd will not answer it in map_to_storage
 * (TRACE, OPTIONS *, a name too long for the file system). */
static int upreq_translate_name(request_rec *r)
{
    const upreq_dir_conf *d = upreq_dir(r);
    const upreq_srv_conf *sc;

    if (d->policy.reqs <= 0) {
        return DECLINED;        /* the idle path: one look-up */
    }
    sc = upreq_srv(r);
    if (r->main || sc->not_early
        || (sc->dir_sets & ~d->from_location)
        || r->uri != r->parsed_uri.path || r->method_number == M_TRACE
        || r->uri[0] != '/') {
        return DECLINED;
    }
    return upreq_decide(r, d, "translate_name", 1);
}

/* header_parser: main requests and internal redirects, with their final
 * per-directory configuration, after mod_setenvif's per-directory rules
 * and before access control, so a 426 comes before any 401 or 403. */
static int upreq_header_parser(request_rec *r)
{
    const upreq_dir_conf *d = upreq_dir(r);

    if (d->policy.reqs <= 0
        || upreq_decided_as(ap_get_module_config(r->request_config,
                                                 &upgrade_required_module),
                            &d->policy)) {
        return DECLINED;
    }
    return upreq_decide(r, d, "header_parser", 0);
}

/* post_perdir_config, subrequests (they run no header_parser), with their
 * final configuration.  One made by the main request's handler
 * (mod_include, mod_autoindex's header and readme, mod_dav's
 * Destination) is served: judged now.  One made before it (mod_dir,
 * MultiViews, mod_rewrite -U/-F) only looks something up and is not
 * refused; its access hooks below answer 426 where access control would
 * otherwise answer 401 or 403. */
static int upreq_judge_subrequest(request_rec *r, const upreq_dir_conf *d);

static int upreq_post_perdir_config(request_rec *r)
{
    const upreq_dir_conf *d;

    if (r->main == NULL || (d = upreq_dir(r))->policy.reqs <= 0) {
        return DECLINED;        /* the common path: nothing on the stack */
    }
    return upreq_judge_subrequest(r, d);
}

static UPREQ_NOINLINE int upreq_judge_subrequest(request_rec *r,
                                                 const upreq_dir_conf *d)
{
    upreq_req *mst = ap_get_module_config(
                         upreq_main_request(r)->request_config,
                         &upgrade_required_module);
    upreq_req *st;
    upreq_verdict v = { 0 };

    if (!upreq_fails(r, d, &v)) {
        return DECLINED;
    }
    if (mst && mst->in_handler) {
        if (upreq_report_only(d)) {
            upreq_report(r, d, &v, 0);
            return DECLINED;
        }
        upreq_keep_pending(r, d, &v);
        return upreq_refuse(r, d, &v, 1);
    }
    if (upreq_report_only(d)) {
        return DECLINED;        /* a lookup is never refused anyway */
    }
    if (APLOGrdebug(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "UPREQ002: not refused: subrequest %s only looks up "
                      "(the policy of %s is not met; refused only where "
                      "access control would refuse it)",
                      ap_escape_logitem(r->pool, r->uri),
                      ap_escape_logitem(r->pool, d->policy.where));
    }
    st = upreq_state(r);
    st->lookup_fails = 1;
    st->v = v;
    return DECLINED;
}

/* A lookup subrequest that fails its policy is about to face access
 * control: 426 where access control would refuse it, so that no 401 or
 * 403 (which mod_dir passes on) comes before the 426 of the policy. */
static int upreq_refuse_lookup(request_rec *r, upreq_req *st)
{
    const upreq_dir_conf *d = upreq_dir(r);

    if (APLOGrdebug(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "UPREQ007: lookup of %s fails the policy of %s and "
                      "would be refused by access control: 426 instead",
                      ap_escape_logitem(r->pool, r->uri),
                      ap_escape_logitem(r->pool, d->policy.where));
    }
    upreq_keep_pending(r, d, &st->v);
    return upreq_refuse(r, d, &st->v, 1);
}

/* access_checker and access_checker_ex, first: ask the other access
 * hooks what they would answer (once; this hook declines meanwhile),
 * and answer 426 where they would refuse. */
static int upreq_probe_access(request_rec *r, int (*run)(request_rec *))
{
    upreq_req *st = r->main ? ap_get_module_config(r->request_config,
                                                   &upgrade_required_module)
                            : NULL;
    int rv;

    if (st == NULL || !st->lookup_fails || st->probing) {
        return DECLINED;
    }
    st->probing = 1;
    rv = run(r);
    st->probing = 0;
    return ap_is_HTTP_ERROR(rv) ? upreq_refuse_lookup(r, st) : DECLINED;
}

static int upreq_access_checker(request_rec *r)
{
    return upreq_probe_access(r, ap_run_access_checker);
}

static int upreq_access_checker_ex(request_rec *r)
{
    return upreq_probe_access(r, ap_run_access_checker_ex);
}

/* check_authn, first: authentication would invite credentials. */
static int upreq_check_authn(request_rec *r)
{
    upreq_req *st = r->main ? ap_get_module_config(r->request_config,
                                                   &upgrade_required_module)
                            : NULL;

    return (st && st->lookup_fails) ? upreq_refuse_lookup(r, st) : DECLINED;
}

/* insert_error_filter: a 426 that a subrequest decided and a module
 * passed on through ap_die() gets its fields and page here, before
 * ap_send_error_response() reads them. */
static void upreq_insert_error_filter(request_rec *r)
{
    if (r->main == NULL) {
        upreq_apply_pending(r, 1);
    }
}

/* Is r the ErrorDocument request of a 426 of ours? */
static int upreq_is_our_error_document(const request_rec *r)
{
    return r->prev && apr_table_get(r->prev->notes, UPREQ_NOTE) != NULL;
}

/* handler, before core_upgrade_handler can switch protocols:
 * - from here on, the main request's subrequests are served;
 * - the ErrorDocument request of our 426 inherits the refused request's
 *   headers; its Upgrade offer is hidden (in a copy: the original's
 *   logged headers stay) so that it is never switched to h2c, nor
 *   upgraded by a proxy;
 * - mod_dir's index and mod_negotiation's variant arrive through
 *   ap_internal_fast_redirect(), which installs the subrequest's
 *   per-directory configuration after header_parser: the final
 *   configuration is that one, so its policy is decided here. */
static int upreq_handler(request_rec *r)
{
    upreq_req *st;
    const upreq_dir_conf *d;

    if (r->main) {
        return DECLINED;
    }
    if (r->prev && r->prev->status == HTTP_UPGRADE_REQUIRED) {
        /* a local ErrorDocument of a 426 from a subrequest: ap_die() has
         * renamed the variables already */
        upreq_apply_pending(r->prev, 1);
        if (upreq_is_our_error_document(r)
            && !apr_table_get(r->subprocess_env, "REDIRECT_" UPREQ_ENV)) {
            apr_table_setn(r->subprocess_env, "REDIRECT_" UPREQ_ENV,
                           apr_table_get(r->prev->notes, UPREQ_NOTE));
        }
    }
    if (upreq_is_our_error_document(r)) {
        if (apr_table_get(r->headers_in, "Upgrade")) {
            r->headers_in = apr_table_copy(r->pool, r->headers_in);
            apr_table_unset(r->headers_in, "Upgrade");
        }
        return DECLINED;
    }
    d = upreq_dir(r);
    st = ap_get_module_config(r->request_config, &upgrade_required_module);
    if (st == NULL) {
        /* from now on, subrequests are served (upreq_post_perdir_config) */
        ap_set_module_config(r->request_config, &upgrade_required_module,
                             (void *)&upreq_handler_started);
    }
    else if (st != &upreq_handler_started) {
        st->in_handler = 1;
        st->pending = NULL;     /* a lookup's refusal was not used */
    }
    if (d->policy.reqs <= 0 || (st && st->h2c_offer)
        || upreq_decided_as(st, &d->policy)) {
        return DECLINED;
    }
    return upreq_decide(r, d, "handler", 0);
}

/* handler, right after core_upgrade_handler: a let-through h2c upgrade
 * that reaches this point was not switched, so it is refused after all;
 * an ErrorDocument for our 426 loses the Upgrade/Connection fields that
 * core_upgrade_handler announces on a connection's first request, so
 * only ours are sent. */
static UPREQ_NOINLINE int upreq_refuse_unswitched_h2c(request_rec *r,
                                                       upreq_req *st)
{
    upreq_verdict v = { .failed = UPREQ_R_HTTP2,
                        .why = "h2c upgrade not switched",
                        .tls = upreq_tls_state(r) };

    st->h2c_offer = 0;
    return upreq_answer(r, upreq_dir(r), &v, "after core_upgrade_handler");
}

static int upreq_handler_after_core(request_rec *r)
{
    upreq_req *st = ap_get_module_config(r->request_config,
                                         &upgrade_required_module);

    if (st && st->h2c_offer && !r->main) {
        return upreq_refuse_unswitched_h2c(r, st);
    }
    if (upreq_is_our_error_document(r)) {
        apr_table_unset(r->headers_out, "Upgrade");
        apr_table_unset(r->headers_out, "Connection");
    }
    return DECLINED;
}

static void upreq_register_hooks(apr_pool_t *p)
{
    static const char *const translators[] = {
        "mod_alias.c", "mod_rewrite.c", "mod_proxy.c", "mod_userdir.c",
        "mod_vhost_alias.c", NULL
    };
    static const char *const after_setenvif[] = { "mod_setenvif.c", NULL };
    static const char *const core[] = { "core.c", NULL };

    /* the early decision: after every translator that may claim the
     * request or change its URI, before core maps it to a file */
    ap_hook_translate_name(upreq_translate_name, translators, NULL,
                           APR_HOOK_LAST);
    /* subrequests: their final configuration, before access control */
    ap_hook_post_perdir_config(upreq_post_perdir_config, NULL, NULL,
                               APR_HOOK_MIDDLE);
    /* after mod_setenvif's per-directory rules set no-upgrade-required,
     * before access control and all fixups (mod_rewrite, mod_alias) */
    ap_hook_header_parser(upreq_header_parser, after_setenvif, NULL,
                          APR_HOOK_FIRST);
    /* lookup subrequests: before every access hook that could refuse */
    ap_hook_check_access(upreq_access_checker, NULL, NULL,
                         APR_HOOK_REALLY_FIRST, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_access_ex(upreq_access_checker_ex, NULL, NULL,
                            APR_HOOK_REALLY_FIRST, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_authn(upreq_check_authn, NULL, NULL, APR_HOOK_REALLY_FIRST,
                        AP_AUTH_INTERNAL_PER_CONF);
    /* before core_upgrade_handler (REALLY_FIRST) may switch protocols */
    ap_hook_handler(upreq_handler, NULL, core, APR_HOOK_REALLY_FIRST);
    /* right after it, before any content handler */
    ap_hook_handler(upreq_handler_after_core, core, NULL,
                    APR_HOOK_REALLY_FIRST);
    /* a 426 that a subrequest decided gets its fields before it is sent:
     * through ap_die(), or past it (upreq_pending_filter, before the
     * HTTP header filter) */
    ap_hook_insert_error_filter(upreq_insert_error_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
    upreq_pending_filter_handle =
        ap_register_output_filter("UPGRADE_REQUIRED_PENDING",
                                  upreq_pending_filter, NULL,
                                  AP_FTYPE_PROTOCOL - 1);
    upreq_response_init();
    /* under apachectl -t too */
    ap_hook_check_config(upreq_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(upreq_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* the counters' memory, their handler and mod_status section */
    upreq_metrics_register_hooks(p);
#if !UPREQ_HAVE_AP_SSL
    /* mod_ssl's optional functions exist once all modules are loaded */
    ap_hook_optional_fn_retrieve(upreq_retrieve_optional_fn, NULL, NULL,
                                 APR_HOOK_MIDDLE);
#endif
}

AP_DECLARE_MODULE(upgrade_required) = {
    STANDARD20_MODULE_STUFF,
    upreq_create_dir_conf,      /* per-directory config */
    upreq_merge_dir_conf,       /* merge per-directory */
    upreq_create_srv_conf,      /* per-server config */
    upreq_merge_srv_conf,       /* merge per-server */
    upreq_cmds,                 /* directives */
    upreq_register_hooks,       /* hooks */
    /* every virtual host gets a server configuration of its own, even
     * without a directive of ours: start-up writes per-host values
     * (upreq_post_config) */
    AP_MODULE_FLAG_ALWAYS_MERGE
};
