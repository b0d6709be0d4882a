#!/usr/bin/env bash
# Usage: steps/report.sh [options] --corpus-roots FILE <EXP_ROOT> <OUT_MD>
#  e.g.: steps/report.sh --data data/exp3/loso --corpus-roots data/exp3/all/corpus_roots \
#          --systems "speech=exp/ser_finetune text=exp/text fusion_w1=exp/fusion/w1 fusion_znorm=exp/fusion/znorm" \
#          --ablations "speech_scratch=exp/ser_scratch speech_probe=exp/ser_probe" exp RESULTS.md
#
# Test UA/WA per fold and mean ± std over folds and seeds for each system (a dir with
# foldK/test.logpost.ark + classes.txt; labels from DATA/foldK/test/utt2emo; unscored
# test utterances count as errors), paired-bootstrap significance between the systems,
# improvised/scripted breakdown, the share of test transcripts seen in training,
# confusion matrices (markdown and one PNG per system, counts and row-normalised) and
# RESULTS.md naming the corpus its data came from. Without --systems every dir under EXP_ROOT holding
# fold*/test.logpost.ark is reported (named by its path: exp/fusion/w1 -> fusion_w1).
# Always rewrites OUT_MD.
#
# Options (lists are space-separated NAME=DIR words; DIR relative, without spaces):
#   --corpus-roots FILE     the data prep's corpus_roots: the corpus named in the header (required) []
#   --cmd CMD               job runner (log in EXP_ROOT/log/report.log)    [run.pl]
#   --data DIR              folds root                                    [data/loso]
#   --systems "LIST"        systems of the main tables, in order          []
#   --seeds "LIST"          training seeds: each system's runs are EXP_ROOT/seedS/DIR []
#   --ablations "LIST"      systems of the LOSO ablation table            []
#   --random-data DIR       folds root of the random 80/20 protocol       []
#   --random-ablations "LIST"  systems on --random-data's folds           []
#   --paper-table FILE      paper numbers put beside ours (conf/paper000_table2.tsv) []
#   --paper-refs "LIST"     NAME=KEY: paper row for NAME; default from the name or aliases []
#   --demo-design FILE      the demo corpus's generation plan: design ceiling rows,
#                           paper columns labelled not comparable          []
#   --w1-inputs "LIST"      FUSION_NAME=SPEECH_DIR,TEXT_DIR: flatness of the w1 search []
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
corpus_roots=
systems=
seeds=
ablations=
random_data=
random_ablations=
paper_table=
paper_refs=
demo_design=
w1_inputs=
quote_configs=
notes=
command=                         # recorded in OUT_MD (quoted, pasteable); empty: this command

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
exp=$1
out=$2
[ -d "$exp" ] || { echo "$0: no directory $exp" >&2; exit 1; }
[ -d "$data" ] || { echo "$0: no directory $data" >&2; exit 1; }

[ -n "$corpus_roots" ] || { echo "$0: --corpus-roots is required (RESULTS.md names its corpus)" >&2; exit 1; }

opts=(--data "$data" --corpus-roots "$corpus_roots" --title "$title" --command "${command:-$EMOREC_COMMAND}" --seeds "$seeds")
[ -n "$plots_dir" ] && opts+=(--plots-dir "$plots_dir")
[ -n "$notes" ] && opts+=(--notes "$notes")
[ -n "$paper_table" ] && opts+=(--paper-table "$paper_table")
[ -n "$demo_design" ] && opts+=(--demo-design "$demo_design")
[ -n "$random_data" ] && opts+=(--random-data "$random_data")
for x in $systems; do opts+=(--system "$x"); done
for x in $ablations; do opts+=(--ablation "$x"); done
for x in $random_ablations; do opts+=(--random-ablation "$x"); done
for x in $paper_refs; do opts+=(--paper-ref "$x"); done
for x in $w1_inputs; do opts+=(--w1-inputs "$x"); done
for x in $quote_configs; do opts+=(--config "$x"); done
# shellcheck disable=SC2086  # $cmd is word-split on purpose ("slurm.pl --config ...")
$cmd "$exp/log/report.log" python -m emorec.bin.report "${opts[@]}" "$exp" "$out" ||
  { echo "$0: report failed; see $exp/log/report.log" >&2; exit 1; }
