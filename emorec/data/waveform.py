"""Waveforms of a Kaldi data dir for the self-supervised speech encoders, and their batches.

Audio is read from ``wav.scp`` with emorec.audio.load_audio at 16 kHz (mono, resampled
when needed) when a batch is built, never kept in memory. Utterance lengths come from
the file headers (soundfile) or, for a Kaldi pipe, from decoding it once. An utterance
whose audio cannot be read is skipped with a warning naming ``wav.scp:line``; more than
5% of them stops the job (Kaldi's policy).

Training batches (``WaveBatches``) are planned by duration: utterances of similar length
(sorted by length, lightly jittered per epoch) fill a batch while its padded size stays
within ``max_batch_seconds`` (and, when set, ``batch_size`` utterances); an utterance
longer than ``max_seconds`` is cropped to a random window. The plan is drawn from
(seed, epoch), so resuming needs only the epoch, and sharded over DDP ranks like
emorec.data.text.TextBatches. A batch is zero-padded waveforms [B, T] and their lengths.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import numpy as np
import torch

from emorec.audio import AudioError, is_pipe, load_audio
from emorec.fileio import read_kv, sort_keys

SAMPLE_RATE = 16000
log = logging.getLogger("emorec.data")


@dataclass
class WaveSet:
    """Utterances of one data dir: ids (byte order), wav.scp entries, lengths in samples at
    16 kHz, labels (or None)."""

    utts: List[str]
    wavs: List[str]
    num_samples: np.ndarray
    labels: Optional[List[str]]


def _num_samples(rx: str) -> int:
    if is_pipe(rx):
        return len(load_audio(rx, SAMPLE_RATE))
    import soundfile

    try:
        info = soundfile.info(rx)
    except Exception as e:  # noqa: BLE001 - libsndfile's errors: name the file
        raise AudioError(f"{rx!r}: cannot read the audio header: {e}") from None
    if info.frames <= 0:
        raise AudioError(f"{rx!r}: zero-length audio (no samples)")
    return int(round(info.frames * SAMPLE_RATE / info.samplerate))


def load_wave_set(data_dir, labels: bool = True, max_bad_frac: float = 0.05) -> WaveSet:
    """Read ``wav.scp`` and (labels=True) ``utt2emo`` of a Kaldi data dir: the utterances
    are those of utt2emo, each of which must be in wav.scp; labels=False: every utterance
    of wav.scp, and no label is read."""
    data_dir = Path(data_dir)
    scp_path, emo_path = data_dir / "wav.scp", data_dir / "utt2emo"
    wav = read_kv(scp_path)
    line = {u: i + 1 for i, u in enumerate(wav)}
    if labels and not emo_path.is_file():
        raise FileNotFoundError(f"{emo_path}: no such file")
    emo = read_kv(emo_path) if labels else None
    utts = sort_keys(emo if emo is not None else wav)
    no_audio = [u for u in utts if u not in wav]
    if no_audio:
        raise ValueError(f"{scp_path}: {len(no_audio)} utterances of {emo_path} are missing "
                         f"(first: {no_audio[0]})")
    kept, lengths, bad = [], [], 0
    for u in utts:
        try:
            lengths.append(_num_samples(wav[u]))
        except AudioError as e:
            bad += 1
            log.warning("%s:%d: %s: skipped: %s", scp_path, line[u], u, e)
            continue
        kept.append(u)
    if utts and bad > max_bad_frac * len(utts):
        raise ValueError(f"{scp_path}: {bad} of {len(utts)} utterances have unreadable audio "
                         f"(more than {max_bad_frac:.0%})")
    return WaveSet(kept, [wav[u] for u in kept], np.asarray(lengths, dtype=np.int64),
                   [emo[u].strip() for u in kept] if emo is not None else None)


class WaveDataset(torch.utils.data.Dataset):
    """Item (index, offset, n) -> (index, offset, waveform[offset:offset + n])."""

    def __init__(self, wavs: Sequence[str]):
        self.wavs = list(wavs)

    def __len__(self):
        return len(self.wavs)

    def __getitem__(self, item):
        i, offset, n = item
        wave = load_audio(self.wavs[i], SAMPLE_RATE)[offset:offset + n]
        return i, offset, torch.from_numpy(np.ascontiguousarray(wave))


def collate_waves(items):
    """-> (indices, offsets, zero-padded waves [B, T], lengths [B])."""
    idx = [it[0] for it in items]
    offsets = torch.tensor([it[1] for it in items], dtype=torch.long)
    lengths = torch.tensor([len(it[2]) for it in items], dtype=torch.long)
    wave = torch.zeros(len(items), int(lengths.max()))
    for b, (_, _, w) in enumerate(items):
        wave[b, :len(w)] = w
    return idx, offsets, wave, lengths


def plan_batches(lengths: Sequence[int], max_batch_samples: int, batch_size: int) -> List[List[int]]:
    """Consecutive items (in the given order) grouped while the padded batch size stays
    within max_batch_samples (0: no limit) and batch_size items (0: no limit)."""
    batches, cur, longest = [], [], 0
    for i, n in enumerate(lengths):
        grow = max(longest, int(n))
        if cur and ((max_batch_samples and grow * (len(cur) + 1) > max_batch_samples)
                    or (batch_size and len(cur) >= batch_size)):
            batches.append(cur)
            cur, grow = [], int(n)
        cur.append(i)
        longest = grow
    if cur:
        batches.append(cur)
    return batches


def _loader(wavs, items_of_batches, num_workers):
    return torch.utils.data.DataLoader(WaveDataset(wavs), batch_sampler=items_of_batches,
                                       num_workers=num_workers, collate_fn=collate_waves)


class WaveBatches:
    """Training batches of one epoch: yields (inputs, targets[idx]) with inputs
    {"wave", "lengths", "index", "offset"} plus ``extra(indices)`` when given (the joint
    model's tokenised transcripts); audio=False: {"index", "lengths"} only, no audio read."""

    def __init__(self, wset: WaveSet, targets, max_batch_seconds: float, batch_size: int, max_seconds: float,
                 seed: int, epoch: int, rank: int = 0, world_size: int = 1, num_workers: int = 0,
                 extra: Optional[Callable[[List[int]], dict]] = None, audio: bool = True):
        if not max_batch_seconds and not batch_size:
            raise ValueError("data.max_batch_seconds and data.batch_size are both 0: no batch size")
        self.wset, self.targets, self.extra, self.num_workers, self.audio = wset, targets, extra, num_workers, audio
        gen = np.random.default_rng(np.random.SeedSequence([seed, epoch]))
        n = wset.num_samples.copy()
        offsets = np.zeros_like(n)
        if max_seconds > 0:
            cap = int(max_seconds * SAMPLE_RATE)
            long_ = n > cap
            offsets[long_] = (gen.random(int(long_.sum())) * (n[long_] - cap + 1)).astype(np.int64)
            n = np.minimum(n, cap)
        order = np.argsort(n * np.exp(gen.uniform(-0.1, 0.1, len(n))), kind="stable")
        plan = plan_batches(n[order], int(max_batch_seconds * SAMPLE_RATE), batch_size)
        batches = [[(int(order[j]), int(offsets[order[j]]), int(n[order[j]])) for j in b] for b in plan]
        batches = [batches[i] for i in gen.permutation(len(batches))]
        k = len(batches) // world_size if world_size > 1 else len(batches)
        self.batches = batches[rank::world_size][:k]

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        if not self.audio:  # the caller has what it needs of each utterance (its index)
            for b in self.batches:
                idx = [i for i, _, _ in b]
                yield {"index": idx, "lengths": torch.tensor([n for _, _, n in b])}, torch.as_tensor(self.targets[idx])
            return
        for idx, offsets, wave, lengths in _loader(self.wset.wavs, self.batches, self.num_workers):
            inputs = {"wave": wave, "lengths": lengths, "index": idx, "offset": offsets}
            if self.extra is not None:
                inputs.update(self.extra(idx))
            yield inputs, torch.as_tensor(self.targets[idx])


def eval_batches(wset: WaveSet, max_batch_seconds: float, one_by_one: bool = False, num_workers: int = 0):
    """Whole utterances, similar lengths together: yields (indices, {"wave", "lengths"})."""
    order = np.argsort(wset.num_samples, kind="stable")
    plan = [[i] for i in range(len(order))] if one_by_one else \
        plan_batches(wset.num_samples[order], int(max_batch_seconds * SAMPLE_RATE), 0)
    items = [[(int(order[j]), 0, int(wset.num_samples[order[j]])) for j in b] for b in plan]
    for idx, _, wave, lengths in _loader(wset.wavs, items, num_workers):
        yield idx, {"wave": wave, "lengths": lengths}
