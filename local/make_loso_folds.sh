#!/usr/bin/env bash
# Usage: local/make_loso_folds.sh [--protocol loso|random5] [--script-disjoint false|true]
#                                 [--classes "C1 C2 ..."] <DATA_DIR> <OUT_DIR>
#  e.g.: local/make_loso_folds.sh --classes "ang hap neu sad" data/iemocap data/iemocap_folds
#
# Cross-validation folds (emorec.data.folds): OUT_DIR/fold{1..5}/{train,dev,test} are
# full Kaldi data dirs (every list of DATA_DIR filtered, spk2utt regenerated) and
# OUT_DIR/foldK/test_set names the held-out session (or random part).
# --protocol loso (default), leave one session out:
#   test  = Session K
#   dev   = ONE speaker of the other sessions (rotating: fold1 Ses02F, fold2 Ses03M, ...)
#   train = the rest; dev shares no speaker with train or test
# --script-disjoint true (loso): each scripted play (scriptNN) is on the test side or
#   the training side of a fold, never both (README, design notes)
# --protocol random5: paper 003's ablation protocol, 5 stratified random 80/20 folds
#   (by md5 of the utterance id); dev = every 10th training utterance per emotion;
#   speakers are shared between train, dev and test.
# --classes: the recipe's class set; a label of DATA_DIR/utt2emo outside it fails,
#   naming its line (it would silently become a class)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

protocol=loso
script_disjoint=false
classes=
. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
check_enum protocol loso random5
data=$1
out=$2
for f in utt2spk utt2emo; do
  [ -s "$data/$f" ] || { echo "$0: missing $data/$f" >&2; exit 1; }
done
mkdir -p "$out"
python -m emorec.bin.make_loso_folds --protocol "$protocol" --script-disjoint "$script_disjoint" \
  --classes "$classes" "$data" "$out"
