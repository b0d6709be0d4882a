#!/usr/bin/env bash
# steps/compute_vad.sh -- statistical-model VAD (Sohn et al. 1999, emorec.vad) per utterance.
#
# Usage: steps/compute_vad.sh [options] <data-dir> [<log-dir> [<vad-dir>]]
#   e.g. steps/compute_vad.sh --nj 8 --cmd "$train_cmd" data/all exp/make_vad/all vad
#   <log-dir> defaults to <data-dir>/log, <vad-dir> (where the arks go) to <data-dir>/data.
#
# Options:
#   --nj N            number of parallel jobs (default 4; fewer if fewer utterances)
#   --cmd CMD         job runner, run.pl or "slurm.pl --config conf/slurm.conf" (run.pl)
#   --vad-config FILE Kaldi-style options of emorec.vad.VadConfig (--threshold=1.5 ...);
#                     default: the built-in values
#   --max-fail-frac F a job, and the whole run, fails when more than this fraction of
#                     its utterances got no VAD (default 0.05)
#
# Writes <vad-dir>/vad_<name>.JOB.{ark,scp} and then <data-dir>/vad.scp: per utterance a
# float vector of 0/1, one per 25 ms / 10 ms frame, the same frames as steps/make_fbank.sh
# gives the same audio (read at 16 kHz, resampled on reading).  Restartable: a job whose
# scp was made from the same wav.scp, audio and config (its .scp.stamp) is skipped.  Bad
# audio is logged as "WARNING: <wav.scp>:<line>: <utt>: <reason>" and skipped (Kaldi's 5%
# rule).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

nj=4
cmd=run.pl
vad_config=
max_fail_frac=0.05

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 1-3 "$@"
data=$1
logdir=${2:-$data/log}
vaddir=${3:-$data/data}
me=$(basename "$0")

for f in "$data/wav.scp" "$data/utt2spk" ${vad_config:+"$vad_config"}; do
  [ -f "$f" ] || { echo "$me: no such file $f" >&2; exit 1; }
done
[ -f "$data/segments" ] && { echo "$me: $data/segments exists; segmented recordings are not supported" >&2; exit 1; }
[[ $nj =~ ^[1-9][0-9]*$ ]] || { echo "$me: --nj must be a positive integer, got '$nj'" >&2; exit 1; }

name=$(basename "$data")
mkdir -p "$logdir" "$vaddir"
vaddir=$(cd "$vaddir" && pwd)
logdir=$(cd "$logdir" && pwd)
conf_opts=()
[ -n "$vad_config" ] && conf_opts=(--config "$(cd "$(dirname "$vad_config")" && pwd)/$(basename "$vad_config")")

nutt=$(wc -l < "$data/utt2spk")
[ "$nutt" -gt 0 ] || { echo "$me: $data/utt2spk is empty" >&2; exit 1; }
[ "$nutt" -lt "$nj" ] && nj=$nutt
"$EMOREC_ROOT/utils/split_data.sh" --per-utt "$data" "$nj"

# shellcheck disable=SC2086
if ! $cmd JOB=1:"$nj" "$logdir/compute_vad_${name}.JOB.log" \
    python -m emorec.bin.compute_vad --skip-done --max-fail-frac "$max_fail_frac" \
      ${conf_opts[@]+"${conf_opts[@]}"} "$data/split${nj}utt/JOB/wav.scp" \
      "$vaddir/vad_${name}.JOB.ark" "$vaddir/vad_${name}.JOB.scp"; then
  echo "$me: VAD failed; see $logdir/compute_vad_${name}.*.log" >&2
  grep -h "^ERROR" "$logdir/compute_vad_${name}".*.log >&2 || true
  exit 1
fi

scps=()
for n in $(seq "$nj"); do
  [ -f "$vaddir/vad_${name}.$n.scp" ] \
    || { echo "$me: job $n left no complete scp; see $logdir/compute_vad_${name}.$n.log" >&2; exit 1; }
  scps+=("$vaddir/vad_${name}.$n.scp")
done
# vad.scp's stamp names the jobs' (through their scps): what reads it sees a change
. "$EMOREC_ROOT/utils/lib/stamp.sh"
stamp_begin --final "$data/vad.scp" --step compute_vad --version 1 "${scps[@]/#/--input=}"
cat "${scps[@]}" | LC_ALL=C sort > "$data/vad.scp.tmp"
mv "$data/vad.scp.tmp" "$data/vad.scp"

nv=$(wc -l < "$data/vad.scp")
if [ "$nv" -ne "$nutt" ]; then
  echo "$me: $((nutt - nv)) of $nutt utterances got no VAD (see the WARNING lines in $logdir)"
  grep -h "^WARNING" "$logdir/compute_vad_${name}".*.log | head -n 20 || true
fi
if awk -v n="$nv" -v nu="$nutt" -v f="$max_fail_frac" 'BEGIN { exit !((nu - n) > f * nu) }'; then
  echo "$me: more than $max_fail_frac of the utterances got no VAD ($nv of $nutt)" >&2
  exit 1
fi
echo "$me: wrote $data/vad.scp ($nv utterances)"
