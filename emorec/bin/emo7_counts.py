"""Print the corpus x class counts table (paper 004, Tables 1-4 layout) of data dirs
that have utt2emo and utt2corpus."""
from __future__ import annotations

import argparse
import os
import sys

from emorec.data import emo7
from emorec.fileio import DataDirError, read_kv


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data_dirs", nargs="+")
    a = ap.parse_args(argv)
    for d in a.data_dirs:
        try:
            utt2emo = read_kv(os.path.join(d, "utt2emo"))
            utt2corpus = read_kv(os.path.join(d, "utt2corpus"))
        except (OSError, DataDirError) as e:
            print(f"emo7_counts: ERROR: {e}", file=sys.stderr)
            return 1
        print(emo7.counts_table(utt2emo, utt2corpus, f"{d}: {len(utt2emo)} utterances"))
        print()
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
