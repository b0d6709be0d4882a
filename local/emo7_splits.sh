#!/usr/bin/env bash
# Usage: local/emo7_splits.sh [--seed 0] [--augment-target 0] [--augment-ops OPS] [--balance largest|paper] <ALL_DIR> <OUT_DIR>
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
# --balance paper instead reads paper 004's Tables 1-2: train and valid pooled (<protocol>/pool),
# each class capped at the sum of --paper-per-class "TRAIN VALID" originals and augmented up
# to it (pool_aug), then split per class into train_aug and valid_aug (copies in both).
# Every dir is checked with utils/validate_data_dir.sh; the counts tables are printed.
# Restartable (the restart rule of DEVELOPERS.md): the splits are skipped when they were
# made from the same ALL_DIR (lists and audio) and seed (OUT_DIR/splits.done.stamp), a
# protocol's balancing when its train_aug was made from the same parts and balance
# (mode, sizes, ops, seed: train_aug.stamp). Copies of the paper balance go to
# OUT_DIR/audio/aug_paper/<protocol>, so the two modes never share a wav name; a killed
# run's copies are reused for the same fingerprint only.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

seed=0
augment_target=0
augment_ops="stretch pitch gain noise"
balance=largest            # largest: train augmented up to the largest class; paper: paper 004's train+valid balance
paper_per_class="1600 400" # --balance paper: utterances per class in train_aug and valid_aug
. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
check_enum balance largest paper
read -r n_train n_valid <<< "$paper_per_class"
[[ ${n_train:-} =~ ^[0-9]+$ && ${n_valid:-} =~ ^[0-9]+$ ]] || usage_error "--paper-per-class '$paper_per_class': expected two integers"
all=$1
out=$2
for f in utt2emo utt2corpus utt2spk wav.scp; do
  [ -f "$all/$f" ] || { echo "$0: no such file $all/$f" >&2; exit 1; }
done
. "$EMOREC_ROOT/utils/lib/stamp.sh"
# (ALL_DIR's lists by name: later stages add vectors to it)
fp=(--final "$out/splits.done" --step emo7_splits --version 2 --option "seed=$seed")
for f in wav.scp utt2spk utt2emo utt2corpus text spk2gender; do
  [ ! -f "$all/$f" ] || fp+=(--input "$all/$f")
done
if ! stamp_done "${fp[@]}"; then
  stamp_begin "${fp[@]}" --output "$out/strat" --output "$out/spk" --output "$out/spksent" --output "$out/loco" \
    --stale "$out/audio/aug" --stale "$out/audio/aug_paper"
  python -m emorec.bin.make_emo7_splits --seed "$seed" "$all" "$out"
  touch "$out/splits.done"
fi
protocols="strat spk spksent"
for d in "$out"/loco/*/; do
  protocols+=" loco/$(basename "$d")"
done
text_opt=()
[ -f "$all/text" ] || text_opt=(--no-text)
parts="train valid test train_aug"
if [ $balance = largest ]; then
  stamp="largest $augment_target $augment_ops"
else
  stamp="paper $n_train $n_valid $augment_ops"; parts+=" valid_aug"
fi
for p in $protocols; do
  fp=(--final "$out/$p/train_aug" --step augment_balance --version 2 --input "$out/$p/train"
      --option "seed=$seed" --option "balance=$stamp")
  [ $balance = largest ] || fp+=(--input "$out/$p/valid")
  if ! stamp_done "${fp[@]}"; then
    stamp_begin "${fp[@]}" --output "$out/$p/valid_aug" --output "$out/$p/pool" --output "$out/$p/pool_aug" \
      --stale "$out/audio/aug/$p" --stale "$out/audio/aug_paper/$p"
    if [ $balance = paper ]; then
      total=$((n_train + n_valid))
      rm -rf "$out/$p/pool.all"
      utils/combine_data.sh "$out/$p/pool.all" "$out/$p/train" "$out/$p/valid"
      python -m emorec.bin.emo7_balance_paper cap --seed "$seed" --per-class $total "$out/$p/pool.all" "$out/$p/pool"
      rm -rf "$out/$p/pool.all"
      python -m emorec.bin.augment_balance --seed "$seed" --target $total \
        --ops "$augment_ops" "$out/$p/pool" "$out/$p/pool_aug.tmp" "$out/audio/aug_paper/$p"
      mv "$out/$p/pool_aug.tmp" "$out/$p/pool_aug"
      # train_aug (the stamp's final output) written last
      python -m emorec.bin.emo7_balance_paper split --seed "$seed" --valid-per-class $n_valid \
        "$out/$p/pool_aug" "$out/$p/train_aug" "$out/$p/valid_aug"
    else
      python -m emorec.bin.augment_balance --seed "$seed" --target "$augment_target" \
        --ops "$augment_ops" "$out/$p/train" "$out/$p/train_aug.tmp" "$out/audio/aug/$p"
      rm -rf "$out/$p/train_aug"
      mv "$out/$p/train_aug.tmp" "$out/$p/train_aug"
    fi
  fi
  for part in $parts; do
    utils/validate_data_dir.sh --no-feats ${text_opt[@]+"${text_opt[@]}"} "$out/$p/$part"
  done
  dirs=()
  for part in $parts; do dirs+=("$out/$p/$part"); done
  python -m emorec.bin.emo7_counts "${dirs[@]}"
done
