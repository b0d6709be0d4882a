#!/usr/bin/env bash
# steps/make_fbank.sh -- extract log-mel filterbank features for a data dir (Kaldi's make_fbank.sh).
#
# Usage: steps/make_fbank.sh [options] <data-dir> [<log-dir> [<fbank-dir>]]
#   e.g. steps/make_fbank.sh --nj 8 --cmd "$train_cmd" data/train exp/make_fbank/train fbank
#   <log-dir> defaults to <data-dir>/log, <fbank-dir> (where the arks go) to <data-dir>/data.
#
# Options:
#   --nj N                  number of parallel jobs (default 4); reduced to the number of
#                           utterances if fewer; split per utterance if fewer speakers than N
#   --cmd CMD               job runner, run.pl or "slurm.pl --config conf/slurm.conf" (run.pl)
#   --fbank-config FILE     Kaldi-style options for emorec.bin.compute_fbank (conf/fbank.conf)
#   --allow-resample BOOL   resample audio at another rate (true) or treat it as an error (false)
#   --max-fail-frac F       a job, and the whole run, fails when more than this fraction of
#                           its utterances got no features (default 0.05)
#
# Writes <fbank-dir>/raw_fbank_<name>.JOB.{ark,scp} (+ .scp.stamp, utt2num_frames_<name>.JOB)
# and then <data-dir>/feats.scp (+ .stamp, naming the jobs') and <data-dir>/utt2num_frames
# (LC_ALL=C sorted, tmp+rename).
# An existing feats.scp is moved to <data-dir>/.backup first, as Kaldi does.
#
# Restartable: a job whose scp (renamed into place after its ark) was made from the same
# wav.scp, audio and config (its .scp.stamp; the restart rule of DEVELOPERS.md) is
# skipped, so rerunning after a kill finishes only the rest.  Bad audio
# (missing/empty/corrupt/too short) is logged as "WARNING: <wav.scp>:<line>: <utt>: <reason>" in the job log and skipped; a job fails
# when more than 5% of its utterances fail, and so does this script when more than 5%
# of all utterances got no features (Kaldi's 5% rule; Kaldi's binaries only fail a job
# in which nothing succeeded, we apply the 5% to each job too). Within the 5%, the
# utterances without features are dropped from <data-dir> (utils/fix_data_dir.sh).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

nj=4
cmd=run.pl
fbank_config=conf/fbank.conf
allow_resample=true
max_fail_frac=0.05

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 1-3 "$@"
data=$1
logdir=${2:-$data/log}
fbankdir=${3:-$data/data}
me=$(basename "$0")

for f in "$data/wav.scp" "$data/utt2spk" "$fbank_config"; do
  [ -f "$f" ] || { echo "$me: no such file $f" >&2; exit 1; }
done
if [ -f "$data/segments" ]; then
  echo "$me: $data/segments exists; segmented recordings are not supported yet" >&2
  exit 1
fi
[[ $nj =~ ^[1-9][0-9]*$ ]] || { echo "$me: --nj must be a positive integer, got '$nj'" >&2; exit 1; }

name=$(basename "$data")
mkdir -p "$logdir" "$fbankdir"
fbankdir=$(cd "$fbankdir" && pwd)   # the scp files name the arks by absolute path
logdir=$(cd "$logdir" && pwd)
fbank_config=$(cd "$(dirname "$fbank_config")" && pwd)/$(basename "$fbank_config")

if [ -f "$data/feats.scp" ]; then
  mkdir -p "$data/.backup"
  echo "$me: moving $data/feats.scp to $data/.backup"
  mv "$data/feats.scp" "$data/.backup/feats.scp"
fi
rm -f "$data/utt2num_frames"

. "$EMOREC_ROOT/utils/lib/split_jobs.sh"
split_for_jobs "$data" "$nj" "$me"

# $cmd is word-split on purpose ("slurm.pl --config conf/slurm.conf").
# shellcheck disable=SC2086
if ! $cmd JOB=1:"$nj" "$logdir/make_fbank_${name}.JOB.log" \
    python -m emorec.bin.compute_fbank --skip-done \
      --config "$fbank_config" --allow-resample "$allow_resample" --max-fail-frac "$max_fail_frac" \
      --write-utt2num-frames "$fbankdir/utt2num_frames_${name}.JOB" \
      "$sdata/JOB/wav.scp" "$fbankdir/raw_fbank_${name}.JOB.ark" \
      "$fbankdir/raw_fbank_${name}.JOB.scp"; then
  # A bad config fails every job (no check up front: it would be time each job waits,
  # bench/bench_make_fbank_nj.py); its ERROR line, or a Python exception, says why.
  echo "$me: feature extraction failed; see $logdir/make_fbank_${name}.*.log" >&2
  job_errors "$logdir/make_fbank_${name}".*.log
  exit 1
fi

scps=() u2nfs=()
for n in $(seq "$nj"); do
  s=$fbankdir/raw_fbank_${name}.$n.scp
  u=$fbankdir/utt2num_frames_${name}.$n
  [ -f "$s" ] && [ -f "$u" ] \
    || { echo "$me: job $n left no complete $s; see $logdir/make_fbank_${name}.$n.log" >&2; exit 1; }
  scps+=("$s"); u2nfs+=("$u")
done
# feats.scp's stamp names the jobs' (through their scps): what trains on it sees a change
. "$EMOREC_ROOT/utils/lib/stamp.sh"
stamp_begin --final "$data/feats.scp" --step make_fbank --version 1 "${scps[@]/#/--input=}"
cat "${scps[@]}" | LC_ALL=C sort > "$data/feats.scp.tmp"
cat "${u2nfs[@]}" | LC_ALL=C sort > "$data/utt2num_frames.tmp"
mv "$data/utt2num_frames.tmp" "$data/utt2num_frames"
mv "$data/feats.scp.tmp" "$data/feats.scp"

nf=$(wc -l < "$data/feats.scp")
if [ "$nf" -ne "$nutt" ]; then
  echo "$me: $((nutt - nf)) of $nutt utterances got no features (the WARNING lines of" \
       "$logdir/make_fbank_${name}.*.log name them):"
  grep -h "^WARNING" "$logdir/make_fbank_${name}".*.log | head -n 20 || true
fi
if awk -v nf="$nf" -v nu="$nutt" -v f="$max_fail_frac" 'BEGIN { exit !((nu - nf) > f * nu) }'; then
  echo "$me: $((nutt - nf)) of $nutt utterances got no features, more than $max_fail_frac;" \
       "a serious error" >&2
  exit 1
fi
if [ "$nf" -ne "$nutt" ]; then
  # Within the allowed share: the data dir drops them too, so the stages after go on.
  echo "$me: dropping them from $data (utils/fix_data_dir.sh; old lists in $data/.backup)"
  "$EMOREC_ROOT/utils/fix_data_dir.sh" "$data"
fi
echo "$me: succeeded making fbank features for $name ($nf utterances)"
