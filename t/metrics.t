# The counters (SPEC "Seeing a rollout: counters and
# upgrade-required-status"): exact counts after a known mix of requests
# sent at once (parallel curl processes, h2load over HTTP/2), for each
# outcome and client label; the handler's Prometheus text (promtool
# check metrics) and ?json; mod_status's section and ?auto lines; the
# handler unreachable where it is not configured.  Then an httpd of the
# test's own: a graceful restart under load keeps every count (old and
# new children write into the same memory), a host it adds starts at
# zero, one it removes disappears, a graceful restart that adds more
# hosts than the spare slots says so, and a restart starts from zero.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use File::Path qw(make_path);
use IO::Socket::IP;
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use lib 't/lib';
use UpReq qw(send_raw parse_response hostport field h2_served $NO_H2
             under_valgrind is_426_fields);
use UpReqProxy qw(free_port start_httpd stop_daemon which);

my $FAMILY = 'upgrade_required_requests_total';
my $H2 = h2_served();
# make test-valgrind runs every httpd under memcheck: less load there
my $VALGRIND = under_valgrind();

plan tests => 48, need need_module('upgrade_required', 'mod_ssl',
                                   'mod_status'),
    { 'curl is not installed' => defined which('curl') };

my %hp = map { ($_ => hostport($_)) } qw(metrics_plain metrics_ssl
                                          metrics_proxy);
my ($P, $S, $X) = map { "http://$_" } @hp{qw(metrics_plain metrics_ssl
                                             metrics_proxy)};
$S =~ s/^http:/https:/;
my %label = map { ($_ => 'metrics.example:' . (split /:/, $hp{$_})[1]) }
    qw(metrics_plain metrics_ssl);
$label{metrics_proxy} = 'metrics-proxy.example:'
                      . (split /:/, $hp{metrics_proxy})[1];

# ---------------------------------------------------------------------
# helpers

# get(HOST:PORT, TARGET[, METHOD, HEADERS]) -> parsed response; HTTP/1.0,
# so that the body ends with the connection (no chunks)
sub get {
    my ($hostport, $target, $method, $headers) = @_;
    my ($host, $port) = split /:/, $hostport;
    return parse_response(send_raw($host, $port,
        ($method || 'GET') . " $target HTTP/1.0\r\nHost: x\r\n"
        . ($headers // '') . "\r\n"));
}

# the series of a text exposition: { "vhost|requirement|outcome|client"
# => count }, and the lines that are neither series nor comments
sub text_series {
    my ($text) = @_;
    my (%s, @bad);
    for my $l (split /\n/, $text) {
        next if $l =~ /^# (HELP|TYPE) $FAMILY /;
        if ($l =~ /^$FAMILY\{vhost="((?:[^"\\]|\\.)*)",requirement="([^"]*)",
                   outcome="([^"]*)",client="([^"]*)"\}\ (\d+)$/x) {
            my ($v, @rest) = ($1, $2, $3, $4, $5);
            $v =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge;
            $s{join '|', $v, @rest[0 .. 2]} = $rest[3];
        }
        else {
            push @bad, $l;
        }
    }
    return (\%s, \@bad);
}

sub json_series {
    my ($doc) = @_;
    $doc ||= { series => [] };      # no answer: no series
    return { map { (join('|', @$_{qw(vhost requirement outcome client)})
                    => $_->{value}) } @{ $doc->{series} } };
}

# only the series of the given vhost labels
sub only {
    my ($series, @labels) = @_;
    my %want = map { ($_ => 1) } @labels;
    return { map { $want{(split /\|/)[0]} ? ($_ => $series->{$_}) : () }
             keys %$series };
}

# a server-status?auto key, as SPEC spells it
sub auto_key {
    my $k = join '_', 'UpgradeRequired', split /\|/, $_[0];
    $k =~ s/[^A-Za-z0-9.\-]/_/g;
    return $k;
}

# run_jobs([NAME, COUNT, CURL_ARGS, URL], ...): each job one curl
# process, all at once; returns { NAME => [status codes] }
sub run_jobs {
    my %fh;
    for my $j (@_) {
        my ($name, $n, $args, $url) = @$j;
        open $fh{$name}, '-|', 'curl', '-sk', '--max-time', '60',
            '-w', '%{http_code}\n', @$args,
            map { ('-o', '/dev/null', $url) } 1 .. $n
            or die "curl: $!";
    }
    my %codes;
    for my $name (keys %fh) {
        my $fh = $fh{$name};
        $codes{$name} = [map { /(\d+)/ ? $1 : $_ } <$fh>];
        close $fh;
    }
    return \%codes;
}

sub promtool_reason {
    return which('promtool') ? ''
         : 'promtool is not installed (apt-get install prometheus)';
}

# promtool check metrics, fed TEXT: (exit status, output)
sub promtool {
    my ($text) = @_;
    my $file = Apache::Test::vars('t_logs') . '/metrics.prom';
    open my $fh, '>', $file or die "$file: $!";
    print $fh $text;
    close $fh;
    my $out = `promtool check metrics < $file 2>&1`;
    return ($? >> 8, $out);
}

# one assertion: promtool accepts TEXT (skipped without promtool)
sub promtool_accepts {
    my ($text, $name) = @_;
    SKIP: {
        my $why = promtool_reason();
        skip $why, 1 if $why;
        my ($rc, $out) = promtool($text);
        is $rc, 0, "$name $out";
    }
}

# ---------------------------------------------------------------------
# the known mix, all at once

my @WS = map { ('-H', $_) } 'Upgrade: websocket', 'Connection: Upgrade',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==';
# [name, count, curl arguments, URL, the status each gets]
my @jobs = (
    [tls_a        => 20, [], "$P/tls/x.html", 426],
    [tls_b        => 20, [], "$P/tls/x.html", 426],
    [two_http10   => 20, ['--http1.0'], "$P/tls-h11/x.html", 426],
    [two_http11   => 20, [], "$P/tls-h11/x.html", 426],
    [report_only  => 20, [], "$P/report/x.html", 200],
    [navigation   => 20, ['-H', 'Sec-Fetch-Mode: navigate'],
                         "$P/shop/x.html", 301],
    [api_client   => 10, [], "$P/shop/x.html", 426],
    [acme         => 10, [], "$P/.well-known/acme-challenge/Tok-en_1", 200],
    [not_acme     =>  5, [], "$P/.well-known/acme-challenge/Tok.en", 426],
    [exempt_env   => 10, ['-A', 'exempt-me/1'], "$P/tls/x.html", 200],
    [ws_plain     => 10, [], "$P/ws/x.html", 426],
    [ws_handshake => 10, \@WS, "$P/ws/x.html", 200],
    [h2_by_h11    => 10, [], "$P/h2/x.html", 426],
    # h2c upgrades, one per connection (httpd closes a connection it
    # switched when its HTTP/2 session ends)
    (map { (["h11_by_h2c_$_" => 1, ['--http2'], "$P/h11/x.html", 200],
            ["h2_by_h2c_$_"  => 1, ['--http2'], "$P/h2/x.html",
             $H2 ? 200 : 426]) } 1 .. 5),
    [error_doc    => 10, [], "$P/errdoc/x.html", 426],
    [no_policy    => 10, [], "$P/index.html", 200],
    [proxy_https  => 10, ['-H', 'X-Forwarded-Proto: https'],
                         "$X/tls/x.html", 200],
    [proxy_plain  => 10, [], "$X/tls/x.html", 426],
    [proxy_tls13  => 10, ['-H', 'X-Forwarded-Proto: https'],
                         "$X/tls13/x.html", 426],
    [tls12_at_13  => 10, ['--http1.1', '--tls-max', '1.2'],
                         "$S/tls13/x.html", 426],
    [tls13_at_13  => 10, ['--http1.1', '--tlsv1.3'], "$S/tls13/x.html", 200],
    [tls_h2_by_11 => 10, ['--http1.1'], "$S/h2/x.html", 426],
);
my ($PL, $SL, $XL) = @label{qw(metrics_plain metrics_ssl metrics_proxy)};
my %want = (
    # /tls 40, /tls-h11 40, /shop without navigation 10, not ACME 5,
    # /errdoc 10 (its error document adds nothing)
    "$PL|TLS|refused|plain"              => 105,
    "$PL|HTTP/1.1|refused|HTTP/1.0"      => 20,
    "$PL|HTTP/1.1|met|HTTP/1.1"          => 20,
    "$PL|TLS/1.3|reported|plain"         => 20,
    "$PL|TLS|redirected|plain"           => 20,
    "$PL|TLS|exempt|plain"               => 20,    # ACME 10, env 10
    "$PL|websocket|refused|no-handshake" => 10,
    "$PL|websocket|met|handshake"        => 10,
    "$PL|HTTP/2|refused|HTTP/1.1"        => 10,
    "$XL|TLS|met|tls"                    => 10,
    "$XL|TLS|refused|plain"              => 10,
    "$XL|TLS/1.3|refused|tls"            => 10,
    "$SL|TLS/1.3|refused|TLSv1.2"        => 10,
    "$SL|TLS/1.3|met|TLSv1.3"            => 10,
    "$SL|HTTP/2|refused|HTTP/1.1"        => 10,
);
# a switched h2c offer counts as the HTTP/2 request it became, never also
# as HTTP/1.1; without HTTP/2 (prefork) the offers stay HTTP/1.1
if ($H2) {
    $want{"$PL|HTTP/1.1|met|HTTP/2"} = 5;
    $want{"$PL|HTTP/2|met|HTTP/2"} = 5;
}
else {
    $want{"$PL|HTTP/1.1|met|HTTP/1.1"} += 5;
    $want{"$PL|HTTP/2|refused|HTTP/1.1"} += 5;
}
my $h2load = $H2 && which('h2load');
my %h2fh;
if ($h2load) {
    # HTTP/2 streams of a few connections, beside the curl processes
    for ([tls => 200], [h2 => 100]) {
        my ($path, $n) = @$_;
        open $h2fh{$path}, '-|', 'h2load', '-n', $n, '-c', 4, '-m', 8,
            "$S/$path/x.html" or die "h2load: $!";
    }
    $want{"$SL|TLS|met|TLSv1.3"} = 200;
    $want{"$SL|HTTP/2|met|HTTP/2"} = 100;
}
my $codes = run_jobs(map { [@$_[0 .. 3]] } @jobs);
my @wrong = map { my ($name, $n, undef, undef, $status) = @$_;
                  my @c = @{ $codes->{$name} };
                  (@c == $n && !grep { $_ ne $status } @c)
                      ? () : "$name: @c" } @jobs;
is_deeply \@wrong, [], scalar(@jobs) . ' curl processes at once: each '
    . 'request got its status';
SKIP: {
    skip $H2 ? 'h2load is not installed (nghttp2-client)' : $NO_H2, 1
        unless $h2load;
    my @h2 = map { local $/; my $fh = $h2fh{$_}; my $o = <$fh>; close $fh;
                   $o =~ /status codes: (\d+) 2xx/ ? $1 : "$_: $o" }
             qw(tls h2);
    is_deeply \@h2, [200, 100], 'h2load: 300 streams, each 200';
}

# ---------------------------------------------------------------------
# the handler

my $r = get($hp{metrics_plain}, '/upreq-status');
is $r->{status}, 200, 'upgrade-required-status answers';
is field($r, 'Content-Type'), 'text/plain; version=0.0.4',
   'the text exposition format, version 0.0.4';
my $text = $r->{body};
like $text, qr/\A# HELP $FAMILY .+\n# TYPE $FAMILY counter\n/,
     'HELP and TYPE lines of the one family';
my ($series, $bad) = text_series($text);
is_deeply $bad, [], 'every other line is a series of the family';
is_deeply only($series, $PL, $SL, $XL), \%want,
          'exact counts per vhost, requirement, outcome and client';
promtool_accepts($text, 'promtool check metrics accepts it');

my $j = get($hp{metrics_plain}, '/upreq-status?json');
is field($j, 'Content-Type'), 'application/json', '?json: application/json';
my $doc = eval { JSON::PP::decode_json($j->{body}) };
ok $doc, '?json parses' or diag $@, $j->{body};
$doc ||= { series => [], vhosts => [] };
is_deeply json_series($doc), $series, '?json: the same numbers as the text';
my %listed = map { ($_ => 1) } @{ $doc->{vhosts} };
ok $listed{$PL} && $listed{$SL} && $listed{$XL},
   '?json lists the virtual hosts of the configuration';

$r = get($hp{metrics_plain}, '/upreq-status', 'HEAD');
ok $r->{status} == 200 && $r->{body} eq '', 'HEAD: 200, no body';
$r = get($hp{metrics_plain}, '/upreq-status', 'POST',
         "Content-Length: 0\r\n");
is $r->{status}, 405, 'POST: 405 (GET only)';

for my $t ('/upreq-status', '/upreq-status?json') {
    $r = get($hp{metrics_proxy}, $t);
    ok $r->{status} == 404 && $r->{body} !~ /$FAMILY/,
       "$t where it is not configured: 404, none of the counts";
}
$r = get(Apache::TestRequest::hostport(), '/upreq-status?json');
is $r->{status}, 404, 'nor on the main server';

# ---------------------------------------------------------------------
# mod_status

$r = get($hp{metrics_plain}, '/server-status?auto');
my @auto = sort grep { /^UpgradeRequired_/ } split /\n/, $r->{body};
my @from_json = sort map { auto_key($_) . ": $series->{$_}" }
                keys %$series;
is_deeply \@auto, \@from_json,
          'server-status?auto: one line per non-zero series, as ?json';
my $pkey = $PL =~ s/:/_/r;
ok((grep { $_ eq "UpgradeRequired_${pkey}_TLS_1.3_reported_plain: 20" }
    @auto), "a line as SPEC spells it: UpgradeRequired_${pkey}_TLS_1.3_"
    . 'reported_plain: 20');
$r = get($hp{metrics_plain}, '/server-status');
like $r->{body}, qr{<h2>mod_upgrade_required</h2>},
     'server-status: the section';
like $r->{body}, qr{<tr><td>\Q$PL\E</td><td>TLS</td><td>refused</td>
                    <td>plain</td><td>105</td></tr>}x,
     'server-status: a row of the table';

# the counters under a policy are refused like any content: an HTTP/1.1
# request, and an h2c offer that the module lets through but httpd's core
# does not take (its Upgrade list is not strictly valid), which is never
# answered over HTTP/1.1
{
    my ($mh, $mp) = split /:/, $hp{metrics_plain};
    for my $c (['HTTP/1.1', "Connection: close\r\n"],
               ['an h2c offer that core does not take',
                "Upgrade: h2c, \@x\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"
                . "Connection: Upgrade, HTTP2-Settings, close\r\n"]) {
        my ($name, $h) = @$c;
        my $h2s = parse_response(send_raw($mh, $mp,
            "GET /h2-status HTTP/1.1\r\nHost: x\r\n$h\r\n"));
        is_426_fields($h2s, 'h2c', 'Upgrade, close',
                      "counters under UpgradeRequired HTTP/2, $name");
        unlike $h2s->{body} // '', qr/$FAMILY/,
           "counters under UpgradeRequired HTTP/2, $name: no counters";
    }
}

# ---------------------------------------------------------------------
# an httpd of the test's own: graceful restarts and a restart

my $name = 'metrics_own';
my $dir = Apache::Test::vars('t_logs') . "/$name";
make_path($dir);
my $docs = Apache::Test::vars('documentroot') . '/metrics';
my ($p1, $p2) = (free_port(), free_port());
my $mpm_conf = <<'EOC';
<IfModule mpm_prefork_module>
    StartServers 3
    MinSpareServers 3
    MaxSpareServers 8
</IfModule>
<IfModule !mpm_prefork_module>
    StartServers 2
    ThreadsPerChild 8
    MinSpareThreads 8
    MaxSpareThreads 32
</IfModule>
EOC
my $WEIRD = 'we"ird\\back.example';

# the configuration of a phase: the main server, keep.example, the hosts
# named, and a host whose name needs escaping on a port of its own
sub write_conf {
    my (@hosts) = @_;
    my $c = "LogLevel warn upgrade_required:debug\n"
          . "Listen 127.0.0.1:$p1\nListen 127.0.0.1:$p2\n"
          . "DocumentRoot \"$docs\"\n$mpm_conf"
          . "CustomLog \"$dir/access_log\" \"%P %{Host}i %U %>s\"\n"
          . "<Location /upreq-status>\n"
          . "    SetHandler upgrade-required-status\n"
          . "    UpgradeRequired Off\n</Location>\n";
    for my $h ('keep.example', @hosts) {
        $c .= "<VirtualHost 127.0.0.1:$p1>\n    ServerName $h\n"
            . "    <Location /tls>\n        UpgradeRequired TLS\n"
            . "    </Location>\n</VirtualHost>\n";
    }
    (my $q = $WEIRD) =~ s/(["\\])/\\$1/g;
    $c .= "<VirtualHost 127.0.0.1:$p2>\n    ServerName \"$q\"\n"
        . "    UpgradeRequired TLS\n</VirtualHost>\n";
    open my $fh, '>', "$dir/metrics.conf" or die "$dir/metrics.conf: $!";
    print $fh $c;
    close $fh;
}

sub own_status {
    my $res = eval { get("127.0.0.1:$p1", '/upreq-status?json') };
    my $d = $res && $res->{status} && $res->{status} == 200
        && eval { JSON::PP::decode_json($res->{body}) };
    return $d || undef;
}

# wait_for(SECONDS, CODE) -> the first true value of CODE, or undef
sub wait_for {
    my ($seconds, $code) = @_;
    my $deadline = Time::HiRes::time() + $seconds * ($VALGRIND ? 10 : 1);
    while (Time::HiRes::time() < $deadline) {
        my $v = $code->();
        return $v if $v;
        Time::HiRes::sleep(0.1);
    }
    return undef;
}

sub own_requests {
    my ($host, $n, $port) = @_;
    my @c = map { (parse_response(send_raw('127.0.0.1', $port || $p1,
                   "GET /tls/x.html HTTP/1.1\r\nHost: $host\r\n"
                   . "Connection: close\r\n\r\n"))->{status} // '') } 1 .. $n;
    return scalar grep { $_ eq '426' } @c;
}

# access_log lines as [pid, host, path, status]
sub access_lines {
    open my $fh, '<', "$dir/access_log" or return ();
    return map { [split / /] } <$fh>;
}

# LOAD clients (processes) each send requests on new connections to
# keep.example until the stop file appears; each reports how many 426
# it received in full
my $stop = "$dir/stop-load";
sub start_load {
    my ($clients) = @_;
    unlink $stop;
    my @fh;
    for (1 .. $clients) {
        my $pid = open my $fh, '-|';
        die "fork: $!" unless defined $pid;
        if (!$pid) {
            my ($got, $sent) = (0, 0);
            until (-e $stop) {
                $sent++;
                my $res = eval { send_raw('127.0.0.1', $p1,
                    "GET /tls/x.html HTTP/1.1\r\nHost: keep.example\r\n"
                    . "Connection: close\r\n\r\n") } // '';
                $got++ if $res =~ m{\AHTTP/1\.1 426 };
            }
            print "$got $sent\n";
            POSIX::_exit(0);
        }
        push @fh, $fh;
    }
    return \@fh;
}

sub stop_load {
    my ($fhs) = @_;
    open my $s, '>', $stop or die "$stop: $!";
    close $s;
    my ($got, $sent) = (0, 0);
    for my $fh (@$fhs) {
        my ($g, $n) = split ' ', scalar(<$fh>) // '0 0';
        close $fh;
        ($got, $sent) = ($got + $g, $sent + $n);
    }
    return ($got, $sent);
}

sub labels_of {
    my ($doc) = @_;
    return { map { ($_ => 1) } @{ $doc ? $doc->{vhosts} : [] } };
}

write_conf('gone.example');
unlink "$dir/access_log";
my $d = start_httpd($name, "Include \"$dir/metrics.conf\"\n",
                    [['127.0.0.1', $p1], ['127.0.0.1', $p2]]);
my $pid = do { open my $fh, '<', $d->{pid_file} or die; <$fh> + 0 };

my ($KEEP, $GONE, $NEW) = map { "$_:$p1" } qw(keep.example gone.example
                                              new.example);
own_requests('gone.example', 5);
own_requests('ignored', 2, $p2);
my $st = own_status() || { vhosts => [], series => [] };
is_deeply [grep { /\Q$p1\E|\Q$p2\E/ } @{ $st->{vhosts} }],
    ["localhost:$p1", $KEEP, $GONE, "$WEIRD:$p2"],
    'own httpd: the main server is named by its first Listen port, the '
    . 'vhosts by their address';
is json_series($st)->{"$GONE|TLS|refused|plain"}, 5, 'gone.example: 5';
is get("127.0.0.1:$p2", '/upreq-status')->{status}, 200,
   'a scrape where the host requires TLS: UpgradeRequired Off lets it in';

# escaping, where a ServerName needs it
my $ptext = parse_response(send_raw('127.0.0.1', $p1,
    "GET /upreq-status HTTP/1.0\r\n\r\n"))->{body};
my $escaped = '{vhost="we\\"ird\\\\back.example:' . $p2
            . '",requirement="TLS",outcome="refused",client="plain"} 2';
ok index($ptext, $escaped) >= 0, 'text: " and \\ escaped in a label value'
    or diag $ptext;
is json_series($st)->{"$WEIRD:$p2|TLS|refused|plain"}, 2,
   '?json: the same label, escaped as JSON';
promtool_accepts($ptext, 'promtool accepts the escaped label');

# a graceful restart while load runs: gone.example out, new.example in
my $LOAD = $VALGRIND ? 2 : 4;
my $load = start_load($LOAD);
wait_for(30, sub { grep { $_->[1] eq 'keep.example' } access_lines() });
my %before = map { ($_->[0] => 1) } access_lines();
write_conf('new.example');
kill 'USR1', $pid;              # apachectl graceful
my $new_gen = wait_for(60, sub { my $s = own_status();
                                 $s && labels_of($s)->{$NEW} });
# let the new generation serve some of the load too
my $served_new = wait_for(60, sub {
    (grep { !$before{$_->[0]} && $_->[1] eq 'keep.example' }
          access_lines()) >= 20 });
my ($got, $sent) = stop_load($load);
ok $new_gen && $served_new, 'graceful restart: the new generation serves '
   . 'the load that the old one served';
ok $got > 0 && $got == $sent, "load: $sent requests, each a 426";
my %pids = map { ($_->[0] => 1) } grep { $_->[1] eq 'keep.example' }
           access_lines();
ok keys(%pids) >= 2, scalar(keys %pids) . ' processes served the load';
$st = own_status() || { vhosts => [], series => [] };
my $own = json_series($st);
is $own->{"$KEEP|TLS|refused|plain"}, $got,
   "every count kept across the graceful restart ($got)";
ok !labels_of($st)->{$GONE} && !grep(/^\Q$GONE\E/, keys %$own),
   'a removed vhost disappears';
ok labels_of($st)->{$NEW} && !grep(/^\Q$NEW\E/, keys %$own),
   'an added vhost is listed, at zero';
own_requests('new.example', 3);
is json_series(own_status())->{"$NEW|TLS|refused|plain"}, 3,
   'then counts from zero';
is json_series(own_status())->{"$WEIRD:$p2|TLS|refused|plain"}, 2,
   'a vhost on another port keeps its count';

# more hosts than the spare slots: the last ones wait for a restart
my @extra = map { sprintf 'extra%02d.example', $_ } 0 .. 19;
open my $elog, '<', "$dir/error_log" or die "$dir/error_log: $!";
seek $elog, 0, 2;
write_conf('new.example', @extra);
kill 'USR1', $pid;
wait_for(60, sub { my $s = own_status();
                   $s && labels_of($s)->{"extra00.example:$p1"} });
$st = own_status() || { vhosts => [] };
my @uncounted = grep { !labels_of($st)->{"$_:$p1"} } @extra;
my @warned = map { /UPREQ021: .* host (\S+):\d+ / ? $1 : () } <$elog>;
is_deeply \@uncounted, [@extra[16 .. 19]],
    '20 hosts added, 16 slots left: the last 4 are not counted';
is_deeply [sort @warned], [@extra[16 .. 19]], 'UPREQ021 names each';
is json_series($st)->{"$KEEP|TLS|refused|plain"}, $got,
   'a second graceful restart keeps the counts too';

# a restart that is not graceful: from zero, with room for every host
kill 'HUP', $pid;               # apachectl restart
my $fresh = wait_for(60, sub {
    my $s = own_status();
    $s && labels_of($s)->{"extra19.example:$p1"} ? $s : undef });
ok $fresh && !@{ $fresh->{series} }, 'restart: every count is zero';
own_requests('keep.example', 7);
own_requests('extra19.example', 1);
$own = json_series(own_status());
is_deeply [@$own{"$KEEP|TLS|refused|plain",
                 "extra19.example:$p1|TLS|refused|plain"}], [7, 1],
          'and counts again, for every host';
stop_daemon($d);
