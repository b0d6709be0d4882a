"""Training throughput of the SSL speech classifier and the joint SSL + BERT model
(emorec.train.ssl): seconds of audio per second of training step, the share of step time
spent waiting for data, and the speed-up of bf16 autocast, at the batch the config ships,
on this machine.

  python bench/bench_ssl.py [--config egs/iemocap/conf/ssl_demo.yaml] [--encoder DIR] \
      [--joint-config egs/iemocap/conf/joint_demo.yaml] [--encoder-shape demo|base] \
      [--families ssl,joint] [--mode head,partial,entire] \
      [--pooling mean,weighted] [--devices cpu,cuda] [--steps 10] [--reps 3] [--threads T] [--out FILE]

In head mode the training loop runs the frozen encoder once and reuses its outputs
(emorec.train.ssl); the bench times the step on waveforms, i.e. that one pass.
The encoder is --encoder (a local HuBERT/wav2vec2/WavLM directory or cached name), else
a random-weight HuBERT of --encoder-shape: demo (egs/voxceleb/conf/hubert_demo.yaml) or
base (transformers' HubertConfig() defaults: hubert-base-ls960's shape, LayerDrop 0.1);
the joint family's BERT is random too, of the matching shape (base: bert-base's).
Synthetic 16 kHz wav files (2-5 s) in a temp dir, read through the real waveform batches
of the family (emorec.data.waveform); AdamW steps through the family's forward. Every
combination of --families, --mode and --pooling runs (a failing one is reported and the
others go on); fp32 and bf16 autocast runs are interleaved, --reps times each; medians
are reported. --devices: cpu, and cuda when a GPU is visible (bf16 there is the loop's
train.amp; on CPU the loop trains in fp32, so a CPU bf16 speed-up is a recommendation,
not the shipped path).

Goals (PASS/FAIL): every combination trains; data wait under 10% of step time at the
config's num_workers; on CUDA, bf16 faster than fp32 (issue 21).
Results are appended as one JSON line per combination and device to --out (default
bench/bench_ssl.jsonl); the report goes to bench/results/bench_ssl.txt.
"""
from __future__ import annotations

import argparse
import copy
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
sys.path.insert(0, os.path.join(ROOT, "bench"))

from benchlib import Report, verdict  # noqa: E402
from emorec.data.text import load_text_set  # noqa: E402
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


def random_encoders(tmp, shape: str) -> tuple:
    """(HuBERT dir, BERT dir) of random weights of the demo's or the base models' shape."""
    import yaml
    from transformers import HubertConfig, Wav2Vec2FeatureExtractor
    from emorec.train.text_encoder import build_text_encoder

    if shape == "base":
        hcfg = HubertConfig()
        bert = dict(hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072, max_position=512)
    else:
        with open(os.path.join(ROOT, "egs/voxceleb/conf/hubert_demo.yaml")) as f:
            mcfg = {**load_config(ssl_pretrain.SCHEMA)["model"], **yaml.safe_load(f)["model"]}
        hcfg = ssl_pretrain.hubert_config(mcfg)
        bert = dict(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, max_position=128)
    enc_dir, bert_dir = os.path.join(tmp, "hubert"), os.path.join(tmp, "bert")
    ssl_pretrain.HubertPretrainModel(hcfg, 2).hubert.save_pretrained(enc_dir)
    Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True).save_pretrained(enc_dir)
    texts = load_text_set(os.path.join(tmp, "train")).texts
    build_text_encoder(texts, bert_dir, vocab_size=100, mlm_epochs=0, log=lambda *a: None, **bert)
    return enc_dir, bert_dir


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=os.path.join(ROOT, "egs/iemocap/conf/ssl_demo.yaml"))
    p.add_argument("--joint-config", default=os.path.join(ROOT, "egs/iemocap/conf/joint_demo.yaml"))
    p.add_argument("--encoder", help="default: a random HuBERT of --encoder-shape")
    p.add_argument("--text-encoder", help="joint: a local BERT dir (default: a random one of --encoder-shape)")
    p.add_argument("--encoder-shape", choices=("demo", "base"), default="demo")
    p.add_argument("--families", default="ssl", help="ssl and/or joint (comma-separated)")
    p.add_argument("--mode", help="model.mode(s), comma-separated (default: the config's)")
    p.add_argument("--pooling", help="model.pooling(s), comma-separated (default: the config's)")
    p.add_argument("--devices", default="cpu,cuda", help="cpu and/or cuda (cuda: when a GPU is visible)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "bench_ssl.jsonl"))
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    configs = {"ssl": (a.config, ssl_family.SCHEMA), "joint": (a.joint_config, ssl_family.JOINT_SCHEMA)}
    families = a.families.split(",")
    wanted = a.devices.split(",")
    devices = [torch.device(d) for d in wanted if d == "cpu" or (d == "cuda" and torch.cuda.is_available())]
    rep = Report("bench_ssl")
    if "cuda" in wanted and not torch.cuda.is_available():
        rep.print("CUDA: SKIPPED, no GPU visible (bf16 against fp32 on CUDA not measured)")
    failed, slow_bf16, waits = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        make_wave_fold(tmp, n_train=12, n_dev=1, n_test=1, min_s=2.0, max_s=5.0)
        enc_dir, bert_dir = random_encoders(tmp, a.encoder_shape)
        sets = {s: load_wave_set(os.path.join(tmp, s)) for s in ("train", "dev")}
        texts = {s: load_text_set(os.path.join(tmp, s)) for s in ("train", "dev")}
        texts = {s: [dict(zip(t.utts, t.texts))[u] for u in sets[s].utts] for s, t in texts.items()}
        n = 0
        for fam in families:
            path, schema = configs[fam]
            base = load_config(schema, path)
            for mode in (a.mode or base["model"]["mode"]).split(","):
                for pooling in (a.pooling or base["model"]["pooling"]).split(","):
                    n += 1
                    cfg = copy.deepcopy(base)
                    cfg["model"].update(mode=mode, pooling=pooling, encoder=a.encoder or enc_dir)
                    what = f"{fam}, {mode} mode, {pooling} pooling"
                    try:
                        for row in measure(a, cfg, path, fam, sets, texts, bert_dir, devices):
                            waits.append(row["data_wait_fp32"])
                            if row["device"] == "cuda" and row["bf16_speedup"] <= 1.0:
                                slow_bf16.append(what)
                            rep.print(describe(what, row))
                    except Exception as e:  # one combination's failure must not hide the others'
                        failed.append(what)
                        rep.print(f"{what}: FAILED: {type(e).__name__}: {e}")
    verdict(rep, "every family x mode x pooling trains", f"{n - len(failed)} of {n}"
            + (f" (failed: {'; '.join(failed)})" if failed else ""), not failed)
    if waits:
        verdict(rep, f"data wait < {100 * DATA_WAIT_GOAL:.0f}% of the step time (fp32, at the configs' workers)",
                f"at most {100 * max(waits):.1f}%", max(waits) < DATA_WAIT_GOAL)
    if any(d.type == "cuda" for d in devices):
        verdict(rep, "bf16 autocast faster than fp32 on CUDA", "slower or equal in: " + "; ".join(slow_bf16)
                if slow_bf16 else "faster in every combination", not slow_bf16)
    rep.print(f"appended to {a.out}")
    rep.close()


def measure(a, cfg, path, fam, sets, texts, bert_dir, devices):
    """-> one row (dict) per device of one family/mode/pooling; also appended to --out."""
    if fam == "joint":
        cfg["model"]["text_encoder"] = a.text_encoder or bert_dir
        family = ssl_family.JointFamily(cfg, sets["train"], sets["dev"], list(CLASSES), texts["train"], texts["dev"])
    else:
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
        row = {"date": time.strftime("%Y-%m-%d %H:%M"), "device": device.type,
               "device_name": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
               "threads": torch.get_num_threads(), "cpus": os.cpu_count(), "config": path,
               "encoder": a.encoder or f"random {a.encoder_shape}-shaped HuBERT", "family": fam,
               "mode": cfg["model"]["mode"], "pooling": cfg["model"]["pooling"],
               "batch": {k: cfg["data"][k] for k in ("batch_size", "max_batch_seconds", "max_seconds",
                                                      "num_workers")},
               "steps": a.steps, "reps": a.reps,
               "fp32_audio_s_per_s": med[False]["audio_s_per_s"], "bf16_audio_s_per_s": med[True]["audio_s_per_s"],
               "fp32_audio_s_per_cpu_s": med[False]["audio_s_per_cpu_s"],
               "bf16_audio_s_per_cpu_s": med[True]["audio_s_per_cpu_s"],
               "bf16_speedup": med[True]["audio_s_per_s"] / med[False]["audio_s_per_s"],
               "data_wait_fp32": med[False]["data_wait"]}
        with open(a.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        yield row


def describe(what, row) -> str:
    return (f"{what}, {row['device']} ({row['device_name']}, {row['threads']} threads), batch {row['batch']}: "
            f"fp32 {row['fp32_audio_s_per_s']:.1f} s audio/s, bf16 {row['bf16_audio_s_per_s']:.1f} s audio/s "
            f"(x{row['bf16_speedup']:.2f}: {'helps' if row['bf16_speedup'] > 1.05 else 'does not help'}); per CPU "
            f"second: fp32 {row['fp32_audio_s_per_cpu_s']:.1f}, bf16 {row['bf16_audio_s_per_cpu_s']:.1f} s audio; "
            f"data wait {100 * row['data_wait_fp32']:.1f}%")

if __name__ == "__main__":
    main()
