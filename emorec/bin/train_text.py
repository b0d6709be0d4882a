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
import sys
from pathlib import Path

from emorec.train.fold_cli import add_fold_options, fold_config


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", help="YAML config (schema: emorec.train.text)")
    ap.add_argument("--text-model", help="local BERT-style dir or cached model name (overrides model.encoder)")
    add_fold_options(ap)
    a = ap.parse_args(argv)

    from emorec.train import text as text_family

    status, cfg = fold_config("train_text", text_family.SCHEMA, a, ap, {"encoder": (a.text_model, "--text-model")})
    if cfg is None:
        return status
    fold, exp = Path(a.fold_data_dir), Path(a.exp_dir)

    from emorec.data.text import load_text_set
    from emorec.fileio import read_classes
    from emorec.models.text import save_text_classifier
    from emorec.train import loop

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
        hist = loop.train_and_score_fold(
            cfg, family, exp, {s: sets[s].utts for s in ("dev", "test")},
            lambda model, s, device: family.logposteriors(model, sets[s].texts, device), ngpu=a.ngpu,
            export=lambda model, best: save_text_classifier(
                model, family.tok, exp / "model", classes, cfg["model"]["max_len"],
                extra={"text_model": cfg["model"]["encoder"], "best_epoch": best["epoch"]}),
            info={"fold_data_dir": str(fold)})
    except (OSError, ValueError) as e:
        print(f"train_text: ERROR: {e}", file=sys.stderr)
        return 1
    print(f"train_text: done in {hist['train_seconds']:.1f}s; selected epoch {hist['best_epoch']} "
          f"(dev UA {hist['best_dev_ua']:.4f}); scores in {exp}")
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
