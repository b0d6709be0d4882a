#!/usr/bin/env bash
# Multimodal emotion recognition on IEMOCAP (Padi et al., Odyssey 2022):
# a speaker ResNet transferred to speech emotion recognition, BERT on the transcripts,
# late fusion of their log-posteriors; leave-one-session-out over the 5 sessions.
# Without --iemocap-root the recipe synthesises the demo corpus and runs on it.
#
# Usage: ./run.sh [--stage N] [--stop-stage N] [--iemocap-root DIR] [--exp-set 1|2|3] ...
#   stage 0: data dir (and the demo corpus when no corpus is given)
#   stage 1: 128-dim log-mel features (+ VAD with --use-vad true), leave-one-session-out folds
#   stage 2: speaker model (egs/voxceleb trains one unless --speaker-model is given)
#   stage 3: speech emotion models per fold (transfer modes in --ser-modes)
#   stage 4: BERT text models per fold
#   stage 5: late fusion of speech and text log-posteriors
#   stage 6: UA/WA per fold, confusion matrices, RESULTS.md
#   stage 7: ablation of paper 003 (transfer, augmentation, pooling) under leave-one-session-out
#            and paper 003's 5-fold random 80/20 protocol; not run by default
# --seeds "1 2 3" runs stages 3-5 (and 7) once per training seed, in exp/expN/seedS/, and
# the report gives mean and std over seeds and folds and paired significance tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
. ./path.sh
. ./cmd.sh

stage=0
stop_stage=6
nj=4                             # parallel feature jobs
iemocap_root=                    # IEMOCAP_full_release; empty: demo corpus
exp_set=3                        # class set: 1 ang/hap/neu/sad, 2 ang/exc/neu/sad, 3 hap+exc merged
voxceleb_root=                   # for stage 2; empty: the demo VoxCeleb tree beside the demo IEMOCAP
speaker_model=                   # speaker checkpoint; empty: train one with ../voxceleb
ser_config=conf/ser_demo.yaml    # conf/ser_paper.yaml for the paper's setup
ser_modes="finetune probe scratch"  # speech systems trained in stage 3 (paper 003's three rows)
text_config=conf/text_demo.yaml  # conf/text_paper.yaml for bert-base-uncased
text_model=                      # local BERT dir or cached name; empty: a small BERT built per fold
demo_dir=demo
seed=777
seeds=                           # training seeds ("1 2 3"): runs in exp/expN/seedS; empty: the configs' seed, in exp/expN
use_vad=false                    # true: statistical-model VAD (paper 003) selects the frames read (paper 000: none)
script_disjoint=false            # true: no IEMOCAP play on both sides of a fold (README, design notes)

. utils/parse_options.sh
case $exp_set in 1|2|3) ;; *) echo "$0: --exp-set must be 1, 2 or 3, got '$exp_set'" >&2; exit 1 ;; esac

if [ -z "$iemocap_root" ]; then
  iemocap_root=$demo_dir/IEMOCAP_full_release
  use_demo=true
else
  use_demo=false
fi
data=data/exp$exp_set
exp=exp/exp$exp_set
if $use_vad; then data+=_vad; exp+=_vad; fi
folds=$data/loso
if $script_disjoint; then folds+=_script_disjoint; exp+=_script_disjoint; fi
runs=${seeds:-config}            # "config": one run with the configs' seed, in $exp itself
run_dir() { if [ "$1" = config ]; then echo "$exp"; else echo "$exp/seed$1"; fi; }
seed_opt() { if [ "$1" != config ]; then echo "--seed $1"; fi; }
if [ -z "$speaker_model" ]; then
  speaker_model=../voxceleb/exp/resnet_demo/avg_model.pt
  train_speaker_model=true
else
  train_speaker_model=false
fi
[ -n "$voxceleb_root" ] || voxceleb_root=$PWD/$demo_dir/VoxCeleb1

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  if $use_demo; then
    local/make_demo_corpus.sh --seed $seed "$demo_dir"
  fi
  local/iemocap_data_prep.sh --exp $exp_set "$iemocap_root" "$data/all"
  utils/validate_data_dir.sh --no-feats "$data/all"
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  steps/make_fbank.sh --nj $nj --cmd "$train_cmd" --fbank-config conf/fbank.conf \
    "$data/all" "exp/make_fbank/$(basename "$data")" "fbank/$(basename "$data")"
  if $use_vad; then  # vad.scp in the data dir: feature reading keeps the voiced frames
    steps/compute_vad.sh --nj $nj --cmd "$train_cmd" "$data/all" "exp/make_vad/$(basename "$data")" \
      "vad/$(basename "$data")"
  fi
  utils/validate_data_dir.sh "$data/all"
  local/make_loso_folds.sh --script-disjoint $script_disjoint "$data/all" "$folds"
  for d in "$folds"/fold*/{train,dev,test}; do
    utils/validate_data_dir.sh "$d"
  done
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ] && $train_speaker_model; then
  (cd ../voxceleb && ./run.sh --stop-stage 3 --voxceleb-root "$voxceleb_root")
fi

if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  for r in $runs; do
    for mode in $ser_modes; do
      steps/train_ser.sh --cmd "$cuda_cmd" --mode $mode --speaker-model "$speaker_model" \
        --train-config "$ser_config" --train-opts "$(seed_opt $r)" "$folds" "$(run_dir $r)/ser_$mode"
    done
  done
fi

if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  for r in $runs; do
    steps/train_text.sh --cmd "$cuda_cmd" --train-config "$text_config" --text-model "$text_model" \
      --encoder-opts "$(seed_opt $r)" --train-opts "$(seed_opt $r)" "$folds" "$(run_dir $r)/text"
  done
fi

if [ $stage -le 5 ] && [ $stop_stage -ge 5 ]; then
  for r in $runs; do
    e=$(run_dir $r)
    steps/fuse.sh --data "$folds" "$e/ser_finetune" "$e/text" "$e/fusion"
  done
fi

if [ $stage -le 6 ] && [ $stop_stage -ge 6 ]; then
  systems="speech_finetune=ser_finetune text=text fusion_w1=fusion/w1 fusion_znorm=fusion/znorm"
  for mode in $ser_modes; do
    [ $mode = finetune ] || systems+=" speech_$mode=ser_$mode"
  done
  first=$(run_dir ${runs%% *})
  ablations=
  random_ablations=
  for d in "$first"/ablation/loso/*/ "$first"/ablation/random5/*/; do
    [ -d "$d" ] || continue
    name=$(basename "$d") proto=$(basename "$(dirname "$d")")
    if [ $proto = loso ]; then ablations+=" $name=ablation/loso/$name"; else random_ablations+=" $name=ablation/random5/$name"; fi
  done
  if $use_demo; then
    corpus="the synthetic DEMO corpus (espeak-ng, seed $seed), root $PWD/$iemocap_root; not IEMOCAP"
    design_opt=(--demo-design "$demo_dir/IEMOCAP_design.txt")
  else
    corpus="IEMOCAP, root $iemocap_root"
    design_opt=()
  fi
  $use_vad && vad_note=" VAD (paper 003) selects the frames read." || vad_note=
  $script_disjoint && folds_note=" Script-disjoint folds ($folds)." || folds_note=
  steps/report.sh --data "$folds" --corpus "$corpus" --seeds "$seeds" --systems "$systems" \
    --ablations "$ablations" --random-data "$data/random5" --random-ablations "$random_ablations" \
    --paper-table conf/paper000_table2.tsv "${design_opt[@]}" --w1-inputs "fusion_w1=ser_finetune,text" \
    --quote-configs "$ser_config $text_config" --title "Exp $exp_set results of egs/iemocap on $( $use_demo && echo "the demo corpus" || echo IEMOCAP)" \
    --notes "Speech systems of one table share a training budget ($ser_config); speaker model: $speaker_model. Whether transfer helps on this corpus: the \`speech_finetune\` − \`speech_scratch\` rows of the significance table.$vad_note$folds_note" \
    "$exp" RESULTS.md
  echo "$0: results in $PWD/RESULTS.md, plots in $PWD/plots/"
fi

if [ $stage -le 7 ] && [ $stop_stage -ge 7 ]; then
  # Paper 003, Figure 4: transfer learning x spectrogram augmentation x statistics pooling,
  # under leave-one-session-out and under the paper's 5-fold random 80/20 protocol.
  local/make_loso_folds.sh --protocol random5 "$data/all" "$data/random5"
  for r in $runs; do
    for proto in loso random5; do
      d=$folds; [ $proto = loso ] || d=$data/random5
      a=$(run_dir $r)/ablation/$proto
      for mode in scratch finetune; do
        for aug in none conservative aggressive; do
          for pool in stats avg; do
            steps/train_ser.sh --cmd "$cuda_cmd" --mode $mode --speaker-model "$speaker_model" \
              --train-config "$ser_config" --train-opts "$(seed_opt $r) --set augment.policy=$aug --set model.pooling=$pool" \
              "$d" "$a/${mode}_aug-${aug}_pool-${pool}"
          done
        done
      done
      steps/train_ser.sh --cmd "$cuda_cmd" --mode probe --speaker-model "$speaker_model" \
        --train-config "$ser_config" --train-opts "$(seed_opt $r) --set optim.lr=0.1" "$d" "$a/probe"
    done
  done
  echo "$0: run stage 6 again to add the ablation table to RESULTS.md"
fi
