# Nothing that a location keeps for TLS travels over a plain connection,
# whatever httpd turns the request into: an exemption (ACME HTTP-01,
# no-upgrade-required) holds for what the request became, not for what it
# looked like when it arrived; every error document but the one of the
# module's own refusal gets its target's policy; a served subrequest is
# judged by its own location; a refusal leaves with exactly one Upgrade
# and one Connection field, whichever way it leaves.  Each TLS-only file
# holds a marker of its own (t/htdocs/cleartext): absent over plain HTTP,
# present over TLS, over HTTP/1.1 and HTTP/2.  t/conf/cleartext.conf.in
# has the virtual hosts.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use File::Path qw(make_path remove_tree);
use IO::Socket::IP;
use lib 't/lib';
use UpReq qw(hostport raw raw_tls parse_response fields field curl
             h2_served $NO_H2);

plan tests => 351,
    need need_module(qw(upgrade_required mod_ssl mod_http2 mod_dir
                        mod_negotiation mod_rewrite mod_include
                        mod_autoindex mod_setenvif mod_dav mod_dav_fs
                        mod_alias mod_cache mod_cache_disk)), need_cgi;

my $TLS  = 'TLS/1.2, HTTP/1.1';
my $ACME = '/.well-known/acme-challenge';

my %MARK = (
    app     => 'TLS-ONLY-APP-MARKER-c9e1',      # the CGI ran
    mv      => 'TLS-ONLY-MV-MARKER-3a90',
    data    => 'TLS-ONLY-DATA-MARKER-5d1e',
    e404    => 'TLS-ONLY-404-MARKER-8c3a',
    e403    => 'TLS-ONLY-403-MARKER-e5b9',
    envdata => 'TLS-ONLY-ENVDATA-MARKER-71b2',
    env404  => 'TLS-ONLY-ENV404-MARKER-0f6d',
    header  => 'TLS-ONLY-HEADER-MARKER-92aa',
    readme  => 'TLS-ONLY-README-MARKER-4e13',
    cached  => 'TLS-ONLY-CACHED-MARKER-6a0e',
    cachedix => 'TLS-ONLY-CACHEDIX-MARKER-2f57',
);
my $REFUSAL_PAGE = "<html><body>REFUSAL-PAGE-426-b61f</body></html>\n";
my $INCLUDE_ERROR = '[an error occurred while processing this directive]';

# --- requests ---------------------------------------------------------------

# the bytes of one request; the connection closes after it unless the
# headers say otherwise (h => extra lines, body => bytes)
sub req {
    my ($method, $target, %o) = @_;
    my $h = $o{h} // '';
    my $close = $o{keepalive} ? '' : "Connection: close\r\n";
    return "$method $target HTTP/1.1\r\nHost: " . ($o{host} || 'x')
         . "\r\n$h$close\r\n" . ($o{body} // '');
}

# a parsed answer whose body came chunked (a CGI's): the body decoded
sub dechunk {
    my ($r) = @_;
    return $r unless grep { /chunked/i } fields($r, 'Transfer-Encoding');
    my ($in, $out) = ($r->{body}, '');
    while ($in =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
        my $len = hex $1;
        last if $len == 0;
        $out .= substr($in, 0, $len, '');
        $in =~ s/^\r\n//;
    }
    $r->{body} = $out;
    return $r;
}

# plain(VHOST, METHOD, TARGET, ...) / tls(...): one request on a new
# connection (so always its first request), the parsed answer
sub plain {
    my ($vhost, @req) = @_;
    return dechunk(parse_response(raw($vhost, req(@req))));
}
sub tls {
    my ($vhost, @req) = @_;
    return dechunk(parse_response(raw_tls($vhost, req(@req))));
}

# one request on a new keep-alive connection: the first response only
# (read to its Content-Length), the connection then closed by us
sub first_response {
    my ($vhost, $bytes) = @_;
    my ($host, $port) = split /:/, hostport($vhost);
    my $s = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port,
                                Timeout => 10)
        or die "connect $vhost: $@\n";
    print $s $bytes;
    my $buf = '';
    local $SIG{ALRM} = sub { die "timeout reading from $vhost\n" };
    alarm 20;
    while (1) {
        if ((my $end = index($buf, "\r\n\r\n")) >= 0) {
            my ($len) = substr($buf, 0, $end) =~ /^Content-Length:\s*(\d+)/mi;
            last if length($buf) >= $end + 4 + ($len // 0);
        }
        my $n = sysread($s, my $chunk, 65536);
        last unless $n;
        $buf .= $chunk;
    }
    alarm 0;
    close $s;
    return parse_response($buf);
}

# --- what an answer must be -------------------------------------------------

sub lacks {
    my ($r, $marker, $name) = @_;
    is index($r->{body} // '', $MARK{$marker}), -1,
        "$name: no $marker marker";
}

sub has {
    my ($r, $marker, $name) = @_;
    like $r->{body} // '', qr/\Q$MARK{$marker}\E/, "$name: the $marker marker";
}

# the module's refusal of a request sent with "Connection: close": 426,
# exactly one Upgrade and one Connection field, and none of the markers
# (four assertions)
sub refused {
    my ($r, $name, $upgrade) = @_;
    is $r->{status}, 426, "$name: 426";
    is_deeply [fields($r, 'Upgrade')], [$upgrade // $TLS],
        "$name: exactly one Upgrade field, ours";
    is_deeply [fields($r, 'Connection')], ['Upgrade, close'],
        "$name: exactly one Connection field, listing Upgrade";
    unlike $r->{body} // '', qr/TLS-ONLY-/, "$name: no TLS-only content";
}

# a refused error document: the original status with httpd's own text,
# none of the module's fields, no TLS-only content (six assertions)
sub canned {
    my ($r, $status, $name) = @_;
    my %title = (403 => '403 Forbidden', 404 => '404 Not Found');
    is $r->{status}, $status, "$name: $status";
    like $r->{body} // '', qr{<title>\Q$title{$status}\E</title>},
        "$name: httpd's own $status text";
    unlike $r->{body} // '', qr/TLS-ONLY-/, "$name: no TLS-only content";
    is_deeply [fields($r, 'Upgrade')], [], "$name: no Upgrade field";
    is_deeply [fields($r, 'Connection')], ['close'],
        "$name: Connection: close only, no Upgrade in it";
    is_deeply [map { $_->[0] } grep { $_->[0] =~ /^(?:Location|Vary|Sec-WebSocket-Version)$/i }
               @{ $r->{fields} }], [],
        "$name: no Location, Vary or Sec-WebSocket-Version";
}

# an answer that is not the module's: no Upgrade field with a TLS token
# (httpd's core may announce h2c on a connection's first answer)
sub no_tls_upgrade {
    my ($r, $name) = @_;
    is_deeply [grep { /TLS/i } fields($r, 'Upgrade')], [],
        "$name: no Upgrade field of the module";
}

# --- the trees the server writes to (made here, readable by its user) ------

my $logs = Apache::Test::vars('t_logs') . '/cleartext';
remove_tree($logs);
for my $d (qw(dav securedav lock cache cacheq)) {
    make_path("$logs/$d");
    chmod 0777, "$logs/$d";
}
chmod 0755, $logs;

sub dav_source {
    my $f = "$logs/dav/f.txt";
    open my $fh, '>', $f or die "$f: $!";
    print $fh "dav source\n";
    close $fh;
    chmod 0666, $f;
}

# === 1. the ACME exemption holds for the URI finally served =================

# FallbackResource (mod_dir's fast redirect) and mod_rewrite's front
# controller (an internal redirect): the application never runs over plain
# HTTP through the ACME path; a real token file is still served
for my $c (['clear_fb', 'clear_fb_ssl', 'FallbackResource'],
           ['clear_rw', 'clear_rw_ssl', 'RewriteRule front controller']) {
    my ($p, $t, $what) = @$c;
    my $host = $p eq 'clear_fb' ? 'fb.example' : 'rw.example';
    my %h = (host => $host);

    my $r = plain($p, GET => "$ACME/missing", %h);
    refused($r, "$what: GET $ACME/missing over plain");
    like $r->{body},
        qr{<a href="https://\Q$host\E/\.well-known/acme-challenge/missing">},
        "$what: the page links to the https URL of what was asked";
    $r = tls($t, GET => "$ACME/missing", %h);
    is $r->{status}, 200, "$what: GET $ACME/missing over TLS: 200";
    is $r->{body}, "$MARK{app}\n", "$what: over TLS the application runs";

    # a query string is never part of an ACME validation (RFC 8555 8.3)
    my $q = "$ACME/x?rest_route=/wp/v2/users";
    refused(plain($p, GET => $q, %h), "$what: GET $q over plain");
    $r = tls($t, GET => $q, %h);
    is $r->{status}, 200, "$what: GET $q over TLS: 200";
    has($r, 'app', "$what: GET $q over TLS");

    # HEAD works like GET
    $r = plain($p, HEAD => "$ACME/missing", %h);
    is $r->{status}, 426, "$what: HEAD $ACME/missing over plain: 426";
    is_deeply [fields($r, 'Upgrade')], [$TLS],
        "$what: HEAD $ACME/missing: exactly one Upgrade field";
    is $r->{body}, '', "$what: HEAD $ACME/missing: no body";
    is tls($t, HEAD => "$ACME/missing", %h)->{status}, 200,
        "$what: HEAD $ACME/missing over TLS: 200";

    # what a validation is: GET or HEAD of one token, as sent
    $r = plain($p, GET => "$ACME/tok_EN-123", %h);
    is $r->{status}, 200, "$what: a real token over plain: 200";
    is $r->{body}, "acme token tok_EN-123\n", "$what: the token";
    no_tls_upgrade($r, "$what: a real token");
    $r = plain($p, HEAD => "$ACME/tok_EN-123", %h);
    is $r->{status}, 200, "$what: HEAD of a real token over plain: 200";
    is_deeply [fields($r, 'Content-Length')], [22],
        "$what: HEAD of the token: its Content-Length";
    is plain($p, POST => "$ACME/tok_EN-123", %h,
             h => "Content-Length: 0\r\n")->{status}, 426,
        "$what: POST to a real token over plain: 426";
    is plain($p, GET => "$ACME/tok_EN-123?x=1", %h)->{status}, 426,
        "$what: a real token with a query string over plain: 426";
    is plain($p, GET => "$ACME/tok%5FEN-123", %h)->{status}, 426,
        "$what: a %-escaped token over plain: 426";
    is tls($t, GET => "$ACME/tok%5FEN-123", %h)->{body},
        "acme token tok_EN-123\n",
        "$what: the %-escaped token names the token file (over TLS)";
    refused(plain($p, GET => "$ACME/tok_EN-123/x", %h),
            "$what: a second / after a real token over plain");
    refused(plain($p, GET => "$ACME/sub/missing", %h),
            "$what: a second / in a missing token over plain");
}

# MultiViews (mod_negotiation's fast redirect): tokmv is negotiated into
# tokmv.txt, which is not a token
{
    my $r = plain('clear_fb', GET => "$ACME/tokmv", host => 'fb.example');
    refused($r, "MultiViews: GET $ACME/tokmv over plain");
    $r = tls('clear_fb_ssl', GET => "$ACME/tokmv", host => 'fb.example');
    is $r->{status}, 200, "MultiViews: GET $ACME/tokmv over TLS: 200";
    has($r, 'mv', 'MultiViews over TLS');
}

# === 2. error documents =====================================================

# a TLS-only 404 page: never served over plain HTTP
{
    my %h = (host => 'clear.example');
    my $r = plain('clear_plain', GET => '/nonexistent', %h);
    canned($r, 404, 'ErrorDocument 404 in /secure, GET /nonexistent over plain');
    $r = tls('clear_ssl', GET => '/nonexistent', %h);
    is $r->{status}, 404, 'ErrorDocument 404 over TLS: 404';
    is $r->{body}, "<html><body>$MARK{e404}</body></html>\n",
        'ErrorDocument 404 over TLS: the TLS-only page';

    # the error document of the module's own refusal is served, inside
    # the refused location
    $r = plain('clear_plain', GET => '/secure/nothing.html', %h);
    refused($r, 'ErrorDocument 426 in /secure, GET /secure/nothing.html');
    is $r->{body}, $REFUSAL_PAGE, 'ErrorDocument 426: served';
    is tls('clear_ssl', GET => '/secure/nothing.html', %h)->{body},
        "<html><body>$MARK{e404}</body></html>\n",
        'GET /secure/nothing.html over TLS: the 404 page';
    # ... also when it is a directory that mod_dir completes (a fast
    # redirect of the error document: still the refusal's own)
    $r = plain('clear_plain', GET => '/secure/d/x', %h);
    refused($r, 'ErrorDocument 426 /secure/errdir/, GET /secure/d/x');
    is $r->{body}, "<html><body>REFUSAL-PAGE-DIR-26c0</body></html>\n",
        'ErrorDocument 426 completed by DirectoryIndex: served';
    $r = plain('clear_plain', GET => '/secure/data.txt', %h);
    refused($r, 'GET /secure/data.txt over plain');
    is $r->{body}, $REFUSAL_PAGE, 'GET /secure/data.txt: ErrorDocument 426';
    $r = tls('clear_ssl', GET => '/secure/data.txt', %h);
    is $r->{status}, 200, 'GET /secure/data.txt over TLS: 200';
    is $r->{body}, "$MARK{data}\n", 'GET /secure/data.txt over TLS: the file';
}

# a 403 that httpd gives before any configuration is final (a name too
# long for the file system): its TLS-only 403 page is not served either
{
    my %h = (host => 'clear.example');
    my $long = '/' . ('n' x 300);
    canned(plain('clear_plain', GET => $long, %h), 403,
           'a name too long (403 of map_to_storage), TLS-only 403 page');
    my $r = tls('clear_ssl', GET => $long, %h);
    is $r->{status}, 403, 'a name too long over TLS: 403';
    has($r, 'e403', 'a name too long over TLS');
}

# TLS everywhere with the application as its 404 page
{
    my %h = (host => 'ed.example');
    my $r = plain('clear_ed', GET => '/index.html', %h);
    refused($r, 'TLS everywhere, ErrorDocument 426: GET /index.html');
    is $r->{body}, $REFUSAL_PAGE,
        'TLS everywhere: the error document of the refusal is served';

    # the core answers 404 before any configuration is final: the
    # application must not run as the error document over plain HTTP
    $r = plain('clear_ed', GET => '/a%2Fb', %h);
    canned($r, 404, 'encoded slash over plain, ErrorDocument 404 /index.cgi');
    $r = tls('clear_ed_ssl', GET => '/a%2Fb', %h);
    is $r->{status}, 404, 'encoded slash over TLS: 404';
    is $r->{body}, "$MARK{app}\n", 'encoded slash over TLS: the application';

    # a missing ACME token 404s: its error document is judged as itself
    $r = plain('clear_ed', GET => "$ACME/missing", %h);
    canned($r, 404, "$ACME/missing over plain, ErrorDocument 404 /index.cgi");
    $r = tls('clear_ed_ssl', GET => "$ACME/missing", %h);
    is $r->{status}, 404, "$ACME/missing over TLS: 404";
    is $r->{body}, "$MARK{app}\n", "$ACME/missing over TLS: the application";
    $r = plain('clear_ed', GET => "$ACME/tok_EN-123", %h);
    is $r->{status}, 200, 'TLS everywhere: a real token over plain: 200';
    is $r->{body}, "acme token tok_EN-123\n", 'TLS everywhere: the token';
}

# no-upgrade-required is not carried into an internal redirect: the 404
# page of an exempt request is judged by its own location
{
    my %h = (host => 'env.example');
    my $r = plain('clear_env', GET => '/public/missing', %h);
    canned($r, 404, 'exempt /public/missing over plain, TLS-only 404 page');
    $r = tls('clear_env_ssl', GET => '/public/missing', %h);
    is $r->{status}, 404, 'exempt /public/missing over TLS: 404';
    has($r, 'env404', 'exempt /public/missing over TLS');

    # a browser's navigation: the error document's location redirects
    # navigations, but an error document is never redirected (its client
    # keeps the original status)
    my $nav = "Sec-Fetch-Mode: navigate\r\n";
    $r = plain('clear_env', GET => '/secure/data.txt', %h, h => $nav);
    is $r->{status}, 301, 'control: a navigation to /secure is redirected';
    is field($r, 'Location'), 'https://env.example/secure/data.txt',
        'control: to https';
    $r = plain('clear_env', GET => '/public/missing', %h, h => $nav);
    canned($r, 404, 'a navigation to exempt /public/missing over plain');
}

# === 3. an exemption does not leak into what the page serves ================

{
    my %h = (host => 'env.example');
    my $r = plain('clear_env', GET => '/public/page.html', %h);
    is $r->{status}, 200, 'control: /public is exempt over plain';
    is $r->{body}, "public page\n", 'control: the exempt page';

    # include virtual of a TLS-only file from an exempt page
    $r = plain('clear_env', GET => '/public/inc.shtml', %h);
    is $r->{status}, 200, 'exempt page with include virtual: 200';
    lacks($r, 'envdata', 'exempt page with include virtual over plain');
    like $r->{body}, qr/\Q$INCLUDE_ERROR\E/,
        'exempt page over plain: mod_include\'s error text';
    no_tls_upgrade($r, 'exempt page with include virtual');
    $r = tls('clear_env_ssl', GET => '/public/inc.shtml', %h);
    has($r, 'envdata', 'exempt page with include virtual over TLS');

    # mod_autoindex's header (a subrequest that runs) and readme (read from
    # the file name a subrequest looked up); its listing asks a subrequest
    # per entry, judged by the entry's own policy (TLS here: the exemption
    # was the listing's), so a cleartext listing leaves the entry out (SPEC)
    $r = plain('clear_env', GET => '/public/list/', %h);
    is $r->{status}, 200, 'exempt listing over plain: 200';
    like $r->{body}, qr{<title>Index of /public/list</title>},
        'exempt listing over plain: the listing';
    lacks($r, 'header', 'exempt listing over plain');
    lacks($r, 'readme', 'exempt listing over plain');
    unlike $r->{body}, qr/file\.txt/,
        'exempt listing over plain: an entry under TLS is left out';
    $r = tls('clear_env_ssl', GET => '/public/list/', %h);
    has($r, 'header', 'listing over TLS');
    has($r, 'readme', 'listing over TLS');
    like $r->{body}, qr/file\.txt/, 'listing over TLS: the entry';

    # an internal redirect (a per-directory RewriteRule) of an exempt
    # request is judged as what it became
    refused(plain('clear_env', GET => '/public/rw/go', %h),
            'exempt request rewritten into /secure over plain');
    is tls('clear_env_ssl', GET => '/public/rw/go', %h)->{body},
        "$MARK{envdata}\n", 'rewritten into /secure over TLS: the file';

    # SPEC: the exemption holds through the request's own fast redirect
    # (the administrator exempted what the client asked for)
    $r = plain('clear_env', GET => '/public/idx/', %h);
    is $r->{status}, 200,
        'exempt directory whose DirectoryIndex is /secure/index.html: 200';
    is $r->{body}, "SECURE-INDEX-MARKER-d84c\n",
        '... the index, through the fast redirect of the exempt request';

    # the safe forms of an exemption see the normalised path
    $r = plain('clear_env', GET => '/open/page.html', %h);
    is $r->{status}, 200, 'control: <Location /open> UpgradeRequired Off';
    for my $t ('/open/../secure/data.txt', '/open2/../secure/data.txt') {
        refused(plain('clear_env', GET => $t, %h), "GET $t over plain");
        is tls('clear_env_ssl', GET => $t, %h)->{body}, "$MARK{envdata}\n",
            "GET $t over TLS: the file";
    }
    $r = plain('clear_env', GET => '/open/inc.shtml', %h);
    is $r->{status}, 200, '<Location> Off page with include virtual: 200';
    lacks($r, 'envdata', '<Location> Off page with include virtual over plain');
}

# === 4. one Upgrade and one Connection field, whichever way 426 leaves =====
# (each request is the first of its connection, where httpd's core
# announces "Upgrade: h2,h2c" on this plain host)

{
    my %h = (host => 'clear.example');
    my $control = plain('clear_plain', GET => '/pub/plain.html', %h);
    my @core = fields($control, 'Upgrade');
    ok @core == 1 && $core[0] =~ /\bh2c\b/,
        'control: the core announces h2c in one Upgrade field of a first answer';

    # mod_dav sends the 426 of its Destination's subrequest itself
    for my $m (qw(COPY MOVE)) {
        dav_source();
        my $r = plain('clear_plain', $m => '/dav/f.txt', %h,
            h => "Destination: http://clear.example/secure/dav/c.txt\r\n");
        refused($r, "$m into /secure over plain, first request");
        ok !-e "$logs/securedav/c.txt", "$m over plain: nothing written";
        ok -e "$logs/dav/f.txt", "$m over plain: the source stays";
    }
    dav_source();
    my $r = tls('clear_ssl', COPY => '/dav/f.txt', %h,
        h => "Destination: https://clear.example/secure/dav/c.txt\r\n");
    is $r->{status}, 201, 'COPY into /secure over TLS: 201';
    ok -e "$logs/securedav/c.txt", 'COPY over TLS: written';

    # ap_die() with the module's page: a refusal in header_parser, and
    # one in the handler after FallbackResource's fast redirect, on a
    # kept-alive connection
    for my $t ('/index.html', "$ACME/missing") {
        $r = first_response('clear_fb',
            req(GET => $t, host => 'fb.example', keepalive => 1));
        is $r->{status}, 426, "GET $t kept alive: 426";
        is_deeply [fields($r, 'Upgrade')], [$TLS],
            "GET $t kept alive: exactly one Upgrade field";
        is_deeply [fields($r, 'Connection')], ['Upgrade'],
            "GET $t kept alive: exactly one Connection field, Upgrade";
    }

    # the client offers h2c: refused at once (TLS fails too), no 101;
    # with the module's page and with ErrorDocument 426
    my $h2c = "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
            . "HTTP2-Settings: AAMAAABkAAQAAP__\r\n";
    for my $c (['clear_fb', 'fb.example', "$ACME/missing"],
               ['clear_plain', 'clear.example', '/secure/data.txt']) {
        my ($vhost, $host, $t) = @$c;
        $r = first_response($vhost,
            req(GET => $t, host => $host, keepalive => 1, h => $h2c));
        is $r->{status_line}, 'HTTP/1.1 426 Upgrade Required',
            "h2c offer, GET $t: 426 at once, no 101";
        is_deeply [fields($r, 'Upgrade')], [$TLS],
            "h2c offer, GET $t: exactly one Upgrade field";
        is_deeply [fields($r, 'Connection')], ['Upgrade'],
            "h2c offer, GET $t: exactly one Connection field";
    }

    # ErrorDocument 426, kept alive: the error document's own handler
    # would add the core's announcement
    $r = first_response('clear_plain',
        req(GET => '/secure/nothing.html', %h, keepalive => 1));
    is $r->{status}, 426, 'ErrorDocument 426 kept alive: 426';
    is_deeply [fields($r, 'Upgrade')], [$TLS],
        'ErrorDocument 426: exactly one Upgrade field';
    is_deeply [fields($r, 'Connection')], ['Upgrade'],
        'ErrorDocument 426: exactly one Connection field';
    is $r->{body}, $REFUSAL_PAGE, 'ErrorDocument 426: the document';

    # a refused served subrequest: the page is a 200 and gets nothing of
    # the module's
    $r = plain('clear_plain', GET => '/pub/inc.shtml', %h);
    is $r->{status}, 200, 'include virtual of /secure over plain: 200';
    lacks($r, 'data', 'include virtual of /secure over plain');
    like $r->{body}, qr/\Q$INCLUDE_ERROR\E/,
        'include virtual over plain: mod_include\'s error text';
    is_deeply [fields($r, 'Upgrade')], [@core],
        'include virtual over plain: the Upgrade field of any first answer,'
        . ' nothing of the module\'s';
    is scalar(fields($r, 'Connection')), 1,
        'include virtual over plain: one Connection field';
    $r = tls('clear_ssl', GET => '/pub/inc.shtml', %h);
    has($r, 'data', 'include virtual over TLS');
}

# === ProxyPass to the server itself ========================================
# (the client is 127.0.0.3; a TLS terminator would be 127.0.0.2)

{
    my $from = sub {
        my ($vhost, $host, $path, $local) = @_;
        return parse_response(raw($vhost, req(GET => $path, host => $host,
            h => "X-Forwarded-Proto: https\r\n"), local => $local));
    };
    my $r = $from->('clear_loop', 'loop.example', '/app/data.txt',
                    '127.0.0.3');
    is $r->{status}, 200,
        'loopback trusted: the client\'s X-Forwarded-Proto passes through '
        . 'ProxyPass to itself (README\'s warning)';
    has($r, 'data', 'loopback trusted, proxied');
    refused($from->('clear_loop', 'loop.example', '/secure/data.txt',
                    '127.0.0.3'),
            'loopback trusted: the client\'s X-Forwarded-Proto, directly');
    refused($from->('clear_loop_safe', 'loop-safe.example', '/app/plain.html',
                    '127.0.0.3'),
            'README\'s safe form: a client\'s X-Forwarded-Proto');
    $r = $from->('clear_loop_safe', 'loop-safe.example', '/app/plain.html',
                 '127.0.0.2');
    is $r->{status}, 200, 'README\'s safe form: the TLS terminator: 200';
    is $r->{body}, "clear pub\n", 'README\'s safe form: proxied';
}

# === a shared cache behind a TLS-terminating load balancer =================
# (the balancer is 127.0.0.2; http and https requests share a cache key)

{
    my $via = sub {
        my ($vhost, $proto, $local) = @_;
        return parse_response(raw($vhost, req(GET => '/cached/data.txt',
            host => 'cache.example',
            h => $proto ? "X-Forwarded-Proto: $proto\r\n" : ''),
            local => $local || '127.0.0.2'));
    };
    my $r = $via->('clear_cache', 'https');
    is $r->{status}, 200, 'CacheQuickHandler Off: https through the balancer';
    has($r, 'cached', 'CacheQuickHandler Off, https');
    $r = $via->('clear_cache', 'https');
    like field($r, 'X-Cache') // '', qr/^HIT/,
        'CacheQuickHandler Off: the second one is cached';
    $r = $via->('clear_cache', 'http');
    refused($r, 'CacheQuickHandler Off: http through the balancer');
    refused($via->('clear_cache', undef, '127.0.0.1'),
            'CacheQuickHandler Off: a direct plain request');

    # a TLS-only index that mod_dir installs after header_parser: cached
    # over https, refused over http (the module decides again before the
    # cache's handler can answer)
    my $ix = sub {
        my ($proto, $local) = @_;
        return parse_response(raw('clear_cache', req(GET => '/ix/',
            host => 'cache.example',
            h => $proto ? "X-Forwarded-Proto: $proto\r\n" : ''),
            local => $local || '127.0.0.2'));
    };
    $r = $ix->('https');
    is $r->{status}, 200, 'cached index: https through the balancer: 200';
    has($r, 'cachedix', 'cached index, https');
    $r = $ix->('https');
    like field($r, 'X-Cache') // '', qr/^HIT/,
        'cached index: the second one is cached';
    has($r, 'cachedix', 'cached index, https from the cache');
    refused($ix->('http'), 'cached index: http through the balancer');
    refused($ix->(undef, '127.0.0.1'), 'cached index: a direct plain request');

    # README's warning: the quick handler answers before any module
    $via->('clear_cacheq', 'https');
    $r = $via->('clear_cacheq', 'http');
    like field($r, 'X-Cache') // '', qr/^HIT/,
        'CacheQuickHandler On (the default) answers from the cache before '
        . 'the module: README warns of it';
}

# === HTTP/2: the same answers, nothing connection-specific ==================

# [plain host, TLS host, target, plain status, TLS status, marker]
my @h2 = (
    ['clear_fb', 'clear_fb_ssl', "$ACME/missing", 426, 200, 'app'],
    ['clear_fb', 'clear_fb_ssl', "$ACME/x?rest_route=/wp/v2/users", 426, 200,
     'app'],
    ['clear_fb', 'clear_fb_ssl', "$ACME/tokmv", 426, 200, 'mv'],
    ['clear_rw', 'clear_rw_ssl', "$ACME/missing", 426, 200, 'app'],
    ['clear_ed', 'clear_ed_ssl', '/a%2Fb', 404, 404, 'app'],
    ['clear_ed', 'clear_ed_ssl', "$ACME/missing", 404, 404, 'app'],
    ['clear_plain', 'clear_ssl', '/nonexistent', 404, 404, 'e404'],
    ['clear_plain', 'clear_ssl', '/secure/data.txt', 426, 200, 'data'],
    ['clear_plain', 'clear_ssl', '/pub/inc.shtml', 200, 200, 'data'],
    ['clear_env', 'clear_env_ssl', '/public/inc.shtml', 200, 200, 'envdata'],
    ['clear_env', 'clear_env_ssl', '/public/missing', 404, 404, 'env404'],
    ['clear_env', 'clear_env_ssl', '/public/list/', 200, 200, 'header'],
);

SKIP: {
    skip $NO_H2, 8 * @h2 unless h2_served();
    for my $c (@h2) {
        my ($p, $t, $target, $pst, $tst, $mark) = @$c;
        my $r = curl('--http2-prior-knowledge',
                     'http://' . hostport($p) . $target);
        my $name = "h2c $p $target";
        is $r->{status}, $pst, "$name: $pst, as over HTTP/1.1";
        lacks($r, $mark, $name);
        is_deeply [map { $_->[0] } grep { $_->[0] =~ /^(?:upgrade|connection)$/i }
                   @{ $r->{fields} }], [],
            "$name: no Upgrade or Connection field";
        # an h2c upgrade: httpd may switch while the request is exempt,
        # before it becomes another one
        $r = curl('--http2', 'http://' . hostport($p) . $target);
        $name = "h2c upgrade $p $target";
        is $r->{status}, $pst, "$name: $pst, as over HTTP/1.1";
        lacks($r, $mark, $name);
        $r = curl('--http2', 'https://' . hostport($t) . $target);
        $name = "h2 $t $target";
        is $r->{status}, $tst, "$name: $tst, as over HTTP/1.1";
        has($r, $mark, $name);
        like $r->{status_line} // '', qr{^HTTP/2 }, "$name: over HTTP/2";
    }
}
