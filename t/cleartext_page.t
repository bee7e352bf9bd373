# The page of a refusal over cleartext tells a person something they can
# do: browsers speak HTTP/2 only over TLS, so the page of an HTTP/2
# requirement links to the https address (as the TLS page does), and still
# tells API clients about h2c (where Protocols offers it) and HTTP/2.  The
# Upgrade field stays h2c where Protocols offers it, else HTTP/2.0.
# Hosts of t/conf/cleartext.conf.in.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use lib 't/lib';
use UpReq qw(hostport raw raw_tls parse_response fields curl h2_served
             $NO_H2);

plan tests => 28, need_module 'upgrade_required', 'mod_ssl', 'mod_http2';

my $PAGE = "H2-ONLY-PAGE-e07c\n";

sub get {
    my ($vhost, $target, %o) = @_;
    my $req = ($o{method} || 'GET') . " $target HTTP/1.1\r\nHost: x\r\n"
            . "Connection: close\r\n\r\n";
    return parse_response($o{tls} ? raw_tls($vhost, $req)
                                  : raw($vhost, $req));
}

# Protocols offers h2c
my $r = get('clear_plain', '/h2only/page.html');
is $r->{status}, 426, 'HTTP/2 required, HTTP/1.1 over plain: 426';
is_deeply [fields($r, 'Upgrade')], ['h2c'], 'exactly one Upgrade: h2c';
is_deeply [fields($r, 'Connection')], ['Upgrade, close'],
    'exactly one Connection field, listing Upgrade';
like $r->{body}, qr{<a href="https://clear\.example/h2only/page\.html">},
    'the page links to the https address, for a browser';
like $r->{body}, qr/\bh2c\b/, 'the page names h2c, for API clients';
like $r->{body}, qr{HTTP/2}, 'the page names HTTP/2';
is index($r->{body}, $PAGE), -1, 'not the resource';
is_deeply [fields($r, 'Content-Length')], [length $r->{body}],
    'Content-Length of the page';
my $page_length = length $r->{body};

$r = get('clear_plain', '/h2only/page.html?v=1&w=2');
like $r->{body},
    qr{<a href="https://clear\.example/h2only/page\.html\?v=1&amp;w=2">},
    'the link keeps the query, HTML-escaped';

$r = get('clear_plain', '/h2only/page.html', method => 'HEAD');
is $r->{status}, 426, 'HEAD: 426';
is_deeply [fields($r, 'Upgrade')], ['h2c'], 'HEAD: Upgrade: h2c';
is $r->{body}, '', 'HEAD: no body';
is_deeply [fields($r, 'Content-Length')], [$page_length],
    "HEAD: the Content-Length of GET's page";

# Protocols without h2c
$r = get('clear_noh2c', '/h2only/page.html');
is $r->{status}, 426, 'no h2c offered: 426';
is_deeply [fields($r, 'Upgrade')], ['HTTP/2.0'], 'no h2c offered: HTTP/2.0';
like $r->{body},
    qr{<a href="https://clear-noh2c\.example/h2only/page\.html">},
    'no h2c offered: the page links to the https address';
like $r->{body}, qr{HTTP/2}, 'no h2c offered: the page names HTTP/2';

# over TLS with HTTP/1.1: h2c is no answer on TLS
$r = get('clear_ssl', '/h2only/page.html', tls => 1);
is $r->{status}, 426, 'HTTP/1.1 over TLS: 426';
is_deeply [fields($r, 'Upgrade')], ['HTTP/2.0'], 'over TLS: HTTP/2.0';
like $r->{body}, qr{HTTP/2}, 'over TLS: the page names HTTP/2';

SKIP: {
    skip $NO_H2, 8 unless h2_served();
    my $plain = 'http://' . hostport('clear_plain') . '/h2only/page.html';
    $r = curl('--http2-prior-knowledge', $plain);
    is $r->{status}, 200, 'h2c with prior knowledge: 200';
    is $r->{body}, $PAGE, 'h2c with prior knowledge: the resource';
    $r = curl('--http2', $plain);
    like $r->{all}, qr{^HTTP/1\.1 101 }m, 'h2c upgrade: switched';
    is $r->{status}, 200, 'h2c upgrade: 200';
    is $r->{body}, $PAGE, 'h2c upgrade: the resource';
    $r = curl('--http2',
              'https://' . hostport('clear_ssl') . '/h2only/page.html');
    is $r->{status}, 200, 'h2 over TLS: 200';
    is $r->{body}, $PAGE, 'h2 over TLS: the resource';
    like $r->{status_line}, qr{^HTTP/2 }, 'h2 over TLS: HTTP/2';
}
