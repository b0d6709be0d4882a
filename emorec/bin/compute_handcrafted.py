"""Compute one utterance-level feature vector per line of a wav.scp (paper 004 baselines).

Usage: python -m emorec.bin.compute_handcrafted [options] WAV_SCP ARK_OUT SCP_OUT

--feature-set handcrafted: paper 004's 94 frame-mean features (chroma, mel, MFCC, ZCR,
spectral centroid; librosa); egemaps: the 88 eGeMAPSv02 functionals of openSMILE (see
emorec.handcrafted).  Audio is read at --sample-frequency (16 kHz; other rates are
resampled, emorec.audio).  With --vad-scp (a data dir's vad.scp: 0/1 per 25 ms frame
every 10 ms) only the speech frames' samples are used; an utterance without a VAD
entry is an error (the emo7 recipe trims silence into new wavs instead, so its data dirs
have no vad.scp).  Vectors are float32 kaldiio vectors in ARK_OUT, indexed by
SCP_OUT, written as emorec.arkjob describes (tmp names, SCP_OUT last); with --skip-done
a job made from the same inputs and options (SCP_OUT.stamp) exits at once.

Bad-input policy (Kaldi's): an utterance whose audio is missing, empty, corrupt, or
whose line is malformed/duplicated, or whose features are not finite, is logged
  WARNING: WAV_SCP:LINE: UTT: REASON
and skipped; the job fails (exit 1, no outputs) when more than --max-fail-frac
(0.05) of its utterances fail, or when none succeeds.
"""
from __future__ import annotations

import argparse
import sys
import time

import kaldiio
import numpy as np

from emorec.arkjob import Entries, add_job_arguments, open_job, run_job
from emorec.audio import AudioError, load_audio
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
    add_job_arguments(p)
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
    job, status = open_job(me, args, 1, {"feature_set": args.feature_set,
                                         "sample_frequency": args.sample_frequency},
                           inputs=[args.vad_scp] if args.vad_scp else [])
    if job is None:
        return status
    try:
        extractor = get_extractor(args.feature_set, args.sample_frequency)
        vad = kaldiio.load_scp(args.vad_scp) if args.vad_scp else None
        vad_cfg = VadConfig(sample_frequency=float(args.sample_frequency))
    except (RuntimeError, OSError, ValueError) as e:
        print(f"ERROR: {me}: {e}", file=sys.stderr)
        return 1

    entries = Entries(args.wav_scp)
    t_cpu, seconds = time.process_time(), [0.0]

    def body():
        for lineno, utt, rx in entries:
            with entries.guard(lineno, utt):
                try:
                    wave = load_audio(rx, target_sr=args.sample_frequency)
                    if vad is not None:
                        wave = speech_only(wave, vad, utt, args.vad_scp, vad_cfg)
                    vec = extractor(wave)
                    if vec.shape != (extractor.dim,) or not np.all(np.isfinite(vec)):
                        raise ValueError(f"{args.feature_set} features are not {extractor.dim} finite values")
                except (AudioError, ValueError) as e:
                    raise ValueError(f"{rx!r}: {e}") from None
                seconds[0] += wave.size / args.sample_frequency
                job.add(utt, vec)
        return job.finish(me, args.wav_scp, entries.total, entries.failed, args.max_fail_frac, "vectors")

    status = run_job(job, me, body)
    if status:
        return status
    cpu = time.process_time() - t_cpu
    print(f"LOG: {me}: {entries.total - entries.failed} of {entries.total} utterances done, "
          f"{entries.failed} failed; {args.feature_set} vectors of {extractor.dim}; {seconds[0]:.1f} s of "
          f"audio in {cpu:.2f} CPU s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
