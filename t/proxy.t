use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use Apache::TestUtil qw(t_start_error_log_watch t_finish_error_log_watch);
use lib 't/lib';
use UpReq qw(hostport raw send_raw parse_response field fields conf_test curl);
use UpReqProxy qw(ipv6_reason free_port start_httpd stop_daemon);

# Trusted proxies (UpgradeRequiredTrustedProxy, UpgradeRequiredProxyHeader,
# UpgradeRequiredProxyTLS).  Clients connect from loopback addresses:
# 127.0.0.2 is the trusted load balancer of t/conf/proxy.conf.in,
# 127.0.0.3 an untrusted client.

my $TLS12 = 'TLS/1.2, HTTP/1.1';
my $TLS13 = 'TLS/1.3, HTTP/1.1';
my $LB = '127.0.0.2';
my $EVIL = '127.0.0.3';
my $CLIENT = 'for=198.51.100.1';   # a client: never a trusted proxy

# [vhost, path, source address, [header lines], status, Upgrade, name];
# an Upgrade of undef means: no Upgrade field at all
my @cases;
sub case { push @cases, [@_] }
sub fwd { return map { "Forwarded: $_" } @_ }
sub xfp { return map { "X-Forwarded-Proto: $_" } @_ }

# --- the TCP peer decides whether the headers are read at all
case('upreq_proxy', '/tls/', $LB, [xfp('https')], 200, undef,
     'trusted peer (IPv4 address), X-Forwarded-Proto https');
case('upreq_proxy', '/tls/', $LB, [fwd('proto=https')], 200, undef,
     'trusted peer, Forwarded proto=https');
case('upreq_proxy', '/tls/', $LB, [], 426, $TLS12,
     'trusted peer without a protocol header');
case('upreq_proxy', '/tls/', $EVIL, [xfp('https')], 426, $TLS12,
     'spoofed X-Forwarded-Proto from an untrusted peer');
case('upreq_proxy', '/tls/', $EVIL, [fwd('proto=https')], 426, $TLS12,
     'spoofed Forwarded from an untrusted peer');
case('upreq_proxy', '/tls/', $EVIL, [fwd('proto=https'), xfp('https')],
     426, $TLS12, 'spoofed Forwarded and X-Forwarded-Proto');
case('upreq_proxy', '/tls/', '127.0.0.1', [xfp('https')], 426, $TLS12,
     'an address next to the trusted one is not trusted');
case('upreq_proxy', '/index.html', $EVIL, [xfp('http')], 200, undef,
     'no policy: the headers change nothing');
case('upreq_proxy_cidr', '/tls/', $EVIL, [xfp('https')], 200, undef,
     'trusted peer inside an IPv4 network (127.0.0.0/30)');
case('upreq_proxy_cidr', '/tls/', '127.0.0.1', [xfp('https')], 200, undef,
     'another peer inside 127.0.0.0/30');
case('upreq_proxy_cidr', '/tls/', '127.0.0.4', [xfp('https')], 426, $TLS12,
     'peer just outside 127.0.0.0/30');

# --- X-Forwarded-Proto: the last value counts
for (['https', 200], ['HTTPS', 200], ['wss', 200], ['WsS', 200],
     [' https ', 200], ['http', 426], ['ws', 426], ['https, http', 426],
     ['http, https', 200], ['http,https', 200], ['https,', 426],
     ['"https"', 426], ['https;q=1', 426], ['httpsx', 426], ['', 426],
     ['ftps', 426]) {
    my ($v, $st) = @$_;
    case('upreq_proxy', '/tls/', $LB, [xfp($v)], $st,
         $st == 426 ? $TLS12 : undef, "X-Forwarded-Proto '$v'");
}
case('upreq_proxy', '/tls/', $LB, [xfp('https'), xfp('http')], 426,
     $TLS12, 'X-Forwarded-Proto https then http in two fields');
case('upreq_proxy', '/tls/', $LB, [xfp('http'), xfp('https')], 200,
     undef, 'X-Forwarded-Proto http then https in two fields');

# --- Forwarded (RFC 7239)
my @fwd_ok = (
    'proto=https', 'proto=HTTPS', 'proto=wss', 'proto="https"',
    'PROTO=https', 'Proto=https;FOR=198.51.100.1',
    "$CLIENT;proto=https", "$CLIENT;by=127.0.0.1;proto=https;host=a.example",
    'proto="http\s"',                                  # quoted-pair
    "$CLIENT;host=\"a,b;c=d\";proto=https",            # , and ; quoted
    ', proto=https,,',                                 # empty elements
    'proto=https;', "$CLIENT;;proto=https",            # empty pairs
    # walking from the right over trusted "for" values
    "$CLIENT;proto=https, for=127.0.0.2;proto=http",
    "$CLIENT;proto=https, for=\"127.0.0.2:8080\";proto=http",
    "$CLIENT;proto=https, for=10.1.200.3;proto=http",            # CIDR
    "$CLIENT;proto=https, for=\"[::1]:4711\";proto=http",        # IPv6
    "$CLIENT;proto=https, for=\"[::1]\";proto=http",
    "$CLIENT;proto=https, For=\"[2001:DB8:cafe::17]\";proto=http", # v6 CIDR
    "$CLIENT;proto=https, for=192.0.2.7;proto=http, for=127.0.0.2",
    'for=127.0.0.2;proto=http, for=5.6.7.8;proto=https',
    'for=1.2.3.4;proto=http, for=5.6.7.8;proto=https',
    "for=unknown;proto=https",
);
for my $v (@fwd_ok) {
    case('upreq_proxy', '/tls/', $LB, [fwd($v)], 200, undef,
         "Forwarded: $v");
}
my @fwd_refused = (
    'proto=http', 'proto=ws', 'proto=HTTP', $CLIENT, 'by=127.0.0.1',
    'proto=""', 'proto="https "', 'proto=https2',
    # the client's own element, left of the first untrusted "for"
    'for=1.2.3.4;proto=https, for=5.6.7.8;proto=http',
    "$CLIENT;proto=https, for=10.2.0.1;proto=http",       # outside CIDR
    "$CLIENT;proto=https, for=\"[2001:db9::1]\";proto=http",
    "$CLIENT;proto=https, for=\"::1\";proto=http",        # needs [ ]
    "$CLIENT;proto=https, for=unknown;proto=http",
    "$CLIENT;proto=https, for=_hidden;proto=http",
    "$CLIENT;proto=https, for=\"127.0.0.2\";proto=http, for=5.6.7.8",
    # an element without "for" ends the walk, even one without pairs
    "$CLIENT;proto=https, ;", "$CLIENT;proto=https, ;;",
    "$CLIENT;proto=https, proto=http",
    # every element comes from a trusted proxy: nobody says
    'for=127.0.0.2;proto=https, for=10.1.2.3;proto=https',
    'for=127.0.0.2;proto=https',
    # malformed fields
    'proto=https;proto=https', 'proto=https;PROTO=https',
    'for=1.2.3.4;for=5.6.7.8;proto=https',
    'proto = https', 'proto =https', 'proto=https garbage',
    'proto="https', 'proto=', '=https', 'proto', 'proto=https;x',
    'for=[::1];proto=https', 'for=1.2.3.4:80;proto=https',
    "$CLIENT;proto=https, for=\"1.2.3.4",
    "proto=ht\tps", 'proto=https,=', 'proto=https;;;x', '', ',', ' , ,',
    ';',
);
for my $v (@fwd_refused) {
    (my $name = $v) =~ s/([\x00-\x1f])/sprintf('\\x%02x', ord $1)/ge;
    case('upreq_proxy', '/tls/', $LB, [fwd($v)], 426, $TLS12,
         "Forwarded: $name");
}
# one list across repeated fields
case('upreq_proxy', '/tls/', $LB,
     [fwd("$CLIENT;proto=https", 'for=127.0.0.2;proto=http')], 200, undef,
     'Forwarded in two fields: client https, then a trusted proxy');
case('upreq_proxy', '/tls/', $LB,
     [fwd("$CLIENT;proto=http", 'for=127.0.0.2;proto=https')], 426, $TLS12,
     'Forwarded in two fields: client http, then a trusted proxy');
case('upreq_proxy', '/tls/', $LB,
     [fwd('for=1.2.3.4;proto=https', 'for=5.6.7.8;proto=http')], 426,
     $TLS12, 'Forwarded in two fields: only the last element counts');

# --- both headers (the default, and named on two lines): both must say TLS
for my $vh ('upreq_proxy', 'upreq_proxy_both') {
    case($vh, '/tls/', $LB, [fwd('proto=https'), xfp('https')], 200, undef,
         "$vh: Forwarded and X-Forwarded-Proto say https");
    case($vh, '/tls/', $LB, [fwd('proto=https'), xfp('http')], 426, $TLS12,
         "$vh: Forwarded https, X-Forwarded-Proto http");
    case($vh, '/tls/', $LB, [fwd('proto=http'), xfp('https')], 426, $TLS12,
         "$vh: Forwarded http, X-Forwarded-Proto https");
    case($vh, '/tls/', $LB, [fwd('proto=https;'), xfp('https')], 200, undef,
         "$vh: Forwarded with an empty pair, X-Forwarded-Proto https");
    case($vh, '/tls/', $LB, [fwd('proto=https x'), xfp('https')], 426,
         $TLS12, "$vh: Forwarded malformed, X-Forwarded-Proto https");
    case($vh, '/tls/', $LB, [xfp('https')], 200, undef,
         "$vh: only X-Forwarded-Proto, https");
}

# --- UpgradeRequiredProxyHeader names one header: the other is ignored
case('upreq_proxy_fwd', '/tls/', $LB, [fwd('proto=https'), xfp('http')],
     200, undef, 'Forwarded only: X-Forwarded-Proto http is ignored');
case('upreq_proxy_fwd', '/tls/', $LB, [xfp('https')], 426, $TLS12,
     'Forwarded only: X-Forwarded-Proto https is ignored');
case('upreq_proxy_fwd', '/tls/', $LB, [fwd('proto=http'), xfp('https')],
     426, $TLS12, 'Forwarded only: Forwarded http decides');
case('upreq_proxy_fwd', '/tls/', $LB,
     [fwd("$CLIENT;proto=https, for=10.1.0.9;proto=http")], 200, undef,
     'Forwarded only: trusted network in "for"');
case('upreq_proxy_fwd', '/tls/', $EVIL, [fwd('proto=https')], 426, $TLS12,
     'Forwarded only: untrusted peer');
case('upreq_proxy_xfp', '/tls/', $LB, [xfp('https'), fwd('proto=http')],
     200, undef, 'X-Forwarded-Proto only: Forwarded http is ignored');
case('upreq_proxy_xfp', '/tls/', $LB, [fwd('proto=https')], 426, $TLS12,
     'X-Forwarded-Proto only: Forwarded https is ignored');
case('upreq_proxy_xfp', '/tls/', $LB, [xfp('http'), fwd('proto=https')],
     426, $TLS12, 'X-Forwarded-Proto only: X-Forwarded-Proto http decides');
case('upreq_proxy_xfp', '/tls/', $EVIL, [xfp('https')], 426, $TLS12,
     'X-Forwarded-Proto only: untrusted peer');

# --- TLS versions through a proxy
case('upreq_proxy', '/tls13/', $LB, [xfp('https')], 426, $TLS13,
     'TLS/1.3 through a proxy: refused by default');
case('upreq_proxy', '/tls13/', $LB, [fwd('proto=https'), xfp('https')],
     426, $TLS13, 'TLS/1.3 through a proxy, both headers: refused');
case('upreq_proxy_tlsok', '/tls13/', $LB, [xfp('https')], 200, undef,
     'TLS/1.3 through a proxy with UpgradeRequiredProxyTLS On');
case('upreq_proxy_tlsok', '/tls13/', $LB, [fwd('proto=https')], 200, undef,
     'TLS/1.3 through a proxy (Forwarded) with UpgradeRequiredProxyTLS On');
case('upreq_proxy_tlsok', '/tls13/', $LB, [xfp('http')], 426, $TLS13,
     'UpgradeRequiredProxyTLS On: the proxy says http');
case('upreq_proxy_tlsok', '/tls13/', $EVIL, [xfp('https')], 426, $TLS13,
     'UpgradeRequiredProxyTLS On: untrusted peer');

# --- HTTP versions are the proxy's (RFC 9112 §2.3)
case('upreq_proxy', '/tls-h11/', $LB, [xfp('https')], 200, undef,
     'TLS and HTTP/1.1 through a proxy over HTTP/1.1');
case('upreq_proxy', '/tls-h11/', $LB, [xfp('https')], 426, 'HTTP/1.1',
     'TLS met through a proxy, its HTTP/1.0 is not', 'HTTP/1.0');
case('upreq_proxy', '/tls-h11/', $LB, [xfp('http')], 426, $TLS12,
     'neither met through a proxy', 'HTTP/1.0');

my @conf_errors = (
    ['UpgradeRequiredTrustedProxy not-an-ip',
     q{UpgradeRequiredTrustedProxy: 'not-an-ip' is not an IPv4 or IPv6 address}],
    ['UpgradeRequiredTrustedProxy proxy.example.com',
     q{'proxy.example.com' is not an IPv4 or IPv6 address (host names are not accepted)}],
    ['UpgradeRequiredTrustedProxy localhost',
     q{'localhost' is not an IPv4 or IPv6 address}],
    ['UpgradeRequiredTrustedProxy 127.0.0.1 10.0.0.0/99',
     q{UpgradeRequiredTrustedProxy: '10.0.0.0/99' is not a valid address or network}],
    ['UpgradeRequiredTrustedProxy 0.0.0.0/0',
     q{UpgradeRequiredTrustedProxy: '0.0.0.0/0' is not a valid address or network}],
    ['UpgradeRequiredTrustedProxy ::1/129',
     q{UpgradeRequiredTrustedProxy: '::1/129' is not a valid address or network}],
    ['UpgradeRequiredTrustedProxy 10.0.0.0/',
     q{UpgradeRequiredTrustedProxy: '10.0.0.0/' has a bad prefix length}],
    ['UpgradeRequiredTrustedProxy 10.0.0.0/8x',
     q{UpgradeRequiredTrustedProxy: '10.0.0.0/8x' has a bad prefix length}],
    ['UpgradeRequiredTrustedProxy 10.0.0.0/255.0.0.0',
     q{UpgradeRequiredTrustedProxy: '10.0.0.0/255.0.0.0' has a bad prefix length}],
    ['UpgradeRequiredTrustedProxy 10.1',
     q{UpgradeRequiredTrustedProxy: '10.1' is not an IPv4 or IPv6 address}],
    ['UpgradeRequiredTrustedProxy /8',
     q{UpgradeRequiredTrustedProxy: '/8' is not an IPv4 or IPv6 address}],
    ['UpgradeRequiredTrustedProxy [::1]',
     q{UpgradeRequiredTrustedProxy: '[::1]' is not an IPv4 or IPv6 address}],
    ['UpgradeRequiredProxyHeader X-Forwarded-For',
     q{UpgradeRequiredProxyHeader: unknown header 'X-Forwarded-For' (expected Forwarded or X-Forwarded-Proto)}],
    ['UpgradeRequiredProxyHeader Forwarded Via',
     q{UpgradeRequiredProxyHeader: unknown header 'Via'}],
    ['UpgradeRequiredProxyTLS maybe',
     q{UpgradeRequiredProxyTLS must be On or Off}],
    ["<Location /x>\nUpgradeRequiredTrustedProxy 127.0.0.1\n</Location>",
     q{UpgradeRequiredTrustedProxy not allowed in <Location> context}],
    ["<Location /x>\nUpgradeRequiredProxyHeader Forwarded\n</Location>",
     q{UpgradeRequiredProxyHeader not allowed in <Location> context}],
    ["<Location /x>\nUpgradeRequiredProxyTLS On\n</Location>",
     q{UpgradeRequiredProxyTLS not allowed in <Location> context}],
);
my $conf_ok = "UpgradeRequiredTrustedProxy 10.0.0.0/8 192.0.2.1 ::1 "
    . "fd00::/8 2001:DB8::1/128 0.0.0.0/1 128.0.0.0/1\n"
    . "UpgradeRequiredProxyHeader x-forwarded-proto FORWARDED\n"
    . "UpgradeRequiredProxyTLS on\n";

my $v6_reason = ipv6_reason();

plan tests => 3 * @cases + 2 * @conf_errors + 2 + 6 + 4 + 6 + 10 + 10 + 15,
    need_module 'upgrade_required', 'mod_ssl', 'mod_remoteip',
    'mod_headers';

# --- the cases above
for my $c (@cases) {
    my ($vhost, $path, $from, $hdrs, $status, $upgrade, $name, $ver) = @$c;
    $ver ||= 'HTTP/1.1';
    my $req = "GET $path $ver\r\nHost: proxy.example\r\n"
        . join('', map { "$_\r\n" } @$hdrs) . "Connection: close\r\n\r\n";
    my $r = parse_response(raw($vhost, $req, local => $from));
    ok t_cmp($r->{status}, $status, "$name: status");
    my @up = fields($r, 'Upgrade');
    ok t_cmp(scalar(@up) <= 1 ? $up[0] : "@up", $upgrade,
             "$name: Upgrade");
    if ($status == 426) {
        ok t_cmp(field($r, 'Connection'), qr/^(?:.*,\s*)?Upgrade(?:,.*)?$/i,
                 "$name: Connection lists Upgrade");
    }
    else {
        ok t_cmp($r->{body}, qr/^(?:ok |hello)/, "$name: the document is served");
    }
}

# --- configuration errors
for my $e (@conf_errors) {
    my ($line, $msg) = @$e;
    my ($rc, $out) = conf_test($line);
    (my $short = $line) =~ s/\n/ /g;
    ok t_cmp($rc, 1, "configtest fails: $short");
    ok t_cmp(index($out, $msg) >= 0 ? $msg : $out, $msg,
             "message for: $short");
}
{
    my ($rc, $out) = conf_test($conf_ok);
    ok t_cmp("$rc " . ($out =~ /^Syntax OK$/m ? 'Syntax OK' : $out),
             '0 Syntax OK', 'valid proxy settings pass');
    my $example = Apache::Test::vars('t_dir')
        . '/../conf/examples/load-balancer.conf';
    ($rc, $out) = conf_test("Include \"$example\"");
    ok t_cmp("$rc " . ($out =~ /^Syntax OK$/m ? 'Syntax OK' : $out),
             '0 Syntax OK', 'conf/examples/load-balancer.conf passes');
}

# --- mod_remoteip rewrites the client address, not the TCP peer
{
    my $req = sub {
        my ($xff, $xfp) = @_;
        return "GET /tls/ HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: $xff\r\n"
            . "X-Forwarded-Proto: $xfp\r\nConnection: close\r\n\r\n";
    };
    my $r = parse_response(raw('upreq_proxy_remoteip',
                               $req->('127.0.0.2', 'https'), local => $EVIL));
    ok t_cmp(field($r, 'X-Seen-Client'), '127.0.0.2',
             'mod_remoteip took the address from X-Forwarded-For');
    ok t_cmp($r->{status}, 426,
             'X-Forwarded-For naming a trusted proxy does not make the '
             . 'peer trusted');
    ok t_cmp(field($r, 'Upgrade'), $TLS12, '... Upgrade');

    $r = parse_response(raw('upreq_proxy_remoteip',
                            $req->('203.0.113.9', 'https'), local => $LB));
    ok t_cmp(field($r, 'X-Seen-Client'), '203.0.113.9',
             'mod_remoteip: the client is 203.0.113.9');
    ok t_cmp($r->{status}, 200, 'the TCP peer 127.0.0.2 is trusted');

    $r = parse_response(raw('upreq_proxy_remoteip',
                            $req->('127.0.0.2', 'http'), local => $LB));
    ok t_cmp($r->{status}, 426, 'trusted peer, http');
}

# --- PROXY protocol: the client address it carries is not the TCP peer
{
    my $req = sub {
        my ($src, $xfp) = @_;
        return "PROXY TCP4 $src 127.0.0.1 40000 80\r\n"
            . "GET /tls/ HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: $xfp\r\n"
            . "Connection: close\r\n\r\n";
    };
    my $r = parse_response(raw('upreq_proxy_pp',
                               $req->('198.51.100.7', 'https'), local => $LB));
    ok t_cmp(field($r, 'X-Seen-Client'), '198.51.100.7',
             'PROXY protocol: the client is 198.51.100.7');
    ok t_cmp($r->{status}, 200,
             'PROXY protocol from the trusted 127.0.0.2: 200');
    $r = parse_response(raw('upreq_proxy_pp',
                            $req->('127.0.0.2', 'https'), local => $EVIL));
    ok t_cmp(field($r, 'X-Seen-Client'), '127.0.0.2',
             'PROXY protocol: an untrusted peer claims 127.0.0.2');
    ok t_cmp($r->{status}, 426, '... still untrusted: 426');
}

# --- HTTP/2 streams: the peer of the connection that carries them
{
    my $url = 'http://' . hostport('upreq_proxy_h2') . '/h2/';
    my $h2 = sub {
        my ($from) = @_;
        my $r = curl('--http2-prior-knowledge', '--interface', $from,
                     '-H', 'X-Forwarded-Proto: https', $url);
        return $r->{status_line} =~ m{^HTTP/(\S+) (\d{3})} ? "$1 $2"
                                                            : $r->{all};
    };
    ok t_cmp($h2->($LB), '2 200',
             'HTTP/2 from a trusted proxy that says https: 200');
    ok t_cmp($h2->($EVIL), '2 426', 'HTTP/2 from an untrusted peer: 426');
    my $get = sub {
        my ($from) = @_;
        return parse_response(raw('upreq_proxy_h2',
            "GET /h2/ HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: https\r\n"
            . "Connection: close\r\n\r\n", local => $from));
    };
    my $r = $get->($LB);
    ok t_cmp($r->{status}, 426, 'HTTP/1.1 from a trusted proxy: 426');
    ok t_cmp(field($r, 'Upgrade'), 'h2c',
             '... TLS is met, HTTP/2 is offered as h2c');
    $r = $get->($EVIL);
    ok t_cmp($r->{status}, 426, 'HTTP/1.1 from an untrusted peer: 426');
    ok t_cmp(field($r, 'Upgrade'), 'TLS/1.2, HTTP/1.1, HTTP/2.0',
             '... neither is met');
}

# --- a TLS listener: TLS passthrough and re-encrypting proxies
{
    my ($host, $port) = split /:/, hostport('upreq_proxy_ssl');
    my $get = sub {
        my ($path, $from, $version, @hdrs) = @_;
        my $req = "GET $path HTTP/1.1\r\nHost: x\r\n"
            . join('', map { "$_\r\n" } @hdrs) . "Connection: close\r\n\r\n";
        return parse_response(send_raw($host, $port, $req, local => $from,
                                      tls => 1, version => $version));
    };
    my $r = $get->('/tls/', $EVIL, undef);
    ok t_cmp($r->{status}, 200, 'TLS from an untrusted peer');
    $r = $get->('/tls/', $EVIL, undef, xfp('http'));
    ok t_cmp($r->{status}, 200,
             'TLS from an untrusted peer: its X-Forwarded-Proto is ignored');
    $r = $get->('/tls/', $LB, undef);
    ok t_cmp($r->{status}, 200,
             'TLS from a trusted peer without headers (passthrough)');
    $r = $get->('/tls13/', $LB, 'TLSv1_3');
    ok t_cmp($r->{status}, 200, 'passthrough: TLS 1.3 is the client\'s own');
    $r = $get->('/tls13/', $LB, 'TLSv1_2');
    ok t_cmp($r->{status}, 426, 'passthrough: TLS 1.2 is too old');
    $r = $get->('/tls/', $LB, undef, xfp('http'));
    ok t_cmp($r->{status}, 426,
             'TLS from a trusted proxy that says the client used http');
    ok t_cmp(field($r, 'Upgrade'), $TLS12, '... Upgrade');
    ok t_cmp($r->{body}, qr{only available over a secure \(TLS\) connection\. Please use <a href="https://proxy-ssl\.example/tls/">},
             '... the page sends the client to https, whatever this hop is');
    ok t_cmp($r->{body} =~ /TLS 1\.-|this connection uses/ ? 'version' : '',
             '', '... and speaks of no TLS version');
    $r = $get->('/tls/', $LB, undef, fwd("$CLIENT;proto=http"));
    ok t_cmp($r->{status}, 426, '... and Forwarded proto=http');
    $r = $get->('/tls/', $LB, undef, xfp('https'));
    ok t_cmp($r->{status}, 200, 'TLS from a trusted proxy that says https');
    $r = $get->('/tls13/', $LB, 'TLSv1_3', xfp('https'));
    ok t_cmp($r->{status}, 426,
             're-encrypting proxy: the client\'s TLS version is unknown');
    ok t_cmp($r->{body}, qr{requires TLS 1\.3 or newer; this connection uses an unknown version\.},
             '... the page says the version is not known, not this hop\'s');
}

# --- the debug log names the peer and the header that decided
{
    my $get = sub {
        my ($from, $path, @hdrs) = @_;
        t_start_error_log_watch();
        my $r = parse_response(raw('upreq_proxy',
            "GET $path HTTP/1.1\r\nHost: x\r\n"
            . join('', map { "$_\r\n" } @hdrs)
            . "Connection: close\r\n\r\n", local => $from));
        my @lines = grep { /UPREQ00[34]:/ } t_finish_error_log_watch();
        return ($r, join('', @lines));
    };
    my ($r, $log) = $get->($LB, '/tls/', xfp('https'));
    ok t_cmp($log, qr/UPREQ003: .*peer 127\.0\.0\.2 \(trusted proxy\).*X-Forwarded-Proto says https/,
             'UPREQ003 names the trusted peer and X-Forwarded-Proto');
    ($r, $log) = $get->($LB, '/tls/', fwd('proto=https'), xfp('https'));
    ok t_cmp($log, qr/UPREQ003: .*peer 127\.0\.0\.2 \(trusted proxy\).*Forwarded and X-Forwarded-Proto say https/,
             'UPREQ003 names both headers');
    ($r, $log) = $get->($LB, '/tls/', fwd('proto=http'), xfp('https'));
    ok t_cmp($log, qr/UPREQ004: .*peer 127\.0\.0\.2 \(trusted proxy\).*Forwarded does not say https/,
             'UPREQ004 names the trusted peer and Forwarded');
    ($r, $log) = $get->($LB, '/tls/', fwd('proto=https'), xfp('http'));
    ok t_cmp($log, qr/UPREQ004: .*X-Forwarded-Proto does not say https/,
             'UPREQ004 names X-Forwarded-Proto');
    ($r, $log) = $get->($LB, '/tls/', fwd('proto=https x'));
    ok t_cmp($log, qr/UPREQ004: .*Forwarded is malformed/,
             'UPREQ004: a malformed Forwarded');
    ($r, $log) = $get->($LB, '/tls/', fwd('for=127.0.0.2;proto=https'));
    ok t_cmp($log, qr/UPREQ004: .*every Forwarded element comes from a trusted proxy/,
             'UPREQ004: Forwarded names only trusted proxies');
    ($r, $log) = $get->($LB, '/tls/');
    ok t_cmp($log, qr/UPREQ004: .*peer 127\.0\.0\.2 \(trusted proxy\).*sent no protocol header/,
             'UPREQ004: a trusted peer without headers');
    ($r, $log) = $get->($EVIL, '/tls/', xfp('https'));
    ok t_cmp($log, qr/UPREQ004: .*peer 127\.0\.0\.3 .*not a trusted proxy/,
             'UPREQ004 names the untrusted peer');
    ($r, $log) = $get->($LB, '/tls13/', xfp('https'));
    ok t_cmp($log, qr/UPREQ004: .*UpgradeRequiredProxyTLS Off/,
             'UPREQ004: TLS version unknown behind the proxy');
    ($r, $log) = $get->($LB, '/tls/', fwd('proto=https;zzmarker="<x>"'),
                        xfp('zzmarker'));
    ok t_cmp($log =~ /zzmarker/ ? 'logged' : 'not logged', 'not logged',
             'header values are not logged');
}

# --- a server of our own: the main server's list, and IPv6 peers
{
    my @ports = map { free_port('127.0.0.1') } 1 .. 3;
    my @v6 = $v6_reason ? () : map { free_port('::1') } 1 .. 3;
    my $at = sub {
        my ($i) = @_;
        return "127.0.0.1:$ports[$i]" . (@v6 ? " [::1]:$v6[$i]" : '');
    };
    my $listen = join('', map { "Listen $_\n" } map { split / / }
                      map { $at->($_) } 0 .. 2);
    my $conf = <<"EOC";
$listen
LogLevel warn upgrade_required:debug
DocumentRoot "@{[ Apache::Test::vars('documentroot') ]}"
# the main server's list; a virtual host's own list replaces it
UpgradeRequiredTrustedProxy 127.0.0.2 ::1
<Location /tls>
    UpgradeRequired TLS
</Location>
<VirtualHost @{[ $at->(0) ]}>
    ServerName inherits.example
</VirtualHost>
<VirtualHost @{[ $at->(1) ]}>
    ServerName own.example
    UpgradeRequiredTrustedProxy 127.0.0.4
    UpgradeRequiredTrustedProxy ::/127
</VirtualHost>
<VirtualHost @{[ $at->(2) ]}>
    ServerName elsewhere.example
    UpgradeRequiredTrustedProxy fd00::/8 ::2 127.0.0.5/32
</VirtualHost>
EOC
    my $d = eval {
        start_httpd('proxy_main', $conf,
                    [(map { ['127.0.0.1', $_] } @ports),
                     (map { ['::1', $_] } @v6)]);
    };
    my $err = $@;
    my $get = sub {
        my ($host, $port, $from, @hdrs) = @_;
        my $req = "GET /tls/ HTTP/1.1\r\nHost: x\r\n"
            . join('', map { "$_\r\n" } @hdrs) . "Connection: close\r\n\r\n";
        my $r = eval { parse_response(send_raw($host, $port, $req,
                                              local => $from)) };
        return $r ? $r->{status} : "no response: $@";
    };
    ok t_cmp($err, '', 'a second httpd starts');
    ok t_cmp($get->('127.0.0.1', $ports[0], $LB, xfp('https')), 200,
             'main server list: 127.0.0.2 trusted in a vhost without one');
    ok t_cmp($get->('127.0.0.1', $ports[0], $EVIL, xfp('https')), 426,
             'main server list: 127.0.0.3 not trusted');
    ok t_cmp($get->('127.0.0.1', $ports[1], $LB, xfp('https')), 426,
             'a vhost\'s list replaces the main server\'s');
    ok t_cmp($get->('127.0.0.1', $ports[1], '127.0.0.4', xfp('https')), 200,
             'the vhost\'s own address is trusted');
    ok t_cmp($get->('127.0.0.1', $ports[2], '127.0.0.5', xfp('https')), 200,
             'a /32 network');
    if ($v6_reason) {
        skip("IPv6 loopback unavailable: $v6_reason") for 1 .. 6;
    }
    else {
        ok t_cmp($get->('::1', $v6[0], '::1', xfp('https')), 200,
                 'IPv6 peer ::1 trusted by address');
        ok t_cmp($get->('::1', $v6[0], '::1'), 426,
                 'IPv6 trusted peer without headers');
        ok t_cmp($get->('::1', $v6[1], '::1', fwd('proto=https')), 200,
                 'IPv6 peer ::1 trusted through ::/127');
        ok t_cmp($get->('::1', $v6[2], '::1', xfp('https')), 426,
                 'IPv6 peer ::1 outside fd00::/8 and ::2');
        ok t_cmp($get->('::1', $v6[2], '::1', fwd('proto=https')), 426,
                 '... Forwarded ignored too');
        ok t_cmp($get->('::1', $v6[0], '::1',
                        fwd("$CLIENT;proto=https, for=\"[::1]:4711\"")),
                 200, 'IPv6 peer, Forwarded steps over for="[::1]:4711"');
    }
    stop_daemon($d) if $d;
}
