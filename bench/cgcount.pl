#!/usr/bin/perl
# bench/cgcount.pl - read callgrind dumps through callgrind_annotate
# --inclusive=yes --tree=caller and print, per file, the inclusive
# instruction count of ap_run_process_connection and the module's share:
# the inclusive cost of every call from outside the module's shared object
# into it (httpd's hooks, its output filters, its merges, pool clean-ups).
# No function is named, so the count follows the module through any
# change of its hooks; the stand-in (mod_standin426.so) is counted the
# same way.
#
# A call that the module makes into httpd or APR and that calls the module
# back would count its inner part twice; such callers are reported on
# stderr (none on the benchmark's requests).
#
#   cgcount.pl FILE ...   ->   FILE PROCESS_CONNECTION MODULE
use strict;
use warnings FATAL => 'all';

my $module = qr{/mod_(?:upgrade_required|standin426)\.so$};

# callgrind_annotate shortens file names below the working directory and
# then lists such a function twice: run it from elsewhere.
chdir '/' or die "chdir /: $!\n";

# "  1,234 (12.34%)  < file.c:function (5x) [object]"  a caller
# "  1,234 (12.34%)  *  file.c:function [object]"       the function
my $line = qr{^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+([<*>])\s+(?:\S*:)?(\S+?)
              (?:\s+\([\d,]+x\))?\s+\[(.*)\]\s*$}x;

for my $file (@ARGV) {
    $file =~ m{^/} or die "cgcount: $file: give an absolute path\n";
    open my $fh, '-|', 'callgrind_annotate', '--inclusive=yes',
        '--tree=caller', '--threshold=100', '--auto=no', $file
        or die "callgrind_annotate: $!\n";
    my ($conn, $mod) = (0, 0);
    my @callers;            # [cost, name, object] of the block so far
    my %outside;            # outside caller -> called into the module
    my %calls_out;          # a function some module function calls
    while (<$fh>) {
        if (/^\s*$/) {
            @callers = ();
            next;
        }
        my ($n, $kind, $fn, $obj) = /$line/ or next;
        $n =~ tr/,//d;
        if ($kind eq '<') {
            push @callers, [$n, $fn, $obj];
            next;
        }
        next unless $kind eq '*';
        $conn += $n if $fn eq 'ap_run_process_connection';
        for my $c (@callers) {
            if ($obj =~ $module && $c->[2] !~ $module) {
                $mod += $c->[0];
                $outside{$c->[1]} = 1;
            }
            $calls_out{$fn} = 1 if $c->[2] =~ $module && $obj !~ $module;
        }
        @callers = ();
    }
    close $fh or die "callgrind_annotate $file failed\n";
    for my $fn (sort keys %outside) {
        warn "cgcount: $file: $fn calls into the module and is called by "
           . "it: counted twice\n" if $calls_out{$fn};
    }
    print "$file $conn $mod\n";
}
