"""Waveform augmentation for class balancing (paper 004, III.A): time stretch, pitch
shift, gain and additive noise; and the plan of augmented copies that brings every
class of a training set to a target count.

The ops (float32 mono numpy in, float32 out, 16 kHz):
  * ``time_stretch(x, rate)``: phase vocoder (``torchaudio.functional.phase_vocoder``,
    pure Python) on a 512-point STFT, hop 128; duration / rate, pitch kept;
  * ``pitch_shift(x, semitones)``: time stretch by the pitch ratio then resampling back
    to the original length.  ``torchaudio.functional.pitch_shift`` resamples between
    rates whose gcd is tiny (16000 -> 16000 / 2^(n/12)), which takes tens of seconds
    per utterance; here the target rate is rounded to a multiple of 100 Hz, so the
    shift is the nearest ratio 16000 / (100 k) (within 0.01 semitone);
  * ``gain(x, db)``: scaled, then limited to a 0.99 peak (no clipping);
  * ``add_noise(x, snr_db, rng)``: white Gaussian noise at ``snr_db`` below the signal
    power.  (The paper does not name its noise; no noise corpus ships with the toolkit.)

``balance_plan`` draws, from one seeded generator, which training utterances get a copy
and with which op and parameter, so a seed and a training list give the same copies.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Mapping

import numpy as np
import torch

SR = 16000
N_FFT, HOP = 512, 128
OPS = ("stretch", "pitch", "gain", "noise")
# Parameter ranges, drawn uniformly: stretch rate, semitones (sign random), dB, SNR dB.
RANGES = {"stretch": (0.8, 1.25), "pitch": (1.0, 3.0), "gain": (-6.0, 6.0),
          "noise": (10.0, 30.0)}


def time_stretch(x: np.ndarray, rate: float) -> np.ndarray:
    import torchaudio.functional as taf

    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    win = torch.hann_window(N_FFT)
    spec = torch.stft(t, N_FFT, HOP, window=win, return_complex=True)
    advance = torch.linspace(0, math.pi * HOP, spec.shape[0])[..., None]
    stretched = taf.phase_vocoder(spec, rate, advance)
    y = torch.istft(stretched, N_FFT, HOP, window=win,
                    length=int(round(x.size / rate)))
    return y.numpy().astype(np.float32)


def pitch_shift(x: np.ndarray, semitones: float) -> np.ndarray:
    import torchaudio.functional as taf

    new_sr = max(100, int(round(SR / 2 ** (semitones / 12) / 100)) * 100)
    stretched = time_stretch(x, new_sr / SR)  # longer by SR/new_sr
    y = taf.resample(torch.from_numpy(stretched), SR, new_sr).numpy()
    return _fit(y, x.size)


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    return (y[:n] if y.size >= n else np.pad(y, (0, n - y.size))).astype(np.float32)


def gain(x: np.ndarray, db: float) -> np.ndarray:
    y = x * np.float32(10 ** (db / 20))
    peak = float(np.abs(y).max()) if y.size else 0.0
    return (y * (0.99 / peak) if peak > 0.99 else y).astype(np.float32)


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    power = float(np.mean(x.astype(np.float64) ** 2))
    noise = rng.standard_normal(x.size) * math.sqrt(power / 10 ** (snr_db / 10))
    return gain((x + noise).astype(np.float32), 0.0)


@dataclass
class Copy:
    utt: str        # new utterance id: <orig>-aug<k>
    orig: str
    op: str
    param: float
    noise_seed: int


def apply(x: np.ndarray, c: Copy) -> np.ndarray:
    if c.op == "stretch":
        return gain(time_stretch(x, c.param), 0.0)
    if c.op == "pitch":
        return gain(pitch_shift(x, c.param), 0.0)
    if c.op == "gain":
        return gain(x, c.param)
    if c.op == "noise":
        return add_noise(x, c.param, np.random.default_rng(c.noise_seed))
    raise ValueError(f"unknown augmentation op {c.op!r}")


def balance_plan(utt2emo: Mapping[str, str], seed: int, target: int = 0,
                 ops=OPS) -> List[Copy]:
    """Copies that bring every class to ``target`` utterances (0: the largest class).

    Per class, the originals are shuffled and used round robin, so each gets at most one
    copy more than any other; classes already at the target get none."""
    rng = np.random.default_rng(seed)
    by_class: Dict[str, List[str]] = {}
    for u in sorted(utt2emo, key=lambda s: s.encode()):
        by_class.setdefault(utt2emo[u], []).append(u)
    target = target or max(len(v) for v in by_class.values())
    plan = []
    for emo in sorted(by_class):
        utts = [by_class[emo][i] for i in rng.permutation(len(by_class[emo]))]
        for k in range(max(0, target - len(utts))):
            orig = utts[k % len(utts)]
            op = ops[int(rng.integers(len(ops)))]
            lo, hi = RANGES[op]
            param = float(rng.uniform(lo, hi))
            if op == "pitch" and rng.random() < 0.5:
                param = -param
            plan.append(Copy(f"{orig}-aug{k // len(utts) + 1}", orig, op, round(param, 4),
                             int(rng.integers(2 ** 31))))
    return plan
