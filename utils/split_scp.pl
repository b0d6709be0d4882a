#!/usr/bin/env perl
# utils/split_scp.pl -- split a list into contiguous parts (Kaldi).
#
# Usage: split_scp.pl [--utt2spk=FILE] <in.scp> <out1> [<out2> ...]
#        split_scp.pl [--utt2spk=FILE] -j N K <in.scp>      (part K of N to stdout, K from 0)
#   Without --utt2spk the lines are split into N contiguous parts whose sizes
#   differ by at most one. With --utt2spk the split is on speaker boundaries: all
#   lines of a speaker go to one part, speakers must be contiguous in in.scp, and
#   the parts are balanced by number of lines. Concatenating the parts in order
#   gives in.scp back. It is an error to ask for more parts than lines (speakers).
use strict;
use warnings;

my $me = "split_scp.pl";
my ($utt2spk_file, $jobs, $job_k);
while (@ARGV && $ARGV[0] =~ m/^-./) {
  my $o = shift @ARGV;
  if ($o =~ m/^--utt2spk=(.+)$/) { $utt2spk_file = $1; }
  elsif ($o eq "--utt2spk") { $utt2spk_file = shift @ARGV; }
  elsif ($o eq "-j") { $jobs = shift @ARGV; $job_k = shift @ARGV; }
  else { die "$me: unknown option $o\n"; }
}
my ($in, @outs);
if (defined $jobs) {
  @ARGV == 1 or die "Usage: $me [--utt2spk=FILE] -j N K <in.scp>\n";
  $in = $ARGV[0];
  $jobs =~ m/^\d+$/ && $jobs > 0 && $job_k =~ m/^\d+$/ && $job_k < $jobs or die "$me: bad -j $jobs $job_k\n";
} else {
  @ARGV >= 2 or die "Usage: $me [--utt2spk=FILE] <in.scp> <out1> [<out2> ...]\n";
  ($in, @outs) = @ARGV;
  $jobs = scalar(@outs);
}

open(my $fh, "<", $in) or die "$me: cannot open '$in': $!\n";
my @lines = grep { m/\S/ } <$fh>;
close($fh);

my %u2s;
if (defined $utt2spk_file) {
  open(my $u, "<", $utt2spk_file) or die "$me: cannot open '$utt2spk_file': $!\n";
  while (<$u>) {
    my @f = split(' ', $_);
    next unless @f;
    @f == 2 or die "$me: $utt2spk_file:$.: expected 'utt spk'\n";
    $u2s{$f[0]} = $f[1];
  }
  close($u);
}

# Groups of contiguous lines (one per speaker, or one per line).
my @groups;    # each: number of lines
if (defined $utt2spk_file) {
  my ($prev, %done);
  my $n = 0;
  for my $line (@lines) {
    $n++;
    my ($utt) = split(' ', $line);
    my $spk = $u2s{$utt};
    defined $spk or die "$me: $in:$n: utterance '$utt' is not in $utt2spk_file\n";
    if (defined $prev && $spk eq $prev) { $groups[-1]++; next; }
    die "$me: $in:$n: speaker '$spk' is not contiguous (sort the data dir so that the "
      . "utterances of each speaker are together; see fix_data_dir.sh)\n" if $done{$spk};
    $done{$spk} = 1;
    push @groups, 1;
    $prev = $spk;
  }
} else {
  @groups = (1) x scalar(@lines);
}
my $what = defined $utt2spk_file ? "speakers" : "lines";
die "$me: cannot split $in into $jobs parts: only " . scalar(@groups) . " $what\n"
  if @groups < $jobs;

# Contiguous partition of the groups into $jobs parts, balanced by line count.
my @sizes;    # number of groups per part
{
  my $g = 0;
  my $remaining = scalar(@lines);
  for my $part (0 .. $jobs - 1) {
    my $left_parts = $jobs - $part;
    if ($left_parts == 1) { push @sizes, scalar(@groups) - $g; last; }
    my $target = $remaining / $left_parts;
    my ($count, $ng) = (0, 0);
    while (1) {
      my $groups_left_after = scalar(@groups) - ($g + $ng);
      last if $groups_left_after <= $left_parts - 1;    # keep one group per later part
      my $next = $groups[$g + $ng];
      last if $ng > 0 && abs($count + $next - $target) >= abs($count - $target);
      $count += $next;
      $ng++;
    }
    push @sizes, $ng;
    $g += $ng;
    $remaining -= $count;
  }
}

my $pos = 0;    # line index
my $g = 0;
for my $part (0 .. $jobs - 1) {
  my $nlines = 0;
  $nlines += $groups[$_] for $g .. $g + $sizes[$part] - 1;
  $g += $sizes[$part];
  my @chunk = @lines[$pos .. $pos + $nlines - 1];
  $pos += $nlines;
  if (@outs) {
    open(my $o, ">", $outs[$part]) or die "$me: cannot write '$outs[$part]': $!\n";
    print $o @chunk;
    close($o) or die "$me: error writing '$outs[$part]': $!\n";
  } elsif ($part == $job_k) {
    print @chunk;
  }
}
