#!/usr/bin/env bash
# steps/average_model.sh -- average the weights of the last N epoch checkpoints.
#
# Usage: steps/average_model.sh [--num N] <exp-dir> <out.pt>
#   e.g. steps/average_model.sh --num 3 exp/resnet34 exp/resnet34/avg3.pt
# Skips when <out.pt> exists and is newer than every epoch checkpoint.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

num=3

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
exp=$1
out=$2
me=$(basename "$0")
ls "$exp"/epoch_*.pt >/dev/null 2>&1 || { echo "$me: no epoch checkpoints in $exp" >&2; exit 1; }
if [ -f "$out" ] && [ -z "$(find "$exp" -maxdepth 1 -name 'epoch_*.pt' -newer "$out")" ]; then
  echo "$me: $out is up to date"
  exit 0
fi
python -m emorec.bin.average_model --exp-dir "$exp" --num "$num" --out "$out"
