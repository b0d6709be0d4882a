"""Training throughput of the SSL speech classifier (emorec.train.ssl): seconds of audio per
second of training step, the share of step time spent waiting for data, and the speed-up
of bf16 autocast, at the batch the config ships, on this machine.

  python bench/bench_ssl.py [--config egs/iemocap/conf/ssl_demo.yaml] [--encoder DIR] \
      [--mode head|partial|entire] [--steps 10] [--reps 3] [--threads T] [--out FILE]

In head mode the training loop runs the frozen encoder once and reuses its outputs
(emorec.train.ssl); the bench times the step on waveforms, i.e. that one pass.
The encoder is --encoder (a local HuBERT/wav2vec2/WavLM directory or cached name), else
a random-weight HuBERT of the demo's shape (egs/voxceleb/conf/hubert_demo.yaml). Synthetic
16 kHz wav files (2-5 s) in a temp dir, read through the real waveform batches of the
family (emorec.data.waveform); AdamW steps through the family's forward. fp32 and bf16
autocast runs are interleaved, --reps times each; medians are reported. CPU always; CUDA
too when a GPU is visible (bf16 there is the loop's train.amp; on CPU the loop trains in
fp32, so a CPU bf16 speed-up is a recommendation, not the shipped path).

Goals (PASS/FAIL): data wait under 10% of step time at the config's num_workers.
Results are appended as one JSON line a device to --out (default bench/bench_ssl.jsonl).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from emorec.data.waveform import SAMPLE_RATE, load_wave_set  # noqa: E402
from emorec.train import ssl as ssl_family  # noqa: E402
from emorec.train import ssl_pretrain  # noqa: E402
from emorec.train.config import load_config  # noqa: E402
from ssl_data import CLASSES, make_wave_fold  # noqa: E402

DATA_WAIT_GOAL = 0.10


def run(family, model, device, steps, bf16):
    """-> {"audio_s_per_s", "audio_s_per_cpu_s", "data_wait"} over ``steps`` steps after one
    warm-up step (CPU seconds: this process's, a figure that others' load on the machine
    disturbs less than the wall clock)."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.train()
    wait = compute = audio = cpu = 0.0
    epoch, done = 0, -1
    ctx = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else \
        (lambda: torch.autocast(device.type, enabled=False))
    while done < steps:
        t0, c0 = time.perf_counter(), time.process_time()
        for inputs, y in family.train_batches(epoch, 0, 1):
            t1 = time.perf_counter()
            with ctx():
                logits = family.forward(model, inputs, device)
            loss = F.cross_entropy(logits.float(), y.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            t2, c2 = time.perf_counter(), time.process_time()
            done += 1
            if done > 0:
                wait += t1 - t0
                compute += t2 - t1
                cpu += c2 - c0
                audio += float(inputs["lengths"].sum()) / SAMPLE_RATE
            if done >= steps:
                break
            t0, c0 = time.perf_counter(), time.process_time()
        epoch += 1
    return {"audio_s_per_s": audio / (wait + compute), "audio_s_per_cpu_s": audio / cpu,
            "data_wait": wait / (wait + compute)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=os.path.join(ROOT, "egs/iemocap/conf/ssl_demo.yaml"))
    p.add_argument("--encoder", help="default: a random HuBERT of the demo's shape")
    p.add_argument("--mode", help="overrides model.mode")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "bench_ssl.jsonl"))
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    cfg = load_config(ssl_family.SCHEMA, a.config)
    if a.mode:
        cfg["model"]["mode"] = a.mode
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    if len(devices) == 1:
        print("no GPU visible: CPU only", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        make_wave_fold(tmp, n_train=12, n_dev=1, n_test=1, min_s=2.0, max_s=5.0)
        if a.encoder:
            cfg["model"]["encoder"] = a.encoder
        else:
            import yaml
            from transformers import Wav2Vec2FeatureExtractor

            with open(os.path.join(ROOT, "egs/voxceleb/conf/hubert_demo.yaml")) as f:
                mcfg = {**load_config(ssl_pretrain.SCHEMA)["model"], **yaml.safe_load(f)["model"]}
            enc_dir = os.path.join(tmp, "hubert")
            ssl_pretrain.HubertPretrainModel(ssl_pretrain.hubert_config(mcfg), 2).hubert.save_pretrained(enc_dir)
            Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True).save_pretrained(enc_dir)
            cfg["model"]["encoder"] = enc_dir
        sets = {s: load_wave_set(os.path.join(tmp, s)) for s in ("train", "dev")}
        family = ssl_family.SSLFamily(cfg, sets["train"], sets["dev"], list(CLASSES))
        family.frozen_cache = False  # time the step on waveforms (in head mode training does it once)
        model, _ = family.build_model(None)
        for device in devices:
            model.to(device)
            runs = {False: [], True: []}
            for _ in range(a.reps):
                for bf16 in (False, True):  # interleaved
                    runs[bf16].append(run(family, model, device, a.steps, bf16))
            med = {k: {m: statistics.median(r[m] for r in v) for m in ("audio_s_per_s", "audio_s_per_cpu_s", "data_wait")}
                   for k, v in runs.items()}
            row = {"date": time.strftime("%Y-%m-%d %H:%M"), "device": str(device),
                   "device_name": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
                   "threads": torch.get_num_threads(), "cpus": os.cpu_count(), "config": a.config,
                   "encoder": a.encoder or "random demo-shaped HuBERT", "mode": cfg["model"]["mode"],
                   "batch": {k: cfg["data"][k] for k in ("batch_size", "max_batch_seconds", "max_seconds",
                                                          "num_workers")},
                   "steps": a.steps, "reps": a.reps,
                   "fp32_audio_s_per_s": med[False]["audio_s_per_s"], "bf16_audio_s_per_s": med[True]["audio_s_per_s"],
                   "fp32_audio_s_per_cpu_s": med[False]["audio_s_per_cpu_s"],
                   "bf16_audio_s_per_cpu_s": med[True]["audio_s_per_cpu_s"],
                   "bf16_speedup": med[True]["audio_s_per_s"] / med[False]["audio_s_per_s"],
                   "data_wait_fp32": med[False]["data_wait"]}
            ok = row["data_wait_fp32"] < DATA_WAIT_GOAL
            print(f"{device} ({row['device_name']}, {row['threads']} threads), {row['mode']} mode, batch "
                  f"{row['batch']}: fp32 {row['fp32_audio_s_per_s']:.1f} s audio/s, bf16 "
                  f"{row['bf16_audio_s_per_s']:.1f} s audio/s (x{row['bf16_speedup']:.2f}: "
                  f"{'helps' if row['bf16_speedup'] > 1.05 else 'does not help'}); per CPU second: fp32 "
                  f"{row['fp32_audio_s_per_cpu_s']:.1f}, bf16 {row['bf16_audio_s_per_cpu_s']:.1f}"
                  f" s audio; data wait "
                  f"{100 * row['data_wait_fp32']:.1f}% (goal < {100 * DATA_WAIT_GOAL:.0f}%: {'PASS' if ok else 'FAIL'})")
            with open(a.out, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
    print(f"appended to {a.out}")


if __name__ == "__main__":
    main()
