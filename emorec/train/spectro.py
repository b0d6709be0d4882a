"""Model families of paper 004's CNN systems (emorec.models.spectro): ``mobilenet``
(MobileNetV2 on log-mel spectrogram images) and ``cnn1d`` (its Table 5 1-D CNN on the
log-mel sequence), trained on a fold's audio (wav.scp) through the one loop.

Config sections (besides the loop's optim/sched/train, emorec.train.config):
model:  num_mel_bins, dropout; mobilenet: width_mult, pretrained_weights (null: random
        initialisation; "imagenet": torchvision's weights from the local torch hub cache;
        or a path to them; a named file that is not there fails naming where it looked);
        cnn1d: frames (fixed input length), width (channel scale), hidden (dense sizes)
data:   batch_size, max_batch_seconds, max_seconds (training utterances longer than this
        are cropped to a random window; 0: whole), eval_max_batch_seconds, num_workers

Saved for inference as a checkpoint family (model.pt + family.json); the Predictor
scores 16 kHz audio ("wave"), one utterance at a time (MobileNet's pooling would see the
padding of a batch).
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from emorec.data.waveform import WaveBatches, eval_batches, load_wave_set
from emorec.fileio import class_index
from emorec.models.spectro import CNN1D, MobileNetClassifier
from emorec.train.config import LOOP_SCHEMA, integer, list_of, number, optional, string
from emorec.train.families import Family, dev_metrics, load_checkpoint, save_checkpoint
from emorec.train.ssl import WavePredictor, _logits, _score_batches

_LOOP = copy.deepcopy(LOOP_SCHEMA)
for _sec, _key, _value in (("optim", "name", "adamw"), ("optim", "lr", 1e-3), ("optim", "weight_decay", 1e-4),
                           ("sched", "name", "linear"), ("train", "epochs", 10), ("train", "amp", "none"),
                           ("train", "keep_checkpoints", 1), ("train", "log_interval", 20)):
    _LOOP[_sec][_key] = (_LOOP[_sec][_key][0], _value)
del _sec, _key, _value
_DATA = {"batch_size": (integer, 16), "max_batch_seconds": (number, 0.0), "max_seconds": (number, 3.0),
         "eval_max_batch_seconds": (number, 60.0), "num_workers": (integer, 0)}


class LogMelFamily(Family):
    """What both CNN families share: waveform batches, the model computes its features."""

    INPUTS = ("wav.scp",)
    MODEL = None  # the model class; built from model_args = {**model section, num_classes}

    def __init__(self, cfg, train, dev, classes):
        if not train.utts:
            raise ValueError("empty training set")
        self.cfg, self.train, self.dev, self.classes = cfg, train, dev, list(classes)
        self.y_train = class_index(train.labels, classes, "train utt2emo")
        self.y_dev = class_index(dev.labels, classes, "dev utt2emo")

    @classmethod
    def for_fold(cls, cfg, parts, classes, opts):
        sets = {p: load_wave_set(d) for p, d in parts.items()}
        fam = cls(cfg, sets["train"], sets["dev"], classes)
        fam.sets = sets
        return fam

    @classmethod
    def build_from_args(cls, model_args):
        return cls.MODEL(**model_args)

    def build_model(self, ck):
        args = dict(ck["model_args"]) if ck is not None else {**self.cfg["model"], "num_classes": len(self.classes)}
        if ck is not None:
            args.pop("pretrained_weights", None)  # the checkpoint's weights replace them
        return self.build_from_args(args), args

    def param_groups(self, model, ocfg):
        return [{"params": [p for p in model.parameters() if p.requires_grad], "base_lr": ocfg["lr"]}]

    def train_batches(self, epoch, rank, world):
        d = self.cfg["data"]
        return WaveBatches(self.train, self.y_train, d["max_batch_seconds"], d["batch_size"], d["max_seconds"],
                           self.cfg["train"]["seed"], epoch, rank, world, d["num_workers"])

    def forward(self, model, inputs, device):
        return _logits(model, inputs, device)

    @torch.no_grad()
    def logposteriors(self, model, wset, device) -> np.ndarray:
        was_training = model.training
        model.eval()
        out = np.zeros((len(wset.utts), len(self.classes)), dtype=np.float32)
        _score_batches(out, eval_batches(wset, self.cfg["data"]["eval_max_batch_seconds"], True), None,
                       lambda inputs: _logits(model, inputs, device), device)
        model.train(was_training)
        return out

    def evaluate(self, model, device):
        if not self.dev.utts:
            return None
        return dev_metrics(self.logposteriors(model, self.dev, device), self.y_dev, len(self.classes))

    def score(self, model, part, device):
        return self.sets[part].utts, self.logposteriors(model, self.sets[part], device)

    def describe(self, model):
        n = sum(p.numel() for p in model.parameters())
        return (f"{self.name} model {self.cfg['model']}: {n} parameters; {len(self.classes)} classes, "
                f"{len(self.train.utts)} training utterances")

    def save(self, model, ckpt, out_dir):
        save_checkpoint(self.name, ckpt, out_dir)

    @classmethod
    def load(cls, path, device="cpu"):
        ck = load_checkpoint(path)
        args = {k: v for k, v in ck["model_args"].items() if k != "pretrained_weights"}
        model = cls.build_from_args(args)
        model.load_state_dict(ck["model"])
        return WavePredictor(model.to(device).eval(), None, ck["classes"], device, True, 0,
                             ck["config"]["data"]["eval_max_batch_seconds"])


_COMMON = {"num_mel_bins": (integer, 64)}


class MobileNetFamily(LogMelFamily):
    name = "mobilenet"
    MODEL = MobileNetClassifier
    SCHEMA = {"model": {**_COMMON, "width_mult": (number, 1.0), "dropout": (number, 0.2),
                        "pretrained_weights": (optional(string), None)},
              "data": dict(_DATA), **copy.deepcopy(_LOOP)}


class CNN1DFamily(LogMelFamily):
    name = "cnn1d"
    MODEL = CNN1D
    SCHEMA = {"model": {**_COMMON, "frames": (integer, 300), "width": (number, 1.0),
                        "hidden": (list_of(integer), [256, 128]), "dropout": (number, 0.6)},
              "data": dict(_DATA), **copy.deepcopy(_LOOP)}
