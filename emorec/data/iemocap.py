"""IEMOCAP data preparation from the release's on-disk layout.

Reads ``IEMOCAP_full_release/SessionN/dialog/EmoEvaluation/*.txt`` (majority
labels), ``SessionN/dialog/transcriptions/*.txt`` and finds
``SessionN/sentences/wav/<dialog>/<turn>.wav``; writes a Kaldi data dir with
``wav.scp utt2spk spk2utt text utt2emo``.

Ids: speaker = session + F/M letter of the *turn's* last name part
(``Ses01F_impro01_M003`` -> ``Ses01M``); utterance = ``<spk>-<turn>``.

Traps of the real release that are handled:
  * ``._*`` AppleDouble files (and any dot-file) are ignored everywhere;
  * ``Categorical/ Attribute/ Self-evaluation/`` sub-folders of EmoEvaluation are
    not read (only ``EmoEvaluation/*.txt``);
  * dialog names with underscores (``Ses01F_script01_1``): the dialog is the turn
    name minus its last ``_`` part;
  * transcript lines for turns with no evaluation (``..._MXX0``) are unused;
  * CRLF endings; a transcript line that is not UTF-8 is decoded as latin-1, with a
    warning naming ``file:line`` (``text`` is always written as UTF-8);
  * a header-like EmoEvaluation line that does not parse is reported with
    ``file:line`` and counted as a dropped utterance.

Policy (Kaldi's): an utterance whose wav is missing or unreadable (checked from
its header, as emorec.bin.check_audio does) is reported with the file name and
dropped; one whose transcript is missing or empty is reported with ``file:line``
and dropped (Kaldi ``text`` cannot hold an empty value, and the text model needs
it).  If more than ``max_drop_frac`` (5%) of the selected utterances are dropped,
preparation fails.
"""
from __future__ import annotations

import os
import re
import sys
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from emorec.audio import audio_problem
from emorec.data.datadir import utt2spk_to_spk2utt
from emorec.fileio import sort_keys, write_kv

# Exp -> (classes in output order, label remapping applied before selection);
# Exp 0 keeps every label (egs/emo7 maps them to its own classes).
EXPERIMENTS: Dict[int, Tuple[Optional[Tuple[str, ...]], Dict[str, str]]] = {
    0: (None, {}),
    1: (("ang", "hap", "neu", "sad"), {}),
    2: (("ang", "exc", "neu", "sad"), {}),
    3: (("ang", "hap", "neu", "sad"), {"exc": "hap"}),
}
# Padi et al. (ICMI 2021, Table 2) counts on the full release.
PAPER_COUNTS: Dict[int, Dict[str, int]] = {
    1: {"ang": 1103, "hap": 595, "neu": 1708, "sad": 1084},
    2: {"ang": 1103, "exc": 1041, "neu": 1708, "sad": 1084},
    3: {"ang": 1103, "hap": 1636, "neu": 1708, "sad": 1084},
}
FULL_MIN_EVALUATED = 9000  # the full release has 10039 evaluated turns

_EVAL_RE = re.compile(r"^\[\s*([0-9.]+)\s*-\s*([0-9.]+)\s*\]\s+(\S+)\s+(\S+)\s+\[([^\]]*)\]")
_TRANS_RE = re.compile(r"^(\S+)\s+\[\s*([0-9.]+)\s*-\s*([0-9.]+)\s*\]\s*:\s?(.*)$")
_TURN_RE = re.compile(r"^(Ses\d\d)[FM]_.+_([FM])[A-Za-z0-9]+$")
# A line that looks like a turn header (starts with "[" or names a turn) but does not
# match _EVAL_RE is malformed: its turn's label would be lost without a word.
_HEADER_LIKE_RE = re.compile(r"^\[|\bSes\d\d[FM]_\S+_[FM]\w*\d\b")


def log(msg: str) -> None:
    print(msg, file=sys.stderr)


def read_lines(path: str, notes: Optional[List[str]] = None) -> List[str]:
    """Lines without CR/LF; UTF-8, with non-UTF-8 lines decoded as latin-1 (each such
    line noted as ``file:line: ...`` in ``notes``), so that what prep writes is UTF-8."""
    with open(path, "rb") as f:
        raw = f.read()
    out = []
    for n, b in enumerate(raw.split(b"\n"), 1):
        b = b.rstrip(b"\r")
        try:
            out.append(b.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(b.decode("latin-1"))
            if notes is not None:
                notes.append(f"{path}:{n}: bytes that are not UTF-8; decoded as latin-1")
    if out and out[-1] == "":
        out.pop()
    return out


def _visible_txt(d: str) -> List[str]:
    """Plain ``*.txt`` files of ``d`` (no dot-files such as ``._x.txt``), sorted."""
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, n) for n in os.listdir(d)
                  if n.endswith(".txt") and not n.startswith(".")
                  and os.path.isfile(os.path.join(d, n)))


def turn_speaker(turn: str) -> Optional[str]:
    """``Ses01F_impro01_M003`` -> ``Ses01M``; None if the name is not a turn."""
    m = _TURN_RE.match(turn)
    return m.group(1) + m.group(2) if m else None


def turn_dialog(turn: str) -> str:
    """``Ses01F_script01_1_F000`` -> ``Ses01F_script01_1``."""
    return turn.rsplit("_", 1)[0]


@dataclass
class Evaluation:
    turn: str
    label: str
    start: float
    end: float
    vad: str
    where: str  # file:line


def parse_emo_evaluation(path: str) -> Tuple[List[Evaluation], List[str]]:
    """The ``[start - end]<TAB>TURN<TAB>EMO<TAB>[V, A, D]`` lines of one file, and a
    ``file:line: ...`` message for each header-like line that does not parse."""
    out, malformed = [], []
    for n, line in enumerate(read_lines(path), 1):
        line = line.strip()
        m = _EVAL_RE.match(line)
        if m:
            out.append(Evaluation(m.group(3), m.group(4), float(m.group(1)),
                                  float(m.group(2)), m.group(5).strip(), f"{path}:{n}"))
        elif _HEADER_LIKE_RE.search(line):
            malformed.append(f"{path}:{n}: malformed evaluation line '{line}' "
                             "(expected '[START - END]<TAB>TURN<TAB>EMO<TAB>[V, A, D]'); dropped")
    return out, malformed


def parse_transcription(path: str, notes: Optional[List[str]] = None) -> Dict[str, Tuple[str, str]]:
    """``{turn: (text, file:line)}`` from ``TURN [start-end]: text`` lines; lines that
    are not UTF-8 are noted in ``notes`` (see read_lines)."""
    out: Dict[str, Tuple[str, str]] = {}
    for n, line in enumerate(read_lines(path, notes), 1):
        m = _TRANS_RE.match(line.strip())
        if m and m.group(1) not in out:
            out[m.group(1)] = (" ".join(m.group(4).split()), f"{path}:{n}")
    return out


@dataclass
class PrepResult:
    exp: int
    utt2emo: Dict[str, str]
    n_sessions: int
    n_evaluated: int
    label_counts: Counter
    dropped: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)

    def class_counts(self) -> Dict[str, int]:
        c = Counter(self.utt2emo.values())
        return {k: c.get(k, 0) for k in self.classes()}

    def classes(self) -> Tuple[str, ...]:
        return EXPERIMENTS[self.exp][0] or tuple(sorted(set(self.utt2emo.values())))


def sessions(root: str) -> List[str]:
    if not os.path.isdir(root):
        raise FileNotFoundError(f"IEMOCAP root '{root}' is not a directory")
    out = sorted(n for n in os.listdir(root)
                 if re.fullmatch(r"Session\d+", n) and os.path.isdir(os.path.join(root, n)))
    if not out:
        raise FileNotFoundError(f"no Session* folders in '{root}' (expected IEMOCAP_full_release)")
    return out


def prepare(root: str, exp: int = 3, max_drop_frac: float = 0.05) -> Tuple[PrepResult, Dict[str, Dict[str, str]]]:
    """Scan the tree; returns the result and the lists ``{name: {utt: value}}``."""
    if exp not in EXPERIMENTS:
        raise ValueError(f"--exp must be 0, 1, 2 or 3, not {exp}")
    classes, remap = EXPERIMENTS[exp]
    root = os.path.abspath(root)
    res = PrepResult(exp, {}, 0, 0, Counter())
    lists: Dict[str, Dict[str, str]] = {k: {} for k in ("wav.scp", "utt2spk", "text", "utt2emo")}
    selected = 0
    for sess in sessions(root):
        res.n_sessions += 1
        sdir = os.path.join(root, sess)
        evals: "OrderedDict[str, Evaluation]" = OrderedDict()
        for p in _visible_txt(os.path.join(sdir, "dialog", "EmoEvaluation")):
            parsed, malformed = parse_emo_evaluation(p)
            # Its label is unknown, so a malformed turn counts as selected and dropped.
            selected += len(malformed)
            res.dropped += malformed
            for ev in parsed:
                if ev.turn in evals:
                    res.warnings.append(f"{ev.where}: turn {ev.turn} evaluated twice "
                                        f"(first at {evals[ev.turn].where}); keeping the first")
                    continue
                evals[ev.turn] = ev
        trans: Dict[str, Tuple[str, str]] = {}
        for p in _visible_txt(os.path.join(sdir, "dialog", "transcriptions")):
            for t, v in parse_transcription(p, res.warnings).items():
                trans.setdefault(t, v)
        res.n_evaluated += len(evals)
        for turn, ev in evals.items():
            res.label_counts[ev.label] += 1
            label = remap.get(ev.label, ev.label)
            if classes is not None and label not in classes:
                continue
            spk = turn_speaker(turn)
            if spk is None:
                res.warnings.append(f"{ev.where}: '{turn}' is not a turn name; skipped")
                continue
            selected += 1
            wav = os.path.join(sdir, "sentences", "wav", turn_dialog(turn), turn + ".wav")
            if not os.path.isfile(wav):
                res.dropped.append(f"missing wav {wav} (label at {ev.where}); dropped")
                continue
            bad_audio, _ = audio_problem(wav)
            if bad_audio:
                res.dropped.append(f"unreadable wav: {bad_audio} (label at {ev.where}); dropped")
                continue
            tx = trans.get(turn)
            if tx is None:
                res.dropped.append(f"{ev.where}: no transcript line for {turn} in "
                                   f"{sess}/dialog/transcriptions/{turn_dialog(turn)}.txt; dropped")
                continue
            if not tx[0]:
                res.dropped.append(f"{tx[1]}: empty transcript for {turn}; dropped")
                continue
            utt = f"{spk}-{turn}"
            lists["wav.scp"][utt] = wav
            lists["utt2spk"][utt] = spk
            lists["text"][utt] = tx[0]
            lists["utt2emo"][utt] = label
    res.utt2emo = dict(lists["utt2emo"])
    if selected and len(res.dropped) > max_drop_frac * selected:
        for d in res.dropped[:20]:
            log(f"iemocap: {d}")
        raise RuntimeError(f"{len(res.dropped)} of {selected} selected utterances dropped "
                           f"(> {max_drop_frac:.0%}); is '{root}' complete?")
    return res, lists


def write_data_dir(data_dir: str, lists: Dict[str, Dict[str, str]]) -> None:
    os.makedirs(data_dir, exist_ok=True)
    for name, d in lists.items():
        write_kv(os.path.join(data_dir, name), d)
    write_kv(os.path.join(data_dir, "spk2utt"), utt2spk_to_spk2utt(lists["utt2spk"]))


def report(res: PrepResult) -> str:
    """Per-class x per-session table, the total, and a loud warning when a
    full-looking corpus does not give the paper's counts."""
    classes = res.classes()
    by_sess: Dict[str, Counter] = {}
    for utt, emo in res.utt2emo.items():
        by_sess.setdefault(utt[:5], Counter())[emo] += 1
    lines = [f"IEMOCAP Exp {res.exp}: {len(res.utt2emo)} utterances from {res.n_sessions} sessions "
             f"({res.n_evaluated} evaluated turns, {len(res.dropped)} dropped)",
             "session " + " ".join(f"{c:>5}" for c in classes) + "  total"]
    for s in sort_keys(by_sess):
        c = by_sess[s]
        lines.append(f"{s:7} " + " ".join(f"{c.get(k, 0):5d}" for k in classes)
                     + f"  {sum(c.values()):5d}")
    cc = res.class_counts()
    lines.append("all     " + " ".join(f"{cc[k]:5d}" for k in classes) + f"  {sum(cc.values()):5d}")
    lines.append("all labels: " + " ".join(f"{k}={v}" for k, v in sorted(res.label_counts.items())))
    if res.exp in PAPER_COUNTS and res.n_sessions == 5 and res.n_evaluated > FULL_MIN_EVALUATED and cc != PAPER_COUNTS[res.exp]:
        want = PAPER_COUNTS[res.exp]
        lines += ["", "!" * 78,
                  f"WARNING: this looks like the full IEMOCAP release but Exp {res.exp} gives "
                  f"{sum(cc.values())} utterances {cc}",
                  f"WARNING: the paper (Padi et al.) has {sum(want.values())} {want}",
                  "WARNING: check for missing/corrupt files above before trusting results",
                  "!" * 78]
    return "\n".join(lines)
