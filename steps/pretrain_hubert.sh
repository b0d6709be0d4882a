#!/usr/bin/env bash
# Usage: steps/pretrain_hubert.sh [options] <DATA_DIR> <EXP_DIR>
#  e.g.: steps/pretrain_hubert.sh --cmd "$cuda_cmd" --pretrain-config conf/hubert_demo.yaml \
#          data/voxceleb_train exp/hubert_demo
#
# The demo's stand-in for a downloaded HuBERT (facebook/hubert-base-ls960 cannot be
# fetched offline): a small HuBERT pre-trained on the audio of DATA_DIR (wav.scp; labels
# are never read) like HuBERT's first iteration: k-means over MFCC frames gives frame
# targets, then masked prediction of those targets (emorec.bin.pretrain_hubert). As
# hubert-base-ls960 was pre-trained on LibriSpeech, apart from the emotion corpora, the
# recipes pre-train it once on the demo speaker corpus (egs/voxceleb stage 6) and share it.
# One job through $cmd; its log is EXP_DIR/log/pretrain.log. Writes EXP_DIR/model, an
# ordinary HubertModel directory that steps/train_fold.sh --family ssl (--ssl-model) loads like
# hubert-base-ls960. A killed job resumes from its last epoch checkpoint; with
# EXP_DIR/model present (written last) the job is skipped.
#
# Options:
#   --cmd CMD                job runner (run.pl, slurm.pl ...)            [run.pl]
#   --pretrain-config FILE   YAML config (emorec.train.ssl_pretrain)       [conf/hubert_demo.yaml]
#   --num-threads N          torch CPU threads of the job                 [1]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

cmd=run.pl
pretrain_config=conf/hubert_demo.yaml
num_threads=1

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
data=$1
dir=$2

[ -s "$data/wav.scp" ] || { echo "$0: missing $data/wav.scp" >&2; exit 1; }
[ -r "$pretrain_config" ] || { echo "$0: cannot read $pretrain_config" >&2; exit 1; }
mkdir -p "$dir/log"

$cmd --num-threads "$num_threads" "$dir/log/pretrain.log" \
  python -m emorec.bin.pretrain_hubert --config "$pretrain_config" --num-threads "$num_threads" "$data" "$dir"

[ -s "$dir/model/config.json" ] || { echo "$0: no $dir/model; see $dir/log/pretrain.log" >&2; exit 1; }
echo "$0: HuBERT encoder of $data in $dir/model"
