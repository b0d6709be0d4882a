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
import sys

import numpy as np

from emorec.arkjob import Entries, add_job_arguments, open_job, run_job
from emorec.audio import load_audio
from emorec.vad import Vad, VadConfig


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m emorec.bin.compute_vad",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--config", help="Kaldi-style VAD option file")
    add_job_arguments(p)
    args = p.parse_args(argv)
    me = "compute_vad"
    try:
        cfg = VadConfig.from_file(args.config)
        vad = Vad(cfg)
    except (OSError, ValueError) as e:
        print(f"ERROR: {me}: {e}", file=sys.stderr)
        return 1
    job, status = open_job(me, args, 1, {"config": dataclasses.asdict(cfg)})
    if job is None:
        return status
    entries = Entries(args.wav_scp)
    counts = {"frames": 0, "speech": 0}

    def body():
        for lineno, utt, rx in entries:
            with entries.guard(lineno, utt):
                decisions = vad(load_audio(rx, target_sr=int(cfg.sample_frequency)))
                job.add(utt, decisions.astype(np.float32))
                counts["frames"] += decisions.size
                counts["speech"] += int(decisions.sum())
        return job.finish(me, args.wav_scp, entries.total, entries.failed, args.max_fail_frac, "VAD")

    status = run_job(job, me, body)
    if status:
        return status
    n_frames, n_speech = counts["frames"], counts["speech"]
    print(f"LOG: {me}: {entries.total - entries.failed} of {entries.total} utterances done, {entries.failed} "
          f"failed; {n_speech} of {n_frames} frames speech ({100 * n_speech / max(n_frames, 1):.1f}%)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
