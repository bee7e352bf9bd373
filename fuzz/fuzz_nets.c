/* fuzz_nets.c - upreq_net_parse(), upreq_nets_add() and the look-ups of
 * upreq_nets.c (UpgradeRequiredTrustedProxy)
 *
 * The input is words separated by blanks, commas or new lines.  A word
 * "+ADDRESS[/BITS]" is a network to add, any other word an address to look
 * up.  A reference written for clarity keeps the networks as a list of
 * (family, address, prefix) and tests each the way apr_ipsubnet_test()
 * does: an IPv4 or IPv4-mapped IPv6 address against the IPv4 networks
 * only, any other IPv6 address against the IPv6 networks only.  Checked:
 *   - a network parses exactly when apr_ipsubnet_create() would take it;
 *   - the set stays sorted, disjoint and without adjacent ranges;
 *   - every word looked up, the first and last address of every network
 *     and their neighbours (as 16 and as 4 bytes), and 16-byte windows of
 *     the raw input get the reference's answer.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "fuzz.h"
#include "upreq_nets.h"

#define MAX_NETS 64

typedef struct {
    int v4;                     /* an IPv4 network: addr[12..15] */
    unsigned char addr[16];     /* IPv4 as ::ffff:a.b.c.d */
    int prefix;                 /* of the 32 or 128 bits */
} ref_net;

static ref_net nets[MAX_NETS];
static int nnets;

static int ref_mapped(const unsigned char a[16])
{
    static const unsigned char pre[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                           0xff, 0xff };

    return memcmp(a, pre, 12) == 0;
}

/* the first n bits of a and b are equal */
static int ref_same_bits(const unsigned char *a, const unsigned char *b,
                         int n)
{
    int i;

    for (i = 0; i < n; i++) {
        int bit = 0x80 >> (i % 8);

        if ((a[i / 8] & bit) != (b[i / 8] & bit)) {
            return 0;
        }
    }
    return 1;
}

/* as apr_ipsubnet_create(ip, bits) would take it, or 0 */
static int ref_parse(const char *ip, const char *bits, ref_net *n)
{
    long v;
    char *end;

    memset(n, 0, sizeof(*n));
    if (inet_pton(AF_INET, ip, n->addr + 12) == 1) {
        n->v4 = 1;
        n->addr[10] = n->addr[11] = 0xff;
    }
    else if (inet_pton(AF_INET6, ip, n->addr) != 1 || ref_mapped(n->addr)) {
        return 0;
    }
    n->prefix = n->v4 ? 32 : 128;
    if (bits) {
        if (*bits < '0' || *bits > '9') {
            return 0;
        }
        v = strtol(bits, &end, 10);
        if (*end != '\0' || v < 1 || v > n->prefix) {
            return 0;
        }
        n->prefix = (int)v;
    }
    return 1;
}

/* apr_ipsubnet_test() over every network */
static int ref_has(const unsigned char a[16])
{
    int i, v4 = ref_mapped(a);

    for (i = 0; i < nnets; i++) {
        if (nets[i].v4 == v4
            && ref_same_bits(a + (v4 ? 12 : 0),
                             nets[i].addr + (v4 ? 12 : 0), nets[i].prefix)) {
            return 1;
        }
    }
    return 0;
}

static int addr_lt(upreq_addr a, upreq_addr b)
{
    return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
}

static void check_set(const upreq_nets *s, const char *in)
{
    unsigned int i;

    FUZZ_CHECK(s->count <= s->room, "count within room", in);
    for (i = 0; i < s->count; i++) {
        FUZZ_CHECK(!addr_lt(s->range[i].high, s->range[i].low),
                   "low <= high", in);
        if (i > 0) {
            upreq_addr next = s->range[i - 1].high;

            next.lo++;
            next.hi += (next.lo == 0);
            FUZZ_CHECK(addr_lt(next, s->range[i].low),
                       "sorted, disjoint, not adjacent", in);
        }
    }
}

/* a and its neighbours, as 16 bytes and, if IPv4, as 4 */
static void check_around(const upreq_nets *s, const unsigned char a[16],
                         const char *in)
{
    unsigned char b[16];
    int d, k;

    for (d = -1; d <= 1; d++) {
        memcpy(b, a, 16);
        for (k = 15; d != 0 && k >= 0; k--) {   /* b += d, wrapping */
            b[k] = (unsigned char)(b[k] + d);
            if (b[k] != (d > 0 ? 0x00 : 0xff)) {
                break;
            }
        }
        FUZZ_CHECK(upreq_nets_has_ipv6(s, b) == ref_has(b),
                   "16-byte look-up", in);
        if (ref_mapped(b)) {
            FUZZ_CHECK(upreq_nets_has_ipv4(s, b + 12) == ref_has(b),
                       "4-byte look-up", in);
        }
    }
}

static void check_edges(const upreq_nets *s, const ref_net *n,
                        const char *in)
{
    unsigned char lo[16], hi[16];
    int off = n->v4 ? 96 : 0, i;

    memcpy(lo, n->addr, 16);
    memcpy(hi, n->addr, 16);
    for (i = off + n->prefix; i < 128; i++) {
        lo[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
        hi[i / 8] |= (unsigned char)(0x80 >> (i % 8));
    }
    check_around(s, lo, in);
    check_around(s, hi, in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_cstr(data, size);
    char *copy = fuzz_cstr(data, size);
    upreq_range room[MAX_NETS * UPREQ_NET_RANGES], r[UPREQ_NET_RANGES];
    upreq_nets s = { room, 0, MAX_NETS * UPREQ_NET_RANGES };
    unsigned char a[16];
    char *w, *save = NULL, *bits;
    ref_net n;
    int i, k, got;
    size_t off;

    nnets = 0;
    FUZZ_CHECK(upreq_nets_has_ip(NULL, "127.0.0.1") == 0, "NULL set", in);
    FUZZ_CHECK(upreq_nets_has_ip(&s, NULL) == 0, "NULL address", in);
    /* the networks first, then every look-up against the whole set */
    for (w = strtok_r(copy, " \t\r\n,", &save); w;
         w = strtok_r(NULL, " \t\r\n,", &save)) {
        if (w[0] != '+' || nnets == MAX_NETS) {
            continue;
        }
        w++;
        bits = strchr(w, '/');
        if (bits) {
            *bits++ = '\0';
        }
        got = upreq_net_parse(w, bits, r);
        FUZZ_CHECK((got > 0) == ref_parse(w, bits, &n), "parses", in);
        FUZZ_CHECK(got >= 0 && got <= UPREQ_NET_RANGES, "ranges", in);
        for (k = 0; k < got; k++) {
            upreq_nets_add(&s, &r[k]);
        }
        if (got > 0) {
            nets[nnets++] = n;
        }
        check_set(&s, in);
    }
    free(copy);
    copy = fuzz_cstr(data, size);
    for (w = strtok_r(copy, " \t\r\n,", &save); w;
         w = strtok_r(NULL, " \t\r\n,", &save)) {
        if (w[0] == '+') {
            continue;
        }
        memset(a, 0, sizeof(a));
        if (inet_pton(AF_INET, w, a + 12) == 1) {
            a[10] = a[11] = 0xff;
        }
        else if (inet_pton(AF_INET6, w, a) != 1) {
            FUZZ_CHECK(upreq_nets_has_ip(&s, w) == 0, "not an address", in);
            continue;
        }
        FUZZ_CHECK(upreq_nets_has_ip(&s, w) == ref_has(a), "look-up", in);
    }
    for (i = 0; i < nnets; i++) {
        check_edges(&s, &nets[i], in);
    }
    for (off = 0; off + 16 <= size && off < 16 * 16; off += 16) {
        check_around(&s, data + off, in);
    }
    free(copy);
    free(in);
    return 0;
}
