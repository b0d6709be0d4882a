"""Data-dir tools at VoxCeleb2 scale: validation and a 256-way split of a 1 M-utterance
data dir, side by side with the same lists through Kaldi's algorithms.

Usage: python bench/bench_datadir.py [--utts 1000000] [--parts 256] [--repeats 3]
                                     [--audio-sample 5000] [--workdir DIR]

Writes a synthetic data dir (utt2spk, spk2utt, wav.scp, text, utt2emo, utt2num_frames,
spk2gender; 100 utterances a speaker) and times, interleaved, median of --repeats wall
times:
  validate  utils/validate_data_dir.sh --no-feats --no-wav (format, sort, keys of every
            list) vs Kaldi's validate_data_dir.sh checks re-implemented from its
            description (per list: keys sorted and unique with `sort -c`, key column
            compared with utt2spk's by `cmp`, spk2utt compared with
            utt2spk_to_spk2utt.pl's output; Kaldi reads no audio);
  split     utils/split_data.sh DIR 256 vs Kaldi's split_data.sh algorithm re-implemented
            (split_scp.pl --utt2spk for utt2spk, utt2spk_to_spk2utt.pl per part, then
            filter_scps.pl: every list read once, each line sent to the part of its key);
  audio     the default audio check (headers; python -m emorec.bin.validate_data_dir
            --wav-scp) on a --audio-sample-entry sample of the wav.scp (real 16 kHz wavs),
            less the entry point's start-up (timed on one entry), reported per million
            entries (Kaldi has no audio check to compare with).
Prints seconds, the ratio ours/Kaldi, seconds per million entries, and PASS/FAIL
against the goals: each of ours at most 1.5x Kaldi's, and validation (lists + audio
headers) and the split each within 10 minutes per million entries.
Timings on a shared machine are disturbed by other load; the ratios much less so.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UTILS = os.path.join(ROOT, "utils")
GOAL_RATIO = 1.5
GOAL_SECONDS_PER_MILLION = 600.0

# Kaldi's validate_data_dir.sh list checks, as its description gives them.
KALDI_VALIDATE = r"""
set -euo pipefail
export LC_ALL=C
d=$1 utils=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
check_sorted_and_uniq() { awk '{print $1}' "$1" | sort -c -u || { echo "$1 not sorted/unique"; exit 1; }; }
check_sorted_and_uniq "$d/utt2spk"
! sort -s -k2,2 -c "$d/utt2spk" 2>/dev/null && { echo "utt2spk not speaker-sorted"; exit 1; }
check_sorted_and_uniq "$d/spk2utt"
"$utils/utt2spk_to_spk2utt.pl" "$d/utt2spk" | cmp -s - "$d/spk2utt" || { echo spk2utt; exit 1; }
awk '{print $1}' "$d/utt2spk" > "$tmp/utts"
for f in wav.scp text utt2emo utt2num_frames; do
  check_sorted_and_uniq "$d/$f"
  awk '{print $1}' "$d/$f" | cmp -s - "$tmp/utts" || { echo "$f keys differ"; exit 1; }
done
awk '!/[^ \t]/ { exit 1 }' "$d/text" || true
check_sorted_and_uniq "$d/spk2gender"
awk '{print $1}' "$d/spk2utt" | cmp -s - <(awk '{print $1}' "$d/spk2gender") || { echo spk2gender; exit 1; }
"""

# Kaldi's filter_scps.pl: read the id lists of all parts, then one pass over the input.
KALDI_FILTER_SCPS = r"""
my ($n, $idpat, $in, $outpat) = @ARGV;
my %part;
for my $j (1 .. $n) {
  (my $f = $idpat) =~ s/JOB/$j/g;
  open(my $fh, "<", $f) or die "$f: $!";
  while (<$fh>) { my ($k) = split; push @{$part{$k}}, $j; }
}
my @out;
for my $j (1 .. $n) { (my $f = $outpat) =~ s/JOB/$j/g; open($out[$j], ">", $f) or die "$f: $!"; }
open(my $ih, "<", $in) or die "$in: $!";
while (<$ih>) { my ($k) = split; next unless exists $part{$k}; print { $out[$_] } $_ for @{$part{$k}}; }
"""

KALDI_SPLIT = r"""
set -euo pipefail
export LC_ALL=C
d=$1 n=$2 utils=$3 filter=$4
s=$d/ksplit$n; rm -rf "$s"
outs=(); for j in $(seq "$n"); do mkdir -p "$s/$j"; outs+=("$s/$j/utt2spk"); done
"$utils/split_scp.pl" --utt2spk="$d/utt2spk" "$d/utt2spk" "${outs[@]}"
for j in $(seq "$n"); do "$utils/utt2spk_to_spk2utt.pl" "$s/$j/utt2spk" > "$s/$j/spk2utt"; done
for f in wav.scp text utt2emo utt2num_frames; do
  perl -e "$filter" "$n" "$s/JOB/utt2spk" "$d/$f" "$s/JOB/$f"
done
perl -e "$filter" "$n" "$s/JOB/spk2utt" "$d/spk2gender" "$s/JOB/spk2gender"
"""


def make_data_dir(d: str, n_utts: int, n_wavs: int = 100) -> None:
    os.makedirs(os.path.join(d, "wav"), exist_ok=True)
    rng = np.random.default_rng(0)
    wavs = []
    for i in range(n_wavs):
        p = os.path.join(d, "wav", f"{i:03d}.wav")
        sf.write(p, (rng.standard_normal(16000 * 2) * 0.1).astype(np.float32), 16000)
        wavs.append(p)
    per_spk = 100
    utts = [(f"id{u // per_spk:06d}-v{u % per_spk // 10}-{u:08d}", f"id{u // per_spk:06d}") for u in range(n_utts)]
    emos = ("ang", "hap", "neu", "sad")
    with open(os.path.join(d, "utt2spk"), "w") as f:
        f.writelines(f"{u} {s}\n" for u, s in utts)
    with open(os.path.join(d, "wav.scp"), "w") as f:
        f.writelines(f"{u} {wavs[i % n_wavs]}\n" for i, (u, _) in enumerate(utts))
    with open(os.path.join(d, "text"), "w") as f:
        f.writelines(f"{u} word{i % 97} word{i % 89} word{i % 83}\n" for i, (u, _) in enumerate(utts))
    with open(os.path.join(d, "utt2emo"), "w") as f:
        f.writelines(f"{u} {emos[i % 4]}\n" for i, (u, _) in enumerate(utts))
    with open(os.path.join(d, "utt2num_frames"), "w") as f:
        f.writelines(f"{u} {200 + i % 800}\n" for i, (u, _) in enumerate(utts))
    spk = {}
    for u, s in utts:
        spk.setdefault(s, []).append(u)
    with open(os.path.join(d, "spk2utt"), "w") as f:
        f.writelines(f"{s} {' '.join(us)}\n" for s, us in spk.items())
    with open(os.path.join(d, "spk2gender"), "w") as f:
        f.writelines(f"{s} {'mf'[i % 2]}\n" for i, s in enumerate(spk))


def wall(cmd, env) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--utts", type=int, default=1_000_000)
    ap.add_argument("--parts", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--audio-sample", type=int, default=5000)
    ap.add_argument("--workdir", help="where the synthetic data dir goes (default: a temp dir)")
    a = ap.parse_args()
    env = dict(os.environ, LC_ALL="C", PYTHONPATH=ROOT, EMOREC_PATH_SH=ROOT,
               PATH=os.pathsep.join([UTILS, os.path.dirname(sys.executable), os.environ["PATH"]]))
    work = a.workdir or tempfile.mkdtemp(prefix="bench_datadir.")
    d = os.path.join(work, "data")
    try:
        t0 = time.perf_counter()
        make_data_dir(d, a.utts)
        print(f"data dir: {a.utts} utterances, {a.utts // 100} speakers in {d} "
              f"({time.perf_counter() - t0:.0f} s to write)")
        sample = os.path.join(work, "sample_wav.scp")
        with open(os.path.join(d, "wav.scp")) as f, open(sample, "w") as g:
            for i, line in enumerate(f):
                if i >= a.audio_sample:
                    break
                g.write(line)
        one = os.path.join(work, "one_wav.scp")      # the entry point's fixed cost, subtracted
        with open(sample) as f, open(one, "w") as g:
            g.write(f.readline())
        runs = {
            "validate ours": ["bash", os.path.join(UTILS, "validate_data_dir.sh"), "--no-feats", "--no-wav", d],
            "validate kaldi": ["bash", "-c", KALDI_VALIDATE, "kaldi_validate", d, UTILS],
            "split ours": ["bash", os.path.join(UTILS, "split_data.sh"), d, str(a.parts)],
            "split kaldi": ["bash", "-c", KALDI_SPLIT, "kaldi_split", d, str(a.parts), UTILS, KALDI_FILTER_SCPS],
            "audio headers": [sys.executable, "-m", "emorec.bin.validate_data_dir", "--wav-scp", sample],
            "audio startup": [sys.executable, "-m", "emorec.bin.validate_data_dir", "--wav-scp", one],
        }
        times = {k: [] for k in runs}
        for _ in range(a.repeats):          # interleaved
            for k, cmd in runs.items():
                if k == "split ours":
                    shutil.rmtree(os.path.join(d, f"split{a.parts}"), ignore_errors=True)
                times[k].append(wall(cmd, env))
        med = {k: statistics.median(v) for k, v in times.items()}
        per_m = 1e6 / a.utts
        audio_s = max(0.0, med["audio headers"] - med["audio startup"])
        audio_per_m = audio_s * 1e6 / a.audio_sample
        print(f"{'':16s} {'ours s':>9s} {'kaldi s':>9s} {'ratio':>6s} {'ours s/1M utts':>15s}")
        ok = True
        for what in ("validate", "split"):
            ours, kaldi = med[f"{what} ours"], med[f"{what} kaldi"]
            ratio = ours / kaldi
            total_per_m = ours * per_m + (audio_per_m if what == "validate" else 0.0)
            good = ratio <= GOAL_RATIO and total_per_m <= GOAL_SECONDS_PER_MILLION
            ok &= good
            print(f"{what:16s} {ours:9.1f} {kaldi:9.1f} {ratio:6.2f} {ours * per_m:15.1f}"
                  f"  {'PASS' if good else 'FAIL'}")
        print(f"{'audio headers':16s} {audio_s:9.1f} {'-':>9s} {'-':>6s} {audio_per_m:15.1f}"
              f"  ({a.audio_sample}-entry sample, less the {med['audio startup']:.1f} s start-up of the"
              f" entry point; Kaldi reads no audio)")
        print(f"validation cost per million entries (lists + audio headers): "
              f"{med['validate ours'] * per_m + audio_per_m:.0f} s; goal <= {GOAL_SECONDS_PER_MILLION:.0f} s "
              f"and ratios <= {GOAL_RATIO}: {'PASS' if ok else 'FAIL'}")
        return 0 if ok else 1
    finally:
        if not a.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
