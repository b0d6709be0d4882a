#!/usr/bin/env bash
# Usage: local/savee_data_prep.sh [--max-drop-frac 0.05] <CORPUS_ROOT> <DATA_DIR>
# savee data dir from its release tree; see local/emo_corpus_data_prep.sh.
set -euo pipefail
exec "$(dirname "$0")/emo_corpus_data_prep.sh" --corpus savee "$@"
