/* mod_standin426.c - the least a 426 decided on the final configuration
 * can cost in httpd: a yardstick for bench/run, not a module to use.
 *
 *   Standin426 On|Off       per directory (default Off)
 *
 *   <Location /tls>
 *       Standin426 On
 *   </Location>
 *
 * With the flag on, its header_parser hook (the first phase that sees the
 * final per-directory configuration of a main request, run first) puts
 * "Upgrade: TLS/1.2, HTTP/1.1" and "Connection: Upgrade" into
 * err_headers_out and returns 426: httpd sends its canned page.  It judges
 * nothing (not even whether the request came over TLS), so every cost
 * bench/run counts beyond it is the price of deciding.
 *
 * Built by bench/run with apxs into its temporary directory; never
 * installed, not part of the module's build.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_request.h"

typedef struct {
    int on;                 /* Standin426; -1 unset */
} standin_dir_conf;

module AP_MODULE_DECLARE_DATA standin426_module;

static void *standin_create_dir_conf(apr_pool_t *p, char *dir)
{
    standin_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    (void)dir;
    conf->on = -1;
    return conf;
}

/* a section that sets nothing lets the other stand for the merge */
static void *standin_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    standin_dir_conf *add = addv;

    (void)p;
    return add->on != -1 ? addv : basev;
}

static const char *standin_set_flag(cmd_parms *cmd, void *cfg, int on)
{
    (void)cmd;
    ((standin_dir_conf *)cfg)->on = on;
    return NULL;
}

static int standin_header_parser(request_rec *r)
{
    const standin_dir_conf *d = ap_get_module_config(r->per_dir_config,
                                                     &standin426_module);

    if (d->on != 1) {
        return DECLINED;
    }
    apr_table_setn(r->err_headers_out, "Upgrade", "TLS/1.2, HTTP/1.1");
    apr_table_setn(r->err_headers_out, "Connection", "Upgrade");
    return HTTP_UPGRADE_REQUIRED;
}

static const command_rec standin_cmds[] = {
    AP_INIT_FLAG("Standin426", standin_set_flag, NULL, OR_ALL,
                 "On: answer every request here 426 (default Off)"),
    { NULL }
};

static void standin_register_hooks(apr_pool_t *p)
{
    (void)p;
    /* the final per-directory configuration of a main request, first */
    ap_hook_header_parser(standin_header_parser, NULL, NULL,
                          APR_HOOK_FIRST);
}

AP_DECLARE_MODULE(standin426) = {
    STANDARD20_MODULE_STUFF,
    standin_create_dir_conf,    /* per-directory config */
    standin_merge_dir_conf,     /* merge per-directory */
    NULL,                       /* per-server config */
    NULL,                       /* merge per-server */
    standin_cmds,               /* directives */
    standin_register_hooks,     /* hooks */
    AP_MODULE_FLAG_NONE
};
