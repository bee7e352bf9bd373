use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use UpReq qw(hostport raw parse_response field curl);
use UpReqProxy qw(which free_port start_haproxy start_nginx stop_daemon
                  server_cert);

# End to end behind a real TLS-terminating proxy that this test starts:
# HAProxy and/or nginx, each with a TLS and a plain frontend on loopback,
# forwarding to the plain virtual host upreq_proxy_e2e, which trusts
# 127.0.0.1 (where the proxy connects from).  Clients connect from
# 127.0.0.5, an address the virtual host does not trust.

my $CLIENT = '127.0.0.5';
my $TLS12 = 'TLS/1.2, HTTP/1.1';
my $TLS13 = 'TLS/1.3, HTTP/1.1';

my @proxies = grep { which($_) } qw(haproxy nginx);
my $PER_PROXY = 19;
my $DIRECT = 6;

plan tests => $DIRECT + $PER_PROXY * @proxies,
    need 'upgrade_required', 'mod_ssl',
    { 'neither haproxy nor nginx is installed (apt-get install haproxy)'
          => scalar @proxies,
      'curl is not installed' => defined which('curl') };

my ($BACK_HOST, $BACK_PORT) = split /:/, hostport('upreq_proxy_e2e');
my ($H2_HOST, $H2_PORT) = split /:/, hostport('upreq_proxy_h2');
my ($crt, $key, $ca) = server_cert();
my $logs = Apache::Test::vars('t_logs');

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or die "$f: $!\n";
    local $/;
    return scalar <$fh>;
}

sub haproxy_conf {
    my ($tls, $plain) = @_;
    # HAProxy wants the certificate and its key in one file
    my $pem = "$logs/proxy_e2e_haproxy/server.pem";
    mkdir "$logs/proxy_e2e_haproxy";
    open my $fh, '>', $pem or die "$pem: $!\n";
    chmod 0600, $pem;
    print $fh slurp($crt), slurp($key);
    close $fh;
    # set-header replaces what the client sent; add-header appends an
    # element to the client's Forwarded, as RFC 7239 proxies do
    return <<"EOC";
global
    maxconn 64
defaults
    mode http
    timeout connect 5s
    timeout client 20s
    timeout server 20s
frontend tls_in
    bind 127.0.0.1:$tls ssl crt $pem ssl-min-ver TLSv1.2
    http-request set-header X-Forwarded-Proto https
    http-request add-header Forwarded "for=\\"%[src]\\";proto=https"
    use_backend httpd_h2 if { path_beg /h2/ }
    default_backend httpd
frontend plain_in
    bind 127.0.0.1:$plain
    http-request set-header X-Forwarded-Proto http
    http-request add-header Forwarded "for=\\"%[src]\\";proto=http"
    default_backend httpd
backend httpd
    server httpd $BACK_HOST:$BACK_PORT
backend httpd_h2
    server httpd $H2_HOST:$H2_PORT proto h2
EOC
}

sub nginx_conf {
    my ($tls, $plain) = @_;
    # nginx talks HTTP/1.0 to its upstream unless told otherwise; /h10/
    # keeps that default to show that httpd sees the proxy's version
    my $loc = <<"EOL";
        location / {
            proxy_pass http://$BACK_HOST:$BACK_PORT;
        }
        location /h2/ {
            proxy_pass http://$H2_HOST:$H2_PORT;
        }
        location /h10/ {
            proxy_http_version 1.0;
            proxy_pass http://$BACK_HOST:$BACK_PORT/tls-h11/;
        }
EOL
    return <<"EOC";
worker_processes 1;
pid \@DIR\@/nginx.pid;
error_log \@DIR\@/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path \@DIR\@/body;
    proxy_temp_path \@DIR\@/proxy;
    fastcgi_temp_path \@DIR\@/fastcgi;
    uwsgi_temp_path \@DIR\@/uwsgi;
    scgi_temp_path \@DIR\@/scgi;
    proxy_http_version 1.1;
    proxy_set_header Host \$host;
    proxy_set_header X-Forwarded-Proto \$scheme;
    proxy_set_header Forwarded "for=\\"\$remote_addr\\";proto=\$scheme";
    server {
        listen 127.0.0.1:$tls ssl;
        ssl_certificate $crt;
        ssl_certificate_key $key;
        ssl_protocols TLSv1.2 TLSv1.3;
$loc    }
    server {
        listen 127.0.0.1:$plain;
$loc    }
}
EOC
}

my %start = (haproxy => \&start_haproxy, nginx => \&start_nginx);
my %conf = (haproxy => \&haproxy_conf, nginx => \&nginx_conf);

# --- straight to httpd, no proxy in between
{
    my $get = sub {
        my ($from, @hdrs) = @_;
        return parse_response(raw('upreq_proxy_e2e',
            "GET /tls/ HTTP/1.1\r\nHost: x\r\n"
            . join('', map { "$_\r\n" } @hdrs)
            . "Connection: close\r\n\r\n", local => $from));
    };
    my $r = $get->($CLIENT);
    ok t_cmp($r->{status}, 426, 'plain HTTP straight to httpd: 426');
    ok t_cmp(field($r, 'Upgrade'), $TLS12, '... Upgrade');
    $r = $get->($CLIENT, 'X-Forwarded-Proto: https', 'Forwarded: proto=https');
    ok t_cmp($r->{status}, 426,
             'straight to httpd with forged proxy headers: 426');
    $r = $get->('127.0.0.1');
    ok t_cmp($r->{status}, 426,
             'from the proxy\'s address without proxy headers: 426');
    $r = $get->('127.0.0.1', 'X-Forwarded-Proto: https');
    ok t_cmp($r->{status}, 200,
             'from the proxy\'s address with X-Forwarded-Proto https: 200');
    ok t_cmp(field($r, 'Upgrade'), undef, '... no Upgrade');
}

for my $name (@proxies) {
    my ($tls, $plain) = (free_port('127.0.0.1'), free_port('127.0.0.1'));
    my $d = eval {
        $start{$name}->("proxy_e2e_$name", $conf{$name}->($tls, $plain),
                        [['127.0.0.1', $tls], ['127.0.0.1', $plain]]);
    };
    my $err = $@;
    ok t_cmp($err, '', "$name starts");
    my $https = sub {
        my ($path, @args) = @_;
        return curl('--interface', $CLIENT, '--cacert', $ca,
                    '--resolve', "localhost:$tls:127.0.0.1", @args,
                    "https://localhost:$tls$path");
    };
    my $http = sub {
        my ($path, @args) = @_;
        return curl('--interface', $CLIENT, @args,
                    "http://127.0.0.1:$plain$path");
    };

    my $r = $https->('/tls/');
    ok t_cmp($r->{status}, 200, "$name: https through the proxy: 200");
    ok t_cmp($r->{body}, "ok tls\n", "$name: ... the document");
    ok t_cmp(field($r, 'Upgrade'), undef, "$name: ... no Upgrade");

    $r = $https->('/tls/', '--tlsv1.2', '--tls-max', '1.2');
    ok t_cmp($r->{status}, 200, "$name: TLS 1.2 to the proxy: 200");

    $r = $https->('/tls/', '-H', 'Forwarded: proto=http',
                  '-H', 'X-Forwarded-Proto: http');
    ok t_cmp($r->{status}, 200,
             "$name: https, the client's own proxy headers do not count");

    $r = $https->('/tls13/', '--tlsv1.3');
    ok t_cmp($r->{status}, 426,
             "$name: TLS/1.3 location through the proxy: 426 "
             . '(UpgradeRequiredProxyTLS Off)');
    ok t_cmp(field($r, 'Upgrade'), $TLS13, "$name: ... Upgrade");

    $r = $http->('/tls/');
    ok t_cmp($r->{status}, 426, "$name: plain frontend: 426");
    ok t_cmp(field($r, 'Upgrade'), $TLS12, "$name: ... Upgrade");
    ok t_cmp($r->{body}, qr{https://proxy-e2e\.example/tls/},
             "$name: ... the page links to https");

    $r = $http->('/tls/', '-H', 'X-Forwarded-Proto: https',
                 '-H', 'Forwarded: for=127.0.0.1;proto=https');
    ok t_cmp($r->{status}, 426,
             "$name: plain frontend, client forges proxy headers: 426");
    ok t_cmp(field($r, 'Upgrade'), $TLS12, "$name: ... Upgrade");

    $r = $http->('/index.html');
    ok t_cmp($r->{status}, 200, "$name: plain frontend, no policy: 200");

    $r = $https->('/tls-h11/');
    ok t_cmp($r->{status}, 200,
             "$name: TLS and HTTP/1.1 through an HTTP/1.1 proxy: 200");
    # HTTP version requirements see the version the proxy speaks to
    # httpd (RFC 9112 2.3): nginx's HTTP/1.0 default, or HAProxy passing
    # on an HTTP/1.0 client's version
    $r = $name eq 'nginx' ? $https->('/h10/')
                          : $https->('/tls-h11/', '--http1.0');
    ok t_cmp($r->{status}, 426, "$name: HTTP/1.0 from the proxy: 426");
    ok t_cmp(field($r, 'Upgrade'), 'HTTP/1.1', "$name: ... Upgrade");
    # HTTP/2 requirements: HAProxy can speak HTTP/2 to httpd (proto h2),
    # nginx cannot
    $r = $https->('/h2/');
    if ($name eq 'haproxy') {
        ok t_cmp($r->{status}, 200, 'haproxy: HTTP/2 to httpd: 200');
        ok t_cmp($r->{body}, "ok h2\n", 'haproxy: ... the document');
    }
    else {
        ok t_cmp($r->{status}, 426, 'nginx: HTTP/1.1 to httpd: 426');
        ok t_cmp(field($r, 'Upgrade'), 'h2c', 'nginx: ... Upgrade');
    }
    stop_daemon($d) if $d;
}
