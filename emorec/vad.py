"""Statistical-model voice activity detection (Sohn, Kim and Sung, IEEE SPL 1999).

Padi et al. (ICMI 2021, section 3) drop non-speech frames with this VAD and a hang-over
that keeps pauses shorter than 500 ms.  ``Vad(cfg)(wave)`` returns one 0/1 decision per
frame on the feature grid (``emorec.features.num_frames``: 25 ms windows every 10 ms at
16 kHz, ``snip_edges``), so the vector lines up row by row with the fbank matrix.

Per frame t and DFT bin k, with noise power lambda_N(k):
  * a-posteriori SNR  gamma = |X|^2 / lambda_N;
  * a-priori SNR, decision-directed (Ephraim-Malah):
    xi = alpha * |A_{t-1}|^2 / lambda_N + (1 - alpha) * max(gamma - 1, 0), where A_{t-1}
    is the previous frame's Wiener estimate of the clean amplitude;
  * Gaussian likelihood ratio  log Lambda_k = gamma xi / (1 + xi) - log(1 + xi), and the
    frame's log-LR is their mean over bins (the log of the geometric mean);
  * HMM hang-over (Sohn's eq. 9): log G_t = log Lambda_t + log((a01 + a11 G_{t-1}) /
    (a00 + a10 G_{t-1})); speech when log G_t > threshold;
  * the noise power follows (``noise_alpha``) the frames whose log-LR is below
    ``noise_update_llr`` (clearly non-speech);
  * pauses shorter than ``min_pause`` between speech frames are filled (paper 003).

Noise: initialised per bin as the mean power of the quietest ``noise_init_quantile`` of
the frames (at least ``noise_init_frames``) rather than the first frames only, because
many emotional-speech files start with speech.  A noise floor of ``floor_db`` below
the utterance's mean power keeps digital silence from dividing by zero.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emorec.features import FbankConfig, num_frames, read_kaldi_conf

__all__ = ["VadConfig", "Vad", "fill_short_pauses", "speech_samples"]


@dataclass
class VadConfig:
    sample_frequency: float = 16000.0
    frame_length: float = 25.0       # ms, as the features
    frame_shift: float = 10.0        # ms
    fft_size: int = 512
    dd_alpha: float = 0.98           # decision-directed smoothing
    noise_alpha: float = 0.98        # noise update in clearly non-speech frames
    noise_update_llr: float = 0.1    # ... those whose frame log-LR is below this
    noise_init_quantile: float = 0.1
    noise_init_frames: int = 5
    a01: float = 0.2                 # P(speech | non-speech before), Sohn's values
    a10: float = 0.1                 # P(non-speech | speech before)
    threshold: float = 1.5           # on the HMM-smoothed log-LR (noise alone: ~0.7)
    min_pause: float = 500.0         # ms; shorter non-speech gaps between speech are speech
    floor_db: float = -80.0

    @classmethod
    def from_file(cls, path: str | None) -> "VadConfig":
        """Options from a Kaldi-style file (``--threshold=1.5`` ...); None: the defaults.
        Raises OSError or ValueError naming the file (and line)."""
        return cls(**(read_kaldi_conf(path, cls) if path else {})).validate()

    def framing(self) -> FbankConfig:
        return FbankConfig(sample_frequency=self.sample_frequency,
                           frame_length=self.frame_length, frame_shift=self.frame_shift)

    def validate(self) -> "VadConfig":
        for name in ("dd_alpha", "noise_alpha", "noise_init_quantile", "a01", "a10"):
            v = getattr(self, name)
            if not 0.0 < v < 1.0:
                raise ValueError(f"VAD option {name} must be in (0, 1), got {v}")
        if self.fft_size < self.framing().window_size:
            raise ValueError(f"VAD fft_size {self.fft_size} is shorter than the window "
                             f"({self.framing().window_size} samples)")
        if self.min_pause < 0:
            raise ValueError(f"VAD min_pause must be >= 0, got {self.min_pause}")
        return self


def fill_short_pauses(speech: np.ndarray, max_gap: int) -> np.ndarray:
    """Set to 1 every run of 0s shorter than ``max_gap`` frames lying between two 1s."""
    out = speech.copy()
    idx = np.flatnonzero(speech)
    if idx.size < 2:
        return out
    gaps = np.diff(idx) - 1
    for start, gap in zip(idx[:-1], gaps):
        if 0 < gap < max_gap:
            out[start + 1:start + 1 + gap] = 1
    return out


class Vad:
    """``Vad(cfg)(wave) -> float32 (num_frames,)`` of 0/1; ``wave`` float mono at
    ``cfg.sample_frequency``.  Raises ValueError when the signal gives no frame."""

    def __init__(self, cfg: VadConfig | None = None):
        self.cfg = (cfg or VadConfig()).validate()
        fr = self.cfg.framing()
        self.framing = fr
        self.window = np.hamming(fr.window_size).astype(np.float64)

    def power_spectrum(self, wave: np.ndarray) -> np.ndarray:
        fr = self.framing
        n = num_frames(wave.size, fr)
        if n <= 0:
            raise ValueError(f"signal of {wave.size} samples is shorter than one VAD frame "
                             f"({fr.window_size} samples)")
        x = np.asarray(wave, dtype=np.float64)
        frames = np.lib.stride_tricks.as_strided(
            x, (n, fr.window_size), (fr.window_shift * x.strides[0], x.strides[0]))
        frames = (frames - frames.mean(axis=1, keepdims=True)) * self.window
        return np.abs(np.fft.rfft(frames, n=self.cfg.fft_size, axis=1)) ** 2

    def frame_llr(self, power: np.ndarray) -> np.ndarray:
        """Per-frame mean log-likelihood ratio (speech vs noise) of a power spectrogram."""
        cfg = self.cfg
        n = power.shape[0]
        floor = max(power.mean(), 1e-20) * 10.0 ** (cfg.floor_db / 10.0)
        energy = power.sum(axis=1)
        k = max(cfg.noise_init_frames, int(np.ceil(cfg.noise_init_quantile * n)))
        quiet = np.argsort(energy, kind="stable")[:min(k, n)]
        noise = np.maximum(power[quiet].mean(axis=0), floor)
        llr = np.empty(n)
        prev_clean = np.zeros(power.shape[1])
        for t in range(n):
            gamma = power[t] / noise
            xi = (cfg.dd_alpha * prev_clean / noise
                  + (1.0 - cfg.dd_alpha) * np.maximum(gamma - 1.0, 0.0))
            llr[t] = np.mean(gamma * xi / (1.0 + xi) - np.log1p(xi))
            gain = xi / (1.0 + xi)
            prev_clean = gain * gain * power[t]
            # only clearly non-speech frames: a speech onset, whose decision-directed
            # xi still lags, would otherwise leak into the noise estimate
            if llr[t] < cfg.noise_update_llr:
                noise = np.maximum(cfg.noise_alpha * noise + (1.0 - cfg.noise_alpha) * power[t],
                                   floor)
        return llr

    def hangover(self, llr: np.ndarray) -> np.ndarray:
        """Sohn's HMM-smoothed log-LR (eq. 9) -> 0/1 decisions, short pauses filled."""
        cfg = self.cfg
        a00, a01, a10, a11 = 1 - cfg.a01, cfg.a01, cfg.a10, 1 - cfg.a10
        log_g = np.empty_like(llr)
        prev = llr[0] if llr.size else 0.0
        for t, lam in enumerate(llr):
            if t:
                prev = (lam + np.logaddexp(np.log(a01), np.log(a11) + prev)
                        - np.logaddexp(np.log(a00), np.log(a10) + prev))
            log_g[t] = prev
        speech = (log_g > cfg.threshold).astype(np.int8)
        max_gap = int(round(cfg.min_pause / cfg.frame_shift))
        return fill_short_pauses(speech, max_gap)

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        return self.hangover(self.frame_llr(self.power_spectrum(wave))).astype(np.float32)


def speech_samples(wave: np.ndarray, decisions: np.ndarray, cfg: VadConfig | None = None
                   ) -> np.ndarray:
    """The samples of ``wave`` covered by its speech frames, runs concatenated in order
    (a run of frames f0..f1 keeps samples f0*shift .. f1*shift + window)."""
    fr = (cfg or VadConfig()).framing()
    d = np.concatenate([[0], np.asarray(decisions) > 0.5, [0]]).astype(np.int8)
    starts = np.flatnonzero(np.diff(d) == 1)
    ends = np.flatnonzero(np.diff(d) == -1) - 1  # last speech frame of each run
    pieces = [wave[a * fr.window_shift:b * fr.window_shift + fr.window_size]
              for a, b in zip(starts, ends)]
    return np.concatenate(pieces) if pieces else wave[:0]
