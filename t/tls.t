# UpgradeRequired TLS: the 426 over plain HTTP (status, exactly one Upgrade
# and one Connection field, the page and its link), HEAD, TLS and HTTP/2
# over TLS let through, the UPGRADE_REQUIRED variable in the access log,
# and the ACME HTTP-01 exemption.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use lib 't/lib';
use UpReq qw(raw raw_tls parse_response fields field curl hostport status
             is_426_fields h2_served $NO_H2 httpd_at_least);

plan tests => 94, need_module 'upgrade_required', 'mod_ssl', 'mod_http2';

my $TLS = 'TLS/1.2, HTTP/1.1';

my $H2 = h2_served();

# one request, the connection closed after it
sub get {
    my ($vhost, $target, %o) = @_;
    my $req = sprintf "%s %s %s\r\n%s\r\n", $o{method} || 'GET', $target,
        $o{proto} || 'HTTP/1.1',
        $o{headers} // "Host: x\r\nConnection: close\r\n";
    my $bytes = $o{tls} ? raw_tls($vhost, $req, version => $o{tls_version})
                        : raw($vhost, $req);
    return parse_response($bytes);
}

sub has_body_length {
    my ($r, $name) = @_;
    is_deeply [fields($r, 'Content-Length')], [length $r->{body}],
        "$name: Content-Length is the body length";
}

# Upgrade on a response that is not a 426: httpd's core announces the
# protocols of Protocols on the first request of a connection; the module
# itself adds nothing, and never a TLS token
sub no_module_upgrade {
    my ($r, $name) = @_;
    my @up = fields($r, 'Upgrade');
    # core may announce "h2,h2c"; the module's tokens, or h2c alone, never
    ok @up <= 1 && !grep({ /TLS|HTTP\/1\.1|websocket/i || lc eq 'h2c' } @up),
        "$name: no Upgrade from the module (@up)";
}

# --- plain HTTP/1.1 request to a TLS location ------------------------
my $r = get('upreq_plain', '/tls/page?a=1&b=2');
is_426_fields($r, $TLS, 'Upgrade, close', 'plain GET, Connection: close');
is field($r, 'Content-Type'), 'text/html; charset=iso-8859-1',
    'page is text/html';
has_body_length($r, 'plain GET');
like $r->{body},
    qr{<a href="https://plain\.example/tls/page\?a=1&amp;b=2">},
    'page links to https:// + ServerName + path and query';
like $r->{body}, qr{secure \(TLS\) connection}, 'page speaks of TLS';
is field($r, 'Sec-WebSocket-Version'), undef, 'no Sec-WebSocket-Version';
my %get426 = map { $_ => [fields($r, $_)] } qw(Upgrade Connection
                                                Content-Type);

# keep-alive: httpd keeps the connection, Connection lists only Upgrade
my $bytes = raw('upreq_plain',
    "GET /tls/ HTTP/1.1\r\nHost: x\r\n\r\n"
    . "GET /tls/again HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
$r = parse_response($bytes);
is_426_fields($r, $TLS, 'Upgrade', 'plain GET, keep-alive');
has_body_length($r, 'keep-alive');
my $r2 = parse_response($r->{rest});
is_426_fields($r2, $TLS, 'Upgrade, close', 'second request on the connection');
like $r2->{body}, qr{https://plain\.example/tls/again}, 'second page link';

# HTTP/1.0: httpd closes; its close is merged into the one field
$r = get('upreq_plain', '/tls/', proto => 'HTTP/1.0', headers => '');
is_426_fields($r, $TLS, 'Upgrade, close', 'HTTP/1.0');
has_body_length($r, 'HTTP/1.0');

# HTTP/1.0 keep-alive: Keep-Alive merged the same way
$bytes = raw('upreq_plain',
    "GET /tls/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    . "GET /index.html HTTP/1.0\r\n\r\n");
$r = parse_response($bytes);
is_426_fields($r, $TLS, 'Upgrade, Keep-Alive', 'HTTP/1.0 keep-alive');
is status(parse_response($r->{rest})), 200, 'connection was kept';

# --- the page: ServerName, never Host; escaping -----------------------
$r = get('upreq_plain', '/tls/x?y=1',
         headers => "Host: evil.example\r\nConnection: close\r\n");
is status($r), 426, 'other Host: 426';
unlike $r->{body}, qr/evil/, 'Host does not appear in the page';
like $r->{body}, qr{"https://plain\.example/tls/x\?y=1"},
    'link uses ServerName';

# a vhost that accepts such a Host and has UseCanonicalName Off; its
# ServerName carries a port that must not be copied to the https link
$r = get('core_hostile', '/tls/x?a=1',
         headers => "Host: evil\"><script>\r\nConnection: close\r\n");
is_426_fields($r, $TLS, 'Upgrade, close', 'HTML in Host');
unlike $r->{body}, qr/evil|<script/, 'no trace of the Host header';
like $r->{body}, qr{<a href="https://core-hostile\.example/tls/x\?a=1">},
    'link: ServerName without its port';
unlike $r->{body}, qr/:8080/, 'no port of ServerName in the page';
has_body_length($r, 'HTML in Host');

# path and query with markup: the link is HTML-escaped
$r = get('upreq_plain', '/tls/a<b>"c?q=<i>"&r=1');
is_426_fields($r, $TLS, 'Upgrade, close', 'markup in path and query');
like $r->{body}, qr{\Q<a href="https://plain.example/tls/a&lt;b&gt;\E
                    \Q&quot;c?q=&lt;i&gt;&quot;&amp;r=1">\E}x,
    'path and query HTML-escaped';
unlike $r->{body}, qr{a<b|<i>|>"c}, 'no raw markup from the request';
has_body_length($r, 'markup');

# percent-encoded target stays as sent
$r = get('upreq_plain', '/tls/%3Cscript%3E?x=%22');
is status($r), 426, 'percent-encoded target: 426';
like $r->{body}, qr{"https://plain\.example/tls/%3Cscript%3E\?x=%22"},
    'percent-encoded target kept encoded';

# --- HEAD: same status and fields, no body ----------------------------
$bytes = raw('upreq_plain',
    "HEAD /tls/page?a=1&b=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
$r = parse_response($bytes);
is status($r), 426, 'HEAD: 426';
is_deeply { map { $_ => [fields($r, $_)] } keys %get426 }, \%get426,
    'HEAD: same Upgrade, Connection, Content-Type as GET';
like $bytes, qr/\r\n\r\n\z/, 'HEAD: nothing after the header';

# --- over TLS the location serves --------------------------------------
$r = get('upreq_ssl13', '/tls/', tls => 1);
is status($r), 200, 'TLS: 200';
is $r->{body}, "ok tls\n", 'TLS: the document';
no_module_upgrade($r, 'TLS');

$r = get('upreq_ssl12', '/tls/', tls => 1);
is status($r), 200, 'TLS 1.2-only vhost: 200';
no_module_upgrade($r, 'TLS 1.2-only vhost');

# second request on a TLS connection: core announces nothing, so no
# Upgrade at all may appear
$bytes = raw_tls('upreq_ssl13',
    "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"
    . "GET /tls/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
$r = parse_response(parse_response($bytes)->{rest});
is status($r), 200, 'TLS, second request: 200';
is_deeply [fields($r, 'Upgrade')], [], 'TLS, second request: no Upgrade';
is_deeply [fields($r, 'Connection')], ['close'],
    'TLS, second request: Connection: close only';

# --- HTTP/2 over TLS ---------------------------------------------------
SKIP: {
    skip $NO_H2, 4 unless $H2;
    my $hp = hostport('upreq_ssl13');
    $r = curl('--http2', "https://$hp/tls/");
    like $r->{status_line}, qr{^HTTP/2 }, 'HTTP/2 over TLS negotiated';
    is status($r), 200, 'HTTP/2 over TLS: 200';
    is $r->{body}, "ok tls\n", 'HTTP/2 over TLS: the document';
    is_deeply [fields($r, 'Upgrade')], [], 'HTTP/2: no upgrade field';
}

# --- UPGRADE_REQUIRED in the access log --------------------------------
my $tag = "logcheck-$$-" . int(rand 1e9);
$r = get('upreq_plain', "/tls/$tag");
is status($r), 426, 'logged request: 426';
$r = get('upreq_ssl13', "/tls/$tag-ok", tls => 1);
is status($r), 404, 'logged TLS request: 404 (no such file)';
my $log = Apache::Test::vars('t_logs') . '/upreq_access.log';
my ($refused, $served) = ('', '');
for (1 .. 50) {     # the log line is written as the request ends
    open my $fh, '<', $log or die "$log: $!";
    for (<$fh>) {
        $refused = $_ if m{ /tls/\Q$tag\E HTTP};
        $served = $_ if m{ /tls/\Q$tag\E-ok HTTP};
    }
    last if $refused && $served;
    select undef, undef, undef, 0.1;
}
like $refused, qr{ 426 upgrade=\Q$TLS\E redirect=-$},
    'access log: upgrade=TLS/1.2, HTTP/1.1';
like $served, qr{ 404 upgrade=- redirect=-$},
    'access log: nothing for a request let through';

# --- ACME HTTP-01 -------------------------------------------------------
my $acme = '/.well-known/acme-challenge';
# HTTP/1.0 requests here carry no Host, except on httpd 2.4.41 to 2.4.62:
# their mod_md, once an MDomain is configured (t/conf/neighbours.conf.in),
# crashes the child on such a request to the ACME path, in its own
# post_read_request hook (md_get_by_domain(NULL)); 2.4.71's does not
my $H10_HOST = httpd_at_least('2.4.63') ? '' : "Host: x\r\n";
$r = get('core_tlsall', "$acme/token");
is status($r), 200, 'ACME challenge over plain: 200';
is $r->{body}, "acme token\n", 'ACME challenge: the token';
no_module_upgrade($r, 'ACME challenge');

$r = get('core_tlsall', "$acme/token", proto => 'HTTP/1.0',
         headers => $H10_HOST);
is status($r), 200, 'ACME challenge, HTTP/1.0: 200';

# second request of a connection: nothing from core either
$bytes = raw('core_tlsall', "GET $acme/token HTTP/1.1\r\nHost: x\r\n\r\n"
             . "GET $acme/token HTTP/1.1\r\nHost: x\r\nConnection: close"
             . "\r\n\r\n");
$r = parse_response(parse_response($bytes)->{rest});
is status($r), 200, 'ACME, second request: 200';
is_deeply [fields($r, 'Upgrade')], [], 'ACME, second request: no Upgrade';

$r = get('core_tlsall', '/index.html');
is_426_fields($r, $TLS, 'Upgrade, close', 'TLS-everywhere vhost, other path');
like $r->{body}, qr{"https://core-tlsall\.example/index\.html"},
    'TLS-everywhere link';

# the exemption is the path prefix after normalisation
for my $t ("$acme/../../index.html", "$acme/%2e%2e/%2e%2e/index.html",
           $acme, "$acme-x/token", "/.well-known/token") {
    $r = get('core_tlsall', $t);
    is status($r), 426, "not exempt: $t";
}

$r = get('core_tlsall_noacme', "$acme/token");
is_426_fields($r, $TLS, 'Upgrade, close', 'UpgradeRequiredAcmeExempt Off');

# only TLS is exempted: HTTP/1.1 is still required
$r = get('core_tlsall', "$acme/h11tok", proto => 'HTTP/1.0',
         headers => $H10_HOST);
is_426_fields($r, 'HTTP/1.1', 'Upgrade, close',
       'ACME path under TLS HTTP/1.1, HTTP/1.0');
has_body_length($r, 'ACME HTTP/1.0');
unlike $r->{body}, qr/TLS|https:/, 'ACME HTTP/1.0 page: no TLS text';
$r = get('core_tlsall', "$acme/h11tok");
is status($r), 200, 'ACME path under TLS HTTP/1.1, HTTP/1.1: 200';
is $r->{body}, "acme h11 token\n", 'ACME h11 token';

# only what an HTTP-01 validation can be: GET or HEAD of one base64url
# token (RFC 8555 8.3); anything else at the prefix is judged as usual
$r = get('core_tlsall', "$acme/token", method => 'HEAD');
is status($r), 200, 'ACME challenge, HEAD: 200';
for my $t ("$acme/h11/token", "$acme/tok.en", "$acme/tok%41en",
           "$acme/token/") {
    $r = get('core_tlsall', $t);
    is status($r), 426, "not an ACME token: $t";
}
$r = get('core_tlsall', "$acme/token", method => 'POST',
         headers => "Host: x\r\nConnection: close\r\n"
                    . "Content-Length: 0\r\n");
is_426_fields($r, $TLS, 'Upgrade, close', 'ACME prefix, POST');
