#!/usr/bin/env bash
# Usage: steps/pretrain_hubert.sh [options] <LOSO_DIR> <EXP_DIR>
#  e.g.: steps/pretrain_hubert.sh --cmd "$cuda_cmd" --pretrain-config conf/hubert_demo.yaml \
#          data/exp3/loso exp/hubert_demo
#
# The demo's stand-in for a downloaded HuBERT (facebook/hubert-base-ls960 cannot be
# fetched offline): per fold of LOSO_DIR (fold1 ... foldN), a small HuBERT pre-trained
# on that fold's TRAIN audio only (foldK/train/wav.scp; labels are never read) like
# HuBERT's first iteration: k-means over MFCC frames gives frame targets, then masked
# prediction of those targets (emorec.bin.pretrain_hubert). One JOB=1:N array through
# $cmd; logs in EXP_DIR/log/. Writes EXP_DIR/foldK/model, an ordinary HubertModel
# directory that steps/train_fold.sh --family ssl (--ssl-model) loads like hubert-base-ls960. A killed
# job resumes from its last epoch checkpoint; a fold whose model/ exists (written
# last) is skipped.
#
# Options:
#   --cmd CMD                job runner (run.pl, slurm.pl ...)            [run.pl]
#   --pretrain-config FILE   YAML config (emorec.train.ssl_pretrain)       [conf/hubert_demo.yaml]
#   --nfolds N               folds in LOSO_DIR                            [5]
#   --num-threads N          torch CPU threads per job                    [1]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

cmd=run.pl
pretrain_config=conf/hubert_demo.yaml
nfolds=5
num_threads=1

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
data=$1
dir=$2

for k in $(seq "$nfolds"); do
  [ -s "$data/fold$k/train/wav.scp" ] || { echo "$0: missing $data/fold$k/train/wav.scp" >&2; exit 1; }
done
[ -r "$pretrain_config" ] || { echo "$0: cannot read $pretrain_config" >&2; exit 1; }
mkdir -p "$dir/log"

$cmd --num-threads "$num_threads" JOB=1:"$nfolds" "$dir/log/pretrain.JOB.log" \
  python -m emorec.bin.pretrain_hubert --config "$pretrain_config" --num-threads "$num_threads" \
    "$data/foldJOB/train" "$dir/foldJOB"

for k in $(seq "$nfolds"); do
  [ -s "$dir/fold$k/model/config.json" ] || { echo "$0: no $dir/fold$k/model; see $dir/log/pretrain.$k.log" >&2; exit 1; }
done
echo "$0: HuBERT encoders of $data in $dir/fold{1..$nfolds}/model"
