#!/usr/bin/env bash
# Speaker recognition on VoxCeleb: ResNet with statistics pooling (Padi et al. 2021/2022).
# Without --voxceleb-root the recipe synthesises the demo corpus and runs on it.
#
# Usage: ./run.sh [--stage N] [--stop-stage N] [--voxceleb-root DIR] [--train-config FILE] ...
#   stage 0: data dirs (and the demo corpus when no corpus is given)
#   stage 1: 128-dim log-mel features
#   stage 2: train the speaker model
#   stage 3: average the last checkpoints
#   stage 4: extract embeddings
#   stage 5: cosine scoring of the trials, EER / minDCF, RESULTS.md
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
. ./path.sh
. ./cmd.sh

stage=0
stop_stage=100
nj=4                             # parallel feature / embedding jobs
voxceleb_root=                   # VoxCeleb1 (wav/) or VoxCeleb2 (dev/aac/) root; empty: demo corpus
trials=                          # trial list (veri_test2.txt format); default: VOXCELEB_ROOT/veri_test2.txt
demo_dir=demo                    # where the demo corpus is written
seed=777
train_config=conf/train_demo.yaml
exp=exp/resnet_demo
ngpu=1
num_avg=3                        # checkpoints averaged into the final model

. utils/parse_options.sh

if [ -z "$voxceleb_root" ]; then
  voxceleb_root=$demo_dir/VoxCeleb1
  use_demo=true
else
  use_demo=false
fi
[ -n "$trials" ] || trials=$voxceleb_root/veri_test2.txt

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  if $use_demo; then
    local/make_demo_corpus.sh --seed $seed "$demo_dir"
  fi
  # data/voxceleb: everything; data/voxceleb_train: speakers not in the trials;
  # data/voxceleb_test: the trial speakers, with the trials
  local/voxceleb_data_prep.sh --trials "$trials" --test-spk-from-trials true "$voxceleb_root" data/voxceleb
  for d in voxceleb_train voxceleb_test; do
    utils/validate_data_dir.sh --no-feats --no-text data/$d
  done
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  for d in voxceleb_train voxceleb_test; do
    steps/make_fbank.sh --nj $nj --cmd "$train_cmd" --fbank-config conf/fbank.conf data/$d exp/make_fbank/$d fbank
    utils/validate_data_dir.sh --no-text data/$d
  done
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  # ResNet speaker classifier on random T-frame chunks; resumes from the last checkpoint
  steps/train_speaker.sh --cmd "$cuda_cmd" --ngpu $ngpu --seed $seed \
    "$train_config" data/voxceleb_train "$exp"
fi

if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  steps/average_model.sh --num $num_avg "$exp" "$exp/avg_model.pt"
fi

if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  # embeddings of whole test utterances (no cropping)
  steps/extract_embeddings.sh --nj $nj --cmd "$train_cmd" \
    "$exp/avg_model.pt" data/voxceleb_test "$exp/xvectors_voxceleb_test"
fi

if [ $stage -le 5 ] && [ $stop_stage -ge 5 ]; then
  steps/score_trials.sh data/voxceleb_test/trials "$exp/xvectors_voxceleb_test/xvector.scp" \
    "$exp/scores_voxceleb_test"
  local/voxceleb_results.sh "$exp/avg_model.pt" "$train_config" \
    "$($use_demo && echo "the synthetic demo corpus (seed $seed)" || echo "$voxceleb_root")" \
    "$exp/scores_voxceleb_test" RESULTS.md
fi
