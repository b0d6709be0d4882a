"""Extract log-mel filterbanks for every utterance of a wav.scp into a kaldiio ark/scp.

Usage: python -m emorec.bin.compute_fbank [options] WAV_SCP ARK_OUT SCP_OUT
  e.g. python -m emorec.bin.compute_fbank --config conf/fbank.conf \\
         --write-utt2num-frames data/x/data/utt2num_frames_x.1 \\
         data/x/split4/1/wav.scp /abs/data/raw_fbank_x.1.ark data/x/data/raw_fbank_x.1.scp

Output protocol (a killed job never leaves a file a rerun would trust):
  1. SCP_OUT and its stamp SCP_OUT.done are deleted first (so an existing scp is never
     left pointing into an ark being replaced);
  2. the ark, scp and utt2num_frames are written to NAME.tmp; the scp lines already name
     the FINAL ark path (ARK_OUT), the offsets being those of ARK_OUT.tmp, which becomes
     ARK_OUT byte for byte;
  3. after fsync: rename ark, then utt2num_frames, then scp (the scp is the completion
     marker), then write SCP_OUT.done holding a digest of the inputs (wav.scp content,
     configuration, ark path).
  With --skip-done, a job whose SCP_OUT and matching SCP_OUT.done exist exits at once.
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
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from emorec.arkjob import ArkJob, Terminated, catch_signals, digest
from emorec.audio import AudioError, load_audio, parse_wav_scp
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
    p.add_argument("--max-fail-frac", type=float, default=0.05,
                   help="fail the job if more than this fraction of utterances fail (0.05)")
    p.add_argument("--write-utt2num-frames", metavar="PATH",
                   help="also write 'utt num_frames' lines to PATH")
    p.add_argument("--skip-done", action="store_true",
                   help="exit 0 at once if SCP_OUT and a matching SCP_OUT.done exist")
    p.add_argument("--batch-seconds", type=float, default=30.0,
                   help="audio seconds batched into one FFT/GEMM call (30)")
    p.add_argument("--num-threads", type=int, default=1,
                   help="BLAS threads (1: parallelism comes from jobs)")
    p.add_argument("wav_scp")
    p.add_argument("ark_out")
    p.add_argument("scp_out")
    return p


def _digest(wav_scp: str, cfg: FbankConfig, ark_out: str) -> str:
    return digest(wav_scp, cfg.to_kaldi_conf(), os.path.abspath(ark_out), "emorec-fbank-v1")


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
    if not os.path.isfile(args.wav_scp):
        print(f"ERROR: {me}: no such file {args.wav_scp}", file=sys.stderr)
        return 1

    job = ArkJob(args.ark_out, args.scp_out, _digest(args.wav_scp, cfg, args.ark_out),
                 args.write_utt2num_frames)
    if args.skip_done and job.is_done():
        print(f"LOG: {me}: {args.scp_out} is complete and up to date; skipping", file=sys.stderr)
        return 0
    catch_signals()
    job.start()

    fbank = Fbank(cfg)
    sr = int(cfg.sample_frequency)
    on_mismatch = "resample" if cfg.allow_resample else "error"
    n_total = n_fail = n_frames = 0
    audio_sec = 0.0
    t_cpu, t_wall = time.process_time(), time.time()

    def warn(lineno, utt, reason):
        nonlocal n_fail
        n_fail += 1
        print(f"WARNING: {args.wav_scp}:{lineno}: {utt or '-'}: {reason}", file=sys.stderr)

    try:
        batch, batch_len = [], 0

        def flush():
            nonlocal n_frames, batch, batch_len
            if not batch:
                return
            feats = fbank.compute_many([w for _, w in batch])
            for (utt, _), mat in zip(batch, feats):
                job.add(utt, mat.astype(np.float32, copy=False))
                n_frames += mat.shape[0]
            batch, batch_len = [], 0

        seen = set()
        for lineno, utt, rx, err in parse_wav_scp(args.wav_scp):
            n_total += 1
            if err:
                warn(lineno, utt, f"malformed line: {err}")
                continue
            if utt in seen:
                warn(lineno, utt, "duplicate utterance id")
                continue
            seen.add(utt)
            try:
                wave = load_audio(rx, target_sr=sr, on_mismatch=on_mismatch)
            except AudioError as e:
                warn(lineno, utt, str(e))
                continue
            if fbank.num_frames(wave.size) <= 0:
                warn(lineno, utt, f"{rx!r}: {wave.size} samples is shorter than one frame "
                                  f"({cfg.window_size} samples); no features")
                continue
            audio_sec += wave.size / sr
            batch.append((utt, wave))
            batch_len += wave.size
            if batch_len >= args.batch_seconds * sr:
                flush()
        flush()

        n_ok = n_total - n_fail
        if not job.finish(me, args.wav_scp, n_total, n_fail, args.max_fail_frac, "features"):
            return 1
    except Terminated as e:
        print(f"ERROR: {me}: killed by signal {e.args[0]}; removed partial outputs", file=sys.stderr)
        return 128 + int(e.args[0])
    finally:
        job.cleanup()

    cpu, wall = time.process_time() - t_cpu, time.time() - t_wall
    print(f"LOG: {me}: {n_ok} of {n_total} utterances done, {n_fail} failed; {n_frames} frames "
          f"x {cfg.dim}; {audio_sec:.1f} s of audio in {cpu:.2f} CPU s "
          f"({audio_sec / max(cpu, 1e-9):.0f} s audio / CPU s), {wall:.2f} s wall", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
