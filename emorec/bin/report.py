"""Write RESULTS.md (Kaldi/ESPnet style) and confusion-matrix PNGs for emotion systems.

Each --system NAME=DIR names a directory with foldK/test.logpost.ark (+ classes.txt);
labels come from DATA/foldK/test/utt2emo.  Without --system, every directory under
EXP_ROOT (up to 3 levels) holding fold*/test.logpost.ark is a system, named by its
path below EXP_ROOT with "/" turned into "_" (exp/fusion/w1 -> fusion_w1).  A
relative DIR is looked up as given, then below EXP_ROOT.  Systems whose name (or
--paper-ref NAME=KEY) matches a paper-000 Table 2 entry get its UA/WA beside ours
(keys: speech_finetune, speech_probe, text, fusion_w1, fusion_equal).
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/loso", help="folds root with foldK/test/utt2emo [data/loso]")
    ap.add_argument("--system", action="append", help="NAME=DIR (repeatable; table order)")
    ap.add_argument("--ablation", action="append", help="NAME=DIR for the ablation table (repeatable)")
    ap.add_argument("--paper-ref", action="append", help="NAME=PAPER_KEY (repeatable)")
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

    def resolve(d):
        p = Path(d)
        if p.exists() or p.is_absolute():
            return p
        q = exp_root / d
        return q if q.exists() else p

    try:
        systems = [(n, resolve(d)) for n, d in _pairs(a.system, "--system")]
        if not systems:
            systems = discover(exp_root)
            if not systems:
                raise FileNotFoundError(f"{exp_root}: no system (dir with fold*/test.logpost.ark) found")
        ablations = [(n, resolve(d)) for n, d in _pairs(a.ablation, "--ablation")]
        refs = dict(_pairs(a.paper_ref, "--paper-ref"))
        bad = [k for k in refs.values() if k not in report.PAPER_TABLE2]
        if bad:
            raise ValueError(f"--paper-ref: unknown keys {bad} (known: {sorted(report.PAPER_TABLE2)})")
        res = [report.evaluate_system(n, d, a.data) for n, d in systems]
        abl = [report.evaluate_system(n, d, a.data) for n, d in ablations]
        cmdline = a.command if a.command is not None else "python -m emorec.bin.report " + " ".join(
            shlex.quote(x) for x in (argv if argv is not None else sys.argv[1:]))
        pngs = report.write_results(a.out_md, res, abl, plots_dir=a.plots_dir, title=a.title, command=cmdline,
                                    configs=a.config or (), notes=a.notes, paper_refs=refs)
    except (OSError, ValueError) as e:
        print(f"report: ERROR: {e}", file=sys.stderr)
        return 1
    for s in res + abl:
        print(f"report: {s.name:24s} UA {100 * s.ua_mean:6.2f} ± {100 * s.ua_std:5.2f}  "
              f"WA {100 * s.wa_mean:6.2f} ± {100 * s.wa_std:5.2f}  ({len(s.folds)} folds)")
    print(f"report: wrote {a.out_md} and {len(pngs)} PNGs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
