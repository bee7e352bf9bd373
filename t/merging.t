# How UpgradeRequired and UpgradeRequiredHeader merge across server, vhost,
# <Directory>, <Location>, <LocationMatch>, <Files>, <If> and .htaccess, and
# how no-upgrade-required exempts.
#
# The cases that change a policy late (an <If> inside <Directory>, a
# SetEnvIf inside <Location>) and a main-server policy, which would reach
# every vhost of the suite, run on a second httpd started here.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil;
use Apache::TestTrace;
use File::Path qw(mkpath rmtree);
use IO::Socket::INET;
use POSIX ();
use lib 't/lib';
use UpReq qw(raw raw_tls parse_response fields apache_bin);
use UpReqProxy qw(free_port);

# [name, vhost, path, options, status, Upgrade or body]
#   options: v => '1.0' (HTTP/1.0), tls => 'TLSv1_2'|'TLSv1_3'|1,
#            h => extra header lines
my @cases = (
    # <Directory>, <Location>, <LocationMatch>, <Files>, <If>
    ['no policy',            'cycle_plain', '/cycle/plain.html', {}, 200,
     "cycle plain\n"],
    ['<Directory> TLS',      'cycle_plain', '/cycle/dir/', {}, 426,
     'TLS/1.2, HTTP/1.1'],
    ['<Directory> TLS, over TLS', 'cycle_ssl', '/cycle/dir/', {tls => 1},
     200, "cycle dir\n"],
    ['<Location> TLS',       'cycle_plain', '/cycle/loc/', {}, 426,
     'TLS/1.2, HTTP/1.1'],
    ['<Location> TLS, over TLS', 'cycle_ssl', '/cycle/loc/', {tls => 1},
     200, "cycle loc\n"],
    ['<LocationMatch> TLS/1.3', 'cycle_plain', '/cycle/lm/a.secret', {},
     426, 'TLS/1.3, HTTP/1.1'],
    ['<LocationMatch> over TLS 1.2', 'cycle_ssl', '/cycle/lm/a.secret',
     {tls => 'TLSv1_2'}, 426, 'TLS/1.3, HTTP/1.1'],
    ['<LocationMatch> over TLS 1.3', 'cycle_ssl', '/cycle/lm/a.secret',
     {tls => 'TLSv1_3'}, 200, "cycle lm secret\n"],
    ['<LocationMatch> does not match', 'cycle_plain', '/cycle/lm/a.html',
     {}, 200, "cycle lm html\n"],
    ['<Files> TLS',          'cycle_plain', '/cycle/files/a.tls', {}, 426,
     'TLS/1.2, HTTP/1.1'],
    ['<Files> does not match', 'cycle_plain', '/cycle/files/a.html', {},
     200, "cycle files html\n"],
    ['<If> true',            'cycle_plain', '/cycle/if/',
     {h => "X-Cycle-Secure: yes\r\n"}, 426, 'TLS/1.2, HTTP/1.1'],
    ['<If> false',           'cycle_plain', '/cycle/if/',
     {h => "X-Cycle-Secure: no\r\n"}, 200, "cycle if\n"],

    # a deeper section replaces, Off removes
    ['outer <Location> TLS', 'cycle_plain', '/cycle/a/', {}, 426,
     'TLS/1.2, HTTP/1.1'],
    ['deeper HTTP/1.1 replaces TLS', 'cycle_plain', '/cycle/a/b/', {}, 200,
     "cycle a/b\n"],
    ['deeper HTTP/1.1 still applies', 'cycle_plain', '/cycle/a/b/',
     {v => '1.0'}, 426, 'HTTP/1.1'],
    ['deeper HTTP/1.1 over TLS with HTTP/1.0', 'cycle_ssl', '/cycle/a/b/',
     {tls => 1, v => '1.0'}, 426, 'HTTP/1.1'],
    ['deeper Off removes',   'cycle_plain', '/cycle/a/off/', {v => '1.0'},
     200, "cycle a/off\n"],

    # httpd merges <Location> after <Directory>
    ['<Location> HTTP/1.1 beats <Directory> TLS', 'cycle_plain',
     '/cycle/lbd/', {}, 200, "cycle lbd\n"],
    ['<Location> HTTP/1.1 beats <Directory> TLS, HTTP/1.0', 'cycle_plain',
     '/cycle/lbd/', {v => '1.0'}, 426, 'HTTP/1.1'],
    ['<Location> TLS beats <Directory> Off', 'cycle_plain', '/cycle/lbd2/',
     {}, 426, 'TLS/1.2, HTTP/1.1'],

    # UpgradeRequiredHeader merges on its own
    ['UpgradeRequiredHeader', 'cycle_plain', '/cycle/hdr/', {}, 426,
     'TLS/1.0, HTTP/1.1'],
    ['deeper UpgradeRequired keeps the outer header', 'cycle_plain',
     '/cycle/hdr/deep/', {v => '1.0'}, 426, 'TLS/1.0, HTTP/1.1'],
    ['deeper UpgradeRequired replaced the outer policy', 'cycle_plain',
     '/cycle/hdr/deep/', {}, 200, "cycle hdr/deep\n"],
    ['deeper UpgradeRequiredHeader keeps the outer policy', 'cycle_plain',
     '/cycle/hdr/h/', {}, 426, 'TLS/1.3, HTTP/1.1'],
    ['deeper UpgradeRequiredHeader, over TLS', 'cycle_ssl', '/cycle/hdr/h/',
     {tls => 'TLSv1_2'}, 200, "cycle hdr/h\n"],

    # .htaccess (AllowOverride AuthConfig)
    ['.htaccess adds TLS',   'cycle_ht', '/cycle/htadd/', {}, 426,
     'TLS/1.2, HTTP/1.1'],
    ['.htaccess adds TLS, over TLS', 'cycle_ht_ssl', '/cycle/htadd/',
     {tls => 1}, 200, "cycle htadd\n"],
    ['.htaccess Off loses to <Location>', 'cycle_ht', '/cycle/htloc/',
     {}, 426, 'TLS/1.2, HTTP/1.1'],

    # a policy for a whole virtual host
    ['vhost-level TLS',      'cycle_vhostpol', '/cycle/plain.html', {}, 426,
     'TLS/1.2, HTTP/1.1'],
    ['.htaccess Off lifts the vhost policy', 'cycle_vhostpol',
     '/cycle/htoff/', {}, 200, "cycle htoff\n"],
    ['<Location> Off lifts the vhost policy', 'cycle_vhostpol',
     '/cycle/vpoff/', {}, 200, "cycle vpoff\n"],
    ['vhost-level SetEnvIf exempts', 'cycle_vhostpol', '/cycle/plain.html',
     {h => "X-Cycle-Exempt: yes\r\n"}, 200, "cycle plain\n"],
    ['vhost-level SetEnvIf, other value', 'cycle_vhostpol',
     '/cycle/plain.html', {h => "X-Cycle-Exempt: no\r\n"}, 426,
     'TLS/1.2, HTTP/1.1'],
    ['vhost-level SetEnvIf exempts a <Location> policy', 'cycle_vhostpol',
     '/cycle/loc/', {h => "X-Cycle-Exempt: yes\r\n"}, 200, "cycle loc\n"],
    ['BrowserMatch exempts', 'cycle_vhostpol', '/cycle/plain.html',
     {h => "User-Agent: CycleBot/2.0\r\n"}, 200, "cycle plain\n"],
    ['BrowserMatch exempts a <Location> policy', 'cycle_vhostpol',
     '/cycle/loc/', {h => "User-Agent: CycleBot/2.0\r\n"}, 200,
     "cycle loc\n"],
    ['BrowserMatch, other agent', 'cycle_vhostpol', '/cycle/plain.html',
     {h => "User-Agent: NotCycleBot/2.0\r\n"}, 426, 'TLS/1.2, HTTP/1.1'],
);

# [name, Host, path, extra header lines, status, Upgrade or body]
my @late_cases = (
    ['server-level TLS reaches the vhost', 'late.example',
     '/cycle/plain.html', '', 426, 'TLS/1.2, HTTP/1.1'],
    ['vhost Off lifts the server-level policy', 'late-off.example',
     '/cycle/plain.html', '', 200, "cycle plain\n"],
    ['server-level SetEnvIf exempts', 'late.example', '/cycle/plain.html',
     "X-Cycle-Exempt: yes\r\n", 200, "cycle plain\n"],
    ['<Location> TLS/1.3', 'late.example', '/cycle/late/', '', 426,
     'TLS/1.3, HTTP/1.1'],
    ['<If> in <Directory> Off overrides <Location>', 'late.example',
     '/cycle/late/', "X-Cycle-Lift: yes\r\n", 200, "cycle late\n"],
    ['<If> in <Directory>, condition false', 'late.example', '/cycle/late/',
     "X-Cycle-Lift: no\r\n", 426, 'TLS/1.3, HTTP/1.1'],
    ['<Location> policy in late-off vhost', 'late-off.example',
     '/cycle/late/', '', 426, 'TLS/1.3, HTTP/1.1'],
    ['<Location> SetEnvIf exempts the <Location> policy', 'late.example',
     '/cycle/lateenv/', "X-Cycle-Loc: yes\r\n", 200, "cycle lateenv\n"],
    ['<Location> SetEnvIf, other value', 'late.example', '/cycle/lateenv/',
     "X-Cycle-Loc: no\r\n", 426, 'HTTP/2.0'],
);

my $tests = 3 * @cases + 3 * @late_cases + 3 + 3 * 4;
plan tests => $tests, need_module 'upgrade_required', 'mod_ssl',
    'mod_setenvif';

sub request_bytes {
    my ($path, $o) = @_;
    my $h = $o->{h} || '';
    return ($o->{v} || '') eq '1.0'
        ? "GET $path HTTP/1.0\r\n$h\r\n"
        : "GET $path HTTP/1.1\r\nHost: cycle.example\r\n${h}"
          . "Connection: close\r\n\r\n";
}

sub check {
    my ($name, $res, $status, $want) = @_;
    ok t_cmp($res->{status}, $status, "$name: status");
    if ($status == 426) {
        ok t_cmp(join('|', fields($res, 'Upgrade')), $want,
                 "$name: exactly one Upgrade, $want");
        # one field ("|" joins several, which the pattern refuses)
        ok t_cmp(join('|', fields($res, 'Connection')),
                 qr/^(?:[\w-]+\s*,\s*)*Upgrade(?:\s*,\s*[\w-]+)*$/i,
                 "$name: one Connection field listing Upgrade");
    }
    else {
        ok t_cmp($res->{body}, $want, "$name: body");
        # core_upgrade_handler may offer h2c on a 200; ours never appear
        # ("h2,h2c" is core's; the module's h2c comes alone)
        my @ours = grep { m{TLS/|websocket|HTTP/2\.0} || lc eq 'h2c' }
                   fields($res, 'Upgrade');
        ok t_cmp("@ours", '', "$name: no Upgrade of the module");
    }
}

for my $c (@cases) {
    my ($name, $vhost, $path, $o, $status, $want) = @$c;
    my $req = request_bytes($path, $o);
    my $bytes = $o->{tls}
        ? raw_tls($vhost, $req, version => ($o->{tls} =~ /^TLS/
                                             ? $o->{tls} : undef))
        : raw($vhost, $req);
    check($name, parse_response($bytes), $status, $want);
}

# The policy is decided on the final configuration: a <Location> policy
# in header_parser, not earlier.
{
    Apache::TestUtil::t_start_error_log_watch();
    raw('cycle_plain', request_bytes('/cycle/loc/early-check', {}));
    my @lines = grep { /UPREQ004/ }
                Apache::TestUtil::t_finish_error_log_watch();
    ok t_cmp("@lines", qr{policy of /cycle/loc \(header_parser\)},
             'the suite server decides <Location> policies in header_parser');
}

# --- a second httpd, whose configuration changes policies late ----------

my $vars = Apache::Test::vars();
my $dir = "$vars->{t_logs}/cycle_late";
my $late_pid;

sub late_conf {
    my ($port) = @_;
    my $docroot = $vars->{documentroot};
    my $user = $> == 0
        ? "User nobody\nGroup " . (getgrnam('nogroup') ? 'nogroup' : 'nobody')
        : '';
    return <<"EOF";
ServerRoot "$vars->{serverroot}"
Include "$vars->{t_conf}/inherit.conf"
$user
Listen 127.0.0.1:$port
ServerName late.example
PidFile "$dir/httpd.pid"
DefaultRuntimeDir "$dir"
ErrorLog "$dir/error_log"
LogLevel warn upgrade_required:debug
TypesConfig "$vars->{t_conf}/mime.types"
DocumentRoot "$docroot"
Protocols http/1.1

# server-level policy and exemption
UpgradeRequired TLS
SetEnvIf X-Cycle-Exempt ^yes\$ no-upgrade-required

# merged after <Location>: makes the start-up scan choose late decisions
<Directory "$docroot/cycle/late">
    <If "%{HTTP:X-Cycle-Lift} == 'yes'">
        UpgradeRequired Off
    </If>
</Directory>
<Location /cycle/late>
    UpgradeRequired TLS/1.3
</Location>
<Location /cycle/lateenv>
    UpgradeRequired HTTP/2
    SetEnvIf X-Cycle-Loc ^yes\$ no-upgrade-required
</Location>

<VirtualHost 127.0.0.1:$port>
    ServerName late.example
</VirtualHost>
<VirtualHost 127.0.0.1:$port>
    ServerName late-off.example
    UpgradeRequired Off
</VirtualHost>
EOF
}

sub start_late {
    my ($conf) = @_;
    $conf ||= \&late_conf;
    rmtree($dir);
    mkpath($dir);
    my $port = free_port();
    open my $fh, '>', "$dir/httpd.conf" or die "$dir/httpd.conf: $!";
    print $fh $conf->($port);
    close $fh;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        # a group of its own: prefork's parent signals its whole group
        POSIX::setsid();
        open STDOUT, '>', "$dir/stdout";
        open STDERR, '>&', \*STDOUT;
        no warnings 'exec';
        exec apache_bin(), '-f', "$dir/httpd.conf", '-D', 'FOREGROUND';
        POSIX::_exit(127);
    }
    $late_pid = $pid;
    for (1 .. 300) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp');
        return $port if $s;
        die "second httpd exited:\n" . `cat $dir/stdout`
            if waitpid($pid, POSIX::WNOHANG()) == $pid;
        select undef, undef, undef, 0.1;
    }
    die "second httpd does not listen on $port";
}

sub stop_late {
    return unless $late_pid;
    kill 'TERM', $late_pid;
    waitpid $late_pid, 0;
    $late_pid = undef;
}
END { stop_late() }

sub late_raw {
    my ($port, $req) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10)
        or die "connect $port: $!";
    print $s $req;
    local $/;
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm 20;
    my $data = <$s>;
    alarm 0;
    return $data // '';
}

my $port = start_late();
for my $c (@late_cases) {
    my ($name, $host, $path, $h, $status, $want) = @$c;
    my $res = parse_response(late_raw($port,
        "GET $path HTTP/1.1\r\nHost: $host\r\n${h}Connection: close\r\n\r\n"));
    check("late: $name", $res, $status, $want);
}
stop_late();

open my $log, '<', "$dir/error_log" or die "$dir/error_log: $!";
my @log = <$log>;
close $log;
ok t_cmp(join('', grep { /UPREQ004: .*policy of \/cycle\/late / } @log),
         qr/\(header_parser\)/, 'late: <Location> decided in header_parser');
my @early = grep { /UPREQ00\d: .*\(translate_name\)/ } @log;
ok t_cmp(scalar @early, 0, 'late: nothing decided in translate_name');

# --- a third httpd: only an <If> on the file name can change a <Location>
# policy after the first walk (where REQUEST_FILENAME is still empty); the
# start-up scan must see it, at server level and inside <Location>
sub ifstore_conf {
    my ($port) = @_;
    my $conf = late_conf($port);
    $conf =~ s/^# server-level policy.*\z//ms;
    return $conf . <<'CONF';
<Location /cycle/ifo>
    UpgradeRequired TLS
</Location>
<If "%{REQUEST_FILENAME} =~ /\.css$/">
    UpgradeRequired Off
</If>
<Location /cycle/ifo2>
    UpgradeRequired TLS
    <If "%{REQUEST_FILENAME} =~ /\.css$/">
        UpgradeRequired Off
    </If>
</Location>
CONF
}
$dir = "$vars->{t_logs}/cycle_ifstore";
$port = start_late(\&ifstore_conf);
for my $c (['/cycle/ifo/a.css', 200, "cycle ifo css\n"],
           ['/cycle/ifo/', 426, 'TLS/1.2, HTTP/1.1'],
           ['/cycle/ifo2/a.css', 200, "cycle ifo2 css\n"],
           ['/cycle/ifo2/', 426, 'TLS/1.2, HTTP/1.1']) {
    my ($path, $status, $want) = @$c;
    my $res = parse_response(late_raw($port,
        "GET $path HTTP/1.1\r\nHost: late.example\r\n"
        . "Connection: close\r\n\r\n"));
    check("<If> on REQUEST_FILENAME: $path", $res, $status, $want);
}
stop_late();

