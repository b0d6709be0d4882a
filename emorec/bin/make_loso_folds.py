"""Write cross-validation folds OUT_DIR/fold{1..N}/{train,dev,test} (see emorec.data.folds):
leave-one-session-out with a speaker-disjoint dev (optionally script-disjoint), or
paper 003's 5-fold random 80/20 split."""
from __future__ import annotations

import argparse
import os
import sys

from emorec.data.folds import PROTOCOLS, make_folds
from emorec.fileio import check_labels


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--protocol", choices=PROTOCOLS, default="loso")
    ap.add_argument("--script-disjoint", choices=("true", "false"), default="false",
                    help="loso: no IEMOCAP play on both the training and the test side of a fold")
    ap.add_argument("--classes", help="the recipe's class set (\"ang hap neu sad\"): a label "
                    "of DATA_DIR/utt2emo outside it is an error naming its line")
    ap.add_argument("data_dir")
    ap.add_argument("out_dir")
    a = ap.parse_args(argv)
    try:
        if a.classes:
            check_labels(os.path.join(a.data_dir, "utt2emo"), a.classes.split())
        sizes = make_folds(a.data_dir, a.out_dir, a.protocol, a.script_disjoint == "true")
    except (OSError, ValueError) as e:
        print(f"make_loso_folds: ERROR: {e}", file=sys.stderr)
        return 1
    for fold, s in sizes.items():
        print(f"{fold}: train {s['train']} dev {s['dev']} test {s['test']}")
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
