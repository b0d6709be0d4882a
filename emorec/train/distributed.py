"""DDP helpers.  Under torchrun (WORLD_SIZE/RANK/LOCAL_RANK set) the process group is
gloo on CPU and nccl on CUDA; otherwise a single process."""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def env_world():
    return int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0")), \
        int(os.environ.get("LOCAL_RANK", "0"))


def setup(use_cuda: bool):
    """-> (world_size, rank, device)."""
    world, rank, local = env_world()
    if use_cuda:
        device = torch.device("cuda", local if world > 1 else torch.cuda.current_device())
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return world, rank, device


def barrier():
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce_sum(values, device):
    """Sums a list of floats over ranks."""
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t)
    return t.tolist()


def cleanup():
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
