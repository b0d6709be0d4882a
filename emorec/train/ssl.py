"""Model families: a self-supervised speech encoder (HuBERT, wav2vec 2.0, WavLM) as an
emotion classifier, and the joint SSL + BERT model (paper 004, Sec. III.D), for the one
training loop (emorec.train.loop).

Config sections (besides the loop's optim/sched/train, emorec.train.config; the defaults
are paper 004's Table 7: AdamW, LR 5e-5, weight decay 0.01, 500 warm-up steps, batch 4
with 4 accumulation steps, 6 epochs):
model:  encoder (a local HubertModel / Wav2Vec2Model / WavLMModel directory or a model
        name in the local Hugging Face cache; null: the caller must supply one),
        mode head|partial|entire, pooling mean|weighted, dropout, spec_augment (true/false:
        the encoder's own time masking while it trains, transformers' apply_spec_augment;
        null: as the encoder's config says);
        joint family only: text_encoder (a BERT-style directory or cached name), max_len
data:   batch_size (utterances a batch; 0: no limit), max_batch_seconds (padded audio a
        batch; 0: no limit), max_seconds (longer training utterances are cropped to a
        random window; 0: whole), eval_max_batch_seconds (scoring batches), num_workers

Learning rates: the pretrained encoders' parameters train at optim.lr_trunk, the new
layers (classifier, layer weights) at optim.lr; biases and norms without weight decay.
The joint family's text encoder trains at optim.lr_text (null: lr_trunk): a BERT may need
another rate than the speech encoder (the demo's, built from a few hundred transcripts,
trains at 5e-4, while 5e-4 on the demo HuBERT's transformer wrecks its pooled vectors).

Head mode (SSL family, no cropping): the frozen encoder's per-layer means over valid
frames of every utterance are computed once and reused each epoch (the pooling is linear
in the layers), so 6 epochs cost one pass of the encoder; the audio is not read again.

Standardisation (both families, every mode): before the first training step the pooled
layers are standardised with the statistics of the training utterances
(emorec.models.ssl.Standardizer): in head mode those of the cached layer means of
every training utterance, otherwise of the starting encoder's on at most STANDARDIZE_UTTS
of them (evenly spaced, whole utterances); the joint model's text vectors: of those
utterances' transcripts. Saved with the model; a resumed run keeps them.
Saved for inference (``save``) as a model dir: speech_encoder/ (save_pretrained + its
feature extractor), text_encoder/ (joint: BERT + tokenizer), model.pt (the whole model's
weights, model_args, classes) and family.json; its Predictor scores 16 kHz audio ("wave";
joint: and its transcript, "text").
"""
from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from emorec.data.waveform import SAMPLE_RATE, WaveBatches, WaveSet, eval_batches, load_wave_set
from emorec.fileio import atomic_dir, class_index
from emorec.models.ssl import (MODES, POOLINGS, JointClassifier, SSLClassifier, SSLPooledEncoder,
                               load_ssl_encoder, takes_attention_mask)
from emorec.train.config import LOOP_SCHEMA, boolean, integer, number, one_of, optional, string
from emorec.train import checkpoint
from emorec.train.families import Family, dev_metrics, write_family_file
from emorec.train.infer import autocast_ctx

log = logging.getLogger("emorec.train")
_LOOP = copy.deepcopy(LOOP_SCHEMA)
for _sec, _key, _value in (("optim", "name", "adamw"), ("optim", "lr", 5e-5), ("optim", "lr_trunk", 5e-5),
                           ("optim", "weight_decay", 0.01), ("sched", "name", "linear"),
                           ("sched", "warmup_steps", 500), ("train", "epochs", 6), ("train", "accum_steps", 4),
                           ("train", "keep_checkpoints", 1), ("train", "log_interval", 20)):
    _LOOP[_sec][_key] = (_LOOP[_sec][_key][0], _value)
del _sec, _key, _value

_MODEL = {"encoder": (optional(string), None), "mode": (one_of(*MODES), "head"),
          "pooling": (one_of(*POOLINGS), "mean"), "dropout": (number, 0.1),
          "spec_augment": (optional(boolean), None)}
_DATA = {"batch_size": (integer, 4), "max_batch_seconds": (number, 0.0), "max_seconds": (number, 0.0),
         "eval_max_batch_seconds": (number, 120.0), "num_workers": (integer, 0)}

STANDARDIZE_UTTS = 256

SCHEMA = {"model": dict(_MODEL), "data": dict(_DATA), **_LOOP}
JOINT_SCHEMA = {"model": {**_MODEL, "text_encoder": (optional(string), None), "max_len": (integer, 128)},
                "data": dict(_DATA), **copy.deepcopy(_LOOP)}
JOINT_SCHEMA["optim"]["lr_text"] = (optional(number), None)


def _split_decay(named, lr, weight_decay):
    decay, no_decay = [], []
    for name, p in named:
        if p.requires_grad:
            (no_decay if (p.ndim < 2 or "norm" in name.lower()) else decay).append(p)
    return [g for g in ({"params": decay, "base_lr": lr, "weight_decay": weight_decay},
                        {"params": no_decay, "base_lr": lr, "weight_decay": 0.0}) if g["params"]]


def _speech_encoder(mcfg):
    """-> (SSLPooledEncoder, whether scoring must run one utterance at a time)."""
    enc, do_normalize = load_ssl_encoder(mcfg["encoder"])
    if mcfg.get("spec_augment") is not None:
        enc.config.apply_spec_augment = mcfg["spec_augment"]
    return SSLPooledEncoder(enc, mcfg["mode"], mcfg["pooling"], do_normalize), not takes_attention_mask(enc)


def _build(mcfg, num_classes):
    """-> (SSLClassifier or, with a model.text_encoder, JointClassifier; its tokenizer or
    None; one-by-one scoring)."""
    speech, one_by_one = _speech_encoder(mcfg)
    if not mcfg.get("text_encoder"):
        return SSLClassifier(speech, num_classes, mcfg["dropout"]), None, one_by_one
    from emorec.models.text import load_encoder_and_tokenizer

    text_enc, tok = load_encoder_and_tokenizer(mcfg["text_encoder"])
    return JointClassifier(speech, text_enc, num_classes, mcfg["dropout"]), tok, one_by_one


def _tokeniser(tok, texts, max_len):
    def tokenise(idx):
        return dict(tok([texts[i] for i in idx], padding=True, truncation=True, max_length=max_len,
                        return_tensors="pt"))
    return tokenise


def _logits(model, inputs, device):
    keep = ("input_ids", "attention_mask", "token_type_ids")
    return model(inputs["wave"].to(device), inputs["lengths"].to(device),
                 **{k: v.to(device) for k, v in inputs.items() if k in keep})


class SSLFamily(Family):
    """The SSL encoder + linear classifier on waveforms (emorec.models.ssl)."""

    name = "ssl"
    SCHEMA = SCHEMA
    INPUTS = ("wav.scp",)
    ENCODERS = {"encoder": "--ssl-model"}
    train_texts = dev_texts = None  # transcripts: the joint family's
    frozen_cache = True             # head mode: reuse the frozen encoder's outputs

    def __init__(self, cfg: dict, train: WaveSet, dev: WaveSet, classes):
        if not cfg["model"]["encoder"]:
            raise ValueError("no speech encoder: the config's model.encoder is null and none was given")
        if not train.utts:
            raise ValueError("empty training set")
        self.cfg, self.train, self.dev, self.classes = cfg, train, dev, list(classes)
        self.y_train = class_index(train.labels, classes, "train utt2emo")
        self.y_dev = class_index(dev.labels, classes, "dev utt2emo")
        self.one_by_one = False
        self._standardized = False
        self.tok = None
        self._cache = {}  # id(WaveSet) -> the frozen encoder's layer means (head mode)

    @classmethod
    def for_fold(cls, cfg, parts, classes, opts):
        from emorec.data.text import load_text_set

        sets = {p: load_wave_set(d) for p, d in parts.items()}
        texts = {}
        if "text" in cls.INPUTS:
            for p, ws in sets.items():
                ts = load_text_set(parts[p])
                if ts.n_missing_text:
                    log.warning("%s: %d utterances without transcript use empty text", parts[p], ts.n_missing_text)
                by_utt = dict(zip(ts.utts, ts.texts))
                texts[p] = [by_utt.get(u, "") for u in ws.utts]
        fam = cls(cfg, sets["train"], sets["dev"], classes, *([texts["train"], texts["dev"]] if texts else []))
        fam.sets, fam.texts = sets, texts
        return fam

    def score(self, model, part, device):
        return self.sets[part].utts, self.logposteriors(model, self.sets[part], device, self.texts.get(part))

    def build_model(self, ck):
        mcfg = self.cfg["model"]
        model, self.tok, self.one_by_one = _build(mcfg, len(self.classes))
        return model, {**mcfg, "num_classes": len(self.classes)}

    def save(self, model, ckpt, out_dir):
        from transformers import AutoFeatureExtractor

        mcfg = self.cfg["model"]
        with atomic_dir(out_dir) as tmp:
            model.speech.encoder.save_pretrained(tmp / "speech_encoder", safe_serialization=True)
            AutoFeatureExtractor.from_pretrained(mcfg["encoder"], local_files_only=True,
                                                 trust_remote_code=False).save_pretrained(tmp / "speech_encoder")
            args = {**mcfg, "encoder": "speech_encoder", "num_classes": len(self.classes)}
            if self.tok is not None:
                model.text.save_pretrained(tmp / "text_encoder", safe_serialization=True)
                self.tok.save_pretrained(tmp / "text_encoder")
                args["text_encoder"] = "text_encoder"
            checkpoint.atomic_save({"family": self.name, "model": checkpoint.cpu_state_dict(model),
                                    "model_args": args, "classes": list(self.classes), "epoch": ckpt["epoch"],
                                    "eval": {k: self.cfg["data"][k] for k in ("eval_max_batch_seconds",)}},
                                   str(tmp / "model.pt"))
            write_family_file(tmp, self.name, self.classes)

    @classmethod
    def load(cls, path, device="cpu"):
        path = Path(path)
        ck = checkpoint.load(str(path / "model.pt"))
        args = dict(ck["model_args"])
        for key in ("encoder", "text_encoder"):
            if args.get(key):
                args[key] = str(path / args[key])
        model, tok, one_by_one = _build(args, args["num_classes"])
        model.load_state_dict(ck["model"])
        return WavePredictor(model.to(device).eval(), tok, ck["classes"], device, one_by_one,
                             args.get("max_len", 128), ck["eval"]["eval_max_batch_seconds"])

    def encoder_lrs(self, ocfg) -> dict:
        """The learning rate of each pretrained encoder, by parameter-name prefix."""
        return {"speech.encoder.": ocfg["lr_trunk"]}

    def param_groups(self, model, ocfg):
        lrs, named = self.encoder_lrs(ocfg), list(model.named_parameters())
        groups = [g for prefix, lr in lrs.items()
                  for g in _split_decay([(n, p) for n, p in named if n.startswith(prefix)], lr, ocfg["weight_decay"])]
        new = [(n, p) for n, p in named if not n.startswith(tuple(lrs))]
        return groups + _split_decay(new, ocfg["lr"], ocfg["weight_decay"])

    def describe(self, model):
        n = sum(p.numel() for p in model.parameters())
        k = sum(p.numel() for p in model.parameters() if p.requires_grad)
        hours = self.train.num_samples.sum() / SAMPLE_RATE / 3600
        return (f"{self.name} model, encoder {self.cfg['model']['encoder']} ({model.speech.encoder.config.model_type}, "
                f"mode {self.cfg['model']['mode']}, pooling {self.cfg['model']['pooling']}): {n} parameters, "
                f"{k} trained; {len(self.classes)} classes, {len(self.train.utts)} training utterances ({hours:.2f} h)")

    def _extra(self, texts):
        return None

    def _frozen(self, model, wset: WaveSet, device):
        """Head mode: the frozen encoder's layer means [N, K, H] of every utterance of wset,
        computed once (batches as for scoring, so the same whatever the epoch or a resume)
        and reused every epoch; None when the encoder trains or training crops windows."""
        if not self._cached(wset):
            return None
        if id(wset) not in self._cache:
            self._cache[id(wset)] = self._layer_means(model, wset, device)
        return self._cache[id(wset)]

    def _layer_means(self, model, wset: WaveSet, device) -> torch.Tensor:
        """The encoder's layer means [N, K, H] of every utterance of wset, in eval mode
        (batches as for scoring)."""
        speech = getattr(model, "module", model).speech
        was_training = speech.training
        speech.eval()
        feats = torch.zeros(len(wset.utts), speech.num_states, speech.hidden_size)
        with torch.no_grad():
            for idx, inputs in eval_batches(wset, self.cfg["data"]["eval_max_batch_seconds"],
                                            self.one_by_one, self.cfg["data"]["num_workers"]):
                with autocast_ctx(device, self.cfg["train"]["amp"]):
                    means = speech.layer_means(inputs["wave"].to(device), inputs["lengths"].to(device))
                feats[idx] = means.float().cpu()
        speech.train(was_training)
        return feats

    def _cached(self, wset: WaveSet) -> bool:
        return (self.frozen_cache and self.cfg["model"]["mode"] == "head"
                and not (wset is self.train and self.cfg["data"]["max_seconds"] > 0))

    def train_batches(self, epoch, rank, world):
        d = self.cfg["data"]
        return WaveBatches(self.train, self.y_train, d["max_batch_seconds"], d["batch_size"], d["max_seconds"],
                           self.cfg["train"]["seed"], epoch, rank, world, d["num_workers"],
                           self._extra(self.train_texts), audio=not self._cached(self.train))

    def forward(self, model, inputs, device):
        if not self._standardized:
            self._standardize(getattr(model, "module", model), device)
        return self._logits(model, inputs, device, self.train)

    def _standardize(self, model, device):
        """Fits the standardisation of the pooled vectors on the training utterances, once per
        fresh model (a resumed one has it from its checkpoint)."""
        self._standardized = True
        if model.speech.standardize.fitted:
            return
        feats = self._frozen(model, self.train, device)
        if feats is None:
            feats = self._layer_means(model, self._sample(), device)
        model.speech.standardize.fit(feats)

    def _sample(self) -> WaveSet:
        """At most STANDARDIZE_UTTS training utterances, evenly spaced, in training-set order."""
        n = len(self.train.utts)
        idx = np.unique(np.linspace(0, n - 1, min(n, STANDARDIZE_UTTS)).round().astype(int))
        return WaveSet([self.train.utts[i] for i in idx], [self.train.wavs[i] for i in idx],
                       self.train.num_samples[idx], None)

    def _logits(self, model, inputs, device, wset):
        feats = self._frozen(model, wset, device)
        if feats is not None:
            return model(layer_means=feats[inputs["index"]].to(device))
        return model(inputs["wave"].to(device), inputs["lengths"].to(device))

    @torch.no_grad()
    def logposteriors(self, model, wset: WaveSet, device, texts=None) -> np.ndarray:
        """Natural-log posteriors [N, C] (float32) of whole utterances, in wset order."""
        was_training = model.training
        model.eval()
        out = np.zeros((len(wset.utts), len(self.classes)), dtype=np.float32)
        extra = self._extra(texts)
        if self._cached(wset):
            batches = (([*range(i, min(i + 256, len(out)))], {}) for i in range(0, len(out), 256))
        else:
            batches = eval_batches(wset, self.cfg["data"]["eval_max_batch_seconds"], self.one_by_one,
                                   self.cfg["data"]["num_workers"])
        _score_batches(out, batches, extra, lambda inputs: self._logits(model, inputs, device, wset), device,
                       self.cfg["train"]["amp"])
        model.train(was_training)
        return out

    def evaluate(self, model, device):
        if not self.dev.utts:
            return None
        lp = self.logposteriors(model, self.dev, device, self.dev_texts)
        return dev_metrics(lp, self.y_dev, len(self.classes))


class JointFamily(SSLFamily):
    """Paper 004's HuBERT + BERT model: the SSL encoder on the audio, BERT on the transcript
    (the data dir's ``text``), mean-pooled, concatenated, one linear layer, end to end."""

    name = "joint"
    SCHEMA = JOINT_SCHEMA
    INPUTS = ("wav.scp", "text")
    ENCODERS = {"encoder": "--ssl-model", "text_encoder": "--text-model"}
    frozen_cache = False  # BERT trains: every batch goes through both encoders

    def __init__(self, cfg: dict, train: WaveSet, dev: WaveSet, classes, train_texts, dev_texts):
        if not cfg["model"]["text_encoder"]:
            raise ValueError("no text encoder: the config's model.text_encoder is null and none was given")
        super().__init__(cfg, train, dev, classes)
        self.train_texts, self.dev_texts = list(train_texts), list(dev_texts)

    def describe(self, model):
        return super().describe(model) + f"; text encoder {self.cfg['model']['text_encoder']}"

    def encoder_lrs(self, ocfg) -> dict:
        return {**super().encoder_lrs(ocfg),
                "text.": ocfg["lr_text"] if ocfg["lr_text"] is not None else ocfg["lr_trunk"]}

    def _extra(self, texts):
        return None if texts is None else _tokeniser(self.tok, texts, self.cfg["model"]["max_len"])

    def _standardize(self, model, device):
        fresh = not model.text_standardize.fitted
        super()._standardize(model, device)
        if not fresh:
            return
        pos = {u: i for i, u in enumerate(self.train.utts)}
        idx = [pos[u] for u in self._sample().utts]
        tokenise = self._extra(self.train_texts)
        was_training = model.text.training
        model.text.eval()
        with torch.no_grad():
            vecs = torch.cat([model.text_vector(**{k: v.to(device) for k, v in tokenise(idx[i:i + 64]).items()})
                              .float() for i in range(0, len(idx), 64)])
        model.text.train(was_training)
        model.text_standardize.fit(vecs)

    def _logits(self, model, inputs, device, wset):
        return _logits(model, inputs, device)


def _score_batches(out, batches, extra, logits_of, device, amp="none"):
    """out[idx] = log-posteriors of each batch (idx, inputs); ``extra(idx)`` adds the
    tokenised transcripts."""
    for idx, inputs in batches:
        inputs["index"] = idx
        if extra is not None:
            inputs.update(extra(idx))
        with autocast_ctx(device, amp):
            logits = logits_of(inputs)
        out[idx] = F.log_softmax(logits.float(), dim=-1).cpu().numpy()


class WavePredictor:
    """A saved SSL or joint model: 16 kHz audio (and, joint, its transcript) -> log-posteriors."""

    def __init__(self, model, tok, classes, device, one_by_one, max_len, max_batch_seconds):
        self.model, self.tok, self.classes, self.device = model, tok, list(classes), torch.device(device)
        self.one_by_one, self.max_len, self.max_batch_seconds = one_by_one, max_len, max_batch_seconds
        self.inputs = ("wave", "text") if tok is not None else ("wave",)

    @torch.no_grad()
    def score_dir(self, data_dir, utt_list=None):
        wset = load_wave_set(data_dir, labels=False)
        if utt_list:
            from emorec.fileio import read_key_list

            want = set(read_key_list(utt_list))
            keep = [i for i, u in enumerate(wset.utts) if u in want]
            wset = WaveSet([wset.utts[i] for i in keep], [wset.wavs[i] for i in keep], wset.num_samples[keep], None)
        extra = None
        if self.tok is not None:
            from emorec.data.text import load_text_set

            ts = load_text_set(data_dir, require_labels=False)
            by_utt = dict(zip(ts.utts, ts.texts))
            extra = _tokeniser(self.tok, [by_utt.get(u, "") for u in wset.utts], self.max_len)
        out = np.zeros((len(wset.utts), len(self.classes)), dtype=np.float32)
        _score_batches(out, eval_batches(wset, self.max_batch_seconds, self.one_by_one), extra,
                       lambda inputs: _logits(self.model, inputs, self.device), self.device)
        return wset.utts, out

    @torch.no_grad()
    def score_one(self, wave, text=None) -> np.ndarray:
        inputs = {"wave": torch.as_tensor(wave, dtype=torch.float32)[None], "lengths": torch.tensor([len(wave)])}
        if self.tok is not None:
            inputs.update(_tokeniser(self.tok, [text or ""], self.max_len)([0]))
        logits = _logits(self.model, inputs, self.device).float()
        return F.log_softmax(logits, dim=-1)[0].cpu().numpy().astype(np.float64)
