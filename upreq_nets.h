/* upreq_nets.h - a set of IPv4 and IPv6 networks (the trusted proxies of
 * mod_upgrade_required), built once from the configuration and asked at
 * request time in O(log n).
 *
 * Every address is a 16-byte IPv6 address; an IPv4 address a.b.c.d is
 * ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), so an IPv4-mapped IPv6 peer matches
 * the IPv4 networks and an IPv4 peer nothing else, as apr_ipsubnet_test()
 * has it.  An IPv6 network never covers ::ffff:0:0/96 for the same reason
 * (APR tests such peers against IPv4 networks only): one that spans it is
 * kept as the two ranges around it.
 *
 * The set is a sorted array of disjoint, non-adjacent ranges [low, high];
 * an address is a 128-bit number, kept as two 64-bit halves so that a
 * comparison is two integer compares.  Nothing here knows httpd, APR or a
 * pool: the caller gives the memory, and the fuzzer in fuzz/ calls exactly
 * this code.  A look-up allocates nothing and writes nothing.
 */
#ifndef UPREQ_NETS_H
#define UPREQ_NETS_H

#include <stdint.h>

typedef struct {
    uint64_t hi;            /* bytes 0-7 of the address, big-endian */
    uint64_t lo;            /* bytes 8-15 */
} upreq_addr;

typedef struct {
    upreq_addr low;         /* first address of the range */
    upreq_addr high;        /* last address, inclusive */
} upreq_range;

typedef struct {
    upreq_range *range;     /* sorted by low; disjoint, never adjacent */
    unsigned int count;     /* ranges in use */
    unsigned int room;      /* ranges the caller allocated */
} upreq_nets;

/* The ranges one network adds at most (an IPv6 network around the
 * IPv4-mapped /96 is two): the room upreq_nets_add() needs beyond count. */
#define UPREQ_NET_RANGES 2

/* Parse an address and an optional prefix length ("bits": decimal digits,
 * or NULL for the address alone) as apr_ipsubnet_create() accepts them:
 * an IPv4 or IPv6 literal that is not IPv4-mapped, bits 1-32 or 1-128;
 * the bits below the prefix are ignored.  Stores the ranges the network
 * covers in net[] and returns how many (1 or 2), or 0 if it is not one. */
int upreq_net_parse(const char *ip, const char *bits,
                    upreq_range net[UPREQ_NET_RANGES]);

/* Add one range, merging it with those it overlaps or touches.  The
 * caller makes room first: set->count < set->room. */
void upreq_nets_add(upreq_nets *set, const upreq_range *net);

/* 1 when the address is in the set: 16 bytes of an IPv6 address, 4 of an
 * IPv4 address (network byte order), or an IP literal (IPv4 or IPv6, no
 * brackets, port or zone; anything else is in no set). */
int upreq_nets_has_ipv6(const upreq_nets *set, const unsigned char a[16]);
int upreq_nets_has_ipv4(const upreq_nets *set, const unsigned char a[4]);
int upreq_nets_has_ip(const upreq_nets *set, const char *ip);

#endif /* UPREQ_NETS_H */
