"""Classification and verification metrics (numpy in, numpy/float out).

Emotion recognition (paper 000, Sec. 5):
  * ``unweighted_accuracy`` (UA): mean of the per-class recalls, over the classes
    present in ``y_true`` (a class absent from the reference has no recall).
  * ``weighted_accuracy`` (WA): overall accuracy (fraction of correct decisions).
  * ``confusion_matrix``: counts, rows = true class, columns = predicted class.
  * A prediction of ``NO_DECISION`` (-1) marks an utterance the system did not score
    (e.g. its features failed): UA and WA count it as an error; the confusion matrix
    has no column for it (callers report the count).
  * ``paired_bootstrap``: significance of the UA or WA difference between two systems
    scored on the same test utterances (Koehn 2004; Bisani and Ney 2004); with
    ``groups`` a cluster bootstrap that redraws whole speakers (optionally within
    ``strata``, e.g. corpora), since utterances of one speaker are not independent.

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
    "paired_bootstrap",
    "NO_DECISION",
]

NO_DECISION = -1


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


def _num_classes(y_true, y_pred, num_classes):
    return int(max(y_true.max(), y_pred.max())) + 1 if num_classes is None else num_classes


def confusion_matrix(y_true, y_pred, num_classes=None) -> np.ndarray:
    """Counts ``C[i, j]`` = number of items of true class i predicted as j (int64)."""
    y_true, y_pred = _check_pair(y_true, y_pred)
    num_classes = _num_classes(y_true, y_pred, num_classes)
    if y_true.min() < 0 or y_pred.min() < 0 or y_true.max() >= num_classes or y_pred.max() >= num_classes:
        raise ValueError(f"labels outside [0, {num_classes})")
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def per_class_recall(y_true, y_pred, num_classes=None) -> np.ndarray:
    """Recall of each class (NO_DECISION counts as a miss); NaN for classes absent from ``y_true``."""
    y_true, y_pred = _check_pair(y_true, y_pred)
    num_classes = _num_classes(y_true, y_pred, num_classes)
    if y_true.min() < 0 or y_true.max() >= num_classes or y_pred.min() < NO_DECISION or y_pred.max() >= num_classes:
        raise ValueError(f"labels outside [0, {num_classes})")
    support = np.bincount(y_true, minlength=num_classes)
    hits = np.bincount(y_true[y_true == y_pred], minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        rec = np.where(support > 0, hits / np.maximum(support, 1), np.nan)
    return rec.astype(np.float64)


def unweighted_accuracy(y_true, y_pred, num_classes=None) -> float:
    """Mean per-class recall over the classes present in ``y_true``."""
    return float(np.nanmean(per_class_recall(y_true, y_pred, num_classes)))


def weighted_accuracy(y_true, y_pred) -> float:
    """Overall accuracy (NO_DECISION counts as an error)."""
    y_true, y_pred = _check_pair(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def _bootstrap_metric(correct: np.ndarray, onehot: np.ndarray, weights: np.ndarray, metric: str) -> np.ndarray:
    """UA or WA of each bootstrap sample: ``correct`` (S x N) 0/1 per seed and utterance,
    ``onehot`` (N x C) true classes, ``weights`` (B x N) resampling counts -> (B,) mean over seeds."""
    if metric == "wa":
        return (weights @ correct.T).mean(axis=1) / weights.sum(axis=1)
    support = weights @ onehot                                   # B x C
    out = np.zeros(weights.shape[0])
    for c_row in correct:                                        # per seed
        hits = weights @ (onehot * c_row[:, None])               # B x C
        with np.errstate(invalid="ignore", divide="ignore"):
            out += np.nanmean(np.where(support > 0, hits / np.maximum(support, 1), np.nan), axis=1)
    return out / correct.shape[0]


def _cluster_weights(groups, strata, n: int, n_boot: int, rng) -> np.ndarray:
    """(n_boot x n) resampling counts of a bootstrap that draws whole groups with
    replacement: within each stratum as many groups as it has (Davison and Hinkley 1997,
    Sec. 3.8); every utterance of a drawn group counts once per draw."""
    g = np.unique(np.asarray(groups), return_inverse=True)[1].ravel()
    st = np.zeros(n, dtype=np.int64) if strata is None else np.unique(np.asarray(strata), return_inverse=True)[1].ravel()
    if g.size != n or st.size != n:
        raise ValueError(f"groups/strata must have one entry per utterance ({n})")
    if np.unique(np.stack([g, st]), axis=1).shape[1] != g.max() + 1:
        raise ValueError("a group spans two strata")
    gw = np.zeros((n_boot, g.max() + 1))
    for s in np.unique(st):
        ids = np.unique(g[st == s])
        gw[:, ids] = rng.multinomial(ids.size, np.full(ids.size, 1.0 / ids.size), size=n_boot)
    return gw[:, g]


def paired_bootstrap(y_true, pred_a, pred_b, num_classes: int, metric: str = "ua", n_boot: int = 2000,
                     seed: int = 0, groups=None, strata=None):
    """Paired bootstrap test of ``metric(a) - metric(b)`` over test utterances.

    ``pred_a``/``pred_b`` are (N,) predictions or (S, N) predictions of S seeds of each
    system on the same N utterances (the metric is then averaged over seeds, and each
    bootstrap sample redraws utterances, keeping all seeds of a drawn utterance).
    ``groups`` (N,), e.g. the speaker of each utterance: each sample redraws whole
    groups instead of utterances (a cluster bootstrap), within each value of ``strata``
    (N,) when given (e.g. speakers within their corpus).
    NO_DECISION counts as an error.  Returns ``(delta, p)``: the observed difference
    and the two-sided p-value ``min(1, 2 * min(P*(delta* <= 0), P*(delta* >= 0)))``.
    """
    if metric not in ("ua", "wa"):
        raise ValueError(f"metric must be 'ua' or 'wa', not {metric!r}")
    if strata is not None and groups is None:
        raise ValueError("strata need groups")
    y = _as_labels(y_true, "y_true")
    a = np.atleast_2d(np.asarray(pred_a))
    b = np.atleast_2d(np.asarray(pred_b))
    if a.shape[1] != y.size or b.shape[1] != y.size:
        raise ValueError(f"predictions {a.shape} / {b.shape} do not match {y.size} labels")
    for p in (a, b):
        per_class_recall(np.tile(y, p.shape[0]), p.ravel(), num_classes)  # range checks
    onehot = np.eye(num_classes)[y]
    ca, cb = (a == y).astype(np.float64), (b == y).astype(np.float64)
    ident = np.ones((1, y.size))
    delta = float(_bootstrap_metric(ca, onehot, ident, metric)[0] - _bootstrap_metric(cb, onehot, ident, metric)[0])
    rng = np.random.default_rng(seed)
    if groups is None:
        weights = rng.multinomial(y.size, np.full(y.size, 1.0 / y.size), size=n_boot).astype(np.float64)
    else:
        weights = _cluster_weights(groups, strata, y.size, n_boot, rng)
    d = _bootstrap_metric(ca, onehot, weights, metric) - _bootstrap_metric(cb, onehot, weights, metric)
    p = min(1.0, 2.0 * min(np.mean(d <= 0), np.mean(d >= 0)))
    return delta, float(p)


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
