"""Checkpoints: plain dicts of tensors / numbers / strings / lists, loadable with
``torch.load(path, map_location=..., weights_only=True)``.

Keys: format, epoch (completed epochs), model (state dict), model_args, classes,
config (plain dict), transfer, optimizer, scaler, sampler, rng, metrics, best.
Model-only checkpoints (final.pt, best.pt, averaged) carry no optimizer/rng.
"""
from __future__ import annotations

import glob
import os
import random
import re

import numpy as np
import torch

FORMAT = "emorec-ckpt-v1"


def atomic_save(obj, path: str):
    """torch.save to PATH.tmp, then rename (a killed job never leaves a partial file)."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path: str, map_location="cpu") -> dict:
    """The checkpoint dict; a file torch cannot read (empty, truncated, not a torch
    file, refused by weights_only) is a ValueError naming it."""
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # EOFError, RuntimeError (zip), UnpicklingError, ...
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: not a readable checkpoint (empty, truncated or corrupt?): "
                         f"{why}") from e
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise ValueError(f"{path}: not an emorec checkpoint")
    return ckpt


def cpu_state_dict(module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def get_rng_state() -> dict:
    st = np.random.get_state()
    py = random.getstate()
    out = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": {"name": st[0], "key": torch.from_numpy(st[1].astype(np.int64)),
                  "pos": int(st[2]), "has_gauss": int(st[3]), "gauss": float(st[4])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        out["cuda"] = [s for s in torch.cuda.get_rng_state_all()]
    return out


def set_rng_state(state: dict):
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n["name"], n["key"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        states = state["cuda"]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in states])


_EPOCH_RE = re.compile(r"epoch_(\d+)\.pt$")


def epoch_checkpoints(exp_dir: str) -> list:
    """[(epoch, path)] of EXP/epoch_N.pt, sorted by epoch."""
    out = []
    for p in glob.glob(os.path.join(glob.escape(exp_dir), "epoch_*.pt")):
        m = _EPOCH_RE.search(p)
        if m:
            out.append((int(m.group(1)), p))
    return sorted(out)


def prune(exp_dir: str, keep: int):
    if keep and keep > 0:
        for _, p in epoch_checkpoints(exp_dir)[:-keep]:
            os.remove(p)


def model_only(ckpt: dict) -> dict:
    keep = ("format", "epoch", "model", "model_args", "classes", "config", "transfer", "metrics")
    return {k: ckpt[k] for k in keep if k in ckpt}


def average_checkpoints(paths) -> dict:
    """Model-only checkpoint whose floating-point tensors are the mean over ``paths``
    (integer buffers such as BN's num_batches_tracked come from the last one)."""
    if not paths:
        raise ValueError("no checkpoints to average")
    acc, last = None, None
    for p in paths:
        ck = load(p)
        sd = ck["model"]
        if acc is None:
            acc = {k: v.clone().double() if v.is_floating_point() else v.clone() for k, v in sd.items()}
        else:
            if set(sd) != set(acc):
                raise ValueError(f"{p}: parameters differ from {paths[0]}")
            for k, v in sd.items():
                if v.is_floating_point():
                    acc[k] += v.double()
                else:
                    acc[k] = v.clone()
        last = ck
    n = len(paths)
    model = {k: (v / n).to(last["model"][k].dtype) if v.is_floating_point() else v for k, v in acc.items()}
    out = model_only(last)
    out["model"] = model
    out["averaged"] = [os.path.basename(p) for p in paths]
    return out
