#!/usr/bin/env bash
# Usage: steps/report.sh [options] <EXP_ROOT> <OUT_MD>
#  e.g.: steps/report.sh --data data/exp3/loso \
#          --systems "speech=exp/ser_finetune text=exp/text fusion_w1=exp/fusion/w1 fusion_znorm=exp/fusion/znorm" \
#          --ablations "speech_scratch=exp/ser_scratch speech_probe=exp/ser_probe" exp RESULTS.md
#
# Test UA/WA per fold and mean ± std for each system (a dir with
# foldK/test.logpost.ark + classes.txt; labels from DATA/foldK/test/utt2emo),
# confusion matrices (markdown tables and one PNG per system, summed over folds,
# counts and row-normalised) and RESULTS.md with paper 000's Table 2 numbers beside
# ours. Without --systems every dir under EXP_ROOT holding fold*/test.logpost.ark is
# reported (named by its path: exp/fusion/w1 -> fusion_w1). Always rewrites OUT_MD.
#
# Options (lists are space-separated NAME=DIR words; DIR relative, without spaces):
#   --cmd CMD               job runner (log in EXP_ROOT/log/report.log)    [run.pl]
#   --data DIR              folds root                                    [data/loso]
#   --systems "LIST"        systems of the main tables, in order          []
#   --ablations "LIST"      systems of the ablation table                 []
#   --paper-refs "LIST"     NAME=KEY: paper row for NAME (speech_finetune, speech_probe,
#                           text, fusion_w1, fusion_equal); default from the name []
#   --quote-configs "LIST"  config files quoted in RESULTS.md             []
#   --notes TEXT            free text put under the header                []
#   --command CMD           the command recorded in OUT_MD (the recipe's)  [this one]
#   --title TEXT            [Emotion recognition results (IEMOCAP recipe)]
#   --plots-dir DIR         [dirname OUT_MD/plots]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

cmd=run.pl
data=data/loso
title="Emotion recognition results (IEMOCAP recipe)"
plots_dir=
systems=
ablations=
paper_refs=
quote_configs=
notes=
command=                         # recorded in OUT_MD (quoted, pasteable); empty: this command

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
exp=$1
out=$2
[ -d "$exp" ] || { echo "$0: no directory $exp" >&2; exit 1; }
[ -d "$data" ] || { echo "$0: no directory $data" >&2; exit 1; }

opts=(--data "$data" --title "$title" --command "${command:-$EMOREC_COMMAND}")
[ -n "$plots_dir" ] && opts+=(--plots-dir "$plots_dir")
[ -n "$notes" ] && opts+=(--notes "$notes")
for x in $systems; do opts+=(--system "$x"); done
for x in $ablations; do opts+=(--ablation "$x"); done
for x in $paper_refs; do opts+=(--paper-ref "$x"); done
for x in $quote_configs; do opts+=(--config "$x"); done
# shellcheck disable=SC2086  # $cmd is word-split on purpose ("slurm.pl --config ...")
$cmd "$exp/log/report.log" python -m emorec.bin.report "${opts[@]}" "$exp" "$out" ||
  { echo "$0: report failed; see $exp/log/report.log" >&2; exit 1; }
