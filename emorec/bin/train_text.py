"""Fine-tune the BERT text emotion model on one fold (paper 000, Sec. 3.1).

  python -m emorec.bin.train_text --config conf/text.yaml [--text-model DIR_OR_NAME] \
      [--set section.key=value ...] FOLD_DATA_DIR EXP_DIR
  python -m emorec.bin.train_text --config conf/text.yaml --show-encoder

Reads FOLD_DATA_DIR/{train,dev,test}/{text,utt2emo}; trains on train through the one
training loop (emorec.train.loop; schema emorec.train.text), selects the epoch by dev UA
(test is never looked at before the selected model scores it) and writes into EXP_DIR:

  train/               the loop's checkpoints (resumed after a kill), best.pt, TensorBoard
  model/               the selected fine-tuned encoder + tokenizer (save_pretrained) + head
  classes.txt          class order of the score vectors
  dev.logpost.ark      natural-log posteriors, kaldiio text ark
  test.logpost.ark     idem, written last (its presence marks the fold as done)
  train_history.json   selected epoch, dev UA, config

The encoder is --text-model, else the config's model.encoder; when neither names one,
or the one named cannot be loaded offline, the command fails naming it.
--show-encoder prints the encoder the config and options select (empty when none).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", help="YAML config (schema: emorec.train.text)")
    ap.add_argument("--text-model", help="local BERT-style dir or cached model name (overrides model.encoder)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="config override (repeatable)")
    ap.add_argument("--classes", help="class order file; default: sorted labels of train+dev")
    ap.add_argument("--seed", type=int, help="overrides train.seed")
    ap.add_argument("--ngpu", type=int, default=1, help="0: CPU; 1: CUDA when visible")
    ap.add_argument("--num-threads", type=int, default=0, help="torch CPU threads (0: train.num_threads)")
    ap.add_argument("--show-encoder", action="store_true", help="print the selected encoder and exit")
    ap.add_argument("fold_data_dir", nargs="?")
    ap.add_argument("exp_dir", nargs="?")
    a = ap.parse_args(argv)

    from emorec.train.config import ConfigError, load_config
    from emorec.train import text as text_family

    try:
        cfg = load_config(text_family.SCHEMA, a.config, a.set)
    except ConfigError as e:
        print(f"train_text: ERROR: {e}", file=sys.stderr)
        return 1
    if a.text_model:
        cfg["model"]["encoder"] = a.text_model
    if a.show_encoder:
        print(cfg["model"]["encoder"] or "")
        return 0
    if not (a.fold_data_dir and a.exp_dir):
        ap.error("FOLD_DATA_DIR and EXP_DIR are required")
    if not cfg["model"]["encoder"]:
        print(f"train_text: ERROR: no text encoder: {a.config or 'the config'} has model.encoder null "
              f"and no --text-model was given", file=sys.stderr)
        return 1
    if a.seed is not None:
        cfg["train"]["seed"] = a.seed
    if a.num_threads > 0:
        cfg["train"]["num_threads"] = a.num_threads

    fold, exp = Path(a.fold_data_dir), Path(a.exp_dir)
    from emorec.fileio import is_done

    if is_done(exp / "test.logpost.ark"):
        print(f"train_text: {exp}/test.logpost.ark exists (written last), skipping")
        return 0

    from transformers.utils import logging as hf_logging

    from emorec import metrics
    from emorec.data.text import load_text_set
    from emorec.fileio import atomic_write_text, class_index, read_classes, write_scores
    from emorec.models.text import save_text_classifier
    from emorec.runtime import pick_device
    from emorec.train import checkpoint, loop

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        sets = {s: load_text_set(fold / s) for s in ("train", "dev", "test")}
        classes = read_classes(a.classes) if a.classes else sorted(set(sets["train"].labels) | set(sets["dev"].labels))
        for s, ts in sets.items():
            if ts.n_missing_text:
                print(f"train_text: WARNING: {fold / s}: {ts.n_missing_text} utterances without transcript "
                      f"scored from empty text", file=sys.stderr)
        family = text_family.TextFamily(cfg, sets["train"], sets["dev"], classes)
        print(f"train_text: {fold}: train {len(sets['train'].utts)} dev {len(sets['dev'].utts)} "
              f"test {len(sets['test'].utts)} utts; classes {classes}; encoder {cfg['model']['encoder']}")
        t0 = time.time()
        loop.train(cfg, family, str(exp / "train"), resume=True, ngpu=a.ngpu)
        train_s = time.time() - t0
        best = checkpoint.load(str(exp / "train" / "best.pt"))
        device = pick_device("auto" if a.ngpu > 0 else "cpu")
        model, _ = family.build_model(best)
        model.load_state_dict(best["model"])
        model.to(device).eval()
        save_text_classifier(model, family.tok, exp / "model", classes, cfg["model"]["max_len"],
                             extra={"text_model": cfg["model"]["encoder"], "best_epoch": best["epoch"]})
        lps = {s: family.logposteriors(model, sets[s].texts, device) for s in ("dev", "test")}
        dev_y = class_index(sets["dev"].labels, classes, str(fold / "dev/utt2emo"))
        hist = {"best_epoch": best["epoch"], "best_dev_ua": best["metrics"]["dev_ua"], "config": cfg,
                "classes": classes, "train_seconds": round(train_s, 2), "fold_data_dir": str(fold),
                "selected_dev_ua": metrics.unweighted_accuracy(dev_y, lps["dev"].argmax(1), len(classes))}
        atomic_write_text(exp / "train_history.json", json.dumps(hist, indent=2, default=str) + "\n")
        write_scores(exp / "dev.logpost.ark", sets["dev"].utts, lps["dev"], classes)
        write_scores(exp / "test.logpost.ark", sets["test"].utts, lps["test"], classes)
    except (OSError, ValueError) as e:
        print(f"train_text: ERROR: {e}", file=sys.stderr)
        return 1
    print(f"train_text: done in {train_s:.1f}s training; selected epoch {hist['best_epoch']} "
          f"(dev UA {hist['best_dev_ua']:.4f}); scores in {exp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
