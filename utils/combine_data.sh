#!/usr/bin/env bash
# utils/combine_data.sh -- combine Kaldi data dirs into one (Kaldi).
#
# Usage: combine_data.sh [--skip-fix true|false] <dest-dir> <src-dir1> <src-dir2> ...
#   Concatenates every list present in all sources (utt2spk, text, wav.scp,
#   feats.scp, utt2*, segments, spk2*, ...; a list missing in some source is
#   skipped with a warning), sorts them (LC_ALL=C) and regenerates spk2utt.
#   Duplicate utterance ids across sources are an error (duplicate speakers are
#   fine; their spk2* lines must agree). Finally runs fix_data_dir.sh unless
#   --skip-fix true.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/script_init.sh"

skip_fix=false
. "$EMOREC_ROOT/utils/parse_options.sh"
positional_args 2- "$@"
me=$(basename "$0")
dest=${1%/}
shift
srcs=("$@")
utils=$EMOREC_ROOT/utils
for s in "${srcs[@]}"; do
  [ -f "$s/utt2spk" ] || { echo "$me: no such file $s/utt2spk" >&2; exit 1; }
  [ "$(cd "$s" && pwd)" != "$(mkdir -p "$dest" && cd "$dest" && pwd)" ] ||
    { echo "$me: destination $dest is also a source" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/combine_data.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Names of the lists in any source (emorec/data/data_files.txt; trials are not combined).
. "$EMOREC_ROOT/utils/lib/data_files.sh"
names=(utt2spk)
dedup=" "     # speaker and recording lists: the same line in several sources is fine
for s in "${srcs[@]}"; do
  classify_data_files "$s"
  for f in ${utt_files[@]+"${utt_files[@]}"} ${spk_files[@]+"${spk_files[@]}"} ${reco_files[@]+"${reco_files[@]}"}; do
    case " ${names[*]} " in *" $f "*) ;; *) names+=("$f") ;; esac
  done
  dedup+="${spk_files[*]-} ${reco_files[*]-} wav.scp "
done
for f in "${names[@]}"; do
  missing=()
  for s in "${srcs[@]}"; do [ -f "$s/$f" ] || missing+=("$s"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "$me: warning: $f not in ${missing[*]}; not combining it" >&2
    continue
  fi
  for s in "${srcs[@]}"; do
    cat "$s/$f"
    [ -z "$(tail -c 1 "$s/$f")" ] || echo    # missing final newline
  done | awk 'NF' | sort -s -k1,1 > "$tmp/$f"
  case $dedup in
    *" $f "*) sort -u "$tmp/$f" | sort -s -k1,1 > "$tmp/$f.u" && mv "$tmp/$f.u" "$tmp/$f" ;;
  esac
  dup=$(awk '{print $1}' "$tmp/$f" | uniq -d | head -n 3 | tr '\n' ' ')
  if [ -n "$dup" ]; then
    echo "$me: duplicate keys in $f across the sources: $dup" >&2
    exit 1
  fi
done
"$utils/utt2spk_to_spk2utt.pl" "$tmp/utt2spk" > "$tmp/spk2utt"
for path in "$tmp"/*; do
  f=$(basename "$path")
  mv "$path" "$dest/$f.tmp"
  mv "$dest/$f.tmp" "$dest/$f"
done
echo "$me: combined ${#srcs[@]} dirs into $dest: $(grep -c . "$dest/utt2spk") utterances"
if [ "$skip_fix" != true ]; then
  "$utils/fix_data_dir.sh" "$dest"
fi
