#!/usr/bin/env bash
# Usage: steps/report.sh [options] <EXP_ROOT> <OUT_MD>
#  e.g.: steps/report.sh --data data/loso --config conf/text_demo.yaml \
#          --system speech=exp/ser_finetune --system text=exp/text \
#          --system fusion_w1=exp/fusion/w1 --system fusion_znorm=exp/fusion/znorm \
#          --ablation speech_probe=exp/ser_probe exp RESULTS.md
#
# Test UA/WA per fold and mean ± std for each system (a dir with
# foldK/test.logpost.ark + classes.txt; labels from DATA/foldK/test/utt2emo),
# confusion matrices (markdown tables and one PNG per system, summed over folds,
# counts and row-normalised) and RESULTS.md with paper 000's Table 2 numbers beside
# ours. Without --system every dir under EXP_ROOT holding fold*/test.logpost.ark is
# reported (named by its path: exp/fusion/w1 -> fusion_w1). Always rewrites OUT_MD.
#
# Options (--system, --ablation, --paper-ref, --config may be repeated):
#   --data DIR              folds root                          [data/loso]
#   --system NAME=DIR       a system of the main tables, in order
#   --ablation NAME=DIR     a system of the ablation table
#   --paper-ref NAME=KEY    paper row for NAME (speech_finetune, speech_probe, text,
#                           fusion_w1, fusion_equal); default from the name
#   --config FILE           a config quoted in RESULTS.md
#   --title TEXT            [Emotion recognition results (IEMOCAP recipe)]
#   --plots-dir DIR         [dirname OUT_MD/plots]
set -euo pipefail

data=data/loso
title="Emotion recognition results (IEMOCAP recipe)"
plots_dir=
orig_cmd="$0 $*"

# Repeatable options are collected here; the rest go to parse_options.sh.
rep=()
_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --system|--ablation|--paper-ref|--config)
      [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
      rep+=("$1" "$2"); shift 2 ;;
    --system=*|--ablation=*|--paper-ref=*|--config=*) rep+=("${1%%=*}" "${1#*=}"); shift ;;
    *) _args+=("$1"); shift ;;
  esac
done
set -- ${_args[@]+"${_args[@]}"}
unset _args

[ -f ./path.sh ] && . ./path.sh
. utils/parse_options.sh

if [ $# -ne 2 ]; then
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0" >&2
  exit 1
fi
exp=$1
out=$2
[ -d "$exp" ] || { echo "$0: no directory $exp" >&2; exit 1; }
[ -d "$data" ] || { echo "$0: no directory $data" >&2; exit 1; }

opts=(--data "$data" --title "$title" --command "$orig_cmd")
[ -n "$plots_dir" ] && opts+=(--plots-dir "$plots_dir")
python -m emorec.bin.report "${opts[@]}" ${rep[@]+"${rep[@]}"} "$exp" "$out"
