"""Per-utterance natural-log softmax posteriors of a saved model of any family.

  python -m emorec.bin.score_posteriors --model EXP/foldK/model --data DIR --out OUT/posteriors.ark
      [--data DIR2 --out OUT2/posteriors.ark ...]
--model is a model dir a family saved (family.json) or a checkpoint (its "family" key);
the model is loaded by its family (emorec.train.families), which reads what it scores
from DIR (feats.scp, wav.scp, text). Writes OUT/posteriors.ark, a kaldiio text ark
(``utt  [ v1 v2 ... ]``), and classes.txt beside it (the model's class order). Several --data/--out
pairs share one process and one model load (e.g. a model's dev and test parts).
With --skip-done, a pair is skipped when its OUT (written last) is done by the toolkit's
restart rule (emorec.fileio.is_done: it exists and is not older than --model)."""
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
                   help="do nothing when --out exists and is not older than --model (make's rule)")
    p.add_argument("--device", default="auto")
    p.add_argument("--num-threads", type=int, default=0)
    a = p.parse_args(argv)
    if len(a.data) != len(a.out):
        p.error(f"{len(a.data)} --data but {len(a.out)} --out: give them in pairs")
    from emorec.fileio import is_done, write_classes, write_scores

    todo = []
    for data, out in zip(a.data, a.out):
        try:
            if a.skip_done and is_done(out, a.model):
                print(f"score_posteriors: {out} is up to date with {a.model}, skipping", file=sys.stderr)
                continue
        except FileNotFoundError as e:
            sys.exit(f"score_posteriors: ERROR: {e}")
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
    sys.exit(main())
