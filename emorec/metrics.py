"""Classification and verification metrics (numpy in, numpy/float out).

Emotion recognition (paper 000, Sec. 5):
  * ``unweighted_accuracy`` (UA): mean of the per-class recalls, over the classes
    present in ``y_true`` (a class absent from the reference has no recall).
  * ``weighted_accuracy`` (WA): overall accuracy (fraction of correct decisions).
  * ``confusion_matrix``: counts, rows = true class, columns = predicted class.

Speaker verification:
  * ``compute_eer``: equal error rate from the exact ROC (every distinct score is a
    threshold), linearly interpolated where the miss and false-alarm curves cross.
  * ``compute_min_dcf``: minimum of the NIST detection cost, normalised by the cost
    of the best trivial system ``min(c_miss * p_target, c_fa * (1 - p_target))``.
Labels for verification: 1 = target trial, 0 = non-target.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "unweighted_accuracy",
    "weighted_accuracy",
    "confusion_matrix",
    "per_class_recall",
    "compute_eer",
    "compute_min_dcf",
    "roc_curve_points",
]


def _as_labels(y, name):
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
            y = y.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer class indices")
    return y.astype(np.int64)


def _check_pair(y_true, y_pred):
    y_true = _as_labels(y_true, "y_true")
    y_pred = _as_labels(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y_true.size} vs {y_pred.size}")
    if y_true.size == 0:
        raise ValueError("empty label arrays")
    return y_true, y_pred


def confusion_matrix(y_true, y_pred, num_classes=None) -> np.ndarray:
    """Counts ``C[i, j]`` = number of items of true class i predicted as j (int64)."""
    y_true, y_pred = _check_pair(y_true, y_pred)
    if num_classes is None:
        num_classes = int(max(y_true.max(), y_pred.max())) + 1
    if y_true.min() < 0 or y_pred.min() < 0 or y_true.max() >= num_classes or y_pred.max() >= num_classes:
        raise ValueError(f"labels outside [0, {num_classes})")
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def per_class_recall(y_true, y_pred, num_classes=None) -> np.ndarray:
    """Recall of each class; NaN for classes absent from ``y_true``."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rec = np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)
    return rec.astype(np.float64)


def unweighted_accuracy(y_true, y_pred, num_classes=None) -> float:
    """Mean per-class recall over the classes present in ``y_true``."""
    y_true, y_pred = _check_pair(y_true, y_pred)
    if num_classes is None:
        num_classes = int(max(y_true.max(), y_pred.max())) + 1
    rec = per_class_recall(y_true, y_pred, num_classes)
    return float(np.nanmean(rec))


def weighted_accuracy(y_true, y_pred) -> float:
    """Overall accuracy."""
    y_true, y_pred = _check_pair(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def _check_trials(scores, labels):
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel()
    if scores.shape != labels.shape:
        raise ValueError(f"scores and labels differ in length: {scores.size} vs {labels.size}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain NaN or inf")
    labels = labels.astype(np.int64)
    if not np.all((labels == 0) | (labels == 1)):
        raise ValueError("labels must be 0 (non-target) or 1 (target)")
    n_tar = int(labels.sum())
    n_non = int(labels.size - n_tar)
    if n_tar == 0 or n_non == 0:
        raise ValueError(f"need both target and non-target trials (got {n_tar} / {n_non})")
    return scores, labels, n_tar, n_non


def roc_curve_points(scores, labels):
    """Miss and false-alarm rates at every distinct threshold.

    Decision rule: accept (say "target") when ``score >= threshold``.  Returns
    ``(p_miss, p_fa, thresholds)`` with thresholds increasing; the first point
    (threshold = -inf, everything accepted) has p_miss = 0, p_fa = 1 and the last
    (threshold = +inf) has p_miss = 1, p_fa = 0.
    """
    scores, labels, n_tar, n_non = _check_trials(scores, labels)
    order = np.argsort(scores, kind="mergesort")
    s = scores[order]
    lab = labels[order]
    # Unique thresholds; rejecting everything strictly below t = s_u[k].
    uniq, first = np.unique(s, return_index=True)
    cum_tar = np.concatenate([[0], np.cumsum(lab)])          # targets among first i sorted
    cum_non = np.concatenate([[0], np.cumsum(1 - lab)])
    n_below = first                                          # items with score < uniq[k]
    p_miss = cum_tar[n_below] / n_tar
    p_fa = (n_non - cum_non[n_below]) / n_non
    p_miss = np.concatenate([p_miss, [1.0]])
    p_fa = np.concatenate([p_fa, [0.0]])
    thr = np.concatenate([uniq, [np.inf]])
    return p_miss, p_fa, thr


def compute_eer(scores, labels):
    """Equal error rate (fraction, not %) and the threshold where it occurs.

    Exact ROC: P_miss(t) rises and P_fa(t) falls with t in steps; the EER is where the
    two piecewise-linear curves (joined between consecutive ROC points) cross.
    """
    p_miss, p_fa, thr = roc_curve_points(scores, labels)
    diff = p_miss - p_fa                         # non-decreasing, from -1 to +1
    idx = int(np.argmax(diff >= 0))              # first point with p_miss >= p_fa
    if diff[idx] == 0:
        t = thr[idx]
        if not np.isfinite(t):
            t = thr[idx - 1]
        return float(p_miss[idx]), float(t)
    i0, i1 = idx - 1, idx
    d0, d1 = diff[i0], diff[i1]                  # d0 < 0 < d1
    a = d0 / (d0 - d1)                           # fraction of the way from i0 to i1
    eer = p_miss[i0] + a * (p_miss[i1] - p_miss[i0])
    t0 = thr[i0]
    t1 = thr[i1] if np.isfinite(thr[i1]) else thr[i0]
    threshold = t0 + a * (t1 - t0)
    return float(eer), float(threshold)


def compute_min_dcf(scores, labels, p_target=0.01, c_miss=1.0, c_fa=1.0) -> float:
    """Normalised minimum detection cost (NIST SRE / VoxSRC style)."""
    if not 0.0 < p_target < 1.0:
        raise ValueError("p_target must be in (0, 1)")
    p_miss, p_fa, _ = roc_curve_points(scores, labels)
    dcf = c_miss * p_target * p_miss + c_fa * (1.0 - p_target) * p_fa
    c_def = min(c_miss * p_target, c_fa * (1.0 - p_target))
    return float(np.min(dcf) / c_def)
