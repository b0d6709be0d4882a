#!/usr/bin/env bash
# utils/validate_data_dir.sh -- check a Kaldi data dir (Kaldi).
#
# Usage: validate_data_dir.sh [--no-feats] [--no-text] [--no-wav] [--audio header|full]
#                             [--classes "C1 C2 ..."] <data-dir>
#   Required: utt2spk, spk2utt; also feats.scp (unless --no-feats), text (unless
#   --no-text), wav.scp (unless --no-wav). The lists and their keys are those of
#   emorec/data/data_files.txt. Checks (errors name the file and line):
#   - every list is UTF-8 and has no empty lines, no CRLF line endings, at least 2
#     fields, unique keys, sorted (LC_ALL=C);
#   - with --classes (the recipe's class set), every label of utt2emo is one of them;
#   - text has no empty transcripts;
#   - utt2spk is speaker-sorted and spk2utt equals utt2spk_to_spk2utt.pl utt2spk;
#   - utterance lists (wav.scp or segments, text, utt2emo, feats.scp, utt2num_frames,
#     other utt2*/ *.scp) have the keys of utt2spk; speaker lists (spk2*, cmvn.scp)
#     the speakers of spk2utt; with segments, its recordings are in wav.scp; trials
#     lines are "utt1 utt2 target|nontarget" with both utterances in utt2spk;
#   - feats.scp (unless --no-feats): every entry's matrix header is readable (the
#     first entries fully loaded), all have one dimension, agree with utt2num_frames;
#   - wav.scp audio (unless --no-wav): --audio header (default) reads each plain
#     file's header and checks the files a piped entry names exist (decoding only a
#     few pipes); --audio full decodes everything (python -m emorec.bin.validate_data_dir).
#     With --no-wav a wav.scp that is there is still checked for format and keys.
#   Exit 0 when the dir is valid, else 1 after printing the problems found.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/script_init.sh"

no_feats=false
no_text=false
no_wav=false
audio=header
classes=
me=$(basename "$0")
while [ $# -gt 0 ]; do
  case $1 in
    --no-feats) no_feats=true; shift ;;
    --no-text) no_text=true; shift ;;
    --no-wav) no_wav=true; shift ;;
    --audio) [ $# -ge 2 ] || usage_error "--audio needs a value"; audio=$2; shift 2 ;;
    --audio=*) audio=${1#--audio=}; shift ;;
    --classes) [ $# -ge 2 ] || usage_error "--classes needs a value"; classes=$2; shift 2 ;;
    --classes=*) classes=${1#--classes=}; shift ;;
    --help|-h) usage; exit 0 ;;
    --) shift; break ;;
    -*) usage_error "unknown option $1" ;;
    *) break ;;
  esac
done
positional_args 1 "$@"
check_enum audio header full
data=${1%/}
utils=$EMOREC_ROOT/utils
[ -d "$data" ] || { echo "$me: no such directory $data" >&2; exit 1; }

errors=0
err() { echo "$me: $*" >&2; errors=$((errors + 1)); }

required=(utt2spk spk2utt)
$no_feats || required+=(feats.scp)
$no_text || required+=(text)
$no_wav || required+=(wav.scp)
for f in "${required[@]}"; do
  if [ ! -f "$data/$f" ]; then
    case $f in
      feats.scp) err "$data/$f: missing (use --no-feats if there are no features yet)" ;;
      text) err "$data/$f: missing (use --no-text for a dir without transcripts)" ;;
      wav.scp) err "$data/$f: missing (use --no-wav for a dir without audio)" ;;
      *) err "$data/$f: missing" ;;
    esac
  fi
done
[ -f "$data/utt2spk" ] && [ -f "$data/spk2utt" ] || { echo "$me: $data: invalid ($errors errors)" >&2; exit 1; }

. "$EMOREC_ROOT/utils/lib/data_files.sh"
classify_data_files "$data"
skip() {   # lists the options exclude from checking (--no-wav only skips reading the audio)
  case $1 in
    feats.scp|utt2num_frames) $no_feats ;;
    text) $no_text ;;
    *) false ;;
  esac
}

# Format: non-empty lines, >= 2 fields (text: a transcript), unique sorted keys; the key
# column goes to $keys/NAME on the way, for the key comparisons below.
keys=$(mktemp -d "${TMPDIR:-/tmp}/validate_data_dir.XXXXXX")
trap 'rm -rf "$keys"' EXIT
check_format() {
  local f=$1
  awk -v F="$data/$f" -v K="$keys/$f" -v isText="$([ "$f" = text ] && echo 1 || echo 0)" '
    /\r$/ { printf "%s:%d: CRLF line ending (convert with: sed -i '"'"'s/\\r$//'"'"' FILE)\n", F, NR; bad++; next }
    /^[ \t]*$/ { printf "%s:%d: empty line\n", F, NR; bad++; next }
    NF < 2 { if (isText) printf "%s:%d: empty transcript for utterance \"%s\"\n", F, NR, $1;
             else printf "%s:%d: expected \"key value...\", got \"%s\"\n", F, NR, $0; bad++ }
    # sorted lists have their duplicates side by side: no table of keys is needed
    { print $1 > K
      if (have && $1 == prev) { printf "%s:%d: duplicate key \"%s\"\n", F, NR, $1; bad++ }
      else if (have && $1 < prev) {
        printf "%s:%d: not sorted: key \"%s\" comes after \"%s\" (sort with LC_ALL=C; see fix_data_dir.sh)\n", F, NR, $1, prev; bad++ }
      prev = $1; have = 1 }
    bad >= 10 { print F ": too many errors, stopping"; exit 1 }
    END { exit bad > 0 }' "$data/$f" >&2 || err "$data/$f: bad format (see above)"
}

content=()   # the checks of python -m emorec.bin.validate_data_dir, run once below
for f in utt2spk spk2utt ${utt_files[@]+"${utt_files[@]}"} ${spk_files[@]+"${spk_files[@]}"} \
         ${reco_files[@]+"${reco_files[@]}"}; do
  skip "$f" && continue
  check_format "$f"
  content+=(--utf8 "$data/$f")
done
for f in ${trials_files[@]+"${trials_files[@]}"}; do content+=(--utf8 "$data/$f"); done
if [ -z "$classes" ]; then :
elif [ -f "$data/utt2emo" ]; then content+=(--utt2emo "$data/utt2emo" --classes "$classes")
else err "$data/utt2emo: missing (--classes checks its labels)"
fi

# utt2spk: two fields, speaker-sorted; spk2utt consistent.
awk -v F="$data/utt2spk" '
  NF != 2 && NF > 0 { printf "%s:%d: expected \"utt spk\", got \"%s\"\n", F, NR, $0; bad++; next }
  NF == 2 { if (have && $2 < prevspk) {
      printf "%s:%d: not speaker-sorted: speaker \"%s\" comes after \"%s\" (utterance ids should start with the speaker id)\n", F, NR, $2, prevspk; bad++; exit 1 }
    prevspk = $2; have = 1 }
  END { exit bad > 0 }' "$data/utt2spk" >&2 || err "$data/utt2spk: utterances not speaker-sorted"
if ! "$utils/utt2spk_to_spk2utt.pl" "$data/utt2spk" | cmp -s - "$data/spk2utt"; then
  "$utils/utt2spk_to_spk2utt.pl" "$data/utt2spk" | awk -v F="$data/spk2utt" -v G="$data/utt2spk" '
    { want[NR] = $0 } END {
      n = 0; while ((getline line < F) > 0) { n++
        if (!(n in want) || line != want[n]) {
          printf "%s:%d: does not match %s (expected \"%s\", got \"%s\")\n", F, n, G, (n in want) ? want[n] : "<end of file>", line; exit }
      }
      if (NR > n) printf "%s:%d: does not match %s: missing \"%s\"\n", F, n + 1, G, want[n + 1] }' >&2
  err "$data/spk2utt: inconsistent with $data/utt2spk (regenerate with utt2spk_to_spk2utt.pl or fix_data_dir.sh)"
fi

# Same keys: utterance lists vs utt2spk, speaker lists vs spk2utt, segments vs wav.scp.
compare_keys() {   # compare_keys REF FILE (names in $data): FILE's keys == REF's keys
  local ref=$data/$1 f=$data/$2
  # both sorted and unique (checked above): equal key columns are equal key sets; only
  # when they differ are the differences looked for, to name them
  cmp -s "$keys/$1" "$keys/$2" && return 0
  awk -v R="$ref" -v F="$f" '
    FNR == NR { if (NF) ref[$1] = 1; next }
    NF { seen[$1] = 1; if (!($1 in ref)) { printf "%s:%d: key \"%s\" is not in %s\n", F, FNR, $1, R; bad++ } }
    bad >= 5 { exit 1 }
    END { if (!bad) for (k in ref) if (!(k in seen)) { printf "%s: key \"%s\" of %s is missing\n", F, k, R; bad++; if (bad >= 5) break }
          exit bad > 0 }' "$ref" "$f" >&2
}
for f in ${utt_files[@]+"${utt_files[@]}"}; do
  skip "$f" && continue
  compare_keys utt2spk "$f" || err "$data/$f: utterances differ from $data/utt2spk"
done
for f in ${spk_files[@]+"${spk_files[@]}"}; do
  compare_keys spk2utt "$f" || err "$data/$f: speakers differ from $data/spk2utt"
done
if $has_segments && [ -f "$data/wav.scp" ]; then
  awk -v F="$data/segments" -v W="$data/wav.scp" '
    FNR == NR { if (NF) w[$1] = 1; next }
    NF >= 4 && !($2 in w) { printf "%s:%d: recording \"%s\" is not in %s\n", F, FNR, $2, W; bad++ }
    NF > 0 && NF < 4 { printf "%s:%d: expected \"utt reco start end\"\n", F, FNR; bad++ }
    END { exit bad > 0 }' "$data/wav.scp" "$data/segments" >&2 || err "$data/segments: bad recordings"
fi

# trials: "utt1 utt2 target|nontarget", both utterances in utt2spk.
for f in ${trials_files[@]+"${trials_files[@]}"}; do
  awk -v F="$data/$f" -v U="$data/utt2spk" '
    FNR == NR { utt[$1]; next }
    /\r$/ { printf "%s:%d: CRLF line ending\n", F, FNR; bad++; next }
    NF != 3 || ($3 != "target" && $3 != "nontarget") {
      printf "%s:%d: expected \"utt1 utt2 target|nontarget\", got \"%s\"\n", F, FNR, $0; bad++; next }
    !($1 in utt) { printf "%s:%d: utterance \"%s\" is not in %s\n", F, FNR, $1, U; bad++ }
    !($2 in utt) { printf "%s:%d: utterance \"%s\" is not in %s\n", F, FNR, $2, U; bad++ }
    bad >= 10 { exit 1 }
    END { exit bad > 0 }' "$data/utt2spk" "$data/$f" >&2 || err "$data/$f: bad trials (see above)"
done

# Encoding, labels, feature matrices and audio (python -m emorec.bin.validate_data_dir).
if ! $no_feats && [ -f "$data/feats.scp" ]; then
  content+=(--feats "$data/feats.scp" --utt2num-frames "$data/utt2num_frames")
fi
if ! $no_wav && [ -f "$data/wav.scp" ]; then
  content+=(--wav-scp "$data/wav.scp" --audio "$audio")
fi
if [ ${#content[@]} -gt 0 ]; then
  python -m emorec.bin.validate_data_dir "${content[@]}" >&2 ||
    err "$data: lists not UTF-8, unknown labels, unreadable features or audio (see above)"
fi

if [ "$errors" -gt 0 ]; then
  echo "$me: $data: INVALID ($errors problem(s))" >&2
  exit 1
fi
echo "$me: Successfully validated data-directory $data"
