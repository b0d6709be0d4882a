#!/usr/bin/env bash
# Usage: local/emo_corpus_data_prep.sh --corpus cremad|ravdess|savee|tess [--include-song true]
#                                      [--max-drop-frac 0.05] <CORPUS_ROOT> <DATA_DIR>
#  e.g.: local/emo_corpus_data_prep.sh --corpus tess /corpora/TESS data/tess
# Called by local/{crema_d,ravdess,savee,tess}_data_prep.sh.  Writes DATA_DIR/{wav.scp,
# utt2spk,spk2utt,utt2emo,utt2corpus} and, where the corpus gives them, text and
# spk2gender (emorec.data.emo_corpora documents the layouts, ids and labels).
# Non-audio and ._* files are ignored; each dropped wav (empty, unreadable, unparseable
# name) is named as a WARNING; more than --max-drop-frac dropped fails.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

corpus=
include_song=false
max_drop_frac=0.05
. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
[ -n "$corpus" ] || usage_error "--corpus is required"
root=$1
data=$2
[ -d "$root" ] || { echo "$0: no such directory: $root" >&2; exit 1; }
song_opt=()
[ "$include_song" = true ] && song_opt=(--include-song)
mkdir -p "$data"
python -m emorec.bin.prepare_emo_corpus --corpus "$corpus" ${song_opt[@]+"${song_opt[@]}"} \
  --max-drop-frac "$max_drop_frac" "$root" "$data"
text_opt=()
[ -f "$data/text" ] || text_opt=(--no-text)
utils/validate_data_dir.sh --no-feats ${text_opt[@]+"${text_opt[@]}"} "$data"
