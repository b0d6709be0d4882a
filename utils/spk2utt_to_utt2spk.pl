#!/usr/bin/env perl
# utils/spk2utt_to_utt2spk.pl -- convert spk2utt to utt2spk (Kaldi).
#
# Usage: spk2utt_to_utt2spk.pl [spk2utt] > utt2spk
#   Reads "spk utt1 utt2 ..." lines (file or stdin); writes "utt spk" lines in order.
use strict;
use warnings;

while (my $line = <>) {
  chomp $line;
  $line =~ s/\r$//;
  next if $line =~ m/^\s*$/;
  my ($spk, @utts) = split(' ', $line);
  @utts or die "spk2utt_to_utt2spk.pl: $ARGV:$.: speaker '$spk' has no utterances\n";
  print "$_ $spk\n" for @utts;
}
