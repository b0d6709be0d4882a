#!/usr/bin/env bash
# steps/average_model.sh -- average the weights of the last N epoch checkpoints.
#
# Usage: steps/average_model.sh [--num N] <exp-dir> <out.pt>
#   e.g. steps/average_model.sh --num 3 exp/resnet34 exp/resnet34/avg3.pt
# Skips when <out.pt> exists and is not older than the checkpoints it averages
# (emorec.bin.average_model --skip-done; the restart rule of DEVELOPERS.md).
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
python -m emorec.bin.average_model --skip-done --exp-dir "$exp" --num "$num" --out "$out"
