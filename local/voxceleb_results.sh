#!/usr/bin/env bash
# Usage: local/voxceleb_results.sh [options] <MODEL> <TRAIN_CONFIG> <TRAIN_DATA> <OUT_MD> <NAME=SCORE_DIR>...
#  e.g.: local/voxceleb_results.sh --setup demo --corpus "demo corpus" --command "./run.sh" \
#          exp/resnet_demo/avg_model.pt conf/train_demo.yaml data/voxceleb_train RESULTS.md \
#          "Vox1-O (cleaned)=exp/resnet_demo/scores_vox1_o"
#
# Writes this experiment's section of the recipe's RESULTS.md: one row per trial list
# (EER, minDCF from steps/score_trials.sh's SCORE_DIR/results.txt), the model's parameter
# count (python -m emorec.bin.model_info), the training speakers, and the command that
# made it (quoted so it can be pasted back). RESULTS.md holds one section per experiment
# ("## setup S, corpus C"); a rerun replaces its own section and keeps the others.
# Written through a .tmp name.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

setup=                           # the recipe's --setup (paper | demo)
corpus=                          # the corpus, as RESULTS.md names it
command=                         # the command that ran the experiment

. "$EMOREC_ROOT/utils/parse_options.sh"
positional_args 5- "$@"
model=$1
config=$2
train_data=$3
out=$4
shift 4
[ -n "$setup" ] && [ -n "$corpus" ] || usage_error "--setup and --corpus are needed"
for f in "$model" "$train_data/spk2utt"; do
  [ -s "$f" ] || { echo "$0: missing $f" >&2; exit 1; }
done
# from the checkpoint: a rerun that finds the model up to date rewrites the training log
params=$(python -m emorec.bin.model_info "$model" | awk '$1 == "parameters" {print $2}')
[ -n "$params" ] || { echo "$0: no parameter count for $model (python -m emorec.bin.model_info)" >&2; exit 1; }
heading="## setup $setup, corpus $corpus"
section=$(
  echo "$heading"
  echo
  echo "Cosine scoring of the embeddings of \`$model\` ($(wc -l < "$train_data/spk2utt") training speakers" \
       "in \`$train_data\`); written on $(date -u +%Y-%m-%d) by"
  echo
  echo "    ${command:-(command not recorded)}"
  echo
  echo "| trial list | model | config | parameters | trials | EER | minDCF (P_target=0.01) |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  for x in "$@"; do
    res=${x#*=}/results.txt
    [ -s "$res" ] || { echo "$0: missing $res" >&2; exit 1; }
    echo "| ${x%%=*} | \`$model\` | \`$config\` | $params | $(awk '/^trials:/ {print $2}' "$res")" \
         "| $(awk '/^EER:/ {print $2}' "$res") | $(awk '/^minDCF/ {print $2}' "$res") |"
  done
  echo
  echo "Chance level: EER 50%, minDCF 1.0. Trial scores: \`SCORE_DIR/scores\` of ${*#*=}."
  case "$*" in
    *Vox1-[EH]*) echo "Vox1-E/H hold VoxCeleb1 dev speakers, which are in the training set here:" \
                      "not a clean test (the Vox1-O speakers are kept out of training)." ;;
  esac
)
# Replace this experiment's section (from its heading to the next "## "), or append it.
{
  if [ -f "$out" ]; then
    # (through the environment: awk -v would interpret the backslashes of the command)
    H=$heading S=$section awk '
      $0 == ENVIRON["H"] { print ENVIRON["S"]; skip = 1; done = 1; next }
      skip && /^## / { skip = 0; print "" }
      !skip { print }
      END { if (!done) printf "\n%s\n", ENVIRON["S"] }' "$out" | cat -s
  else
    printf '# VoxCeleb speaker verification\n\n%s\n' "$section"
  fi
} > "$out.tmp"
mv "$out.tmp" "$out"
printf '%s\n' "$section"
