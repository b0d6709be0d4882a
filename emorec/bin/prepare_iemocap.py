"""Prepare a Kaldi data dir from IEMOCAP_full_release (see emorec.data.iemocap)."""
from __future__ import annotations

import argparse
import sys

from emorec.data import iemocap
from emorec.data.datadir import write_corpus_roots


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--exp", type=int, default=3, choices=(0, 1, 2, 3),
                    help="1: ang hap neu sad; 2: ang exc neu sad; 3: ang hap(+exc) neu sad; "
                         "0: every label kept")
    ap.add_argument("--max-drop-frac", type=float, default=0.05,
                    help="fail if more than this fraction of selected utterances is dropped")
    ap.add_argument("iemocap_root", help="the IEMOCAP_full_release folder")
    ap.add_argument("data_dir")
    a = ap.parse_args(argv)
    try:
        res, lists = iemocap.prepare(a.iemocap_root, a.exp, a.max_drop_frac)
    except (OSError, RuntimeError, ValueError) as e:
        print(f"prepare_iemocap: ERROR: {e}", file=sys.stderr)
        return 1
    for w in res.warnings + res.dropped:
        print(f"prepare_iemocap: WARNING: {w}", file=sys.stderr)
    if not res.utt2emo:
        print(f"prepare_iemocap: ERROR: no utterance selected from {a.iemocap_root}", file=sys.stderr)
        return 1
    iemocap.write_data_dir(a.data_dir, lists)
    write_corpus_roots(a.data_dir, "iemocap", a.iemocap_root)
    print(iemocap.report(res))
    print(f"prepare_iemocap: wrote {a.data_dir}")
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
