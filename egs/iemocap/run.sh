#!/usr/bin/env bash
# Multimodal emotion recognition on IEMOCAP (Padi et al., Odyssey 2022):
# a speaker ResNet transferred to speech emotion recognition, BERT on the transcripts,
# late fusion of their log-posteriors; leave-one-session-out over the 5 sessions.
# Without --iemocap-root the recipe synthesises the demo corpus and runs on it.
#
# Usage: ./run.sh [--stage N] [--stop-stage N] [--iemocap-root DIR] [--exp-set 1|2|3] ...
#   stage 0: data dir (and the demo corpus when no corpus is given)
#   stage 1: 128-dim log-mel features, leave-one-session-out folds
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
. ./path.sh
. ./cmd.sh

stage=0
stop_stage=100
nj=4                             # parallel feature jobs
iemocap_root=                    # IEMOCAP_full_release; empty: demo corpus
exp_set=3                        # class set: 1 ang/hap/neu/sad, 2 ang/exc/neu/sad, 3 hap+exc merged
demo_dir=demo
seed=777

. utils/parse_options.sh

if [ -z "$iemocap_root" ]; then
  iemocap_root=$demo_dir/IEMOCAP_full_release
  use_demo=true
else
  use_demo=false
fi
data=data/exp$exp_set

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  if $use_demo; then
    local/make_demo_corpus.sh --seed $seed "$demo_dir"
  fi
  local/iemocap_data_prep.sh --exp $exp_set "$iemocap_root" "$data/all"
  utils/validate_data_dir.sh --no-feats "$data/all"
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  steps/make_fbank.sh --nj $nj --cmd "$train_cmd" --fbank-config conf/fbank.conf \
    "$data/all" exp/make_fbank/exp$exp_set fbank/exp$exp_set
  utils/validate_data_dir.sh "$data/all"
  local/make_loso_folds.sh "$data/all" "$data/loso"
  for d in "$data"/loso/fold*/{train,dev,test}; do
    utils/validate_data_dir.sh "$d"
  done
fi
