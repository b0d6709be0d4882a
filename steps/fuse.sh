#!/usr/bin/env bash
# Usage: steps/fuse.sh [options] <SPEECH_DIR> <TEXT_DIR> <OUT_DIR>
#  e.g.: steps/fuse.sh --data data/loso exp/ser_finetune exp/text exp/fusion
#        steps/fuse.sh --data data/loso/fold1 exp/ser_finetune/fold1 exp/text/fold1 exp/fusion_fold1
#
# Late fusion of speech and text log-posteriors (paper 000, Eq. 1-2), tuned on DEV,
# applied to TEST. SPEECH_DIR/TEXT_DIR are one fold's score dirs or system roots
# with fold*/ subdirs ({dev,test}.logpost.ark + classes.txt in each). Both
# modalities must score the same utterances with the same class order (error otherwise).
#   w1     S = w1*S_speech + (1-w1)*S_text, w1 on the grid 0:0.01:1 maximising dev UA
#          (ties: closest to 0.5) -> OUT_DIR/w1[/foldK]/ + w1.txt
#   znorm  each modality z-normalised with per-class mean/std of its own dev
#          scores, then equal weights -> OUT_DIR/znorm[/foldK]/
#   equal_raw  raw scores, w1 = 0.5 (ablation; not in the default --methods)
# Outputs {dev,test}.logpost.ark (log-softmax of the fused scores: same decisions)
# and classes.txt per method and fold. A fold fused from the same speech and text scores,
# dev labels and options is skipped (the restart rule of DEVELOPERS.md), so a rescored
# fold is fused again.
#
# Options:
#   --cmd CMD             job runner                                   [run.pl]
#   --data DIR            folds root (foldK/dev/utt2emo) or one fold's data dir [data/loso]
#   --methods LIST        comma-separated methods                      [w1,znorm]
#   --znorm-stats S       per-class | global                           [per-class]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

cmd=run.pl
data=data/loso
methods=w1,znorm
znorm_stats=per-class

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 3 "$@"
speech=$1
text=$2
out=$3

for d in "$speech" "$text" "$data"; do
  [ -d "$d" ] || { echo "$0: no directory $d" >&2; exit 1; }
done

mkdir -p "$out/log"
$cmd "$out/log/fuse.log" \
  python -m emorec.bin.fuse --data "$data" --methods "$methods" --znorm-stats "$znorm_stats" \
    "$speech" "$text" "$out"
grep '^fuse: w1' "$out/log/fuse.log" || true
echo "$0: fused scores in $out"
