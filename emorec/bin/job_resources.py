"""The job-runner options of a training job (run.pl / slurm.pl), from its config and the
step's options, printed on one line:

  python -m emorec.bin.job_resources --config conf/train_paper.yaml --family resnet --ngpu 1
  -> --gpu 1 --num-threads 9 --mem 12G

Per training process (--ngpu of them on each node, at least one): data.num_workers loader
workers + --threads for the process itself CPUs, and 4G + 1G per loader worker of memory
(the model, its optimiser and the prefetched batches; a starting point that --mem
overrides). --num-threads / --mem given (non-empty) replace the derived values; --time and
--nodes (when above 1) are passed on. slurm.pl maps them to sbatch (--cpus-per-task, --mem
per node, --time, --nodes).
"""
from __future__ import annotations

import argparse
import sys


def job_options(workers: int, ngpu: int, threads: int = 1, nnodes: int = 1, num_threads: str = "",
                mem: str = "", time: str = "") -> list:
    procs = max(ngpu, 1)
    opts = ["--gpu", str(ngpu), "--num-threads", num_threads or str(procs * (workers + threads)),
            "--mem", mem or f"{procs * (4 + workers)}G"]
    if time:
        opts += ["--time", time]
    if nnodes > 1:
        opts += ["--nodes", str(nnodes)]
    return opts


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m emorec.bin.job_resources", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="training YAML")
    from emorec.train.families import FAMILIES, family_class

    ap.add_argument("--family", choices=sorted(FAMILIES), default="resnet",
                    help="model family whose config schema reads --config (emorec.train.families)")
    ap.add_argument("--ngpu", type=int, default=1, help="GPUs (training processes) per node; 0: one CPU process")
    ap.add_argument("--nnodes", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="CPU threads of each training process")
    ap.add_argument("--num-threads", default="", help="CPUs per node; empty: derived")
    ap.add_argument("--mem", default="", help="memory per node (slurm: 8G, 8000M); empty: derived")
    ap.add_argument("--time", default="", help="time limit (slurm: 2-00:00:00); empty: none asked")
    a = ap.parse_args(argv)
    for opt in ("num_threads", "mem", "time"):
        if any(c.isspace() for c in getattr(a, opt)):
            ap.error(f"--{opt.replace('_', '-')} {getattr(a, opt)!r}: one word expected")
    from emorec.train.config import ConfigError, load_config

    try:
        cfg = load_config(family_class(a.family).SCHEMA, a.config)
    except ConfigError as e:
        print(f"job_resources: ERROR: {e}", file=sys.stderr)
        return 1
    print(" ".join(job_options(cfg.get("data", {}).get("num_workers", 0), a.ngpu, a.threads, a.nnodes,
                               a.num_threads, a.mem, a.time)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
