package UpReq;
# Helpers of the mod_upgrade_required suite: raw HTTP/1.x over a real socket
# (plain or TLS, with a chosen TLS version and source address), curl for
# HTTP/2, and parsing that keeps every header field as sent.
use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use IO::Socket::IP;
use IO::Socket::SSL;
use Apache::Test ();
use Apache::TestRequest ();

use Test::More ();
use File::Path ();

our @EXPORT_OK = qw(hostport send_raw raw raw_tls parse_response fields
                    field status is_426_fields h2_served $NO_H2 curl
                    apache_bin conf_test httpd_version httpd_at_least
                    access_log_line write_file under_valgrind);

# write_file(ROOT, PATH, TEXT): a file below a test's own document root,
# its directories made, readable by the httpd children (nobody as root)
sub write_file {
    my ($root, $path, $text) = @_;
    (my $d = "$root/$path") =~ s{/[^/]*$}{};
    File::Path::make_path($d, { mode => 0755 });
    open my $fh, '>', "$root/$path" or die "$root/$path: $!";
    print $fh $text;
    close $fh;
    chmod 0644, "$root/$path";
}

# make test-valgrind runs every httpd of the suite under memcheck
sub under_valgrind {
    return Apache::Test::vars('httpd') =~ /valgrind/ ? 1 : 0;
}

# mod_http2 serves HTTP/2 only with a threaded MPM
our $NO_H2 = 'mod_http2 does not serve HTTP/2 with the prefork MPM';
sub h2_served {
    return (Apache::Test::config()->{server}->{mpm} || '') ne 'prefork';
}

# "host:port" of a <VirtualHost NAME> of the suite's configuration
sub hostport {
    my ($vhost) = @_;
    my $config = Apache::Test::config();
    Apache::TestRequest::module($vhost);
    my $hp = Apache::TestRequest::hostport($config);
    Apache::TestRequest::module('default');
    $hp =~ s/^localhost:/127.0.0.1:/;
    return $hp;
}

# send_raw(HOST, PORT, BYTES, local => ADDR, tls => 1, version =>
# 'TLSv1_2', half_close => 1): send BYTES on a new connection (IPv4 or
# IPv6, plain or TLS) and return everything the server sends until it
# closes.  Requests should carry "Connection: close" unless testing
# pipelining.
sub send_raw {
    my ($host, $port, $bytes, %o) = @_;
    my $sock = IO::Socket::IP->new(
        PeerHost => $host, PeerPort => $port,
        ($o{local} ? (LocalHost => $o{local}) : ()),
        Proto => 'tcp', Timeout => 10)
        or die "connect [$host]:$port from " . ($o{local} || 'any')
               . ": $@\n";
    if ($o{tls}) {
        IO::Socket::SSL->start_SSL($sock,
            SSL_verify_mode => SSL_VERIFY_NONE,
            ($o{version} ? (SSL_version => $o{version}) : ()),
            Timeout => 10)
            or die "TLS handshake with [$host]:$port: $SSL_ERROR\n";
    }
    print $sock $bytes;
    shutdown($sock, 1) if $o{half_close};
    my $data = '';
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm 20;
    eval {
        while (1) {
            my $n = sysread($sock, my $buf, 65536);
            last unless $n;
            $data .= $buf;
        }
    };
    alarm 0;
    return $data;
}

# raw(VHOST, BYTES[, local => ADDR, peer => ADDR, half_close => 1]): a
# plain connection to a <VirtualHost NAME> of the suite
sub raw {
    my ($vhost, $req, %o) = @_;
    my ($host, $port) = split /:/, hostport($vhost);
    return send_raw($o{peer} || $host, $port, $req, %o);
}

# raw_tls(VHOST, BYTES, version => 'TLSv1_2'|'TLSv1_3'|undef)
sub raw_tls {
    my ($vhost, $req, %o) = @_;
    my ($host, $port) = split /:/, hostport($vhost);
    return send_raw($host, $port, $req, tls => 1, version => $o{version});
}

# parse_response(BYTES) -> { status, fields => [[name, value], ...], body,
# rest } ; rest is what follows the first response (pipelining).
sub parse_response {
    my ($data) = @_;
    my ($head, $after) = split /\r\n\r\n/, $data, 2;
    $after = '' unless defined $after;
    my @lines = split /\r\n/, $head;
    my $status_line = shift @lines;
    my ($status) = $status_line =~ m{^HTTP/[\d.]+ (\d{3})};
    my @fields = map { /^([^:]+):\s*(.*)$/ ? [$1, $2] : [$_, undef] } @lines;
    my $len;
    for (@fields) { $len = $_->[1] if lc $_->[0] eq 'content-length' }
    # a HEAD answer announces a length it does not send
    $len = length $after if defined $len && $len > length $after;
    my ($body, $rest) = defined $len
        ? (substr($after, 0, $len), substr($after, $len)) : ($after, '');
    return { status => $status, status_line => $status_line,
             fields => \@fields, body => $body, rest => $rest,
             head => $head };
}

# the status of a parsed response, '' when there is none
sub status {
    my ($r) = @_;
    return $r->{status} // '';
}

# a refusal: status 426, exactly one Upgrade field with the given value and
# exactly one Connection field with the given value (three assertions)
sub is_426_fields {
    my ($r, $upgrade, $connection, $name) = @_;
    Test::More::is(status($r), 426, "$name: 426");
    Test::More::is_deeply([fields($r, 'Upgrade')], [$upgrade],
        "$name: exactly one Upgrade: $upgrade");
    Test::More::is_deeply([fields($r, 'Connection')], [$connection],
        "$name: exactly one Connection: $connection");
}

# every value of a field name, in order (case-insensitive name)
sub fields {
    my ($res, $name) = @_;
    return map { $_->[1] } grep { lc $_->[0] eq lc $name } @{ $res->{fields} };
}

# the one value of a field; undef when absent; dies when repeated
sub field {
    my ($res, $name) = @_;
    my @v = fields($res, $name);
    die "field $name repeated: @v\n" if @v > 1;
    return $v[0];
}

# curl(ARGS...) -> parsed response of curl -si (last response)
sub curl {
    my @args = @_;
    open my $fh, '-|', 'curl', '-sik', '--max-time', '20', @args
        or die "curl: $!";
    local $/;
    my $out = <$fh>;
    close $fh;
    # with --http2 upgrade or 100 interim responses, keep the last one
    my @parts = split /(?=^HTTP\/[\d.]+ \d{3})/m, $out;
    my $last = $parts[-1] // '';
    $last =~ s/\r?\n/\r\n/g unless $last =~ /\r\n/;
    my $res = parse_response($last);
    $res->{all} = $out;
    return $res;
}

# httpd_version() -> "2.4.37": the version of the httpd under test (t/versions/run
# runs the suite against several); httpd_at_least("2.4.64") -> true or false
sub httpd_version {
    my $v = Apache::Test::config()->{server}->{version} || '';
    return $v =~ m{Apache/(\d+\.\d+\.\d+)} ? $1 : '0.0.0';
}
sub httpd_at_least {
    my ($want) = @_;
    my @have = split /\./, httpd_version();
    my @want = split /\./, $want;
    for my $i (0 .. 2) {
        return $have[$i] > $want[$i] if $have[$i] != $want[$i];
    }
    return 1;
}

sub apache_bin {
    return Apache::Test::vars('httpd');
}

# conf_test(EXTRA_LINES) -> (exit status, output) of httpd -t on the suite's
# own configuration plus the given lines
sub conf_test {
    my ($extra) = @_;
    my $vars = Apache::Test::vars();
    my $file = "$vars->{t_conf}/conftest_tmp.conf";
    open my $fh, '>', $file or die "$file: $!";
    print $fh "Include $vars->{t_conf}/httpd.conf\n$extra\n";
    close $fh;
    my $out = `$vars->{httpd} -d $vars->{serverroot} -f $file -t 2>&1`;
    my $rc = $? >> 8;
    unlink $file;
    return ($rc, $out);
}


# access_log_line(TAG[, FILE]): the line of t/logs/FILE (upreq_access.log)
# of the request whose query string is TAG; httpd writes it after the
# response, so it is waited for (5 s at most), '' if it never comes
sub access_log_line {
    my ($tag, $name) = @_;
    my $file = Apache::Test::vars('t_logs') . '/'
             . ($name || 'upreq_access.log');
    for (1 .. 50) {
        if (open my $fh, '<', $file) {
            my ($line) = grep { /\?$tag / } <$fh>;
            close $fh;
            return $line if $line;
        }
        select undef, undef, undef, 0.1;
    }
    return '';
}

1;
