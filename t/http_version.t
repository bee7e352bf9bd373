# UpgradeRequired HTTP/1.1, combined with TLS, and UpgradeRequiredHeader:
# HTTP/1.0 refused with "Upgrade: HTTP/1.1", HTTP/1.1 and HTTP/2 served,
# one token list without duplicates for several failed requirements, and
# a configured Upgrade value in place of the derived one.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use lib 't/lib';
use UpReq qw(raw raw_tls parse_response fields field curl hostport status
             is_426_fields h2_served $NO_H2);

plan tests => 62, need_module 'upgrade_required', 'mod_ssl', 'mod_http2';


# one request on its own connection; HTTP/1.0 without Host
sub get {
    my ($vhost, $target, %o) = @_;
    my $proto = $o{proto} || 'HTTP/1.1';
    my $hdrs = $o{headers}
        // ($proto eq 'HTTP/1.0' ? '' : "Host: x\r\nConnection: close\r\n");
    my $req = "GET $target $proto\r\n$hdrs\r\n";
    my $bytes = $o{tls} ? raw_tls($vhost, $req) : raw($vhost, $req);
    return parse_response($bytes);
}

sub is_426 {
    my ($r, $upgrade, $connection, $name) = @_;
    is_426_fields($r, $upgrade, $connection, $name);
    is_deeply [fields($r, 'Content-Length')], [length $r->{body}],
        "$name: Content-Length is the body length";
}

# the second response of a connection: core announces Protocols only on
# the first, so any Upgrade here would be the module's
sub second_on_connection {
    my ($vhost, $req) = @_;
    my $first = parse_response(raw($vhost,
        "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n$req"));
    is status($first), 200, 'first request of the connection: 200';
    return parse_response($first->{rest});
}

my $H2 = h2_served();

my $H11_TEXT = qr{requires\ HTTP/1\.1\ or\ newer\.
                  \ Please\ repeat\ the\ request\ with\ HTTP/1\.1\.}x;

# --- UpgradeRequired HTTP/1.1 ----------------------------------------------
my $r = get('upreq_plain', '/h11/', proto => 'HTTP/1.0');
is_426($r, 'HTTP/1.1', 'Upgrade, close', 'HTTP/1.0 to HTTP/1.1 location');
like $r->{body}, $H11_TEXT, 'page asks for HTTP/1.1';
unlike $r->{body}, qr/TLS|https:|websocket/i, 'page: nothing about TLS';
is field($r, 'Content-Type'), 'text/html; charset=iso-8859-1', 'text/html';

# HTTP/1.0 keep-alive: httpd's Keep-Alive merged into the one field
$r = parse_response(raw('upreq_plain',
    "GET /h11/ HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
    . "GET /index.html HTTP/1.0\r\n\r\n"));
is_426($r, 'HTTP/1.1', 'Upgrade, Keep-Alive', 'HTTP/1.0 keep-alive');
like field($r, 'Keep-Alive'), qr/^timeout=\d+/, 'Keep-Alive parameters';
is status(parse_response($r->{rest})), 200, 'connection was kept';

# HEAD with HTTP/1.0
my $bytes = raw('upreq_plain', "HEAD /h11/ HTTP/1.0\r\n\r\n");
$r = parse_response($bytes);
is status($r), 426, 'HEAD HTTP/1.0: 426';
is_deeply [fields($r, 'Upgrade')], ['HTTP/1.1'], 'HEAD: Upgrade: HTTP/1.1';
like $bytes, qr/\r\n\r\n\z/, 'HEAD: no body';

$r = get('upreq_plain', '/h11/');
is status($r), 200, 'HTTP/1.1 to HTTP/1.1 location: 200';
is $r->{body}, "ok h11\n", 'HTTP/1.1: the document';
$r = second_on_connection('upreq_plain',
    "GET /h11/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
is status($r), 200, 'HTTP/1.1, second request: 200';
is_deeply [fields($r, 'Upgrade')], [], 'HTTP/1.1 served: no Upgrade';
is_deeply [fields($r, 'Connection')], ['close'], 'only Connection: close';

SKIP: {
    skip $NO_H2, 3 unless $H2;
    my $hp = hostport('upreq_plain');
    $r = curl('--http2-prior-knowledge', "http://$hp/h11/");
    like $r->{status_line}, qr{^HTTP/2 }, 'h2c prior knowledge';
    is status($r), 200, 'HTTP/2 satisfies HTTP/1.1: 200';
    is $r->{body}, "ok h11\n", 'HTTP/2: the document';
}

# --- TLS HTTP/1.1 ------------------------------------------------------------
# plain HTTP/1.0: TLS/1.2, HTTP/1.1 -- HTTP/1.1 is not listed twice
$r = get('upreq_plain', '/tls-h11/', proto => 'HTTP/1.0');
is_426($r, 'TLS/1.2, HTTP/1.1', 'Upgrade, close', 'TLS HTTP/1.1, plain 1.0');
like $r->{body}, qr{secure \(TLS\) connection}, 'page: TLS paragraph';
like $r->{body}, $H11_TEXT, 'page: HTTP/1.1 paragraph';
like $r->{body}, qr{"https://plain\.example/tls-h11/"}, 'page: https link';
ok $r->{body} =~ /TLS\).*HTTP\/1\.1 or newer/s, 'page: TLS first';

$r = get('upreq_plain', '/tls-h11/');
is_426($r, 'TLS/1.2, HTTP/1.1', 'Upgrade, close', 'TLS HTTP/1.1, plain 1.1');
unlike $r->{body}, $H11_TEXT, 'page: no HTTP/1.1 paragraph when met';

# over TLS only the HTTP version can fail
$r = get('core_ssl', '/tls-h11/', proto => 'HTTP/1.0', tls => 1);
is_426($r, 'HTTP/1.1', 'Upgrade, close', 'TLS HTTP/1.1, TLS 1.0 request');
unlike $r->{body}, qr/TLS/, 'page: nothing about TLS';
$r = get('core_ssl', '/tls-h11/', tls => 1);
is status($r), 200, 'TLS HTTP/1.1 over TLS, HTTP/1.1: 200';
is $r->{body}, "ok core tls-h11\n", 'TLS HTTP/1.1: the document';
SKIP: {
    skip $NO_H2, 2 unless $H2;
    $r = curl('--http2', 'https://' . hostport('core_ssl') . '/tls-h11/');
    like $r->{status_line}, qr{^HTTP/2 }, 'HTTP/2 over TLS';
    is status($r), 200, 'TLS HTTP/1.1 over HTTP/2 on TLS: 200';
}

# --- UpgradeRequiredHeader -------------------------------------------------
$r = get('core_plain', '/hdr/', proto => 'HTTP/1.0');
is_426($r, 'TLS/1.0, HTTP/1.1', 'Upgrade, close',
       'UpgradeRequiredHeader with HTTP/1.1 requirement');
like $r->{body}, $H11_TEXT, 'page still describes the failed requirement';
$r = get('core_plain', '/hdr/');
is status($r), 200, 'UpgradeRequiredHeader location, HTTP/1.1: 200';
$r = second_on_connection('core_plain',
    "GET /hdr/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
is_deeply [fields($r, 'Upgrade')], [],
    'UpgradeRequiredHeader is not sent when nothing is refused';

$r = get('core_plain', '/tls/');
is_426($r, 'TLS/1.0, HTTP/1.1', 'Upgrade, close',
       'UpgradeRequiredHeader with TLS requirement');
like $r->{body}, qr{"https://core-plain\.example/tls/"}, 'page: https link';

# the configured value is what the access log shows
my $tag = "hdr-$$-" . int(rand 1e9);
$r = get('core_plain', "/hdr/$tag", proto => 'HTTP/1.0');
is status($r), 426, 'logged request: 426';
my $log = Apache::Test::vars('t_logs') . '/upreq_access.log';
my $line = '';
for (1 .. 50) {     # the log line is written as the request ends
    open my $fh, '<', $log or die "$log: $!";
    ($line) = grep { m{ /hdr/\Q$tag\E HTTP} } <$fh>;
    last if $line;
    select undef, undef, undef, 0.1;
}
like $line // '', qr{ 426 upgrade=TLS/1\.0, HTTP/1\.1 redirect=-$},
    'access log: the configured Upgrade value';
