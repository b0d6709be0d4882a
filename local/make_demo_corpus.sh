#!/usr/bin/env bash
# Usage: local/make_demo_corpus.sh [--set iemocap|emo7] [--seed 0] [--size small|tiny] [--nj 2] <OUT_DIR>
#  e.g.: local/make_demo_corpus.sh --seed 0 demo
#
# --set emo7 synthesises OUT_DIR/{CREMA-D,RAVDESS,SAVEE,TESS,IEMOCAP_full_release} in
# their release layouts (emorec.data.demo_emo7; IEMOCAP at size tiny).
# --set iemocap (default) synthesises, with espeak-ng, OUT_DIR/IEMOCAP_full_release (5 sessions, 10 actors,
# the real release's layout and traps; small: ~100 kept utterances per session,
# tiny: ~16) and OUT_DIR/VoxCeleb1 (wav/idXXXXX/<video>/NNNNN.wav + veri_test2.txt).
# Same seed -> byte-identical files. Skips the work when both trees exist.
set -euo pipefail

set=iemocap
seed=0
size=small
nj=2
[ -f ./path.sh ] && . ./path.sh
. utils/parse_options.sh

if [ $# -ne 1 ]; then
  echo "Usage: $0 [--set iemocap|emo7] [--seed N] [--size small|tiny] [--nj 2] <OUT_DIR>" >&2
  exit 1
fi
out=$1
command -v espeak-ng >/dev/null || { echo "$0: espeak-ng not found; run tools/install.sh" >&2; exit 1; }
mkdir -p "$out"
python -m emorec.bin.make_demo_corpus --set "$set" --seed "$seed" --size "$size" --workers "$nj" "$out"
trees="IEMOCAP_full_release VoxCeleb1"
[ "$set" = emo7 ] && trees="CREMA-D RAVDESS SAVEE TESS IEMOCAP_full_release"
for d in $trees; do
  [ -d "$out/$d" ] || { echo "$0: $out/$d was not created" >&2; exit 1; }
done
