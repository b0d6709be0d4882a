#!/usr/bin/env bash
# steps/transcribe.sh -- transcripts from speech: a copy of a data dir whose text is the ASR's.
#
# Usage: steps/transcribe.sh [options] <data-dir> <out-data-dir>
#   e.g. steps/transcribe.sh --nj 4 --cmd "$cuda_cmd" --asr-model openai/whisper-small data/all data/all_asr
#
# <out-data-dir> gets a copy of every list of <data-dir> (wav.scp, utt2spk, utt2emo, ...)
# with `text` replaced by the ASR transcripts (LC_ALL=C sorted). When <data-dir> has a
# reference `text`, it is kept as <out-data-dir>/text.ref and the word error rate
# against it (emorec.bin.compute_wer, both sides lower-cased without punctuation) is
# written to <out-data-dir>/wer.txt.
#
# Options:
#   --nj N             number of parallel jobs (default 4); reduced to the number of utterances
#   --cmd CMD          job runner, run.pl or "slurm.pl --config conf/slurm.conf" (run.pl)
#   --asr-model M      pocketsphinx (offline US-English models of its wheel; default) or a
#                      Whisper model dir / locally cached name (e.g. openai/whisper-small)
#   --batch-size N     Whisper: 30 s chunks per generate call (8)
#   --max-fail-frac F  a job fails when more than this fraction of its utterances cannot
#                      be read (0.05)
#
# Jobs write <out-data-dir>/asr/text.JOB (logs in <out-data-dir>/log/transcribe.JOB.log);
# a rerun keeps the jobs made from the same part of wav.scp (and audio), model and options
# (the restart rule of DEVELOPERS.md).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

nj=4
cmd=run.pl
asr_model=pocketsphinx
batch_size=8
max_fail_frac=0.05

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 2 "$@"
data=$1
out=$2
me=$(basename "$0")

for f in "$data/wav.scp" "$data/utt2spk"; do
  [ -f "$f" ] || { echo "$me: no such file $f" >&2; exit 1; }
done
[[ $nj =~ ^[1-9][0-9]*$ ]] || { echo "$me: --nj must be a positive integer, got '$nj'" >&2; exit 1; }
[ "$(cd "$data" && pwd)" != "$(mkdir -p "$out" && cd "$out" && pwd)" ] \
  || { echo "$me: <out-data-dir> must differ from <data-dir>" >&2; exit 1; }
python -c "import emorec.bin.transcribe" 2>/dev/null \
  || { echo "$me: cannot import emorec (source path.sh first)" >&2; exit 1; }

nutt=$(wc -l < "$data/wav.scp")
[ "$nutt" -gt 0 ] || { echo "$me: $data/wav.scp is empty" >&2; exit 1; }
[ "$nutt" -lt "$nj" ] && nj=$nutt
"$EMOREC_ROOT/utils/split_data.sh" --per-utt "$data" "$nj"
sdata=$data/split${nj}utt

mkdir -p "$out/asr" "$out/log"
# $cmd is word-split on purpose ("slurm.pl --config conf/slurm.conf").
# shellcheck disable=SC2086
if ! $cmd JOB=1:"$nj" "$out/log/transcribe.JOB.log" \
    python -m emorec.bin.transcribe --skip-done --asr-model "$asr_model" --batch-size "$batch_size" \
      --max-fail-frac "$max_fail_frac" "$sdata/JOB/wav.scp" "$out/asr/text.JOB"; then
  echo "$me: transcription failed; see $out/log/transcribe.*.log" >&2
  grep -h "^ERROR" "$out/log/transcribe".*.log >&2 || true
  exit 1
fi

for f in "$data"/*; do
  [ -f "$f" ] || continue
  case $(basename "$f") in text) cp "$f" "$out/text.ref" ;; *) cp "$f" "$out/" ;; esac
done
parts=()
for n in $(seq "$nj"); do parts+=("$out/asr/text.$n"); done
cat "${parts[@]}" | LC_ALL=C sort > "$out/text.tmp"
mv "$out/text.tmp" "$out/text"
rm -f "$out/wer.txt"
if [ -f "$out/text.ref" ]; then
  python -m emorec.bin.compute_wer "$out/text.ref" "$out/text" > "$out/wer.txt.tmp"
  mv "$out/wer.txt.tmp" "$out/wer.txt"
  echo "$me: $(cat "$out/wer.txt") (asr: $asr_model)"
fi
nt=$(wc -l < "$out/text")
[ "$nt" -eq "$nutt" ] || echo "$me: $((nutt - nt)) of $nutt utterances got no transcript (see the WARNING" \
  "lines in $out/log/transcribe.*.log); consider utils/fix_data_dir.sh $out"
echo "$me: succeeded transcribing $nt utterances of $data into $out/text"
