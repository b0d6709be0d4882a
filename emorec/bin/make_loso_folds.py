"""Write leave-one-session-out folds OUT_DIR/fold{1..N}/{train,dev,test} (see emorec.data.folds)."""
from __future__ import annotations

import argparse
import sys

from emorec.data.folds import make_folds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dev-frac", type=float, default=0.1,
                    help="share of each (session, emotion) of the training sessions held out as dev")
    ap.add_argument("data_dir")
    ap.add_argument("out_dir")
    a = ap.parse_args(argv)
    try:
        sizes = make_folds(a.data_dir, a.out_dir, a.dev_frac)
    except (OSError, ValueError) as e:
        print(f"make_loso_folds: ERROR: {e}", file=sys.stderr)
        return 1
    for fold, s in sizes.items():
        print(f"{fold}: train {s['train']} dev {s['dev']} test {s['test']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
