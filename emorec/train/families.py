"""Model families, the unit of emorec's models, and their one registry by name.

A *model family* is one class (``FAMILIES`` names them) that owns everything about one
kind of model; nothing else in emorec knows a model's kind. The protocol:

Training (the loop, emorec.train.loop.train):
  name, SCHEMA                     registry name (stored in every checkpoint and model
                                   dir) and config schema (emorec.train.config)
  classes                          the class list (index order of the targets)
  build_model(ckpt) -> (model, model_args)
  param_groups(model, optim) -> [{"params", "base_lr", ...}]
  train_batches(epoch, rank, world) -> iterable of (inputs, targets) with len(),
                                   deterministic for (seed, epoch)
  forward(model, inputs, device) -> logits
  loss(logits, targets) -> scalar  (Family: cross-entropy, targets of -100 ignored)
  evaluate(model, device) -> {"loss", "acc", "ua", "n"} on the dev part, or None
  describe(model) -> str, extra_state() -> dict

One fold of an emotion recipe (emorec.bin.train_fold, emorec.train.loop.train_and_score_fold):
  INPUTS                           the files each part of a fold needs (besides utt2emo)
  ENCODERS                         {model.KEY: option}: pretrained encoders a config names
  OPTIONS                          {option: help}: the family's own options of train_fold
  for_fold(cfg, parts, classes, opts) -> family   parts: {"train", "dev", "test"} dirs
  score(model, part, device) -> (utts, log-posteriors [N, C])
  save(model, ckpt, out_dir)       the selected model for inference (a model dir)

Inference (score_posteriors, emorec.inference, emorec.package, emorec-serve):
  load(path, device) -> Predictor  a model dir (``family.json``) or a checkpoint file
                                   (its "family" key), as ``load`` below dispatches

A Predictor has ``classes``, ``inputs`` (what one recording needs: "feats", the raw
log-mel filterbanks of emorec.features; "wave", 16 kHz audio; "text", its transcript),
``score_dir(data_dir) -> (utts, log-posteriors)`` and ``score_one(**inputs) -> [C]``.
Adding a family: a model, a family class (here in FAMILIES), a config, a test.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import torch.nn.functional as F

FAMILIES = {
    "resnet": "emorec.train.speech:ResNetFamily",
    "mobilenet": "emorec.train.spectro:MobileNetFamily",
    "cnn1d": "emorec.train.spectro:CNN1DFamily",
    "text": "emorec.train.text:TextFamily",
    "ssl": "emorec.train.ssl:SSLFamily",
    "joint": "emorec.train.ssl:JointFamily",
    "hubert_pretrain": "emorec.train.ssl_pretrain:HubertPretrainFamily",
}
FAMILY_FILE = "family.json"  # in every model dir a family saves: {"family", "classes", ...}


def family_class(name: str):
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r} (known: {', '.join(FAMILIES)})")
    module, cls = FAMILIES[name].split(":")
    return getattr(importlib.import_module(module), cls)


def family_of(path) -> str:
    """The family name stored in a model dir (family.json) or a checkpoint file."""
    path = Path(path)
    if path.is_dir():
        f = path / FAMILY_FILE
        try:
            return json.loads(f.read_text(encoding="utf-8"))["family"]
        except FileNotFoundError:
            raise FileNotFoundError(f"{f}: no such file ({path} is not a model dir a family saved)") from None
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{f}: no family name: {e}") from None
    from emorec.train import checkpoint

    ck = checkpoint.load(str(path))
    if "family" not in ck:
        raise ValueError(f"{path}: the checkpoint names no model family")
    return ck["family"]


def load(path, device="cpu"):
    """The Predictor of a saved model, through its family."""
    return family_class(family_of(path)).load(str(path), device)


def write_family_file(out_dir, name: str, classes, **extra) -> None:
    (Path(out_dir) / FAMILY_FILE).write_text(
        json.dumps({"family": name, "classes": list(classes), **extra}, indent=2) + "\n", encoding="utf-8")


def save_checkpoint(name: str, ckpt: dict, out_dir) -> None:
    """The model dir of a checkpoint family: model.pt (the model-only checkpoint) + family.json."""
    from emorec.fileio import atomic_dir
    from emorec.train import checkpoint

    with atomic_dir(out_dir) as tmp:
        checkpoint.atomic_save({**checkpoint.model_only(ckpt), "family": name}, str(tmp / "model.pt"))
        write_family_file(tmp, name, ckpt["classes"])


def load_checkpoint(path) -> dict:
    """The checkpoint of a model dir save_checkpoint wrote, or a checkpoint file."""
    from emorec.train import checkpoint

    path = Path(path)
    return checkpoint.load(str(path / "model.pt" if path.is_dir() else path))


def dev_metrics(lp, y, num_classes: int) -> dict:
    """{"loss", "acc", "ua", "n"} of log-posteriors lp [N, C] against class indices y."""
    import torch

    from emorec import metrics

    pred = lp.argmax(1)
    return {"loss": float(F.nll_loss(torch.from_numpy(lp), torch.from_numpy(y))),
            "acc": metrics.weighted_accuracy(y, pred), "ua": metrics.unweighted_accuracy(y, pred, num_classes),
            "n": len(pred)}


class Family:
    """Defaults of the protocol."""

    ENCODERS: dict = {}
    OPTIONS: dict = {}

    def loss(self, logits, targets):
        return F.cross_entropy(logits.float(), targets)  # targets of -100 (ignore_index) count nowhere

    def extra_state(self) -> dict:
        return {}
