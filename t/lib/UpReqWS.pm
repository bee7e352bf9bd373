package UpReqWS;
# WebSocket helpers of the mod_upgrade_required suite: the python3 that has
# the packages the scripts under t/bin need, the echo backend those tests
# proxy to, and the RFC 6455 and RFC 8441 clients.
use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use File::Spec;
use IO::Select;
use POSIX ();
use Apache::Test ();

our @EXPORT_OK = qw(python has_python_module conf_define mpm
                    start_ws_backend stop_ws_backend ws_client h2_ws_client);

my $bin = File::Spec->rel2abs('t/bin');

my %python_for;

# python(MODULE...) -> a python3 that imports every MODULE, or undef.
# $UPREQ_PYTHON wins; then python3 from PATH, then the system's own (a
# python3 of a version manager may shadow the one the Debian packages
# python3-websockets and python3-h2 install into).
sub python {
    my @mods = @_;
    my $key = join ',', @mods;
    return $python_for{$key} if exists $python_for{$key};
    my @try = grep { defined } $ENV{UPREQ_PYTHON}, 'python3',
        '/usr/bin/python3';
    my $imports = join '; ', 'import sys', map { "import $_" } @mods;
    for my $py (@try) {
        system("$py -c '$imports' >/dev/null 2>&1") == 0
            and return $python_for{$key} = $py;
    }
    return $python_for{$key} = undef;
}

sub has_python_module { return defined python(@_) }

# conf_define(NAME) -> the value of "Define NAME value" in the generated
# configuration of the suite (t/conf/*.conf)
sub conf_define {
    my ($name) = @_;
    my $conf = Apache::Test::vars('t_conf');
    for my $file (glob "$conf/*.conf") {
        open my $fh, '<', $file or next;
        while (<$fh>) {
            return $1 if /^\s*Define\s+\Q$name\E\s+(\S+)/;
        }
    }
    return undef;
}

# the MPM the suite's httpd runs with
sub mpm { return Apache::Test::config()->{server}->{mpm} || '' }

my %backends;

# start_ws_backend(PORT) -> pid of t/bin/ws_echo_server.py listening on
# 127.0.0.1:PORT; dies unless it says it is ready within 20 s
sub start_ws_backend {
    my ($port) = @_;
    my $py = python('websockets') or die "no python3 with websockets\n";
    my $pid = open my $out, '-|';
    die "fork: $!\n" unless defined $pid;
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        { exec $py, "$bin/ws_echo_server.py", $port }
        POSIX::_exit(127);      # no END blocks of the test in the child
    }
    my $sel = IO::Select->new($out);
    my $line = $sel->can_read(20) ? <$out> : undef;
    unless (defined $line && $line eq "ready $port\n") {
        kill 'TERM', $pid;
        die "WebSocket backend on port $port: "
            . (defined $line ? $line : "no answer\n");
    }
    $backends{$pid} = $out;
    return $pid;
}

sub stop_ws_backend {
    my ($pid) = @_;
    my $out = delete $backends{$pid} or return;
    kill 'TERM', $pid;
    close $out;     # waits for it
}

END { stop_ws_backend($_) for keys %backends }

sub _run {
    my @cmd = @_;
    open my $fh, '-|', @cmd or die "$cmd[0]: $!\n";
    my @lines = <$fh>;
    close $fh;
    chomp @lines;
    return ($? >> 8, \@lines);
}

# ws_client(URL, MESSAGE...) -> (exit status, [answers]); see t/bin/ws_client.py
sub ws_client {
    my ($url, @msgs) = @_;
    return _run(python('websockets'), "$bin/ws_client.py", $url, @msgs);
}

# h2_ws_client('h2'|'h2c', HOST:PORT, PATH, MESSAGE...) -> (exit status,
# [answers or status and fields]); see t/bin/h2_ws_client.py
sub h2_ws_client {
    my ($mode, $hostport, $path, @msgs) = @_;
    my ($host, $port) = split /:/, $hostport;
    return _run(python('h2'), "$bin/h2_ws_client.py", $mode, $host, $port,
                $path, @msgs);
}

1;
