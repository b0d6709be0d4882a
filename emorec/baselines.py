"""Classical classifiers on utterance feature vectors (paper 004, Sec. III.B, Table 6).

Each classifier is a scikit-learn pipeline ``StandardScaler -> estimator``, so the
scaler is fitted on the training part only.  Hyper-parameters come from a YAML config
(``conf/baselines.yaml``): per classifier, fixed ``params`` and a ``grid`` (name -> list
of values); every grid point is trained on TRAIN and scored on VALID, the point with
the highest validation UA (ties: the first in grid order) is kept, and only that model
scores TEST.  The test set never takes part in any choice.  Seeds are fixed
(``random_state``), and every estimator uses one thread (parallelism comes from jobs).

Classifiers (names as in the config and the experiment dirs):
  knn (KNeighborsClassifier), mlp (MLPClassifier), xgboost (XGBClassifier),
  lightgbm (LGBMClassifier), logreg (LogisticRegression), random_forest
  (RandomForestClassifier), naive_bayes (GaussianNB), decision_tree
  (DecisionTreeClassifier).

Posteriors are over the full class list given (the union of the classes of all the
splits of a run); a class absent from TRAIN (leave-one-corpus-out: RAVDESS alone has
``calm``) gets probability 0, written as the log floor ``log(1e-10)``.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import List

import numpy as np

from emorec import metrics

__all__ = ["CLASSIFIERS", "PROB_FLOOR", "Selection", "make_classifier", "grid_points",
           "select_on_valid", "log_posteriors"]

PROB_FLOOR = 1e-10

# name -> the row of paper 004's Table 6
CLASSIFIERS = {
    "knn": "KNeighborsClassifier",
    "mlp": "MLPClassifier",
    "xgboost": "XGBClassifier",
    "lightgbm": "LGBMClassifier",
    "logreg": "LogisticRegression",
    "random_forest": "RandomForestClassifier",
    "naive_bayes": "GaussianNB",
    "decision_tree": "DecisionTreeClassifier",
}


def _estimator(name: str, params: dict, seed: int):
    if name == "knn":
        from sklearn.neighbors import KNeighborsClassifier
        return KNeighborsClassifier(n_jobs=1, **params)
    if name == "mlp":
        from sklearn.neural_network import MLPClassifier
        return MLPClassifier(random_state=seed, **params)
    if name == "xgboost":
        from xgboost import XGBClassifier
        return XGBClassifier(random_state=seed, n_jobs=1, tree_method="hist", **params)
    if name == "lightgbm":
        from lightgbm import LGBMClassifier
        return LGBMClassifier(random_state=seed, n_jobs=1, verbose=-1, **params)
    if name == "logreg":
        from sklearn.linear_model import LogisticRegression
        return LogisticRegression(random_state=seed, **params)
    if name == "random_forest":
        from sklearn.ensemble import RandomForestClassifier
        return RandomForestClassifier(random_state=seed, n_jobs=1, **params)
    if name == "naive_bayes":
        from sklearn.naive_bayes import GaussianNB
        return GaussianNB(**params)
    if name == "decision_tree":
        from sklearn.tree import DecisionTreeClassifier
        return DecisionTreeClassifier(random_state=seed, **params)
    raise ValueError(f"unknown classifier {name!r} (known: {', '.join(CLASSIFIERS)})")


def make_classifier(name: str, params: dict, seed: int):
    """``StandardScaler -> estimator`` pipeline (the scaler is fitted with the model)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), _estimator(name, dict(params), seed))


def grid_points(spec: dict) -> List[dict]:
    """All parameter dicts of a config entry ``{params: {...}, grid: {name: [values]}}``
    (the product of the grid lists, in order, each merged over the fixed params)."""
    fixed = dict(spec.get("params") or {})
    grid = spec.get("grid") or {}
    for k, v in grid.items():
        if not isinstance(v, list) or not v:
            raise ValueError(f"grid entry {k!r} must be a non-empty list, got {v!r}")
    names = list(grid)
    points = []
    for values in itertools.product(*(grid[n] for n in names)):
        p = dict(fixed)
        p.update({n: tuple(v) if isinstance(v, list) else v for n, v in zip(names, values)})
        points.append(p)
    return points


def log_posteriors(model, present: np.ndarray, x: np.ndarray, num_classes: int) -> np.ndarray:
    """[N, num_classes] natural-log posteriors of a model trained on the ranks of the
    class indices ``present`` (see :func:`select_on_valid`); other classes get the floor."""
    prob = np.zeros((x.shape[0], num_classes))
    prob[:, present] = model.predict_proba(x)
    return np.log(np.maximum(prob, PROB_FLOOR))


@dataclass
class Selection:
    model: object
    present: np.ndarray      # class indices seen in training, in the model's output order
    params: dict
    valid_ua: float
    valid_wa: float
    grid_ua: List[float]     # validation UA of every grid point, in grid order


def select_on_valid(name: str, spec: dict, x_train: np.ndarray, y_train: np.ndarray,
                    x_valid: np.ndarray, y_valid: np.ndarray, num_classes: int,
                    seed: int) -> Selection:
    """Train every grid point on TRAIN; keep the best validation UA (first on ties)."""
    if len(np.unique(y_train)) < 2:
        raise ValueError(f"{name}: the training part has fewer than two classes")
    # xgboost wants the labels 0..K-1: train on the rank of each present class
    present = np.unique(y_train)
    best, uas = None, []
    for params in grid_points(spec):
        model = make_classifier(name, params, seed)
        model.fit(x_train, np.searchsorted(present, y_train))
        pred = log_posteriors(model, present, x_valid, num_classes).argmax(1)
        ua = metrics.unweighted_accuracy(y_valid, pred, num_classes)
        uas.append(ua)
        if best is None or ua > best.valid_ua:
            best = Selection(model, present, params, ua, metrics.weighted_accuracy(y_valid, pred), uas)
    best.grid_ua = uas
    return best
