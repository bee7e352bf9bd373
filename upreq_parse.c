/* upreq_parse.c - pure parsers of mod_upgrade_required (see upreq_parse.h)
 *
 * Request data reaches these functions as httpd stores it: repeated
 * header fields already joined by ", " (RFC 9110 §5.3).  None of them
 * allocates; none reads past the terminating NUL.
 */
#include <string.h>

#include "upreq_parse.h"

#define UPREQ_VALUE_MAX 128     /* longest Forwarded value we look into */

static int upreq_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int upreq_is_ows(int c)
{
    return c == ' ' || c == '\t';
}

/* tchar, RFC 9110 §5.6.2 */
static int upreq_is_tchar(int c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z')) {
        return 1;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int upreq_equal_nocase(const char *a, size_t alen, const char *b)
{
    size_t i;

    for (i = 0; i < alen; i++) {
        if (b[i] == '\0' || upreq_lower((unsigned char)a[i])
                            != upreq_lower((unsigned char)b[i])) {
            return 0;
        }
    }
    return b[alen] == '\0';
}

const upreq_requirement upreq_requirements[UPREQ_N_REQUIREMENTS] = {
    { UPREQ_R_TLS, "TLS", "TLS/1.2, HTTP/1.1", NULL },
    { UPREQ_R_HTTP11, "HTTP/1.1", "HTTP/1.1",
      "<p>This resource requires HTTP/1.1 or newer. Please repeat the "
      "request with HTTP/1.1.</p>\n" },
    { UPREQ_R_HTTP2, "HTTP/2", "HTTP/2.0",
      "<p>This resource is only available over HTTP/2. Please repeat the "
      "request with an HTTP/2 client.</p>\n" },
    { UPREQ_R_WS, "websocket", "websocket",
      "<p>This resource is a WebSocket endpoint. Please connect with a "
      "WebSocket client (RFC 6455, Sec-WebSocket-Version 13).</p>\n" },
};

int upreq_parse_requirement(const char *word, int *bit, int *tls_minor)
{
    size_t i, len = strlen(word);

    if (upreq_equal_nocase(word, len, "Off")) {
        return -1;
    }
    for (i = 0; i < UPREQ_N_REQUIREMENTS; i++) {
        const upreq_requirement *q = &upreq_requirements[i];
        size_t klen = strlen(q->keyword);

        if (upreq_equal_nocase(word, len, q->keyword)) {
            *bit = q->bit;
            *tls_minor = UPREQ_TLS_ANY;
            return 1;
        }
        /* TLS/1.0 .. TLS/1.3 */
        if (q->bit == UPREQ_R_TLS && len == klen + 4
            && upreq_equal_nocase(word, klen, q->keyword)
            && word[klen] == '/' && word[klen + 1] == '1'
            && word[klen + 2] == '.' && word[klen + 3] >= '0'
            && word[klen + 3] <= '3') {
            *bit = q->bit;
            *tls_minor = word[klen + 3] - '0';
            return 1;
        }
    }
    return 0;
}

int upreq_tls_minor_of(const char *p)
{
    /* mod_ssl spells TLS 1.0 "TLSv1" and the others "TLSv1.x" */
    if (p == NULL || strncmp(p, "TLSv1", 5) != 0) {
        return UPREQ_TLS_UNKNOWN;
    }
    if (p[5] == '\0') {
        return 0;
    }
    if (p[5] == '.' && p[6] >= '1' && p[6] <= '3' && p[7] == '\0') {
        return p[6] - '0';
    }
    return UPREQ_TLS_UNKNOWN;
}

int upreq_list_has_token(const char *list, const char *token)
{
    const char *p = list;

    if (p == NULL) {
        return 0;
    }
    while (*p) {
        const char *start, *end;

        while (upreq_is_ows((unsigned char)*p) || *p == ',') {
            p++;
        }
        start = p;
        while (*p && *p != ',') {
            p++;
        }
        end = p;
        while (end > start && upreq_is_ows((unsigned char)end[-1])) {
            end--;
        }
        if (end > start && upreq_equal_nocase(start, end - start, token)) {
            return 1;
        }
    }
    return 0;
}

int upreq_ws_version_ok(const char *v)
{
    if (v == NULL) {
        return 0;
    }
    while (upreq_is_ows((unsigned char)*v)) {
        v++;
    }
    if (v[0] != '1' || v[1] != '3') {
        return 0;
    }
    v += 2;
    while (upreq_is_ows((unsigned char)*v)) {
        v++;
    }
    return *v == '\0';
}

/* one protocol token of Upgrade: protocol-name ["/" protocol-version] */
static const char *upreq_scan_protocol(const char *p)
{
    const char *start = p;

    while (upreq_is_tchar((unsigned char)*p)) {
        p++;
    }
    if (p == start) {
        return NULL;
    }
    if (*p == '/') {
        start = ++p;
        while (upreq_is_tchar((unsigned char)*p)) {
            p++;
        }
        if (p == start) {
            return NULL;
        }
    }
    return p;
}

int upreq_upgrade_value_ok(const char *v)
{
    int seen = 0;

    if (v == NULL) {
        return 0;
    }
    for (;;) {
        while (upreq_is_ows((unsigned char)*v)) {
            v++;
        }
        if ((v = upreq_scan_protocol(v)) == NULL) {
            return 0;
        }
        seen++;
        while (upreq_is_ows((unsigned char)*v)) {
            v++;
        }
        if (*v == '\0') {
            return seen > 0;
        }
        if (*v++ != ',') {
            return 0;
        }
    }
}

int upreq_proto_is_tls(const char *v, size_t len)
{
    return (len == 5 && upreq_equal_nocase(v, 5, "https"))
           || (len == 3 && upreq_equal_nocase(v, 3, "wss"));
}

int upreq_xfp_is_tls(const char *value)
{
    const char *start, *end;

    if (value == NULL) {
        return 0;
    }
    /* the last element is the one the nearest proxy wrote */
    start = strrchr(value, ',');
    start = start ? start + 1 : value;
    end = start + strlen(start);
    while (upreq_is_ows((unsigned char)*start)) {
        start++;
    }
    while (end > start && upreq_is_ows((unsigned char)end[-1])) {
        end--;
    }
    return upreq_proto_is_tls(start, end - start);
}

/* A value of a forwarded-pair: token or quoted-string (RFC 7239 §4),
 * unescaped into buf.  Returns the position after it, or NULL when it
 * does not parse.  *len is set to UPREQ_VALUE_MAX + 1 when the value is
 * longer than buf holds: such a value is never an address or a proto. */
static const char *upreq_scan_value(const char *p, char *buf, size_t *len)
{
    size_t n = 0;

    if (*p != '"') {
        while (upreq_is_tchar((unsigned char)*p)) {
            if (n < UPREQ_VALUE_MAX) {
                buf[n] = *p;
            }
            n++;
            p++;
        }
        if (n == 0) {
            return NULL;
        }
    }
    else {
        for (p++; *p != '"'; p++) {
            unsigned char c = (unsigned char)*p;

            if (c == '\\') {
                c = (unsigned char)*++p;
                if (c == '\0' || (c < 0x20 && c != '\t') || c == 0x7f) {
                    return NULL;
                }
            }
            else if (c == '\0' || (c < 0x20 && c != '\t') || c == 0x7f) {
                return NULL;
            }
            if (n < UPREQ_VALUE_MAX) {
                buf[n] = (char)c;
            }
            n++;
        }
        p++;
    }
    *len = n > UPREQ_VALUE_MAX ? UPREQ_VALUE_MAX + 1 : n;
    buf[*len > UPREQ_VALUE_MAX ? 0 : n] = '\0';
    return p;
}

/* The IP literal of a node (RFC 7239 §6): "[v6]:port", "[v6]", "v4:port"
 * or "v4"; "unknown" and obfuscated names are never trusted. */
static int upreq_node_is_trusted(char *node, size_t len,
                                 upreq_trust_fn is_trusted, void *ctx)
{
    char *end;

    if (is_trusted == NULL || len == 0 || len > UPREQ_VALUE_MAX) {
        return 0;
    }
    if (node[0] == '[') {
        if ((end = strchr(node, ']')) == NULL
            || (end[1] != '\0' && end[1] != ':')) {
            return 0;
        }
        *end = '\0';
        node++;
    }
    else if ((end = strchr(node, ':')) != NULL) {
        *end = '\0';
    }
    return *node != '\0' && is_trusted(ctx, node);
}

typedef struct {
    int has_for, has_proto;     /* each at most once per element */
    int for_trusted;            /* its "for" names a trusted proxy */
    int proto_tls;              /* its "proto" says https or wss */
} upreq_fwd_elem;

/* One forwarded-pair at p: name "=" value.  NULL when malformed. */
static const char *upreq_scan_pair(const char *p, upreq_fwd_elem *e,
                                   upreq_trust_fn is_trusted, void *ctx)
{
    char buf[UPREQ_VALUE_MAX + 1];
    const char *name = p;
    size_t nlen, vlen;

    while (upreq_is_tchar((unsigned char)*p)) {
        p++;
    }
    if ((nlen = p - name) == 0 || *p++ != '=') {
        return NULL;
    }
    if ((p = upreq_scan_value(p, buf, &vlen)) == NULL) {
        return NULL;
    }
    if (upreq_equal_nocase(name, nlen, "for")) {
        if (e->has_for++) {
            return NULL;        /* RFC 7239 §4: at most once */
        }
        e->for_trusted = upreq_node_is_trusted(buf, vlen, is_trusted, ctx);
    }
    else if (upreq_equal_nocase(name, nlen, "proto")) {
        if (e->has_proto++) {
            return NULL;
        }
        e->proto_tls = vlen <= UPREQ_VALUE_MAX
                       && upreq_proto_is_tls(buf, vlen);
    }
    return p;
}

upreq_fwd_result upreq_forwarded_is_tls(const char *p,
                                        upreq_trust_fn is_trusted,
                                        void *ctx)
{
    /* Walking from the right and stepping left over trusted proxies ends
     * at the rightmost element whose "for" is not a trusted proxy; one
     * pass from the left that remembers the last such element finds the
     * same one without storing the list.  An element without "for" (even
     * one without any pair, ";") is not a trusted proxy: the walk ends
     * there. */
    upreq_fwd_result result = UPREQ_FWD_MALFORMED;  /* 1#: none is bad */

    if (p == NULL) {
        return UPREQ_FWD_MALFORMED;
    }
    for (;;) {
        upreq_fwd_elem e = { 0, 0, 0, 0 };

        while (upreq_is_ows((unsigned char)*p) || *p == ',') {
            p++;                /* empty list elements are allowed */
        }
        if (*p == '\0') {
            return result;
        }
        for (;;) {
            /* forwarded-element = [ pair ] *( ";" [ pair ] ): a pair may
             * be empty before ";", "," or the end (RFC 7239 §4) */
            if (*p != ';' && *p != ',' && *p != '\0'
                && (p = upreq_scan_pair(p, &e, is_trusted, ctx)) == NULL) {
                return UPREQ_FWD_MALFORMED;
            }
            while (upreq_is_ows((unsigned char)*p)) {
                p++;
            }
            if (*p != ';') {
                break;
            }
            p++;
            while (upreq_is_ows((unsigned char)*p)) {
                p++;
            }
        }
        if (*p != ',' && *p != '\0') {
            return UPREQ_FWD_MALFORMED;
        }
        if (!e.for_trusted) {
            result = e.proto_tls ? UPREQ_FWD_TLS : UPREQ_FWD_PLAIN;
        }
        else if (result == UPREQ_FWD_MALFORMED) {
            result = UPREQ_FWD_NONE;
        }
    }
}
