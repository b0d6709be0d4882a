"""Fine-tune the BERT text emotion model on one LOSO fold (paper 000, Sec. 3.1).

Reads FOLD_DATA_DIR/{train,dev,test}/{text,utt2emo}; trains on train, selects the
epoch by dev UA (test is never looked at before the selected model scores it) and
writes into EXP_DIR:

  model/               fine-tuned encoder + tokenizer (save_pretrained) + head (offline reload)
  classes.txt          class order of the score vectors
  dev.logpost.ark      natural-log posteriors, kaldiio text ark
  test.logpost.ark     idem, written last (its presence marks the fold as done)
  train_history.json   per-epoch train loss / dev UA / dev WA, selected epoch, config
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", help="YAML config (keys of emorec.text.TrainConfig)")
    ap.add_argument("--text-model", help="local BERT-style dir or cached model name (overrides config)")
    ap.add_argument("--classes", help="class order file; default: sorted labels of train+dev")
    ap.add_argument("--seed", type=int, help="overrides the config's seed")
    ap.add_argument("--epochs", type=int, help="overrides the config's epochs")
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    ap.add_argument("--num-threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    ap.add_argument("fold_data_dir")
    ap.add_argument("exp_dir")
    a = ap.parse_args(argv)

    import torch
    import yaml
    from transformers.utils import logging as hf_logging

    from emorec import metrics, text
    from emorec.train.infer import pick_device
    from emorec.fileio import read_classes, write_scores

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    if a.num_threads > 0:
        torch.set_num_threads(a.num_threads)
    cfg_dict = {}
    if a.config:
        with open(a.config, encoding="utf-8") as f:
            cfg_dict = yaml.safe_load(f) or {}
        if not isinstance(cfg_dict, dict):
            print(f"train_text: ERROR: {a.config}: expected a mapping", file=sys.stderr)
            return 1
    try:
        cfg = text.TrainConfig.from_dict(cfg_dict)
    except (TypeError, ValueError) as e:
        print(f"train_text: ERROR: {a.config}: {e}", file=sys.stderr)
        return 1
    if a.text_model:
        cfg.text_model = a.text_model
    if a.seed is not None:
        cfg.seed = a.seed
    if a.epochs is not None:
        cfg.epochs = a.epochs

    fold = Path(a.fold_data_dir)
    exp = Path(a.exp_dir)
    if (exp / "test.logpost.ark").is_file():
        print(f"train_text: {exp}/test.logpost.ark exists (written last), skipping")
        return 0
    exp.mkdir(parents=True, exist_ok=True)
    try:
        sets = {s: text.load_text_set(fold / s) for s in ("train", "dev", "test")}
        if a.classes:
            classes = read_classes(a.classes)
        else:
            classes = sorted(set(sets["train"].labels) | set(sets["dev"].labels))
        for s, ts in sets.items():
            if ts.n_missing_text:
                print(f"train_text: WARNING: {fold / s}: {ts.n_missing_text} utterances without transcript "
                      f"scored from empty text", file=sys.stderr)
        device = pick_device(a.device)
        print(f"train_text: {fold}: train {len(sets['train'].utts)} dev {len(sets['dev'].utts)} "
              f"test {len(sets['test'].utts)} utts; classes {classes}; model {cfg.text_model}; device {device}")
        t0 = time.time()
        model, tok, hist = text.train_text_classifier(cfg, sets["train"], sets["dev"], classes, device=device)
        train_s = time.time() - t0
        text.save_text_classifier(model, tok, exp / "model", classes, cfg.max_len,
                                  extra={"text_model": cfg.text_model, "best_epoch": hist["best_epoch"]})
        lps = {}
        for s in ("dev", "test"):
            lps[s] = text.predict_logposteriors(model, tok, sets[s].texts, cfg.max_len, cfg.eval_batch_size, device)
        dev_y = text.labels_to_ids(sets["dev"].labels, classes, str(fold / "dev/utt2emo"))
        hist.update({"config": cfg.__dict__, "classes": classes, "train_seconds": round(train_s, 2),
                     "fold_data_dir": str(fold), "device": str(device),
                     "selected_dev_ua": metrics.unweighted_accuracy(dev_y, lps["dev"].argmax(1), len(classes))})
        tmp = exp / "train_history.json.tmp"
        tmp.write_text(json.dumps(hist, indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, exp / "train_history.json")
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
