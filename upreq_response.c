/* upreq_response.c - mod_upgrade_required's refusal: the Upgrade value,
 * the header fields, the HTML page, the variables and the log line. */

#include "upreq.h"

APLOG_USE_MODULE(upgrade_required);

/* ------------------------------------------------------------------ */
/* request-time helpers: the response                                  */

static int upreq_offers_h2c(request_rec *r, const upreq_verdict *v)
{
    /* h2c is only an answer for a client that stays on cleartext */
    return !(v->failed & UPREQ_R_TLS) && !v->tls->is_tls
           && !r->connection->master
           && ap_is_allowed_protocol(r->connection, r, r->server, "h2c");
}

/* RFC 2817's advisory form, one per TLS version; constants, so the common
 * single-requirement refusal builds no string */
static const char *const upreq_tls_tokens[] = {
    "TLS/1.0, HTTP/1.1", "TLS/1.1, HTTP/1.1",
    "TLS/1.2, HTTP/1.1", "TLS/1.3, HTTP/1.1"
};

/* The Upgrade value: tokens of the failed requirements in README's order
 * (TLS, HTTP version, websocket), without duplicates. */
static const char *upreq_upgrade_value(request_rec *r,
                                       const upreq_policy *pol,
                                       upreq_verdict *v)
{
    const char *tok[3];
    int n = 0, minor = pol->tls_minor;

    if (v->failed & UPREQ_R_TLS) {
        tok[n++] = upreq_tls_tokens[minor == UPREQ_TLS_ANY
                                    ? UPREQ_TLS_DEFAULT_MINOR : minor];
    }
    else if (v->failed & UPREQ_R_HTTP11) {
        tok[n++] = "HTTP/1.1";      /* the TLS token names HTTP/1.1 too */
    }
    if (v->failed & UPREQ_R_HTTP2) {
        if (!v->tls) {
            v->tls = upreq_tls_state(r);
        }
        tok[n++] = upreq_offers_h2c(r, v) ? "h2c" : "HTTP/2.0";
    }
    if (v->failed & UPREQ_R_WS) {
        tok[n++] = "websocket";
    }
    switch (n) {
    case 1:
        return tok[0];
    case 2:
        return apr_pstrcat(r->pool, tok[0], ", ", tok[1], NULL);
    default:
        return apr_pstrcat(r->pool, tok[0], ", ", tok[1], ", ", tok[2],
                           NULL);
    }
}

/* ap_escape_html2(p, s, 1), but s itself when nothing in it needs
 * escaping (the usual case): the same bytes, without a second pass and a
 * copy. */
static const char *upreq_escape_html(apr_pool_t *p, const char *s)
{
    const char *c;

    for (c = s; *c; c++) {
        if (*c == '<' || *c == '>' || *c == '&' || *c == '"'
            || !apr_isascii(*c)) {
            return ap_escape_html2(p, s, 1);
        }
    }
    return s;
}

/* Where the client should go: the https authority of the virtual host
 * (UpgradeRequiredHTTPSURL, or https:// and the ServerName; never the
 * Host header) and the path and query as the client sent them; a target
 * that is not an absolute path ("*", absolute-form) gives the path of its
 * URL, or "/".  html: HTML-escaped for the page; a Location needs no
 * escaping (a request line holds no CR or LF). */
static void upreq_https_url(request_rec *r, const char **authority,
                            const char **target, int html)
{
    const upreq_srv_conf *sc = ap_get_module_config(r->server->module_config,
                                                    &upgrade_required_module);
    const char *t = r->unparsed_uri;

    *authority = html ? sc->https_html : sc->https_url;
    if (!t || t[0] != '/') {
        t = apr_pstrcat(r->pool, (r->uri && r->uri[0] == '/')
                                 ? ap_escape_uri(r->pool, r->uri) : "/",
                        r->args ? "?" : "", r->args ? r->args : "", NULL);
    }
    *target = html ? upreq_escape_html(r->pool, t) : t;
}

/* the TLS paragraph when the client is on TLS, but at too old a version
 * (or one that cannot be verified behind a proxy) */
static const char *upreq_page_tls_old(request_rec *r,
                                      const upreq_policy *pol,
                                      const upreq_verdict *v)
{
    return apr_psprintf(r->pool, "<p>This resource requires TLS 1.%d or "
                        "newer; this connection uses %s. Please reconnect "
                        "with a client that supports TLS 1.%d.</p>\n",
                        pol->tls_minor,
                        ap_escape_html2(r->pool, v->tls_used
                                        ? v->tls_used
                                        : "an unknown version", 1),
                        pol->tls_minor);
}

/* The page in pieces, copied once by apr_pstrcatv: literals with their
 * length known at compile time, other strings measured once. */
#define UPREQ_PAGE_MAX 16

typedef struct {
    struct iovec vec[UPREQ_PAGE_MAX];
    int n;
} upreq_pieces;

static void upreq_add(upreq_pieces *p, const char *s, apr_size_t len)
{
    p->vec[p->n].iov_base = (void *)s;
    p->vec[p->n].iov_len = len;
    p->n++;
}

#define upreq_add_lit(p, lit) upreq_add((p), (lit), sizeof(lit) - 1)
#define upreq_add_str(p, s)   upreq_add((p), (s), strlen(s))

/* Built on every refusal, so without intermediate copies; at most 14
 * pieces (all requirements failed on a plain connection).  The text
 * starts with the '"' that marks a custom response as text, not a URL
 * (what ap_custom_response() would prepend with a second copy); *len is
 * the length of the page without it. */
static char *upreq_page(request_rec *r, const upreq_policy *pol,
                        const upreq_verdict *v, apr_size_t *len)
{
    upreq_pieces p;
    const char *host, *target;
    char *text;

    p.n = 0;
    upreq_add_lit(&p, "\"<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n"
                  "<html><head>\n<title>426 Upgrade Required</title>\n"
                  "</head><body>\n<h1>Upgrade Required</h1>\n");
    if ((v->failed & UPREQ_R_TLS) && v->tls_too_old) {
        upreq_add_str(&p, upreq_page_tls_old(r, pol, v));
    }
    else if (v->failed & UPREQ_R_TLS) {
        apr_size_t host_len, target_len;

        upreq_https_url(r, &host, &target, 1);
        host_len = strlen(host);
        target_len = strlen(target);
        upreq_add_lit(&p, "<p>This resource is only available over a "
                      "secure (TLS) connection");
        if (pol->tls_minor != UPREQ_TLS_ANY) {
            upreq_add_str(&p, apr_psprintf(r->pool, " using TLS 1.%d or "
                                           "newer", pol->tls_minor));
        }
        upreq_add_lit(&p, ". Please use <a href=\"");
        upreq_add(&p, host, host_len);
        upreq_add(&p, target, target_len);
        upreq_add_lit(&p, "\">");
        upreq_add(&p, host, host_len);
        upreq_add(&p, target, target_len);
        upreq_add_lit(&p, "</a> instead.</p>\n");
    }
    if (v->failed & UPREQ_R_HTTP11) {
        upreq_add_lit(&p, "<p>This resource requires HTTP/1.1 or newer. "
                      "Please repeat the request with HTTP/1.1.</p>\n");
    }
    if (v->failed & UPREQ_R_HTTP2) {
        upreq_add_lit(&p, "<p>This resource is only available over HTTP/2. "
                      "Please repeat the request with an HTTP/2 "
                      "client.</p>\n");
    }
    if (v->failed & UPREQ_R_WS) {
        upreq_add_lit(&p, "<p>This resource is a WebSocket endpoint. "
                      "Please connect with a WebSocket client (RFC 6455, "
                      "Sec-WebSocket-Version 13).</p>\n");
    }
    upreq_add_lit(&p, "</body></html>\n");
    text = apr_pstrcatv(r->pool, p.vec, p.n, len);
    --*len;
    return text;
}

/* ap_custom_response(r, 426, text + 1) without its copy of the page:
 * the same slot of the request's core configuration (http_core.h), the
 * same '"' mark, which ap_send_error_response() strips. */
static void upreq_set_page(request_rec *r, int idx, char *text)
{
    core_request_config *creq = ap_get_core_module_config(r->request_config);

    if (creq->response_code_strings == NULL) {
        creq->response_code_strings =
            apr_pcalloc(r->pool, sizeof(*creq->response_code_strings)
                                 * RESPONSE_CODES);
    }
    creq->response_code_strings[idx] = text;
}

/* Headers go in err_headers_out so that they survive ErrorDocument 426;
 * on HTTP/2 nothing connection-specific is sent (RFC 9113 §8.2.2). */
static void upreq_set_response_headers(request_rec *r, const char *upgrade,
                                       int ws_failed)
{
    if (r->proto_num < HTTP_VERSION(2, 0)) {
        const char *conn = apr_table_get(r->err_headers_out, "Connection");

        apr_table_setn(r->err_headers_out, "Upgrade", upgrade);
        if (conn == NULL) {             /* the usual case: no second scan */
            apr_table_addn(r->err_headers_out, "Connection", "Upgrade");
        }
        else if (!upreq_list_has_token(conn, "upgrade")) {
            apr_table_mergen(r->err_headers_out, "Connection", "Upgrade");
        }
    }
    if (ws_failed) {
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
        return v->why;
    }
    sc = ap_get_module_config(r->server->module_config,
                              &upgrade_required_module);
    return apr_psprintf(r->pool, "peer %s%s: %s", v->peer->client_ip,
                        !sc->proxies ? "" : v->via_proxy
                        ? " (trusted proxy)" : " (not a trusted proxy)",
                        v->why);
}

/* One info line for an answer (what: "UPREQ001: 426 for", ...): the
 * request, the client, the requirements that failed, the Upgrade value
 * and what decided TLS. */
static void upreq_log_answer(request_rec *r, const upreq_verdict *v,
                             const char *what, const char *upgrade)
{
    if (!APLOGrinfo(r)) {
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "%s %s %s from %s: requires%s%s%s%s; Upgrade: %s%s%s",
                  what, r->method, ap_escape_logitem(r->pool, r->uri),
                  r->useragent_ip,
                  (v->failed & UPREQ_R_TLS) ? " TLS" : "",
                  (v->failed & UPREQ_R_HTTP11) ? " HTTP/1.1" : "",
                  (v->failed & UPREQ_R_HTTP2) ? " HTTP/2" : "",
                  (v->failed & UPREQ_R_WS) ? " websocket" : "",
                  upgrade, v->why ? "; " : "",
                  v->why ? upreq_log_reason(r, v) : "");
}

/* A length in decimal; apr_off_t_toa's general case costs more on every
 * refusal than this page ever needs.  Written from the end of its own
 * buffer, which is then the string: no copy. */
static const char *upreq_size_toa(apr_pool_t *p, apr_size_t n)
{
    char *buf = apr_palloc(p, 24), *c = buf + 23;

    *c = '\0';
    do {
        *--c = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    return c;
}

/* At a location with UpgradeRequiredRedirect the answer depends on
 * these request fields (W3C Upgrade Insecure Requests, the Vary note):
 * say so, merged with a Vary already set. */
static void upreq_add_vary(request_rec *r)
{
    static const char both[] = "Sec-Fetch-Mode, Upgrade-Insecure-Requests";
    const char *vary = apr_table_get(r->err_headers_out, "Vary");
    int mode, uir;

    if (vary == NULL) {
        apr_table_setn(r->err_headers_out, "Vary", both);
        return;
    }
    mode = upreq_list_has_token(vary, "Sec-Fetch-Mode");
    uir = upreq_list_has_token(vary, "Upgrade-Insecure-Requests");
    if (!mode || !uir) {
        apr_table_setn(r->err_headers_out, "Vary",
                       apr_pstrcat(r->pool, vary, ", ",
                                   !mode && !uir ? both : !mode
                                   ? "Sec-Fetch-Mode"
                                   : "Upgrade-Insecure-Requests", NULL));
    }
}

/* Redirect a browser's navigation to the https URL (status: 301, 302,
 * 307 or 308); the caller returns it.  No Upgrade field, no 426 page. */
int upreq_redirect_to_https(request_rec *r, const upreq_dir_conf *d,
                            const upreq_verdict *v)
{
    const char *authority, *target, *url;
    int status = upreq_redirect(d);

    upreq_https_url(r, &authority, &target, 0);
    url = apr_pstrcat(r->pool, authority, target, NULL);
    apr_table_setn(r->err_headers_out, "Location", url);
    upreq_add_vary(r);
    if (APLOGrinfo(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "UPREQ009: %d to %s for %s %s from %s: a browser "
                      "navigation that requires TLS%s%s", status,
                      ap_escape_logitem(r->pool, url), r->method,
                      ap_escape_logitem(r->pool, r->uri), r->useragent_ip,
                      v->why ? "; " : "", v->why ? upreq_log_reason(r, v)
                                                 : "");
    }
    return status;
}

/* UpgradeRequiredReportOnly: what would have been refused (or
 * redirected) is logged and put in UPGRADE_REQUIRED_REPORT; nothing is
 * refused. */
void upreq_report(request_rec *r, const upreq_dir_conf *d,
                  upreq_verdict *v, int would_redirect)
{
    const char *upgrade = d->header ? d->header
                                    : upreq_upgrade_value(r, &d->policy, v);

    apr_table_setn(r->subprocess_env, UPREQ_REPORT_ENV, upgrade);
    upreq_log_answer(r, v, would_redirect
                           ? "UPREQ008: report only: would redirect"
                           : "UPREQ008: report only: would answer 426 to",
                     upgrade);
}

/* the slot of 426 in httpd's tables of status lines and custom responses
 * (a constant of the httpd binary), found once when the module's hooks
 * are registered rather than on every refusal */
static int upreq_426_index;

void upreq_response_init(void)
{
    upreq_426_index = ap_index_of_response(HTTP_UPGRADE_REQUIRED);
}

/* Refuse: headers, variables, the page; the caller returns 426.  With
 * page 0 (a 426 whose body another module writes, such as mod_dav's
 * error response), the fields and variables only. */
int upreq_refuse(request_rec *r, const upreq_dir_conf *d, upreq_verdict *v,
                 int page)
{
    const char *upgrade = d->header ? d->header
                                    : upreq_upgrade_value(r, &d->policy, v);
    const char *custom = page ? ap_response_code_string(r, upreq_426_index)
                              : NULL;

    /* "ErrorDocument 426 https://..." makes ap_die() answer 302, which
     * must not carry a 426's Upgrade, Connection or Sec-WebSocket-Version */
    if (!custom || custom[0] == '"' || !ap_is_url(custom)) {
        upreq_set_response_headers(r, upgrade, v->failed & UPREQ_R_WS);
    }
    if (upreq_redirect(d)) {
        upreq_add_vary(r);
    }
    apr_table_setn(r->subprocess_env, UPREQ_ENV, upgrade);
    apr_table_setn(r->notes, UPREQ_NOTE, upgrade);
    /* httpd's canned 426 text speaks of SSL only; an ErrorDocument wins */
    if (page && custom == NULL) {
        apr_size_t len;

        upreq_set_page(r, upreq_426_index, upreq_page(r, &d->policy, v, &len));
        /* httpd sends a text this long (a long URI is in it twice) in
         * chunks, without Content-Length; HEAD gets the same field */
        apr_table_setn(r->err_headers_out, "Content-Length",
                       upreq_size_toa(r->pool, len));
    }
    upreq_log_answer(r, v, "UPREQ001: 426 for", upgrade);
    return HTTP_UPGRADE_REQUIRED;
}
