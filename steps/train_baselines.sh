#!/usr/bin/env bash
# steps/train_baselines.sh -- classical baselines of paper 004 (Table 6): every
# (feature set x classifier x split), hyper-parameters chosen on each split's valid part,
# test scored once.
#
# Usage: steps/train_baselines.sh [options] <splits-root> <exp-dir>
#   e.g. steps/train_baselines.sh --cmd "$train_cmd" --vector-dirs "data/all data/strat/train_aug" \
#          --splits "strat spk loco/crema_d loco/iemocap" data exp/baselines
#
# A split is <splits-root>/<split>/{<train-name>,valid,test} (data dirs with utt2emo).
# Vectors come from <dir>/<set>.scp of every dir of --vector-dirs and, per split, of
# <splits-root>/<split>/<dir> for every dir of --split-vector-dirs (steps/make_handcrafted.sh).
# Writes <exp-dir>/<set>/<classifier>/<split>/{valid,test}.logpost.ark, classes.txt,
# selected.yaml (emorec.bin.train_baselines); logs in <exp-dir>/<set>/log/.
# One job array per feature set, one job per split; a classifier whose selected.yaml
# matches its inputs is skipped, so a rerun after a kill finishes only the rest.
#
# Options:
#   --cmd CMD                job runner (run.pl)
#   --feature-sets "LIST"    handcrafted egemaps                              (handcrafted egemaps)
#   --splits "LIST"          split names below <splits-root>                  (required)
#   --vector-dirs "LIST"     data dirs holding <set>.scp                      (required)
#   --split-vector-dirs "LIST"  dirs below each split holding <set>.scp, e.g. the
#                            augmented copies of its training part; not read for a split
#                            whose <train-name> holds no copies (utt2orig maps each
#                            utterance to itself): that split trains on its train part ()
#   --classifiers "LIST"     subset of the config's classifiers               (all of them)
#   --baseline-config FILE   YAML of params and validation grids              (conf/baselines.yaml)
#   --train-name NAME        training part of each split, e.g. train_aug      (train)
#   --valid-name NAME        validation part of each split, e.g. valid_aug    (valid)
#   --classes "LIST"         posterior order                                  (labels found)
#   --seed N                                                                  (777)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

cmd=run.pl
feature_sets="handcrafted egemaps"
splits=
vector_dirs=
split_vector_dirs=
classifiers=
baseline_config=conf/baselines.yaml
train_name=train
valid_name=valid
classes=
seed=777

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
[ -n "$splits" ] || usage_error "--splits is required"
[ -n "$vector_dirs" ] || usage_error "--vector-dirs is required"
splits_root=$1
exp=$2
me=$(basename "$0")

[ -f "$baseline_config" ] || { echo "$me: no such file $baseline_config" >&2; exit 1; }
for s in $splits; do
  for part in "$train_name" "$valid_name" test; do
    [ -f "$splits_root/$s/$part/utt2emo" ] \
      || { echo "$me: no such file $splits_root/$s/$part/utt2emo" >&2; exit 1; }
  done
done

opts=(--config "$baseline_config" --train-name "$train_name" --valid-name "$valid_name" --seed "$seed" --skip-done)
[ -n "$classifiers" ] && opts+=(--classifiers "$classifiers")
[ -n "$classes" ] && opts+=(--classes "$classes")
nsplit=$(echo $splits | wc -w)
for fs in $feature_sets; do
  vec_opts=()
  for d in $vector_dirs; do
    [ -f "$d/$fs.scp" ] || { echo "$me: no such file $d/$fs.scp (run steps/make_handcrafted.sh" \
                                  "--feature-set $fs $d)" >&2; exit 1; }
    vec_opts+=(--vectors "$d/$fs.scp")
  done
  for d in $split_vector_dirs; do   # checked per split by the job (not read where no copies exist)
    vec_opts+=(--split-vectors "$d/$fs.scp")
  done
  mkdir -p "$exp/$fs/log"
  echo $splits | tr ' ' '\n' > "$exp/$fs/splits.txt"
  # $cmd is word-split on purpose ("slurm.pl --config conf/slurm.conf").
  # shellcheck disable=SC2086
  if ! $cmd JOB=1:"$nsplit" "$exp/$fs/log/train_baselines.JOB.log" \
      python -m emorec.bin.train_baselines "${opts[@]}" "${vec_opts[@]}" \
        --split-list "$exp/$fs/splits.txt" "$splits_root" JOB "$exp/$fs"; then
    echo "$me: training failed; see $exp/$fs/log/train_baselines.*.log" >&2
    grep -h "ERROR" "$exp/$fs"/log/train_baselines.*.log >&2 || true
    exit 1
  fi
done
echo "$me: trained the baselines of $feature_sets on $nsplit splits in $exp"
