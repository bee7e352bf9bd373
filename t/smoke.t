use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use UpReq qw(raw parse_response field);

plan tests => 3, need_module 'upgrade_required', 'mod_ssl';

my $r = parse_response(raw('upreq_plain',
    "GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
ok t_cmp($r->{status}, 200, 'no policy: 200');
$r = parse_response(raw('upreq_plain',
    "GET /tls/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
ok t_cmp($r->{status}, 426, 'TLS policy over plain: 426');
ok t_cmp(field($r, 'Upgrade'), 'TLS/1.2, HTTP/1.1', 'Upgrade value');
