"""Noise reduction of paper 004's preprocessing (Sec. III.A step 2; the inference pipeline
of Sec. IV, Figure 6: sample rate, noise reduction, silence removal): spectral gating with
the maintained ``noisereduce`` library (Sainburg et al. 2020).

Stationary gating with a noise profile: per frequency bin, the mean and deviation (in dB)
of the noise's short-time spectrum set a threshold (mean + 1.5 deviations); bins of the
signal below it are attenuated (mask smoothed over 50 ms). The profile is the noise alone:
the utterance's non-speech samples (the VAD's, as emorec.bin.trim_silence passes them), or,
where fewer than MIN_NOISE_SECONDS of those exist, its quietest frames. Estimating the
profile from the whole signal instead (``noisereduce``'s default) treats a steady voiced
sound as noise and removes it. The mask is not smoothed across frequency: with
``noisereduce``'s 500 Hz smoothing a harmonic's bin takes the mask of the noise bins beside
it and loses ~9 dB (a 440 Hz tone in white noise; tests/test_denoise.py).
"""
from __future__ import annotations

import numpy as np

MIN_NOISE_SECONDS = 0.25
QUIET_FRACTION = 0.2   # the quietest 20% of 32-ms frames, when no noise sample is given
_FRAME_SECONDS = 0.032


def _quietest_frames(wave: np.ndarray, sr: int) -> np.ndarray:
    n = max(1, int(_FRAME_SECONDS * sr))
    frames = wave[: len(wave) // n * n].reshape(-1, n)
    if len(frames) == 0:
        return wave
    energy = (frames.astype(np.float64) ** 2).mean(1)
    keep = energy <= np.quantile(energy, QUIET_FRACTION)
    return frames[keep].reshape(-1)


def reduce_noise(wave: np.ndarray, sr: int, noise: np.ndarray | None = None) -> np.ndarray:
    """The waveform (float32, same length) with its stationary noise gated out; noise: samples
    of the noise alone (e.g. the VAD's non-speech), else the quietest frames are used."""
    import noisereduce

    wave = np.asarray(wave, dtype=np.float32)
    if noise is None or len(noise) < MIN_NOISE_SECONDS * sr:
        noise = _quietest_frames(wave, sr)
    out = noisereduce.reduce_noise(y=wave, sr=sr, y_noise=np.asarray(noise, dtype=np.float32), stationary=True,
                                   freq_mask_smooth_hz=None, time_mask_smooth_ms=50, n_std_thresh_stationary=1.5)
    return np.asarray(out, dtype=np.float32)
