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
 *   UpgradeRequiredTLSStatus 426|403               (default 426)
 *       same contexts; 403, without any Upgrade field, for a refusal in
 *       which a TLS requirement failed (for security scanners)
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
 * configuration, applied to its final URI (docs/request-cycle.md): this
 * file holds that one decision, its one way out, and the hooks that place
 * it; the rest is in upreq_config.c, upreq_verdict.c and upreq_response.c
 * (upreq.h).
 */

#include "upreq.h"

/* ------------------------------------------------------------------ */
/* per-request state                                                   */

/* A main request whose handler has started and that no policy judged
 * needs no state of its own but this mark, which its served subrequests
 * read: shared and read-only, so that the many requests under no policy
 * allocate nothing (bench/README.md, "idle"). */
static const upreq_main_state upreq_handler_started = { .in_handler = 1 };

/* Main request r, which no policy judged, has started its handler. */
static void upreq_mark_handler_started(request_rec *r)
{
    ap_set_module_config(r->request_config, &upgrade_required_module,
                         (void *)&upreq_handler_started);
}

static const upreq_dir_conf *upreq_dir(request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &upgrade_required_module);
}

static const upreq_srv_conf *upreq_srv(request_rec *r)
{
    return ap_get_module_config(r->server->module_config,
                                &upgrade_required_module);
}

static request_rec *upreq_main_request(request_rec *r)
{
    while (r->main) {
        r = r->main;
    }
    return r;
}

/* The state of main request r, if any (read only). */
static const upreq_main_state *upreq_main_peek(request_rec *r)
{
    return ap_get_module_config(r->request_config, &upgrade_required_module);
}

static apr_status_t upreq_count_at_end(void *st);

/* The state of main request r, made on first write.  The request the
 * client sent gets its count at the end (upreq_count_at_end) if nothing
 * counted it before its response.  Inline, as upreq_count() and
 * upreq_answer() are: the path of a judged request crosses fewer calls
 * (bench/README.md, "TLS pass"). */
static APR_INLINE upreq_main_state *upreq_main_state_of(request_rec *r)
{
    const upreq_main_state *st = upreq_main_peek(r);
    upreq_main_state *own;

    if (st != NULL && st != &upreq_handler_started) {
        return (upreq_main_state *)st;
    }
    /* every field but the decision, which upreq_decide() fills: not
     * zeroing the verdict saves 20 instructions per judged request
     * (apr_pcalloc measured 619 in the module for a TLS pass, this 599) */
    own = apr_palloc(r->pool, sizeof(*own));
    own->r = r;
    own->uri = NULL;
    own->conf = NULL;
    own->last.d = NULL;
    own->counted = 0;
    own->h2c_offer = 0;
    own->in_handler = (st != NULL);
    own->pending = NULL;
    ap_set_module_config(r->request_config, &upgrade_required_module, own);
    if (r->prev == NULL) {
        /* before the pool's subpools go: the decision may point into a
         * fast redirect's subrequest pool (as httpd's EOR bucket does for
         * log_transaction) */
        apr_pool_pre_cleanup_register(r->pool, own, upreq_count_at_end);
    }
    return own;
}

/* ------------------------------------------------------------------ */
/* what kind of request this is                                        */

/* Requests no policy judges (SPEC: never refused, never counted). */
static int upreq_is_never_judged(request_rec *r)
{
    return r->proxyreq == PROXYREQ_PROXY || r->method_number == M_CONNECT;
}

/* An error document (an internal redirect made by ap_die()). */
static int upreq_is_error_document(const request_rec *r)
{
    return r->prev && ap_is_HTTP_ERROR(r->prev->status);
}

/* The error document of a refusal of ours: served, never refused again
 * (SPEC), also when mod_dir completes it (r->prev stays). */
static int upreq_is_our_error_document(const request_rec *r)
{
    return r->prev && apr_table_get(r->prev->notes, UPREQ_NOTE) != NULL;
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
 * requirement and nothing else; never an error document (whose client
 * keeps the original status) nor a subrequest. */
static int upreq_wants_redirect(request_rec *r, const upreq_refusal *rf)
{
    return upreq_redirect(rf->d) && r->main == NULL
           && !upreq_is_error_document(r)
           && rf->failed == UPREQ_R_TLS && !rf->v.tls_too_old
           && r->method_number == M_GET && upreq_is_navigation(r);
}

/* ------------------------------------------------------------------ */
/* the decision                                                        */

/* What the module does with a request whose policy failed (rf->v): the
 * outcome, with rf->failed (what is refused) and rf->status.
 * exemptible: no-upgrade-required applies (a served subrequest carries
 * only the environment of the page that includes it: SPEC). */
static upreq_outcome upreq_outcome_of_failure(request_rec *r,
                                              upreq_refusal *rf,
                                              int exemptible)
{
    const char *exempt = NULL;

    if (rf->v.acme) {
        rf->failed &= ~UPREQ_R_TLS;     /* other requirements still hold */
        exempt = "an ACME HTTP-01 validation";
    }
    if (rf->failed && exemptible
        && apr_table_get(r->subprocess_env, UPREQ_EXEMPT_ENV)) {
        rf->failed = 0;
        exempt = UPREQ_EXEMPT_ENV " is set";
    }
    if (rf->failed == 0) {
        if (APLOGrdebug(r)) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          "UPREQ002: not refused: %s", exempt);
        }
        return UPREQ_OUT_EXEMPT;
    }
    if (upreq_report_only(rf->d)) {
        return UPREQ_OUT_REPORTED;
    }
    if (upreq_wants_redirect(r, rf)) {
        rf->status = upreq_redirect(rf->d);
        return UPREQ_OUT_REDIRECTED;
    }
    rf->status = (rf->failed & UPREQ_R_TLS) ? upreq_tls_status(rf->d)
                                            : HTTP_UPGRADE_REQUIRED;
    return UPREQ_OUT_REFUSED;
}

/* The outcome of a request whose policy was evaluated into rf->v: met
 * when it holds, or when h2c_pending and a valid h2c offer is let
 * through for httpd to switch; otherwise what a failure gets. */
static upreq_outcome upreq_outcome_of(request_rec *r, upreq_refusal *rf,
                                      int exemptible, int h2c_pending)
{
    rf->failed = rf->v.failed;
    rf->status = HTTP_OK;
    if (rf->failed == 0 || (h2c_pending && rf->v.h2c_candidate)) {
        return UPREQ_OUT_MET;
    }
    return upreq_outcome_of_failure(r, rf, exemptible);
}

/* The counters' labels of requirement q as policy pol names it and of
 * what the client used for it, as verdict v found (SPEC "Seeing a
 * rollout"). */
static upreq_req_label upreq_req_label_of(const upreq_requirement *q,
                                          const upreq_policy *pol)
{
    switch (q->bit) {
    case UPREQ_R_TLS:
        return pol->tls_minor == UPREQ_TLS_ANY
               ? UPREQ_RL_TLS : (upreq_req_label)(UPREQ_RL_TLS10
                                                  + pol->tls_minor);
    case UPREQ_R_HTTP11:
        return UPREQ_RL_HTTP11;
    case UPREQ_R_HTTP2:
        return UPREQ_RL_HTTP2;
    default:
        return UPREQ_RL_WS;
    }
}

static upreq_client upreq_client_of(request_rec *r,
                                    const upreq_requirement *q,
                                    const upreq_verdict *v)
{
    switch (q->bit) {
    case UPREQ_R_TLS:
        return v->client_tls == UPREQ_TLS_NONE ? UPREQ_CL_PLAIN
               : v->client_tls >= 0 ? (upreq_client)(UPREQ_CL_TLS10
                                                     + v->client_tls)
               : UPREQ_CL_TLS;
    case UPREQ_R_HTTP11:
    case UPREQ_R_HTTP2:
        return r->proto_num >= HTTP_VERSION(2, 0) ? UPREQ_CL_HTTP2
               : r->proto_num >= HTTP_VERSION(1, 1) ? UPREQ_CL_HTTP11
               : UPREQ_CL_HTTP10;
    default:
        return v->handshake ? UPREQ_CL_HANDSHAKE : UPREQ_CL_NO_HANDSHAKE;
    }
}

/* Count the last decision made for main request r, once (SPEC "Seeing
 * a rollout"), before its response is sent: one count per requirement
 * of its policy, "met" for those that held, the request's outcome for
 * the others. */
static APR_INLINE void upreq_count(request_rec *r, upreq_main_state *st)
{
    const upreq_refusal *rf = &st->last;
    const upreq_mhost *counts;
    int left, i;

    /* no policy judged it (its state holds only a subrequest's refusal);
     * internal redirects (error documents) add no counts (SPEC) */
    if (rf->d == NULL || r->prev || st->counted) {
        return;
    }
    st->counted = 1;
    counts = upreq_srv(r)->counts;
    /* the rows of the policy's requirements, up to its last one */
    left = rf->d->policy.reqs;
    for (i = 0; left; i++) {
        const upreq_requirement *q = &upreq_requirements[i];

        if (left & q->bit) {
            left &= ~q->bit;
            upreq_metrics_add(counts,
                              upreq_req_label_of(q, &rf->d->policy),
                              (rf->v.failed & q->bit) ? st->outcome
                                                      : UPREQ_OUT_MET,
                              upreq_client_of(r, q, &rf->v));
        }
    }
}

/* Count the request the client sent, which r is or which r is an
 * internal redirect of, if a policy judged it and its decision is final.
 * An h2c offer that core_upgrade_handler switched is never counted as
 * such: the HTTP/2 request it became is. */
static void upreq_count_final(request_rec *r)
{
    const upreq_main_state *st;

    while (r->prev) {
        r = r->prev;
    }
    st = upreq_main_peek(r);

    if (st && st != &upreq_handler_started && !st->h2c_offer
        && !st->counted) {
        upreq_count(r, (upreq_main_state *)st);
    }
}

/* The request's pool is going away: a request a policy judged that no
 * hook counted (a module ended it with DONE before any handler) is
 * counted now.  One that core_upgrade_handler switched to h2c (DONE,
 * status 101) counts as the HTTP/2 request it became (SPEC). */
static apr_status_t upreq_count_at_end(void *st)
{
    upreq_main_state *own = st;

    if (!own->counted && !own->h2c_offer
        && own->r->status != HTTP_SWITCHING_PROTOCOLS) {
        upreq_count(own->r, own);
    }
    return APR_SUCCESS;
}

/* The debug line of a policy that holds */
static void upreq_log_met(request_rec *r, const upreq_refusal *rf,
                          const char *phase)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "UPREQ003: policy of %s met (%s)%s%s%s",
                  ap_escape_logitem(r->pool, rf->d->policy.where),
                  phase, rf->v.why ? ": " : "",
                  rf->v.why ? upreq_log_reason(r, &rf->v) : "",
                  rf->v.h2c_candidate ? "; h2c upgrade let through" : "");
}

/* The answer of a request that is reported, redirected or refused:
 * its response, its log lines, its status (DECLINED: report only). */
static int upreq_answer_failure(request_rec *r, const upreq_refusal *rf,
                                upreq_outcome out, const char *phase)
{
    if (out == UPREQ_OUT_REPORTED) {
        upreq_report(r, rf, upreq_wants_redirect(r, rf));
        return DECLINED;
    }
    if (APLOGrdebug(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "UPREQ004: refusing by the policy of %s (%s)%s%s",
                      ap_escape_logitem(r->pool, rf->d->policy.where),
                      phase, rf->v.why ? ": " : "",
                      rf->v.why ? upreq_log_reason(r, &rf->v) : "");
    }
    if (out == UPREQ_OUT_REDIRECTED) {
        upreq_redirect_to_https(r, rf);
    }
    else if (upreq_is_error_document(r)) {
        /* ap_die() sends the original status with httpd's own text; the
         * request and its error document share err_headers_out, so none
         * of our fields (SPEC) */
        upreq_log_refusal(r, rf);
    }
    else {
        upreq_refuse(r, rf, 1);
        upreq_log_refusal(r, rf);
    }
    return rf->status;
}

/* The one way out: the answer for outcome out of decision rf, logged
 * once.  DECLINED lets the request go on; what a failure gets is out of
 * line (upreq_answer_failure), so that a request that meets its policy
 * pays for one test here. */
static APR_INLINE int upreq_answer(request_rec *r,
                                   const upreq_refusal *rf,
                                   upreq_outcome out, const char *phase)
{
    if (out == UPREQ_OUT_MET) {
        if (APLOGrdebug(r)) {
            upreq_log_met(r, rf, phase);
        }
        return DECLINED;
    }
    if (out == UPREQ_OUT_EXEMPT) {
        return DECLINED;
    }
    return upreq_answer_failure(r, rf, out, phase);
}

/* Decide main request r (or an internal redirect) on configuration d, as
 * it is now: its URI and per-directory configuration are the ones its
 * handler will see.  Called again wherever httpd installs others. */
static int upreq_decide(request_rec *r, const upreq_dir_conf *d,
                        const char *phase, int h2c_pending)
{
    upreq_main_state *st = upreq_main_state_of(r);
    upreq_refusal *rf = &st->last;

    upreq_evaluate(r, &d->policy, upreq_srv(r), &rf->v);
    rf->d = d;
    st->uri = r->uri;
    st->conf = r->per_dir_config;
    st->outcome = upreq_outcome_of(r, rf, 1, h2c_pending);
    st->h2c_offer = h2c_pending && st->outcome == UPREQ_OUT_MET
                    && rf->v.h2c_candidate;
    st->counted = 0;
    if (st->outcome == UPREQ_OUT_REFUSED
        || st->outcome == UPREQ_OUT_REDIRECTED) {
        upreq_count(r, st);     /* final: the request ends here */
    }
    return upreq_answer(r, rf, st->outcome, phase);
}

/* Was main request r decided on the URI and per-directory configuration
 * it has now? */
static int upreq_is_decided(request_rec *r)
{
    const upreq_main_state *st = upreq_main_peek(r);

    return st && st != &upreq_handler_started && st->uri == r->uri
           && st->conf == r->per_dir_config;
}

/* ------------------------------------------------------------------ */
/* a refusal decided in a subrequest                                   */

static ap_filter_rec_t *upreq_pending_filter_handle;

/* Keep subrequest r's refusal for its main request: a module may pass
 * the status on, through ap_die() (the insert_error_filter hook) or on
 * its own (mod_dav's Destination errors: the filter below). */
static void upreq_keep_pending(request_rec *r, const upreq_refusal *rf)
{
    request_rec *m = upreq_main_request(r);
    upreq_main_state *mst = upreq_main_state_of(m);

    if (mst->pending == NULL) {
        mst->pending = apr_palloc(m->pool, sizeof(*mst->pending));
        ap_add_output_filter_handle(upreq_pending_filter_handle, NULL, m,
                                    m->connection);
    }
    *mst->pending = *rf;
}

/* Give main request m the refusal a subrequest left pending, if m
 * answers with its status and has not got our fields yet; once.  page:
 * the body is still to be made. */
static void upreq_apply_pending(request_rec *m, int page)
{
    const upreq_main_state *cst = upreq_main_peek(m);
    upreq_main_state *st = (upreq_main_state *)cst;
    upreq_refusal *pend;

    if (cst == NULL || cst == &upreq_handler_started || !st->pending
        || m->status != st->pending->status) {
        return;
    }
    pend = st->pending;
    st->pending = NULL;
    if (apr_table_get(m->notes, UPREQ_NOTE) == NULL) {
        upreq_refuse(m, pend, page);
    }
}

static apr_status_t upreq_pending_filter(ap_filter_t *f,
                                         apr_bucket_brigade *bb)
{
    upreq_apply_pending(f->r, 0);
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* A subrequest under a policy: served ones that fail it are refused now;
 * lookups are marked, and refused only when authentication is about to
 * run.  The evaluation lives in the pool, not on the stack, which keeps
 * a stack frame off every request's post_perdir_config. */
static int upreq_judge_subrequest(request_rec *r, const upreq_dir_conf *d)
{
    const upreq_main_state *mst = upreq_main_peek(upreq_main_request(r));
    int served = mst && mst->in_handler;
    upreq_lookup_state *ls = apr_palloc(r->pool, sizeof(*ls));
    upreq_refusal *rf = &ls->rf;
    upreq_outcome out;

    rf->d = d;
    upreq_evaluate(r, &d->policy, upreq_srv(r), &rf->v);
    /* a lookup shares its main request's exemption, which also holds
     * for the fast redirect the lookup may become */
    out = upreq_outcome_of(r, rf, !served, 0);
    if (out == UPREQ_OUT_MET || out == UPREQ_OUT_EXEMPT
        || (out == UPREQ_OUT_REPORTED && !served)) {
        return DECLINED;
    }
    if (served) {
        if (out == UPREQ_OUT_REFUSED) {
            upreq_keep_pending(r, rf);
        }
        return upreq_answer(r, rf, out, "served subrequest");
    }
    if (APLOGrdebug(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "UPREQ002: not refused: subrequest %s only looks up "
                      "(the policy of %s is not met; refused if "
                      "authentication is about to run)",
                      ap_escape_logitem(r->pool, r->uri),
                      ap_escape_logitem(r->pool, d->policy.where));
    }
    ap_set_module_config(r->request_config, &upgrade_required_module, ls);
    return DECLINED;
}

/* ------------------------------------------------------------------ */
/* hooks                                                               */

/* The error document of our own refusal: it inherits the refused
 * request's headers; its Upgrade offer is hidden (in a copy: the
 * original's logged headers stay) so that it is never switched to h2c,
 * nor upgraded by a proxy.  The variable that ap_die() renamed before a
 * subrequest's refusal reached the main request is set here. */
static void upreq_prepare_error_document(request_rec *r)
{
    if (!apr_table_get(r->subprocess_env, "REDIRECT_" UPREQ_ENV)) {
        apr_table_setn(r->subprocess_env, "REDIRECT_" UPREQ_ENV,
                       apr_table_get(r->prev->notes, UPREQ_NOTE));
    }
    if (apr_table_get(r->headers_in, "Upgrade")) {
        r->headers_in = apr_table_copy(r->pool, r->headers_in);
        apr_table_unset(r->headers_in, "Upgrade");
    }
}

/* An internal redirect r (an error document, an ErrorDocument of ours, a
 * handler's redirect) is about to be decided: the request it comes from
 * is final, so it is counted now, before any response; an error
 * document's original status gets the fields a subrequest's refusal left
 * pending.  The error document of our own refusal is served, never
 * refused (SPEC): it is prepared here, before core_upgrade_handler could
 * switch it.  Returns whether r is that error document. */
static int upreq_enter_internal_redirect(request_rec *r)
{
    upreq_count_final(r);
    if (upreq_is_error_document(r)) {
        upreq_apply_pending(r->prev, 1);
    }
    if (upreq_is_our_error_document(r)) {
        upreq_prepare_error_document(r);
        return 1;
    }
    return 0;
}

/* A main request or internal redirect r under policy d, in header_parser:
 * not decided yet (header_parser runs once for each request_rec). */
static int upreq_header_parser_judged(request_rec *r,
                                      const upreq_dir_conf *d)
{
    if (upreq_is_never_judged(r)) {
        if (APLOGrdebug(r)) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          "UPREQ002: not refused: %s",
                          r->proxyreq == PROXYREQ_PROXY
                          ? "forward-proxy request" : "CONNECT");
        }
        return DECLINED;
    }
    return upreq_decide(r, d, "header_parser", 1);
}

/* header_parser of an internal redirect */
UPREQ_OUT_OF_LINE static int upreq_header_parser_redirect(request_rec *r)
{
    const upreq_dir_conf *d;

    if (upreq_enter_internal_redirect(r)) {
        return DECLINED;
    }
    d = upreq_dir(r);
    if (d->policy.reqs <= 0) {
        return DECLINED;
    }
    return upreq_header_parser_judged(r, d);
}

/* header_parser: main requests and internal redirects, with their final
 * per-directory configuration, after mod_setenvif's per-directory rules
 * and before access control, so a 426 comes before any 401 or 403. */
static int upreq_header_parser(request_rec *r)
{
    const upreq_dir_conf *d;

    if (r->prev) {
        return upreq_header_parser_redirect(r);
    }
    d = upreq_dir(r);
    if (d->policy.reqs <= 0) {
        return DECLINED;        /* the idle path: one look-up */
    }
    return upreq_header_parser_judged(r, d);
}

/* post_perdir_config: subrequests (they run no header_parser), with
 * their final configuration.  One made once the main request's handler
 * has started (mod_include, mod_autoindex's header and readme, mod_dav's
 * Destination) is served: judged now.  One made before it (mod_dir,
 * MultiViews, mod_rewrite -U/-F) only looks something up: marked. */
static int upreq_post_perdir_config(request_rec *r)
{
    const upreq_dir_conf *d;

    if (r->main == NULL || (d = upreq_dir(r))->policy.reqs <= 0
        || upreq_is_never_judged(r)) {
        return DECLINED;
    }
    return upreq_judge_subrequest(r, d);
}

/* check_authn, first: a lookup whose policy fails gets its 426 before
 * authentication could invite credentials (mod_dir passes a lookup's
 * 401 on to the client). */
static int upreq_check_authn(request_rec *r)
{
    const upreq_lookup_state *ls;

    if (r->main == NULL || (ls = ap_get_module_config(
                                r->request_config,
                                &upgrade_required_module)) == NULL) {
        return DECLINED;
    }
    if (APLOGrdebug(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "UPREQ007: lookup of %s fails the policy of %s and "
                      "is about to be authenticated: refused",
                      ap_escape_logitem(r->pool, r->uri),
                      ap_escape_logitem(r->pool, ls->rf.d->policy.where));
    }
    upreq_keep_pending(r, &ls->rf);
    return upreq_answer(r, &ls->rf, UPREQ_OUT_REFUSED, "check_authn");
}

/* insert_error_filter: a status that a subrequest decided and a module
 * passed on through ap_die() gets its fields and page here, before
 * ap_send_error_response() reads them; a main request that ends with an
 * error before its handler is counted here. */
static void upreq_insert_error_filter(request_rec *r)
{
    if (r->main == NULL) {
        upreq_apply_pending(r, 1);
        upreq_count_final(r);
    }
}

/* handler, before core_upgrade_handler can switch protocols and before
 * mod_cache's handler can answer from the cache: mod_dir's index and
 * FallbackResource and mod_negotiation's variant arrive through
 * ap_internal_fast_redirect(), which installs another URI and
 * per-directory configuration after header_parser: decided again, so
 * that a refusal comes at once, never after a 101, never from a cache. */
static int upreq_handler_redecide(request_rec *r);
static int upreq_handler(request_rec *r)
{
    if (r->main || upreq_dir(r)->policy.reqs <= 0 || upreq_is_decided(r)) {
        return DECLINED;        /* the idle path; nothing new since */
    }
    return upreq_handler_redecide(r);
}

UPREQ_OUT_OF_LINE static int upreq_handler_redecide(request_rec *r)
{
    if (upreq_is_never_judged(r) || upreq_is_our_error_document(r)) {
        return DECLINED;
    }
    return upreq_decide(r, upreq_dir(r), "handler", 1);
}

/* The handler of a request that a policy judged, of an internal
 * redirect, or of a main request that has no state yet; cst: its state. */
UPREQ_OUT_OF_LINE static int upreq_enter_content(request_rec *r,
                                                 const upreq_main_state *cst)
{
    upreq_main_state *st = (upreq_main_state *)cst;

    if (upreq_is_our_error_document(r)) {
        apr_table_unset(r->headers_out, "Upgrade");
        apr_table_unset(r->headers_out, "Connection");
    }
    if (st == NULL || st == &upreq_handler_started) {
        /* no policy judged it (or its handler runs again) */
        upreq_mark_handler_started(r);
        return DECLINED;
    }
    if (st->h2c_offer) {
        const upreq_dir_conf *d = upreq_dir(r);

        if (d->policy.reqs > 0) {
            int rv = upreq_decide(r, d, "after core_upgrade_handler", 0);

            if (rv != DECLINED) {
                return rv;
            }
        }
        st->h2c_offer = 0;      /* no policy judges it now */
    }
    st->in_handler = 1;
    st->pending = NULL;         /* a lookup's refusal was not used */
    upreq_count(r, st);
    return DECLINED;
}

/* handler, right after core_upgrade_handler and before any content
 * handler (mod_cache's is REALLY_FIRST too): from here on, the main
 * request's subrequests are served.  core_upgrade_handler switches by
 * returning DONE, so a let-through h2c upgrade that gets here was not
 * switched and is refused after all.  An error document of our refusal
 * loses the Upgrade/Connection fields that core_upgrade_handler
 * announces on a connection's first request, so only ours are sent.
 * Then the counters' handler (upgrade-required-status), which a policy
 * may guard like any other content. */
static int upreq_handler_after_core(request_rec *r)
{
    if (r->main == NULL) {
        const upreq_main_state *st = upreq_main_peek(r);

        if (r->prev == NULL && st == NULL) {
            upreq_mark_handler_started(r);      /* the idle path */
        }
        else {
            int rv = upreq_enter_content(r, st);

            if (rv != DECLINED) {
                return rv;
            }
        }
    }
    if (r->handler && r->handler[0] == UPREQ_STATUS_HANDLER[0]
        && strcmp(r->handler, UPREQ_STATUS_HANDLER) == 0) {
        return upreq_metrics_serve(r);      /* the counters' handler */
    }
    return DECLINED;
}

static void upreq_register_hooks(apr_pool_t *p)
{
    static const char *const after_setenvif[] = { "mod_setenvif.c", NULL };
    static const char *const core[] = { "core.c", NULL };
    static const char *const cache[] = { "mod_cache.c", NULL };
    static const char *const core_cache[] = { "core.c", "mod_cache.c",
                                              NULL };

    /* subrequests: their final configuration, before access control */
    ap_hook_post_perdir_config(upreq_post_perdir_config, NULL, NULL,
                               APR_HOOK_MIDDLE);
    /* after mod_setenvif's per-directory rules set no-upgrade-required,
     * before access control and all fixups (mod_rewrite, mod_alias) */
    ap_hook_header_parser(upreq_header_parser, after_setenvif, NULL,
                          APR_HOOK_FIRST);
    /* lookup subrequests: before any authentication module */
    ap_hook_check_authn(upreq_check_authn, NULL, NULL, APR_HOOK_REALLY_FIRST,
                        AP_AUTH_INTERNAL_PER_CONF);
    /* before core_upgrade_handler may switch protocols, and before
     * mod_cache's handler (CacheQuickHandler Off) may answer from the
     * cache: both are REALLY_FIRST too */
    ap_hook_handler(upreq_handler, NULL, core_cache, APR_HOOK_REALLY_FIRST);
    /* right after core_upgrade_handler, before any content handler */
    ap_hook_handler(upreq_handler_after_core, core, cache,
                    APR_HOOK_REALLY_FIRST);
    /* a status that a subrequest decided gets its fields before it is
     * sent: through ap_die(), or past it (upreq_pending_filter, before the
     * HTTP header filter) */
    ap_hook_insert_error_filter(upreq_insert_error_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
    upreq_pending_filter_handle =
        ap_register_output_filter("UPGRADE_REQUIRED_PENDING",
                                  upreq_pending_filter, NULL,
                                  AP_FTYPE_PROTOCOL - 1);
    /* the counters: shared memory, the status handler, mod_status */
    upreq_metrics_register_hooks(p);
    /* under apachectl -t too */
    ap_hook_check_config(upreq_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(upreq_post_config, NULL, NULL, APR_HOOK_MIDDLE);
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
