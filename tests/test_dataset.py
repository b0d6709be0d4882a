"""Chunk sampler, chunk dataset over kaldiio arks, whole-segment batching."""
import pickle
from collections import Counter

import numpy as np
import pytest
import torch

from emorec.data.dataset import (ChunkBatchSampler, ChunkDataset, FeatureReader, UttDataset,
                                 collate_chunks, collate_padded, crop_or_pad, length_buckets,
                                 load_labels, normalise, read_num_frames)
from synthetic_data import make_synthetic_datadir

torch.set_num_threads(1)


def test_sampler_chunk_sizes_offsets_and_determinism():
    nf = [30, 80, 150, 200, 260, 310, 500, 1000] * 5
    s = ChunkBatchSampler(nf, batch_size=4, chunk_sizes=[150, 200, 250, 300], seed=3)
    s.set_epoch(0)
    batches = list(s)
    assert len(batches) == len(s) == len(nf) // 4
    seen_T = set()
    for b in batches:
        Ts = {T for _, T, _, _ in b}
        assert len(Ts) == 1                                   # one T per batch
        T = Ts.pop()
        seen_T.add(T)
        assert T in (150, 200, 250, 300)
        for i, _, off, aug in b:
            assert 0 <= off <= max(nf[i] - T, 0)                # chunk fits (or padded from 0)
            assert aug == -1
    assert seen_T == {150, 200, 250, 300}
    assert sorted(i for b in batches for i, *_ in b) == list(range(len(nf)))  # each utt once
    assert list(s) == batches                                  # same epoch -> same batches
    s.set_epoch(1)
    assert list(s) != batches


def test_sampler_copies_and_sharding():
    nf = [100] * 24
    s = ChunkBatchSampler(nf, 4, [50], seed=0, copies=2, augment=True)
    items = [it for b in s for it in b]
    assert len(items) == 72
    per_utt = Counter(i for i, *_ in items)
    assert set(per_utt.values()) == {3}
    aug = Counter(i for i, _, _, a in items if a >= 0)
    assert set(aug.values()) == {2}                            # original + 2 augmented copies
    otf = ChunkBatchSampler(nf, 4, [50], seed=0, copies=0, augment=True)
    assert all(a >= 0 for b in otf for *_, a in b)
    shards = [list(ChunkBatchSampler(nf, 4, [50], seed=0, rank=r, world_size=2)) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 3
    ids = [i for sh in shards for b in sh for i, *_ in b]
    assert len(ids) == len(set(ids)) == 24


def test_crop_or_pad_repeats_short_segments():
    x = np.arange(5 * 2, dtype=np.float32).reshape(5, 2)
    y = crop_or_pad(x, 12, 0)
    assert y.shape == (12, 2)
    np.testing.assert_array_equal(y[:5], x)
    np.testing.assert_array_equal(y[5:10], x)
    np.testing.assert_array_equal(y[10:], x[:2])
    long = np.arange(40, dtype=np.float32).reshape(20, 2)
    np.testing.assert_array_equal(crop_or_pad(long, 6, 3), long[3:9])


@pytest.fixture
def datadir(tmp_path):
    d = tmp_path / "data dir"
    feats = make_synthetic_datadir(str(d), num_speakers=3, utts_per_speaker=4, min_frames=10,
                                   max_frames=90, dim=16)
    return str(d), feats


def test_chunk_dataset_reads_normalises_and_augments(datadir):
    d, feats = datadir
    reader = FeatureReader(f"{d}/feats.scp")
    utt2lab, classes = load_labels(f"{d}/utt2spk")
    keys = sorted(feats)
    nf = read_num_frames(d)
    assert nf == {k: v.shape[0] for k, v in feats.items()}
    ds = ChunkDataset(reader, keys, [utt2lab[k] for k in keys], "conservative")
    sampler = ChunkBatchSampler([nf[k] for k in keys], 4, [20, 50], seed=1, augment=False)
    for b in sampler:
        x, y = collate_chunks([ds[it] for it in b])
        T = b[0][1]
        assert x.shape == (4, T, 16) and x.dtype == torch.float32
        for (i, _, off, _), xi in zip(b, x):
            ref = crop_or_pad(normalise(feats[keys[i]]), T, off)
            np.testing.assert_allclose(xi.numpy(), ref, rtol=1e-5, atol=1e-5)
        assert [int(v) for v in y] == [utt2lab[keys[i]] for i, *_ in b]
    # augmented item: deterministic given its seed
    it = (0, 40, 0, 1234)
    a1, a2 = ds[it][0], ds[it][0]
    assert torch.equal(a1, a2) and (a1 == 0).any()
    # the reader pickles without open files (DataLoader workers)
    r2 = pickle.loads(pickle.dumps(reader))
    np.testing.assert_array_equal(r2[keys[0]], feats[keys[0]])


def test_dataloader_workers_give_identical_batches(datadir):
    d, feats = datadir
    keys = sorted(feats)
    nf = read_num_frames(d)
    ds = ChunkDataset(FeatureReader(f"{d}/feats.scp"), keys, list(range(len(keys))), "aggressive")

    def run(nw):
        s = ChunkBatchSampler([nf[k] for k in keys], 3, [16, 32], seed=5, augment=True)
        s.set_epoch(2)
        dl = torch.utils.data.DataLoader(ds, batch_sampler=s, num_workers=nw, collate_fn=collate_chunks)
        return [x for x, _ in dl]
    a, b = run(0), run(2)
    assert len(a) == len(b) == 4
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_length_buckets_and_padded_collate(datadir):
    d, feats = datadir
    keys = sorted(feats)
    nf = [feats[k].shape[0] for k in keys]
    buckets = length_buckets(nf, max_frames=200, max_batch=3)
    assert sorted(i for b in buckets for i in b) == list(range(len(keys)))
    for b in buckets:
        assert len(b) <= 3 and (len(b) == 1 or len(b) * max(nf[i] for i in b) <= 200)
    ds = UttDataset(FeatureReader(f"{d}/feats.scp"), keys)
    ks, x, lengths, y = collate_padded([ds[i] for i in buckets[-1]])
    assert x.shape[1] == int(lengths.max()) and (y == -1).all()
    for j, k in enumerate(ks):
        assert int(lengths[j]) == feats[k].shape[0]
        assert (x[j, int(lengths[j]):] == 0).all()
