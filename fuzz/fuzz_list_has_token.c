/* fuzz_list_has_token.c - upreq_list_has_token() (Connection, Upgrade)
 *
 * Input: LIST [NUL TOKEN].  The list is checked against the tokens the
 * module looks for and against the fuzzed token, each time against a
 * slow reference: split at every comma, trim SP/HTAB, compare ASCII
 * case-insensitively (RFC 9110 §5.6.1, §7.6.1, §7.8).
 */
#include "fuzz.h"

static int ref_has_token(const char *list, const char *token)
{
    const char *p = list;

    for (;;) {
        const char *comma = strchr(p, ',');
        const char *s = p, *e = comma ? comma : p + strlen(p);

        ref_trim(&s, &e);
        if (e > s && ref_eq(s, (size_t)(e - s), token)) {
            return 1;
        }
        if (comma == NULL) {
            return 0;
        }
        p = comma + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const tokens[] = {
        "upgrade", "websocket", "h2c", "HTTP2-Settings", "close",
        "keep-alive", "TLS/1.2", ""
    };
    char *in = fuzz_cstr(data, size);
    size_t len = strlen(in), i;
    /* the fuzzed token follows the first NUL, if there is one */
    char *token = fuzz_cstr(len < size ? data + len + 1 : data + size,
                            len < size ? size - len - 1 : 0);

    for (i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
        FUZZ_CHECK(upreq_list_has_token(in, tokens[i])
                   == ref_has_token(in, tokens[i]), tokens[i], in);
    }
    FUZZ_CHECK(upreq_list_has_token(in, token) == ref_has_token(in, token),
               "fuzzed token", in);
    FUZZ_CHECK(upreq_list_has_token(NULL, token) == 0, "NULL list", token);
    free(token);
    free(in);
    return 0;
}
