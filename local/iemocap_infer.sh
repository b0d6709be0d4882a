#!/usr/bin/env bash
# Usage: local/iemocap_infer.sh [options] [--] [emorec-infer options] WAV [WAV ...]
#  e.g.: local/iemocap_infer.sh --fold 1 -- --transcript "I can't believe you did that" some.wav
#
# Emotion posteriors of audio files with the models egs/iemocap/run.sh trained, run from
# egs/iemocap: gives emorec-infer (python -m emorec.bin.infer) the recipe's paths for
# Exp set N, fold K:
#   --speech-model  exp/expN/ser_MODE/foldK/model
#   --fbank-config  conf/fbank.conf
#   --text-model    exp/expN/text/foldK/model          (used with transcripts)
#   --fusion-dir    exp/expN/fusion/FUSION/foldK        (used with transcripts)
# The remaining arguments go to emorec-infer (after "--" when the first of them is an
# option): --transcript TEXT or --transcript-file FILE once per WAV, --json, --device ...
#
# Options:
#   --exp-set N      class set of the run (run.sh --exp-set)       [3]
#   --fold K         which fold's models                            [1]
#   --seed S         which training seed's run (run.sh --seeds): exp/expN/seedS
#                    when it exists, else exp/expN                  [1]
#   --mode M         speech system: finetune | scratch | probe      [finetune]
#   --fusion M       w1 | znorm | none                              [w1]
#   --use-vad BOOL   the run used --use-vad true: exp/expN_vad, the voiced frames
#                    only (conf/vad.conf)                           [false]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

exp_set=3
fold=1
seed=1
mode=finetune
fusion=w1
use_vad=false

. "$EMOREC_ROOT/utils/parse_options.sh"
# (no positional_args: the arguments after the WAVs' options go to emorec-infer as they are)
[ $# -ge 1 ] || usage_error "expected at least one WAV"
check_enum exp_set 1 2 3
check_enum mode finetune scratch probe
check_enum fusion w1 znorm none
check_enum use_vad true false
exp=exp/exp$exp_set
vad_opts=()
if $use_vad; then exp+=_vad; vad_opts=(--vad-config conf/vad.conf); fi
[ -d "$exp/seed$seed" ] && exp=$exp/seed$seed
[ -d "$exp" ] || { echo "$0: no $exp in $PWD (run from egs/iemocap after ./run.sh --exp-set $exp_set)" >&2; exit 1; }
python -m emorec.bin.infer --speech-model "$exp/ser_$mode/fold$fold/model" --fbank-config conf/fbank.conf \
  --text-model "$exp/text/fold$fold/model" --fusion "$fusion" --fusion-dir "$exp/fusion/$fusion/fold$fold" \
  ${vad_opts[@]+"${vad_opts[@]}"} "$@"
