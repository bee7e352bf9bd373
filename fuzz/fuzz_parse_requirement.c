/* fuzz_parse_requirement.c - upreq_parse_requirement() (UpgradeRequired)
 *
 * Reference: a table lookup, ASCII case-insensitive.  The outputs must be
 * left alone unless a requirement is recognised.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct {
        const char *word;
        int bit, minor;
    } table[] = {
        { "TLS", UPREQ_R_TLS, UPREQ_TLS_ANY },
        { "TLS/1.0", UPREQ_R_TLS, 0 }, { "TLS/1.1", UPREQ_R_TLS, 1 },
        { "TLS/1.2", UPREQ_R_TLS, 2 }, { "TLS/1.3", UPREQ_R_TLS, 3 },
        { "HTTP/1.1", UPREQ_R_HTTP11, UPREQ_TLS_ANY },
        { "HTTP/2", UPREQ_R_HTTP2, UPREQ_TLS_ANY },
        { "websocket", UPREQ_R_WS, UPREQ_TLS_ANY },
    };
    char *in = fuzz_cstr(data, size);
    size_t len = strlen(in), i;
    int bit = 0x5a5a, minor = 0x5a5a;
    int rv = upreq_parse_requirement(in, &bit, &minor);
    int ref = ref_eq(in, len, "Off") ? -1 : 0;

    for (i = 0; ref == 0 && i < sizeof(table) / sizeof(table[0]); i++) {
        if (ref_eq(in, len, table[i].word)) {
            ref = 1;
            FUZZ_CHECK(bit == table[i].bit && minor == table[i].minor,
                       "outputs", in);
        }
    }
    FUZZ_CHECK(rv == ref, "result", in);
    if (rv != 1) {
        FUZZ_CHECK(bit == 0x5a5a && minor == 0x5a5a, "outputs touched", in);
    }
    free(in);
    return 0;
}
