"""Map a combined data dir's labels to the seven classes of paper 004 (see
emorec.data.emo7): the utterances whose label is dropped (neutral, IEMOCAP's xxx neu oth
fru, and exc unless --exc-to-happy) leave; prints the corpus x class counts."""
from __future__ import annotations

import argparse
import os
import sys

from emorec.data import emo7
from emorec.data.datadir import subset_data_dir
from emorec.fileio import DataDirError, read_kv, write_kv


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--exc-to-happy", action="store_true",
                    help="map IEMOCAP's exc to happy instead of dropping it")
    ap.add_argument("src_dir", help="data dir with utt2emo and utt2corpus")
    ap.add_argument("dst_dir")
    a = ap.parse_args(argv)
    try:
        utt2emo = read_kv(os.path.join(a.src_dir, "utt2emo"))
        utt2corpus = read_kv(os.path.join(a.src_dir, "utt2corpus"))
        kept, dropped = emo7.map_labels(utt2emo, a.exc_to_happy)
        if not kept:
            raise DataDirError(f"{a.src_dir}/utt2emo: no utterance has a 7-class label")
        subset_data_dir(a.src_dir, a.dst_dir, kept)
    except (OSError, DataDirError) as e:
        print(f"emo7_map_labels: ERROR: {e}", file=sys.stderr)
        return 1
    write_kv(os.path.join(a.dst_dir, "utt2emo"), kept)
    print("dropped labels: " + (" ".join(f"{k}={v}" for k, v in sorted(dropped.items()))
                                or "none"))
    print(emo7.counts_table(kept, utt2corpus, f"{a.dst_dir}: 7 classes before silence removal"))
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
