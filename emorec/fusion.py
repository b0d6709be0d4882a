"""Late (score-level) fusion of speech and text class scores (paper 000, Sec. 3.3).

Scores are per-utterance natural-log posteriors, stored as a kaldiio *text* ark
(``utt  [ v1 v2 ... ]``) with ``classes.txt`` beside it.

Two methods, both tuned on the DEV set only and then applied unchanged to TEST:

``w1``     S = w1 * S_speech + (1 - w1) * S_text on the raw log-posteriors; w1 is
           searched on the grid 0, 0.01, ..., 1 to maximise dev UA; ties go to the w1
           closest to 0.5 (then the smaller one).
``znorm``  each modality is z-normalised with *per-class* statistics of its own dev
           scores (column c: mean and std over the dev utterances of that modality's
           score for class c, Eq. 2), then averaged with equal weights (w1 = w2 = 0.5).
           Per-class statistics put every class score of both modalities on the same
           scale; the std has a floor of 1e-6.

The fused scores are written after a log-softmax over classes so that every ark is a
proper log-posterior file again; this adds one constant per utterance and therefore
changes no decision (argmax), UA or WA.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from emorec import metrics

W1_GRID = np.round(np.arange(0, 101) / 100.0, 2)
STD_FLOOR = 1e-6


# ------------------------------------------------------------------------ I/O


@dataclass
class Scores:
    utts: List[str]
    mat: np.ndarray          # [N, C] float64
    classes: List[str]
    source: str = ""


def read_classes(path) -> List[str]:
    with open(path, encoding="utf-8") as f:
        classes = [ln.strip() for ln in f if ln.strip()]
    if not classes:
        raise ValueError(f"{path}: no classes")
    if len(set(classes)) != len(classes):
        raise ValueError(f"{path}: duplicate class names")
    return classes


def write_classes(path, classes: Sequence[str]) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"{c}\n" for c in classes), encoding="utf-8")
    os.replace(tmp, path)


def read_scores(ark_path, classes_path=None) -> Scores:
    """Read a text ark of log-posteriors and the ``classes.txt`` beside it."""
    import kaldiio

    ark_path = Path(ark_path)
    if not ark_path.is_file():
        raise FileNotFoundError(f"{ark_path}: no such score file")
    classes_path = Path(classes_path) if classes_path else ark_path.parent / "classes.txt"
    if not classes_path.is_file():
        raise FileNotFoundError(f"{classes_path}: no classes.txt beside {ark_path}")
    classes = read_classes(classes_path)
    d: Dict[str, np.ndarray] = {}
    for utt, vec in kaldiio.load_ark(str(ark_path)):
        if utt in d:
            raise ValueError(f"{ark_path}: duplicate utterance {utt!r}")
        v = np.asarray(vec, dtype=np.float64).reshape(-1)
        if v.size != len(classes):
            raise ValueError(
                f"{ark_path}: utterance {utt!r} has {v.size} scores but {classes_path} lists "
                f"{len(classes)} classes"
            )
        d[utt] = v
    utts = sorted(d)
    mat = np.stack([d[u] for u in utts]) if utts else np.zeros((0, len(classes)))
    if not np.all(np.isfinite(mat)):
        raise ValueError(f"{ark_path}: non-finite scores")
    return Scores(utts, mat, classes, str(ark_path))


def write_scores(ark_path, utts: Sequence[str], mat: np.ndarray, classes: Sequence[str]) -> None:
    """Write a text ark (+ classes.txt beside it) atomically; utterances in C order."""
    import kaldiio

    ark_path = Path(ark_path)
    ark_path.parent.mkdir(parents=True, exist_ok=True)
    mat = np.asarray(mat, dtype=np.float32)
    if mat.shape != (len(utts), len(classes)):
        raise ValueError(f"{ark_path}: score matrix {mat.shape} vs {len(utts)} utts x {len(classes)} classes")
    order = sorted(range(len(utts)), key=lambda i: utts[i].encode("utf-8"))
    tmp = ark_path.with_name(ark_path.name + ".tmp")
    kaldiio.save_ark(str(tmp), {utts[i]: mat[i] for i in order}, text=True)
    write_classes(ark_path.parent / "classes.txt", classes)
    os.replace(tmp, ark_path)


def log_softmax(mat: np.ndarray) -> np.ndarray:
    m = mat.max(axis=1, keepdims=True)
    z = mat - m
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


# -------------------------------------------------------------------- checks


def align(speech: Scores, text: Scores) -> Tuple[np.ndarray, np.ndarray, List[str], List[str]]:
    """Check both modalities score the same utterances with the same class order.

    Returns ``(S_speech, S_text, utts, classes)`` with rows in the same utterance order.
    """
    if speech.classes != text.classes:
        raise ValueError(
            f"class order differs: {speech.source} has {speech.classes}, {text.source} has "
            f"{text.classes}; both models must write classes.txt in the same order"
        )
    a, b = set(speech.utts), set(text.utts)
    if a != b:
        only_a = sorted(a - b)
        only_b = sorted(b - a)
        raise ValueError(
            f"utterance sets differ: {len(only_a)} only in {speech.source} (e.g. {only_a[:3]}), "
            f"{len(only_b)} only in {text.source} (e.g. {only_b[:3]})"
        )
    idx = {u: i for i, u in enumerate(text.utts)}
    t = text.mat[[idx[u] for u in speech.utts]]
    return speech.mat, t, list(speech.utts), list(speech.classes)


# ------------------------------------------------------------------- methods


def fuse_weighted(s_speech: np.ndarray, s_text: np.ndarray, w1: float) -> np.ndarray:
    return w1 * s_speech + (1.0 - w1) * s_text


def search_w1(s_speech: np.ndarray, s_text: np.ndarray, y: np.ndarray, grid=W1_GRID,
              num_classes: Optional[int] = None) -> Tuple[float, float, np.ndarray]:
    """Grid search of w1 maximising UA on (dev) scores.

    Returns ``(w1, ua, uas)`` with ``uas`` the UA at every grid point.  Ties: the w1
    closest to 0.5, then the smaller.
    """
    y = np.asarray(y, dtype=np.int64)
    if len(y) == 0:
        raise ValueError("cannot search w1 on an empty dev set")
    num_classes = num_classes or s_speech.shape[1]
    uas = np.array([
        metrics.unweighted_accuracy(y, fuse_weighted(s_speech, s_text, w).argmax(1), num_classes)
        for w in grid
    ])
    best = uas.max()
    cands = [w for w, u in zip(grid, uas) if np.isclose(u, best, rtol=0, atol=1e-12)]
    w1 = min(cands, key=lambda w: (abs(w - 0.5), w))
    return float(w1), float(best), uas


def znorm_stats(s: np.ndarray, per_class: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    if s.shape[0] == 0:
        raise ValueError("cannot estimate z-norm statistics on an empty dev set")
    if per_class:
        mu = s.mean(axis=0)
        sd = s.std(axis=0)
    else:
        mu = np.full(s.shape[1], s.mean())
        sd = np.full(s.shape[1], s.std())
    return mu, np.maximum(sd, STD_FLOOR)


def apply_znorm(s: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    return (s - mu) / sd


# -------------------------------------------------------------- fold driver


def read_labels(utt2emo_path, utts: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Labels (class indices) of ``utts`` from a Kaldi utt2emo; every utt must have one."""
    lab: Dict[str, str] = {}
    with open(utt2emo_path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            p = line.split()
            if not p:
                continue
            if len(p) != 2:
                raise ValueError(f"{utt2emo_path}:{lineno}: expected 'utt label'")
            lab[p[0]] = p[1]
    missing = [u for u in utts if u not in lab]
    if missing:
        raise ValueError(f"{utt2emo_path}: no label for {len(missing)} scored utterances (e.g. {missing[:3]})")
    cidx = {c: i for i, c in enumerate(classes)}
    bad = sorted({lab[u] for u in utts if lab[u] not in cidx})
    if bad:
        raise ValueError(f"{utt2emo_path}: labels {bad} not in classes {list(classes)}")
    return np.array([cidx[lab[u]] for u in utts], dtype=np.int64)


def fuse_fold(speech_dir, text_dir, method_dirs: Dict[str, Path], dev_utt2emo,
              per_class_znorm: bool = True, log=print) -> dict:
    """Fuse one fold: tune on dev, apply to test.

    ``method_dirs`` maps each method (``w1``, ``znorm``, ``equal_raw``) to its output dir,
    which receives ``{dev,test}.logpost.ark`` + ``classes.txt`` (+ ``w1.txt``,
    ``w1_search.txt`` or ``znorm_stats.txt``).  Returns a summary dict.
    """
    speech_dir, text_dir = Path(speech_dir), Path(text_dir)
    methods = list(method_dirs)
    sp_dev, tx_dev = read_scores(speech_dir / "dev.logpost.ark"), read_scores(text_dir / "dev.logpost.ark")
    sp_test, tx_test = read_scores(speech_dir / "test.logpost.ark"), read_scores(text_dir / "test.logpost.ark")
    a_dev, b_dev, dev_utts, classes = align(sp_dev, tx_dev)
    a_test, b_test, test_utts, classes_t = align(sp_test, tx_test)
    if classes_t != classes:
        raise ValueError(f"class order differs between dev and test scores in {speech_dir}")
    y_dev = read_labels(dev_utt2emo, dev_utts, classes)
    C = len(classes)
    summary = {"classes": classes, "n_dev": len(dev_utts), "n_test": len(test_utts),
               "dev_ua_speech": metrics.unweighted_accuracy(y_dev, a_dev.argmax(1), C),
               "dev_ua_text": metrics.unweighted_accuracy(y_dev, b_dev.argmax(1), C)}
    for m in methods:
        d = Path(method_dirs[m])
        d.mkdir(parents=True, exist_ok=True)
        if m == "w1":
            w1, ua, uas = search_w1(a_dev, b_dev, y_dev, num_classes=C)
            f_dev, f_test = fuse_weighted(a_dev, b_dev, w1), fuse_weighted(a_test, b_test, w1)
            summary["w1"] = w1
            tmp = d / "w1_search.txt.tmp"
            tmp.write_text("".join(f"{w:.2f} {u:.6f}\n" for w, u in zip(W1_GRID, uas)))
            os.replace(tmp, d / "w1_search.txt")
        elif m == "znorm":
            mu_a, sd_a = znorm_stats(a_dev, per_class_znorm)
            mu_b, sd_b = znorm_stats(b_dev, per_class_znorm)
            f_dev = fuse_weighted(apply_znorm(a_dev, mu_a, sd_a), apply_znorm(b_dev, mu_b, sd_b), 0.5)
            f_test = fuse_weighted(apply_znorm(a_test, mu_a, sd_a), apply_znorm(b_test, mu_b, sd_b), 0.5)
            tmp = d / "znorm_stats.txt.tmp"
            with open(tmp, "w") as f:
                f.write(f"# per-class dev statistics ({'per-class' if per_class_znorm else 'global'}); "
                        f"classes: {' '.join(classes)}\n")
                for name, v in (("speech_mean", mu_a), ("speech_std", sd_a), ("text_mean", mu_b), ("text_std", sd_b)):
                    f.write(name + " " + " ".join(f"{x:.6g}" for x in v) + "\n")
            os.replace(tmp, d / "znorm_stats.txt")
        elif m == "equal_raw":
            f_dev, f_test = fuse_weighted(a_dev, b_dev, 0.5), fuse_weighted(a_test, b_test, 0.5)
        else:
            raise ValueError(f"unknown fusion method {m!r} (w1, znorm, equal_raw)")
        summary[f"dev_ua_{m}"] = metrics.unweighted_accuracy(y_dev, f_dev.argmax(1), C)
        write_scores(d / "dev.logpost.ark", dev_utts, log_softmax(f_dev), classes)
        if m == "w1":  # w1.txt before test.logpost.ark: the test ark is the last output
            tmp = d / "w1.txt.tmp"
            tmp.write_text(f"{summary['w1']:.2f}\n")
            os.replace(tmp, d / "w1.txt")
        write_scores(d / "test.logpost.ark", test_utts, log_softmax(f_test), classes)
    log("fused {} + {}: dev UA speech {:.4f} text {:.4f} ".format(speech_dir, text_dir, summary["dev_ua_speech"], summary["dev_ua_text"])
        + " ".join(f"{m} {summary['dev_ua_' + m]:.4f}" for m in methods)
        + (f" (w1 = {summary['w1']:.2f})" if "w1" in summary else ""))
    return summary


def read_w1(path) -> float:
    """The speech weight written by fuse_fold (``w1.txt``: one number in [0, 1])."""
    try:
        with open(path, encoding="utf-8") as f:
            toks = f.read().split()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such fusion weight file (w1.txt of steps/fuse.sh)") from None
    try:
        if len(toks) != 1:
            raise ValueError
        w1 = float(toks[0])
    except ValueError:
        raise ValueError(f"{path}: expected one number (the speech weight w1), got {' '.join(toks)!r}") from None
    if not 0.0 <= w1 <= 1.0:
        raise ValueError(f"{path}: w1 = {w1} is outside [0, 1]")
    return w1


ZNORM_ROWS = ("speech_mean", "speech_std", "text_mean", "text_std")


def read_znorm_stats(path) -> dict:
    """Read ``znorm_stats.txt`` as written by fuse_fold:

        # per-class dev statistics (per-class); classes: ang hap neu sad
        speech_mean v1 ... vC
        speech_std  ...
        text_mean   ...
        text_std    ...

    -> {"classes": [...] or None, "speech_mean": array, ...} (float64 arrays of C values)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such z-norm statistics file (znorm_stats.txt of steps/fuse.sh)") from None
    out: dict = {"classes": None}
    for n, line in enumerate(lines, 1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            if "classes:" in s:
                out["classes"] = s.split("classes:", 1)[1].split()
            continue
        name, *vals = s.split()
        if name not in ZNORM_ROWS:
            raise ValueError(f"{path}:{n}: unknown row {name!r} (expected one of {', '.join(ZNORM_ROWS)})")
        try:
            out[name] = np.array([float(v) for v in vals], dtype=np.float64)
        except ValueError:
            raise ValueError(f"{path}:{n}: non-numeric value in {name}") from None
    missing = [r for r in ZNORM_ROWS if r not in out]
    if missing:
        raise ValueError(f"{path}: missing rows {missing}")
    sizes = {out[r].size for r in ZNORM_ROWS}
    if len(sizes) != 1 or (out["classes"] is not None and sizes != {len(out["classes"])}):
        raise ValueError(f"{path}: rows of different lengths {[out[r].size for r in ZNORM_ROWS]}"
                         + (f" for classes {out['classes']}" if out["classes"] else ""))
    return out
