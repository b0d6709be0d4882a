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
#   stage 1: 128-dim log-mel features (+ VAD with --use-vad true), leave-one-session-out folds;
#            with text source asr, transcripts from the audio (steps/transcribe.sh) and their WER
#   stage 2: speaker model (egs/voxceleb trains one unless --speaker-model is given)
#   stage 3: speech emotion models per fold (transfer modes in --ser-modes)
#   stage 4: BERT text models per fold and text source; SSL speech (HuBERT) and joint HuBERT+BERT
#            models per fold
#            (with --setup demo and no --ssl-model: the demo HuBERT, pre-trained once on the demo
#            speaker corpus by ../voxceleb stage 6 and shared with egs/emo7)
#   stage 5: late fusion of speech and text log-posteriors
#   stage 6: UA/WA per fold, confusion matrices, RESULTS.md; the packaged model exp/expN/model
#            (steps/export_model.sh: the 5 fold models as an ensemble; emorec-infer --model)
#   stage 7: ablation of paper 003 (transfer, augmentation, pooling) under leave-one-session-out
#            and paper 003's 5-fold random 80/20 protocol; not run by default
# --seeds "1 2 3" runs stages 3-5 (and 7) once per training seed, in exp/expN/seedS/, and
# the report gives mean and std over seeds and folds and paired significance tests.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/utils/lib/script_init.sh"
cd "$(dirname "${BASH_SOURCE[0]}")"
. ./cmd.sh

stage=0                          # first stage to run (the stages are listed above)
stop_stage=6                     # last stage to run (7: the ablation)
setup=                           # paper | demo; empty: paper with --iemocap-root, else demo
dry_run=false                    # true: print what each stage would use, run nothing
ngpu=1                           # GPUs per training job (0: CPU)
nj=4                             # parallel feature jobs
iemocap_root=                    # IEMOCAP_full_release; empty: demo corpus
exp_set=3                        # class set: 1 ang/hap/neu/sad, 2 ang/exc/neu/sad, 3 hap+exc merged
voxceleb_root=                   # for stage 2 (../voxceleb); empty: the demo VoxCeleb beside the demo IEMOCAP
speaker_model=                   # speaker checkpoint; empty: train one with ../voxceleb
ser_config=                      # empty: conf/ser_$setup.yaml
ser_modes="finetune probe scratch"  # speech systems trained in stage 3 (paper 003's three rows)
text_config=                     # empty: conf/text_$setup.yaml
text_model=                      # local BERT dir or cached name; empty: the config's model.encoder, else a small BERT built per fold
ssl_config=                      # empty: conf/ssl_$setup.yaml (paper: hubert-base-ls960, Table 7 of paper 004)
joint_config=                    # empty: conf/joint_$setup.yaml (paper: hubert-base-ls960 + bert-base-uncased)
text_source="ref asr"            # transcripts of the text, joint and fusion systems: ref (the corpus's), asr (--asr-model's:
                                 # what exists at use time; systems named *_asr, the exported model uses them), or both
asr_model=pocketsphinx           # text source asr: pocketsphinx, or a Whisper dir / cached name
ssl_model=                       # local HuBERT/wav2vec2/WavLM dir or cached name; empty: the config's, and with setup demo the demo HuBERT
demo_dir=demo
seed=777                         # the demo corpus's seed (and voxceleb's)
seeds="1 2"                      # training seeds: runs in exp/expN/seedS (spread and significance in RESULTS.md); empty: the configs' seed, in exp/expN
use_vad=false                    # true: statistical-model VAD (paper 003) selects the frames read (paper 000: none)
vad_config=conf/vad.conf         # with --use-vad true: the VAD's options
script_disjoint=false            # true: no IEMOCAP play on both sides of a fold (README, design notes)

. utils/parse_options.sh
positional_args 0 "$@"
check_enum exp_set 1 2 3
check_enum use_vad true false
check_enum script_disjoint true false
check_enum dry_run true false
[ -n "$setup" ] || setup=$([ -n "$iemocap_root" ] && echo paper || echo demo)
check_enum setup paper demo
check_list text_source ref asr
[ -n "$text_source" ] || usage_error "--text-source is empty"
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
[ -n "$ssl_config" ] || ssl_config=conf/ssl_$setup.yaml
[ -n "$joint_config" ] || joint_config=conf/joint_$setup.yaml
for f in "$ser_config" "$text_config" "$ssl_config" "$joint_config"; do
  [ -r "$f" ] || usage_error "cannot read config $f (in $PWD)"
done
for s in $seeds; do [[ $s =~ ^[0-9]+$ ]] || usage_error "--seeds '$seeds': expected integers"; done
data=data/exp$exp_set
exp=exp/exp$exp_set
case $exp_set in 2) classes="ang exc neu sad" ;; *) classes="ang hap neu sad" ;; esac  # emorec.data.iemocap.EXPERIMENTS
if $use_vad; then data+=_vad; exp+=_vad; fi
folds=$data/loso
if $script_disjoint; then folds+=_script_disjoint; exp+=_script_disjoint; fi
with_asr=false; [[ " $text_source " != *" asr "* ]] || with_asr=true
src_folds() { if [ "$1" = ref ]; then echo "$folds"; else echo "${folds}_asr"; fi; }
src_suffix() { [ "$1" = ref ] || echo "_$1"; }   # system names: text, text_asr, ...
runs=${seeds:-config}            # "config": one run with the configs' seed, in $exp itself
run_dir() { if [ "$1" = config ]; then echo "$exp"; else echo "$exp/seed$1"; fi; }
seed_opt() { if [ "$1" != config ]; then echo "--seed $1"; fi; }
pretrain_hubert=false
hubert_config=../voxceleb/conf/hubert_demo.yaml   # the demo HuBERT's (../voxceleb stage 6)
if [ -z "$ssl_model" ] && [ "$setup" = demo ]; then
  pretrain_hubert=true
  ssl_model=../voxceleb/exp/hubert_demo/model
fi
if [ -z "$speaker_model" ]; then
  speaker_model=../voxceleb/exp/resnet_$setup/avg_model.pt
  train_speaker_model=true
  voxceleb_args=(--setup "$setup" --ngpu "$ngpu" --seed "$seed")
  if [ -n "$voxceleb_root" ]; then
    voxceleb_args+=(--voxceleb-root "$voxceleb_root")
  else
    # stages 2 on depend on the speaker model; 0-1 (data, features) do not
    $use_demo || [ "$stop_stage" -lt 2 ] || usage_error "a real IEMOCAP needs a speaker model: --voxceleb-root DIR (trained by" \
                             "../voxceleb) or --speaker-model CKPT; the demo VoxCeleb is not used for it"
    voxceleb_args+=(--demo-dir "$PWD/$demo_dir")     # the demo VoxCeleb beside the demo IEMOCAP
  fi
else
  train_speaker_model=false
  [ -f "$speaker_model" ] || usage_error "--speaker-model $speaker_model: no such file"
fi

in_range() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }
# Every pretrained model the chosen stages load is looked up now (emorec.bin.check_models):
# the missing ones fail before any work, each named with where it was looked for.
model_args=()
if in_range 1 && $with_asr; then model_args+=(--asr-model "$asr_model"); fi
if in_range 2 && $train_speaker_model; then model_args+=(--config "../voxceleb/conf/train_$setup.yaml"); fi
if in_range 3 || in_range 7; then model_args+=(--config "$ser_config"); fi
if in_range 4; then
  model_args+=(--text-config "$text_config" --text-model "$text_model")
  $pretrain_hubert || model_args+=(--ssl-config "$ssl_config" --joint-config "$joint_config" --ssl-model "$ssl_model")
fi
models=$(python -m emorec.bin.check_models ${model_args[@]+"${model_args[@]}"})
model_of() { sed -n "s/^$1: //p" <<< "$models" | paste -sd ';' | sed 's/;/, /g'; }
echo "$0: setup $setup; corpus $($use_demo && echo "the synthetic demo corpus (seed $seed) in $demo_dir" ||
  echo "$iemocap_root"); stages $stage to $stop_stage"
# A GPU stage says under its banner when its jobs would run on CPU here (emorec.bin.check_gpu)
gpu_stage_banner() { stage_banner "$1"; python -m emorec.bin.check_gpu --asked "$ngpu" --banner "$cuda_cmd"; }
if $dry_run; then
  echo "jobs: train_cmd=\"$train_cmd\" cuda_cmd=\"$cuda_cmd\" (set by $EMOREC_CMD_SH)"
  if in_range 0; then echo "stage 0: IEMOCAP $iemocap_root (Exp $exp_set class set) -> $data/all"; fi
  if in_range 1; then echo "stage 1: features conf/fbank.conf -> fbank/$(basename "$data")$($use_vad && echo ", VAD $vad_config"); folds -> $folds$($with_asr && echo "; ASR $( [ "$asr_model" = pocketsphinx ] && echo pocketsphinx || model_of asr) -> $data/all_asr, ${folds}_asr")"; fi
  if in_range 2 && $train_speaker_model; then
    echo "stage 2: speaker model $speaker_model, trained by ../voxceleb:"
    (cd ../voxceleb && ./run.sh --dry-run true "${voxceleb_args[@]}") | sed 's/^/    /'
  elif in_range 2; then
    echo "stage 2: speaker model $speaker_model (given; not trained)"
  fi
  if in_range 3; then
    echo "stage 3: speech systems ($ser_modes), config $ser_config, from $speaker_model, on $folds -> $exp/ser_MODE (runs: $runs)"
  fi
  if in_range 4; then
    echo "stage 4: text models ($text_source transcripts), config $text_config, $(model_of text), on $folds -> $exp/text;" \
      "SSL models, config $ssl_config, $($pretrain_hubert && echo "encoder $ssl_model (pre-trained by ../voxceleb stage 6 with" \
      "$hubert_config)" || model_of ssl); joint models, config $joint_config$($pretrain_hubert ||
      echo ", $(model_of joint)") -> $exp/{ssl,joint}"
  fi
  if in_range 5; then echo "stage 5: late fusion of $exp/ser_finetune and of $exp/ssl with the text models ($text_source transcripts) -> $exp/fusion{,_ssl}{,_asr}/{w1,znorm}"; fi
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
  utils/validate_data_dir.sh --no-feats --classes "$classes" "$data/all"
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  stage_banner 1
  steps/make_fbank.sh --nj $nj --cmd "$train_cmd" --fbank-config conf/fbank.conf \
    "$data/all" "exp/make_fbank/$(basename "$data")" "fbank/$(basename "$data")"
  if $use_vad; then  # vad.scp in the data dir: feature reading keeps the voiced frames
    steps/compute_vad.sh --nj $nj --cmd "$train_cmd" --vad-config "$vad_config" "$data/all" "exp/make_vad/$(basename "$data")" \
      "vad/$(basename "$data")"
  fi
  utils/validate_data_dir.sh "$data/all"
  local/make_loso_folds.sh --script-disjoint $script_disjoint --classes "$classes" "$data/all" "$folds"
  for d in "$folds"/fold*/{train,dev,test}; do
    utils/validate_data_dir.sh "$d"
  done
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ] && $with_asr; then
  # transcripts from the audio (what exists at use time); same utterances, same folds
  steps/transcribe.sh --nj $nj --cmd "$cuda_cmd" --asr-model "$asr_model" "$data/all" "$data/all_asr"
  utils/validate_data_dir.sh "$data/all_asr"
  local/make_loso_folds.sh --script-disjoint $script_disjoint --classes "$classes" "$data/all_asr" "${folds}_asr"
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ] && $train_speaker_model; then
  stage_banner 2
  # through its scoring stage: the recipe's speaker-verification RESULTS.md stays current
  (cd ../voxceleb && ./run.sh "${voxceleb_args[@]}")
fi

if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  gpu_stage_banner 3
  for r in $runs; do
    for mode in $ser_modes; do
      steps/train_ser.sh --cmd "$cuda_cmd" --ngpu $ngpu --mode $mode --speaker-model "$speaker_model" \
        --train-config "$ser_config" --train-opts "$(seed_opt $r)" "$folds" "$(run_dir $r)/ser_$mode"
    done
  done
fi

if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  gpu_stage_banner 4
  for r in $runs; do
    for src in $text_source; do
      # the demo BERT is built once per fold and text source, shared by the seeds (as a downloaded one is)
      steps/train_text.sh --cmd "$cuda_cmd" --ngpu $ngpu --train-config "$text_config" --text-model "$text_model" \
        --encoder-dir "$exp/bert_demo$(src_suffix $src)" --train-opts "$(seed_opt $r)" \
        "$(src_folds $src)" "$(run_dir $r)/text$(src_suffix $src)"
    done
  done
  # Paper 004: a self-supervised speech encoder + linear classifier, and jointly with BERT.
  if $pretrain_hubert; then  # once, on the demo speaker corpus: it stands in for a downloaded model
    vox_demo=(--setup demo --seed "$seed" --demo-dir "$PWD/$demo_dir")   # the demo VoxCeleb beside the demo IEMOCAP
    (cd ../voxceleb && ./run.sh "${vox_demo[@]}" --stage 0 --stop-stage 0 &&
       ./run.sh "${vox_demo[@]}" --stage 6 --stop-stage 6 --demo-hubert true)
  fi
  for r in $runs; do
    e=$(run_dir $r)
    steps/train_fold.sh --cmd "$cuda_cmd" --family ssl --train-config "$ssl_config" \
      --model-opts "${ssl_model:+--ssl-model $(printf %q "$ssl_model")}" --train-opts "$(seed_opt $r)" "$folds" "$e/ssl"
    for src in $text_source; do
      sfx=$(src_suffix $src)
      joint_text=$text_model
      [ -n "$joint_text" ] || [ "$setup" != demo ] || joint_text=$exp/bert_demo$sfx/foldJOB
      steps/train_fold.sh --cmd "$cuda_cmd" --family joint --train-config "$joint_config" \
        --model-opts "${ssl_model:+--ssl-model $(printf %q "$ssl_model")} ${joint_text:+--text-model $(printf %q "$joint_text")}" \
        --train-opts "$(seed_opt $r)" "$(src_folds $src)" "$e/joint$sfx"
    done
  done
fi

if [ $stage -le 5 ] && [ $stop_stage -ge 5 ]; then
  stage_banner 5
  for r in $runs; do
    e=$(run_dir $r)
    for src in $text_source; do
      sfx=$(src_suffix $src)
      steps/fuse.sh --cmd "$train_cmd" --data "$(src_folds $src)" "$e/ser_finetune" "$e/text$sfx" "$e/fusion$sfx"
      steps/fuse.sh --cmd "$train_cmd" --data "$(src_folds $src)" "$e/ssl" "$e/text$sfx" "$e/fusion_ssl$sfx"
    done
  done
fi

if [ $stage -le 6 ] && [ $stop_stage -ge 6 ]; then
  stage_banner 6
  systems="speech_finetune=ser_finetune"
  for mode in $ser_modes; do
    [ $mode = finetune ] || systems+=" speech_$mode=ser_$mode"
  done
  systems+=" speech_ssl=ssl"
  w1_inputs=
  for src in $text_source; do
    x=$(src_suffix $src)
    systems+=" text$x=text$x fusion_w1$x=fusion$x/w1 fusion_znorm$x=fusion$x/znorm joint$x=joint$x"
    systems+=" fusion_ssl_w1$x=fusion_ssl$x/w1 fusion_ssl_znorm$x=fusion_ssl$x/znorm"
    w1_inputs+=" fusion_w1$x=ser_finetune,text$x fusion_ssl_w1$x=ssl,text$x"
  done
  asr_note=
  if $with_asr; then
    asr_note=" Systems *_asr: text, fusion and joint models trained and tested on ASR transcripts ($asr_model; $(cat "$data/all_asr/wer.txt"))."
  fi
  first=$(run_dir ${runs%% *})
  ablations=
  random_ablations=
  for d in "$first"/ablation/loso/*/ "$first"/ablation/random5/*/; do
    [ -d "$d" ] || continue
    name=$(basename "$d") proto=$(basename "$(dirname "$d")")
    if [ $proto = loso ]; then ablations+=" $name=ablation/loso/$name"; else random_ablations+=" $name=ablation/random5/$name"; fi
  done
  design_opt=()
  ! $use_demo || design_opt=(--demo-design "$demo_dir/IEMOCAP_design.txt")
  ssl_note=
  if $pretrain_hubert; then
    ssl_note=" The demo HuBERT ($hubert_config: ~0.4M parameters, pre-trained once on the demo VoxCeleb's training audio, no emotion corpus) only stands in for a pretrained encoder so that the SSL code path runs; what \`speech_ssl\` reaches here says nothing about HuBERT."
  fi
  # the seeds redraw the emotion training only; say what one seed fixes (issue 20, item 2)
  fixed="the folds, the speaker model ($speaker_model, trained once)"
  if $pretrain_hubert; then fixed+=", the demo HuBERT (pre-trained once on the demo speaker corpus)"; fi
  [ -n "$text_model" ] || [ "$setup" != demo ] || fixed+=", the demo BERT (built once per fold and text source)"
  seeds_note=" Seeds ($seeds) redraw only the emotion models' training (initialisation of the new layers, batch order, augmentation); they share $fixed, so the spread over seeds leaves out the variance of those components."
  [ -n "$seeds" ] || seeds_note=
  $use_vad && vad_note=" VAD (paper 003) selects the frames read." || vad_note=
  $script_disjoint && folds_note=" Script-disjoint folds ($folds)." || folds_note=
  steps/report.sh --cmd "$train_cmd" --command "$EMOREC_COMMAND" --data "$folds" --corpus-roots "$data/all/corpus_roots" --seeds "$seeds" --systems "$systems" \
    --ablations "$ablations" --random-data "$data/random5" --random-ablations "$random_ablations" \
    --paper-table conf/paper000_table2.tsv "${design_opt[@]}" --w1-inputs "$w1_inputs" \
    --quote-configs "$ser_config $text_config $ssl_config $joint_config $hubert_config" --title "Exp $exp_set results of egs/iemocap, setup $setup" \
    --notes "Speech systems of one table share a training budget ($ser_config); speaker model: $speaker_model. Whether transfer helps on this corpus: the \`speech_finetune\` − \`speech_scratch\` rows of the significance table.$seeds_note$vad_note$folds_note$asr_note$ssl_note" \
    "$exp" RESULTS.md
  echo "$0: results in $PWD/RESULTS.md, plots in $PWD/plots/"
fi

if [ $stage -le 6 ] && [ $stop_stage -ge 6 ]; then
  text_system=text; ! $with_asr || text_system=text_asr
  vad_opts=(); ! $use_vad || vad_opts=(--use-vad true --vad-config "$vad_config")
  steps/export_model.sh --fbank-config conf/fbank.conf ${vad_opts[@]+"${vad_opts[@]}"} --results RESULTS.md --asr-model "$asr_model" \
    --text-system $text_system --fusion-system ${text_system/text/fusion} \
    --corpus-roots "$data/all/corpus_roots" --trained-on "Exp $exp_set classes, folds of $folds" "$(run_dir ${runs%% *})" "$exp/model"
fi

if [ $stage -le 7 ] && [ $stop_stage -ge 7 ]; then
  gpu_stage_banner 7
  # Paper 003, Figure 4: transfer learning x spectrogram augmentation x statistics pooling,
  # under leave-one-session-out and under the paper's 5-fold random 80/20 protocol.
  local/make_loso_folds.sh --protocol random5 --classes "$classes" "$data/all" "$data/random5"
  for r in $runs; do
    for proto in loso random5; do
      d=$folds; [ $proto = loso ] || d=$data/random5
      a=$(run_dir $r)/ablation/$proto
      for mode in scratch finetune; do
        for aug in none conservative aggressive; do
          for pool in stats avg; do
            steps/train_ser.sh --cmd "$cuda_cmd" --ngpu $ngpu --mode $mode --speaker-model "$speaker_model" \
              --train-config "$ser_config" --train-opts "$(seed_opt $r) --set augment.policy=$aug --set model.pooling=$pool" \
              "$d" "$a/${mode}_aug-${aug}_pool-${pool}"
          done
        done
      done
      steps/train_ser.sh --cmd "$cuda_cmd" --ngpu $ngpu --mode probe --speaker-model "$speaker_model" \
        --train-config "$ser_config" --train-opts "$(seed_opt $r) --set optim.lr=0.1" "$d" "$a/probe"
    done
  done
  echo "$0: run stage 6 again to add the ablation table to RESULTS.md"
fi
