#!/usr/bin/env bash
# steps/score_trials.sh -- cosine scoring of verification trials; EER and minDCF.
#
# Usage: steps/score_trials.sh [options] <trials> <emb.scp> <out-dir>
#   e.g. steps/score_trials.sh data/voxceleb_test/trials exp/xvectors_test/xvector.scp exp/scores_test
#
# Options:
#   --center BOOL     subtract the mean embedding before cosine scoring (false)
#   --p-target P      target prior of minDCF (0.01)
#
# Trials: "utt1 utt2 target|nontarget".  Writes <out-dir>/scores ("utt1 utt2 score") and
# <out-dir>/results.txt (EER, threshold, minDCF), each through a .tmp name. Skips when
# results.txt is not older than <trials> and <emb.scp> (emorec.bin.score_trials
# --skip-done; the restart rule of DEVELOPERS.md).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

center=false
p_target=0.01

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 3 "$@"
trials=$1
scp=$2
out=$3
me=$(basename "$0")
for f in "$trials" "$scp"; do
  [ -f "$f" ] || { echo "$me: no such file $f" >&2; exit 1; }
done
opts=(--p-target "$p_target")
$center && opts+=(--center)
mkdir -p "$out"
python -m emorec.bin.score_trials --skip-done --trials "$trials" --emb-scp "$scp" --out-dir "$out" "${opts[@]}"
cat "$out/results.txt"
