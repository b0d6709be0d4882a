"""The demo's stand-in for a downloaded BERT: a small BERT and its WordPiece tokenizer
built offline from the transcripts it is given (a fold's TRAINING text only), with a
short masked-LM pre-training, saved with ``save_pretrained`` as an ordinary BERT
directory that emorec.models.text loads exactly as it loads bert-base-uncased.
"""
from __future__ import annotations

import json
from typing import Dict, Iterable, Sequence

import torch

from emorec.fileio import atomic_dir
from emorec.runtime import seed_everything

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece_tokenizer(texts: Iterable[str], vocab_size: int = 2000, min_frequency: int = 1,
                              lowercase: bool = True):
    """A BERT WordPiece tokenizer for ``texts``; returns a transformers BertTokenizer.

    Deterministic by construction (the same texts give a byte-identical vocabulary):
    ``tokenizers``' WordPieceTrainer breaks frequency ties in hash-map order, so two
    builds from the same text differ. Here the text is normalised and split into words
    by BERT's own normaliser and pre-tokeniser (``tokenizers``), and the vocabulary is
    the special tokens, every character seen (alone and as a ``##`` continuation, so
    no word is ever [UNK]), then the most frequent words (count, then byte order) up to
    ``vocab_size``; WordPiece's greedy longest match does the rest.
    """
    from tokenizers import normalizers, pre_tokenizers
    from transformers import BertTokenizer

    norm = normalizers.BertNormalizer(lowercase=lowercase, strip_accents=lowercase)
    split = pre_tokenizers.BertPreTokenizer()
    counts: Dict[str, int] = {}
    for t in texts:
        for w, _ in split.pre_tokenize_str(norm.normalize_str(t)):
            counts[w] = counts.get(w, 0) + 1
    chars = sorted({c for w in counts for c in w})
    vocab = list(SPECIAL_TOKENS) + chars + [f"##{c}" for c in chars]
    seen = set(vocab)
    words = sorted((w for w, n in counts.items() if n >= min_frequency and w not in seen),
                   key=lambda w: (-counts[w], w.encode("utf-8")))
    vocab += words[:max(0, vocab_size - len(vocab))]
    return BertTokenizer(vocab={tok: i for i, tok in enumerate(vocab)}, do_lower_case=lowercase)


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
    seed_everything(seed)
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
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (tmp / "build_info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info
