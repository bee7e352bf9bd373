/* fuzz.h - helpers shared by the libFuzzer harnesses of upreq_parse.c
 *
 * The parsers read NUL-terminated strings, as httpd hands them header
 * values and directive words.  A fuzz input is raw bytes: it is copied
 * into a buffer of exactly size + 1 bytes with a NUL at the end, so that
 * AddressSanitizer reports any read past the terminator.
 */
#ifndef UPREQ_FUZZ_H
#define UPREQ_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upreq_parse.h"

/* a NUL-terminated copy of data; an embedded NUL ends the string early */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL) {
        abort();
    }
    if (size) {
        memcpy(s, data, size);
    }
    s[size] = '\0';
    return s;
}

/* The reference implementations below are written for clarity, not
 * speed, and independently of upreq_parse.c: a disagreement aborts. */
static inline int ref_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static inline int ref_ows(int c)
{
    return c == ' ' || c == '\t';
}

/* the n bytes at a equal the string b, ASCII case-insensitively */
static inline int ref_eq(const char *a, size_t n, const char *b)
{
    size_t i;

    if (strlen(b) != n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (ref_lower((unsigned char)a[i]) != ref_lower((unsigned char)b[i])) {
            return 0;
        }
    }
    return 1;
}

/* [*s, *e) without leading and trailing SP / HTAB */
static inline void ref_trim(const char **s, const char **e)
{
    while (*s < *e && ref_ows((unsigned char)**s)) {
        (*s)++;
    }
    while (*e > *s && ref_ows((unsigned char)(*e)[-1])) {
        (*e)--;
    }
}

#define FUZZ_CHECK(cond, what, input)                                  \
    do {                                                               \
        if (!(cond)) {                                                 \
            fprintf(stderr, "mismatch: %s on input \"%s\"\n",          \
                    (what), (input));                                  \
            abort();                                                   \
        }                                                              \
    } while (0)

#endif /* UPREQ_FUZZ_H */
