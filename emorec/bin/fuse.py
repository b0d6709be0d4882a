"""Late fusion of speech and text log-posteriors (emorec.fusion; paper 000, Sec. 3.3).

SPEECH_DIR and TEXT_DIR are either one fold's score dirs (holding
{dev,test}.logpost.ark + classes.txt) or system roots holding fold*/ subdirs; in
the latter case every fold present in SPEECH_DIR is fused.  Fusion parameters are
tuned on each fold's DEV scores and labels only, then applied to its TEST scores.

Outputs, for each METHOD in --methods (w1, znorm, equal_raw):
  one fold:   OUT_DIR/METHOD/{dev,test}.logpost.ark, classes.txt
  fold roots: OUT_DIR/METHOD/foldK/{dev,test}.logpost.ark, classes.txt
plus w1.txt (chosen w1) and w1_search.txt (dev UA per grid point) for w1, and
znorm_stats.txt (dev statistics) for znorm.  The dev labels are read from
DATA/dev/utt2emo (one fold) or DATA/foldK/dev/utt2emo (fold roots).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True,
                    help="fold data dir (with dev/utt2emo) or the folds root (with foldK/dev/utt2emo)")
    ap.add_argument("--methods", default="w1,znorm", help="comma-separated: w1, znorm, equal_raw")
    ap.add_argument("--znorm-stats", choices=("per-class", "global"), default="per-class",
                    help="z-norm statistics per class score (default) or over all scores of a modality")
    ap.add_argument("speech_dir")
    ap.add_argument("text_dir")
    ap.add_argument("out_dir")
    a = ap.parse_args(argv)

    from emorec import fusion
    from emorec.fileio import atomic_write_text, fold_sort_key
    from emorec.stamp import Stamp

    methods = [m for m in a.methods.split(",") if m]
    sp, tx, out, data = Path(a.speech_dir), Path(a.text_dir), Path(a.out_dir), Path(a.data)
    if (sp / "test.logpost.ark").is_file():
        jobs = [(sp, tx, {m: out / m for m in methods}, data / "dev" / "utt2emo", None)]
    else:
        folds = sorted((p.name for p in sp.iterdir() if p.is_dir() and (p / "test.logpost.ark").is_file()),
                       key=fold_sort_key) if sp.is_dir() else []
        if not folds:
            print(f"fuse: ERROR: {sp}: neither test.logpost.ark nor fold*/test.logpost.ark", file=sys.stderr)
            return 1
        jobs = []
        for f in folds:
            dev_lab = data / f / "dev" / "utt2emo"
            if not dev_lab.is_file() and len(folds) == 1:
                dev_lab = data / "dev" / "utt2emo"
            jobs.append((sp / f, tx / f, {m: out / m / f for m in methods}, dev_lab, f))
    summaries = {}
    summary_file = out / "fusion_summary.json"
    if summary_file.is_file():
        summaries = json.loads(summary_file.read_text(encoding="utf-8"))
    try:
        for s_dir, t_dir, mdirs, dev_lab, fold in jobs:
            if not dev_lab.is_file():
                raise FileNotFoundError(f"{dev_lab}: no dev labels for {s_dir}")
            inputs = [d / f"{s}.logpost.ark" for d in (s_dir, t_dir) for s in ("dev", "test")] + [dev_lab]
            outputs = [d / "test.logpost.ark" for d in mdirs.values()]
            stamp = Stamp(outputs[-1], step="fuse", version=1, inputs=inputs, outputs=outputs,
                          options={"methods": methods, "znorm_stats": a.znorm_stats})
            if (fold or "fold") in summaries and stamp.done():
                continue
            stamp.begin()
            summ = fusion.fuse_fold(s_dir, t_dir, mdirs, dev_lab,
                                    per_class_znorm=(a.znorm_stats == "per-class"))
            summaries[fold or "fold"] = summ
    except (OSError, ValueError) as e:
        print(f"fuse: ERROR: {e}", file=sys.stderr)
        return 1
    atomic_write_text(summary_file, json.dumps(summaries, indent=2) + "\n")
    if "w1" in methods:
        print("fuse: w1 per fold: " + " ".join(f"{k}={v['w1']:.2f}" for k, v in summaries.items()))
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
