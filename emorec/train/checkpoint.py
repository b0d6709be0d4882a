"""Checkpoints: plain dicts of tensors / numbers / strings / lists, loadable with
``torch.load(path, map_location=..., weights_only=True)``.

Keys: format, epoch (completed epochs), model (state dict), model_args, classes,
config (plain dict), optimizer, scaler, rng, metrics, best, and the model family's
extra state (e.g. transfer).
Model-only checkpoints (final.pt, best.pt, averaged) carry no optimizer/rng.
"""
from __future__ import annotations

import glob
import os
import random
import re
import shutil

import numpy as np
import torch

from emorec.fileio import atomic_write

FORMAT = "emorec-ckpt-v1"


def atomic_save(obj, path: str):
    """torch.save to PATH.tmp, synced, then renamed; a failed save (a full disk) removes
    PATH.tmp and says which file could not be written."""
    try:
        with atomic_write(path, "wb", fsync=True) as f:
            torch.save(obj, f)
    except (OSError, RuntimeError) as e:
        # torch's writer reports a full disk as a RuntimeError ("unexpected pos ..."):
        # the free space says what happened
        why = e.strerror if isinstance(e, OSError) and e.strerror else "the write failed"
        try:
            free = f"; {shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free / 2**20:.1f} MiB free there"
        except OSError:
            free = ""
        raise OSError(f"{path}: cannot write the checkpoint ({why}{free})") from None


def load(path: str, map_location="cpu") -> dict:
    """A checkpoint written by atomic_save; a missing, truncated or foreign file is a
    ValueError naming it."""
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - zip/unpickling errors of a bad file: name it
        why = str(e).strip().splitlines()[0] if str(e).strip() else ""  # torch's can run to 10 lines
        raise ValueError(f"{path}: not a readable checkpoint ({type(e).__name__}: {why})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise ValueError(f"{path}: not an emorec checkpoint")
    return ckpt


def latest_intact(exp_dir: str, log=None) -> dict | None:
    """The newest EXP/epoch_N.pt that loads (with its path under "path"); a truncated
    or corrupt newer one is named in the log and skipped. None when there is none."""
    for _, path in reversed(epoch_checkpoints(exp_dir)):
        try:
            ck = load(path)
        except ValueError as e:
            if log is not None:
                log.warning("skipping %s", e)
            continue
        ck["path"] = path
        return ck
    return None


def plain(obj):
    """Plain python (dict/list/str/int/float/bool/None) copy of a config."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


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
    keep = ("format", "epoch", "model", "model_args", "classes", "config", "transfer", "family", "metrics")
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
