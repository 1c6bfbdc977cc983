"""DDP primitives: `train.nproc: N` trains in N processes started by torchrun (components/training/launcher.py).

Several machines: set torchrun's own environment variables on every node before the stage or flow runs
(torchrun reads `PET_<OPTION>` for each command-line option), e.g. on 2 nodes:

    PET_NNODES=2 PET_NODE_RANK=<0|1> PET_RDZV_BACKEND=c10d PET_RDZV_ENDPOINT=<host of node 0>:29400 \
    PET_RDZV_ID=<job id> dvc exp run -S train.nproc=<GPUs per node>

Inside the workers: gloo on CPU, NCCL on GPU (one GPU per local rank); every rank holds the (preloaded)
tensors and trains on its DistributedSampler shard; only rank 0 logs to MLflow and writes checkpoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as tdist
from torch.utils.data import DistributedSampler


@dataclass(frozen=True)
class Dist:
    """This process's place in the training group (a single process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def in_worker() -> bool:
    """Started by torchrun (it sets LOCAL_RANK, RANK and WORLD_SIZE)."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def init(device: torch.device) -> Dist:
    """Join the process group when started by torchrun (NCCL for CUDA, else gloo); else a single process."""
    if not in_worker():
        return Dist()
    d = Dist(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"]))
    if not tdist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(d.local_rank)
        tdist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return d


def local_device(d: Dist, device: torch.device) -> torch.device:
    """cuda:<local rank> for CUDA workers; the device itself otherwise."""
    return torch.device("cuda", d.local_rank) if device.type == "cuda" and d.enabled else device


def wrap(model: torch.nn.Module, d: Dist, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel around `model` in a group; `model` itself otherwise."""
    if not d.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def shard_order(n: int, d: Dist, seed: int, epoch: int) -> torch.Tensor:
    """This rank's shuffled sample indices for `epoch` (DistributedSampler: padded to equal shards)."""
    sampler = DistributedSampler(range(n), num_replicas=d.world_size, rank=d.rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return torch.tensor(list(sampler), dtype=torch.long)


def all_sum(t: torch.Tensor, d: Dist) -> torch.Tensor:
    """Sum of `t` over the group (`t` itself for one process)."""
    if d.enabled:
        t = t.clone()
        tdist.all_reduce(t, op=tdist.ReduceOp.SUM)
    return t


def broadcast(obj: Any, d: Dist) -> Any:
    """Rank 0's `obj` on every rank (pickled; for small things such as the resume state)."""
    if not d.enabled:
        return obj
    box = [obj]
    tdist.broadcast_object_list(box, src=0)
    return box[0]


def sync_buffers(model: torch.nn.Module, d: Dist) -> None:
    """Copy rank 0's buffers (BatchNorm running stats, which each rank updates on its own shard) to all."""
    if d.enabled:
        for b in model.buffers():
            tdist.broadcast(b, src=0)


def shutdown(d: Dist) -> None:
    """Leave the process group."""
    if d.enabled and tdist.is_initialized():
        tdist.destroy_process_group()
