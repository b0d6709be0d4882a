#!/usr/bin/env bash
# Multimodal emotion recognition on IEMOCAP (Padi et al., Odyssey 2022):
# a speaker ResNet transferred to speech emotion recognition, BERT on the transcripts,
# late fusion of their log-posteriors; leave-one-session-out over the 5 sessions.
# Without --iemocap-root the recipe synthesises the demo corpus and runs on it.
# --setup paper (the default when --iemocap-root is given) selects the paper's configs
# in both recipes (conf/ser_paper.yaml, conf/text_paper.yaml with bert-base-uncased,
# ../voxceleb's conf/train_paper.yaml); --setup demo the small demo ones.
# --dry-run true prints, per stage, the configs, models and data it would use, and stops.
#
# Usage: ./run.sh [options]     (./run.sh --help lists every option with its default)
#   e.g. ./run.sh --iemocap-root /corpora/IEMOCAP_full_release --voxceleb-root /corpora/VoxCeleb1
#   stage 0: data dir (and the demo corpus when no corpus is given)
#   stage 1: 128-dim log-mel features, leave-one-session-out folds
#   stage 2: speaker model (egs/voxceleb trains one unless --speaker-model is given)
#   stage 3: speech emotion models per fold (transfer modes in --ser-modes)
#   stage 4: BERT text models per fold
#   stage 5: late fusion of speech and text log-posteriors
#   stage 6: UA/WA per fold, confusion matrices, RESULTS.md
#   stage 7: ablation of paper 003 (transfer, augmentation, pooling); not run by default
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/utils/lib/script_init.sh"
cd "$(dirname "${BASH_SOURCE[0]}")"
. ./cmd.sh

stage=0
stop_stage=6
setup=                           # paper | demo; empty: paper with --iemocap-root, else demo
dry_run=false                    # true: print what each stage would use, run nothing
ngpu=1                           # GPUs per training job (0: CPU)
nj=4                             # parallel feature jobs
iemocap_root=                    # IEMOCAP_full_release; empty: demo corpus
exp_set=3                        # class set: 1 ang/hap/neu/sad, 2 ang/exc/neu/sad, 3 hap+exc merged
voxceleb_root=                   # for stage 2 (../voxceleb); empty: the demo VoxCeleb beside the demo IEMOCAP
speaker_model=                   # speaker checkpoint; empty: train one with ../voxceleb
ser_config=                      # empty: conf/ser_$setup.yaml
ser_modes="finetune scratch"     # speech systems trained in stage 3 (scratch, probe, finetune)
text_config=                     # empty: conf/text_$setup.yaml
text_model=                      # local BERT dir or cached name; empty: the config's text_model, else a small BERT built per fold
demo_dir=demo
seed=777

. utils/parse_options.sh
positional_args 0 "$@"
check_enum exp_set 1 2 3
[ -n "$setup" ] || setup=$([ -n "$iemocap_root" ] && echo paper || echo demo)
check_enum setup paper demo
check_list ser_modes scratch probe finetune
[ -n "$ser_modes" ] || usage_error "--ser-modes is empty"

if [ -z "$iemocap_root" ]; then
  iemocap_root=$demo_dir/IEMOCAP_full_release
  use_demo=true
else
  use_demo=false
  [ -d "$iemocap_root" ] || usage_error "--iemocap-root $iemocap_root: no such directory"
fi
[ -n "$ser_config" ] || ser_config=conf/ser_$setup.yaml
[ -n "$text_config" ] || text_config=conf/text_$setup.yaml
for f in "$ser_config" "$text_config"; do
  [ -r "$f" ] || usage_error "cannot read config $f (in $PWD)"
done
data=data/exp$exp_set
exp=exp/exp$exp_set
if [ -z "$speaker_model" ]; then
  speaker_model=../voxceleb/exp/resnet_$setup/avg_model.pt
  train_speaker_model=true
  voxceleb_args=(--setup "$setup" --ngpu "$ngpu" --seed "$seed")
  if [ -n "$voxceleb_root" ]; then
    voxceleb_args+=(--voxceleb-root "$voxceleb_root")
  else
    $use_demo || usage_error "a real IEMOCAP needs a speaker model: --voxceleb-root DIR (trained by" \
                             "../voxceleb) or --speaker-model CKPT; the demo VoxCeleb is not used for it"
    voxceleb_args+=(--demo-dir "$PWD/$demo_dir")     # the demo VoxCeleb beside the demo IEMOCAP
  fi
else
  train_speaker_model=false
  [ -f "$speaker_model" ] || usage_error "--speaker-model $speaker_model: no such file"
fi

if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  # the text encoder is looked up now: a missing one fails before any stage runs
  encoder=$(steps/train_text.sh --dry-run true --train-config "$text_config" --text-model "$text_model" \
    "$data/loso" "$exp/text")
fi
echo "$0: setup $setup; corpus $($use_demo && echo "the synthetic demo corpus (seed $seed) in $demo_dir" ||
  echo "$iemocap_root"); stages $stage to $stop_stage"
if $dry_run; then
  in_range() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }
  if in_range 0; then echo "stage 0: IEMOCAP $iemocap_root (Exp $exp_set class set) -> $data/all"; fi
  if in_range 1; then echo "stage 1: features conf/fbank.conf -> fbank/exp$exp_set; folds -> $data/loso"; fi
  if in_range 2 && $train_speaker_model; then
    echo "stage 2: speaker model $speaker_model, trained by ../voxceleb:"
    (cd ../voxceleb && ./run.sh --dry-run true "${voxceleb_args[@]}") | sed 's/^/    /'
  elif in_range 2; then
    echo "stage 2: speaker model $speaker_model (given; not trained)"
  fi
  if in_range 3; then
    echo "stage 3: speech systems ($ser_modes), config $ser_config, from $speaker_model, on $data/loso -> $exp/ser_MODE"
  fi
  if in_range 4; then
    echo "stage 4: text models, config $text_config, $encoder, on $data/loso -> $exp/text"
  fi
  if in_range 5; then echo "stage 5: late fusion of $exp/ser_finetune and $exp/text -> $exp/fusion/{w1,znorm}"; fi
  if in_range 6; then echo "stage 6: report of $exp -> RESULTS.md"; fi
  if in_range 7; then echo "stage 7: ablation (paper 003), config $ser_config -> $exp/ablation"; fi
  exit 0
fi

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  stage_banner 0
  if $use_demo; then
    local/make_demo_corpus.sh --seed $seed "$demo_dir"
  fi
  local/iemocap_data_prep.sh --exp $exp_set "$iemocap_root" "$data/all"
  utils/validate_data_dir.sh --no-feats "$data/all"
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  stage_banner 1
  steps/make_fbank.sh --nj $nj --cmd "$train_cmd" --fbank-config conf/fbank.conf \
    "$data/all" exp/make_fbank/exp$exp_set fbank/exp$exp_set
  utils/validate_data_dir.sh "$data/all"
  local/make_loso_folds.sh "$data/all" "$data/loso"
  for d in "$data"/loso/fold*/{train,dev,test}; do
    utils/validate_data_dir.sh "$d"
  done
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ] && $train_speaker_model; then
  stage_banner 2
  # through its scoring stage: the recipe's speaker-verification RESULTS.md stays current
  (cd ../voxceleb && ./run.sh "${voxceleb_args[@]}")
fi

if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  stage_banner 3
  for mode in $ser_modes; do
    steps/train_ser.sh --cmd "$cuda_cmd" --ngpu $ngpu --mode $mode --speaker-model "$speaker_model" \
      --train-config "$ser_config" "$data/loso" "$exp/ser_$mode"
  done
fi

if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  stage_banner 4
  steps/train_text.sh --cmd "$cuda_cmd" --ngpu $ngpu --train-config "$text_config" --text-model "$text_model" \
    "$data/loso" "$exp/text"
fi

if [ $stage -le 5 ] && [ $stop_stage -ge 5 ]; then
  stage_banner 5
  steps/fuse.sh --cmd "$train_cmd" --data "$data/loso" "$exp/ser_finetune" "$exp/text" "$exp/fusion"
fi

if [ $stage -le 6 ] && [ $stop_stage -ge 6 ]; then
  stage_banner 6
  systems="speech_finetune=ser_finetune text=text fusion_w1=fusion/w1 fusion_znorm=fusion/znorm"
  for mode in $ser_modes; do
    [ $mode = finetune ] || systems+=" speech_$mode=ser_$mode"
  done
  ablations=
  for d in "$exp"/ablation/*/; do
    [ -d "$d" ] && ablations+=" $(basename "$d")=ablation/$(basename "$d")"
  done
  steps/report.sh --cmd "$train_cmd" --data "$data/loso" --systems "$systems" --ablations "$ablations" \
    --quote-configs "$ser_config $text_config" --command "$EMOREC_COMMAND" \
    --title "IEMOCAP Exp $exp_set results, setup $setup, $($use_demo && echo "demo corpus" || echo "corpus $iemocap_root")" \
    --notes "Speech systems of one table share a training budget ($ser_config); speaker model: $speaker_model." \
    "$exp" RESULTS.md
  echo "$0: results in $PWD/RESULTS.md, plots in $PWD/plots/"
fi

if [ $stage -le 7 ] && [ $stop_stage -ge 7 ]; then
  stage_banner 7
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
