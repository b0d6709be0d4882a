"""VoxCeleb1/2 data preparation from the release layouts.

  VoxCeleb1: ``VOX_ROOT/wav/idXXXXX/<video>/NNNNN.wav``  -> wav.scp: the path
  VoxCeleb2: ``VOX_ROOT/dev/aac/idXXXXX/<video>/NNNNN.m4a`` (also ``aac/``,
             ``test/aac/``) -> wav.scp: an ffmpeg pipe to 16 kHz mono wav
Utterance id ``idXXXXX-<video>-NNNNN`` (video ids may hold ``-``/``_``),
speaker ``idXXXXX``.  Dot-files (``._*``) are ignored.

Trials (``veri_test2.txt``: ``1 id10270/x6uYqmx31kE/00001.wav id10270/...``)
become Kaldi ``trials`` lines ``utt1 utt2 target|nontarget`` in file order; a
malformed line or a trial utterance absent from the data is an error naming
``file:line``.
"""
from __future__ import annotations

import os
import shlex
from typing import Dict, Iterable, List, Optional, Set, Tuple

from emorec.data.datadir import subset_data_dir, utt2spk_to_spk2utt
from emorec.fileio import open_text, read_kv, write_kv, write_lines

# (sub-folder of VOX_ROOT, extension)
LAYOUTS: Tuple[Tuple[str, str], ...] = (("wav", ".wav"), ("dev/aac", ".m4a"),
                                        ("aac", ".m4a"), ("test/aac", ".m4a"))


class TrialsError(ValueError):
    pass


def ffmpeg_pipe(path: str) -> str:
    return f"ffmpeg -nostdin -loglevel error -i {shlex.quote(path)} -ac 1 -ar 16000 -f wav - |"


def _subdirs(d: str) -> List[str]:
    return sorted(n for n in os.listdir(d)
                  if not n.startswith(".") and os.path.isdir(os.path.join(d, n)))


def scan(vox_root: str, layouts: Optional[Iterable[str]] = None) -> Dict[str, Dict[str, str]]:
    """``{"wav.scp": {...}, "utt2spk": {...}}`` for every layout found (of ``layouts``,
    sub-folders of LAYOUTS such as ``dev/aac``; default: all)."""
    wanted = [(sub, ext) for sub, ext in LAYOUTS if layouts is None or sub in layouts]
    unknown = set(layouts or ()) - {sub for sub, _ in LAYOUTS}
    if unknown:
        raise ValueError(f"unknown layout(s) {sorted(unknown)}; known: " +
                         ", ".join(s for s, _ in LAYOUTS))
    root = os.path.abspath(vox_root)
    wav: Dict[str, str] = {}
    utt2spk: Dict[str, str] = {}
    found = False
    for sub, ext in wanted:
        base = os.path.join(root, sub)
        if not os.path.isdir(base):
            continue
        found = True
        for spk in _subdirs(base):
            for video in _subdirs(os.path.join(base, spk)):
                vdir = os.path.join(base, spk, video)
                for name in sorted(os.listdir(vdir)):
                    if name.startswith(".") or not name.endswith(ext):
                        continue
                    utt = f"{spk}-{video}-{name[:-len(ext)]}"
                    path = os.path.join(vdir, name)
                    if utt in wav:
                        raise ValueError(f"utterance {utt} twice: {wav[utt]} and {path}")
                    wav[utt] = path if ext == ".wav" else ffmpeg_pipe(path)
                    utt2spk[utt] = spk
    if not found:
        raise FileNotFoundError(f"'{vox_root}' has none of " +
                                ", ".join(s + "/" for s, _ in wanted))
    return {"wav.scp": wav, "utt2spk": utt2spk}


def trial_path_to_utt(p: str) -> Optional[str]:
    """``id10270/x6uYqmx31kE/00001.wav`` -> ``id10270-x6uYqmx31kE-00001``."""
    parts = p.split("/")
    if len(parts) != 3 or not all(parts):
        return None
    stem = os.path.splitext(parts[2])[0]
    return f"{parts[0]}-{parts[1]}-{stem}"


def convert_trials(path: str, utts: Optional[Set[str]] = None) -> List[str]:
    """Kaldi trials lines from a VoxCeleb trial list; errors name file:line."""
    out = []
    with open_text(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            fields = line.split()
            if len(fields) != 3 or fields[0] not in ("0", "1"):
                raise TrialsError(f"{path}:{n}: expected '0|1 spk/video/utt.wav spk/video/utt.wav', "
                                  f"got '{line}'")
            pair = [trial_path_to_utt(x) for x in fields[1:]]
            for x, u in zip(fields[1:], pair):
                if u is None:
                    raise TrialsError(f"{path}:{n}: bad utterance path '{x}'")
                if utts is not None and u not in utts:
                    raise TrialsError(f"{path}:{n}: trial utterance '{x}' ({u}) is not in the data")
            out.append(f"{pair[0]} {pair[1]} {'target' if fields[0] == '1' else 'nontarget'}")
    if not out:
        raise TrialsError(f"{path}: no trials")
    return out


def write_data_dir(data_dir: str, lists: Dict[str, Dict[str, str]],
                   trials: Optional[List[str]] = None) -> None:
    os.makedirs(data_dir, exist_ok=True)
    for name, d in lists.items():
        write_kv(os.path.join(data_dir, name), d)
    write_kv(os.path.join(data_dir, "spk2utt"), utt2spk_to_spk2utt(lists["utt2spk"]))
    if trials is not None:
        write_lines(os.path.join(data_dir, "trials"), trials)


def trial_speakers(trials: Iterable[str], utt2spk: Dict[str, str]) -> Set[str]:
    spks = set()
    for t in trials:
        a, b, _ = t.split()
        spks.update((utt2spk[a], utt2spk[b]))
    return spks


def split_by_trial_speakers(data_dir: str, train_dir: str, test_dir: str) -> Tuple[int, int]:
    """train = speakers absent from ``data_dir/trials``; test = the others (with trials)."""
    utt2spk = read_kv(os.path.join(data_dir, "utt2spk"))
    with open_text(os.path.join(data_dir, "trials")) as f:
        trials = [ln.strip() for ln in f if ln.strip()]
    test_spk = trial_speakers(trials, utt2spk)
    test = [u for u, s in utt2spk.items() if s in test_spk]
    train = [u for u, s in utt2spk.items() if s not in test_spk]
    subset_data_dir(data_dir, train_dir, train)
    tr = os.path.join(train_dir, "trials")
    if os.path.exists(tr):
        os.remove(tr)
    subset_data_dir(data_dir, test_dir, test)
    return len(train), len(test)
