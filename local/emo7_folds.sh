#!/usr/bin/env bash
# Usage: local/emo7_folds.sh [options] <DATA_ROOT> "<PROTOCOLS>" <OUT_DIR>
#  e.g.: local/emo7_folds.sh --train-name train_aug data/emo7 "strat spk loco/cremad" data/emo7/folds/speech
#        local/emo7_folds.sh --text data/emo7/text.ref data/emo7 "strat spk" data/emo7/folds/text_ref
#
# egs/emo7's split protocols as the numbered folds the per-fold steps read
# (emorec.bin.make_emo7_folds): OUT_DIR/foldK/{train,dev,test} = the K-th protocol's
# <train-name>, valid and test parts, OUT_DIR/folds.txt "foldK <protocol>". With --text,
# each part gets those transcripts and keeps only the utterances that have one (augmented
# copies take their original's); OUT_DIR/text_coverage.txt counts what was dropped.
# Every dir made is checked with utils/validate_data_dir.sh. Skipped when up to date.
#
# Options:
#   --train-name NAME   training part of each protocol (train_aug: class-balanced)  [train]
#   --valid-name NAME   validation part of each protocol (the folds' dev)          [valid]
#   --text FILE         transcripts (a Kaldi text file) of the protocols' utterances  []
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

train_name=train
valid_name=valid
text=
. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 3 "$@"
root=$1
protocols=$2
out=$3

text_opts=()
if [ -n "$text" ]; then
  [ -s "$text" ] || { echo "$0: no such transcript file $text" >&2; exit 1; }
  text_opts=(--text "$text")
fi
python -m emorec.bin.make_emo7_folds --skip-done --train-name "$train_name" --valid-name "$valid_name" \
  ${text_opts[@]+"${text_opts[@]}"} "$root" "$protocols" "$out"
no_text=()
[ -n "$text" ] || no_text=(--no-text)
n=$(echo $protocols | wc -w)
for k in $(seq "$n"); do
  for part in train dev test; do
    utils/validate_data_dir.sh --no-feats ${no_text[@]+"${no_text[@]}"} "$out/fold$k/$part"
  done
done
