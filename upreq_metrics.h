/* upreq_metrics.h - the counters of mod_upgrade_required (SPEC "Seeing a
 * rollout"): one count per judged client request and requirement, per
 * virtual host, in memory that every process shares and that a graceful
 * restart keeps; the handler "upgrade-required-status" (Prometheus text,
 * ?json) and a section of mod_status's server-status.
 *
 * The label strings are in upreq_metrics.c; the enums below index them,
 * so their order is the order of the output.
 */
#ifndef UPREQ_METRICS_H
#define UPREQ_METRICS_H

#include "httpd.h"
#include "apr_pools.h"

/* what the request got for one requirement */
typedef enum { UPREQ_OUT_MET, UPREQ_OUT_REFUSED, UPREQ_OUT_REDIRECTED,
               UPREQ_OUT_REPORTED, UPREQ_OUT_EXEMPT, UPREQ_OUT_COUNT
} upreq_outcome;

/* what the client used, as far as that requirement looks */
typedef enum { UPREQ_CL_PLAIN, UPREQ_CL_TLS10, UPREQ_CL_TLS11,
               UPREQ_CL_TLS12, UPREQ_CL_TLS13, UPREQ_CL_TLS,
               UPREQ_CL_HTTP10, UPREQ_CL_HTTP11, UPREQ_CL_HTTP2,
               UPREQ_CL_HANDSHAKE, UPREQ_CL_NO_HANDSHAKE, UPREQ_CL_COUNT
} upreq_client;

/* the requirement, in SPEC's spelling */
typedef enum { UPREQ_RL_TLS, UPREQ_RL_TLS10, UPREQ_RL_TLS11, UPREQ_RL_TLS12,
               UPREQ_RL_TLS13, UPREQ_RL_HTTP11, UPREQ_RL_HTTP2, UPREQ_RL_WS,
               UPREQ_RL_COUNT
} upreq_req_label;

/* called by the module's own files only: no PLT hop per count */
#if defined(__GNUC__)
#define UPREQ_METRICS_INTERNAL __attribute__((visibility("hidden")))
#else
#define UPREQ_METRICS_INTERNAL
#endif

/* The counts of one virtual host */
typedef struct upreq_mhost upreq_mhost;

/* One count for virtual host h; lock-free, no allocation, no system call.
 * NULL (a host not counted) and values out of range are ignored. */
UPREQ_METRICS_INTERNAL
void upreq_metrics_add(const upreq_mhost *h, upreq_req_label req,
                       upreq_outcome out, upreq_client cl);

/* The counts of virtual host s in this configuration, or NULL: looked up
 * once, at start-up, by the module's post_config (which keeps it in the
 * server's configuration), after upreq_metrics_post_config(). */
UPREQ_METRICS_INTERNAL
const upreq_mhost *upreq_metrics_host_of(const server_rec *s);

/* post_config, the virtual hosts being final: this configuration's hosts
 * and their counts (a graceful restart keeps the memory).  Called by the
 * module's post_config, before it asks upreq_metrics_host_of(). */
UPREQ_METRICS_INTERNAL
void upreq_metrics_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                               server_rec *s);

/* SetHandler upgrade-required-status: the counts as Prometheus text, or
 * with ?json as JSON.  The module's handler hook asks the name, so that
 * requests pay for no hook of its own. */
#define UPREQ_STATUS_HANDLER "upgrade-required-status"
UPREQ_METRICS_INTERNAL
int upreq_metrics_serve(request_rec *r);

/* Hooks: pre_config/pre_mpm for the shared memory, mod_status's optional
 * status_hook. */
void upreq_metrics_register_hooks(apr_pool_t *p);

#endif /* UPREQ_METRICS_H */
