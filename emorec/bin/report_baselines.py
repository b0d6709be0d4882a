"""RESULTS.md of the classical baselines (paper 004, Table 6) over the split protocols.

Usage: python -m emorec.bin.report_baselines [options] EXP_DIR OUT_MD

EXP_DIR holds FEATURE_SET/CLASSIFIER/PROTOCOL[/FOLD]/{valid,test}.logpost.ark and
selected.yaml (steps/train_baselines.sh).  A protocol is a dir below --data: either one
split (DATA/P/test/utt2emo) or folds (DATA/P/FOLD/test/utt2emo, e.g. leave one corpus
out), reported as the mean ± sample std over folds and pooled over all test utterances.
Per protocol: UA and WA on TEST of every classifier and feature set beside the
validation UA that chose its hyper-parameters; the best system per protocol is the one
with the highest validation UA (never chosen on test), and its confusion matrix is drawn.
Paper 004's Table 6 (its stratified split of the real corpora) stands beside the
--paper-protocol table; with --demo true it is labelled as not comparable.

--ssl-systems "NAME=SCORE_DIR:FOLDS_DIR ..." adds the Table 8 section (paper 004's HuBERT,
BERT and HuBERT+BERT systems, egs/emo7 stage 4): SCORE_DIR/foldK/test.logpost.ark scored
against FOLDS_DIR/foldK/test/utt2emo, the protocol of foldK named by FOLDS_DIR/folds.txt;
UA and WA per protocol (leave one corpus out: per held-out corpus and mean ± std) beside
the best baseline of each protocol by validation UA; with --seeds "1 2" every system is
SCORE_DIR/seedS/foldK and each cell the mean ± std over seeds; paired significance (over
utterances and over speakers within corpus, Holm) per protocol between the systems and
the best baseline; with --overlap-folds the share of test transcripts seen in training;
paper 004's Table 8 (--table8) in a table of its own.

Every protocol states its ceiling: a class of its test part absent from its training part
can never be recalled, so UA is at most (classes seen in training) / (classes in test).
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import yaml

PARTS = ("train", "train_aug", "valid", "valid_aug", "test")
PROTOCOL_WORDS = {  # for plot titles
    "strat": "stratified split", "spk": "speaker-independent split",
    "spksent": "speaker- and sentence-disjoint split", "loco": "leave one corpus out",
}
PROTOCOL_TITLES = {
    "strat": "Stratified split (paper 004's protocol, stratified by class and corpus where the paper "
             "stratifies by class: the same speakers and the same sentences are in train and test)",
    "spk": "Speaker-independent split (no speaker in two of train, valid, test; sentences and "
           "IEMOCAP dialogs are shared)",
    "spksent": "Speaker- and sentence-disjoint split (no speaker, sentence or IEMOCAP dialog in two "
               "of train, valid, test; utterances that would cross are left out)",
    "loco": "Leave one corpus out (train on four corpora, test on the fifth)",
}


def protocol_folds(data: Path, protocol: str) -> Optional[List[str]]:
    """None for a single split, else the fold names (natural order)."""
    from emorec.fileio import fold_sort_key

    d = data / protocol
    if (d / "test" / "utt2emo").is_file():
        return None
    folds = [p.name for p in d.iterdir() if (p / "test" / "utt2emo").is_file()] if d.is_dir() else []
    if not folds:
        raise FileNotFoundError(f"{d}: neither test/utt2emo nor FOLD/test/utt2emo")
    return sorted(folds, key=fold_sort_key)


def valid_ua(system_dir: Path, folds: Optional[List[str]]) -> float:
    """Mean validation UA of the chosen hyper-parameters (selected.yaml) over the folds."""
    vals = []
    for d in ([system_dir] if folds is None else [system_dir / f for f in folds]):
        sel = d / "selected.yaml"
        if not sel.is_file():
            raise FileNotFoundError(f"{sel}: no such file (steps/train_baselines.sh writes it)")
        vals.append(float(yaml.safe_load(sel.read_text(encoding="utf-8"))["valid_ua"]))
    return float(np.mean(vals))


def counts_section(data: Path, protocols: List[str], all_dir: Optional[Path]) -> List[str]:
    """Corpus x class counts (paper 004, Tables 1-4) of the merged dir and of every part of
    the single-split protocols; a protocol with folds gets one line of part sizes per fold."""
    from emorec.data.emo7 import counts_table
    from emorec.fileio import read_kv
    from emorec.report import md_table

    def table(d: Path, title: str) -> str:
        return counts_table(read_kv(d / "utt2emo"), read_kv(d / "utt2corpus"), title)

    def parts(base: Path) -> List[str]:
        return [p for p in PARTS if (base / p / "utt2emo").is_file()]

    L = ["## Data: utterances per corpus and class", ""]
    blocks = [table(all_dir, f"{all_dir} (merged, 7 classes)")] if all_dir is not None else []
    folded = []
    for p in protocols:
        folds = protocol_folds(data, p)
        if folds is None:
            blocks += [table(data / p / part, str(data / p / part)) for part in parts(data / p)]
        else:
            folded.append((p, folds))
    L += ["```text", "\n\n".join(blocks), "```", ""]
    for p, folds in folded:
        rows = [[f, *(len(read_kv(data / p / f / part / "utt2emo")) for part in PARTS
                      if (data / p / f / part / "utt2emo").is_file())] for f in folds]
        L += [f"`{data / p}`: utterances per part", "",
              md_table(["test corpus"] + parts(data / p / folds[0]), rows), ""]
    return L


def ceiling_lines(data: Path, protocol: str, folds: Optional[List[str]]) -> List[str]:
    """The protocol's UA ceiling (emo7.ua_ceiling) per split or fold: a markdown paragraph."""
    from emorec.data.emo7 import ua_ceiling
    from emorec.fileio import read_kv

    out = []
    for f in folds or [None]:
        d = data / protocol / f if f else data / protocol
        absent, cap = ua_ceiling(read_kv(d / "train" / "utt2emo").values(), read_kv(d / "test" / "utt2emo").values())
        if absent:
            out.append(f"{f or protocol}: {', '.join(f'`{c}`' for c in absent)} never in training, UA at most "
                       f"{100 * cap:.2f}%")
    text = ("UA ceiling (classes of the test part that the training part lacks; every system of this protocol, "
            "Table 8's included, is capped alike): " + "; ".join(out) + "." if out else
            "UA ceiling: none (every test class occurs in training).")
    return [text, ""]


CORPUS_NAMES = {"cremad": "CREMA-D", "ravdess": "RAVDESS", "savee": "SAVEE", "tess": "TESS", "iemocap": "IEMOCAP"}


def _fold_protocols(folds_dir: Path) -> Dict[str, str]:
    from emorec.fileio import read_kv

    return read_kv(folds_dir / "folds.txt")


def _key_name(key: Tuple[str, Optional[str]]) -> str:
    return key[1] or key[0]


def _restrict(s, keys: List[str], keep: set):
    """The SystemResult ``s`` on the folds ``keys`` (in that order) and the utterances ``keep``."""
    from emorec import report

    runs = []
    for r in s.runs:
        folds = []
        for k in keys:
            f = r.fold(k)
            m = np.array([u in keep for u in f.utts], dtype=bool)
            folds.append(dataclasses.replace(f, utts=[u for u, x in zip(f.utts, m) if x], y=f.y[m], pred=f.pred[m]))
        runs.append(report.Run(r.seed, r.path, folds))
    return report.SystemResult(s.name, s.path, s.classes, runs)


def protocol_significance(systems: List[object], utt2corpus: Dict[str, str]) -> Tuple[List[List[str]], int, List[str]]:
    """Paired tests between the systems (report.SystemResult, folds named by protocol key)
    on the folds and test utterances they all have: (markdown rows, N, folds used)."""
    from emorec import report

    keys = [k for k in systems[0].fold_names if all(s.runs[0].fold(k) for s in systems)]
    keep = None
    for s in systems:
        have = {u for k in keys for u in s.runs[0].fold(k).utts}
        keep = have if keep is None else keep & have
    if not keys or not keep:
        return [], 0, keys
    common = [_restrict(s, keys, keep) for s in systems]
    return report.significance_rows(common, stratum=lambda u: utt2corpus.get(u, "")), len(keep), keys


def table9_section(scores: Path, demo: bool) -> List[str]:
    """Paper 004's Table 9 counterpart: the exported (deployed) model scored as deployed on
    RAVDESS by steps/score_package.sh (summary.txt: ``UA x``, ``WA y``, ``utterances n``)."""
    from emorec import report

    summary = dict(line.split(None, 1) for line in (scores / "summary.txt").read_text(encoding="utf-8").splitlines())
    L = ["## Paper 004, Table 9 counterpart: the deployed model on RAVDESS", "",
         report.md_table(["system", "UA", "WA", "N"],
                         [["exported model (`steps/export_model.sh --system`), scored as deployed",
                           summary["UA"], summary["WA"], summary["utterances"]]]), "",
         f"Scores: `{scores}` (`steps/score_package.sh`: each recording through the package's preprocessing "
         "and, for the joint model, its ASR). **RAVDESS is in this model's training data** (as it was in "
         "paper 004's, whose Table 9 reports close to 80% accuracy): this is not a held-out number. The "
         "honest RAVDESS number is Table 8's leave-one-corpus-out `loco/ravdess` row."]
    if demo:
        L.append("On the synthetic demo corpora, not comparable with the paper's number.")
    return L + [""]


def table8_section(systems: List[Tuple[str, Path, Path]], best: Dict[str, Tuple[object, float]],
                   protocols: List[str], folds_of: Dict[str, Optional[List[str]]], table8,
                   demo: bool, notes: List[str], seeds: List[str] = (),
                   utt2corpus: Optional[Dict[str, str]] = None, overlap: Optional[Path] = None) -> List[str]:
    """Markdown of paper 004's Table 8 systems over the protocols (see the module doc)."""
    import json

    from emorec import report

    cols = []                      # (protocol, fold name or None) in report order
    for p in protocols:
        cols += [(p, None)] if folds_of[p] is None else [(p, f) for f in folds_of[p]]
    runs = [(f"seed{x}", f"seed{x}") for x in seeds] or [("", "")]
    # res[name][key]: one (fold result, validation UA) per seed
    res: Dict[str, Dict[Tuple[str, Optional[str]], List[Tuple[object, float]]]] = {}
    sys_res: Dict[str, object] = {}
    for name, score_dir, folds_dir in systems:
        res[name] = {}
        sr = None
        for seed, sub in runs:
            run = report.Run(seed, str(score_dir / sub))
            for fold, proto in _fold_protocols(folds_dir).items():
                p, _, part = proto.partition("/")
                key = (p, part or None)
                if p not in protocols:
                    continue
                fr, classes = report.evaluate_fold(score_dir / sub / fold, folds_dir / fold / "test" / "utt2emo",
                                                   _key_name(key))
                hist = json.loads((score_dir / sub / fold / "train_history.json").read_text(encoding="utf-8"))
                res[name].setdefault(key, []).append((fr, float(hist["best_dev_ua"])))
                run.folds.append(fr)
            sr = sr or report.SystemResult(name, str(score_dir), classes)
            sr.runs.append(run)
        if not res[name]:
            raise FileNotFoundError(f"{score_dir}: no scores of the protocols {protocols} ({folds_dir}/folds.txt)")
        sys_res[name] = sr

    def sd(v) -> float:
        return float(np.std(v, ddof=1)) if len(v) > 1 else 0.0

    def uawa(frs) -> str:
        ua, wa = np.array([f.ua for f in frs]), np.array([f.wa for f in frs])
        if len(frs) == 1:
            return f"{report._pct(ua[0])} / {report._pct(wa[0])}"
        return f"{report._pm(ua.mean(), sd(ua))} / {report._pm(wa.mean(), sd(wa))}"

    def cell(name, key) -> str:   # "–": no test utterance of that protocol has a transcript
        return uawa([fr for fr, _ in res[name][key]]) if key in res[name] else "–"

    def folded(name, p) -> str:
        have = [f for f in folds_of[p] if (p, f) in res[name]]
        if not have:
            return "–"
        of = f" ({len(have)} of {len(folds_of[p])})" if len(have) < len(folds_of[p]) else ""
        return uawa([fr for f in have for fr, _ in res[name][(p, f)]]) + of

    n_seeds = len(runs)
    L = ["## Paper 004, Table 8 systems: HuBERT, BERT and HuBERT+BERT (stage 4)", ""]
    L += [f"- {n}" for n in notes]
    L += [f"- seeds: {' '.join(seeds)}: every cell is the mean ± sample std over the seeds (leave one corpus "
          "out: over every (seed, held-out corpus) pair)." if n_seeds > 1 else "- one training seed: no spread.", ""]
    header = ["system"] + [f"{p} UA / WA" for p in protocols]
    rows = []
    for name, _, _ in systems:
        row = [f"`{name}`"]
        for p in protocols:
            row.append(cell(name, (p, None)) if folds_of[p] is None else folded(name, p))
        rows.append(row)
    base_row, base_names = ["best baseline (by valid UA)"], []
    for p in protocols:
        b, _ = best[p]
        if folds_of[p] is None:
            base_row.append(f"{report._pct(b.ua_mean)} / {report._pct(b.wa_mean)}")
        else:
            base_row.append(f"{report._pm(b.ua_mean, b.ua_std)} / {report._pm(b.wa_mean, b.wa_std)}")
        base_names.append(f"{p}: `{b.name}`")
    rows.append(base_row)
    L += [report.md_table(header, rows), "",
          "\"–\": no test utterance of that protocol has a transcript; \"(k of n)\": the mean is over the "
          "k held-out corpora that have one. Chance: a constant prediction has UA 1 / (classes in the test "
          "part), 14.29% with all seven.", "",
          "Best baselines (chosen on each protocol's valid part; one run): " + "; ".join(base_names) + ".", ""]
    for p in protocols:
        if folds_of[p] is None:
            continue
        header = ["system"] + [f"{f} UA / WA" for f in folds_of[p]]
        rows = [[f"`{name}`"] + [cell(name, (p, f)) for f in folds_of[p]] for name, _, _ in systems]
        b, _ = best[p]
        rows.append([f"best baseline `{b.name}`"] + [f"{report._pct(b.runs[0].fold(f).ua)} / "
                                                     f"{report._pct(b.runs[0].fold(f).wa)}" for f in folds_of[p]])
        L += [f"Per held-out corpus ({p}; test = that corpus):", "", report.md_table(header, rows), ""]
    header = ["system"] + [f"{p}/{f}" if f else p for p, f in cols]
    rows = [[f"`{name}`"] + [f"{res[name][c][0][0].n} ({report._pct(np.mean([v for _, v in res[name][c]]))})"
                             if c in res[name] else "–" for c in cols] for name, _, _ in systems]
    L += ["Test utterances (and the validation UA that selected the epoch, mean over seeds), per protocol:", "",
          report.md_table(header, rows), ""]
    L += ["### Significance of the Table 8 systems and the best baseline", ""]
    for p in protocols:
        compared = []
        for name, _, _ in systems:
            s = sys_res[name]
            keys = [_key_name(k) for k in res[name] if k[0] == p]
            compared.append(report.SystemResult(name, s.path, s.classes, [
                report.Run(r.seed, r.path, [f for f in r.folds if f.fold in keys]) for r in s.runs]))
        b, _ = best[p]
        compared.append(report.SystemResult(f"baseline {b.name}", b.path, b.classes, b.runs))
        rows, n, keys = protocol_significance([c for c in compared if c.runs[0].folds], utt2corpus or {})
        if rows:
            L += [f"{p} ({n} test utterances that every system scores" + (f", held-out corpora {' '.join(keys)}"
                  if folds_of[p] else "") + "):", "",
                  report.md_table(report.SIGNIFICANCE_HEADER, rows, "llrrlrl"), ""]
    L += [f"Paired bootstrap ({report.N_BOOT} samples) on the test utterances every compared system scores "
          "(the text and joint systems leave SAVEE out), all seeds of a system averaged; \"speakers\": whole "
          "test speakers redrawn within their corpus (the p to trust: a speaker's utterances are not "
          "independent). Holm over the pairs of each protocol, metric and level.", ""]
    if overlap is not None:
        names = _fold_protocols(overlap)
        ov = report.transcript_overlap(overlap, list(names))
        L += ["### Test transcripts seen in training", "",
              report.md_table(["protocol", "test utterances whose transcript occurs verbatim in train", "share %"],
                              [[names[fd], f"{h} of {n}", report._pct(h / max(n, 1))] for fd, h, n in ov]), "",
              f"Verbatim up to case and spacing (`{overlap}`; SAVEE has no transcripts). CREMA-D, RAVDESS and TESS "
              "read fixed sentences and IEMOCAP's plays recur in every session: only `spksent` keeps every "
              "sentence on one side.", ""]
    L += ["### Paper 004, Table 8 (real corpora, its stratified split)", ""]
    if demo:
        L += ["**Not comparable with the numbers above**: those are on the synthetic demo corpora, with "
              "a demo HuBERT pre-trained on the demo speaker corpus and demo BERTs built from each protocol's training transcripts; these are the "
              "paper's, on the real corpora, with hubert-base-ls960 and bert-base-uncased on Whisper "
              "transcripts.", ""]
    else:
        L += ["The paper's split, seeds and transcripts (Whisper) are not ours: compare with the "
              "`strat` column above only as a reference point.", ""]
    L += [f"Source: {table8.source}.", "",
          report.md_table(["system (paper)", "UA", "WA"],
                          [[r.label, f"{r.ua:.2f}", f"{r.wa:.2f}"] for r in table8.rows.values()]), ""]
    return L


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emorec.bin.report_baselines",
                                 description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--data", required=True, help="root of the protocols' data dirs")
    ap.add_argument("--protocols", default="strat spk spksent loco",
                    help="space-separated [strat spk spksent loco]")
    ap.add_argument("--feature-sets", default="handcrafted egemaps")
    ap.add_argument("--classifiers", default="knn mlp xgboost lightgbm logreg random_forest "
                                             "naive_bayes decision_tree")
    ap.add_argument("--corpus-roots", required=True,
                    help="the data prep's corpus_roots file: names the corpus in the header")
    ap.add_argument("--all-dir", help="merged data dir, for its counts table")
    ap.add_argument("--paper-table", required=True,
                    help="paper 004's Table 6 (emorec.report.read_paper_table), e.g. conf/paper004_table6.tsv")
    ap.add_argument("--paper-protocol", default="strat", help="protocol beside paper 004's Table 6")
    ap.add_argument("--title", default="Paper 004 baselines: hand-crafted features and eGeMAPS, "
                                       "7 classes (egs/emo7)")
    ap.add_argument("--plots-dir", help="[OUT_MD's dir/plots]")
    ap.add_argument("--command", default=None)
    ap.add_argument("--ssl-systems", default="",
                    help='Table 8 section: "NAME=SCORE_DIR:FOLDS_DIR ..." (see above) []')
    ap.add_argument("--table8", help="paper 004's Table 8 (emorec.report.read_paper_table); "
                                     "required with --ssl-systems")
    ap.add_argument("--note", action="append", default=[],
                    help="a line of the Table 8 section's notes (repeatable)")
    ap.add_argument("--seeds", default="", help='training seeds of the Table 8 systems: SCORE_DIR/seedS ("1 2") []')
    ap.add_argument("--overlap-folds", help="text folds (FOLD/{train,test}/text, folds.txt) for the "
                                            "transcript-overlap table of the Table 8 section")
    ap.add_argument("--package-scores", help="steps/score_package.sh's OUT_DIR of the exported model on "
                                             "RAVDESS (summary.txt, manifest): the Table 9 counterpart")
    ap.add_argument("exp_dir")
    ap.add_argument("out_md")
    a = ap.parse_args(argv)

    from emorec import report

    # demo (or partly demo) from the data prep's record, never from the command line
    a.demo = report.corpus_kind(a.corpus_roots) != "real"
    from emorec.fileio import atomic_write_text, read_kv

    exp, data, out_md = Path(a.exp_dir), Path(a.data), Path(a.out_md)
    plots = Path(a.plots_dir) if a.plots_dir else out_md.parent / "plots"
    feats, clfs, protocols = a.feature_sets.split(), a.classifiers.split(), a.protocols.split()
    command = a.command if a.command is not None else "python -m emorec.bin.report_baselines " + " ".join(
        shlex.quote(x) for x in (argv if argv is not None else sys.argv[1:]))
    systems = []
    for item in a.ssl_systems.split():
        name, _, dirs = item.partition("=")
        score_dir, _, folds_dir = dirs.partition(":")
        if not (name and score_dir and folds_dir):
            ap.error(f"--ssl-systems: expected NAME=SCORE_DIR:FOLDS_DIR, got {item!r}")
        systems.append((name, Path(score_dir), Path(folds_dir)))
    if systems and not a.table8:
        ap.error("--ssl-systems needs --table8")
    try:
        results: Dict[str, Dict[Tuple[str, str], Tuple[object, float]]] = {}
        folds_of = {}
        for p in protocols:
            folds_of[p] = folds = protocol_folds(data, p)
            results[p] = {}
            for fs in feats:
                for clf in clfs:
                    sdir = exp / fs / clf / p
                    name = f"{fs}/{clf}"
                    res = (report.evaluate_split(name, sdir, data / p / "test" / "utt2emo") if folds is None
                           else report.evaluate_system(name, sdir, data / p))
                    results[p][(fs, clf)] = (res, valid_ua(sdir, folds))
        paper = report.read_paper_table(a.paper_table)
        title = a.title + ("; HuBERT, BERT and HuBERT+BERT (Table 8)" if systems else "")
        L = [f"# {title}", "", f"- date: {datetime.datetime.now():%Y-%m-%d %H:%M}",
             f"- git: {report._git_rev(Path(report.__file__).resolve().parents[1])}",
             f"- command: `{command}`"]
        L.append(f"- corpus: {report.describe_corpus(a.corpus_roots)}")
        L.append("- metrics: UA = mean per-class recall (over the classes present in the test part), WA = "
                 "overall accuracy, in %, on each split's TEST part. Every hyper-parameter "
                 "(KNN's k, the other classifiers' grids in conf/baselines.yaml) is chosen on the "
                 "split's VALID part by UA; the test part is only scored. Features are standard-"
                 "scaled with statistics of the training part only.")
        L.append("- folds: a protocol with folds (leave one corpus out) shows mean ± sample std over "
                 "the folds; \"pooled\" is over all their test utterances.")
        L.append("")
        if a.all_dir or protocols:
            L += counts_section(data, protocols, Path(a.all_dir) if a.all_dir else None)
        best = {}
        for p in protocols:
            L += [f"## {PROTOCOL_TITLES.get(p, p)} (`{data / p}`)", ""]
            multi = folds_of[p] is not None
            any_res = results[p][(feats[0], clfs[0])][0]
            n_test = sum(f.n for f in any_res.folds)
            L += [f"Test utterances: {n_test}" + (f" over {len(any_res.folds)} folds" if multi else "")
                  + f"; the binomial standard error of a pooled WA is at most ±{50 / np.sqrt(n_test):.1f} "
                  "points.", ""]
            header = ["classifier"]
            for fs in feats:
                header += [f"{fs} UA", f"{fs} WA", f"{fs} valid UA"]
            with_paper = p == a.paper_protocol
            if with_paper:
                header += ["paper UA", "paper WA"]
            rows = []
            for clf in clfs:
                row = [f"`{clf}`"]
                for fs in feats:
                    res, vua = results[p][(fs, clf)]
                    if multi:
                        row += [report._pm(res.ua_mean, res.ua_std), report._pm(res.wa_mean, res.wa_std)]
                    else:
                        row += [report._pct(res.ua_mean), report._pct(res.wa_mean)]
                    row.append(report._pct(vua))
                if with_paper:
                    ref = paper.rows.get(clf)
                    row += [f"{ref.ua:.2f}", f"{ref.wa:.2f}"] if ref else ["–", "–"]
                rows.append(row)
            L.append(report.md_table(header, rows))
            L.append("")
            if multi:
                pooled = [[f"`{clf}`"] + [f"{report._pct(results[p][(fs, clf)][0].pooled[0])} / "
                                          f"{report._pct(results[p][(fs, clf)][0].pooled[1])}" for fs in feats]
                          for clf in clfs]
                L += ["Pooled over the folds' test utterances (UA / WA):", "",
                      report.md_table(["classifier"] + feats, pooled), ""]
            if with_paper:
                if a.demo:
                    L.append(f"Paper columns: {paper.source}. **Not comparable**: the numbers "
                             "beside them are on the synthetic demo corpus.")
                else:
                    L.append(f"Paper columns: {paper.source} (hyper-parameters not reported; its "
                             "KNN k was grid-searched, here every classifier's settings are chosen "
                             "on the validation part).")
                L.append("")
            L += ceiling_lines(data, p, folds_of[p])
            key = max(results[p], key=lambda k: results[p][k][1])
            best[p] = results[p][key]
            res, vua = best[p]
            L.append(f"Best by validation UA: `{res.name}` (valid UA {report._pct(vua)}).")
            if multi:
                per_fold = [[f.fold, report._pct(f.ua), report._pct(f.wa), f.n] for f in res.folds]
                L += ["", report.md_table(["test fold", "UA", "WA", "N"], per_fold)]
            L.append("")
        utt2corpus = read_kv(Path(a.all_dir) / "utt2corpus") if a.all_dir else {}
        if systems:
            L += table8_section(systems, best, protocols, folds_of, report.read_paper_table(a.table8),
                                a.demo, a.note, a.seeds.split(), utt2corpus,
                                Path(a.overlap_folds) if a.overlap_folds else None)
        if a.package_scores:
            L += table9_section(Path(a.package_scores), a.demo)
        L += ["## Confusion matrices of the best baselines (test; rows = true class)", ""]
        names = sorted({CORPUS_NAMES.get(c, c) for c in utt2corpus.values()})
        plot_corpus = ("demo corpora " if a.demo else "") + (", ".join(names) or "corpora of " + a.corpus_roots)
        for p in protocols:
            res, _ = best[p]
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{p}_{res.name}")
            png = plots / f"confusion_{safe}.png"
            report.plot_confusion(res.cm, res.classes, png,
                                  report.plot_title(res.name, plot_corpus, *res.pooled,
                                                    what=f"{PROTOCOL_WORDS.get(p, p)}, pooled"))
            L += [f"### {p}: `{res.name}`", "", report.confusion_text(res.cm, res.classes), "",
                  f"![{p} {res.name}]({os.path.relpath(png, out_md.parent)})", ""]
        atomic_write_text(out_md, "\n".join(L).rstrip("\n") + "\n")
    except (OSError, ValueError, KeyError, yaml.YAMLError) as e:
        print(f"report_baselines: ERROR: {e}", file=sys.stderr)
        return 1
    for p in protocols:
        res, vua = best[p]
        print(f"report_baselines: {p}: best by valid UA {res.name}: test UA {100 * res.ua_mean:.2f} "
              f"WA {100 * res.wa_mean:.2f}")
    print(f"report_baselines: wrote {out_md}")
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
