"""One line for a job's log: the GPUs it asked for and the CUDA devices torch sees.

  python -m emorec.bin.check_gpu --asked G [--require]
  python -m emorec.bin.check_gpu --asked G --banner "$cuda_cmd"

Prints "# GPUs: asked for G, CUDA sees N (...)"; when N < G it says why (a CPU-only torch
build, or no device visible) and that the job runs on CPU. --require: exit 1 then, so a
GPU job never trains on CPU unnoticed (run.pl / slurm.pl --require-gpu true call this).
--banner RUNNER: the line a recipe prints under a GPU stage's banner; only when RUNNER
runs the jobs here (run.pl) and they would run on CPU, else nothing (slurm.pl's jobs say
it in their logs, on the node).
"""
from __future__ import annotations

import argparse
import os
import sys


def gpu_line(asked: int) -> tuple:
    """-> (line, enough): the log line, and whether at least ``asked`` devices are visible."""
    import torch

    seen = torch.cuda.device_count() if torch.cuda.is_available() else 0
    line = f"# GPUs: asked for {asked}, CUDA sees {seen}"
    if seen:
        line += " (" + ", ".join(torch.cuda.get_device_name(i) for i in range(seen)) + ")"
    if seen >= asked:
        return line, True
    if torch.version.cuda is None:
        why = f"torch {torch.__version__} is a CPU-only build (README: GPUs, installing a CUDA torch)"
    else:
        why = (f"torch {torch.__version__} (CUDA {torch.version.cuda}); CUDA_VISIBLE_DEVICES="
               f"{os.environ.get('CUDA_VISIBLE_DEVICES', '(unset)')}")
    return f"{line}: WARNING: {why}; the job runs on CPU", False


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m emorec.bin.check_gpu", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--asked", type=int, required=True, help="GPUs the job asked for")
    ap.add_argument("--require", action="store_true", help="exit 1 when fewer are visible")
    ap.add_argument("--banner", metavar="RUNNER", help="the stage banner's line for jobs run by RUNNER")
    a = ap.parse_args(argv)
    if a.banner is not None:
        if a.asked > 0 and a.banner.split()[:1] == ["run.pl"]:
            line, enough = gpu_line(a.asked)
            if not enough:
                print(f"    GPU stage, jobs run here ({a.banner}):{line[len('# GPUs:'):]}")
        return 0
    line, enough = gpu_line(a.asked)
    print(line)
    if not enough and a.require:
        print("# --require-gpu true: the job stops instead of running on CPU")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
