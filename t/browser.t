# A real browser: Debian's chromium, headless, against an httpd of its own
# with plain listeners and TLS ones (the suite's certificate, accepted by
# --ignore-certificate-errors).  What a person sees, not what a test
# client is told:
# - a navigation to the plain URL of a location with UpgradeRequired TLS
#   and UpgradeRequiredRedirect ends on the https page, path and query
#   kept (the page prints where it landed; both access logs agree);
# - a fetch() from a plain page to the same URL, and curl, get the 426;
# - a screenshot of the module's 426 page for each requirement a browser
#   can fail, each checked to be a PNG.  docs/426-tls.png (README) is
#   t/logs/browser/426-tls.png of a run.
# Skipped, with the reason, where chromium is missing or cannot start
# (.ci/deps test installs it).
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil;
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use lib 't/lib';
use UpReq qw(curl fields field write_file);
use UpReqProxy qw(free_port start_httpd which server_cert);

my $TLS = 'TLS/1.2, HTTP/1.1';
# requirement, location, listener, what the page says; HTTP/1.1 is not
# here: its policy refuses HTTP/1.0 and 0.9, and chromium sends HTTP/1.1
# or newer, so no browser is shown that page
my @SHOTS = (
    [ 'tls',       '/secure', 'shots',
      qr/only available over a secure \(TLS\) connection/ ],
    [ 'tls13',     '/api13',  'tls12',
      qr/requires TLS 1\.3 or newer; this connection uses TLS(?:v| )1\.2/ ],
    [ 'http2',     '/h2',     'shots', qr/only available over HTTP\/2/ ],
    [ 'websocket', '/ws',     'shots', qr/is a WebSocket endpoint/ ],
);

my $chromium = which('chromium');
my $profile;            # a fresh profile directory per run of chromium

# chromium(ARGS...) -> (what it printed on stdout, its exit status); its
# stderr (D-Bus complaints and the like) goes to t/logs/browser/
sub chromium {
    my @args = @_;
    $profile = tempdir('upreq-chromium.XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $log = Apache::Test::vars('t_logs') . '/browser/chromium.log';
    my $pid = open my $fh, '-|';
    defined $pid or die "fork: $!";
    if (!$pid) {
        open STDERR, '>>', $log or die "$log: $!";
        exec 'timeout', '-k', '5', '90', $chromium, '--headless=new',
            '--no-sandbox', '--disable-gpu', '--disable-quic',
            '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync',
            "--user-data-dir=$profile", '--ignore-certificate-errors',
            @args;
        die "exec chromium: $!";
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($out, $? >> 8);
}

# '' when chromium is here and renders a page, else why not
sub chromium_reason {
    # the sanitizer, valgrind, fallback, final-only and version runs set
    # this: the browser's view of the module is the same there, and a
    # minute of chromium per run would double their time
    return "UPREQ_BROWSER=0: the browser test runs in the MPM runs of "
         . "make test" if ($ENV{UPREQ_BROWSER} // '') eq '0';
    return 'chromium is not installed (.ci/deps test installs it)'
        unless $chromium;
    make_path(Apache::Test::vars('t_logs') . '/browser');
    unlink Apache::Test::vars('t_logs') . '/browser/chromium.log';
    my ($dom, $rc) = chromium('--dump-dom',
                              'data:text/html,<p>chromium-ok</p>');
    return '' if $dom =~ /chromium-ok/;
    return "chromium does not render a page (exit status $rc; see "
         . "t/logs/browser/chromium.log)";
}

my $why_not = chromium_reason();
plan tests => 11 + 5 * @SHOTS + 1,
    need need_module('upgrade_required', 'mod_ssl', 'log_config'),
         { ($why_not || 'chromium') => !$why_not };

my $vars = Apache::Test::vars();
my $dir  = "$vars->{t_logs}/browser";
my $root = "$dir/htdocs";
my %port = map { $_ => free_port() } qw(plain tls tls12 shots);
my ($crt, $key) = server_cert();
remove_tree($root);
unlink glob("$dir/*.png"), glob("$dir/*_access_log");

sub put { write_file($root, @_) }

# the page says where the browser landed
put('app/page.html', <<'EOH');
<!DOCTYPE html>
<html><head><title>app</title></head><body>
<p id="where">not run</p>
<script>
document.getElementById('where').textContent = 'landed on ' + location.href;
</script>
</body></html>
EOH
# a plain page without a policy that fetch()es the TLS-only URL
put('open/fetch.html', <<'EOH');
<!DOCTYPE html>
<html><head><title>fetch</title></head><body>
<p id="out">pending</p>
<script>
fetch('/app/page.html?x=2').then(function (r) {
    document.getElementById('out').textContent = 'fetch status ' + r.status;
}, function (e) {
    document.getElementById('out').textContent = 'fetch failed ' + e;
});
</script>
</body></html>
EOH
put("$_->[1]/login.html", "the resource itself\n") for @SHOTS;

my $log = '"%m %U%q %>s %{Sec-Fetch-Mode}i"';
start_httpd('browser', <<"EOC", [map { ['127.0.0.1', $_] } values %port]);
LogLevel warn upgrade_required:debug
Listen 127.0.0.1:$port{plain}
Listen 127.0.0.1:$port{tls}
Listen 127.0.0.1:$port{tls12}
Listen 127.0.0.1:$port{shots}
DocumentRoot "$root"
<Directory "$root">
 Require all granted
</Directory>
# people get the redirect, every other client the 426
<Location /app>
 UpgradeRequired TLS
 UpgradeRequiredRedirect 301
</Location>
# the screenshots: the 426 page of each requirement
<Location /secure>
 UpgradeRequired TLS
</Location>
<Location /api13>
 UpgradeRequired TLS/1.3
</Location>
<Location /h2>
 UpgradeRequired HTTP/2
</Location>
<Location /ws>
 UpgradeRequired websocket
</Location>
<VirtualHost 127.0.0.1:$port{plain}>
 UpgradeRequiredHTTPSURL https://127.0.0.1:$port{tls}
 CustomLog "$dir/plain_access_log" $log
</VirtualHost>
<VirtualHost 127.0.0.1:$port{tls}>
 SSLEngine on
 SSLCertificateFile "$crt"
 SSLCertificateKeyFile "$key"
 CustomLog "$dir/tls_access_log" $log
</VirtualHost>
# TLS 1.2 only, for the TLS/1.3 page
<VirtualHost 127.0.0.1:$port{tls12}>
 SSLEngine on
 SSLProtocol -all +TLSv1.2
 SSLCertificateFile "$crt"
 SSLCertificateKeyFile "$key"
 CustomLog "$dir/tls12_access_log" $log
</VirtualHost>
# what README shows: the link goes to https:// + ServerName
<VirtualHost 127.0.0.1:$port{shots}>
 ServerName www.example.com
 CustomLog "$dir/shots_access_log" $log
</VirtualHost>
EOC

sub log_lines {
    my ($name) = @_;
    open my $fh, '<', "$dir/${name}_access_log" or return ();
    return map { chomp; $_ } <$fh>;
}

# 1. a navigation to the plain URL ends on the https page
my $plain = "http://127.0.0.1:$port{plain}";
my $https = "https://127.0.0.1:$port{tls}";
my ($dom) = chromium('--dump-dom', "$plain/app/page.html?x=1");
ok t_cmp($dom, qr{landed on \Q$https/app/page.html?x=1\E<},
         'navigation to the plain URL: the https page, path and query kept');
ok t_cmp([grep { m{ /app/page\.html\?x=1 } } log_lines('plain')],
         ['GET /app/page.html?x=1 301 navigate'],
         'plain listener: the navigation got the 301');
ok t_cmp([grep { m{ /app/page\.html\?x=1 } } log_lines('tls')],
         ['GET /app/page.html?x=1 200 navigate'],
         'TLS listener: the same path and query, 200');

# 2. fetch() from a plain page to the same URL gets the 426
($dom) = chromium('--virtual-time-budget=5000', '--dump-dom',
                  "$plain/open/fetch.html");
ok t_cmp($dom, qr{fetch status 426<}, 'fetch() from a plain page: 426');
ok t_cmp([grep { m{ /app/page\.html\?x=2 } } log_lines('plain')],
         ['GET /app/page.html?x=2 426 cors'],
         'plain listener: the fetch (Sec-Fetch-Mode: cors) got the 426');
ok t_cmp([grep { m{ /app/page\.html\?x=2 } } log_lines('tls')], [],
         'TLS listener: no fetch followed a redirect');

# 3. curl (no Fetch metadata) to the same URL gets the 426
my $r = curl("$plain/app/page.html?x=2");
ok t_cmp($r->{status}, 426, 'curl: 426');
ok t_cmp(join('|', fields($r, 'Upgrade')), $TLS, "curl: Upgrade: $TLS");
ok t_cmp(field($r, 'Location') // '', '', 'curl: no Location');
ok t_cmp($r->{body}, qr{<a href="\Q$https/app/page.html?x=2\E">},
         'curl: the page links to the https URL, path and query kept');
ok t_cmp(join(',', sort map { split /\s*,\s*/ } fields($r, 'Vary')),
         'Sec-Fetch-Mode,Upgrade-Insecure-Requests',
         'curl: the 426 varies on the fields the redirect consults');

# 4. the 426 page of each requirement, as a browser shows it
my %base = (shots => "http://127.0.0.1:$port{shots}",
            tls12 => "https://127.0.0.1:$port{tls12}");
for my $s (@SHOTS) {
    my ($name, $loc, $listener, $says) = @$s;
    my $url = "$base{$listener}$loc/login.html?next=/cart";
    ($dom) = chromium('--dump-dom', $url);
    ok t_cmp($dom, qr{<h1>Upgrade Required</h1>}, "$name: the 426 page");
    ok t_cmp($dom, $says, "$name: the page says what to do");
    my $png = "$dir/426-$name.png";
    chromium("--screenshot=$png", '--window-size=900,600', $url);
    my $size = -s $png || 0;
    ok t_cmp($size > 1000 ? 'big enough' : "$size bytes", 'big enough',
             "$name: a screenshot of more than 1000 bytes");
    open my $fh, '<:raw', $png;
    my $magic = '';
    read $fh, $magic, 8 if $fh;
    ok t_cmp(unpack('H*', $magic), '89504e470d0a1a0a', "$name: a PNG");
    ok t_cmp([grep { m{ \Q$loc\E/login\.html} } log_lines($listener)],
             [("GET $loc/login.html?next=/cart 426 navigate") x 2],
             "$name: both navigations got the 426");
}
skip('HTTP/1.1: chromium sends HTTP/1.1 or newer, so no browser is shown '
     . 'the page of UpgradeRequired HTTP/1.1', 0);
