"""DDP helpers.  Under torchrun (WORLD_SIZE/RANK/LOCAL_RANK set) the process group is
gloo on CPU and nccl on CUDA; otherwise a single process.  ``torchrun_command`` is how an
entry point reruns itself as nnodes x nproc processes."""
from __future__ import annotations

import os
import sys

import torch
import torch.distributed as dist


def env_world():
    return int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0")), \
        int(os.environ.get("LOCAL_RANK", "0"))


RDZV_ENDPOINT = "EMOREC_RDZV_ENDPOINT"   # host:port of the first node (slurm.pl --nodes sets it)
RDZV_ID = "EMOREC_RDZV_ID"               # the job's id, the same on every node


def torchrun_command(module: str, argv: list, nproc: int, nnodes: int) -> list:
    """The torchrun command running ``python -m module argv`` as ``nproc`` processes on each
    of ``nnodes`` nodes, one torchrun agent per node (slurm.pl --nodes N starts one per node
    with srun). With $EMOREC_RDZV_ENDPOINT set the agents meet in a c10d rendezvous there
    (id $EMOREC_RDZV_ID); without it only one node is possible (--standalone)."""
    endpoint = os.environ.get(RDZV_ENDPOINT, "")
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}"]
    if endpoint:
        cmd += [f"--nnodes={nnodes}", "--rdzv_backend=c10d", f"--rdzv_endpoint={endpoint}",
                f"--rdzv_id={os.environ.get(RDZV_ID, 'emorec')}"]
    elif nnodes > 1:
        raise SystemExit(f"{module}: --nnodes {nnodes} needs a rendezvous endpoint: run it through "
                         f"slurm.pl --nodes {nnodes} (one agent per node), or set {RDZV_ENDPOINT}=HOST:PORT "
                         f"(the first node) on every node")
    else:
        cmd.append("--standalone")
    return cmd + ["-m", module] + list(argv)


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
