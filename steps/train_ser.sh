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
# with whole segments and the epoch of the best dev UA is kept (the test set is never used
# for selection); in the same job it scores dev and test: steps/train_fold.sh --family
# resnet (EXP_DIR/foldK/{train/,model/,dev.logpost.ark,test.logpost.ark,classes.txt}).
# Restarts (the restart rule of DEVELOPERS.md): a fold trained from the same data, config
# and options is not trained again; a killed fold resumes from its last epoch.
#
# Options:
#   --cmd CMD               job runner ("$cuda_cmd": run.pl --gpu 1 / slurm.pl --gpu 1) [run.pl]
#   --mode M                scratch | probe | finetune                    [finetune]
#   --speaker-model CKPT    speaker checkpoint (needed by probe/finetune) []
#   --train-config FILE     training YAML (emorec.train.config)            [conf/ser_demo.yaml]
#   --train-opts "OPTS"     more emorec.bin.train_fold options, e.g. "--set augment.policy=aggressive" []
#   --nfolds N              folds in LOSO_DIR                               [5]
#   --ngpu N                0: CPU; 1: one process (CUDA when available)    [1]
#   --num-threads N         torch CPU threads per job (the job asks for these + data.num_workers CPUs) [1]
#   --mem M                 memory per job; empty: 4G + 1G per loader worker []
#   --time T                time limit of a fold's job; empty: the queue's default []
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

cmd=run.pl
mode=finetune
speaker_model=
train_config=conf/ser_demo.yaml
train_opts=
nfolds=5
ngpu=1
num_threads=1
mem=
time=

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
data=$1
dir=$2

case $mode in
  scratch) init_opts= ;;
  probe|finetune)
    [ -f "$speaker_model" ] || { echo "$0: --mode $mode needs --speaker-model CKPT (got '$speaker_model')" >&2; exit 1; }
    init_opts="--init-from $(printf %q "$speaker_model")" ;;
  *) echo "$0: unknown --mode $mode (scratch, probe, finetune)" >&2; exit 1 ;;
esac
"$EMOREC_ROOT/steps/train_fold.sh" --cmd "$cmd" --family resnet --train-config "$train_config" --nfolds "$nfolds" \
  --ngpu "$ngpu" --num-threads "$num_threads" --mem "$mem" --time "$time" --model-opts "--transfer $mode $init_opts" --train-opts "$train_opts" "$data" "$dir"
echo "$0: $mode models of $data in $dir/fold{1..$nfolds}"
