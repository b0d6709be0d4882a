"""Transcripts of a Kaldi data dir for the text models, and their training batches."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch

from emorec.fileio import read_kv


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




class TextBatches:
    """Training batches of one epoch: a permutation drawn from (seed, epoch), so the
    batches of an epoch are the same whether or not the run was resumed; sharded over
    DDP ranks like emorec.data.dataset.ChunkBatchSampler. Items are tokenised here."""

    def __init__(self, texts, targets: np.ndarray, tokenizer, max_len: int, batch_size: int,
                 seed: int, epoch: int, rank: int = 0, world_size: int = 1):
        self.texts, self.targets, self.tok = texts, targets, tokenizer
        self.max_len, self.batch_size = max_len, batch_size
        gen = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0]))
        perm = torch.randperm(len(texts), generator=gen).tolist()
        batches = [perm[b:b + batch_size] for b in range(0, len(perm), batch_size)]
        n = len(batches) // world_size if world_size > 1 else len(batches)
        self.batches = batches[rank::world_size][:n]

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        for idx in self.batches:
            enc = self.tok([self.texts[i] for i in idx], padding=True, truncation=True,
                           max_length=self.max_len, return_tensors="pt")
            yield enc, torch.as_tensor(self.targets[idx])
