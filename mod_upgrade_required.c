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
 * exempts a request.  See README.md for the request-cycle details.
 */

#include "apr_lib.h"
#include "apr_strings.h"
#include "apr_network_io.h"

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mmn.h"
#include "mod_core.h"      /* ap_response_code_string() */
#include "mod_ssl.h"

#include <arpa/inet.h>

#include "upreq_parse.h"

/* ap_ssl_conn_is_ssl()/ap_ssl_var_lookup() came with 2.4.47 (MMN
 * 20120211.102); UPREQ_FORCE_SSL_OPTIONAL_FN builds the fallback to
 * mod_ssl's optional functions on a newer httpd, so both paths are tested. */
#if AP_MODULE_MAGIC_AT_LEAST(20120211, 102) \
    && !defined(UPREQ_FORCE_SSL_OPTIONAL_FN)
#define UPREQ_HAVE_AP_SSL 1
#include "http_ssl.h"
#else
#define UPREQ_HAVE_AP_SSL 0
#endif

module AP_MODULE_DECLARE_DATA upgrade_required_module;

#define UPREQ_UNSET         (-1)
#define UPREQ_NOTE          "upgrade-required"
#define UPREQ_ENV           "UPGRADE_REQUIRED"
#define UPREQ_EXEMPT_ENV    "no-upgrade-required"
#define UPREQ_ACME_PREFIX   "/.well-known/acme-challenge/"

#define UPREQ_PH_FORWARDED  0x01    /* UpgradeRequiredProxyHeader bits */
#define UPREQ_PH_XFP        0x02
#define UPREQ_PH_DEFAULT    (UPREQ_PH_FORWARDED | UPREQ_PH_XFP)

#define UPREQ_TLS_DEFAULT_MINOR 2   /* bare "TLS" advertises TLS/1.2 */

/* ------------------------------------------------------------------ */
/* configuration                                                       */

typedef struct {
    int reqs;           /* UPREQ_UNSET, 0 for Off, or UPREQ_R_* bits */
    int tls_minor;      /* with UPREQ_R_TLS: minimum 1.x, or UPREQ_TLS_ANY */
    int final_early;    /* set in <Location>/<If> outside <Directory>,
                         * <Files>, <Proxy> and .htaccess: the value is
                         * final as soon as the first Location walk ends */
    const char *where;  /* the section it was set in, for debug logs */
} upreq_policy;

typedef struct {
    upreq_policy policy;    /* UpgradeRequired: replaced as a whole */
    const char *header;     /* UpgradeRequiredHeader; NULL unset */
} upreq_dir_conf;

typedef struct {
    apr_array_header_t *proxies; /* apr_ipsubnet_t *; NULL unset; a vhost's
                                  * list replaces the main server's */
    int proxy_headers;      /* UPREQ_PH_* bits; UPREQ_UNSET */
    int proxy_tls;          /* UpgradeRequiredProxyTLS; UPREQ_UNSET */
    int acme_exempt;        /* UpgradeRequiredAcmeExempt; UPREQ_UNSET */
    int wants_http2;        /* an HTTP/2 requirement is configured here */
    int late_only;          /* set at start-up: something below the
                             * Location walk may change a policy's outcome,
                             * so decide in header_parser only */
} upreq_srv_conf;

/* the TLS state of a connection, looked up once per connection */
typedef struct {
    int is_tls;
    int minor;              /* 0..3, or UPREQ_TLS_UNKNOWN */
    const char *protocol;   /* SSL_PROTOCOL as the TLS module says it */
} upreq_conn_tls;

/* what one evaluation found; lives on the stack */
typedef struct {
    int failed;             /* UPREQ_R_* bits that are not met */
    int h2c_candidate;      /* a valid h2c upgrade request, let through */
    int via_proxy;          /* the TCP peer is a trusted proxy */
    int tls_too_old;        /* TLS failed for its version, not for its
                             * absence: the client is on TLS already */
    const char *tls_used;   /* then the version it uses, NULL unknown */
    const char *why;        /* what decided, for logs */
    conn_rec *peer;         /* the connection whose TCP peer TLS was
                             * judged on, NULL when TLS was not checked */
    const upreq_conn_tls *tls;
} upreq_verdict;

/* request_config: NULL (not decided), the policy a decision was made
 * under, or this mark for a let-through h2c upgrade */
static const char upreq_mark_h2c = 'h';

#if !UPREQ_HAVE_AP_SSL
static APR_OPTIONAL_FN_TYPE(ssl_is_https) *upreq_opt_is_https;
static APR_OPTIONAL_FN_TYPE(ssl_var_lookup) *upreq_opt_var_lookup;
#endif

static void *upreq_create_dir_conf(apr_pool_t *p, char *dir)
{
    upreq_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    (void)dir;
    conf->policy.reqs = UPREQ_UNSET;
    conf->policy.tls_minor = UPREQ_TLS_ANY;
    conf->policy.final_early = 0;
    conf->policy.where = NULL;
    conf->header = NULL;
    return conf;
}

static void *upreq_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    upreq_dir_conf *base = basev, *add = addv;
    upreq_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->policy = (add->policy.reqs != UPREQ_UNSET) ? add->policy
                                                     : base->policy;
    conf->header = add->header ? add->header : base->header;
    return conf;
}

static void *upreq_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    upreq_srv_conf *conf = apr_pcalloc(p, sizeof(*conf));

    (void)s;
    conf->proxies = NULL;
    conf->proxy_headers = UPREQ_UNSET;
    conf->proxy_tls = UPREQ_UNSET;
    conf->acme_exempt = UPREQ_UNSET;
    conf->wants_http2 = 0;
    conf->late_only = 0;
    return conf;
}

#define upreq_merge_unset(f) \
    conf->f = (add->f != UPREQ_UNSET) ? add->f : base->f

static void *upreq_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    upreq_srv_conf *base = basev, *add = addv;
    upreq_srv_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->proxies = add->proxies ? add->proxies : base->proxies;
    upreq_merge_unset(proxy_headers);
    upreq_merge_unset(proxy_tls);
    upreq_merge_unset(acme_exempt);
    conf->wants_http2 = add->wants_http2 || base->wants_http2;
    conf->late_only = add->late_only || base->late_only;
    return conf;
}

/* defaults, applied when a value is read */
static int upreq_proxy_headers(const upreq_srv_conf *sc)
{
    return sc->proxy_headers == UPREQ_UNSET ? UPREQ_PH_DEFAULT
                                            : sc->proxy_headers;
}

static int upreq_acme_exempt(const upreq_srv_conf *sc)
{
    return sc->acme_exempt == UPREQ_UNSET ? 1 : sc->acme_exempt;
}

/* ------------------------------------------------------------------ */
/* directive handlers                                                  */

static int upreq_in_htaccess(const cmd_parms *cmd)
{
    /* .htaccess parsing grants only AllowOverride bits, never the
     * server-config ones */
    return (cmd->override & (ACCESS_CONF | RSRC_CONF)) == 0;
}

static int upreq_section_is(const ap_directive_t *d, const char *name)
{
    return strcasecmp(d->directive, name) == 0;
}

/* An <If> whose expression can only be answered after map_to_storage
 * (file names, file tests, handler, content type) is not final early. */
static int upreq_expr_needs_storage(const char *expr)
{
    static const char *const late_words[] = {
        "FILENAME", "file", "PATH_INFO", "HANDLER", "CONTENT_TYPE",
        "DOCUMENT_", "CONTEXT_", NULL
    };
    const char *p;
    int i;

    for (i = 0; late_words[i]; i++) {
        if (ap_strcasestr(expr, late_words[i])) {
            return 1;
        }
    }
    /* unary file operators: -d -e -f -s -L -h -F -U -A -x */
    for (p = strchr(expr, '-'); p; p = strchr(p + 1, '-')) {
        if (p[1] && strchr("defsLhFUAx", p[1]) && apr_isspace(p[2])) {
            return 1;
        }
    }
    return 0;
}

/* Is a directive at this place final once the Location walk is done?
 * httpd merges <Location> and <If> after <Directory>, <Files>, <Proxy>
 * and .htaccess, so a value set there cannot be overridden by them. */
static int upreq_directive_is_early(const cmd_parms *cmd)
{
    const ap_directive_t *d;
    int seen = 0;

    if (upreq_in_htaccess(cmd) || cmd->directive == NULL) {
        return 0;
    }
    for (d = cmd->directive->parent; d; d = d->parent) {
        if (upreq_section_is(d, "<Location")
            || upreq_section_is(d, "<LocationMatch")) {
            seen = 1;
        }
        else if (upreq_section_is(d, "<If")) {
            if (upreq_expr_needs_storage(d->args)) {
                return 0;
            }
            seen = 1;
        }
        else if (upreq_section_is(d, "<VirtualHost")) {
            break;
        }
        else if (!upreq_section_is(d, "<IfModule")
                 && !upreq_section_is(d, "<IfDefine")
                 && !upreq_section_is(d, "<IfVersion")
                 && !upreq_section_is(d, "<IfFile")
                 && !upreq_section_is(d, "<IfDirective")
                 && !upreq_section_is(d, "<IfSection")) {
            return 0;   /* Directory, Files, Proxy, Else, ElseIf, ... */
        }
    }
    return seen;
}

static const char *upreq_bad_word(cmd_parms *cmd, const char *why,
                                  const char *word)
{
    return apr_psprintf(cmd->pool, "%s: %s '%s' (expected Off, TLS, "
                        "TLS/1.0-1.3, HTTP/1.1, HTTP/2, websocket)",
                        cmd->cmd->name, why, word);
}

/* one word into the policy; NULL or an error message */
static const char *upreq_add_requirement(cmd_parms *cmd, upreq_policy *pol,
                                         const char *word,
                                         const char **tls_word)
{
    int bit = 0, minor = UPREQ_TLS_ANY;

    switch (upreq_parse_requirement(word, &bit, &minor)) {
    case -1:
        return upreq_bad_word(cmd, "'Off' cannot be combined with "
                              "requirements, found", word);
    case 0:
        return upreq_bad_word(cmd, "unknown requirement", word);
    }
    if (bit == UPREQ_R_TLS && *tls_word) {
        if (strcasecmp(*tls_word, word) == 0) {
            return upreq_bad_word(cmd, "requirement given twice", word);
        }
        return apr_psprintf(cmd->pool, "%s: two TLS requirements '%s' and "
                            "'%s' (give one)", cmd->cmd->name, *tls_word,
                            word);
    }
    if (pol->reqs & bit) {
        return upreq_bad_word(cmd, "requirement given twice", word);
    }
    if (bit == UPREQ_R_TLS) {
        *tls_word = word;
        pol->tls_minor = minor;
    }
    pol->reqs |= bit;
    return NULL;
}

static const char *upreq_set_required(cmd_parms *cmd, void *cfg,
                                      int argc, char *const argv[])
{
    upreq_dir_conf *conf = cfg;
    upreq_policy pol = { 0, UPREQ_TLS_ANY, 0, NULL };
    const char *tls_word = NULL, *err;
    int i;

    if (argc == 0) {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, ": expected Off or "
                           "one or more of TLS, TLS/1.0-1.3, HTTP/1.1, "
                           "HTTP/2, websocket", NULL);
    }
    if (argc == 1 && strcasecmp(argv[0], "Off") == 0) {
        pol.reqs = 0;
    }
    else {
        for (i = 0; i < argc; i++) {
            err = upreq_add_requirement(cmd, &pol, argv[i], &tls_word);
            if (err) {
                return err;
            }
        }
    }
    pol.final_early = upreq_directive_is_early(cmd);
    pol.where = cmd->path ? cmd->path : "server config";
    if ((pol.reqs & UPREQ_R_HTTP2) && !upreq_in_htaccess(cmd)) {
        upreq_srv_conf *sc = ap_get_module_config(cmd->server->module_config,
                                                  &upgrade_required_module);
        sc->wants_http2 = 1;
    }
    conf->policy = pol;
    return NULL;
}

static const char *upreq_set_header(cmd_parms *cmd, void *cfg,
                                    const char *value)
{
    upreq_dir_conf *conf = cfg;

    if (!upreq_upgrade_value_ok(value)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a comma list of "
                            "protocol[/version] tokens (RFC 9110 7.8), "
                            "e.g. \"TLS/1.2, HTTP/1.1\"", cmd->cmd->name,
                            value);
    }
    conf->header = value;
    return NULL;
}

static const char *upreq_set_trusted_proxy(cmd_parms *cmd, void *cfg,
                                           const char *arg)
{
    upreq_srv_conf *sc = ap_get_module_config(cmd->server->module_config,
                                              &upgrade_required_module);
    char *ip = apr_pstrdup(cmd->temp_pool, arg);
    char *bits = strchr(ip, '/');
    unsigned char buf[16];
    apr_ipsubnet_t **sub;
    apr_status_t rv;

    (void)cfg;
    if (bits) {
        *bits++ = '\0';
    }
    /* numeric addresses only: a host name would need DNS at start-up */
    if (inet_pton(AF_INET, ip, buf) != 1
        && inet_pton(AF_INET6, ip, buf) != 1) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not an IPv4 or IPv6 "
                            "address (host names are not accepted)",
                            cmd->cmd->name, arg);
    }
    if (bits && (!*bits || strspn(bits, "0123456789") != strlen(bits))) {
        return apr_psprintf(cmd->pool, "%s: '%s' has a bad prefix length",
                            cmd->cmd->name, arg);
    }
    if (!sc->proxies) {
        sc->proxies = apr_array_make(cmd->pool, 4, sizeof(apr_ipsubnet_t *));
    }
    sub = apr_array_push(sc->proxies);
    rv = apr_ipsubnet_create(sub, ip, bits, cmd->pool);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid address or "
                            "network: %pm", cmd->cmd->name, arg, &rv);
    }
    return NULL;
}

static const char *upreq_set_proxy_header(cmd_parms *cmd, void *cfg,
                                          const char *arg)
{
    upreq_srv_conf *sc = ap_get_module_config(cmd->server->module_config,
                                              &upgrade_required_module);
    int bit;

    (void)cfg;
    if (strcasecmp(arg, "Forwarded") == 0) {
        bit = UPREQ_PH_FORWARDED;
    }
    else if (strcasecmp(arg, "X-Forwarded-Proto") == 0) {
        bit = UPREQ_PH_XFP;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: unknown header '%s' (expected "
                            "Forwarded or X-Forwarded-Proto)",
                            cmd->cmd->name, arg);
    }
    /* several words, or several lines, name several headers */
    sc->proxy_headers = (sc->proxy_headers == UPREQ_UNSET ? 0
                         : sc->proxy_headers) | bit;
    return NULL;
}

static const char *upreq_set_srv_flag(cmd_parms *cmd, void *cfg, int on)
{
    upreq_srv_conf *sc = ap_get_module_config(cmd->server->module_config,
                                              &upgrade_required_module);

    (void)cfg;
    *(int *)((char *)sc + (apr_size_t)cmd->info) = on;
    return NULL;
}

static const command_rec upreq_cmds[] = {
    /* per directory */
    AP_INIT_TAKE_ARGV("UpgradeRequired", upreq_set_required, NULL,
                      RSRC_CONF | OR_AUTHCFG,
                      "Off, or requirements that must all hold: TLS, "
                      "TLS/1.0, TLS/1.1, TLS/1.2, TLS/1.3, HTTP/1.1, "
                      "HTTP/2, websocket (default: none)"),
    AP_INIT_TAKE1("UpgradeRequiredHeader", upreq_set_header, NULL,
                  RSRC_CONF | OR_AUTHCFG,
                  "Upgrade value sent with the 426, a comma list of "
                  "protocol[/version] (default: derived from the "
                  "failed requirements)"),
    /* per server */
    AP_INIT_ITERATE("UpgradeRequiredTrustedProxy", upreq_set_trusted_proxy,
                    NULL, RSRC_CONF,
                    "IPv4/IPv6 addresses or networks (addr/bits) of proxies "
                    "whose protocol headers are believed (default: none)"),
    AP_INIT_ITERATE("UpgradeRequiredProxyHeader", upreq_set_proxy_header,
                    NULL, RSRC_CONF,
                    "Forwarded and/or X-Forwarded-Proto: headers read from "
                    "a trusted proxy (default: both)"),
    AP_INIT_FLAG("UpgradeRequiredProxyTLS", upreq_set_srv_flag,
                 (void *)APR_OFFSETOF(upreq_srv_conf, proxy_tls), RSRC_CONF,
                 "On if trusted proxies enforce the required TLS version "
                 "(default Off)"),
    AP_INIT_FLAG("UpgradeRequiredAcmeExempt", upreq_set_srv_flag,
                 (void *)APR_OFFSETOF(upreq_srv_conf, acme_exempt),
                 RSRC_CONF,
                 "On: /.well-known/acme-challenge/ is never refused for "
                 "want of TLS (default On)"),
    { NULL }
};

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

static const upreq_conn_tls *upreq_tls_state(request_rec *r)
{
    conn_rec *c = r->connection;
    conn_rec *tc = upreq_client_conn(r);
    upreq_conn_tls *t = ap_get_module_config(c->conn_config,
                                             &upgrade_required_module);

    if (t == NULL) {
        t = apr_palloc(c->pool, sizeof(*t));
        t->is_tls = upreq_conn_is_tls(tc);
        t->protocol = t->is_tls ? upreq_conn_tls_protocol(r, tc) : NULL;
        if (t->protocol) {
            t->protocol = apr_pstrdup(c->pool, t->protocol);
        }
        t->minor = upreq_tls_minor_of(t->protocol);
        ap_set_module_config(c->conn_config, &upgrade_required_module, t);
    }
    return t;
}

/* ------------------------------------------------------------------ */
/* request-time helpers: trusted proxies                               */

static int upreq_sockaddr_is_trusted(const apr_array_header_t *proxies,
                                     apr_sockaddr_t *sa)
{
    apr_ipsubnet_t *const *subs = (apr_ipsubnet_t *const *)proxies->elts;
    int i;

    for (i = 0; i < proxies->nelts; i++) {
        if (apr_ipsubnet_test(subs[i], sa)) {
            return 1;
        }
    }
    return 0;
}

typedef struct {
    const apr_array_header_t *proxies;
    apr_pool_t *pool;
} upreq_trust_ctx;

/* upreq_trust_fn for Forwarded "for" values; ip is a literal already */
static int upreq_ip_is_trusted(void *vctx, const char *ip)
{
    upreq_trust_ctx *ctx = vctx;
    unsigned char buf[16];
    apr_sockaddr_t *sa;

    /* only numeric literals reach apr_sockaddr_info_get: no DNS */
    if (inet_pton(AF_INET, ip, buf) != 1
        && inet_pton(AF_INET6, ip, buf) != 1) {
        return 0;
    }
    if (apr_sockaddr_info_get(&sa, ip, APR_UNSPEC, 0, 0, ctx->pool)
        != APR_SUCCESS) {
        return 0;
    }
    return upreq_sockaddr_is_trusted(ctx->proxies, sa);
}

/* The TLS verdict of the proxy headers of a request from a trusted peer:
 * 1 TLS, 0 not, -1 none of the headers read is present.  When both are
 * read and present, both must say TLS (SPEC). */
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
        upreq_trust_ctx ctx = { sc->proxies, r->pool };

        switch (upreq_forwarded_is_tls(fwd, upreq_ip_is_trusted, &ctx)) {
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
    const upreq_conn_tls *t = upreq_tls_state(r);
    int says = -1;

    v->tls = t;
    v->peer = upreq_client_conn(r);
    if (upreq_peer_is_trusted(v->peer, sc)) {
        v->via_proxy = 1;
        says = upreq_proxy_says_tls(r, sc, &v->why);
    }
    if (says == -1 && t->is_tls) {
        v->why = "TLS connection";
        if (pol->tls_minor != UPREQ_TLS_ANY && t->minor < pol->tls_minor) {
            v->failed |= UPREQ_R_TLS;
            v->tls_too_old = 1;
            v->tls_used = t->protocol;
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

static int upreq_is_acme_challenge(request_rec *r, const upreq_srv_conf *sc)
{
    return upreq_acme_exempt(sc) && r->uri
           && strncmp(r->uri, UPREQ_ACME_PREFIX,
                      sizeof(UPREQ_ACME_PREFIX) - 1) == 0;
}

/* Evaluate every requirement of the policy; sets v->failed. */
static void upreq_evaluate(request_rec *r, const upreq_policy *pol,
                           const upreq_srv_conf *sc, upreq_verdict *v)
{
    if ((pol->reqs & UPREQ_R_TLS) && !upreq_is_acme_challenge(r, sc)) {
        upreq_check_tls(r, pol, sc, v);
    }
    if ((pol->reqs & UPREQ_R_HTTP11) && r->proto_num < HTTP_VERSION(1, 1)) {
        v->failed |= UPREQ_R_HTTP11;
    }
    if ((pol->reqs & UPREQ_R_HTTP2) && r->proto_num < HTTP_VERSION(2, 0)) {
        v->failed |= UPREQ_R_HTTP2;
    }
    if ((pol->reqs & UPREQ_R_WS) && !upreq_is_websocket_handshake(r)) {
        v->failed |= UPREQ_R_WS;
    }
    if (v->failed == UPREQ_R_HTTP2) {
        if (!v->tls) {
            v->tls = upreq_tls_state(r);
        }
        v->h2c_candidate = upreq_is_h2c_upgrade(r, v);
    }
}

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

/* The Upgrade value: tokens of the failed requirements in SPEC order
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

/* The parts of the https:// link, HTML-escaped: ServerName (never Host)
 * and the path and query asked for. */
static void upreq_https_link(request_rec *r, const char **host,
                             const char **target)
{
    const char *h = r->server->server_hostname;
    const char *t = r->unparsed_uri;

    if (!h || !*h) {
        h = "localhost";
    }
    if (ap_strchr_c(h, ':')) {
        h = apr_pstrcat(r->pool, "[", h, "]", NULL);
    }
    if (!t || t[0] != '/') {
        t = apr_pstrcat(r->pool, ap_escape_uri(r->pool, r->uri),
                        r->args ? "?" : "", r->args ? r->args : "", NULL);
    }
    *host = upreq_escape_html(r->pool, h);
    *target = upreq_escape_html(r->pool, t);
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

/* Built on every refusal, so without intermediate copies; at most 15
 * pieces (all requirements failed on a plain connection). */
static const char *upreq_page(request_rec *r, const upreq_policy *pol,
                              const upreq_verdict *v, apr_size_t *len)
{
    upreq_pieces p;
    const char *host, *target;

    p.n = 0;
    upreq_add_lit(&p, "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n"
                  "<html><head>\n<title>426 Upgrade Required</title>\n"
                  "</head><body>\n<h1>Upgrade Required</h1>\n");
    if ((v->failed & UPREQ_R_TLS) && v->tls_too_old) {
        upreq_add_str(&p, upreq_page_tls_old(r, pol, v));
    }
    else if (v->failed & UPREQ_R_TLS) {
        upreq_https_link(r, &host, &target);
        upreq_add_lit(&p, "<p>This resource is only available over a "
                      "secure (TLS) connection");
        if (pol->tls_minor != UPREQ_TLS_ANY) {
            upreq_add_str(&p, apr_psprintf(r->pool, " using TLS 1.%d or "
                                           "newer", pol->tls_minor));
        }
        upreq_add_lit(&p, ". Please use <a href=\"https://");
        upreq_add_str(&p, host);
        upreq_add_str(&p, target);
        upreq_add_lit(&p, "\">https://");
        upreq_add_str(&p, host);
        upreq_add_str(&p, target);
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
    return apr_pstrcatv(r->pool, p.vec, p.n, len);
}

/* Headers go in err_headers_out so that they survive ErrorDocument 426;
 * on HTTP/2 nothing connection-specific is sent (RFC 9113 §8.2.2). */
static void upreq_set_response_headers(request_rec *r, const char *upgrade,
                                       int ws_failed)
{
    if (r->proto_num < HTTP_VERSION(2, 0)) {
        const char *conn = apr_table_get(r->err_headers_out, "Connection");

        apr_table_setn(r->err_headers_out, "Upgrade", upgrade);
        if (!upreq_list_has_token(conn, "upgrade")) {
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
static const char *upreq_log_reason(request_rec *r, const upreq_verdict *v)
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

static void upreq_log_refusal(request_rec *r, const upreq_verdict *v,
                              const char *upgrade)
{
    if (!APLOGrinfo(r)) {
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "UPREQ001: 426 for %s %s from %s: requires%s%s%s%s; "
                  "Upgrade: %s%s%s",
                  r->method, ap_escape_logitem(r->pool, r->uri),
                  r->useragent_ip,
                  (v->failed & UPREQ_R_TLS) ? " TLS" : "",
                  (v->failed & UPREQ_R_HTTP11) ? " HTTP/1.1" : "",
                  (v->failed & UPREQ_R_HTTP2) ? " HTTP/2" : "",
                  (v->failed & UPREQ_R_WS) ? " websocket" : "",
                  upgrade, v->why ? "; " : "",
                  v->why ? upreq_log_reason(r, v) : "");
}

/* A length in decimal; apr_off_t_toa's general case costs more on every
 * refusal than this page ever needs. */
static const char *upreq_size_toa(apr_pool_t *p, apr_size_t n)
{
    char buf[24], *e = buf + sizeof(buf), *c = e;

    do {
        *--c = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    return apr_pstrmemdup(p, c, e - c);
}

/* Refuse: headers, variables, the page; the caller returns 426. */
static int upreq_refuse(request_rec *r, const upreq_dir_conf *d,
                        upreq_verdict *v)
{
    const char *upgrade = d->header ? d->header
                                    : upreq_upgrade_value(r, &d->policy, v);
    int idx = ap_index_of_response(HTTP_UPGRADE_REQUIRED);
    const char *custom = ap_response_code_string(r, idx);

    /* "ErrorDocument 426 https://..." makes ap_die() answer 302, which
     * must not carry a 426's Upgrade, Connection or Sec-WebSocket-Version */
    if (!custom || custom[0] == '"' || !ap_is_url(custom)) {
        upreq_set_response_headers(r, upgrade, v->failed & UPREQ_R_WS);
    }
    apr_table_setn(r->subprocess_env, UPREQ_ENV, upgrade);
    apr_table_setn(r->notes, UPREQ_NOTE, upgrade);
    /* httpd's canned 426 text speaks of SSL only; an ErrorDocument wins */
    if (custom == NULL) {
        apr_size_t len;
        const char *page = upreq_page(r, &d->policy, v, &len);

        ap_custom_response(r, HTTP_UPGRADE_REQUIRED, page);
        /* httpd sends a text this long (a long URI is in it twice) in
         * chunks, without Content-Length; HEAD gets the same field */
        apr_table_setn(r->err_headers_out, "Content-Length",
                       upreq_size_toa(r->pool, len));
    }
    upreq_log_refusal(r, v, upgrade);
    return HTTP_UPGRADE_REQUIRED;
}

/* Requests the module never refuses (SPEC): subrequests, error documents,
 * forward-proxy requests, CONNECT, and no-upgrade-required. */
static int upreq_request_is_exempt(request_rec *r)
{
    const char *why = NULL;

    if (r->main) {
        why = "subrequest";
    }
    else if (r->prev && ap_is_HTTP_ERROR(r->prev->status)) {
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

/* Decide for one request: OK to go on, or 426. */
static int upreq_enforce(request_rec *r, const upreq_dir_conf *d,
                         const char *phase)
{
    const upreq_srv_conf *sc;
    upreq_verdict v = { 0 };

    ap_set_module_config(r->request_config, &upgrade_required_module,
                         (void *)&d->policy);
    /* a subrequest is not even evaluated */
    if (r->main && upreq_request_is_exempt(r)) {
        return DECLINED;
    }
    sc = ap_get_module_config(r->server->module_config,
                              &upgrade_required_module);
    upreq_evaluate(r, &d->policy, sc, &v);
    /* the other exemptions (an environment look-up among them) matter
     * only to a request that would be refused or held to its h2c offer:
     * a request that meets its policy does not pay for them */
    if (v.failed && upreq_request_is_exempt(r)) {
        return DECLINED;
    }
    if (v.failed == 0 || v.h2c_candidate) {
        if (v.h2c_candidate) {
            /* the handler hook refuses it if httpd does not switch */
            ap_set_module_config(r->request_config, &upgrade_required_module,
                                 (void *)&upreq_mark_h2c);
        }
        upreq_log_pass(r, d, &v, phase);
        return DECLINED;
    }
    if (APLOGrdebug(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "UPREQ004: refusing by the policy of %s (%s)%s%s",
                      ap_escape_logitem(r->pool, d->policy.where), phase,
                      v.why ? ": " : "",
                      v.why ? upreq_log_reason(r, &v) : "");
    }
    return upreq_refuse(r, d, &v);
}

/* A refusal decided in a subrequest for its main request, applied once
 * the main request's 426 is certain (kept in the main request's pool:
 * mod_dir destroys the subrequest). */
typedef struct {
    upreq_dir_conf d;
    upreq_verdict v;
} upreq_pending;

#define UPREQ_PENDING_KEY "upgrade_required:pending"

static request_rec *upreq_main_request(request_rec *r)
{
    while (r->main) {
        r = r->main;
    }
    return r;
}

/* Refuse m with the refusal a subrequest left pending, if any; once.
 * The pool's user data comes first: a request pool rarely has any, so
 * our own 426 pays next to nothing for this check. */
static int upreq_apply_pending(request_rec *m)
{
    void *p = NULL;
    upreq_pending *pend;

    if (apr_pool_userdata_get(&p, UPREQ_PENDING_KEY, m->pool) != APR_SUCCESS
        || p == NULL || apr_table_get(m->notes, UPREQ_NOTE)) {
        return 0;
    }
    pend = p;
    apr_pool_userdata_setn(NULL, UPREQ_PENDING_KEY, NULL, m->pool);
    upreq_refuse(m, &pend->d, &pend->v);
    return 1;
}

/* ------------------------------------------------------------------ */
/* hooks                                                               */

/* translate_name, first: the Location/If walk has just run.  A policy set
 * there is final (httpd merges those sections last), so it is decided
 * now, where mod_alias's Redirect acts, before any directory is walked. */
static int upreq_translate_name(request_rec *r)
{
    const upreq_dir_conf *d = ap_get_module_config(r->per_dir_config,
                                                   &upgrade_required_module);
    const upreq_srv_conf *sc;

    if (d->policy.reqs <= 0 || !d->policy.final_early) {
        return DECLINED;
    }
    sc = ap_get_module_config(r->server->module_config,
                              &upgrade_required_module);
    if (sc->late_only) {
        return DECLINED;
    }
    return upreq_enforce(r, d, "translate_name");
}

/* header_parser: the per-directory configuration is complete, access
 * control has not run yet, so a 426 comes before any 401 or 403. */
static int upreq_header_parser(request_rec *r)
{
    const upreq_dir_conf *d;

    if (ap_get_module_config(r->request_config, &upgrade_required_module)) {
        return DECLINED;        /* decided at translate_name */
    }
    d = ap_get_module_config(r->per_dir_config, &upgrade_required_module);
    if (d->policy.reqs <= 0) {
        return DECLINED;
    }
    return upreq_enforce(r, d, "header_parser");
}

/* A let-through h2c upgrade that reaches a handler was not switched. */
static int upreq_refuse_unswitched_h2c(request_rec *r,
                                       const upreq_dir_conf *d)
{
    upreq_verdict v = { .failed = UPREQ_R_HTTP2,
                        .why = "h2c upgrade not switched",
                        .tls = upreq_tls_state(r) };

    ap_set_module_config(r->request_config, &upgrade_required_module,
                         (void *)&d->policy);
    return upreq_refuse(r, d, &v);
}

/* Was the request decided under a policy that asks the same? */
static int upreq_decided_as(const void *mark, const upreq_policy *pol)
{
    const upreq_policy *done = mark;

    return done && done != (const void *)&upreq_mark_h2c
           && done->reqs == pol->reqs && done->tls_minor == pol->tls_minor;
}

/* check_authn, first, for subrequests only.  A subrequest is never
 * refused; but one that is about to authenticate under a policy its main
 * request fails would invite credentials, since mod_dir hands a
 * DirectoryIndex target's 401 on to the client.  It answers 426 instead
 * of authenticating (for a subrequest that needed credentials, a refusal
 * either way), which mod_dir passes on like any error of its last index
 * name; the main request's 426 then carries the target's Upgrade fields
 * and page (upreq_insert_error_filter). */
static int upreq_check_authn(request_rec *r)
{
    const upreq_dir_conf *d = ap_get_module_config(r->per_dir_config,
                                                   &upgrade_required_module);
    upreq_pending *pend;
    request_rec *m;

    if (!r->main || d->policy.reqs <= 0) {
        return DECLINED;
    }
    m = upreq_main_request(r);
    if (apr_table_get(m->notes, UPREQ_NOTE) || upreq_request_is_exempt(m)) {
        return DECLINED;
    }
    pend = apr_pcalloc(m->pool, sizeof(*pend));
    pend->d = *d;
    upreq_evaluate(m, &d->policy,
                   ap_get_module_config(m->server->module_config,
                                        &upgrade_required_module),
                   &pend->v);
    if (pend->v.failed == 0 || pend->v.h2c_candidate) {
        return DECLINED;
    }
    apr_pool_userdata_setn(pend, UPREQ_PENDING_KEY, NULL, m->pool);
    if (APLOGrdebug(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "UPREQ007: subrequest %s would authenticate under "
                      "the policy of %s, which the request fails: 426 "
                      "instead", ap_escape_logitem(r->pool, r->uri),
                      ap_escape_logitem(r->pool, d->policy.where));
    }
    return HTTP_UPGRADE_REQUIRED;
}

/* insert_error_filter: the main request's 426 that came from a subrequest
 * (upreq_check_authn) gets its headers, variables and page here, before
 * ap_send_error_response() reads them. */
static void upreq_insert_error_filter(request_rec *r)
{
    if (r->status == HTTP_UPGRADE_REQUIRED && !r->main) {
        upreq_apply_pending(r);
    }
}

/* Is r the ErrorDocument request of a 426 of ours? */
static int upreq_is_our_error_document(const request_rec *r)
{
    return r->prev && apr_table_get(r->prev->notes, UPREQ_NOTE) != NULL;
}

/* handler, before core_upgrade_handler can switch protocols:
 * - the ErrorDocument request of our 426 inherits the refused request's
 *   headers; its Upgrade offer is hidden (in a copy: the original's
 *   logged headers stay) so that it is never switched to h2c, nor
 *   upgraded by a proxy;
 * - mod_dir's index and mod_negotiation's variant arrive through
 *   ap_internal_fast_redirect(), which installs the subrequest's
 *   per-directory configuration after header_parser: an internal
 *   redirect all the same, so the target's policy is enforced here if it
 *   was not the one already decided. */
static int upreq_handler(request_rec *r)
{
    const void *mark = ap_get_module_config(r->request_config,
                                            &upgrade_required_module);
    const upreq_dir_conf *d;

    if (mark == &upreq_mark_h2c) {
        return DECLINED;        /* upreq_handler_after_core decides */
    }
    if (r->prev && r->prev->status == HTTP_UPGRADE_REQUIRED
        && upreq_apply_pending(r->prev)) {
        /* a local ErrorDocument of a 426 from a subrequest: ap_die() has
         * renamed the variables already */
        apr_table_setn(r->subprocess_env, "REDIRECT_" UPREQ_ENV,
                       apr_table_get(r->prev->subprocess_env, UPREQ_ENV));
    }
    if (upreq_is_our_error_document(r)) {
        if (apr_table_get(r->headers_in, "Upgrade")) {
            r->headers_in = apr_table_copy(r->pool, r->headers_in);
            apr_table_unset(r->headers_in, "Upgrade");
        }
        return DECLINED;
    }
    d = ap_get_module_config(r->per_dir_config, &upgrade_required_module);
    if (!r->main && d->policy.reqs > 0
        && !upreq_decided_as(mark, &d->policy)) {
        return upreq_enforce(r, d, "handler");
    }
    return DECLINED;
}

/* handler, right after core_upgrade_handler: a let-through h2c upgrade
 * that reaches this point was not switched, so it is refused after all;
 * an ErrorDocument for our 426 loses the Upgrade/Connection fields that
 * core_upgrade_handler announces on a connection's first request, so
 * only ours are sent. */
static int upreq_handler_after_core(request_rec *r)
{
    const void *mark = ap_get_module_config(r->request_config,
                                            &upgrade_required_module);

    if (mark == &upreq_mark_h2c) {
        return upreq_refuse_unswitched_h2c(r,
                   ap_get_module_config(r->per_dir_config,
                                        &upgrade_required_module));
    }
    if (upreq_is_our_error_document(r)) {
        apr_table_unset(r->headers_out, "Upgrade");
        apr_table_unset(r->headers_out, "Connection");
    }
    return DECLINED;
}

/* Start-up checks that must also fail or warn under "apachectl -t". */
static int upreq_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf; (void)plog; (void)ptemp;
    for (; s; s = s->next) {
        upreq_srv_conf *sc = ap_get_module_config(s->module_config,
                                                  &upgrade_required_module);

        if (sc->wants_http2 && !ap_find_linked_module("mod_http2.c")) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "UPREQ005: UpgradeRequired HTTP/2 is configured "
                         "but mod_http2 is not loaded: every request to "
                         "such a location will be refused");
            break;
        }
    }
    return OK;
}

/* UpgradeRequiredHeader and ErrorDocument 426 shape the refusal */
static int upreq_shapes_the_426(const ap_directive_t *d)
{
    return !strcasecmp(d->directive, "UpgradeRequiredHeader")
           || (!strcasecmp(d->directive, "ErrorDocument") && d->args
               && !strncmp(d->args, "426", 3));
}

/* Does a directive below a per-directory section change, after the
 * Location walk, what an early decision would see?  An <If> inside
 * <Directory>/<Files>/<Proxy> (merged after <Location>), an <If> anywhere
 * whose expression needs the file name (false in the first walk), and the
 * per-directory settings an early 426 would miss: SetEnvIf/BrowserMatch
 * of no-upgrade-required, UpgradeRequiredHeader, ErrorDocument 426.
 * late_if: inside an <If>/<ElseIf>/<Else> whose chain only the final
 * walk answers. */
static int upreq_tree_needs_late(const ap_directive_t *d, int in_dir,
                                 int late_if, int in_section)
{
    int chain_late = 0;     /* an <If>..<ElseIf> chain among siblings */

    for (; d; d = d->next) {
        const char *n = d->directive;
        int dir = in_dir, lif = late_if, sec = in_section;

        if (upreq_section_is(d, "<Directory")
            || upreq_section_is(d, "<DirectoryMatch")
            || upreq_section_is(d, "<Files")
            || upreq_section_is(d, "<FilesMatch")
            || upreq_section_is(d, "<Proxy")
            || upreq_section_is(d, "<ProxyMatch")) {
            dir = sec = 1;
        }
        else if (upreq_section_is(d, "<If") || upreq_section_is(d, "<ElseIf")
                 || upreq_section_is(d, "<Else")) {
            if (upreq_section_is(d, "<If")) {
                chain_late = 0;
            }
            chain_late |= d->args && upreq_expr_needs_storage(d->args);
            lif = late_if || dir || chain_late;
            sec = 1;
        }
        else if (!strncasecmp(n, "<Location", 9)) {
            sec = 1;
        }
        if ((lif && !strcasecmp(n, "UpgradeRequired"))
            || ((lif || dir) && upreq_shapes_the_426(d))
            || (sec && (!strncasecmp(n, "SetEnvIf", 8)
                        || !strncasecmp(n, "BrowserMatch", 12))
                && d->args && ap_strcasestr(d->args, UPREQ_EXEMPT_ENV))) {
            return 1;
        }
        if (d->first_child
            && upreq_tree_needs_late(d->first_child, dir, lif, sec)) {
            return 1;
        }
    }
    return 0;
}

static int upreq_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    int late = upreq_tree_needs_late(ap_conftree, 0, 0, 0);
    server_rec *v;

    (void)pconf; (void)plog; (void)ptemp;
    for (v = s; v; v = v->next) {
        upreq_srv_conf *sc = ap_get_module_config(v->module_config,
                                                  &upgrade_required_module);
        sc->late_only = late;
    }
    if (late) {
        /* with a NULL server, httpd drops anything below its default
         * level (warn): log through the main server's LogLevel */
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                     "UPREQ006: per-directory settings may change policies "
                     "after the Location walk; deciding in header_parser");
    }
    return OK;
}

#if !UPREQ_HAVE_AP_SSL
static void upreq_retrieve_optional_fn(void)
{
    upreq_opt_is_https = APR_RETRIEVE_OPTIONAL_FN(ssl_is_https);
    upreq_opt_var_lookup = APR_RETRIEVE_OPTIONAL_FN(ssl_var_lookup);
}
#endif

static void upreq_register_hooks(apr_pool_t *p)
{
    static const char *const before_translators[] = {
        "mod_alias.c", "mod_rewrite.c", "mod_proxy.c", NULL
    };
    static const char *const after_setenvif[] = { "mod_setenvif.c", NULL };
    static const char *const core[] = { "core.c", NULL };

    (void)p;
    /* before mod_alias/mod_rewrite/mod_proxy map the URL anywhere */
    ap_hook_translate_name(upreq_translate_name, NULL, before_translators,
                           APR_HOOK_REALLY_FIRST);
    /* after mod_setenvif's per-directory rules set no-upgrade-required,
     * before access control and all fixups (mod_rewrite, mod_alias) */
    ap_hook_header_parser(upreq_header_parser, after_setenvif, NULL,
                          APR_HOOK_FIRST);
    /* before core_upgrade_handler (REALLY_FIRST) may switch protocols */
    ap_hook_handler(upreq_handler, NULL, core, APR_HOOK_REALLY_FIRST);
    /* right after it, before any content handler */
    ap_hook_handler(upreq_handler_after_core, core, NULL,
                    APR_HOOK_REALLY_FIRST);
    /* before any authentication module, for subrequests */
    ap_hook_check_authn(upreq_check_authn, NULL, NULL, APR_HOOK_REALLY_FIRST,
                        AP_AUTH_INTERNAL_PER_CONF);
    /* a 426 that a subrequest decided gets its fields before it is sent */
    ap_hook_insert_error_filter(upreq_insert_error_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
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
    AP_MODULE_FLAG_NONE         /* flags */
};
