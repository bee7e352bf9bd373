# Subrequests whose response is served (mod_include's include virtual,
# mod_autoindex's header and readme files, mod_dav's Destination) are
# judged by their own location's policy against the main request's
# connection: content that needs TLS never travels in cleartext inside
# another page.  A 426 that a subrequest decides and another module sends
# on its own (mod_dav's error response) still carries the Upgrade field.
# Lookups (DirectoryIndex, -U) are in t/request_cycle.t and
# t/policy_matrix.t.  An httpd of its own, with a plain and a TLS listener.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil;
use File::Path qw(make_path remove_tree);
use lib 't/lib';
use UpReq qw(send_raw parse_response fields);
use UpReqProxy qw(free_port start_httpd stop_daemon server_cert);

plan tests => 26, need_module 'upgrade_required', 'mod_ssl', 'mod_include',
    'mod_autoindex', 'mod_dav', 'mod_dav_fs';

my $vars = Apache::Test::vars();
my $dir  = "$vars->{t_logs}/subreq";
my $root = "$dir/htdocs";
my %port = (plain => free_port(), tls => free_port());
my ($crt, $key) = server_cert();
my $TLS = 'TLS/1.2, HTTP/1.1';
remove_tree($root);     # what mod_dav wrote in an earlier run

sub put {
    my ($path, $text, $mode) = @_;
    (my $d = "$root/$path") =~ s{/[^/]*$}{};
    make_path($d, { mode => 0755 });
    open my $fh, '>', "$root/$path" or die "$root/$path: $!";
    print $fh $text;
    close $fh;
    chmod $mode // 0644, "$root/$path";
}

put('ssi/page.shtml',
    "before\n<!--#include virtual=\"/secret/inc.html\" -->\nafter\n");
put('ssi/open.shtml',
    "before\n<!--#include virtual=\"/pub/inc.html\" -->\nafter\n");
put('secret/inc.html', "SECRET-INCLUDE\n");
put('pub/inc.html', "PUBLIC-INCLUDE\n");
put('list/HEADER.html', "<p>SECRET-HEADER</p>\n");
put('list/README.txt', "SECRET-README\n");
put('list/file.txt', "listed\n");
put('dav/a.txt', "dav source\n");
make_path("$root/tlsdav", "$root/davlock", { mode => 0777 });
chmod 0777, "$root/tlsdav", "$root/davlock", "$root/dav";

start_httpd('subreq', <<"EOC", [map { ['127.0.0.1', $_] } values %port]);
LogLevel warn upgrade_required:debug
Listen 127.0.0.1:$port{plain}
Listen 127.0.0.1:$port{tls}
DocumentRoot "$root"
DavLockDB "$root/davlock/lock"
<Directory "$root">
 Require all granted
</Directory>
<Directory "$root/ssi">
 Options +Includes
 AddOutputFilter INCLUDES .shtml
 AddType text/html .shtml
</Directory>
<Directory "$root/list">
 Options +Indexes
 HeaderName HEADER.html
 ReadmeName README.txt
 DirectoryIndex disabled
</Directory>
<Location /secret>
 UpgradeRequired TLS
</Location>
<Directory "$root/list">
 <Files "HEADER.html">
  UpgradeRequired TLS
 </Files>
 <Files "README.txt">
  UpgradeRequired TLS
 </Files>
</Directory>
<Directory "$root/dav">
 Dav On
</Directory>
<Directory "$root/tlsdav">
 Dav On
 UpgradeRequired TLS
</Directory>
<VirtualHost 127.0.0.1:$port{tls}>
 SSLEngine on
 SSLCertificateFile "$crt"
 SSLCertificateKeyFile "$key"
</VirtualHost>
EOC

sub ask {
    my ($which, $method, $path, $headers) = @_;
    my $req = "$method $path HTTP/1.1\r\nHost: subreq.example\r\n"
            . ($headers // '') . "Connection: close\r\n\r\n";
    return parse_response(send_raw('127.0.0.1', $port{$which}, $req,
                                   tls => $which eq 'tls'));
}

# mod_include: the TLS-only file is not included over plain HTTP
my $r = ask('plain', 'GET', '/ssi/page.shtml');
ok t_cmp($r->{status}, 200, 'include virtual of a TLS location: 200');
ok t_cmp($r->{body}, qr/error occurred while processing this directive/,
         'include virtual over plain: mod_include\'s error text');
ok t_cmp(index($r->{body}, 'SECRET-INCLUDE'), -1,
         'include virtual over plain: the TLS content is not served');
ok t_cmp(join('|', fields($r, 'Upgrade')), '',
         'include virtual: the 200 carries no Upgrade');
$r = ask('tls', 'GET', '/ssi/page.shtml');
ok t_cmp($r->{body}, qr/SECRET-INCLUDE/, 'include virtual over TLS: served');
$r = ask('plain', 'GET', '/ssi/open.shtml');
ok t_cmp($r->{body}, qr/PUBLIC-INCLUDE/,
         'include virtual without a policy: served over plain');
$r = ask('plain', 'GET', '/secret/inc.html');
ok t_cmp($r->{status}, 426, 'the included file itself: 426');

# mod_autoindex: HEADER.html (run as a subrequest) and README.txt (read
# from its file name after a lookup) under a TLS policy
$r = ask('plain', 'GET', '/list/');
ok t_cmp($r->{status}, 200, 'autoindex over plain: 200');
ok t_cmp($r->{body}, qr/file\.txt/, 'autoindex over plain: the listing');
ok t_cmp(index($r->{body}, 'SECRET-HEADER'), -1,
         'autoindex over plain: no TLS header file');
ok t_cmp(index($r->{body}, 'SECRET-README'), -1,
         'autoindex over plain: no TLS readme file');
ok t_cmp(join('|', fields($r, 'Upgrade')), '',
         'autoindex over plain: no Upgrade');
$r = ask('tls', 'GET', '/list/');
ok t_cmp($r->{body}, qr/SECRET-HEADER/, 'autoindex over TLS: header file');
ok t_cmp($r->{body}, qr/SECRET-README/, 'autoindex over TLS: readme file');

# mod_dav: the Destination of COPY/MOVE is a TLS location; mod_dav sends
# the 426 of its subrequest itself, past ap_die()
for my $m (qw(COPY MOVE)) {
    $r = ask('plain', $m, '/dav/a.txt', "Destination: "
             . "http://subreq.example/tlsdav/b.txt\r\nOverwrite: T\r\n");
    ok t_cmp($r->{status}, 426, "$m into a TLS location over plain: 426");
    ok t_cmp(join('|', fields($r, 'Upgrade')), $TLS,
             "$m: exactly one Upgrade field");
    ok t_cmp(join('|', fields($r, 'Connection')), qr/^Upgrade\b/i,
             "$m: one Connection field listing Upgrade");
    ok t_cmp(-e "$root/tlsdav/b.txt" ? 'written' : 'absent', 'absent',
             "$m: nothing written");
}
$r = ask('plain', 'COPY', '/dav/a.txt', "Destination: "
         . "http://subreq.example/dav/c.txt\r\n");
ok t_cmp($r->{status}, 201, 'COPY without a policy: 201');
ok t_cmp(join('|', fields($r, 'Upgrade')), '', 'COPY 201: no Upgrade');
$r = ask('tls', 'COPY', '/dav/a.txt', "Destination: "
         . "https://subreq.example/tlsdav/b.txt\r\n");
ok t_cmp($r->{status}, 201, 'COPY into the TLS location over TLS: 201');

# one info line per refusal: the subrequest's, not again for the main
# request that sends it (COPY and MOVE above)
{
    open my $fh, '<', "$dir/error_log" or die "$dir/error_log: $!";
    my @lines = grep { m{UPREQ001: 426 for \S+ /tlsdav/b\.txt } } <$fh>;
    ok t_cmp(scalar @lines, 2, 'one UPREQ001 line for each refused COPY/MOVE');
}
