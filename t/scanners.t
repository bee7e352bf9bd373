# What security scanners see on the plain port, and that the module never
# upgrades a connection in-band (RFC 2817, CVE-2025-49812 "Opossum").
# testssl.sh 3.3 sends "HEAD / HTTP/1.1" with "Upgrade: TLS/1.0" to port
# 80 and reports CRITICAL when the answer contains "Upgrade: TLS": with
# the default 426 it does (the module's advisory field), with
# UpgradeRequiredTLSStatus 403 it does not.  Either way an "Upgrade: TLS/x"
# offer is never answered with 101, and a TLS handshake started on the
# plain connection after it gets no TLS.  The first part uses the suite's
# hosts (t/conf/cleartext.conf.in); the second an httpd of its own with
# UpgradeRequiredTLSStatus in every context it is allowed in.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use File::Path qw(make_path remove_tree);
use IO::Socket::IP;
use IO::Socket::SSL;
use lib 't/lib';
use UpReq qw(hostport send_raw parse_response fields field curl write_file
             h2_served $NO_H2 access_log_line under_valgrind);
use UpReqProxy qw(free_port start_httpd stop_daemon server_cert);

plan tests => 18 + 1, need_module 'upgrade_required', 'mod_ssl', 'mod_http2';

my $TLS = 'TLS/1.2, HTTP/1.1';
# seconds to wait for an answer or a handshake: make test-valgrind runs
# every httpd under memcheck, which on a loaded machine can take that long
my $WAIT = under_valgrind() ? 120 : 20;

# testssl.sh's http_head_printf() for run_opossum(), byte for byte (its
# User-Agent is $UA_STD of a development snapshot); no Connection field:
# it reads what comes within 4 seconds
sub opossum_probe {
    my ($host) = @_;
    return "HEAD / HTTP/1.1\r\n"
         . "User-Agent: TLS tester from https://testssl.sh/dev/\r\n"
         . "Host: $host\r\nAccept: */*\r\nUpgrade: TLS/1.0\r\n\r\n";
}

sub connect_to {
    my ($host, $port) = @_;
    my $s = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port,
                                Timeout => 10)
        or die "connect $host:$port: $@\n";
    return $s;
}

# read one response from a kept-alive connection: the header, then the
# body by its Content-Length (none for HEAD); what was read, as bytes
sub read_one {
    my ($s, $head_only) = @_;
    my $buf = '';
    local $SIG{ALRM} = sub { die "timeout reading a response\n" };
    alarm $WAIT;
    while (1) {
        if ((my $end = index($buf, "\r\n\r\n")) >= 0) {
            my ($len) = substr($buf, 0, $end) =~ /^Content-Length:\s*(\d+)/mi;
            last if $head_only || length($buf) >= $end + 4 + ($len // 0);
        }
        my $n = sysread($s, my $chunk, 65536);
        last unless $n;
        $buf .= $chunk;
    }
    alarm 0;
    return $buf;
}

# the probe on a new connection: the raw answer, as the scanner reads it
sub probe {
    my ($host, $port, $name) = @_;
    my $s = connect_to($host, $port);
    print $s opossum_probe($name);
    my $bytes = read_one($s, 1);
    close $s;
    return $bytes;
}

# RFC 2817's offer on a plain connection, then a TLS ClientHello on the
# same connection: (the first answer's bytes, whether TLS came up)
sub offer_then_hello {
    my ($host, $port, $path, $name) = @_;
    my $s = connect_to($host, $port);
    print $s "GET $path HTTP/1.1\r\nHost: $name\r\nUpgrade: TLS/1.2\r\n"
           . "Connection: Upgrade\r\n\r\n";
    my $bytes = read_one($s, 0);
    my $tls = IO::Socket::SSL->start_SSL($s,
        SSL_verify_mode => SSL_VERIFY_NONE, Timeout => $WAIT) ? 1 : 0;
    close $s;
    return ($bytes, $tls);
}

# three assertions: the first answer's status, no 101, no TLS
sub no_inband_upgrade {
    my ($host, $port, $path, $name, $status, $what) = @_;
    my ($bytes, $tls) = offer_then_hello($host, $port, $path, $name);
    my $r = parse_response($bytes);
    is $r->{status}, $status, "$what: RFC 2817 offer answered $status";
    unlike $bytes, qr{^HTTP/1\.[01] 101}m, "$what: no 101 Switching Protocols";
    is $tls, 0, "$what: a ClientHello on the same connection gets no TLS";
}

# --- the suite's hosts: the default 426 ------------------------------------

{
    my ($host, $port) = split /:/, hostport('clear_fb');
    my $bytes = probe($host, $port, 'fb.example');
    my $r = parse_response($bytes);
    is $r->{status}, 426, 'testssl.sh probe, TLS everywhere, default: 426';
    like $bytes, qr/Upgrade: TLS/,
        'default 426: the scanner finds "Upgrade: TLS" (README says why '
        . 'it is not that vulnerability)';
    is_deeply [fields($r, 'Upgrade')], [$TLS],
        'default 426: exactly one Upgrade field, the advisory one';
    no_inband_upgrade($host, $port, '/', 'fb.example', 426,
                      'TLS everywhere, default 426');

    # a site whose / needs nothing: the core does not announce h2c to a
    # request that offers an Upgrade of its own
    ($host, $port) = split /:/, hostport('clear_plain');
    $bytes = probe($host, $port, 'clear.example');
    is parse_response($bytes)->{status}, 200,
        'testssl.sh probe, / without a policy: 200';
    unlike $bytes, qr/Upgrade: TLS/, '/ without a policy: no "Upgrade: TLS"';
    no_inband_upgrade($host, $port, '/secure/data.txt', 'clear.example', 426,
                      'refused location');
    no_inband_upgrade($host, $port, '/pub/plain.html', 'clear.example', 200,
                      'location without a policy');

    # control: the same handshake on the TLS port comes up
    ($host, $port) = split /:/, hostport('clear_ssl');
    my $s = connect_to($host, $port);
    my $up = IO::Socket::SSL->start_SSL($s,
        SSL_verify_mode => SSL_VERIFY_NONE, Timeout => $WAIT);
    ok $up, 'control: the same ClientHello on the TLS port gets TLS';
    close $s;

    # the core's own answer to an Upgrade it does not offer: no switch
    ($host, $port) = split /:/, hostport('clear_noh2c');
    no_inband_upgrade($host, $port, '/index.html', 'clear-noh2c.example',
                      200, 'a host whose Protocols offer no upgrade');
}

# --- UpgradeRequiredTLSStatus 403: an httpd of its own ----------------------

subtest 'UpgradeRequiredTLSStatus 403' => sub {
    my $vars = Apache::Test::vars();
    my $dir  = "$vars->{t_logs}/scan";
    my $root = "$dir/htdocs";
    my %port = map { $_ => free_port() } qw(plain p426 tls);
    my ($crt, $key) = server_cert();
    remove_tree($root);
    unlink "$dir/access.log";

    my $put = sub { write_file($root, @_) };
    $put->('index.html', "scan index\n");
    $put->($_, "scan $_\n")
        for qw(x ws/x h11/x tlsws/x hdr/x redir/x ed/x d426/x ht/x ht403/x
               tls13/x);
    $put->('ed/403.html', "<html><body>SCAN-ERRORDOCUMENT-403</body></html>\n");
    $put->('ht/.htaccess', "UpgradeRequiredTLSStatus 426\n");
    $put->('ht403/.htaccess', "UpgradeRequiredTLSStatus 403\n");
    $put->('tlsh2/x', "scan tlsh2/x\n");
    $put->('dav/a.txt', "dav source\n");
    make_path("$root/davtls", "$dir/davlock");
    chmod 0777, "$root/dav", "$root/davtls", "$dir/davlock";

    my $srv = eval {
        start_httpd('scan', <<"EOC", [map { ['127.0.0.1', $_] } values %port]);
LogLevel warn upgrade_required:debug
Listen 127.0.0.1:$port{plain}
Listen 127.0.0.1:$port{p426}
Listen 127.0.0.1:$port{tls}
Protocols h2 h2c http/1.1
LogFormat "%r %>s upgrade=%{UPGRADE_REQUIRED}e note=%{upgrade-required}n redirect=%{REDIRECT_UPGRADE_REQUIRED}e" scan
CustomLog "$dir/access.log" scan
DocumentRoot "$root"
<Directory "$root">
    Require all granted
</Directory>
# server config
UpgradeRequiredTLSStatus 403

<VirtualHost 127.0.0.1:$port{plain}>
    ServerName scan.example
    UpgradeRequired TLS
    <Directory "$root/ws">
        UpgradeRequired websocket
    </Directory>
    <Directory "$root/h11">
        UpgradeRequired HTTP/1.1
    </Directory>
    <Directory "$root/tlsws">
        UpgradeRequired TLS websocket
    </Directory>
    <Directory "$root/hdr">
        UpgradeRequiredHeader "TLS/1.0, HTTP/1.1"
    </Directory>
    <Directory "$root/redir">
        UpgradeRequiredRedirect 301
    </Directory>
    <Directory "$root/ed">
        ErrorDocument 403 /ed/403.html
    </Directory>
    # directory
    <Directory "$root/d426">
        UpgradeRequiredTLSStatus 426
    </Directory>
    <Directory "$root/tlsh2">
        UpgradeRequired TLS HTTP/2
    </Directory>
    # mod_dav sends the refusal of its Destination's subrequest itself
    DavLockDB "$dir/davlock/lock"
    <Directory "$root/dav">
        UpgradeRequired Off
        Dav On
    </Directory>
    <Directory "$root/davtls">
        Dav On
    </Directory>
    # .htaccess
    <Directory "$root/ht">
        AllowOverride AuthConfig
    </Directory>
</VirtualHost>

# virtual host
<VirtualHost 127.0.0.1:$port{p426}>
    ServerName scan426.example
    UpgradeRequired TLS
    UpgradeRequiredTLSStatus 426
    <Directory "$root/ht403">
        AllowOverride AuthConfig
    </Directory>
</VirtualHost>

<VirtualHost 127.0.0.1:$port{tls}>
    ServerName scan.example
    SSLEngine on
    SSLProtocol -all +TLSv1.2 +TLSv1.3
    SSLCertificateFile "$crt"
    SSLCertificateKeyFile "$key"
    UpgradeRequired TLS
    <Directory "$root/tls13">
        UpgradeRequired TLS/1.3
    </Directory>
    <Directory "$root/tlsh2">
        UpgradeRequired TLS HTTP/2
    </Directory>
</VirtualHost>
EOC
    };
    unless ($srv) {
        fail("an httpd with UpgradeRequiredTLSStatus in server config, "
             . "virtual host, directory and .htaccess starts: $@");
        return;
    }

    my $ask = sub {
        my ($which, $target, %o) = @_;
        my $req = sprintf "%s %s %s\r\nHost: %s\r\n%sConnection: close\r\n\r\n",
            $o{method} || 'GET', $target, $o{proto} || 'HTTP/1.1',
            $which eq 'p426' ? 'scan426.example' : 'scan.example',
            $o{h} // '';
        return parse_response(send_raw('127.0.0.1', $port{$which}, $req,
            tls => $which eq 'tls', version => $o{version}));
    };
    my $log = sub { access_log_line($_[0], 'scan/access.log') };

    # the scanner's probe
    my $bytes = probe('127.0.0.1', $port{plain}, 'scan.example');
    my $r = parse_response($bytes);
    is $r->{status}, 403, 'testssl.sh probe, UpgradeRequiredTLSStatus 403: 403';
    unlike $bytes, qr/Upgrade: TLS/,
        '403: the scanner finds no "Upgrade: TLS" (not vulnerable)';
    is_deeply [fields($r, 'Upgrade')], [], '403 to the probe: no Upgrade';
    is_deeply [grep { /upgrade/i } fields($r, 'Connection')], [],
        '403 to the probe: no Connection: Upgrade';

    # the refusal: 403, the page of the 426, none of its fields
    $r = $ask->(plain => '/index.html?t403');
    is $r->{status}, 403, 'TLS refused with 403';
    like $r->{body}, qr{<a href="https://scan\.example/index\.html\?t403">},
        '403: the page of the 426, with its https link';
    is_deeply [fields($r, 'Content-Length')], [length $r->{body}],
        '403: Content-Length of the page';
    is_deeply [fields($r, 'Upgrade')], [], '403: no Upgrade';
    is_deeply [fields($r, 'Connection')], ['close'],
        '403: Connection: close only';
    is_deeply [fields($r, 'Sec-WebSocket-Version')], [],
        '403: no Sec-WebSocket-Version';
    is_deeply [fields($r, 'Vary')], [], '403 without a redirect: no Vary';
    like $log->('t403'), qr{ 403 upgrade=TLS/1\.2, HTTP/1\.1 note=TLS/1\.2, HTTP/1\.1 redirect=-$},
        '403: UPGRADE_REQUIRED and the note carry the Upgrade of the 426';

    $r = $ask->(plain => '/tlsws/x?ttlsws');
    is $r->{status}, 403, 'TLS and websocket both failed: 403';
    is_deeply [fields($r, 'Upgrade')], [], 'TLS and websocket: no Upgrade';
    is_deeply [fields($r, 'Sec-WebSocket-Version')], [],
        'TLS and websocket: no Sec-WebSocket-Version';
    like $log->('ttlsws'), qr{ 403 upgrade=TLS/1\.2, HTTP/1\.1, websocket },
        'TLS and websocket: UPGRADE_REQUIRED lists both';

    $r = $ask->(plain => '/hdr/x?thdr');
    is $r->{status}, 403, 'UpgradeRequiredHeader set: still 403';
    is_deeply [fields($r, 'Upgrade')], [], 'UpgradeRequiredHeader: no Upgrade';
    like $log->('thdr'), qr{ 403 upgrade=TLS/1\.0, HTTP/1\.1 },
        'UpgradeRequiredHeader: UPGRADE_REQUIRED has its value';

    # refusals in which no TLS requirement failed keep their 426
    $r = $ask->(plain => '/ws/x');
    is $r->{status}, 426, 'websocket only: 426';
    is_deeply [fields($r, 'Upgrade')], ['websocket'], 'websocket only: Upgrade';
    is_deeply [fields($r, 'Sec-WebSocket-Version')], ['13'],
        'websocket only: Sec-WebSocket-Version';
    is_deeply [fields($r, 'Connection')], ['Upgrade, close'],
        'websocket only: Connection';
    $r = $ask->(plain => '/h11/x', proto => 'HTTP/1.0');
    is $r->{status}, 426, 'HTTP/1.1 only, an HTTP/1.0 request: 426';
    is_deeply [fields($r, 'Upgrade')], ['HTTP/1.1'], 'HTTP/1.1 only: Upgrade';

    # navigations are still redirected; everything else there gets the 403
    # httpd joins Vary tokens itself (fixup_vary): compare the tokens
    my $VARY = 'Sec-Fetch-Mode,Upgrade-Insecure-Requests';
    my $vary = sub {
        join ',', sort map { split /\s*,\s*/ } fields($_[0], 'Vary');
    };
    $r = $ask->(plain => '/redir/x', h => "Sec-Fetch-Mode: navigate\r\n");
    is $r->{status}, 301, 'UpgradeRequiredRedirect, a navigation: 301';
    is field($r, 'Location'), 'https://scan.example/redir/x',
        'the redirect: to https';
    is $vary->($r), $VARY, 'the redirect: Vary';
    is_deeply [fields($r, 'Upgrade')], [], 'the redirect: no Upgrade';
    $r = $ask->(plain => '/redir/x', h => "Upgrade-Insecure-Requests: 1\r\n");
    is $r->{status}, 301, 'Upgrade-Insecure-Requests: 1: 301';
    $r = $ask->(plain => '/redir/x', h => "Sec-Fetch-Mode: cors\r\n");
    is $r->{status}, 403, 'UpgradeRequiredRedirect, not a navigation: 403';
    is $vary->($r), $VARY, '403 where redirects are on: Vary';
    is_deeply [fields($r, 'Upgrade')], [], '403 where redirects are on: no Upgrade';

    # the error document of the module's own refusal, inside the location
    $r = $ask->(plain => '/ed/x?ted');
    is $r->{status}, 403, 'ErrorDocument 403: 403';
    is $r->{body}, "<html><body>SCAN-ERRORDOCUMENT-403</body></html>\n",
        'ErrorDocument 403 inside the refused location: served';
    is_deeply [fields($r, 'Upgrade')], [],
        'ErrorDocument 403: no Upgrade, not even the core\'s announcement';
    is_deeply [fields($r, 'Connection')], ['close'],
        'ErrorDocument 403: Connection: close only';
    is_deeply [fields($r, 'Sec-WebSocket-Version')], [],
        'ErrorDocument 403: no Sec-WebSocket-Version';
    like $log->('ted'), qr{ 403 upgrade=- note=.* redirect=TLS/1\.2, HTTP/1\.1$},
        'ErrorDocument 403: REDIRECT_UPGRADE_REQUIRED on the error document';

    # the contexts: directory and .htaccess back to 426 under a 403 server
    # config; a 426 virtual host, and .htaccess 403 inside it
    $r = $ask->(plain => '/d426/x');
    is $r->{status}, 426, '<Directory> UpgradeRequiredTLSStatus 426: 426';
    is_deeply [fields($r, 'Upgrade')], [$TLS], '<Directory> 426: Upgrade';
    is_deeply [fields($r, 'Connection')], ['Upgrade, close'],
        '<Directory> 426: Connection';
    $r = $ask->(plain => '/ht/x');
    is $r->{status}, 426, '.htaccess UpgradeRequiredTLSStatus 426: 426';
    is_deeply [fields($r, 'Upgrade')], [$TLS], '.htaccess 426: Upgrade';
    $r = $ask->(p426 => '/x');
    is $r->{status}, 426, 'virtual host UpgradeRequiredTLSStatus 426: 426';
    is_deeply [fields($r, 'Upgrade')], [$TLS], 'virtual host 426: Upgrade';
    $bytes = probe('127.0.0.1', $port{p426}, 'scan426.example');
    like $bytes, qr{\r\nUpgrade: TLS/1\.2, HTTP/1\.1\r\n},
        'virtual host 426: the probe gets Upgrade: TLS/1.2, HTTP/1.1';
    $r = $ask->(p426 => '/ht403/x');
    is $r->{status}, 403, '.htaccess UpgradeRequiredTLSStatus 403: 403';
    is_deeply [fields($r, 'Upgrade')], [], '.htaccess 403: no Upgrade';

    # a TLS version requirement is a TLS requirement
    $r = $ask->(tls => '/tls13/x', version => 'TLSv1_2');
    is $r->{status}, 403, 'TLS/1.3 required, TLS 1.2: 403';
    is_deeply [fields($r, 'Upgrade')], [], 'TLS/1.3 over TLS 1.2: no Upgrade';
    is $ask->(tls => '/tls13/x', version => 'TLSv1_3')->{status}, 200,
        'TLS/1.3 required, TLS 1.3: 200';
    is $ask->(tls => '/index.html')->{status}, 200, 'TLS required, TLS: 200';

    # TLS and HTTP/2 required: 403 while TLS fails, 426 once only HTTP/2
    $r = $ask->(plain => '/tlsh2/x');
    is $r->{status}, 403, 'TLS and HTTP/2 over plain HTTP/1.1: 403';
    is_deeply [fields($r, 'Upgrade')], [],
        'TLS and HTTP/2 over plain: no Upgrade, not even h2c';
    $r = $ask->(tls => '/tlsh2/x');
    is $r->{status}, 426, 'TLS and HTTP/2 over TLS HTTP/1.1: 426';
    is_deeply [fields($r, 'Upgrade')], ['HTTP/2.0'],
        'TLS and HTTP/2 over TLS HTTP/1.1: Upgrade: HTTP/2.0';

    # a refused served subrequest whose 403 mod_dav sends itself, on the
    # first request of a connection (where the core announces h2c)
    $r = $ask->(plain => '/dav/a.txt', method => 'COPY',
                h => "Destination: http://scan.example/davtls/b.txt\r\n");
    is $r->{status}, 403, 'COPY into the TLS location over plain: 403';
    is_deeply [fields($r, 'Upgrade')], [], 'COPY 403: no Upgrade';
    is_deeply [grep { /upgrade/i } fields($r, 'Connection')], [],
        'COPY 403: no Connection: Upgrade';
    ok !-e "$root/davtls/b.txt", 'COPY 403: nothing written';

    # never in-band
    no_inband_upgrade('127.0.0.1', $port{plain}, '/index.html',
                      'scan.example', 403, 'UpgradeRequiredTLSStatus 403');

    SKIP: {
        skip $NO_H2, 2 unless h2_served();
        $r = curl('--http2-prior-knowledge',
                  "http://127.0.0.1:$port{plain}/index.html");
        is $r->{status}, 403, 'h2c: 403 as over HTTP/1.1';
        is_deeply [grep { /^(?:upgrade|connection)$/i }
                   map { $_->[0] } @{ $r->{fields} }], [],
            'h2c 403: no Upgrade or Connection field';
    }

    stop_daemon($srv);
    done_testing();
};
