#!/usr/bin/env bash
# Usage: local/voxceleb_data_prep.sh [--trials FILE] [--test-spk-from-trials false] [--layouts "dev/aac"] <VOX_ROOT> <DATA_DIR>
#  e.g.: local/voxceleb_data_prep.sh --test-spk-from-trials true /corpora/VoxCeleb1 data/voxceleb
#
# VoxCeleb1 (VOX_ROOT/wav/idXXXXX/<video>/NNNNN.wav) and VoxCeleb2
# (VOX_ROOT/dev/aac/idXXXXX/<video>/NNNNN.m4a, read through an ffmpeg pipe at 16 kHz)
# -> DATA_DIR/{wav.scp,utt2spk,spk2utt}, utt id idXXXXX-<video>-NNNNN, spk idXXXXX.
# The trial list (--trials FILE, else VOX_ROOT/veri_test2.txt if present) becomes
# DATA_DIR/trials ("utt1 utt2 target|nontarget"); a malformed line or an unknown
# utterance stops with file:line.
# --test-spk-from-trials true: also write DATA_DIR_train (speakers not in the trials)
# and DATA_DIR_test (the trial speakers, with trials), e.g. data/voxceleb_train
# and data/voxceleb_test.
# --layouts "SUBDIRS": read only these sub-folders of VOX_ROOT (wav, dev/aac, aac,
# test/aac); e.g. "dev/aac" for the VoxCeleb2 training set. Default: every one found.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

trials=
test_spk_from_trials=false
layouts=
. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
root=$1
data=${2%/}
[ -d "$root" ] || { echo "$0: no such directory: $root" >&2; exit 1; }
mkdir -p "$data"

args=()
[ -n "$trials" ] && args+=(--trials "$trials")
for l in $layouts; do args+=(--layout "$l"); done
[ "$test_spk_from_trials" = true ] && args+=(--split-dirs "${data}_train" "${data}_test")
python -m emorec.bin.prepare_voxceleb "${args[@]}" "$root" "$data"

for f in wav.scp utt2spk spk2utt; do
  [ -s "$data/$f" ] || { echo "$0: $data/$f was not written" >&2; exit 1; }
done
