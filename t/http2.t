# UpgradeRequired HTTP/2: HTTP/1.1 refused with "Upgrade: h2c" where the
# server's Protocols offer h2c on cleartext, "HTTP/2.0" elsewhere, never
# "h2"; HTTP/2 (prior knowledge, TLS, a switched h2c upgrade) served; an
# h2c upgrade that httpd does not switch is refused, not served over 1.1.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil qw(t_start_error_log_watch t_finish_error_log_watch);
use lib 't/lib';
use UpReq qw(raw raw_tls parse_response fields field curl hostport status
             is_426_fields h2_served $NO_H2 httpd_version httpd_at_least);

plan tests => 99, need_module 'upgrade_required', 'mod_ssl', 'mod_http2';

sub get {
    my ($vhost, $target, %o) = @_;
    my $req = sprintf "%s %s %s\r\n%s\r\n%s", $o{method} || 'GET', $target,
        $o{proto} || 'HTTP/1.1',
        $o{headers} // "Host: x\r\nConnection: close\r\n", $o{body} // '';
    my $bytes = $o{tls} ? raw_tls($vhost, $req) : raw($vhost, $req);
    return parse_response($bytes);
}

sub is_426 {
    my ($r, $upgrade, $connection, $name) = @_;
    is_426_fields($r, $upgrade, $connection, $name);
    is_deeply [fields($r, 'Content-Length')], [length $r->{body}],
        "$name: Content-Length is the body length";
    if ($name =~ /over TLS/) {
        like $r->{body}, qr{only\ available\ over\ HTTP/2\.\ Please\ repeat
                            \ the\ request\ with\ an\ HTTP/2\ client}x,
            "$name: page asks for HTTP/2";
        return;
    }
    # over cleartext a person is sent to https (browsers speak HTTP/2 over
    # TLS only), and API clients are still told of HTTP/2 and h2c
    like $r->{body}, qr{only\ available\ over\ HTTP/2\.\ Browsers\ use
                        \ HTTP/2\ over\ TLS\ only:\ please\ use
                        \ <a\ href="https://[^"/]+/h2/">https://[^<]+</a>
                        \ instead\.\ Other\ clients\ may\ repeat\ the
                        \ request\ with\ HTTP/2
                        \Q${\($upgrade eq 'h2c'
                              ? ' (h2c: an Upgrade to h2c, or prior knowledge)'
                              : '')}\E\.</p>}x,
        "$name: page sends people to https, tells clients of HTTP/2";
}

my $H2 = h2_served();

# an h2c upgrade offer (RFC 7540 3.2); "close" keeps the raw read short
# when it is refused
my $SETTINGS = 'AAMAAABkAARAAAAAAAIAAAAA';
my $H2C = "Host: x\r\nUpgrade: h2c\r\nHTTP2-Settings: $SETTINGS\r\n"
        . "Connection: Upgrade, HTTP2-Settings, close\r\n";

# --- HTTP/1.1 refused ----------------------------------------------------
my $r = get('upreq_plain', '/h2/');
is_426($r, 'h2c', 'Upgrade, close', 'plain HTTP/1.1, Protocols with h2c');

$r = parse_response(raw('upreq_plain', "GET /h2/ HTTP/1.1\r\nHost: x\r\n\r\n"
    . "GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
is_426($r, 'h2c', 'Upgrade', 'plain HTTP/1.1 keep-alive');

$r = get('upreq_plain', '/h2/', proto => 'HTTP/1.0', headers => '');
is_426($r, 'h2c', 'Upgrade, close', 'plain HTTP/1.0');

$r = get('core_noh2c', '/h2/');
is_426($r, 'HTTP/2.0', 'Upgrade, close', 'plain, Protocols without h2c');

$r = get('upreq_ssl13', '/h2/', tls => 1);
is_426($r, 'HTTP/2.0', 'Upgrade, close', 'HTTP/1.1 over TLS');
unlike $r->{head}, qr/\bh2c?\b/, 'over TLS: neither h2 nor h2c offered';

# --- HTTP/2 served -------------------------------------------------------
my $plain = hostport('upreq_plain');
SKIP: {
    skip $NO_H2, 12 unless $H2;
    $r = curl('--http2-prior-knowledge', "http://$plain/h2/");
    like $r->{status_line}, qr{^HTTP/2 }, 'h2c prior knowledge';
    is status($r), 200, 'prior knowledge: 200';
    is $r->{body}, "ok h2\n", 'prior knowledge: the document';

    $r = curl('--http2', 'https://' . hostport('upreq_ssl13') . '/h2/');
    like $r->{status_line}, qr{^HTTP/2 }, 'h2 over TLS';
    is status($r), 200, 'HTTP/2 over TLS: 200';
    is $r->{body}, "ok h2\n", 'HTTP/2 over TLS: the document';

    # a valid h2c upgrade is let through, httpd switches, the stream is served
    $r = curl('--http2', "http://$plain/h2/");
    like $r->{all}, qr{\AHTTP/1\.1 101 Switching Protocols\r?\n}, 'h2c: 101';
    like $r->{all}, qr{^Upgrade: h2c\r?$}m, 'h2c: 101 names h2c';
    like $r->{status_line}, qr{^HTTP/2 }, 'h2c: then HTTP/2';
    is status($r), 200, 'h2c upgrade: 200 over HTTP/2';
    is $r->{body}, "ok h2\n", 'h2c upgrade: the document';
    unlike $r->{all}, qr{ 426 }, 'h2c upgrade: no 426 anywhere';
}

# --- h2c upgrade requests that are refused ---------------------------------
# H2Upgrade off: httpd does not switch, the request is not served over 1.1
my $off = hostport('core_h2upoff');
$r = curl('--http2', "http://$off/h2/");
unlike $r->{all}, qr{ 101 }, 'H2Upgrade off: no 101';
is status($r), 426, 'H2Upgrade off, curl --http2: 426';
unlike $r->{body}, qr/ok core h2/, 'H2Upgrade off: document not served';

$r = get('core_h2upoff', '/h2/', headers => $H2C);
is_426($r, 'h2c', 'Upgrade, close', 'H2Upgrade off, raw h2c offer');
$r = get('core_h2upoff', '/h2/');
is_426($r, 'h2c', 'Upgrade, close', 'H2Upgrade off, plain HTTP/1.1');
SKIP: {
    skip $NO_H2, 1 unless $H2;
    $r = curl('--http2-prior-knowledge', "http://$off/h2/");
    is status($r), 200, 'H2Upgrade off, prior knowledge: 200';
}

# the debug log tells a refusal up front from a let-through offer that
# httpd did not switch
sub log_of {
    my ($code) = @_;
    t_start_error_log_watch();
    my $res = $code->();
    return ($res, join '', grep { /UPREQ00/ } t_finish_error_log_watch());
}
my $log;
($r, $log) = log_of(sub { get('core_h2upoff', '/h2/', headers => $H2C) });
like $log, qr{UPREQ004: refusing}, 'H2Upgrade off: refused up front';
unlike $log, qr{let through}, 'H2Upgrade off: the offer is not let through';

# ... so the 426 comes before access control's 401
$r = curl('--http2', "http://$off/h2/auth/");
is status($r), 426, 'H2Upgrade off, location with Basic auth: 426';
is_deeply [fields($r, 'WWW-Authenticate')], [], 'no credentials invited';

# H2Upgrade off in a <Directory>: the offer looks switchable after the
# Location walk, is let through, and refused when httpd does not switch
my $late = hostport('core_plain');
SKIP: {
    skip $NO_H2, 9 unless $H2;
    skip 'httpd ' . httpd_version() . ' allows H2Upgrade only per server'
        . ' (per directory since 2.4.39)', 9 unless httpd_at_least('2.4.39');
    ($r, $log) = log_of(sub { curl('--http2', "http://$late/h2/late-off/") });
    unlike $r->{all}, qr{ 101 }, 'H2Upgrade off per directory: no 101';
    is status($r), 426, 'H2Upgrade off per directory: 426';
    is_deeply [fields($r, 'Upgrade')], ['h2c'], 'per directory: Upgrade: h2c';
    is_deeply [fields($r, 'Connection')], ['Upgrade'],
        'per directory: one Connection: Upgrade';
    unlike $r->{body}, qr/ok core/, 'per directory: document not served';
    # the final configuration says H2Upgrade off: no offer is let through
    like $log, qr{UPREQ004: refusing},
        'per directory: refused up front on the final configuration';
    unlike $log, qr{let through|not switched},
        'per directory: the offer is not let through';
    $r = curl('--http2', "http://$late/h2/");
    is status($r), 200, 'same vhost elsewhere: the h2c upgrade is switched';
    like $r->{all}, qr{\AHTTP/1\.1 101 }, 'same vhost elsewhere: 101';
}

# an offer with a body is refused up front (mod_http2 declines to switch
# such a request)
($r, $log) = log_of(sub { curl('--http2', '-d', 'a=b', "http://$plain/h2/") });
unlike $r->{all}, qr{ 101 }, 'h2c offer with body: no 101';
is status($r), 426, 'h2c offer with body (curl): 426';
like $log, qr{UPREQ004: refusing}, 'h2c offer with body: refused up front';
unlike $log, qr{let through|not switched},
    'h2c offer with body: not let through';
$r = get('upreq_plain', '/h2/', method => 'POST', body => 'a=b',
         headers => $H2C . "Content-Length: 3\r\n"
                  . "Content-Type: application/x-www-form-urlencoded\r\n");
is_426($r, 'h2c', 'Upgrade, close', 'h2c offer with Content-Length body');
$r = get('upreq_plain', '/h2/', method => 'POST',
         body => "3\r\na=b\r\n0\r\n\r\n",
         headers => $H2C . "Transfer-Encoding: chunked\r\n");
is_426($r, 'h2c', 'Upgrade, close', 'h2c offer with chunked body');

# incomplete offers are plain HTTP/1.1 requests
(my $no_settings = $H2C) =~ s/HTTP2-Settings: \S+\r\n//;
$r = get('upreq_plain', '/h2/', headers => $no_settings);
is_426($r, 'h2c', 'Upgrade, close', 'h2c offer without HTTP2-Settings');
(my $no_conn = $H2C) =~ s/Connection: [^\r]+/Connection: close/;
$r = get('upreq_plain', '/h2/', headers => $no_conn);
is_426($r, 'h2c', 'Upgrade, close', 'h2c offer without Connection: Upgrade');
# on a server without h2c, or over TLS, the offer is not one httpd can take
$r = get('core_noh2c', '/h2/', headers => $H2C);
is_426($r, 'HTTP/2.0', 'Upgrade, close', 'h2c offer, Protocols without h2c');
$r = get('upreq_ssl13', '/h2/', headers => $H2C, tls => 1);
is_426($r, 'HTTP/2.0', 'Upgrade, close', 'h2c offer over TLS');
