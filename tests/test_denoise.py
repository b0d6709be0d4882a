"""Noise reduction (emorec.denoise, spectral gating with noisereduce) and its use in stage 1
of egs/emo7 (emorec.bin.trim_silence --noise-reduction)."""
import kaldiio
import numpy as np
import soundfile as sf
from test_emo7_vad import bursts_in_noise

from emorec.bin import trim_silence
from emorec.denoise import reduce_noise
from emorec.vad import Vad

SR = 16000


def tone_bursts(noise_level: float, seed: int = 0):
    """A 440 Hz tone on 0.6 s of every second for 3 s, plus white noise; and where it is off."""
    t = np.arange(3 * SR) / SR
    on = (t % 1.0) < 0.6
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) * on
    x = tone + noise_level * np.random.default_rng(seed).standard_normal(t.size)
    return x.astype(np.float32), tone, on


def db(x):
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20)


def test_noise_floor_of_a_noisy_tone_drops_and_the_tone_stays():
    x, tone, on = tone_bursts(0.03)
    for noise in (x[~on], None):  # the noise alone (the VAD's non-speech), or the quietest frames
        y = reduce_noise(x, SR, noise=noise)
        assert y.shape == x.shape and y.dtype == np.float32
        assert db(y[~on]) < db(x[~on]) - 12, (db(x[~on]), db(y[~on]))  # the floor: ~-30 dB -> below -42
        assert abs(db(y[on]) - db(tone[on])) < 1.0                       # the tone keeps its level
        assert db(y - tone) < db(x - tone) - 6                           # and the result is nearer the clean tone


def test_a_clean_tone_is_nearly_unchanged():
    x, _, on = tone_bursts(0.0)
    for noise in (x[~on], None):
        y = reduce_noise(x, SR, noise=noise)
        assert db(y - x) < db(x) - 30


def test_trim_silence_reduces_the_noise_of_what_it_keeps(tmp_path):
    x, _ = bursts_in_noise(3, snr_db=10.0)
    src = tmp_path / "src"
    src.mkdir()
    sf.write(src / "a.wav", x, SR)
    (src / "wav.scp").write_text(f"s1-a {src / 'a.wav'}\n")
    (src / "utt2spk").write_text("s1-a s1\n")
    (src / "spk2utt").write_text("s1 s1-a\n")
    with kaldiio.WriteHelper(f"ark,scp:{src / 'vad.ark'},{src / 'vad.scp'}") as w:
        w("s1-a", Vad()(x))
    kept = {}
    for name, opt in (("plain", []), ("nr", ["--noise-reduction"])):
        assert trim_silence.main([*opt, str(src), str(tmp_path / name), str(tmp_path / f"wav_{name}")]) == 0
        kept[name], sr = sf.read(tmp_path / f"wav_{name}" / "s1-a.wav")
        assert sr == SR
    assert kept["nr"].size == kept["plain"].size < x.size  # the same speech frames kept

    def band_db(y, lo, hi):  # power in [lo, hi) Hz
        spec = np.abs(np.fft.rfft(y)) ** 2
        f = np.fft.rfftfreq(y.size, 1 / SR)
        return 10 * np.log10(spec[(f >= lo) & (f < hi)].sum())
    # above the bursts' harmonics there is only the white noise: it drops; the voice band stays
    assert band_db(kept["nr"], 6500, 8000) < band_db(kept["plain"], 6500, 8000) - 10
    assert abs(band_db(kept["nr"], 100, 1000) - band_db(kept["plain"], 100, 1000)) < 1.5
