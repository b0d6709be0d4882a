"""Reading audio the way Kaldi's ``wav.scp`` names it.

An *rxfilename* (the value column of ``wav.scp``) is either

* a path to a file that libsndfile can decode (wav, flac, ogg, mp3, ...) or, when it
  cannot and ffmpeg is installed, that ffmpeg decodes (m4a, webm, ...), or
* a Kaldi pipe: a shell command ending in ``|`` whose stdout is a decodable
  audio stream, e.g. ``ffmpeg -loglevel error -i a.m4a -f wav -ac 1 - |``.
  The command runs through ``bash -o pipefail -c``; a non-zero exit status is an
  error (its stderr is quoted in the message).

``load_audio`` always returns a float32 mono numpy vector in [-1, 1] at
``target_sr``:

* several channels -> their mean;
* sample-rate policy: a file whose rate differs from ``target_sr`` is
  **resampled by default** (``torchaudio.functional.resample``, windowed sinc); when
  the reduced ratio is awkward (orig / gcd > ``POLY_RATIO_LIMIT``, e.g. TESS's
  24414 Hz -> 16000 is 12207:8000) torchaudio's kernel takes seconds per file to
  build, so ``scipy.signal.resample_poly`` (polyphase, Kaiser window) is used instead;
  with ``on_mismatch='error'`` (``--allow-resample false`` on the command line)
  it is rejected with an ``AudioError`` naming the file and both rates.

Every failure (missing file, empty file, undecodable/corrupt data, zero
samples, failing pipe) raises ``AudioError`` whose message names the
rxfilename, so callers can log ``file:line: utt: reason`` and skip the item; its
``brief`` leaves out the decoders' own words (for a page shown to users).
A truncated file (its header declares more data than it holds) is read short,
as far as it goes, with a warning naming it (``warn``; by default logger ``emorec.audio``).

Bounds, checked before anything is decoded (a small file can declare hours of audio, or
a 1 Hz rate that resampling turns into hours): a sample rate outside
[MIN_RATE, MAX_RATE] is refused, and with ``max_seconds`` so is a duration above it. The
duration is the header's (libsndfile) or the container's (ffprobe); whatever a header
says, no more than ``max_seconds`` of samples (plus one) is ever decoded, so a stream
that hides its length is refused when it overruns.

Not supported (known gaps): Kaldi's extended filenames ``foo.ark:123`` (wav
archives with offsets) and ``[start:end]`` ranges.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import re
import shlex
import shutil
import subprocess
from typing import Callable, Optional, Tuple

import numpy as np
import soundfile

from emorec.fileio import open_text

__all__ = ["AudioError", "audio_problem", "load_audio", "mono_at_rate", "read_audio",
           "resample", "is_pipe", "parse_wav_scp"]

POLY_RATIO_LIMIT = 1000
MIN_RATE, MAX_RATE = 4000, 384000  # Hz: outside, a header is broken or hostile, not audio

log = logging.getLogger(__name__)
# libsndfile's header log says "data : 32000 (should be 15978)" when a chunk is cut short.
_SHORT_DATA_RE = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.M)
_UNKNOWN_SIZE = 0xFFFFFFFF  # streaming writers (ffmpeg to a pipe) leave the size unset


class AudioError(Exception):
    """Audio could not be read; the message names the file and the reason, ``brief`` the
    same without ``detail`` (a decoder's own message)."""

    def __init__(self, brief: str, detail: str = ""):
        super().__init__(f"{brief}: {detail}" if detail else brief)
        self.brief, self.detail = brief, detail


def is_pipe(rxfilename: str) -> bool:
    return rxfilename.rstrip().endswith("|")


def _run_pipe(rxfilename: str) -> bytes:
    cmd = rxfilename.rstrip()[:-1].strip()
    if not cmd:
        raise AudioError(f"{rxfilename!r}: empty pipe command")
    try:
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, check=False)
    except OSError as e:  # bash missing etc.
        raise AudioError(f"{rxfilename!r}: cannot run pipe: {e}") from e
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        tail = " | ".join(err[-3:]) if err else "no stderr"
        raise AudioError(f"{rxfilename!r}: pipe command exited with status "
                         f"{proc.returncode}: {tail}")
    if not proc.stdout:
        raise AudioError(f"{rxfilename!r}: pipe produced no output (empty audio)")
    return proc.stdout


def _check_header(rxfilename: str, sr: float, seconds, max_seconds) -> None:
    """The bounds of the module doc, from a header's rate and duration (None: unknown)."""
    if not MIN_RATE <= sr <= MAX_RATE:
        raise AudioError(f"{rxfilename!r}: sample rate {sr:g} Hz is outside {MIN_RATE}-{MAX_RATE} Hz "
                         f"(a broken or hostile header); not decoded")
    if max_seconds and seconds is not None and seconds > max_seconds:
        raise AudioError(_too_long(rxfilename, f"{seconds:.1f} s", max_seconds))


def _too_long(rxfilename: str, what: str, max_seconds: float) -> str:
    return f"{rxfilename!r}: {what} of audio is longer than the {max_seconds:g} s limit (--max-seconds)"


def _ffprobe(path: str):
    """(sample rate, duration in s or None) of the first audio stream, from the container."""
    proc = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                           "stream=sample_rate:format=duration", "-of", "json", path],
                          stdin=subprocess.DEVNULL, capture_output=True, check=False)
    info = json.loads(proc.stdout or b"{}") if proc.returncode == 0 else {}
    streams = info.get("streams") or []
    if not streams:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no audio stream"]
        raise AudioError(f"{path!r}: cannot decode audio (corrupt or unsupported format)", tail[0])
    duration = info.get("format", {}).get("duration")
    return float(streams[0].get("sample_rate") or 0), float(duration) if duration not in (None, "N/A") else None


def _decode_ffmpeg(path: str, max_seconds) -> Tuple[np.ndarray, int]:
    sr, seconds = _ffprobe(path)
    _check_header(path, sr, seconds, max_seconds)
    # -t: a container that hides its length (a browser's webm) still stops just past the limit
    limit = f"-t {max_seconds + 1:g} " if max_seconds else ""
    try:
        data, sr = soundfile.read(io.BytesIO(_run_pipe(
            f"ffmpeg -nostdin -loglevel error -i {shlex.quote(path)} {limit}-f wav - |")),
            dtype="float32", always_2d=True)
    except Exception as e:  # noqa: BLE001 - ffmpeg failed, or gave no decodable wav
        raise AudioError(f"{path!r}: cannot decode audio (corrupt or unsupported format)",
                         str(e).rsplit(": ", 1)[-1]) from e
    if max_seconds and data.shape[0] > max_seconds * sr:
        raise AudioError(_too_long(path, "more than that", max_seconds))
    return data, sr


def read_audio(rxfilename: str, max_seconds: Optional[float] = None,
               warn: Optional[Callable[[str], None]] = None) -> Tuple[np.ndarray, int]:
    """Decode ``rxfilename`` as it is: float32 array (samples, channels) and its rate.
    ``max_seconds``: refuse longer audio, before decoding it (module doc); ``warn``: called
    with a warning (a truncated file), instead of logging it."""
    if is_pipe(rxfilename):
        source = io.BytesIO(_run_pipe(rxfilename))
    else:
        path = rxfilename
        if not os.path.exists(path):
            raise AudioError(f"{path!r}: no such file")
        if os.path.isdir(path):
            raise AudioError(f"{path!r}: is a directory, not an audio file")
        if os.path.getsize(path) == 0:
            raise AudioError(f"{path!r}: empty file (0 bytes)")
        source = path
    try:
        f = soundfile.SoundFile(source)
    except Exception as e:  # soundfile.LibsndfileError, RuntimeError, EOFError...
        msg = str(e).strip() or type(e).__name__
        if source is not rxfilename or not shutil.which("ffmpeg"):
            raise AudioError(f"{rxfilename!r}: cannot decode audio (corrupt or unsupported format)",
                             msg) from e
        # formats libsndfile lacks (m4a/AAC, webm/opus of a browser recording): ffmpeg
        try:
            data, sr = _decode_ffmpeg(rxfilename, max_seconds)
        except AudioError as e2:
            if not e2.brief.endswith("(corrupt or unsupported format)"):
                raise
            raise AudioError(e2.brief, f"{msg}; ffmpeg: {e2.detail}") from e2
        header_log = ""
    else:
        with f:
            _check_header(rxfilename, f.samplerate, f.frames / max(f.samplerate, 1), max_seconds)
            frames = int(max_seconds * f.samplerate) + 1 if max_seconds else -1
            try:
                if f.subtype == "PCM_16":
                    # libsndfile's own int16 -> float conversion takes twice numpy's time,
                    # for the same values (x / 32768, exact in float32)
                    data = f.read(frames, dtype="int16", always_2d=True).astype(np.float32)
                    data *= np.float32(1 / 32768)
                else:
                    data = f.read(frames, dtype="float32", always_2d=True)
            except Exception as e:  # noqa: BLE001 - corrupt data past a readable header
                raise AudioError(f"{rxfilename!r}: cannot decode audio (corrupt or unsupported format)",
                                 str(e).strip() or type(e).__name__) from e
            sr, header_log = f.samplerate, f.extra_info
        if max_seconds and data.shape[0] > max_seconds * sr:
            raise AudioError(_too_long(rxfilename, "more than that", max_seconds))
    m = _SHORT_DATA_RE.search(header_log)
    if m and int(m.group(2)) < int(m.group(1)) < _UNKNOWN_SIZE:
        (warn or log.warning)(f"{rxfilename!r}: truncated: its header declares {m.group(1)} bytes of audio, "
                              f"it holds {m.group(2)}; read {data.shape[0]} samples ({data.shape[0] / sr:.2f} s)")
    if data.shape[0] == 0:
        raise AudioError(f"{rxfilename!r}: zero-length audio (no samples)")
    if data.shape[1] == 0:
        raise AudioError(f"{rxfilename!r}: audio has no channels")
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{rxfilename!r}: audio contains NaN or Inf samples")
    return data, int(sr)


def load_audio(rxfilename: str, target_sr: int = 16000, on_mismatch: str = "resample") -> np.ndarray:
    """Read ``rxfilename`` as float32 mono at ``target_sr`` (see the module doc for the policy).

    on_mismatch: ``'resample'`` (default) or ``'error'``.
    """
    data, sr = read_audio(rxfilename)
    return mono_at_rate(data, sr, rxfilename, target_sr, on_mismatch)


def mono_at_rate(data: np.ndarray, sr: int, rxfilename: str, target_sr: int = 16000,
                 on_mismatch: str = "resample") -> np.ndarray:
    """``read_audio``'s (samples, channels) at ``sr`` -> float32 mono at ``target_sr``
    (the second half of ``load_audio``, for callers that also need the source rate)."""
    if on_mismatch not in ("resample", "error"):
        raise ValueError(f"on_mismatch must be 'resample' or 'error', not {on_mismatch!r}")
    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    if sr != target_sr:
        if on_mismatch == "error":
            raise AudioError(f"{rxfilename!r}: sample rate {sr} Hz differs from the expected "
                             f"{target_sr} Hz and resampling is disabled "
                             f"(--allow-resample false)")
        mono = resample(mono, sr, target_sr)
        if mono.size == 0:
            raise AudioError(f"{rxfilename!r}: zero-length audio after resampling {sr} -> {target_sr} Hz")
    return mono


def resample(x: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """float32 ``x`` from ``sr`` to ``target_sr`` (see the module doc for the method)."""
    g = math.gcd(sr, target_sr)
    if sr // g > POLY_RATIO_LIMIT:
        from scipy.signal import resample_poly

        return resample_poly(x, target_sr // g, sr // g).astype(np.float32)
    import torch
    import torchaudio.functional as taf

    return taf.resample(torch.from_numpy(x), sr, target_sr).numpy().astype(np.float32)


LFS_POINTER = ("a git-lfs pointer file, not audio: the corpus was cloned without git-lfs "
               "(fetch the audio with 'git lfs install && git lfs pull' in the clone)")


def is_lfs_pointer(path: str) -> bool:
    """A git-lfs pointer (``version https://git-lfs...``, ~130 bytes) in place of a file."""
    try:
        with open(path, "rb") as f:
            return f.read(24) == b"version https://git-lfs."
    except OSError:
        return False


def audio_problem(rx: str, full: bool = False):
    """``(reason or None, sample_rate or None)`` for one rxfilename: plain files are
    checked from their header (exists, non-empty, decodable, at least one sample), pipes
    and, with ``full``, plain files too are decoded completely."""
    try:
        if is_pipe(rx) or full:
            data, sr = read_audio(rx)
            return None, sr
        if not os.path.exists(rx):
            return f"{rx!r}: no such file", None
        if os.path.isdir(rx):
            return f"{rx!r}: is a directory, not an audio file", None
        if os.path.getsize(rx) == 0:
            return f"{rx!r}: empty file (0 bytes)", None
        try:
            info = soundfile.info(rx)
        except Exception as e:
            if is_lfs_pointer(rx):
                return f"{rx!r}: {LFS_POINTER}", None
            return f"{rx!r}: cannot decode audio (corrupt or unsupported format): " \
                   f"{str(e).strip() or type(e).__name__}", None
        if info.frames <= 0:
            return f"{rx!r}: zero-length audio (no samples)", info.samplerate
        if info.channels <= 0:
            return f"{rx!r}: audio has no channels", info.samplerate
        return None, info.samplerate
    except AudioError as e:
        return str(e), None


def parse_wav_scp(path: str):
    """Yield ``(lineno, utt, rxfilename, error)`` for each non-blank line of a wav.scp.

    The key is the first whitespace-separated field; the rxfilename is the rest of the
    line with surrounding whitespace removed (so it may contain spaces, as in Kaldi).
    ``error`` is None or a reason string for a malformed line.
    """
    with open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                yield lineno, "", "", "blank line"
                continue
            parts = line.split(None, 1)
            if len(parts) < 2:
                yield lineno, parts[0], "", "no rxfilename after the utterance id"
                continue
            yield lineno, parts[0], parts[1].strip(), None
