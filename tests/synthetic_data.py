"""Synthetic Kaldi feature data dirs for the tests and the benchmarks."""
from __future__ import annotations

import os

import numpy as np

# A training config small enough for a test: a 4-channel ResNet, 2 epochs on CPU.
TINY_TRAIN_CONFIG = {
    "model": {"blocks": [1, 1, 1, 1], "channels": 4, "emb_dim": 16, "pooling": "stats"},
    "data": {"chunk_sizes": [20, 30], "batch_size": 4, "num_workers": 0},
    "augment": {"policy": "conservative", "copies": 0},
    "optim": {"lr": 0.05, "lr_trunk": 0.005},
    "sched": {"hold_epochs": 1, "halve_every": 1},
    "train": {"epochs": 2, "seed": 3, "num_threads": 1},
}

def make_synthetic_datadir(out_dir: str, num_speakers: int = 4, utts_per_speaker: int = 6,
                           min_frames: int = 40, max_frames: int = 200, dim: int = 128,
                           seed: int = 0, label_file: str = "utt2spk") -> dict:
    """Writes a Kaldi data dir of synthetic features (feats.ark/scp, utt2spk or another
    label file, spk2utt, utt2num_frames) that survive segment normalisation: each
    class has 4 spectral templates, every frame is a random positive mix of them plus
    noise.  Returns {utt: matrix}."""
    os.makedirs(out_dir, exist_ok=True)
    import kaldiio
    rng = np.random.default_rng(seed)
    f = np.arange(dim)
    feats, lab = {}, {}
    for s in range(num_speakers):
        temps = np.stack([np.exp(-0.5 * ((f - c) / w) ** 2)
                          for c, w in zip(rng.uniform(0, dim, 4), rng.uniform(2, 8, 4))])
        for u in range(utts_per_speaker):
            n = int(rng.integers(min_frames, max_frames + 1))
            x = 3 * rng.exponential(1.0, (n, 4)) @ temps + rng.normal(0, 0.5, (n, dim))
            key = f"spk{s:03d}-utt{u:03d}"
            feats[key] = x.astype(np.float32)
            lab[key] = f"spk{s:03d}"
    ark = os.path.join(os.path.abspath(out_dir), "feats.ark")
    kaldiio.save_ark(ark, feats, scp=os.path.join(out_dir, "feats.scp"))
    keys = sorted(feats)
    with open(os.path.join(out_dir, label_file), "w", encoding="utf-8") as fh:
        fh.writelines(f"{k} {lab[k]}\n" for k in keys)
    if label_file != "utt2spk":
        with open(os.path.join(out_dir, "utt2spk"), "w", encoding="utf-8") as fh:
            fh.writelines(f"{k} {lab[k]}\n" for k in keys)
    with open(os.path.join(out_dir, "spk2utt"), "w", encoding="utf-8") as fh:
        for s in sorted(set(lab.values())):
            fh.write(s + " " + " ".join(k for k in keys if lab[k] == s) + "\n")
    with open(os.path.join(out_dir, "utt2num_frames"), "w", encoding="utf-8") as fh:
        fh.writelines(f"{k} {feats[k].shape[0]}\n" for k in keys)
    return feats
