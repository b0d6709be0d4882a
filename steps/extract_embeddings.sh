#!/usr/bin/env bash
# steps/extract_embeddings.sh -- speaker embeddings of whole utterances, in parallel jobs.
#
# Usage: steps/extract_embeddings.sh [options] <model.pt> <data-dir> <out-dir>
#   e.g. steps/extract_embeddings.sh --nj 4 --cmd "$train_cmd" exp/resnet34/avg3.pt data/voxceleb_test exp/xvectors_test
#
# Options:
#   --nj N          parallel jobs over a per-utterance split of the data (default 4)
#   --cmd CMD       job runner (run.pl)
#   --device DEV    auto | cpu | cuda (default auto: CUDA when available)
#   --num-threads T torch threads per job (default 1)
#   --max-frames F  padded frames per batch of similar-length utterances (default 0: by
#                   device, emorec/bin/extract_embeddings.py MAX_FRAMES: CPU 400, i.e. one
#                   utterance at a time, the fastest in bench/bench_extract.py; CUDA 20000)
#   --max-batch B   utterances per batch at most (default 32)
#
# Writes <out-dir>/xvector.JOB.{ark,scp}, then <out-dir>/xvector.scp (all jobs, sorted;
# written last through a .tmp name) and <out-dir>/log/extract.JOB.log.
# Restartable (the restart rule of DEVELOPERS.md): does nothing when xvector.scp was made
# from the same model, feats.scp and options (xvector.scp.stamp); a job made from the same
# inputs is not rerun.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

nj=4
cmd=run.pl
device=auto
num_threads=1
max_frames=0
max_batch=32

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 3 "$@"
model=$1
data=$2
out=$3
me=$(basename "$0")
for f in "$model" "$data/feats.scp"; do
  [ -f "$f" ] || { echo "$me: no such file $f" >&2; exit 1; }
done
[[ $nj =~ ^[1-9][0-9]*$ ]] || { echo "$me: --nj must be a positive integer, got '$nj'" >&2; exit 1; }
. "$EMOREC_ROOT/utils/lib/stamp.sh"
fp=(--final "$out/xvector.scp" --step extract_embeddings --version 1 --input "$model" --input "$data/feats.scp")
if stamp_done "${fp[@]}"; then exit 0; fi
stamp_begin "${fp[@]}"
nutt=$(wc -l < "$data/feats.scp")
[ "$nutt" -ge "$nj" ] || nj=$nutt
mkdir -p "$out/log"
out_abs=$(cd "$out" && pwd)   # the scp names the arks by absolute path

"$EMOREC_ROOT/utils/split_data.sh" --per-utt "$data" "$nj"
sdata=$data/split${nj}utt

# finished jobs return at once
$cmd --num-threads "$num_threads" JOB=1:"$nj" "$out/log/extract.JOB.log" \
  python -m emorec.bin.extract_embeddings --model "$model" --data "$sdata/JOB" \
    --out-ark "$out_abs/xvector.JOB.ark" --out-scp "$out_abs/xvector.JOB.scp" --skip-done \
    --device "$device" --num-threads "$num_threads" --max-frames "$max_frames" \
    --max-batch "$max_batch" \
  || { echo "$me: extraction failed, see $out/log/extract.*.log" >&2; exit 1; }
for j in $(seq "$nj"); do
  [ -f "$out/xvector.$j.scp" ] || { echo "$me: job $j wrote no $out/xvector.$j.scp" >&2; exit 1; }
done
for j in $(seq "$nj"); do cat "$out/xvector.$j.scp"; done | LC_ALL=C sort > "$out/xvector.scp.tmp"
n=$(wc -l < "$out/xvector.scp.tmp")
if [ "$n" -ne "$nutt" ]; then
  echo "$me: $n embeddings for $nutt utterances of $data" >&2
  [ $((100 * (nutt - n))) -le $((5 * nutt)) ] || { rm -f "$out/xvector.scp.tmp"; exit 1; }
fi
mv "$out/xvector.scp.tmp" "$out/xvector.scp"
echo "$me: $n embeddings in $out/xvector.scp"
