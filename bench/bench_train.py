"""Training throughput of the speaker ResNet and whether the data loader keeps up:
chunks/s, the time the step waits for its batch, and the loader workers' CPU use, for
the demo and paper configs, on this machine.

  python bench/bench_train.py [--configs demo,paper] [--demo-steps 0] [--paper-steps 0]
                              [--num-workers N] [--threads T] [--loader-delay S]

Synthetic 128-dim features (tests/synthetic_data.py) in a temp dir,
the real DataLoader / ChunkBatchSampler / SpecAugment path of emorec.train, SGD steps
(CUDA with the config's AMP when available, and there the loop's train.compile, cuDNN
autotuning and channels-last; every chunk size is compiled before the timed steps).
--chunk-sizes overrides data.chunk_sizes (fewer shapes: fewer compilations); --utts sets
the synthetic utterances (more: fewer epoch ends, whose worker start-up counts as waiting).  The loader prefetches
workers x prefetch_factor batches, which hide a slow loader for that many steps; the
waiting is therefore reported over all steps and over the steady state, the steps after
that many (0 steps: 3x the prefetch depth + 1, so the steady state is 2/3 of the run).
Workers' CPU: measured in each worker (its CPU seconds since its previous batch, sent
with the batch: reading, augmenting, collating, and its start-up in its first batch),
summed over the batches the steps consumed; per batch and as a share of the workers'
wall time (on a loaded machine a worker gets a fraction of a core, so "busy" stays low;
compare worker CPU s/batch with main CPU s/step instead).  A loader slower than the
step shows as steady-state waiting.
--loader-delay S adds S CPU seconds per batch in the workers: a deliberately slow loader,
to check that the bench shows one (steady-state waiting, FAIL).
Goal (issue 13): in the steady state the step waits <= 5% of its time for data.
Writes bench/results/bench_train.txt (with --loader-delay: bench_train_loader_delay.txt) too.

--loader-rate: the loader alone, no model (issue 21): the recipe's own training batches
(emorec.train.speech.ResNetFamily.train_batches of egs/voxceleb/conf/train_paper.yaml and
egs/iemocap/conf/ser_paper.yaml: random T-chunks of whole-utterance-normalised features
read from ark files, the SpecAugment copies, collation, pinned memory when CUDA is
visible) read in this process at one torch thread, i.e. what one loader worker does; reports segments per
CPU second of one worker and from it the workers needed for --target segments/s
(default 6,000: ResNet34 on one H200, issue 21); PASS when each config's
data.num_workers is at least twice that (headroom: a GPU node's cores also run the
training process, and a cold page cache or network storage slows reading).  The utterances are 4-12 s (400-1200 frames, VoxCeleb's
range; the page cache holds the arks, as it does for a warm epoch).  Not counted: the
main process's unpickling of each batch a worker sends (small: tensors travel in shared
memory).  Writes bench/results/bench_train_loader.txt."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

from benchlib import ROOT, Report, verdict

sys.path.insert(0, os.path.join(ROOT, "tests"))
from emorec.augment import get_policy  # noqa: E402
from emorec.data.dataset import (ChunkBatchSampler, ChunkDataset, FeatureReader,  # noqa: E402
                                 collate_chunks, load_labels, read_num_frames)
from emorec.models import build_model, count_parameters  # noqa: E402
from emorec.models.resnet import before_compiled_step  # noqa: E402
from emorec.train import speech  # noqa: E402
from emorec.train.config import load_config  # noqa: E402
from emorec.train.infer import autocast_ctx  # noqa: E402
from synthetic_data import make_synthetic_datadir  # noqa: E402


GOAL_WAIT = 0.05
PREFETCH = 4
HEADROOM = 2  # --loader-rate: workers configured per worker needed


class TimedCollate:
    """collate_chunks that also returns the CPU seconds its loader worker spent since
    its previous batch (a forked worker's CPU clock starts at 0): the batch's cost."""

    def __init__(self, delay: float = 0.0):
        self.last, self.delay = 0.0, delay

    def __call__(self, items):
        x, y = collate_chunks(items)
        end = time.process_time() + self.delay
        while time.process_time() < end:  # --loader-delay: a slow loader, on purpose
            pass
        now = time.process_time()
        cpu, self.last = now - self.last, now
        return x, y, cpu


def bench(cfg, data, steps, device, num_workers, delay=0.0):
    from emorec.train.loop import _fast_path

    reader = FeatureReader(os.path.join(data, "feats.scp"))
    utt2lab, classes = load_labels(os.path.join(data, "utt2spk"))
    keys = sorted(utt2lab)
    nf = read_num_frames(data)
    pol = get_policy(cfg["augment"])
    sampler = ChunkBatchSampler([nf[k] for k in keys], cfg["data"]["batch_size"], cfg["data"]["chunk_sizes"],
                                seed=0, copies=cfg["augment"].get("copies", 0), augment=pol.active)
    ds = ChunkDataset(reader, keys, [utt2lab[k] for k in keys], pol)
    loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, num_workers=num_workers,
                                         collate_fn=TimedCollate(delay) if num_workers else collate_chunks,
                                         pin_memory=device.type == "cuda",
                                         prefetch_factor=PREFETCH if num_workers else None)
    depth = num_workers * PREFETCH
    steps = steps or 3 * depth + 1
    model = build_model(dict(num_classes=len(classes), in_dim=128, **cfg["model"])).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=cfg["optim"]["lr"], momentum=0.9)
    amp = cfg["train"]["amp"] if device.type == "cuda" else "none"
    scaler = torch.amp.GradScaler("cuda", enabled=amp == "fp16")
    compiled = _fast_path(model, speech.ResNetFamily, device, cfg["train"])
    net = torch.compile(model, dynamic=False) if compiled else model
    for T in cfg["data"]["chunk_sizes"] if compiled else ():  # compile every shape before timing
        before_compiled_step(net)
        with autocast_ctx(device, amp):
            net(torch.randn(cfg["data"]["batch_size"], T, 128, device=device)).sum().backward()
        opt.zero_grad(set_to_none=True)
    waits, computes = [], []
    chunks = frames = 0
    worker_cpu = 0.0
    main0 = time.process_time()
    it = iter(loader)
    t_start = time.perf_counter()
    for step in range(steps + 1):
        t0 = time.perf_counter()
        try:
            batch = next(it)
        except StopIteration:            # next epoch (worker start-up counts as waiting)
            sampler.set_epoch(sampler.epoch + 1)
            it = iter(loader)
            batch = next(it)
        x, y = batch[:2]
        worker_cpu += batch[2] if num_workers else 0.0
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        t1 = time.perf_counter()
        before_compiled_step(net)
        with autocast_ctx(device, amp):
            logits = net(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        if device.type == "cuda":
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        if step > 0:                     # the first step pays the workers' start-up
            waits.append(t1 - t0)
            computes.append(t2 - t1)
            chunks += x.shape[0]
            frames += x.shape[0] * x.shape[1]
    wall = time.perf_counter() - t_start
    main_cpu = time.process_time() - main0
    del it                               # shuts the workers down
    total = sum(waits) + sum(computes)
    steady = slice(min(depth, len(waits) - 1), None)
    return {"params": count_parameters(model), "steps": steps, "chunks/s": chunks / total,
            "frames/s": frames / total, "s/step": total / steps,
            "wait": sum(waits) / total,
            "steady wait": sum(waits[steady]) / (sum(waits[steady]) + sum(computes[steady])),
            "max wait s": max(waits), "worker CPU s/batch": worker_cpu / (steps + 1),
            "worker busy": worker_cpu / (wall * max(num_workers, 1)) if num_workers else 0.0,
            "main CPU s/step": main_cpu / (steps + 1), "depth": depth, "compiled": compiled}


def loader_rate(cfg, data, batches: int, cuda: bool) -> float:
    """Segments per CPU second of the family's own batches, read in this process (the work
    of one loader worker), over ``batches`` batches after one."""
    cfg = {**cfg, "data": {**cfg["data"], "num_workers": 0}}
    family = speech.ResNetFamily(cfg, data, os.path.join(data, "utt2spk"))
    assert family.train_batches(0, 0, 1).pin_memory == cuda

    def epochs():
        for epoch in range(batches + 1):
            yield from family.train_batches(epoch, 0, 1)
    it = epochs()
    next(it)                              # opens the ark files
    segments, t0 = 0, time.process_time()
    for _ in range(batches):
        x, _ = next(it)
        segments += x.shape[0]
    return segments / (time.process_time() - t0)


def loader_main(a, target: float):
    import math
    torch.set_num_threads(1)  # as in a DataLoader worker (else idle OpenMP threads spin on CPU time)
    rep = Report("bench_train_loader")
    cuda = torch.cuda.is_available()
    confs = {"train_paper": os.path.join(ROOT, "egs", "voxceleb", "conf", "train_paper.yaml"),
             "ser_paper": os.path.join(ROOT, "egs", "iemocap", "conf", "ser_paper.yaml")}
    rep.print(f"loader alone, this process = one worker, {a.loader_batches} batches per config, "
              f"{os.cpu_count()} CPUs, pinned memory: {'yes' if cuda else 'no (no CUDA here)'}; "
              f"synthetic 128-dim features, {a.loader_utts} utterances of 400-1200 frames in an ark")
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        make_synthetic_datadir(data, num_speakers=a.loader_utts // 20, utts_per_speaker=20, min_frames=400,
                               max_frames=1200, dim=128)
        for name, path in confs.items():
            cfg = load_config(speech.SCHEMA, path)
            rate = loader_rate(cfg, data, a.loader_batches, cuda)
            need = math.ceil(target / rate)
            d, aug = cfg["data"], cfg["augment"]
            rep.print(f"{name}: batch {d['batch_size']}, chunks {d['chunk_sizes']}, SpecAugment "
                      f"{aug['policy']} x {aug['copies']} copies: {rate:,.0f} segments per CPU second per worker "
                      f"-> {need} workers (a core each) for {target:,.0f} segments/s; config: {d['num_workers']}")
            verdict(rep, f"{name}: data.num_workers >= {HEADROOM}x the workers for {target:,.0f} segments/s "
                         f"on this machine's cores", f"{d['num_workers']} configured, {need} needed",
                    d["num_workers"] >= HEADROOM * need)
    rep.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--demo-steps", type=int, default=0, help="0: 3x the prefetch depth + 1")
    p.add_argument("--paper-steps", type=int, default=0, help="0: 3x the prefetch depth + 1")
    p.add_argument("--configs", default="demo,paper", help="which of egs/voxceleb/conf/train_*.yaml")
    p.add_argument("--num-workers", type=int, default=None, help="default: the config's")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("--device", default="auto")
    p.add_argument("--loader-delay", type=float, default=0.0,
                   help="CPU seconds added per batch in the workers (a slow loader, on purpose)")
    p.add_argument("--chunk-sizes", help="overrides data.chunk_sizes, e.g. 200")
    p.add_argument("--utts", type=int, default=512, help="synthetic utterances (a multiple of 16)")
    p.add_argument("--loader-rate", action="store_true",
                   help="the loader alone: segments per CPU second per worker, workers for --target")
    p.add_argument("--target", type=float, default=6000, help="segments/s the loader must feed")
    p.add_argument("--loader-batches", type=int, default=100)
    p.add_argument("--loader-utts", type=int, default=400, help="synthetic utterances (multiple of 20)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.loader_rate:
        return loader_main(a, a.target)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device)
    conf = os.path.join(ROOT, "egs", "voxceleb", "conf")
    rep = Report("bench_train_loader_delay" if a.loader_delay else "bench_train")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        make_synthetic_datadir(data, num_speakers=a.utts // 16, utts_per_speaker=16, min_frames=200,
                               max_frames=800, dim=128)
        steps_of = {"demo": a.demo_steps, "paper": a.paper_steps}
        for name in a.configs.split(","):
            steps = steps_of[name]
            cfg = load_config(speech.SCHEMA, os.path.join(conf, f"train_{name}.yaml"),
                              [f"data.chunk_sizes=[{a.chunk_sizes}]"] if a.chunk_sizes else ())
            nw = cfg["data"]["num_workers"] if a.num_workers is None else a.num_workers
            nw = min(nw, os.cpu_count() or 1)
            print(f"running {name} ({nw} workers, {device})...", file=sys.stderr)
            r = bench(cfg, data, steps, device, nw, a.loader_delay)
            r["workers"] = nw
            rows.append((name, r))
    rep.print(f"device {device}, torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}; "
              f"synthetic features, egs/voxceleb/conf/train_{{demo,paper}}.yaml"
              + (f"; loader slowed on purpose by {a.loader_delay:g} CPU s per batch" if a.loader_delay else ""))
    keys = ["compiled", "workers", "depth", "steps", "s/step", "chunks/s", "wait", "steady wait", "max wait s",
            "worker CPU s/batch", "worker busy", "main CPU s/step"]
    for name, r in rows:
        rep.print(f"{name}: " + ", ".join(
            f"{k} {100 * r[k]:.1f}%" if k in ("wait", "steady wait", "worker busy") else
            f"{k} {r[k]}" if isinstance(r[k], int) else f"{k} {r[k]:.3g}" for k in keys))
    for name, r in rows:
        verdict(rep, f"{name}: data waiting <= {100 * GOAL_WAIT:g}% of the step time after the "
                     f"{r['depth']} prefetched batches", f"{100 * r['steady wait']:.1f}%",
                r["steady wait"] <= GOAL_WAIT)
    if len(rows) == 2:
        d, pp = rows[0][1], rows[1][1]
        rep.print(f"paper/demo: {pp['s/step'] / d['s/step']:.1f}x time per step, "
                  f"{d['chunks/s'] / pp['chunks/s']:.1f}x fewer chunks/s")
    rep.close()


if __name__ == "__main__":
    main()
