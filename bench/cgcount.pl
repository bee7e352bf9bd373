#!/usr/bin/perl
# bench/cgcount.pl - read callgrind dumps through callgrind_annotate
# --inclusive=yes and print, per file, the inclusive instruction count of
# ap_run_process_connection and the sum of the inclusive counts of the
# module's functions that httpd calls during a request: its request hooks,
# its output filter and its per-directory merge.  None calls another, so
# the sum counts nothing twice: upreq_access_checker and
# upreq_access_checker_ex call httpd's access hooks back (and through them
# these two again) only for a lookup subrequest that fails its policy,
# which the benchmark never sends; the merge is httpd's to call.
#
#   cgcount.pl FILE ...   ->   FILE PROCESS_CONNECTION MODULE
use strict;
use warnings FATAL => 'all';

my @hooks = qw(upreq_translate_name upreq_post_perdir_config
               upreq_header_parser upreq_access_checker
               upreq_access_checker_ex upreq_check_authn upreq_handler
               upreq_handler_after_core upreq_insert_error_filter
               upreq_pending_filter upreq_merge_dir_conf);
my %hook = map { $_ => 1 } @hooks;

# callgrind_annotate shortens file names below the working directory and
# then lists such a function twice: run it from elsewhere.
chdir '/' or die "chdir /: $!\n";

for my $file (@ARGV) {
    $file =~ m{^/} or die "cgcount: $file: give an absolute path\n";
    open my $fh, '-|', 'callgrind_annotate', '--inclusive=yes',
        '--threshold=100', '--auto=no', $file
        or die "callgrind_annotate: $!\n";
    my ($conn, $mod) = (0, 0);
    while (<$fh>) {
        # "  1,234,567 (12.34%)  file.c:function [object]"
        next unless /^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(?:\S*:)?(\w+)\s/;
        my ($n, $fn) = ($1, $2);
        $n =~ tr/,//d;
        $conn += $n if $fn eq 'ap_run_process_connection';
        $mod += $n if $hook{$fn};
    }
    close $fh or die "callgrind_annotate $file failed\n";
    print "$file $conn $mod\n";
}
