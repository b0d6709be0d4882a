#!/usr/bin/env perl
# utils/filter_scp.pl -- keep (or drop) the lines of a list whose key is in an id list (Kaldi).
#
# Usage: filter_scp.pl [--exclude] [-f FIELD] <id-list> [<in.scp>] > out.scp
#   Writes the lines of in.scp (or stdin) whose FIELD-th field (default 1; may be
#   negative, counting from the end) is among the first fields of id-list, in the
#   order of in.scp. --exclude writes the other lines instead.
use strict;
use warnings;

my $exclude = 0;
my $field = 1;
while (@ARGV && $ARGV[0] =~ m/^-/ && $ARGV[0] ne "-") {
  my $o = shift @ARGV;
  if ($o eq "--exclude") { $exclude = 1; }
  elsif ($o eq "-f") { $field = shift @ARGV; }
  elsif ($o =~ m/^-f(-?\d+)$/) { $field = $1; }
  else { die "filter_scp.pl: unknown option $o\nUsage: filter_scp.pl [--exclude] [-f FIELD] <id-list> [<in.scp>]\n"; }
}
defined $field && $field =~ m/^-?\d+$/ && $field != 0 or die "filter_scp.pl: bad -f value\n";
@ARGV == 1 || @ARGV == 2
  or die "Usage: filter_scp.pl [--exclude] [-f FIELD] <id-list> [<in.scp>] > out.scp\n";

my $idlist = shift @ARGV;
my %seen;
open(my $ids, "<", $idlist) or die "filter_scp.pl: cannot open id list '$idlist': $!\n";
while (<$ids>) {
  my @f = split(' ', $_);
  $seen{$f[0]} = 1 if @f;
}
close($ids);

while (my $line = <>) {
  my @f = split(' ', $line);
  next unless @f;
  my $key = $field > 0 ? $f[$field - 1] : $f[$field];
  defined $key or die "filter_scp.pl: $ARGV:$.: line has no field $field\n";
  print $line if ($exclude xor exists $seen{$key});
}
