#!/usr/bin/env perl
# utils/utt2spk_to_spk2utt.pl -- convert utt2spk to spk2utt (Kaldi).
#
# Usage: utt2spk_to_spk2utt.pl [utt2spk] > spk2utt
#   Reads "utt spk" lines (file or stdin); writes "spk utt1 utt2 ..." with the
#   speakers in order of first appearance and each speaker's utterances in input order.
use strict;
use warnings;

my (@spks, %spk2utts);
while (my $line = <>) {
  chomp $line;
  $line =~ s/\r$//;
  next if $line =~ m/^\s*$/;
  my @f = split(' ', $line);
  @f == 2 or die "utt2spk_to_spk2utt.pl: $ARGV:$.: expected 'utt spk', got '$line'\n";
  my ($utt, $spk) = @f;
  push @spks, $spk unless exists $spk2utts{$spk};
  push @{$spk2utts{$spk}}, $utt;
}
print join(" ", $_, @{$spk2utts{$_}}), "\n" for @spks;
