/* fuzz_forwarded_is_tls.c - upreq_forwarded_is_tls() (RFC 7239)
 *
 * The trust callback trusts 127.0.0.0/8 and ::1, parsed with inet_pton
 * as the module's callback does (upreq_nets_has_ip, fuzz_nets.c); it
 * checks that what it is handed is a short non-empty NUL-terminated string
 * (anything else than an IP literal, e.g. an obfuscated identifier, must
 * simply not be trusted).  Properties of the walk from the right, for any
 * input F that parses (result not MALFORMED):
 *   - appending an element from a trusted proxy changes nothing;
 *   - appending an element from an untrusted address decides by its proto;
 *   - prepending one changes only a NONE (every element trusted) result;
 *   - trusting nothing, NONE means F holds no element at all.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "fuzz.h"

static int trust_loopback(void *ctx, const char *ip)
{
    struct in_addr a4;
    struct in6_addr a6;
    size_t n = strlen(ip);

    (void)ctx;
    FUZZ_CHECK(n > 0 && n <= 128, "trust callback: length", ip);
    if (inet_pton(AF_INET, ip, &a4) == 1) {
        return (ntohl(a4.s_addr) >> 24) == 127;
    }
    if (inet_pton(AF_INET6, ip, &a6) == 1) {
        return IN6_IS_ADDR_LOOPBACK(&a6);
    }
    return 0;
}

static upreq_fwd_result fwd(const char *pre, const char *in, const char *post)
{
    size_t n = strlen(pre) + strlen(in) + strlen(post) + 1;
    char *s = malloc(n);
    upreq_fwd_result r;

    if (s == NULL) {
        abort();
    }
    snprintf(s, n, "%s%s%s", pre, in, post);
    r = upreq_forwarded_is_tls(s, trust_loopback, NULL);
    free(s);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_cstr(data, size);
    upreq_fwd_result r = upreq_forwarded_is_tls(in, trust_loopback, NULL);
    upreq_fwd_result untrusting = upreq_forwarded_is_tls(in, NULL, NULL);

    FUZZ_CHECK(r >= UPREQ_FWD_NONE && r <= UPREQ_FWD_TLS, "range", in);
    FUZZ_CHECK(upreq_forwarded_is_tls(NULL, trust_loopback, NULL)
               == UPREQ_FWD_MALFORMED, "NULL", in);
    /* trust changes which element decides, never whether F parses */
    FUZZ_CHECK((r == UPREQ_FWD_MALFORMED)
               == (untrusting == UPREQ_FWD_MALFORMED), "parses", in);
    if (r == UPREQ_FWD_MALFORMED) {
        free(in);
        return 0;
    }
    if (untrusting == UPREQ_FWD_NONE) {
        FUZZ_CHECK(in[strspn(in, ", \t")] == '\0', "NONE without trust", in);
    }
    FUZZ_CHECK(fwd("", in, ", for=127.0.0.1;proto=http") == r,
               "trusted v4 hop appended", in);
    FUZZ_CHECK(fwd("", in, ",for=\"[::1]:8443\";proto=\"https\"") == r,
               "trusted v6 hop appended", in);
    FUZZ_CHECK(fwd("", in, ", for=192.0.2.1;proto=https") == UPREQ_FWD_TLS,
               "untrusted https hop appended", in);
    FUZZ_CHECK(fwd("", in, ", proto=http;for=192.0.2.1") == UPREQ_FWD_PLAIN,
               "untrusted http hop appended", in);
    FUZZ_CHECK(fwd("for=192.0.2.7;proto=wss, ", in, "")
               == (r == UPREQ_FWD_NONE ? UPREQ_FWD_TLS : r),
               "untrusted hop prepended", in);
    free(in);
    return 0;
}
