#!/usr/bin/env bash
# steps/average_model.sh -- average the weights of the last N epoch checkpoints.
#
# Usage: steps/average_model.sh [--num N] <exp-dir> <out.pt>
#   e.g. steps/average_model.sh --num 3 exp/resnet34 exp/resnet34/avg3.pt
# Skips when <out.pt> exists and is newer than every epoch checkpoint.
set -euo pipefail

num=3

echo "$0 $*"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/utils/parse_options.sh"

if [ $# -ne 2 ]; then
  awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; seen = 1; next } seen || NF { exit }' "$0" >&2
  exit 1
fi
exp=$1
out=$2
me=$(basename "$0")
ls "$exp"/epoch_*.pt >/dev/null 2>&1 || { echo "$me: no epoch checkpoints in $exp" >&2; exit 1; }
if [ -f "$out" ] && [ -z "$(find "$exp" -maxdepth 1 -name 'epoch_*.pt' -newer "$out")" ]; then
  echo "$me: $out is up to date"
  exit 0
fi
python -m emorec.bin.average_model --exp-dir "$exp" --num "$num" --out "$out"
