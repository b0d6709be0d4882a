"""Speaker ResNet34 training step and memory against a WeSpeaker-style ResNet34, side by side.

Usage: python bench/bench_resnet.py [--sections cpu,cuda] [--repeats 5] [--steps 1] [--batch 32]
                                    [--frames 200] [--threads 1] [--models emorec,wespeaker]
                                    [--cpu-settings eager] [--cuda-settings eager,compiled]
                                    [--cuda-batches 128]

Paper shape (egs/voxceleb/conf/train_paper.yaml): ResNet34 [3, 4, 6, 3], 32 channels,
128 mels, statistics pooling, 512-d embedding, batch 32 x 200 frames, SGD (momentum
0.9, weight decay 1e-4), cross-entropy over 1211 speakers.  The comparison model is
WeSpeaker's ResNet34 as its paper and documentation describe it (ReLU BasicBlocks,
32 base channels, temporal statistics pooling (TSTP), one affine embedding layer),
written here at the same shape: same depth, widths, input, pooling dimension,
embedding size and a plain linear classifier -- no code copied.  ``emorec-nn-prelu``
(in --models) is emorec's model with torch's ``nn.PReLU`` in place of its output-saving
PReLU: the same numbers, the cost before that change.

Settings: eager; compiled (``torch.compile(dynamic=False)``, as the loop's ``train.compile``);
on CUDA eager-cl (channels-last + cuDNN autotuning) and compiled = the loop's whole CUDA
path (channels-last + cuDNN autotuning + compile).  Both models always run under the
same setting.

CPU section: each round runs every model in a fresh process (one warm-up step -- the
compilation, when compiled -- then --steps timed steps), in rotating order, --repeats
rounds: median and min of the step's CPU time (one torch thread by default: CPU time is
what a shared machine disturbs least; the wall time is printed too), and the peak
resident memory of the process (ru_maxrss; it includes torch's own ~0.3 GiB, the same
for both, so the memory ratio slightly understates the activation ratio; the growth
over the RSS before the first step is printed too; compiled, it includes the compiler).
Goals (issue 13, eager CPU): step time <= 1.0x WeSpeaker's, peak memory <= 1.1x.

CUDA section (paper shape, 200-frame = 2-s crops, bf16 autocast, --cuda-batches): crops
per second (median of --repeats interleaved rounds of 20 steps after 3 warm-up steps),
the step's peak GPU memory above the resting state (parameters, momentum), the fraction
of the GPU's dense bf16 peak (datasheet table by device name, and a bf16 8192^3 matrix
product timed in the same run).  Goals (issue 21, compiled, batch 128): >= 1.0x the peer's
crops/s, >= 6,000 crops/s, peak memory <= 1.1x the peer's.
GFLOP per crop: one training step (forward + backward) counted by
torch.utils.flop_counter.FlopCounterMode (convolutions and matrix products).
Embedding extraction across batch sizes: bench/bench_extract.py.
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
from benchlib import Report, interleaved, stats, verdict  # noqa: E402

GOAL_TIME, GOAL_MEM = 1.0, 1.1
GOAL_GPU_RATIO, GOAL_GPU_RATE, GOAL_GPU_BATCH = 1.0, 6000, 128
SPEAKERS = 1211
MODELS = ("emorec", "wespeaker", "emorec-nn-prelu")
CPU_SETTINGS = ("eager", "compiled")
CUDA_SETTINGS = ("eager", "eager-cl", "compiled")
#: dense bf16 tensor-core peak, TFLOP/s, from the vendors' datasheets (the sparse figures
#: halved), by a substring of torch.cuda.get_device_name(); first match wins
BF16_PEAK = (("H200", 989), ("H100 PCIe", 756), ("H100", 989), ("GH200", 989), ("A100", 312),
             ("L40S", 362), ("L40", 181), ("A10G", 70), ("A10", 125), ("L4", 121))


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
    from emorec.models.resnet import before_compiled_step

    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = build(a.child, 128).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    net = torch.compile(model, dynamic=False) if a.setting == "compiled" else model
    x = torch.randn(a.batch, a.frames, 128)
    y = torch.randint(0, SPEAKERS, (a.batch,))
    before = rss_gib()
    times, walls = [], []
    for step in range(a.steps + 1):
        t0, w0 = time.process_time(), time.perf_counter()
        before_compiled_step(net)
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step:
            times.append(time.process_time() - t0)
            walls.append(time.perf_counter() - w0)
    print(json.dumps({"times": times, "walls": walls, "rss_before": before}))


def run_child(name, setting, a):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", name, "--setting", setting,
           "--steps", str(a.steps), "--batch", str(a.batch), "--frames", str(a.frames),
           "--threads", str(a.threads)]

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


def train_gflop(name, frames) -> float:
    """GFLOP of one training step (forward + backward) per crop, by FlopCounterMode, on the
    meta device (shapes only, no arithmetic; eval mode skips the PReLU's slope check, which
    reads values, and changes no convolution or product)."""
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = build(name, 128).eval()
        x = torch.randn(1, frames, 128)
        with FlopCounterMode(display=False) as counter:
            F.cross_entropy(model(x), torch.zeros(1, dtype=torch.long)).backward()
    return counter.get_total_flops() / 1e9


def bf16_peak(rep, dev) -> float:
    """The dense bf16 peak (TFLOP/s) of the datasheet table, else of a timed matrix product."""
    import torch

    name = torch.cuda.get_device_name(dev)
    table = next((tf for key, tf in BF16_PEAK if key in name), None)
    n = 8192
    a = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    for _ in range(3):
        a @ a
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(10):
        a @ a
    end.record()
    torch.cuda.synchronize()
    measured = 10 * 2 * n ** 3 / (start.elapsed_time(end) / 1e3) / 1e12
    rep.print(f"  {name}: dense bf16 peak {table or 'unknown'} TFLOP/s by the vendor's datasheet "
              f"(BF16_PEAK in this script); a bf16 {n}^3 matrix product ran at {measured:.0f} TFLOP/s here")
    return table or measured


def cuda_throughput(rep, a, models, gflop):
    import torch
    import torch.nn.functional as F
    from emorec.models.resnet import before_compiled_step
    from emorec.train.loop import cuda_fast_path

    dev = torch.device("cuda")
    rep.print(f"\nCUDA, bf16 autocast, 200-frame (2-s) crops, SGD; crops per second: median (min) of "
              f"{a.repeats} interleaved rounds x 20 steps after 3 warm-up steps; peak: the step's GPU memory "
              f"above the resting state")
    peak = bf16_peak(rep, dev)
    goals = {}
    for setting in a.cuda_settings:
        torch.backends.cudnn.benchmark = setting != "eager"
        for batch in a.cuda_batches:
            runs = {}
            for name in models:
                torch.manual_seed(0)
                model = build(name, 128).to(dev).train()
                if setting != "eager":
                    cuda_fast_path(model)
                opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
                net = torch.compile(model, dynamic=False) if setting == "compiled" else model
                x = torch.randn(batch, 200, 128, device=dev)
                y = torch.randint(0, SPEAKERS, (batch,), device=dev)

                def steps(n, net=net, opt=opt, x=x, y=y):
                    for _ in range(n):
                        before_compiled_step(net)
                        with torch.autocast("cuda", dtype=torch.bfloat16):
                            loss = F.cross_entropy(net(x).float(), y)
                        opt.zero_grad(set_to_none=True)
                        loss.backward()
                        opt.step()
                    opt.zero_grad(set_to_none=True)  # the resting state holds no gradients
                    torch.cuda.synchronize()
                steps(3)
                runs[name] = {"steps": steps, "rates": [], "mem": 0.0}
            for r in range(a.repeats):
                for name in models[r % len(models):] + models[:r % len(models)]:
                    rest = torch.cuda.memory_allocated(dev)
                    torch.cuda.reset_peak_memory_stats(dev)
                    t0 = time.perf_counter()
                    runs[name]["steps"](20)
                    runs[name]["rates"].append(20 * batch / (time.perf_counter() - t0))
                    runs[name]["mem"] = max(runs[name]["mem"],
                                            (torch.cuda.max_memory_allocated(dev) - rest) / 2 ** 30)
            rate = {n: statistics.median(runs[n]["rates"]) for n in models}
            rep.print(f"  {setting}, batch {batch}:")
            for n in models:
                rep.print(f"    {n:15s} {rate[n]:8.0f} crops/s (min {min(runs[n]['rates']):.0f}), "
                          f"{rate[n] * gflop[n] / 1e3 / peak:5.1%} of the bf16 peak, peak {runs[n]['mem']:.2f} GiB")
            ratio, mem = rate["emorec"] / rate["wespeaker"], runs["emorec"]["mem"] / runs["wespeaker"]["mem"]
            rep.print(f"    emorec / wespeaker: {ratio:.2f}x crops/s, {mem:.2f}x peak memory")
            goals[setting, batch] = (ratio, rate["emorec"], mem)
            del runs
            torch.cuda.empty_cache()
    key = ("compiled", GOAL_GPU_BATCH)
    if key not in goals:
        rep.print(f"(the CUDA goals are at setting compiled, batch {GOAL_GPU_BATCH}: not run)")
        return
    ratio, rate, mem = goals[key]
    where = f"compiled, batch {GOAL_GPU_BATCH}, bf16"
    verdict(rep, f"CUDA crops/s >= {GOAL_GPU_RATIO:g}x the peer's ({where})", f"{ratio:.2f}x",
            ratio >= GOAL_GPU_RATIO)
    verdict(rep, f"CUDA >= {GOAL_GPU_RATE:,} crops/s ({where})", f"{rate:,.0f}", rate >= GOAL_GPU_RATE)
    verdict(rep, f"CUDA peak memory <= {GOAL_MEM:g}x the peer's ({where})", f"{mem:.2f}x", mem <= GOAL_MEM)


def cpu_section(rep, a, models, gflop):
    rep.print(f"ResNet34, 32 channels, 128 mels, 512-d, batch {a.batch} x {a.frames} frames, SGD, "
              f"{SPEAKERS} classes, CPU, torch threads {a.threads or 'default'}; "
              f"{a.repeats} interleaved rounds x {a.steps} steps")
    for setting in a.cpu_settings:
        variants = {n: run_child(n, setting, a) for n in models}
        runs = interleaved(variants, a.repeats, warmup=False)
        step = {n: [statistics.median(r["times"]) for r in runs[n]] for n in models}
        wall = {n: [statistics.median(r["walls"]) for r in runs[n]] for n in models}
        peak = {n: [r["peak"] for r in runs[n]] for n in models}
        growth = {n: [r["peak"] - r["rss_before"] for r in runs[n]] for n in models}
        rep.print(f" {setting}:")
        for n in models:
            rep.print(f"  {n:15s} step CPU s {stats(step[n])};  wall s {stats(wall[n])}; "
                      f"{gflop[n] * a.batch * a.frames / 200 / statistics.median(step[n]):.0f} GFLOP per CPU s")
            rep.print(f"  {'':15s} peak RSS GiB {stats(peak[n])};  growth in the steps GiB "
                      f"{stats(growth[n])}")

        def ratios(n, ref):
            med = statistics.median
            t, m = med(step[n]) / med(step[ref]), med(peak[n]) / med(peak[ref])
            g = med(growth[n]) / med(growth[ref]) if med(growth[ref]) > 0 else float("nan")
            rep.print(f"  {n} / {ref}: step CPU time {t:.2f}x (min/min {min(step[n]) / min(step[ref]):.2f}x), "
                      f"peak RSS {m:.2f}x, growth {g:.2f}x")
            return t, m
        for n in models[2:]:
            ratios("emorec", n)
        t_ratio, m_ratio = ratios("emorec", "wespeaker")
        if setting == "eager":
            verdict(rep, f"training step time <= {GOAL_TIME:g}x WeSpeaker's ResNet34 (PReLU kept)",
                    f"{t_ratio:.2f}x", t_ratio <= GOAL_TIME)
            verdict(rep, f"peak memory <= {GOAL_MEM:g}x WeSpeaker's", f"{m_ratio:.2f}x", m_ratio <= GOAL_MEM)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sections", default="cpu,cuda", help="cpu and/or cuda (cuda: when a GPU is visible)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=1, help="CPU: timed steps per process (after 1 warm-up)")
    ap.add_argument("--batch", type=int, default=32, help="CPU batch")
    ap.add_argument("--frames", type=int, default=200, help="CPU crop frames")
    ap.add_argument("--threads", type=int, default=1, help="CPU torch threads (0: torch's default)")
    ap.add_argument("--models", default="emorec,wespeaker",
                    help=f"comma-separated, from {','.join(MODELS)}; emorec and wespeaker always run")
    ap.add_argument("--cpu-settings", default="eager", help=f"from {','.join(CPU_SETTINGS)}")
    ap.add_argument("--cuda-settings", default="eager,compiled", help=f"from {','.join(CUDA_SETTINGS)}")
    ap.add_argument("--cuda-batches", default=str(GOAL_GPU_BATCH), help="comma-separated CUDA batch sizes")
    ap.add_argument("--child", choices=MODELS, help=argparse.SUPPRESS)
    ap.add_argument("--setting", choices=CPU_SETTINGS, default="eager", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a)
    models = ["emorec", "wespeaker"] + [m for m in a.models.split(",") if m not in ("emorec", "wespeaker")]
    a.cpu_settings, a.cuda_settings = a.cpu_settings.split(","), a.cuda_settings.split(",")
    a.cuda_batches = [int(b) for b in a.cuda_batches.split(",")]
    sections = a.sections.split(",")
    for what, got, known in (("--models", models, MODELS), ("--cpu-settings", a.cpu_settings, CPU_SETTINGS),
                             ("--cuda-settings", a.cuda_settings, CUDA_SETTINGS),
                             ("--sections", sections, ("cpu", "cuda"))):
        if set(got) - set(known):
            ap.error(f"{what}: unknown {sorted(set(got) - set(known))}")

    import torch
    rep = Report("bench_resnet")
    cuda = "cuda" in sections and torch.cuda.is_available()
    gflop = {n: train_gflop(n, 200) for n in models}
    rep.print("GFLOP per 200-frame crop, one training step (forward + backward, FlopCounterMode): "
              + ", ".join(f"{n} {g:.1f}" for n, g in gflop.items()))
    if "cpu" in sections:
        cpu_section(rep, a, models, gflop)
    if cuda:
        cuda_throughput(rep, a, models, gflop)
    elif "cuda" in sections:
        rep.print("\nCUDA: SKIPPED, no GPU visible; paper-shape GPU throughput (2-s crops/s, bf16 "
                  "autocast, eager and compiled) not measured")
    rep.close()

if __name__ == "__main__":
    main()
