# Hostile input against a running server: huge and repeated header fields,
# odd token lists, non-ASCII bytes, markup in Host and in the URI.  Each
# request gets the right answer, and the server answers the next request.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use UpReq qw(raw parse_response fields field);

my $WS = "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";

# an 8 KiB Upgrade value (cycle_plain allows 16 KiB fields)
sub big_upgrade {
    my ($last) = @_;
    my $v = join ', ', map { sprintf 'proto%04d', $_ } 1 .. 600;
    $v .= ", $last" if $last;
    $v .= ', ' . ('x' x (8192 - length($v) - 2));
    die "length " . length($v) unless length($v) == 8192;
    return $v;
}

sub repeated {
    my ($upgrade_last) = @_;
    return join('', map { "Upgrade: p$_\r\n" } 1 .. 99)
         . "Upgrade: $upgrade_last\r\n"
         . join('', map { "Connection: keep-alive\r\n" } 1 .. 99)
         . "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";
}

# 3,014 bytes in segments a file system accepts (a longer segment, or a
# path past PATH_MAX, makes map_to_storage answer 403 before any policy
# is read)
my $long = join '/', ('A' x 200) x 15;

# [name, request line target, header lines, status, check, Connection]
#   check: Upgrade value for a 426, body for a 200, a code ref otherwise;
#   Connection of a 426: 'Upgrade' unless given
my @cases = (
    ['8 KiB Upgrade listing websocket', '/cycle/ws/',
     "Upgrade: " . big_upgrade('websocket') . "\r\n$WS", 200,
     "cycle ws\n"],
    ['8 KiB Upgrade without websocket', '/cycle/ws/',
     "Upgrade: " . big_upgrade() . "\r\n$WS", 426, 'websocket'],
    ['8 KiB Upgrade at a TLS location', '/cycle/loc/',
     "Upgrade: " . big_upgrade('websocket') . "\r\n$WS", 426,
     'TLS/1.2, HTTP/1.1'],
    ['100 Upgrade and 100 Connection fields, websocket last', '/cycle/ws/',
     repeated('websocket'), 200, "cycle ws\n"],
    # the request's "Connection: keep-alive" gets httpd's Keep-Alive merged
    ['100 Upgrade and 100 Connection fields, no websocket', '/cycle/ws/',
     repeated('p100'), 426, 'websocket', 'Upgrade, Keep-Alive'],
    ['100 Upgrade and 100 Connection fields at a TLS location', '/cycle/loc/',
     repeated('websocket'), 426, 'TLS/1.2, HTTP/1.1', 'Upgrade, Keep-Alive'],
    ['empty list elements and odd whitespace', '/cycle/ws/',
     "Upgrade: , ,websocket ,\r\nConnection: ,\t upgrade\t,,\r\n"
     . "Sec-WebSocket-Version: \t13 \r\n", 200, "cycle ws\n"],
    ['only empty list elements', '/cycle/ws/',
     "Upgrade: , ,\t,\r\n$WS", 426, 'websocket'],
    ['a token split by a space', '/cycle/ws/',
     "Upgrade: web socket\r\n$WS", 426, 'websocket'],
    ['Sec-WebSocket-Version as a list', '/cycle/ws/',
     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
     . "Sec-WebSocket-Version: 13, 13\r\n", 426, 'websocket'],
    ['non-ASCII byte inside the token', '/cycle/ws/',
     "Upgrade: websock\xe9t\r\n$WS", 426, 'websocket'],
    ['non-ASCII element beside websocket', '/cycle/ws/',
     "Upgrade: \xff\xfe, websocket\r\n$WS", 200, "cycle ws\n"],
    ['non-ASCII bytes in the path', "/cycle/loc/\xc3\xa9\xff", '', 426,
     sub {
         my ($r) = @_;
         ok t_cmp(scalar($r->{body} =~ tr/\x80-\xff//), 0,
                  'non-ASCII path: the page is pure ASCII');
         ok t_cmp($r->{body},
                  qr{https://cycle\.example/cycle/loc/&#195;&#169;&#255;},
                  'non-ASCII path: the link carries the bytes escaped');
     }],
    ['markup in Host', '/cycle/loc/', "Host: <b>x</b>\r\n", 400,
     sub {
         my ($r) = @_;
         ok t_cmp(index($r->{body}, '<b>'), -1, 'markup in Host: not echoed');
     }],
    ['another Host', '/cycle/loc/', "Host: evil.example\r\n", 426,
     sub {
         my ($r) = @_;
         ok t_cmp($r->{body}, qr{href="https://cycle\.example/cycle/loc/"},
                  'another Host: the link uses ServerName');
         ok t_cmp(index($r->{body}, 'evil'), -1,
                  'another Host: never in the page');
     }],
    ['absolute-form target naming another host',
     'http://evil.example/cycle/loc/?a=1&b=<i>', '', 426,
     sub {
         my ($r) = @_;
         ok t_cmp($r->{body},
                  qr{href="https://cycle\.example/cycle/loc/\?a=1&amp;b=&lt;i&gt;"},
                  'absolute-form: ServerName, path and query, escaped');
         ok t_cmp(index($r->{body}, 'evil'), -1,
                  'absolute-form: the request\'s host is not in the page');
     }],
    ['long URI with <script>',
     "/cycle/loc/<script>alert(1)</script>$long?q=<script>\"'", '', 426,
     sub {
         my ($r) = @_;
         ok t_cmp(index(lc $r->{body}, '<script'), -1,
                  'long URI: no markup from the request in the page');
         ok t_cmp($r->{body},
                  qr{/cycle/loc/&lt;script&gt;alert\(1\)&lt;/script&gt;\Q$long\E\?q=&lt;script&gt;&quot;'"},
                  'long URI: path and query HTML-escaped in the link');
     }],
    # a page over one 8,000-byte bucket, which httpd would send in chunks:
    # the Content-Length is the module's (checked below for every 426)
    ['a query that makes the page longer than 8,000 bytes',
     '/cycle/loc/?q=' . ('q' x 4500), '', 426,
     sub {
         my ($r) = @_;
         ok t_cmp(length($r->{body}) > 8000, 1,
                  'long query: the page is over 8,000 bytes');
         ok t_cmp(join('|', fields($r, 'Transfer-Encoding')), '',
                  'long query: not chunked');
     }],
    ['long URI with percent-encoded <script>',
     "/cycle/loc/%3Cscript%3E$long%22", '', 426,
     sub {
         my ($r) = @_;
         ok t_cmp(index(lc $r->{body}, '<script'), -1,
                  'percent-encoded: no markup in the page');
         ok t_cmp($r->{body}, qr{/cycle/loc/%3Cscript%3E\Q$long\E%22"},
                  'percent-encoded: the target as sent');
     }],
);

my $tests = 0;
for (@cases) {
    my ($status, $check) = @$_[3, 4];
    $tests += 3;                                # status, check, follow-up
    $tests += 2 if $status == 426;              # Connection, length
    $tests += ref $check ? 1 : 0;               # the sub's second ok
    $tests -= 1 if ref $check && $status == 400;    # a single ok there
}
plan tests => $tests, need_module 'upgrade_required';

for my $c (@cases) {
    my ($name, $target, $h, $status, $check, $conn) = @$c;
    $h = "Host: cycle.example\r\n$h" unless $h =~ /^Host:/m;
    # the follow-up rides on the same connection unless httpd closes it
    my $bytes = raw('cycle_plain', "GET $target HTTP/1.1\r\n$h\r\n"
        . "GET /cycle/plain.html HTTP/1.1\r\nHost: cycle.example\r\n"
        . "Connection: close\r\n\r\n");
    my $r = parse_response($bytes);
    ok t_cmp($r->{status}, $status, "$name: $status");
    if (ref $check) {
        $check->($r);
    }
    elsif ($status == 426) {
        ok t_cmp(join('|', fields($r, 'Upgrade')), $check,
                 "$name: Upgrade: $check");
    }
    else {
        ok t_cmp($r->{body}, $check, "$name: body");
    }
    if ($status == 426) {
        ok t_cmp(join('|', fields($r, 'Connection')), $conn // 'Upgrade',
                 "$name: one Connection field, kept alive");
        ok t_cmp(join('|', fields($r, 'Content-Length')),
                 length($r->{body}), "$name: Content-Length");
    }
    my $next = $status == 400
        ? parse_response(raw('cycle_plain',
              "GET /cycle/plain.html HTTP/1.1\r\nHost: cycle.example\r\n"
              . "Connection: close\r\n\r\n"))
        : parse_response($r->{rest});
    ok t_cmp($next->{body}, "cycle plain\n", "$name: the next request works");
}
