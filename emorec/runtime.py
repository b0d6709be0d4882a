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


def quiet_transformers() -> None:
    """No progress bars or load reports of transformers on an entry point's console (they
    fill job logs and the user's terminal); its errors still print."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def pick_device(want: str = "auto") -> torch.device:
    """auto (or empty): CUDA when visible, else CPU; otherwise the device named."""
    if want in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(want)
