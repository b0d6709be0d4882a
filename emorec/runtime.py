"""Process set-up shared by every entry point: offline mode, seeding, the device."""
from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seeds Python's, NumPy's and torch's global generators (CUDA included)."""
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def pick_device(want: str = "auto") -> torch.device:
    """auto (or empty): CUDA when visible, else CPU; otherwise the device named."""
    if want in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(want)
