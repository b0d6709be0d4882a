"""Audio bombs (emorec.audio): a sample rate outside 4-384 kHz and audio longer than
max_seconds are refused from the header or the container (ffprobe) before decoding; a
stream that hides its length is decoded no further than the limit and refused; the
refusal names the limit; AudioError.brief carries no decoder text."""
import struct
import subprocess

import numpy as np
import pytest
import soundfile

from emorec.audio import AudioError, read_audio


def _wav_declaring_rate(path, rate):
    """An 8 KB 16-bit wav of 8 kHz samples whose header says ``rate`` Hz."""
    soundfile.write(path, np.zeros(4000), 8000, subtype="PCM_16")
    b = bytearray(path.read_bytes())
    b[24:28], b[28:32] = struct.pack("<I", rate), struct.pack("<I", 2 * rate)
    path.write_bytes(bytes(b))


@pytest.mark.parametrize("rate", [1, 3999, 400000])
def test_sample_rate_out_of_bounds_is_refused(tmp_path, rate):
    path = tmp_path / "bomb.wav"
    _wav_declaring_rate(path, rate)
    with pytest.raises(AudioError, match=f"sample rate {rate} Hz is outside 4000-384000 Hz.*not decoded"):
        read_audio(str(path))


def test_duration_cap_from_the_header(tmp_path):
    flac = tmp_path / "three minutes of silence.flac"
    soundfile.write(flac, np.zeros(16000 * 180, np.int16), 16000)
    assert flac.stat().st_size < 100_000  # small on disk, 3 minutes decoded
    with pytest.raises(AudioError, match=r"180\.0 s of audio is longer than the 60 s limit \(--max-seconds\)"):
        read_audio(str(flac), max_seconds=60)
    data, sr = read_audio(str(flac), max_seconds=200)
    assert data.shape == (16000 * 180, 1) and sr == 16000
    assert read_audio(str(flac))[0].shape[0] == 16000 * 180  # no limit by default (the recipes)


def test_duration_cap_through_ffmpeg(tmp_path):
    """m4a (its container states the duration) and webm written to a pipe (no duration in
    the header: a browser recording's case) are both refused; a short one is read."""
    m4a, webm, short = tmp_path / "long.m4a", tmp_path / "long.webm", tmp_path / "short.m4a"
    tone = ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=16000"]
    subprocess.run(tone + ["-t", "20", str(m4a)], check=True)
    subprocess.run(tone + ["-t", "2", str(short)], check=True)
    with open(webm, "wb") as f:
        subprocess.run(tone + ["-t", "20", "-c:a", "libopus", "-f", "webm", "-"], stdout=f, check=True)
    with pytest.raises(AudioError, match=r"20\.\d s of audio is longer than the 5 s limit"):
        read_audio(str(m4a), max_seconds=5)
    with pytest.raises(AudioError, match=r"of audio is longer than the 5 s limit"):
        read_audio(str(webm), max_seconds=5)
    data, sr = read_audio(str(short), max_seconds=5)
    assert sr == 16000 and abs(data.shape[0] - 32000) < 2000


def test_undecodable_brief_has_no_decoder_text(tmp_path):
    bad = tmp_path / "clip.m4a"
    bad.write_bytes(b"not audio at all " * 20)
    with pytest.raises(AudioError) as e:
        read_audio(str(bad))
    assert e.value.brief == f"{str(bad)!r}: cannot decode audio (corrupt or unsupported format)"
    assert "Format not recognised" in str(e.value) and "ffmpeg" in str(e.value)  # the full text for logs
