#!/usr/bin/env bash
# utils/fix_data_dir.sh -- make a Kaldi data dir consistent (Kaldi).
#
# Usage: fix_data_dir.sh <data-dir>
#   Backs up the lists it changes to <data-dir>/.backup/, then: drops empty lines
#   and text lines without a transcript, sorts every list (LC_ALL=C) keeping the
#   first line of a duplicated key, keeps only the utterances present in every
#   utterance list (utt2spk, text, wav.scp or segments, feats.scp, utt2*, ...),
#   with segments keeps recordings present in both segments and wav.scp,
#   regenerates spk2utt and keeps only speakers left in it in spk2*/cmvn.scp;
#   trials keep the pairs whose utterances are both left.
#   Fails if utt2spk is not speaker-sorted afterwards (utterance ids must start
#   with the speaker id).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/script_init.sh"

me=$(basename "$0")
case ${1:-} in --help|-h) usage; exit 0 ;; esac
positional_args 1 "$@"
data=${1%/}
utils=$EMOREC_ROOT/utils
[ -f "$data/utt2spk" ] || { echo "$me: no such file $data/utt2spk" >&2; exit 1; }

. "$(dirname "${BASH_SOURCE[0]}")/lib/data_files.sh"
classify_data_files "$data"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fix_data_dir.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
backup=$data/.backup
mkdir -p "$backup"

nutt_before=$(grep -c . "$data/utt2spk" || true)

# 1. clean + sort every list into $tmp.
clean_sort() {  # clean_sort NAME
  local f=$1
  if [ "$f" = text ]; then
    awk 'NF >= 2' "$data/$f"
  else
    awk 'NF >= 1' "$data/$f"
  fi | sort -s -k1,1 -u > "$tmp/$f"
}
all=(utt2spk ${utt_files[@]+"${utt_files[@]}"} ${spk_files[@]+"${spk_files[@]}"} ${reco_files[@]+"${reco_files[@]}"})
for f in "${all[@]}"; do clean_sort "$f"; done
awk 'NF == 2' "$tmp/utt2spk" > "$tmp/utt2spk.2" && mv "$tmp/utt2spk.2" "$tmp/utt2spk"

# 2. recordings: with segments, keep those in both segments and wav.scp.
if $has_segments && [ -f "$tmp/wav.scp" ]; then
  "$utils/filter_scp.pl" -f 2 "$tmp/wav.scp" "$tmp/segments" > "$tmp/segments.f"
  mv "$tmp/segments.f" "$tmp/segments"
fi

# 3. utterances present in every utterance list.
cp "$tmp/utt2spk" "$tmp/utts"
for f in ${utt_files[@]+"${utt_files[@]}"}; do
  "$utils/filter_scp.pl" "$tmp/$f" "$tmp/utts" > "$tmp/utts.f"
  mv "$tmp/utts.f" "$tmp/utts"
done
for f in utt2spk ${utt_files[@]+"${utt_files[@]}"}; do
  "$utils/filter_scp.pl" "$tmp/utts" "$tmp/$f" > "$tmp/$f.f"
  mv "$tmp/$f.f" "$tmp/$f"
done
if $has_segments; then
  awk '{print $2}' "$tmp/segments" | sort -u > "$tmp/recos"
  for f in ${reco_files[@]+"${reco_files[@]}"}; do
    "$utils/filter_scp.pl" "$tmp/recos" "$tmp/$f" > "$tmp/$f.f"
    mv "$tmp/$f.f" "$tmp/$f"
  done
fi

# trials: the pairs with both sides left, in their order.
for f in ${trials_files[@]+"${trials_files[@]}"}; do
  awk 'NR == FNR { keep[$1]; next } NF == 3 && ($1 in keep) && ($2 in keep)' "$tmp/utts" "$data/$f" > "$tmp/$f"
done
all+=(${trials_files[@]+"${trials_files[@]}"})

# 4. speakers.
"$utils/utt2spk_to_spk2utt.pl" "$tmp/utt2spk" > "$tmp/spk2utt"
for f in ${spk_files[@]+"${spk_files[@]}"}; do
  "$utils/filter_scp.pl" "$tmp/spk2utt" "$tmp/$f" > "$tmp/$f.f"
  mv "$tmp/$f.f" "$tmp/$f"
done

# 5. install, backing up what changes.
for f in "${all[@]}" spk2utt; do
  if [ ! -f "$data/$f" ] || ! cmp -s "$tmp/$f" "$data/$f"; then
    [ -f "$data/$f" ] && cp -p "$data/$f" "$backup/$f"
    mv "$tmp/$f" "$data/$f.tmp"
    mv "$data/$f.tmp" "$data/$f"
  fi
done

nutt=$(grep -c . "$data/utt2spk" || true)
echo "$me: $data: kept $nutt of $nutt_before utterances (originals of changed files in $backup)"
if ! sort -s -k2,2 "$data/utt2spk" | cmp -s - "$data/utt2spk"; then
  echo "$me: $data/utt2spk is not speaker-sorted after sorting by utterance id: utterance ids" \
       "must start with the speaker id (e.g. spk-utt)" >&2
  exit 1
fi
[ "$nutt" -gt 0 ] || { echo "$me: $data: no utterances left" >&2; exit 1; }
exit 0
