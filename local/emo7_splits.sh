#!/usr/bin/env bash
# Usage: local/emo7_splits.sh [--seed 0] [--augment-target 0] [--augment-ops OPS] <ALL_DIR> <OUT_DIR>
#  e.g.: local/emo7_splits.sh --seed 0 data/emo7/all data/emo7
#
# The three split protocols of egs/emo7 as data dirs (emorec.bin.make_emo7_splits):
#   OUT_DIR/strat/{train,valid,test}           stratified by class and corpus (paper 004)
#   OUT_DIR/spk/{train,valid,test}             speaker-independent
#   OUT_DIR/loco/<corpus>/{train,valid,test}   leave one corpus out
# then, for each protocol, the class-balanced training set <protocol>/train_aug: train
# plus augmented copies (time stretch, pitch shift, gain, noise) of TRAINING
# utterances until each class has --augment-target utterances (0: the largest class);
# wavs under OUT_DIR/audio/aug/<protocol>, origins in train_aug/utt2orig.
# Every dir is checked with utils/validate_data_dir.sh; the counts tables are printed.
# Restartable (the restart rule of DEVELOPERS.md): the splits are skipped when they were
# made from the same ALL_DIR (lists and audio) and seed (OUT_DIR/splits.done.stamp), a
# protocol's augmentation when its train_aug was made from the same train part and
# options (train_aug.stamp).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

seed=0
augment_target=0
augment_ops="stretch pitch gain noise"
. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
all=$1
out=$2
for f in utt2emo utt2corpus utt2spk wav.scp; do
  [ -f "$all/$f" ] || { echo "$0: no such file $all/$f" >&2; exit 1; }
done
. "$EMOREC_ROOT/utils/lib/stamp.sh"
# (ALL_DIR's lists by name: later stages add vectors to it)
fp=(--final "$out/splits.done" --step emo7_splits --version 1 --option "seed=$seed")
for f in wav.scp utt2spk utt2emo utt2corpus text spk2gender; do
  [ ! -f "$all/$f" ] || fp+=(--input "$all/$f")
done
if ! stamp_done "${fp[@]}"; then
  stamp_begin "${fp[@]}" --output "$out/strat" --output "$out/spk" --output "$out/loco" \
    --stale "$out/audio/aug"
  python -m emorec.bin.make_emo7_splits --seed "$seed" "$all" "$out"
  touch "$out/splits.done"
fi
protocols="strat spk"
for d in "$out"/loco/*/; do
  protocols+=" loco/$(basename "$d")"
done
text_opt=()
[ -f "$all/text" ] || text_opt=(--no-text)
for p in $protocols; do
  fp=(--final "$out/$p/train_aug" --step augment_balance --version 1 --input "$out/$p/train"
      --option "seed=$seed" --option "target=$augment_target" --option "ops=$augment_ops")
  if ! stamp_done "${fp[@]}"; then
    stamp_begin "${fp[@]}" --stale "$out/audio/aug/$p"   # (a killed run's copies are reused)
    python -m emorec.bin.augment_balance --seed "$seed" --target "$augment_target" \
      --ops "$augment_ops" "$out/$p/train" "$out/$p/train_aug.tmp" "$out/audio/aug/$p"
    rm -rf "$out/$p/train_aug"
    mv "$out/$p/train_aug.tmp" "$out/$p/train_aug"
  fi
  for part in train valid test train_aug; do
    utils/validate_data_dir.sh --no-feats ${text_opt[@]+"${text_opt[@]}"} "$out/$p/$part"
  done
  python -m emorec.bin.emo7_counts "$out/$p"/{train,valid,test,train_aug}
done
