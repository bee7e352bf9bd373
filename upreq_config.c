/* upreq_config.c - mod_upgrade_required's configuration: per-directory
 * and per-server structures with explicit "unset" values and their
 * merges, the directive handlers and table, and the start-up checks. */

#include "upreq.h"

APLOG_USE_MODULE(upgrade_required);

void *upreq_create_dir_conf(apr_pool_t *p, char *dir)
{
    upreq_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    (void)dir;
    conf->policy.reqs = UPREQ_UNSET;
    conf->policy.tls_minor = UPREQ_TLS_ANY;
    conf->policy.where = NULL;
    conf->header = NULL;
    conf->redirect = UPREQ_UNSET;
    conf->report_only = UPREQ_UNSET;
    conf->tls_status = UPREQ_UNSET;
    return conf;
}

/* each value merges on its own: set in the deeper section, it replaces */
#define upreq_merge_unset(f) \
    conf->f = (add->f != UPREQ_UNSET) ? add->f : base->f
#define upreq_merge_null(f) \
    conf->f = (add->f != NULL) ? add->f : base->f

static int upreq_dir_sets_nothing(const upreq_dir_conf *c)
{
    return c->policy.reqs == UPREQ_UNSET && c->header == NULL
           && c->redirect == UPREQ_UNSET && c->report_only == UPREQ_UNSET
           && c->tls_status == UPREQ_UNSET;
}

/* Both sections set something of ours: a new configuration, each value
 * from the deeper section where it sets it */
UPREQ_OUT_OF_LINE static void *upreq_merge_both(apr_pool_t *p,
                                                const upreq_dir_conf *base,
                                                const upreq_dir_conf *add)
{
    upreq_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->policy = (add->policy.reqs != UPREQ_UNSET) ? add->policy
                                                     : base->policy;
    upreq_merge_null(header);
    upreq_merge_unset(redirect);
    upreq_merge_unset(report_only);
    upreq_merge_unset(tls_status);
    return conf;
}

void *upreq_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    upreq_dir_conf *base = basev, *add = addv;

    /* httpd merges every section of every request, and most set nothing
     * of ours: then the other side stands for the merge (merged
     * configurations are never written to), which keeps an allocation
     * off the requests of a policy, and a stack frame off this path
     * (bench/README.md) */
    if (upreq_dir_sets_nothing(add)) {
        return base;
    }
    if (upreq_dir_sets_nothing(base)) {
        return add;
    }
    return upreq_merge_both(p, base, add);
}

void *upreq_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    upreq_srv_conf *conf = apr_pcalloc(p, sizeof(*conf));

    (void)s;
    conf->proxies = NULL;
    conf->proxy_headers = UPREQ_UNSET;
    conf->proxy_tls = UPREQ_UNSET;
    conf->acme_exempt = UPREQ_UNSET;
    conf->https_url = NULL;
    conf->link_open = NULL;
    conf->link_mid = NULL;
    conf->wants_http2 = 0;
    conf->counts = NULL;
    return conf;
}

void *upreq_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    upreq_srv_conf *base = basev, *add = addv;
    upreq_srv_conf *conf = apr_pcalloc(p, sizeof(*conf));

    upreq_merge_null(proxies);      /* a list replaces, never appends */
    upreq_merge_unset(proxy_headers);
    upreq_merge_unset(proxy_tls);
    upreq_merge_unset(acme_exempt);
    upreq_merge_null(https_url);
    conf->link_open = NULL;         /* upreq_post_config */
    conf->link_mid = NULL;
    conf->wants_http2 = add->wants_http2 || base->wants_http2;
    conf->counts = NULL;            /* upreq_post_config */
    return conf;
}

/* defaults, applied when a value is read */
int upreq_proxy_headers(const upreq_srv_conf *sc)
{
    return sc->proxy_headers == UPREQ_UNSET ? UPREQ_PH_DEFAULT
                                            : sc->proxy_headers;
}

int upreq_acme_exempt(const upreq_srv_conf *sc)
{
    return sc->acme_exempt == UPREQ_UNSET ? 1 : sc->acme_exempt;
}

int upreq_redirect(const upreq_dir_conf *d)
{
    return d->redirect == UPREQ_UNSET ? 0 : d->redirect;
}

int upreq_report_only(const upreq_dir_conf *d)
{
    return d->report_only == 1;
}

int upreq_tls_status(const upreq_dir_conf *d)
{
    return d->tls_status == UPREQ_UNSET ? HTTP_UPGRADE_REQUIRED
                                        : d->tls_status;
}

/* ------------------------------------------------------------------ */
/* directive handlers                                                  */

static int upreq_in_htaccess(const cmd_parms *cmd)
{
    /* .htaccess parsing grants only AllowOverride bits, never the
     * server-config ones */
    return (cmd->override & (ACCESS_CONF | RSRC_CONF)) == 0;
}

/* Inside <Limit>/<LimitExcept> a directive would apply to every method
 * all the same (httpd limits only access control there): refuse it. */
static const char *upreq_check_not_limited(cmd_parms *cmd)
{
    if (cmd->limited != -1) {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, " cannot be limited "
                           "to methods (<Limit>/<LimitExcept> would not "
                           "apply to it); use <If \"%{REQUEST_METHOD} == "
                           "'POST'\"> instead", NULL);
    }
    return NULL;
}

static const char *upreq_bad_word(cmd_parms *cmd, const char *why,
                                  const char *word)
{
    return apr_psprintf(cmd->pool, "%s: %s '%s' (expected Off, "
                        UPREQ_KEYWORDS ")", cmd->cmd->name, why, word);
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
    if ((bit & UPREQ_R_HTTP_VERSION) && (pol->reqs & UPREQ_R_HTTP_VERSION)) {
        return apr_psprintf(cmd->pool, "%s: two HTTP version requirements "
                            "'%s' and '%s' (give one)", cmd->cmd->name,
                            (pol->reqs & UPREQ_R_HTTP11) ? "HTTP/1.1"
                                                         : "HTTP/2", word);
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
    upreq_policy pol = { 0, UPREQ_TLS_ANY, NULL };
    const char *tls_word = NULL, *err;
    int i;

    if ((err = upreq_check_not_limited(cmd)) != NULL) {
        return err;
    }
    if (argc == 0) {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, ": expected Off or "
                           "one or more of " UPREQ_KEYWORDS, NULL);
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
    const char *err = upreq_check_not_limited(cmd);

    if (err) {
        return err;
    }
    if (!upreq_upgrade_value_ok(value)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a comma list of "
                            "protocol[/version] tokens (RFC 9110 7.8), "
                            "e.g. \"TLS/1.2, HTTP/1.1\"", cmd->cmd->name,
                            value);
    }
    conf->header = value;
    return NULL;
}

/* UpgradeRequiredRedirect: per directory, like UpgradeRequired */
static const char *upreq_set_redirect(cmd_parms *cmd, void *cfg,
                                      const char *arg)
{
    upreq_dir_conf *conf = cfg;
    const char *err = upreq_check_not_limited(cmd);

    if (err) {
        return err;
    }
    if (!strcasecmp(arg, "Off")) {
        conf->redirect = 0;
    }
    else if (!strcmp(arg, "301") || !strcmp(arg, "302")
             || !strcmp(arg, "307") || !strcmp(arg, "308")) {
        conf->redirect = atoi(arg);
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a redirect status "
                            "(expected Off, 301, 302, 307 or 308)",
                            cmd->cmd->name, arg);
    }
    return NULL;
}

/* UpgradeRequiredTLSStatus 426|403 */
static const char *upreq_set_tls_status(cmd_parms *cmd, void *cfg,
                                        const char *arg)
{
    upreq_dir_conf *conf = cfg;
    const char *err = upreq_check_not_limited(cmd);

    if (err) {
        return err;
    }
    if (strcmp(arg, "426") && strcmp(arg, "403")) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a status for a TLS "
                            "refusal (expected 426 or 403)", cmd->cmd->name,
                            arg);
    }
    conf->tls_status = atoi(arg);
    return NULL;
}

static const char *upreq_set_report_only(cmd_parms *cmd, void *cfg, int on)
{
    upreq_dir_conf *conf = cfg;
    const char *err = upreq_check_not_limited(cmd);

    if (err) {
        return err;
    }
    conf->report_only = on;
    return NULL;
}

/* "https://" host [":" port], nothing else; kept in that form (an IPv6
 * literal in brackets), the port only when given */
static const char *upreq_set_https_url(cmd_parms *cmd, void *cfg,
                                       const char *arg)
{
    upreq_srv_conf *sc = ap_get_module_config(cmd->server->module_config,
                                              &upgrade_required_module);
    apr_uri_t u;

    (void)cfg;
    if (apr_uri_parse(cmd->pool, arg, &u) != APR_SUCCESS
        || !u.scheme || strcasecmp(u.scheme, "https") != 0
        || !u.hostname || !*u.hostname || u.user || u.password
        || u.query || u.fragment || (u.path && *u.path && strcmp(u.path, "/"))
        || (u.port_str && (!*u.port_str || u.port == 0
                           || strspn(u.port_str, "0123456789")
                              != strlen(u.port_str)))
        || ap_strchr_c(arg, '@')) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not https://host or "
                            "https://host:port (no path, query or user)",
                            cmd->cmd->name, arg);
    }
    sc->https_url = apr_pstrcat(cmd->pool, "https://",
                                ap_strchr_c(u.hostname, ':') ? "[" : "",
                                u.hostname,
                                ap_strchr_c(u.hostname, ':') ? "]" : "",
                                u.port_str ? ":" : "",
                                u.port_str ? u.port_str : "", NULL);
    return NULL;
}

/* Each network is validated by apr_ipsubnet_create(), as before, and
 * added to the server's set of ranges (upreq_nets.c), which stays sorted
 * and merged as it grows: ready when the configuration is read, asked at
 * request time by a binary search.  Several lines append. */
static const char *upreq_set_trusted_proxy(cmd_parms *cmd, void *cfg,
                                           const char *arg)
{
    upreq_srv_conf *sc = ap_get_module_config(cmd->server->module_config,
                                              &upgrade_required_module);
    char *ip = apr_pstrdup(cmd->temp_pool, arg);
    char *bits = strchr(ip, '/');
    unsigned char buf[16];
    upreq_range net[UPREQ_NET_RANGES];
    upreq_nets *set;
    apr_ipsubnet_t *sub;
    apr_status_t rv;
    int n, i;

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
    rv = apr_ipsubnet_create(&sub, ip, bits, cmd->temp_pool);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid address or "
                            "network: %pm", cmd->cmd->name, arg, &rv);
    }
    n = upreq_net_parse(ip, bits, net);
    if (n == 0) {               /* APR took it, upreq_nets.c did not */
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid address or "
                            "network", cmd->cmd->name, arg);
    }
    if (!sc->proxies) {
        sc->proxies = apr_pcalloc(cmd->pool, sizeof(*sc->proxies));
    }
    set = sc->proxies;
    if (set->room - set->count < UPREQ_NET_RANGES) {
        upreq_range *r = apr_palloc(cmd->pool, (set->room * 2
                                                + UPREQ_NET_RANGES * 4)
                                               * sizeof(*r));

        if (set->count) {
            memcpy(r, set->range, set->count * sizeof(*r));
        }
        set->range = r;
        set->room = set->room * 2 + UPREQ_NET_RANGES * 4;
    }
    for (i = 0; i < n; i++) {
        upreq_nets_add(set, &net[i]);
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

const command_rec upreq_cmds[] = {
    /* per directory */
    AP_INIT_TAKE_ARGV("UpgradeRequired", upreq_set_required, NULL,
                      RSRC_CONF | OR_AUTHCFG,
                      "Off, or requirements that must all hold: "
                      UPREQ_KEYWORDS " (default: none)"),
    AP_INIT_TAKE1("UpgradeRequiredHeader", upreq_set_header, NULL,
                  RSRC_CONF | OR_AUTHCFG,
                  "Upgrade value sent with the 426, a comma list of "
                  "protocol[/version] (default: derived from the "
                  "failed requirements)"),
    AP_INIT_TAKE1("UpgradeRequiredRedirect", upreq_set_redirect, NULL,
                  RSRC_CONF | OR_AUTHCFG,
                  "Off, 301, 302, 307 or 308: a browser's navigation that "
                  "fails only its TLS requirement is redirected to https "
                  "(default Off)"),
    AP_INIT_FLAG("UpgradeRequiredReportOnly", upreq_set_report_only, NULL,
                 RSRC_CONF | OR_AUTHCFG,
                 "On: decide, log and set UPGRADE_REQUIRED_REPORT, but "
                 "refuse nothing (default Off)"),
    AP_INIT_TAKE1("UpgradeRequiredTLSStatus", upreq_set_tls_status, NULL,
                  RSRC_CONF | OR_AUTHCFG,
                  "426 or 403: the status of a refusal in which a TLS "
                  "requirement failed; 403 sends no Upgrade field "
                  "(default 426)"),
    /* per server */
    AP_INIT_TAKE1("UpgradeRequiredHTTPSURL", upreq_set_https_url, NULL,
                  RSRC_CONF,
                  "https://host[:port] of this virtual host's TLS side, for "
                  "the 426 page's link and the redirect (default: https:// "
                  "and the ServerName)"),
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


/* Start-up checks that must also fail or warn under "apachectl -t". */
int upreq_check_config(apr_pool_t *pconf, apr_pool_t *plog,
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


/* ------------------------------------------------------------------ */
/* start-up                                                            */

/* The https address, resolved once: UpgradeRequiredHTTPSURL, or https://
 * and the ServerName (an IPv6 literal in brackets), never the Host of a
 * request; and the page's link around it, HTML-escaped, so that a
 * refusal adds only the client's path (upreq_response.c). */
static void upreq_resolve_https_url(apr_pool_t *p, server_rec *v,
                                    upreq_srv_conf *sc)
{
    const char *h = v->server_hostname, *html;

    if (sc->https_url == NULL) {
        if (!h || !*h) {
            h = "localhost";
        }
        sc->https_url = apr_pstrcat(p, "https://",
                                    ap_strchr_c(h, ':') ? "[" : "", h,
                                    ap_strchr_c(h, ':') ? "]" : "", NULL);
    }
    html = ap_escape_html2(p, sc->https_url, 1);
    sc->link_open = apr_pstrcat(p, "<a href=\"", html, NULL);
    sc->link_mid = apr_pstrcat(p, "\">", html, NULL);
}

int upreq_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                      apr_pool_t *ptemp, server_rec *s)
{
    (void)plog;
    upreq_response_init();
    upreq_metrics_post_config(pconf, ptemp, s);
    for (; s; s = s->next) {
        upreq_srv_conf *sc = ap_get_module_config(s->module_config,
                                                  &upgrade_required_module);

        upreq_resolve_https_url(pconf, s, sc);
        sc->counts = upreq_metrics_host_of(s);
    }
    return OK;
}
