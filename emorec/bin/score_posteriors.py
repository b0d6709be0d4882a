"""Per-utterance natural-log softmax posteriors of a classifier checkpoint.

  python -m emorec.bin.score_posteriors --model EXP/best.pt --data DIR --out OUT/posteriors.ark
Writes OUT/posteriors.ark, a kaldiio text ark (``utt  [ v1 v2 ... ]``), and classes.txt
beside it (the class names in output order, from the checkpoint)."""
from __future__ import annotations

import argparse
import os
import sys


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m emorec.bin.score_posteriors", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True, help="text ark of log-posteriors")
    p.add_argument("--classes-out", default=None, help="default: classes.txt beside --out")
    p.add_argument("--utt-list", default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--max-frames", type=int, default=20000)
    p.add_argument("--max-batch", type=int, default=32)
    p.add_argument("--num-threads", type=int, default=0)
    a = p.parse_args(argv)

    import kaldiio
    import torch
    from emorec.train.infer import data_keys, load_model, pick_device, run_model
    if a.num_threads:
        torch.set_num_threads(a.num_threads)
    device = pick_device(a.device)
    model, meta = load_model(a.model, device)
    keys = data_keys(a.data, a.utt_list)
    out = {k: v.numpy() for k, v, _ in run_model(model, a.data, "log_posteriors", keys, device=device,
                                                 max_frames=a.max_frames, max_batch=a.max_batch)}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".tmp"
    kaldiio.save_ark(tmp, {k: out[k] for k in sorted(out)}, text=True)
    classes_out = a.classes_out or os.path.join(os.path.dirname(os.path.abspath(a.out)), "classes.txt")
    with open(classes_out + ".tmp", "w", encoding="utf-8") as f:
        f.writelines(f"{c}\n" for c in meta["classes"])
    os.replace(classes_out + ".tmp", classes_out)
    os.replace(tmp, a.out)
    print(f"score_posteriors: {len(out)} utterances x {len(meta['classes'])} classes -> {a.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
