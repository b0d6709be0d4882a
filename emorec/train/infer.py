"""Inference over whole segments: model loading and batched (length-bucketed) passes.

Whole utterances, no cropping.  Batches hold utterances of similar length, zero-padded;
the model masks the padding (see emorec.models.resnet), so results equal
utterance-by-utterance inference."""
from __future__ import annotations

import os

import torch

from emorec.data.dataset import (FeatureReader, UttDataset, collate_padded, length_buckets,
                                 read_num_frames)
from emorec.fileio import read_key_list, read_kv
from emorec.runtime import pick_device
from emorec.train import checkpoint
from emorec.train.families import family_class


def load_model(path: str, device="cpu"):
    """-> (model of a feature-chunk family's checkpoint, in eval mode on device, checkpoint
    dict without the weights), built by the family the checkpoint names."""
    ck = checkpoint.load(path, map_location="cpu")
    if "family" not in ck:
        raise ValueError(f"{path}: the checkpoint names no model family")
    model = family_class(ck["family"]).build_from_args(ck["model_args"])
    model.load_state_dict(ck["model"])
    model.to(device).eval()
    meta = {k: v for k, v in ck.items() if k not in ("model", "optimizer")}
    return model, meta


def load_for_scoring(path: str, device: str = "auto", num_threads: int = 0):
    """The set-up of every scoring entry point: torch threads, device, model.
    -> (model, checkpoint meta, device)."""
    if num_threads:
        torch.set_num_threads(num_threads)
    dev = pick_device(device)
    model, meta = load_model(path, dev)
    return model, meta, dev


def data_keys(data_dir: str, utt_list: str | None = None) -> list:
    """Utterances of DATA_DIR/feats.scp (optionally restricted to a list), sorted."""
    keys = list(read_kv(os.path.join(data_dir, "feats.scp")))
    if utt_list:
        want = set(read_key_list(utt_list))
        keys = [k for k in keys if k in want]
    return sorted(keys)


def iterate_batches(data_dir: str, keys=None, labels=None, max_frames: int = 20000,
                    max_batch: int = 32, num_workers: int = 0):
    """Yields (keys, feats (B,T,F), lengths, labels) over whole normalised segments."""
    reader = FeatureReader.of_dir(data_dir)
    keys = data_keys(data_dir) if keys is None else list(keys)
    nf_all = read_num_frames(data_dir, reader)
    nf = [nf_all[k] for k in keys]
    ds = UttDataset(reader, keys, labels)
    loader = torch.utils.data.DataLoader(
        ds, batch_sampler=length_buckets(nf, max_frames, max_batch), num_workers=num_workers,
        collate_fn=collate_padded)
    yield from loader


def autocast_ctx(device: torch.device, amp: str = "none"):
    if device.type == "cuda" and amp in ("bf16", "fp16"):
        return torch.autocast("cuda", dtype=torch.bfloat16 if amp == "bf16" else torch.float16)
    return torch.autocast("cpu", enabled=False)


@torch.no_grad()
def run_model(model, data_dir, what="logits", keys=None, labels=None, device="cpu",
              max_frames=20000, max_batch=32, amp="none", num_workers=0, progress=False):
    """Yields (key, output vector (cpu float32), label) for every utterance;
    what = 'logits' | 'log_posteriors' | 'embedding'."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    it = iterate_batches(data_dir, keys, labels, max_frames, max_batch, num_workers)
    if progress:
        import sys
        from tqdm import tqdm
        it = tqdm(it, desc=what, disable=not sys.stderr.isatty(), leave=False)
    try:
        for ks, x, lengths, ys in it:
            x, lengths = x.to(device), lengths.to(device)
            with autocast_ctx(device, amp):
                if what == "embedding":
                    out = model.extract(x, lengths)
                else:
                    out = model(x, lengths)
            out = out.float()
            if what == "log_posteriors":
                out = torch.log_softmax(out, dim=-1)
            out = out.cpu()
            for k, o, y in zip(ks, out, ys.tolist()):
                yield k, o, y
    finally:
        model.train(was_training)
