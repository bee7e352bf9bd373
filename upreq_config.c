/* upreq_config.c - mod_upgrade_required's configuration: per-directory
 * and per-server structures with explicit "unset" values and their
 * merges, the directive handlers and table, and the start-up checks
 * (including the scan that says where the early decision is exact). */

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
    conf->from_location = 0;
    return conf;
}

#define upreq_merge_unset(f) \
    conf->f = (add->f != UPREQ_UNSET) ? add->f : base->f

/* UPREQ_F_* of the values set in c */
static int upreq_fields_set(const upreq_dir_conf *c)
{
    return (c->policy.reqs != UPREQ_UNSET ? UPREQ_F_POLICY : 0)
           | (c->header ? UPREQ_F_HEADER : 0)
           | (c->redirect != UPREQ_UNSET ? UPREQ_F_REDIRECT : 0)
           | (c->report_only != UPREQ_UNSET ? UPREQ_F_REPORT : 0);
}

/* Merged configurations are never written to, so a side that sets
 * nothing lets the other stand for the merge: most sections set none of
 * ours, and httpd merges on every request. */
void *upreq_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    upreq_dir_conf *base = basev, *add = addv;
    upreq_dir_conf *conf;
    int from_add = upreq_fields_set(add);

    if (from_add == 0) {
        return base;
    }
    if (from_add == UPREQ_F_ALL || upreq_fields_set(base) == 0) {
        return add;
    }
    conf = apr_pcalloc(p, sizeof(*conf));
    /* each directive merges on its own: set deeper, it replaces */
    conf->policy = (from_add & UPREQ_F_POLICY) ? add->policy : base->policy;
    conf->header = (from_add & UPREQ_F_HEADER) ? add->header : base->header;
    upreq_merge_unset(redirect);
    upreq_merge_unset(report_only);
    /* each value keeps the origin of the section it came from */
    conf->from_location = (add->from_location & from_add)
                          | (base->from_location & ~from_add);
    return conf;
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
    conf->https_html = NULL;
    conf->wants_http2 = 0;
    conf->not_early = NULL;
    conf->dir_sets = 0;
    return conf;
}

void *upreq_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    upreq_srv_conf *base = basev, *add = addv;
    upreq_srv_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->proxies = add->proxies ? add->proxies : base->proxies;
    upreq_merge_unset(proxy_headers);
    upreq_merge_unset(proxy_tls);
    upreq_merge_unset(acme_exempt);
    conf->https_url = add->https_url ? add->https_url : base->https_url;
    conf->https_html = NULL;    /* upreq_post_config */
    conf->wants_http2 = add->wants_http2 || base->wants_http2;
    conf->not_early = NULL;     /* upreq_post_config sets both */
    conf->dir_sets = 0;
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

/* Is the directive in a <Location>/<LocationMatch> (an <If> in it makes
 * the whole virtual host decide late: upreq_scan_tree)? */
static int upreq_in_location(const cmd_parms *cmd)
{
    const ap_directive_t *d;

    if (upreq_in_htaccess(cmd) || cmd->directive == NULL) {
        return 0;
    }
    for (d = cmd->directive->parent; d; d = d->parent) {
        if (upreq_section_is(d, "<Location")
            || upreq_section_is(d, "<LocationMatch")) {
            return 1;
        }
    }
    return 0;
}

/* Remember that a per-directory value was set in a <Location>, which
 * httpd merges after <Directory>, <Files> and .htaccess. */
static void upreq_note_origin(cmd_parms *cmd, upreq_dir_conf *conf,
                              int field)
{
    if (upreq_in_location(cmd)) {
        conf->from_location |= field;
    }
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
    upreq_policy pol = { 0, UPREQ_TLS_ANY, NULL };
    const char *tls_word = NULL, *err;
    int i;

    if ((err = upreq_check_not_limited(cmd)) != NULL) {
        return err;
    }
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
    pol.where = cmd->path ? cmd->path : "server config";
    upreq_note_origin(cmd, conf, UPREQ_F_POLICY);
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
    upreq_note_origin(cmd, conf, UPREQ_F_HEADER);
    return NULL;
}

/* UpgradeRequiredRedirect and UpgradeRequiredReportOnly: per directory,
 * remembered with their origin like UpgradeRequired */
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
    upreq_note_origin(cmd, conf, UPREQ_F_REDIRECT);
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
    upreq_note_origin(cmd, conf, UPREQ_F_REPORT);
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
                      "Off, or requirements that must all hold: TLS, "
                      "TLS/1.0, TLS/1.1, TLS/1.2, TLS/1.3, HTTP/1.1, "
                      "HTTP/2, websocket (default: none)"),
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
/* start-up: where the early decision is exact                         */

/* The UPREQ_F_* bit of a per-directory directive of ours, or 0. */
static int upreq_field_of(const ap_directive_t *d)
{
    if (!strcasecmp(d->directive, "UpgradeRequired")) {
        return UPREQ_F_POLICY;
    }
    if (!strcasecmp(d->directive, "UpgradeRequiredHeader")) {
        return UPREQ_F_HEADER;
    }
    if (!strcasecmp(d->directive, "UpgradeRequiredRedirect")) {
        return UPREQ_F_REDIRECT;
    }
    if (!strcasecmp(d->directive, "UpgradeRequiredReportOnly")) {
        return UPREQ_F_REPORT;
    }
    return 0;
}

static int upreq_sets_exemption(const ap_directive_t *d)
{
    return (!strncasecmp(d->directive, "SetEnvIf", 8)
            || !strncasecmp(d->directive, "BrowserMatch", 12))
           && d->args && ap_strcasestr(d->args, UPREQ_EXEMPT_ENV);
}

static int upreq_section_in(const ap_directive_t *d,
                            const char *const *names)
{
    for (; *names; names++) {
        if (upreq_section_is(d, *names)) {
            return 1;
        }
    }
    return 0;
}

/* merged before <Location> (in the final walk only) */
static const char *const upreq_dir_sections[] = {
    "<Directory", "<DirectoryMatch", "<Files", "<FilesMatch", "<Proxy",
    "<ProxyMatch", NULL
};
/* evaluated in both walks, possibly with other answers */
static const char *const upreq_if_sections[] = {
    "<If", "<ElseIf", "<Else", NULL
};

/* An <If> expression gives the same answer in the first Location walk
 * and in the final one when all it reads is fixed before translate_name:
 * the request line, headers, the connection and its TLS state.  Read from
 * its text, conservatively: an environment variable (mod_rewrite's
 * [E=...]), a file name or file test, a note, a response header or
 * anything else not named here makes it unstable. */
static const char *const upreq_stable_vars[] = {
    "HTTPS", "IPV6", "REQUEST_METHOD", "REQUEST_SCHEME", "REQUEST_URI",
    "QUERY_STRING", "THE_REQUEST", "SERVER_PROTOCOL", "SERVER_NAME",
    "SERVER_PORT", "SERVER_ADDR", "REMOTE_ADDR", "CONN_REMOTE_ADDR",
    "REMOTE_HOST", "HTTP_HOST", NULL
};
static const char *const upreq_stable_funcs[] = {
    "req", "http", "req_novary", "tolower", "toupper", "escape",
    "unescape", "base64", "unbase64", "md5", "sha1", "ldap", NULL
};
static const char *const upreq_stable_ops[] = {     /* after "-" */
    "n", "z", "T", "R", "ipmatch", "strmatch", "strcmatch", "fnmatch",
    "eq", "ne", "lt", "le", "gt", "ge", "in", NULL
};

static int upreq_word_in(const char *w, apr_size_t n,
                         const char *const *list)
{
    for (; *list; list++) {
        if (strlen(*list) == n && !strncasecmp(w, *list, n)) {
            return 1;
        }
    }
    return 0;
}

static int upreq_var_is_stable(const char *v, apr_size_t n)
{
    return upreq_word_in(v, n, upreq_stable_vars)
           || (n > 5 && !strncasecmp(v, "HTTP:", 5))
           || (n > 5 && !strncasecmp(v, "HTTP_", 5))
           || (n > 4 && !strncmp(v, "SSL_", 4));
}

#define UPREQ_ALPHA "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

static int upreq_expr_is_stable(const char *e)
{
    char quote = 0;         /* in a '...', "..." or /regex/ */
    apr_size_t i, n;

    for (i = 0; e[i]; i++) {
        if (e[i] == '%' && e[i + 1] == '{') {       /* also inside strings */
            n = strcspn(e + i + 2, "}");
            if (!e[i + 2 + n] || !upreq_var_is_stable(e + i + 2, n)) {
                return 0;
            }
            i += 2 + n;
        }
        else if (quote) {
            if (e[i] == '\\' && e[i + 1]) {
                i++;
            }
            else if (e[i] == quote) {
                quote = 0;
            }
        }
        else if (e[i] == '"' || e[i] == '\'' || e[i] == '/') {
            quote = e[i];
        }
        else if (e[i] == 'm' && e[i + 1] && !apr_isalnum(e[i + 1])
                 && !apr_isspace(e[i + 1]) && e[i + 1] != '('
                 && (i == 0 || !apr_isalnum(e[i - 1]))) {
            quote = e[++i];                         /* m#regex# */
        }
        else if (e[i] == '-' && apr_isalpha(e[i + 1])) {
            n = strspn(e + i + 1, UPREQ_ALPHA);
            if (!upreq_word_in(e + i + 1, n, upreq_stable_ops)) {
                return 0;                           /* -f, -U, ... */
            }
            i += n;
        }
        else if (apr_isalpha(e[i]) && (i == 0 || !apr_isalnum(e[i - 1]))) {
            n = strspn(e + i, UPREQ_ALPHA "0123456789_");
            if (e[i + n + strspn(e + i + n, " \t")] == '('
                && !upreq_word_in(e + i, n, upreq_stable_funcs)) {
                return 0;                           /* reqenv(), file() */
            }
            i += n - 1;
        }
    }
    return quote == 0;      /* an open quote: not understood, not stable */
}

/* The expression of an <If>/<ElseIf> as httpd reads it: one word,
 * quoted or not, before the closing '>' of the section line. */
static int upreq_section_expr_is_stable(apr_pool_t *p,
                                        const ap_directive_t *d)
{
    const char *args = d->args;
    char *expr, *end;

    if (args == NULL) {
        return 0;
    }
    expr = apr_pstrdup(p, args);
    end = expr + strlen(expr);
    while (end > expr && (end[-1] == '>' || apr_isspace(end[-1]))) {
        *--end = '\0';
    }
    args = expr;
    expr = ap_getword_conf(p, &args);
    return *expr && upreq_expr_is_stable(expr);
}

/* Does an Options line take FollowSymLinks away?  "-FollowSymLinks", or
 * an absolute list (no +/- word) without FollowSymLinks or All. */
static int upreq_options_drop_symlinks(apr_pool_t *p, const char *args)
{
    int relative = 0, follows = 0;
    const char *w;

    while (*(w = ap_getword_conf(p, &args))) {
        if (!strcasecmp(w, "-FollowSymLinks")) {
            return 1;
        }
        relative |= (*w == '+' || *w == '-');
        follows |= !strcasecmp(w, "FollowSymLinks") || !strcasecmp(w, "All")
                   || !strcasecmp(w, "+FollowSymLinks");
    }
    return !relative && !follows;
}

/* Why directive d makes the first walk's answer differ from the final
 * one for every request of its virtual host, or NULL.  in_dir: inside
 * a section of upreq_dir_sections; in_if: in an <If>/<ElseIf>/<Else>
 * whose chain upreq_expr_is_stable() does not trust; in_any: in any
 * per-directory section (mod_setenvif applies those in header_parser). */
static const char *upreq_why_not_early(apr_pool_t *p,
                                       const ap_directive_t *d, int in_dir,
                                       int in_if, int in_any)
{
    if (in_if && upreq_field_of(d)) {
        return "an UpgradeRequired directive in an <If> that may answer "
               "otherwise in the final walk";
    }
    if ((in_dir || in_if) && !strcasecmp(d->directive, "ErrorDocument")
        && d->args && !strncmp(d->args, "426", 3)) {
        return "ErrorDocument 426 in <Directory>, <Files>, <Proxy> or <If>";
    }
    if (in_any && upreq_sets_exemption(d)) {
        return "a per-directory SetEnvIf/BrowserMatch of "
               UPREQ_EXEMPT_ENV;
    }
    if (!strcasecmp(d->directive, "Options") && d->args
        && upreq_options_drop_symlinks(p, d->args)) {
        return "Options without FollowSymLinks (map_to_storage may refuse "
               "a symbolic link)";
    }
    if (!strcasecmp(d->directive, "AllowOverrideList") && d->args
        && strcasecmp(d->args, "None") != 0) {
        return "AllowOverrideList";
    }
    if (!strcasecmp(d->directive, "AllowOverride") && d->args
        && (ap_strcasestr(d->args, "All") || ap_strcasestr(d->args,
                                                          "FileInfo"))) {
        return "AllowOverride FileInfo (.htaccess may set ErrorDocument "
               "or SetEnvIf)";
    }
    return NULL;
}

/* The UPREQ_F_* that d lets a section merged before <Location> set. */
static int upreq_dir_may_set(const ap_directive_t *d, int in_dir)
{
    if (in_dir) {
        return upreq_field_of(d);
    }
    if (!strcasecmp(d->directive, "AllowOverride") && d->args
        && ap_strcasestr(d->args, "AuthConfig")) {
        return UPREQ_F_ALL;     /* .htaccess, read in map_to_storage */
    }
    return 0;
}

static server_rec *upreq_vhost_of(const ap_directive_t *d, server_rec *s)
{
    for (; s; s = s->next) {
        if (s->defn_name && s->defn_line_number == (unsigned)d->line_num
            && !strcmp(s->defn_name, d->filename)) {
            return s;
        }
    }
    return NULL;
}

static void upreq_mark(server_rec *main_s, server_rec *vh,
                       const ap_directive_t *d, const char *why, int fields)
{
    upreq_srv_conf *sc = ap_get_module_config(vh->module_config,
                                              &upgrade_required_module);

    sc->dir_sets |= fields;
    if (why && !sc->not_early) {
        sc->not_early = apr_psprintf(main_s->process->pconf, "%s (%s:%d)",
                                     why, d->filename, d->line_num);
    }
}

/* Walk the configuration tree; mark the server (main or virtual host)
 * whose sections hold what upreq_why_not_early() or upreq_dir_may_set()
 * name. */
static void upreq_scan_tree(apr_pool_t *p, const ap_directive_t *d,
                            server_rec *main_s, server_rec *vh, int in_dir,
                            int in_if, int in_any)
{
    int chain_stable = 1;   /* the <If>/<ElseIf> chain among siblings */

    for (; d; d = d->next) {
        server_rec *at = vh;
        int is_if = upreq_section_in(d, upreq_if_sections);

        if (upreq_section_is(d, "<If")) {
            chain_stable = 1;
        }
        if (is_if && !upreq_section_is(d, "<Else")) {
            chain_stable &= upreq_section_expr_is_stable(p, d);
        }

        upreq_mark(main_s, vh, d,
                   upreq_why_not_early(p, d, in_dir, in_if, in_any),
                   upreq_dir_may_set(d, in_dir));
        if (!d->first_child) {
            continue;
        }
        if (upreq_section_is(d, "<VirtualHost")) {
            at = upreq_vhost_of(d, main_s->next);
            if (at == NULL) {
                at = main_s;    /* not found: be safe, mark every server */
            }
        }
        upreq_scan_tree(p, d->first_child, main_s, at,
                        in_dir || upreq_section_in(d, upreq_dir_sections),
                        in_if || (is_if && !chain_stable),
                        in_any || (d->directive[0] == '<'
                                   && !upreq_section_is(d, "<VirtualHost")
                                   && !upreq_section_is(d, "<IfModule")
                                   && !upreq_section_is(d, "<IfDefine")));
    }
}

/* The https address, resolved once: UpgradeRequiredHTTPSURL, or https://
 * and the ServerName (an IPv6 literal in brackets), never the Host of a
 * request; and its HTML-escaped form for the page. */
static void upreq_resolve_https_url(apr_pool_t *p, server_rec *v,
                                    upreq_srv_conf *sc)
{
    const char *h = v->server_hostname;

    if (sc->https_url == NULL) {
        if (!h || !*h) {
            h = "localhost";
        }
        sc->https_url = apr_pstrcat(p, "https://",
                                    ap_strchr_c(h, ':') ? "[" : "", h,
                                    ap_strchr_c(h, ':') ? "]" : "", NULL);
    }
    sc->https_html = ap_escape_html2(p, sc->https_url, 1);
}

int upreq_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                      apr_pool_t *ptemp, server_rec *s)
{
    const upreq_srv_conf *msc = ap_get_module_config(s->module_config,
                                                   &upgrade_required_module);
    server_rec *v;

    (void)plog;
    upreq_scan_tree(ptemp, ap_conftree, s, s, 0, 0, 0);
    for (v = s; v; v = v->next) {
        upreq_srv_conf *sc = ap_get_module_config(v->module_config,
                                                  &upgrade_required_module);
        upreq_resolve_https_url(pconf, v, sc);
        if (v != s) {                   /* the main server's apply */
            sc->dir_sets |= msc->dir_sets;
            if (!sc->not_early) {
                sc->not_early = msc->not_early;
            }
        }
#ifdef UPREQ_FINAL_ONLY
        sc->not_early = "built with UPREQ_FINAL_ONLY";
#endif
        if (sc->not_early) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                         "UPREQ006: %s:%d decides on the final configuration "
                         "only: %s", v->defn_name ? v->defn_name
                                                  : "main server",
                         v->defn_line_number, sc->not_early);
        }
    }
    return OK;
}
