"""Train the classical baselines of paper 004 on one split and score its valid and test parts.

Usage: python -m emorec.bin.train_baselines [options] SPLITS_ROOT SPLIT EXP_DIR
   or: python -m emorec.bin.train_baselines --split-list FILE [options] SPLITS_ROOT N EXP_DIR
       (SPLIT is the N-th line of FILE: one job array runs every split)

Reads SPLITS_ROOT/SPLIT/{TRAIN,valid,test} (Kaldi data dirs with utt2emo; TRAIN is
--train-name, e.g. the class-balanced augmented copy of train) and the utterance vectors
named by --vectors and --split-vectors (kaldiio scp files, e.g. DATA/all/handcrafted.scp
and SPLIT/augmented/handcrafted.scp; an utterance in two of them is an error; a TRAIN whose
utt2orig maps every utterance to itself holds no augmented copies: SPLIT/train is trained on
and no --split-vectors are read); for each classifier
of --classifiers, selects its hyper-parameters on valid (emorec.baselines) and writes
  EXP_DIR/CLF/SPLIT/valid.logpost.ark, test.logpost.ark, classes.txt  (score format of
      emorec.fusion: natural-log posteriors, text ark)
  EXP_DIR/CLF/SPLIT/selected.yaml  (chosen parameters, validation UA/WA of every grid
      point; written last: with --skip-done a classifier whose selected.yaml.stamp holds
      the same digest of the loaded vectors and labels, classifier config and seed is
      not trained again: emorec.stamp)
so that SPLIT = loco/crema_d gives EXP_DIR/CLF/loco/crema_d, the fold layout of
emorec.report.

Missing vectors: an utterance of a part without a vector is named and left out; the
run fails when more than 5% of a part's utterances have none (Kaldi's rule).
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from emorec.fileio import open_text

MAX_MISSING_FRAC = 0.05


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m emorec.bin.train_baselines",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--config", required=True, help="YAML: per classifier {params, grid}")
    p.add_argument("--vectors", required=True, action="append",
                   help="kaldiio scp of utterance vectors (repeatable)")
    p.add_argument("--split-vectors", action="append", default=[],
                   help="scp path relative to SPLITS_ROOT/SPLIT, read too (repeatable), e.g. "
                        "augmented/handcrafted.scp: the vectors of that split's augmented copies")
    p.add_argument("--classifiers", default=None,
                   help="space-separated classifier names [every one in --config]")
    p.add_argument("--classes", default=None,
                   help="space-separated class list, the posterior order "
                        "[the sorted labels of train, valid and test]")
    p.add_argument("--train-name", default="train", help="training part of SPLIT [train]")
    p.add_argument("--valid-name", default="valid", help="validation part of SPLIT [valid]")
    p.add_argument("--seed", type=int, default=777)
    p.add_argument("--skip-done", action="store_true")
    p.add_argument("--split-list", help="file of split names; SPLIT is then a 1-based line number")
    p.add_argument("splits_root")
    p.add_argument("split")
    p.add_argument("exp_dir")
    return p


def load_vectors(scps: Sequence[str]) -> Dict[str, object]:
    import kaldiio

    table: Dict[str, object] = {}
    source: Dict[str, str] = {}
    for scp in scps:
        if not Path(scp).is_file():
            raise FileNotFoundError(f"{scp}: no such vector scp")
        part = kaldiio.load_scp(str(scp))
        both = [u for u in part if u in table]
        if both:
            raise ValueError(f"{scp}: utterance {both[0]!r} also has a vector in {source[both[0]]}")
        table.update(part)
        source.update(dict.fromkeys(part, str(scp)))
    return table


def holds_no_copies(train_dir: Path) -> bool:
    """True for a training part with a utt2orig (emorec.bin.augment_balance) that maps every
    utterance to itself: a class-balanced set that needed no augmented copy."""
    from emorec.fileio import read_kv

    orig = train_dir / "utt2orig"
    return orig.is_file() and all(k == v for k, v in read_kv(orig).items())


def load_part(data_dir: Path, vectors, classes: Sequence[str], log) -> Tuple[List[str], np.ndarray, np.ndarray]:
    """(utts, X [N, D] float64, y [N]) of a data dir; utterances without a vector are named
    and dropped (error above 5%)."""
    from emorec.fileio import read_labels

    lab_path = data_dir / "utt2emo"
    if not lab_path.is_file():
        raise FileNotFoundError(f"{lab_path}: no such label file")
    with open_text(lab_path) as f:
        utts = [line.split()[0] for line in f if line.strip()]
    missing = [u for u in utts if u not in vectors]
    if missing:
        log(f"WARNING: {len(missing)} of {len(utts)} utterances of {data_dir} have no vector: "
            + " ".join(missing[:20]) + (" ..." if len(missing) > 20 else ""))
        if len(missing) > MAX_MISSING_FRAC * len(utts):
            raise ValueError(f"{data_dir}: {len(missing)} of {len(utts)} utterances have no vector "
                             f"(more than {MAX_MISSING_FRAC:.0%})")
        utts = [u for u in utts if u in vectors]
    if not utts:
        raise ValueError(f"{data_dir}: no utterance")
    x = np.stack([np.asarray(vectors[u], dtype=np.float64).reshape(-1) for u in utts])
    return utts, x, read_labels(lab_path, utts, classes)


def main(argv=None) -> int:
    import yaml

    from emorec.baselines import CLASSIFIERS, select_on_valid, log_posteriors
    from emorec.fileio import write_scores
    from emorec.stamp import Stamp

    from threadpoolctl import threadpool_limits

    args = get_parser().parse_args(argv)
    me = "train_baselines"
    # BLAS/OpenMP: one thread for the whole run (parallelism comes from the job array)
    threadpool_limits(1)  # kept in force: the limits hold until the process ends

    def log(msg):
        print(f"{me}: {msg}", file=sys.stderr, flush=True)

    if args.split_list:
        with open_text(args.split_list) as f:
            splits = [line.strip() for line in f if line.strip()]
        if not args.split.isdigit() or not 1 <= int(args.split) <= len(splits):
            log(f"ERROR: {args.split_list} has {len(splits)} splits; no line {args.split!r}")
            return 1
        args.split = splits[int(args.split) - 1]

    split_dir = Path(args.splits_root) / args.split
    parts = {"train": split_dir / args.train_name, "valid": split_dir / args.valid_name, "test": split_dir / "test"}
    split_vectors = [split_dir / v for v in args.split_vectors]
    try:
        if holds_no_copies(parts["train"]):
            log(f"{parts['train']} holds no augmented copies (utt2orig maps every utterance to itself): "
                f"training on {split_dir / 'train'}; no split vectors read")
            parts["train"], split_vectors = split_dir / "train", []
        with open_text(args.config) as f:
            config = yaml.safe_load(f) or {}
        names = args.classifiers.split() if args.classifiers else list(config)
        unknown = [n for n in names if n not in CLASSIFIERS]
        if unknown:
            raise ValueError(f"unknown classifiers {unknown} (known: {', '.join(CLASSIFIERS)})")
        absent = [n for n in names if n not in config]
        if absent:
            raise ValueError(f"{args.config}: no entry for classifiers {absent}")
        if args.classes:
            classes = args.classes.split()
        else:
            labels = set()
            for d in parts.values():
                with open_text(d / "utt2emo") as f:
                    labels.update(line.split()[1] for line in f if line.strip())
            classes = sorted(labels)
        vectors = load_vectors(args.vectors + split_vectors)
        data = {k: load_part(d, vectors, classes, log) for k, d in parts.items()}
    except (OSError, ValueError, yaml.YAMLError) as e:
        log(f"ERROR: {e}")
        return 1
    (_, x_tr, y_tr), (u_va, x_va, y_va), (u_te, x_te, y_te) = data["train"], data["valid"], data["test"]
    dims = {x.shape[1] for x in (x_tr, x_va, x_te)}
    if len(dims) != 1:
        log(f"ERROR: vectors of different dimensions {sorted(dims)} in {' '.join(args.vectors)}")
        return 1
    log(f"{args.split}: train {len(y_tr)} ({parts['train'].name}), valid {len(y_va)}, test {len(y_te)} "
        f"utterances, {x_tr.shape[1]}-dim vectors, classes {' '.join(classes)}")

    h = hashlib.sha256()
    for x, y in ((x_tr, y_tr), (x_va, y_va), (x_te, y_te)):
        h.update(x.tobytes())
        h.update(y.tobytes())
    h.update(" ".join(classes).encode())
    h.update(str(args.seed).encode())
    inputs_digest = h.hexdigest()

    C = len(classes)
    for name in names:
        out = Path(args.exp_dir) / name / args.split
        spec = config[name] or {}
        done = out / "selected.yaml"
        stamp = Stamp(done, step=f"train_baselines {name}", version=1, log=log,
                      options={"inputs_digest": inputs_digest, "classifier": spec})
        if args.skip_done and stamp.done():
            continue
        stamp.begin()
        t0 = time.time()
        try:
            sel = select_on_valid(name, spec, x_tr, y_tr, x_va, y_va, C, args.seed)
        except ValueError as e:
            log(f"ERROR: {name}: {e}")
            return 1
        write_scores(out / "valid.logpost.ark", u_va, log_posteriors(sel.model, sel.present, x_va, C), classes)
        write_scores(out / "test.logpost.ark", u_te, log_posteriors(sel.model, sel.present, x_te, C), classes)
        record = {"classifier": name, "split": args.split, "train": str(parts["train"]),
                  "params": {k: list(v) if isinstance(v, tuple) else v for k, v in sel.params.items()},
                  "valid_ua": round(sel.valid_ua, 6), "valid_wa": round(sel.valid_wa, 6),
                  "grid_valid_ua": [round(u, 6) for u in sel.grid_ua], "seed": args.seed}
        tmp = done.with_name(done.name + ".tmp")
        tmp.write_text(yaml.safe_dump(record, sort_keys=False), encoding="utf-8")
        tmp.replace(done)
        log(f"{name}: chose {record['params']} on valid (UA {100 * sel.valid_ua:.2f}, "
            f"WA {100 * sel.valid_wa:.2f}; {len(sel.grid_ua)} grid points) in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
