#!/usr/bin/env bash
# Usage: steps/train_ssl.sh [options] <LOSO_DIR> <EXP_DIR>
#  e.g.: steps/train_ssl.sh --cmd "$cuda_cmd" --train-config conf/ssl_paper.yaml \
#          --ssl-model facebook/hubert-base-ls960 data/exp3/loso exp/ssl
#        steps/train_ssl.sh --cmd "$cuda_cmd" --family joint --train-config conf/joint_demo.yaml \
#          --ssl-model exp/hubert_demo/foldJOB/model --text-model exp/bert_demo/foldJOB data/exp3/loso exp/joint
#
# Fine-tunes a self-supervised speech encoder (HuBERT, wav2vec 2.0, WavLM; paper 004
# III.D) on every fold of LOSO_DIR (fold1 ... foldN, each with train/dev/test holding
# wav.scp + utt2emo, and text for --family joint), as one JOB=1:N array through $cmd.
# --family ssl: the encoder + a linear classifier; --family joint: the encoder on the
# audio and BERT on the transcript, concatenated, one linear layer, trained end to end.
# Per fold (emorec.bin.train_ssl): trains on train, selects the epoch by dev UA (never
# test), writes EXP_DIR/foldK/{dev,test}.logpost.ark (natural-log posteriors), classes.txt
# and train_history.json; logs in EXP_DIR/log/. A killed fold resumes from its last epoch
# checkpoint; a fold whose test.logpost.ark (written last) exists is skipped.
# In --ssl-model / --text-model the string JOB stands for the fold number (per-fold
# encoders, e.g. those of steps/pretrain_hubert.sh and steps/train_text.sh).
#
# Options:
#   --cmd CMD               job runner (run.pl, slurm.pl ...)             [run.pl]
#   --family ssl|joint      speech alone, or speech + text               [ssl]
#   --train-config FILE     YAML config (emorec.train.ssl)               [conf/ssl_demo.yaml]
#   --ssl-model M           local HuBERT/wav2vec2/WavLM dir or cached name; empty: the
#                           config's model.encoder (the job fails when that is null) []
#   --text-model M          joint: local BERT dir or cached name; empty: model.text_encoder []
#   --train-opts "OPTS"     more options of emorec.bin.train_ssl (--set k=v ...) []
#   --nfolds N              folds in LOSO_DIR                             [5]
#   --dev-set NAME          name of each fold's dev dir (egs/emo7: valid) [dev]
#   --num-threads N         torch CPU threads per job (the job asks for these + data.num_workers CPUs) [1]
#   --mem M                 memory per job; empty: 4G + 1G per loader worker []
#   --time T                time limit of a fold's job; empty: the queue's default []
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

cmd=run.pl
family=ssl
train_config=conf/ssl_demo.yaml
ssl_model=
text_model=
train_opts=
nfolds=5
dev_set=dev
num_threads=1
mem=
time=

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
data=$1
dir=$2

case "$family" in
  ssl) files="wav.scp utt2emo" ;;
  joint) files="wav.scp utt2emo text" ;;
  *) echo "$0: --family must be ssl or joint, not '$family'" >&2; exit 1 ;;
esac
for k in $(seq "$nfolds"); do
  for s in train "$dev_set" test; do
    for f in $files; do
      [ -s "$data/fold$k/$s/$f" ] || { echo "$0: missing $data/fold$k/$s/$f" >&2; exit 1; }
    done
  done
done
[ -r "$train_config" ] || { echo "$0: cannot read $train_config" >&2; exit 1; }
mkdir -p "$dir/log"

model_opts=()
[ -z "$ssl_model" ] || model_opts+=(--ssl-model "$ssl_model")
[ -z "$text_model" ] || model_opts+=(--text-model "$text_model")
# shellcheck disable=SC2086  # train_opts is a list of options
# shellcheck disable=SC2207  # one line of options
job_opts=($(python -m emorec.bin.job_resources --family "$family" --config "$train_config" --ngpu 1 \
  --threads "$num_threads" --mem "$mem" --time "$time"))
$cmd "${job_opts[@]}" JOB=1:"$nfolds" "$dir/log/train.JOB.log" \
  python -m emorec.bin.train_ssl --family "$family" --config "$train_config" "${model_opts[@]}" \
    --dev-set "$dev_set" --num-threads "$num_threads" $train_opts "$data/foldJOB" "$dir/foldJOB"

for k in $(seq "$nfolds"); do
  for f in classes.txt dev.logpost.ark test.logpost.ark; do
    [ -s "$dir/fold$k/$f" ] || { echo "$0: no $dir/fold$k/$f; see $dir/log/train.$k.log" >&2; exit 1; }
  done
done
echo "$0: $family models of $data in $dir/fold{1..$nfolds}"
