#!/usr/bin/env bash
# utils/validate_data_dir.sh -- check a Kaldi data dir (Kaldi).
#
# Usage: validate_data_dir.sh [--no-feats] [--no-text] [--no-wav] <data-dir>
#   Required: utt2spk, spk2utt; also feats.scp (unless --no-feats), text (unless
#   --no-text), wav.scp (unless --no-wav). Checks (errors name the file and line):
#   - every list has no empty lines, at least 2 fields, unique keys, sorted (LC_ALL=C);
#   - text has no empty transcripts;
#   - utt2spk is speaker-sorted and spk2utt equals utt2spk_to_spk2utt.pl utt2spk;
#   - all utterance lists (wav.scp or segments, text, utt2emo, feats.scp,
#     utt2num_frames, utt2dur, other utt2*/ *.scp) have the keys of utt2spk;
#     speaker lists (spk2*, cmvn.scp) the speakers of spk2utt; with segments,
#     its recordings are in wav.scp;
#   - feats.scp: every entry's matrix header is readable (first entries fully
#     loaded with kaldiio), all have the same dimension, agree with utt2num_frames;
#   - wav.scp: every entry is readable audio (python -m emorec.bin.check_audio).
#   Exit 0 when the dir is valid, else 1 after printing the problems found.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/script_init.sh"

no_feats=false
no_text=false
no_wav=false
me=$(basename "$0")
while [ $# -gt 0 ]; do
  case $1 in
    --no-feats) no_feats=true; shift ;;
    --no-text) no_text=true; shift ;;
    --no-wav) no_wav=true; shift ;;
    --help|-h) usage; exit 0 ;;
    --) shift; break ;;
    -*) usage_error "unknown option $1" ;;
    *) break ;;
  esac
done
positional_args 1 "$@"
data=${1%/}
utils=$(cd "$(dirname "$0")" && pwd)
[ -d "$data" ] || { echo "$me: no such directory $data" >&2; exit 1; }

# Python with kaldiio and the emorec package (path.sh sets these up; fall back to the venv).
export PYTHONPATH="$(cd "$utils/.." && pwd)${PYTHONPATH:+:$PYTHONPATH}"
python=python3
if [ -z "${VIRTUAL_ENV:-}" ] && [ -x "$utils/../tools/venv/bin/python" ]; then
  python=$utils/../tools/venv/bin/python
fi

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

. "$(dirname "${BASH_SOURCE[0]}")/lib/data_files.sh"
classify_data_files "$data"
skip() {   # lists the options exclude from checking
  case $1 in
    feats.scp|utt2num_frames) $no_feats ;;
    text) $no_text ;;
    wav.scp) $no_wav ;;
    *) false ;;
  esac
}

# Format: non-empty lines, >= 2 fields (text: a transcript), unique sorted keys.
check_format() {
  local f=$1 min_fields=2
  awk -v F="$data/$f" -v isText="$([ "$f" = text ] && echo 1 || echo 0)" '
    /^[ \t]*$/ { printf "%s:%d: empty line\n", F, NR; bad++; next }
    NF < 2 { if (isText) printf "%s:%d: empty transcript for utterance \"%s\"\n", F, NR, $1;
             else printf "%s:%d: expected \"key value...\", got \"%s\"\n", F, NR, $0; bad++ }
    { if (seen[$1]++) { printf "%s:%d: duplicate key \"%s\"\n", F, NR, $1; bad++ }
      else if (NR > 1 && have && $1 < prev) {
        printf "%s:%d: not sorted: key \"%s\" comes after \"%s\" (sort with LC_ALL=C; see fix_data_dir.sh)\n", F, NR, $1, prev; bad++ }
      prev = $1; have = 1 }
    bad >= 10 { print F ": too many errors, stopping"; exit 1 }
    END { exit bad > 0 }' "$data/$f" >&2 || err "$data/$f: bad format (see above)"
}

for f in utt2spk spk2utt ${utt_files[@]+"${utt_files[@]}"} ${spk_files[@]+"${spk_files[@]}"} \
         ${reco_files[@]+"${reco_files[@]}"}; do
  skip "$f" && continue
  check_format "$f"
done

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
compare_keys() {   # compare_keys REF_FILE FILE [FIELD]: FILE's keys (field FIELD) == REF keys
  local ref=$1 f=$2
  awk -v R="$ref" -v F="$f" '
    FNR == NR { if (NF) ref[$1] = 1; next }
    NF { seen[$1] = 1; if (!($1 in ref)) { printf "%s:%d: key \"%s\" is not in %s\n", F, FNR, $1, R; bad++ } }
    bad >= 5 { exit 1 }
    END { if (!bad) for (k in ref) if (!(k in seen)) { printf "%s: key \"%s\" of %s is missing\n", F, k, R; bad++; if (bad >= 5) break }
          exit bad > 0 }' "$ref" "$f" >&2
}
for f in ${utt_files[@]+"${utt_files[@]}"}; do
  skip "$f" && continue
  compare_keys "$data/utt2spk" "$data/$f" || err "$data/$f: utterances differ from $data/utt2spk"
done
for f in ${spk_files[@]+"${spk_files[@]}"}; do
  compare_keys "$data/spk2utt" "$data/$f" || err "$data/$f: speakers differ from $data/spk2utt"
done
if $has_segments && [ -f "$data/wav.scp" ]; then
  awk -v F="$data/segments" -v W="$data/wav.scp" '
    FNR == NR { if (NF) w[$1] = 1; next }
    NF >= 4 && !($2 in w) { printf "%s:%d: recording \"%s\" is not in %s\n", F, FNR, $2, W; bad++ }
    NF > 0 && NF < 4 { printf "%s:%d: expected \"utt reco start end\"\n", F, FNR; bad++ }
    END { exit bad > 0 }' "$data/wav.scp" "$data/segments" >&2 || err "$data/segments: bad recordings"
fi

# feats.scp: readable, consistent dims, frames agree with utt2num_frames.
if ! $no_feats && [ -f "$data/feats.scp" ]; then
  "$python" - "$data/feats.scp" "$data/utt2num_frames" >&2 <<'EOF' || err "$data/feats.scp: unreadable or inconsistent features (see above)"
import os, struct, sys
scp, u2nf = sys.argv[1], sys.argv[2]
try:
    import kaldiio
except ImportError:
    print("validate_data_dir.sh: kaldiio is not installed (source path.sh)"); sys.exit(1)
FULL = 20          # entries loaded completely with kaldiio; the rest: headers only

def header_shape(rx):
    """(rows, cols) from a binary ark matrix header, or None if not parseable here."""
    if rx.endswith("|") or ":" not in rx or rx.endswith("]"):
        return None
    path, off = rx.rsplit(":", 1)
    if not off.isdigit():
        return None
    off = int(off)
    size = os.path.getsize(path)
    if off >= size:
        raise ValueError(f"offset {off} is beyond the end of {path} ({size} bytes)")
    with open(path, "rb") as fh:
        fh.seek(off)
        h = fh.read(32)
    if h[:2] != b"\0B":
        return None
    tok = h[2:5]
    if tok in (b"FM ", b"DM "):
        if h[5] != 4 or h[10] != 4:
            raise ValueError("corrupt matrix header")
        rows, cols = struct.unpack("<i", h[6:10])[0], struct.unpack("<i", h[11:15])[0]
        need = off + 15 + rows * cols * (4 if tok == b"FM " else 8)
        if need > size:
            raise ValueError(f"truncated: needs {need} bytes, file has {size}")
        return rows, cols
    if tok in (b"CM ", b"CM2", b"CM3"):
        k = 5 if tok == b"CM " else 6
        _mn, _rg, rows, cols = struct.unpack("<ffii", h[k:k + 16])
        return rows, cols
    return None

nf = {}
if os.path.isfile(u2nf):
    with open(u2nf) as fh:
        for line in fh:
            p = line.split()
            if len(p) >= 2:
                nf[p[0]] = p[1]
bad = 0
dim = None
with open(scp) as fh:
    for lineno, line in enumerate(fh, 1):
        p = line.strip().split(None, 1)
        if len(p) != 2:
            continue            # reported by the format check
        utt, rx = p
        try:
            shape = None if lineno <= FULL else header_shape(rx)
            if shape is None:
                m = kaldiio.load_mat(rx)
                if m.ndim != 2:
                    raise ValueError(f"expected a matrix, got shape {m.shape}")
                shape = m.shape
            rows, cols = shape
            if rows <= 0:
                raise ValueError("zero frames")
            if dim is None:
                dim = cols
            elif cols != dim:
                raise ValueError(f"dimension {cols}, but earlier entries have {dim}")
            if utt in nf and str(rows) != nf[utt]:
                raise ValueError(f"{rows} frames, but utt2num_frames says {nf[utt]}")
        except Exception as e:
            print(f"{scp}:{lineno}: {utt}: {rx}: {str(e) or type(e).__name__}")
            bad += 1
            if bad >= 10:
                print(f"{scp}: too many errors, stopping")
                break
sys.exit(1 if bad else 0)
EOF
fi

# wav.scp: every entry readable audio.
if ! $no_wav && [ -f "$data/wav.scp" ]; then
  "$python" -m emorec.bin.check_audio "$data/wav.scp" >&2 ||
    err "$data/wav.scp: unreadable audio (see above; python -m emorec.bin.check_audio)"
fi

if [ "$errors" -gt 0 ]; then
  echo "$me: $data: INVALID ($errors problem(s))" >&2
  exit 1
fi
echo "$me: Successfully validated data-directory $data"
