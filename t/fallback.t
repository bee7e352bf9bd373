# The TLS look-ups: ap_ssl_conn_is_ssl()/ap_ssl_var_lookup() by default, or
# mod_ssl's optional functions when built with FALLBACK=1 ("make -f
# Makefile.apxs test-fallback" sets UPREQ_EXPECT_FALLBACK=1) or against an
# httpd older than 2.4.47, which has no ap_ssl_conn_is_ssl (2.4.37 in
# t/versions/run: the real fallback, not a forced one).  Either way
# the TLS and TLS-version decisions hold over TLS 1.2, TLS 1.3 and HTTP/2.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use UpReq qw(hostport raw raw_tls parse_response fields field curl
             httpd_version httpd_at_least);

my $forced = ($ENV{UPREQ_EXPECT_FALLBACK} // '') eq '1';
# ap_ssl_conn_is_ssl and ap_ssl_var_lookup came with 2.4.47 (MMN
# 20120211.102)
my $old_httpd = !httpd_at_least('2.4.47');
my $fallback = $forced || $old_httpd;
print '# httpd ', httpd_version(), ': ',
    ($old_httpd ? 'no ap_ssl_conn_is_ssl, the module must use the optional'
                  . ' functions'
                : 'ap_ssl_conn_is_ssl exists'), "\n";
my $vars = Apache::Test::vars();
my $so = "$vars->{top_dir}/.libs/mod_upgrade_required.so";

sub have_nm { system('nm --version >/dev/null 2>&1') == 0 }

plan tests => 24, need need_module('upgrade_required', 'mod_ssl', 'mod_http2'),
    { 'nm (binutils) is needed' => have_nm() },
    { 'curl with HTTP/2 is needed' =>
          scalar(`curl -V 2>/dev/null` =~ /\bHTTP2\b/) };

# --- which build is loaded ------------------------------------------------

open my $fh, '<', "$vars->{t_conf}/inherit.conf" or die "inherit.conf: $!";
my ($load) = grep { /^LoadModule upgrade_required_module / } <$fh>;
close $fh;
ok t_cmp($load // '', qr/ \Q$so\E$/, 'the server loads the module in .libs');

my %undef = map { /^\s*U\s+(\S+)/ ? ($1 => 1) : () }
            `nm -D --undefined-only $so`;
my $build = $forced ? 'FALLBACK=1 build'
          : $old_httpd ? 'build for httpd ' . httpd_version()
          : 'default build';
ok t_cmp($undef{ap_ssl_conn_is_ssl} ? 'yes' : 'no', $fallback ? 'no' : 'yes',
         "$build: references ap_ssl_conn_is_ssl?");
ok t_cmp($undef{ap_ssl_var_lookup} ? 'yes' : 'no', $fallback ? 'no' : 'yes',
         "$build: references ap_ssl_var_lookup?");
# APR_RETRIEVE_OPTIONAL_FN is apr_dynamic_fn_retrieve()
ok t_cmp($undef{apr_dynamic_fn_retrieve} ? 'yes' : 'no',
         $fallback ? 'yes' : 'no',
         "$build: retrieves optional functions?");
ok t_cmp($undef{ap_hook_optional_fn_retrieve} ? 'yes' : 'no',
         $fallback ? 'yes' : 'no',
         "$build: hooks optional_fn_retrieve?");

# --- the decisions --------------------------------------------------------

sub get {
    my ($path) = @_;
    return "GET $path HTTP/1.1\r\nHost: localhost\r\n"
         . "Connection: close\r\n\r\n";
}

my $r = parse_response(raw('upreq_plain', get('/tls/')));
ok t_cmp($r->{status}, 426, 'plain, TLS required: 426');
ok t_cmp(field($r, 'Upgrade'), 'TLS/1.2, HTTP/1.1', 'plain: Upgrade');

# [vhost, TLS version, path, status, Upgrade or body]
my @tls = (
    ['upreq_ssl13', 'TLSv1_2', '/tls/',   200, "ok tls\n"],
    ['upreq_ssl13', 'TLSv1_2', '/tls12/', 200, "ok tls12\n"],
    ['upreq_ssl13', 'TLSv1_2', '/tls13/', 426, 'TLS/1.3, HTTP/1.1'],
    ['upreq_ssl13', 'TLSv1_3', '/tls13/', 200, "ok tls13\n"],
    ['upreq_ssl12', 'TLSv1_2', '/tls13/', 426, 'TLS/1.3, HTTP/1.1'],
);
for my $c (@tls) {
    my ($vhost, $version, $path, $status, $want) = @$c;
    my $name = "$version $vhost $path";
    $r = parse_response(raw_tls($vhost, get($path), version => $version));
    ok t_cmp($r->{status}, $status, "$name: $status");
    ok t_cmp($status == 426 ? field($r, 'Upgrade') : $r->{body}, $want,
             "$name: " . ($status == 426 ? 'Upgrade' : 'body'));
}

# HTTP/2: the TLS state is the client's connection's, seen from a stream;
# mod_http2 does not serve HTTP/2 under prefork
my $mpm = Apache::Test::config()->httpd_mpm || '';
if ($mpm eq 'prefork') {
    skip("mod_http2 serves no HTTP/2 under the prefork MPM", 0) for 1 .. 7;
}
else {
    my $ssl13 = hostport('upreq_ssl13');
    my $plain = hostport('upreq_plain');

    $r = curl('--http2', '--tlsv1.2', '--tls-max', '1.2',
              "https://$ssl13/tls13/");
    ok t_cmp($r->{status_line}, qr{^HTTP/2 426},
             'h2 over TLS 1.2, TLS/1.3 required: 426');
    ok t_cmp(scalar(fields($r, 'Upgrade')), 0, 'h2: no Upgrade field');
    $r = curl('--http2', '--tlsv1.3', "https://$ssl13/tls13/");
    ok t_cmp($r->{status_line}, qr{^HTTP/2 200}, 'h2 over TLS 1.3: 200');
    ok t_cmp($r->{body}, "ok tls13\n", 'h2 over TLS 1.3: body');
    $r = curl('--http2', '--tlsv1.2', '--tls-max', '1.2',
              "https://$ssl13/tls12/");
    ok t_cmp($r->{status_line}, qr{^HTTP/2 200},
             'h2 over TLS 1.2, TLS/1.2 required: 200');
    $r = curl('--http2-prior-knowledge', "http://$plain/tls/");
    ok t_cmp($r->{status_line}, qr{^HTTP/2 426}, 'h2c, TLS required: 426');
    ok t_cmp(scalar(fields($r, 'Upgrade')), 0, 'h2c: no Upgrade field');
}
