"""SpecAugment time/frequency masking (Park et al. 2019) with the policies of
Padi et al. (ICMI 2021, Table 1).

For an input of T frames x nu mel channels, each of ``n_freq`` frequency masks covers
channels [f0, f0 + f) with f ~ U{0..F} and f0 ~ U{0..nu - f}; each of ``n_time`` time
masks covers frames [t0, t0 + t) with t ~ U{0..min(W, floor(p * T))} and
t0 ~ U{0..T - t}.  The bound p * T keeps enough speech in short segments.

Masked cells are set to ``value`` = 0.  Masking runs after segment-level mean/variance
normalisation, so 0 is the segment mean of every channel (the masked cells carry no
information and do not shift the statistics).

Two ways to use it in training (``augment`` section of the training YAML):
``copies: 0``  on the fly: every training chunk is masked;
``copies: N``  the paper's scheme: each original segment appears once unmodified and
               N more times masked in every epoch ((N+1)x data per epoch).

Paper 003 feeds "two augmented copies" per utterance without saying whether both come
from one policy or one from each; both readings are supported:
``policy: conservative, copies: 2``                 two copies of one policy;
``policy: [conservative, aggressive], copies: 2``   one copy per policy (copy k uses the
                                                    k-th policy; ``copies`` a multiple of
                                                    the list's length; with ``copies: 0``
                                                    each chunk draws one of the policies).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import List

import numpy as np


@dataclass(frozen=True)
class SpecAugmentPolicy:
    F: int = 0          # max frequency-mask width (channels)
    W: int = 0          # max time-mask width (frames)
    p: float = 1.0      # time-mask width bound as a fraction of the segment length
    n_freq: int = 2
    n_time: int = 2
    value: float = 0.0

    @property
    def active(self) -> bool:
        return (self.F > 0 and self.n_freq > 0) or (self.W > 0 and self.n_time > 0)

    def to_dict(self) -> dict:
        return asdict(self)


POLICIES = {
    "none": SpecAugmentPolicy(F=0, W=0, p=1.0, n_freq=0, n_time=0),
    "conservative": SpecAugmentPolicy(F=15, W=50, p=0.2, n_freq=2, n_time=2),
    "aggressive": SpecAugmentPolicy(F=27, W=70, p=0.2, n_freq=2, n_time=2),
}


def get_policy(spec) -> SpecAugmentPolicy:
    """A policy from a name ('none' | 'conservative' | 'aggressive'), a dict of fields
    (optionally with ``policy: NAME`` as the base), a policy, or None ('none')."""
    if spec is None:
        return POLICIES["none"]
    if isinstance(spec, SpecAugmentPolicy):
        return spec
    if isinstance(spec, str):
        try:
            return POLICIES[spec]
        except KeyError:
            raise ValueError(f"unknown SpecAugment policy '{spec}' (choose from {sorted(POLICIES)})") from None
    if isinstance(spec, dict):
        d = dict(spec)
        base = POLICIES[d.pop("policy", "none")].to_dict()
        # other keys of the augment section (copies, ...) and unset overrides (None) are not the policy's
        base.update({k: v for k, v in d.items() if k in base and v is not None})
        return SpecAugmentPolicy(**base)
    raise TypeError(f"cannot make a SpecAugment policy from {spec!r}")


def get_policies(spec) -> List[SpecAugmentPolicy]:
    """The policies of an ``augment`` section whose ``policy`` may be a list of names
    (one augmented copy per policy); a single policy gives a list of one."""
    if isinstance(spec, dict) and isinstance(spec.get("policy"), (list, tuple)):
        names = list(spec["policy"])
        if not names:
            raise ValueError("augment.policy: empty list of policies")
        copies = int(spec.get("copies", 0))
        if copies % len(names):
            raise ValueError(f"augment.copies = {copies} with {len(names)} policies {names}: "
                             "one copy per policy needs copies to be a multiple of the number of policies")
        return [get_policy({**spec, "policy": n}) for n in names]
    return [get_policy(spec)]


def draw_masks(policy: SpecAugmentPolicy, n_frames: int, n_channels: int, rng: np.random.Generator):
    """The masks as ([(f0, f), ...], [(t0, t), ...]) for an (n_frames x n_channels) input."""
    fmasks, tmasks = [], []
    if policy.F > 0:
        for _ in range(policy.n_freq):
            f = int(rng.integers(0, min(policy.F, n_channels) + 1))
            f0 = int(rng.integers(0, n_channels - f + 1))
            fmasks.append((f0, f))
    wmax = min(policy.W, int(np.floor(policy.p * n_frames)))
    if policy.W > 0:
        for _ in range(policy.n_time):
            t = int(rng.integers(0, max(wmax, 0) + 1))
            t0 = int(rng.integers(0, n_frames - t + 1))
            tmasks.append((t0, t))
    return fmasks, tmasks


def spec_augment(feats: np.ndarray, policy, rng: np.random.Generator, inplace: bool = False):
    """Mask a (frames x channels) matrix; returns the masked copy (or ``feats`` if inplace)."""
    policy = get_policy(policy)
    out = feats if inplace else np.array(feats, copy=True)
    if not policy.active:
        return out
    fmasks, tmasks = draw_masks(policy, out.shape[0], out.shape[1], rng)
    for f0, f in fmasks:
        out[:, f0:f0 + f] = policy.value
    for t0, t in tmasks:
        out[t0:t0 + t, :] = policy.value
    return out
