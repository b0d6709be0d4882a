"""Remove the non-speech frames (vad.scp, steps/compute_vad.sh) from every utterance of a
data dir and drop the ones left shorter than --min-duration.

Usage: python -m emorec.bin.trim_silence [--min-duration 1.0] [--noise-reduction] SRC_DIR DST_DIR WAV_DIR

The audio is read at 16 kHz (resampled on reading), with --noise-reduction its stationary
noise is gated out (emorec.denoise.reduce_noise, the noise profile from the utterance's
non-speech frames; paper 004's order: sample rate, noise reduction, silence removal; the
VAD decisions were made on the original audio), the samples of the speech frames are
kept (pauses shorter than the VAD's min_pause are speech, so they stay) and written as
16-bit PCM WAV_DIR/<utt>.wav; DST_DIR gets the same lists as SRC_DIR for the kept
utterances, wav.scp naming the trimmed files, utt2dur their durations, and no vad.scp
(it described the untrimmed audio).  A wav already in WAV_DIR is reused, so a rerun after
a kill continues; delete WAV_DIR to trim again with another VAD.  Unreadable audio, or a
VAD whose frame count disagrees with the audio, is logged as "WARNING: FILE:LINE: UTT:
REASON" and dropped; more than --max-fail-frac (5%) of such failures is an error.
"""
from __future__ import annotations

import argparse
import os
import sys

import kaldiio
import numpy as np
import soundfile

from emorec.audio import AudioError, load_audio, parse_wav_scp
from emorec.data.datadir import subset_data_dir
from emorec.denoise import reduce_noise
from emorec.fileio import DataDirError, atomic_write, write_kv
from emorec.features import num_frames
from emorec.vad import VadConfig, speech_samples


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emorec.bin.trim_silence",
                                 description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--min-duration", type=float, default=1.0, help="seconds (1.0)")
    ap.add_argument("--max-fail-frac", type=float, default=0.05)
    ap.add_argument("--noise-reduction", action="store_true",
                    help="gate out stationary noise before removing the silence (emorec.denoise)")
    ap.add_argument("--vad-config", help="the VAD option file vad.scp was made with (its "
                                         "frame length and shift cut the audio)")
    ap.add_argument("src_dir")
    ap.add_argument("dst_dir")
    ap.add_argument("wav_dir")
    a = ap.parse_args(argv)
    me = "trim_silence"
    try:
        cfg = VadConfig.from_file(a.vad_config)
    except (OSError, ValueError) as e:
        print(f"{me}: ERROR: {e}", file=sys.stderr)
        return 1
    sr = int(cfg.sample_frequency)
    wav_scp, vad_scp = os.path.join(a.src_dir, "wav.scp"), os.path.join(a.src_dir, "vad.scp")
    for f in (wav_scp, vad_scp):
        if not os.path.isfile(f):
            print(f"{me}: ERROR: no such file {f}", file=sys.stderr)
            return 1
    vad = kaldiio.load_scp(vad_scp)
    os.makedirs(a.wav_dir, exist_ok=True)
    wav_dir = os.path.abspath(a.wav_dir)
    kept, utt2dur, n_total, n_fail, n_short = {}, {}, 0, 0, 0
    for lineno, utt, rx, err in parse_wav_scp(wav_scp):
        n_total += 1
        out = os.path.join(wav_dir, f"{utt}.wav")
        try:
            if err:
                raise ValueError(f"malformed line: {err}")
            if os.path.isfile(out):
                n = soundfile.info(out).frames
            else:
                if utt not in vad:
                    raise ValueError(f"no VAD in {vad_scp}")
                wave = load_audio(rx, target_sr=sr)
                decisions = np.asarray(vad[utt])
                if decisions.size != num_frames(wave.size, cfg.framing()):
                    raise ValueError(f"{decisions.size} VAD frames in {vad_scp} for "
                                     f"{wave.size} samples of {rx!r}")
                if a.noise_reduction:
                    wave = reduce_noise(wave, sr, noise=speech_samples(wave, 1 - decisions, cfg))
                speech = speech_samples(wave, decisions, cfg)
                n = speech.size
                if n >= a.min_duration * sr:
                    with atomic_write(out, "wb") as f:
                        soundfile.write(f, speech, sr, subtype="PCM_16", format="WAV")
        except (AudioError, ValueError, RuntimeError) as e:
            n_fail += 1
            print(f"WARNING: {wav_scp}:{lineno}: {utt or '-'}: {e}", file=sys.stderr)
            continue
        if n < a.min_duration * sr:
            n_short += 1
            print(f"LOG: {me}: {utt}: {n / sr:.2f} s of speech < {a.min_duration:g} s; dropped",
                  file=sys.stderr)
            continue
        kept[utt] = out
        utt2dur[utt] = f"{n / sr:.3f}"
    if n_total == 0 or n_fail > a.max_fail_frac * n_total:
        print(f"{me}: ERROR: {n_fail} of {n_total} utterances of {wav_scp} failed "
              f"(> {a.max_fail_frac:.0%})", file=sys.stderr)
        return 1
    if not kept:
        print(f"{me}: ERROR: no utterance of {wav_scp} has {a.min_duration:g} s of speech",
              file=sys.stderr)
        return 1
    try:
        subset_data_dir(a.src_dir, a.dst_dir, kept)
    except (OSError, DataDirError) as e:
        print(f"{me}: ERROR: {e}", file=sys.stderr)
        return 1
    write_kv(os.path.join(a.dst_dir, "wav.scp"), kept)
    write_kv(os.path.join(a.dst_dir, "utt2dur"), utt2dur)
    for stale in ("vad.scp", "feats.scp", "utt2num_frames"):
        p = os.path.join(a.dst_dir, stale)
        if os.path.exists(p):
            os.remove(p)
    print(f"{me}: {len(kept)} of {n_total} utterances kept; {n_short} shorter than "
          f"{a.min_duration:g} s after silence removal, {n_fail} failed")
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
