"""emorec.features / emorec.audio / emorec.bin.check_audio against the real libraries."""

import subprocess
import sys
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio.compliance.kaldi as K

from emorec.audio import AudioError, load_audio, read_audio
from emorec.features import (EPSILON, Fbank, FbankConfig, TooShortError, band_blocks, cmvn,
                             mel_banks)

SR = 16000


def speechlike(n, seed=0, sr=SR):
    """Noise through a resonator with a slow amplitude envelope, plus a chirp."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    e = rng.standard_normal(n)
    x = np.convolve(e, [0.9, -1.8, 1.0], "same") * 0.02 * (1.2 + np.sin(2 * np.pi * 3 * t))
    x += 0.2 * np.sin(2 * np.pi * (150 + 1500 * t) * t) + 0.02 * rng.standard_normal(n)
    return x


def ta_fbank(x, cfg):
    return K.fbank(torch.as_tensor(x * cfg.wave_scale)[None], **cfg.torchaudio_kwargs()).numpy()


@pytest.mark.parametrize("snip_edges", [True, False])
@pytest.mark.parametrize("n", [400, 401, 560, 1234, 16000, 40017])
def test_equals_torchaudio_kaldi_fft512(n, snip_edges):
    cfg = FbankConfig(fft_size=512, snip_edges=snip_edges)
    x = speechlike(n, seed=n)
    # Same algorithm: in float64 the two agree to rounding.
    ours64 = Fbank(cfg, dtype=torch.float64)(x)
    ref64 = ta_fbank(x, cfg)
    assert ours64.shape == ref64.shape == (Fbank(cfg).num_frames(n), 128)
    np.testing.assert_allclose(ours64, ref64, atol=1e-8, rtol=0)
    # float32 (what we write): within torchaudio's own float32 rounding of the float64
    # reference (tiny-energy channels lose digits in any float32 FFT), and ~1e-4 typically.
    x32 = x.astype(np.float32)
    ours32 = Fbank(cfg)(x32)
    ta32 = ta_fbank(torch.from_numpy(x32), cfg)
    ref = ta_fbank(x32.astype(np.float64), cfg)
    assert ours32.dtype == np.float32
    err_ours, err_ta = np.abs(ours32 - ref), np.abs(ta32 - ref)
    assert err_ours.max() <= 2 * err_ta.max() + 1e-4
    assert np.median(np.abs(ours32 - ta32)) < 1e-5
    assert np.abs(ours32 - ta32).max() < 5e-2


@pytest.mark.parametrize("raw_energy,htk_compat", [(True, False), (False, True)])
def test_energy_equals_torchaudio(raw_energy, htk_compat):
    cfg = FbankConfig(fft_size=512, use_energy=True, raw_energy=raw_energy, htk_compat=htk_compat,
                      energy_floor=1.0)
    x = speechlike(5000, seed=5)
    ours = Fbank(cfg, dtype=np.float64)(x)
    assert ours.shape == (Fbank(cfg).num_frames(5000), 129)
    np.testing.assert_allclose(ours, ta_fbank(x, cfg), atol=1e-8, rtol=0)


def test_white_noise_float32_within_1e4ish():
    cfg = FbankConfig(fft_size=512)
    x = (0.1 * np.random.default_rng(3).standard_normal(SR * 2)).astype(np.float32)
    d = np.abs(Fbank(cfg)(x) - ta_fbank(torch.from_numpy(x), cfg))
    # the lowest channels (one FFT bin near DC, damped by pre-emphasis) lose most digits
    assert d.max() < 1e-3 and np.percentile(d, 99) < 1e-4 and d[:, 8:].max() < 3e-4


def test_too_short_policy():
    fb = Fbank(FbankConfig())
    with pytest.raises(TooShortError, match="399 samples.*shorter than one frame"):
        fb(np.zeros(399, np.float32))
    assert fb(np.zeros(400, np.float32)).shape == (1, 128)
    # snip_edges=false: frames depend on the shift only (Kaldi), reflection at the ends
    fb2 = Fbank(FbankConfig(snip_edges=False))
    assert fb2(speechlike(399)).shape == (2, 128)
    assert fb2(speechlike(100)).shape == (1, 128)  # window reflected more than once
    with pytest.raises(TooShortError):
        fb2(np.zeros(50, np.float32))


def test_no_empty_channel_with_fft1024():
    x = speechlike(SR).astype(np.float32)
    k512 = FbankConfig(fft_size=512)
    kaldi = ta_fbank(x, k512)  # Kaldi/torchaudio default FFT for 25 ms at 16 kHz
    empty = np.flatnonzero(np.all(kaldi == np.float32(np.log(EPSILON)), axis=0))
    assert empty.tolist() == [3]  # one mel triangle holds no FFT bin: constant log(eps)
    assert np.flatnonzero((mel_banks(k512) > 0).sum(1) == 0).tolist() == [3]
    ours = Fbank(FbankConfig())(x)  # fft_size=1024 default
    assert ours.shape[1] == 128
    assert ((mel_banks(FbankConfig()) > 0).sum(1) >= 1).all()
    assert (ours.std(axis=0) > 1e-3).all()
    assert (ours.min(axis=0) > np.log(EPSILON) + 1).all()


def test_compute_many_equals_single():
    fb = Fbank(FbankConfig())
    fb.chunk_frames = 100  # force several batches and splits
    waves = [speechlike(n, seed=n).astype(np.float32) for n in (400, 5000, 16000, 777)]
    many = fb.compute_many(waves)
    for w, m in zip(waves, many):
        np.testing.assert_allclose(m, fb(w), atol=1e-5)


@pytest.mark.parametrize("fft_size,num_mel_bins,per_block", [(512, 128, 8), (1024, 128, 8),
                                                               (1024, 80, 3), (400, 23, 128)])
def test_banded_mel_product_equals_dense(fft_size, num_mel_bins, per_block):
    cfg = FbankConfig(fft_size=fft_size, num_mel_bins=num_mel_bins, round_to_power_of_two=False)
    banks = mel_banks(cfg)
    blocks = band_blocks(banks, per_block)
    rebuilt = np.zeros_like(banks)
    for b0, b1, c0, c1, w in blocks:
        rebuilt[c0:c1, b0:b1] += w.T
    np.testing.assert_array_equal(rebuilt, banks)  # every weight in exactly one block
    power = np.random.default_rng(0).gamma(0.5, 1e4, (37, banks.shape[1])).astype(np.float64)
    banded = np.zeros((37, num_mel_bins))
    for b0, b1, c0, c1, w in blocks:
        banded[:, c0:c1] = power[:, b0:b1] @ w
    np.testing.assert_allclose(banded, power @ banks.T.astype(np.float64), rtol=1e-12, atol=0)


def test_rfft_rows_is_scipy_rfft_without_importing_scipy_fft(shell_env):
    """The feature jobs' FFT loads pocketfft's extension alone (no `import scipy.fft`,
    ~0.25 CPU s); its results are scipy.fft.rfft's, bit for bit, and a later import of
    scipy.fft in the same process still works."""
    code = """
import sys
import numpy as np
from emorec.features import rfft_rows
f = rfft_rows()
assert 'scipy.fft' not in sys.modules, 'pocketfft not found where scipy keeps it'
import scipy.fft
rng = np.random.default_rng(0)
for dtype in (np.float32, np.float64):
    for shape in ((7, 1024), (512, 512), (3, 400)):
        a = rng.standard_normal(shape).astype(dtype)
        ours, ref = f(a), scipy.fft.rfft(a, axis=1)
        assert ours.dtype == ref.dtype and np.array_equal(ours, ref), (dtype, shape)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=shell_env)
    assert r.returncode == 0, r.stderr


def test_mel_banks_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOREC_CACHE", str(tmp_path))
    cfg = FbankConfig(num_mel_bins=40)
    ref = K.get_mel_banks(40, cfg.padded_window_size, cfg.sample_frequency, cfg.low_freq,
                          cfg.high_freq, 100.0, -500.0, 1.0)[0].numpy()
    first = mel_banks(cfg)  # computed by torch, then stored
    (cached,) = tmp_path.glob("mel_banks-*.npy")
    second = mel_banks(cfg)  # read back
    np.testing.assert_array_equal(first[:, :-1], ref)
    np.testing.assert_array_equal(second, first)
    assert not first[:, -1].any()  # Nyquist column
    cached.write_bytes(b"truncated")  # a damaged cache entry is recomputed and replaced
    np.testing.assert_array_equal(mel_banks(cfg), first)
    np.testing.assert_array_equal(np.load(cached), first)


def test_feature_job_does_not_import_torch(tmp_path, shell_env, monkeypatch):
    monkeypatch.setenv("EMOREC_CACHE", str(tmp_path / "cache"))
    sf.write(tmp_path / "a.wav", speechlike(8000).astype(np.float32) * 0.5, SR)
    (tmp_path / "wav.scp").write_text(f"a {tmp_path / 'a.wav'}\n")
    mel_banks(FbankConfig())  # the cache is warm, as for every job after the first
    code = ("import sys; from emorec.bin import compute_fbank; "
            f"rc = compute_fbank.main({[str(tmp_path / f) for f in ('wav.scp', 'a.ark', 'a.scp')]}); "
            "assert rc == 0 and 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(shell_env, EMOREC_CACHE=str(tmp_path / "cache")))
    assert r.returncode == 0, r.stderr


def test_config_file(tmp_path):
    conf = tmp_path / "fbank.conf"
    conf.write_text("# comment\n--num-mel-bins=80  # trailing\n--fft-size=512\n"
                    "--snip-edges=false\n--dither=0\n")
    cfg = FbankConfig.from_file(str(conf))
    assert (cfg.num_mel_bins, cfg.padded_window_size, cfg.snip_edges) == (80, 512, False)
    conf.write_text("--num-mel-bins=80\n--bogus=1\n")
    with pytest.raises(ValueError, match=r"fbank.conf:2: unknown option --bogus"):
        FbankConfig.from_file(str(conf))
    for recipe in ("iemocap", "voxceleb"):
        c = FbankConfig.from_file(f"egs/{recipe}/conf/fbank.conf")
        assert (c.num_mel_bins, c.fft_size, c.frame_length, c.frame_shift, c.dither,
                c.sample_frequency) == (128, 1024, 25.0, 10.0, 0.0, 16000.0)


def test_cmvn():
    rng = np.random.default_rng(0)
    f = (rng.standard_normal((50, 128)) * 3 + 7).astype(np.float32)
    g = cmvn(f)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(g.std(0), 1, atol=1e-4)
    t = cmvn(torch.from_numpy(f))
    np.testing.assert_allclose(t.numpy(), g, atol=1e-5)
    assert np.all(cmvn(np.ones((1, 4), np.float32)) == 0)
    np.testing.assert_allclose(cmvn(f, norm_vars=False).std(0), f.std(0), rtol=1e-5)


# ---- audio ---------------------------------------------------------------------

@pytest.mark.parametrize("fmt,subtype", [("WAV", "PCM_16"), ("FLAC", "PCM_16"), ("WAV", "PCM_24"),
                                          ("WAV", "FLOAT")])
def test_read_audio_equals_libsndfile_float(tmp_path, fmt, subtype):
    """16-bit audio is read as int16 and scaled by numpy (faster); the samples are
    libsndfile's float32 ones exactly, extremes included."""
    rng = np.random.default_rng(1)
    x = rng.integers(-32768, 32768, size=(SR, 2)).astype(np.int16)
    x[:2] = [[-32768, 32767], [0, -1]]
    p = tmp_path / f"a.{fmt.lower()}"
    sf.write(p, x, SR, format=fmt, subtype=subtype)
    data, sr = read_audio(str(p))
    ref, _ = sf.read(p, dtype="float32", always_2d=True)
    assert sr == SR and data.dtype == np.float32
    np.testing.assert_array_equal(data, ref)


def test_resample_44k_stereo(tmp_path):
    sr = 44100
    t = np.arange(sr) / sr
    left, right = np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 440 * t)
    p = tmp_path / "st.wav"
    sf.write(p, np.stack([left, right], 1) * 0.5, sr)
    y = load_audio(str(p))
    assert y.dtype == np.float32 and y.ndim == 1 and y.size == SR
    # mean of channels, 440 Hz preserved
    assert abs(np.abs(y[1000:-1000]).max() - 0.375) < 0.01
    spec = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spec) * SR / y.size - 440) < 2
    with pytest.raises(AudioError, match=r"st\.wav.*44100 Hz.*16000 Hz.*--allow-resample false"):
        load_audio(str(p), on_mismatch="error")


def test_pipes(tmp_path):
    p = tmp_path / "a b.wav"
    x = (0.1 * np.random.default_rng(0).standard_normal(8000)).astype(np.float32)
    sf.write(p, x, SR, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(f"cat '{p}' |"), x)
    with pytest.raises(AudioError, match="exited with status 3"):
        load_audio("echo oops >&2; exit 3 |")
    with pytest.raises(AudioError, match="no output"):
        load_audio("true |")
    if shutil.which("ffmpeg"):
        m4a = tmp_path / "a.m4a"
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(p), "-c:a", "aac",
                        str(m4a)], check=True)
        y = load_audio(f"ffmpeg -loglevel error -i '{m4a}' -f wav -ac 1 -ar 16000 - |")
        assert abs(y.size - x.size) < 2048


def _bad_files(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, np.zeros(800, np.float32), SR)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00junkjunkjunk" * 10)
    zero = tmp_path / "zero.wav"
    sf.write(zero, np.zeros(0, np.float32), SR)
    return good, empty, corrupt, zero, tmp_path / "missing.wav"


def test_load_audio_errors(tmp_path):
    good, empty, corrupt, zero, missing = _bad_files(tmp_path)
    assert load_audio(str(good)).size == 800
    for path, msg in ((empty, "empty file"), (corrupt, "cannot decode"),
                      (zero, "zero-length"), (missing, "no such file")):
        with pytest.raises(AudioError, match=msg) as e:
            load_audio(str(path))
        assert path.name in str(e.value)


def test_check_audio(tmp_path, shell_env):
    good, empty, corrupt, zero, missing = _bad_files(tmp_path)
    scp = tmp_path / "wav.scp"
    scp.write_text(f"u1 {good}\nu2 {missing}\nu3 {corrupt}\nu4 {empty}\nu5 cat '{good}' |\n"
                   f"u6 {zero}\nu7 false |\n")
    r = subprocess.run([sys.executable, "-m", "emorec.bin.check_audio", str(scp)],
                       capture_output=True, text=True, env=shell_env)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert [ln.split(": ")[0:2] for ln in lines] == [
        [f"{scp}:2", "u2"], [f"{scp}:3", "u3"], [f"{scp}:4", "u4"], [f"{scp}:6", "u6"],
        [f"{scp}:7", "u7"]]
    assert "no such file" in lines[0] and "corrupt" in lines[1] and "empty" in lines[2]
    scp.write_text(f"u1 {good}\nu5 cat '{good}' |\n")
    r = subprocess.run([sys.executable, "-m", "emorec.bin.check_audio", str(scp)],
                       capture_output=True, text=True, env=shell_env)
    assert r.returncode == 0 and r.stdout == ""
