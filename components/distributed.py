"""DDP: `train.nproc: N` trains in N processes started by torchrun (`python -m torch.distributed.run`).

One machine: `launch` runs `torchrun --standalone --nproc-per-node N` on this project's worker entry.
Several machines: set torchrun's own environment variables on every node before the stage or flow runs
(torchrun reads `PET_<OPTION>` for each command-line option), e.g. on 2 nodes:

    PET_NNODES=2 PET_NODE_RANK=<0|1> PET_RDZV_BACKEND=c10d PET_RDZV_ENDPOINT=<host of node 0>:29400 \
    PET_RDZV_ID=<job id> dvc exp run -S train.nproc=<GPUs per node>

Inside the workers: gloo on CPU, NCCL on GPU (one GPU per local rank); every rank holds the (preloaded)
tensors and trains on its DistributedSampler shard; only rank 0 logs to MLflow and writes checkpoints.
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as tdist
from torch.utils.data import DistributedSampler

from components.errors import KeelError, StageInputError

# torchrun's options as environment variables, passed through to it untouched (see the module docstring).
RENDEZVOUS_ENV = ("PET_NNODES", "PET_NODE_RANK", "PET_RDZV_BACKEND", "PET_RDZV_ENDPOINT", "PET_RDZV_ID",
                  "PET_RDZV_CONF", "PET_MASTER_ADDR", "PET_MASTER_PORT", "PET_MAX_RESTARTS")


class TrainingInterrupted(RuntimeError):
    """The training processes died (killed, OOM, a lost node): worth a retry, which resumes."""


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


def torchrun_command(nproc: int, job: Path) -> list[str]:
    """The torchrun command line for `nproc` processes per node (standalone unless PET_NNODES > 1)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}"]
    if int(os.environ.get("PET_NNODES", "1") or 1) == 1 and "PET_RDZV_ENDPOINT" not in os.environ:
        cmd.append("--standalone")
    return cmd + ["-m", "components.distributed", "--job", str(job)]


def launch(nproc: int, **job: Any):
    """Run `train.fit(**job)` in `nproc` processes through torchrun; returns rank 0's TrainResult.

    Raises TrainingInterrupted when the processes die (resumable), the worker's own error otherwise.
    """
    from components.train import TrainResult

    with tempfile.TemporaryDirectory(prefix="keel-ddp-") as tmp:
        job_file, result_file = Path(tmp) / "job.pkl", Path(tmp) / "result.pkl"
        job_file.write_bytes(pickle.dumps({**job, "result_file": result_file}))
        proc = subprocess.run(torchrun_command(nproc, job_file), env={**os.environ})
        outcome = pickle.loads(result_file.read_bytes()) if result_file.is_file() else None
    if isinstance(outcome, TrainResult) and proc.returncode == 0:
        return outcome
    if isinstance(outcome, dict) and "error" in outcome:
        raise StageInputError(outcome["error"])
    raise TrainingInterrupted(f"training processes exited with status {proc.returncode} "
                              "(killed or crashed); running train again resumes from the last epoch")


def worker_main(argv: list[str] | None = None) -> int:
    """torchrun's entry: every rank runs `train.fit`; rank 0 reports the result to the launcher."""
    from components.train import fit

    p = argparse.ArgumentParser(prog="python -m components.distributed")
    p.add_argument("--job", type=Path, required=True)
    job = pickle.loads(p.parse_args(argv).job.read_bytes())
    result_file = Path(job.pop("result_file"))
    rank = int(os.environ.get("RANK", "0"))
    outcome: Any
    try:
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                            format=f"%(asctime)s rank{rank} %(levelname)s %(name)s: %(message)s")
        logging.getLogger("components").setLevel(os.environ.get("KEEL_LOG_LEVEL", "INFO"))
        outcome = fit(**job)
        code = 0
    except KeelError as e:
        outcome, code = {"error": f"{type(e).__name__}: {e}"}, 1
    if rank == 0:
        result_file.write_bytes(pickle.dumps(outcome))
    return code


if __name__ == "__main__":
    raise SystemExit(worker_main())
