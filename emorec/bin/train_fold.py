"""Train one model family on one fold of an emotion recipe and score its dev and test parts.

  python -m emorec.bin.train_fold --family NAME --config conf/X.yaml [family options]
      [--set section.key=value ...] FOLD_DATA_DIR EXP_DIR
  python -m emorec.bin.train_fold --family NAME --config conf/X.yaml --show-encoder|--check-encoders
  python -m emorec.bin.train_fold --family NAME --print-inputs

Families (emorec.train.families): resnet (log-mel feature chunks, transfer from a speaker
model: --init-from, --transfer), mobilenet and cnn1d (log-mel of the audio), text (BERT on
transcripts: --text-model), ssl (HuBERT / wav2vec 2.0 / WavLM: --ssl-model), joint (SSL +
BERT: --ssl-model, --text-model). `--family NAME --help` lists a family's own options.

Reads FOLD_DATA_DIR/{train,DEV_SET,test} (utt2emo and the family's inputs: --print-inputs);
trains on train through the one training loop, selects the epoch by dev UA (test is never
looked at before the selected model scores it) and writes into EXP_DIR:

  train/               the loop's checkpoints (resumed after a kill), best.pt, TensorBoard
  model/               the selected model, saved for inference by its family (family.json)
  classes.txt          class order of the score vectors
  dev.logpost.ark      natural-log posteriors, kaldiio text ark
  test.logpost.ark     idem, written last; EXP_DIR/test.logpost.ark.stamp: the restart rule
                       (emorec.stamp) redoes the fold when its data, encoders, config or options change
  train_history.json   family, selected epoch, dev UA, config

A pretrained encoder is its option, else the config's model.KEY; when neither names one,
or the one named cannot be loaded offline, the command fails naming it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _parser(family_cls=None) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m emorec.bin.train_fold", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    from emorec.train.families import FAMILIES

    ap.add_argument("--family", required=True, choices=sorted(FAMILIES))
    ap.add_argument("--config", help="YAML config (the family's schema)")
    ap.add_argument("--dev-set", default="dev", help="name of the dev dir in FOLD_DATA_DIR (egs/emo7: valid)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="config override (repeatable)")
    ap.add_argument("--classes", help="class order file; default: sorted labels of train+dev")
    ap.add_argument("--seed", type=int, help="overrides train.seed")
    ap.add_argument("--ngpu", type=int, default=1, help="0: CPU; 1: CUDA when visible")
    ap.add_argument("--num-threads", type=int, default=0, help="torch CPU threads (0: train.num_threads)")
    ap.add_argument("--show-encoder", action="store_true", help="print the selected (speech) encoder and exit")
    ap.add_argument("--check-encoders", action="store_true",
                    help="check that every encoder the config and options name loads offline (a local "
                         "dir or the Hugging Face cache), print them and exit; one that does not fails naming it")
    ap.add_argument("--print-inputs", action="store_true", help="print the files each part needs and exit")
    if family_cls is not None:
        for key, opt in family_cls.ENCODERS.items():
            ap.add_argument(opt, dest=f"enc_{key}", help=f"local dir or cached model name (overrides model.{key})")
        for opt, kw in family_cls.OPTIONS.items():
            ap.add_argument(opt, **kw)
    ap.add_argument("fold_data_dir", nargs="?")
    ap.add_argument("exp_dir", nargs="?")
    return ap


def check_encoders(prog: str, cfg: dict, config_path, encoders: dict) -> int:
    """0 when every encoder named in cfg's model section is there offline (a local
    directory or the Hugging Face cache: emorec.pretrained), else 1 after naming the first
    that is not."""
    from emorec.pretrained import Need, locate, missing_message

    for key, (given, opt) in encoders.items():
        name = cfg["model"][key]
        origin = opt if given else f"model.{key} of {config_path or 'the config'}"
        need = Need("", key.replace("_", " "), name, origin, opt)
        if locate(need) is None:
            print(f"{prog}: ERROR: {missing_message(need)}", file=sys.stderr)
            return 1
        print(f"{key} {name}")
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--family")
    known, _ = first.parse_known_args(argv)
    from emorec.train.families import FAMILIES, family_class

    fam_cls = family_class(known.family) if known.family in FAMILIES else None
    ap = _parser(fam_cls)
    a = ap.parse_args(argv)
    prog = f"train_fold ({a.family})"
    if a.print_inputs:
        print(" ".join(("utt2emo",) + tuple(fam_cls.INPUTS)))
        return 0

    from emorec.fileio import read_classes
    from emorec.stamp import Stamp, config_options, options_of
    from emorec.train.config import ConfigError, load_config

    try:
        cfg = load_config(fam_cls.SCHEMA, a.config, a.set)
    except ConfigError as e:
        print(f"{prog}: ERROR: {e}", file=sys.stderr)
        return 1
    encoders = {key: (getattr(a, f"enc_{key}"), opt) for key, opt in fam_cls.ENCODERS.items()}
    for key, (given, _) in encoders.items():
        if given:
            cfg["model"][key] = given
    if a.show_encoder:
        print(cfg["model"].get("encoder") or "")
        return 0
    if not a.check_encoders and not (a.fold_data_dir and a.exp_dir):
        ap.error("FOLD_DATA_DIR and EXP_DIR are required")
    for key, (_, opt) in encoders.items():
        if not cfg["model"][key]:
            print(f"{prog}: ERROR: no {key.replace('_', ' ')}: {a.config or 'the config'} has model.{key} "
                  f"null and no {opt} was given", file=sys.stderr)
            return 1
    if a.check_encoders:
        return check_encoders(prog, cfg, a.config, encoders)
    if a.seed is not None:
        cfg["train"]["seed"] = a.seed
    if a.num_threads > 0:
        cfg["train"]["num_threads"] = a.num_threads
    fold, exp = Path(a.fold_data_dir), Path(a.exp_dir)
    # the fold is done when trained from the same data, encoders, config and options
    # (emorec.stamp); a killed run's checkpoints are resumed for the same fingerprint only
    paths = [getattr(a, k) for k in ("init_from",) if getattr(a, k, None)]
    local_encoders = [cfg["model"][k] for k in encoders if Path(cfg["model"][k]).is_dir()]
    try:
        stamp = Stamp(exp / "test.logpost.ark", step=f"train_fold {a.family}", version=1, log=print,
                      inputs=[fold] + ([a.classes] if a.classes else []) + local_encoders + paths,
                      options={"config": config_options(cfg),
                               **options_of(a, "fold_data_dir", "exp_dir", "classes", "set", "config",
                                            "num_threads", "ngpu", "show_encoder", "check_encoders",
                                            "print_inputs", *[f"enc_{k}" for k in encoders])})
    except FileNotFoundError as e:
        print(f"{prog}: ERROR: {e}", file=sys.stderr)
        return 1
    if stamp.done():
        return 0
    stamp.begin(stale=[exp / "train"])
    if fam_cls.ENCODERS:
        from emorec.runtime import quiet_transformers

        quiet_transformers()

    from emorec.fileio import read_kv
    from emorec.train import loop

    parts = {"train": fold / "train", "dev": fold / a.dev_set, "test": fold / "test"}
    try:
        if a.classes:
            classes = read_classes(a.classes)
        else:
            classes = sorted({v.strip() for p in ("train", "dev") for v in read_kv(parts[p] / "utt2emo").values()})
        family = fam_cls.for_fold(cfg, parts, classes, a)
        print(f"{prog}: {fold}: classes {classes}")
        hist = loop.train_and_score_fold(cfg, family, exp, ngpu=a.ngpu, info={"fold_data_dir": str(fold)})
    except (OSError, ValueError) as e:
        print(f"{prog}: ERROR: {e}", file=sys.stderr)
        return 1
    print(f"{prog}: done in {hist['train_seconds']:.1f}s; selected epoch {hist['best_epoch']} "
          f"(dev UA {hist['best_dev_ua']:.4f}); scores in {exp}")
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
