# Which policy decides: the one in the request's final per-directory
# configuration, applied to its final URI.  This file starts an httpd of
# its own with virtual hosts whose sections, rewrites, aliases, <If>s,
# .htaccess files and exemptions change the policy along the request
# cycle, sends a matrix of requests, and checks each answer against its
# expectation.
#
# Every policy-bearing case comes in three variants: alone, with
# "Require valid-user" (Basic auth) and with an authorization-only
# "Require ip" that refuses the client: where the final policy refuses,
# the 426 comes before any 401 or 403.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil;
use File::Path qw(make_path);
use lib 't/lib';
use UpReq qw(send_raw parse_response fields);
use UpReqProxy qw(free_port start_httpd stop_daemon server_cert);

my $vars = Apache::Test::vars();
my $dir  = "$vars->{t_logs}/diff";
my $root = "$dir/htdocs";
my %port = map { $_ => free_port() } qw(main tls late ht c1 ifvh small
                                        small2);
my ($crt, $key) = server_cert();
my $TLS = 'TLS/1.2, HTTP/1.1';

# --- the document tree ----------------------------------------------------

sub put {
    my ($path, $text) = @_;
    (my $d = "$root/$path") =~ s{/[^/]*$}{};
    make_path($d, { mode => 0755 });
    open my $fh, '>', "$root/$path" or die "$root/$path: $!";
    print $fh $text // "$path\n";
    close $fh;
    chmod 0644, "$root/$path";
}

my @variants = ('', '-auth', '-ip');
for my $v (@variants) {
    put("$_$v/f.txt") for qw(loc open ptm ptr aliased dirp nest nest/open
                            ifs px);
    put("di$v/index.html");
    put("mv$v/page.html");
    put("files$v/a.tls");
    put("files$v/a.txt");
    put("fm$v/a.sec");
    put("lm$v/x.tls");
}
put("late/$_/f.txt") for qw(envtls legacy envloc ifo);
put("late/ifo/a.css");
put("ht/add/f.txt");
put("ht/add/.htaccess", "UpgradeRequired TLS\n");
put("ht/off/f.txt");
put("ht/off/.htaccess", "UpgradeRequired Off\n");
put("$_/f.txt") for qw(secure strict legacy);
put("secure/x");
put("index.html");
put(".htpasswd", "u:" . crypt('p', 'ab') . "\n");

# --- the configuration ----------------------------------------------------

my %auth = (
    ''      => '',
    '-auth' => qq{AuthType Basic\n AuthName "diff"\n AuthBasicProvider file\n}
             . qq{ AuthUserFile "$root/.htpasswd"\n Require valid-user},
    '-ip'   => 'Require ip 10.255.255.1',
);

my $sections = '';
for my $v (@variants) {
    my $a = $auth{$v};
    $sections .= <<"EOS";
# ---- variant '$v'
<Location /loc$v>
 UpgradeRequired TLS
 $a
</Location>
<Location /open$v>
 UpgradeRequired HTTP/1.1
 $a
</Location>
RewriteRule ^/ptm$v/(.*)\$ /loc$v/\$1 [PT]
<Location /ptr$v>
 UpgradeRequired TLS
</Location>
RewriteRule ^/ptr$v/(.*)\$ /open$v/\$1 [PT]
Alias /al$v "$root/aliased$v"
AliasMatch ^/am$v/(.*)\$ "$root/aliased$v/\$1"
<Directory "$root/aliased$v">
 UpgradeRequired TLS
 $a
</Directory>
<Directory "$root/dirp$v">
 UpgradeRequired TLS
 $a
</Directory>
<Directory "$root/files$v">
 <Files "*.tls">
  UpgradeRequired TLS
  $a
 </Files>
</Directory>
<FilesMatch "\\.sec\$">
 UpgradeRequired TLS
 $a
</FilesMatch>
<Location /nest$v>
 UpgradeRequired TLS
 $a
</Location>
<Location /nest$v/open>
 UpgradeRequired Off
</Location>
<LocationMatch "^/lm$v/.*\\.tls\$">
 UpgradeRequired TLS
 $a
</LocationMatch>
<Location /ifs$v>
 $a
 <If "%{HTTP:X-D} == 'a'">
  UpgradeRequired TLS
 </If>
 <ElseIf "%{HTTP:X-D} == 'b'">
  UpgradeRequired HTTP/2
 </ElseIf>
 <Else>
  UpgradeRequired Off
 </Else>
</Location>
<Directory "$root/di$v">
 DirectoryIndex index.html
</Directory>
<Location /di$v/index.html>
 UpgradeRequired TLS
 $a
</Location>
<Directory "$root/mv$v">
 Options +MultiViews
</Directory>
<Location /mv$v/page.html>
 UpgradeRequired TLS
 $a
</Location>
ProxyPass /px$v/ http://127.0.0.1:$port{main}/open/
<Location /px$v>
 UpgradeRequired TLS
 $a
</Location>
EOS
}

my $late_auth = $auth{'-auth'};

# what both servers start with: their listeners and the document tree
sub preamble {
    return "LogLevel warn upgrade_required:debug\n"
         . join('', map { "Listen 127.0.0.1:$port{$_}\n" } @_)
         . "Protocols http/1.1\nDocumentRoot \"$root\"\n"
         . "<Directory />\n AllowOverride None\n Require all granted\n"
         . "</Directory>\n";
}

my $conf = preamble(qw(main tls late ht c1 ifvh)) . <<"EOC";
# exempt by a server-wide SetEnvIf (applied before any walk)
SetEnvIf X-Exempt ^yes\$ no-upgrade-required
RewriteEngine On
$sections

<VirtualHost 127.0.0.1:$port{tls}>
 SSLEngine on
 SSLCertificateFile "$crt"
 SSLCertificateKeyFile "$key"
 RewriteEngine On
 RewriteOptions Inherit
</VirtualHost>

# policies that change late: <If> on variables that translate_name hooks
# set, a per-directory SetEnvIf of no-upgrade-required
<VirtualHost 127.0.0.1:$port{late}>
 RewriteEngine On
 RewriteRule ^/late/envtls/ - [E=strict:1]
 RewriteRule ^/late/legacy/ - [E=legacy:1]
 <Location /late/envtls>
  $late_auth
  <If "-n reqenv('strict')">
   UpgradeRequired TLS
  </If>
 </Location>
 <Location /late/legacy>
  UpgradeRequired TLS
 </Location>
 <If "-n %{ENV:legacy}">
  UpgradeRequired Off
 </If>
 <Location /late/envloc>
  UpgradeRequired TLS
  SetEnvIf X-Exempt2 ^yes\$ no-upgrade-required
 </Location>
 <Location /late/ifo>
  UpgradeRequired TLS
  <If "%{REQUEST_FILENAME} =~ /\\.css\$/">
   UpgradeRequired Off
  </If>
 </Location>
</VirtualHost>

# .htaccess (AllowOverride AuthConfig): read after the first Location walk
<VirtualHost 127.0.0.1:$port{ht}>
 <Directory "$root/ht">
  AllowOverride AuthConfig
 </Directory>
 <Location /ht/off>
  UpgradeRequired TLS
 </Location>
</VirtualHost>

# credentials must not be invited over cleartext: a met policy at /, and
# a [PT] into a location that needs TLS and a password
<VirtualHost 127.0.0.1:$port{c1}>
 <Location />
  UpgradeRequired HTTP/1.1
 </Location>
 RewriteEngine On
 RewriteRule ^/old/(.*)\$ /secure/\$1 [PT]
 RewriteRule ^/back/(.*)\$ /open/\$1 [PT]
 <Location /back>
  UpgradeRequired TLS
 </Location>
 <Location /secure>
  UpgradeRequired TLS
  $late_auth
 </Location>
</VirtualHost>

# a vhost-wide TLS requirement by <If>: OPTIONS * and TRACE
<VirtualHost 127.0.0.1:$port{ifvh}>
 <If "%{HTTPS} != 'on'">
  UpgradeRequired TLS
 </If>
</VirtualHost>
EOC

my @big = grep { !/^small/ } keys %port;
my $httpd = start_httpd('diff', $conf,
                        [map { ['127.0.0.1', $port{$_}] } @big]);

# A small server with nothing but the cases that once depended on what
# else the configuration held: a met policy at / with a [PT] into a
# location that needs TLS and a password, [E=...] read by <If reqenv()>,
# and a vhost-wide <If %{HTTPS}> that OPTIONS * and TRACE never reach.
my $small = start_httpd('diff_small', preamble(qw(small small2)) . <<"EOC",
<Location />
 UpgradeRequired HTTP/1.1
</Location>
RewriteEngine On
RewriteRule ^/old/(.*)\$ /secure/\$1 [PT]
RewriteRule ^/strict/ - [E=strict:1]
RewriteRule ^/legacy/ - [E=legacy:1]
<Location /secure>
 UpgradeRequired TLS
 $late_auth
</Location>
<Location /strict>
 $late_auth
 <If "-n reqenv('strict')">
  UpgradeRequired TLS
 </If>
</Location>
<Location /legacy>
 UpgradeRequired TLS
</Location>
<If "-n reqenv('legacy')">
 UpgradeRequired Off
</If>
<VirtualHost 127.0.0.1:$port{small2}>
 <If "%{HTTPS} != 'on'">
  UpgradeRequired TLS
 </If>
</VirtualHost>
EOC
    [map { ['127.0.0.1', $port{$_}] } qw(small small2)]);

# --- the matrix -----------------------------------------------------------

# [name, host, request target, expected status, expected Upgrade (426),
#  options: method, headers, tls, auth]
my @rows;
sub row { push @rows, [@_] }

my $basic = 'Authorization: Basic ' . 'dTpw' . "\r\n";     # u:p
for my $v (@variants) {
    # the status a request that meets its policy gets in this variant
    my $ok = { '' => 200, '-auth' => 401, '-ip' => 403 }->{$v};
    row("<Location> TLS$v",           'main', "/loc$v/f.txt",   426);
    row("<Location> TLS$v, over TLS", 'tls',  "/loc$v/f.txt",   $ok);
    row("<Location> TLS$v, exempt by server-wide SetEnvIf", 'main',
        "/loc$v/f.txt", $ok, undef, headers => "X-Exempt: yes\r\n");
    row("[PT] met->refused$v",        'main', "/ptm$v/f.txt",   426);
    row("[PT] refused->met$v",        'main', "/ptr$v/f.txt",   $ok);
    row("[PT] met->refused$v, over TLS", 'tls', "/ptm$v/f.txt", $ok);
    row("Alias into <Directory> TLS$v",      'main', "/al$v/f.txt", 426);
    row("AliasMatch into <Directory> TLS$v", 'main', "/am$v/f.txt", 426);
    row("<Directory> TLS$v",          'main', "/dirp$v/f.txt",  426);
    row("<Files> TLS$v",              'main', "/files$v/a.tls", 426);
    row("<Files> other file$v",       'main', "/files$v/a.txt", 200);
    row("<FilesMatch> TLS$v",         'main', "/fm$v/a.sec",    426);
    row("nested <Location> TLS$v",    'main', "/nest$v/f.txt",  426);
    row("nested <Location> Off$v",    'main', "/nest$v/open/f.txt", $ok);
    row("<LocationMatch> TLS$v",      'main', "/lm$v/x.tls",    426);
    row("<If> TLS$v",                 'main', "/ifs$v/f.txt",   426, $TLS,
        headers => "X-D: a\r\n");
    row("<ElseIf> HTTP/2$v",          'main', "/ifs$v/f.txt",   426,
        'HTTP/2.0', headers => "X-D: b\r\n");
    row("<Else> Off$v",               'main', "/ifs$v/f.txt",   $ok);
    # a lookup's 403 from access control may come first (SPEC)
    row("DirectoryIndex target TLS$v", 'main', "/di$v/",
        $v eq '-ip' ? 403 : 426);
    row("DirectoryIndex target TLS$v, over TLS", 'tls', "/di$v/", $ok);
    row("MultiViews variant TLS$v",   'main', "/mv$v/page",
        $v eq '' ? 426 : 404);
    row("ProxyPass under <Location> TLS$v", 'main', "/px$v/f.txt", 426);
    row("ProxyPass over TLS$v",       'tls',  "/px$v/f.txt",    $ok);
    row("HTTP/1.0 to HTTP/1.1 policy$v", 'main', "/open$v/f.txt", 426,
        'HTTP/1.1', proto => 'HTTP/1.0');
}
row('credentials: auth after [PT] from a met policy', 'c1', '/old/x', 426);
row('credentials: [PT], with the password', 'c1', '/old/x', 426, $TLS,
    headers => $basic);
row('credentials: [PT] over a met policy, no [PT]', 'c1', '/index.html',
    200);
row('vhost [PT] refused->met', 'c1', '/back/f.txt', 200);
row('vhost [PT] refused->met, HTTP/1.0', 'c1', '/back/f.txt', 426,
    'HTTP/1.1', proto => 'HTTP/1.0');
row('credentials: [E=strict] read by <If reqenv()>', 'late',
    '/late/envtls/f.txt', 426);
row('[E=legacy] lifts a <Location> policy through <If %{ENV}>', 'late',
    '/late/legacy/f.txt', 200);
row('<Location> SetEnvIf exempts', 'late', '/late/envloc/f.txt', 200,
    undef, headers => "X-Exempt2: yes\r\n");
row('<Location> SetEnvIf, not exempt', 'late', '/late/envloc/f.txt', 426);
row('<If> on REQUEST_FILENAME lifts', 'late', '/late/ifo/a.css', 200);
row('<If> on REQUEST_FILENAME keeps', 'late', '/late/ifo/f.txt', 426);
row('.htaccess adds TLS', 'ht', '/ht/add/f.txt', 426);
row('.htaccess Off loses to <Location>', 'ht', '/ht/off/f.txt', 426);
for my $h (qw(main ifvh)) {
    row("OPTIONS * ($h)", $h, '*', 200, undef, method => 'OPTIONS');
    row("TRACE ($h)", $h, '/loc/f.txt', 200, undef, method => 'TRACE');
}
row('vhost <If %{HTTPS}> TLS', 'ifvh', '/index.html', 426);
row('small: no 401 after [PT] from a met policy', 'small', '/old/x', 426);
row('small: [PT], with the password', 'small', '/old/x', 426, $TLS,
    headers => $basic);
row('small: no 401 before <If reqenv()> TLS', 'small', '/strict/f.txt',
    426);
row('small: <If reqenv()> Off lifts <Location> TLS', 'small',
    '/legacy/f.txt', 200);
row('small: OPTIONS *', 'small2', '*', 200, undef, method => 'OPTIONS');
row('small: TRACE', 'small2', '/index.html', 200, undef, method => 'TRACE');
row('small: vhost <If %{HTTPS}> TLS', 'small2', '/index.html', 426);
row('absolute-form request-target', 'main',
    "http://127.0.0.1:$port{main}/loc/f.txt", 426);

plan tests => 2 * @rows + 2,
    need_module 'upgrade_required', 'mod_ssl', 'mod_proxy', 'mod_rewrite';

sub ask {
    my ($host, $target, %o) = @_;
    my $req = sprintf "%s %s %s\r\nHost: diff.example\r\n%s%s\r\n",
        $o{method} || 'GET', $target, $o{proto} || 'HTTP/1.1',
        $o{headers} // '',
        ($o{proto} || '') eq 'HTTP/1.0' ? '' : "Connection: close\r\n";
    return parse_response(send_raw('127.0.0.1', $port{$host}, $req,
                                   tls => $host eq 'tls'));
}

for my $row (@rows) {
    my ($name, $host, $target, $status, $upgrade, %o) = @$row;
    my $r = ask($host, $target, %o);
    ok t_cmp($r->{status}, $status, "$name: $status");
    ok t_cmp(join('|', fields($r, 'Upgrade')),
             $status == 426 ? ($upgrade // $TLS) : '',
             "$name: Upgrade");
}

# Where the policy was decided: in header_parser, on the final
# configuration, never earlier (SPEC "Which policy decides").
{
    open my $fh, '<', "$dir/error_log" or die "$dir/error_log: $!";
    my @log = grep { /UPREQ004/ } <$fh>;
    ok t_cmp(scalar(grep { m{policy of /loc \(header_parser\)} } @log) > 0,
             1, 'main host: <Location> policy decided in header_parser');
    ok t_cmp(scalar(grep { !/\((header_parser|handler|check_authn|served subrequest|after core_upgrade_handler)\)/ }
                    @log), 0, 'no decision in any other phase');
}

stop_daemon($_) for $httpd, $small;
