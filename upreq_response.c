/* upreq_response.c - mod_upgrade_required's answers: the 426 (or the 403
 * of UpgradeRequiredTLSStatus) with its Upgrade value, header fields,
 * page, variables and log line; the redirect of a browser's navigation;
 * the report of report-only mode. */

#include "upreq.h"

APLOG_USE_MODULE(upgrade_required);

/* ------------------------------------------------------------------ */
/* the Upgrade value                                                   */

static int upreq_offers_h2c(request_rec *r, const upreq_refusal *rf)
{
    /* h2c is only an answer for a client that stays on cleartext */
    return !(rf->failed & UPREQ_R_TLS) && !rf->v.tls->is_tls
           && !r->connection->master
           && ap_is_allowed_protocol(r->connection, r, r->server, "h2c");
}

/* RFC 2817's advisory form, one per TLS version; a bare TLS says 1.2 */
static const char *const upreq_tls_tokens[] = {
    "TLS/1.0, HTTP/1.1", "TLS/1.1, HTTP/1.1",
    "TLS/1.2, HTTP/1.1", "TLS/1.3, HTTP/1.1"
};

/* The token of one failed requirement, NULL for none. */
static const char *upreq_token(request_rec *r, const upreq_refusal *rf,
                               const upreq_requirement *q)
{
    int minor = rf->d->policy.tls_minor;

    switch (q->bit) {
    case UPREQ_R_TLS:
        return upreq_tls_tokens[minor == UPREQ_TLS_ANY
                                ? UPREQ_TLS_DEFAULT_MINOR : minor];
    case UPREQ_R_HTTP11:
        /* the TLS token names HTTP/1.1 already */
        return (rf->failed & UPREQ_R_TLS) ? NULL : q->token;
    case UPREQ_R_HTTP2:
        return upreq_offers_h2c(r, rf) ? "h2c" : q->token;
    default:
        return q->token;
    }
}

/* The Upgrade value: UpgradeRequiredHeader, or the tokens of the failed
 * requirements in the table's order (SPEC), without duplicates. */
static const char *upreq_upgrade_value(request_rec *r,
                                       const upreq_refusal *rf)
{
    const char *value = NULL;
    int i;

    if (rf->d->header) {
        return rf->d->header;
    }
    for (i = 0; i < UPREQ_N_REQUIREMENTS; i++) {
        const upreq_requirement *q = &upreq_requirements[i];
        const char *tok = (rf->failed & q->bit) ? upreq_token(r, rf, q)
                                                : NULL;

        if (tok) {
            value = value ? apr_pstrcat(r->pool, value, ", ", tok, NULL)
                          : tok;
        }
    }
    return value;
}

/* ------------------------------------------------------------------ */
/* the page                                                            */

/* What the client asked for, to be asked for again over https: the path
 * and query as sent, also when httpd made another request of it (an
 * internal redirect: a front controller's rewrite); a target that is
 * not an absolute path ("*", absolute-form) gives the path of its URL, or
 * "/".  A request line holds no CR or LF: a Location needs no escaping. */
static const char *upreq_client_target(request_rec *r)
{
    while (r->main || r->prev) {
        r = r->main ? r->main : r->prev;
    }
    if (r->unparsed_uri && r->unparsed_uri[0] == '/') {
        return r->unparsed_uri;
    }
    return apr_pstrcat(r->pool, (r->uri && r->uri[0] == '/')
                                ? ap_escape_uri(r->pool, r->uri) : "/",
                       r->args ? "?" : "", r->args ? r->args : "", NULL);
}

/* the TLS versions as the page names them */
static const char *const upreq_tls_names[] = {
    "TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3"
};

/* One paragraph of the page: its text, or the text before and after the
 * https link (after: from "</a>" on) */
typedef struct {
    const char *before;
    const char *after;      /* NULL: no link */
} upreq_para;

/* the TLS paragraph */
static upreq_para upreq_para_tls(request_rec *r, const upreq_refusal *rf)
{
    int minor = rf->d->policy.tls_minor;
    upreq_para p = { NULL, "</a> instead.</p>\n" };
    const char *used;

    if (rf->v.tls_too_old) {
        /* behind a proxy the version is the proxy's to know */
        used = rf->v.via_proxy ? NULL : rf->v.tls->protocol;
        p.before = apr_pstrcat(r->pool, "<p>This resource requires ",
                               upreq_tls_names[minor], " or newer; this "
                               "connection uses ",
                               used ? ap_escape_html2(r->pool, used, 1)
                                    : "an unknown version",
                               ". Please reconnect with a client that "
                               "supports ", upreq_tls_names[minor],
                               ".</p>\n", NULL);
        p.after = NULL;
    }
    else if (minor == UPREQ_TLS_ANY) {
        p.before = "<p>This resource is only available over a secure (TLS) "
                   "connection. Please use ";
    }
    else {
        p.before = apr_pstrcat(r->pool, "<p>This resource is only available "
                               "over a secure (TLS) connection using ",
                               upreq_tls_names[minor], " or newer. Please "
                               "use ", NULL);
    }
    return p;
}

/* the HTTP/2 paragraph over cleartext: browsers speak HTTP/2 only over
 * TLS, so a person is sent to the https address; API clients are told
 * of h2c and of HTTP/2 with prior knowledge */
static upreq_para upreq_para_h2_cleartext(request_rec *r,
                                          const upreq_refusal *rf)
{
    upreq_para p = { "<p>This resource is only available over HTTP/2. "
                     "Browsers use HTTP/2 over TLS only: please use ",
                     "</a> instead. Other clients may repeat the request "
                     "with HTTP/2.</p>\n" };

    if (upreq_offers_h2c(r, rf)) {
        p.after = "</a> instead. Other clients may repeat the request with "
                  "HTTP/2 (h2c: an Upgrade to h2c, or prior knowledge)."
                  "</p>\n";
    }
    return p;
}

static int upreq_is_cleartext(const upreq_refusal *rf)
{
    return !rf->v.tls->is_tls && !rf->v.proxy_says_tls;
}

static upreq_para upreq_para_of(request_rec *r, const upreq_refusal *rf,
                                const upreq_requirement *q)
{
    upreq_para p = { q->paragraph, NULL };

    if (q->bit == UPREQ_R_TLS) {
        p = upreq_para_tls(r, rf);
    }
    else if (q->bit == UPREQ_R_HTTP2 && upreq_is_cleartext(rf)
             && !(rf->failed & UPREQ_R_TLS)) {
        p = upreq_para_h2_cleartext(r, rf);
    }
    return p;
}

static const char *upreq_join(request_rec *r, const char *a, const char *b)
{
    return *a ? apr_pstrcat(r->pool, a, b, NULL) : b;
}

/* Is s plain text in HTML, that ap_escape_html2(.., 1) would return
 * unchanged (no markup character, ASCII only)?  A path usually is: then
 * it goes into the page as it is, without ap_escape_html2's copy. */
static int upreq_is_plain_html(const char *s)
{
    for (; *s; s++) {
        if (*s == '<' || *s == '>' || *s == '&' || *s == '"'
            || !apr_isascii(*s)) {
            return 0;
        }
    }
    return 1;
}

#define UPREQ_PAGE_HEAD(title, h1) \
    "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n" \
    "<title>" title "</title>\n</head><body>\n<h1>" h1 "</h1>\n"

/* The page: one paragraph per failed requirement, from the table, and at
 * most one https link (the virtual host's address and the client's path;
 * never the Host header), in one copy.  A refusal's cost is in the pieces
 * it joins (bench/README.md): the link's fixed parts are made at
 * start-up, and apr_psprintf, which reads its format character by
 * character, is not used. */
static const char *upreq_page(request_rec *r, const upreq_refusal *rf)
{
    const upreq_srv_conf *sc = ap_get_module_config(r->server->module_config,
                                                    &upgrade_required_module);
    const char *head = rf->status == HTTP_FORBIDDEN
                       ? UPREQ_PAGE_HEAD("403 Forbidden", "Forbidden")
                       : UPREQ_PAGE_HEAD("426 Upgrade Required",
                                         "Upgrade Required");
    const char *pre = "", *post = NULL, *path;
    int i;

    for (i = 0; i < UPREQ_N_REQUIREMENTS; i++) {
        const upreq_requirement *q = &upreq_requirements[i];
        upreq_para p;

        if (!(rf->failed & q->bit)) {
            continue;
        }
        p = upreq_para_of(r, rf, q);
        if (post) {             /* after the link: text only */
            post = apr_pstrcat(r->pool, post, p.before, NULL);
            continue;
        }
        pre = upreq_join(r, pre, p.before);
        post = p.after;
    }
    if (post == NULL) {
        return apr_pstrcat(r->pool, head, pre, "</body></html>\n", NULL);
    }
    path = upreq_client_target(r);
    if (!upreq_is_plain_html(path)) {
        path = ap_escape_html2(r->pool, path, 1);
    }
    return apr_pstrcat(r->pool, head, pre, sc->link_open, path, sc->link_mid,
                       path, post, "</body></html>\n", NULL);
}

/* ------------------------------------------------------------------ */
/* header fields, variables, log lines                                 */

/* At a location with UpgradeRequiredRedirect the answer depends on
 * these request fields (W3C Upgrade Insecure Requests, the Vary note):
 * say so, merged with a Vary already set. */
static void upreq_add_vary(request_rec *r)
{
    const char *vary = apr_table_get(r->err_headers_out, "Vary");

    if (!upreq_list_has_token(vary, "Sec-Fetch-Mode")) {
        apr_table_mergen(r->err_headers_out, "Vary", "Sec-Fetch-Mode");
    }
    if (!upreq_list_has_token(vary, "Upgrade-Insecure-Requests")) {
        apr_table_mergen(r->err_headers_out, "Vary",
                         "Upgrade-Insecure-Requests");
    }
}

/* Headers go in err_headers_out so that they survive ErrorDocument 426;
 * on HTTP/2 nothing connection-specific is sent (RFC 9113 §8.2.2).  The
 * Upgrade and Connection that core_upgrade_handler announces on a
 * connection's first response are dropped: they would go out beside ours
 * where the response leaves without ap_die() (mod_dav's own error
 * response), and a 403 carries no Upgrade at all. */
static void upreq_set_fields(request_rec *r, const upreq_refusal *rf,
                             const char *upgrade)
{
    apr_table_unset(r->headers_out, "Upgrade");
    apr_table_unset(r->headers_out, "Connection");
    if (rf->status != HTTP_UPGRADE_REQUIRED) {
        return;
    }
    if (r->proto_num < HTTP_VERSION(2, 0)) {
        /* usually none is set: then no scan */
        const char *conn = apr_is_empty_table(r->err_headers_out) ? NULL
                           : apr_table_get(r->err_headers_out, "Connection");

        apr_table_setn(r->err_headers_out, "Upgrade", upgrade);
        if (conn == NULL) {
            apr_table_addn(r->err_headers_out, "Connection", "Upgrade");
        }
        else if (!upreq_list_has_token(conn, "upgrade")) {
            apr_table_mergen(r->err_headers_out, "Connection", "Upgrade");
        }
    }
    if (rf->failed & UPREQ_R_WS) {
        apr_table_setn(r->err_headers_out, "Sec-WebSocket-Version", "13");
    }
}

/* The reason for a log line.  It names the TCP peer the trust decision
 * looked at: the client address in the log prefix may be one that
 * mod_remoteip took from a header.  Called only for a line that is
 * logged. */
const char *upreq_log_reason(request_rec *r, const upreq_verdict *v)
{
    const upreq_srv_conf *sc;

    if (v->peer == NULL) {
        return v->why ? v->why : "";
    }
    sc = ap_get_module_config(r->server->module_config,
                              &upgrade_required_module);
    return apr_psprintf(r->pool, "peer %s%s: %s", v->peer->client_ip,
                        !sc->proxies ? "" : v->via_proxy
                        ? " (trusted proxy)" : " (not a trusted proxy)",
                        v->why ? v->why : "");
}

/* the log words of the failed requirements, from the table */
static const char *upreq_log_words(request_rec *r, int failed)
{
    const char *words = "";
    int i;

    for (i = 0; i < UPREQ_N_REQUIREMENTS; i++) {
        if (failed & upreq_requirements[i].bit) {
            words = apr_pstrcat(r->pool, words, " ",
                                upreq_requirements[i].keyword, NULL);
        }
    }
    return words;
}

/* One info line for an answer (what: "UPREQ001: 426 for", ...): the
 * request, the client, the requirements that failed, the Upgrade value
 * and what decided TLS. */
static void upreq_log_answer(request_rec *r, const upreq_refusal *rf,
                             const char *what, const char *upgrade)
{
    if (!APLOGrinfo(r)) {
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "%s %s %s from %s: requires%s; Upgrade: %s%s%s",
                  what, r->method, ap_escape_logitem(r->pool, r->uri),
                  r->useragent_ip, upreq_log_words(r, rf->failed), upgrade,
                  rf->v.why ? "; " : "",
                  rf->v.why ? upreq_log_reason(r, &rf->v) : "");
}

/* ------------------------------------------------------------------ */
/* the answers                                                         */

/* Redirect a browser's navigation to the https URL (rf->status: 301,
 * 302, 307 or 308); the caller returns it.  No Upgrade field, no page. */
void upreq_redirect_to_https(request_rec *r, const upreq_refusal *rf)
{
    const upreq_srv_conf *sc = ap_get_module_config(r->server->module_config,
                                                    &upgrade_required_module);
    const char *url = apr_pstrcat(r->pool, sc->https_url,
                                  upreq_client_target(r), NULL);

    apr_table_setn(r->err_headers_out, "Location", url);
    upreq_add_vary(r);
    if (APLOGrinfo(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "UPREQ009: %d to %s for %s %s from %s: a browser "
                      "navigation that requires TLS%s%s", rf->status,
                      ap_escape_logitem(r->pool, url), r->method,
                      ap_escape_logitem(r->pool, r->uri), r->useragent_ip,
                      rf->v.why ? "; " : "",
                      rf->v.why ? upreq_log_reason(r, &rf->v) : "");
    }
}

/* UpgradeRequiredReportOnly: what would have been refused (or
 * redirected) is logged and put in UPGRADE_REQUIRED_REPORT; nothing is
 * refused. */
void upreq_report(request_rec *r, const upreq_refusal *rf,
                  int would_redirect)
{
    const char *upgrade = upreq_upgrade_value(r, rf);
    /* decided again after a fast redirect: reported once already */
    int again = apr_table_get(r->subprocess_env, UPREQ_REPORT_ENV) != NULL;

    apr_table_setn(r->subprocess_env, UPREQ_REPORT_ENV, upgrade);
    if (again) {
        return;
    }
    upreq_log_answer(r, rf, would_redirect
                            ? "UPREQ008: report only: would redirect"
                            : "UPREQ008: report only: would answer 426 to",
                     upgrade);
}

/* ErrorDocument's slots of the two statuses a refusal has (status 426, or
 * 403 of UpgradeRequiredTLSStatus), looked up once */
static int upreq_index_426, upreq_index_403;

void upreq_response_init(void)
{
    upreq_index_426 = ap_index_of_response(HTTP_UPGRADE_REQUIRED);
    upreq_index_403 = ap_index_of_response(HTTP_FORBIDDEN);
}

/* The page's Content-Length where httpd would not send one: httpd
 * writes the page in one piece, and its CONTENT_LENGTH filter counts a
 * body that arrives whole (up to APR_BUCKET_BUFF_SIZE bytes) before the
 * end of the response; a longer page (a long URI is in it twice) would
 * go out in chunks.  A HEAD gets the length of GET's page (RFC 9110
 * 9.3.2), which httpd cannot count. */
static void upreq_set_page_length(request_rec *r, const char *text)
{
    apr_size_t len = strlen(text);

    if (r->header_only || len > APR_BUCKET_BUFF_SIZE) {
        apr_table_setn(r->err_headers_out, "Content-Length",
                       apr_ltoa(r->pool, (long)len));
    }
}

/* Refuse: header fields, variables, and (page) the page, unless an
 * ErrorDocument for the status is set; the caller returns rf->status.
 * Without page (a refusal whose body another module writes, such as
 * mod_dav's error response) the fields and variables only.  Logs
 * nothing: the decision that refused logs once (upreq_log_answer). */
void upreq_refuse(request_rec *r, const upreq_refusal *rf, int page)
{
    const char *upgrade = upreq_upgrade_value(r, rf);
    const char *custom = ap_response_code_string(r,
                             rf->status == HTTP_UPGRADE_REQUIRED
                             ? upreq_index_426 : upreq_index_403);

    /* "ErrorDocument 426 https://..." makes ap_die() answer 302, which
     * must not carry a 426's Upgrade, Connection or Sec-WebSocket-Version */
    if (!custom || custom[0] == '"' || !ap_is_url(custom)) {
        upreq_set_fields(r, rf, upgrade);
    }
    if (upreq_redirect(rf->d)) {
        upreq_add_vary(r);
    }
    apr_table_setn(r->subprocess_env, UPREQ_ENV, upgrade);
    /* the note is the module's own and set once per request (pending
     * refusals check it first): no scan for an older value */
    apr_table_addn(r->notes, UPREQ_NOTE, upgrade);
    /* httpd's canned 426 text speaks of SSL only; an ErrorDocument wins */
    if (page && custom == NULL) {
        const char *text = upreq_page(r, rf);

        ap_custom_response(r, rf->status, text);
        upreq_set_page_length(r, text);
    }
}

/* the info line of a refusal, once per refusal decided */
void upreq_log_refusal(request_rec *r, const upreq_refusal *rf)
{
    if (!APLOGrinfo(r)) {
        return;
    }
    upreq_log_answer(r, rf, rf->status == HTTP_FORBIDDEN
                            ? "UPREQ001: 403 for" : "UPREQ001: 426 for",
                     upreq_upgrade_value(r, rf));
}
