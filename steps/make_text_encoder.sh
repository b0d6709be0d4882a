#!/usr/bin/env bash
# Usage: steps/make_text_encoder.sh [options] <TEXT_FILE> <OUT_DIR>
#  e.g.: steps/make_text_encoder.sh data/loso/fold1/train/text exp/text_encoder/fold1
#
# Builds a small BERT encoder + WordPiece tokenizer offline from the transcripts in
# TEXT_FILE (a Kaldi `text` file; labels are never read), with a short masked-LM
# pre-training, saved with save_pretrained as a normal BERT dir (config.json,
# model.safetensors, tokenizer files) that steps/train_text.sh --text-model loads
# exactly like bert-base-uncased. The demo stand-in for a pretrained BERT, which
# cannot be downloaded offline.
# Leakage: give it the TRAIN transcripts of a fold (one encoder per fold), never
# dev/test text. Skips when OUT_DIR/config.json (written last, by a rename) exists.
#
# Options:
#   --cmd CMD                 job runner                    [run.pl]
#   --vocab-size N            WordPiece vocabulary size     [2000]
#   --hidden-size N           [128]     --num-layers N  [2]     --num-heads N  [2]
#   --intermediate-size N     [512]     --max-position N [128]
#   --mlm-epochs N            masked-LM epochs (0: none)    [10]
#   --mlm-lr LR               [1e-3]
#   --seed N                  [777]
#   --num-threads N           torch CPU threads             [1]
set -euo pipefail

cmd=run.pl
vocab_size=2000
hidden_size=128
num_layers=2
num_heads=2
intermediate_size=512
max_position=128
mlm_epochs=10
mlm_lr=1e-3
seed=777
num_threads=1

[ -f ./path.sh ] && . ./path.sh
. utils/parse_options.sh

if [ $# -ne 2 ]; then
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0" >&2
  exit 1
fi
text=$1
dir=$2

[ -s "$text" ] || { echo "$0: missing or empty $text" >&2; exit 1; }
if [ -s "$dir/config.json" ] && [ -s "$dir/model.safetensors" ]; then
  echo "$0: $dir exists, skipping"
  exit 0
fi
logdir=$(dirname -- "$dir")/log
mkdir -p "$logdir"

$cmd --num-threads "$num_threads" "$logdir/make_text_encoder.$(basename -- "$dir").log" \
  python -m emorec.bin.make_text_encoder --vocab-size "$vocab_size" --hidden-size "$hidden_size" \
    --num-layers "$num_layers" --num-heads "$num_heads" --intermediate-size "$intermediate_size" \
    --max-position "$max_position" --mlm-epochs "$mlm_epochs" --mlm-lr "$mlm_lr" --seed "$seed" \
    --num-threads "$num_threads" "$text" "$dir"

[ -s "$dir/config.json" ] || { echo "$0: no $dir/config.json; see $logdir" >&2; exit 1; }
echo "$0: text encoder in $dir"
