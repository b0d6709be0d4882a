"""Utterance vectors of the paper-004 baselines: the 94 hand-crafted features, eGeMAPS,
the VAD cut, and steps/make_handcrafted.sh on a small data dir with a bad wav."""
from __future__ import annotations

import os
import subprocess
import sys

import kaldiio
import numpy as np
import pytest
import soundfile

from emorec.handcrafted import Egemaps, Handcrafted, get_extractor

SR = 16000


def tone(freq, seconds=2.0, amp=0.3):
    t = np.arange(int(SR * seconds)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_handcrafted_dimensions_and_layout():
    ex = Handcrafted()
    v = ex(tone(440.0))
    assert v.shape == (94,) and v.dtype == np.float32 and np.all(np.isfinite(v))
    assert ex.dim == 94 and len(ex.names) == 94
    assert ex.names[:12] == [f"chroma{i}" for i in range(1, 13)]
    assert ex.names[12] == "logmel1" and ex.names[71] == "logmel60"
    assert ex.names[72] == "mfcc1" and ex.names[91] == "mfcc20"
    assert ex.names[92:] == ["zero_crossing_rate", "spectral_centroid"]


@pytest.mark.parametrize("freq", [500.0, 1000.0, 2500.0])
def test_pure_tone_zcr_and_centroid(freq):
    v = Handcrafted()(tone(freq, seconds=6.0))
    # a sine crosses zero twice per period: 2 f / sr crossings per sample (the two
    # centred edge frames, half padding, pull the 6 s mean down by about 1%)
    assert v[92] == pytest.approx(2 * freq / SR, rel=0.02)
    # all the energy sits at f: the spectral centroid is f
    assert v[93] == pytest.approx(freq, rel=0.01)


def test_pure_tone_chroma_and_mel_peak():
    import librosa

    v = Handcrafted()(tone(1000.0))
    # 1000 Hz is B5 + 20 cents: pitch class B (index 11, chroma starts at C)
    assert int(np.argmax(v[:12])) == 11
    assert v[11] == pytest.approx(1.0, abs=1e-3)     # frames scaled to a maximum of 1
    # the loudest mel band is the one whose centre is nearest 1000 Hz
    centres = librosa.mel_frequencies(n_mels=62, fmax=SR / 2)[1:-1]
    assert int(np.argmax(v[12:72])) == int(np.argmin(np.abs(centres - 1000.0)))


def test_louder_tone_raises_only_log_mel_levels():
    ex = Handcrafted()
    soft, loud = ex(tone(700.0, amp=0.05)), ex(tone(700.0, amp=0.5))
    # 20 dB more amplitude = 100x power = +log(100) in every (non-floored) mel band
    peak = 12 + int(np.argmax(soft[12:72]))
    assert loud[peak] - soft[peak] == pytest.approx(np.log(100.0), abs=1e-3)
    np.testing.assert_allclose(loud[:12], soft[:12], atol=1e-4)       # chroma is scale-free
    np.testing.assert_allclose(loud[92:], soft[92:], rtol=1e-4)       # ZCR, centroid too


def test_egemaps_is_88_finite_functionals():
    ex = get_extractor("egemaps")
    assert isinstance(ex, Egemaps)
    rng = np.random.default_rng(0)
    wave = tone(180.0) * (1 + 0.3 * np.sin(np.linspace(0, 20, 2 * SR))).astype(np.float32)
    wave += 0.01 * rng.standard_normal(wave.size).astype(np.float32)
    v = ex(wave)
    assert ex.dim == 88 and v.shape == (88,) and np.all(np.isfinite(v))
    f0_mean = v[ex.names.index("F0semitoneFrom27.5Hz_sma3nz_amean")]
    # 180 Hz is 12 * log2(180 / 27.5) = 32.5 semitones above 27.5 Hz
    assert f0_mean == pytest.approx(12 * np.log2(180 / 27.5), abs=0.5)


def test_unknown_feature_set_is_named():
    with pytest.raises(ValueError, match="unknown feature set 'mfcc'"):
        get_extractor("mfcc")


def test_vad_scp_keeps_only_the_speech_frames(tmp_path):
    """A tone with 1 s of silence on each side: with the VAD the vector is the tone's."""
    from emorec.bin import compute_handcrafted

    wave = np.concatenate([np.zeros(SR, np.float32), tone(600.0, seconds=1.5), np.zeros(SR, np.float32)])
    soundfile.write(tmp_path / "a.wav", wave, SR, subtype="FLOAT")
    (tmp_path / "wav.scp").write_text(f"spk-a {tmp_path / 'a.wav'}\n")
    n_frames = 1 + (wave.size - 400) // 160
    decisions = ((np.arange(n_frames) * 160 >= SR) & (np.arange(n_frames) * 160 + 400 <= SR + 24000))
    kaldiio.save_ark(str(tmp_path / "vad.ark"), {"spk-a": decisions.astype(np.float32)},
                     scp=str(tmp_path / "vad.scp"))
    args = ["--feature-set", "handcrafted", str(tmp_path / "wav.scp"), str(tmp_path / "v.ark"),
            str(tmp_path / "v.scp")]
    assert compute_handcrafted.main(["--vad-scp", str(tmp_path / "vad.scp")] + args) == 0
    with_vad = kaldiio.load_scp(str(tmp_path / "v.scp"))["spk-a"]
    # frames 100..247 are speech: samples 16000 .. 247 * 160 + 400 = 39920 (the tone's first 23920)
    np.testing.assert_allclose(with_vad, Handcrafted()(wave[SR:39920]), rtol=1e-5, atol=1e-7)
    assert compute_handcrafted.main(args) == 0
    without = kaldiio.load_scp(str(tmp_path / "v.scp"))["spk-a"]
    assert without[92] < 0.7 * with_vad[92]        # the silence lowers the mean ZCR
    kaldiio.save_ark(str(tmp_path / "vad.ark"), {"spk-a": np.ones(n_frames - 3, np.float32)},
                     scp=str(tmp_path / "vad.scp"))
    assert compute_handcrafted.main(["--vad-scp", str(tmp_path / "vad.scp")] + args) == 1


def _data_dir(tmp_path, name="my data"):
    """A data dir (name with a space) of 4 speakers x 5 tones and one empty wav."""
    d = tmp_path / name
    wavs = tmp_path / "wav dir"
    d.mkdir()
    wavs.mkdir()
    scp, u2s = [], []
    for s in range(4):
        for i in range(5):
            utt = f"spk{s}-utt{i}"
            path = wavs / f"{utt}.wav"
            sr = 22050 if i == 0 else SR   # resampled on reading
            t = np.arange(sr) / sr
            soundfile.write(path, 0.3 * np.sin(2 * np.pi * (300 + 100 * i) * t), sr)
            scp.append(f"{utt} {path}")
            u2s.append(f"{utt} spk{s}")
    (wavs / "spk3-utt9.wav").write_bytes(b"")
    scp.append(f"spk3-utt9 {wavs / 'spk3-utt9.wav'}")
    u2s.append("spk3-utt9 spk3")
    (d / "wav.scp").write_text("".join(sorted(x + "\n" for x in scp)))
    (d / "utt2spk").write_text("".join(sorted(x + "\n" for x in u2s)))
    spk2utt = {}
    for line in sorted(u2s):
        u, s = line.split()
        spk2utt.setdefault(s, []).append(u)
    (d / "spk2utt").write_text("".join(f"{s} {' '.join(us)}\n" for s, us in sorted(spk2utt.items())))
    return d


def test_make_handcrafted_step(tmp_path, shell_env, emorec_root):
    d = _data_dir(tmp_path)
    cmd = ["bash", str(emorec_root / "steps/make_handcrafted.sh"), "--nj", "2",
           "--max-fail-frac", "0.1", str(d), str(tmp_path / "log"), str(tmp_path / "vec dir")]
    r = subprocess.run(cmd, env=shell_env, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 of 21 utterances got no handcrafted vector" in r.stdout
    assert "spk3-utt9" in r.stdout and "empty file" in r.stdout
    vecs = dict(kaldiio.load_scp(str(d / "handcrafted.scp")))
    assert sorted(vecs) == sorted(f"spk{s}-utt{i}" for s in range(4) for i in range(5))
    keys = [line.split()[0] for line in (d / "handcrafted.scp").read_text().splitlines()]
    assert keys == sorted(keys, key=lambda k: k.encode())
    wave, _ = soundfile.read(tmp_path / "wav dir" / "spk1-utt1.wav", dtype="float32")
    np.testing.assert_allclose(vecs["spk1-utt1"], Handcrafted()(wave), rtol=1e-5)
    logs = sorted((tmp_path / "log").glob("make_handcrafted_my data.*.log"))
    assert len(logs) == 2 and all("# Ended (code 0)" in p.read_text() for p in logs)
    # rerun, even with a newer wav.scp of the same content: made from the same inputs, skipped
    os.utime(d / "wav.scp", ns=((d / "handcrafted.scp").stat().st_mtime_ns + 10**9,) * 2)
    r = subprocess.run(cmd, env=shell_env, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and "handcrafted.scp is up to date; skipping" in r.stderr, r.stdout + r.stderr
    # the combined scp lost: both jobs are complete and skipped
    (d / "handcrafted.scp").unlink()
    r = subprocess.run(cmd, env=shell_env, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert all("up to date; skipping" in p.read_text() for p in logs)
    # the 5% rule: 1 bad wav of 21 fails a 1% policy, and no scp is left
    (d / "handcrafted.scp").unlink()
    r = subprocess.run(cmd[:5] + ["0.01"] + cmd[6:], env=shell_env, capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode != 0
    assert not (d / "handcrafted.scp").exists()


def test_egemaps_without_opensmile_fails_naming_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "opensmile", None)   # as if the wheel were not installed
    with pytest.raises(RuntimeError, match="openSMILE Python package 'opensmile'"):
        get_extractor("egemaps")
