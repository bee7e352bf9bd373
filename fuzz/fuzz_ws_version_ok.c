/* fuzz_ws_version_ok.c - upreq_ws_version_ok() (Sec-WebSocket-Version)
 *
 * Reference: the value without surrounding SP/HTAB is exactly "13"
 * (RFC 6455 §4.1; a list such as "13, 8" is not accepted).
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_cstr(data, size);
    const char *s = in, *e = in + strlen(in);
    int ref;

    ref_trim(&s, &e);
    ref = (e - s == 2 && s[0] == '1' && s[1] == '3');
    FUZZ_CHECK(upreq_ws_version_ok(in) == ref, "ws version", in);
    FUZZ_CHECK(upreq_ws_version_ok(NULL) == 0, "NULL", in);
    free(in);
    return 0;
}
