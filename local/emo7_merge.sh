#!/usr/bin/env bash
# Usage: local/emo7_merge.sh [options] <OUT_DIR> <SRC_DATA_DIR>...
#  e.g.: local/emo7_merge.sh --nj 4 data/emo7 data/cremad data/ravdess data/savee data/tess data/iemocap
#
# The seven-class corpus of paper 004 (Sharma), from per-corpus data dirs that have
# utt2emo and utt2corpus:
#   1. utils/combine_data.sh -> OUT_DIR/combined
#   2. labels mapped to angry calm disgust fearful happy sad surprised (emorec.data.emo7:
#      neutral dropped; IEMOCAP xxx neu oth fru dropped, exc too unless
#      --exc-to-happy true) -> OUT_DIR/mapped
#   3. statistical-model VAD (steps/compute_vad.sh; audio read at 16 kHz) -> mapped/vad.scp
#   4. with --noise-reduction true, stationary noise gated out (emorec.denoise, the noise
#      profile from the non-speech frames); non-speech frames removed (pauses < 500 ms
#      kept), utterances left shorter than --min-duration dropped: OUT_DIR/all, its wav.scp
#      naming 16 kHz 16-bit wavs written under OUT_DIR/audio/trimmed (trimmed_nr with
#      noise reduction; emorec.bin.trim_silence); OUT_DIR/all/preprocessing says which
#   5. the corpus x class counts table (paper 004, Table 4), also in OUT_DIR/all/counts.txt;
#      the corpus roots the data preps recorded (SRC/corpus_roots) in OUT_DIR/all/corpus_roots
# Options: --nj N (4), --cmd CMD (run.pl), --exc-to-happy true|false (false),
#          --min-duration SECONDS (1.0), --vad-config FILE (built-in VAD settings),
#          --noise-reduction true|false (false).
# Restartable (the restart rule of DEVELOPERS.md): nothing is done when OUT_DIR/all/counts.txt
# (written last) was made from the same source dirs (their lists and audio), options and VAD
# config; otherwise all is redone (the VAD jobs made from the same audio are kept).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

nj=4
cmd=run.pl
exc_to_happy=false
min_duration=1.0
vad_config=
noise_reduction=false
. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2- "$@"
check_enum noise_reduction true false
out=$1
shift
for d in "$@"; do
  for f in utt2emo utt2corpus wav.scp corpus_roots; do
    [ -f "$d/$f" ] || { echo "$0: no such file $d/$f" >&2; exit 1; }
  done
done
preprocessing="noise_reduction $noise_reduction"
wav_dir=$out/audio/trimmed nr_opt=()
if [ "$noise_reduction" = true ]; then nr_opt=(--noise-reduction) wav_dir=$out/audio/trimmed_nr; fi
. "$EMOREC_ROOT/utils/lib/stamp.sh"
fp=(--final "$out/all/counts.txt" --step emo7_merge --version 1 "${@/#/--input=}"
    --option "exc_to_happy=$exc_to_happy" --option "min_duration=$min_duration"
    --option "noise_reduction=$noise_reduction")
[ -z "$vad_config" ] || fp+=(--input "$vad_config")
if stamp_done "${fp[@]}"; then
  cat "$out/all/counts.txt"
  exit 0
fi
# (trimmed wavs of a killed run with the same fingerprint are reused: emorec.bin.trim_silence)
stamp_begin "${fp[@]}" --output "$out/combined" --output "$out/mapped" --output "$out/all" \
  --stale "$wav_dir"
exc_opt=()
[ "$exc_to_happy" = true ] && exc_opt=(--exc-to-happy)

utils/combine_data.sh "$out/combined" "$@"
python -m emorec.bin.emo7_map_labels ${exc_opt[@]+"${exc_opt[@]}"} "$out/combined" "$out/mapped"
steps/compute_vad.sh --nj "$nj" --cmd "$cmd" ${vad_config:+--vad-config "$vad_config"} \
  "$out/mapped" "$out/log" "$out/vad"
python -m emorec.bin.trim_silence --min-duration "$min_duration" ${nr_opt[@]+"${nr_opt[@]}"} \
  ${vad_config:+--vad-config "$vad_config"} "$out/mapped" "$out/all" "$wav_dir"
text_opt=()
[ -f "$out/all/text" ] || text_opt=(--no-text)
utils/validate_data_dir.sh --no-feats ${text_opt[@]+"${text_opt[@]}"} "$out/all"
for d in "$@"; do cat "$d/corpus_roots"; done | LC_ALL=C sort > "$out/all/corpus_roots"
python -m emorec.bin.emo7_counts "$out/all" > "$out/all/counts.txt.tmp"
echo "$preprocessing" > "$out/all/preprocessing"
mv "$out/all/counts.txt.tmp" "$out/all/counts.txt"
cat "$out/all/counts.txt"
