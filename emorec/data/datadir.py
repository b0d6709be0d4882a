"""Kaldi data directories: which lists a data dir holds, spk2utt, subsets.

The list format itself (reading, sorted atomic writing) is emorec.fileio's.
"""
from __future__ import annotations

import os
from typing import Dict, Iterable, List, Mapping

from emorec.fileio import DataDirError, read_kv, sort_keys, write_kv, write_lines

# Per-utterance lists that a subset copies (filtered by utterance id).
UTT_FILES = ("wav.scp", "utt2spk", "text", "utt2emo", "feats.scp", "utt2num_frames",
             "utt2dur", "segments", "vad.scp", "utt2lang", "utt2dialog", "utt2corpus",
             "utt2orig")
# Per-speaker lists that a subset copies (filtered by speaker id).
SPK_FILES = ("spk2gender",)


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
