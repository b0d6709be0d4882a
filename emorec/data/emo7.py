"""Seven-class corpus of Sharma (paper 004): label mapping, counts tables, splits.

Labels (paper 004, III.A): neutral is dropped from every corpus; the rest of the
one vocabulary of ``emorec.data.emo_corpora`` keeps its name; IEMOCAP's codes map
ang->angry hap->happy sad->sad fea->fearful sur->surprised dis->disgust, and
xxx neu oth fru are dropped.  ``exc`` is dropped too (the paper's IEMOCAP counts,
Tables 1-3, imply it) unless ``exc_to_happy``.

Splits, each a dict ``{part: [utts]}``, seeded (numpy default_rng(seed)):
  * ``stratified``: per (class, corpus) group, shuffled, 20% test, then 20% of the rest
    valid (the paper's 80:20 then 80:20); same speakers and sentences on every side.
  * ``speaker``: per corpus, speakers shuffled and each given to the part whose
    utterance count is furthest below its target share (64/16/20), so no speaker is in
    two parts (a corpus with two speakers, TESS, has no valid part).
  * ``leave_one_corpus_out``: test = one corpus; the other corpora's speakers split
    80/20 into train/valid the same way (no speaker in both).
  * ``speaker_sentence_disjoint``: no speaker, no sentence and no dialog in two parts.
    The speaker split shares sentences (CREMA-D, RAVDESS, SAVEE and TESS read fixed
    sentences or words; IEMOCAP's scripted plays recur in every session) and IEMOCAP
    dialogs (the two speakers of a session).  Per corpus: speakers linked by a dialog
    form one unit, units go to parts as in ``speaker``; a sentence said by one part's
    speakers only goes with them; a sentence said on several sides goes, in seeded
    order, to the side whose kept utterances are furthest below its share (so the parts
    keep 64/16/20 of what is kept); an utterance is kept only when its speaker's part
    and its sentence's part agree.  The rest is dropped (about two thirds of a corpus
    whose every speaker reads every sentence), and a corpus with two sentences (RAVDESS)
    or two speakers (TESS) fills at most two parts.
"""
from __future__ import annotations

import functools
from collections import Counter
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from emorec.data.emo_corpora import _CREMAD_RE, _RAVDESS_RE, _TESS_RE
from emorec.data.folds import utt_play
from emorec.fileio import sort_keys

CLASSES = ("angry", "calm", "disgust", "fearful", "happy", "sad", "surprised")
CORPUS_ORDER = ("savee", "ravdess", "tess", "iemocap", "cremad")  # paper 004's table rows
IEMOCAP_MAP = {"ang": "angry", "hap": "happy", "sad": "sad", "fea": "fearful",
               "sur": "surprised", "dis": "disgust"}
PARTS = ("train", "valid", "test")

def map_label(label: str, exc_to_happy: bool = False) -> Optional[str]:
    """The 7-class label of a corpus label, or None when the paper drops it."""
    if label in CLASSES:
        return label
    if label == "exc" and exc_to_happy:
        return "happy"
    return IEMOCAP_MAP.get(label)


def map_labels(utt2emo: Mapping[str, str], exc_to_happy: bool = False
               ) -> Tuple[Dict[str, str], Counter]:
    """(kept ``{utt: class}``, Counter of dropped source labels)."""
    kept, dropped = {}, Counter()
    for utt, label in utt2emo.items():
        c = map_label(label, exc_to_happy)
        if c is None:
            dropped[label] += 1
        else:
            kept[utt] = c
    return kept, dropped


def counts_table(utt2emo: Mapping[str, str], utt2corpus: Mapping[str, str],
                 title: str = "") -> str:
    """Paper 004 Tables 1-3 layout: corpora x classes with row and column totals."""
    cnt = Counter((utt2corpus[u], e) for u, e in utt2emo.items())
    corpora = [c for c in CORPUS_ORDER if any(k[0] == c for k in cnt)]
    corpora += sort_keys({k[0] for k in cnt} - set(corpora))
    head = f"{'corpus':10}" + "".join(f"{c:>10}" for c in CLASSES) + f"{'total':>8}"
    lines = ([title] if title else []) + [head]
    for corpus in corpora:
        row = [cnt[(corpus, c)] for c in CLASSES]
        lines.append(f"{corpus:10}" + "".join(f"{n:10d}" for n in row) + f"{sum(row):8d}")
    col = [sum(cnt[(k, c)] for k in corpora) for c in CLASSES]
    lines.append(f"{'total':10}" + "".join(f"{n:10d}" for n in col) + f"{sum(col):8d}")
    return "\n".join(lines)


def _take(n: int, frac: float) -> int:
    return int(round(n * frac))


def stratified(utt2emo: Mapping[str, str], utt2corpus: Mapping[str, str], seed: int,
               test_frac: float = 0.2, valid_frac: float = 0.2) -> Dict[str, List[str]]:
    rng = np.random.default_rng(seed)
    groups: Dict[Tuple[str, str], List[str]] = {}
    for u in sort_keys(utt2emo):
        groups.setdefault((utt2corpus[u], utt2emo[u]), []).append(u)
    out: Dict[str, List[str]] = {p: [] for p in PARTS}
    for key in sorted(groups):
        utts = [groups[key][i] for i in rng.permutation(len(groups[key]))]
        n_test = _take(len(utts), test_frac)
        n_valid = _take(len(utts) - n_test, valid_frac)
        out["test"] += utts[:n_test]
        out["valid"] += utts[n_test:n_test + n_valid]
        out["train"] += utts[n_test + n_valid:]
    return {p: sort_keys(v) for p, v in out.items()}


def _speakers_to_parts(utt2spk: Mapping[str, str], utts: Iterable[str],
                       shares: Mapping[str, float], rng: np.random.Generator
                       ) -> Dict[str, List[str]]:
    """Speakers shuffled, each to the part furthest below its share of utterances."""
    by_spk: Dict[str, List[str]] = {}
    for u in sort_keys(utts):
        by_spk.setdefault(utt2spk[u], []).append(u)
    total = sum(len(v) for v in by_spk.values())
    got = {p: 0 for p in shares}
    out: Dict[str, List[str]] = {p: [] for p in shares}
    spks = sort_keys(by_spk)
    for i in rng.permutation(len(spks)):
        s = spks[i]
        part = max(shares, key=lambda p: (shares[p] * total - got[p], -list(shares).index(p)))
        out[part] += by_spk[s]
        got[part] += len(by_spk[s])
    return out


def _shares(test_frac: float, valid_frac: float) -> Dict[str, float]:
    """Each part's share of the utterances: test, then valid of the rest (64/16/20)."""
    return {"train": (1 - test_frac) * (1 - valid_frac), "valid": (1 - test_frac) * valid_frac,
            "test": test_frac}


def _by_class(utt2emo: Mapping[str, str]) -> Dict[str, List[str]]:
    """``{class: utterances in byte order}``, classes in sorted order."""
    out: Dict[str, List[str]] = {}
    for u in sort_keys(utt2emo):
        out.setdefault(utt2emo[u], []).append(u)
    return {c: out[c] for c in sorted(out)}


def _per_corpus(utt2emo: Mapping[str, str], utt2corpus: Mapping[str, str], seed: int, test_frac: float,
                valid_frac: float, split_corpus) -> Dict[str, List[str]]:
    """Parts made corpus by corpus (sorted), one seeded generator for all:
    ``split_corpus(corpus, utts, shares, rng) -> {part: utts}``."""
    rng = np.random.default_rng(seed)
    shares = _shares(test_frac, valid_frac)
    out: Dict[str, List[str]] = {p: [] for p in PARTS}
    for corpus in sort_keys(set(utt2corpus[u] for u in utt2emo)):
        part = split_corpus(corpus, sort_keys(u for u in utt2emo if utt2corpus[u] == corpus), shares, rng)
        for p in PARTS:
            out[p] += part.get(p, [])
    return {p: sort_keys(v) for p, v in out.items()}


def speaker_independent(utt2emo: Mapping[str, str], utt2corpus: Mapping[str, str],
                        utt2spk: Mapping[str, str], seed: int, test_frac: float = 0.2,
                        valid_frac: float = 0.2) -> Dict[str, List[str]]:
    return _per_corpus(utt2emo, utt2corpus, seed, test_frac, valid_frac,
                       lambda corpus, utts, shares, rng: _speakers_to_parts(utt2spk, utts, shares, rng))


def leave_one_corpus_out(utt2emo: Mapping[str, str], utt2corpus: Mapping[str, str],
                         utt2spk: Mapping[str, str], seed: int, valid_frac: float = 0.2
                         ) -> Dict[str, Dict[str, List[str]]]:
    """``{held-out corpus: {train, valid, test}}``."""
    corpora = sort_keys(set(utt2corpus[u] for u in utt2emo))
    folds = {}
    for held in corpora:
        rng = np.random.default_rng([seed, corpora.index(held)])
        fold: Dict[str, List[str]] = {"train": [], "valid": [],
                                      "test": [u for u in utt2emo if utt2corpus[u] == held]}
        for corpus in corpora:
            if corpus == held:
                continue
            part = _speakers_to_parts(utt2spk, [u for u in utt2emo if utt2corpus[u] == corpus],
                                      {"train": 1 - valid_frac, "valid": valid_frac}, rng)
            fold["train"] += part["train"]
            fold["valid"] += part["valid"]
        folds[held] = {p: sort_keys(v) for p, v in fold.items()}
    return folds


def sentence_of(utt: str, corpus: str) -> str:
    """What an utterance says, a key shared by every utterance that says it: CREMA-D's
    sentence code, RAVDESS's statement, SAVEE's sentence code (``a01`` is the same TIMIT
    sentence for every speaker), TESS's word, IEMOCAP's play (scripted) or dialog
    (improvised).  Ids are ``<speaker>-<file stem>`` (emo_corpora) or IEMOCAP's."""
    stem = utt.split("-", 1)[-1]
    m = None
    if corpus == "cremad":
        m = _CREMAD_RE.match(stem)
        key = m and m.group(2)
    elif corpus == "ravdess":
        m = _RAVDESS_RE.match(stem)
        key = m and m.group(5)
    elif corpus == "savee":
        key = stem
    elif corpus == "tess":
        m = _TESS_RE.match(stem)
        key = m and m.group(2).lower()
    elif corpus == "iemocap":
        play = utt_play(utt)
        key = f"script{play:02d}" if play is not None else dialog_of(utt, corpus)
    else:
        raise ValueError(f"{utt}: no sentence key for corpus '{corpus}'")
    if not key:
        raise ValueError(f"{utt}: not a {corpus} utterance id (no sentence code in '{stem}')")
    return f"{corpus}:{key}"


def dialog_of(utt: str, corpus: str) -> Optional[str]:
    """IEMOCAP's dialog (``Ses01M-Ses01F_impro01_M003`` -> ``Ses01F_impro01``), which both
    speakers of a session share; None for the other corpora (one speaker a recording)."""
    return utt.split("-", 1)[-1].rsplit("_", 1)[0] if corpus == "iemocap" else None


def _dialog_units(utts: Sequence[str], utt2spk: Mapping[str, str], corpus: str) -> Dict[str, str]:
    """``{speaker: unit}``: speakers joined by a shared dialog are one unit (union-find)."""
    parent: Dict[str, str] = {}

    def root(x):
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for u in utts:
        d = dialog_of(u, corpus)
        a, b = root(utt2spk[u]), root("dialog:" + d if d else utt2spk[u])
        if a != b:
            parent[max(a, b)] = min(a, b)
    return {utt2spk[u]: root(utt2spk[u]) for u in utts}


def _speaker_sentence_parts(utt2spk: Mapping[str, str], corpus: str, utts: List[str],
                            shares: Mapping[str, float], rng: np.random.Generator) -> Dict[str, List[str]]:
    """One corpus of ``speaker_sentence_disjoint``."""
    unit = _dialog_units(utts, utt2spk, corpus)
    spk_part = {u: p for p, us in _speakers_to_parts({u: unit[utt2spk[u]] for u in utts}, utts,
                                                     shares, rng).items() for u in us}
    sent = {u: sentence_of(u, corpus) for u in utts}
    sides: Dict[str, Counter] = {}       # sentence -> utterances per speaker part
    for u in utts:
        sides.setdefault(sent[u], Counter())[spk_part[u]] += 1
    sent_part = {x: next(iter(c)) for x, c in sides.items() if len(c) == 1}
    kept = Counter(spk_part[u] for u in utts if sent[u] in sent_part)
    shared = sort_keys(x for x in sides if x not in sent_part)
    for i in rng.permutation(len(shared)):
        x = shared[i]
        p = min(sides[x], key=lambda q: (kept[q] / shares[q], PARTS.index(q)))
        sent_part[x] = p
        kept[p] += sides[x][p]
    out: Dict[str, List[str]] = {p: [] for p in PARTS}
    for u in utts:
        if spk_part[u] == sent_part[sent[u]]:
            out[spk_part[u]].append(u)
    return out


def speaker_sentence_disjoint(utt2emo: Mapping[str, str], utt2corpus: Mapping[str, str],
                              utt2spk: Mapping[str, str], seed: int, test_frac: float = 0.2,
                              valid_frac: float = 0.2) -> Dict[str, List[str]]:
    """See the module doc; utterances in no part are dropped."""
    return _per_corpus(utt2emo, utt2corpus, seed, test_frac, valid_frac,
                       functools.partial(_speaker_sentence_parts, utt2spk))


def cap_per_class(utt2emo: Mapping[str, str], cap: int, seed: int) -> List[str]:
    """The utterances kept when no class keeps more than ``cap`` (a seeded random choice
    among a larger class's utterances; paper 004 caps its majority classes)."""
    rng = np.random.default_rng(seed)
    kept = []
    for utts in _by_class(utt2emo).values():
        kept += utts if len(utts) <= cap else [utts[i] for i in sorted(rng.permutation(len(utts))[:cap])]
    return sort_keys(kept)


def split_per_class(utt2emo: Mapping[str, str], n_valid: int, seed: int) -> Dict[str, List[str]]:
    """``{train, valid}``: per class, ``n_valid`` utterances (seeded) to valid, the rest to
    train: paper 004's 1,600 / 400 split of its balanced pool (copies included)."""
    rng = np.random.default_rng(seed)
    out: Dict[str, List[str]] = {"train": [], "valid": []}
    for group in _by_class(utt2emo).values():
        utts = [group[i] for i in rng.permutation(len(group))]
        out["valid"] += utts[:n_valid]
        out["train"] += utts[n_valid:]
    return {p: sort_keys(v) for p, v in out.items()}


def ua_ceiling(train_labels: Iterable[str], test_labels: Iterable[str]) -> Tuple[List[str], float]:
    """(classes of the test part absent from the training part, the highest UA any system
    trained on that part can reach: a class never seen in training is never recalled)."""
    test = set(test_labels)
    absent = sorted(test - set(train_labels))
    return absent, (1 - len(absent) / len(test)) if test else float("nan")


def check_disjoint(parts: Mapping[str, Sequence[str]], key: Mapping[str, str]) -> None:
    """Raise ValueError when a key value (speaker, corpus) is in two parts."""
    owner: Dict[str, str] = {}
    for p, utts in parts.items():
        for u in utts:
            v = key[u]
            if owner.setdefault(v, p) != p:
                raise ValueError(f"'{v}' is in both {owner[v]} and {p} (e.g. {u})")


def transcripts_of(utts: Iterable[str], transcripts: Mapping[str, str],
                   utt2orig: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The transcript of each utterance that has one: its own, else (an augmented copy,
    ``utt2orig``) its original's, since a copy says the same words. Utterances without a
    non-empty transcript (a corpus without transcripts, an utterance the ASR left empty)
    are absent from the result."""
    out = {}
    for u in utts:
        t = transcripts.get(u)
        if t is None and utt2orig is not None:
            t = transcripts.get(utt2orig.get(u, u))
        if t and t.strip():
            out[u] = t.strip()
    return out
