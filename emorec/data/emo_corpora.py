"""Data preparation of CREMA-D, RAVDESS, SAVEE and TESS from their release layouts.

``prepare(corpus, root)`` walks ``root`` (any depth, sorted), parses every ``*.wav``
name with the corpus's parser and returns the Kaldi lists ``wav.scp utt2spk utt2emo
utt2corpus text spk2gender``.  Labels use one vocabulary, ``VOCAB``.  Ids: speaker =
corpus tag + the corpus's speaker code (``cremad1001``, ``ravdess07``, ``saveeDC``,
``tessOAF``), utterance = ``<speaker>-<file stem>``.

Layouts accepted (the releases and their common redistributions):
  * CREMA-D ``AudioWAV/<actor>_<sentence>_<EMO>_<level>.wav`` (levels LO MD HI XX X);
    the 12 sentence codes give ``text``; ``VideoDemographics.csv`` (anywhere under
    the root), when present, gives ``spk2gender``.
  * RAVDESS ``Actor_NN/MM-VV-EE-II-SS-RR-AA.wav``; song files (VV = 02) are skipped
    unless ``include_song``; odd actors are male.
  * SAVEE ``AudioData/<DC|JE|JK|KL>/<code>NN.wav`` and flat ``<SPK>_<code>NN.wav``,
    codes a d f h n sa su; no transcript (the sentence list is not in the release).
  * TESS ``<OAF|YAF>_<emotion>/<OAF|YAF>_<word>_<emotion>.wav`` whatever the folder's
    spelling; the label comes from the file name (``_ps`` = pleasant surprise),
    ``text`` = "Say the word <word>".

Files whose name starts with ``.`` (AppleDouble ``._*``) and files that are not
``.wav`` are ignored.  A wav that is empty, unreadable, whose name does not parse or
whose path is not UTF-8 (the folder is named) is dropped and named in the log;
preparation fails when more than ``max_drop_frac`` (5%, Kaldi's rule) of the wavs are
dropped, and says so when they are git-lfs pointers (a clone made without git-lfs).

Symbolic links are followed, each folder walked once (by device and inode): a link
loop or a second link to a folder is skipped.  A second copy of a file (same name,
same bytes, e.g. Kaggle's RAVDESS holds ``Actor_NN/`` twice) is skipped and counted;
another file under an utterance id already taken is dropped.
"""
from __future__ import annotations

import csv
import filecmp
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from emorec.audio import LFS_POINTER, audio_problem, is_lfs_pointer

VOCAB = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
CORPORA = ("cremad", "ravdess", "savee", "tess")

CREMAD_SENTENCES = {
    "IEO": "It's eleven o'clock", "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting", "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full", "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock", "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket", "ITS": "I think I've seen this before",
    "TSI": "The surface is slick", "WSI": "We'll stop in a couple of minutes",
}
CREMAD_EMO = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy",
              "NEU": "neutral", "SAD": "sad"}
RAVDESS_EMO = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
               "06": "fearful", "07": "disgust", "08": "surprised"}
RAVDESS_TEXT = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
SAVEE_EMO = {"a": "angry", "d": "disgust", "f": "fearful", "h": "happy", "n": "neutral",
             "sa": "sad", "su": "surprised"}
SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")
TESS_EMO = {"angry": "angry", "anger": "angry", "disgust": "disgust", "fear": "fearful",
            "happy": "happy", "neutral": "neutral", "sad": "sad", "ps": "surprised",
            "pleasant_surprise": "surprised", "pleasant_surprised": "surprised",
            "surprise": "surprised", "surprised": "surprised"}

_CREMAD_RE = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_(LO|MD|HI|XX|X)$")
_RAVDESS_RE = re.compile(r"^(0[1-3])-(0[12])-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d\d)$")
_SAVEE_RE = re.compile(r"^(?:(DC|JE|JK|KL)_)?(sa|su|a|d|f|h|n)(\d\d)$")
_TESS_RE = re.compile(r"^(OAF|YAF)_(.+?)_([A-Za-z]+(?:_[A-Za-z]+)?)$", re.IGNORECASE)


class ParseError(ValueError):
    """The file name does not follow the corpus's naming scheme."""


@dataclass
class Entry:
    spk: str
    stem: str
    emo: str
    text: Optional[str] = None
    gender: Optional[str] = None
    song: bool = False  # RAVDESS vocal channel 02


def parse_cremad(path: str) -> Entry:
    stem = os.path.splitext(os.path.basename(path))[0]
    m = _CREMAD_RE.match(stem)
    if not m:
        raise ParseError("not <actor>_<sentence>_<EMO>_<level> (e.g. 1001_DFA_ANG_XX)")
    actor, sent, emo, _ = m.groups()
    if sent not in CREMAD_SENTENCES:
        raise ParseError(f"unknown sentence code {sent}")
    if emo not in CREMAD_EMO:
        raise ParseError(f"unknown emotion code {emo}")
    return Entry("cremad" + actor, stem, CREMAD_EMO[emo], CREMAD_SENTENCES[sent])


def parse_ravdess(path: str) -> Entry:
    stem = os.path.splitext(os.path.basename(path))[0]
    m = _RAVDESS_RE.match(stem)
    if not m:
        raise ParseError("not MM-VV-EE-II-SS-RR-AA (e.g. 03-01-05-02-01-01-07)")
    _, channel, emo, _, statement, _, actor = m.groups()
    if not 1 <= int(actor) <= 99:
        raise ParseError(f"bad actor number {actor}")
    return Entry("ravdess" + actor, stem, RAVDESS_EMO[emo], RAVDESS_TEXT[statement],
                 "m" if int(actor) % 2 else "f", song=channel == "02")


def parse_savee(path: str) -> Entry:
    stem = os.path.splitext(os.path.basename(path))[0]
    m = _SAVEE_RE.match(stem)
    if not m:
        raise ParseError("not <code>NN or <SPK>_<code>NN with code a d f h n sa su")
    spk = m.group(1) or os.path.basename(os.path.dirname(path))
    if spk not in SAVEE_SPEAKERS:
        raise ParseError(f"speaker '{spk}' (from the name or folder) is not one of "
                         f"{' '.join(SAVEE_SPEAKERS)}")
    return Entry("savee" + spk, f"{m.group(2)}{m.group(3)}", SAVEE_EMO[m.group(2)],
                 None, "m")


def parse_tess(path: str) -> Entry:
    stem = os.path.splitext(os.path.basename(path))[0]
    m = _TESS_RE.match(stem)
    if not m:
        raise ParseError("not <OAF|YAF>_<word>_<emotion>")
    spk, word, emo = m.group(1).upper(), m.group(2), m.group(3).lower()
    if emo not in TESS_EMO:
        raise ParseError(f"unknown emotion '{m.group(3)}'")
    return Entry("tess" + spk, stem, TESS_EMO[emo], f"Say the word {word}", "f")


PARSERS: Dict[str, Callable[[str], Entry]] = {
    "cremad": parse_cremad, "ravdess": parse_ravdess, "savee": parse_savee, "tess": parse_tess}


def walk_tree(root: str, skipped: Optional[List[str]] = None):
    """``os.walk(root, followlinks=True)`` in sorted order, hidden folders left out, that
    enters each folder once (by device and inode): a symlink loop, or a second link to a
    folder already walked, is not entered again (its path is appended to ``skipped``)."""
    seen = set()
    for d, dirs, files in os.walk(root, followlinks=True):
        st = os.stat(d)
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            if skipped is not None:
                skipped.append(d)
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        yield d, sorted(files)


def not_utf8(path: str, root: str) -> Optional[str]:
    """Why ``path`` (under ``root``, as os.walk names it) cannot be written to a list:
    the first folder or file name that is not UTF-8; None when it is UTF-8."""
    try:
        path.encode("utf-8")
        return None
    except UnicodeEncodeError:
        pass
    parts = os.path.relpath(path, root).split(os.sep)
    for i, part in enumerate(parts):
        try:
            part.encode("utf-8")
        except UnicodeEncodeError:
            what = "file" if i == len(parts) - 1 else "folder"
            where = os.fsencode(os.path.join(root, *parts[:i + 1]))
            return f"{where!r}: {what} name is not UTF-8 (rename it)"
    return f"{os.fsencode(root)!r}: path is not UTF-8"


def cremad_genders(root: str) -> Dict[str, str]:
    """``{speaker: m|f}`` from CREMA-D's VideoDemographics.csv, if the tree holds one."""
    for d, files in walk_tree(root):
        if "VideoDemographics.csv" in files:
            with open(os.path.join(d, "VideoDemographics.csv"), newline="",
                      encoding="utf-8", errors="replace") as f:
                return {"cremad" + r["ActorID"].strip(): r["Sex"].strip()[:1].lower()
                        for r in csv.DictReader(f) if r.get("ActorID") and r.get("Sex")}
    return {}


@dataclass
class PrepResult:
    lists: Dict[str, Dict[str, str]]
    dropped: List[str] = field(default_factory=list)
    duplicates: List[str] = field(default_factory=list)   # identical second copies, skipped
    links_skipped: List[str] = field(default_factory=list)  # folders reached again by a link
    n_lfs: int = 0          # dropped git-lfs pointer files
    n_ignored: int = 0
    n_song: int = 0
    n_wavs: int = 0

    def counts(self) -> Counter:
        return Counter(self.lists["utt2emo"].values())


def prepare(corpus: str, root: str, include_song: bool = False,
            max_drop_frac: float = 0.05) -> PrepResult:
    if corpus not in PARSERS:
        raise ValueError(f"unknown corpus '{corpus}' (one of {' '.join(CORPORA)})")
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{corpus}: '{root}' is not a directory")
    root = os.path.abspath(root)
    parse = PARSERS[corpus]
    lists: Dict[str, Dict[str, str]] = {k: {} for k in
                                        ("wav.scp", "utt2spk", "utt2emo", "utt2corpus",
                                         "text", "spk2gender")}
    res = PrepResult(lists)
    genders = cremad_genders(root) if corpus == "cremad" else {}
    where: Dict[str, str] = {}
    for d, files in walk_tree(root, res.links_skipped):
        for name in files:
            path = os.path.join(d, name)
            if name.startswith(".") or not name.lower().endswith(".wav"):
                res.n_ignored += 1
                continue
            res.n_wavs += 1
            bad = not_utf8(path, root)
            if bad:
                res.dropped.append(f"{bad}; dropped")
                continue
            try:
                e = parse(path)
            except ParseError as err:
                res.dropped.append(f"{path}: unparseable name: {err}; dropped")
                continue
            if e.song and not include_song:
                res.n_song += 1
                res.n_wavs -= 1
                continue
            utt = f"{e.spk}-{e.stem}"
            if utt in where:
                first = where[utt]
                if name == os.path.basename(first) and filecmp.cmp(path, first, shallow=False):
                    res.duplicates.append(f"{path}: identical copy of {first}; skipped")
                    res.n_wavs -= 1
                else:
                    res.dropped.append(f"{path}: utterance id {utt} already taken by "
                                       f"{first} (a different file); dropped")
                continue
            bad, _ = audio_problem(path)
            if bad:
                res.dropped.append(f"{bad}; dropped")
                res.n_lfs += is_lfs_pointer(path)
                continue
            where[utt] = path
            lists["wav.scp"][utt] = path
            lists["utt2spk"][utt] = e.spk
            lists["utt2emo"][utt] = e.emo
            lists["utt2corpus"][utt] = corpus
            if e.text:
                lists["text"][utt] = e.text
            gender = e.gender or genders.get(e.spk)
            if gender:
                lists["spk2gender"][e.spk] = gender
    if not lists["text"]:
        del lists["text"]
    if len(lists["spk2gender"]) < len(set(lists["utt2spk"].values())):
        del lists["spk2gender"]  # Kaldi wants every speaker or none
    if res.n_wavs and len(res.dropped) > max_drop_frac * res.n_wavs:
        lfs = f"; {res.n_lfs} of them are {LFS_POINTER}" if res.n_lfs else ""
        raise RuntimeError(f"{corpus}: {len(res.dropped)} of {res.n_wavs} wavs under {root} "
                           f"dropped (> {max_drop_frac:.0%}){lfs}; first: {res.dropped[0]}")
    if not lists["wav.scp"]:
        raise RuntimeError(f"{corpus}: no usable wav under {root}")
    return res


def report(corpus: str, res: PrepResult) -> str:
    c = res.counts()
    lines = [f"{corpus}: {len(res.lists['wav.scp'])} utterances, "
             f"{len(set(res.lists['utt2spk'].values()))} speakers; {len(res.dropped)} wavs "
             f"dropped, {res.n_ignored} non-audio/AppleDouble files ignored"
             + (f", {res.n_song} song files skipped" if res.n_song else "")
             + (f", {len(res.duplicates)} identical second copies skipped (e.g. {res.duplicates[0]})"
                if res.duplicates else "")
             + (f", {len(res.links_skipped)} symlinked folders walked already skipped "
                f"(e.g. {res.links_skipped[0]})" if res.links_skipped else ""),
             "  " + " ".join(f"{k}={c[k]}" for k in VOCAB if c[k])]
    return "\n".join(lines)
