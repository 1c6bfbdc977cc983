"""Resume after a kill: the training state saved after every epoch, and where it is kept.

The state holds the model, optimizer and GradScaler states, every RNG (Python, NumPy, torch CPU/CUDA and
the shuffling generator), the epoch, early stopping's progress (best loss, best weights, patience left),
the history so far, the split hash and the MLflow run id. Restoring it makes the remaining epochs
bit-identical to an uninterrupted run on the same machine and thread count.

Where: `<resume_dir>/<key>/state.pt`, `key` = hash of the params the model depends on + the split hashes.
The folder is NOT a stage output: `dvc repro` deletes a stage's outs before running it, so state kept
under `models/train` would be gone exactly when it is needed. A finished run deletes its state; a changed
param or split gives a new key, so stale state is never picked up (and `rm -rf .keel/resume` is safe).
"""

from __future__ import annotations

import logging
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from components.core.io import atomic_path, sha256_json

log = logging.getLogger(__name__)

STATE_FILE = "state.pt"
STATE_FORMAT = 1


def resume_key(config: dict[str, Any], split_sha256: dict[str, str]) -> str:
    """Identity of a training run's inputs: what it was configured with and the exact splits."""
    return sha256_json({"config": config, "splits": split_sha256})[:16]


def state_path(resume_dir: Path, key: str) -> Path:
    """Where the run with this key keeps its state."""
    return Path(resume_dir) / key / STATE_FILE


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    """Every RNG that training draws from (NumPy's as tensors, so the file loads with weights_only)."""
    np_state = np.random.get_state()
    return {"python": random.getstate(), "numpy": [np_state[0], torch.from_numpy(np_state[1].copy()),
                                                   *np_state[2:]],
            "torch": torch.get_rng_state(), "generator": generator.get_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    """Restore what `rng_state` captured."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy(), *rest))
    torch.set_rng_state(state["torch"])
    generator.set_state(state["generator"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_state(path: Path, state: dict[str, Any]) -> Path:
    """Write the state atomically (a kill mid-write leaves the previous epoch's state intact)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save({"format": STATE_FORMAT, **state}, tmp)
    return path


def load_state(path: Path, split_sha256: dict[str, str] | None = None) -> dict[str, Any] | None:
    """The saved state, or None when there is none (or it belongs to other splits, or is unreadable)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a torn file from an older writer: start over rather than fail
        log.warning("resume: ignoring unreadable %s (%s)", path, e)
        return None
    if state.get("format") != STATE_FORMAT or (split_sha256 is not None and state.get("split_sha256") != split_sha256):
        log.warning("resume: ignoring %s (other format or splits)", path)
        return None
    return state


def clear_state(path: Path) -> None:
    """Forget a finished run's state."""
    shutil.rmtree(Path(path).parent, ignore_errors=True)
