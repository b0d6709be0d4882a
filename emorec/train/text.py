"""Model family: the BERT text classifier on transcripts (paper 000, Sec. 3.1, 4.2.2).

Config sections (besides the loop's optim/sched/train, emorec.train.config; the text
defaults are the paper's: AdamW, constant LR 2e-5, batch 32, 4 epochs):
model:  encoder (a local BERT-style directory or a model name in the local Hugging Face
        cache; null: none given, the caller must supply one), max_len, dropout
data:   batch_size, eval_batch_size

Saved for inference as a text model dir (emorec.models.text.save_text_classifier, plus
family.json); its Predictor scores transcripts ("text").
"""
from __future__ import annotations

import copy
import logging

import numpy as np

from emorec.data.text import TextBatches, TextSet, load_text_set
from emorec.fileio import class_index
from emorec.models.text import (TextClassifier, load_encoder_and_tokenizer, load_text_classifier,
                                predict_logposteriors, save_text_classifier)
from emorec.train.families import Family, dev_metrics
from emorec.train.config import LOOP_SCHEMA, number, integer, string, optional

log = logging.getLogger("emorec.train")

_LOOP = copy.deepcopy(LOOP_SCHEMA)
for _sec, _key, _value in (("optim", "name", "adamw"), ("optim", "lr", 2e-5), ("sched", "name", "linear"),
                           ("train", "epochs", 4), ("train", "grad_clip", 1.0), ("train", "amp", "none"),
                           ("train", "keep_checkpoints", 1), ("train", "log_interval", 20)):
    _LOOP[_sec][_key] = (_LOOP[_sec][_key][0], _value)

SCHEMA = {
    "model": {"encoder": (optional(string), None), "max_len": (integer, 128), "dropout": (number, 0.1)},
    "data": {"batch_size": (integer, 32), "eval_batch_size": (integer, 64)},
    **_LOOP,
}
del _sec, _key, _value


class TextFamily(Family):
    name = "text"
    SCHEMA = SCHEMA
    INPUTS = ("text",)
    ENCODERS = {"encoder": "--text-model"}

    def __init__(self, cfg: dict, train: TextSet, dev: TextSet, classes):
        if not cfg["model"]["encoder"]:
            raise ValueError("no text encoder: the config's model.encoder is null and none was given")
        if not train.utts:
            raise ValueError("empty training set")
        self.cfg, self.train, self.dev, self.classes = cfg, train, dev, list(classes)
        self.y_train = class_index(train.labels, classes, "train utt2emo")
        self.y_dev = class_index(dev.labels, classes, "dev utt2emo")
        self.tok = None

    @classmethod
    def for_fold(cls, cfg, parts, classes, opts):
        sets = {p: load_text_set(d) for p, d in parts.items()}
        for p, ts in sets.items():
            if ts.n_missing_text:
                log.warning("%s: %d utterances without transcript scored from empty text", parts[p],
                            ts.n_missing_text)
        fam = cls(cfg, sets["train"], sets["dev"], classes)
        fam.sets = sets
        return fam

    def score(self, model, part, device):
        return self.sets[part].utts, self.logposteriors(model, self.sets[part].texts, device)

    def save(self, model, ckpt, out_dir):
        save_text_classifier(model, self.tok, out_dir, self.classes, self.cfg["model"]["max_len"],
                             extra={"text_model": self.cfg["model"]["encoder"], "best_epoch": ckpt["epoch"]})

    @classmethod
    def load(cls, path, device="cpu"):
        return TextPredictor(*load_text_classifier(path, device), device)

    def build_model(self, ck):
        mcfg = self.cfg["model"]
        enc, self.tok = load_encoder_and_tokenizer(mcfg["encoder"])
        model = TextClassifier(enc, len(self.classes), dropout=mcfg["dropout"])
        return model, {"encoder": mcfg["encoder"], "num_classes": len(self.classes), "dropout": mcfg["dropout"]}

    def param_groups(self, model, ocfg):
        decay, no_decay = [], []
        for name, p in model.named_parameters():
            (no_decay if (p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name) else decay).append(p)
        return [{"params": decay, "base_lr": ocfg["lr"], "weight_decay": ocfg["weight_decay"]},
                {"params": no_decay, "base_lr": ocfg["lr"], "weight_decay": 0.0}]

    def describe(self, model):
        n = sum(p.numel() for p in model.parameters())
        return (f"text model {self.cfg['model']['encoder']}: {n} parameters; {len(self.classes)} classes, "
                f"{len(self.train.utts)} training transcripts")

    def train_batches(self, epoch, rank, world):
        return TextBatches(self.train.texts, self.y_train, self.tok, self.cfg["model"]["max_len"],
                           self.cfg["data"]["batch_size"], self.cfg["train"]["seed"], epoch, rank, world)

    def forward(self, model, enc, device):
        keep = ("input_ids", "attention_mask", "token_type_ids")
        return model(**{k: v.to(device) for k, v in enc.items() if k in keep})

    def logposteriors(self, model, texts, device):
        return predict_logposteriors(model, self.tok, texts, self.cfg["model"]["max_len"],
                                     self.cfg["data"]["eval_batch_size"], device)

    def evaluate(self, model, device):
        if not self.dev.utts:
            return None
        lp = self.logposteriors(model, self.dev.texts, device)
        return dev_metrics(lp, self.y_dev, len(self.classes))



class TextPredictor:
    inputs = ("text",)

    def __init__(self, model, tok, meta, device):
        self.model, self.tok, self.device = model, tok, device
        self.classes, self.max_len = list(meta["classes"]), int(meta.get("max_len", 128))

    def score_dir(self, data_dir, utt_list=None):
        ts = load_text_set(data_dir, require_labels=False)
        utts, texts = ts.utts, ts.texts
        if utt_list:
            from emorec.fileio import read_key_list

            want = set(read_key_list(utt_list))
            utts, texts = zip(*[(u, t) for u, t in zip(utts, texts) if u in want]) if want else ([], [])
        return list(utts), predict_logposteriors(self.model, self.tok, list(texts), self.max_len, device=self.device)

    def score_one(self, text) -> np.ndarray:
        return predict_logposteriors(self.model, self.tok, [text], self.max_len, device=self.device)[0].astype(np.float64)
