package UpReqProxy;
# Helpers of the trusted-proxy tests: daemons the tests start themselves, a
# second httpd (for the main server's proxy list and IPv6 peers) and a
# TLS-terminating HAProxy or nginx (raw requests: UpReq::send_raw).  Everything they
# write goes under t/logs/.
use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use File::Path qw(make_path);
use IO::Socket::IP;
use POSIX ();
use Time::HiRes ();
use Apache::Test ();

our @EXPORT_OK = qw(ipv6_reason free_port which start_httpd
                    stop_daemon start_haproxy start_nginx server_cert);

# daemons started here; whatever a test leaves running is stopped at exit
my @started;
END { local $?; stop_daemon($_) for @started }

# '' when this machine can listen and connect on [::1], else the reason
sub ipv6_reason {
    my $l = IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0,
                                Listen => 1, ReuseAddr => 1)
        or return "cannot listen on [::1]: $@";
    my $c = IO::Socket::IP->new(PeerHost => '::1',
                                PeerPort => $l->sockport, Timeout => 5)
        or return "cannot connect to [::1]: $@";
    return '';
}

# free_port([ADDR]) -> a port that nothing listens on now, never one this
# process was given before: the kernel may hand out a port again once its
# socket is closed, and two Listen lines on one port stop httpd.
my %given_port;
sub free_port {
    my $addr = $_[0] || '127.0.0.1';
    for (1 .. 100) {
        my $s = IO::Socket::IP->new(LocalHost => $addr, LocalPort => 0,
                                    Listen => 1, ReuseAddr => 1)
            or die "no free port on $addr: $@\n";
        my $port = $s->sockport;
        return $port unless $given_port{$port}++;
    }
    die "no new free port on $addr\n";
}

# the path of an executable in PATH (or /usr/sbin, /sbin), or undef
sub which {
    my ($prog) = @_;
    for my $dir (split(/:/, $ENV{PATH} || ''), '/usr/sbin', '/sbin') {
        return "$dir/$prog" if $dir ne '' && -x "$dir/$prog";
    }
    return undef;
}

# _wait_for(SECONDS, CODE): true once CODE returns true, false when
# SECONDS pass first.  Starting and stopping get generous limits: an httpd
# under valgrind (make test-valgrind) on a loaded machine takes tens of
# seconds; a healthy daemon on its own answers within a fraction of one.
sub _wait_for {
    my ($seconds, $done) = @_;
    my $deadline = Time::HiRes::time() + $seconds;
    until ($done->()) {
        return 0 if Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.05);
    }
    return 1;
}

# every address answers (one that fails to start has been reported by its
# start command already)
sub _wait_listening {
    my ($addrs) = @_;
    for my $hp (@$addrs) {
        my ($host, $port) = @$hp;
        _wait_for(120, sub {
            IO::Socket::IP->new(PeerHost => $host, PeerPort => $port,
                                Timeout => 1) })
            or return "nothing listens on [$host]:$port";
    }
    return '';
}

# The daemon writes its pid file after it opens its listeners; under
# valgrind that can be seconds later, and stop_daemon needs the file.
sub _wait_pid_file {
    my ($d) = @_;
    return _wait_for(120, sub { _pid_of($d) }) ? ''
         : "$d->{pid_file} was not written";
}

sub _pid_of {
    my ($d) = @_;
    open my $fh, '<', $d->{pid_file} or return undef;
    my ($pid) = (<$fh> // '') =~ /(\d+)/;
    return $pid;
}

sub _write {
    my ($file, $text, $mode) = @_;
    open my $fh, '>', $file or die "$file: $!\n";
    print $fh $text;
    close $fh or die "$file: $!\n";
    chmod $mode, $file if defined $mode;
}

sub _tdir {
    my ($name) = @_;
    my $dir = Apache::Test::vars('t_logs') . "/$name";
    make_path($dir);
    return $dir;
}

# the suite's server certificate and key (Apache::TestSSLCA made them)
sub server_cert {
    my $ca = Apache::Test::vars('sslca') . '/asf';
    return ("$ca/certs/server.crt", "$ca/keys/server.pem",
            "$ca/certs/ca.crt");
}

# start_httpd(NAME, CONF_TEXT, [[HOST, PORT], ...]) starts a second httpd
# with the suite's modules (t/conf/inherit.conf) and CONF_TEXT; returns a
# handle for stop_daemon, or dies with what its error log says.
sub start_httpd {
    my ($name, $text, $listen) = @_;
    my $vars = Apache::Test::vars();
    my $dir = _tdir($name);
    my $user = $> == 0
        ? "User nobody\nGroup " . (getgrnam('nogroup') ? 'nogroup' : 'nobody')
          . "\n" : '';
    unlink "$dir/error_log";
    _write("$dir/httpd.conf", <<"EOC" . $text);
ServerRoot "$vars->{serverroot}"
DefaultRuntimeDir "$dir"
PidFile "$dir/httpd.pid"
ErrorLog "$dir/error_log"
Include "$vars->{t_conf}/inherit.conf"
TypesConfig "$vars->{t_conf}/mime.types"
ServerName localhost
$user
EOC
    return _launch({ name => $name, pid_file => "$dir/httpd.pid",
                     error_log => "$dir/error_log" }, $listen, undef,
        "$vars->{httpd} -d $vars->{serverroot} -f $dir/httpd.conf -k start");
}

# _launch(HANDLE, LISTEN, CHECK_CMD, START_CMD): run the configuration
# check (if any) and the start command, then wait until every LISTEN
# address answers; dies with what went wrong, stopping what started.
sub _launch {
    my ($d, $listen, $check, $start) = @_;
    # a pid file left by an earlier run may name a live process that now
    # is something else: httpd -k start would take it for its own and exit
    unlink $d->{pid_file};
    if ($check) {
        my $out = `$check 2>&1`;
        die "$d->{name}: $check: $out\n" if $? != 0;
    }
    my $out = `$start 2>&1`;
    push @started, $d;
    die "$d->{name} did not start: $out\n" if $? != 0;
    my $why = _wait_listening($listen) || _wait_pid_file($d);
    if ($why) {
        stop_daemon($d);
        die "$d->{name}: $why\n";
    }
    return $d;
}

# start_haproxy(NAME, CONF_TEXT) -> handle; the text is checked first
sub start_haproxy {
    my ($name, $text, $listen) = @_;
    my $bin = which('haproxy') or die "haproxy is not installed\n";
    my $dir = _tdir($name);
    _write("$dir/haproxy.cfg", $text);
    return _launch({ name => $name, pid_file => "$dir/haproxy.pid" },
                   $listen, "$bin -c -q -f $dir/haproxy.cfg",
                   "$bin -D -p $dir/haproxy.pid -f $dir/haproxy.cfg");
}

# start_nginx(NAME, CONF_TEXT) -> handle; CONF_TEXT may use @DIR@ for a
# directory of its own (pid file, logs, temp files)
sub start_nginx {
    my ($name, $text, $listen) = @_;
    my $bin = which('nginx') or die "nginx is not installed\n";
    my $dir = _tdir($name);
    $text =~ s/\@DIR\@/$dir/g;
    _write("$dir/nginx.conf", $text);
    my $base = "$bin -p $dir/ -e $dir/error.log -c $dir/nginx.conf";
    return _launch({ name => $name, pid_file => "$dir/nginx.pid" },
                   $listen, "$base -t", $base);
}

# stop a daemon started above: TERM to the pid in its pid file, up to
# 60 s for it to go (an httpd under valgrind writes its reports as it
# ends), then KILL: no daemon of a test outlives it
sub stop_daemon {
    my ($d) = @_;
    my $pid = $d && _pid_of($d);
    return unless $pid;
    kill 'TERM', $pid;
    _wait_for(60, sub { !_alive($pid) }) or kill 'KILL', $pid;
    unlink $d->{pid_file} if -f $d->{pid_file};
}

# a zombie (a daemon's parent may be an init that does not reap) is gone
sub _alive {
    my ($pid) = @_;
    return 0 unless kill 0, $pid;
    open my $fh, '<', "/proc/$pid/stat" or return 1;
    my $stat = <$fh> // '';
    return $stat !~ /^\d+ \(.*\) Z/;
}

1;
