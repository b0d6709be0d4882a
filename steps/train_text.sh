#!/usr/bin/env bash
# Usage: steps/train_text.sh [options] <FOLD_DATA_DIR> <EXP_DIR>
#  e.g.: steps/train_text.sh --config conf/text_demo.yaml \
#          --text-model exp/text_encoder/fold1 data/loso/fold1 exp/text/fold1
#
# Fine-tunes the BERT text model (emorec.text) for one fold: trains on
# FOLD_DATA_DIR/train, picks the epoch with the best UA on FOLD_DATA_DIR/dev (never
# test), and writes EXP_DIR/{dev,test}.logpost.ark (natural-log posteriors, kaldiio
# text ark), EXP_DIR/classes.txt, EXP_DIR/model/ (fine-tuned encoder + tokenizer +
# head, reloadable offline), EXP_DIR/train_history.json and EXP_DIR/log/train.log.
# Skips the fold when EXP_DIR/test.logpost.ark (written last) exists.
#
# Options:
#   --cmd CMD            how to run the job (run.pl, slurm.pl ...)        [run.pl]
#   --config FILE.yaml   YAML training config (conf/text_demo.yaml, conf/text_paper.yaml)
#                        (a .yaml/.yml --config is taken by this script; any other
#                        --config is a Kaldi option file as in parse_options.sh)
#   --text-model M       local BERT-style dir or model name in the local HF cache;
#                        overrides the config's text_model                 []
#   --classes FILE       class order (one name a line); default: sorted labels of train+dev []
#   --device D           auto | cpu | cuda | cuda:N                        [auto]
#   --num-threads N      torch CPU threads                                 [1]
#   --seed N             overrides the config's seed                       []
set -euo pipefail

cmd=run.pl
yaml_config=
text_model=
classes=
device=auto
num_threads=1
seed=

# A YAML --config is ours; Kaldi option files still go to parse_options.sh.
_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --config) if [[ ${2:-} == *.yaml || ${2:-} == *.yml ]]; then yaml_config=$2; shift 2; continue; fi ;;
    --config=*.yaml|--config=*.yml) yaml_config=${1#--config=}; shift; continue ;;
  esac
  _args+=("$1"); shift
done
set -- ${_args[@]+"${_args[@]}"}
unset _args

[ -f ./path.sh ] && . ./path.sh
. utils/parse_options.sh

if [ $# -ne 2 ]; then
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0" >&2
  exit 1
fi
data=$1
dir=$2

for s in train dev test; do
  for f in text utt2emo; do
    [ -s "$data/$s/$f" ] || { echo "$0: missing $data/$s/$f" >&2; exit 1; }
  done
done
[ -z "$yaml_config" ] || [ -r "$yaml_config" ] || { echo "$0: cannot read config '$yaml_config'" >&2; exit 1; }

if [ -s "$dir/test.logpost.ark" ]; then
  echo "$0: $dir/test.logpost.ark exists, skipping (remove it to retrain)"
  exit 0
fi
mkdir -p "$dir/log"

opts=(--device "$device" --num-threads "$num_threads")
[ -n "$yaml_config" ] && opts+=(--config "$yaml_config")
[ -n "$text_model" ] && opts+=(--text-model "$text_model")
[ -n "$classes" ] && opts+=(--classes "$classes")
[ -n "$seed" ] && opts+=(--seed "$seed")

$cmd --num-threads "$num_threads" "$dir/log/train.log" \
  python -m emorec.bin.train_text "${opts[@]}" "$data" "$dir"

for f in classes.txt dev.logpost.ark test.logpost.ark model/text_model.json; do
  [ -s "$dir/$f" ] || { echo "$0: training finished without $dir/$f; see $dir/log/train.log" >&2; exit 1; }
done
echo "$0: text model of $data in $dir ($(grep -c . "$dir/test.logpost.ark") test utterances scored)"
