"""Kaldi data directories: which lists a data dir holds, spk2utt, subsets.

The list format itself (reading, sorted atomic writing) is emorec.fileio's.
"""
from __future__ import annotations

import fnmatch
import os
from functools import lru_cache
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from emorec.fileio import DataDirError, atomic_write, open_text, read_kv, sort_keys, write_kv, write_lines

# The data-dir schema: which files are lists of a data dir and what their keys are.
# One definition, shared with the shell tools (utils/lib/data_files.sh).
SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data_files.txt")
KINDS = ("self", "utt", "spk", "reco", "trials", "copy")


@lru_cache(maxsize=None)
def _schema() -> Tuple[Tuple[str, str], ...]:
    rules = []
    with open(SCHEMA_FILE, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if len(fields) != 2 or fields[1] not in KINDS:
                raise ValueError(f"{SCHEMA_FILE}:{n}: expected 'PATTERN KIND' (KIND one of {KINDS})")
            rules.append((fields[0], fields[1]))
    return tuple(rules)


def list_kind(name: str, has_segments: bool) -> Optional[str]:
    """What the keys of the data-dir file ``name`` are (see data_files.txt), or None
    when it is not a list of the data dir. Without segments a recording is an utterance."""
    if " " in name:
        return None
    for pattern, kind in _schema():
        if fnmatch.fnmatchcase(name, pattern):
            return "utt" if kind == "reco" and not has_segments else kind
    return None


def classify_data_files(data_dir: str) -> Dict[str, List[str]]:
    """``{kind: [file names]}`` of the lists present in ``data_dir``, sorted by name."""
    has_segments = os.path.isfile(os.path.join(data_dir, "segments"))
    out: Dict[str, List[str]] = {k: [] for k in KINDS}
    for name in sorted(os.listdir(data_dir)):
        kind = list_kind(name, has_segments)
        if kind and os.path.isfile(os.path.join(data_dir, name)):
            out[kind].append(name)
    return out


def utt2spk_to_spk2utt(utt2spk: Mapping[str, str]) -> Dict[str, str]:
    """``{spk: "utt1 utt2 ..."}`` with utterances in byte order."""
    spk: Dict[str, List[str]] = {}
    for u in sort_keys(utt2spk):
        spk.setdefault(utt2spk[u], []).append(u)
    return {s: " ".join(us) for s, us in spk.items()}


def write_spk2utt(data_dir: str) -> None:
    """(Re)generate ``spk2utt`` from ``utt2spk``."""
    utt2spk = read_kv(os.path.join(data_dir, "utt2spk"))
    write_kv(os.path.join(data_dir, "spk2utt"), utt2spk_to_spk2utt(utt2spk))


def subset_data_dir(src: str, dst: str, utts: Iterable[str]) -> int:
    """Copy the entries of ``utts`` from data dir ``src`` to ``dst``.

    Every list of ``src`` (see data_files.txt) is filtered: utterance lists to
    ``utts``, speaker lists to their speakers, recording lists (with segments) to
    their recordings; ``trials`` keeps the trials with both sides present, in
    their original order; ``spk2utt`` is regenerated.  Returns the number of
    utterances.
    """
    keep = set(utts)
    utt2spk = read_kv(os.path.join(src, "utt2spk"))
    missing = sorted(keep - set(utt2spk))
    if missing:
        raise DataDirError(f"{src}/utt2spk: {len(missing)} requested utterances absent, "
                           f"e.g. '{missing[0]}'")
    os.makedirs(dst, exist_ok=True)
    files = classify_data_files(src)

    def filtered(name: str, keys: Iterable[str]) -> None:
        d = read_kv(os.path.join(src, name), allow_empty_value=(name == "text"))
        wanted = set(keys)
        write_kv(os.path.join(dst, name), {k: v for k, v in d.items() if k in wanted})

    for name in ["utt2spk"] + files["utt"]:
        filtered(name, keep)
    for name in files["spk"]:
        filtered(name, {utt2spk[u] for u in keep})
    if files["reco"]:
        segments = read_kv(os.path.join(src, "segments"))
        recos = {segments[u].split()[0] for u in keep if u in segments}
        for name in files["reco"]:
            filtered(name, recos)
    for name in files["trials"]:
        with open_text(os.path.join(src, name)) as f:
            lines = [ln.rstrip("\r\n") for ln in f]
        write_lines(os.path.join(dst, name),
                    [ln for ln in lines if len(ln.split()) == 3
                     and ln.split()[0] in keep and ln.split()[1] in keep])
    for name in files["copy"]:
        with open(os.path.join(src, name), "rb") as f:
            data = f.read()
        with atomic_write(os.path.join(dst, name), "wb", encoding=None) as f:
            f.write(data)
    write_spk2utt(dst)
    return len(keep)


# ------------------------------------------------------------------ corpus provenance

CORPUS_ROOTS = "corpus_roots"  # "NAME real|demo ROOT" a line, written by the data preps
DEMO_MARKER = "DEMO_CORPUS.txt"  # in the root of each tree the demo generators synthesise


def write_corpus_roots(data_dir: str, name: str, root: str) -> None:
    """Record in DATA_DIR/corpus_roots the corpus tree a data prep read (absolute; demo
    when the tree holds the demo generator's DEMO_CORPUS.txt), so that a report names
    the corpus its data came from."""
    kind = "demo" if os.path.isfile(os.path.join(root, DEMO_MARKER)) else "real"
    write_kv(os.path.join(data_dir, CORPUS_ROOTS), {name: f"{kind} {os.path.abspath(root)}"})


def read_corpus_roots(path: str) -> Dict[str, Tuple[str, str]]:
    """``{name: (kind, root)}`` of a corpus_roots file; an unknown kind is an error
    naming the file."""
    out: Dict[str, Tuple[str, str]] = {}
    for name, val in read_kv(path).items():
        kind, _, root = val.partition(" ")
        if kind not in ("real", "demo") or not root:
            raise DataDirError(f"{path}: {name}: expected 'NAME real|demo ROOT', got {val!r}")
        out[name] = (kind, root)
    return out
