"""Statistical-model VAD (emorec.vad, steps/compute_vad.sh): accuracy at 10 dB SNR on
harmonic bursts with known boundaries, the feature frame grid, the job script."""

import subprocess
from pathlib import Path

import kaldiio
import numpy as np
import soundfile as sf

from emorec.features import Fbank, FbankConfig
from emorec.vad import Vad, fill_short_pauses

ROOT = Path(__file__).resolve().parent.parent
SR = 16000


def bursts_in_noise(seed: int, snr_db: float = 10.0):
    """Voiced-like harmonic bursts (0.6-1.2 s, vibrato, syllable envelope) separated by
    0.7-1.2 s of silence, plus white noise at ``snr_db`` relative to the bursts' power.
    Returns (signal, per-frame truth: more than half the 25 ms window inside a burst)."""
    rng = np.random.default_rng(seed)
    parts, spans, pos = [], [], 0
    for i in range(5):
        gap = np.zeros(int(SR * rng.uniform(0.7, 1.2)))
        n = int(SR * rng.uniform(0.6, 1.2))
        t = np.arange(n) / SR
        f0 = rng.uniform(110, 230) * (1 + 0.05 * np.sin(2 * np.pi * rng.uniform(3, 6) * t))
        phase = 2 * np.pi * np.cumsum(f0) / SR
        voiced = sum(np.sin(h * phase) / h for h in range(1, 25))
        env = (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(3, 5) * t) ** 2) \
            * np.minimum(1, np.minimum(t, t[::-1]) / 0.02)
        parts += [gap, voiced * env]
        spans.append((pos + gap.size, pos + gap.size + n))
        pos += gap.size + n
    parts.append(np.zeros(int(SR * 0.8)))
    clean = np.concatenate(parts)
    speech_power = np.mean(np.concatenate([clean[a:b] for a, b in spans]) ** 2)
    noisy = clean + rng.standard_normal(clean.size) * np.sqrt(speech_power / 10 ** (snr_db / 10))
    noisy = (0.3 * noisy / np.abs(noisy).max()).astype(np.float32)
    inside = np.zeros(clean.size)
    for a, b in spans:
        inside[a:b] = 1
    n_frames = Fbank(FbankConfig()).num_frames(noisy.size)
    truth = np.array([inside[160 * f:160 * f + 400].mean() > 0.5 for f in range(n_frames)])
    return noisy, truth.astype(np.float32)


def test_vad_frame_accuracy_at_10db():
    vad = Vad()
    accs = []
    for seed in range(3):
        x, truth = bursts_in_noise(seed, 10.0)
        decisions = vad(x)
        assert decisions.shape == truth.shape and decisions.dtype == np.float32
        assert set(np.unique(decisions)) <= {0.0, 1.0}
        accs.append(float((decisions == truth).mean()))
    print(f"VAD frame accuracy at 10 dB SNR (harmonic bursts, white noise): "
          + " ".join(f"{a:.3f}" for a in accs))
    assert min(accs) > 0.90


def test_vad_frames_line_up_with_fbank():
    x = np.random.default_rng(0).standard_normal(SR + 123).astype(np.float32) * 0.1
    assert Vad()(x).size == Fbank(FbankConfig()).compute_tensor(x).shape[0]


def test_fill_short_pauses():
    s = np.array([1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0], dtype=np.int8)
    assert fill_short_pauses(s, 3).tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0]
    assert fill_short_pauses(s, 5).tolist() == [1] * 9 + [0, 0]  # trailing gap is not a pause


def test_compute_vad_script(tmp_path, shell_env):
    data = tmp_path / "my data"
    (data / "wav").mkdir(parents=True)
    x, truth = bursts_in_noise(7)
    sf.write(data / "wav" / "a.wav", x, SR)
    # the same audio at 48 kHz: resampled on reading, same frame count
    import torch
    import torchaudio.functional as taf
    x48 = taf.resample(torch.from_numpy(x), SR, 48000).numpy()
    sf.write(data / "wav" / "b.wav", x48, 48000)
    (data / "wav" / "c.wav").write_bytes(b"RIFF not a wav")
    utts = {"s1-a": "a.wav", "s1-b": "b.wav", "s2-c": "c.wav"}
    (data / "wav.scp").write_text("".join(f"{u} {data / 'wav' / w}\n" for u, w in utts.items()))
    (data / "utt2spk").write_text("".join(f"{u} {u[:2]}\n" for u in utts))
    cmd = ["bash", str(ROOT / "steps" / "compute_vad.sh"), "--nj", "2", "--max-fail-frac", "0.5",
           str(data), str(tmp_path / "log"), str(tmp_path / "vad dir")]
    r = subprocess.run(cmd, env=shell_env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    vad = {k: np.asarray(v) for k, v in kaldiio.load_scp(str(data / "vad.scp")).items()}
    assert sorted(vad) == ["s1-a", "s1-b"]
    assert vad["s1-a"].shape == truth.shape
    assert (vad["s1-a"] == truth).mean() > 0.9
    assert abs(vad["s1-b"].size - truth.size) <= 1
    logs = "".join(p.read_text() for p in (tmp_path / "log").glob("*.log"))
    assert "s2-c" in logs and "c.wav" in logs  # the dropped file is named
    # a rerun skips the finished jobs
    r = subprocess.run(cmd, env=shell_env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0
    assert "up to date; skipping" in "".join(p.read_text() for p in (tmp_path / "log").glob("*.log"))
