"""One parallel job's kaldiio ark/scp outputs, written so a killed job leaves nothing a
rerun would trust (the protocol of ``steps/make_fbank.sh`` and ``steps/compute_vad.sh``).

  1. ``start()`` deletes SCP and its stamp SCP.done first (an existing scp is never left
     pointing into an ark being replaced);
  2. matrices/vectors go to ARK.tmp; the scp lines already name the FINAL ark path, the
     offsets being those of ARK.tmp, which becomes ARK byte for byte;
  3. ``commit()``: after fsync, rename the ark, then write utt2num_frames, then the scp
     (the completion marker), then SCP.done holding a digest of the inputs, each with
     ``emorec.fileio.atomic_write``.
``is_done()`` is true when SCP, ARK and a SCP.done with the same digest exist.
SIGTERM/SIGINT/SIGHUP raise ``Terminated`` (after ``catch_signals()``); ``cleanup()``
removes the .tmp files.
"""
from __future__ import annotations

import hashlib
import io
import os
import signal
import sys
from typing import List, Optional

import kaldiio
import numpy as np

from emorec.fileio import atomic_write, atomic_write_text

__all__ = ["ArkJob", "Terminated", "catch_signals", "digest", "rm"]


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


def digest(input_path: str, *parts: str) -> str:
    """sha256 of a file's bytes and some strings (configuration, output path, version)."""
    h = hashlib.sha256()
    with open(input_path, "rb") as f:
        h.update(f.read())
    for p in parts:
        h.update(p.encode())
    return h.hexdigest()


class ArkJob:
    def __init__(self, ark: str, scp: str, digest_text: str, utt2num_frames: Optional[str] = None):
        self.ark, self.scp, self.u2nf = ark, scp, utt2num_frames
        self.done = scp + ".done"
        self.digest = digest_text
        self.tmps = [p + ".tmp" for p in (ark, scp, utt2num_frames, self.done) if p]
        self.scp_lines: List[str] = []
        self.u2nf_lines: List[str] = []
        self._fark = None

    def is_done(self) -> bool:
        if not (os.path.isfile(self.scp) and os.path.isfile(self.ark)
                and os.path.isfile(self.done)):
            return False
        with open(self.done) as f:
            return f.read().strip() == self.digest

    def start(self) -> None:
        rm(self.done, self.scp)
        if self.u2nf:
            rm(self.u2nf)
        for d in {os.path.dirname(p) for p in (self.ark, self.scp, self.u2nf) if p}:
            if d:
                os.makedirs(d, exist_ok=True)
        self._fark = open(self.ark + ".tmp", "wb")

    def add(self, utt: str, array: np.ndarray) -> None:
        sink = io.StringIO()  # kaldiio's scp line, naming ARK.tmp
        kaldiio.save_ark(self._fark, {utt: array}, scp=sink)
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
        self._fark.flush()
        os.fsync(self._fark.fileno())
        self._fark.close()
        os.replace(self.ark + ".tmp", self.ark)  # the scp lines already name this path
        if self.u2nf:
            with atomic_write(self.u2nf, fsync=True) as f:
                f.writelines(self.u2nf_lines)
        with atomic_write(self.scp, fsync=True) as f:
            f.writelines(self.scp_lines)
        atomic_write_text(self.done, self.digest + "\n")

    def cleanup(self) -> None:
        if self._fark is not None and not self._fark.closed:
            self._fark.close()
        rm(*self.tmps)
