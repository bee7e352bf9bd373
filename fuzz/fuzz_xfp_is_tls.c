/* fuzz_xfp_is_tls.c - upreq_xfp_is_tls() and upreq_proto_is_tls()
 *
 * Reference: the last comma-separated element (the one the nearest proxy
 * wrote), trimmed of SP/HTAB, is "https" or "wss" in any case.
 * upreq_proto_is_tls() is also given the raw input without a terminating
 * NUL, as the Forwarded parser does: it must read only len bytes.
 */
#include "fuzz.h"

static int ref_proto(const char *s, size_t n)
{
    return ref_eq(s, n, "https") || ref_eq(s, n, "wss");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_cstr(data, size);
    char *raw = malloc(size ? size : 1);
    const char *s = strrchr(in, ','), *e;

    s = s ? s + 1 : in;
    e = s + strlen(s);
    ref_trim(&s, &e);
    FUZZ_CHECK(upreq_xfp_is_tls(in) == ref_proto(s, (size_t)(e - s)),
               "X-Forwarded-Proto", in);
    FUZZ_CHECK(upreq_xfp_is_tls(NULL) == 0, "NULL", in);

    if (raw == NULL) {
        abort();
    }
    if (size) {
        memcpy(raw, data, size);
    }
    if (memchr(data, '\0', size) == NULL) {
        FUZZ_CHECK(upreq_proto_is_tls(raw, size) == ref_proto(raw, size),
                   "proto", in);
    }
    free(raw);
    free(in);
    return 0;
}
