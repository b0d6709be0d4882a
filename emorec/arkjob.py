"""One parallel job's kaldiio ark/scp outputs, written so a killed job leaves nothing a
rerun would trust (the protocol of ``steps/make_fbank.sh`` and ``steps/compute_vad.sh``).

  1. ``start()`` begins the job's emorec.stamp.Stamp: deletes SCP, ARK and
     utt2num_frames (an existing scp is never left pointing into an ark being replaced)
     and records the fingerprint (wav.scp and the audio it names, the job's other
     inputs, its options, the ark path) in SCP.stamp;
  2. matrices/vectors go to ARK.tmp; the scp lines already name the FINAL ark path, the
     offsets being those of ARK.tmp, which becomes ARK byte for byte;
  3. ``commit()``: after fsync, rename the ark, then write utt2num_frames, then the scp
     (the completion marker, written last), each with ``emorec.fileio.atomic_write``.
With --skip-done a job is skipped when its stamp is done (the toolkit's restart rule).
SIGTERM/SIGINT/SIGHUP raise ``Terminated`` (after ``catch_signals()``); ``cleanup()``
removes the .tmp files.
"""
from __future__ import annotations

import io
import os
import signal
import sys
from contextlib import contextmanager
from typing import Callable, List, Optional, Tuple

import kaldiio
import numpy as np

from emorec.audio import AudioError, parse_wav_scp
from emorec.fileio import atomic_write, with_path
from emorec.stamp import Stamp

__all__ = ["ArkJob", "Entries", "add_job_arguments", "open_job", "Terminated", "catch_signals", "rm", "run_job"]


class Terminated(BaseException):
    """A termination signal arrived; ``args[0]`` is its number."""


def _on_signal(signum, frame):
    raise Terminated(signum)


def catch_signals() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)


def rm(*paths) -> None:
    for p in paths:
        try:
            os.remove(p)
        except FileNotFoundError:
            pass


class ArkJob:
    def __init__(self, ark: str, scp: str, stamp: Stamp, utt2num_frames: Optional[str] = None):
        self.ark, self.scp, self.u2nf = ark, scp, utt2num_frames
        self.stamp = stamp
        self.tmps = [p + ".tmp" for p in (ark, scp, utt2num_frames) if p]
        self.scp_lines: List[str] = []
        self.u2nf_lines: List[str] = []
        self._fark = None

    def start(self) -> None:
        self.stamp.begin()
        for d in {os.path.dirname(p) for p in (self.ark, self.scp, self.u2nf) if p}:
            if d:
                os.makedirs(d, exist_ok=True)
        self._fark = open(self.ark + ".tmp", "wb")

    def add(self, utt: str, array: np.ndarray) -> None:
        sink = io.StringIO()  # kaldiio's scp line, naming ARK.tmp
        try:
            kaldiio.save_ark(self._fark, {utt: array}, scp=sink)
        except OSError as e:  # disk full: a write() names no file
            raise with_path(e, self.ark + ".tmp") from None
        prefix = f"{utt} {self.ark}.tmp:"
        line = sink.getvalue()
        assert line.startswith(prefix), line
        self.scp_lines.append(f"{utt} {self.ark}:{line[len(prefix):]}")
        self.u2nf_lines.append(f"{utt} {array.shape[0]}\n")

    def finish(self, me: str, source: str, n_total: int, n_fail: int, max_fail_frac: float,
               what: str) -> bool:
        """Kaldi's bad-input rule: commit unless nothing succeeded or more than
        ``max_fail_frac`` of the items of ``source`` failed (then log it and return False)."""
        frac = n_fail / n_total if n_total else 1.0
        if n_fail == n_total or frac > max_fail_frac:
            print(f"ERROR: {me}: {n_fail} of {n_total} utterances in {source} failed "
                  f"({100 * frac:.1f}% > {100 * max_fail_frac:g}% allowed); writing no {what}",
                  file=sys.stderr)
            return False
        self.commit()
        return True

    def commit(self) -> None:
        try:
            self._fark.flush()
            os.fsync(self._fark.fileno())
            self._fark.close()
        except OSError as e:
            raise with_path(e, self.ark + ".tmp") from None
        os.replace(self.ark + ".tmp", self.ark)  # the scp lines already name this path
        if self.u2nf:
            with atomic_write(self.u2nf, fsync=True) as f:
                f.writelines(self.u2nf_lines)
        with atomic_write(self.scp, fsync=True) as f:
            f.writelines(self.scp_lines)

    def cleanup(self) -> None:
        if self._fark is not None and not self._fark.closed:
            try:
                self._fark.close()
            except OSError:  # its buffer cannot be flushed (disk full): the file goes anyway
                pass
        rm(*self.tmps)


class Entries:
    """The wav.scp entries a job processes, with Kaldi's bad-input bookkeeping: a
    malformed line, a duplicate id, or an item whose processing raises AudioError or
    ValueError inside ``guard`` is logged as ``WARNING: WAV_SCP:LINE: UTT: reason`` and
    counted in ``failed``; ``total`` counts every line."""

    def __init__(self, wav_scp: str):
        self.wav_scp, self.total, self.failed = wav_scp, 0, 0

    def fail(self, lineno: int, utt: str, reason) -> None:
        self.failed += 1
        print(f"WARNING: {self.wav_scp}:{lineno}: {utt or '-'}: {reason}", file=sys.stderr)

    def __iter__(self):
        seen = set()
        for lineno, utt, rx, err in parse_wav_scp(self.wav_scp):
            self.total += 1
            if err:
                self.fail(lineno, utt, f"malformed line: {err}")
            elif utt in seen:
                self.fail(lineno, utt, "duplicate utterance id")
            else:
                seen.add(utt)
                yield lineno, utt, rx

    @contextmanager
    def guard(self, lineno: int, utt: str):
        try:
            yield
        except (AudioError, ValueError) as e:
            self.fail(lineno, utt, e)


def run_job(job: ArkJob, me: str, body: Callable[[], bool]) -> int:
    """Runs ``body`` (True: committed) between ``job.start()`` and ``job.cleanup()``; a
    termination signal removes the partial outputs. Returns the job's exit status."""
    catch_signals()
    try:
        job.start()
        return 0 if body() else 1
    except Terminated as e:
        print(f"ERROR: {me}: killed by signal {e.args[0]}; removed partial outputs", file=sys.stderr)
        return 128 + int(e.args[0])
    finally:
        job.cleanup()


def add_job_arguments(p) -> None:
    """The options and arguments every ark job takes (argparse)."""
    p.add_argument("--max-fail-frac", type=float, default=0.05,
                   help="fail (writing nothing) when more than this share of the entries fail")
    p.add_argument("--skip-done", action="store_true",
                   help="exit 0 at once if SCP_OUT was made from the same inputs and options")
    p.add_argument("wav_scp")
    p.add_argument("ark_out")
    p.add_argument("scp_out")


def open_job(me: str, args, version: int, options: dict, inputs=(),
             utt2num_frames: Optional[str] = None) -> Tuple[Optional[ArkJob], int]:
    """``(job, 0)`` for the job of ``args`` (add_job_arguments), fingerprinted by the
    wav.scp and ``inputs``, ``options``, the ark path and the step's ``version``;
    ``(None, status)`` when there is nothing to do: a missing input (logged, 1), a
    finished job with --skip-done (0)."""
    try:
        stamp = Stamp(args.scp_out, step=me, version=version, inputs=[args.wav_scp, *inputs],
                      options={**options, "max_fail_frac": args.max_fail_frac,
                               "ark": os.path.abspath(args.ark_out)},
                      outputs=[args.ark_out] + ([utt2num_frames] if utt2num_frames else []))
    except FileNotFoundError as e:
        print(f"ERROR: {me}: {e}", file=sys.stderr)
        return None, 1
    if args.skip_done and stamp.done():
        return None, 0
    return ArkJob(args.ark_out, args.scp_out, stamp, utt2num_frames), 0
