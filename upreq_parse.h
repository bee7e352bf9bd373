/* upreq_parse.h - pure parsers of mod_upgrade_required
 *
 * Everything here reads a NUL-terminated string and answers a question
 * about it.  Nothing here knows request_rec, conn_rec or a pool, so the
 * fuzzers in fuzz/ and the module call exactly the same code.
 */
#ifndef UPREQ_PARSE_H
#define UPREQ_PARSE_H

#include <stddef.h>

/* The requirements of "UpgradeRequired", one row each, in the order in
 * which the tokens of failed requirements are listed in one 426 (SPEC):
 * TLS (or a minimum TLS version), HTTP version, websocket.  The keyword,
 * the Upgrade token, the page's paragraph and the log word all come from
 * here; a new requirement is one row plus its evaluation. */
#define UPREQ_R_TLS      0x01   /* TLS, possibly with a minimum version */
#define UPREQ_R_HTTP11   0x02   /* HTTP/1.1 or newer */
#define UPREQ_R_HTTP2    0x04   /* HTTP/2 or newer */
#define UPREQ_R_WS       0x08   /* a WebSocket opening handshake */
#define UPREQ_R_HTTP_VERSION (UPREQ_R_HTTP11 | UPREQ_R_HTTP2)

typedef struct {
    int bit;                    /* UPREQ_R_* */
    const char *keyword;        /* UpgradeRequired's word, the log word;
                                 * TLS also takes "/1.0" .. "/1.3" */
    const char *token;          /* its Upgrade token (TLS: by version;
                                 * HTTP/2: h2c where it is offered) */
    const char *paragraph;      /* its paragraph of the 426 page; NULL:
                                 * written by the response (TLS's link) */
} upreq_requirement;

#define UPREQ_N_REQUIREMENTS 4
extern const upreq_requirement upreq_requirements[UPREQ_N_REQUIREMENTS];

/* the keywords as help strings and configuration errors list them */
#define UPREQ_KEYWORDS "TLS, TLS/1.0-1.3, HTTP/1.1, HTTP/2, websocket"

/* TLS versions as minor numbers of "TLS/1.x": 0..3; UPREQ_TLS_ANY for a
 * bare "TLS", UPREQ_TLS_UNKNOWN for a protocol name we cannot rank. */
#define UPREQ_TLS_ANY      (-1)
#define UPREQ_TLS_UNKNOWN  (-2)
#define UPREQ_TLS_NONE     (-3)     /* plain: no TLS at all */

/* Parse one word of "UpgradeRequired" (case-insensitive).  On success
 * returns 1 and stores the requirement bit and, for TLS words, the minimum
 * TLS minor version (UPREQ_TLS_ANY for a bare "TLS").  Returns 0 for an
 * unknown word, -1 for "Off". */
int upreq_parse_requirement(const char *word, int *bit, int *tls_minor);

/* Rank an SSL_PROTOCOL value ("TLSv1", "TLSv1.1" ... "TLSv1.3") as a TLS
 * minor version 0..3; anything else gives UPREQ_TLS_UNKNOWN. */
int upreq_tls_minor_of(const char *ssl_protocol);

/* 1 when the comma-separated list (RFC 9110 §5.6.1: empty elements and
 * optional whitespace allowed) holds an element equal to token, compared
 * case-insensitively.  A NULL list holds nothing. */
int upreq_list_has_token(const char *list, const char *token);

/* 1 when a Sec-WebSocket-Version value is exactly "13" (RFC 6455 §4.1,
 * surrounding whitespace allowed); a list or anything else gives 0. */
int upreq_ws_version_ok(const char *value);

/* 1 when an UpgradeRequiredHeader value is a non-empty comma list of
 * protocol-name ["/" protocol-version] tokens (RFC 9110 §7.8). */
int upreq_upgrade_value_ok(const char *value);

/* 1 when a proto value ("https", "wss", any case) means TLS. */
int upreq_proto_is_tls(const char *value, size_t len);

/* X-Forwarded-Proto: 1 when the last value of the list says TLS. */
int upreq_xfp_is_tls(const char *value);

/* Forwarded (RFC 7239).  is_trusted() is asked whether the IP literal in
 * an element's "for" (brackets and port removed; NUL-terminated) is a
 * trusted proxy; it may be NULL (nothing is trusted). */
typedef int (*upreq_trust_fn)(void *ctx, const char *ip);

typedef enum {
    UPREQ_FWD_TLS = 1,          /* the element reached says https/wss */
    UPREQ_FWD_PLAIN = 0,        /* it says something else or nothing */
    UPREQ_FWD_MALFORMED = -1,   /* the field does not parse, or is empty */
    UPREQ_FWD_NONE = -2         /* every element came from a trusted proxy */
} upreq_fwd_result;

upreq_fwd_result upreq_forwarded_is_tls(const char *value,
                                        upreq_trust_fn is_trusted,
                                        void *ctx);

#endif /* UPREQ_PARSE_H */
