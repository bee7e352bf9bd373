package UpReq;
# Helpers of the mod_upgrade_required suite: raw HTTP/1.x over a real socket
# (plain or TLS, with a chosen TLS version and source address), curl for
# HTTP/2, and parsing that keeps every header field as sent.
use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use IO::Socket::INET;
use IO::Socket::SSL;
use Apache::Test ();
use Apache::TestRequest ();

our @EXPORT_OK = qw(hostport raw raw_tls parse_response fields field
                    curl apache_bin conf_test);

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

sub _read_all {
    my ($sock) = @_;
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

# raw(VHOST, REQUEST[, local => ADDR]): send REQUEST bytes on a plain
# connection, read until the server closes; returns the bytes read.
# Requests should carry "Connection: close" unless testing pipelining.
sub raw {
    my ($vhost, $req, %o) = @_;
    my ($host, $port) = split /:/, hostport($vhost);
    my $sock = IO::Socket::INET->new(
        PeerAddr => $o{peer} || $host, PeerPort => $port,
        ($o{local} ? (LocalAddr => $o{local}) : ()),
        Proto => 'tcp', Timeout => 10) or die "connect $vhost: $!";
    print $sock $req;
    shutdown($sock, 1) if $o{half_close};
    return _read_all($sock);
}

# raw_tls(VHOST, REQUEST, version => 'TLSv1_2'|'TLSv1_3'|undef)
sub raw_tls {
    my ($vhost, $req, %o) = @_;
    my ($host, $port) = split /:/, hostport($vhost);
    my $sock = IO::Socket::SSL->new(
        PeerAddr => $host, PeerPort => $port,
        SSL_verify_mode => SSL_VERIFY_NONE,
        ($o{version} ? (SSL_version => $o{version}) : ()),
        Timeout => 10) or die "tls connect $vhost: $SSL_ERROR";
    print $sock $req;
    my $data = '';
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm 20;
    eval { while (defined(my $l = <$sock>)) { $data .= $l } };
    alarm 0;
    return $data;
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

1;
