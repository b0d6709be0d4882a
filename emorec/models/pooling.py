"""Temporal pooling layers: statistics pooling (mean ++ std) and average pooling.

Both take frame-level features ``x`` of shape (batch, dim, frames) and optional
``lengths`` (batch,) giving the number of valid frames of each item; frames past
an item's length are padding and are ignored, so pooling a padded batch equals
pooling each utterance on its own.
"""
from __future__ import annotations

import torch
from torch import nn


def _length_mask(lengths: torch.Tensor, frames: int, dtype) -> torch.Tensor:
    """(batch, 1, frames) mask with 1 on valid frames."""
    ar = torch.arange(frames, device=lengths.device)
    return (ar[None, :] < lengths[:, None]).to(dtype).unsqueeze(1)


class StatsPooling(nn.Module):
    """Concatenated mean and standard deviation over frames (Snyder et al. 2018).

    The variance is the population variance (a 1-frame input gives variance 0),
    clamped at ``eps`` before the square root so gradients stay finite.
    Computed in float32 even under autocast.
    """

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = eps

    @staticmethod
    def out_dim(in_dim: int) -> int:
        return 2 * in_dim

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        x = x.float()
        if lengths is None:
            mean = x.mean(dim=-1)
            var = (x - mean.unsqueeze(-1)).pow(2).mean(dim=-1)
        else:
            lengths = lengths.to(x.device).clamp(min=1)
            m = _length_mask(lengths, x.shape[-1], x.dtype)
            n = lengths.to(x.dtype).unsqueeze(1)
            mean = (x * m).sum(dim=-1) / n
            var = (((x - mean.unsqueeze(-1)) * m).pow(2)).sum(dim=-1) / n
        std = var.clamp(min=self.eps).sqrt()
        return torch.cat([mean, std], dim=1)


class AvgPooling(nn.Module):
    """Mean over frames only (the 'without statistics pooling' ablation of Padi et al. 2021)."""

    @staticmethod
    def out_dim(in_dim: int) -> int:
        return in_dim

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        x = x.float()
        if lengths is None:
            return x.mean(dim=-1)
        lengths = lengths.to(x.device).clamp(min=1)
        m = _length_mask(lengths, x.shape[-1], x.dtype)
        return (x * m).sum(dim=-1) / lengths.to(x.dtype).unsqueeze(1)


POOLING = {"stats": StatsPooling, "avg": AvgPooling}


def make_pooling(name: str) -> nn.Module:
    try:
        return POOLING[name]()
    except KeyError:
        raise ValueError(f"unknown pooling '{name}' (choose from {sorted(POOLING)})") from None
