# People and rollouts (README "People and API clients on one site"):
# UpgradeRequiredRedirect sends a browser's navigation to https and every
# other client its 426; UpgradeRequiredHTTPSURL gives the https address of
# the link and the redirect; UpgradeRequiredReportOnly refuses nothing and
# says what it would have done.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil qw(t_cmp t_start_error_log_watch t_finish_error_log_watch);
use lib 't/lib';
use UpReq qw(raw raw_tls parse_response fields field access_log_line);

plan tests => 76, need_module 'upgrade_required', 'mod_ssl', 'mod_headers';

my $TLS   = 'TLS/1.2, HTTP/1.1';
my $VARY  = 'Sec-Fetch-Mode,Upgrade-Insecure-Requests';    # sorted
my $NAV   = "Sec-Fetch-Mode: navigate\r\nSec-Fetch-Dest: document\r\n"
          . "Upgrade-Insecure-Requests: 1\r\n";
my $BASE  = 'https://people.example:8443';

sub req {
    my ($target, %o) = @_;
    return sprintf "%s %s %s\r\nHost: people.example\r\n%s%s\r\n",
        $o{method} || 'GET', $target, $o{proto} || 'HTTP/1.1',
        $o{headers} // '',
        ($o{proto} || '') eq 'HTTP/1.0' ? '' : "Connection: close\r\n";
}
sub plain { my ($t, %o) = @_;
            parse_response(raw($o{vhost} || 'people_plain', req($t, %o),
                               %o)) }
sub tls   { my ($t, %o) = @_;
            parse_response(raw_tls('people_ssl', req($t, %o),
                                   version => $o{version})) }

# httpd joins and de-duplicates Vary tokens itself (fixup_vary); the
# order of the tokens means nothing
sub vary {
    my ($r) = @_;
    return join ',', sort map { split /\s*,\s*/ } fields($r, 'Vary');
}

sub is_redirect {
    my ($r, $status, $location, $name) = @_;
    ok t_cmp($r->{status}, $status, "$name: $status");
    ok t_cmp(field($r, 'Location') // '', $location, "$name: Location");
    ok t_cmp(join('|', fields($r, 'Upgrade')), '', "$name: no Upgrade");
    ok t_cmp(vary($r), $VARY, "$name: Vary");
}
sub is_refusal {
    my ($r, $upgrade, $vary, $name) = @_;
    ok t_cmp($r->{status}, 426, "$name: 426");
    ok t_cmp(join('|', fields($r, 'Upgrade')), $upgrade, "$name: Upgrade");
    ok t_cmp(vary($r), $vary, "$name: Vary");
}

# --- browser navigations get the redirect, path and query as sent --------
is_redirect(plain('/people/tls/a%20b?x=1&y=%2F', headers => $NAV), 301,
            "$BASE/people/tls/a%20b?x=1&y=%2F", 'navigation');
is_redirect(plain('/people/tls/', headers => "Upgrade-Insecure-Requests: 1"
                                            . "\r\n"), 301,
            "$BASE/people/tls/", 'Upgrade-Insecure-Requests without Fetch '
            . 'metadata');
is_redirect(plain('/people/tls/', method => 'HEAD', headers => $NAV), 301,
            "$BASE/people/tls/", 'HEAD navigation');
is_redirect(plain('/people/tls13/', headers => $NAV), 308,
            "$BASE/people/tls13/", 'plain navigation, TLS/1.3 location');
is_redirect(plain('/people/h11/', headers => $NAV), 302,
            "$BASE/people/h11/", 'HTTP/1.1 navigation, TLS HTTP/1.1');
is_redirect(plain('http://people.example/people/tls/abs?q', headers => $NAV),
            301, "$BASE/people/tls/abs?q", 'absolute-form target');
is_redirect(plain('/people/tls/', vhost => 'people_default',
                  headers => $NAV), 301,
            'https://people-default.example/people/tls/',
            'default https address: the ServerName, no port');

# --- every other request gets the 426, with the same Vary ----------------
is_refusal(plain('/people/tls/'), $TLS, $VARY, 'no navigation signal');
is_refusal(plain('/people/tls/', headers => "Sec-Fetch-Mode: cors\r\n"
                                            . "Upgrade-Insecure-Requests: 1\r\n"),
           $TLS, $VARY, 'fetch() (Sec-Fetch-Mode: cors)');
is_refusal(plain('/people/tls/', method => 'POST',
                 headers => "${NAV}Content-Length: 0\r\n"),
           $TLS, $VARY, 'POST navigation');
is_refusal(plain('/people/tlsws/', headers => $NAV), "$TLS, websocket",
           $VARY, 'navigation that also fails websocket');
is_refusal(plain('/people/h11/', proto => 'HTTP/1.0', headers => $NAV),
           $TLS, $VARY, 'HTTP/1.0 navigation that also fails HTTP/1.1');
is_refusal(tls('/people/tls13/', version => 'TLSv1_2', headers => $NAV),
           'TLS/1.3, HTTP/1.1', $VARY,
           'navigation over TLS 1.2 to a TLS/1.3 location');
is_refusal(plain('/people/noredir/', headers => $NAV), $TLS, '',
           'no UpgradeRequiredRedirect: no Vary');
my $r = plain('/people/vary/', headers => "Sec-Fetch-Mode: no-cors\r\n");
is_refusal($r, $TLS, "Accept-Encoding,$VARY",
           'Vary merged with the one mod_headers adds');
like_link($r, "$BASE/people/vary/", '426 page');
$r = plain('/people/noredir/x?a=<b>');
like_link($r, "$BASE/people/noredir/x?a=&lt;b&gt;", 'escaped link');
$r = plain('*', method => 'OPTIONS');
ok t_cmp($r->{status}, 200, 'OPTIONS *: never refused, never redirected');

sub like_link {
    my ($r, $url, $name) = @_;
    ok t_cmp($r->{body}, qr{<a href="\Q$url\E">\Q$url\E</a>},
             "$name: link to $url");
}

# --- behind a trusted proxy, "plain" is what its headers say -------------
is_redirect(plain('/people/tls/', local => '127.0.0.2',
                  headers => "${NAV}X-Forwarded-Proto: http\r\n"), 301,
            "$BASE/people/tls/", 'trusted proxy says http: redirect');
$r = plain('/people/tls/', local => '127.0.0.2',
           headers => "${NAV}X-Forwarded-Proto: https\r\n");
ok t_cmp($r->{status}, 200, 'trusted proxy says https: served');
is_refusal(plain('/people/tls13/', local => '127.0.0.2',
                 headers => "${NAV}X-Forwarded-Proto: https\r\n"),
           'TLS/1.3, HTTP/1.1', $VARY,
           'proxy says https, TLS version unknown: 426, no redirect');

# --- report only ----------------------------------------------------------
t_start_error_log_watch();
$r = plain('/people/report/?rep1');
my @log = grep { /UPREQ00[18]/ } t_finish_error_log_watch();
ok t_cmp($r->{status}, 200, 'report only: served');
# (core may announce h2/h2c on a first response; the module adds nothing)
ok t_cmp(join('|', fields($r, 'Upgrade')), qr/^(?!.*TLS)/,
         'report only: no Upgrade of the module');
ok t_cmp("@log", qr{\[upgrade_required:info\].*UPREQ008: report only: would answer 426 to GET /people/report/ from 127\.0\.0\.1: requires TLS; Upgrade: TLS/1\.2, HTTP/1\.1},
         'report only: UPREQ008 at info');
ok t_cmp(scalar(grep { /UPREQ001/ } @log), 0, 'report only: no UPREQ001');
# decided again after mod_dir's fast redirect to index.html: logged once
ok t_cmp(scalar(grep { /UPREQ008/ } @log), 1,
         'report only: one UPREQ008 line for one request');
my $line = access_log_line('rep1', 'people_access.log');
ok t_cmp($line, qr{ 200 upgrade=- report=TLS/1\.2, HTTP/1\.1$},
         'report only: UPGRADE_REQUIRED_REPORT, not UPGRADE_REQUIRED');

t_start_error_log_watch();
$r = plain('/people/report/redir/?rep2', headers => $NAV);
@log = grep { /UPREQ00[89]/ } t_finish_error_log_watch();
ok t_cmp($r->{status}, 200, 'report only, navigation: served');
ok t_cmp(field($r, 'Location') // '', '', 'report only: no Location');
ok t_cmp("@log", qr{UPREQ008: report only: would redirect GET /people/report/redir/},
         'report only: the redirect it would have sent');
$r = tls('/people/tls13/?rep3', version => 'TLSv1_3');
ok t_cmp($r->{status}, 200, 'met policy: no report');
$line = access_log_line('rep3', 'people_access.log');
ok t_cmp($line, qr{ report=-$}, 'met policy: no UPGRADE_REQUIRED_REPORT');
ok t_cmp(access_log_line('rep1', 'people_report.log'),
         qr{^127\.0\.0\.1 /people/report/(?:index\.html)?\?rep1 TLS/1\.2, HTTP/1\.1$},
         'the report log of README\'s recipe: the request enforcement would refuse');

# the redirect is logged at info with its own tag
t_start_error_log_watch();
plain('/people/tls/?logged', headers => $NAV);
@log = grep { /UPREQ009/ } t_finish_error_log_watch();
ok t_cmp("@log", qr{\[upgrade_required:info\].*UPREQ009: 301 to https://people\.example:8443/people/tls/\?logged for GET /people/tls/ from 127\.0\.0\.1: a browser navigation that requires TLS},
         'UPREQ009 at info');
