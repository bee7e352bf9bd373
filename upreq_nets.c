/* upreq_nets.c - a set of IPv4 and IPv6 networks (see upreq_nets.h)
 *
 * Built at start-up by upreq_set_trusted_proxy(), one network at a time,
 * and kept sorted and merged as it grows, so it is ready when the
 * configuration is read; asked for the TCP peer of every request a policy
 * with a TLS requirement judges, and for each "for" of a Forwarded field.
 */
#include <string.h>
#include <arpa/inet.h>

#include "upreq_nets.h"

/* ::ffff:0:0/96, where the IPv4 addresses are */
static const upreq_addr upreq_mapped_low = { 0, 0x0000ffff00000000ULL };
static const upreq_addr upreq_mapped_high = { 0, 0x0000ffffffffffffULL };

static uint64_t upreq_be64(const unsigned char *b)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++) {
        v = (v << 8) | b[i];
    }
    return v;
}

static upreq_addr upreq_addr_of_ipv6(const unsigned char b[16])
{
    upreq_addr a;

    a.hi = upreq_be64(b);
    a.lo = upreq_be64(b + 8);
    return a;
}

static upreq_addr upreq_addr_of_ipv4(const unsigned char b[4])
{
    upreq_addr a;

    a.hi = 0;
    a.lo = upreq_mapped_low.lo | ((uint64_t)b[0] << 24)
           | ((uint64_t)b[1] << 16) | ((uint64_t)b[2] << 8) | b[3];
    return a;
}

static int upreq_addr_lt(upreq_addr a, upreq_addr b)
{
    return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
}

/* low <= high + 1: a range that ends at high and one that starts at low
 * overlap or touch, and make one */
static int upreq_addr_reaches(upreq_addr high, upreq_addr low)
{
    if (!upreq_addr_lt(high, low)) {
        return 1;
    }
    /* high < low: high is not the last address, high + 1 does not wrap */
    return low.lo == high.lo + 1 && low.hi == high.hi + (low.lo == 0);
}

/* a - 1 and a + 1, for a that is not the first or last address */
static upreq_addr upreq_addr_pred(upreq_addr a)
{
    a.hi -= (a.lo == 0);
    a.lo -= 1;
    return a;
}

static upreq_addr upreq_addr_succ(upreq_addr a)
{
    a.lo += 1;
    a.hi += (a.lo == 0);
    return a;
}

/* the leading n bits of 64 set, 0 <= n <= 64 */
static uint64_t upreq_mask64(int n)
{
    return n <= 0 ? 0 : n >= 64 ? UINT64_MAX : ~(UINT64_MAX >> n);
}

/* decimal digits, at least one, as apr_ipsubnet_create() reads them; -1
 * for anything else or more than max */
static int upreq_prefix_of(const char *bits, int max)
{
    int n = 0;

    if (*bits == '\0') {
        return -1;
    }
    for (; *bits; bits++) {
        if (*bits < '0' || *bits > '9') {
            return -1;
        }
        n = n * 10 + (*bits - '0');
        if (n > max) {
            return -1;
        }
    }
    return n;
}

int upreq_net_parse(const char *ip, const char *bits,
                    upreq_range net[UPREQ_NET_RANGES])
{
    unsigned char b[16];
    upreq_addr a, m;
    int max, prefix, n = 0;

    if (ip == NULL) {
        return 0;
    }
    if (inet_pton(AF_INET, ip, b) == 1) {
        a = upreq_addr_of_ipv4(b);
        max = 32;
    }
    else if (inet_pton(AF_INET6, ip, b) == 1) {
        a = upreq_addr_of_ipv6(b);
        /* apr_ipsubnet_create() refuses an IPv4-mapped address */
        if (!upreq_addr_lt(a, upreq_mapped_low)
            && !upreq_addr_lt(upreq_mapped_high, a)) {
            return 0;
        }
        max = 128;
    }
    else {
        return 0;
    }
    prefix = bits ? upreq_prefix_of(bits, max) : max;
    if (prefix < 1) {           /* APR: 1 to 32 or 128 bits */
        return 0;
    }
    prefix += 128 - max;        /* an IPv4 prefix within ::ffff:0:0/96 */
    m.hi = upreq_mask64(prefix);
    m.lo = upreq_mask64(prefix - 64);
    net[0].low.hi = a.hi & m.hi;
    net[0].low.lo = a.lo & m.lo;
    net[0].high.hi = a.hi | ~m.hi;
    net[0].high.lo = a.lo | ~m.lo;
    if (max == 32 || upreq_addr_lt(net[0].high, upreq_mapped_low)
        || upreq_addr_lt(upreq_mapped_high, net[0].low)) {
        return 1;
    }
    /* an IPv6 network around the IPv4 addresses: what lies either side */
    a = net[0].high;
    if (upreq_addr_lt(net[0].low, upreq_mapped_low)) {
        net[n].low = net[0].low;
        net[n++].high = upreq_addr_pred(upreq_mapped_low);
    }
    if (upreq_addr_lt(upreq_mapped_high, a)) {
        net[n].low = upreq_addr_succ(upreq_mapped_high);
        net[n++].high = a;
    }
    return n;
}

void upreq_nets_add(upreq_nets *set, const upreq_range *net)
{
    upreq_range m = *net;
    unsigned int i = 0, j;

    /* the ranges that end before m starts, with a gap, stay before it */
    while (i < set->count && !upreq_addr_reaches(set->range[i].high, m.low)) {
        i++;
    }
    /* those that start before m ends, or right after, become part of it */
    for (j = i; j < set->count
                && upreq_addr_reaches(m.high, set->range[j].low); j++) {
        if (upreq_addr_lt(set->range[j].low, m.low)) {
            m.low = set->range[j].low;
        }
        if (upreq_addr_lt(m.high, set->range[j].high)) {
            m.high = set->range[j].high;
        }
    }
    memmove(set->range + i + 1, set->range + j,
            (set->count - j) * sizeof(*set->range));
    set->range[i] = m;
    set->count = set->count - (j - i) + 1;
}

/* binary search: the last range that starts at or before a */
static int upreq_nets_has(const upreq_nets *set, upreq_addr a)
{
    const upreq_range *r;
    unsigned int lo = 0, hi, mid;

    if (set == NULL) {
        return 0;
    }
    r = set->range;
    hi = set->count;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (upreq_addr_lt(a, r[mid].low)) {
            hi = mid;
        }
        else {
            lo = mid + 1;
        }
    }
    return lo > 0 && !upreq_addr_lt(r[lo - 1].high, a);
}

int upreq_nets_has_ipv6(const upreq_nets *set, const unsigned char a[16])
{
    return upreq_nets_has(set, upreq_addr_of_ipv6(a));
}

int upreq_nets_has_ipv4(const upreq_nets *set, const unsigned char a[4])
{
    return upreq_nets_has(set, upreq_addr_of_ipv4(a));
}

int upreq_nets_has_ip(const upreq_nets *set, const char *ip)
{
    unsigned char b[16];

    if (set == NULL || set->count == 0 || ip == NULL) {
        return 0;
    }
    if (inet_pton(AF_INET, ip, b) == 1) {
        return upreq_nets_has_ipv4(set, b);
    }
    if (inet_pton(AF_INET6, ip, b) == 1) {
        return upreq_nets_has_ipv6(set, b);
    }
    return 0;
}
