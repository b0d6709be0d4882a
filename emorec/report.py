"""RESULTS.md tables and confusion-matrix plots for the emotion recipe.

A *system* is a name and a directory holding ``foldK/test.logpost.ark`` (+
``classes.txt``) for some folds; each fold's test labels come from
``DATA/foldK/test/utt2emo``.  Per system and fold we compute UA and WA on the test
set, then the mean and the sample standard deviation (ddof=1) over folds, and the
pooled UA/WA over all test utterances of all folds; confusion matrices are summed
over folds.

Policy for test utterances: a scored utterance without a label is an error; a
labelled utterance without a score is counted as missing and the fold fails when
more than 5% of its labelled utterances are missing (Kaldi's policy); metrics are
over the scored utterances and the table shows N (scored) per fold.
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

from emorec import metrics
from emorec.fileio import atomic_write_text, fold_sort_key, read_kv, read_scores

MAX_MISSING_FRAC = 0.05

# Paper 000 (Padi et al., Odyssey 2022), Table 2, IEMOCAP 4 classes (H+E merged), LOSO.
PAPER_TABLE2: Dict[str, Tuple[str, float, float]] = {
    "speech_finetune": ("Speech, ResNet34 fine-tuned", 65.97, 65.4),
    "speech_probe": ("Speech, ResNet34 w/o fine-tuning", 64.28, 63.74),
    "text": ("Text, BERT fine-tuned", 70.33, 70.24),
    "fusion_w1": ("Speech+Text, w1 = 0.94", 76.07, 75.76),
    "fusion_equal": ("Speech+Text, w1 = w2 = 0.5 (z-norm)", 75.97, 75.01),
}
# System name -> paper key, when --paper-ref does not say.
PAPER_ALIASES = {
    "speech": "speech_finetune", "ser": "speech_finetune", "ser_finetune": "speech_finetune",
    "speech_finetune": "speech_finetune", "speech_ft": "speech_finetune", "finetune": "speech_finetune",
    "speech_probe": "speech_probe", "ser_probe": "speech_probe", "probe": "speech_probe",
    "text": "text", "bert": "text",
    "fusion_w1": "fusion_w1", "fusion": "fusion_w1", "w1": "fusion_w1",
    "fusion_znorm": "fusion_equal", "fusion_equal": "fusion_equal", "znorm": "fusion_equal",
}


@dataclass
class FoldResult:
    fold: str
    n: int
    n_missing: int
    ua: float
    wa: float
    cm: np.ndarray
    y: np.ndarray
    pred: np.ndarray
    w1: Optional[float] = None


@dataclass
class SystemResult:
    name: str
    path: str
    classes: List[str]
    folds: List[FoldResult] = field(default_factory=list)

    def _vals(self, attr):
        return np.array([getattr(f, attr) for f in self.folds], dtype=np.float64)

    @property
    def ua_mean(self):
        return float(self._vals("ua").mean())

    @property
    def wa_mean(self):
        return float(self._vals("wa").mean())

    @property
    def ua_std(self):
        v = self._vals("ua")
        return float(v.std(ddof=1)) if len(v) > 1 else 0.0

    @property
    def wa_std(self):
        v = self._vals("wa")
        return float(v.std(ddof=1)) if len(v) > 1 else 0.0

    @property
    def cm(self):
        return sum(f.cm for f in self.folds)

    @property
    def pooled(self) -> Tuple[float, float]:
        y = np.concatenate([f.y for f in self.folds])
        p = np.concatenate([f.pred for f in self.folds])
        return metrics.unweighted_accuracy(y, p, len(self.classes)), metrics.weighted_accuracy(y, p)


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
    scored = set(sc.utts)
    missing = [u for u in lab if u not in scored]
    if len(missing) > MAX_MISSING_FRAC * max(1, len(lab)):
        raise ValueError(f"{sc.source}: {len(missing)} of {len(lab)} labelled utterances of {utt2emo_path} "
                         f"are not scored (more than {MAX_MISSING_FRAC:.0%})")
    cidx = {c: i for i, c in enumerate(sc.classes)}
    bad = sorted({lab[u] for u in sc.utts if lab[u] not in cidx})
    if bad:
        raise ValueError(f"{utt2emo_path}: labels {bad} not among the classes {sc.classes} of {sc.source}")
    y = np.array([cidx[lab[u]] for u in sc.utts], dtype=np.int64)
    pred = sc.mat.argmax(1)
    C = len(sc.classes)
    w1 = None
    w1_path = Path(score_dir) / "w1.txt"
    if w1_path.is_file():
        try:
            w1 = float(w1_path.read_text().split()[0])
        except (ValueError, IndexError):
            w1 = None
    fr = FoldResult(fold, len(y), len(missing), metrics.unweighted_accuracy(y, pred, C),
                    metrics.weighted_accuracy(y, pred), metrics.confusion_matrix(y, pred, C), y, pred, w1)
    return fr, sc.classes


def evaluate_system(name: str, system_dir, data_root) -> SystemResult:
    """UA/WA/confusion of every fold of a system (test set)."""
    system_dir, data_root = Path(system_dir), Path(data_root)
    folds = find_folds(system_dir)
    if not folds:
        raise FileNotFoundError(f"{system_dir}: no fold*/test.logpost.ark")
    res = None
    for f in folds:
        lab = data_root / f / "test" / "utt2emo"
        if not lab.is_file():
            raise FileNotFoundError(f"{lab}: no test labels for {system_dir / f}")
        fr, classes = evaluate_fold(system_dir / f, lab, f)
        if res is None:
            res = SystemResult(name, str(system_dir), classes)
        elif classes != res.classes:
            raise ValueError(f"{system_dir / f}: class order {classes} differs from the system's {res.classes}")
        res.folds.append(fr)
    return res


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


def plot_confusion(cm: np.ndarray, classes: Sequence[str], path, title: str) -> None:
    """PNG with two panels: counts and row-normalised (recall) matrices."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    C = len(classes)
    fig, axes = plt.subplots(1, 2, figsize=(4 + 2.2 * C, 1.5 + 1.1 * C))
    for ax, mat, sub, fmt in ((axes[0], cm, "counts", "{:d}"), (axes[1], norm, "row-normalised (recall)", "{:.2f}")):
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


def paper_key(name: str, explicit: Optional[Dict[str, str]] = None) -> Optional[str]:
    if explicit and name in explicit:
        k = explicit[name]
        return k if k in PAPER_TABLE2 else None
    return PAPER_ALIASES.get(name.lower())


def write_results(
    out_md,
    systems: Sequence[SystemResult],
    ablations: Sequence[SystemResult] = (),
    plots_dir=None,
    title: str = "Emotion recognition results",
    command: str = "",
    configs: Sequence[str] = (),
    notes: str = "",
    paper_refs: Optional[Dict[str, str]] = None,
    date: Optional[str] = None,
    repo_root=None,
) -> List[Path]:
    """Write RESULTS.md (atomically) and one confusion PNG per system; returns the PNG paths."""
    out_md = Path(out_md)
    plots_dir = Path(plots_dir) if plots_dir else out_md.parent / "plots"
    date = date or _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    L: List[str] = [f"# {title}", ""]
    L.append(f"- date: {date}")
    L.append(f"- git: {_git_rev(repo_root or Path(__file__).resolve().parents[1])}")
    if command:
        L.append(f"- command: `{command}`")
    L.append("- metrics: UA = mean per-class recall, WA = overall accuracy, on each fold's TEST "
             "session (leave-one-session-out); mean ± sample std over folds; \"pooled\" = over all "
             "test utterances of all folds. Fusion weights and z-norm statistics are tuned on each "
             "fold's DEV set only.")
    L.append("")
    for s in systems:
        L.append(f"- `{s.name}`: `{s.path}` ({len(s.folds)} folds, classes {' '.join(s.classes)})")
    if notes:
        L += ["", notes.strip()]
    if configs:
        L += ["", "## Configs", ""]
        for c in configs:
            p = Path(c)
            body = p.read_text(encoding="utf-8") if p.is_file() else "(missing)\n"
            L += [f"`{c}`:", "", "```yaml", body.rstrip("\n"), "```", ""]

    L += ["", "## Summary", ""]
    rows = []
    for s in systems:
        k = paper_key(s.name, paper_refs)
        pu, pw = s.pooled
        ref = PAPER_TABLE2.get(k) if k else None
        rows.append([f"`{s.name}`", _pm(s.ua_mean, s.ua_std), _pm(s.wa_mean, s.wa_std), _pct(pu), _pct(pw),
                     sum(f.n for f in s.folds),
                     f"{ref[1]:.2f}" if ref else "–", f"{ref[2]:.2f}" if ref else "–",
                     ref[0] if ref else ""])
    L.append(md_table(["system", "UA % (mean ± std)", "WA % (mean ± std)", "UA % pooled", "WA % pooled",
                       "N test", "paper UA %", "paper WA %", "paper system (000, Table 2)"], rows,
                      "lrrrrrrrl"))
    L += ["", "Paper numbers: Padi et al., Odyssey 2022 (paper 000), Table 2, real IEMOCAP, "
          "4 classes (happy+excited merged). They are a reference for the real corpus only; "
          "numbers on the synthetic demo corpus are not comparable.", ""]

    folds = sorted({f.fold for s in systems for f in s.folds}, key=fold_sort_key)
    if folds:
        L += ["## Per fold (test UA % / WA %, N)", ""]
        rows = []
        for fd in folds:
            row = [fd]
            for s in systems:
                fr = next((f for f in s.folds if f.fold == fd), None)
                row.append(f"{_pct(fr.ua)} / {_pct(fr.wa)} ({fr.n})" if fr else "–")
            rows.append(row)
        rows.append(["mean"] + [f"{_pct(s.ua_mean)} / {_pct(s.wa_mean)}" for s in systems])
        L.append(md_table(["fold"] + [f"`{s.name}`" for s in systems], rows))
        L.append("")
        w1s = [s for s in systems if any(f.w1 is not None for f in s.folds)]
        for s in w1s:
            vals = [f"{f.fold}: {f.w1:.2f}" for f in s.folds if f.w1 is not None]
            mean = np.mean([f.w1 for f in s.folds if f.w1 is not None])
            L.append(f"Chosen w1 (dev UA) for `{s.name}`: {', '.join(vals)} (mean {mean:.2f}; paper: 0.94).")
        miss = [(s.name, f.fold, f.n_missing) for s in systems for f in s.folds if f.n_missing]
        for name, fd, n in miss:
            L.append(f"Note: `{name}` {fd}: {n} labelled test utterances not scored.")
        L.append("")

    if ablations:
        L += ["## Ablations", ""]
        rows = [[f"`{a.name}`", f"`{a.path}`", _pm(a.ua_mean, a.ua_std), _pm(a.wa_mean, a.wa_std),
                 len(a.folds)] for a in ablations]
        L.append(md_table(["system", "dir", "UA % (mean ± std)", "WA % (mean ± std)", "folds"], rows, "llrrr"))
        L.append("")

    pngs = []
    L += ["## Confusion matrices (test, summed over folds; rows = true class)", ""]
    for s in list(systems) + list(ablations):
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", s.name)
        png = plots_dir / f"confusion_{safe}.png"
        plot_confusion(s.cm, s.classes, png, f"{s.name}: UA {_pct(s.pooled[0])}%, WA {_pct(s.pooled[1])}% (pooled)")
        pngs.append(png)
        rel = os.path.relpath(png, out_md.parent)
        L += [f"### {s.name}", "", confusion_text(s.cm, s.classes), "", f"![{s.name}]({rel})", ""]

    out_md.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_md, "\n".join(L).rstrip("\n") + "\n")
    return pngs
