"""BERT-style text emotion classifier (paper 000, Sec. 3.1 and 4.2.2).

A pretrained encoder (``transformers.AutoModel``) with a new, randomly initialised
linear classification head on the final hidden state of ``[CLS]`` (paper: 768 x 4
fully-connected layer + softmax). Everything is loaded with ``local_files_only=True``
from a local directory or a model already in the local Hugging Face cache: no network,
never ``trust_remote_code``. The same code loads the paper's ``bert-base-uncased`` and
the small demo encoder of emorec.train.text_encoder.

A fine-tuned model directory (``save_text_classifier``) holds::

    encoder/          the fine-tuned encoder (save_pretrained: config.json, model.safetensors)
                      and its tokenizer (tokenizer.json, tokenizer_config.json, ...)
    head.safetensors  the classification head (weight [C, H], bias [C])
    family.json       {"family": "text", "classes": [...]}: loads through emorec.train.families
    text_model.json   {"classes": [...], "max_len": N, "dropout": p, "format": 1}
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from emorec.fileio import atomic_dir

MODEL_FORMAT = 1


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
            f"with emorec.bin.make_text_encoder (steps/train_text.sh does when the config's model.encoder "
            f"is null and no --text-model is given). ({e})"
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


def save_text_classifier(model: TextClassifier, tokenizer, out_dir, classes: Sequence[str], max_len: int,
                         extra: Optional[dict] = None) -> None:
    """Save into ``out_dir`` atomically (temp dir renamed into place), with the family.json
    of the text family (emorec.train.families)."""
    from emorec.train.families import write_family_file

    from safetensors.torch import save_file

    with atomic_dir(out_dir) as tmp:
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
        write_family_file(tmp, "text", classes)


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
