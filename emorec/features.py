"""Log-mel filterbank features, numerically matching Kaldi's ``compute-fbank-feats``.

``Fbank(cfg)(wave)`` reproduces ``torchaudio.compliance.kaldi.fbank(wave * cfg.wave_scale, ...)``
(itself a port of Kaldi) under the same settings -- povey window, pre-emphasis,
per-frame DC removal, Kaldi's mel triangles (``get_mel_banks``), eps floor before
the log, ``snip_edges`` -- and differs from Kaldi in deliberate ways:

* ``fft_size`` (``--fft-size``, default 1024): the FFT length, instead of Kaldi's
  "next power of two above the window" (512 for 25 ms at 16 kHz).  With 512 points
  and 128 mel bins at 16 kHz, mel triangle 3 (around 60 Hz) contains no FFT bin and
  its channel is the constant ``log(eps)``; with 1024 points every triangle holds at
  least one bin.  ``--fft-size=0`` restores Kaldi's rule.
* ``wave_scale`` (default 32768): input is float audio in [-1, 1] (what
  ``emorec.audio.load_audio`` returns); it is multiplied by ``wave_scale`` so the
  numbers equal Kaldi's on 16-bit files (Kaldi reads raw int16 values).
* ``dither`` defaults to 0 (deterministic features); Kaldi's default is 1.
* Frames are cut with a strided view (gather with reflection for
  ``snip_edges=false``); the frames of several utterances go through scipy's pocketfft
  (``rfft_rows``) together, in chunks of ``Fbank.chunk_frames`` (``Fbank.compute_many``); the mel
  product is done in blocks of neighbouring triangles (``band_blocks``), skipping the
  zeros of the dense matrix.  The computation is numpy only, so a feature job does
  not import torch (see ``mel_banks`` for the one place torch's rounding matters).

Short-input policy: a signal that yields no frame (with ``snip_edges=true``: fewer
samples than one window, 400 at 16 kHz/25 ms) raises ``TooShortError`` (a
``ValueError``) naming the lengths; ``compute_fbank`` logs it and skips the utterance.
(torchaudio asserts on such input, Kaldi writes an empty matrix.)

``cmvn(feats)`` is per-segment mean/variance normalisation, applied when features
are read for training -- never on disk.
"""

from __future__ import annotations

import hashlib
import math
import os
import shlex
import sys
import tempfile
from dataclasses import dataclass, fields
from typing import List, Optional, Sequence

import numpy as np

from emorec.fileio import open_text

__all__ = ["FbankConfig", "Fbank", "TooShortError", "cmvn", "mel_banks", "read_kaldi_conf"]

EPSILON = float(np.finfo(np.float32).eps)  # Kaldi's floor before log, 1.19e-07
WINDOW_TYPES = ("povey", "hamming", "hanning", "rectangular", "blackman")


class TooShortError(ValueError):
    """The signal gives no frame under the configured framing."""


@dataclass
class FbankConfig:
    """Options, named after Kaldi's (``--num-mel-bins`` <-> ``num_mel_bins``)."""

    sample_frequency: float = 16000.0
    frame_length: float = 25.0          # ms
    frame_shift: float = 10.0           # ms
    num_mel_bins: int = 128
    fft_size: int = 1024                # 0: Kaldi's rule (next power of 2 / window length)
    round_to_power_of_two: bool = True  # only used when fft_size == 0
    low_freq: float = 20.0
    high_freq: float = 0.0              # <= 0: offset from Nyquist
    dither: float = 0.0
    preemphasis_coefficient: float = 0.97
    remove_dc_offset: bool = True
    window_type: str = "povey"
    blackman_coeff: float = 0.42
    snip_edges: bool = True
    energy_floor: float = 0.0
    raw_energy: bool = True
    use_energy: bool = False
    htk_compat: bool = False
    use_log_fbank: bool = True
    use_power: bool = True
    wave_scale: float = 32768.0
    allow_resample: bool = True         # emorec: resample audio at another rate (else error)

    # ---- derived sizes -------------------------------------------------------
    @property
    def window_size(self) -> int:
        return int(self.sample_frequency * self.frame_length * 0.001)

    @property
    def window_shift(self) -> int:
        return int(self.sample_frequency * self.frame_shift * 0.001)

    @property
    def padded_window_size(self) -> int:
        if self.fft_size and self.fft_size > 0:
            return int(self.fft_size)
        w = self.window_size
        return 1 << (w - 1).bit_length() if self.round_to_power_of_two else w

    @property
    def dim(self) -> int:
        return self.num_mel_bins + (1 if self.use_energy else 0)

    def validate(self) -> "FbankConfig":
        w, s, n = self.window_size, self.window_shift, self.padded_window_size
        if w < 2:
            raise ValueError(f"frame_length {self.frame_length} ms gives a window of {w} samples (< 2)")
        if s < 1:
            raise ValueError(f"frame_shift {self.frame_shift} ms gives a shift of {s} samples (< 1)")
        if n < w:
            raise ValueError(f"fft_size {n} is smaller than the window ({w} samples)")
        if n % 2:
            raise ValueError(f"fft size {n} must be even")
        if self.window_type not in WINDOW_TYPES:
            raise ValueError(f"window_type {self.window_type!r} not in {WINDOW_TYPES}")
        if not 0.0 <= self.preemphasis_coefficient <= 1.0:
            raise ValueError("preemphasis_coefficient must be in [0, 1]")
        if self.num_mel_bins <= 3:
            raise ValueError("num_mel_bins must be > 3")
        nyq = 0.5 * self.sample_frequency
        hf = self.high_freq if self.high_freq > 0 else self.high_freq + nyq
        if not (0.0 <= self.low_freq < nyq and 0.0 < hf <= nyq and self.low_freq < hf):
            raise ValueError(f"bad low_freq {self.low_freq} / high_freq {self.high_freq} "
                             f"for Nyquist {nyq}")
        return self

    # ---- Kaldi-style config files -------------------------------------------
    @classmethod
    def from_file(cls, path: str, **overrides) -> "FbankConfig":
        """Read a Kaldi ``--name=value`` config (``#`` comments); unknown names are errors."""
        kw = read_kaldi_conf(path, cls)
        kw.update(overrides)
        try:
            return cls(**kw).validate()
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    def to_kaldi_conf(self) -> str:
        lines = []
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool):
                v = "true" if v else "false"
            lines.append(f"--{f.name.replace('_', '-')}={v}")
        return "\n".join(lines) + "\n"

    def torchaudio_kwargs(self) -> dict:
        """kwargs for ``torchaudio.compliance.kaldi.fbank`` giving the same framing/banks
        (valid when ``padded_window_size`` equals Kaldi's power-of-two rule)."""
        return dict(sample_frequency=self.sample_frequency, frame_length=self.frame_length,
                    frame_shift=self.frame_shift, num_mel_bins=self.num_mel_bins,
                    low_freq=self.low_freq, high_freq=self.high_freq, dither=self.dither,
                    preemphasis_coefficient=self.preemphasis_coefficient,
                    remove_dc_offset=self.remove_dc_offset, window_type=self.window_type,
                    blackman_coeff=self.blackman_coeff, snip_edges=self.snip_edges,
                    energy_floor=self.energy_floor, raw_energy=self.raw_energy,
                    use_energy=self.use_energy, htk_compat=self.htk_compat,
                    use_log_fbank=self.use_log_fbank, use_power=self.use_power,
                    round_to_power_of_two=True)


def parse_bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("true", "1", "yes"):
        return True
    if t in ("false", "0", "no"):
        return False
    raise ValueError(f"expected true/false, got {text!r}")


def read_kaldi_conf(path: str, cls=FbankConfig) -> dict:
    types = {f.name: f.type for f in fields(cls)}
    defaults = {f.name: f.default for f in fields(cls)}
    out = {}
    with open_text(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            for tok in shlex.split(line):
                where = f"{path}:{lineno}"
                if not tok.startswith("--") or "=" not in tok:
                    raise ValueError(f"{where}: expected --name=value, got {tok!r}")
                name, value = tok[2:].split("=", 1)
                key = name.replace("-", "_")
                if key not in types:
                    raise ValueError(f"{where}: unknown option --{name}")
                default = defaults[key]
                try:
                    if isinstance(default, bool):
                        out[key] = parse_bool(value)
                    elif isinstance(default, int):
                        out[key] = int(value)
                    elif isinstance(default, float):
                        out[key] = float(value)
                    else:
                        out[key] = value
                except ValueError as e:
                    raise ValueError(f"{where}: bad value for --{name}: {e}") from None
    return out


# ---- filterbank ---------------------------------------------------------------

def _torch_mel_banks(cfg: FbankConfig) -> np.ndarray:
    import torch  # only on a cache miss: importing torch costs a job ~1.5 CPU s

    n = cfg.padded_window_size
    nyq = 0.5 * cfg.sample_frequency
    high = cfg.high_freq if cfg.high_freq > 0 else cfg.high_freq + nyq
    mlow = 1127.0 * math.log(1.0 + cfg.low_freq / 700.0)
    mhigh = 1127.0 * math.log(1.0 + high / 700.0)
    delta = (mhigh - mlow) / (cfg.num_mel_bins + 1)
    b = torch.arange(cfg.num_mel_bins).unsqueeze(1)
    left = mlow + b * delta
    center = mlow + (b + 1.0) * delta
    right = mlow + (b + 2.0) * delta
    mel = (1127.0 * torch.log(1.0 + cfg.sample_frequency / n * torch.arange(n // 2) / 700.0)
           ).unsqueeze(0)
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    banks = torch.clamp(torch.min(up, down), min=0.0)
    return torch.nn.functional.pad(banks, (0, 1)).to(torch.float32).numpy()


def _cache_dir() -> str:
    return os.environ.get("EMOREC_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "emorec")


def mel_banks(cfg: FbankConfig) -> np.ndarray:
    """Kaldi's triangular mel filters, (num_mel_bins, fft_size // 2 + 1), float32.

    Same construction as Kaldi's MelBanks / torchaudio's get_mel_banks (no VTLN), in
    float32 with torch's ``log`` as torchaudio computes them; the Nyquist column is zero,
    as in Kaldi.  torch's float32 log is not numpy's (1-ulp differences in ~1 bin of 10,
    up to 2e-4 in the features), so the banks are computed by torch once per
    configuration and torch version and kept in ``$EMOREC_CACHE`` (default
    ``~/.cache/emorec``) as .npy: a feature job then never imports torch.  An unwritable
    cache only costs the import."""
    import importlib.metadata

    key = (f"{cfg.num_mel_bins} {cfg.padded_window_size} {cfg.sample_frequency!r} "
           f"{cfg.low_freq!r} {cfg.high_freq!r} torch-{importlib.metadata.version('torch')}")
    path = os.path.join(_cache_dir(), "mel_banks-"
                        + hashlib.sha256(key.encode()).hexdigest()[:16] + ".npy")
    shape = (cfg.num_mel_bins, cfg.padded_window_size // 2 + 1)
    try:
        banks = np.load(path)
        if banks.shape == shape and banks.dtype == np.float32:
            return banks
    except (OSError, ValueError):
        pass
    banks = _torch_mel_banks(cfg)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=os.path.dirname(path), suffix=".npy",
                                         delete=False) as f:
            np.save(f, banks)
        os.replace(f.name, path)
    except OSError:
        pass
    return banks


def _window(cfg: FbankConfig) -> np.ndarray:
    """float64 window (Kaldi computes it in double)."""
    w, t = cfg.window_size, cfg.window_type
    i = np.arange(w, dtype=np.float64)
    a = 2 * math.pi / (w - 1)
    if t == "hanning":
        return 0.5 - 0.5 * np.cos(a * i)
    if t == "hamming":
        return 0.54 - 0.46 * np.cos(a * i)
    if t == "povey":
        return (0.5 - 0.5 * np.cos(a * i)) ** 0.85
    if t == "rectangular":
        return np.ones(w)
    return (cfg.blackman_coeff - 0.5 * np.cos(a * i)
            + (0.5 - cfg.blackman_coeff) * np.cos(2 * a * i))


def band_blocks(banks: np.ndarray, channels_per_block: int):
    """The mel product as a few dense blocks: ``[(bin_lo, bin_hi, mel_lo, mel_hi, W)]``
    with ``W = banks[mel_lo:mel_hi, bin_lo:bin_hi].T``, covering every nonzero weight.

    Each FFT bin lies in at most two triangles, so the dense (bins x mels) product does
    ~50x the needed arithmetic; blocks of 8 neighbouring triangles and the bins they
    cover do ~5x the needed arithmetic in BLAS-sized pieces (bench/bench_fbank.py)."""
    blocks = []
    for c0 in range(0, banks.shape[0], channels_per_block):
        c1 = min(banks.shape[0], c0 + channels_per_block)
        cols = np.flatnonzero(banks[c0:c1].any(axis=0))
        b0, b1 = (int(cols[0]), int(cols[-1]) + 1) if cols.size else (0, 1)
        blocks.append((b0, b1, c0, c1, np.ascontiguousarray(banks[c0:c1, b0:b1].T)))
    return blocks


def rfft_rows():
    """Real FFT over the rows of a 2-D array, ``f(a) -> complex (rows, n // 2 + 1)``:
    ``scipy.fft.rfft(a, axis=1)``, bit for bit, by the extension that computes it
    (pocketfft's ``r2c``), loaded from its file alone when scipy keeps it where every
    scipy since 1.4 does.  ``import scipy.fft`` costs ~0.25 CPU s (its array-API layer
    parses ~135 docstrings at import), a sixth of a 1000-utterance feature job
    (bench/bench_fbank.py); the extension alone, ~1 ms.  Elsewhere: ``scipy.fft``."""
    import importlib.machinery
    import importlib.util

    name = "scipy.fft._pocketfft.pypocketfft"
    mod = sys.modules.get(name)
    if mod is None:
        spec = importlib.util.find_spec("scipy")
        roots = (spec.submodule_search_locations or []) if spec else []
        for root in roots:
            base = os.path.join(root, "fft", "_pocketfft", "pypocketfft")
            path = next((base + sfx for sfx in importlib.machinery.EXTENSION_SUFFIXES
                         if os.path.isfile(base + sfx)), None)
            if path:
                loader = importlib.machinery.ExtensionFileLoader(name, path)
                mod = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
                loader.exec_module(mod)
                sys.modules[name] = mod  # a later `import scipy.fft` reuses it
                break
    if mod is not None and hasattr(mod, "r2c"):
        r2c = mod.r2c
        return lambda a: r2c(a, (1,), True, 0, None, 1)  # axes, forward, no norm, out, threads
    import scipy.fft

    return lambda a: scipy.fft.rfft(a, axis=1)


def num_frames(num_samples: int, cfg: FbankConfig) -> int:
    """Kaldi's NumFrames."""
    w, s = cfg.window_size, cfg.window_shift
    if cfg.snip_edges:
        return 0 if num_samples < w else 1 + (num_samples - w) // s
    return (num_samples + s // 2) // s


class Fbank:
    """Callable log-mel extractor; ``Fbank(cfg)(wave) -> (frames, dim)`` numpy array.

    numpy and scipy's pocketfft (``rfft_rows``: its rfft runs several rows at once in
    SIMD lanes, 2-4x numpy.fft's per frame at FFT 1024), BLAS blocks for the
    mel product; a feature job does not import torch."""

    # frames per rfft/GEMM call; 128-512 measured alike, 64 ~15% slower, 4096 much slower
    chunk_frames = 512
    channels_per_block = 8

    def __init__(self, cfg: Optional[FbankConfig] = None, dtype=np.float32):
        """dtype: compute precision, a numpy or torch dtype (float32 like Kaldi; float64
        for reference checks); the output arrays have this dtype."""
        self.cfg = (cfg or FbankConfig()).validate()
        name = str(dtype)
        self.dtype = np.dtype(name[len("torch."):] if name.startswith("torch.") else dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, not {dtype}")
        self.window = _window(self.cfg).astype(self.dtype)
        banks = mel_banks(self.cfg).astype(self.dtype)
        nz = np.flatnonzero(banks.any(axis=0))
        # only FFT bins some triangle covers are squared and multiplied
        self.lo, self.hi = (int(nz[0]), int(nz[-1]) + 1) if nz.size else (0, 1)
        self.blocks = [(b0 - self.lo, b1 - self.lo, c0, c1, w)
                       for b0, b1, c0, c1, w in band_blocks(banks, self.channels_per_block)]
        self._raw = np.empty((0, 0), self.dtype)
        self._rfft = rfft_rows()

    def num_frames(self, num_samples: int) -> int:
        return num_frames(num_samples, self.cfg)

    # -- framing
    def _frames(self, x: np.ndarray) -> np.ndarray:
        cfg = self.cfg
        n, w, s = x.size, cfg.window_size, cfg.window_shift
        m = num_frames(n, cfg)
        if m <= 0:
            raise TooShortError(
                f"signal of {n} samples ({n / cfg.sample_frequency * 1000:.1f} ms) is shorter "
                f"than one frame ({w} samples = {cfg.frame_length:g} ms at "
                f"{cfg.sample_frequency:g} Hz): no frames")
        if cfg.snip_edges:
            return np.lib.stride_tricks.as_strided(x, (m, w), (s * x.itemsize, x.itemsize),
                                                   writeable=False)
        # Kaldi's ExtractWindow: frame f starts at f*s + s//2 - w//2, reflecting at both ends
        idx = np.arange(m)[:, None] * s + (s // 2 - w // 2) + np.arange(w)[None, :]
        for _ in range(64):
            if not ((idx < 0).any() or (idx >= n).any()):
                break
            idx = np.where(idx < 0, -idx - 1, idx)
            idx = np.where(idx >= n, 2 * n - 1 - idx, idx)
        return x[idx]

    def _work(self, m: int):
        """Buffers reused across calls (fresh arrays per chunk cost page faults:
        ~25% of a job's CPU): raw frames, the zero-padded FFT input, power."""
        if self._raw.shape[0] < m:
            cfg, nb = self.cfg, self.hi - self.lo
            self._raw = np.empty((m, cfg.window_size), self.dtype)
            self._buf = np.zeros((m, cfg.padded_window_size), self.dtype)  # padding stays 0
            self._power = np.empty((2, m, nb), self.dtype)
        return self._raw[:m], self._buf[:m], self._power[0, :m], self._power[1, :m]

    def _features(self, pieces: List[np.ndarray], out: np.ndarray):
        """Raw frames (pieces of (k, window) views, m in all) -> out (m, dim).

        Scaling, dither, DC removal, pre-emphasis and the window are done in Kaldi's
        order (same rounding), the last two written into the zero-padded FFT buffer."""
        cfg = self.cfg
        m, w = out.shape[0], cfg.window_size
        raw, buf, power, tmp = self._work(m)
        np.concatenate(pieces, out=raw)
        if cfg.wave_scale != 1.0:
            raw *= self.dtype.type(cfg.wave_scale)
        if cfg.dither != 0.0:
            raw += cfg.dither * np.random.standard_normal(raw.shape).astype(self.dtype)
        if cfg.remove_dc_offset:
            raw -= raw.mean(axis=1, keepdims=True, dtype=self.dtype)
        energy = None
        if cfg.use_energy and cfg.raw_energy:
            energy = np.square(raw).sum(1)
        v = buf[:, :w]
        c = cfg.preemphasis_coefficient
        if c != 0.0:
            np.multiply(raw[:, :-1], self.dtype.type(c), out=v[:, 1:])
            np.subtract(raw[:, 1:], v[:, 1:], out=v[:, 1:])
            np.multiply(raw[:, :1], self.dtype.type(1.0 - c), out=v[:, :1])
        else:
            v[...] = raw
        v *= self.window
        if cfg.use_energy and not cfg.raw_energy:
            energy = np.square(v).sum(1)
        spec = self._rfft(buf)[:, self.lo:self.hi]
        np.square(spec.real, out=power)
        power += np.square(spec.imag, out=tmp)
        if not cfg.use_power:
            np.sqrt(power, out=power)
        mel = out[:, 1:] if energy is not None and not cfg.htk_compat else out[:, :cfg.num_mel_bins]
        for b0, b1, c0, c1, weights in self.blocks:
            np.matmul(power[:, b0:b1], weights, out=mel[:, c0:c1])
        if cfg.use_log_fbank:
            np.log(np.maximum(mel, EPSILON, out=mel), out=mel)
        if energy is not None:
            log_e = np.log(np.maximum(energy, EPSILON))
            if cfg.energy_floor > 0.0:
                log_e = np.maximum(log_e, math.log(cfg.energy_floor))
            out[:, -1 if cfg.htk_compat else 0] = log_e

    def _prepare(self, wave) -> np.ndarray:
        x = np.ascontiguousarray(wave, dtype=self.dtype)  # no copy for float32 audio
        if x.ndim != 1:
            raise ValueError(f"expected a 1-D (mono) waveform, got shape {x.shape}")
        return x

    def __call__(self, wave) -> np.ndarray:
        return self.compute_many([wave])[0]

    def compute_tensor(self, wave):
        """``__call__`` as a torch tensor (for callers that already use torch)."""
        import torch

        return torch.from_numpy(self(wave))

    def compute_many(self, waves: Sequence) -> List[np.ndarray]:
        """Features of several utterances, raising TooShortError like ``__call__``.

        Each utterance is framed on its own (strided views, no copy); the frames of all
        go through the FFT and the mel product in chunks of ``chunk_frames`` rows, so
        short utterances do not pay a call each."""
        frames = [self._frames(self._prepare(w)) for w in waves]
        sizes = [f.shape[0] for f in frames]
        out = np.empty((sum(sizes), self.cfg.dim), self.dtype)
        done, pieces, rows = 0, [], 0
        for f in frames:
            i = 0
            while i < f.shape[0]:
                take = min(self.chunk_frames - rows, f.shape[0] - i)
                pieces.append(f[i:i + take])
                rows += take
                i += take
                if rows == self.chunk_frames:
                    self._features(pieces, out[done:done + rows])
                    done, pieces, rows = done + rows, [], 0
        if rows:
            self._features(pieces, out[done:done + rows])
        return np.split(out, np.cumsum(sizes)[:-1])


def cmvn(feats, norm_vars: bool = True, eps: float = 1e-5):
    """Per-segment mean (and variance) normalisation over frames (axis -2).

    Works on numpy or torch, (frames, dim) or (batch, frames, dim); returns the same
    type.  Standard deviations are floored at ``eps`` (a constant channel -> zeros)."""
    torch = sys.modules.get("torch")  # a tensor implies torch is imported; never import it here
    if torch is not None and torch.is_tensor(feats):
        x = feats.to(torch.float32)
        mu = x.mean(dim=-2, keepdim=True)
        y = x - mu
        if norm_vars:
            sd = y.square().mean(dim=-2, keepdim=True).sqrt().clamp_min(eps)
            y = y / sd
        return y
    x = np.asarray(feats, dtype=np.float32)
    y = x - x.mean(axis=-2, keepdims=True)
    if norm_vars:
        sd = np.maximum(np.sqrt(np.mean(np.square(y), axis=-2, keepdims=True)), eps)
        y = y / sd
    return y.astype(np.float32, copy=False)
