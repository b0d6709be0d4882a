"""Leave-one-session-out (LOSO) folds for IEMOCAP.

Fold k: test = every utterance of Session k; dev = a deterministic, stratified
held-out part of the other sessions; train = the rest.

Dev selection: for each (session, emotion) group of a non-test session, the
``ceil(dev_frac * n)`` utterances (none if n < 2) with the smallest
``md5(utt id)`` go to dev.  It depends only on the utterance ids, so it is
stable under reruns and identical for a session across the folds where that
session is not the test session.
"""
from __future__ import annotations

import hashlib
import math
import os
import re
from typing import Dict, List, Set, Tuple

from emorec.data.datadir import subset_data_dir
from emorec.fileio import read_kv, sort_keys

_SESS_RE = re.compile(r"^(Ses\d\d)")


def utt_session(utt: str, spk: str) -> str:
    """Session name (``Ses01``) from the speaker id, else the utterance id."""
    for s in (spk, utt):
        m = _SESS_RE.match(s)
        if m:
            return m.group(1)
    raise ValueError(f"cannot tell the session of utterance '{utt}' (speaker '{spk}')")


def _md5(s: str) -> str:
    return hashlib.md5(s.encode("utf-8")).hexdigest()


def dev_utts(utt2sess: Dict[str, str], utt2emo: Dict[str, str], dev_frac: float) -> Set[str]:
    """The dev pool: per (session, emotion), the ceil(frac*n) smallest md5(utt)."""
    groups: Dict[Tuple[str, str], List[str]] = {}
    for u, s in utt2sess.items():
        groups.setdefault((s, utt2emo.get(u, "")), []).append(u)
    out: Set[str] = set()
    for us in groups.values():
        if len(us) < 2:
            continue
        k = min(len(us) - 1, math.ceil(dev_frac * len(us)))
        out.update(sorted(us, key=lambda u: (_md5(u), u))[:k])
    return out


def make_folds(data_dir: str, out_dir: str, dev_frac: float = 0.1) -> Dict[str, Dict[str, int]]:
    """Write ``out_dir/fold{k}/{train,dev,test}``; returns sizes per fold."""
    utt2spk = read_kv(os.path.join(data_dir, "utt2spk"))
    emo_path = os.path.join(data_dir, "utt2emo")
    utt2emo = read_kv(emo_path) if os.path.exists(emo_path) else {}
    utt2sess = {u: utt_session(u, s) for u, s in utt2spk.items()}
    sessions = sort_keys(set(utt2sess.values()))
    if len(sessions) < 2:
        raise ValueError(f"{data_dir}: LOSO needs at least 2 sessions, found {sessions}")
    dev_pool = dev_utts(utt2sess, utt2emo, dev_frac)
    sizes: Dict[str, Dict[str, int]] = {}
    for k, sess in enumerate(sessions, 1):
        test = {u for u, s in utt2sess.items() if s == sess}
        dev = {u for u in dev_pool if utt2sess[u] != sess}
        train = set(utt2spk) - test - dev
        fold = os.path.join(out_dir, f"fold{k}")
        for name, utts in (("train", train), ("dev", dev), ("test", test)):
            subset_data_dir(data_dir, os.path.join(fold, name), utts)
        with open(os.path.join(fold, "test_session.tmp"), "w") as f:
            f.write(sess + "\n")
        os.replace(os.path.join(fold, "test_session.tmp"), os.path.join(fold, "test_session"))
        sizes[f"fold{k}"] = {"train": len(train), "dev": len(dev), "test": len(test)}
    return sizes
