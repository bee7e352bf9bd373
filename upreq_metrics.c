/* upreq_metrics.c - mod_upgrade_required's counters (SPEC "Seeing a
 * rollout: counters and upgrade-required-status").
 *
 * Memory.  One apr_shm segment, anonymous (inherited by every child),
 * made in pre_mpm at start and kept in retained data (ap_pglobal), so that
 * it outlives the generations of the configuration and the reloads of
 * this DSO.  It holds slots of counters, each keyed by the label of a
 * virtual host ("ServerName:port"):
 *   - pre_mpm runs at start and at every restart that is not graceful,
 *     when no child is left: every count starts from zero there, and the
 *     segment is made again, larger, if the configuration outgrew it;
 *   - post_config of a graceful restart keeps the slot of every label the
 *     new configuration still has (old children finishing their requests
 *     go on writing into the same memory), gives a host the restart added
 *     a free slot, zeroed, and releases the slots of hosts it removed;
 *   - each virtual host's server configuration points at its host of
 *     this generation (post_config, through a table keyed by server_rec),
 *     whose slot a request counts into: nothing is looked up per request.
 * Counting is one relaxed atomic add (no lock, no allocation, no system
 * call); 64-bit where the compiler has lock-free 64-bit atomics
 * (__atomic builtins: APR 1.6 of RHEL 8 has no apr_atomic_add64),
 * apr_atomic_inc32 elsewhere.
 *
 * Output.  "SetHandler upgrade-required-status": the Prometheus text
 * exposition format, or with ?json one JSON document; mod_status's
 * server-status: a table, and in ?auto one line per non-zero series.
 * Only hosts of the current configuration are shown; zero series are
 * left out.
 */

#include "apr_atomic.h"
#include "apr_hash.h"
#include "apr_lib.h"
#include "apr_shm.h"
#include "apr_strings.h"

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_main.h"      /* ap_server_conf */
#include "http_protocol.h"
#include "http_request.h"
#include "ap_listen.h"
#include "ap_mpm.h"
#include "scoreboard.h"     /* the pre_mpm hook */
#include "unixd.h"          /* ap_unixd_mpm_get_retained_data() */
#include "util_cfgtree.h"
#include "mod_status.h"

#include "upreq_metrics.h"

APLOG_USE_MODULE(upgrade_required);

#define UPREQ_FAMILY         "upgrade_required_requests_total"
#define UPREQ_RETAINED_KEY   "mod_upgrade_required:metrics"

/* a DNS name (253), ':', a port, NUL: a longer label is not counted */
#define UPREQ_VHOST_MAX      264
/* room for hosts that graceful restarts add: at least this many slots */
#define UPREQ_SPARE_MIN      16

/* ------------------------------------------------------------------ */
/* labels, in SPEC's spelling; indexed by the enums of upreq_metrics.h */

static const char *const upreq_req_names[UPREQ_RL_COUNT] = {
    "TLS", "TLS/1.0", "TLS/1.1", "TLS/1.2", "TLS/1.3", "HTTP/1.1",
    "HTTP/2", "websocket"
};
static const char *const upreq_out_names[UPREQ_OUT_COUNT] = {
    "met", "refused", "redirected", "reported", "exempt"
};
static const char *const upreq_client_names[UPREQ_CL_COUNT] = {
    "plain", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", "tls", "HTTP/1.0",
    "HTTP/1.1", "HTTP/2", "handshake", "no-handshake"
};

/* ------------------------------------------------------------------ */
/* the shared memory                                                   */

#if defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_8)
typedef apr_uint64_t upreq_counter;
#define UPREQ_COUNTER_INC(c) \
    ((void)__atomic_fetch_add((c), 1, __ATOMIC_RELAXED))
#define UPREQ_COUNTER_GET(c) __atomic_load_n((c), __ATOMIC_RELAXED)
#else
typedef apr_uint32_t upreq_counter;  /* no lock-free 64-bit atomics */
#define UPREQ_COUNTER_INC(c) ((void)apr_atomic_inc32(c))
#define UPREQ_COUNTER_GET(c) apr_atomic_read32(c)
#endif

enum { UPREQ_SLOT_FREE, UPREQ_SLOT_USED, UPREQ_SLOT_RELEASED };

/* the counts of one virtual-host label */
typedef struct {
    upreq_counter n[UPREQ_RL_COUNT][UPREQ_OUT_COUNT][UPREQ_CL_COUNT];
    int state;                      /* UPREQ_SLOT_*; the parent writes it */
    char vhost[UPREQ_VHOST_MAX];    /* its label, "" when free */
} upreq_mslot;

/* kept in ap_pglobal across restarts and reloads of the module */
typedef struct {
    apr_shm_t *shm;
    upreq_mslot *slots;             /* its base address */
    int nslots;
} upreq_mretained;

/* one virtual-host label of the configuration */
struct upreq_mhost {
    const char *vhost;              /* "ServerName:port" */
    const char *prom;               /* escaped for the exposition format */
    const char *json;               /* escaped for JSON */
    const char *html;               /* escaped for HTML */
    const char *key;                /* for ?auto: [A-Za-z0-9.-] and _ */
    upreq_mslot *slot;              /* NULL: not counted */
};

/* server_rec -> its host, open addressing */
typedef struct {
    const server_rec *s;
    const upreq_mhost *host;
} upreq_mentry;

/* one generation of the configuration (pconf); read-only once the
 * children run */
typedef struct {
    upreq_mhost *hosts;             /* one per label, main server first */
    int nhosts;
    upreq_mentry *map;
    apr_size_t mask;
    int shift;
} upreq_mgen;

static upreq_mretained *upreq_rt;   /* set in pre_config */
static upreq_mgen *upreq_gen;       /* set in post_config */

/* Fibonacci hashing of the server_rec's address: the top bits */
static APR_INLINE apr_size_t upreq_server_hash(const upreq_mgen *g,
                                               const server_rec *s)
{
    return (apr_size_t)(((apr_uint64_t)(apr_uintptr_t)s
                         * (apr_uint64_t)0x9E3779B97F4A7C15ULL) >> g->shift);
}

void upreq_metrics_add(const upreq_mhost *h, upreq_req_label req,
                       upreq_outcome out, upreq_client cl)
{
#ifdef UPREQ_BENCH_NO_COUNTS
    /* For bench/run only: its build without counting, beside this one,
     * measures what counting costs a judged request.  Never shipped. */
    (void)h;
    (void)req;
    (void)out;
    (void)cl;
#else
    if (h == NULL || h->slot == NULL || (unsigned)req >= UPREQ_RL_COUNT
        || (unsigned)out >= UPREQ_OUT_COUNT
        || (unsigned)cl >= UPREQ_CL_COUNT) {
        return;
    }
    UPREQ_COUNTER_INC(&h->slot->n[req][out][cl]);
#endif
}

const upreq_mhost *upreq_metrics_host_of(const server_rec *s)
{
    const upreq_mgen *g = upreq_gen;
    const upreq_mentry *e;
    apr_size_t i;

    if (g == NULL) {
        return NULL;
    }
    /* a free entry ends the search */
    for (i = upreq_server_hash(g, s); (e = &g->map[i])->s != s;
         i = (i + 1) & g->mask) {
        if (e->s == NULL) {
            return NULL;
        }
    }
    return e->host;
}

static upreq_mslot *upreq_take_slot(upreq_mretained *rt, char *claimed,
                                    const char *vhost)
{
    upreq_mslot *sl = NULL;
    int i;

    for (i = 0; i < rt->nslots && !sl; i++) {
        if (rt->slots[i].state == UPREQ_SLOT_FREE) {
            sl = &rt->slots[i];
        }
    }
    /* then one a removed host left: old children may still finish a
     * request of it, so only when no never-used slot is left */
    for (i = 0; i < rt->nslots && !sl; i++) {
        if (rt->slots[i].state == UPREQ_SLOT_RELEASED && !claimed[i]) {
            sl = &rt->slots[i];
        }
    }
    if (sl) {
        memset(sl->n, 0, sizeof(sl->n));
        apr_cpystrn(sl->vhost, vhost, sizeof(sl->vhost));
        sl->state = UPREQ_SLOT_USED;
        claimed[sl - rt->slots] = 1;
    }
    return sl;
}

/* Give each host of generation g its slot: the one of its label (its
 * counts go on), else a free one, zeroed.  Slots of labels g no longer
 * has are released.  Returns how many hosts got none. */
static int upreq_bind_slots(upreq_mretained *rt, upreq_mgen *g,
                            apr_pool_t *ptemp)
{
    apr_hash_t *by_label = apr_hash_make(ptemp);
    char *claimed = apr_pcalloc(ptemp, rt->nslots + 1);
    int i, missing = 0;

    for (i = 0; i < rt->nslots; i++) {
        if (rt->slots[i].state != UPREQ_SLOT_FREE) {
            apr_hash_set(by_label, rt->slots[i].vhost, APR_HASH_KEY_STRING,
                         &rt->slots[i]);
        }
    }
    for (i = 0; i < g->nhosts; i++) {
        upreq_mslot *sl = apr_hash_get(by_label, g->hosts[i].vhost,
                                       APR_HASH_KEY_STRING);

        g->hosts[i].slot = sl;
        if (sl && sl->state == UPREQ_SLOT_RELEASED) {
            /* removed by an earlier restart, added again by this one */
            memset(sl->n, 0, sizeof(sl->n));
            sl->state = UPREQ_SLOT_USED;
        }
        if (sl) {
            claimed[sl - rt->slots] = 1;
        }
    }
    for (i = 0; i < rt->nslots; i++) {
        if (rt->slots[i].state == UPREQ_SLOT_USED && !claimed[i]) {
            rt->slots[i].state = UPREQ_SLOT_RELEASED;
        }
    }
    for (i = 0; i < g->nhosts; i++) {
        upreq_mhost *h = &g->hosts[i];

        if (h->slot == NULL && strlen(h->vhost) < UPREQ_VHOST_MAX
            && (h->slot = upreq_take_slot(rt, claimed, h->vhost)) == NULL) {
            missing++;
        }
    }
    return missing;
}

/* Nothing of g is counted (the memory could not be made). */
static void upreq_unbind(upreq_mgen *g)
{
    int i;

    for (i = 0; i < g->nhosts; i++) {
        g->hosts[i].slot = NULL;
    }
}

/* Anonymous shared memory, or where the system has none, a file in the
 * run-time directory (as httpd does for its scoreboard). */
static apr_status_t upreq_shm_create(apr_shm_t **shm, apr_size_t size,
                                     apr_pool_t *p)
{
    apr_status_t rv = apr_shm_create(shm, size, NULL, p);
    const char *fname;

    if (rv != APR_ENOTIMPL) {
        return rv;
    }
    fname = ap_runtime_dir_relative(p, "upgrade-required-metrics.shm");
    apr_shm_remove(fname, p);
    return apr_shm_create(shm, size, fname, p);
}

/* The memory for g at start or at a restart that is not graceful (no
 * child is left): made if missing or too small for g and its spare
 * slots, else every count zeroed. */
static int upreq_reset_memory(upreq_mretained *rt, const upreq_mgen *g,
                              apr_pool_t *p)
{
    int want = g->nhosts + (g->nhosts / 2 > UPREQ_SPARE_MIN
                            ? g->nhosts / 2 : UPREQ_SPARE_MIN);
    apr_size_t size = sizeof(upreq_mslot) * (apr_size_t)want;
    apr_status_t rv;

    if (rt->shm && rt->nslots >= g->nhosts + UPREQ_SPARE_MIN) {
        memset(rt->slots, 0, sizeof(upreq_mslot) * (apr_size_t)rt->nslots);
        return 1;
    }
    if (rt->shm) {
        apr_shm_destroy(rt->shm);
        rt->shm = NULL;
        rt->slots = NULL;
        rt->nslots = 0;
    }
    rv = upreq_shm_create(&rt->shm, size, p);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ap_server_conf,
                     "UPREQ020: no shared memory for the counters (%"
                     APR_SIZE_T_FMT " bytes): requests are not counted",
                     size);
        rt->shm = NULL;
        return 0;
    }
    rt->slots = apr_shm_baseaddr_get(rt->shm);
    rt->nslots = want;
    memset(rt->slots, 0, size);
    return 1;
}

/* ------------------------------------------------------------------ */
/* virtual-host labels                                                 */

/* the port of a Listen argument: "80", "10.0.0.1:80", "[::1]:80 http" */
static apr_port_t upreq_listen_port(apr_pool_t *p, const char *args)
{
    const char *word = ap_getword_conf(p, &args);
    const char *colon = strrchr(word, ':');
    const char *digits = colon && !strchr(colon, ']') ? colon + 1 : word;
    apr_int64_t port = apr_atoi64(digits);

    return port > 0 && port <= 65535 ? (apr_port_t)port : 0;
}

/* The port of the first Listen, in the order of the configuration files
 * (ap_listeners is reordered when a restart keeps a socket): the tree
 * holds true <IfModule>/<IfDefine> sections and included files. */
static apr_port_t upreq_first_listen(apr_pool_t *p, const ap_directive_t *d)
{
    apr_port_t port;

    for (; d; d = d->next) {
        if (strcasecmp(d->directive, "Listen") == 0) {
            return upreq_listen_port(p, d->args);
        }
        if (d->first_child && strcasecmp(d->directive, "<VirtualHost")
            && (port = upreq_first_listen(p, d->first_child))) {
            return port;
        }
    }
    return 0;
}

/* SPEC: ServerName without its port, ':', the port of the first
 * <VirtualHost> address (a wildcard port: the ServerName's port, else
 * the main server's); the main server: its first Listen port. */
static const char *upreq_vhost_label(apr_pool_t *p, const server_rec *s,
                                     apr_port_t main_port)
{
    apr_port_t port = 0;

    if (!s->is_virtual) {
        port = main_port;
    }
    else if (s->addrs && s->addrs->host_port) {
        port = s->addrs->host_port;
    }
    else {
        port = s->port ? s->port : main_port;
    }
    return apr_psprintf(p, "%s:%u", s->server_hostname
                                    ? s->server_hostname : "", port);
}

/* a label value of the text exposition format: \ " and newline escaped */
static const char *upreq_escape_prom(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, 2 * strlen(s) + 1), *o = out;

    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            *o++ = '\\';
        }
        else if (*s == '\n') {
            *o++ = '\\';
            *o++ = 'n';
            continue;
        }
        *o++ = *s;
    }
    *o = '\0';
    return out;
}

/* a JSON string's content (RFC 8259 §7) */
static const char *upreq_escape_json(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, 6 * strlen(s) + 1), *o = out;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '\\' || c == '"') {
            *o++ = '\\';
            *o++ = (char)c;
        }
        else if (c < 0x20 || c == 0x7f) {
            o += apr_snprintf(o, 7, "\\u%04x", c);
        }
        else {
            *o++ = (char)c;
        }
    }
    *o = '\0';
    return out;
}

/* a part of a server-status?auto key: readers split at the first ':' */
static char *upreq_auto_key(apr_pool_t *p, const char *s)
{
    char *out = apr_pstrdup(p, s), *o;

    for (o = out; *o; o++) {
        if (!apr_isalnum(*o) || !apr_isascii(*o)) {
            if (*o != '.' && *o != '-') {
                *o = '_';
            }
        }
    }
    return out;
}

static void upreq_host_init(apr_pool_t *p, upreq_mhost *h, const char *label)
{
    h->vhost = label;
    h->prom = upreq_escape_prom(p, label);
    h->json = upreq_escape_json(p, label);
    h->html = ap_escape_html2(p, label, 1);
    h->key = upreq_auto_key(p, label);
    h->slot = NULL;
}

static void upreq_map_add(upreq_mgen *g, const server_rec *s,
                          const upreq_mhost *host)
{
    apr_size_t i = upreq_server_hash(g, s);

    while (g->map[i].s) {
        i = (i + 1) & g->mask;
    }
    g->map[i].s = s;
    g->map[i].host = host;
}

/* The server_recs in the order of the configuration: httpd puts each
 * <VirtualHost> first after the main server, so the main server and then
 * its list backwards. */
static apr_array_header_t *upreq_servers(apr_pool_t *ptemp, server_rec *s)
{
    apr_array_header_t *all = apr_array_make(ptemp, 16, sizeof(s));
    server_rec *v;
    int i, n;

    for (v = s->next; v; v = v->next) {
        APR_ARRAY_PUSH(all, server_rec *) = v;
    }
    APR_ARRAY_PUSH(all, server_rec *) = s;
    for (i = 0, n = all->nelts; i < n / 2; i++) {
        v = APR_ARRAY_IDX(all, i, server_rec *);
        APR_ARRAY_IDX(all, i, server_rec *) =
            APR_ARRAY_IDX(all, n - 1 - i, server_rec *);
        APR_ARRAY_IDX(all, n - 1 - i, server_rec *) = v;
    }
    return all;
}

/* The hosts of this configuration, one per label (two virtual hosts of
 * one name and port share their counts), and the table that finds them. */
static upreq_mgen *upreq_make_generation(apr_pool_t *pconf,
                                         apr_pool_t *ptemp, server_rec *s)
{
    upreq_mgen *g = apr_pcalloc(pconf, sizeof(*g));
    apr_hash_t *seen = apr_hash_make(ptemp);
    apr_port_t main_port = upreq_first_listen(ptemp, ap_conftree);
    apr_array_header_t *all = upreq_servers(ptemp, s);
    int i, bits = 3;

    if (!main_port) {
        main_port = ap_listeners ? ap_listeners->bind_addr->port : s->port;
    }
    while (((apr_size_t)1 << bits) < 2 * (apr_size_t)all->nelts) {
        bits++;
    }
    g->shift = 64 - bits;
    g->mask = ((apr_size_t)1 << bits) - 1;
    g->map = apr_pcalloc(pconf, sizeof(*g->map) << bits);
    g->hosts = apr_pcalloc(pconf, sizeof(*g->hosts) * all->nelts);
    for (i = 0; i < all->nelts; i++) {
        server_rec *v = APR_ARRAY_IDX(all, i, server_rec *);
        const char *label = upreq_vhost_label(pconf, v, main_port);
        upreq_mhost *h = apr_hash_get(seen, label, APR_HASH_KEY_STRING);

        if (h == NULL) {
            h = &g->hosts[g->nhosts++];
            upreq_host_init(pconf, h, label);
            apr_hash_set(seen, label, APR_HASH_KEY_STRING, h);
            if (strlen(label) >= UPREQ_VHOST_MAX) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, v,
                             "UPREQ022: the label of virtual host %s is "
                             "longer than %d bytes: it is not counted",
                             label, UPREQ_VHOST_MAX - 1);
            }
        }
        upreq_map_add(g, v, h);
    }
    return g;
}

/* ------------------------------------------------------------------ */
/* hooks: the memory                                                   */

static int upreq_metrics_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                                    apr_pool_t *ptemp)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    upreq_rt = ap_retained_data_get(UPREQ_RETAINED_KEY);
    if (upreq_rt == NULL) {
        upreq_rt = ap_retained_data_create(UPREQ_RETAINED_KEY,
                                           sizeof(*upreq_rt));
    }
    upreq_gen = NULL;
    return OK;
}

/* Was this configuration read for a graceful restart?  Only for the
 * warning below: a restart that is not graceful makes room in pre_mpm. */
static int upreq_restart_is_graceful(void)
{
    return ap_unixd_mpm_get_retained_data()->was_graceful;
}

void upreq_metrics_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                               server_rec *s)
{
    upreq_mgen *g = upreq_make_generation(pconf, ptemp, s);
    int i, missing;

    upreq_gen = g;
    if (upreq_rt->shm == NULL) {
        return;                 /* at start: pre_mpm makes the memory */
    }
    missing = upreq_bind_slots(upreq_rt, g, ptemp);
    if (missing && upreq_restart_is_graceful()) {
        for (i = 0; i < g->nhosts; i++) {
            if (g->hosts[i].slot == NULL
                && strlen(g->hosts[i].vhost) < UPREQ_VHOST_MAX) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                             "UPREQ021: no room left for the counts of "
                             "virtual host %s (%d slots): it is counted "
                             "from the next restart that is not graceful",
                             g->hosts[i].vhost, upreq_rt->nslots);
            }
        }
    }
}

static int upreq_metrics_pre_mpm(apr_pool_t *p, ap_scoreboard_e sb_type)
{
    apr_pool_t *ptemp;

    (void)sb_type;
    if (upreq_gen == NULL) {
        return OK;
    }
    if (!upreq_reset_memory(upreq_rt, upreq_gen, p)) {
        upreq_unbind(upreq_gen);    /* post_config's slots are gone */
        return OK;
    }
    apr_pool_create(&ptemp, p);
    upreq_bind_slots(upreq_rt, upreq_gen, ptemp);
    apr_pool_destroy(ptemp);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ap_server_conf,
                 "UPREQ023: counters of %d virtual hosts in %d slots "
                 "(%" APR_SIZE_T_FMT " bytes of shared memory), from zero",
                 upreq_gen->nhosts, upreq_rt->nslots,
                 sizeof(upreq_mslot) * (apr_size_t)upreq_rt->nslots);
    return OK;
}

/* ------------------------------------------------------------------ */
/* output                                                              */

typedef void (*upreq_series_fn)(request_rec *r, const upreq_mhost *h,
                                int req, int out, int cl, apr_uint64_t n,
                                void *ctx);

/* every non-zero series of the hosts of this configuration, in the order
 * of the configuration and of the label enums; the number of them */
static int upreq_each_series(request_rec *r, upreq_series_fn fn, void *ctx)
{
    const upreq_mgen *g = upreq_gen;
    int i, req, out, cl, count = 0;

    for (i = 0; g && i < g->nhosts; i++) {
        const upreq_mslot *sl = g->hosts[i].slot;

        for (req = 0; sl && req < UPREQ_RL_COUNT; req++) {
            for (out = 0; out < UPREQ_OUT_COUNT; out++) {
                for (cl = 0; cl < UPREQ_CL_COUNT; cl++) {
                    apr_uint64_t n = UPREQ_COUNTER_GET(
                        (upreq_counter *)&sl->n[req][out][cl]);

                    if (n) {
                        fn(r, &g->hosts[i], req, out, cl, n, ctx);
                        count++;
                    }
                }
            }
        }
    }
    return count;
}

static void upreq_put_prom(request_rec *r, const upreq_mhost *h, int req,
                           int out, int cl, apr_uint64_t n, void *ctx)
{
    (void)ctx;
    ap_rprintf(r, UPREQ_FAMILY "{vhost=\"%s\",requirement=\"%s\","
               "outcome=\"%s\",client=\"%s\"} %" APR_UINT64_T_FMT "\n",
               h->prom, upreq_req_names[req], upreq_out_names[out],
               upreq_client_names[cl], n);
}

static void upreq_put_json(request_rec *r, const upreq_mhost *h, int req,
                           int out, int cl, apr_uint64_t n, void *ctx)
{
    int *first = ctx;

    ap_rprintf(r, "%s\n  {\"vhost\":\"%s\",\"requirement\":\"%s\","
               "\"outcome\":\"%s\",\"client\":\"%s\",\"value\":%"
               APR_UINT64_T_FMT "}", *first ? "" : ",", h->json,
               upreq_req_names[req], upreq_out_names[out],
               upreq_client_names[cl], n);
    *first = 0;
}

static void upreq_print_json(request_rec *r)
{
    const upreq_mgen *g = upreq_gen;
    int i, first = 1;

    ap_rputs("{\"name\":\"" UPREQ_FAMILY "\",\n \"vhosts\":[", r);
    for (i = 0; g && i < g->nhosts; i++) {
        if (g->hosts[i].slot) {
            ap_rprintf(r, "%s\"%s\"", first ? "" : ",", g->hosts[i].json);
            first = 0;
        }
    }
    ap_rputs("],\n \"series\":[", r);
    first = 1;
    upreq_each_series(r, upreq_put_json, &first);
    ap_rputs("\n ]}\n", r);
}

/* "json" among the &-separated parameters of the query */
static int upreq_wants_json(const char *args)
{
    while (args && *args) {
        apr_size_t len = strcspn(args, "&");

        if ((len == 4 || (len > 4 && args[4] == '='))
            && strncmp(args, "json", 4) == 0) {
            return 1;
        }
        args += len + (args[len] == '&');
    }
    return 0;
}

/* SetHandler upgrade-required-status (called from the module's handler
 * hook, which asks the name first): GET (and HEAD) only */
int upreq_metrics_serve(request_rec *r)
{
    int json;

    r->allowed = AP_METHOD_BIT << M_GET;
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    json = upreq_wants_json(r->args);
    ap_set_content_type(r, json ? "application/json"
                                : "text/plain; version=0.0.4");
    if (r->header_only) {
        return OK;
    }
    if (json) {
        upreq_print_json(r);
        return OK;
    }
    ap_rputs("# HELP " UPREQ_FAMILY " Client requests judged by "
             "mod_upgrade_required, once per requirement: by virtual host, "
             "requirement, outcome and what the client used.\n"
             "# TYPE " UPREQ_FAMILY " counter\n", r);
    upreq_each_series(r, upreq_put_prom, NULL);
    return OK;
}

static void upreq_put_auto(request_rec *r, const upreq_mhost *h, int req,
                           int out, int cl, apr_uint64_t n, void *ctx)
{
    (void)ctx;
    ap_rprintf(r, "UpgradeRequired_%s_%s_%s_%s: %" APR_UINT64_T_FMT "\n",
               h->key, upreq_auto_key(r->pool, upreq_req_names[req]),
               upreq_out_names[out],
               upreq_auto_key(r->pool, upreq_client_names[cl]), n);
}

static void upreq_put_html(request_rec *r, const upreq_mhost *h, int req,
                           int out, int cl, apr_uint64_t n, void *ctx)
{
    int notable = *(int *)ctx;

    ap_rprintf(r, notable ? "<dt>%s</dt><dd>%s %s %s: %" APR_UINT64_T_FMT
                            "</dd>\n"
                          : "<tr><td>%s</td><td>%s</td><td>%s</td>"
                            "<td>%s</td><td>%" APR_UINT64_T_FMT
                            "</td></tr>\n",
               h->html, upreq_req_names[req], upreq_out_names[out],
               upreq_client_names[cl], n);
}

/* mod_status: a section of server-status, lines of server-status?auto */
static int upreq_metrics_status_hook(request_rec *r, int flags)
{
    int notable = (flags & AP_STATUS_NOTABLE) != 0;

    if (flags & AP_STATUS_SHORT) {
        upreq_each_series(r, upreq_put_auto, NULL);
        return OK;
    }
    ap_rputs("<hr />\n<h2>mod_upgrade_required</h2>\n"
             "<p>Client requests judged, once per requirement, since httpd "
             "started or last restarted (a graceful restart keeps them); "
             "also at <code>SetHandler " UPREQ_STATUS_HANDLER
             "</code></p>\n", r);
    ap_rputs(notable ? "<dl>\n"
                     : "<table border=\"0\"><tr><th>Virtual host</th>"
                       "<th>Requirement</th><th>Outcome</th>"
                       "<th>Client</th><th>Requests</th></tr>\n", r);
    if (upreq_each_series(r, upreq_put_html, &notable) == 0) {
        ap_rputs(notable ? "<dt>none yet</dt>\n"
                         : "<tr><td colspan=\"5\">none yet</td></tr>\n", r);
    }
    ap_rputs(notable ? "</dl>\n" : "</table>\n", r);
    return OK;
}

void upreq_metrics_register_hooks(apr_pool_t *p)
{
    (void)p;
    /* the retained data, before anything of this generation needs it */
    ap_hook_pre_config(upreq_metrics_pre_config, NULL, NULL,
                       APR_HOOK_MIDDLE);
    /* at start and at restarts that are not graceful, where httpd makes
     * its scoreboard: the counts start from zero */
    ap_hook_pre_mpm(upreq_metrics_pre_mpm, NULL, NULL, APR_HOOK_MIDDLE);
    /* mod_status's optional hook, if mod_status is loaded */
    APR_OPTIONAL_HOOK(ap, status_hook, upreq_metrics_status_hook, NULL,
                      NULL, APR_HOOK_MIDDLE);
}
