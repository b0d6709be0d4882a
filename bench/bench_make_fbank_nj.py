"""Does `steps/make_fbank.sh --nj N` scale?  Wall time of --nj 2 over --nj 1, side by side.

Usage: python bench/bench_make_fbank_nj.py [--utts 4000] [--seconds 3] [--speakers 100]
                                          [--repeats 5] [--nj 2]

A data dir of --utts utterances of --seconds each (speech-like audio, 16 kHz PCM16) in a
temp dir; steps/make_fbank.sh with run.pl and egs/voxceleb/conf/fbank.conf runs from
scratch (outputs, splits and logs removed, dirty pages written back) with --nj 1 and --nj N, interleaved, --repeats
rounds; wall seconds and the CPU seconds of all children, median and min.
Goal (issue 13): on an idle machine with at least N cores, --nj N (N = 2) finishes in at
most 0.6x the wall time of --nj 1.  The load average is printed: on a busy machine the
second job competes with other work and the ratio says little.  Writes
bench/results/bench_make_fbank_nj.txt too.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time

import soundfile as sf

from benchlib import FBANK_CONF as CONF, ROOT, Report, interleaved, stats, verdict
from bench_fbank import speechlike  # noqa: E402

GOAL = 0.6


def make_data(d, utts, seconds, speakers, sr=16000):
    os.makedirs(os.path.join(d, "wav"))
    audio = speechlike(int(sr * (seconds * 50 + 1)))  # utterances are windows of one signal
    wav, u2s = [], []
    for i in range(utts):
        spk = f"spk{i % speakers:03d}"
        utt = f"{spk}-u{i:05d}"
        p = os.path.join(d, "wav", utt + ".wav")
        start = int((i % 50) * seconds * sr)
        sf.write(p, audio[start:start + int(seconds * sr)], sr, subtype="PCM_16")
        wav.append(f"{utt} {p}\n")
        u2s.append(f"{utt} {spk}\n")
    for name, lines in (("wav.scp", wav), ("utt2spk", u2s)):
        with open(os.path.join(d, name), "w") as f:
            f.writelines(sorted(lines))


def clean(data, work):
    for p in os.listdir(data):
        if p.startswith("split") or p in (".backup", "feats.scp", "utt2num_frames"):
            q = os.path.join(data, p)
            shutil.rmtree(q) if os.path.isdir(q) else os.remove(q)
    shutil.rmtree(work, ignore_errors=True)


def run_make_fbank(data, work, nj, cpu_log):
    def run():
        clean(data, work)
        # the last run's ~300 MB of arks are written back now, not during this run (which
        # they slowed by up to 1 s, more with --nj 2, where no core is free for the flusher)
        os.sync()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        r = subprocess.run(["bash", os.path.join(ROOT, "steps", "make_fbank.sh"), "--nj", str(nj),
                            "--fbank-config", CONF, data, os.path.join(work, "log"),
                            os.path.join(work, "fbank")], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode:
            raise RuntimeError(f"make_fbank.sh --nj {nj} failed:\n{r.stdout}{r.stderr}")
        cpu_log.append((ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime))
        return wall
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--utts", type=int, default=4000)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--speakers", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--nj", type=int, default=2)
    args = ap.parse_args()
    rep = Report("bench_make_fbank_nj")
    rep.print(f"data: {args.utts} utterances x {args.seconds:g} s, {args.speakers} speakers; "
              f"steps/make_fbank.sh, run.pl, {os.path.relpath(CONF, ROOT)}; "
              f"{args.repeats} interleaved rounds")
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        make_data(data, args.utts, args.seconds, args.speakers)
        cpu = {1: [], args.nj: []}
        res = interleaved({nj: run_make_fbank(data, os.path.join(tmp, "work"), nj, cpu[nj])
                           for nj in (1, args.nj)}, args.repeats)
    for nj, walls in res.items():
        rep.print(f"  --nj {nj}: wall s {stats(walls)};  CPU s of all children "
                  f"{stats(cpu[nj][1:])}")  # cpu[nj][0] is the warm-up run
    ratio = statistics.median(res[args.nj]) / statistics.median(res[1])
    rep.print(f"  wall(--nj {args.nj}) / wall(--nj 1) = {ratio:.2f} (ideal {1 / args.nj:.2f} "
              f"with {args.nj} free cores)")
    verdict(rep, f"--nj {args.nj} wall <= {GOAL:g}x --nj 1 on {args.utts} utterances "
                 f"(an idle machine with >= {args.nj} cores)", f"{ratio:.2f}x", ratio <= GOAL)
    rep.close()


if __name__ == "__main__":
    main()
