#!/usr/bin/env bash
# Usage: steps/train_text.sh [options] <LOSO_DIR> <EXP_DIR>
#  e.g.: steps/train_text.sh --cmd "$cuda_cmd" --train-config conf/text_demo.yaml data/exp3/loso exp/text
#
# Fine-tunes the BERT text model (paper 000, 4.2.2) on every leave-one-session-out
# fold of LOSO_DIR (fold1 ... foldN, each with train/dev/test holding text + utt2emo),
# as one JOB=1:N array through $cmd (steps/train_fold.sh --family text). Per fold:
# trains on train, selects the epoch by dev UA (never test), and writes EXP_DIR/foldK/{dev,test}.logpost.ark (natural-log
# posteriors, kaldiio text ark), classes.txt, model/ (reloads offline) and
# train_history.json; logs in EXP_DIR/log/. A fold whose test.logpost.ark (written
# last) exists is skipped, so a rerun redoes only missing folds.
#
# The encoder: --text-model, else the config's model.encoder (bert-base-uncased in
# conf/text_paper.yaml), names a local BERT/RoBERTa directory or a model in the local
# Hugging Face cache (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub);
# one that is in neither fails before any job starts, naming both places. Only when
# neither names one (conf/text_demo.yaml), a small BERT and its WordPiece tokenizer are
# built per fold from that fold's TRAIN transcripts only (emorec.bin.make_text_encoder,
# with a short masked-LM pre-training) into EXP_DIR/encoder/foldK (--encoder-dir): the
# offline stand-in for a pretrained BERT; one already built there is reused.
#
# Options:
#   --cmd CMD               job runner (run.pl, slurm.pl ...)             [run.pl]
#   --train-config FILE     YAML fine-tuning config                      [conf/text_demo.yaml]
#   --text-model M          local dir or cached model name; empty: the config's model.encoder,
#                           and when that is null a small BERT built per fold from TRAIN text []
#   --encoder-opts "OPTS"   options of emorec.bin.make_text_encoder       []
#   --encoder-dir DIR       where the small BERT is built per fold (e.g. shared by the
#                           runs of several seeds, as a downloaded BERT is)  [EXP_DIR/encoder]
#   --train-opts "OPTS"     more emorec.bin.train_fold options, e.g. "--seed 2" []
#   --nfolds N              folds in LOSO_DIR                             [5]
#   --num-threads N         torch CPU threads per job                     [1]
#   --ngpu N                0: CPU; 1: CUDA when visible                  [1]
#   --dry-run true          print the encoder that would be used (and where it was
#                           found) and stop                               [false]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

cmd=run.pl
train_config=conf/text_demo.yaml
text_model=
encoder_opts=
encoder_dir=
train_opts=
nfolds=5
num_threads=1
ngpu=1
dry_run=false

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
data=$1
dir=$2
[ -n "$encoder_dir" ] || encoder_dir=$dir/encoder

[ -r "$train_config" ] || { echo "$0: cannot read $train_config" >&2; exit 1; }
origin=--text-model
if [ -z "$text_model" ]; then
  origin="model.encoder of $train_config"
  text_model=$(python -m emorec.bin.train_fold --family text --config "$train_config" --show-encoder)
fi
if [ -n "$text_model" ]; then
  hf_cache=${HF_HUB_CACHE:-${HF_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/huggingface}/hub}
  if [ -f "$text_model/config.json" ]; then
    where="local directory $text_model"
  elif compgen -G "$hf_cache/models--${text_model//\//--}/snapshots/*/config.json" >/dev/null; then
    where="Hugging Face cache $hf_cache"
  else
    echo "$0: text encoder '$text_model' (${origin}) not found: no directory" \
         "'$text_model' with a config.json (relative to $PWD), and no models--${text_model//\//--}" \
         "snapshot in the Hugging Face cache $hf_cache. Runs are offline (HF_HUB_OFFLINE=1): download" \
         "it where there is network (huggingface-cli download $text_model) or pass --text-model DIR." >&2
    exit 1
  fi
  description="encoder $text_model ($where)"
else
  description="encoder built per fold from the fold's train transcripts -> $encoder_dir/foldK"
fi
if $dry_run; then
  echo "$description"
  exit 0
fi

for k in $(seq "$nfolds"); do
  for s in train dev test; do
    for f in text utt2emo; do
      [ -s "$data/fold$k/$s/$f" ] || { echo "$0: missing $data/fold$k/$s/$f" >&2; exit 1; }
    done
  done
done
mkdir -p "$dir/log"

if [ -z "$text_model" ]; then
  # the config's model.encoder is null: the demo's small BERT, built per fold from TRAIN text
  # shellcheck disable=SC2086  # encoder_opts is a list of options
  $cmd --num-threads "$num_threads" JOB=1:"$nfolds" "$dir/log/make_encoder.JOB.log" \
    python -m emorec.bin.make_text_encoder --skip-done --num-threads "$num_threads" $encoder_opts \
      "$data/foldJOB/train/text" "$encoder_dir/foldJOB"
  text_model=$encoder_dir/foldJOB
fi

"$EMOREC_ROOT/steps/train_fold.sh" --cmd "$cmd" --family text --train-config "$train_config" --nfolds "$nfolds" \
  --num-threads "$num_threads" --ngpu "$ngpu" --model-opts "--text-model $(printf %q "$text_model")" \
  --train-opts "$train_opts" "$data" "$dir"
