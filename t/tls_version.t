# UpgradeRequired TLS/1.x: the negotiated TLS version against the minimum,
# over HTTP/1.1 (raw TLS with a pinned version, and a TLS-1.2-only vhost),
# over plain HTTP, and over HTTP/2 on TLS 1.2.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use lib 't/lib';
use UpReq qw(raw raw_tls parse_response fields field curl hostport status
             is_426_fields h2_served $NO_H2);

plan tests => 49, need_module 'upgrade_required', 'mod_ssl', 'mod_http2';

my $TLS13 = 'TLS/1.3, HTTP/1.1';

my $H2 = h2_served();

sub get {
    my ($vhost, $target, %o) = @_;
    my $req = "GET $target HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    my $bytes = $o{tls} ? raw_tls($vhost, $req, version => $o{tls_version})
                        : raw($vhost, $req);
    return parse_response($bytes);
}

sub is_426 {
    my ($r, $upgrade, $name) = @_;
    is_426_fields($r, $upgrade, 'Upgrade, close', $name);
    is_deeply [fields($r, 'Content-Length')], [length $r->{body}],
        "$name: Content-Length is the body length";
}

sub served {
    my ($r, $body, $name) = @_;
    is status($r), 200, "$name: 200";
    is $r->{body}, $body, "$name: the document";
    ok !grep({ /TLS/i } fields($r, 'Upgrade')), "$name: no TLS upgrade";
}

# --- TLS/1.3 location, TLS 1.2 connection ------------------------------
my $r = get('upreq_ssl13', '/tls13/', tls => 1, tls_version => 'TLSv1_2');
is_426($r, $TLS13, 'TLS 1.2 to TLS/1.3 location');
like $r->{body}, qr{requires TLS 1\.3 or newer; this connection uses TLSv1\.2},
    'page names the required and the negotiated version';
unlike $r->{body}, qr{https://}, 'no https link on a TLS connection';

$r = get('upreq_ssl12', '/tls13/', tls => 1);
is_426($r, $TLS13, 'TLS-1.2-only vhost');
like $r->{body}, qr{this connection uses TLSv1\.2}, 'page names TLSv1.2';

# --- met ------------------------------------------------------------------
$r = get('upreq_ssl13', '/tls13/', tls => 1, tls_version => 'TLSv1_3');
served($r, "ok tls13\n", 'TLS 1.3 to TLS/1.3 location');
$r = get('upreq_ssl13', '/tls13/', tls => 1);
served($r, "ok tls13\n", 'negotiated (1.3) to TLS/1.3 location');
$r = get('upreq_ssl13', '/tls12/', tls => 1, tls_version => 'TLSv1_2');
served($r, "ok tls12\n", 'TLS 1.2 to TLS/1.2 location');
$r = get('upreq_ssl13', '/tls12/', tls => 1, tls_version => 'TLSv1_3');
served($r, "ok tls12\n", 'TLS 1.3 to TLS/1.2 location (newer is fine)');
$r = get('upreq_ssl12', '/tls12/', tls => 1);
served($r, "ok tls12\n", 'TLS-1.2-only vhost, TLS/1.2 location');
$r = get('upreq_ssl12', '/tls/', tls => 1);
served($r, "ok tls\n", 'bare TLS accepts TLS 1.2');

# --- plain HTTP to a versioned location ---------------------------------
$r = get('upreq_plain', '/tls13/?v=1');
is_426($r, $TLS13, 'plain to TLS/1.3 location');
like $r->{body},
    qr{using\ TLS\ 1\.3\ or\ newer\.\ Please\ use
       \ <a\ href="https://plain\.example/tls13/\?v=1">}x,
    'page: TLS 1.3 and the https link';

# --- HTTP/2 on TLS 1.2 ------------------------------------------------------
SKIP: {
    skip $NO_H2, 15 unless $H2;
    my @h2_12 = ('--http2', '--tlsv1.2', '--tls-max', '1.2');
    for my $vh (qw(upreq_ssl13 upreq_ssl12)) {
        my $hp = hostport($vh);
        $r = curl(@h2_12, "https://$hp/tls13/");
        like $r->{status_line}, qr{^HTTP/2 }, "$vh: HTTP/2 on TLS 1.2";
        is status($r), 426, "$vh: HTTP/2, TLS 1.2 to TLS/1.3 location: 426";
        is_deeply [fields($r, 'Upgrade')], [], "$vh: HTTP/2: no upgrade field";
        is_deeply [fields($r, 'Connection')], [],
            "$vh: HTTP/2: no connection field";
        like $r->{body}, qr{this connection uses TLSv1\.2},
            "$vh: HTTP/2: page names TLSv1.2";
        is_deeply [fields($r, 'Content-Length')], [length $r->{body}],
            "$vh: HTTP/2: content-length is the body length";
    }

    my $hp = hostport('upreq_ssl13');
    $r = curl('--http2', '--tlsv1.3', "https://$hp/tls13/");
    like $r->{status_line}, qr{^HTTP/2 }, 'HTTP/2 on TLS 1.3';
    is status($r), 200, 'HTTP/2, TLS 1.3 to TLS/1.3 location: 200';
    $r = curl(@h2_12, "https://$hp/tls12/");
    is status($r), 200, 'HTTP/2, TLS 1.2 to TLS/1.2 location: 200';
}
