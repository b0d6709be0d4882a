#!/usr/bin/env bash
# Multimodal emotion recognition on IEMOCAP (Padi et al., Odyssey 2022):
# a speaker ResNet transferred to speech emotion recognition, BERT on the transcripts,
# late fusion of their log-posteriors; leave-one-session-out over the 5 sessions.
# Without --iemocap-root the recipe synthesises the demo corpus and runs on it.
#
# Usage: ./run.sh [--stage N] [--stop-stage N] [--iemocap-root DIR] [--exp-set 1|2|3] ...
#   stage 0: data dir (and the demo corpus when no corpus is given)
#   stage 1: 128-dim log-mel features, leave-one-session-out folds
#   stage 2: speaker model (egs/voxceleb trains one unless --speaker-model is given)
#   stage 3: speech emotion models per fold (transfer modes in --ser-modes)
#   stage 4: BERT text models per fold
#   stage 5: late fusion of speech and text log-posteriors
#   stage 6: UA/WA per fold, confusion matrices, RESULTS.md; the packaged model $exp/model
#            (steps/export_model.sh: the 5 fold models as an ensemble; emorec-infer --model)
#   stage 7: ablation of paper 003 (transfer, augmentation, pooling); not run by default
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
ser_modes="finetune scratch"     # speech systems trained in stage 3 (scratch, probe, finetune)
text_config=conf/text_demo.yaml  # conf/text_paper.yaml for bert-base-uncased
text_model=                      # local BERT dir or cached name; empty: a small BERT built per fold
text_source=ref                  # ref | asr: asr also trains the text models and fusion on ASR transcripts
asr_model=pocketsphinx           # with --text-source asr: pocketsphinx, or a Whisper dir / cached name
demo_dir=demo
seed=777

. utils/parse_options.sh
case $exp_set in 1|2|3) ;; *) echo "$0: --exp-set must be 1, 2 or 3, got '$exp_set'" >&2; exit 1 ;; esac
case $text_source in ref|asr) ;; *) echo "$0: --text-source must be ref or asr, not '$text_source'" >&2; exit 1 ;; esac

if [ -z "$iemocap_root" ]; then
  iemocap_root=$demo_dir/IEMOCAP_full_release
  use_demo=true
else
  use_demo=false
fi
data=data/exp$exp_set
exp=exp/exp$exp_set
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
    "$data/all" exp/make_fbank/exp$exp_set fbank/exp$exp_set
  utils/validate_data_dir.sh "$data/all"
  local/make_loso_folds.sh "$data/all" "$data/loso"
  for d in "$data"/loso/fold*/{train,dev,test}; do
    utils/validate_data_dir.sh "$d"
  done
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ] && [ "$text_source" = asr ]; then
  # transcripts from the audio (what exists at use time); same utterances, same folds
  steps/transcribe.sh --nj $nj --cmd "$cuda_cmd" --asr-model "$asr_model" "$data/all" "$data/all_asr"
  utils/validate_data_dir.sh "$data/all_asr"
  local/make_loso_folds.sh "$data/all_asr" "$data/loso_asr"
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ] && $train_speaker_model; then
  (cd ../voxceleb && ./run.sh --stop-stage 3 --voxceleb-root "$voxceleb_root")
fi

if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  for mode in $ser_modes; do
    steps/train_ser.sh --cmd "$cuda_cmd" --mode $mode --speaker-model "$speaker_model" \
      --train-config "$ser_config" "$data/loso" "$exp/ser_$mode"
  done
fi

if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  steps/train_text.sh --cmd "$cuda_cmd" --train-config "$text_config" --text-model "$text_model" \
    "$data/loso" "$exp/text"
fi

if [ $stage -le 4 ] && [ $stop_stage -ge 4 ] && [ "$text_source" = asr ]; then
  steps/train_text.sh --cmd "$cuda_cmd" --train-config "$text_config" --text-model "$text_model" \
    "$data/loso_asr" "$exp/text_asr"
fi

if [ $stage -le 5 ] && [ $stop_stage -ge 5 ]; then
  steps/fuse.sh --data "$data/loso" "$exp/ser_finetune" "$exp/text" "$exp/fusion"
fi

if [ $stage -le 5 ] && [ $stop_stage -ge 5 ] && [ "$text_source" = asr ]; then
  steps/fuse.sh --data "$data/loso_asr" "$exp/ser_finetune" "$exp/text_asr" "$exp/fusion_asr"
fi

if [ $stage -le 6 ] && [ $stop_stage -ge 6 ]; then
  systems="speech_finetune=ser_finetune text=text fusion_w1=fusion/w1 fusion_znorm=fusion/znorm"
  for mode in $ser_modes; do
    [ $mode = finetune ] || systems+=" speech_$mode=ser_$mode"
  done
  asr_note=
  if [ "$text_source" = asr ]; then
    systems+=" text_asr=text_asr fusion_w1_asr=fusion_asr/w1 fusion_znorm_asr=fusion_asr/znorm"
    asr_note=" Systems *_asr: text on ASR transcripts ($asr_model), $(cat "$data/all_asr/wer.txt")."
  fi
  ablations=
  for d in "$exp"/ablation/*/; do
    [ -d "$d" ] && ablations+=" $(basename "$d")=ablation/$(basename "$d")"
  done
  steps/report.sh --data "$data/loso" --systems "$systems" --ablations "$ablations" \
    --quote-configs "$ser_config $text_config" --title "IEMOCAP Exp $exp_set results" \
    --notes "Speech systems of one table share a training budget ($ser_config); speaker model: $speaker_model.$asr_note" \
    "$exp" RESULTS.md
  echo "$0: results in $PWD/RESULTS.md, plots in $PWD/plots/"
fi

if [ $stage -le 6 ] && [ $stop_stage -ge 6 ]; then
  if $use_demo; then trained_on="the demo corpus (synthetic, $demo_dir; not IEMOCAP)"; else trained_on="IEMOCAP ($iemocap_root)"; fi
  text_system=text; [ "$text_source" = asr ] && text_system=text_asr
  steps/export_model.sh --fbank-config conf/fbank.conf --results RESULTS.md --asr-model "$asr_model" \
    --text-system $text_system --fusion-system ${text_system/text/fusion} \
    --trained-on "$trained_on, Exp $exp_set classes, leave-one-session-out folds 1-5" "$exp" "$exp/model"
fi

if [ $stage -le 7 ] && [ $stop_stage -ge 7 ]; then
  # Paper 003, Figure 4: transfer learning x spectrogram augmentation x statistics pooling.
  for mode in scratch finetune; do
    for aug in none conservative aggressive; do
      for pool in stats avg; do
        steps/train_ser.sh --cmd "$cuda_cmd" --mode $mode --speaker-model "$speaker_model" \
          --train-config "$ser_config" --train-opts "--set augment.policy=$aug --set model.pooling=$pool" \
          "$data/loso" "$exp/ablation/${mode}_aug-${aug}_pool-${pool}"
      done
    done
  done
  steps/train_ser.sh --cmd "$cuda_cmd" --mode probe --speaker-model "$speaker_model" \
    --train-config "$ser_config" --train-opts "--set optim.lr=0.1" "$data/loso" "$exp/ablation/probe"
  echo "$0: run stage 6 again to add the ablation table to RESULTS.md"
fi
