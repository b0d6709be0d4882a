"""Cosine scoring of speaker-verification trials; EER and minDCF.

  python -m emorec.bin.score_trials --trials TRIALS --emb-scp xvector.scp --out-dir OUT
TRIALS lines: ``utt1 utt2 target|nontarget``.  Writes OUT/scores (``utt1 utt2 score``)
and OUT/results.txt (EER, its threshold, minDCF at P_target=0.01).  Trials whose
embedding is missing are skipped with a warning; more than 5% missing is an error.
With --skip-done, does nothing when OUT/results.txt (written last) was made from the
same TRIALS, embeddings and options (the toolkit's restart rule, emorec.stamp)."""
from __future__ import annotations

import argparse
import os
import sys

from emorec.fileio import open_text


def cosine_scores(trials, emb: dict, center: bool = False):
    import numpy as np
    mean = np.mean(np.stack(list(emb.values())), axis=0) if center else 0.0
    cache = {}

    def unit(k):
        if k not in cache:
            v = np.asarray(emb[k], dtype=np.float64) - mean
            cache[k] = v / max(np.linalg.norm(v), 1e-12)
        return cache[k]
    return [float(unit(a) @ unit(b)) for a, b in trials]


def read_trials(path):
    out = []
    with open_text(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3 or parts[2] not in ("target", "nontarget"):
                raise ValueError(f"{path}:{n}: expected 'utt1 utt2 target|nontarget', got {line.rstrip()!r}")
            out.append((parts[0], parts[1], 1 if parts[2] == "target" else 0))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m emorec.bin.score_trials", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", required=True)
    p.add_argument("--emb-scp", required=True, help="embeddings of both sides of the trials")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--center", action="store_true", help="subtract the mean embedding first")
    p.add_argument("--p-target", type=float, default=0.01)
    p.add_argument("--skip-done", action="store_true",
                   help="do nothing when OUT/results.txt was made from the same inputs and options")
    a = p.parse_args(argv)

    from emorec.fileio import atomic_write_text, write_lines
    from emorec.stamp import Stamp

    results = os.path.join(a.out_dir, "results.txt")
    try:
        stamp = Stamp(results, step="score_trials", version=1, inputs=[a.trials, a.emb_scp],
                      options={"center": a.center, "p_target": a.p_target})
    except FileNotFoundError as e:
        sys.exit(f"score_trials: ERROR: {e}")
    if a.skip_done and stamp.done():
        return 0
    stamp.begin()

    import kaldiio
    import numpy as np

    from emorec.metrics import compute_eer, compute_min_dcf

    trials = read_trials(a.trials)
    emb = {k: np.asarray(v) for k, v in kaldiio.load_scp(a.emb_scp).items()}
    kept = [t for t in trials if t[0] in emb and t[1] in emb]
    miss = len(trials) - len(kept)
    if miss:
        print(f"score_trials: WARNING {miss} of {len(trials)} trials lack an embedding in "
              f"{a.emb_scp}; skipped", file=sys.stderr)
    if not kept or miss > 0.05 * len(trials):
        sys.exit(f"score_trials: {miss} of {len(trials)} trials without embeddings (> 5%)")
    scores = cosine_scores([(t[0], t[1]) for t in kept], emb, a.center)
    labels = np.array([t[2] for t in kept])
    s = np.array(scores)
    eer, thr = compute_eer(s, labels)
    dcf = compute_min_dcf(s, labels, p_target=a.p_target)
    write_lines(os.path.join(a.out_dir, "scores"), (f"{u1} {u2} {v:.6f}" for (u1, u2, _), v in zip(kept, scores)))
    ntar = int(labels.sum())
    res = (f"trials: {len(kept)} (target {ntar}, nontarget {len(kept) - ntar}, skipped {miss})\n"
           f"EER: {100 * eer:.2f}%\n"
           f"EER threshold: {thr:.6f}\n"
           f"minDCF(p_target={a.p_target:g}): {dcf:.4f}\n")
    atomic_write_text(results, res)  # last: its presence marks the job done
    sys.stderr.write(res)
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
