/* upreq_verdict.c - mod_upgrade_required's evaluation of one request
 * against one policy: the TLS state of the client's connection, what
 * trusted proxies say of it, and each requirement. */

#include "upreq.h"

APLOG_USE_MODULE(upgrade_required);

#if !UPREQ_HAVE_AP_SSL
static APR_OPTIONAL_FN_TYPE(ssl_is_https) *upreq_opt_is_https;
static APR_OPTIONAL_FN_TYPE(ssl_var_lookup) *upreq_opt_var_lookup;
#endif


/* ------------------------------------------------------------------ */
/* request-time helpers: TLS state                                     */

static int upreq_conn_is_tls(conn_rec *c)
{
#if UPREQ_HAVE_AP_SSL
    return ap_ssl_conn_is_ssl(c);
#else
    return upreq_opt_is_https && upreq_opt_is_https(c);
#endif
}

static const char *upreq_conn_tls_protocol(request_rec *r, conn_rec *c)
{
#if UPREQ_HAVE_AP_SSL
    return ap_ssl_var_lookup(r->pool, r->server, c, NULL, "SSL_PROTOCOL");
#else
    return upreq_opt_var_lookup
           ? upreq_opt_var_lookup(r->pool, r->server, c, NULL,
                                  (char *)"SSL_PROTOCOL")
           : NULL;
#endif
}

/* TLS is a property of the client's connection: for an HTTP/2 stream that
 * is the master connection.  Cached on the connection the request runs
 * on, which only this request's thread touches. */
static conn_rec *upreq_client_conn(request_rec *r)
{
    return r->connection->master ? r->connection->master : r->connection;
}

/* The TLS state of r's client connection, the first time a policy asks
 * on this connection */
UPREQ_OUT_OF_LINE static upreq_conn_tls *upreq_tls_state_new(request_rec *r)
{
    conn_rec *c = r->connection;
    conn_rec *tc = upreq_client_conn(r);
    upreq_conn_tls *t = apr_palloc(c->pool, sizeof(*t));

    t->is_tls = upreq_conn_is_tls(tc);
    t->protocol = t->is_tls ? upreq_conn_tls_protocol(r, tc) : NULL;
    if (t->protocol) {
        t->protocol = apr_pstrdup(c->pool, t->protocol);
    }
    t->minor = upreq_tls_minor_of(t->protocol);
    ap_set_module_config(c->conn_config, &upgrade_required_module, t);
    return t;
}

static const upreq_conn_tls *upreq_tls_state(request_rec *r)
{
    const upreq_conn_tls *t = ap_get_module_config(r->connection->conn_config,
                                                   &upgrade_required_module);

    return t ? t : upreq_tls_state_new(r);
}

/* ------------------------------------------------------------------ */
/* request-time helpers: trusted proxies                               */

/* apr_ipsubnet_test()'s answer over the whole set, by a binary search:
 * an IPv4-mapped IPv6 peer is in the set's IPv4 networks (upreq_nets.h) */
static int upreq_sockaddr_is_trusted(const upreq_nets *proxies,
                                     const apr_sockaddr_t *sa)
{
    if (sa->family == APR_INET) {
        return upreq_nets_has_ipv4(proxies, (const unsigned char *)
                                            &sa->sa.sin.sin_addr);
    }
#if APR_HAVE_IPV6
    if (sa->family == APR_INET6) {
        return upreq_nets_has_ipv6(proxies, sa->sa.sin6.sin6_addr.s6_addr);
    }
#endif
    return 0;
}

/* upreq_trust_fn for Forwarded "for" values; ip is a literal already,
 * and only a numeric one can be in the set: no DNS */
static int upreq_ip_is_trusted(void *proxies, const char *ip)
{
    return upreq_nets_has_ip(proxies, ip);
}

/* The TLS verdict of the proxy headers of a request from a trusted peer:
 * 1 TLS, 0 not, -1 none of the headers read is present.  When both are
 * read and present, both must say TLS (README). */
static int upreq_proxy_says_tls(request_rec *r, const upreq_srv_conf *sc,
                                const char **why)
{
    int which = upreq_proxy_headers(sc), tls = 1;
    const char *fwd = NULL, *xfp = NULL;

    if (which & UPREQ_PH_FORWARDED) {
        fwd = apr_table_get(r->headers_in, "Forwarded");
    }
    if (which & UPREQ_PH_XFP) {
        xfp = apr_table_get(r->headers_in, "X-Forwarded-Proto");
    }
    if (!fwd && !xfp) {
        *why = "sent no protocol header";
        return -1;
    }
    if (fwd) {
        switch (upreq_forwarded_is_tls(fwd, upreq_ip_is_trusted,
                                       (void *)sc->proxies)) {
        case UPREQ_FWD_TLS:
            *why = "Forwarded says https";
            break;
        case UPREQ_FWD_MALFORMED:
            *why = "Forwarded is malformed";
            tls = 0;
            break;
        case UPREQ_FWD_NONE:
            *why = "every Forwarded element comes from a trusted proxy";
            tls = 0;
            break;
        default:
            *why = "Forwarded does not say https";
            tls = 0;
        }
    }
    if (xfp && tls) {
        tls = upreq_xfp_is_tls(xfp);
        *why = tls ? (fwd ? "Forwarded and X-Forwarded-Proto say https"
                          : "X-Forwarded-Proto says https")
                   : "X-Forwarded-Proto does not say https";
    }
    return tls;
}

/* ------------------------------------------------------------------ */
/* request-time helpers: the requirements                              */

static int upreq_peer_is_trusted(conn_rec *c, const upreq_srv_conf *sc)
{
    /* the TCP peer, never the address mod_remoteip gives the request */
    return sc->proxies && upreq_sockaddr_is_trusted(sc->proxies,
                                                    c->client_addr);
}

/* Decide the TLS requirement; v->why says what decided.  A trusted
 * proxy's headers tell the client's own protocol, over a TLS hop too (a
 * re-encrypting proxy may have taken the request in clear); without them
 * a TLS connection is the client's own (TLS passthrough). */
static void upreq_check_tls(request_rec *r, const upreq_policy *pol,
                            const upreq_srv_conf *sc, upreq_verdict *v)
{
    const upreq_conn_tls *t = v->tls;
    int says = -1;

    v->peer = upreq_client_conn(r);
    if (upreq_peer_is_trusted(v->peer, sc)) {
        v->via_proxy = 1;
        says = upreq_proxy_says_tls(r, sc, &v->why);
        v->proxy_says_tls = (says == 1);
    }
    v->client_tls = says == 1 ? UPREQ_TLS_UNKNOWN       /* the proxy's */
                    : says == 0 || !t->is_tls ? UPREQ_TLS_NONE
                    : t->minor;
    if (says == -1 && t->is_tls) {
        v->why = "TLS connection";
        if (pol->tls_minor != UPREQ_TLS_ANY && t->minor < pol->tls_minor) {
            v->failed |= UPREQ_R_TLS;
            v->tls_too_old = 1;
            v->why = "TLS version too old or unknown";
        }
    }
    else if (says == 1 && pol->tls_minor != UPREQ_TLS_ANY
             && sc->proxy_tls != 1) {
        v->failed |= UPREQ_R_TLS;
        v->tls_too_old = 1;     /* on https, at a version nobody vouches for */
        v->why = "TLS version cannot be known behind the proxy "
                     "(UpgradeRequiredProxyTLS Off)";
    }
    else if (says != 1) {
        v->failed |= UPREQ_R_TLS;
        if (!v->via_proxy) {
            v->why = "plain connection";
        }
    }
}

/* RFC 6455 §4.1 opening handshake; RFC 9110 §7.8: Upgrade is ignored on
 * HTTP/1.0.  mod_http2 hands an RFC 8441 CONNECT on as such a GET. */
static int upreq_is_websocket_handshake(request_rec *r)
{
    return r->proto_num >= HTTP_VERSION(1, 1)
           && strcmp(r->method, "GET") == 0
           && upreq_list_has_token(apr_table_get(r->headers_in, "Upgrade"),
                                   "websocket")
           && upreq_list_has_token(apr_table_get(r->headers_in,
                                                 "Connection"), "upgrade")
           && upreq_ws_version_ok(apr_table_get(r->headers_in,
                                                "Sec-WebSocket-Version"));
}

static int upreq_has_body(request_rec *r)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");

    return apr_table_get(r->headers_in, "Transfer-Encoding") != NULL
           || (cl && strcmp(cl, "0") != 0);
}

/* Would httpd switch this request to h2c?  Asked the way
 * core_upgrade_handler asks (the protocol_propose hooks), so that an offer
 * mod_http2 declines (H2Upgrade off) is refused now, before access control
 * could answer 401 over a connection that stays HTTP/1.1. */
static int upreq_h2c_would_switch(request_rec *r)
{
    apr_array_header_t *offer = apr_array_make(r->pool, 1, sizeof(char *));
    const char *proto;

    APR_ARRAY_PUSH(offer, const char *) = "h2c";
    proto = ap_select_protocol(r->connection, r, r->server, offer);
    return proto && strcmp(proto, "h2c") == 0;
}

/* RFC 7540 §3.2 upgrade offer that httpd could accept on this server */
static int upreq_is_h2c_upgrade(request_rec *r, const upreq_verdict *v)
{
    const char *conn;

    if (r->proto_num != HTTP_VERSION(1, 1) || r->connection->master
        || v->tls->is_tls || upreq_has_body(r)
        || !apr_table_get(r->headers_in, "HTTP2-Settings")
        || !upreq_list_has_token(apr_table_get(r->headers_in, "Upgrade"),
                                 "h2c")) {
        return 0;
    }
    conn = apr_table_get(r->headers_in, "Connection");
    return upreq_list_has_token(conn, "upgrade")
           && upreq_list_has_token(conn, "HTTP2-Settings")
           && upreq_h2c_would_switch(r);
}

/* What an ACME HTTP-01 validation can be (RFC 8555 §8.3): GET or HEAD of
 * the challenge prefix and one base64url token, with no query string;
 * asked of the URI the request has now, which is the one served. */
static int upreq_is_acme_challenge(request_rec *r)
{
    static const apr_size_t plen = sizeof(UPREQ_ACME_PREFIX) - 1;
    const char *t;

    if (r->method_number != M_GET       /* HEAD is M_GET too */
        || r->args != NULL || !r->uri
        || strncmp(r->uri, UPREQ_ACME_PREFIX, plen) != 0) {
        return 0;
    }
    t = r->uri + plen;
    /* the token as sent: no %-escape, which httpd would have decoded, and
     * nothing after it (a '?' with nothing behind leaves r->args NULL) */
    return *t && t[strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "abcdefghijklmnopqrstuvwxyz0123456789-_")] == 0
           && r->unparsed_uri && !ap_strchr_c(r->unparsed_uri, '%')
           && !ap_strchr_c(r->unparsed_uri, '?');
}

/* Evaluate every requirement of the policy: fills v completely (it is
 * read-only afterwards); exemptions are the caller's (upreq_outcome_of). */
void upreq_evaluate(request_rec *r, const upreq_policy *pol,
                    const upreq_srv_conf *sc, upreq_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->tls = upreq_tls_state(r);
    if (pol->reqs & UPREQ_R_TLS) {
        upreq_check_tls(r, pol, sc, v);
        /* asked only where it can matter: TLS failed */
        v->acme = (v->failed & UPREQ_R_TLS) && upreq_acme_exempt(sc)
                  && upreq_is_acme_challenge(r);
    }
    if ((pol->reqs & UPREQ_R_HTTP11) && r->proto_num < HTTP_VERSION(1, 1)) {
        v->failed |= UPREQ_R_HTTP11;
    }
    if ((pol->reqs & UPREQ_R_HTTP2) && r->proto_num < HTTP_VERSION(2, 0)) {
        v->failed |= UPREQ_R_HTTP2;
    }
    if (pol->reqs & UPREQ_R_WS) {
        v->handshake = upreq_is_websocket_handshake(r);
        v->failed |= v->handshake ? 0 : UPREQ_R_WS;
    }
    if (v->failed == UPREQ_R_HTTP2) {
        v->h2c_candidate = upreq_is_h2c_upgrade(r, v);
    }
}


#if !UPREQ_HAVE_AP_SSL
void upreq_retrieve_optional_fn(void)
{
    upreq_opt_is_https = APR_RETRIEVE_OPTIONAL_FN(ssl_is_https);
    upreq_opt_var_lookup = APR_RETRIEVE_OPTIONAL_FN(ssl_var_lookup);
}
#endif
