#!/usr/bin/env bash
# steps/export_model.sh -- package a recipe's trained models into one self-contained directory.
#
# Usage: steps/export_model.sh [options] <exp-dir> <out-dir>
#   e.g. steps/export_model.sh --results RESULTS.md --trained-on "IEMOCAP Exp 3" exp/exp3 exp/exp3/model
#
# <out-dir> gets the speech checkpoints, text model dirs and fusion parameters of the
# folds (<exp-dir>/<speech-system>/foldK/model, <exp-dir>/<text-system>/foldK/model,
# <exp-dir>/<fusion-system>/<fusion>/foldK), the fbank config, classes.txt, the ASR choice,
# manifest.json and a README.md with the recipe's test UA/WA (emorec/package.py documents
# the format). Several folds are exported as an ensemble (mean of their log-posteriors).
# With --system NAME the package holds that one system of any model family instead
# (<exp-dir>/NAME/foldK/model; e.g. paper 004's joint HuBERT+BERT), with the preprocessing
# of the recipe's audio (16 kHz mono, silence removal with --vad-config's VAD unless
# --trim-silence false; a noise-reduction step named but disabled), its ASR and classes.
# Use it with: emorec-infer --model <out-dir> some.wav   or   emorec-serve --model <out-dir>
#
# Options:
#   --system NAME              one system of any family (empty: the late fusion below)
#   --trim-silence BOOL        --system: silence removal before scoring (true)
#   --folds "1 2 3 4 5"        folds to export (one fold: that fold's models exactly)
#   --speech-system NAME       speech system dir under <exp-dir> (ser_finetune)
#   --text-system NAME         text system dir under <exp-dir> (text; text_asr: trained on ASR text)
#   --fusion-system NAME       fusion dir under <exp-dir> (fusion; fusion_asr)
#   --fusion M                 w1 | znorm | equal_raw (w1)
#   --fbank-config FILE        the features the speech models were trained on (conf/fbank.conf)
#   --use-vad BOOL             the recipe ran with --use-vad true: the package scores the voiced
#                              frames only, as the recipe's scores did (false)
#   --vad-config FILE          the options file steps/compute_vad.sh was given (none: its defaults)
#   --asr-model M              pocketsphinx, or a Whisper dir (copied in) / cached name (pocketsphinx)
#   --results FILE             the recipe's RESULTS.md (its summary rows go into README.md)
#   --trained-on TEXT          what the models were trained on, for README.md
#   --corpus-roots FILE        the data prep's corpus_roots: README.md names the corpus from it
#   --system-dir DIR           --system: the dir of its foldK dirs (EXP_DIR/SYSTEM)
#   --noise-reduction BOOL     --system: noise reduction before silence removal, as the recipe's (false)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

folds="1 2 3 4 5"
system=
trim_silence=true
speech_system=ser_finetune
text_system=text
fusion_system=fusion
fusion=w1
fbank_config=conf/fbank.conf
use_vad=false
vad_config=
asr_model=pocketsphinx
results=
trained_on=
corpus_roots=
system_dir=
noise_reduction=false

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
opts=()
[ -n "$system" ] && opts+=(--system "$system" --trim-silence "$trim_silence" --noise-reduction "$noise_reduction")
[ -n "$system_dir" ] && opts+=(--system-dir "$system_dir")
[ -n "$corpus_roots" ] && opts+=(--corpus-roots "$corpus_roots")
[ -n "$results" ] && opts+=(--results "$results")
[ -n "$vad_config" ] && opts+=(--vad-config "$vad_config")
python -m emorec.bin.export_model --fbank-config "$fbank_config" --use-vad "$use_vad" --folds "$folds" \
  --speech-system "$speech_system" --text-system "$text_system" --fusion-system "$fusion_system" --fusion "$fusion" --asr-model "$asr_model" --trained-on "$trained_on" \
  ${opts[@]+"${opts[@]}"} "$1" "$2"
echo "$(basename "$0"): model in $2 (emorec-infer --model $2 WAV)"
