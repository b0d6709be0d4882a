"""Does path.sh's glibc malloc setting pay?  CPU seconds of a demo SER training job with
and without it, side by side.

Usage: python bench/bench_malloc.py [--repeats 5] [--epochs 2]

glibc gives freed memory back to the kernel as soon as the top of the heap is free
(M_TRIM_THRESHOLD, adaptive) and serves blocks above M_MMAP_THRESHOLD with fresh mmaps, so
torch's per-step activation buffers are page-faulted in again at every step: sys time.
path.sh sets MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_ and MALLOC_MMAP_THRESHOLD_ (glibc's
documented tunables) so that a process keeps and reuses its heap.  This runs
`python -m emorec.bin.train` with egs/iemocap/conf/ser_demo.yaml (the shipped settings,
--epochs epochs, 1 thread) on a synthetic data dir of the demo's size, in a fresh process
per run, with path.sh's values and with them unset, interleaved; CPU seconds (user + sys)
of the child, median and min.  Goal: the setting saves CPU (ratio < 1).
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile

from benchlib import ROOT, Report, interleaved, stats, verdict

sys.path.insert(0, os.path.join(ROOT, "tests"))
from synthetic_data import make_synthetic_datadir  # noqa: E402

MALLOC_VARS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_")


def path_sh_values() -> dict:
    out = subprocess.run(["bash", "-c", f'. "{ROOT}/path.sh" && env'], capture_output=True, text=True,
                         check=True).stdout
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    missing = [v for v in MALLOC_VARS if v not in env]
    if missing:
        sys.exit(f"path.sh does not set {', '.join(missing)}")
    return {v: env[v] for v in MALLOC_VARS}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=2)
    a = ap.parse_args()
    tuned = path_sh_values()
    rep = Report("bench_malloc")
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        # the demo fold's size: ~400 training utterances of 1-4 s, 4 classes
        make_synthetic_datadir(data, num_speakers=4, utts_per_speaker=100, min_frames=100, max_frames=400,
                               label_file="utt2emo")
        base = {k: v for k, v in os.environ.items() if k not in MALLOC_VARS}
        cmd = [sys.executable, "-m", "emorec.bin.train", "--config",
               os.path.join(ROOT, "egs", "iemocap", "conf", "ser_demo.yaml"), "--data", data, "--labels",
               os.path.join(data, "utt2emo"), "--ngpu", "0", "--set", f"train.epochs={a.epochs}"]

        def job(env):
            def run():
                exp = tempfile.mkdtemp(dir=tmp)
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                subprocess.run(cmd + ["--exp-dir", exp], env=env, check=True, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            return run

        res = interleaved({"glibc defaults": job(base), "path.sh setting": job({**base, **tuned})}, a.repeats,
                          warmup=False)
    rep.print(f"emorec.bin.train, egs/iemocap/conf/ser_demo.yaml, {a.epochs} epochs, 400 synthetic utterances; "
              f"{a.repeats} interleaved rounds; path.sh: " + " ".join(f"{k}={v}" for k, v in tuned.items()))
    for name, v in res.items():
        rep.print(f"  {name:16s} CPU s (user+sys) {stats(v)}")
    med = {n: statistics.median(v) for n, v in res.items()}  # the median stats() prints
    ratio = med["path.sh setting"] / med["glibc defaults"]
    verdict(rep, "path.sh's malloc setting saves CPU in training (ratio < 1)", f"{ratio:.2f}x", ratio < 1.0)
    rep.close()


if __name__ == "__main__":
    main()
