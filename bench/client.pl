#!/usr/bin/perl
# bench/client.pl - a tiny paced HTTP/1.1 client for the instruction counts.
#
#   client.pl [--tls] [--header 'Name: value' ...] [--location URL]
#             PORT PATH STATUS N [N ...]
#
# For each N, opens one connection to 127.0.0.1:PORT and sends N keep-alive
# GET requests for PATH, one at a time: the next request leaves only after
# the whole response has been read.  --header adds a request header field
# (Sec-Fetch-Mode: navigate for a browser's navigation).  Every response
# must have STATUS, a Content-Length and, with --location, exactly that
# Location; anything else is fatal, so a count is never taken of the wrong
# thing.  Connections are closed by the client and run one after another.
use strict;
use warnings FATAL => 'all';
use IO::Socket::INET;

my $tls = 0;
my @extra;         # request header fields beyond the fixed ones
my $location;      # the Location every response must have
while (@ARGV && $ARGV[0] =~ /^--/) {
    my $opt = shift @ARGV;
    if ($opt eq '--tls') { $tls = 1 }
    elsif ($opt eq '--header' && @ARGV) { push @extra, shift @ARGV }
    elsif ($opt eq '--location' && @ARGV) { $location = shift @ARGV }
    else { die "client: unknown option $opt\n" }
}
my ($port, $path, $status, @counts) = @ARGV;
die "usage: client.pl [--tls] [--header FIELD ...] [--location URL] "
  . "PORT PATH STATUS N [N ...]\n" unless @counts;
/^[A-Za-z0-9-]+:[ -~]*$/ or die "client: bad header field '$_'\n"
    for @extra;

my $req = "GET $path HTTP/1.1\r\nHost: localhost\r\n"
        . "User-Agent: upreq-bench\r\nAccept: */*\r\n"
        . join('', map { "$_\r\n" } @extra) . "\r\n";

sub connect_to {
    my $s;
    if ($tls) {
        require IO::Socket::SSL;
        $s = IO::Socket::SSL->new(PeerAddr => '127.0.0.1', PeerPort => $port,
            SSL_verify_mode => IO::Socket::SSL::SSL_VERIFY_NONE(),
            SSL_alpn_protocols => ['http/1.1'], Timeout => 120)
            or die "client: TLS connect to $port: "
                . IO::Socket::SSL::errstr() . "\n";
    }
    else {
        $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
            Proto => 'tcp', Timeout => 120)
            or die "client: connect to $port: $!\n";
    }
    $s->autoflush(1);
    return $s;
}

sub read_response {
    my ($s, $bufref) = @_;
    my $end;
    while (($end = index($$bufref, "\r\n\r\n")) < 0) {
        my $n = sysread($s, $$bufref, 65536, length $$bufref);
        die "client: connection closed before a full response\n" unless $n;
    }
    my $head = substr($$bufref, 0, $end + 4, '');
    my ($st) = $head =~ m{^HTTP/1\.1 (\d{3}) } or die "client: bad head\n";
    $st == $status or die "client: $path gave $st, expected $status\n";
    my ($len) = $head =~ /^Content-Length:\s*(\d+)\r$/mi;
    defined $len or die "client: $path: no Content-Length\n";
    if (defined $location) {
        my @loc = $head =~ /^Location:[ \t]*([^\r]*?)[ \t]*\r$/mgi;
        "@loc" eq $location
            or die "client: $path: Location '@loc', expected '$location'\n";
    }
    while (length $$bufref < $len) {
        my $n = sysread($s, $$bufref, 65536, length $$bufref);
        die "client: connection closed inside a body\n" unless $n;
    }
    substr($$bufref, 0, $len, '');
}

for my $n (@counts) {
    my $s = connect_to();
    my $buf = '';
    for (1 .. $n) {
        print {$s} $req or die "client: write: $!\n";
        read_response($s, \$buf);
    }
    die "client: unexpected bytes after the last response\n" if length $buf;
    close $s;
}
