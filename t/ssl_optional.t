# mod_ssl's "SSLEngine optional" beside the module (httpd before 2.4.64:
# 2.4.64 removed the mode with CVE-2025-49812).  In such a virtual host
# mod_ssl
#   - upgrades a plain connection in-band (RFC 2817) in post_read_request,
#     before any module sees the request, when the request carries
#     "Upgrade: TLS/1.0" and "Connection: Upgrade": 101 Switching
#     Protocols, a TLS handshake on the same socket, then the answer to
#     that same request over TLS;
#   - answers SSLRequireSSL over plain HTTP with its own 426 (Upgrade:
#     TLS/1.0, HTTP/1.1; httpd's canned page).
# The module never takes part in that: its own 426 (before access control,
# so before SSLRequireSSL's) says TLS/1.2 and means "reconnect with https";
# it never answers 101 or switches, and the connection stays plain.  After
# mod_ssl's switch the module sees a TLS connection and lets the request
# through.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use IO::Socket::IP;
use IO::Socket::SSL;
use lib 't/lib';
use UpReq qw(hostport raw parse_response fields field httpd_version
             httpd_at_least);

my $v = httpd_version();
plan tests => 17, need need_module('upgrade_required', 'mod_ssl'),
    { "httpd $v has no SSLEngine optional (removed in 2.4.64,"
      . " CVE-2025-49812)" => !httpd_at_least('2.4.64') };
print "# httpd $v: SSLEngine optional exists (before 2.4.64)\n";

my $TLS_UPGRADE = "Upgrade: TLS/1.0\r\nConnection: Upgrade\r\n";
my $SSL_PAGE = qr/can only be retrieved\s+using SSL/;

sub get {
    my ($path, $extra) = @_;
    return parse_response(raw('upreq_sslopt',
        "GET $path HTTP/1.1\r\nHost: sslopt.example\r\n" . ($extra // '')
        . "Connection: close\r\n\r\n"));
}

# inband(REQUEST) -> (head of the first answer, parsed answer after the
# switch, or undef when there was no 101 or no handshake)
sub inband {
    my ($req) = @_;
    my ($host, $port) = split /:/, hostport('upreq_sslopt');
    my $sock = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port,
                                   Proto => 'tcp', Timeout => 10)
        or die "connect $host:$port: $@";
    print $sock $req;
    my ($head, $data) = ('', '');
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm 20;
    eval {
        while ($head !~ /\r\n\r\n/) {
            sysread($sock, my $buf, 1) or last;
            $head .= $buf;
        }
        if ($head =~ m{^HTTP/1\.1 101 }) {
            IO::Socket::SSL->start_SSL($sock,
                SSL_verify_mode => SSL_VERIFY_NONE, Timeout => 10)
                or die "TLS handshake after 101: $SSL_ERROR\n";
            while (sysread($sock, my $buf, 65536)) { $data .= $buf }
        }
        else {
            while (sysread($sock, my $buf, 65536)) { $head .= $buf }
        }
    };
    alarm 0;
    close $sock;
    return ($head, $data eq '' ? undef : parse_response($data));
}

# --- the module's policy over plain HTTP: its own 426, advisory TLS/1.2
for my $path ('/tls/index.html', '/tls13/index.html') {
    my $what = $path =~ /tls13/ ? 'module and SSLRequireSSL' : 'module';
    my $r = get($path);
    ok t_cmp($r->{status_line}, qr{^HTTP/1\.1 426 }, "$what, plain GET: 426");
    ok t_cmp(join('|', fields($r, 'Upgrade')), 'TLS/1.2, HTTP/1.1',
             "$what: one Upgrade field, the module's TLS/1.2, not mod_ssl's"
             . ' TLS/1.0');
    ok t_cmp($r->{body}, qr{<title>426 Upgrade Required</title>.*https://}s,
             "$what: the module's page, read in cleartext");
}

# --- mod_ssl's own 426, which the module leaves alone
my $r = get('/tls12/index.html');
ok t_cmp($r->{status}, 426, 'SSLRequireSSL only: mod_ssl\'s 426');
ok t_cmp(join('|', fields($r, 'Upgrade')), 'TLS/1.0, HTTP/1.1',
         '... with mod_ssl\'s Upgrade: TLS/1.0, HTTP/1.1');
ok t_cmp($r->{body}, $SSL_PAGE, '... and httpd\'s canned page');

# --- mod_ssl's in-band upgrade: before the module, which then sees TLS
for my $c (['/tls/index.html', 'module'],
           ['/tls13/index.html', 'module and SSLRequireSSL'],
           ['*', 'OPTIONS *']) {
    my ($path, $what) = @$c;
    my $method = $path eq '*' ? 'OPTIONS' : 'GET';
    my ($head, $after) = inband("$method $path HTTP/1.1\r\n"
        . "Host: sslopt.example\r\n$TLS_UPGRADE\r\n");
    ok t_cmp($head, qr{^HTTP/1\.1 101 .*^Upgrade: TLS/1\.0, HTTP/1\.1\r$}ms,
             "$what, Upgrade: TLS/1.0: mod_ssl switches first (101)");
    ok t_cmp($after ? $after->{status} : 'no answer over TLS', 200,
             "$what: then 200 over TLS, the module sees TLS");
    next if $path eq '*';
    ok t_cmp($after ? $after->{body} : '', qr/^ok tls/,
             "$what: the content");
}
