"""The content checks of utils/validate_data_dir.sh (the shell checks the lists' format
and keys first): feature matrices and audio.

Usage: python -m emorec.bin.validate_data_dir [--feats FEATS_SCP [--utt2num-frames F]]
                                              [--wav-scp WAV_SCP [--audio header|full]]
                                              [--utf8 LIST ...] [--utt2emo F --classes "C1 C2 ..."]

--utf8: each LIST is UTF-8 throughout. --utt2emo with --classes: every label is one of
the recipe's classes (an unknown one would silently become a class).

feats.scp: the first --full-feats entries are loaded completely with kaldiio, the rest
by their binary matrix header (shape, and the file holds the data it announces); all
have the same dimension and agree with utt2num_frames.

wav.scp, --audio header (the default): a plain file's header is read with soundfile
(exists, non-empty, decodable, at least one sample), as far as it costs no decoding; a
pipe (``cmd |``) is not run: the files its command names (words holding a "/") must
exist, and --decode-pipes of the pipes, spread over the list, are run and decoded, to
find a broken command. --audio full decodes every entry completely (slow: feature
extraction reads all the audio anyway and applies the bad-audio policy there).

Prints ``FILE:LINE: UTT: REASON`` for each bad entry (at most 10 per list) and exits 1
when there is one, else 0.
"""
from __future__ import annotations

import argparse
import os
import shlex
import struct
from typing import Iterator, Optional, Tuple

import kaldiio

from emorec.audio import is_pipe, parse_wav_scp
from emorec.audio import audio_problem
from emorec.fileio import DataDirError, check_labels, check_utf8, open_text

MAX_REPORTED = 10


def matrix_header_shape(rx: str) -> Optional[Tuple[int, int]]:
    """(rows, cols) from the binary Kaldi matrix header that ``ark:offset`` points at, or
    None when ``rx`` is not of that form (then kaldiio reads it); ValueError when the
    header is corrupt or the file is shorter than the data it announces."""
    if rx.endswith("|") or ":" not in rx or rx.endswith("]"):
        return None
    path, off = rx.rsplit(":", 1)
    if not off.isdigit():
        return None
    off = int(off)
    size = os.path.getsize(path)
    if off >= size:
        raise ValueError(f"offset {off} is beyond the end of {path} ({size} bytes)")
    with open(path, "rb") as fh:
        fh.seek(off)
        h = fh.read(32)
    if h[:2] != b"\0B":
        return None
    tok = h[2:5]
    if tok in (b"FM ", b"DM "):
        if h[5] != 4 or h[10] != 4:
            raise ValueError("corrupt matrix header")
        rows, cols = struct.unpack("<i", h[6:10])[0], struct.unpack("<i", h[11:15])[0]
        need = off + 15 + rows * cols * (4 if tok == b"FM " else 8)
        if need > size:
            raise ValueError(f"truncated: needs {need} bytes, file has {size}")
        return rows, cols
    if tok in (b"CM ", b"CM2", b"CM3"):
        k = 5 if tok == b"CM " else 6
        _mn, _rg, rows, cols = struct.unpack("<ffii", h[k:k + 16])
        return rows, cols
    return None


def _entries(path: str) -> Iterator[Tuple[int, str, str]]:
    """(lineno, key, rest) of the well-formed lines; the shell reports the others."""
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            p = line.strip().split(None, 1)
            if len(p) == 2:
                yield lineno, p[0], p[1]


def check_feats(scp: str, utt2num_frames: Optional[str], full_entries: int) -> Iterator[str]:
    nf = {}
    if utt2num_frames and os.path.isfile(utt2num_frames):
        nf = {k: v.split()[0] for _, k, v in _entries(utt2num_frames)}
    dim = None
    for lineno, utt, rx in _entries(scp):
        try:
            shape = None if lineno <= full_entries else matrix_header_shape(rx)
            if shape is None:
                m = kaldiio.load_mat(rx)
                if m.ndim != 2:
                    raise ValueError(f"expected a matrix, got shape {m.shape}")
                shape = m.shape
            rows, cols = shape
            if rows <= 0:
                raise ValueError("zero frames")
            if dim is None:
                dim = cols
            elif cols != dim:
                raise ValueError(f"dimension {cols}, but earlier entries have {dim}")
            if utt in nf and str(rows) != nf[utt]:
                raise ValueError(f"{rows} frames, but utt2num_frames says {nf[utt]}")
        except Exception as e:  # any failure to read is this entry's problem, reported
            yield f"{scp}:{lineno}: {utt}: {rx}: {str(e) or type(e).__name__}"


def pipe_inputs(rx: str) -> list:
    """The files a pipe's command names: its words that hold a '/' and are no option."""
    try:
        words = shlex.split(rx.rstrip().rstrip("|"))
    except ValueError:
        return []
    return [w for w in words if "/" in w and not w.startswith("-") and "://" not in w]


def check_wav(scp: str, audio: str, decode_pipes: int) -> Iterator[str]:
    entries = [(n, u, rx) for n, u, rx, err in parse_wav_scp(scp) if not err]
    pipes = [i for i, (_, _, rx) in enumerate(entries) if is_pipe(rx)]
    if decode_pipes > 0 and pipes:
        step = max(1, len(pipes) // decode_pipes)
        decoded = set(pipes[::step][:decode_pipes])
    else:
        decoded = set()
    for i, (lineno, utt, rx) in enumerate(entries):
        if audio == "full" or i in decoded:
            reason, _ = audio_problem(rx, full=True)
        elif is_pipe(rx):
            missing = [w for w in pipe_inputs(rx) if not os.path.exists(w)]
            reason = f"{rx!r}: no such file {missing[0]!r}" if missing else None
        else:
            reason, _ = audio_problem(rx, full=False)
        if reason:
            yield f"{scp}:{lineno}: {utt}: {reason}"


def report(problems: Iterator[str], what: str) -> int:
    bad = 0
    try:
        for msg in problems:
            bad += 1
            print(msg)
            if bad >= MAX_REPORTED:
                print(f"{what}: too many errors, stopping")
                break
    except DataDirError as e:  # the list itself is unreadable (not UTF-8): named, stops it
        print(e)
        bad += 1
    return bad


def check_file(check, *args) -> Iterator[str]:
    """The message of ``check(*args)``'s DataDirError, if it raises one."""
    try:
        check(*args)
    except DataDirError as e:
        yield str(e)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emorec.bin.validate_data_dir", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feats", help="feats.scp to check")
    ap.add_argument("--utt2num-frames", help="utt2num_frames the feature lengths must agree with")
    ap.add_argument("--full-feats", type=int, default=20,
                    help="the first N feature entries are loaded completely (default 20)")
    ap.add_argument("--wav-scp", help="wav.scp to check")
    ap.add_argument("--audio", choices=("header", "full"), default="header")
    ap.add_argument("--decode-pipes", type=int, default=3,
                    help="pipes run and decoded in --audio header mode (default 3)")
    ap.add_argument("--utf8", action="append", default=[], metavar="LIST",
                    help="a list that must be UTF-8 throughout (repeatable)")
    ap.add_argument("--utt2emo", help="label list checked against --classes")
    ap.add_argument("--classes", help="the recipe's class set, one quoted word: \"ang hap neu sad\"")
    a = ap.parse_args(argv)
    if bool(a.utt2emo) != bool(a.classes):
        ap.error("--utt2emo and --classes go together")
    not_utf8 = {path for path in a.utf8 if report(check_file(check_utf8, path), path)}
    bad = len(not_utf8)
    if a.utt2emo and a.utt2emo not in not_utf8:
        bad += report(check_file(check_labels, a.utt2emo, a.classes.split()), a.utt2emo)
    if a.feats and a.feats not in not_utf8:
        bad += report(check_feats(a.feats, a.utt2num_frames, a.full_feats), a.feats)
    if a.wav_scp and a.wav_scp not in not_utf8:
        bad += report(check_wav(a.wav_scp, a.audio, a.decode_pipes), a.wav_scp)
    return 1 if bad else 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
