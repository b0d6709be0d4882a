"""RESULTS.md tables and confusion-matrix plots for the emotion recipe.

A *system* is a name and a directory holding ``foldK/test.logpost.ark`` (+
``classes.txt``) for some folds; with several training seeds, one such directory per
seed (a *run*).  Each fold's test labels come from ``DATA/foldK/test/utt2emo``.  Per
run and fold we compute UA and WA on the test set; the tables give the mean and the
sample standard deviation (ddof=1) over all (seed, fold) pairs, the spread of the
per-seed means over seeds, and the pooled UA/WA over all test utterances of all folds
(averaged over seeds); confusion matrices are summed over folds and seeds.

Policy for test utterances: a scored utterance without a label is an error; a
labelled utterance without a score (its features failed, say) counts as an ERROR in
UA and WA (metrics.NO_DECISION) and the number of such utterances is printed; a fold
fails when more than 5% of its labelled utterances are unscored (Kaldi's policy).

Significance: every pair of systems of the summary is compared with a paired
bootstrap over the test utterances of all folds (metrics.paired_bootstrap, seeds kept
together), and with a speaker-level (cluster) bootstrap that redraws whole test
speakers (the utterance id's prefix before "-"), since utterances of one speaker are
not independent; a difference is marked significant at 5% after Holm's correction over
the pairs of the table, per metric and level.

The library holds no paper numbers: the recipe gives them as a table file
(``read_paper_table``), and a corpus description that names the corpus in the header.
"""
from __future__ import annotations

import datetime as _dt
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from emorec import fusion, metrics
from emorec.data.folds import utt_play
from emorec.fileio import atomic_write_text, fold_sort_key, open_text, read_kv, read_scores

MAX_MISSING_FRAC = 0.05
ALPHA = 0.05
N_BOOT = 2000


@dataclass
class PaperRow:
    key: str
    label: str
    ua: float
    wa: float
    aliases: Tuple[str, ...]


@dataclass
class PaperTable:
    source: str
    rows: Dict[str, PaperRow]

    def key_of(self, name: str, explicit: Optional[Dict[str, str]] = None) -> Optional[str]:
        if explicit and name in explicit:
            return explicit[name] if explicit[name] in self.rows else None
        low = name.lower()
        return next((k for k, r in self.rows.items() if low == k or low in r.aliases), None)


def read_paper_table(path) -> PaperTable:
    """A paper's result table, one system a line (TAB-separated):

        # source: Padi et al., Odyssey 2022 (paper 000), Table 2, ...
        KEY  UA%  WA%  ALIAS,ALIAS,...  LABEL

    Blank lines and other ``#`` lines are comments.  Errors name the file and line."""
    source, rows = "", {}
    with open_text(path) as f:
        for n, line in enumerate(f, 1):
            s = line.rstrip("\n")
            if s.startswith("# source:"):
                source = s.split(":", 1)[1].strip()
                continue
            if not s.strip() or s.startswith("#"):
                continue
            parts = s.split("\t")
            if len(parts) != 5:
                raise ValueError(f"{path}:{n}: expected 5 TAB-separated fields (key, UA, WA, aliases, label), "
                                 f"got {len(parts)}")
            key, ua, wa, aliases, label = (p.strip() for p in parts)
            try:
                ua_f, wa_f = float(ua), float(wa)
            except ValueError:
                raise ValueError(f"{path}:{n}: UA/WA {ua!r} {wa!r} are not numbers") from None
            if key in rows:
                raise ValueError(f"{path}:{n}: duplicate key {key!r}")
            rows[key] = PaperRow(key, label, ua_f, wa_f, tuple(a.lower() for a in aliases.split(",") if a))
    if not source:
        raise ValueError(f"{path}: no '# source: ...' line naming the paper and table")
    return PaperTable(source, rows)


@dataclass
class FoldResult:
    fold: str
    n: int            # labelled test utterances (scored or not)
    n_missing: int    # of which unscored: counted as errors
    ua: float
    wa: float
    cm: np.ndarray    # scored utterances only
    utts: List[str]
    y: np.ndarray
    pred: np.ndarray  # metrics.NO_DECISION for unscored utterances
    w1: Optional[float] = None


@dataclass
class Run:
    seed: str
    path: str
    folds: List[FoldResult] = field(default_factory=list)

    def fold(self, name: str) -> Optional[FoldResult]:
        return next((f for f in self.folds if f.fold == name), None)


@dataclass
class SystemResult:
    name: str
    path: str
    classes: List[str]
    runs: List[Run] = field(default_factory=list)

    @property
    def folds(self) -> List[FoldResult]:
        """Every (seed, fold) result."""
        return [f for r in self.runs for f in r.folds]

    def _vals(self, attr):
        return np.array([getattr(f, attr) for f in self.folds], dtype=np.float64)

    @staticmethod
    def _std(v):
        return float(v.std(ddof=1)) if len(v) > 1 else 0.0

    @property
    def ua_mean(self):
        return float(self._vals("ua").mean())

    @property
    def wa_mean(self):
        return float(self._vals("wa").mean())

    @property
    def ua_std(self):
        return self._std(self._vals("ua"))

    @property
    def wa_std(self):
        return self._std(self._vals("wa"))

    @property
    def seed_ua_std(self):
        """Spread over seeds of each seed's fold-mean UA."""
        return self._std(np.array([np.mean([f.ua for f in r.folds]) for r in self.runs]))

    @property
    def n_missing(self) -> int:
        return sum(f.n_missing for f in self.folds)

    @property
    def cm(self):
        return sum(f.cm for f in self.folds)

    def pooled_preds(self, folds: Sequence[str]) -> Tuple[List[str], np.ndarray, np.ndarray]:
        """(utts, y, preds S x N) over the given folds, utterances in fold order."""
        first = self.runs[0]
        utts = [u for fd in folds for u in first.fold(fd).utts]
        y = np.concatenate([first.fold(fd).y for fd in folds])
        preds = np.stack([np.concatenate([r.fold(fd).pred for fd in folds]) for r in self.runs])
        return utts, y, preds

    @property
    def fold_names(self) -> List[str]:
        return [f.fold for f in self.runs[0].folds]

    def pooled_on(self, keep=None) -> Tuple[float, float, int]:
        """UA and WA over all test utterances (those with ``keep(utt)``), mean over seeds; and N."""
        utts, y, preds = self.pooled_preds(self.fold_names)
        m = np.array([keep(u) for u in utts], dtype=bool) if keep else np.ones(len(utts), dtype=bool)
        if not m.any():
            return float("nan"), float("nan"), 0
        C = len(self.classes)
        ua = np.mean([metrics.unweighted_accuracy(y[m], p[m], C) for p in preds])
        wa = np.mean([metrics.weighted_accuracy(y[m], p[m]) for p in preds])
        return float(ua), float(wa), int(m.sum())

    @property
    def pooled(self) -> Tuple[float, float]:
        return self.pooled_on()[:2]


def find_folds(system_dir) -> List[str]:
    d = Path(system_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"{d}: no such system directory")
    folds = [p.name for p in d.iterdir() if p.is_dir() and (p / "test.logpost.ark").is_file()]
    return sorted(folds, key=fold_sort_key)


def evaluate_fold(score_dir, utt2emo_path, fold: str = "") -> Tuple[FoldResult, List[str]]:
    sc = read_scores(Path(score_dir) / "test.logpost.ark")
    lab = read_kv(utt2emo_path)
    unlabelled = [u for u in sc.utts if u not in lab]
    if unlabelled:
        raise ValueError(f"{sc.source}: {len(unlabelled)} scored utterances have no label in {utt2emo_path} "
                         f"(e.g. {unlabelled[:3]})")
    row = {u: i for i, u in enumerate(sc.utts)}
    missing = [u for u in lab if u not in row]
    if len(missing) > MAX_MISSING_FRAC * max(1, len(lab)):
        raise ValueError(f"{sc.source}: {len(missing)} of {len(lab)} labelled utterances of {utt2emo_path} "
                         f"are not scored (more than {MAX_MISSING_FRAC:.0%})")
    cidx = {c: i for i, c in enumerate(sc.classes)}
    bad = sorted({e for e in lab.values() if e not in cidx})
    if bad:
        raise ValueError(f"{utt2emo_path}: labels {bad} not among the classes {sc.classes} of {sc.source}")
    utts = sorted(lab)
    y = np.array([cidx[lab[u]] for u in utts], dtype=np.int64)
    best = sc.mat.argmax(1)
    pred = np.array([best[row[u]] if u in row else metrics.NO_DECISION for u in utts], dtype=np.int64)
    C = len(sc.classes)
    scored = pred != metrics.NO_DECISION
    w1_path = Path(score_dir) / "w1.txt"
    w1 = fusion.read_w1(w1_path) if w1_path.is_file() else None
    fr = FoldResult(fold, len(y), len(missing), metrics.unweighted_accuracy(y, pred, C),
                    metrics.weighted_accuracy(y, pred), metrics.confusion_matrix(y[scored], pred[scored], C),
                    utts, y, pred, w1)
    return fr, sc.classes


def evaluate_split(name: str, score_dir, utt2emo_path) -> SystemResult:
    """A system scored on one test set (no folds, one run): a SystemResult with a single fold."""
    fr, classes = evaluate_fold(score_dir, utt2emo_path, Path(score_dir).name)
    return SystemResult(name, str(score_dir), classes, [Run("", str(score_dir), [fr])])


def evaluate_system(name: str, system_dir, data_root, seed_dirs: Optional[Dict[str, Path]] = None) -> SystemResult:
    """UA/WA/confusion of every fold of a system (test set); ``seed_dirs`` maps each seed
    to its run directory (default: one run, ``system_dir``)."""
    data_root = Path(data_root)
    seed_dirs = seed_dirs or {"": Path(system_dir)}
    res = None
    for seed, run_dir in seed_dirs.items():
        run_dir = Path(run_dir)
        folds = find_folds(run_dir)
        if not folds:
            raise FileNotFoundError(f"{run_dir}: no fold*/test.logpost.ark")
        run = Run(seed, str(run_dir))
        for f in folds:
            lab = data_root / f / "test" / "utt2emo"
            if not lab.is_file():
                raise FileNotFoundError(f"{lab}: no test labels for {run_dir / f}")
            fr, classes = evaluate_fold(run_dir / f, lab, f)
            if res is None:
                res = SystemResult(name, str(system_dir), classes)
            elif classes != res.classes:
                raise ValueError(f"{run_dir / f}: class order {classes} differs from the system's {res.classes}")
            run.folds.append(fr)
        if res.runs and [f.fold for f in run.folds] != res.fold_names:
            raise ValueError(f"{run_dir}: folds {[f.fold for f in run.folds]} differ from those of "
                             f"{res.runs[0].path} {res.fold_names}")
        res.runs.append(run)
    return res


# ---------------------------------------------------------------- analyses


def holm(pvals: Sequence[float], alpha: float = ALPHA) -> List[bool]:
    """Holm's step-down rejections (family-wise error ``alpha``)."""
    order = np.argsort(pvals, kind="mergesort")
    out = [False] * len(pvals)
    m = len(pvals)
    for rank, i in enumerate(order):
        if pvals[i] > alpha / (m - rank):
            break
        out[i] = True
    return out


def speaker_of(utt: str) -> str:
    """The speaker of an utterance: ids are ``<speaker>-<rest>`` (DEVELOPERS.md)."""
    return utt.split("-", 1)[0]


LEVELS = ("utterance", "speaker")


def paired_test(y, pa, pb, utts: Sequence[str], num_classes: int, metric: str, level: str,
                stratum=None, n_boot: int = N_BOOT) -> Tuple[float, float]:
    """(delta, p) of metrics.paired_bootstrap at ``level``: "utterance", or "speaker" (whole
    speakers redrawn, within ``stratum(utt)`` when given, e.g. the corpus)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    kw = {}
    if level == "speaker":
        kw["groups"] = [speaker_of(u) for u in utts]
        if stratum is not None:
            kw["strata"] = [stratum(u) for u in utts]
    return metrics.paired_bootstrap(y, pa, pb, num_classes, metric, n_boot=n_boot, **kw)


def significance(systems: Sequence[SystemResult], metric: str = "ua", n_boot: int = N_BOOT,
                 level: str = "utterance", stratum=None):
    """[(a, b, delta, p, significant)] for every pair of systems scored on the same folds
    (``level``, ``stratum``: see paired_test); Holm over the pairs."""
    pairs = []
    for i, a in enumerate(systems):
        for b in systems[i + 1:]:
            if a.fold_names != b.fold_names or a.classes != b.classes:
                continue
            ua, y, pa = a.pooled_preds(a.fold_names)
            ub, _, pb = b.pooled_preds(a.fold_names)
            if ua != ub:
                raise ValueError(f"systems {a.name} and {b.name} are evaluated on different test utterances")
            d, p = paired_test(y, pa, pb, ua, len(a.classes), metric, level, stratum, n_boot)
            pairs.append((a.name, b.name, d, p))
    sig = holm([p for *_, p in pairs])
    return [(a, b, d, p, s) for (a, b, d, p), s in zip(pairs, sig)]


def significance_rows(systems: Sequence[SystemResult], stratum=None, n_boot: int = N_BOOT) -> List[List[str]]:
    """Markdown rows: per pair and metric (UA, then WA), delta and p with Holm's verdict at
    the utterance and the speaker level."""
    rows = []
    for metric in ("ua", "wa"):
        utt = significance(systems, metric, n_boot, "utterance")
        spk = significance(systems, metric, n_boot, "speaker", stratum)
        for (a, b, d, p, sig), (*_, ps, sigs) in zip(utt, spk):
            rows.append([f"`{a}` − `{b}`", metric.upper(), f"{100 * d:+.2f}", f"{p:.4f}",
                         "**yes**" if sig else "no", f"{ps:.4f}", "**yes**" if sigs else "no"])
    return rows


SIGNIFICANCE_HEADER = ["difference", "metric", "Δ % (pooled)", "p (utterances)", f"sig. ({ALPHA:.0%}, Holm)",
                       "p (speakers)", f"sig. ({ALPHA:.0%}, Holm)"]


def _norm_text(t: str) -> str:
    return " ".join(t.lower().split())


def transcript_overlap(data_root, folds: Sequence[str]) -> List[Tuple[str, int, int]]:
    """[(fold, test utterances whose transcript occurs verbatim (case and spacing aside)
    in the fold's train/text, test utterances)]."""
    out = []
    for fd in folds:
        d = Path(data_root) / fd
        train, test = d / "train" / "text", d / "test" / "text"
        for p in (train, test):
            if not p.is_file():
                raise FileNotFoundError(f"{p}: no transcripts for the overlap check")
        seen = {_norm_text(t) for t in read_kv(train, allow_empty_value=True).values()}
        tt = read_kv(test, allow_empty_value=True)
        out.append((fd, sum(1 for t in tt.values() if _norm_text(t) in seen), len(tt)))
    return out


def is_improvised(utt: str) -> bool:
    return "_impro" in utt


def is_scripted(utt: str) -> bool:
    return utt_play(utt) is not None


def corpus_kind(roots_file) -> str:
    """"demo", "real" or "mixed": the trees of a corpus_roots file (emorec.data.datadir)."""
    from emorec.data.datadir import read_corpus_roots
    from emorec.fileio import DataDirError

    kinds = {kind for kind, _ in read_corpus_roots(roots_file).values()}
    if not kinds:
        raise DataDirError(f"{roots_file}: names no corpus")
    return kinds.pop() if len(kinds) == 1 else "mixed"


def describe_corpus(roots_file) -> str:
    """The corpus a RESULTS.md names, from the corpus_roots file its data prep wrote
    (emorec.data.datadir.write_corpus_roots): each corpus's root, and whether the tree
    is the synthetic demo, read from the data, never from the command line."""
    from emorec.data.datadir import read_corpus_roots

    roots = read_corpus_roots(roots_file)
    kind = corpus_kind(roots_file)
    head = {"demo": "DEMO (synthetic, not the real corpus): ", "real": "real: ",
            "mixed": "MIXED, demo and real trees: "}[kind]
    show_kind = kind == "mixed"
    return head + ", ".join(f"{name}{f' ({kind})' if show_kind else ''} {root}"
                            for name, (kind, root) in roots.items()) + f" (recorded in {roots_file})"


def read_design(path) -> Dict[str, Tuple[str, str]]:
    """The demo corpus's generation plan (emorec.data.demo_corpus.write_design):
    ``TURN LABEL WORD_POOL AROUSAL`` per line -> {turn: (word pool, arousal)}."""
    out = {}
    for n, (turn, rest) in enumerate(read_kv(path).items(), 1):
        f = rest.split()
        if len(f) != 3:
            raise ValueError(f"{path}:{n}: expected TURN LABEL WORD_POOL AROUSAL")
        out[turn] = (f[1], f[2])
    return out


def cue_oracle(y: np.ndarray, cues: Sequence, num_classes: int) -> np.ndarray:
    """The UA-optimal decision from a cue alone: argmax_c P(cue | c), P estimated on (y, cues)."""
    keys = sorted(set(cues))
    kidx = {k: i for i, k in enumerate(keys)}
    counts = np.zeros((len(keys), num_classes))
    ci = np.array([kidx[c] for c in cues])
    np.add.at(counts, (ci, y), 1)
    lik = counts / np.maximum(counts.sum(axis=0, keepdims=True), 1)
    return lik.argmax(axis=1)[ci]


def design_ceiling(system: SystemResult, design: Dict[str, Tuple[str, str]], design_path="") -> List[Tuple[str, float, float]]:
    """UA/WA of the cue oracles (words alone, prosody alone, both) on the system's test
    utterances, pooled over folds.  Utterance ids are ``SPEAKER-TURN``."""
    utts, y, _ = system.pooled_preds(system.fold_names)
    turns = [u.split("-", 1)[-1] for u in utts]
    missing = [t for t in turns if t not in design]
    if missing:
        raise ValueError(f"{design_path}: no generation plan for {len(missing)} test utterances (e.g. {missing[:3]})")
    C = len(system.classes)
    out = []
    for name, cue in (("words alone (text cue)", lambda t: design[t][0]),
                      ("prosody alone (speech cue)", lambda t: design[t][1]),
                      ("both cues (fusion)", lambda t: design[t])):
        pred = cue_oracle(y, [cue(t) for t in turns], C)
        out.append((name, metrics.unweighted_accuracy(y, pred, C), metrics.weighted_accuracy(y, pred)))
    return out


def w1_flatness(fusion_sys: SystemResult, speech_dirs: Dict[str, Path], text_dirs: Dict[str, Path],
                data_root) -> List[Tuple[str, str, int, int, float, float, float, float]]:
    """Per run and fold of a w1-fused system: (seed, fold, grid points tied at the best dev
    UA, grid points, best dev UA, test UA min and max over the tied w1, test UA at the
    chosen w1), from its ``w1_search.txt`` and the speech and text test scores."""
    out = []
    for run in fusion_sys.runs:
        for fr in run.folds:
            search = Path(run.path) / fr.fold / "w1_search.txt"
            if not search.is_file():
                raise FileNotFoundError(f"{search}: no w1 search curve")
            grid = np.loadtxt(search, ndmin=2)
            best = grid[:, 1].max()
            tied = grid[np.isclose(grid[:, 1], best, rtol=0, atol=1e-9), 0]
            sp = read_scores(Path(speech_dirs[run.seed]) / fr.fold / "test.logpost.ark")
            tx = read_scores(Path(text_dirs[run.seed]) / fr.fold / "test.logpost.ark")
            a, b, utts, classes = fusion.align(sp, tx)
            row = {u: i for i, u in enumerate(utts)}
            have = np.array([u in row for u in fr.utts])
            idx = np.array([row[u] for u in fr.utts if u in row], dtype=np.int64)
            C = len(classes)

            def test_ua(w):
                pred = np.full(len(fr.utts), metrics.NO_DECISION, dtype=np.int64)
                pred[have] = fusion.fuse_weighted(a[idx], b[idx], w).argmax(1)
                return metrics.unweighted_accuracy(fr.y, pred, C)

            uas = [test_ua(w) for w in tied]
            out.append((run.seed, fr.fold, len(tied), len(grid), float(best), min(uas), max(uas),
                        test_ua(fr.w1) if fr.w1 is not None else float("nan")))
    return out


# ---------------------------------------------------------------- formatting


def _pct(x):
    return f"{100 * x:.2f}"


def _pm(mean, std):
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: Optional[str] = None) -> str:
    align = align or ("l" + "r" * (len(header) - 1))
    sep = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def confusion_text(cm: np.ndarray, classes: Sequence[str]) -> str:
    """Markdown table: counts and row-normalised % (rows = true class)."""
    rows = []
    for i, c in enumerate(classes):
        tot = cm[i].sum()
        cells = [f"{cm[i, j]} ({100 * cm[i, j] / tot:.1f}%)" if tot else f"{cm[i, j]}" for j in range(len(classes))]
        rows.append([f"**{c}**"] + cells + [str(tot)])
    return md_table(["true \\ predicted"] + list(classes) + ["total"], rows)


SYSTEM_WORDS = {  # the recipes' system names in words, for plot titles
    "speech_finetune": "speech: ResNet fine-tuned from the speaker model",
    "speech_probe": "speech: linear probe on the frozen speaker ResNet",
    "speech_scratch": "speech: ResNet trained from scratch",
    "speech_ssl": "speech: HuBERT + classifier",
    "hubert": "speech: HuBERT + linear classifier",
    "text": "text: BERT on the transcripts",
    "joint": "joint HuBERT + BERT",
    "fusion_w1": "late fusion of speech and text, weight w1 chosen on dev",
    "fusion_znorm": "late fusion of speech and text, z-normed, equal weights",
    "fusion_ssl_w1": "late fusion of HuBERT and text, weight w1 chosen on dev",
    "fusion_ssl_znorm": "late fusion of HuBERT and text, z-normed, equal weights",
    "handcrafted": "94 hand-crafted features",
    "egemaps": "eGeMAPS functionals",
    "knn": "k nearest neighbours", "mlp": "multi-layer perceptron", "xgboost": "XGBoost",
    "lightgbm": "LightGBM", "logreg": "logistic regression", "random_forest": "random forest",
    "naive_bayes": "naive Bayes", "decision_tree": "decision tree",
}


def system_words(name: str) -> str:
    """A system name in words (``text_asr`` -> "text: BERT on the transcripts, ASR
    transcripts"; ``egemaps/knn`` -> "k nearest neighbours on eGeMAPS functionals");
    an unknown name is returned as it is."""
    if "/" in name:
        feats, _, clf = name.partition("/")
        return f"{SYSTEM_WORDS.get(clf, clf)} on {SYSTEM_WORDS.get(feats, feats)}"
    base, asr = (name[:-4], True) if name.endswith("_asr") else (name, False)
    return SYSTEM_WORDS.get(base, base) + (" (ASR transcripts)" if asr else "") if base in SYSTEM_WORDS else name


def plot_title(name: str, corpus: str, ua: float, wa: float, n_seeds: int = 1, what: str = "pooled") -> str:
    """Two lines: the system in words and its corpus; UA then WA."""
    seeds = f", mean of {n_seeds} seeds" if n_seeds > 1 else ""
    return f"{system_words(name)} ({corpus})\nUA {_pct(ua)}%, WA {_pct(wa)}% ({what}{seeds})"


def plot_confusion(cm: np.ndarray, classes: Sequence[str], path, title: str, n_seeds: int = 1) -> None:
    """PNG with two panels: counts (summed over ``n_seeds`` runs, said in the panel's
    title) and row-normalised (recall) matrices."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    C = len(classes)
    counts = (f"counts summed over {n_seeds} seeds\n(each test utterance counted {n_seeds} times)"
              if n_seeds > 1 else "counts")
    fig, axes = plt.subplots(1, 2, figsize=(4 + 2.2 * C, 2 + 1.1 * C))
    for ax, mat, sub, fmt in ((axes[0], cm, counts, "{:d}"), (axes[1], norm, "row-normalised (recall)", "{:.2f}")):
        im = ax.imshow(mat, cmap="Blues", vmin=0, vmax=(mat.max() if mat.max() > 0 else 1))
        ax.set_xticks(range(C), labels=classes)
        ax.set_yticks(range(C), labels=classes)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(sub)
        thr = mat.max() / 2 if mat.max() > 0 else 0.5
        for i in range(C):
            for j in range(C):
                v = int(mat[i, j]) if fmt == "{:d}" else float(mat[i, j])
                ax.text(j, i, fmt.format(v), ha="center", va="center",
                        color="white" if mat[i, j] > thr else "black", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def _git_rev(root) -> str:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown (no commit)"


@dataclass
class Extras:
    """Optional sections of RESULTS.md."""
    paper: Optional[PaperTable] = None
    paper_refs: Optional[Dict[str, str]] = None
    paper_comparable: bool = True           # False on the demo corpus
    demo: bool = False                      # the synthetic demo corpus (named so in the plots)
    design: Optional[Dict[str, Tuple[str, str]]] = None
    design_path: str = ""
    data_root: Optional[str] = None          # for the transcript-overlap check
    flatness: Sequence[Tuple[str, list]] = ()  # (fusion system name, w1_flatness rows)
    random_ablations: Sequence[SystemResult] = ()
    random_data: str = ""


def _run_label(s: SystemResult) -> str:
    seeds = [r.seed for r in s.runs if r.seed]
    return f"seeds {' '.join(seeds)}" if seeds else "one run"


def _summary(L: List[str], systems: Sequence[SystemResult], ex: Extras) -> None:
    paper = ex.paper
    cols = ["system", "UA % (mean ± std)", "WA % (mean ± std)", "UA std over seeds", "UA % pooled",
            "WA % pooled", "N test", "unscored"]
    if paper:
        tag = "" if ex.paper_comparable else " (real corpus; NOT comparable)"
        cols += [f"paper UA %{tag}", f"paper WA %{tag}", "paper system"]
    rows = []
    for s in systems:
        pu, pw = s.pooled
        row = [f"`{s.name}`", _pm(s.ua_mean, s.ua_std), _pm(s.wa_mean, s.wa_std),
               _pct(s.seed_ua_std) if len(s.runs) > 1 else "–", _pct(pu), _pct(pw),
               sum(f.n for f in s.runs[0].folds), s.n_missing]
        if paper:
            k = paper.key_of(s.name, ex.paper_refs)
            ref = paper.rows.get(k) if k else None
            row += [f"{ref.ua:.2f}" if ref else "–", f"{ref.wa:.2f}" if ref else "–", ref.label if ref else ""]
        rows.append(row)
    if ex.design is not None:
        for name, ua, wa in design_ceiling(systems[0], ex.design, ex.design_path):
            row = [f"design ceiling: {name}", _pct(ua), _pct(wa), "–", _pct(ua), _pct(wa),
                   sum(f.n for f in systems[0].runs[0].folds), 0]
            rows.append(row + (["–", "–", ""] if paper else []))
    L.append(md_table(cols, rows, "l" + "r" * 7 + ("rrl" if paper else "")))
    L.append("")
    runs = {_run_label(s) for s in systems}
    L.append(f"Mean ± std over every (seed, fold) pair ({', '.join(sorted(runs))}); \"UA std over seeds\" is "
             "the spread of the per-seed fold means; pooled = over all test utterances of all folds, "
             "averaged over seeds. \"unscored\" labelled test utterances (no score, e.g. failed "
             "features) are counted as errors in UA and WA.")
    if ex.design is not None:
        L.append("")
        L.append(f"Design ceiling (`{ex.design_path}`): the demo corpus carries emotion in its words and in "
                 "its prosody by construction; each ceiling row is the best UA any classifier can reach "
                 "from the generation plan's cue alone (the UA-optimal decision argmax_c P(cue | c) "
                 "over the same test utterances), and \"both cues\" from the two together.")
    if paper:
        L.append("")
        if ex.paper_comparable:
            L.append(f"Paper numbers: {paper.source}.")
        else:
            L.append(f"Paper numbers: {paper.source}. They were measured on the real corpus; this table is "
                     "on the synthetic demo corpus, whose modalities are complementary by design (see the "
                     "design ceiling): the paper columns are NOT comparable with ours.")
    L.append("")


def _significance(L: List[str], systems: Sequence[SystemResult]) -> None:
    if len(systems) < 2:
        return
    L += ["## Significance (paired bootstrap over test utterances and over test speakers)", ""]
    L.append(md_table(SIGNIFICANCE_HEADER, significance_rows(systems), "llrrlrl"))
    L += ["", f"{N_BOOT} bootstrap samples of all folds' test set; two-sided p. \"utterances\": "
          "utterances redrawn (all seeds of a drawn utterance kept together); \"speakers\": whole test "
          "speakers redrawn (a cluster bootstrap: a speaker's utterances are not independent, so this is "
          "the p to trust; with few speakers it can rarely fall below a few %). Holm's correction over "
          "the pairs of each metric and level (UA and WA tested separately).", ""]


def _breakdowns(L: List[str], systems: Sequence[SystemResult], ex: Extras) -> None:
    first = systems[0]
    L += ["## Improvised vs scripted test utterances", ""]
    rows = []
    for s in systems:
        ui, wi, ni = s.pooled_on(is_improvised)
        us, ws, ns = s.pooled_on(is_scripted)
        rows.append([f"`{s.name}`", f"{_pct(ui)} / {_pct(wi)} ({ni})", f"{_pct(us)} / {_pct(ws)} ({ns})"])
    L.append(md_table(["system", "improvised: UA % / WA % (N)", "scripted: UA % / WA % (N)"], rows))
    L += ["", "Pooled over folds, mean over seeds. The utterance id says impro/script.", ""]
    if ex.data_root:
        ov = transcript_overlap(ex.data_root, first.fold_names)
        n_hit, n_all = sum(o[1] for o in ov), sum(o[2] for o in ov)
        L += ["## Test transcripts seen in training", ""]
        L.append(md_table(["fold", "test utterances whose transcript occurs verbatim in train", "share %"],
                          [[fd, f"{h} of {n}", _pct(h / max(n, 1))] for fd, h, n in ov]
                          + [["all", f"{n_hit} of {n_all}", _pct(n_hit / max(n_all, 1))]]))
        L += ["", "Verbatim up to case and spacing. IEMOCAP's scripted dialogs read the same plays in "
              "every session: such test transcripts inflate the text and fusion numbers; "
              "`local/make_loso_folds.sh --script-disjoint true` keeps every play on one side of a fold.", ""]


def _flatness(L: List[str], ex: Extras) -> None:
    for name, rows in ex.flatness:
        L += [f"## Flatness of the w1 search (`{name}`)", ""]
        out = [[seed or "–", fd, f"{nt} of {ng}", _pct(best), f"{_pct(lo)} – {_pct(hi)}", _pct(chosen)]
               for seed, fd, nt, ng, best, lo, hi, chosen in rows]
        L.append(md_table(["seed", "fold", "grid points tied at the best dev UA", "best dev UA %",
                           "test UA % over the tied w1", "test UA % at the chosen w1"], out, "llrrrr"))
        L += ["", "Ties are broken towards w1 = 0.5 (emorec.fusion); a wide test-UA range over the tied "
              "points means the tie-break, not the dev data, picks w1.", ""]


def _ablation_table(L: List[str], title: str, abl: Sequence[SystemResult], note: str) -> None:
    L += [f"## {title}", ""]
    rows = [[f"`{a.name}`", f"`{a.path}`", _pm(a.ua_mean, a.ua_std), _pm(a.wa_mean, a.wa_std),
             len(a.runs[0].folds), _run_label(a), a.n_missing] for a in abl]
    L.append(md_table(["system", "dir", "UA % (mean ± std)", "WA % (mean ± std)", "folds", "runs", "unscored"],
                      rows, "llrrrll"))
    L += ["", note, ""]


def write_results(
    out_md,
    systems: Sequence[SystemResult],
    ablations: Sequence[SystemResult] = (),
    plots_dir=None,
    title: str = "Emotion recognition results",
    corpus: str = "",
    command: str = "",
    configs: Sequence[str] = (),
    notes: str = "",
    extras: Optional[Extras] = None,
    date: Optional[str] = None,
    repo_root=None,
) -> List[Path]:
    """Write RESULTS.md (atomically) and one confusion PNG per system; returns the PNG paths."""
    if not corpus:
        raise ValueError("RESULTS.md must name its corpus (demo or real, with its root)")
    ex = extras or Extras()
    out_md = Path(out_md)
    plots_dir = Path(plots_dir) if plots_dir else out_md.parent / "plots"
    date = date or _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    L: List[str] = [f"# {title}", ""]
    L.append(f"- corpus: {corpus}")
    L.append(f"- date: {date}")
    L.append(f"- git: {_git_rev(repo_root or Path(__file__).resolve().parents[1])}")
    if command:
        L.append(f"- command: `{command}`")
    L.append("- metrics: UA = mean per-class recall, WA = overall accuracy, on each fold's TEST "
             "session (leave-one-session-out); \"pooled\" = over all test utterances of all folds. "
             "Model selection, fusion weights and z-norm statistics use each fold's DEV speaker only "
             "(no speaker shared with train or test).")
    L.append("")
    for s in systems:
        L.append(f"- `{s.name}`: `{s.path}` ({len(s.runs[0].folds)} folds, {_run_label(s)}, "
                 f"classes {' '.join(s.classes)})")
    if notes:
        L += ["", notes.strip()]

    L += ["", "## Summary", ""]
    if systems:
        _summary(L, systems, ex)
        _significance(L, systems)
        _breakdowns(L, systems, ex)
        _flatness(L, ex)

    folds = sorted({f.fold for s in systems for f in s.folds}, key=fold_sort_key)
    if folds:
        L += ["## Per fold (test UA % / WA %, N; mean over seeds)", ""]
        rows = []
        for fd in folds:
            row = [fd]
            for s in systems:
                frs = [r.fold(fd) for r in s.runs if r.fold(fd)]
                row.append(f"{_pct(np.mean([f.ua for f in frs]))} / {_pct(np.mean([f.wa for f in frs]))} "
                           f"({frs[0].n})" if frs else "–")
            rows.append(row)
        rows.append(["mean"] + [f"{_pct(s.ua_mean)} / {_pct(s.wa_mean)}" for s in systems])
        L.append(md_table(["fold"] + [f"`{s.name}`" for s in systems], rows))
        L.append("")
        for s in systems:
            w1s = [(r.seed, f) for r in s.runs for f in r.folds if f.w1 is not None]
            if w1s:
                vals = [f"{(seed + ' ') if seed else ''}{f.fold}: {f.w1:.2f}" for seed, f in w1s]
                L.append(f"Chosen w1 (dev UA) for `{s.name}`: {', '.join(vals)} "
                         f"(mean {np.mean([f.w1 for _, f in w1s]):.2f}).")
        for s in systems:
            for r in s.runs:
                for f in r.folds:
                    if f.n_missing:
                        L.append(f"Note: `{s.name}` {(r.seed + ' ') if r.seed else ''}{f.fold}: {f.n_missing} "
                                 "labelled test utterances not scored (counted as errors).")
        L.append("")

    if ablations:
        _ablation_table(L, "Ablations (leave-one-session-out)", ablations,
                        "Paper 003, Figure 4 reports WA (here after UA, the order of every table).")
    if ex.random_ablations:
        _ablation_table(L, "Ablations (5-fold random 80/20 cross-validation, paper 003's protocol)",
                        ex.random_ablations,
                        f"Folds of `{ex.random_data}`: random, stratified by emotion; train, dev and test "
                        "share speakers (a speaker-dependent protocol, as in paper 003, Figure 4).")

    pngs = []
    L += ["## Confusion matrices (test, summed over folds and seeds; rows = true class; scored utterances)", "",
          "With several seeds every test utterance is counted once per seed.", ""]
    plot_corpus = "demo corpus" if ex.demo else corpus.split(",")[0]
    for s in list(systems) + list(ablations) + list(ex.random_ablations):
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", s.name)
        png = plots_dir / f"confusion_{safe}.png"
        plot_confusion(s.cm, s.classes, png, plot_title(s.name, plot_corpus, *s.pooled, len(s.runs)),
                       len(s.runs))
        pngs.append(png)
        rel = os.path.relpath(png, out_md.parent)
        L += [f"### {s.name}", "", confusion_text(s.cm, s.classes), "", f"![{s.name}]({rel})", ""]

    if configs:
        L += ["## Configs", ""]
        for c in configs:
            p = Path(c)
            body = p.read_text(encoding="utf-8")
            L += [f"`{c}`:", "", "```yaml", body.rstrip("\n"), "```", ""]

    out_md.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_md, "\n".join(L).rstrip("\n") + "\n")
    return pngs
