"""BERT text model for emotion recognition (paper 000, Sec. 3.1 and 4.2.2).

A pretrained BERT-style encoder (``transformers.AutoModel``) with a new, randomly
initialised linear classification head on the final hidden state of ``[CLS]``
(paper: 768 x 4 fully-connected layer + softmax), fine-tuned end to end with
cross-entropy and Adam.  Everything is loaded with ``local_files_only=True`` from a
local directory or a model already in the local Hugging Face cache: no network,
never ``trust_remote_code``.

The same code path serves the paper's ``bert-base-uncased`` and the small demo
encoder that ``build_text_encoder`` makes offline (a 2-layer BERT and a WordPiece
tokenizer trained with ``tokenizers`` on the transcripts it is given, optionally
with a short masked-LM pre-training), saved with ``save_pretrained`` as an ordinary
BERT directory.

A fine-tuned model directory (``save_text_classifier``) holds::

    encoder/          the fine-tuned encoder (save_pretrained: config.json, model.safetensors)
                      and its tokenizer (tokenizer.json, tokenizer_config.json, ...)
    head.safetensors  the classification head (weight [C, H], bias [C])
    text_model.json   {"classes": [...], "max_len": N, "dropout": p, "format": 1}
"""
from __future__ import annotations

import json
import math
import os
import random
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from emorec import metrics
from emorec.fileio import check_utf8, read_kv
from emorec.train.infer import pick_device

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MODEL_FORMAT = 1


# --------------------------------------------------------------------------- data


@dataclass
class TextSet:
    """Utterances of one data dir: ids (sorted), transcripts, labels (or None)."""

    utts: List[str]
    texts: List[str]
    labels: Optional[List[str]]
    n_missing_text: int = 0


def load_text_set(data_dir, require_labels: bool = True, max_missing_frac: float = 0.05) -> TextSet:
    """Read ``text`` and ``utt2emo`` of a Kaldi data dir.

    The utterance list is that of ``utt2emo`` when present (the labelled set scored
    by every modality), else that of ``text``.  An utterance without a transcript gets
    the empty string; more than ``max_missing_frac`` of them is an error (Kaldi's 5%
    policy).
    """
    data_dir = Path(data_dir)
    text_path = data_dir / "text"
    emo_path = data_dir / "utt2emo"
    if not text_path.is_file():
        raise FileNotFoundError(f"{text_path}: no such file")
    check_utf8(text_path)
    text = read_kv(str(text_path), allow_empty_value=True)
    if emo_path.is_file():
        emo = read_kv(str(emo_path))
        for k, v in emo.items():
            if not v or len(v.split()) != 1:
                raise ValueError(f"{emo_path}: bad label for {k!r}: {v!r}")
    elif require_labels:
        raise FileNotFoundError(f"{emo_path}: no such file")
    else:
        emo = None
    utts = sorted(emo) if emo is not None else sorted(text)
    missing = [u for u in utts if u not in text]
    if utts and len(missing) > max_missing_frac * len(utts):
        raise ValueError(
            f"{text_path}: {len(missing)} of {len(utts)} labelled utterances have no transcript "
            f"(first: {missing[0]})"
        )
    texts = [text.get(u, "") for u in utts]
    labels = [emo[u] for u in utts] if emo is not None else None
    return TextSet(utts, texts, labels, len(missing))


def labels_to_ids(labels: Sequence[str], classes: Sequence[str], where: str = "") -> np.ndarray:
    idx = {c: i for i, c in enumerate(classes)}
    bad = sorted({lab for lab in labels if lab not in idx})
    if bad:
        raise ValueError(f"{where}: labels {bad} not in classes {list(classes)}")
    return np.array([idx[lab] for lab in labels], dtype=np.int64)


# ------------------------------------------------------------------ determinism


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


# ------------------------------------------------------------ encoder loading


def load_encoder_and_tokenizer(name_or_dir: str):
    """Load an encoder (AutoModel) and its tokenizer offline.

    ``name_or_dir`` is a local directory (``save_pretrained`` layout) or a model name
    that is already in the local Hugging Face cache (``bert-base-uncased``).
    """
    from transformers import AutoModel, AutoTokenizer

    src = str(name_or_dir)
    try:
        tok = AutoTokenizer.from_pretrained(src, local_files_only=True, trust_remote_code=False)
        try:  # BERT/RoBERTa: the NSP pooler is not used by a [CLS] head, so do not build it
            enc = AutoModel.from_pretrained(src, local_files_only=True, trust_remote_code=False,
                                            add_pooling_layer=False)
        except TypeError:
            enc = AutoModel.from_pretrained(src, local_files_only=True, trust_remote_code=False)
    except OSError as e:  # not a dir and not cached
        raise OSError(
            f"cannot load text model {src!r} offline (local_files_only): it must be a local "
            f"directory written by save_pretrained or a model already in the Hugging Face cache "
            f"(HF_HOME={os.environ.get('HF_HOME', '~/.cache/huggingface')}); for the demo build one "
            f"with emorec.bin.make_text_encoder (steps/train_text.sh does when no --text-model is given). ({e})"
        ) from e
    return enc, tok


class TextClassifier(nn.Module):
    """Encoder + dropout + linear head on the ``[CLS]`` (first token) hidden state."""

    def __init__(self, encoder: nn.Module, num_classes: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        hidden = int(encoder.config.hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, num_classes)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        kw = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kw["token_type_ids"] = token_type_ids
        out = self.encoder(**kw)
        cls = out.last_hidden_state[:, 0]
        return self.head(self.dropout(cls))


def encode_batch(tokenizer, texts: Sequence[str], max_len: int, device) -> Dict[str, torch.Tensor]:
    enc = tokenizer(
        list(texts), padding=True, truncation=True, max_length=max_len, return_tensors="pt"
    )
    keep = ("input_ids", "attention_mask", "token_type_ids")
    return {k: v.to(device) for k, v in enc.items() if k in keep}


@torch.no_grad()
def predict_logposteriors(
    model: TextClassifier, tokenizer, texts: Sequence[str], max_len: int, batch_size: int = 64, device=None
) -> np.ndarray:
    """Natural-log posteriors [N, C] (float32), in input order."""
    device = device or next(model.parameters()).device
    model.eval()
    outs = []
    for i in range(0, len(texts), batch_size):
        batch = encode_batch(tokenizer, texts[i : i + batch_size], max_len, device)
        logits = model(**batch)
        outs.append(F.log_softmax(logits.float(), dim=-1).cpu())
    if not outs:
        return np.zeros((0, model.head.out_features), dtype=np.float32)
    return torch.cat(outs).numpy().astype(np.float32)


# ------------------------------------------------------------- save / reload


@contextmanager
def _atomic_dir(out_dir: Path):
    """Yield a temp dir beside ``out_dir`` that replaces it on success; removed on failure,
    so a killed save never leaves a half-written model where a rerun would trust it."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".tmp", dir=out_dir.parent))
    try:
        yield tmp
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def save_text_classifier(model: TextClassifier, tokenizer, out_dir, classes: Sequence[str], max_len: int,
                         extra: Optional[dict] = None) -> None:
    """Save into ``out_dir`` atomically (temp dir renamed into place)."""
    from safetensors.torch import save_file

    with _atomic_dir(Path(out_dir)) as tmp:
        model.encoder.save_pretrained(tmp / "encoder", safe_serialization=True)
        tokenizer.save_pretrained(tmp / "encoder")
        head = {k: v.detach().cpu().contiguous() for k, v in model.head.state_dict().items()}
        save_file(head, str(tmp / "head.safetensors"))
        meta = {
            "format": MODEL_FORMAT,
            "classes": list(classes),
            "max_len": int(max_len),
            "dropout": float(model.dropout.p),
        }
        if extra:
            meta.update(extra)
        (tmp / "text_model.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def load_text_classifier(model_dir, device="cpu") -> Tuple[TextClassifier, object, dict]:
    """Reload a model written by ``save_text_classifier`` (offline)."""
    from safetensors.torch import load_file

    model_dir = Path(model_dir)
    meta_path = model_dir / "text_model.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path}: not a fine-tuned text model directory")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    enc, tok = load_encoder_and_tokenizer(str(model_dir / "encoder"))
    model = TextClassifier(enc, len(meta["classes"]), dropout=meta.get("dropout", 0.1))
    model.head.load_state_dict(load_file(str(model_dir / "head.safetensors")))
    model.to(device).eval()
    return model, tok, meta


# ------------------------------------------------------------------- training


@dataclass
class TrainConfig:
    text_model: str = "bert-base-uncased"
    max_len: int = 128
    batch_size: int = 32
    lr: float = 2e-5
    weight_decay: float = 0.0
    epochs: int = 4
    dropout: float = 0.1
    warmup_frac: float = 0.0          # linear warm-up fraction of all steps (0 = constant lr, as the paper)
    grad_clip: float = 1.0            # 0 = off
    eval_batch_size: int = 64
    seed: int = 777
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        kw = {k: v for k, v in d.items() if k in known}
        unknown = {k: v for k, v in d.items() if k not in known}
        if unknown:
            raise ValueError(f"unknown text-model config keys: {sorted(unknown)}")
        cfg = cls(**kw)
        cfg.lr = float(cfg.lr)
        cfg.weight_decay = float(cfg.weight_decay)
        return cfg


def train_text_classifier(
    cfg: TrainConfig,
    train: TextSet,
    dev: TextSet,
    classes: Sequence[str],
    device=None,
    log=print,
):
    """Fine-tune; choose the epoch with the best dev UA (ties: earlier epoch).

    Returns ``(model, tokenizer, history)``; the model holds the selected epoch's
    weights.  Deterministic for ``cfg.seed`` on CPU.
    """
    device = device or pick_device("auto")
    set_seed(cfg.seed)
    enc, tok = load_encoder_and_tokenizer(cfg.text_model)
    model = TextClassifier(enc, len(classes), dropout=cfg.dropout).to(device)
    y_train = labels_to_ids(train.labels, classes, "train utt2emo")
    y_dev = labels_to_ids(dev.labels, classes, "dev utt2emo")
    n = len(train.utts)
    if n == 0:
        raise ValueError("empty training set")
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if (p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name) else decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
    )
    warm = int(round(cfg.warmup_frac * total))

    def lr_lambda(step):
        if warm > 0 and step < warm:
            return (step + 1) / warm
        if warm > 0:
            return max(0.0, (total - step) / max(1, total - warm))
        return 1.0

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
    gen = torch.Generator().manual_seed(cfg.seed)
    history = []
    best = None
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.time()
        model.train()
        perm = torch.randperm(n, generator=gen).tolist()
        tot_loss, tot_n = 0.0, 0
        for b in range(steps_per_epoch):
            idx = perm[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            batch = encode_batch(tok, [train.texts[i] for i in idx], cfg.max_len, device)
            target = torch.as_tensor(y_train[idx], device=device)
            logits = model(**batch)
            loss = F.cross_entropy(logits.float(), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip and cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            sched.step()
            tot_loss += loss.item() * len(idx)
            tot_n += len(idx)
        dev_lp = predict_logposteriors(model, tok, dev.texts, cfg.max_len, cfg.eval_batch_size, device)
        dev_pred = dev_lp.argmax(1)
        ua = metrics.unweighted_accuracy(y_dev, dev_pred, len(classes)) if len(y_dev) else float("nan")
        wa = metrics.weighted_accuracy(y_dev, dev_pred) if len(y_dev) else float("nan")
        rec = {"epoch": epoch, "train_loss": tot_loss / max(1, tot_n), "dev_ua": ua, "dev_wa": wa,
               "seconds": round(time.time() - t0, 2)}
        history.append(rec)
        log(f"epoch {epoch}/{cfg.epochs}: train loss {rec['train_loss']:.4f} dev UA {ua:.4f} "
            f"WA {wa:.4f} ({rec['seconds']:.1f}s)")
        if best is None or (ua > best[0]):
            best = (ua, epoch, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
    model.load_state_dict(best[2])
    model.eval()
    log(f"selected epoch {best[1]} (dev UA {best[0]:.4f})")
    return model, tok, {"epochs": history, "best_epoch": best[1], "best_dev_ua": best[0]}


# ------------------------------------------------------- demo encoder builder


def train_wordpiece_tokenizer(texts: Iterable[str], vocab_size: int = 2000, min_frequency: int = 1,
                              lowercase: bool = True):
    """Train a BERT WordPiece tokenizer on ``texts``; returns a transformers BertTokenizer."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertTokenizer

    tk = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tk.normalizer = normalizers.BertNormalizer(lowercase=lowercase, strip_accents=lowercase)
    tk.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIAL_TOKENS,
        continuing_subword_prefix="##",
    )
    tk.train_from_iterator(list(texts), trainer=trainer)
    vocab = tk.get_vocab()
    # BertTokenizer (transformers 5, tokenizers backend) rebuilds the BERT pipeline from the vocab,
    # so the saved directory is a plain BERT tokenizer (vocab.txt / tokenizer.json).
    ordered = dict(sorted(vocab.items(), key=lambda kv: kv[1]))
    return BertTokenizer(vocab=ordered, do_lower_case=lowercase)


def _mask_tokens(input_ids, attention_mask, tokenizer, prob, gen):
    labels = input_ids.clone()
    special = torch.zeros_like(input_ids, dtype=torch.bool)
    for t in (tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id):
        special |= input_ids == t
    cand = (~special) & attention_mask.bool()
    pick = (torch.rand(input_ids.shape, generator=gen) < prob) & cand
    labels[~pick] = -100
    r = torch.rand(input_ids.shape, generator=gen)
    inputs = input_ids.clone()
    inputs[pick & (r < 0.8)] = tokenizer.mask_token_id
    rnd = pick & (r >= 0.8) & (r < 0.9)
    inputs[rnd] = torch.randint(len(tokenizer), input_ids.shape, generator=gen)[rnd]
    return inputs, labels


def build_text_encoder(
    texts: Sequence[str],
    out_dir,
    vocab_size: int = 2000,
    hidden_size: int = 128,
    num_layers: int = 2,
    num_heads: int = 2,
    intermediate_size: int = 512,
    max_position: int = 128,
    mlm_epochs: int = 0,
    mlm_lr: float = 1e-3,
    mlm_batch_size: int = 32,
    mlm_prob: float = 0.15,
    seed: int = 777,
    log=print,
) -> dict:
    """Build a small BERT (+ WordPiece tokenizer) on ``texts`` and save it to ``out_dir``.

    The directory has the layout of a pretrained BERT (config.json, model.safetensors,
    tokenizer files) and loads with ``load_encoder_and_tokenizer`` like bert-base-uncased.
    """
    from transformers import BertConfig, BertForMaskedLM

    texts = [t for t in texts if t.strip()]
    if not texts:
        raise ValueError("no non-empty text to build the encoder from")
    set_seed(seed)
    tok = train_wordpiece_tokenizer(texts, vocab_size=vocab_size)
    config = BertConfig(
        vocab_size=len(tok), hidden_size=hidden_size, num_hidden_layers=num_layers,
        num_attention_heads=num_heads, intermediate_size=intermediate_size,
        max_position_embeddings=max_position, pad_token_id=tok.pad_token_id,
    )
    model = BertForMaskedLM(config)
    info = {"num_texts": len(texts), "vocab_size": len(tok), "mlm_epochs": mlm_epochs, "mlm_loss": []}
    if mlm_epochs > 0:
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.AdamW(model.parameters(), lr=mlm_lr, weight_decay=0.01)
        n = len(texts)
        for ep in range(mlm_epochs):
            model.train()
            perm = torch.randperm(n, generator=gen).tolist()
            tot, cnt = 0.0, 0
            for b in range(0, n, mlm_batch_size):
                idx = perm[b : b + mlm_batch_size]
                enc = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=max_position,
                          return_tensors="pt")
                inputs, labels = _mask_tokens(enc["input_ids"], enc["attention_mask"], tok, mlm_prob, gen)
                if not (labels != -100).any():
                    continue
                out = model(input_ids=inputs, attention_mask=enc["attention_mask"], labels=labels)
                opt.zero_grad(set_to_none=True)
                out.loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                tot += out.loss.item()
                cnt += 1
            info["mlm_loss"].append(tot / max(1, cnt))
            log(f"mlm epoch {ep + 1}/{mlm_epochs}: loss {info['mlm_loss'][-1]:.4f}")
    model.eval()
    with _atomic_dir(Path(out_dir)) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (tmp / "build_info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info
