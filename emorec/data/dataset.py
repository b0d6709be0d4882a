"""Torch datasets and samplers over Kaldi feature directories (kaldiio ark/scp).

Training reads random T-frame chunks (Padi et al. 2021, Sec. 4.2): for every batch
one T is drawn from ``chunk_sizes`` ({150, 200, 250, 300} in the paper), each chunk
starts at a random offset; segments shorter than T are padded by repeating the
signal.  Features are normalised per segment (mean/variance over the whole segment)
when read, before cropping and SpecAugment.

Determinism: ALL training randomness (order, T, offsets, SpecAugment seeds) is drawn
in the main process by :class:`ChunkBatchSampler` from a generator seeded with
(seed, epoch), and travels with the item to the worker.  The batches of an epoch are
therefore the same whatever ``num_workers`` is and whether the run was resumed.

VAD (paper 003): when the data dir holds a ``vad.scp`` (per-frame 0/1 vectors of
steps/compute_vad.sh, written only when the recipe runs with ``--use-vad true``),
:meth:`FeatureReader.of_dir` returns only the voiced frames of each utterance
(:func:`select_voiced`, Kaldi's select-voiced-frames), before normalisation.

I/O: ``feats.scp`` is parsed once per process (:class:`FeatureReader` is opened lazily
in every DataLoader worker after the fork, keeping the ark files open); items are
read with a seek, the scp is never re-read per item.
"""
from __future__ import annotations

import math
import os
import random
from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from emorec.augment import get_policies, spec_augment
from emorec.features import cmvn
from emorec.fileio import class_index, read_kv


# ---------------------------------------------------------------- labels

def load_labels(path: str, classes: Sequence[str] | None = None):
    """utt -> class index, and the class list (sorted names unless ``classes`` given;
    utterances whose label is not in ``classes`` are left out)."""
    raw = read_kv(path)
    if classes is None:
        classes = sorted(set(raw.values()))
    known = set(classes)
    kept = {u: c for u, c in raw.items() if c in known}
    return dict(zip(kept, class_index(list(kept.values()), classes, path).tolist())), list(classes)


def read_num_frames(data_dir: str, reader: "FeatureReader | None" = None) -> dict:
    """utt -> frames, from utt2num_frames (or by reading the matrices when absent);
    the voiced frames when ``reader`` selects them with a VAD."""
    p = os.path.join(data_dir, "utt2num_frames")
    if os.path.exists(p):
        nf = {u: int(v) for u, v in read_kv(p).items()}
    else:
        full = FeatureReader(reader.scp if reader else os.path.join(data_dir, "feats.scp"))
        nf = {u: int(full[u].shape[0]) for u in full.keys()}
    return reader.num_voiced_frames(nf) if reader is not None and reader.vad_scp else nf


# ---------------------------------------------------------------- features

def normalise(feats: np.ndarray) -> np.ndarray:
    """Segment-level mean/variance normalisation (emorec.features.cmvn), float32, contiguous."""
    return np.ascontiguousarray(cmvn(feats), dtype=np.float32)


def select_voiced(feats: np.ndarray, vad: np.ndarray, where: str = "") -> np.ndarray:
    """The frames of ``feats`` whose VAD decision is 1.  The VAD and the features share
    the frame grid (steps/compute_vad.sh); one frame of difference (resampling) is
    tolerated, more is an error.  An utterance without any voiced frame is kept whole,
    so that every utterance is still scored."""
    vad = np.asarray(vad).reshape(-1)
    n = feats.shape[0]
    if abs(vad.size - n) > 1:
        raise ValueError(f"{where}: VAD has {vad.size} frames, the features {n}")
    voiced = np.flatnonzero(vad[:n] > 0.5)
    return feats[voiced] if voiced.size else feats


class FeatureReader:
    """Random access to ``feats.scp`` matrices (the voiced frames when ``vad_scp`` is
    given); safe across DataLoader worker forks."""

    def __init__(self, scp: str, max_cache_fd: int = 64, vad_scp: str | None = None):
        self.scp = scp
        self.vad_scp = vad_scp
        self.max_cache_fd = max_cache_fd
        self._pid = None
        self._loader = None
        self._vad = None

    @classmethod
    def of_dir(cls, data_dir: str) -> "FeatureReader":
        """The reader of a data dir: its feats.scp, through its vad.scp when there is one."""
        vad = os.path.join(data_dir, "vad.scp")
        return cls(os.path.join(data_dir, "feats.scp"), vad_scp=vad if os.path.isfile(vad) else None)

    def _get(self):
        if self._loader is None or self._pid != os.getpid():
            import kaldiio
            self._loader = kaldiio.load_scp(self.scp, max_cache_fd=self.max_cache_fd)
            self._vad = kaldiio.load_scp(self.vad_scp) if self.vad_scp else None
            self._pid = os.getpid()
        return self._loader

    def _vad_of(self, key):
        self._get()
        try:
            return self._vad[key]
        except KeyError:
            raise KeyError(f"{self.vad_scp}: no VAD for utterance {key!r} of {self.scp}") from None

    def __getitem__(self, key) -> np.ndarray:
        feats = np.asarray(self._get()[key], dtype=np.float32)
        if self.vad_scp:
            feats = select_voiced(feats, self._vad_of(key), f"{self.vad_scp}: {key}")
        return feats

    def num_voiced_frames(self, num_frames: dict) -> dict:
        """utt -> frames this reader returns, from the VAD vectors and the utterances'
        frame counts ``num_frames`` (no feature read)."""
        out = {}
        for k, n in num_frames.items():
            out[k] = int((np.asarray(self._vad_of(k)).reshape(-1)[:n] > 0.5).sum()) or n
        return out

    def keys(self):
        return list(self._get().keys())

    def __getstate__(self):  # never ship open files to workers
        return {"scp": self.scp, "vad_scp": self.vad_scp, "max_cache_fd": self.max_cache_fd, "_pid": None,
                "_loader": None, "_vad": None}


def crop_or_pad(feats: np.ndarray, T: int, offset: int) -> np.ndarray:
    """Frames [offset, offset + T); a segment shorter than T is repeated until T frames."""
    n = feats.shape[0]
    if n >= T:
        return feats[offset:offset + T]
    reps = math.ceil(T / max(n, 1))
    return np.concatenate([feats] * reps, axis=0)[:T]


# ---------------------------------------------------------------- training chunks

class ChunkBatchSampler:
    """Batches of (index, T, offset, aug_seed) items, one T per batch.

    Every utterance appears ``1 + copies`` times an epoch; with ``copies > 0`` the
    first appearance is unmodified and the others are SpecAugmented (the paper's
    scheme), with ``copies == 0`` every chunk is augmented when ``augment`` is true.
    aug_seed -1 means no augmentation.  With ``n_policies`` policies (one augmented copy
    per policy), copy c's aug_seed is congruent to c - 1 modulo ``n_policies``, and the
    dataset masks with policy ``aug_seed % n_policies``.  Sharded for DDP: rank r of w gets batches
    r, r + w, ...; all ranks get the same number of batches.
    """

    def __init__(self, num_frames: Sequence[int], batch_size: int, chunk_sizes: Sequence[int],
                 seed: int = 0, copies: int = 0, augment: bool = False,
                 rank: int = 0, world_size: int = 1, drop_last: bool = True, n_policies: int = 1):
        self.num_frames = [int(n) for n in num_frames]
        self.batch_size = int(batch_size)
        self.chunk_sizes = [int(t) for t in chunk_sizes]
        self.seed, self.copies, self.augment = int(seed), int(copies), bool(augment)
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
        self.n_policies = int(n_policies)
        self.epoch = 0

    def set_epoch(self, epoch: int):
        self.epoch = int(epoch)

    def state_dict(self) -> dict:
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict):
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])

    def _all_batches(self):
        rng = np.random.default_rng([self.seed, self.epoch, 7919])
        items = [(i, c) for c in range(1 + self.copies) for i in range(len(self.num_frames))]
        order = rng.permutation(len(items))
        nb = len(items) // self.batch_size if self.drop_last else math.ceil(len(items) / self.batch_size)
        nb = max(nb, 1) if items else 0
        batches = []
        for b in range(nb):
            sel = order[b * self.batch_size:(b + 1) * self.batch_size]
            T = int(self.chunk_sizes[rng.integers(len(self.chunk_sizes))])
            batch = []
            for k in sel:
                i, c = items[k]
                off = int(rng.integers(0, max(self.num_frames[i] - T, 0) + 1))
                s = int(rng.integers(0, 2 ** 31 - 1))
                if self.copies > 0:
                    s = s - s % self.n_policies + (c - 1) % self.n_policies
                aug = (c > 0) if self.copies > 0 else self.augment
                batch.append((int(i), T, off, s if aug else -1))
            batches.append(batch)
        return batches

    def __iter__(self) -> Iterator[list]:
        batches = self._all_batches()
        n = len(batches) // self.world_size if self.world_size > 1 else len(batches)
        mine = batches[self.rank::self.world_size][:n]
        return iter(mine)

    def __len__(self):
        items = len(self.num_frames) * (1 + self.copies)
        nb = items // self.batch_size if self.drop_last else math.ceil(items / self.batch_size)
        nb = max(nb, 1) if items else 0
        return nb // self.world_size if self.world_size > 1 else nb


class ChunkDataset(Dataset):
    """Item (index, T, offset, aug_seed) -> (T x F float32 tensor, label); the chunk is
    masked with policy ``aug_seed % len(policies)`` (see ChunkBatchSampler)."""

    def __init__(self, reader: FeatureReader, keys: Sequence[str], labels: Sequence[int],
                 augment_policy=None):
        self.reader, self.keys, self.labels = reader, list(keys), list(labels)
        self.policies = get_policies(augment_policy)

    def __len__(self):
        return len(self.keys)

    def __getitem__(self, item):
        i, T, off, aug_seed = item
        x = crop_or_pad(normalise(self.reader[self.keys[i]]), T, off)
        policy = self.policies[aug_seed % len(self.policies)] if aug_seed >= 0 else None
        if policy is not None and policy.active:
            x = spec_augment(x, policy, np.random.default_rng(aug_seed))
        return torch.from_numpy(np.ascontiguousarray(x)), int(self.labels[i])


def collate_chunks(batch):
    xs, ys = zip(*batch)
    return torch.stack(xs), torch.tensor(ys, dtype=torch.long)


def make_worker_init(seed: int, epoch: int, rank: int):
    """Seeds python/numpy/torch in each worker from (seed, epoch, rank, worker id).
    (Training randomness comes from the sampler; this keeps any other use reproducible.)"""
    def init(worker_id):
        s = int(np.random.SeedSequence([seed, epoch, rank, worker_id]).generate_state(1)[0])
        random.seed(s)
        np.random.seed(s)
        torch.manual_seed(s)
    return init


# ---------------------------------------------------------------- whole segments

class UttDataset(Dataset):
    """Whole normalised segments: index -> (key, T x F tensor, label or -1)."""

    def __init__(self, reader: FeatureReader, keys: Sequence[str], labels: Sequence[int] | None = None):
        self.reader, self.keys = reader, list(keys)
        self.labels = list(labels) if labels is not None else [-1] * len(self.keys)

    def __len__(self):
        return len(self.keys)

    def __getitem__(self, i):
        x = normalise(self.reader[self.keys[i]])
        return self.keys[i], torch.from_numpy(x), int(self.labels[i])


def length_buckets(num_frames: Sequence[int], max_frames: int = 20000, max_batch: int = 64) -> list:
    """Index batches of similar length (sorted by length), each with at most
    ``max_batch`` items and ``max_batch * longest <= max_frames`` padded frames
    (a batch holds at least one item)."""
    order = sorted(range(len(num_frames)), key=lambda i: (num_frames[i], i))
    batches, cur = [], []
    for i in order:
        longest = max([num_frames[j] for j in cur] + [num_frames[i]])
        if cur and (len(cur) + 1 > max_batch or (len(cur) + 1) * longest > max_frames):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


def collate_padded(batch):
    """-> (keys, (B, T_max, F) zero-padded features, lengths (B,), labels (B,))."""
    keys, xs, ys = zip(*batch)
    lengths = torch.tensor([x.shape[0] for x in xs], dtype=torch.long)
    out = torch.zeros(len(xs), int(lengths.max()), xs[0].shape[1])
    for i, x in enumerate(xs):
        out[i, :x.shape[0]] = x
    return list(keys), out, lengths, torch.tensor(ys, dtype=torch.long)
