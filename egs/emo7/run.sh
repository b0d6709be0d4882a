#!/usr/bin/env bash
# Seven-class speech emotion recognition on five merged corpora (Sharma, paper 004):
# CREMA-D, RAVDESS, SAVEE, TESS and IEMOCAP mapped to angry calm disgust fearful happy
# sad surprised, silence removed, class-balancing augmentation, three split protocols.
# Without corpus paths the recipe synthesises demo corpora in the real layouts and
# runs on them (the pipeline does not tell them apart).
#
# Usage: ./run.sh [--stage N] [--stop-stage N] [--crema-d DIR] [--ravdess DIR]
#                 [--savee DIR] [--tess DIR] [--iemocap DIR] ...
#   stage 0: demo corpora (when no corpus path is given); one data dir per corpus
#            (data/{cremad,ravdess,savee,tess,iemocap})
#   stage 1: merge into 7 classes, statistical-model VAD, silence removal, < 1 s dropped,
#            counts table (data/emo7/all, data/emo7/all/counts.txt)
#   stage 2: splits data/emo7/{strat,spk,loco/<corpus>}/{train,valid,test} and the
#            class-balanced training sets .../train_aug (augmented copies of train only)
#   stage 3: hand-crafted-feature baselines (steps/train_baselines.sh), RESULTS.md
# Either all five corpus paths are given, or none (demo).  --include-song true keeps
# RAVDESS's song files; --exc-to-happy true maps IEMOCAP's exc to happy.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
. ./path.sh
. ./cmd.sh

stage=0
stop_stage=3
nj=4                     # parallel VAD jobs
crema_d=                 # CREMA-D root (AudioWAV/ inside); empty: demo
ravdess=                 # RAVDESS root (Actor_NN/ inside)
savee=                   # SAVEE root (AudioData/<SPK>/ or flat <SPK>_xNN.wav)
tess=                    # TESS root (<OAF|YAF>_<emotion>/ inside)
iemocap=                 # IEMOCAP_full_release
include_song=false
exc_to_happy=false
min_duration=1.0         # seconds of speech after silence removal (paper 004)
augment_target=0         # utterances per class after augmentation; 0: the largest class
demo_dir=demo
demo_size=small
seed=0

. utils/parse_options.sh

given=0
for c in "$crema_d" "$ravdess" "$savee" "$tess" "$iemocap"; do
  [ -n "$c" ] && given=$((given + 1))
done
if [ $given -eq 0 ]; then
  use_demo=true
  crema_d=$demo_dir/CREMA-D ravdess=$demo_dir/RAVDESS savee=$demo_dir/SAVEE
  tess=$demo_dir/TESS iemocap=$demo_dir/IEMOCAP_full_release
elif [ $given -eq 5 ]; then
  use_demo=false
else
  echo "$0: give all five of --crema-d --ravdess --savee --tess --iemocap, or none" \
       "(demo corpora); got $given" >&2
  exit 1
fi
data=data/emo7

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  if $use_demo; then
    local/make_demo_corpus.sh --set emo7 --seed $seed --size $demo_size "$demo_dir"
  fi
  local/crema_d_data_prep.sh "$crema_d" data/cremad
  local/ravdess_data_prep.sh --include-song $include_song "$ravdess" data/ravdess
  local/savee_data_prep.sh "$savee" data/savee
  local/tess_data_prep.sh "$tess" data/tess
  local/iemocap_data_prep.sh --exp 0 "$iemocap" data/iemocap
  # IEMOCAP's speakers are Ses01F..Ses05M: corpus tag and gender from the id
  awk '{ print $1, "iemocap" }' data/iemocap/utt2spk > data/iemocap/utt2corpus
  awk '{ print $1, tolower(substr($1, length($1))) }' data/iemocap/spk2utt > data/iemocap/spk2gender
  utils/validate_data_dir.sh --no-feats data/iemocap
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  local/emo7_merge.sh --nj $nj --cmd "$train_cmd" --exc-to-happy $exc_to_happy \
    --min-duration $min_duration --vad-config conf/vad.conf \
    "$data" data/cremad data/ravdess data/savee data/tess data/iemocap
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  local/emo7_splits.sh --seed $seed --augment-target $augment_target "$data/all" "$data"
fi

if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  # ---- stage 3 belongs to the baselines (steps/train_baselines.sh, a separate work
  # item of issue 10).  Inputs: $data/{strat,spk,loco/<corpus>}/{train,train_aug,valid,test}.
  [ -x steps/train_baselines.sh ] || { echo "$0: stage 3 needs steps/train_baselines.sh" \
    "(the baselines of issue 10); run with --stop-stage 2 without it" >&2; exit 1; }
  steps/train_baselines.sh --cmd "$train_cmd" "$data" exp/baselines
fi
