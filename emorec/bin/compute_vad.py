"""Statistical-model VAD (emorec.vad) for every utterance of a wav.scp into a kaldiio ark/scp.

Usage: python -m emorec.bin.compute_vad [options] WAV_SCP ARK_OUT SCP_OUT
  e.g. python -m emorec.bin.compute_vad --config conf/vad.conf \\
         data/x/split4/1/wav.scp /abs/vad/vad_x.1.ark vad/vad_x.1.scp

Each utterance gets a float32 vector of 0/1, one entry per 25 ms / 10 ms frame of the
features (same count as the fbank matrix of the same audio).  Audio at another rate is
resampled to 16 kHz on reading.  Outputs follow emorec.arkjob's protocol (a killed job
leaves nothing a rerun would trust; --skip-done skips a finished job).

Bad-input policy (Kaldi's): an utterance whose audio is missing, empty, corrupt or
shorter than one frame, or whose line is malformed/duplicated, is logged as
  WARNING: WAV_SCP:LINE: UTT: REASON
and skipped; the job fails (no outputs) when more than --max-fail-frac (5%) fail.
--config is a Kaldi-style option file of emorec.vad.VadConfig fields
(``--threshold=1.5``, ``--min-pause=500``, ...).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys

import numpy as np

from emorec.arkjob import ArkJob, Terminated, catch_signals, digest
from emorec.audio import AudioError, load_audio, parse_wav_scp
from emorec.vad import Vad, VadConfig


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m emorec.bin.compute_vad",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--config", help="Kaldi-style VAD option file")
    p.add_argument("--max-fail-frac", type=float, default=0.05)
    p.add_argument("--skip-done", action="store_true",
                   help="exit 0 at once if SCP_OUT and a matching SCP_OUT.done exist")
    p.add_argument("wav_scp")
    p.add_argument("ark_out")
    p.add_argument("scp_out")
    args = p.parse_args(argv)
    me = "compute_vad"
    try:
        cfg = VadConfig.from_file(args.config)
        vad = Vad(cfg)
    except (OSError, ValueError) as e:
        print(f"ERROR: {me}: {e}", file=sys.stderr)
        return 1
    if not os.path.isfile(args.wav_scp):
        print(f"ERROR: {me}: no such file {args.wav_scp}", file=sys.stderr)
        return 1
    job = ArkJob(args.ark_out, args.scp_out,
                 digest(args.wav_scp, repr(dataclasses.asdict(cfg)),
                        os.path.abspath(args.ark_out), "emorec-vad-v1"))
    if args.skip_done and job.is_done():
        print(f"LOG: {me}: {args.scp_out} is complete and up to date; skipping", file=sys.stderr)
        return 0
    catch_signals()
    n_total = n_fail = n_frames = n_speech = 0
    seen = set()
    try:
        job.start()
        for lineno, utt, rx, err in parse_wav_scp(args.wav_scp):
            n_total += 1
            try:
                if err:
                    raise ValueError(f"malformed line: {err}")
                if utt in seen:
                    raise ValueError("duplicate utterance id")
                seen.add(utt)
                decisions = vad(load_audio(rx, target_sr=int(cfg.sample_frequency)))
            except (AudioError, ValueError) as e:
                n_fail += 1
                print(f"WARNING: {args.wav_scp}:{lineno}: {utt or '-'}: {e}", file=sys.stderr)
                continue
            job.add(utt, decisions.astype(np.float32))
            n_frames += decisions.size
            n_speech += int(decisions.sum())
        if not job.finish(me, args.wav_scp, n_total, n_fail, args.max_fail_frac, "VAD"):
            return 1
    except Terminated as e:
        print(f"ERROR: {me}: killed by signal {e.args[0]}; removed partial outputs", file=sys.stderr)
        return 128 + int(e.args[0])
    finally:
        job.cleanup()
    print(f"LOG: {me}: {n_total - n_fail} of {n_total} utterances done, {n_fail} failed; "
          f"{n_speech} of {n_frames} frames speech ({100 * n_speech / max(n_frames, 1):.1f}%)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
