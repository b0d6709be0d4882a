#!/usr/bin/env bash
# Speaker recognition on VoxCeleb: ResNet with statistics pooling (Padi et al. 2021/2022).
# Without --voxceleb-root the recipe synthesises the demo corpus and runs on it.
# --setup paper (the default when --voxceleb-root is given): conf/train_paper.yaml ->
# exp/resnet_paper; --setup demo: conf/train_demo.yaml -> exp/resnet_demo.
# Training set: the VoxCeleb1 speakers not in the Vox1-O trials, plus the VoxCeleb2 dev
# speakers with --voxceleb2-root (the papers' VoxCeleb1 + VoxCeleb2 dev). Test: the
# cleaned Vox1-O trials (veri_test2.txt); the cleaned Vox1-E and Vox1-H lists
# (list_test_all2.txt, list_test_hard2.txt) are scored too when VOXCELEB_ROOT has them.
# --dry-run true prints, per stage, the configs, models and data it would use, and stops.
#
# Usage: ./run.sh [options]     (./run.sh --help lists every option with its default)
#   e.g. ./run.sh --voxceleb-root /corpora/VoxCeleb1 --voxceleb2-root /corpora/VoxCeleb2
#   stage 0: data dirs (and the demo corpus when no corpus is given)
#   stage 1: 128-dim log-mel features; the training set
#   stage 2: train the speaker model
#   stage 3: average the last checkpoints
#   stage 4: extract embeddings
#   stage 5: cosine scoring of the trials, EER / minDCF, RESULTS.md
#   stage 6: with --demo-hubert true, the demo HuBERT pre-trained on the training set's
#            audio (steps/pretrain_hubert.sh -> exp/hubert_demo/model): the stand-in for
#            hubert-base-ls960 that egs/iemocap and egs/emo7 --setup demo share
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/utils/lib/script_init.sh"
cd "$(dirname "${BASH_SOURCE[0]}")"
. ./cmd.sh

stage=0
stop_stage=5
setup=                           # paper | demo; empty: paper with --voxceleb-root, else demo
dry_run=false                    # true: print what each stage would use, run nothing
nj=4                             # parallel feature / embedding jobs
voxceleb_root=                   # VoxCeleb1 root (wav/, trial lists); empty: demo corpus
voxceleb2_root=                  # VoxCeleb2 root (dev/aac/): its dev speakers join training; empty: none
trials=                          # Vox1-O trial list; empty: VOXCELEB_ROOT/veri_test2.txt (cleaned)
demo_dir=demo                    # where the demo corpus is written
seed=777
train_config=                    # empty: conf/train_$setup.yaml
exp=                             # empty: exp/resnet_$setup
ngpu=1                           # GPUs of the training job (0: CPU; N>1: DDP)
nnodes=1                         # nodes of the training job, each with --ngpu GPUs (slurm.pl; README: Slurm)
num_avg=3                        # checkpoints averaged into the final model
demo_hubert=false                # true: stage 6 pre-trains the demo HuBERT (the emotion recipes ask for it)
hubert_config=conf/hubert_demo.yaml  # its pre-training config

. utils/parse_options.sh
positional_args 0 "$@"
[ -n "$setup" ] || setup=$([ -n "$voxceleb_root" ] && echo paper || echo demo)
check_enum setup paper demo
[ -n "$train_config" ] || train_config=conf/train_$setup.yaml
[ -n "$exp" ] || exp=exp/resnet_$setup
[ -r "$train_config" ] || usage_error "cannot read config $train_config (in $PWD)"
check_enum demo_hubert true false
[ -r "$hubert_config" ] || usage_error "cannot read config $hubert_config (in $PWD)"

if [ -z "$voxceleb_root" ]; then
  voxceleb_root=$demo_dir/VoxCeleb1
  use_demo=true
else
  use_demo=false
  [ -d "$voxceleb_root" ] || usage_error "--voxceleb-root $voxceleb_root: no such directory"
fi
if [ -n "$voxceleb2_root" ]; then
  [ -d "$voxceleb2_root/dev/aac" ] || usage_error "--voxceleb2-root $voxceleb2_root: no dev/aac/ in it"
fi
[ -n "$trials" ] || trials=$voxceleb_root/veri_test2.txt
# the extra cleaned VoxCeleb1 trial lists scored when present: name=file
extra_trials=()
for t in vox1_e=list_test_all2.txt vox1_h=list_test_hard2.txt; do
  if [ -f "$voxceleb_root/${t#*=}" ]; then extra_trials+=("$t"); fi
done
train_data=data/voxceleb_train
[ -z "$voxceleb2_root" ] || train_data=data/voxceleb1_2_train
corpus=$($use_demo && echo "the synthetic demo corpus (seed $seed)" || echo "$voxceleb_root")
[ -z "$voxceleb2_root" ] || corpus+=" + VoxCeleb2 dev $voxceleb2_root"

in_range() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }
# weight files the training config names, looked up before any work (emorec.bin.check_models)
if in_range 2; then python -m emorec.bin.check_models --config "$train_config" > /dev/null; fi
echo "$0: setup $setup; corpus $corpus; stages $stage to $stop_stage"
# A GPU stage says under its banner when its jobs would run on CPU here (emorec.bin.check_gpu)
gpu_stage_banner() { stage_banner "$1"; python -m emorec.bin.check_gpu --asked "$ngpu" --banner "$cuda_cmd"; }
if $dry_run; then
  echo "jobs: train_cmd=\"$train_cmd\" cuda_cmd=\"$cuda_cmd\" (set by $EMOREC_CMD_SH)"
  if in_range 0; then
    echo "stage 0: VoxCeleb1 $voxceleb_root, Vox1-O trials $trials${voxceleb2_root:+, VoxCeleb2 dev $voxceleb2_root/dev/aac}" \
         "-> data/voxceleb_{train,test}${voxceleb2_root:+ data/voxceleb2_dev}"
  fi
  if in_range 1; then echo "stage 1: features conf/fbank.conf -> fbank; training set $train_data"; fi
  if in_range 2; then echo "stage 2: speaker model, config $train_config, on $train_data, $nnodes node(s) x $ngpu GPU(s) -> $exp"; fi
  if in_range 3; then echo "stage 3: average of the last $num_avg checkpoints -> $exp/avg_model.pt"; fi
  if in_range 4; then echo "stage 4: embeddings of data/voxceleb_test${extra_trials[*]:+ and data/voxceleb1_all} with $exp/avg_model.pt"; fi
  if in_range 5; then echo "stage 5: cosine scoring of vox1_o${extra_trials[*]:+ ${extra_trials[*]%%=*}} -> RESULTS.md"; fi
  if in_range 6 && $demo_hubert; then echo "stage 6: demo HuBERT, config $hubert_config, on $train_data -> exp/hubert_demo/model"; fi
  exit 0
fi

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  stage_banner 0
  if $use_demo; then
    local/make_demo_corpus.sh --seed $seed "$demo_dir"
  fi
  # data/voxceleb: all of VoxCeleb1; data/voxceleb_train: speakers not in the Vox1-O
  # trials; data/voxceleb_test: the trial speakers, with the trials
  local/voxceleb_data_prep.sh --trials "$trials" --test-spk-from-trials true "$voxceleb_root" data/voxceleb
  for d in voxceleb_train voxceleb_test; do
    utils/validate_data_dir.sh --no-feats --no-text data/$d
  done
  for t in ${extra_trials[@]+"${extra_trials[@]}"}; do   # data/vox1_e/trials, data/vox1_h/trials
    local/voxceleb_data_prep.sh --trials "$voxceleb_root/${t#*=}" "$voxceleb_root" "data/${t%%=*}"
  done
  if [ -n "$voxceleb2_root" ]; then
    local/voxceleb_data_prep.sh --layouts dev/aac "$voxceleb2_root" data/voxceleb2_dev
    utils/validate_data_dir.sh --no-feats --no-text data/voxceleb2_dev
  fi
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  stage_banner 1
  for d in voxceleb_train voxceleb_test ${voxceleb2_root:+voxceleb2_dev}; do
    steps/make_fbank.sh --nj $nj --cmd "$train_cmd" --fbank-config conf/fbank.conf data/$d exp/make_fbank/$d fbank
    utils/validate_data_dir.sh --no-text --no-wav data/$d
  done
  if [ -n "$voxceleb2_root" ]; then
    utils/combine_data.sh "$train_data" data/voxceleb_train data/voxceleb2_dev
  fi
  if [ ${#extra_trials[@]} -gt 0 ]; then
    utils/combine_data.sh data/voxceleb1_all data/voxceleb_train data/voxceleb_test
  fi
  # the Vox1-O speakers never train the model
  shared=$(awk 'NR == FNR { test[$1]; next } $1 in test { print $1 }' data/voxceleb_test/spk2utt "$train_data/spk2utt")
  [ -z "$shared" ] || { echo "$0: test speakers in $train_data: $shared" >&2; exit 1; }
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  gpu_stage_banner 2
  # ResNet speaker classifier on random T-frame chunks; resumes from the last checkpoint
  steps/train_speaker.sh --cmd "$cuda_cmd" --ngpu $ngpu --nnodes $nnodes --seed $seed \
    "$train_config" "$train_data" "$exp"
fi

if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  stage_banner 3
  steps/average_model.sh --num $num_avg "$exp" "$exp/avg_model.pt"
fi

if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  stage_banner 4
  # embeddings of whole test utterances (no cropping)
  for d in voxceleb_test ${extra_trials[@]+voxceleb1_all}; do
    steps/extract_embeddings.sh --nj $nj --cmd "$train_cmd" "$exp/avg_model.pt" data/$d "$exp/xvectors_$d"
  done
fi

if [ $stage -le 5 ] && [ $stop_stage -ge 5 ]; then
  stage_banner 5
  steps/score_trials.sh data/voxceleb_test/trials "$exp/xvectors_voxceleb_test/xvector.scp" \
    "$exp/scores_vox1_o"
  score_dirs=("Vox1-O (cleaned)=$exp/scores_vox1_o")
  for t in ${extra_trials[@]+"${extra_trials[@]}"}; do
    steps/score_trials.sh "data/${t%%=*}/trials" "$exp/xvectors_voxceleb1_all/xvector.scp" "$exp/scores_${t%%=*}"
    score_dirs+=("$(echo "${t%%=*}" | sed 's/vox1_\(.\)/Vox1-\U\1/') (cleaned)=$exp/scores_${t%%=*}")
  done
  local/voxceleb_results.sh --setup "$setup" --corpus "$corpus" --command "$EMOREC_COMMAND" \
    "$exp/avg_model.pt" "$train_config" "$train_data" RESULTS.md "${score_dirs[@]}"
fi

if [ $stage -le 6 ] && [ $stop_stage -ge 6 ] && $demo_hubert; then
  stage_banner 6
  steps/pretrain_hubert.sh --cmd "$cuda_cmd" --pretrain-config "$hubert_config" "$train_data" exp/hubert_demo
fi
