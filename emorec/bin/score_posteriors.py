"""Per-utterance natural-log softmax posteriors of a saved model of any family.

  python -m emorec.bin.score_posteriors --model EXP/foldK/model --data DIR --out OUT/posteriors.ark
      [--data DIR2 --out OUT2/posteriors.ark ...]
--model is a model dir a family saved (family.json) or a checkpoint (its "family" key);
the model is loaded by its family (emorec.train.families), which reads what it scores
from DIR (feats.scp, wav.scp, text). Writes OUT/posteriors.ark, a kaldiio text ark
(``utt  [ v1 v2 ... ]``), and classes.txt beside it (the model's class order). Several --data/--out
pairs share one process and one model load (e.g. a model's dev and test parts).
With --skip-done, a pair is skipped when its OUT (written last) was made from the same
model, data and options (the toolkit's restart rule, emorec.stamp: OUT.stamp)."""
from __future__ import annotations

import argparse
import sys


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m emorec.bin.score_posteriors", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True, action="append", help="data dir (repeatable)")
    p.add_argument("--out", required=True, action="append",
                   help="text ark of log-posteriors, one per --data, in the same order")
    p.add_argument("--classes-out", default=None, help="default: classes.txt beside --out")
    p.add_argument("--utt-list", default=None)
    p.add_argument("--skip-done", action="store_true",
                   help="skip a pair whose --out was made from the same model, data and options")
    p.add_argument("--device", default="auto")
    p.add_argument("--num-threads", type=int, default=0)
    a = p.parse_args(argv)
    if len(a.data) != len(a.out):
        p.error(f"{len(a.data)} --data but {len(a.out)} --out: give them in pairs")
    from emorec.fileio import write_classes, write_scores
    from emorec.stamp import Stamp

    todo = []
    for data, out in zip(a.data, a.out):
        try:
            # (the family scores with the model's own settings: no option changes the scores)
            stamp = Stamp(out, step="score_posteriors", version=2,
                          inputs=[a.model, data] + ([a.utt_list] if a.utt_list else []), options={})
        except FileNotFoundError as e:
            sys.exit(f"score_posteriors: ERROR: {e}")
        if a.skip_done and stamp.done():
            continue
        stamp.begin()
        todo.append((data, out))
    if not todo:
        return 0

    import torch

    from emorec.runtime import pick_device
    from emorec.train import families

    if a.num_threads:
        torch.set_num_threads(a.num_threads)
    try:
        predictor = families.load(a.model, pick_device(a.device))
        if a.classes_out:
            write_classes(a.classes_out, predictor.classes)
        for data, out_ark in todo:
            keys, lp = predictor.score_dir(data, a.utt_list)
            write_scores(out_ark, keys, lp, predictor.classes)
            print(f"score_posteriors: {len(keys)} utterances x {len(predictor.classes)} classes -> {out_ark}",
                  file=sys.stderr)
    except (OSError, ValueError) as e:
        sys.exit(f"score_posteriors: ERROR: {e}")
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
