#!/usr/bin/env bash
# Usage: steps/train_fold.sh [options] <FOLDS_DIR> <EXP_DIR>
#  e.g.: steps/train_fold.sh --cmd "$cuda_cmd" --family ssl --train-config conf/ssl_paper.yaml \
#          --model-opts "--ssl-model facebook/hubert-base-ls960" data/exp3/loso exp/ssl
#        steps/train_fold.sh --cmd "$cuda_cmd" --family joint --train-config conf/joint_demo.yaml \
#          --model-opts "--ssl-model exp/hubert_demo/foldJOB/model --text-model exp/text/encoder/foldJOB" \
#          data/exp3/loso exp/joint
#        steps/train_fold.sh --family cnn1d --train-config conf/cnn1d_demo.yaml data/emo7/folds/speech exp/cnn1d
#
# Trains one model family (emorec.train.families: resnet, mobilenet, cnn1d, text, ssl,
# joint) on every fold of FOLDS_DIR (fold1 ... foldN, each with train/dev/test holding
# utt2emo and the family's inputs: feats.scp, wav.scp, text), as one JOB=1:N array
# through $cmd. Per fold (emorec.bin.train_fold): trains on train, selects the epoch by
# dev UA (never test), saves the selected model for inference in EXP_DIR/foldK/model,
# scores dev and test in the same job: EXP_DIR/foldK/{dev,test}.logpost.ark (natural-log
# posteriors), classes.txt, train_history.json; logs in EXP_DIR/log/. A killed fold
# resumes from its last epoch checkpoint; a fold whose test.logpost.ark (written last)
# was trained from the same data, encoders, config and options is skipped (the restart
# rule, emorec.stamp). In --model-opts the string JOB stands for the fold number (per-fold
# encoders, e.g. those of steps/pretrain_hubert.sh and steps/train_text.sh).
#
# Options:
#   --cmd CMD               job runner (run.pl, slurm.pl ...)             [run.pl]
#   --family NAME           the model family                              [ssl]
#   --train-config FILE     YAML config (the family's schema)             [conf/ssl_demo.yaml]
#   --model-opts "OPTS"     the family's options, as shell words (a path with spaces quoted:
#                           printf %q): --ssl-model M, --text-model M (a local dir or cached
#                           name; empty: the config's), --init-from CKPT --transfer T []
#   --train-opts "OPTS"     more options of emorec.bin.train_fold (--set k=v, --seed N ...) []
#   --nfolds N              folds in FOLDS_DIR                            [5]
#   --dev-set NAME          name of each fold's dev dir (egs/emo7: valid) [dev]
#   --num-threads N         torch CPU threads per job (the job asks for these + data.num_workers CPUs) [1]
#   --ngpu N                0: CPU; 1: CUDA when visible                  [1]
#   --mem M                 memory per job; empty: 4G + 1G per loader worker []
#   --time T                time limit of a fold's job; empty: the queue's default []
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

cmd=run.pl
family=ssl
train_config=conf/ssl_demo.yaml
model_opts=
train_opts=
nfolds=5
dev_set=dev
num_threads=1
ngpu=1
mem=
time=

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
data=$1
dir=$2

files=$(python -m emorec.bin.train_fold --family "$family" --print-inputs)
for k in $(seq "$nfolds"); do
  for s in train "$dev_set" test; do
    for f in $files; do
      [ -s "$data/fold$k/$s/$f" ] || { echo "$0: missing $data/fold$k/$s/$f" >&2; exit 1; }
    done
  done
done
[ -r "$train_config" ] || { echo "$0: cannot read $train_config" >&2; exit 1; }
mkdir -p "$dir/log"

eval "model_args=($model_opts)"   # shell words: quoted paths keep their spaces
# shellcheck disable=SC2207  # one line of options
job_opts=($(python -m emorec.bin.job_resources --family "$family" --config "$train_config" --ngpu "$ngpu" \
  --threads "$num_threads" --mem "$mem" --time "$time"))
# shellcheck disable=SC2086  # train_opts is a list of options
$cmd "${job_opts[@]}" JOB=1:"$nfolds" "$dir/log/train.JOB.log" \
  python -m emorec.bin.train_fold --family "$family" --config "$train_config" ${model_args[@]+"${model_args[@]}"} \
    --dev-set "$dev_set" --ngpu "$ngpu" --num-threads "$num_threads" $train_opts "$data/foldJOB" "$dir/foldJOB" || {
  echo "$0: train failed; see $dir/log/train.*.log" >&2; job_errors "$dir/log/train".*.log; exit 1; }

for k in $(seq "$nfolds"); do
  for f in classes.txt dev.logpost.ark test.logpost.ark model/family.json; do
    [ -s "$dir/fold$k/$f" ] || { echo "$0: no $dir/fold$k/$f; see $dir/log/train.$k.log" >&2; exit 1; }
  done
done
echo "$0: $family models of $data in $dir/fold{1..$nfolds}"
