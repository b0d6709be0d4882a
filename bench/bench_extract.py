"""Embedding extraction speed across batch sizes at the shipped settings, and what the
length masks cost (a batch without padding skips them).

Usage: python bench/bench_extract.py [--repeats 5] [--frames 400] [--threads 1]

The speaker ResNet34 of egs/voxceleb/conf/train_paper.yaml (random weights: the speed
does not depend on them) in eval mode, no grad, ``model.extract(x, lengths)`` as
``emorec.train.infer.run_model`` calls it, --threads torch threads (1:
steps/extract_embeddings.sh's --num-threads default), utterances of --frames frames
(400: 4 s).  Batch sizes 1..32 and the shipped one, min(max_batch, max_frames //
frames) with the defaults of steps/extract_embeddings.sh on CPU, in interleaved rounds
(median and min of the CPU seconds per utterance, after one warm-up round).  The
recommended --max-frames is the smallest batch within 5% of the best throughput, in
padded frames (larger batches cost memory and padding for nothing).
Masks: the shipped batch as is (no padding: no masks) and with one utterance a frame
shorter (the masked path), side by side.
Goal (issue 13): the shipped --max-frames gives >= 95% of the best measured throughput.
Writes bench/results/bench_extract.txt too.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import time

import torch

from benchlib import ROOT, Report, interleaved, stats, verdict
from bench_resnet import build

GOAL = 0.95
STEP = os.path.join(ROOT, "steps", "extract_embeddings.sh")


def shipped_defaults() -> dict:
    """max_frames and max_batch as steps/extract_embeddings.sh runs them on CPU."""
    from emorec.bin.extract_embeddings import MAX_FRAMES
    with open(STEP, encoding="utf-8") as f:
        found = {k: int(v) for k, v in re.findall(r"^(max_frames|max_batch)=(\d+)", f.read(), re.M)}
    found["max_frames"] = found["max_frames"] or MAX_FRAMES["cpu"]  # 0: by device
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    ship = shipped_defaults()
    shipped = max(1, min(ship["max_batch"], ship["max_frames"] // a.frames))
    sizes = sorted({1, 2, 4, 8, 16, 32, shipped})

    rep = Report("bench_extract")
    rep.print(f"embedding extraction, ResNet34 (egs/voxceleb/conf/train_paper.yaml), eval, CPU, "
              f"torch threads {a.threads}, {a.frames}-frame utterances; steps/extract_embeddings.sh: "
              f"--max-frames {ship['max_frames']}, --max-batch {ship['max_batch']} -> batch {shipped}; "
              f"{a.repeats} interleaved rounds")
    torch.manual_seed(0)
    model = build("emorec", 128).eval()
    xs = {b: torch.randn(b, a.frames, 128) for b in sizes}

    def per_utt(b, lengths):
        def run():
            with torch.no_grad():
                t0 = time.process_time()
                model.extract(xs[b], lengths)
                return (time.process_time() - t0) / b
        return run
    full = {b: torch.full((b,), a.frames) for b in sizes}
    variants = {b: per_utt(b, full[b]) for b in sizes}
    padded = full[shipped].clone()
    padded[-1] -= 1
    variants["masked"] = per_utt(shipped, padded)
    res = interleaved(variants, a.repeats)

    rate = {b: 1 / statistics.median(res[b]) for b in sizes}
    best = max(rate.values())
    rec = min(b for b in sizes if rate[b] >= GOAL * best)
    for b in sizes:
        rep.print(f"  batch {b:2d} ({b * a.frames:5d} padded frames): {rate[b]:6.2f} utts / CPU s "
                  f"({rate[b] / best:5.1%} of the best); CPU s / utt {stats(res[b])}"
                  + ("  <- shipped" if b == shipped else ""))
    rep.print(f"  recommended: batch {rec} = --max-frames {rec * a.frames} (the smallest within "
              f"{1 - GOAL:.0%} of the best)")
    mask = statistics.median(res["masked"]) / statistics.median(res[shipped])
    rep.print(f"  batch {shipped} with one utterance 1 frame shorter (masked path): CPU s / utt "
              f"{stats(res['masked'])}; {mask:.2f}x the unpadded batch (the masks it skips)")
    verdict(rep, f"shipped --max-frames {ship['max_frames']} gives >= {GOAL:.0%} of the best throughput",
            f"{rate[shipped] / best:.1%}", rate[shipped] >= GOAL * best)
    rep.close()


if __name__ == "__main__":
    main()
