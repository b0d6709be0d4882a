"""Training configuration: YAML with these sections; every key has a default here.

model:   blocks [3,4,6,3] (or resnet34|resnet18|resnet10), channels 32, emb_dim 512,
         pooling stats|avg
data:    chunk_sizes, batch_size, num_workers, classes (fixed class list; default: the
         sorted labels), eval_max_frames / eval_max_batch (whole-segment batches)
augment: policy none|conservative|aggressive (or F, W, p, n_freq, n_time), copies
optim:   lr, lr_trunk (fine-tuning LR of the transferred trunk), momentum, weight_decay, nesterov
sched:   hold_epochs, halve_every, min_lr: LR constant for hold_epochs epochs, then halved
         every halve_every epochs
train:   epochs, seed, amp (bf16|fp16|none; CUDA only), num_threads, keep_checkpoints
         (0 = keep all epoch checkpoints), grad_clip (0 = off), log_interval
"""
from __future__ import annotations

import copy

import yaml

DEFAULTS = {
    "model": {"blocks": [3, 4, 6, 3], "channels": 32, "emb_dim": 512, "pooling": "stats"},
    "data": {"chunk_sizes": [150, 200, 250, 300], "batch_size": 32, "num_workers": 4,
             "classes": None, "eval_max_frames": 20000, "eval_max_batch": 32},
    "augment": {"policy": "none", "copies": 0},
    "optim": {"lr": 0.01, "lr_trunk": 0.001, "momentum": 0.9, "weight_decay": 0.0,
              "nesterov": False},
    "sched": {"hold_epochs": 8, "halve_every": 2, "min_lr": 0.0},
    "train": {"epochs": 20, "seed": 777, "amp": "bf16", "num_threads": 0,
              "keep_checkpoints": 0, "grad_clip": 0.0, "log_interval": 50},
}


def _merge(base: dict, over: dict, where: str = "") -> dict:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if k not in out:
            raise KeyError(f"unknown config key '{where}{k}' (known: {sorted(out)})")
        if isinstance(out[k], dict) and isinstance(v, dict):
            out[k] = _merge(out[k], v, f"{where}{k}.")
        elif k in ("augment",) and not isinstance(v, dict):
            raise TypeError(f"config '{where}{k}' must be a mapping")
        else:
            out[k] = v
    return out


def load_config(path: str | None = None, overrides=()) -> dict:
    """Defaults, updated by the YAML file, updated by ``section.key=value`` overrides
    (values parsed as YAML: ``optim.lr=0.1``, ``model.blocks=[1,1,1,1]``)."""
    cfg = copy.deepcopy(DEFAULTS)
    if path:
        with open(path, encoding="utf-8") as f:
            user = yaml.safe_load(f) or {}
        # augment may carry policy-specific keys (F, W, p, ...): allow them
        aug = user.pop("augment", None)
        cfg = _merge(cfg, user)
        if aug is not None:
            cfg["augment"].update(aug)
    for ov in overrides or ():
        if "=" not in ov:
            raise ValueError(f"--set expects section.key=value, got '{ov}'")
        key, val = ov.split("=", 1)
        parts = key.strip().split(".")
        d = cfg
        for p in parts[:-1]:
            if p not in d or not isinstance(d[p], dict):
                raise KeyError(f"--set {ov}: unknown section '{p}'")
            d = d[p]
        if parts[-1] not in d and parts[0] != "augment":
            raise KeyError(f"--set {ov}: unknown key '{key}'")
        d[parts[-1]] = yaml.safe_load(val)
    return cfg


def dump_config(cfg: dict) -> str:
    return yaml.safe_dump(cfg, sort_keys=False)
