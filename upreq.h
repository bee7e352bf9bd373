/* upreq.h - what the files of mod_upgrade_required share: the
 * configuration, the verdict of one evaluation, the per-request state,
 * and the functions one file offers the others.  Private to the module.
 *
 *   mod_upgrade_required.c   the decision and the hooks that place it
 *   upreq_config.c           directives, merging, start-up checks
 *   upreq_verdict.c          TLS state, trusted proxies, requirements
 *   upreq_response.c         the 426: Upgrade value, fields, page, logs
 *   upreq_parse.c            pure parsers (no httpd), for the fuzzers
 */
#ifndef UPREQ_H
#define UPREQ_H

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
#include "upreq_metrics.h"  /* upreq_outcome: what the module does with a
                             * request a policy judged, the counters' label:
                             * met, refused (the 426, or the 403 of
                             * UpgradeRequiredTLSStatus), redirected,
                             * reported (report only), exempt (ACME,
                             * no-upgrade-required) */
#include "upreq_nets.h"

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

/* A path that few calls take (the part of a hook that runs only where a
 * policy applies, a merge of two sections that both set something, the
 * first TLS look-up on a connection): kept out of line so that the common
 * path is a few instructions with no stack frame (bench/README.md, "Idle"
 * and "TLS pass"). */
#if defined(__GNUC__)
#define UPREQ_OUT_OF_LINE   __attribute__((noinline))
#else
#define UPREQ_OUT_OF_LINE
#endif

#define UPREQ_UNSET         (-1)
#define UPREQ_NOTE          "upgrade-required"
#define UPREQ_ENV           "UPGRADE_REQUIRED"
#define UPREQ_EXEMPT_ENV    "no-upgrade-required"
#define UPREQ_ACME_PREFIX   "/.well-known/acme-challenge/"

#define UPREQ_PH_FORWARDED  0x01    /* UpgradeRequiredProxyHeader bits */
#define UPREQ_PH_XFP        0x02
#define UPREQ_PH_DEFAULT    (UPREQ_PH_FORWARDED | UPREQ_PH_XFP)

#define UPREQ_TLS_DEFAULT_MINOR 2   /* bare "TLS" advertises TLS/1.2 */

#define UPREQ_REPORT_ENV    "UPGRADE_REQUIRED_REPORT"

/* ------------------------------------------------------------------ */
/* configuration                                                       */

typedef struct {
    int reqs;           /* UPREQ_UNSET, 0 for Off, or UPREQ_R_* bits */
    int tls_minor;      /* with UPREQ_R_TLS: minimum 1.x, or UPREQ_TLS_ANY */
    const char *where;  /* the section it was set in, for debug logs */
} upreq_policy;

typedef struct {
    upreq_policy policy;    /* UpgradeRequired: replaced as a whole */
    const char *header;     /* UpgradeRequiredHeader; NULL unset */
    int redirect;           /* UpgradeRequiredRedirect: 301, 302, 307,
                             * 308, 0 Off, UPREQ_UNSET */
    int report_only;        /* UpgradeRequiredReportOnly; UPREQ_UNSET */
    int tls_status;         /* UpgradeRequiredTLSStatus: 426 or 403;
                             * UPREQ_UNSET */
} upreq_dir_conf;

typedef struct {
    upreq_nets *proxies;    /* UpgradeRequiredTrustedProxy, sorted and
                             * merged ranges; NULL unset; a vhost's list
                             * replaces the main server's */
    int proxy_headers;      /* UPREQ_PH_* bits; UPREQ_UNSET */
    int proxy_tls;          /* UpgradeRequiredProxyTLS; UPREQ_UNSET */
    int acme_exempt;        /* UpgradeRequiredAcmeExempt; UPREQ_UNSET */
    const char *https_url;  /* UpgradeRequiredHTTPSURL, as "https://host"
                             * or "https://host:port"; NULL unset, then
                             * (post_config) https:// and the ServerName */
    const char *link_open;  /* set at start-up: '<a href="' and https_url,
                             * HTML-escaped, for the page's link ... */
    const char *link_mid;   /* ... '">' and the same, its text */
    int wants_http2;        /* an HTTP/2 requirement is configured here */
    const upreq_mhost *counts;  /* set at start-up: its counters, or NULL */
} upreq_srv_conf;

/* the TLS state of a connection, looked up once per connection */
typedef struct {
    int is_tls;
    int minor;              /* 0..3, or UPREQ_TLS_UNKNOWN */
    const char *protocol;   /* SSL_PROTOCOL as the TLS module says it */
} upreq_conn_tls;

/* What one evaluation of a policy found, filled completely by
 * upreq_evaluate() and read-only afterwards. */
typedef struct {
    int failed;             /* UPREQ_R_* bits that are not met */
    int h2c_candidate;      /* a valid h2c upgrade offer, let through */
    int acme;               /* TLS failed for an ACME HTTP-01 validation,
                             * exempt (UpgradeRequiredAcmeExempt On) */
    int handshake;          /* a WebSocket opening handshake */
    int via_proxy;          /* the TCP peer is a trusted proxy */
    int proxy_says_tls;     /* ... and its headers say https */
    int tls_too_old;        /* TLS failed for its version, not for its
                             * absence: the client is on TLS already */
    int client_tls;         /* what the client used, as a trusted proxy or
                             * the connection says: UPREQ_TLS_NONE, a
                             * minor version 0..3, or UPREQ_TLS_UNKNOWN */
    const char *why;        /* what decided TLS, for logs */
    conn_rec *peer;         /* the connection whose TCP peer TLS was
                             * judged on, NULL when TLS was not asked */
    const upreq_conn_tls *tls;  /* the client connection's TLS state */
} upreq_verdict;

/* An answer other than "go on": what its response is made of */
typedef struct {
    const upreq_dir_conf *d;
    upreq_verdict v;
    int failed;             /* the UPREQ_R_* refused: v.failed less what
                             * an exemption let through */
    int status;             /* 426, 403 (UpgradeRequiredTLSStatus), or a
                             * redirect's */
} upreq_refusal;

/* Per-request state of a main request (or internal redirect), in its
 * request_config, made when a policy judges it or a subrequest of it is
 * refused */
typedef struct {
    request_rec *r;         /* the request whose state this is */
    const char *uri;        /* the URI and the per-directory configuration */
    const struct ap_conf_vector_t *conf;    /* it was last decided on */
    upreq_refusal last;     /* that decision ... */
    upreq_outcome outcome;  /* ... and its outcome */
    int counted;            /* the last decision is counted */
    int h2c_offer;          /* a let-through h2c upgrade: refused after
                             * core_upgrade_handler if not switched */
    int in_handler;         /* its handler has started: its subrequests
                             * are served, not lookups */
    upreq_refusal *pending; /* a subrequest's refusal, which the main
                             * request may answer with */
} upreq_main_state;

/* Per-request state of a lookup subrequest whose policy fails */
typedef struct {
    upreq_refusal rf;
} upreq_lookup_state;

extern module AP_MODULE_DECLARE_DATA upgrade_required_module;

/* upreq_config.c */
extern const command_rec upreq_cmds[];
void *upreq_create_dir_conf(apr_pool_t *p, char *dir);
void *upreq_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);
void *upreq_create_srv_conf(apr_pool_t *p, server_rec *s);
void *upreq_merge_srv_conf(apr_pool_t *p, void *basev, void *addv);
int upreq_proxy_headers(const upreq_srv_conf *sc);
int upreq_acme_exempt(const upreq_srv_conf *sc);
int upreq_redirect(const upreq_dir_conf *d);
int upreq_report_only(const upreq_dir_conf *d);
int upreq_tls_status(const upreq_dir_conf *d);
int upreq_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                       apr_pool_t *ptemp, server_rec *s);
int upreq_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                      apr_pool_t *ptemp, server_rec *s);

/* upreq_verdict.c */
void upreq_evaluate(request_rec *r, const upreq_policy *pol,
                    const upreq_srv_conf *sc, upreq_verdict *v);
#if !UPREQ_HAVE_AP_SSL
void upreq_retrieve_optional_fn(void);
#endif

/* upreq_response.c */
const char *upreq_log_reason(request_rec *r, const upreq_verdict *v);
void upreq_refuse(request_rec *r, const upreq_refusal *rf, int page);
void upreq_redirect_to_https(request_rec *r, const upreq_refusal *rf);
void upreq_report(request_rec *r, const upreq_refusal *rf,
                  int would_redirect);
void upreq_log_refusal(request_rec *r, const upreq_refusal *rf);
void upreq_response_init(void);

#endif /* UPREQ_H */
