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
import sys
from pathlib import Path

from emorec.train.fold_cli import add_fold_options, fold_config


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", choices=("ssl", "joint"), default="ssl")
    ap.add_argument("--config", help="YAML config (schema: emorec.train.ssl)")
    ap.add_argument("--ssl-model", help="local HuBERT/wav2vec2/WavLM dir or cached name (overrides model.encoder)")
    ap.add_argument("--text-model", help="joint: local BERT-style dir or cached name (overrides model.text_encoder)")
    ap.add_argument("--dev-set", default="dev", help="name of the dev dir in FOLD_DATA_DIR")
    add_fold_options(ap)
    a = ap.parse_args(argv)

    from emorec.train import ssl as ssl_family

    prog = f"train_ssl ({a.family})"
    schema = ssl_family.JOINT_SCHEMA if a.family == "joint" else ssl_family.SCHEMA
    if a.text_model and a.family != "joint":
        ap.error("--text-model is for --family joint")
    encoders = {"encoder": (a.ssl_model, "--ssl-model")}
    if a.family == "joint":
        encoders["text_encoder"] = (a.text_model, "--text-model")
    status, cfg = fold_config(prog, schema, a, ap, encoders)
    if cfg is None:
        return status
    fold, exp = Path(a.fold_data_dir), Path(a.exp_dir)

    from emorec.data.text import load_text_set
    from emorec.data.waveform import load_wave_set
    from emorec.fileio import read_classes
    from emorec.train import loop

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
        hist = loop.train_and_score_fold(
            cfg, family, exp, {s: sets[s].utts for s in ("dev", "test")},
            lambda model, s, device: family.logposteriors(model, sets[s], device, texts.get(s)),
            ngpu=a.ngpu, info={"fold_data_dir": str(fold)})
    except (OSError, ValueError) as e:
        print(f"{prog}: ERROR: {e}", file=sys.stderr)
        return 1
    print(f"{prog}: done in {hist['train_seconds']:.1f}s; selected epoch {hist['best_epoch']} "
          f"(dev UA {hist['best_dev_ua']:.4f}); scores in {exp}")
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
