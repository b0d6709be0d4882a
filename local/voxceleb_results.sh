#!/usr/bin/env bash
# Usage: local/voxceleb_results.sh <MODEL> <TRAIN_CONFIG> <CORPUS> <SCORE_DIR> <OUT_MD>
#  e.g.: local/voxceleb_results.sh exp/resnet_demo/avg3.pt conf/train_demo.yaml "demo corpus" \
#          exp/resnet_demo/scores_voxceleb_test RESULTS.md
#
# Writes the recipe's RESULTS.md from steps/score_trials.sh's results.txt and the
# training log (parameter count), through a .tmp name.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

positional_args 5 "$@"
model=$1
config=$2
corpus=$3
scores=$4
out=$5
res=$scores/results.txt
log=$(dirname "$model")/log/train.log
for f in "$res" "$log"; do
  [ -s "$f" ] || { echo "$0: missing $f" >&2; exit 1; }
done
eer=$(awk '/^EER:/ {print $2}' "$res")
dcf=$(awk '/^minDCF/ {print $2}' "$res")
ntrials=$(awk '/^trials:/ {print $2}' "$res")
params=$(grep -o '[0-9]* parameters' "$log" | head -n 1)
{
  echo "# VoxCeleb speaker verification"
  echo
  echo "Cosine scoring of the embeddings of \`$model\` on $corpus; written by run.sh on $(date -u +%Y-%m-%d)."
  echo
  echo "| model | config | parameters | trials | EER | minDCF (P_target=0.01) |"
  echo "| --- | --- | --- | --- | --- | --- |"
  echo "| \`$model\` | \`$config\` | ${params% parameters} | $ntrials | $eer | $dcf |"
  echo
  echo "Chance level: EER 50%, minDCF 1.0. Trial scores: \`$scores/scores\`."
} > "$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
