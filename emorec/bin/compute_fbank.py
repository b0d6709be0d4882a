"""Extract log-mel filterbanks for every utterance of a wav.scp into a kaldiio ark/scp.

Usage: python -m emorec.bin.compute_fbank [options] WAV_SCP ARK_OUT SCP_OUT
  e.g. python -m emorec.bin.compute_fbank --config conf/fbank.conf \\
         --write-utt2num-frames data/x/data/utt2num_frames_x.1 \\
         data/x/split4/1/wav.scp /abs/data/raw_fbank_x.1.ark data/x/data/raw_fbank_x.1.scp

Output protocol (a killed job never leaves a file a rerun would trust):
  1. SCP_OUT, ARK_OUT and utt2num_frames are deleted first (so an existing scp is never
     left pointing into an ark being replaced) and the job's fingerprint (wav.scp and
     the audio it names, configuration, ark path) is recorded in SCP_OUT.stamp;
  2. the ark, scp and utt2num_frames are written to NAME.tmp; the scp lines already name
     the FINAL ark path (ARK_OUT), the offsets being those of ARK_OUT.tmp, which becomes
     ARK_OUT byte for byte;
  3. after fsync: rename ark, then utt2num_frames, then scp (the completion marker).
  With --skip-done, a job whose SCP_OUT was made with the same fingerprint exits at once
  (the toolkit's restart rule, emorec.stamp).
  SIGTERM/SIGINT/SIGHUP remove the .tmp files; after SIGKILL they stay, are never read,
  and are overwritten by the rerun.

Bad-input policy (Kaldi's): an utterance whose audio is missing, empty, corrupt,
zero-length, shorter than one frame, or whose line is malformed/duplicated is logged
  WARNING: WAV_SCP:LINE: UTT: REASON
and skipped; the job fails (exit 1, no outputs) when more than --max-fail-frac
(default 0.05 = 5%) of its utterances fail, or when none succeeds.

Sample-rate policy: audio at another rate is resampled to --sample-frequency
(torchaudio.functional.resample) unless --allow-resample false, which makes it an error.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from emorec.arkjob import Entries, add_job_arguments, open_job, run_job
from emorec.audio import load_audio
from emorec.features import Fbank, FbankConfig, parse_bool


def _bool(s: str) -> bool:
    try:
        return parse_bool(s)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m emorec.bin.compute_fbank",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--config", help="Kaldi-style fbank config (--num-mel-bins=128 ...)")
    p.add_argument("--allow-resample", type=_bool, default=None,
                   help="resample audio whose rate differs from --sample-frequency "
                        "(default true; false: such audio is an error)")
    p.add_argument("--write-utt2num-frames", metavar="PATH",
                   help="also write 'utt num_frames' lines to PATH")
    p.add_argument("--batch-seconds", type=float, default=30.0,
                   help="audio seconds batched into one FFT/GEMM call (30)")
    p.add_argument("--num-threads", type=int, default=1,
                   help="BLAS threads (1: parallelism comes from jobs)")
    add_job_arguments(p)
    return p


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    threadpool_limits(max(1, args.num_threads), user_api="blas")
    me = "compute_fbank"
    overrides = {}
    if args.allow_resample is not None:
        overrides["allow_resample"] = args.allow_resample
    try:
        cfg = (FbankConfig.from_file(args.config, **overrides) if args.config
               else FbankConfig(**overrides).validate())
    except (OSError, ValueError) as e:
        print(f"ERROR: {me}: {e}", file=sys.stderr)
        return 1
    job, status = open_job(me, args, 1, {"config": cfg.to_kaldi_conf()},
                           utt2num_frames=args.write_utt2num_frames)
    if job is None:
        return status

    fbank = Fbank(cfg)
    sr = int(cfg.sample_frequency)
    on_mismatch = "resample" if cfg.allow_resample else "error"
    entries = Entries(args.wav_scp)
    counts = {"frames": 0, "seconds": 0.0}
    t_cpu, t_wall = time.process_time(), time.time()

    def body():
        batch, batch_len = [], 0

        def flush():
            feats = fbank.compute_many([w for _, w in batch])
            for (utt, _), mat in zip(batch, feats):
                job.add(utt, mat.astype(np.float32, copy=False))
                counts["frames"] += mat.shape[0]
            batch.clear()

        for lineno, utt, rx in entries:
            with entries.guard(lineno, utt):
                wave = load_audio(rx, target_sr=sr, on_mismatch=on_mismatch)
                if fbank.num_frames(wave.size) <= 0:
                    raise ValueError(f"{rx!r}: {wave.size} samples is shorter than one frame "
                                     f"({cfg.window_size} samples); no features")
                counts["seconds"] += wave.size / sr
                batch.append((utt, wave))
                batch_len += wave.size
                if batch_len >= args.batch_seconds * sr:
                    flush()
                    batch_len = 0
        if batch:
            flush()
        return job.finish(me, args.wav_scp, entries.total, entries.failed, args.max_fail_frac, "features")

    status = run_job(job, me, body)
    if status:
        return status
    cpu, wall = time.process_time() - t_cpu, time.time() - t_wall
    n_total, n_fail, audio_sec = entries.total, entries.failed, counts["seconds"]
    print(f"LOG: {me}: {n_total - n_fail} of {n_total} utterances done, {n_fail} failed; {counts['frames']} "
          f"frames x {cfg.dim}; {audio_sec:.1f} s of audio in {cpu:.2f} CPU s "
          f"({audio_sec / max(cpu, 1e-9):.0f} s audio / CPU s), {wall:.2f} s wall", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
