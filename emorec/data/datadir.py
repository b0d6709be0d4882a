"""Kaldi data-directory lists: read, write (sorted, atomic), subset.

A Kaldi list is one ``KEY VALUE...`` entry per line (``wav.scp``, ``utt2spk``,
``text``, ``utt2emo``, ``feats.scp``...).  Everything written here is sorted by
key in byte order (what ``LC_ALL=C sort`` gives), has unique keys, ends with a
newline, and is written to ``NAME.tmp`` then renamed, so a killed job never
leaves a half-written list behind.
"""
from __future__ import annotations

import os
from typing import Dict, Iterable, List, Mapping, Tuple, Union

# Per-utterance lists that a subset copies (filtered by utterance id).
UTT_FILES = ("wav.scp", "utt2spk", "text", "utt2emo", "feats.scp", "utt2num_frames",
             "utt2dur", "segments", "vad.scp", "utt2lang", "utt2dialog", "utt2corpus",
             "utt2orig")
# Per-speaker lists that a subset copies (filtered by speaker id).
SPK_FILES = ("spk2gender",)


class DataDirError(ValueError):
    """Malformed Kaldi list; the message names the file and line."""


def _key(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def sort_keys(keys: Iterable[str]) -> List[str]:
    """Keys in byte order (``LC_ALL=C``)."""
    return sorted(keys, key=_key)


def read_kv(path: str, allow_empty_value: bool = False) -> Dict[str, str]:
    """Read a Kaldi list into ``{key: rest-of-line}`` (insertion = file order).

    Raises DataDirError naming ``path:line`` on a duplicate key or (unless
    ``allow_empty_value``) a line with no value.  Blank lines are an error too.
    """
    out: Dict[str, str] = {}
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            parts = line.strip().split(None, 1)
            if not parts:
                raise DataDirError(f"{path}:{n}: empty line")
            key = parts[0]
            val = parts[1].strip() if len(parts) > 1 else ""
            if not val and not allow_empty_value:
                raise DataDirError(f"{path}:{n}: key '{key}' has no value")
            if key in out:
                raise DataDirError(f"{path}:{n}: duplicate key '{key}'")
            out[key] = val
    return out


def write_kv(path: str, entries: Union[Mapping[str, str], Iterable[Tuple[str, str]]]) -> None:
    """Write ``KEY VALUE`` lines sorted by key (byte order), atomically."""
    items = list(entries.items()) if isinstance(entries, Mapping) else list(entries)
    seen = set()
    for k, v in items:
        if not k or any(c.isspace() for c in k):
            raise DataDirError(f"{path}: bad key {k!r} (empty or contains whitespace)")
        if k in seen:
            raise DataDirError(f"{path}: duplicate key '{k}'")
        if "\n" in str(v) or "\r" in str(v):
            raise DataDirError(f"{path}: value of '{k}' contains a newline")
        seen.add(k)
    items.sort(key=lambda kv: _key(kv[0]))
    write_lines(path, [f"{k} {v}".rstrip() for k, v in items])


def write_lines(path: str, lines: Iterable[str]) -> None:
    """Write lines as given (no sorting), atomically via ``path.tmp`` + rename."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")
    os.replace(tmp, path)


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

    Every per-utterance list present in ``src`` (see UTT_FILES) is filtered,
    per-speaker lists are filtered to the speakers left, ``spk2utt`` is
    regenerated, and ``trials`` (if any) keeps the trials with both sides
    present, in their original order.  Returns the number of utterances.
    """
    keep = set(utts)
    utt2spk = read_kv(os.path.join(src, "utt2spk"))
    missing = sorted(keep - set(utt2spk))
    if missing:
        raise DataDirError(f"{src}/utt2spk: {len(missing)} requested utterances absent, "
                           f"e.g. '{missing[0]}'")
    os.makedirs(dst, exist_ok=True)
    for name in UTT_FILES:
        p = os.path.join(src, name)
        if os.path.exists(p):
            d = read_kv(p, allow_empty_value=(name == "text"))
            write_kv(os.path.join(dst, name), {k: v for k, v in d.items() if k in keep})
    spks = {utt2spk[u] for u in keep}
    for name in SPK_FILES:
        p = os.path.join(src, name)
        if os.path.exists(p):
            d = read_kv(p)
            write_kv(os.path.join(dst, name), {k: v for k, v in d.items() if k in spks})
    p = os.path.join(src, "trials")
    if os.path.exists(p):
        with open(p, encoding="utf-8") as f:
            lines = [ln.rstrip("\r\n") for ln in f]
        write_lines(os.path.join(dst, "trials"),
                    [ln for ln in lines if len(ln.split()) == 3
                     and ln.split()[0] in keep and ln.split()[1] in keep])
    write_spk2utt(dst)
    return len(keep)
