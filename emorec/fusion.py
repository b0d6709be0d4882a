"""Late (score-level) fusion of speech and text class scores (paper 000, Sec. 3.3).

Scores are per-utterance natural-log posteriors in emorec.fileio's score format.

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

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from emorec import metrics
from emorec.fileio import (Scores, atomic_write, atomic_write_text, open_text, read_classes, read_labels,
                           read_scores, write_scores)

W1_GRID = np.round(np.arange(0, 101) / 100.0, 2)
STD_FLOOR = 1e-6


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


ZNORM_ROWS = ("speech_mean", "speech_std", "text_mean", "text_std")


@dataclass
class FusionParams:
    """Fitted parameters of one fusion method: the speech weight ``w1`` and, for
    ``znorm``, the per-class dev statistics of each modality (``ZNORM_ROWS`` -> arrays of
    C values) that normalise the scores before weighting."""
    w1: float
    znorm: Optional[Dict[str, np.ndarray]] = None

    def reordered(self, order: Sequence[int]) -> "FusionParams":
        """The same parameters with the class columns of the statistics in ``order``."""
        if self.znorm is None:
            return self
        return FusionParams(self.w1, {k: v[list(order)] for k, v in self.znorm.items()})


def apply_fusion(params: FusionParams, s_speech: np.ndarray, s_text: np.ndarray) -> np.ndarray:
    """Fused scores [N, C] of speech and text log-posteriors [N, C] (before the log-softmax)."""
    if params.znorm is not None:
        st = params.znorm
        s_speech = apply_znorm(s_speech, st["speech_mean"], st["speech_std"])
        s_text = apply_znorm(s_text, st["text_mean"], st["text_std"])
    return fuse_weighted(s_speech, s_text, params.w1)


# -------------------------------------------------------------- fold driver


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
            params = FusionParams(w1)
            summary["w1"] = w1
            atomic_write_text(d / "w1_search.txt", "".join(f"{w:.2f} {u:.6f}\n" for w, u in zip(W1_GRID, uas)))
        elif m == "znorm":
            mu_a, sd_a = znorm_stats(a_dev, per_class_znorm)
            mu_b, sd_b = znorm_stats(b_dev, per_class_znorm)
            params = FusionParams(0.5, dict(zip(ZNORM_ROWS, (mu_a, sd_a, mu_b, sd_b))))
            with atomic_write(d / "znorm_stats.txt") as f:
                f.write(f"# per-class dev statistics ({'per-class' if per_class_znorm else 'global'}); "
                        f"classes: {' '.join(classes)}\n")
                # every digit (shortest round-trip repr): a model applying this file must reproduce
                # the fused test scores, and a near-constant system's std can be ~1e-5 of its mean
                for name, v in params.znorm.items():
                    f.write(name + " " + " ".join(repr(float(x)) for x in v) + "\n")
        elif m == "equal_raw":
            params = FusionParams(0.5)
        else:
            raise ValueError(f"unknown fusion method {m!r} (w1, znorm, equal_raw)")
        f_dev, f_test = apply_fusion(params, a_dev, b_dev), apply_fusion(params, a_test, b_test)
        summary[f"dev_ua_{m}"] = metrics.unweighted_accuracy(y_dev, f_dev.argmax(1), C)
        write_scores(d / "dev.logpost.ark", dev_utts, log_softmax(f_dev), classes)
        if m == "w1":  # w1.txt before test.logpost.ark: the test ark is the last output
            atomic_write_text(d / "w1.txt", f"{summary['w1']:.2f}\n")
        write_scores(d / "test.logpost.ark", test_utts, log_softmax(f_test), classes)
    log("fused {} + {}: dev UA speech {:.4f} text {:.4f} ".format(speech_dir, text_dir, summary["dev_ua_speech"], summary["dev_ua_text"])
        + " ".join(f"{m} {summary['dev_ua_' + m]:.4f}" for m in methods)
        + (f" (w1 = {summary['w1']:.2f})" if "w1" in summary else ""))
    return summary


def read_w1(path) -> float:
    """The speech weight written by fuse_fold (``w1.txt``: one number in [0, 1])."""
    try:
        with open_text(path) as f:
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


def read_znorm_stats(path) -> dict:
    """Read ``znorm_stats.txt`` as written by fuse_fold:

        # per-class dev statistics (per-class); classes: ang hap neu sad
        speech_mean v1 ... vC
        speech_std  ...
        text_mean   ...
        text_std    ...

    -> {"classes": [...] or None, "speech_mean": array, ...} (float64 arrays of C values)."""
    try:
        with open_text(path) as f:
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


def read_fusion_params(method: str, fusion_dir) -> Tuple[FusionParams, Optional[List[str]]]:
    """The parameters fuse_fold wrote for METHOD into one fold's output dir (``w1.txt``,
    ``znorm_stats.txt``) and the class order of their scores: the z-norm header's, else
    that of ``classes.txt`` beside them, else None."""
    d = Path(fusion_dir)
    classes_txt = d / "classes.txt"
    file_classes = read_classes(classes_txt) if classes_txt.is_file() else None
    if method == "w1":
        return FusionParams(read_w1(d / "w1.txt")), file_classes
    if method == "znorm":
        st = read_znorm_stats(d / "znorm_stats.txt")
        return FusionParams(0.5, {k: st[k] for k in ZNORM_ROWS}), st["classes"] or file_classes
    if method == "equal_raw":
        return FusionParams(0.5), file_classes
    raise ValueError(f"unknown fusion method {method!r} (w1, znorm, equal_raw)")
