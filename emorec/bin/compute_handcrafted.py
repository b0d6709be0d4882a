"""Compute one utterance-level feature vector per line of a wav.scp (paper 004 baselines).

Usage: python -m emorec.bin.compute_handcrafted [options] WAV_SCP ARK_OUT SCP_OUT

--feature-set handcrafted: paper 004's 94 frame-mean features (chroma, mel, MFCC, ZCR,
spectral centroid; librosa); egemaps: the 88 eGeMAPSv02 functionals of openSMILE (see
emorec.handcrafted).  Audio is read at --sample-frequency (16 kHz; other rates are
resampled, emorec.audio).  With --vad-scp (a data dir's vad.scp: 0/1 per 25 ms frame
every 10 ms) only the speech frames' samples are used; an utterance without a VAD
entry is an error (the emo7 recipe trims silence into new wavs instead, so its data dirs
have no vad.scp).  Vectors are float32 kaldiio vectors in ARK_OUT, indexed by
SCP_OUT, written as emorec.arkjob describes (tmp names, SCP_OUT.done stamp last);
with --skip-done a job whose outputs and matching stamp exist exits at once.

Bad-input policy (Kaldi's): an utterance whose audio is missing, empty, corrupt, or
whose line is malformed/duplicated, or whose features are not finite, is logged
  WARNING: WAV_SCP:LINE: UTT: REASON
and skipped; the job fails (exit 1, no outputs) when more than --max-fail-frac
(0.05) of its utterances fail, or when none succeeds.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import kaldiio
import numpy as np

from emorec.arkjob import ArkJob, Terminated, catch_signals, digest
from emorec.audio import AudioError, load_audio, parse_wav_scp
from emorec.features import num_frames
from emorec.handcrafted import FEATURE_SETS, get_extractor
from emorec.vad import VadConfig, speech_samples


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m emorec.bin.compute_handcrafted",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--feature-set", required=True, choices=sorted(FEATURE_SETS))
    p.add_argument("--sample-frequency", type=int, default=16000)
    p.add_argument("--vad-scp", help="per-frame 0/1 speech decisions (kaldiio vectors)")
    p.add_argument("--max-fail-frac", type=float, default=0.05)
    p.add_argument("--skip-done", action="store_true",
                   help="exit 0 at once if SCP_OUT and a matching SCP_OUT.done exist")
    p.add_argument("wav_scp")
    p.add_argument("ark_out")
    p.add_argument("scp_out")
    return p


def speech_only(wave, vad, utt, vad_scp, cfg):
    """The samples of the frames ``vad[utt]`` marks as speech."""
    if utt not in vad:
        raise ValueError(f"no entry in {vad_scp}")
    decisions = np.asarray(vad[utt])
    if decisions.size != num_frames(wave.size, cfg.framing()):
        raise ValueError(f"{decisions.size} VAD frames in {vad_scp} for {wave.size} samples")
    speech = speech_samples(wave, decisions, cfg)
    if speech.size == 0:
        raise ValueError(f"{vad_scp} marks no frame as speech")
    return speech


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    me = "compute_handcrafted"
    if not os.path.isfile(args.wav_scp):
        print(f"ERROR: {me}: no such file {args.wav_scp}", file=sys.stderr)
        return 1
    vad_digest = digest(args.vad_scp) if args.vad_scp else "no VAD"
    job = ArkJob(args.ark_out, args.scp_out,
                 digest(args.wav_scp, args.feature_set, str(args.sample_frequency), vad_digest,
                        os.path.abspath(args.ark_out), "emorec-utt-vectors-v1"))
    if args.skip_done and job.is_done():
        print(f"LOG: {me}: {args.scp_out} is complete and up to date; skipping", file=sys.stderr)
        return 0
    try:
        extractor = get_extractor(args.feature_set, args.sample_frequency)
        vad = kaldiio.load_scp(args.vad_scp) if args.vad_scp else None
        vad_cfg = VadConfig(sample_frequency=float(args.sample_frequency))
    except (RuntimeError, OSError, ValueError) as e:
        print(f"ERROR: {me}: {e}", file=sys.stderr)
        return 1

    n_total = n_fail = 0
    t_cpu, audio_sec = time.process_time(), 0.0
    catch_signals()
    try:
        job.start()
        seen = set()
        for lineno, utt, rx, err in parse_wav_scp(args.wav_scp):
            n_total += 1
            try:
                if err:
                    raise ValueError(f"malformed line: {err}")
                if utt in seen:
                    raise ValueError("duplicate utterance id")
                seen.add(utt)
                wave = load_audio(rx, target_sr=args.sample_frequency)
                if vad is not None:
                    wave = speech_only(wave, vad, utt, args.vad_scp, vad_cfg)
                vec = extractor(wave)
                if vec.shape != (extractor.dim,) or not np.all(np.isfinite(vec)):
                    raise ValueError(f"{args.feature_set} features are not {extractor.dim} finite values")
            except (AudioError, ValueError) as e:
                n_fail += 1
                print(f"WARNING: {args.wav_scp}:{lineno}: {utt or '-'}: {rx!r}: {e}", file=sys.stderr)
                continue
            audio_sec += wave.size / args.sample_frequency
            job.add(utt, vec)
        if not job.finish(me, args.wav_scp, n_total, n_fail, args.max_fail_frac, "vectors"):
            return 1
    except Terminated as e:
        print(f"ERROR: {me}: killed by signal {e.args[0]}; removed partial outputs", file=sys.stderr)
        return 128 + int(e.args[0])
    finally:
        job.cleanup()
    cpu = time.process_time() - t_cpu
    print(f"LOG: {me}: {n_total - n_fail} of {n_total} utterances done, {n_fail} failed; "
          f"{args.feature_set} vectors of {extractor.dim}; {audio_sec:.1f} s of audio in "
          f"{cpu:.2f} CPU s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
