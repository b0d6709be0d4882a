#!/usr/bin/env bash
# Usage: local/emo7_splits.sh [--seed 0] [--augment-target 0] [--augment-ops OPS] <ALL_DIR> <OUT_DIR>
#  e.g.: local/emo7_splits.sh --seed 0 data/emo7/all data/emo7
#
# The three split protocols of egs/emo7 as data dirs (emorec.bin.make_emo7_splits):
#   OUT_DIR/strat/{train,valid,test}           stratified by class and corpus (paper 004)
#   OUT_DIR/spk/{train,valid,test}             speaker-independent (sentences shared)
#   OUT_DIR/spksent/{train,valid,test}         no speaker, sentence or dialog on two sides
#   OUT_DIR/loco/<corpus>/{train,valid,test}   leave one corpus out
# then, for each protocol, the class-balanced training set <protocol>/train_aug: train
# plus augmented copies (time stretch, pitch shift, gain, noise) of TRAINING
# utterances until each class has --augment-target utterances (0: the largest class);
# wavs under OUT_DIR/audio/aug/<protocol>, origins in train_aug/utt2orig.
# Every dir is checked with utils/validate_data_dir.sh; the counts tables are printed.
# Restartable: the splits are skipped when OUT_DIR/splits.done exists, a protocol's
# augmentation when its train_aug/utt2orig exists.
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
if [ ! -f "$out/splits.done" ]; then
  python -m emorec.bin.make_emo7_splits --seed "$seed" "$all" "$out"
  touch "$out/splits.done"
fi
protocols="strat spk spksent"
for d in "$out"/loco/*/; do
  protocols+=" loco/$(basename "$d")"
done
text_opt=()
[ -f "$all/text" ] || text_opt=(--no-text)
for p in $protocols; do
  if [ ! -f "$out/$p/train_aug/utt2orig" ]; then
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
