"""Utterance-level feature vectors for the classical baselines (paper 004, Sec. III.B).

Each feature set maps a float32 mono waveform at 16 kHz (what
``emorec.audio.load_audio`` returns, resampling other rates) to one float32 vector:

``handcrafted`` (94 values): paper 004's set, each a mean over the frames of the
    utterance, computed with librosa (STFT of ``n_fft`` = 2048 samples, hop 512,
    Hann window, centred frames: librosa's defaults, which the paper used):
      12 chroma         ``chroma_stft`` of the power spectrogram (each frame scaled
                        to a maximum of 1, librosa's default);
      60 mel bands      ``log(mean over frames of melspectrogram + 1e-10)``: the frame
                        mean of librosa's 60-band mel power spectrogram, on a natural-log
                        scale (the raw powers span many decades, which a standard
                        scaler cannot fix);
      20 MFCC           ``mfcc(n_mfcc=20)`` (librosa's 128-band log-mel, DCT-II ortho);
       1 zero-crossing rate (crossings per sample, per frame);
       1 spectral centroid (Hz).
``egemaps`` (88 values): the eGeMAPSv02 functionals of openSMILE (Eyben et al. 2016),
    from the openSMILE Python package ``opensmile``; a missing or broken package is an
    error naming it (there is no substitute).

Feature sets are looked up by name with :func:`get_extractor`.
"""
from __future__ import annotations

from typing import List

import numpy as np

__all__ = ["FEATURE_SETS", "Handcrafted", "Egemaps", "get_extractor"]

MEL_FLOOR = 1e-10


class Handcrafted:
    """Paper 004's 94 frame-mean features (chroma, mel, MFCC, ZCR, spectral centroid)."""

    name = "handcrafted"

    def __init__(self, sample_rate: int = 16000, n_fft: int = 2048, hop_length: int = 512,
                 n_chroma: int = 12, n_mels: int = 60, n_mfcc: int = 20):
        self.sample_rate, self.n_fft, self.hop_length = sample_rate, n_fft, hop_length
        self.n_chroma, self.n_mels, self.n_mfcc = n_chroma, n_mels, n_mfcc
        self.names: List[str] = ([f"chroma{i + 1}" for i in range(n_chroma)]
                                 + [f"logmel{i + 1}" for i in range(n_mels)]
                                 + [f"mfcc{i + 1}" for i in range(n_mfcc)]
                                 + ["zero_crossing_rate", "spectral_centroid"])
        self.dim = len(self.names)
        import librosa

        # librosa.feature.melspectrogram(S=...) rebuilds its filters on every call
        self._mel = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels)
        self._mel_mfcc = librosa.filters.mel(sr=sample_rate, n_fft=n_fft)   # 128 bands

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        import librosa

        sr, hop = self.sample_rate, self.hop_length
        wave = np.asarray(wave, dtype=np.float32)
        power = np.abs(librosa.stft(wave, n_fft=self.n_fft, hop_length=hop)) ** 2
        chroma = librosa.feature.chroma_stft(S=power, sr=sr, n_chroma=self.n_chroma)
        mel = self._mel @ power
        mfcc = librosa.feature.mfcc(S=librosa.power_to_db(self._mel_mfcc @ power), n_mfcc=self.n_mfcc)
        zcr = librosa.feature.zero_crossing_rate(wave, frame_length=self.n_fft, hop_length=hop)
        centroid = librosa.feature.spectral_centroid(S=np.sqrt(power), sr=sr, n_fft=self.n_fft,
                                                     hop_length=hop)
        vec = np.concatenate([chroma.mean(axis=1), np.log(mel.mean(axis=1) + MEL_FLOOR),
                              mfcc.mean(axis=1), zcr.mean(axis=1), centroid.mean(axis=1)])
        return vec.astype(np.float32)


class Egemaps:
    """eGeMAPSv02 functionals (88) from the openSMILE Python package."""

    name = "egemaps"

    def __init__(self, sample_rate: int = 16000):
        try:
            import opensmile

            self._smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                          feature_level=opensmile.FeatureLevel.Functionals)
        except Exception as e:  # ImportError, or the package's native library failing to load
            raise RuntimeError(
                f"feature set 'egemaps' needs the openSMILE Python package 'opensmile' "
                f"(tools/requirements.txt), which does not work here: {type(e).__name__}: {e}") from e
        self.sample_rate = sample_rate
        self.names: List[str] = list(self._smile.feature_names)
        self.dim = len(self.names)

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        frame = self._smile.process_signal(np.asarray(wave, dtype=np.float32), self.sample_rate)
        return frame.to_numpy(dtype=np.float32).reshape(-1)


FEATURE_SETS = {c.name: c for c in (Handcrafted, Egemaps)}


def get_extractor(name: str, sample_rate: int = 16000):
    if name not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {name!r} (known: {', '.join(FEATURE_SETS)})")
    return FEATURE_SETS[name](sample_rate=sample_rate)

