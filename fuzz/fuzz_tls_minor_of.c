/* fuzz_tls_minor_of.c - upreq_tls_minor_of() (SSL_PROTOCOL values)
 *
 * Reference: exact match against mod_ssl's spellings; anything else,
 * including "TLSv1.0", "tlsv1.2" or "SSLv3", cannot be ranked.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {
        "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"
    };
    char *in = fuzz_cstr(data, size);
    int ref = UPREQ_TLS_UNKNOWN, i;

    for (i = 0; i < 4; i++) {
        if (strcmp(in, names[i]) == 0) {
            ref = i;
        }
    }
    FUZZ_CHECK(upreq_tls_minor_of(in) == ref, "SSL_PROTOCOL", in);
    FUZZ_CHECK(upreq_tls_minor_of(NULL) == UPREQ_TLS_UNKNOWN, "NULL", in);
    free(in);
    return 0;
}
