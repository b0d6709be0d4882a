"""Shared by the bench/ scripts (imported first: it puts this checkout on sys.path):
interleaved repetitions, median/min rows, PASS/FAIL lines,
and a report written both to stdout and to bench/results/NAME.txt.

Every compared variant runs once per round, rounds repeated, so a disturbance on a
shared machine hits all variants alike; the order inside a round rotates."""
from __future__ import annotations

import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # the bench scripts import emorec from this checkout
RESULTS = os.environ.get("EMOREC_BENCH_RESULTS") or os.path.join(ROOT, "bench", "results")  # gpu_check.sh: its own
FBANK_CONF = os.path.join(ROOT, "egs", "voxceleb", "conf", "fbank.conf")
LOADED = 0.75  # load average per CPU above which a report says the machine was loaded


class Report:
    """print() to stdout and, on close, to bench/results/<name>.txt (tmp + rename)."""

    def __init__(self, name: str):
        self.path = os.path.join(RESULTS, name + ".txt")
        self.lines: list[str] = []
        self.load_start = os.getloadavg()[0]
        self.print(f"# {name}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                   f"{os.cpu_count()} CPUs, load average {self.load_start:.2f} at start")
        self.print("# command: python " + " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:]))

    def print(self, line: str = ""):
        print(line, flush=True)
        self.lines.append(line)

    def close(self):
        load = max(self.load_start, os.getloadavg()[0])
        busy = load > LOADED * (os.cpu_count() or 1)
        self.print(f"# load average {os.getloadavg()[0]:.2f} at the end: the machine was "
                   + (f"LOADED (load average above {LOADED * (os.cpu_count() or 1):g}): other "
                      f"work disturbed the absolute figures; the interleaved ratios less so; "
                      f"re-run on an idle machine before quoting the times"
                      if busy else "idle enough (load average at most "
                      f"{LOADED * (os.cpu_count() or 1):g})"))
        os.makedirs(RESULTS, exist_ok=True)
        with open(self.path + ".tmp", "w") as f:
            f.write("\n".join(self.lines) + "\n")
        os.replace(self.path + ".tmp", self.path)


def interleaved(variants: dict, repeats: int, warmup: bool = True) -> dict:
    """{name: fn() -> seconds} -> {name: [seconds per round]}; fn measures itself."""
    names = list(variants)
    if warmup:
        for n in names:
            variants[n]()
    out = {n: [] for n in names}
    for r in range(repeats):
        for n in names[r % len(names):] + names[:r % len(names)]:
            out[n].append(variants[n]())
    return out


def cpu_seconds(fn):
    """fn -> a measurement of fn's process CPU time (all threads)."""
    def run():
        t0 = time.process_time()
        fn()
        return time.process_time() - t0
    return run


def stats(values) -> str:
    return f"median {statistics.median(values):9.4g}  min {min(values):9.4g}"


def verdict(report: Report, goal: str, measured: str, ok: bool):
    report.print(f"GOAL {goal}: measured {measured} -> {'PASS' if ok else 'FAIL'}")
