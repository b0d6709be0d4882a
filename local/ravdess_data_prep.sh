#!/usr/bin/env bash
# Usage: local/ravdess_data_prep.sh [--include-song true] [--max-drop-frac 0.05] <CORPUS_ROOT> <DATA_DIR>
# ravdess data dir from its release tree; see local/emo_corpus_data_prep.sh.
set -euo pipefail
exec "$(dirname "$0")/emo_corpus_data_prep.sh" --corpus ravdess "$@"
