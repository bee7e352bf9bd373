# Configuration errors make "httpd -t" fail with a message that names the
# directive and the bad word; a valid line passes; HTTP/2 without mod_http2
# gives the UPREQ005 warning.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use UpReq qw(conf_test apache_bin);

# [configuration lines, line of the error, expected message]
my @bad = (
    ['UpgradeRequired Bogus', 2,
     qr/^UpgradeRequired: unknown requirement 'Bogus'/m],
    ['UpgradeRequired TLS/9.9', 2,
     qr/^UpgradeRequired: unknown requirement 'TLS\/9\.9'/m],
    ['UpgradeRequired TLS/1.4 HTTP/1.1', 2,
     qr/^UpgradeRequired: unknown requirement 'TLS\/1\.4'/m],
    ['UpgradeRequired HTTP/3', 2,
     qr/^UpgradeRequired: unknown requirement 'HTTP\/3'/m],
    ['UpgradeRequired Off TLS', 2, qr/^UpgradeRequired: .*'Off'/m],
    ['UpgradeRequired TLS Off', 2, qr/^UpgradeRequired: .*'Off'/m],
    ['UpgradeRequired TLS TLS', 2,
     qr/^UpgradeRequired: requirement given twice 'TLS'/m],
    ['UpgradeRequired TLS TLS/1.3', 2,
     qr/^UpgradeRequired: two TLS requirements 'TLS' and 'TLS\/1\.3'/m],
    ['UpgradeRequired TLS/1.2 tls/1.3', 2,
     qr/^UpgradeRequired: two TLS requirements 'TLS\/1\.2' and 'tls\/1\.3'/m],
    ['UpgradeRequired websocket websocket', 2,
     qr/^UpgradeRequired: requirement given twice 'websocket'/m],
    ['UpgradeRequired HTTP/1.1 http/1.1', 2,
     qr/^UpgradeRequired: requirement given twice 'http\/1\.1'/m],
    ['UpgradeRequired HTTP/1.1 http/2', 2,
     qr/^UpgradeRequired: two HTTP version requirements 'HTTP\/1\.1' and 'http\/2' \(give one\)/m],
    ['UpgradeRequired HTTP/2 TLS HTTP/1.1', 2,
     qr/^UpgradeRequired: two HTTP version requirements 'HTTP\/2' and 'HTTP\/1\.1'/m],
    ['UpgradeRequiredTLSStatus 401', 2,
     qr/^UpgradeRequiredTLSStatus: '401' is not a status for a TLS refusal \(expected 426 or 403\)/m],
    ['UpgradeRequiredTLSStatus', 2,
     qr/^UpgradeRequiredTLSStatus takes one argument/m],
    ['UpgradeRequired', 2,
     qr/^UpgradeRequired: expected Off or one or more of TLS/m],
    ["<Location /cycle-bad>\n    UpgradeRequired TLS/9.9\n</Location>", 3,
     qr/^UpgradeRequired: unknown requirement 'TLS\/9\.9'/m],
    ['UpgradeRequiredRedirect 303', 2,
     qr/^UpgradeRequiredRedirect: '303' is not a redirect status \(expected Off, 301, 302, 307 or 308\)/m],
    ['UpgradeRequiredRedirect', 2,
     qr/^UpgradeRequiredRedirect takes one argument/m],
    ['UpgradeRequiredReportOnly maybe', 2,
     qr/^UpgradeRequiredReportOnly must be On or Off/m],
    ['UpgradeRequiredHTTPSURL http://example.com', 2,
     qr/^UpgradeRequiredHTTPSURL: 'http:\/\/example\.com' is not https:\/\/host or https:\/\/host:port/m],
    ['UpgradeRequiredHTTPSURL https://example.com/path', 2,
     qr/^UpgradeRequiredHTTPSURL: 'https:\/\/example\.com\/path' is not/m],
    ['UpgradeRequiredHTTPSURL https://example.com?q', 2,
     qr/^UpgradeRequiredHTTPSURL: 'https:\/\/example\.com\?q' is not/m],
    ['UpgradeRequiredHTTPSURL https://u@example.com', 2,
     qr/^UpgradeRequiredHTTPSURL: 'https:\/\/u\@example\.com' is not/m],
    ['UpgradeRequiredHTTPSURL https://example.com:0', 2,
     qr/^UpgradeRequiredHTTPSURL: 'https:\/\/example\.com:0' is not/m],
    ['UpgradeRequiredHTTPSURL https://', 2,
     qr/^UpgradeRequiredHTTPSURL: 'https:\/\/' is not/m],
    ['UpgradeRequiredHTTPSURL example.com', 2,
     qr/^UpgradeRequiredHTTPSURL: 'example\.com' is not/m],
    ["<Location /x>\n    UpgradeRequiredHTTPSURL https://example.com\n"
     . "</Location>", 3,
     qr/^UpgradeRequiredHTTPSURL not allowed in <Location> context/m],
    # <Limit> limits access control only: refused, never widened
    ["<Location /cycle-bad>\n<Limit POST>\n    UpgradeRequired TLS\n"
     . "</Limit>\n</Location>", 4,
     qr/^UpgradeRequired cannot be limited to methods .*%\{REQUEST_METHOD\}/m],
    ["<Directory /tmp>\n<LimitExcept GET>\n    UpgradeRequired TLS\n"
     . "</LimitExcept>\n</Directory>", 4,
     qr/^UpgradeRequired cannot be limited to methods/m],
    ["<Location /x>\n<Limit PUT>\n    UpgradeRequiredHeader \"TLS/1.3\"\n"
     . "</Limit>\n</Location>", 4,
     qr/^UpgradeRequiredHeader cannot be limited to methods/m],
    ['UpgradeRequiredHeader "bad value!"', 2,
     qr/^UpgradeRequiredHeader: 'bad value!' is not a comma list/m],
    ['UpgradeRequiredHeader "TLS/1.2,"', 2,
     qr/^UpgradeRequiredHeader: 'TLS\/1\.2,' is not a comma list/m],
    # httpd itself refuses an empty argument before the module sees it
    ['UpgradeRequiredHeader ""', 2,
     qr/^UpgradeRequiredHeader takes one argument/m],
    ['UpgradeRequiredTrustedProxy not-an-ip', 2,
     qr/^UpgradeRequiredTrustedProxy: 'not-an-ip' is not an IPv4 or IPv6 address/m],
    ['UpgradeRequiredTrustedProxy 10.0.0.0/99', 2,
     qr/^UpgradeRequiredTrustedProxy: '10\.0\.0\.0\/99' is not a valid address or network/m],
    ['UpgradeRequiredTrustedProxy 10.0.0.0/', 2,
     qr/^UpgradeRequiredTrustedProxy: '10\.0\.0\.0\/' has a bad prefix length/m],
    ['UpgradeRequiredTrustedProxy 10.0.0.1 localhost', 2,
     qr/^UpgradeRequiredTrustedProxy: 'localhost' is not an IPv4 or IPv6 address/m],
    ['UpgradeRequiredProxyHeader X-Bogus', 2,
     qr/^UpgradeRequiredProxyHeader: unknown header 'X-Bogus'/m],
    # AP_INIT_FLAG: httpd's own message, which does not repeat the word
    ['UpgradeRequiredProxyTLS maybe', 2,
     qr/^UpgradeRequiredProxyTLS must be On or Off/m],
    ['UpgradeRequiredAcmeExempt sometimes', 2,
     qr/^UpgradeRequiredAcmeExempt must be On or Off/m],
    ["<Location /cycle-bad>\n    UpgradeRequiredTrustedProxy 10.0.0.1\n"
     . "</Location>", 3,
     qr/^UpgradeRequiredTrustedProxy not allowed in <Location> context/m],
    ["<Directory /nonexistent>\n    UpgradeRequiredProxyTLS On\n"
     . "</Directory>", 3,
     qr/^UpgradeRequiredProxyTLS not allowed in <Directory> context/m],
);

my @good = (
    'UpgradeRequired TLS/1.3 HTTP/1.1 websocket',
    "<Location /cycle-good>\n    upgraderequired tls/1.2 WebSocket\n"
    . "    UpgradeRequiredHeader \"TLS/1.0, HTTP/1.1\"\n</Location>",
    'UpgradeRequired Off',
    'UpgradeRequiredTrustedProxy 10.0.0.0/8 192.0.2.1 ::1 2001:db8::/32',
    'UpgradeRequiredProxyHeader Forwarded X-Forwarded-Proto',
    "UpgradeRequiredProxyTLS On\nUpgradeRequiredAcmeExempt off",
    "UpgradeRequiredHTTPSURL https://[2001:db8::1]:8443\n"
    . "<Location /x>\n    UpgradeRequiredRedirect 308\n"
    . "    UpgradeRequiredReportOnly on\n</Location>",
    'UpgradeRequiredHTTPSURL https://example.com/',
);

plan tests => 3 * @bad + 2 * @good + 4, need_module 'upgrade_required';

for my $b (@bad) {
    my ($lines, $line, $msg) = @$b;
    (my $name = $lines) =~ s/\s*\n\s*/ /g;
    my ($rc, $out) = conf_test($lines);
    ok t_cmp($rc, qr/^[1-9]/, "$name: httpd -t fails");
    ok t_cmp($out, qr/Syntax error on line $line of \S+conftest_tmp\.conf:/,
             "$name: the line is named");
    ok t_cmp($out, $msg, "$name: directive and bad word named");
}

for my $lines (@good) {
    (my $name = $lines) =~ s/\s*\n\s*/ /g;
    my ($rc, $out) = conf_test($lines);
    ok t_cmp($rc, 0, "$name: httpd -t passes");
    ok t_cmp($out, qr/Syntax OK/, "$name: Syntax OK");
}

# UPREQ005 comes from check_config, so "httpd -t" shows it; a configuration
# of its own, because the suite's loads mod_http2
sub minimal_conf_test {
    my ($with_http2) = @_;
    my $vars = Apache::Test::vars();
    open my $in, '<', "$vars->{t_conf}/inherit.conf"
        or die "inherit.conf: $!";
    my @load = grep { /^LoadModule (mpm_\w+|upgrade_required_module)\b/
                      || ($with_http2 && /^LoadModule http2_module\b/) } <$in>;
    close $in;
    my $file = "$vars->{t_conf}/conftest_minimal.conf";
    open my $fh, '>', $file or die "$file: $!";
    print $fh "ServerRoot \"$vars->{serverroot}\"\n", @load,
        "Listen 127.0.0.1:9\nServerName localhost\n",
        "ErrorLog \"$vars->{t_logs}/conftest_minimal_error_log\"\n",
        "<Location /cycle-h2>\n    UpgradeRequired HTTP/2\n</Location>\n";
    close $fh;
    my $out = `$vars->{httpd} -f $file -t 2>&1`;
    my $rc = $? >> 8;
    unlink $file;
    return ($rc, $out);
}

my ($rc, $out) = minimal_conf_test(0);
ok t_cmp($rc, 0, 'HTTP/2 without mod_http2: httpd -t passes');
ok t_cmp($out, qr{\[upgrade_required:warn\] .*UPREQ005: UpgradeRequired HTTP/2 is configured but mod_http2 is not loaded},
         'HTTP/2 without mod_http2: UPREQ005 warning');
($rc, $out) = minimal_conf_test(1);
ok t_cmp($rc, 0, 'HTTP/2 with mod_http2: httpd -t passes');
ok t_cmp(scalar($out =~ /UPREQ005/), '', 'HTTP/2 with mod_http2: no warning');
