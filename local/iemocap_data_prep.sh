#!/usr/bin/env bash
# Usage: local/iemocap_data_prep.sh [--exp 0|1|2|3] [--max-drop-frac 0.05] <IEMOCAP_ROOT> <DATA_DIR>
#  e.g.: local/iemocap_data_prep.sh --exp 3 /corpora/IEMOCAP_full_release data/iemocap
#
# Writes DATA_DIR/{wav.scp,utt2spk,spk2utt,text,utt2emo} for the IEMOCAP turns
# whose majority label (SessionN/dialog/EmoEvaluation/*.txt) is in the class set:
#   --exp 1: ang hap neu sad      (paper: 4490 utterances)
#   --exp 2: ang exc neu sad      (paper: 4936)
#   --exp 3: ang hap neu sad, exc merged into hap (default; paper: 5531)
#   --exp 0: every label kept (xxx fru exc oth ... too; egs/emo7 maps them)
# Speaker = session + F/M letter of the turn (Ses01F_impro01_M003 -> Ses01M),
# utterance id = <spk>-<turn>. A missing wav or a missing/empty transcript drops
# the utterance with a warning naming the file (and line); more than
# --max-drop-frac dropped fails. Prints counts per class and session.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

exp=3
max_drop_frac=0.05
. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
root=$1
data=$2
check_enum exp 0 1 2 3
[ -d "$root" ] || { echo "$0: no such directory: $root" >&2; exit 1; }

python -m emorec.bin.prepare_iemocap --exp "$exp" --max-drop-frac "$max_drop_frac" "$root" "$data"

for f in wav.scp utt2spk spk2utt text utt2emo; do
  [ -s "$data/$f" ] || { echo "$0: $data/$f was not written" >&2; exit 1; }
done
if [ -x utils/validate_data_dir.sh ]; then
  utils/validate_data_dir.sh --no-feats "$data"
fi
