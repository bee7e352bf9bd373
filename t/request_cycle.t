# Where the 426 falls in httpd's request cycle: before authentication and
# authorization, before per-directory rewrites and redirects, after
# internal redirects; error documents, proxy requests, Expect, bodies,
# pipelining, and what the error log says.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil qw(t_cmp t_start_error_log_watch
                        t_finish_error_log_watch);
use IO::Socket::INET;
use MIME::Base64 ();
use lib 't/lib';
use UpReq qw(hostport raw raw_tls parse_response fields field
             access_log_line);

plan tests => 113 + 12 + 6 + 12 + 6 + 4, need_module 'upgrade_required', 'mod_ssl', 'mod_auth_basic',
    'mod_access_compat', 'mod_rewrite', 'mod_alias', 'mod_dir', 'mod_proxy',
    'mod_proxy_http';

my $TLS_UPGRADE = 'TLS/1.2, HTTP/1.1';

sub get {
    my ($path, %o) = @_;
    my $h = $o{h} || '';
    return "GET $path HTTP/1.1\r\nHost: cycle.example\r\n${h}"
         . "Connection: close\r\n\r\n";
}

sub plain { parse_response(raw('cycle_plain', get(@_))) }
sub tls   { parse_response(raw_tls('cycle_ssl', get(@_))) }

# a refusal: status, our one Upgrade field, Connection listing Upgrade
sub is_426 {
    my ($res, $name, $upgrade) = @_;
    ok t_cmp($res->{status}, 426, "$name: 426");
    ok t_cmp(join('|', fields($res, 'Upgrade')), $upgrade // $TLS_UPGRADE,
             "$name: exactly one Upgrade field");
}

# the module's own Upgrade tokens (core_upgrade_handler may offer h2c)
sub our_upgrade {
    my ($res) = @_;
    # core_upgrade_handler announces "h2,h2c"; the module's h2c comes alone
    return join '|', grep { m{TLS/|websocket|HTTP/2\.0} || lc eq 'h2c' }
                     fields($res, 'Upgrade');
}

my $basic = 'Authorization: Basic '
          . MIME::Base64::encode_base64('cycleuser:cyclepass', '') . "\r\n";

# --- authentication and authorization come after the 426 -----------------

my $r = plain('/cycle/auth/');
is_426($r, 'Basic auth <Location> over plain');
ok t_cmp(scalar(fields($r, 'WWW-Authenticate')), 0,
         'no WWW-Authenticate: credentials are not invited');
$r = plain('/cycle/auth/', h => $basic);
is_426($r, 'Basic auth <Location> over plain, with credentials');
$r = tls('/cycle/auth/');
ok t_cmp($r->{status}, 401, 'Basic auth over TLS: 401');
ok t_cmp(field($r, 'WWW-Authenticate'), 'Basic realm="cycle"',
         'Basic auth over TLS: WWW-Authenticate');
ok t_cmp(our_upgrade($r), '', 'Basic auth over TLS: no Upgrade of ours');
$r = tls('/cycle/auth/', h => $basic);
ok t_cmp($r->{status}, 200, 'Basic auth over TLS with credentials: 200');
ok t_cmp($r->{body}, "cycle auth\n", 'Basic auth over TLS: body');

$r = plain('/cycle/authdir/');
is_426($r, 'Basic auth <Directory> over plain');
ok t_cmp(scalar(fields($r, 'WWW-Authenticate')), 0,
         '<Directory>: no WWW-Authenticate');
ok t_cmp(tls('/cycle/authdir/')->{status}, 401,
         'Basic auth <Directory> over TLS: 401');

$r = plain('/cycle/satisfy/');
is_426($r, 'Satisfy Any + Allow/Require ip 127.0.0.1 over plain');
ok t_cmp(scalar(fields($r, 'WWW-Authenticate')), 0,
         'Satisfy Any: no WWW-Authenticate');
$r = tls('/cycle/satisfy/');
ok t_cmp($r->{status}, 200, 'Satisfy Any over TLS: the address admits');
ok t_cmp($r->{body}, "cycle satisfy\n", 'Satisfy Any over TLS: body');

is_426(plain('/cycle/denied/'), 'Require all denied over plain');
$r = tls('/cycle/denied/');
ok t_cmp($r->{status}, 403, 'Require all denied over TLS: 403');
ok t_cmp(our_upgrade($r), '', 'Require all denied over TLS: no Upgrade');

# --- per-directory mod_rewrite and mod_alias run in fixups, after us -----

$r = plain('/cycle/rw/');
is_426($r, 'RewriteRule [R] in <Directory> over plain');
ok t_cmp(scalar(fields($r, 'Location')), 0, 'RewriteRule: no Location');
$r = tls('/cycle/rw/');
ok t_cmp($r->{status}, 302, 'RewriteRule [R] over TLS: 302');
ok t_cmp(field($r, 'Location'), 'http://elsewhere.example/rw',
         'RewriteRule over TLS: Location');

$r = plain('/cycle/redir/');
is_426($r, 'Redirect in <Directory> over plain');
ok t_cmp(scalar(fields($r, 'Location')), 0, 'Redirect: no Location');
$r = tls('/cycle/redir/');
ok t_cmp($r->{status}, 301, 'Redirect in <Directory> over TLS: 301');
ok t_cmp(field($r, 'Location'), 'http://elsewhere.example/redir/',
         'Redirect over TLS: Location');

# a <Location> policy is decided in translate_name, before the vhost's own
# mod_alias and mod_rewrite rules
# a redirect that mod_alias or mod_rewrite answers in translate_name: the
# request never gets a final configuration, so no policy is read (README:
# "never reaching the module")
for my $u ('/cycle/loc/vhredir', '/cycle/loc/vhrw') {
    my $p = plain($u);
    ok t_cmp($p->{status}, 302, "server-level redirect $u over plain: 302");
    ok t_cmp(join('|', fields($p, 'Upgrade')), '',
             "server-level redirect $u: no Upgrade");
    ok t_cmp(tls($u)->{status}, 302, "server-level redirect $u over TLS: 302");
}

# --- internal redirects get the target's policy; subrequests pass -------

$r = plain('/cycle/idx/');
is_426($r, 'DirectoryIndex /cycle/tlsidx/index.html over plain');
ok t_cmp($r->{body}, qr/Upgrade Required/, 'DirectoryIndex: our page');
$r = tls('/cycle/idx/');
ok t_cmp($r->{status}, 200, 'DirectoryIndex over TLS: 200');
ok t_cmp($r->{body}, "cycle tlsidx\n", 'DirectoryIndex over TLS: target');

is_426(plain('/cycle/pt/go'), 'per-dir RewriteRule [PT] to a TLS location');
$r = tls('/cycle/pt/go');
ok t_cmp($r->{status}, 200, 'per-dir [PT] over TLS: 200');
ok t_cmp($r->{body}, "cycle loc\n", 'per-dir [PT] over TLS: target');

is_426(plain('/cycle/vhpt'), 'vhost RewriteRule [PT] to a TLS location');
ok t_cmp(tls('/cycle/vhpt')->{body}, "cycle loc\n",
         'vhost [PT] over TLS: target');

# RewriteCond -U looks the TLS location up in a subrequest: a refused
# subrequest would make the condition false and the probe a 404
t_start_error_log_watch();
$r = plain('/cycle/lookahead/probe');
my @log = t_finish_error_log_watch();
ok t_cmp($r->{status}, 200, 'subrequest into a TLS location is not refused');
ok t_cmp($r->{body}, "cycle lookahead other\n", 'subrequest: rule applied');
ok t_cmp(join('', grep { /UPREQ002/ } @log),
         qr/UPREQ002: not refused: subrequest/, 'subrequest: UPREQ002');

# --- ErrorDocument 426 ----------------------------------------------------

my %buf;

sub connect_to {
    my ($vhost) = @_;
    my ($host, $port) = split /:/, hostport($vhost);
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10)
        or die "connect $vhost: $!";
    $buf{$s} = '';
    return $s;
}

# one response (with a Content-Length) from a kept-alive connection;
# undef when the server closed first
sub read_one {
    my ($s) = @_;
    local $SIG{ALRM} = sub { die "timeout reading a response\n" };
    alarm 20;
    while (1) {
        my $b = $buf{$s};
        if ((my $end = index($b, "\r\n\r\n")) >= 0) {
            my ($len) = substr($b, 0, $end) =~ /^Content-Length:\s*(\d+)/mi;
            $len //= 0;
            if (length($b) >= $end + 4 + $len) {
                $buf{$s} = substr($b, $end + 4 + $len);
                alarm 0;
                return parse_response(substr($b, 0, $end + 4 + $len));
            }
        }
        my $n = sysread($s, my $chunk, 65536);
        if (!$n) {
            alarm 0;
            return;
        }
        $buf{$s} .= $chunk;
    }
}

# 'closed' when the server closes the connection without sending more
sub closed_by_server {
    my ($s) = @_;
    local $SIG{ALRM} = sub { die "timeout waiting for close\n" };
    alarm 20;
    my $n = sysread($s, my $chunk, 65536);
    alarm 0;
    return !$n && $buf{$s} eq '' ? 'closed' : 'open';
}

# control: core_upgrade_handler offers h2c on the first response of a plain
# connection, which an error document would inherit
my $s = connect_to('cycle_plain');
print $s "GET /cycle/plain.html HTTP/1.1\r\nHost: cycle.example\r\n\r\n";
$r = read_one($s);
ok t_cmp(field($r, 'Upgrade'), qr/\bh2c\b/,
         'control: a first response offers h2c');
close $s;

$s = connect_to('cycle_plain');
print $s "GET /cycle/ed/ HTTP/1.1\r\nHost: cycle.example\r\n\r\n";
$r = read_one($s);
is_426($r, 'ErrorDocument 426, first request of a connection');
ok t_cmp(join('|', fields($r, 'Connection')), 'Upgrade',
         'ErrorDocument: exactly one Connection field, Upgrade');
ok t_cmp(scalar(grep { /h2c/ } map { $_->[1] // '' } @{ $r->{fields} }), 0,
         'ErrorDocument: no h2c token anywhere');
ok t_cmp($r->{body}, "<html><body>cycle error document 426</body></html>\n",
         'ErrorDocument: the document is served');
print $s "GET /cycle/plain.html HTTP/1.1\r\nHost: cycle.example\r\n\r\n";
$r = read_one($s);
ok t_cmp($r && $r->{status}, 200, 'ErrorDocument: connection kept alive');
close $s;

$r = plain('/cycle/ed/');
is_426($r, 'ErrorDocument 426 with Connection: close');
ok t_cmp(join('|', fields($r, 'Connection')), 'Upgrade, close',
         'ErrorDocument: httpd\'s close merged into our Connection field');

$r = plain('/cycle/edin/');
is_426($r, 'ErrorDocument inside the refused location');
ok t_cmp($r->{body},
         "<html><body>cycle error document 426 inside</body></html>\n",
         'ErrorDocument inside the location is served, not refused');

$r = plain('/cycle/edtext/');
is_426($r, 'ErrorDocument 426 "text"');
ok t_cmp($r->{body}, 'cycle: please use https', 'ErrorDocument text');

# the access log sees the variable renamed on the error document request
{
    my $tag = "log$$";
    plain("/cycle/ed/?$tag");
    my $line = access_log_line($tag);
    ok t_cmp($line // '', qr/ 426 upgrade=- redirect=TLS\/1\.2, HTTP\/1\.1$/,
             'access log: REDIRECT_UPGRADE_REQUIRED on the error document');
}

# an h2c offer is never switched on the way to a 426: not for the error
# document (it inherits the request's headers), not for a refusal of a
# DirectoryIndex target in the handler phase
my $H2C = "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        . "HTTP2-Settings: AAMAAABkAAQAAP__\r\n";
for my $c (['/cycle/ed/', 'ErrorDocument 426',
            "<html><body>cycle error document 426</body></html>\n"],
           ['/cycle/edin/', 'ErrorDocument 426 inside the location',
            "<html><body>cycle error document 426 inside</body></html>\n"],
           ['/cycle/idx/', 'DirectoryIndex target refused in the handler',
            qr/Upgrade Required/]) {
    my ($path, $name, $body) = @$c;
    my $s = connect_to('cycle_plain');
    print $s "GET $path HTTP/1.1\r\nHost: cycle.example\r\n$H2C\r\n";
    my $r = read_one($s);
    close $s;
    ok t_cmp($r && $r->{status_line}, 'HTTP/1.1 426 Upgrade Required',
             "$name, h2c offer: 426 at once, no 101");
    ok t_cmp(join('|', fields($r, 'Upgrade')), $TLS_UPGRADE,
             "$name, h2c offer: exactly one Upgrade, ours");
    ok t_cmp(join('|', fields($r, 'Connection')), 'Upgrade',
             "$name, h2c offer: exactly one Connection: Upgrade");
    ok t_cmp($r->{body}, $body, "$name, h2c offer: the body");
}

# an external ErrorDocument: httpd answers 302, which is not a 426
for my $c (['/cycle/edext/', 'https://secure.example/edext'],
           ['/cycle/edextws/', 'https://secure.example/edextws']) {
    my ($path, $location) = @$c;
    $r = plain($path);
    ok t_cmp($r->{status}, 302, "external ErrorDocument $path: 302");
    ok t_cmp(field($r, 'Location'), $location,
             "external ErrorDocument $path: Location");
    ok t_cmp(join('|', fields($r, 'Upgrade'), fields($r, 'Connection'),
                  fields($r, 'Sec-WebSocket-Version')), 'close',
             "external ErrorDocument $path: no Upgrade, "
             . 'Connection: close only, no Sec-WebSocket-Version');
}

# a DirectoryIndex target that needs TLS and credentials: 426, never the
# 401 of mod_dir's subrequest
$r = plain('/cycle/diauth/');
is_426($r, 'DirectoryIndex target with Basic auth over plain');
ok t_cmp(join('|', fields($r, 'Connection')), 'Upgrade, close',
         'DirectoryIndex target with auth: one Connection field');
ok t_cmp(scalar(fields($r, 'WWW-Authenticate')), 0,
         'DirectoryIndex target with auth: no WWW-Authenticate');
ok t_cmp($r->{body}, qr{<a href="https://cycle\.example/cycle/diauth/">},
         'DirectoryIndex target with auth: our page, linking the URL asked');
ok t_cmp(field($r, 'Content-Length'), length($r->{body}),
         'DirectoryIndex target with auth: Content-Length of the page');
$r = plain('/cycle/diauth/', h => $basic);
is_426($r, 'DirectoryIndex target with auth, credentials sent anyway');
$r = tls('/cycle/diauth/');
ok t_cmp($r->{status}, 401, 'DirectoryIndex target with auth over TLS: 401');
ok t_cmp(our_upgrade($r), '', '... with no Upgrade of ours');
$r = tls('/cycle/diauth/', h => $basic);
ok t_cmp($r->{status}, 200, '... with credentials: 200');
ok t_cmp($r->{body}, "cycle diauth\n", '... the index');

{
    my $tag = "di$$";
    $r = plain("/cycle/diauthed/?$tag");
    is_426($r, 'DirectoryIndex target with auth, ErrorDocument 426');
    ok t_cmp(join('|', fields($r, 'Connection')), 'Upgrade, close',
             '... one Connection field');
    ok t_cmp(scalar(fields($r, 'WWW-Authenticate')), 0,
             '... no WWW-Authenticate');
    ok t_cmp($r->{body},
             "<html><body>cycle error document 426</body></html>\n",
             '... the ErrorDocument is served');
    my $line = access_log_line($tag);
    ok t_cmp($line // '', qr/ 426 upgrade=- redirect=TLS\/1\.2, HTTP\/1\.1$/,
             '... REDIRECT_UPGRADE_REQUIRED on the error document');
}

$r = plain('/cycle/dimulti/');
ok t_cmp($r->{status}, 200,
         'two index names, the first needs TLS and credentials: 200');
ok t_cmp($r->{body}, "cycle dimulti other\n", '... the second is served');
ok t_cmp(our_upgrade($r), '', '... with no Upgrade of ours');
ok t_cmp(scalar(fields($r, 'WWW-Authenticate')), 0,
         '... and no WWW-Authenticate');

# --- requests the module leaves alone ------------------------------------

{
    my $target = hostport('cycle_plain');
    is_426(parse_response(raw('cycle_proxy', get('/cycle/plain.html'))),
           'control: the proxy vhost has a TLS policy');
    t_start_error_log_watch();
    $r = parse_response(raw('cycle_proxy',
        "GET http://$target/cycle/plain.html HTTP/1.1\r\nHost: $target\r\n"
        . "Connection: close\r\n\r\n"));
    ok t_cmp($r->{status}, 200, 'forward-proxy request: not refused');
    ok t_cmp($r->{body}, "cycle plain\n", 'forward-proxy request: body');
    $r = parse_response(raw('cycle_proxy',
        "CONNECT $target HTTP/1.1\r\nHost: $target\r\n"
        . "Connection: close\r\n\r\n"));
    # mod_proxy_connect is not loaded: mod_proxy answers 500
    ok t_cmp($r->{status}, 500, 'CONNECT through the proxy: mod_proxy\'s 500');
    ok t_cmp(our_upgrade($r), '', 'CONNECT: no Upgrade of ours');
    $r = parse_response(raw('cycle_vhostpol',
        "CONNECT $target HTTP/1.1\r\nHost: $target\r\n"
        . "Connection: close\r\n\r\n"));
    ok t_cmp($r->{status}, 405, 'CONNECT without a proxy: 405, not 426');
    my @log = grep { /UPREQ002/ } t_finish_error_log_watch();
    ok t_cmp(scalar(grep { /not refused: forward-proxy request/ } @log), 2,
             'UPREQ002 for the proxy GET and CONNECT');
    ok t_cmp(scalar(grep { /not refused: CONNECT/ } @log), 1,
             'UPREQ002 for the CONNECT outside a proxy');

    $r = parse_response(raw('cycle_vhostpol',
        "OPTIONS * HTTP/1.1\r\nHost: cycle.example\r\n"
        . "Connection: close\r\n\r\n"));
    ok t_cmp($r->{status}, 200, 'OPTIONS * under a vhost TLS policy: 200');
    ok t_cmp(our_upgrade($r), '', 'OPTIONS *: no Upgrade of ours');
}

# --- bodies, Expect, pipelining ------------------------------------------

$s = connect_to('cycle_plain');
print $s "POST /cycle/loc/ HTTP/1.1\r\nHost: cycle.example\r\n"
       . "Content-Type: text/plain\r\nContent-Length: 16\r\n"
       . "Expect: 100-continue\r\n\r\n";
$r = read_one($s);
ok t_cmp($r->{status_line}, 'HTTP/1.1 426 Upgrade Required',
         'Expect: 100-continue: the first status line is the 426');
ok t_cmp(join('|', fields($r, 'Upgrade')), $TLS_UPGRADE,
         'Expect: 100-continue: Upgrade');
# httpd cannot know where the unread body ends: it closes, and says so
ok t_cmp(join('|', fields($r, 'Connection')), 'Upgrade, close',
         'Expect: 100-continue: Connection: Upgrade, close');
ok t_cmp(closed_by_server($s), 'closed',
         'Expect: 100-continue: then closes, nothing more');
close $s;

# three requests in one write
$s = connect_to('cycle_plain');
print $s "GET /cycle/loc/one HTTP/1.1\r\nHost: cycle.example\r\n\r\n"
       . "GET /cycle/plain.html HTTP/1.1\r\nHost: cycle.example\r\n\r\n"
       . "GET /cycle/dir/ HTTP/1.1\r\nHost: cycle.example\r\n"
       . "Connection: close\r\n\r\n";
my @res = map { read_one($s) } 1 .. 3;
is_426($res[0], 'pipelined 1/3');
ok t_cmp(join('|', fields($res[0], 'Connection')), 'Upgrade',
         'pipelined 1/3: kept alive');
ok t_cmp($res[1] && $res[1]{status}, 200, 'pipelined 2/3: 200');
ok t_cmp($res[1] && $res[1]{body}, "cycle plain\n", 'pipelined 2/3: body');
ok t_cmp(scalar(fields($res[1], 'Upgrade')), 0, 'pipelined 2/3: no Upgrade');
is_426($res[2], 'pipelined 3/3');
ok t_cmp(join('|', fields($res[2], 'Connection')), 'Upgrade, close',
         'pipelined 3/3: Connection: Upgrade, close');
ok t_cmp(closed_by_server($s), 'closed', 'pipelined: closed after the last');
close $s;

# a body is read and discarded: the connection stays usable
for my $case (['Content-Length', "Content-Length: 16\r\n\r\n0123456789abcdef"],
              ['chunked', "Transfer-Encoding: chunked\r\n\r\n"
                          . "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"],
              ['64 KiB', "Content-Length: 65536\r\n\r\n" . ('x' x 65536)]) {
    my ($what, $rest) = @$case;
    $s = connect_to('cycle_plain');
    print $s "POST /cycle/loc/ HTTP/1.1\r\nHost: cycle.example\r\n"
           . "Content-Type: text/plain\r\n$rest"
           . "GET /cycle/plain.html HTTP/1.1\r\nHost: cycle.example\r\n"
           . "Connection: close\r\n\r\n";
    my $first = read_one($s);
    my $second = read_one($s);
    is_426($first, "POST with a $what body");
    ok t_cmp(join('|', fields($first, 'Connection')), 'Upgrade',
             "POST with a $what body: kept alive");
    ok t_cmp($second && $second->{body}, "cycle plain\n",
             "POST with a $what body: the next request is answered");
    close $s;
}

# --- the error log -------------------------------------------------------

t_start_error_log_watch();
plain('/cycle/loc/logged');
tls('/cycle/loc/');
plain('/cycle/loc/q%22x%01y%0Az%5C');
@log = t_finish_error_log_watch();
my ($info) = grep { /UPREQ001: 426 for GET \/cycle\/loc\/logged / } @log;
ok t_cmp($info // '', qr/\[upgrade_required:info\]/, 'UPREQ001 at info');
ok t_cmp($info // '', qr{from 127\.0\.0\.1: requires TLS; Upgrade: TLS/1\.2, HTTP/1\.1; peer 127\.0\.0\.1: plain connection$},
         'UPREQ001: requirement, client, Upgrade, reason');
ok t_cmp(join('', grep { /UPREQ003/ } @log),
         qr{\[upgrade_required:debug\].*UPREQ003: policy of /cycle/loc met \((?:translate_name|header_parser)\): peer 127\.0\.0\.1: TLS connection},
         'UPREQ003 for the met policy over TLS');
my ($esc) = grep { /UPREQ001: 426 for GET \/cycle\/loc\/q/ } @log;
# the module escapes, and httpd's error log escapes its message once more
ok t_cmp($esc // '', qr{/cycle/loc/q\\+"x\\+x01y\\+nz\\+ from },
         'UPREQ001: quotes and control characters escaped');
ok t_cmp(scalar(grep { /\x01/ } @log), 0, 'no raw control character logged');
