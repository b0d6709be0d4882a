"""Average the weights of the last N epoch checkpoints of an experiment.

  python -m emorec.bin.average_model --exp-dir EXP --num N --out EXP/avg_N.pt
(or explicit checkpoints: --out OUT.pt CKPT1 CKPT2 ...). With --skip-done, does nothing
when OUT was made from the same checkpoints (the toolkit's restart rule, emorec.stamp)."""
from __future__ import annotations

import argparse
import sys


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m emorec.bin.average_model", description=__doc__)
    p.add_argument("--exp-dir", default=None)
    p.add_argument("--num", type=int, default=3)
    p.add_argument("--out", required=True)
    p.add_argument("--skip-done", action="store_true",
                   help="do nothing when --out was made from the same checkpoints")
    p.add_argument("checkpoints", nargs="*")
    a = p.parse_args(argv)
    from emorec.stamp import Stamp
    from emorec.train import checkpoint

    paths = a.checkpoints
    if not paths:
        if not a.exp_dir:
            p.error("give --exp-dir or checkpoints")
        cks = checkpoint.epoch_checkpoints(a.exp_dir)
        if not cks:
            sys.exit(f"average_model: no epoch_*.pt in {a.exp_dir}")
        paths = [c for _, c in cks[-a.num:]]
    stamp = Stamp(a.out, step="average_model", version=1, inputs=paths)
    if a.skip_done and stamp.done():
        return 0
    stamp.begin()
    avg = checkpoint.average_checkpoints(paths)
    checkpoint.atomic_save(avg, a.out)
    print(f"average_model: {len(paths)} checkpoints ({', '.join(avg['averaged'])}) -> {a.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
