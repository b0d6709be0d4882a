#!/usr/bin/env bash
# Usage: local/make_loso_folds.sh [--dev-frac 0.1] <DATA_DIR> <OUT_DIR>
#  e.g.: local/make_loso_folds.sh data/iemocap data/iemocap_folds
#
# Leave-one-session-out folds: OUT_DIR/fold{1..5}/{train,dev,test} are full Kaldi
# data dirs (every list of DATA_DIR filtered, spk2utt regenerated) and
# OUT_DIR/foldK/test_session names the held-out session.
#   test  = Session K
#   dev   = for each (session, emotion) of the other sessions, the ceil(10%) of
#           utterances with the smallest md5(utt id): stratified, rerun-stable
#   train = the rest
# No test-session utterance is ever in train or dev.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

dev_frac=0.1
. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
data=$1
out=$2
for f in utt2spk utt2emo; do
  [ -s "$data/$f" ] || { echo "$0: missing $data/$f" >&2; exit 1; }
done
mkdir -p "$out"
python -m emorec.bin.make_loso_folds --dev-frac "$dev_frac" "$data" "$out"
