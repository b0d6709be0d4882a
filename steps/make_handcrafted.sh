#!/usr/bin/env bash
# steps/make_handcrafted.sh -- one feature vector per utterance for the classical baselines
# (paper 004): the 94 hand-crafted features or the 88 eGeMAPS functionals.
#
# Usage: steps/make_handcrafted.sh [options] <data-dir> [<log-dir> [<vector-dir>]]
#   e.g. steps/make_handcrafted.sh --nj 4 --cmd "$train_cmd" --feature-set egemaps \
#          data/all exp/make_egemaps/all vectors
#   <log-dir> defaults to <data-dir>/log, <vector-dir> (where the arks go) to <data-dir>/data.
#
# Options:
#   --nj N              parallel jobs (default 4; fewer if fewer utterances)
#   --cmd CMD           job runner, run.pl or "slurm.pl --config conf/slurm.conf" (run.pl)
#   --feature-set SET   handcrafted (94: chroma, mel, MFCC, ZCR, spectral centroid) or
#                       egemaps (88: openSMILE eGeMAPSv02 functionals)   (handcrafted)
#   --max-fail-frac F   a job, and the whole run, fails when more than this fraction of
#                       its utterances got no vector (default 0.05)
#
# Audio is read at 16 kHz (other rates resampled). When <data-dir>/vad.scp exists, only
# the frames it marks as speech are used (silence removal of the data side).
# Writes <vector-dir>/raw_<set>_<name>.JOB.{ark,scp} (+ .scp.stamp) and then
# <data-dir>/<set>.scp (LC_ALL=C sorted, tmp+rename); utils/subset_data_dir.sh and
# utils/split_data.sh carry it into subsets like any *.scp, so vectors are computed once
# per utterance. Restartable (the restart rule of DEVELOPERS.md): nothing is done when
# <data-dir>/<set>.scp (written last) was made from the same wav.scp (and audio), utt2spk,
# vad.scp and feature set (<set>.scp.stamp); a job whose scp was made from the same
# inputs is skipped. Bad audio is logged as "WARNING: <wav.scp>:<line>: <utt>: <reason>" in
# the job log and skipped (Kaldi's 5% rule, as steps/make_fbank.sh).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

nj=4
cmd=run.pl
feature_set=handcrafted
max_fail_frac=0.05

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 1-3 "$@"
data=$1
logdir=${2:-$data/log}
vecdir=${3:-$data/data}
me=$(basename "$0")

check_enum feature_set handcrafted egemaps
for f in "$data/wav.scp" "$data/utt2spk"; do
  [ -f "$f" ] || { echo "$me: no such file $f" >&2; exit 1; }
done
if [ -f "$data/segments" ]; then
  echo "$me: $data/segments exists; segmented recordings are not supported yet" >&2
  exit 1
fi
[[ $nj =~ ^[1-9][0-9]*$ ]] || { echo "$me: --nj must be a positive integer, got '$nj'" >&2; exit 1; }
python -c "import emorec.bin.compute_handcrafted" 2>/dev/null \
  || { echo "$me: cannot import emorec (source path.sh first)" >&2; exit 1; }

. "$EMOREC_ROOT/utils/lib/stamp.sh"
fp=(--final "$data/$feature_set.scp" --step make_handcrafted --version 1 --option "feature_set=$feature_set"
    --option "max_fail_frac=$max_fail_frac"
    --input "$data/wav.scp" --input "$data/utt2spk")
[ -f "$data/vad.scp" ] && fp+=(--input "$data/vad.scp")
if stamp_done "${fp[@]}"; then exit 0; fi
name=$(basename "$data")
mkdir -p "$logdir" "$vecdir"
vecdir=$(cd "$vecdir" && pwd)   # the scp files name the arks by absolute path
logdir=$(cd "$logdir" && pwd)
stamp_begin "${fp[@]}"

. "$EMOREC_ROOT/utils/lib/split_jobs.sh"
split_for_jobs "$data" "$nj" "$me"
vad_opts=()
[ -f "$data/vad.scp" ] && vad_opts=(--vad-scp "$sdata/JOB/vad.scp")

log=$logdir/make_${feature_set}_${name}.JOB.log
# $cmd is word-split on purpose ("slurm.pl --config conf/slurm.conf").
# shellcheck disable=SC2086
if ! $cmd JOB=1:"$nj" "$log" \
    python -m emorec.bin.compute_handcrafted --skip-done --feature-set "$feature_set" \
      ${vad_opts[@]+"${vad_opts[@]}"} --max-fail-frac "$max_fail_frac" "$sdata/JOB/wav.scp" \
      "$vecdir/raw_${feature_set}_${name}.JOB.ark" "$vecdir/raw_${feature_set}_${name}.JOB.scp"; then
  echo "$me: feature extraction failed; see $logdir/make_${feature_set}_${name}.*.log" >&2
  grep -h "^ERROR" "$logdir/make_${feature_set}_${name}".*.log >&2 || true
  exit 1
fi

scps=()
for n in $(seq "$nj"); do
  s=$vecdir/raw_${feature_set}_${name}.$n.scp
  [ -f "$s" ] \
    || { echo "$me: job $n left no complete $s; see $logdir/make_${feature_set}_${name}.$n.log" >&2; exit 1; }
  scps+=("$s")
done
cat "${scps[@]}" | LC_ALL=C sort > "$data/$feature_set.scp.tmp"
nv=$(wc -l < "$data/$feature_set.scp.tmp")
if [ "$nv" -ne "$nutt" ]; then
  echo "$me: $((nutt - nv)) of $nutt utterances got no $feature_set vector (see the WARNING" \
       "lines in $logdir/make_${feature_set}_${name}.*.log)"
  grep -h "^WARNING" "$logdir/make_${feature_set}_${name}".*.log | head -n 20 || true
fi
if awk -v nv="$nv" -v nu="$nutt" -v f="$max_fail_frac" 'BEGIN { exit !((nu - nv) > f * nu) }'; then
  rm -f "$data/$feature_set.scp.tmp"
  echo "$me: more than $max_fail_frac of the utterances got no vector ($nv of $nutt done)" >&2
  exit 1
fi
mv "$data/$feature_set.scp.tmp" "$data/$feature_set.scp"
echo "$me: succeeded making $feature_set vectors for $name ($nv utterances)"
