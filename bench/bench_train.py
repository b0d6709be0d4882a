"""Training throughput of the speaker ResNet: chunks/s and the share of step time spent
waiting for data, for the demo and paper configs side by side, on this machine.

  python bench/bench_train.py [--demo-steps 20] [--paper-steps 3] [--num-workers N] [--threads T]

Synthetic 128-dim features (tests/synthetic_data.py) in a temp dir,
the real DataLoader / ChunkBatchSampler / SpecAugment path of emorec.train, SGD steps
(CUDA with the config's AMP when available).  The first step of each run is warm-up and
not timed."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from emorec.augment import get_policy  # noqa: E402
from emorec.data.dataset import (ChunkBatchSampler, ChunkDataset, FeatureReader,  # noqa: E402
                                 collate_chunks, load_labels, read_num_frames)
from emorec.models import build_model, count_parameters  # noqa: E402
from emorec.train import speech  # noqa: E402
from emorec.train.config import load_config  # noqa: E402
from emorec.train.infer import autocast_ctx  # noqa: E402
from synthetic_data import make_synthetic_datadir  # noqa: E402


def bench(cfg, data, steps, device, num_workers):
    reader = FeatureReader(os.path.join(data, "feats.scp"))
    utt2lab, classes = load_labels(os.path.join(data, "utt2spk"))
    keys = sorted(utt2lab)
    nf = read_num_frames(data)
    pol = get_policy(cfg["augment"])
    sampler = ChunkBatchSampler([nf[k] for k in keys], cfg["data"]["batch_size"], cfg["data"]["chunk_sizes"],
                                seed=0, copies=cfg["augment"].get("copies", 0), augment=pol.active)
    ds = ChunkDataset(reader, keys, [utt2lab[k] for k in keys], pol)
    loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, num_workers=num_workers,
                                         collate_fn=collate_chunks, pin_memory=device.type == "cuda",
                                         prefetch_factor=4 if num_workers else None)
    model = build_model(dict(num_classes=len(classes), in_dim=128, **cfg["model"])).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=cfg["optim"]["lr"], momentum=0.9)
    amp = cfg["train"]["amp"] if device.type == "cuda" else "none"
    scaler = torch.amp.GradScaler("cuda", enabled=amp == "fp16")
    wait = compute = 0.0
    chunks = frames = 0
    it = iter(loader)
    for step in range(steps + 1):
        t0 = time.perf_counter()
        try:
            x, y = next(it)
        except StopIteration:            # next epoch (worker start-up counts as waiting)
            sampler.set_epoch(sampler.epoch + 1)
            it = iter(loader)
            x, y = next(it)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        t1 = time.perf_counter()
        with autocast_ctx(device, amp):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        if device.type == "cuda":
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        if step > 0:
            wait += t1 - t0
            compute += t2 - t1
            chunks += x.shape[0]
            frames += x.shape[0] * x.shape[1]
    total = wait + compute
    return {"params": count_parameters(model), "steps": steps, "chunks/s": chunks / total,
            "frames/s": frames / total, "s/step": total / steps, "data wait": wait / total}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--demo-steps", type=int, default=20)
    p.add_argument("--paper-steps", type=int, default=3)
    p.add_argument("--num-workers", type=int, default=None, help="default: the config's")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("--device", default="auto")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device)
    conf = os.path.join(ROOT, "egs", "voxceleb", "conf")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        make_synthetic_datadir(data, num_speakers=32, utts_per_speaker=16, min_frames=200,
                               max_frames=800, dim=128)
        for name, steps in (("demo", a.demo_steps), ("paper", a.paper_steps)):
            cfg = load_config(speech.SCHEMA, os.path.join(conf, f"train_{name}.yaml"))
            nw = cfg["data"]["num_workers"] if a.num_workers is None else a.num_workers
            nw = min(nw, os.cpu_count() or 1)
            print(f"running {name} ({steps} steps, {nw} workers, {device})...", file=sys.stderr)
            r = bench(cfg, data, steps, device, nw)
            r["workers"] = nw
            rows.append((name, r))
    keys = ["params", "workers", "steps", "s/step", "chunks/s", "frames/s", "data wait"]
    print(f"device {device}, torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}")
    print(f"{'config':<8}" + "".join(f"{k:>12}" for k in keys))
    for name, r in rows:
        cells = []
        for k in keys:
            v = r[k]
            cells.append(f"{100 * v:>11.1f}%" if k == "data wait" else
                         f"{v:>12d}" if isinstance(v, int) else f"{v:>12.3g}" if v < 1000 else f"{v:>12.0f}")
        print(f"{name:<8}" + "".join(cells))
    d, pp = rows[0][1], rows[1][1]
    print(f"paper/demo: {pp['s/step'] / d['s/step']:.1f}x time per step, "
          f"{d['chunks/s'] / pp['chunks/s']:.1f}x fewer chunks/s")


if __name__ == "__main__":
    main()
