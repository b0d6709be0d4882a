#!/usr/bin/env bash
# Usage: local/make_demo_corpus.sh [--seed 0] [--size small|tiny] [--nj 2] <OUT_DIR>
#  e.g.: local/make_demo_corpus.sh --seed 0 demo
#
# Synthesises, with espeak-ng, OUT_DIR/IEMOCAP_full_release (5 sessions, 10 actors,
# the real release's layout and traps; small: ~100 kept utterances per session,
# tiny: ~16) and OUT_DIR/VoxCeleb1 (wav/idXXXXX/<video>/NNNNN.wav + veri_test2.txt).
# Same seed -> byte-identical files. Skips the work when both trees exist.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

seed=0
size=small
nj=2
. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 1 "$@"
out=$1
command -v espeak-ng >/dev/null || { echo "$0: espeak-ng not found; run tools/install.sh" >&2; exit 1; }
mkdir -p "$out"
python -m emorec.bin.make_demo_corpus --seed "$seed" --size "$size" --workers "$nj" "$out"
for d in IEMOCAP_full_release VoxCeleb1; do
  [ -d "$out/$d" ] || { echo "$0: $out/$d was not created" >&2; exit 1; }
done
