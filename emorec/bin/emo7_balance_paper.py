"""Paper 004's class balance of a protocol's train and valid parts (egs/emo7 --balance paper).

Usage: python -m emorec.bin.emo7_balance_paper cap [--seed 0] --per-class N POOL_DIR OUT_DIR
       python -m emorec.bin.emo7_balance_paper split [--seed 0] --valid-per-class N POOL_DIR TRAIN_DIR VALID_DIR

cap:   OUT_DIR = POOL_DIR (train and valid combined) with no class above N utterances
       (emorec.data.emo7.cap_per_class); emorec.bin.augment_balance --target N then brings
       every class up to N.
split: per class, N utterances of the balanced POOL_DIR (augmented copies included, as in
       paper 004's Tables 1-2) to VALID_DIR, the rest to TRAIN_DIR
       (emorec.data.emo7.split_per_class).  Each output is written to a temporary dir and
       renamed.
"""
from __future__ import annotations

import argparse
import sys

from emorec.data import emo7
from emorec.data.datadir import subset_data_dir
from emorec.fileio import DataDirError, atomic_dir, read_kv


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emorec.bin.emo7_balance_paper",
                                 description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("mode", choices=("cap", "split"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-class", type=int, help="cap: most utterances a class keeps")
    ap.add_argument("--valid-per-class", type=int, help="split: utterances of each class in valid")
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args(argv)
    n_dirs = {"cap": 2, "split": 3}[a.mode]
    if len(a.dirs) != n_dirs:
        ap.error(f"{a.mode} takes {n_dirs} dirs, got {len(a.dirs)}")
    count = a.per_class if a.mode == "cap" else a.valid_per_class
    if count is None or count <= 0:
        ap.error(f"{a.mode} needs a positive --{'per-class' if a.mode == 'cap' else 'valid-per-class'}")
    try:
        utt2emo = read_kv(f"{a.dirs[0]}/utt2emo")
        parts = ({a.dirs[1]: emo7.cap_per_class(utt2emo, count, a.seed)} if a.mode == "cap" else
                 dict(zip(a.dirs[1:], emo7.split_per_class(utt2emo, count, a.seed).values())))
        for dst, utts in parts.items():
            with atomic_dir(dst) as tmp:
                subset_data_dir(a.dirs[0], str(tmp), utts)
            print(f"emo7_balance_paper: {dst}: {len(utts)} utterances")
    except (OSError, DataDirError, ValueError) as e:
        print(f"emo7_balance_paper: ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
