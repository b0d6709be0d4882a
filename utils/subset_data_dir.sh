#!/usr/bin/env bash
# utils/subset_data_dir.sh -- copy a subset of a Kaldi data dir (Kaldi).
#
# Usage: subset_data_dir.sh --utt-list <file> <src-dir> <dest-dir>
#        subset_data_dir.sh --spk-list <file> <src-dir> <dest-dir>
#        subset_data_dir.sh --first <N> <src-dir> <dest-dir>   (or: --first <src> <N> <dest>)
#        subset_data_dir.sh --last <N> <src-dir> <dest-dir>    (or: --last <src> <N> <dest>)
#        subset_data_dir.sh <N> <src-dir> <dest-dir>           (or: <src> <N> <dest>)
#   --utt-list / --spk-list keep the utterances / speakers listed (first field);
#   --first / --last keep the first / last N utterances; a bare N keeps N
#   utterances evenly spaced over the dir (deterministic). All lists are
#   filtered consistently (utterance, speaker and, with segments, recording
#   lists; trials keep the pairs with both sides kept); spk2utt is regenerated.
#   Lists in the order of <src-dir>.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/script_init.sh"

me=$(basename "$0")
mode=even
list=
n=
case ${1:-} in
  --help|-h) usage; exit 0 ;;
  --utt-list|--spk-list) mode=${1#--}; list=${2:?"$me: $1 needs a file"}; shift 2 ;;
  --first|--last) mode=${1#--}; shift ;;
esac
isnum() { [[ $1 =~ ^[0-9]+$ ]]; }
if [ "$mode" = utt-list ] || [ "$mode" = spk-list ]; then
  positional_args 2 "$@"
  src=$1 dest=$2
else
  positional_args 3 "$@"
  if isnum "$1" && [ ! -d "$1" ]; then n=$1 src=$2 dest=$3
  elif isnum "$2"; then src=$1 n=$2 dest=$3
  else usage_error "expected a number N among the arguments"; fi
fi
src=${src%/}
dest=${dest%/}
utils=$EMOREC_ROOT/utils
[ -f "$src/utt2spk" ] || { echo "$me: no such file $src/utt2spk" >&2; exit 1; }
[ "$(cd "$src" && pwd)" != "$(mkdir -p "$dest" && cd "$dest" && pwd)" ] ||
  { echo "$me: source and destination are the same directory" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/subset_data_dir.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

total=$(grep -c . "$src/utt2spk" || true)
case $mode in
  utt-list) [ -r "$list" ] || { echo "$me: no such file $list" >&2; exit 1; }
            "$utils/filter_scp.pl" "$list" "$src/utt2spk" > "$tmp/utt2spk" ;;
  spk-list) [ -r "$list" ] || { echo "$me: no such file $list" >&2; exit 1; }
            "$utils/filter_scp.pl" -f 2 "$list" "$src/utt2spk" > "$tmp/utt2spk" ;;
  first) [ "$n" -le "$total" ] || { echo "$me: asked for $n utterances, $src has $total" >&2; exit 1; }
         head -n "$n" "$src/utt2spk" > "$tmp/utt2spk" ;;
  last) [ "$n" -le "$total" ] || { echo "$me: asked for $n utterances, $src has $total" >&2; exit 1; }
        tail -n "$n" "$src/utt2spk" > "$tmp/utt2spk" ;;
  even) [ "$n" -le "$total" ] || { echo "$me: asked for $n utterances, $src has $total" >&2; exit 1; }
        # line i (0-based) kept when floor((i+1)*n/total) > floor(i*n/total): n evenly spaced lines
        awk -v n="$n" -v t="$total" 'NF { i++; if (int(i * n / t) > int((i - 1) * n / t)) print }' \
          "$src/utt2spk" > "$tmp/utt2spk" ;;
esac
[ -s "$tmp/utt2spk" ] || { echo "$me: the subset of $src is empty" >&2; exit 1; }

. "$EMOREC_ROOT/utils/lib/data_files.sh"
classify_data_files "$src"
"$utils/utt2spk_to_spk2utt.pl" "$tmp/utt2spk" > "$tmp/spk2utt"
for f in ${utt_files[@]+"${utt_files[@]}"}; do
  "$utils/filter_scp.pl" "$tmp/utt2spk" "$src/$f" > "$tmp/$f"
done
for f in ${spk_files[@]+"${spk_files[@]}"}; do
  "$utils/filter_scp.pl" "$tmp/spk2utt" "$src/$f" > "$tmp/$f"
done
if [ ${#reco_files[@]} -gt 0 ]; then
  awk '{print $2}' "$tmp/segments" | sort -u > "$tmp/.recos"
  for f in "${reco_files[@]}"; do
    "$utils/filter_scp.pl" "$tmp/.recos" "$src/$f" > "$tmp/$f"
  done
  rm -f "$tmp/.recos"
fi
for f in ${trials_files[@]+"${trials_files[@]}"}; do   # the trials with both sides kept, in order
  awk 'NR == FNR { keep[$1]; next } ($1 in keep) && ($2 in keep)' "$tmp/utt2spk" "$src/$f" > "$tmp/$f"
done
for f in ${copy_files[@]+"${copy_files[@]}"}; do
  cp "$src/$f" "$tmp/$f"
done
for path in "$tmp"/*; do
  f=$(basename "$path")
  mv "$path" "$dest/$f.tmp"
  mv "$dest/$f.tmp" "$dest/$f"
done
echo "$me: $src -> $dest: $(grep -c . "$dest/utt2spk") of $total utterances, $(grep -c . "$dest/spk2utt") speakers"
