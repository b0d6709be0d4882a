"""Write RESULTS.md (Kaldi/ESPnet style) and confusion-matrix PNGs for emotion systems.

Each --system NAME=DIR names a directory with foldK/test.logpost.ark (+ classes.txt);
labels come from DATA/foldK/test/utt2emo.  Without --system, every directory under
EXP_ROOT (up to 3 levels) holding fold*/test.logpost.ark is a system, named by its
path below EXP_ROOT with "/" turned into "_" (exp/fusion/w1 -> fusion_w1).  A
relative DIR is looked up as given, then below EXP_ROOT.  With --seeds "1 2", each
system is the set of runs EXP_ROOT/seed1/DIR, EXP_ROOT/seed2/DIR (DIR relative).

--corpus-roots FILE (required): the corpus_roots file of the data prep, which names the
corpus in the header (emorec.report.describe_corpus).  --paper-table FILE puts a
paper's numbers beside the systems whose name (or --paper-ref NAME=KEY) matches a
key or alias of FILE; --demo-design FILE says the corpus is the synthetic demo (FILE:
its generation plan): the paper columns are then labelled not comparable and the
design-ceiling rows are printed.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def _pairs(items, what):
    out = []
    for it in items or []:
        if "=" not in it:
            raise ValueError(f"{what} {it!r}: expected NAME=VALUE")
        k, v = it.split("=", 1)
        if not k or not v:
            raise ValueError(f"{what} {it!r}: expected NAME=VALUE")
        out.append((k, v))
    return out


def discover(exp_root: Path, max_depth: int = 3):
    from emorec.report import find_folds

    found = []

    def walk(d: Path, depth: int):
        try:
            kids = sorted(p for p in d.iterdir() if p.is_dir())
        except OSError:
            return
        if find_folds(d):
            rel = d.relative_to(exp_root)
            found.append((str(rel).replace("/", "_") if str(rel) != "." else exp_root.name, d))
            return
        if depth < max_depth:
            for k in kids:
                if k.name != "log":
                    walk(k, depth + 1)

    walk(exp_root, 0)
    return found


def _seed_dirs(exp_root: Path, seeds, d):
    if not seeds:
        return None
    if Path(d).is_absolute():
        raise ValueError(f"{d}: with --seeds a system dir must be relative to EXP_ROOT/seedS")
    return {f"seed{x}": exp_root / f"seed{x}" / d for x in seeds}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/loso", help="folds root with foldK/test/utt2emo [data/loso]")
    ap.add_argument("--corpus-roots", required=True,
                    help="the data prep's corpus_roots file: names the corpus in the header")
    ap.add_argument("--system", action="append", help="NAME=DIR (repeatable; table order)")
    ap.add_argument("--seeds", default="", help="space-separated training seeds: runs under EXP_ROOT/seedS/")
    ap.add_argument("--ablation", action="append", help="NAME=DIR for the LOSO ablation table (repeatable)")
    ap.add_argument("--random-data", help="folds root of the random 80/20 protocol (for --random-ablation)")
    ap.add_argument("--random-ablation", action="append", help="NAME=DIR on --random-data's folds (repeatable)")
    ap.add_argument("--paper-table", help="TAB-separated paper table (emorec.report.read_paper_table)")
    ap.add_argument("--paper-ref", action="append", help="NAME=PAPER_KEY (repeatable)")
    ap.add_argument("--demo-design", help="the demo corpus's generation plan: design ceiling, paper not comparable")
    ap.add_argument("--w1-inputs", action="append",
                    help="FUSION_NAME=SPEECH_DIR,TEXT_DIR: report the flatness of that system's w1 search")
    ap.add_argument("--config", action="append", help="config file to quote in RESULTS.md (repeatable)")
    ap.add_argument("--title", default="Emotion recognition results (IEMOCAP recipe)")
    ap.add_argument("--notes", default="", help="free text put under the header")
    ap.add_argument("--plots-dir", help="where PNGs go [OUT_MD's dir/plots]")
    ap.add_argument("--command", default=None, help="command line recorded in RESULTS.md")
    ap.add_argument("exp_root")
    ap.add_argument("out_md")
    a = ap.parse_args(argv)

    from emorec import report

    exp_root = Path(a.exp_root)
    seeds = a.seeds.split()

    def resolve(d):
        p = Path(d)
        if p.exists() or p.is_absolute():
            return p
        q = exp_root / d
        return q if q.exists() else p

    def evaluate(pairs, data):
        return [report.evaluate_system(n, d if seeds else resolve(d), data,
                                       _seed_dirs(exp_root, seeds, d)) for n, d in pairs]

    try:
        systems = _pairs(a.system, "--system")
        if not systems:
            root = exp_root / f"seed{seeds[0]}" if seeds else exp_root
            systems = [(n, str(d.relative_to(root)) if seeds else d) for n, d in discover(root)]
            if not systems:
                raise FileNotFoundError(f"{root}: no system (dir with fold*/test.logpost.ark) found")
        if a.random_ablation and not a.random_data:
            raise ValueError("--random-ablation needs --random-data")
        ex = report.Extras(paper_refs=dict(_pairs(a.paper_ref, "--paper-ref")), data_root=a.data,
                           random_data=a.random_data or "")
        if a.paper_table:
            ex.paper = report.read_paper_table(a.paper_table)
            bad = [k for k in ex.paper_refs.values() if k not in ex.paper.rows]
            if bad:
                raise ValueError(f"--paper-ref: keys {bad} not in {a.paper_table} (known: {sorted(ex.paper.rows)})")
        elif ex.paper_refs:
            raise ValueError("--paper-ref needs --paper-table")
        if a.demo_design:
            ex.design, ex.design_path = report.read_design(a.demo_design), a.demo_design
            ex.paper_comparable, ex.demo = False, True
        for c in a.config or ():
            if not Path(c).is_file():
                raise ValueError(f"--config {c}: no such config to quote (steps/report.sh's --quote-configs is "
                                 f"a space-separated list: a path with spaces cannot be given there)")
        res = evaluate(systems, a.data)
        abl = evaluate(_pairs(a.ablation, "--ablation"), a.data)
        ex.random_ablations = evaluate(_pairs(a.random_ablation, "--random-ablation"), a.random_data)
        by_name = {s.name: s for s in res}
        flat = []
        for name, inputs in _pairs(a.w1_inputs, "--w1-inputs"):
            if name not in by_name or "," not in inputs:
                raise ValueError(f"--w1-inputs {name}={inputs}: expected a --system name and SPEECH_DIR,TEXT_DIR")
            sp, tx = inputs.split(",", 1)
            sys_ = by_name[name]
            sp_dirs = _seed_dirs(exp_root, seeds, sp) or {"": resolve(sp)}
            tx_dirs = _seed_dirs(exp_root, seeds, tx) or {"": resolve(tx)}
            flat.append((name, report.w1_flatness(sys_, sp_dirs, tx_dirs, a.data)))
        ex.flatness = flat
        cmdline = a.command if a.command is not None else "python -m emorec.bin.report " + " ".join(
            shlex.quote(x) for x in (argv if argv is not None else sys.argv[1:]))
        pngs = report.write_results(a.out_md, res, abl, plots_dir=a.plots_dir, title=a.title, corpus=report.describe_corpus(a.corpus_roots),
                                    command=cmdline, configs=a.config or (), notes=a.notes, extras=ex)
    except (OSError, ValueError) as e:
        print(f"report: ERROR: {e}", file=sys.stderr)
        return 1
    for s in res + abl + list(ex.random_ablations):
        print(f"report: {s.name:24s} UA {100 * s.ua_mean:6.2f} ± {100 * s.ua_std:5.2f}  "
              f"WA {100 * s.wa_mean:6.2f} ± {100 * s.wa_std:5.2f}  ({len(s.folds)} seed-folds, "
              f"{s.n_missing} unscored counted as errors)")
    print(f"report: wrote {a.out_md} and {len(pngs)} PNGs")
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
