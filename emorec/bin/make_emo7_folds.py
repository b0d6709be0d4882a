"""The split protocols of egs/emo7 as numbered folds, the layout of the per-fold steps
(steps/pretrain_hubert.sh, steps/train_fold.sh, steps/train_text.sh).

Usage: python -m emorec.bin.make_emo7_folds [--train-name train_aug] [--text FILE]
           DATA_ROOT "PROTOCOLS" OUT_DIR

For the K-th protocol of PROTOCOLS (e.g. "strat spk loco/cremad ..."), OUT_DIR/foldK holds
  train  a copy of DATA_ROOT/<protocol>/<--train-name> (e.g. the class-balanced train_aug)
  dev    a copy of DATA_ROOT/<protocol>/valid (--valid-name; model selection)
  test   a copy of DATA_ROOT/<protocol>/test
and OUT_DIR/folds.txt maps "foldK <protocol>". With --text (a Kaldi transcript file, e.g.
the corpora's reference transcripts or an ASR output), every part gets a `text`
and keeps only the utterances that have a non-empty transcript (an augmented copy takes
its original's, train_aug/utt2orig); OUT_DIR/text_coverage.txt counts, per fold and part,
the utterances kept and those dropped for want of one. A part left empty is an error,
as is a label of a part's utt2emo outside the 7 classes (naming its line).
Written to a temporary dir and renamed; with --skip-done, skipped when made from the same
inputs and options (emorec.stamp, OUT_DIR.stamp).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emorec.data.datadir import subset_data_dir
from emorec.data.emo7 import CLASSES, transcripts_of
from emorec.fileio import DataDirError, atomic_dir, check_labels, read_kv, write_kv, write_lines
from emorec.stamp import Stamp, options_of

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--train-name", default="train", help="training part of each protocol [train]")
    ap.add_argument("--valid-name", default="valid", help="validation part of each protocol (dev) [valid]")
    ap.add_argument("--text", help="transcripts (Kaldi text) of the protocols' utterances")
    ap.add_argument("--skip-done", action="store_true")
    ap.add_argument("data_root")
    ap.add_argument("protocols")
    ap.add_argument("out_dir")
    a = ap.parse_args(argv)
    root, out = Path(a.data_root), Path(a.out_dir)
    protocols = a.protocols.split()
    parts = {"train": a.train_name, "dev": a.valid_name, "test": "test"}
    try:
        if not protocols:
            raise ValueError("no protocol given")
        inputs = [root / p / src for p in protocols for src in parts.values()]
        inputs += [a.text] if a.text else []
        listing = [f"fold{k} {p}" for k, p in enumerate(protocols, 1)]
        stamp = Stamp(out, step="make_emo7_folds", version=1, inputs=inputs,
                      options=options_of(a, "data_root", "text", "out_dir"))
        if a.skip_done and stamp.done():
            return 0
        stamp.begin()
        transcripts = read_kv(a.text, allow_empty_value=True) if a.text else {}
        coverage = []
        with atomic_dir(out) as tmp:
            for k, p in enumerate(protocols, 1):
                for part, src in parts.items():
                    src_dir = root / p / src
                    check_labels(src_dir / "utt2emo", CLASSES)
                    utt2spk = read_kv(src_dir / "utt2spk")
                    utts = list(utt2spk)
                    dst = tmp / f"fold{k}" / part
                    if a.text:
                        orig = src_dir / "utt2orig"
                        text = transcripts_of(utts, transcripts, read_kv(orig) if orig.is_file() else None)
                        if not text:
                            raise DataDirError(f"{src_dir}: none of its {len(utts)} utterances has a transcript")
                        coverage.append(f"fold{k} {p} {part} {len(text)} of {len(utts)} "
                                        f"({len(utts) - len(text)} without transcript dropped)")
                        utts = list(text)
                    subset_data_dir(str(src_dir), str(dst), utts)
                    if a.text:
                        write_kv(dst / "text", text)
            if a.text:
                write_lines(tmp / "text_coverage.txt", coverage)
            write_lines(tmp / "folds.txt", listing)
    except (OSError, DataDirError, ValueError) as e:
        print(f"make_emo7_folds: ERROR: {e}", file=sys.stderr)
        return 1
    for line in coverage:
        print(f"make_emo7_folds: {line}")
    print(f"make_emo7_folds: {len(protocols)} folds in {out}")
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
