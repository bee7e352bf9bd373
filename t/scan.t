# The start-up scan that keeps a virtual host from the early decision
# (README "What keeps a virtual host from the early decision"): one
# virtual host per <If> expression, and the UPREQ006 lines of the error
# log say which hosts decide in header_parser only.  Expressions that read
# only the request line, headers and TLS state are stable; anything else,
# or anything the reader does not understand, is not.  A FINAL_ONLY=1
# build (make test-final) has no early decision: there every host is late.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use UpReqProxy qw(free_port start_httpd stop_daemon);

my @stable = (
    q{%{HTTPS} != 'on'},
    q{%{HTTP:X-Secure} == 'yes' && %{REQUEST_METHOD} == 'POST'},
    q{-n req('X-A') || %{SSL_PROTOCOL} == 'TLSv1.3'},
    q{%{REQUEST_URI} =~ m#^/api/# && %{REMOTE_ADDR} -ipmatch '10.0.0.0/8'},
    q{%{HTTP:X-Mode} =~ /-f|note\(/},
    q{tolower(%{HTTP:Upgrade}) == 'websocket'},
);
my @unstable = (
    q{-n reqenv('strict')},
    q{-n %{ENV:legacy}},
    q{%{REQUEST_FILENAME} =~ /\.css$/},
    q{-f %{REQUEST_FILENAME}},
    q{-U '/other'},
    q{note('x') == 'y'},
    q{%{HANDLER} == 'cgi-script'},
    q{%{REQUEST_URI} =~ m#^/a# && reqenv('x') == 'y'},
    q{resp('X-A') == 'b'},
);

plan tests => 1 + @stable + @unstable, need_module 'upgrade_required';

my %port = (main => free_port());
my $conf = "LogLevel warn upgrade_required:debug\n"
         . "Listen 127.0.0.1:$port{main}\n"
         . "DocumentRoot \"" . Apache::Test::vars('documentroot') . "\"\n";
# each expression as it stands in httpd.conf, quoted
my %quoted = map { (my $q = $_) =~ s/"/\\"/g; ($_ => $q) } @stable, @unstable;
for my $e (@stable, @unstable) {
    my $p = free_port();
    $conf .= "Listen 127.0.0.1:$p\n<VirtualHost 127.0.0.1:$p>\n"
           . " <If \"$quoted{$e}\">\n  UpgradeRequired TLS\n </If>\n"
           . "</VirtualHost>\n";
}
my $d = start_httpd('scan', $conf, [['127.0.0.1', $port{main}]]);
my $log = do {
    local $/;
    open my $fh, '<', Apache::Test::vars('t_logs') . '/scan/error_log'
        or die "error_log: $!";
    <$fh>;
};
stop_daemon($d);

my $final_only = $ENV{UPREQ_EXPECT_FINAL_ONLY} ? 1 : 0;

# which <VirtualHost> lines the log names (httpd.conf:LINE decides ...)
my %late = map { $_ => 1 } $log =~ /httpd\.conf:(\d+) decides on the final/g;
ok t_cmp(scalar(keys %late), $final_only ? @stable + @unstable : @unstable,
         $final_only ? 'a FINAL_ONLY=1 build: one UPREQ006 host per expression'
                     : 'one UPREQ006 host per unstable expression');
my %vh_line;
{
    open my $fh, '<', Apache::Test::vars('t_logs') . '/scan/httpd.conf'
        or die "httpd.conf: $!";
    my $n = 0;
    my $vh;
    while (my $l = <$fh>) {
        $n++;
        $vh = $n if $l =~ /^<VirtualHost/;
        $vh_line{$1} = $vh if $l =~ /^ <If "(.*)">$/;
    }
}
sub phase { $late{$vh_line{$quoted{$_[0]}} // 0} ? 'late' : 'early' }
ok t_cmp(phase($_), $final_only ? 'late' : 'early', "stable: $_") for @stable;
ok t_cmp(phase($_), 'late', "not stable: $_") for @unstable;
