# A judged request that a module ends with DONE before any handler runs
# (here mod_lua's fixups hook, which writes the response itself) is
# still counted, once, with the outcome of its decision: the module
# counts it when the request's pool is cleaned up (docs/request-cycle.md).
# A refused request to the same location is counted once, at its
# refusal, and never reaches the Lua hook.  An httpd of its own, with
# mod_lua.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use File::Path qw(remove_tree);
use lib 't/lib';
use UpReq qw(send_raw parse_response fields write_file);
use UpReqProxy qw(free_port start_httpd stop_daemon);

my $vars = Apache::Test::vars();
my $lua = Apache::Test::config()->apxs('LIBEXECDIR') . '/mod_lua.so';

plan tests => 10, need need_module('upgrade_required'),
    { "mod_lua is not built for this httpd ($lua)" => -f $lua };

my $dir  = "$vars->{t_logs}/done";
my $root = "$dir/htdocs";
my $port = free_port();
my $host = 'done.example';
remove_tree($root);
write_file($root, 'done/x', "the file, never served here\n");
write_file($root, 'finish.lua', <<'EOL');
-- answers the request itself and ends it: no handler runs
function finish(r)
    r.content_type = "text/plain"
    r:puts("done by lua\n")
    return apache2.DONE
end
EOL

my $srv = start_httpd('done', <<"EOC", [['127.0.0.1', $port]]);
LoadModule lua_module "$lua"
Listen 127.0.0.1:$port
ServerName $host
DocumentRoot "$root"
<Directory "$root">
    Require all granted
</Directory>
<Location /done>
    UpgradeRequired HTTP/1.1
    LuaHookFixups "$root/finish.lua" finish
</Location>
<Location /upreq-status>
    SetHandler upgrade-required-status
</Location>
EOC

sub get {
    my ($target, $version) = @_;
    return parse_response(send_raw('127.0.0.1', $port,
        "GET $target HTTP/$version\r\nHost: $host\r\n"
        . "Connection: close\r\n\r\n"));
}

# the count of one series of this server's virtual host, 0 when absent
sub count_of {
    my ($outcome, $client) = @_;
    my $text = get('/upreq-status', '1.1')->{body};
    my ($n) = $text =~ /^upgrade_required_requests_total\{vhost="\Q$host:$port\E",
                        requirement="HTTP\/1\.1",outcome="\Q$outcome\E",
                        client="\Q$client\E"\}\ (\d+)$/mx;
    return $n // 0;
}

my $r = get('/done/x', '1.1');
is $r->{status}, 200, 'HTTP/1.1, policy met: the Lua hook answers';
is $r->{body}, "done by lua\n", 'the body is the Lua hook\'s, not the file';
is count_of('met', 'HTTP/1.1'), 1, 'ended with DONE: counted once, met';

$r = get('/done/x', '1.1');
is $r->{status}, 200, 'the next one: the Lua hook answers';
is count_of('met', 'HTTP/1.1'), 2, 'the next one: counted once more';

$r = get('/done/x', '1.0');
is $r->{status}, 426, 'HTTP/1.0: 426, before the Lua hook';
is_deeply [fields($r, 'Upgrade')], ['HTTP/1.1'], 'exactly one Upgrade: HTTP/1.1';
is_deeply [fields($r, 'Connection')], ['Upgrade, close'],
    'exactly one Connection field, listing Upgrade';
like $r->{body}, qr{<h1>Upgrade Required</h1>},
    'the refusal carries the module\'s page, not the Lua hook\'s';
is count_of('refused', 'HTTP/1.0'), 1, 'the refusal: counted once';

stop_daemon($srv);
