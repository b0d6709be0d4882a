"""Per-utterance natural-log softmax posteriors of a classifier checkpoint.

  python -m emorec.bin.score_posteriors --model EXP/best.pt --data DIR --out OUT/posteriors.ark
      [--data DIR2 --out OUT2/posteriors.ark ...]
Writes OUT/posteriors.ark, a kaldiio text ark (``utt  [ v1 v2 ... ]``), and classes.txt
beside it (the class names in output order, from the checkpoint). Several --data/--out
pairs share one process and one model load (steps/train_ser.sh scores dev and test so).
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
    p.add_argument("--max-frames", type=int, default=20000)
    p.add_argument("--max-batch", type=int, default=32)
    p.add_argument("--num-threads", type=int, default=0)
    a = p.parse_args(argv)
    if len(a.data) != len(a.out):
        p.error(f"{len(a.data)} --data but {len(a.out)} --out: give them in pairs")
    from emorec.fileio import write_classes, write_scores
    from emorec.stamp import Stamp

    todo = []
    for data, out in zip(a.data, a.out):
        try:
            stamp = Stamp(out, step="score_posteriors", version=1,
                          inputs=[a.model, data] + ([a.utt_list] if a.utt_list else []),
                          options={"max_frames": a.max_frames, "max_batch": a.max_batch})
        except FileNotFoundError as e:
            sys.exit(f"score_posteriors: ERROR: {e}")
        if a.skip_done and stamp.done():
            continue
        stamp.begin()
        todo.append((data, out))
    if not todo:
        return 0

    import numpy as np

    from emorec.train.infer import data_keys, load_for_scoring, run_model
    model, meta, device = load_for_scoring(a.model, a.device, a.num_threads)
    if a.classes_out:
        write_classes(a.classes_out, meta["classes"])
    for data, out_ark in todo:
        keys = data_keys(data, a.utt_list)
        out = {k: v.numpy() for k, v, _ in run_model(model, data, "log_posteriors", keys, device=device,
                                                     max_frames=a.max_frames, max_batch=a.max_batch)}
        keys = sorted(out)
        write_scores(out_ark, keys, np.stack([out[k] for k in keys]), meta["classes"])
        print(f"score_posteriors: {len(out)} utterances x {len(meta['classes'])} classes -> {out_ark}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
