"""Cross-validation folds for IEMOCAP: leave-one-session-out (papers 000, 003) and the
5-fold random 80/20 split of paper 003's ablation.

``loso`` (default): fold k tests Session k.  Its dev set is ONE speaker of the
training sessions, all of that speaker's utterances: the speaker of the session after
the test session (cyclically) at position ``(k - 1) mod n`` of that session's sorted
speakers, so the dev speaker rotates over sessions and, on IEMOCAP, alternates F/M
(fold1 Ses02F, fold2 Ses03M, fold3 Ses04F, fold4 Ses05M, fold5 Ses01F).  Train is
the rest of the training sessions, so dev shares no speaker with train or test: the
epoch and the fusion weights are selected on unseen speakers, as test is scored.

``script_disjoint`` (LOSO only): IEMOCAP's scripted dialogs (``..._script01_1_F000``)
read the same plays in every session, so their transcripts recur verbatim across
sessions.  With this option no play is on both sides of a fold: play ``scriptNN`` is
on the test side of fold k when ``(NN + k)`` is even, on the training side otherwise;
test keeps the test session's improvised utterances and its test-side plays, train and
dev keep the other sessions' improvised utterances and training-side plays.  The
plays alternate sides from fold to fold, so each is tested in some folds and trained
on in the others.

``random5``: paper 003's ablation protocol.  Per emotion, utterances are ordered by
``md5(utt id)`` and dealt to 5 folds in turn (stratified 80/20); fold k tests its
share; dev is, per emotion, every 10th training utterance in the same order.  Test,
dev and train share speakers by construction (a speaker-dependent protocol).

Everything depends on the utterance ids only: stable under reruns.
"""
from __future__ import annotations

import hashlib
import os
import re
from typing import Dict, List, Optional, Set, Tuple

from emorec.data.datadir import subset_data_dir
from emorec.fileio import atomic_write_text, read_kv, sort_keys

PROTOCOLS = ("loso", "random5")
RANDOM_FOLDS = 5
RANDOM_DEV_EVERY = 10
_SESS_RE = re.compile(r"^(Ses\d\d)")
_PLAY_RE = re.compile(r"_script(\d+)")


def utt_session(utt: str, spk: str) -> str:
    """Session name (``Ses01``) from the speaker id, else the utterance id."""
    for s in (spk, utt):
        m = _SESS_RE.match(s)
        if m:
            return m.group(1)
    raise ValueError(f"cannot tell the session of utterance '{utt}' (speaker '{spk}')")


def utt_play(utt: str) -> Optional[int]:
    """The play number of a scripted IEMOCAP utterance (``_script02_1_`` -> 2), None if improvised."""
    m = _PLAY_RE.search(utt)
    return int(m.group(1)) if m else None


def _md5(s: str) -> str:
    return hashlib.md5(s.encode("utf-8")).hexdigest()


def dev_speaker(test_session: str, sessions: List[str], spk2sess: Dict[str, str], fold: int) -> str:
    """The rotating dev speaker of a LOSO fold (see the module docstring)."""
    nxt = sessions[(sessions.index(test_session) + 1) % len(sessions)]
    spks = sort_keys(s for s, ss in spk2sess.items() if ss == nxt)
    return spks[(fold - 1) % len(spks)]


def play_on_test_side(play: int, fold: int) -> bool:
    return (play + fold) % 2 == 0


def loso_splits(utt2spk: Dict[str, str], script_disjoint: bool = False) -> List[Tuple[str, Set[str], Set[str], Set[str]]]:
    """[(test session, train, dev, test)] per fold."""
    utt2sess = {u: utt_session(u, s) for u, s in utt2spk.items()}
    spk2sess = {s: utt2sess[u] for u, s in utt2spk.items()}
    sessions = sort_keys(set(utt2sess.values()))
    if len(sessions) < 3:
        raise ValueError(f"LOSO with a speaker-disjoint dev needs at least 3 sessions, found {sessions}")
    out = []
    for k, sess in enumerate(sessions, 1):
        dev_spk = dev_speaker(sess, sessions, spk2sess, k)
        test, dev, train = set(), set(), set()
        for u, s in utt2spk.items():
            play = utt_play(u) if script_disjoint else None
            if utt2sess[u] == sess:
                if play is None or play_on_test_side(play, k):
                    test.add(u)
            elif play is None or not play_on_test_side(play, k):
                (dev if s == dev_spk else train).add(u)
        out.append((sess, train, dev, test))
    return out


def random_splits(utt2emo: Dict[str, str], utts) -> List[Tuple[str, Set[str], Set[str], Set[str]]]:
    """[(name, train, dev, test)] of the stratified 5-fold random protocol."""
    by_emo: Dict[str, List[str]] = {}
    for u in utts:
        by_emo.setdefault(utt2emo.get(u, ""), []).append(u)
    part: Dict[str, int] = {}
    for us in by_emo.values():
        for i, u in enumerate(sorted(us, key=lambda x: (_md5(x), x))):
            part[u] = i % RANDOM_FOLDS
    out = []
    for k in range(RANDOM_FOLDS):
        test = {u for u, p in part.items() if p == k}
        dev = set()
        for us in by_emo.values():
            rest = [u for u in sorted(us, key=lambda x: (_md5(x), x)) if part[u] != k]
            dev.update(rest[::RANDOM_DEV_EVERY])
        out.append((f"random{k + 1}of{RANDOM_FOLDS}", set(part) - test - dev, dev, test))
    return out


def make_folds(data_dir: str, out_dir: str, protocol: str = "loso",
               script_disjoint: bool = False) -> Dict[str, Dict[str, int]]:
    """Write ``out_dir/fold{k}/{train,dev,test}`` and ``fold{k}/test_set`` (the held-out
    session, or the random part); returns sizes per fold."""
    utt2spk = read_kv(os.path.join(data_dir, "utt2spk"))
    emo_path = os.path.join(data_dir, "utt2emo")
    utt2emo = read_kv(emo_path) if os.path.exists(emo_path) else {}
    if protocol == "loso":
        splits = loso_splits(utt2spk, script_disjoint)
    elif protocol == "random5":
        if script_disjoint:
            raise ValueError("script_disjoint applies to the loso protocol only")
        splits = random_splits(utt2emo, utt2spk)
    else:
        raise ValueError(f"unknown fold protocol {protocol!r} (choose from {', '.join(PROTOCOLS)})")
    sizes: Dict[str, Dict[str, int]] = {}
    for k, (name, train, dev, test) in enumerate(splits, 1):
        fold = os.path.join(out_dir, f"fold{k}")
        for part, utts in (("train", train), ("dev", dev), ("test", test)):
            if not utts:
                raise ValueError(f"{data_dir}: fold{k} ({protocol}) has an empty {part} set")
            subset_data_dir(data_dir, os.path.join(fold, part), utts)
        atomic_write_text(os.path.join(fold, "test_set"), name + "\n")
        sizes[f"fold{k}"] = {"train": len(train), "dev": len(dev), "test": len(test)}
    return sizes
