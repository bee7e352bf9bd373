/* fuzz_upgrade_value_ok.c - upreq_upgrade_value_ok() (UpgradeRequiredHeader)
 *
 * Reference: split at every comma; each element, trimmed of SP/HTAB, is
 * token ["/" token] (RFC 9110 §7.8, tchar of §5.6.2); empty elements are
 * not allowed here, an empty value neither.
 */
#include "fuzz.h"

static int ref_tchar(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
           || (c >= 'A' && c <= 'Z')
           || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int ref_protocol(const char *s, const char *e)
{
    const char *slash = memchr(s, '/', (size_t)(e - s));
    const char *p;

    if (slash == NULL) {
        slash = e;
    }
    else if (slash + 1 == e) {
        return 0;               /* "name/" */
    }
    if (slash == s) {
        return 0;               /* "/version" or empty */
    }
    for (p = s; p < e; p++) {
        if (p != slash && !ref_tchar((unsigned char)*p)) {
            return 0;
        }
    }
    return 1;
}

static int ref_upgrade_ok(const char *v)
{
    for (;;) {
        const char *comma = strchr(v, ',');
        const char *s = v, *e = comma ? comma : v + strlen(v);

        ref_trim(&s, &e);
        if (!ref_protocol(s, e)) {
            return 0;
        }
        if (comma == NULL) {
            return 1;
        }
        v = comma + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_cstr(data, size);

    FUZZ_CHECK(upreq_upgrade_value_ok(in) == ref_upgrade_ok(in),
               "Upgrade value", in);
    FUZZ_CHECK(upreq_upgrade_value_ok(NULL) == 0, "NULL", in);
    free(in);
    return 0;
}
