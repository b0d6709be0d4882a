#!/usr/bin/env bash
# Usage: steps/train_ser.sh [options] <LOSO_DIR> <EXP_DIR>
#  e.g.: steps/train_ser.sh --cmd "$cuda_cmd" --mode finetune \
#          --speaker-model ../voxceleb/exp/resnet_demo/avg.pt data/exp3/loso exp/ser_finetune
#
# Speech emotion recognition by transfer from a speaker ResNet (papers 000 and 003),
# on every leave-one-session-out fold of LOSO_DIR (fold1 ... foldN with train/dev/test,
# each holding feats.scp + utt2emo), the folds as one JOB=1:N array through $cmd.
# Modes (--mode):
#   scratch    no transfer: the network starts from random weights
#   probe      the speaker model's convolutional layers frozen; new embedding and
#              classifier layers trained (optim.lr, 0.1 in the paper)
#   finetune   all layers trained: the convolutional layers at optim.lr_trunk (1e-3 in the
#              paper), the new layers at optim.lr (two learning rates)
# Training takes random T-frame chunks; every epoch is evaluated on the fold's dev set
# with whole segments and best.pt keeps the best dev UA (the test set is never used for
# selection). Then best.pt scores dev and test: EXP_DIR/foldK/{dev,test}.logpost.ark
# (natural-log posteriors, kaldiio text ark) + classes.txt. Restarts (--skip-done of the
# entry points, the restart rule of DEVELOPERS.md): a fold whose final.pt was trained from
# the same data, config and options is not trained again, scores of the same best.pt and
# data are not made again, so a rerun does only what is missing or changed and a killed
# training resumes from its last epoch.
#
# Options:
#   --cmd CMD               job runner ("$cuda_cmd": run.pl --gpu 1 / slurm.pl --gpu 1) [run.pl]
#   --mode M                scratch | probe | finetune                    [finetune]
#   --speaker-model CKPT    speaker checkpoint (needed by probe/finetune) []
#   --train-config FILE     training YAML (emorec.train.config)            [conf/ser_demo.yaml]
#   --train-opts "OPTS"     more emorec.bin.train options, e.g. "--set augment.policy=aggressive" []
#   --nfolds N              folds in LOSO_DIR                               [5]
#   --ngpu N                0: CPU; 1: one process (CUDA when available); N>1: N DDP processes [1]
#   --nnodes N              nodes per fold job, each running --ngpu processes (slurm.pl --nodes N) [1]
#   --num-threads T         CPUs per node; empty: (data.num_workers + 1) per process []
#   --mem M                 memory per node; empty: (4G + 1G per loader worker) per process []
#   --time T                time limit of a fold's training job; empty: the queue's default []
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

cmd=run.pl
mode=finetune
speaker_model=
train_config=conf/ser_demo.yaml
train_opts=
nfolds=5
ngpu=1
nnodes=1
num_threads=
mem=
time=

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
data=$1
dir=$2

case $mode in
  scratch) init=() ;;
  probe|finetune)
    [ -f "$speaker_model" ] || { echo "$0: --mode $mode needs --speaker-model CKPT (got '$speaker_model')" >&2; exit 1; }
    init=(--init-from "$speaker_model") ;;
  *) echo "$0: unknown --mode $mode (scratch, probe, finetune)" >&2; exit 1 ;;
esac
[ -r "$train_config" ] || { echo "$0: cannot read $train_config" >&2; exit 1; }
for k in $(seq "$nfolds"); do
  for s in train dev test; do
    for f in feats.scp utt2emo; do
      [ -s "$data/fold$k/$s/$f" ] || { echo "$0: missing $data/fold$k/$s/$f" >&2; exit 1; }
    done
  done
done
mkdir -p "$dir/log"

# shellcheck disable=SC2206  # train_opts is a list of options
extra=($train_opts)
failed() { echo "$0: $1 failed; see $dir/log/$1.*.log" >&2; job_errors "$dir/log/$1".*.log; exit 1; }
# shellcheck disable=SC2207  # one line of options
job_opts=($(python -m emorec.bin.job_resources --config "$train_config" --ngpu "$ngpu" --nnodes "$nnodes" \
  --num-threads "$num_threads" --mem "$mem" --time "$time"))
$cmd "${job_opts[@]}" JOB=1:"$nfolds" "$dir/log/train.JOB.log" \
  python -m emorec.bin.train --config "$train_config" --data "$data/foldJOB/train" --labels "$data/foldJOB/train/utt2emo" \
    --dev-data "$data/foldJOB/dev" --exp-dir "$dir/foldJOB" --transfer "$mode" "${init[@]}" \
    --ngpu "$ngpu" --nnodes "$nnodes" --resume --skip-done ${extra[@]+"${extra[@]}"} || failed train

# dev and test in one process per fold: one start-up and one model load
$cmd JOB=1:"$nfolds" "$dir/log/score.JOB.log" \
  python -m emorec.bin.score_posteriors --skip-done --model "$dir/foldJOB/best.pt" \
    --data "$data/foldJOB/dev" --out "$dir/foldJOB/dev.logpost.ark" \
    --data "$data/foldJOB/test" --out "$dir/foldJOB/test.logpost.ark" || failed score
echo "$0: $mode models of $data in $dir/fold{1..$nfolds}"
