"""Run a training function in child processes: `launch(nproc, target, **job)` runs `target(**job)` in
`nproc` processes started by torchrun (`python -m torch.distributed.run`), one machine (`--standalone`)
or several (torchrun's `PET_*` variables, see components/training/distributed.py). A single process
(`nproc=1`) is the isolated trainer a flow uses: a killed trainer surfaces as `TrainingInterrupted`.

`target` is "module:function" (e.g. "components.stages.train:fit"), imported in the workers by name, so
this machinery depends on no stage.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from components.core.errors import KeelError, StageInputError, TrackingUnavailableError


class TrainingInterrupted(RuntimeError):
    """The training processes died (killed, OOM, a lost node): worth a retry, which resumes."""


def torchrun_command(nproc: int, job: Path) -> list[str]:
    """The torchrun command line for `nproc` processes per node (standalone unless PET_NNODES > 1)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}"]
    if int(os.environ.get("PET_NNODES", "1") or 1) == 1 and "PET_RDZV_ENDPOINT" not in os.environ:
        cmd.append("--standalone")
    return cmd + ["-m", "components.training.launcher", "--job", str(job)]


def launch(nproc: int, target: str, **job: Any) -> Any:
    """Run `target(**job)` in `nproc` processes through torchrun; returns rank 0's result.

    Raises TrainingInterrupted when the processes die (resumable), the worker's own Keel error otherwise.
    """
    with tempfile.TemporaryDirectory(prefix="keel-ddp-") as tmp:
        job_file, result_file = Path(tmp) / "job.pkl", Path(tmp) / "result.pkl"
        job_file.write_bytes(pickle.dumps({"target": target, "job": job, "result_file": result_file}))
        proc = subprocess.run(torchrun_command(nproc, job_file), env={**os.environ})
        outcome = pickle.loads(result_file.read_bytes()) if result_file.is_file() else None
    if proc.returncode == 0 and outcome is not None and not _is_error(outcome):
        return outcome
    if _is_error(outcome):  # an outage stays one (the flow retries it); any other Keel error is final
        raise (TrackingUnavailableError if outcome.get("transient") else StageInputError)(outcome["error"])
    raise TrainingInterrupted(f"training processes exited with status {proc.returncode} "
                              "(killed or crashed); running train again resumes from the last epoch")


def _is_error(outcome: Any) -> bool:
    return isinstance(outcome, dict) and set(outcome) == {"error", "transient"}


def resolve(target: str):
    """"module:function" -> the function."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def worker_main(argv: list[str] | None = None) -> int:
    """torchrun's entry: every rank runs the target; rank 0 reports the result to the launcher."""
    p = argparse.ArgumentParser(prog="python -m components.training.launcher")
    p.add_argument("--job", type=Path, required=True)
    spec = pickle.loads(p.parse_args(argv).job.read_bytes())
    rank = int(os.environ.get("RANK", "0"))
    outcome: Any
    try:
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                            format=f"%(asctime)s rank{rank} %(levelname)s %(name)s: %(message)s")
        logging.getLogger("components").setLevel(os.environ.get("KEEL_LOG_LEVEL", "INFO"))
        outcome = resolve(spec["target"])(**spec["job"])
        code = 0
    except KeelError as e:
        outcome, code = {"error": f"{type(e).__name__}: {e}", "transient": e.transient}, 1
    if rank == 0:
        Path(spec["result_file"]).write_bytes(pickle.dumps(outcome))
    return code


if __name__ == "__main__":
    raise SystemExit(worker_main())
