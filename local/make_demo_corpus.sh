#!/usr/bin/env bash
# Usage: local/make_demo_corpus.sh [--set iemocap|emo7] [--seed 0] [--size small|tiny] [--nj 2] <OUT_DIR>
#  e.g.: local/make_demo_corpus.sh --seed 0 demo
#
# --set emo7 synthesises OUT_DIR/{CREMA-D,RAVDESS,SAVEE,TESS,IEMOCAP_full_release} in
# their release layouts (emorec.data.demo_emo7; IEMOCAP at size tiny).
# --set iemocap (default) synthesises, with espeak-ng, OUT_DIR/IEMOCAP_full_release (5 sessions, 10 actors,
# the real release's layout and traps; small: ~100 kept utterances per session,
# tiny: ~16) and OUT_DIR/VoxCeleb1 (wav/idXXXXX/<video>/NNNNN.wav + veri_test2.txt).
# and OUT_DIR/IEMOCAP_design.txt (the generation plan: which cue each utterance carries,
# for the design-ceiling rows of RESULTS.md). The VoxCeleb voices are disjoint from the
# IEMOCAP actors' and speak at one (neutral) arousal level.
# Same seed -> byte-identical files. Skips the work when all three exist.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

set=iemocap
seed=0
size=small
nj=2
. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 1 "$@"
check_enum set iemocap emo7
check_enum size small tiny
out=$1
command -v espeak-ng >/dev/null || { echo "$0: espeak-ng not found; run tools/install.sh" >&2; exit 1; }
mkdir -p "$out"
python -m emorec.bin.make_demo_corpus --set "$set" --seed "$seed" --size "$size" --workers "$nj" "$out"
trees="IEMOCAP_full_release VoxCeleb1"
[ "$set" = emo7 ] && trees="CREMA-D RAVDESS SAVEE TESS IEMOCAP_full_release"
for d in $trees; do
  [ -d "$out/$d" ] || { echo "$0: $out/$d was not created" >&2; exit 1; }
done
