#!/usr/bin/env bash
# steps/average_model.sh -- average the weights of the last N epoch checkpoints.
#
# Usage: steps/average_model.sh [--num N] <exp-dir> <out.pt>
#   e.g. steps/average_model.sh --num 3 exp/resnet34 exp/resnet34/avg3.pt
# Skips when <out.pt> was made from the same checkpoints (emorec.bin.average_model
# --skip-done; the restart rule of DEVELOPERS.md).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

num=3

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
exp=$1
out=$2
python -m emorec.bin.average_model --skip-done --exp-dir "$exp" --num "$num" --out "$out"
