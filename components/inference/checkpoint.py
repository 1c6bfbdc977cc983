"""Checkpoints are self-describing: `load_checkpoint(path)` rebuilds the model from the saved config,
the fitted transform and the state_dict, with no code-side defaults.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from components.core.errors import CheckpointError
from components.core.io import atomic_path
from components.core.strict import Strict
from components.data.transforms.registry import Transform, load_transform
from components.families.registry import get
from components.models.layers import MODULE_FIXES

CHECKPOINT_FORMAT = 1


BASELINE = "baseline"  # meta["role"] of a family's neural baseline (Family.baseline), saved beside the model


def build_model(family: str, cfg: Strict, transform: Transform, input_shape: tuple[int, ...],
                role: str | None = None) -> nn.Module:
    """Instantiate the family's module (or, with role "baseline", its baseline) for the transform's inputs and
    outputs."""
    declared = get(family)
    build = declared.baseline if role == BASELINE else declared.build
    if build is None:
        raise ValueError(f"family {family!r} declares no baseline model")
    return build(cfg, input_shape, transform.n_outputs, **transform.model_kwargs())


@dataclass
class Checkpoint:
    """A rebuilt model with everything needed to use it on raw rows."""

    model: nn.Module
    family: str
    config: Strict
    transform: Transform
    input_shape: tuple[int, ...]
    meta: dict[str, Any]
    # what runs the network instead of `model` on CPU: an ONNX Runtime session (components/inference/onnxrt.py,
    # set by the registered pyfunc when the version carries an ONNX file and onnxruntime can run it)
    runner: Any = None

    @property
    def backend(self) -> str:
        """What runs the forward pass on CPU: "onnxruntime" or "torch"."""
        return getattr(self.runner, "backend", "torch")


def save_checkpoint(path: Path, model: nn.Module, family: str, cfg: Strict, transform: Transform,
                    input_shape: tuple[int, ...], meta: dict[str, Any] | None = None,
                    state: dict[str, Any] | None = None) -> Path:
    """Write state_dict + config + transform (+ training `state`, e.g. optimizer) atomically."""
    blob = {
        "format": CHECKPOINT_FORMAT,
        "family": family,
        "config": cfg.model_dump(mode="json"),
        "transform": transform.model_dump(mode="json"),
        "input_shape": list(input_shape),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta or {},
        "state": state or {},
    }
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(blob, f)  # a Python file: a full disk is an OSError (ENOSPC), which atomic_path names
    return Path(path)


def _read(path: Path, map_location: str | torch.device) -> dict[str, Any]:
    try:
        blob = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - torch reports a bad file as RuntimeError, UnpicklingError, EOFError...
        why = ("not a PyTorch file" if isinstance(e, pickle.UnpicklingError) else
               (str(e).strip().splitlines() or [type(e).__name__])[0].split(". ")[0][:200])
        raise CheckpointError(f"{path}: not a readable checkpoint, truncated or corrupt ({type(e).__name__}: {why}); "
                              "write it again (re-run train, or register from a good checkpoint)") from e
    missing = [k for k in ("family", "config", "transform", "input_shape", "state_dict", "meta")
               if not isinstance(blob, dict) or k not in blob]
    if missing:
        raise CheckpointError(f"{path}: not a Keel checkpoint (no {', '.join(missing)}); write it with save_checkpoint")
    return blob


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the model saved by `save_checkpoint`, in eval mode; a truncated or corrupt file is a
    CheckpointError naming it."""
    blob = _read(Path(path), map_location)
    family = blob["family"]
    cfg = get(family).config.model_validate(blob["config"])
    transform = load_transform(blob["transform"])
    input_shape = tuple(blob["input_shape"])
    model = build_model(family, cfg, transform, input_shape, blob["meta"].get("role"))
    for fix in blob["meta"].get("module_fixes", []):  # e.g. DP training's BatchNorm -> GroupNorm
        MODULE_FIXES[fix](model)
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return Checkpoint(model=model, family=family, config=cfg, transform=transform, input_shape=input_shape,
                      meta=blob["meta"])
