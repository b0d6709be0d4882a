#!/usr/bin/env bash
# utils/split_data.sh -- split a Kaldi data dir into N parts (Kaldi).
#
# Usage: split_data.sh [--per-utt] <data-dir> <num-to-split>
#   Writes <data-dir>/splitN/{1..N} (or <data-dir>/splitNutt/{1..N} with --per-utt).
#   By default the split is by speaker (all utterances of a speaker in one part;
#   it is an error to have fewer speakers than N); --per-utt splits utterances.
#   Every list in the dir is split consistently: utt2spk, text, feats.scp, wav.scp,
#   utt2*, segments, other *.scp (utterance keyed); spk2* and cmvn.scp (speaker
#   keyed); with segments, wav.scp and reco2* follow the recordings of each part.
#   spk2utt is regenerated. An existing split made from the same lists is reused (the
#   restart rule of DEVELOPERS.md: <data-dir>/splitN.stamp).
#   Concatenating the parts' lists in order gives the original lists back.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/script_init.sh"

per_utt=false
# --per-utt is a flag (no value), as in Kaldi.
while [ $# -gt 0 ]; do
  case $1 in
    --per-utt) per_utt=true; shift ;;
    --help|-h) usage; exit 0 ;;
    --) shift; break ;;
    -*) usage_error "unknown option $1" ;;
    *) break ;;
  esac
done

positional_args 2 "$@"
data=$1
numsplit=$2
utils=$EMOREC_ROOT/utils
me=$(basename "$0")

[[ $numsplit =~ ^[1-9][0-9]*$ ]] || { echo "$me: invalid num-to-split '$numsplit'" >&2; exit 1; }
[ -f "$data/utt2spk" ] || { echo "$me: no such file $data/utt2spk" >&2; exit 1; }
# Sorted by utterance (Kaldi's rule; contiguous speakers are not enough: parts and lists
# are matched line by line)
if ! disorder=$(LC_ALL=C sort -c -k1,1 "$data/utt2spk" 2>&1); then
  echo "$me: $data/utt2spk is not sorted (LC_ALL=C; utils/fix_data_dir.sh sorts a data dir): ${disorder#*sort: }" >&2
  exit 1
fi

if [ "$per_utt" = true ]; then
  sdir=$data/split${numsplit}utt
  nutt=$(wc -l < "$data/utt2spk")
  if [ "$nutt" -lt "$numsplit" ]; then
    echo "$me: $data has $nutt utterances (in $data/utt2spk), fewer than $numsplit" >&2
    exit 1
  fi
else
  sdir=$data/split${numsplit}
  nspk=$(awk '$2 != prev { n++; prev = $2 } END { print n + 0 }' "$data/utt2spk")   # speaker-sorted
  if [ "$nspk" -lt "$numsplit" ]; then
    echo "$me: $data has $nspk speakers (in $data/utt2spk), fewer than $numsplit; use --per-utt" >&2
    exit 1
  fi
fi

# Classify the lists present in the data dir.
. "$(dirname "${BASH_SOURCE[0]}")/lib/data_files.sh"
classify_data_files "$data"
all_files=(utt2spk ${utt_files[@]+"${utt_files[@]}"} ${spk_files[@]+"${spk_files[@]}"} \
           ${reco_files[@]+"${reco_files[@]}"} ${copy_files[@]+"${copy_files[@]}"})

. "$utils/lib/stamp.sh"
fp=(--final "$sdir" --step split_data --version 1 --option "per_utt=$per_utt" "${all_files[@]/#/--input=$data/}")
if stamp_done "${fp[@]}"; then exit 0; fi

tmp=$sdir.tmp.$$
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
outs=()
for n in $(seq "$numsplit"); do
  mkdir -p "$tmp/$n"
  outs+=("$tmp/$n/utt2spk")
done

if [ "$per_utt" = true ]; then
  "$utils/split_scp.pl" "$data/utt2spk" "${outs[@]}"
else
  "$utils/split_scp.pl" --utt2spk="$data/utt2spk" "$data/utt2spk" "${outs[@]}"
fi

# Every list is read once: a map "key part" from the parts' utt2spk, then one pass per
# list sends each line to the part(s) of its key (a recording may be in several).
parts=()
for n in $(seq "$numsplit"); do
  [ -s "$tmp/$n/utt2spk" ] || { echo "$me: part $n of the split of $data is empty" >&2; exit 1; }
  "$utils/utt2spk_to_spk2utt.pl" "$tmp/$n/utt2spk" > "$tmp/$n/spk2utt"
  parts+=("$tmp/$n/utt2spk")     # (all non-empty: the map below numbers them by their first line)
done
awk 'FNR == 1 { n++ } { print $1, n }' "${parts[@]}" > "$tmp/.utt2part"
distribute() {   # distribute MAP LIST: LIST's lines into $tmp/PART/LIST by MAP's "key part" lines
  local map=$1 f=$2 n
  for n in $(seq "$numsplit"); do : > "$tmp/$n/$f"; done
  awk -v dir="$tmp" -v f="$f" -v nparts="$numsplit" '
    BEGIN { for (i = 1; i <= nparts; i++) out[i] = dir "/" i "/" f }
    FNR == NR { part[$1] = ($1 in part) ? part[$1] " " $2 : $2; next }
    !($1 in part) { next }
    index(part[$1], " ") == 0 { print > out[part[$1]]; next }
    { k = split(part[$1], ps, " "); for (i = 1; i <= k; i++) print > out[ps[i]] }
  ' "$map" "$data/$f"
}
for f in ${utt_files[@]+"${utt_files[@]}"}; do
  distribute "$tmp/.utt2part" "$f"
done
if [ ${#spk_files[@]} -gt 0 ]; then
  # (with --per-utt a speaker may be in several parts)
  awk 'NR == FNR { part[$1] = $2; next } !seen[$2 " " part[$1]]++ { print $2, part[$1] }' \
    "$tmp/.utt2part" "$data/utt2spk" > "$tmp/.spk2part"
  for f in "${spk_files[@]}"; do distribute "$tmp/.spk2part" "$f"; done
fi
if [ ${#reco_files[@]} -gt 0 ]; then
  awk 'NR == FNR { part[$1] = $2; next } ($1 in part) && !seen[$2 " " part[$1]]++ { print $2, part[$1] }' \
    "$tmp/.utt2part" "$data/segments" > "$tmp/.reco2part"
  for f in "${reco_files[@]}"; do distribute "$tmp/.reco2part" "$f"; done
fi
for n in $(seq "$numsplit"); do
  for f in ${copy_files[@]+"${copy_files[@]}"}; do
    cp "$data/$f" "$tmp/$n/$f"
  done
done
rm -f "$tmp"/.*2part

stamp_begin "${fp[@]}"   # removes the old split
if ! mv -T "$tmp" "$sdir" 2>/dev/null; then
  # another process finished the same split at the same time
  [ -f "$sdir/$numsplit/spk2utt" ] || { echo "$me: could not move $tmp to $sdir" >&2; exit 1; }
fi
exit 0
