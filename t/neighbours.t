# Neighbours of mod_upgrade_required (t/conf/neighbours.conf.in):
#   - a real WebSocket backend behind mod_proxy, with a websocket-only
#     policy in front: RFC 6455 clients over ws:// and wss://, RFC 8441
#     clients over HTTP/2 (H2WebSockets on), plain GETs refused;
#   - mod_md managing md.example (static certificate, MDRequireHttps
#     permanent) beside a TLS policy: who answers a cleartext request, and
#     /.well-known/acme-challenge/ stays reachable;
#   - mod_remoteip rewriting the client address (X-Forwarded-For and the
#     PROXY protocol): the trusted-proxy decision uses the TCP peer.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use File::Path qw(make_path remove_tree);
use lib 't/lib';
use UpReq qw(hostport raw raw_tls parse_response fields field curl
             httpd_version httpd_at_least);
use UpReqWS qw(python conf_define mpm start_ws_backend stop_ws_backend
               ws_client h2_ws_client);

plan tests => 49, need_module 'upgrade_required', 'mod_ssl', 'proxy_http',
    'remoteip', 'headers';

my $WS_HEADERS = 'Upgrade: websocket|Connection: Upgrade|'
               . 'Sec-WebSocket-Version: 13';

sub get {
    my ($host, $path, %o) = @_;
    my $extra = $o{headers} || '';
    return "GET $path HTTP/1.1\r\nHost: $host\r\n${extra}"
         . "Connection: close\r\n\r\n";
}

# ------------------------------------------------------------ WebSocket
# Plain GETs never reach the proxy: exact 426 on ws:// and wss:// vhosts.
for my $case (['upreq_nb_ws', '/wsx/echo', \&raw, 'plain'],
              ['upreq_nb_ws', '/wsh/echo', \&raw, 'plain, http:// worker'],
              ['upreq_nb_wsssl', '/wsx/echo', \&raw_tls, 'TLS']) {
    my ($vhost, $path, $send, $what) = @$case;
    my $r = parse_response($send->($vhost, get('ws.example', $path)));
    is $r->{status}, 426, "$what GET $path: 426";
    is_deeply [fields($r, 'Upgrade')], ['websocket'],
        "$what GET $path: one Upgrade: websocket";
    is_deeply [fields($r, 'Connection')], ['Upgrade, close'],
        "$what GET $path: one Connection: Upgrade, close";
    is_deeply [fields($r, 'Sec-WebSocket-Version')], ['13'],
        "$what GET $path: one Sec-WebSocket-Version: 13";
}
# a handshake of another version is refused the same way
{
    my $r = parse_response(raw('upreq_nb_ws', get('ws.example', '/wsx/echo',
        headers => "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 . "Sec-WebSocket-Version: 8\r\n")));
    is $r->{status}, 426, 'a handshake of version 8: 426';
    is field($r, 'Sec-WebSocket-Version'), '13',
        'Sec-WebSocket-Version: 13 asked for';
}

my $ws_port = conf_define('UPREQ_WS_PORT');
SKIP: {
    skip 'python3 with websockets (python3-websockets) not found', 7
        unless python('websockets');
    my $pid = eval { start_ws_backend($ws_port) };
    ok $pid, "WebSocket echo backend on port $ws_port" or diag $@;
    skip 'no backend', 6 unless $pid;

    my $ws = 'ws://' . hostport('upreq_nb_ws');
    my $wss = 'wss://' . hostport('upreq_nb_wsssl');
    my ($rc, $out) = ws_client("$ws/wsx/echo", 'hello', '?path', '?headers');
    is_deeply [$rc, $out], [0, ['hello', '/echo', $WS_HEADERS]],
        'ws:// through ProxyPass ws:// upgrade=websocket: echo';
    SKIP: {
        # (mod_proxy_wstunnel's ws:// workers tunnel on every version)
        skip 'httpd ' . httpd_version() . "'s mod_proxy_http does not tunnel"
            . ' upgrades (upgrade= on http:// workers since 2.4.47)', 1
            unless httpd_at_least('2.4.47');
        ($rc, $out) = ws_client("$ws/wsh/echo", 'hello', '?headers');
        is_deeply [$rc, $out], [0, ['hello', $WS_HEADERS]],
            'ws:// through ProxyPass http:// upgrade=websocket: echo';
    }
    ($rc, $out) = ws_client("$wss/wsx/echo", 'hello', '?path');
    is_deeply [$rc, $out], [0, ['hello', '/echo']], 'wss://: echo';
    ($rc, $out) = ws_client("$ws/wst/echo", 'hello');
    is_deeply [$rc, $out],
        [3, ['HTTP 426', 'Upgrade: TLS/1.2, HTTP/1.1',
             'Sec-WebSocket-Version: -']],
        'ws:// at a TLS+websocket location: the client sees 426, TLS';
    ($rc, $out) = ws_client("$wss/wst/echo", 'hello');
    is_deeply [$rc, $out], [0, ['hello']],
        'wss:// at a TLS+websocket location: echo';

    # RFC 8441: mod_http2 turns an extended CONNECT into a WebSocket GET
    # for the policy and the proxy alike.  No packaged command-line client
    # speaks it (nghttp sends :protocol after the regular fields, curl not
    # at all), so t/bin/h2_ws_client.py does, on python3-h2.
    SKIP: {
        skip 'mod_http2 does not serve HTTP/2 under mpm_prefork', 1
            if mpm() eq 'prefork';
        skip 'mod_http2 not loaded', 1 unless need_module('http2');
        skip 'httpd ' . httpd_version() . ' has no H2WebSockets (RFC 8441'
            . ' in mod_http2 since 2.4.58)', 1
            unless httpd_at_least('2.4.58');
        skip 'python3 with h2 (python3-h2) not found', 1
            unless python('h2');
        my @got;
        for my $c (['h2', 'upreq_nb_wsssl', '/wsx/echo'],
                   ['h2', 'upreq_nb_wsssl', '/wst/echo'],
                   ['h2c', 'upreq_nb_ws', '/wsx/echo'],
                   ['h2c', 'upreq_nb_ws', '/wst/echo']) {
            my ($mode, $vhost, $path) = @$c;
            my ($rc, $out) = h2_ws_client($mode, hostport($vhost), $path,
                                          'hello', '?headers');
            # a refusal over HTTP/2: status and body, no Upgrade/Connection
            $out = [grep { !/^(?:date|server|content-length):/ } @$out];
            push @got, "$mode $path: rc=$rc " . join '|', @$out;
        }
        is_deeply \@got, [
            "h2 /wsx/echo: rc=0 hello|$WS_HEADERS",
            "h2 /wst/echo: rc=0 hello|$WS_HEADERS",
            "h2c /wsx/echo: rc=0 hello|$WS_HEADERS",
            'h2c /wst/echo: rc=3 HTTP 426|'
                . 'content-type: text/html; charset=iso-8859-1',
        ], 'RFC 8441 over h2 and h2c: echo where the policy is met, '
         . '426 without Upgrade where TLS is missing';
    }
    stop_ws_backend($pid);
}

# an HTTP/2 GET without the extended CONNECT: 426, only the version field
SKIP: {
    skip 'mod_http2 does not serve HTTP/2 under mpm_prefork', 3
        if mpm() eq 'prefork';
    skip 'mod_http2 not loaded', 3 unless need_module('http2');
    my $r = curl('--http2', 'https://' . hostport('upreq_nb_wsssl')
                 . '/wsx/echo');
    like $r->{status_line}, qr{^HTTP/2 426\b}, 'HTTP/2 GET /wsx/echo: 426';
    is_deeply [fields($r, 'Upgrade'), fields($r, 'Connection')], [],
        'HTTP/2: no Upgrade, no Connection';
    is field($r, 'Sec-WebSocket-Version'), '13',
        'HTTP/2: Sec-WebSocket-Version: 13';
}

# ---------------------------------------------------------------- mod_md
# mod_md's MDRequireHttps acts in post_read_request, before the module's
# decision (header_parser): for its own domain a cleartext request is
# redirected, never refused.  It leaves all of /.well-known/ alone; there
# the policy applies, except to ACME challenges.
SKIP: {
    skip 'mod_md not loaded', 19 unless need_module('md');
    skip 'httpd ' . httpd_version() . "'s mod_md has no static certificates"
        . ' (MDCertificateFile, mod_md 2 in httpd 2.4.41)', 19
        unless httpd_at_least('2.4.41');
    # md(METHOD, PATH[, HOST[, BODY]]) over plain HTTP/1.1
    my $md = sub {
        my ($method, $path, $host, $body) = @_;
        $host ||= 'md.example';
        my $req = "$method $path HTTP/1.1\r\nHost: $host\r\n";
        $req .= 'Content-Length: ' . length($body)
              . "\r\nContent-Type: text/plain\r\n" if defined $body;
        $req .= "Connection: close\r\n\r\n" . (defined $body ? $body : '');
        return parse_response(raw('upreq_nb_md', $req));
    };
    my $r = $md->(GET => '/?a=b');
    is $r->{status}, 301, 'md.example GET / over plain: 301 from mod_md';
    is field($r, 'Location'), 'https://md.example/?a=b', 'Location https';
    is field($r, 'Upgrade'), undef, 'no Upgrade field';
    $r = $md->(POST => '/form', undef, 'abc');
    is $r->{status}, 308, 'md.example POST over plain: 308 from mod_md';
    is field($r, 'Location'), 'https://md.example/form', 'Location https';

    $r = $md->(GET => '/', 'other.example');
    is $r->{status}, 426, 'a name mod_md does not manage: 426';
    is field($r, 'Upgrade'), 'TLS/1.2, HTTP/1.1', 'Upgrade TLS';

    $r = $md->(GET => '/.well-known/security.txt');
    is $r->{status}, 426,
        '/.well-known/security.txt: 426 (mod_md skips all of /.well-known/)';
    is field($r, 'Upgrade'), 'TLS/1.2, HTTP/1.1', 'Upgrade TLS';

    # no challenge pending: mod_md declines (it renews nothing here), the
    # module exempts the path, the core answers 404
    my $acme = '/.well-known/acme-challenge/tok1';
    $r = $md->(GET => $acme);
    is $r->{status}, 404, 'ACME challenge, none pending: 404';
    is field($r, 'Upgrade'), undef, 'no Upgrade field';

    # a pending challenge in mod_md's store: mod_md answers it itself
    my $dir = Apache::Test::vars('t_logs') . '/md/challenges/md.example';
    make_path($dir);
    chmod 0755, $dir;
    my $file = "$dir/acme-http-01.txt";
    open my $fh, '>', $file or die "$file: $!";
    print $fh 'tok1.key-thumbprint';
    close $fh;
    chmod 0644, $file;
    $r = $md->(GET => $acme);
    is $r->{status}, 200, 'ACME challenge pending: 200 from mod_md';
    is $r->{body}, 'tok1.key-thumbprint', 'the challenge answer';
    $r = $md->(POST => $acme, undef, 'x');
    is $r->{status}, 501, 'POST to a pending challenge: 501 from mod_md';
    $r = $md->(GET => $acme, 'other.example');
    is $r->{status}, 404, 'the same path for another name: 404';
    remove_tree($dir);

    # the TLS side: the policy is met, mod_md adds HSTS
    $r = parse_response(raw_tls('upreq_nb_mdssl',
        "GET / HTTP/1.1\r\nHost: md.example\r\nConnection: close\r\n\r\n"));
    is $r->{status}, 200, 'md.example over TLS: 200';
    is field($r, 'Strict-Transport-Security'), 'max-age=15768000',
        'HSTS from MDRequireHttps permanent';
    $r = parse_response(raw_tls('upreq_nb_mdssl',
        "GET / HTTP/1.1\r\nHost: md.example\r\nConnection: close\r\n\r\n",
        version => 'TLSv1_2'));
    is $r->{status}, 200, 'md.example over TLS 1.2: 200';

    # mod_md never needed the network: nothing above contacted a CA, and
    # it logged no error
    open my $log, '<', Apache::Test::vars('t_logs') . '/error_log' or die $!;
    my @md_errors = grep { /\[md:(?:error|crit|alert|emerg)\]/ } <$log>;
    close $log;
    is_deeply \@md_errors, [], 'no error from mod_md in the error log';
}

# ---------------------------------------------------------- mod_remoteip
# mod_remoteip believes 127.0.0.0/8 and rewrites the client address; the
# module trusts proxy headers only from the TCP peer 127.0.0.2.
my $xfp = "X-Forwarded-Proto: https\r\n";
my @remoteip = (
    ['127.0.0.1', "X-Forwarded-For: 127.0.0.2\r\n$xfp", 426, '127.0.0.2',
     'peer 127.0.0.1 claiming 127.0.0.2 in X-Forwarded-For'],
    ['127.0.0.2', "X-Forwarded-For: 192.0.2.7\r\n$xfp", 200, '192.0.2.7',
     'peer 127.0.0.2 for client 192.0.2.7'],
    ['127.0.0.2', "X-Forwarded-For: 192.0.2.7\r\n", 426, '192.0.2.7',
     'peer 127.0.0.2 without X-Forwarded-Proto'],
    ['127.0.0.2', "X-Forwarded-For: 192.0.2.7\r\n"
                . "Forwarded: for=192.0.2.7;proto=https\r\n", 200,
     '192.0.2.7', 'peer 127.0.0.2 with Forwarded proto=https'],
);
for my $c (@remoteip) {
    my ($peer, $headers, $status, $ua, $what) = @$c;
    my $r = parse_response(raw('upreq_nb_remoteip',
        get('rip.example', '/', headers => $headers), local => $peer));
    is_deeply [$r->{status}, field($r, 'X-Useragent-IP'),
               field($r, 'X-Peer-IP')], [$status, $ua, $peer],
        "$what: $status (client address $ua)";
}
my $hp = hostport('upreq_nb_proxyproto');
my ($pport) = $hp =~ /:(\d+)$/;
for my $c (['127.0.0.2', '192.0.2.7', 200, 'peer 127.0.0.2 (trusted)'],
           ['127.0.0.1', '127.0.0.2', 426,
            'peer 127.0.0.1 with a PROXY line naming 127.0.0.2']) {
    my ($peer, $src, $status, $what) = @$c;
    my $r = parse_response(raw('upreq_nb_proxyproto',
        "PROXY TCP4 $src 127.0.0.1 40000 $pport\r\n"
      . get('pp.example', '/', headers => $xfp), local => $peer));
    is_deeply [$r->{status}, field($r, 'X-Useragent-IP'),
               field($r, 'X-Peer-IP')], [$status, $src, $peer],
        "PROXY protocol, $what: $status";
}
