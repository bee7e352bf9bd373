# UpgradeRequired websocket: a request that is not an RFC 6455 opening
# handshake gets 426 with "Upgrade: websocket", "Connection: Upgrade" and
# "Sec-WebSocket-Version: 13"; a real handshake is never refused; over
# HTTP/2 only the version field is kept; combined with TLS.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use lib 't/lib';
use UpReq qw(raw raw_tls parse_response fields field curl hostport status
             is_426_fields h2_served $NO_H2);

plan tests => 94, need_module 'upgrade_required', 'mod_ssl', 'mod_http2';


# one request; the write side is shut down after it, so httpd closes the
# connection after one response even when it would keep it; over TLS an
# extra "Connection: close" field does that (repeated fields are one list)
sub send_req {
    my ($vhost, $head, %o) = @_;
    $head .= "Connection: close\r\n" if $o{tls};
    my $req = "$head\r\n" . ($o{body} // '');
    my $bytes = $o{tls} ? raw_tls($vhost, $req)
                        : raw($vhost, $req, half_close => 1);
    return parse_response($bytes);
}

my $H2 = h2_served();

my $KEY = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
# a complete handshake but for the fields given
sub handshake {
    my (%f) = (Upgrade => "Upgrade: websocket\r\n",
               Connection => "Connection: Upgrade\r\n",
               Version => "Sec-WebSocket-Version: 13\r\n",
               Line => "GET /ws/ HTTP/1.1", @_);
    return "$f{Line}\r\nHost: x\r\n$f{Upgrade}$f{Connection}$KEY$f{Version}";
}

sub is_ws_426 {
    my ($r, $name, %o) = @_;
    is status($r), 426, "$name: 426";
    is_deeply [fields($r, 'Upgrade')], [$o{upgrade} // 'websocket'],
        "$name: exactly one Upgrade: " . ($o{upgrade} // 'websocket');
    is_deeply [fields($r, 'Connection')], [$o{connection} // 'Upgrade'],
        "$name: exactly one Connection: " . ($o{connection} // 'Upgrade');
    is_deeply [fields($r, 'Sec-WebSocket-Version')], ['13'],
        "$name: exactly one Sec-WebSocket-Version: 13";
    is_deeply [fields($r, 'Content-Length')], [length $r->{body}],
        "$name: Content-Length is the body length";
}

# a handshake that the module lets through: no backend here, so the
# default handler serves the static file, and nobody adds an Upgrade
sub not_refused {
    my ($r, $name, $doc) = @_;
    isnt status($r), 426, "$name: not refused";
    is status($r), 200, "$name: 200 from the default handler";
    is $r->{body}, $doc // "ok ws\n", "$name: the static document";
    is_deeply [fields($r, 'Upgrade')], [], "$name: no Upgrade";
    is_deeply [fields($r, 'Sec-WebSocket-Version')], [],
        "$name: no Sec-WebSocket-Version";
}

my $WS_TEXT = qr{This\ resource\ is\ a\ WebSocket\ endpoint\.
                 \ Please\ connect\ with\ a\ WebSocket\ client}x;

# --- no handshake at all -------------------------------------------------
my $r = send_req('upreq_plain', "GET /ws/ HTTP/1.1\r\nHost: x\r\n");
is_ws_426($r, 'plain GET');
is field($r, 'Content-Type'), 'text/html; charset=iso-8859-1', 'text/html';
like $r->{body}, $WS_TEXT, 'page asks for a WebSocket client';
unlike $r->{body}, qr/https:|HTTP\/1\.1 or newer/, 'page: only websocket';

$r = send_req('upreq_plain',
              "GET /ws/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
is_ws_426($r, 'plain GET, Connection: close', connection => 'Upgrade, close');

# --- handshakes that are not quite right -----------------------------------
my %bad = (
    'version 8'            => [Version => "Sec-WebSocket-Version: 8\r\n"],
    'version missing'      => [Version => ''],
    'version list 13, 8'   => [Version => "Sec-WebSocket-Version: 13, 8\r\n"],
    'version twice'        => [Version => "Sec-WebSocket-Version: 13\r\n"
                                        . "Sec-WebSocket-Version: 13\r\n"],
    'version 013'          => [Version => "Sec-WebSocket-Version: 013\r\n"],
    'Upgrade missing'      => [Upgrade => ''],
    'Upgrade: websockets'  => [Upgrade => "Upgrade: websockets\r\n"],
    'Connection missing'   => [Connection => ''],
    'Connection: Upgraded' => [Connection => "Connection: Upgraded\r\n"],
    'POST'                 => [Line => 'POST /ws/ HTTP/1.1'],
);
for my $name (sort keys %bad) {
    $r = send_req('upreq_plain', handshake(@{ $bad{$name} }));
    is status($r), 426, "$name: 426";
    is_deeply [fields($r, 'Sec-WebSocket-Version')], ['13'],
        "$name: Sec-WebSocket-Version: 13";
}
$r = send_req('upreq_plain', handshake(Version =>
              "Sec-WebSocket-Version: 8\r\n"));
is_ws_426($r, 'version 8, all fields');

# HTTP/1.0: Upgrade is ignored (RFC 9110 7.8), so nothing is a handshake;
# httpd closes, and its close joins the one Connection field
$r = send_req('upreq_plain', handshake(Line => 'GET /ws/ HTTP/1.0'));
is_ws_426($r, 'HTTP/1.0 with all fields', connection => 'Upgrade, close');

# POST with all fields and a body: refused, the body discarded
$r = send_req('upreq_plain', handshake(Line => 'POST /ws/ HTTP/1.1')
              . "Content-Length: 5\r\n", body => 'hello');
is_ws_426($r, 'POST with all fields');

# --- real handshakes -----------------------------------------------------
$r = send_req('upreq_plain', handshake());
not_refused($r, 'handshake');

my %good = (
    'version " 13 "'      => [Version => "Sec-WebSocket-Version:  13 \r\n"],
    'Upgrade: WebSocket'  => [Upgrade => "Upgrade: WebSocket\r\n"],
    'Connection: keep-alive, Upgrade'
        => [Connection => "Connection: keep-alive, Upgrade\r\n"],
    'tokens across repeated fields'
        => [Upgrade => "Upgrade: foo/1\r\nUpgrade: websocket\r\n",
            Connection => "Connection: keep-alive\r\nConnection: UPGRADE\r\n"],
);
for my $name (sort keys %good) {
    $r = send_req('upreq_plain', handshake(@{ $good{$name} }));
    is status($r), 200, "$name: 200";
    is_deeply [fields($r, 'Upgrade')], [], "$name: no Upgrade";
}

$r = send_req('core_ssl', handshake(), tls => 1);
not_refused($r, 'handshake over TLS', "ok core ws\n");

# --- HTTP/2 --------------------------------------------------------------
SKIP: {
    skip $NO_H2, 12 unless $H2;
    for my $url ('http://' . hostport('upreq_plain') . '/ws/',
                 'https://' . hostport('core_ssl') . '/ws/') {
        my @args = $url =~ /^https/ ? ('--http2')
                                    : ('--http2-prior-knowledge');
        $r = curl(@args, $url);
        like $r->{status_line}, qr{^HTTP/2 }, "$url: HTTP/2";
        is status($r), 426, "$url: HTTP/2 GET: 426";
        is_deeply [fields($r, 'sec-websocket-version')], ['13'],
            "$url: sec-websocket-version: 13 kept";
        is_deeply [fields($r, 'upgrade')], [], "$url: no upgrade field";
        is_deeply [fields($r, 'connection')], [], "$url: no connection field";
        like $r->{body}, $WS_TEXT, "$url: the page";
    }
}

# --- websocket and TLS ----------------------------------------------------
$r = send_req('core_plain', "GET /ws-tls/ HTTP/1.1\r\nHost: x\r\n");
is_ws_426($r, 'TLS websocket, plain GET',
          upgrade => 'TLS/1.2, HTTP/1.1, websocket');
like $r->{body}, qr{secure \(TLS\).*WebSocket endpoint}s,
    'page: TLS paragraph, then websocket';

# the handshake is fine, only TLS is missing
(my $h = handshake()) =~ s{/ws/}{/ws-tls/};
$r = send_req('core_plain', $h);
is status($r), 426, 'TLS websocket, plain handshake: 426';
is_deeply [fields($r, 'Upgrade')], ['TLS/1.2, HTTP/1.1'],
    'plain handshake: Upgrade: TLS/1.2, HTTP/1.1';
is_deeply [fields($r, 'Sec-WebSocket-Version')], [],
    'plain handshake: no Sec-WebSocket-Version';

$r = send_req('core_ssl', "GET /ws-tls/ HTTP/1.1\r\nHost: x\r\n", tls => 1);
is_ws_426($r, 'TLS websocket, TLS GET', connection => 'Upgrade, close');
$r = send_req('core_ssl', $h, tls => 1);
is status($r), 200, 'TLS websocket, TLS handshake: 200';
is_deeply [fields($r, 'Upgrade')], [], 'TLS handshake: no Upgrade';
