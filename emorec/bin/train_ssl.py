"""Fine-tune a self-supervised speech encoder (HuBERT, wav2vec 2.0, WavLM), alone or jointly
with BERT on the transcripts, on one fold (paper 004, Sec. III.D).

  python -m emorec.bin.train_ssl --family ssl|joint --config conf/ssl.yaml \
      [--ssl-model DIR_OR_NAME] [--text-model DIR_OR_NAME] [--set section.key=value ...] \
      FOLD_DATA_DIR EXP_DIR
  python -m emorec.bin.train_ssl --family ssl --config conf/ssl.yaml --show-encoder

Reads FOLD_DATA_DIR/{train,dev,test}/{wav.scp,utt2emo} (and text for --family joint;
--dev-set names the dev dir, e.g. valid for egs/emo7's splits);
trains on train through the one training loop (emorec.train.loop; schemas
emorec.train.ssl.SCHEMA / JOINT_SCHEMA), selects the epoch by dev UA (test is never
looked at before the selected model scores it) and writes into EXP_DIR:

  train/               the loop's checkpoints (resumed after a kill), best.pt (the selected
                       model), TensorBoard
  classes.txt          class order of the score vectors
  dev.logpost.ark      natural-log posteriors, kaldiio text ark
  test.logpost.ark     idem, written last (its presence marks the fold as done)
  train_history.json   selected epoch, dev UA, config

The speech encoder is --ssl-model, else the config's model.encoder; the joint model's
text encoder is --text-model, else model.text_encoder. When none is named, or the one
named cannot be loaded offline, the command fails naming it.
--show-encoder prints the speech encoder the config and options select (empty when none).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", choices=("ssl", "joint"), default="ssl")
    ap.add_argument("--config", help="YAML config (schema: emorec.train.ssl)")
    ap.add_argument("--ssl-model", help="local HuBERT/wav2vec2/WavLM dir or cached name (overrides model.encoder)")
    ap.add_argument("--text-model", help="joint: local BERT-style dir or cached name (overrides model.text_encoder)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="config override (repeatable)")
    ap.add_argument("--classes", help="class order file; default: sorted labels of train+dev")
    ap.add_argument("--dev-set", default="dev", help="name of the dev dir in FOLD_DATA_DIR")
    ap.add_argument("--seed", type=int, help="overrides train.seed")
    ap.add_argument("--ngpu", type=int, default=1, help="0: CPU; 1: CUDA when visible")
    ap.add_argument("--num-threads", type=int, default=0, help="torch CPU threads (0: train.num_threads)")
    ap.add_argument("--show-encoder", action="store_true", help="print the selected speech encoder and exit")
    ap.add_argument("fold_data_dir", nargs="?")
    ap.add_argument("exp_dir", nargs="?")
    a = ap.parse_args(argv)

    from emorec.train import ssl as ssl_family
    from emorec.train.config import ConfigError, load_config

    prog = f"train_ssl ({a.family})"
    schema = ssl_family.JOINT_SCHEMA if a.family == "joint" else ssl_family.SCHEMA
    try:
        cfg = load_config(schema, a.config, a.set)
    except ConfigError as e:
        print(f"{prog}: ERROR: {e}", file=sys.stderr)
        return 1
    if a.ssl_model:
        cfg["model"]["encoder"] = a.ssl_model
    if a.show_encoder:
        print(cfg["model"]["encoder"] or "")
        return 0
    if not (a.fold_data_dir and a.exp_dir):
        ap.error("FOLD_DATA_DIR and EXP_DIR are required")
    if a.text_model:
        if a.family != "joint":
            ap.error("--text-model is for --family joint")
        cfg["model"]["text_encoder"] = a.text_model
    for key, opt in (("encoder", "--ssl-model"), ("text_encoder", "--text-model")):
        if key in cfg["model"] and not cfg["model"][key]:
            print(f"{prog}: ERROR: {a.config or 'the config'} has model.{key} null and no {opt} was given",
                  file=sys.stderr)
            return 1
    if a.seed is not None:
        cfg["train"]["seed"] = a.seed
    if a.num_threads > 0:
        cfg["train"]["num_threads"] = a.num_threads

    fold, exp = Path(a.fold_data_dir), Path(a.exp_dir)
    from emorec.fileio import is_done

    if is_done(exp / "test.logpost.ark"):
        print(f"{prog}: {exp}/test.logpost.ark exists (written last), skipping")
        return 0

    from transformers.utils import logging as hf_logging

    from emorec import metrics
    from emorec.data.text import load_text_set
    from emorec.data.waveform import load_wave_set
    from emorec.fileio import atomic_write_text, read_classes, write_scores
    from emorec.runtime import pick_device
    from emorec.train import checkpoint, loop

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        dirs = {"train": fold / "train", "dev": fold / a.dev_set, "test": fold / "test"}
        sets = {s: load_wave_set(d) for s, d in dirs.items()}
        classes = read_classes(a.classes) if a.classes else sorted(set(sets["train"].labels) | set(sets["dev"].labels))
        texts = {}
        if a.family == "joint":
            for s, ws in sets.items():
                ts = load_text_set(dirs[s])
                if ts.n_missing_text:
                    print(f"{prog}: WARNING: {dirs[s]}: {ts.n_missing_text} utterances without transcript "
                          f"use empty text", file=sys.stderr)
                by_utt = dict(zip(ts.utts, ts.texts))
                texts[s] = [by_utt.get(u, "") for u in ws.utts]
            family = ssl_family.JointFamily(cfg, sets["train"], sets["dev"], classes, texts["train"], texts["dev"])
        else:
            family = ssl_family.SSLFamily(cfg, sets["train"], sets["dev"], classes)
        print(f"{prog}: {fold}: train {len(sets['train'].utts)} dev {len(sets['dev'].utts)} "
              f"test {len(sets['test'].utts)} utts; classes {classes}; encoder {cfg['model']['encoder']}")
        t0 = time.time()
        loop.train(cfg, family, str(exp / "train"), resume=True, ngpu=a.ngpu)
        train_s = time.time() - t0
        best = checkpoint.load(str(exp / "train" / "best.pt"))
        device = pick_device("auto" if a.ngpu > 0 else "cpu")
        model, _ = family.build_model(best)
        model.load_state_dict(best["model"])
        model.to(device).eval()
        lps = {s: family.logposteriors(model, sets[s], device, texts.get(s)) for s in ("dev", "test")}
        hist = {"best_epoch": best["epoch"], "best_dev_ua": best["metrics"]["dev_ua"], "config": cfg,
                "classes": classes, "train_seconds": round(train_s, 2), "fold_data_dir": str(fold),
                "selected_dev_ua": metrics.unweighted_accuracy(family.y_dev, lps["dev"].argmax(1), len(classes))}
        atomic_write_text(exp / "train_history.json", json.dumps(hist, indent=2, default=str) + "\n")
        write_scores(exp / "dev.logpost.ark", sets["dev"].utts, lps["dev"], classes)
        write_scores(exp / "test.logpost.ark", sets["test"].utts, lps["test"], classes)
    except (OSError, ValueError) as e:
        print(f"{prog}: ERROR: {e}", file=sys.stderr)
        return 1
    print(f"{prog}: done in {train_s:.1f}s training; selected epoch {hist['best_epoch']} "
          f"(dev UA {hist['best_dev_ua']:.4f}); scores in {exp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
