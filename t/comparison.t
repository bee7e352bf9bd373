# What mod_upgrade_required answers, beside what httpd answers without it
# (t/conf/comparison.conf.in): mod_ssl's SSLRequireSSL, and the recipe of
# an <If> with "Redirect 426" and "Header always set Upgrade ...".  Every
# cell of the comparison table of docs/comparison.md is one assertion here.
#
# The answers are the same on every httpd the suite runs on (2.4.37, 2.4.52,
# 2.4.58, 2.4.62 through t/versions/run, and Debian's 2.4.71): SSLRequireSSL
# answers 403 on a virtual host without "SSLEngine optional" on all of them;
# before 2.4.64 it answers 426 only in such a host, and core announces
# "Upgrade: h2,h2c" on them all.  t/ssl_optional.t covers SSLEngine optional.
#
# Each answer is summed up as "STATUS; Field: value; ...; body: KIND" with
# the fields Upgrade, Connection, Sec-WebSocket-Version and
# WWW-Authenticate in the order sent (a repeated field shows twice).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use lib 't/lib';
use UpReq qw(hostport raw raw_tls parse_response curl httpd_version);
use UpReqWS qw(mpm);

my @cases = cases();
print '# httpd ', httpd_version(), "\n";
plan tests => scalar(map { keys %{ $_->{want} } } @cases),
    need_module 'upgrade_required', 'mod_ssl', 'alias', 'headers',
    'auth_basic';

my $docroot = Apache::Test::vars('documentroot');

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    return scalar <$fh>;
}

sub body_kind {
    my ($body, $status) = @_;
    return 'none' if $body eq '';
    return 'ErrorDocument' if $body eq slurp("$docroot/index.html");
    return 'content' if $body =~ /^ok \S+\n\z/;
    return "httpd's $status page about SSL upgrade"
        if $body =~ /can only be retrieved\s+using SSL/;
    return "httpd's $status page"
        if $body =~ m{<title>$status }
        && $body !~ /Upgrade Required/;
    if ($body =~ m{<title>426 Upgrade Required</title>}) {
        my ($link) = $body =~ m{<a href="([^"]+)">};
        return 'module page' . ($link ? " linking $link" : '');
    }
    return 'other';
}

sub summary {
    my ($r, %o) = @_;
    # (parse_response reads HTTP/x.y only; curl says "HTTP/2 426")
    ($r->{status}) = $r->{status_line} =~ m{^HTTP/[\d.]+ (\d{3})}
        unless defined $r->{status};
    my @parts = ($o{switched} ? "101 then $r->{status}" : $r->{status});
    for my $f (@{ $r->{fields} }) {
        my ($name) = grep { lc $_ eq lc $f->[0] }
            qw(Upgrade Connection Sec-WebSocket-Version WWW-Authenticate);
        push @parts, "$name: $f->[1]" if $name;
    }
    push @parts, 'body: ' . body_kind($r->{body}, $r->{status});
    return join '; ', @parts;
}

# request helpers: each returns a summary
sub h1 {
    my ($path, %o) = @_;
    my $proto = $o{proto} || 'HTTP/1.1';
    my $req = "GET $path $proto\r\nHost: cmp.example\r\n"
            . ($o{headers} || '') . "Connection: close\r\n\r\n";
    my $r = parse_response($o{tls}
        ? raw_tls('upreq_cmp_ssl', $req, version => $o{tls})
        : raw('upreq_cmp_plain', $req));
    return summary($r);
}

sub h2 {
    my ($path, @args) = @_;
    my $r = curl(@args, 'http://' . hostport('upreq_cmp_plain') . $path);
    return summary($r, switched => scalar($r->{all} =~ m{^HTTP/1\.1 101 }m));
}

my $WS = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
       . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

sub cases {
    my $tls_mod = 'Upgrade: TLS/1.2, HTTP/1.1; Connection: Upgrade, close';
    return (
    { name => 'TLS required, GET over plain HTTP/1.1',
      get => sub { h1("/$_[0]/tls/index.html") },
      want => {
        mod => "426; $tls_mod; body: module page linking "
             . 'https://cmp.example/mod/tls/index.html',
        ssl => "403; Connection: close; body: httpd's 403 page",
        recipe => "426; $tls_mod; "
                . "body: httpd's 426 page about SSL upgrade" } },
    { name => 'TLS required, GET over cleartext HTTP/2',
      h2 => 1,
      get => sub { h2("/$_[0]/tls/index.html", '--http2-prior-knowledge') },
      want => {
        mod => '426; body: module page linking '
             . 'https://cmp.example/mod/tls/index.html',
        ssl => "403; body: httpd's 403 page",
        recipe => "426; body: httpd's 426 page about SSL upgrade" } },
    { name => 'TLS 1.3 required, GET over TLS 1.2',
      get => sub { h1("/$_[0]/tls13/index.html", tls => 'TLSv1_2') },
      want => {
        mod => '426; Upgrade: TLS/1.3, HTTP/1.1; Connection: Upgrade, close; '
             . 'body: module page',
        ssl => 'SSLRequireSSL only: 200; Upgrade: h2,h2c; '
             . 'Connection: Upgrade, close; body: content',
        sslrequire => "403; Connection: close; body: httpd's 403 page",
        recipe => '426; Upgrade: TLS/1.3, HTTP/1.1; '
                . 'Connection: Upgrade, close; '
                . "body: httpd's 426 page about SSL upgrade" } },
    { name => 'WebSocket required, plain GET',
      get => sub { h1("/$_[0]/ws/index.html") },
      want => {
        mod => '426; Upgrade: websocket; Connection: Upgrade, close; '
             . 'Sec-WebSocket-Version: 13; body: module page',
        recipe => '426; Upgrade: websocket; Connection: Upgrade, close; '
                . 'Sec-WebSocket-Version: 13; '
                . "body: httpd's 426 page about SSL upgrade" } },
    { name => 'WebSocket required, handshake with Sec-WebSocket-Version: 8',
      get => sub { h1("/$_[0]/ws/index.html",
                      headers => "${WS}Sec-WebSocket-Version: 8\r\n") },
      want => {
        mod => '426; Upgrade: websocket; Connection: Upgrade, close; '
             . 'Sec-WebSocket-Version: 13; body: module page',
        recipe => '200; Connection: close; body: content' } },
    { name => 'WebSocket required, handshake over HTTP/1.0',
      get => sub { h1("/$_[0]/ws/index.html", proto => 'HTTP/1.0',
                      headers => "${WS}Sec-WebSocket-Version: 13\r\n") },
      want => {
        mod => '426; Upgrade: websocket; Connection: Upgrade, close; '
             . 'Sec-WebSocket-Version: 13; body: module page',
        recipe => '200; Connection: close; body: content' } },
    { name => 'HTTP/2 required, GET over HTTP/1.1',
      get => sub { h1("/$_[0]/h2/index.html") },
      want => {
        mod => '426; Upgrade: h2c; Connection: Upgrade, close; '
             . 'body: module page linking '
             . 'https://cmp.example/mod/h2/index.html',
        recipe => '426; Upgrade: h2c; Connection: Upgrade, close; '
                . "body: httpd's 426 page about SSL upgrade" } },
    { name => 'HTTP/2 required, h2c upgrade request',
      h2 => 1,
      get => sub { h2("/$_[0]/h2/index.html", '--http2') },
      want => {
        mod => '101 then 200; body: content',
        recipe => '426; Upgrade: h2c; Connection: Upgrade; '
                . "body: httpd's 426 page about SSL upgrade" } },
    { name => 'HTTP/2 required, HTTP/2 GET of a directory (DirectoryIndex)',
      h2 => 1,
      get => sub { h2("/$_[0]/h2/", '--http2-prior-knowledge') },
      want => {
        mod => '200; body: content',
        recipe => "426; body: httpd's 426 page about SSL upgrade" } },
    { name => 'HTTP/1.1 required, GET over HTTP/1.0',
      get => sub { h1("/$_[0]/h11/index.html", proto => 'HTTP/1.0') },
      want => {
        mod => '426; Upgrade: HTTP/1.1; Connection: Upgrade, close; '
             . 'body: module page',
        recipe => '426; Upgrade: HTTP/1.1; Connection: Upgrade, close; '
                . "body: httpd's 426 page about SSL upgrade" } },
    { name => 'TLS required, ErrorDocument configured (426, or 403)',
      get => sub { h1("/$_[0]/ed/x") },
      want => {
        mod => "426; $tls_mod; body: ErrorDocument",
        ssl => '403; Upgrade: h2,h2c; Connection: Upgrade, close; '
             . 'body: ErrorDocument',
        recipe => '426; Upgrade: h2,h2c; Connection: Upgrade, close; '
                . 'body: ErrorDocument' } },
    { name => 'TLS and authentication required in <Location>, no credentials',
      get => sub { h1("/$_[0]/auth/x") },
      want => {
        mod => "426; $tls_mod; body: module page linking "
             . 'https://cmp.example/mod/auth/x',
        ssl => "403; Connection: close; body: httpd's 403 page",
        recipe => "426; $tls_mod; "
                . "body: httpd's 426 page about SSL upgrade" } },
    { name => 'TLS and authentication required in <Directory>, no credentials',
      get => sub {
          my %dir = (mod => 'tls-h11', ssl => 'tls12', recipe => 'tls13');
          h1("/$_[0]/$dir{$_[0]}/index.html") },
      want => {
        mod => "426; $tls_mod; body: module page linking "
             . 'https://cmp.example/mod/tls-h11/index.html',
        ssl => "403; Connection: close; body: httpd's 403 page",
        recipe => "401; $tls_mod; WWW-Authenticate: Basic realm=\"cmp\"; "
                . "body: httpd's 401 page" } },
    );
}

for my $case (@cases) {
    for my $who (sort keys %{ $case->{want} }) {
        my $want = $case->{want}{$who};
        SKIP: {
            skip 'mod_http2 does not serve HTTP/2 under mpm_prefork', 1
                if $case->{h2} && mpm() eq 'prefork';
            skip 'mod_http2 not loaded', 1
                if $case->{h2} && !need_module('http2');
            my $prefix = $who eq 'sslrequire' ? 'sslrequire' : $who;
            my $got = $case->{get}->($prefix);
            $got = "SSLRequireSSL only: $got"
                if $want =~ /^SSLRequireSSL only: /;
            is $got, $want, "$case->{name}: $who";
        }
    }
}
