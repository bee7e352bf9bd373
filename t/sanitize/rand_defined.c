/* rand_defined.c - preloaded into httpd by t/sanitize/httpd-valgrind
 *
 * "SSLRandomSeed startup builtin" (the suite's configuration, and a common
 * one) makes mod_ssl hand RAND_seed() 128 bytes of a deliberately
 * uninitialised stack array as extra entropy (ssl_engine_rand.c).
 * Memcheck then holds OpenSSL's whole random generator state undefined,
 * and with it every key, every decrypted byte and everything computed from
 * a request that came over TLS: thousands of reports in any code that
 * reads such a request, this module's included, none of them real.
 * Declaring the seed bytes defined before they reach OpenSSL removes that
 * taint at its source and nothing else: memcheck still checks everything.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <valgrind/memcheck.h>

typedef void (*upreq_rand_seed_fn)(const void *buf, int num);
typedef void (*upreq_rand_add_fn)(const void *buf, int num, double entropy);

/* Looked up on first use: libcrypto is loaded later, with mod_ssl.  Two
 * threads racing here store the same pointer. */
void RAND_seed(const void *buf, int num)
{
    static upreq_rand_seed_fn next;

    if (next == NULL) {
        next = (upreq_rand_seed_fn)dlsym(RTLD_NEXT, "RAND_seed");
        if (next == NULL) {
            abort();
        }
    }
    if (num > 0) {
        VALGRIND_MAKE_MEM_DEFINED(buf, num);
    }
    next(buf, num);
}

void RAND_add(const void *buf, int num, double entropy)
{
    static upreq_rand_add_fn next;

    if (next == NULL) {
        next = (upreq_rand_add_fn)dlsym(RTLD_NEXT, "RAND_add");
        if (next == NULL) {
            abort();
        }
    }
    if (num > 0) {
        VALGRIND_MAKE_MEM_DEFINED(buf, num);
    }
    next(buf, num, entropy);
}
