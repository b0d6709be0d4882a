#!/usr/bin/env bash
# Usage: steps/score_package.sh [options] <MODEL_DIR> <DATA_DIR> [<OUT_DIR>]
#  e.g.: steps/score_package.sh exp/model data/emo7/ravdess exp/model_ravdess
#
# Scores every utterance of DATA_DIR (wav.scp; utt2emo for UA/WA) with a packaged model
# (steps/export_model.sh) as its users would: each recording through the package's own
# preprocessing, ASR and system (emorec.bin.score_package). Writes OUT_DIR/scores.ark,
# classes.txt and, with utt2emo, summary.txt (UA, WA in %); OUT_DIR defaults to
# MODEL_DIR/scores/<basename of DATA_DIR>.
#
# Options:
#   --cmd CMD          job runner                                        [run.pl]
#   --use-text BOOL    transcripts from DATA_DIR/text (false: the package's ASR)  [false]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

cmd=run.pl
use_text=false

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2-3 "$@"
check_enum use_text true false
model=$1
data=$2
out=${3:-$model/scores/$(basename "$data")}
[ -f "$model/manifest.json" ] || { echo "$0: $model: no manifest.json (not an exported model)" >&2; exit 1; }
[ -s "$data/wav.scp" ] || { echo "$0: no $data/wav.scp" >&2; exit 1; }
mkdir -p "$out/log"
$cmd "$out/log/score.log" python -m emorec.bin.score_package --use-text "$use_text" "$model" "$data" "$out"
echo "$0: $(tr '\n' ' ' < "$out/summary.txt" 2>/dev/null || echo "scores in $out/scores.ark")"
