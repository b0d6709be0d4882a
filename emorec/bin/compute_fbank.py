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
import hashlib
import io
import os
import signal
import sys
import time

import kaldiio
import numpy as np
from threadpoolctl import threadpool_limits

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
    h = hashlib.sha256()
    with open(wav_scp, "rb") as f:
        h.update(f.read())
    h.update(cfg.to_kaldi_conf().encode())
    h.update(os.path.abspath(ark_out).encode())
    h.update(b"emorec-fbank-v1")
    return h.hexdigest()


def _rm(*paths):
    for p in paths:
        try:
            os.remove(p)
        except FileNotFoundError:
            pass


def _fsync_rename(src: str, dst: str):
    with open(src, "rb") as f:
        os.fsync(f.fileno())
    os.replace(src, dst)


class _Terminated(BaseException):
    pass


def _on_signal(signum, frame):
    raise _Terminated(signum)


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

    ark, scp = args.ark_out, args.scp_out
    done = scp + ".done"
    digest = _digest(args.wav_scp, cfg, ark)
    if args.skip_done and os.path.isfile(scp) and os.path.isfile(ark) and os.path.isfile(done):
        with open(done) as f:
            if f.read().strip() == digest:
                print(f"LOG: {me}: {scp} is complete and up to date; skipping", file=sys.stderr)
                return 0

    # Invalidate the previous result before touching the ark it points into.
    _rm(done, scp)
    u2nf = args.write_utt2num_frames
    if u2nf:
        _rm(u2nf)
    for d in {os.path.dirname(p) for p in (ark, scp, u2nf) if p}:
        if d:
            os.makedirs(d, exist_ok=True)
    ark_tmp, scp_tmp, u2nf_tmp = ark + ".tmp", scp + ".tmp", (u2nf + ".tmp" if u2nf else None)
    tmps = [p for p in (ark_tmp, scp_tmp, u2nf_tmp) if p]

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)

    fbank = Fbank(cfg)
    sr = int(cfg.sample_frequency)
    on_mismatch = "resample" if cfg.allow_resample else "error"
    n_total = n_fail = n_frames = 0
    audio_sec = 0.0
    t_cpu, t_wall = time.process_time(), time.time()
    scp_lines, u2nf_lines = [], []

    def warn(lineno, utt, reason):
        nonlocal n_fail
        n_fail += 1
        print(f"WARNING: {args.wav_scp}:{lineno}: {utt or '-'}: {reason}", file=sys.stderr)

    try:
        with open(ark_tmp, "wb") as fark:
            batch, batch_len = [], 0

            def flush():
                nonlocal n_frames, batch, batch_len
                if not batch:
                    return
                feats = fbank.compute_many([w for _, w in batch])
                for (utt, _), mat in zip(batch, feats):
                    sink = io.StringIO()  # kaldiio's scp line, naming ark_tmp
                    kaldiio.save_ark(fark, {utt: mat.astype(np.float32, copy=False)}, scp=sink)
                    prefix = f"{utt} {ark_tmp}:"
                    line = sink.getvalue()
                    assert line.startswith(prefix), line
                    scp_lines.append(f"{utt} {ark}:{line[len(prefix):]}")
                    u2nf_lines.append(f"{utt} {mat.shape[0]}\n")
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
            fark.flush()

        n_ok = n_total - n_fail
        frac = n_fail / n_total if n_total else 1.0
        if n_ok == 0 or frac > args.max_fail_frac:
            print(f"ERROR: {me}: {n_fail} of {n_total} utterances in {args.wav_scp} failed "
                  f"({100 * frac:.1f}% > {100 * args.max_fail_frac:g}% allowed); "
                  f"writing no features", file=sys.stderr)
            return 1

        with open(scp_tmp, "w", encoding="utf-8") as f:
            f.writelines(scp_lines)
        if u2nf_tmp:
            with open(u2nf_tmp, "w", encoding="utf-8") as f:
                f.writelines(u2nf_lines)
        _fsync_rename(ark_tmp, ark)
        if u2nf_tmp:
            _fsync_rename(u2nf_tmp, u2nf)
        _fsync_rename(scp_tmp, scp)
        with open(done + ".tmp", "w") as f:
            f.write(digest + "\n")
        _fsync_rename(done + ".tmp", done)
    except _Terminated as e:
        print(f"ERROR: {me}: killed by signal {e.args[0]}; removed partial outputs", file=sys.stderr)
        return 128 + int(e.args[0])
    finally:
        _rm(*tmps, done + ".tmp")

    cpu, wall = time.process_time() - t_cpu, time.time() - t_wall
    print(f"LOG: {me}: {n_ok} of {n_total} utterances done, {n_fail} failed; {n_frames} frames "
          f"x {cfg.dim}; {audio_sec:.1f} s of audio in {cpu:.2f} CPU s "
          f"({audio_sec / max(cpu, 1e-9):.0f} s audio / CPU s), {wall:.2f} s wall", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
