"""Training configuration: one typed schema for every model family's YAML.

A config has sections; the training loop owns ``optim``, ``sched`` and ``train``, each
model family adds its own (``model``, ``data``, and ``augment`` for the speech ResNet).
Loading is strict: an unknown section or key, or a value of the wrong type, fails with
the file (or the ``--set`` override) and the key named. Every key has a default here.

Loop sections (every family):
optim:  name sgd|adamw, lr, lr_trunk (fine-tuning LR of a transferred trunk), momentum,
        weight_decay, nesterov
sched:  name halving|linear.
        halving: LR constant for hold_epochs epochs, then halved every halve_every
        epochs (>= min_lr). linear: warm-up over warmup_steps optimiser steps (when > 0;
        else warmup_frac of all steps), then linear decay to 0 (no warm-up: constant LR).
train:  epochs, seed, amp (bf16|fp16|none; CUDA only), num_threads, keep_checkpoints
        (0 = keep all epoch checkpoints), grad_clip (0 = off), log_interval (steps between
        progress lines and TensorBoard points), accum_steps (batches whose gradients are
        summed into one optimiser step; the loss of each is divided by it), compile
        (torch.compile the training forward; null: on with CUDA for a family of fixed batch
        shapes, the ResNet, which also gets cuDNN autotuning and channels-last there)
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Dict, Optional

import yaml

from emorec.fileio import DataDirError, open_text


class ConfigError(ValueError):
    """A config value or key that the schema does not accept; names the file and key."""


# ---------------------------------------------------------------- value types

def integer(v):
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError("an integer")
    return v


def number(v):
    # PyYAML reads exponents without a dot (1e-3) as strings: accept those, nothing else.
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            pass
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError("a number")
    return float(v)


def boolean(v):
    if not isinstance(v, bool):
        raise TypeError("true or false")
    return v


def string(v):
    if not isinstance(v, str):
        raise TypeError("a string")
    return v


def one_of(*choices) -> Callable:
    def check(v):
        if v not in choices:
            raise TypeError(f"one of {', '.join(map(str, choices))}")
        return v
    return check


def list_of(item: Callable) -> Callable:
    def check(v):
        if not isinstance(v, list):
            raise TypeError("a list")
        return [item(x) for x in v]
    return check


def optional(kind: Callable) -> Callable:
    def check(v):
        return None if v is None else kind(v)
    return check


def either(*kinds: Callable) -> Callable:
    def check(v):
        for k in kinds:
            try:
                return k(v)
            except TypeError:
                pass
        raise TypeError(" or ".join(_describe(k) for k in kinds))
    return check


def _describe(kind):
    try:
        kind(object())
    except TypeError as e:
        return str(e)
    return "a value"


# A schema: {section: {key: (type, default)}}.
Schema = Dict[str, Dict[str, tuple]]

LOOP_SCHEMA: Schema = {
    "optim": {"name": (one_of("sgd", "adamw"), "sgd"), "lr": (number, 0.01),
              "lr_trunk": (number, 0.001), "momentum": (number, 0.9),
              "weight_decay": (number, 0.0), "nesterov": (boolean, False)},
    "sched": {"name": (one_of("halving", "linear"), "halving"), "hold_epochs": (integer, 8),
              "halve_every": (integer, 2), "min_lr": (number, 0.0), "warmup_frac": (number, 0.0),
              "warmup_steps": (integer, 0)},
    "train": {"epochs": (integer, 20), "seed": (integer, 777), "amp": (one_of("bf16", "fp16", "none"), "bf16"),
              "num_threads": (integer, 0), "keep_checkpoints": (integer, 0), "grad_clip": (number, 0.0),
              "log_interval": (integer, 50), "accum_steps": (integer, 1),
              "compile": (optional(boolean), None)},
}


def defaults(schema: Schema) -> dict:
    return {sec: {k: copy.deepcopy(d) for k, (_, d) in keys.items()} for sec, keys in schema.items()}


def _set(cfg: dict, schema: Schema, section: str, key: str, value: Any, where: str):
    if section not in schema:
        raise ConfigError(f"{where}: unknown section '{section}' (known: {', '.join(schema)})")
    if key not in schema[section]:
        raise ConfigError(f"{where}: unknown key '{section}.{key}' "
                          f"(known: {', '.join(schema[section])})")
    kind = schema[section][key][0]
    try:
        cfg[section][key] = kind(value)
    except TypeError as e:
        raise ConfigError(f"{where}: '{section}.{key}' must be {e}, got {value!r}") from None


def load_config(schema: Schema, path: Optional[str] = None, overrides=()) -> dict:
    """Defaults of ``schema``, updated by the YAML file, updated by ``section.key=value``
    overrides (values parsed as YAML: ``optim.lr=0.1``, ``model.blocks=[1,1,1,1]``)."""
    cfg = defaults(schema)
    if path:
        try:
            with open_text(path) as f:
                user = yaml.safe_load(f)
        except DataDirError as e:  # not UTF-8: names the line
            raise ConfigError(str(e)) from None
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"{path}: cannot read the config: {e}") from None
        user = user or {}
        if not isinstance(user, dict):
            raise ConfigError(f"{path}: expected a mapping of sections")
        for sec, keys in user.items():
            if not isinstance(keys, dict):
                raise ConfigError(f"{path}: section '{sec}' must be a mapping of keys")
            for k, v in keys.items():
                _set(cfg, schema, sec, k, v, path)
    for ov in overrides or ():
        key, sep, val = ov.partition("=")
        parts = key.strip().split(".")
        if not sep or len(parts) != 2:
            raise ConfigError(f"--set {ov}: expected section.key=value")
        try:
            value = yaml.safe_load(val)
        except yaml.YAMLError as e:
            raise ConfigError(f"--set {ov}: {e}") from None
        _set(cfg, schema, parts[0], parts[1], value, f"--set {ov}")
    return cfg


def dump_config(cfg: dict) -> str:
    return yaml.safe_dump(cfg, sort_keys=False)
