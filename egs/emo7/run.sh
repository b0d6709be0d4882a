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
#   stage 1: merge into 7 classes, statistical-model VAD, noise reduction (--noise-reduction;
#            default with --setup paper), silence removal, < 1 s dropped,
#            counts table (data/emo7/all, data/emo7/all/counts.txt)
#   stage 2: splits data/emo7/{strat,spk,spksent,loco/<corpus>}/{train,valid,test} and the
#            class-balanced training sets .../train_aug (augmented copies of train only)
#   stage 3: baselines of paper 004 (Table 6): 94 hand-crafted features and 88 eGeMAPS
#            functionals per utterance (steps/make_handcrafted.sh), 8 classifiers selected
#            on each split's valid part (steps/train_baselines.sh), RESULTS.md
#   stage 4: paper 004's Table 8 systems per protocol (strat, spk, loco/<corpus>: the K-th
#            protocol is data/emo7/folds/*/foldK, train = train_aug, dev = valid, test):
#            MobileNetV2 on spectrogram images and the 1-D CNN (steps/train_fold.sh --family
#            mobilenet|cnn1d), HuBERT + linear classifier (steps/train_fold.sh), BERT on the transcripts and
#            joint HuBERT+BERT per --text-source (ref: the corpora's transcripts; asr: those
#            of steps/transcribe.sh); with --setup demo and no --ssl-model the encoder is the
#            demo HuBERT pre-trained once on the demo speaker corpus (../voxceleb stage 6,
#            shared with egs/iemocap; no emotion corpus heard), and
#            without --text-model the demo BERT built from its TRAIN text (steps/train_text.sh)
#   stage 5: RESULTS.md again, with the Table 8 section (and the ASR's WER): mean ± std
#            over --seeds, paired significance (utterances, speakers within corpus; Holm),
#            test transcripts seen in training, each protocol's UA ceiling
# --balance paper reads paper 004's Tables 1-2 (train and valid pooled, capped and augmented
# to --paper-per-class "1600 400" per class, copies in both: train_aug, valid_aug) instead of
# augmenting train only up to its largest class (the default; README, Deviations).
#   stage 6: paper 004's deployment (Sec. IV): the joint HuBERT+BERT model of the stratified
#            protocol with its preprocessing (16 kHz, silence removal) and ASR -> exp/model
#            (steps/export_model.sh --system; emorec-serve --model exp/model), scored as
#            deployed on RAVDESS (steps/score_package.sh: Table 9's counterpart; RAVDESS is in
#            that model's training data: the loco/ravdess column of Table 8 is the honest one)
# Either all five corpus paths are given, or none (demo).  --include-song true keeps
# RAVDESS's song files; --exc-to-happy true maps IEMOCAP's exc to happy.
# --setup paper (the default with corpus paths) uses conf/{ssl,joint,text}_paper.yaml
# (Table 7; facebook/hubert-base-ls960, bert-base-uncased from a local dir or the local
# Hugging Face cache: a missing one fails before stage 0, naming it); --setup demo the
# small demo configs. --dry-run true prints what each stage would use (the models resolved) and stops.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/utils/lib/script_init.sh"
cd "$(dirname "${BASH_SOURCE[0]}")"
. ./cmd.sh
. utils/lib/stamp.sh

stage=0
stop_stage=6
setup=                   # paper | demo; empty: paper with corpus paths, else demo
dry_run=false            # true: print the configs and models of every stage, run nothing
nj=4                     # parallel VAD jobs
crema_d=                 # CREMA-D root (AudioWAV/ inside); empty: demo
ravdess=                 # RAVDESS root (Actor_NN/ inside)
savee=                   # SAVEE root (AudioData/<SPK>/ or flat <SPK>_xNN.wav)
tess=                    # TESS root (<OAF|YAF>_<emotion>/ inside)
iemocap=                 # IEMOCAP_full_release
include_song=false
exc_to_happy=false
min_duration=1.0         # seconds of speech after silence removal (paper 004)
noise_reduction=         # true|false: spectral-gating noise reduction in stage 1; empty: true with --setup paper, false with demo
augment_target=0         # utterances per class after augmentation; 0: the largest class
balance=largest          # largest: train augmented up to --augment-target; paper: paper 004's train+valid balance
paper_per_class="1600 400"  # --balance paper: utterances per class in train_aug and valid_aug
baseline_features="handcrafted egemaps"   # utterance vectors of stage 3 (steps/make_handcrafted.sh)
aug_nj=2                 # parallel vector jobs per protocol's augmented copies (~100 utterances)
demo_dir=demo
demo_size=small
seed=0                   # the demo corpora's, splits' and augmentation's seed
seeds="1 2"              # training seeds of stage 4's systems: exp/<system>/seedS (spread and significance in RESULTS.md)
classes="angry calm disgust fearful happy sad surprised"   # posterior order of every system
ssl_config=              # empty: conf/ssl_$setup.yaml (paper: hubert-base-ls960, Table 7)
joint_config=            # empty: conf/joint_$setup.yaml (paper: hubert-base-ls960 + bert-base-uncased)
text_config=             # empty: conf/text_$setup.yaml (the BERT text model; demo: builds the demo BERT)
cnn_systems="mobilenet cnn1d"   # paper 004's CNN systems of Table 8, config conf/<name>_$setup.yaml each
ssl_model=               # local HuBERT/wav2vec2/WavLM dir or cached name; empty: the config's, and with setup demo the demo HuBERT
text_model=              # local BERT dir or cached name; empty: the config's, and with setup demo the demo BERT
ssl_train=train_aug      # training part of stage 4's systems (train_aug: class-balanced; or train)
text_source=ref          # transcripts of the text and joint models: "ref", "asr" or "ref asr"
asr_model=pocketsphinx   # with asr in --text-source: pocketsphinx, or a Whisper dir / cached name
ngpu=1                   # GPUs per text training job (0: CPU)

. utils/parse_options.sh
positional_args 0 "$@"
check_enum demo_size small tiny
check_list text_source ref asr
[ -n "$text_source" ] || usage_error "--text-source is empty (ref, asr or \"ref asr\")"
check_enum ssl_train train_aug train
check_enum balance largest paper
valid_name=valid         # the validation part every stage selects on
[ $balance = largest ] || valid_name=valid_aug
[ -n "$seeds" ] || usage_error "--seeds is empty (e.g. \"1 2\")"
for s in $seeds; do [[ $s =~ ^[0-9]+$ ]] || usage_error "--seeds '$seeds': expected integers"; done

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
[ -n "$setup" ] || setup=$($use_demo && echo demo || echo paper)
check_enum setup paper demo
[ -n "$noise_reduction" ] || noise_reduction=$([ "$setup" = paper ] && echo true || echo false)
check_enum noise_reduction true false
[ -n "$ssl_config" ] || ssl_config=conf/ssl_$setup.yaml
[ -n "$joint_config" ] || joint_config=conf/joint_$setup.yaml
[ -n "$text_config" ] || text_config=conf/text_$setup.yaml
for f in "$ssl_config" "$joint_config" "$text_config"; do
  [ -r "$f" ] || usage_error "cannot read config $f (in $PWD)"
done
folds=$data/folds
pretrain_hubert=false
hubert_config=../voxceleb/conf/hubert_demo.yaml   # the demo HuBERT's (../voxceleb stage 6)
if [ -z "$ssl_model" ] && [ "$setup" = demo ]; then
  pretrain_hubert=true
  ssl_model=../voxceleb/exp/hubert_demo/model
fi
report() {  # RESULTS.md: the baselines (stage 3), then with the Table 8 section (stage 5: "$@")
  python -m emorec.bin.report_baselines --data "$data" --protocols "strat spk spksent loco" \
    --feature-sets "$baseline_features" --all-dir "$data/all" --corpus-roots "$data/all/corpus_roots" \
    --paper-table conf/paper004_table6.tsv --command "$EMOREC_COMMAND" "$@" \
    exp/baselines RESULTS.md
}
# protocols of stages 3-5: the splits of stage 2 (loco: one per corpus)
protocols() {
  local p="strat spk spksent" d
  for d in "$data"/loco/*/; do
    [ -d "$d" ] && p+=" loco/$(basename "$d")"
  done
  echo "$p"
}
demo_bert=false         # the joint model's BERT: the demo BERT of steps/train_text.sh per protocol
[ -n "$text_model" ] || [ "$setup" != demo ] || demo_bert=true
in_range() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }
# Every pretrained model the chosen stages load is looked up now (emorec.bin.check_models):
# the missing ones fail before any work, each named with where it was looked for.
model_args=()
if in_range 4; then
  model_args+=(--text-config "$text_config" --text-model "$text_model")
  [[ $text_source != *asr* ]] || model_args+=(--asr-model "$asr_model")
  $pretrain_hubert || model_args+=(--ssl-config "$ssl_config" --ssl-model "$ssl_model")
  $pretrain_hubert || $demo_bert || model_args+=(--joint-config "$joint_config")
  for f in $cnn_systems; do model_args+=(--config "conf/${f}_$setup.yaml"); done   # ImageNet weights
fi
models=$(python -m emorec.bin.check_models ${model_args[@]+"${model_args[@]}"})
model_of() { sed -n "s/^$1: //p" <<< "$models" | paste -sd ';' | sed 's/;/, /g'; }
# A GPU stage says under its banner when its jobs would run on CPU here (emorec.bin.check_gpu)
gpu_stage_banner() { stage_banner "$1"; python -m emorec.bin.check_gpu --asked "$ngpu" --banner "$cuda_cmd"; }
if $dry_run; then
  echo "$0: setup $setup; corpora $($use_demo && echo "demo ($demo_dir)" || echo "as given"); stages $stage to $stop_stage"
  echo "jobs: train_cmd=\"$train_cmd\" cuda_cmd=\"$cuda_cmd\" (set by $EMOREC_CMD_SH)"
  if in_range 0; then echo "stage 0: $($use_demo && echo "demo corpora ($demo_size) -> $demo_dir; ")data dirs data/{cremad,ravdess,savee,tess,iemocap}"; fi
  if in_range 1; then echo "stage 1: 7 classes (exc to happy: $exc_to_happy, RAVDESS song: $include_song), VAD conf/vad.conf, silence removed, < ${min_duration} s dropped -> $data/all"; fi
  if in_range 2; then echo "stage 2: splits strat, spk, spksent, loco/<corpus> (seed $seed; balance $balance), class-balanced train_aug (target $augment_target; 0: the largest class) -> $data"; fi
  if in_range 3; then echo "stage 3: baselines on $baseline_features vectors, 8 classifiers selected on valid -> exp/baselines, RESULTS.md"; fi
  if in_range 4; then
    echo "stage 4: SSL models, config $ssl_config, $($pretrain_hubert && echo "encoder $ssl_model (pre-trained by ../voxceleb stage 6 with" \
      "$hubert_config)" || model_of ssl) -> exp/ssl/seedS; text models, config $text_config," \
      "$(model_of text) -> exp/text/seedS; joint models, config $joint_config$($pretrain_hubert || $demo_bert ||
      echo ", $(model_of joint)") -> exp/joint/seedS, seeds $seeds (text: $text_source$([[ $text_source == *asr* ]] &&
      echo ", asr $( [ "$asr_model" = pocketsphinx ] && echo pocketsphinx || model_of asr)"))"
    echo "stage 4 (CNN systems): $(for f in $cnn_systems; do printf '%s ' "$f: conf/${f}_$setup.yaml -> exp/$f/seedS;"; done)"
  fi
  if in_range 5; then echo "stage 5: RESULTS.md with the Table 8 section"; fi
  if in_range 6; then echo "stage 6: the joint model of fold1, seed ${seeds%% *} (transcripts: ${text_source%% *}) -> exp/model (steps/export_model.sh --system joint), scored on RAVDESS -> exp/model_ravdess"; fi
  exit 0
fi

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  stage_banner 0
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
  stage_banner 1
  local/emo7_merge.sh --nj $nj --cmd "$train_cmd" --exc-to-happy $exc_to_happy \
    --min-duration $min_duration --noise-reduction $noise_reduction --vad-config conf/vad.conf \
    "$data" data/cremad data/ravdess data/savee data/tess data/iemocap
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  stage_banner 2
  local/emo7_splits.sh --seed $seed --augment-target $augment_target --balance $balance \
    --paper-per-class "$paper_per_class" "$data/all" "$data"
fi

if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  stage_banner 3
  protocols=$(protocols)
  # One vector per utterance, computed once: the merged dir, then per protocol the
  # augmented copies of its training part (their ids repeat across protocols, their audio
  # does not, so each protocol's copies have their own scp).
  for fs in $baseline_features; do
    steps/make_handcrafted.sh --nj $nj --cmd "$train_cmd" --feature-set $fs \
      "$data/all" exp/make_$fs/all vectors/$fs/all
  done
  for p in $protocols; do
    aug=$data/$p/augmented
    aug_src=$data/$p/train_aug                 # the copies; with --balance paper also valid_aug's
    [ $balance = largest ] || aug_src=$data/$p/pool_aug
    if ! awk '$1 != $2 { copies = 1; exit } END { exit !copies }' "$aug_src/utt2orig"; then
      echo "$0: $data/$p/train_aug holds no augmented copies (its classes are balanced already):" \
           "no augmented vectors; its baselines train on $data/$p/train"
      continue
    fi
    fp=(--final "$aug" --step augmented_subset --version 1 --input "$aug_src")
    if ! stamp_done "${fp[@]}"; then
      stamp_begin "${fp[@]}"
      awk '$1 != $2 { print $1 }' "$aug_src/utt2orig" > "$data/$p/augmented.list"
      utils/subset_data_dir.sh --utt-list "$data/$p/augmented.list" "$aug_src" "$aug.tmp"
      mv "$aug.tmp" "$aug"
    fi
    rm -f "$data/$p/augmented.list"
    text_opt=()
    [ -f "$aug/text" ] || text_opt=(--no-text)
    utils/validate_data_dir.sh --no-feats ${text_opt[@]+"${text_opt[@]}"} "$aug"
    for fs in $baseline_features; do
      steps/make_handcrafted.sh --nj $aug_nj --cmd "$train_cmd" --feature-set $fs \
        "$aug" exp/make_$fs/${p//\//_} vectors/$fs/${p//\//_}
    done
  done
  steps/train_baselines.sh --cmd "$train_cmd" --feature-sets "$baseline_features" \
    --splits "$protocols" --vector-dirs "$data/all" --split-vector-dirs augmented \
    --train-name train_aug --valid-name $valid_name --classes "$classes" --baseline-config conf/baselines.yaml \
    --seed $seed "$data" exp/baselines
  report
fi

if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  gpu_stage_banner 4
  # reference transcripts of the merged utterances (SAVEE has none)
  texts=()
  for c in cremad ravdess savee tess iemocap; do
    [ -f "data/$c/text" ] && texts+=("data/$c/text")
  done
  cat "${texts[@]}" | utils/filter_scp.pl "$data/all/utt2spk" | LC_ALL=C sort > "$data/text.ref.tmp"
  mv "$data/text.ref.tmp" "$data/text.ref"
  # Folds: the K-th protocol is foldK of every view. Those whose test part has reference
  # transcripts come first, so the text views (utterances with a transcript; a protocol
  # without any, leave-one-out of a corpus without transcripts, has none) number theirs
  # as the speech view does, and per-fold encoders (foldJOB) match.
  with_text= without_text=
  for p in $(protocols); do
    if [ -n "$(utils/filter_scp.pl "$data/$p/test/utt2spk" "$data/text.ref" | head -n 1)" ]; then
      with_text+=" $p"
    else
      without_text+=" $p"
    fi
  done
  protocols="${with_text# }$without_text"
  nf=$(echo $protocols | wc -w)
  # Paper 004, Table 8: HuBERT + linear classifier; BERT on the transcripts; both jointly.
  local/emo7_folds.sh --train-name $ssl_train --valid-name $valid_name "$data" "$protocols" "$folds/speech"
  echo $classes | tr ' ' '\n' > "$folds/classes.txt.tmp"   # posterior order (a held-out corpus may own a class)
  mv "$folds/classes.txt.tmp" "$folds/classes.txt"
  if $pretrain_hubert; then  # the stand-in for a downloaded HuBERT: once, on the demo speaker corpus
    (cd ../voxceleb && ./run.sh --setup demo --stage 0 --stop-stage 0 &&
       ./run.sh --setup demo --stage 6 --stop-stage 6 --demo-hubert true)
  fi
  for s in $seeds; do
    for f in $cnn_systems; do  # MobileNetV2 on spectrogram images, the 1-D CNN (Sec. III.C)
      steps/train_fold.sh --cmd "$cuda_cmd" --nfolds $nf --family $f --train-config conf/${f}_$setup.yaml \
        --ngpu $ngpu --train-opts "--classes $folds/classes.txt --seed $s" "$folds/speech" exp/$f/seed$s
    done
    steps/train_fold.sh --cmd "$cuda_cmd" --nfolds $nf --family ssl --train-config "$ssl_config" \
      --model-opts "${ssl_model:+--ssl-model $(printf %q "$ssl_model")}" \
      --train-opts "--classes $folds/classes.txt --seed $s" "$folds/speech" exp/ssl/seed$s
  done
  for src in $text_source; do
    sfx=${src/ref/}; sfx=${sfx:+_$sfx}     # ref: exp/{text,joint}; asr: exp/{text,joint}_asr
    if [ $src = asr ]; then
      steps/transcribe.sh --nj $nj --cmd "$cuda_cmd" --asr-model "$asr_model" "$data/all" "$data/all_asr"
      python -m emorec.bin.compute_wer "$data/text.ref" "$data/all_asr/text" > "$data/all_asr/wer.txt.tmp"
      mv "$data/all_asr/wer.txt.tmp" "$data/all_asr/wer.txt"
      echo "$0: ASR ($asr_model) against the reference transcripts: $(cat "$data/all_asr/wer.txt")"
      transcripts=$data/all_asr/text text_protocols=$protocols
    else
      transcripts=$data/text.ref text_protocols=${with_text# }
    fi
    # utterances without a transcript are left out of the text and joint systems' parts
    local/emo7_folds.sh --train-name $ssl_train --valid-name $valid_name --text "$transcripts" "$data" "$text_protocols" "$folds/text_$src"
    cat "$folds/text_$src/text_coverage.txt"
    ntf=$(echo $text_protocols | wc -w)
    joint_text=$text_model
    $demo_bert && joint_text=exp/text$sfx/encoder/foldJOB
    for s in $seeds; do  # the demo BERT is built once per protocol, shared by the seeds (as a downloaded one is)
      steps/train_text.sh --cmd "$cuda_cmd" --nfolds $ntf --ngpu $ngpu --train-config "$text_config" \
        --text-model "$text_model" --encoder-dir exp/text$sfx/encoder \
        --train-opts "--classes $folds/classes.txt --seed $s" "$folds/text_$src" exp/text$sfx/seed$s
      steps/train_fold.sh --cmd "$cuda_cmd" --nfolds $ntf --family joint --train-config "$joint_config" \
        --model-opts "${ssl_model:+--ssl-model $(printf %q "$ssl_model")} ${joint_text:+--text-model $(printf %q "$joint_text")}" \
        --train-opts "--classes $folds/classes.txt --seed $s" "$folds/text_$src" exp/joint$sfx/seed$s
    done
  done
fi

table8_report() {  # RESULTS.md with the Table 8 section (stage 5; stage 6 adds "$@": Table 9's counterpart)
  systems="hubert=exp/ssl:$folds/speech"
  for f in $cnn_systems; do systems+=" $f=exp/$f:$folds/speech"; done
  notes=("setup $setup: $ssl_config, $joint_config, $text_config; speech encoder $(
    $pretrain_hubert && echo "the demo HuBERT, pre-trained once on the demo VoxCeleb's training audio ($hubert_config; no emotion corpus)" ||
    echo "${ssl_model:-of $ssl_config}")."
    "Training part: \`$ssl_train\`$([ $ssl_train = train_aug ] && echo " (class-balanced: train plus augmented copies of train; the SSL step reads their audio)"); the epoch is selected on the protocol's \`$valid_name\` part by UA$(
    [ $balance = largest ] || echo " (--balance paper: train and valid balanced together as in paper 004, augmented copies in both)"); the test part is scored once.")
  for src in $text_source; do
    sfx=${src/ref/}; sfx=${sfx:+_$sfx}
    systems+=" text$sfx=exp/text$sfx:$folds/text_$src joint$sfx=exp/joint$sfx:$folds/text_$src"
    if [ $src = ref ]; then
      notes+=("\`text\`, \`joint\`: reference transcripts; utterances without one (SAVEE's) are left out of their train, valid and test parts ($folds/text_ref/text_coverage.txt), so their test sets are smaller than \`hubert\`'s (sizes below); text encoder: $(
        $demo_bert && echo "the demo BERT built per protocol from its training transcripts" || echo "${text_model:-of $text_config}").")
    else
      notes+=("\`text_asr\`, \`joint_asr\`: ASR transcripts ($asr_model) of every utterance, $(cat "$data/all_asr/wer.txt") against the reference transcripts (utterances without an ASR output are left out: $folds/text_asr/text_coverage.txt).")
    fi
  done
  notes+=("Rows are UA / WA in % on each protocol's TEST part. Demo numbers are not comparable with the paper's (separate table below).")
  # the seeds redraw only the classifiers' training (issue 20, item 2): say what they share
  fixed="the corpora, the splits and the augmented copies (seed $seed)"
  if $pretrain_hubert; then fixed+=", the demo HuBERT (pre-trained once on the demo speaker corpus)"; else fixed+=", the pretrained speech encoder"; fi
  if $demo_bert; then fixed+=", the demo BERT (built once per protocol and transcript source)"; else fixed+=", the pretrained text encoder"; fi
  notes+=("Seeds $seeds redraw the training of each system (new layers' initialisation, batch order); they share $fixed, so the spread over seeds leaves out the variance of those; the baselines are one run (seed $seed).")
  note_opts=()
  for n in "${notes[@]}"; do note_opts+=(--note "$n"); done
  overlap_opt=()
  [[ " $text_source " != *" ref "* ]] || overlap_opt=(--overlap-folds "$folds/text_ref")
  report --ssl-systems "$systems" --table8 conf/paper004_table8.tsv --seeds "$seeds" \
    ${overlap_opt[@]+"${overlap_opt[@]}"} "${note_opts[@]}" "$@"
}

if [ $stage -le 5 ] && [ $stop_stage -ge 5 ]; then
  stage_banner 5
  table8_report
fi

if [ $stage -le 6 ] && [ $stop_stage -ge 6 ]; then
  stage_banner 6
  src=${text_source%% *}; sfx=${src/ref/}; sfx=${sfx:+_$sfx}
  protocol=$(awk '$1 == "fold1" { print $2 }' "$folds/text_$src/folds.txt")
  seed1=${seeds%% *}
  steps/export_model.sh --system joint$sfx ${seed1:+--system-dir exp/joint$sfx/seed$seed1} --folds 1 \
    --vad-config conf/vad.conf --noise-reduction $noise_reduction --asr-model "$asr_model" \
    --corpus-roots "$data/all/corpus_roots" --results RESULTS.md \
    --trained-on "protocol $protocol (fold1 of $folds/text_$src), transcripts: $src${seed1:+, seed $seed1}" exp exp/model
  # Table 9's counterpart: the package on RAVDESS, each recording through its preprocessing and ASR
  awk '$2 == "ravdess" { print $1 }' "$data/all/utt2corpus" > "$data/ravdess.list"
  rm -rf "$data/ravdess_eval"
  utils/subset_data_dir.sh --utt-list "$data/ravdess.list" "$data/all" "$data/ravdess_eval"
  steps/score_package.sh --cmd "$train_cmd" exp/model "$data/ravdess_eval" exp/model_ravdess
  table8_report --package-scores exp/model_ravdess
fi
