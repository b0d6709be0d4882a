"""Speaker ResNet34 training step and memory against a WeSpeaker-style ResNet34, side by side.

Usage: python bench/bench_resnet.py [--repeats 5] [--steps 1] [--batch 32] [--frames 200]
                                    [--threads 1] [--models emorec,wespeaker]

Paper shape (egs/voxceleb/conf/train_paper.yaml): ResNet34 [3, 4, 6, 3], 32 channels,
128 mels, statistics pooling, 512-d embedding, batch 32 x 200 frames, SGD (momentum
0.9, weight decay 1e-4), cross-entropy over 1211 speakers.  The comparison model is
WeSpeaker's ResNet34 as its paper and documentation describe it (ReLU BasicBlocks,
32 base channels, temporal statistics pooling (TSTP), one affine embedding layer),
written here at the same shape: same depth, widths, input, pooling dimension,
embedding size and a plain linear classifier -- no code copied.  ``emorec-nn-prelu``
(in --models) is emorec's model with torch's ``nn.PReLU`` in place of its output-saving
PReLU: the same numbers, the cost before that change.

Each round runs every model in a fresh process (one warm-up step, then --steps timed
steps), in rotating order, --repeats rounds: median and min of the step's CPU time
(one torch thread by default: CPU time is what a shared machine disturbs least; the
wall time is printed too), and the
peak resident memory of the process (ru_maxrss; it includes torch's own ~0.3 GiB, the
same for both, so the memory ratio slightly understates the activation ratio; the
growth over the RSS before the first step is printed too).
Goals (issue 13): step time <= 1.0x WeSpeaker's, peak memory <= 1.1x.
Embedding extraction across batch sizes: bench/bench_extract.py.
With CUDA: paper-shape training throughput (2-s crops per second, bf16 autocast).
Writes bench/results/bench_resnet.txt too.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

GOAL_TIME, GOAL_MEM = 1.0, 1.1
SPEAKERS = 1211
MODELS = ("emorec", "wespeaker", "emorec-nn-prelu")


def wespeaker_resnet34(num_classes, in_dim=128, channels=32, emb_dim=512):
    """ResNet34 as WeSpeaker describes it: 3x3 stem, ReLU BasicBlocks [3, 4, 6, 3] with
    strides 1, 2, 2, 2 and widths 32..256, TSTP (mean ++ unbiased std over time of the
    flattened channel x frequency map), one linear embedding layer."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                              nn.BatchNorm2d(cout))

        def forward(self, x):
            out = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, channels, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(channels)
            layers, cin = [], channels
            for i, n in enumerate((3, 4, 6, 3)):
                cout = channels * 2 ** i
                for j in range(n):
                    layers.append(Block(cin, cout, (1 if i == 0 else 2) if j == 0 else 1))
                    cin = cout
            self.layers = nn.Sequential(*layers)
            stats_dim = cin * ((in_dim + 7) // 8)
            self.seg_1 = nn.Linear(2 * stats_dim, emb_dim)
            self.classifier = nn.Linear(emb_dim, num_classes)

        def forward(self, x):                    # (B, T, F)
            x = x.permute(0, 2, 1).unsqueeze(1)  # (B, 1, F, T)
            x = self.layers(torch.relu(self.bn1(self.conv1(x))))
            x = x.flatten(1, 2)                  # (B, C * F', T')
            stats = torch.cat([x.mean(-1), torch.sqrt(x.var(-1) + 1e-7)], dim=1)
            return self.classifier(self.seg_1(stats))

    return Model()


def build(name, in_dim):
    if name == "wespeaker":
        return wespeaker_resnet34(SPEAKERS, in_dim)
    from emorec.models import build_model
    from emorec.train import speech
    from emorec.train.config import load_config
    from emorec.models.resnet import PReLU
    from torch import nn
    cfg = load_config(speech.SCHEMA, os.path.join(ROOT, "egs", "voxceleb", "conf", "train_paper.yaml"))
    model = build_model(dict(num_classes=SPEAKERS, in_dim=in_dim, **cfg["model"]))
    if name == "emorec-nn-prelu":
        for m in model.modules():
            if isinstance(m, PReLU):
                m.__class__ = nn.PReLU
    return model


def rss_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


def child(a):
    """One model, one process: warm-up + timed training steps -> JSON on stdout."""
    import torch
    import torch.nn.functional as F

    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = build(a.child, 128).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(a.batch, a.frames, 128)
    y = torch.randint(0, SPEAKERS, (a.batch,))
    before = rss_gib()
    times, walls = [], []
    for step in range(a.steps + 1):
        t0, w0 = time.process_time(), time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step:
            times.append(time.process_time() - t0)
            walls.append(time.perf_counter() - w0)
    print(json.dumps({"times": times, "walls": walls, "rss_before": before}))


def run_child(name, a):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", name, "--steps", str(a.steps),
           "--batch", str(a.batch), "--frames", str(a.frames), "--threads", str(a.threads)]

    def run():
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, status, ru = os.wait4(p.pid, 0)
        out, err = p.stdout.read().decode(), p.stderr.read().decode()
        if os.waitstatus_to_exitcode(status):
            raise RuntimeError(f"{name} failed: {err}")
        r = json.loads(out.strip().splitlines()[-1])
        r["peak"] = ru.ru_maxrss / 2 ** 20
        return r
    return run


def cuda_throughput(rep, a, models):
    import torch
    import torch.nn.functional as F

    if not torch.cuda.is_available():
        rep.print("\nCUDA: no GPU available on this machine; paper-shape GPU throughput "
                  "(2-s crops/s, bf16 autocast) not measured")
        return
    dev = torch.device("cuda")
    rep.print(f"\nCUDA ({torch.cuda.get_device_name(dev)}), bf16 autocast, batch {a.batch} "
              f"x 200 frames (2-s crops), SGD; crops per second, median of {a.repeats} x 20 steps")
    for name in models:
        torch.manual_seed(0)
        model = build(name, 128).to(dev).train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
        x = torch.randn(a.batch, 200, 128, device=dev)
        y = torch.randint(0, SPEAKERS, (a.batch,), device=dev)
        torch.cuda.reset_peak_memory_stats(dev)
        rates = []
        for r in range(a.repeats + 1):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(20):
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    loss = F.cross_entropy(model(x).float(), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            torch.cuda.synchronize()
            if r:
                rates.append(20 * a.batch / (time.perf_counter() - t0))
        rep.print(f"  {name:10s} {statistics.median(rates):8.0f} crops/s (min {min(rates):.0f}), "
                  f"peak {torch.cuda.max_memory_allocated(dev) / 2 ** 30:.2f} GiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=1, help="timed steps per process (after 1 warm-up)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    ap.add_argument("--models", default="emorec,wespeaker",
                    help=f"comma-separated, from {','.join(MODELS)}; emorec and wespeaker always run")
    ap.add_argument("--child", choices=MODELS, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a)
    models = ["emorec", "wespeaker"] + [m for m in a.models.split(",") if m not in ("emorec", "wespeaker")]
    if set(models) - set(MODELS):
        ap.error(f"--models: unknown {sorted(set(models) - set(MODELS))}")

    from benchlib import Report, interleaved, stats, verdict
    rep = Report("bench_resnet")
    rep.print(f"ResNet34, 32 channels, 128 mels, 512-d, batch {a.batch} x {a.frames} frames, SGD, "
              f"{SPEAKERS} classes, CPU, torch threads {a.threads or 'default'}; "
              f"{a.repeats} interleaved rounds x {a.steps} steps")
    runs = interleaved({n: run_child(n, a) for n in models}, a.repeats, warmup=False)
    step = {n: [statistics.median(r["times"]) for r in runs[n]] for n in models}
    wall = {n: [statistics.median(r["walls"]) for r in runs[n]] for n in models}
    peak = {n: [r["peak"] for r in runs[n]] for n in models}
    growth = {n: [r["peak"] - r["rss_before"] for r in runs[n]] for n in models}
    for n in models:
        rep.print(f"  {n:15s} step CPU s {stats(step[n])};  wall s {stats(wall[n])}")
        rep.print(f"  {'':15s} peak RSS GiB {stats(peak[n])};  growth in the steps GiB "
                  f"{stats(growth[n])}")

    def ratios(n, ref):
        med = statistics.median
        t, m = med(step[n]) / med(step[ref]), med(peak[n]) / med(peak[ref])
        rep.print(f"  {n} / {ref}: step CPU time {t:.2f}x (min/min {min(step[n]) / min(step[ref]):.2f}x), "
                  f"peak RSS {m:.2f}x, growth {med(growth[n]) / med(growth[ref]):.2f}x")
        return t, m
    for n in models[2:]:
        ratios("emorec", n)
    t_ratio, m_ratio = ratios("emorec", "wespeaker")
    verdict(rep, f"training step time <= {GOAL_TIME:g}x WeSpeaker's ResNet34 (PReLU kept)",
            f"{t_ratio:.2f}x", t_ratio <= GOAL_TIME)
    verdict(rep, f"peak memory <= {GOAL_MEM:g}x WeSpeaker's", f"{m_ratio:.2f}x", m_ratio <= GOAL_MEM)
    cuda_throughput(rep, a, models)
    rep.close()


if __name__ == "__main__":
    main()
