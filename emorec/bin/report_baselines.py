"""RESULTS.md of the classical baselines (paper 004, Table 6) over the split protocols.

Usage: python -m emorec.bin.report_baselines [options] EXP_DIR OUT_MD

EXP_DIR holds FEATURE_SET/CLASSIFIER/PROTOCOL[/FOLD]/{valid,test}.logpost.ark and
selected.yaml (steps/train_baselines.sh).  A protocol is a dir below --data: either one
split (DATA/P/test/utt2emo) or folds (DATA/P/FOLD/test/utt2emo, e.g. leave one corpus
out), reported as the mean ± sample std over folds and pooled over all test utterances.
Per protocol: WA and UA on TEST of every classifier and feature set beside the
validation UA that chose its hyper-parameters; the best system per protocol is the one
with the highest validation UA (never chosen on test), and its confusion matrix is drawn.
Paper 004's Table 6 (its stratified split of the real corpora) stands beside the
--paper-protocol table; with --demo true it is labelled as not comparable.

--ssl-systems "NAME=SCORE_DIR:FOLDS_DIR ..." adds the Table 8 section (paper 004's HuBERT,
BERT and HuBERT+BERT systems, egs/emo7 stage 4): SCORE_DIR/foldK/test.logpost.ark scored
against FOLDS_DIR/foldK/test/utt2emo, the protocol of foldK named by FOLDS_DIR/folds.txt;
WA and UA per protocol (leave one corpus out: per held-out corpus and mean ± std) beside
the best baseline of each protocol by validation UA; paper 004's Table 8 (--table8) in a
table of its own.
"""
from __future__ import annotations

import argparse
import datetime
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import yaml

PARTS = ("train", "train_aug", "valid", "test")
PROTOCOL_TITLES = {
    "strat": "Stratified split (paper 004's protocol: the same speakers, and in CREMA-D, "
             "RAVDESS and TESS the same sentences, are in train and test)",
    "spk": "Speaker-independent split (no speaker in two of train, valid, test)",
    "loco": "Leave one corpus out (train on four corpora, test on the fifth)",
}


def _bool(s: str) -> bool:
    if s.lower() in ("true", "1", "yes"):
        return True
    if s.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {s!r}")


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


def _fold_protocols(folds_dir: Path) -> Dict[str, str]:
    from emorec.fileio import read_kv

    return read_kv(folds_dir / "folds.txt")


def table8_section(systems: List[Tuple[str, Path, Path]], best: Dict[str, Tuple[object, float]],
                   protocols: List[str], folds_of: Dict[str, Optional[List[str]]], table8,
                   demo: bool, notes: List[str]) -> List[str]:
    """Markdown of paper 004's Table 8 systems over the protocols (see the module doc)."""
    import json

    from emorec import report

    cols = []                      # (protocol, fold name or None) in report order
    for p in protocols:
        cols += [(p, None)] if folds_of[p] is None else [(p, f) for f in folds_of[p]]
    res: Dict[str, Dict[Tuple[str, Optional[str]], Tuple[object, float]]] = {}
    for name, score_dir, folds_dir in systems:
        res[name] = {}
        for fold, proto in _fold_protocols(folds_dir).items():
            p, _, sub = proto.partition("/")
            key = (p, sub or None)
            if p not in protocols:
                continue
            fr, _ = report.evaluate_fold(score_dir / fold, folds_dir / fold / "test" / "utt2emo", proto)
            hist = json.loads((score_dir / fold / "train_history.json").read_text(encoding="utf-8"))
            res[name][key] = (fr, float(hist["best_dev_ua"]))
        if not res[name]:
            raise FileNotFoundError(f"{score_dir}: no scores of the protocols {protocols} ({folds_dir}/folds.txt)")
    def cell(name, key) -> str:   # "–": no test utterance of that protocol has a transcript
        if key not in res[name]:
            return "–"
        fr = res[name][key][0]
        return f"{report._pct(fr.wa)} / {report._pct(fr.ua)}"

    def folded(name, p) -> str:
        frs = [res[name][(p, f)][0] for f in folds_of[p] if (p, f) in res[name]]
        if not frs:
            return "–"
        wa, ua = np.array([f.wa for f in frs]), np.array([f.ua for f in frs])
        sd = (lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0)
        of = f" ({len(frs)} of {len(folds_of[p])})" if len(frs) < len(folds_of[p]) else ""
        return f"{report._pm(wa.mean(), sd(wa))} / {report._pm(ua.mean(), sd(ua))}{of}"

    L = ["## Paper 004, Table 8 systems: HuBERT, BERT and HuBERT+BERT (stage 4)", ""]
    L += [f"- {n}" for n in notes] + [""]
    header = ["system"] + [f"{p} WA / UA" + (" (mean ± std)" if folds_of[p] else "") for p in protocols]
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
            base_row.append(f"{report._pct(b.wa_mean)} / {report._pct(b.ua_mean)}")
        else:
            base_row.append(f"{report._pm(b.wa_mean, b.wa_std)} / {report._pm(b.ua_mean, b.ua_std)}")
        base_names.append(f"{p}: `{b.name}`")
    rows.append(base_row)
    L += [report.md_table(header, rows), "",
          "\"–\": no test utterance of that protocol has a transcript; \"(k of n)\": the mean is over the "
          "k held-out corpora that have one. Chance: a constant prediction has UA 1 / (classes in the test "
          "part), 14.29% with all seven.", "",
          "Best baselines (chosen on each protocol's valid part): " + "; ".join(base_names) + ".", ""]
    for p in protocols:
        if folds_of[p] is None:
            continue
        header = ["system"] + [f"{f} WA / UA" for f in folds_of[p]]
        rows = [[f"`{name}`"] + [cell(name, (p, f)) for f in folds_of[p]] for name, _, _ in systems]
        b, _ = best[p]
        rows.append([f"best baseline `{b.name}`"] + [f"{report._pct(b.runs[0].fold(f).wa)} / "
                                                     f"{report._pct(b.runs[0].fold(f).ua)}" for f in folds_of[p]])
        L += [f"Per held-out corpus ({p}; test = that corpus):", "", report.md_table(header, rows), ""]
    header = ["system"] + [f"{p}/{f}" if f else p for p, f in cols]
    rows = [[f"`{name}`"] + [f"{res[name][c][0].n} ({report._pct(res[name][c][1])})" if c in res[name] else "–"
                             for c in cols] for name, _, _ in systems]
    L += ["Test utterances (and the validation UA that selected the epoch), per protocol:", "",
          report.md_table(header, rows), ""]
    L += ["### Paper 004, Table 8 (real corpora, its stratified split)", ""]
    if demo:
        L += ["**Not comparable with the numbers above**: those are on the synthetic demo corpora, with "
              "a demo HuBERT and BERT built offline from each protocol's training data; these are the "
              "paper's, on the real corpora, with hubert-base-ls960 and bert-base-uncased on Whisper "
              "transcripts.", ""]
    else:
        L += ["The paper's split, seeds and transcripts (Whisper) are not ours: compare with the "
              "`strat` column above only as a reference point.", ""]
    L += [f"Source: {table8.source}.", "",
          report.md_table(["system (paper)", "WA", "UA"],
                          [[r.label, f"{r.wa:.2f}", f"{r.ua:.2f}"] for r in table8.rows.values()]), ""]
    return L


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emorec.bin.report_baselines",
                                 description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--data", required=True, help="root of the protocols' data dirs")
    ap.add_argument("--protocols", default="strat spk loco", help="space-separated [strat spk loco]")
    ap.add_argument("--feature-sets", default="handcrafted egemaps")
    ap.add_argument("--classifiers", default="knn mlp xgboost lightgbm logreg random_forest "
                                             "naive_bayes decision_tree")
    ap.add_argument("--corpus-roots", required=True,
                    help="the data prep's corpus_roots file: names the corpus in the header")
    ap.add_argument("--demo", type=_bool, required=True,
                    help="true: the numbers are on the demo corpus (paper column not comparable)")
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
    ap.add_argument("exp_dir")
    ap.add_argument("out_md")
    a = ap.parse_args(argv)

    from emorec import report
    from emorec.fileio import atomic_write_text

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
        L.append("- metrics: WA = overall accuracy, UA = mean per-class recall (over the classes "
                 "present in the test part), in %, on each split's TEST part. Every hyper-parameter "
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
                header += [f"{fs} WA", f"{fs} UA", f"{fs} valid UA"]
            with_paper = p == a.paper_protocol
            if with_paper:
                header += ["paper WA", "paper UA"]
            rows = []
            for clf in clfs:
                row = [f"`{clf}`"]
                for fs in feats:
                    res, vua = results[p][(fs, clf)]
                    if multi:
                        row += [report._pm(res.wa_mean, res.wa_std), report._pm(res.ua_mean, res.ua_std)]
                    else:
                        row += [report._pct(res.wa_mean), report._pct(res.ua_mean)]
                    row.append(report._pct(vua))
                if with_paper:
                    ref = paper.rows.get(clf)
                    row += [f"{ref.wa:.2f}", f"{ref.ua:.2f}"] if ref else ["–", "–"]
                rows.append(row)
            L.append(report.md_table(header, rows))
            L.append("")
            if multi:
                pooled = [[f"`{clf}`"] + [f"{report._pct(results[p][(fs, clf)][0].pooled[1])} / "
                                          f"{report._pct(results[p][(fs, clf)][0].pooled[0])}" for fs in feats]
                          for clf in clfs]
                L += ["Pooled over the folds' test utterances (WA / UA):", "",
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
            key = max(results[p], key=lambda k: results[p][k][1])
            best[p] = results[p][key]
            res, vua = best[p]
            L.append(f"Best by validation UA: `{res.name}` (valid UA {report._pct(vua)}).")
            if multi:
                per_fold = [[f.fold, report._pct(f.wa), report._pct(f.ua), f.n] for f in res.folds]
                L += ["", report.md_table(["test fold", "WA", "UA", "N"], per_fold)]
            L.append("")
        if systems:
            L += table8_section(systems, best, protocols, folds_of, report.read_paper_table(a.table8),
                                a.demo, a.note)
        L += ["## Confusion matrices of the best baselines (test; rows = true class)", ""]
        for p in protocols:
            res, _ = best[p]
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{p}_{res.name}")
            png = plots / f"confusion_{safe}.png"
            report.plot_confusion(res.cm, res.classes, png,
                                  f"{p}: {res.name} (WA {report._pct(res.pooled[1])}%, "
                                  f"UA {report._pct(res.pooled[0])}%)")
            L += [f"### {p}: `{res.name}`", "", report.confusion_text(res.cm, res.classes), "",
                  f"![{p} {res.name}]({os.path.relpath(png, out_md.parent)})", ""]
        atomic_write_text(out_md, "\n".join(L).rstrip("\n") + "\n")
    except (OSError, ValueError, KeyError, yaml.YAMLError) as e:
        print(f"report_baselines: ERROR: {e}", file=sys.stderr)
        return 1
    for p in protocols:
        res, vua = best[p]
        print(f"report_baselines: {p}: best by valid UA {res.name}: test WA {100 * res.wa_mean:.2f} "
              f"UA {100 * res.ua_mean:.2f}")
    print(f"report_baselines: wrote {out_md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
