"""Inference on RAW rows with a rebuilt checkpoint: the one path used by evaluate, the registered
pyfunc and batch scoring."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
import torch

from components.families.registry import get
from components.inference.checkpoint import Checkpoint
from components.problems.base import Task
from components.problems.registry import TASKS

# Channels-last pays for large batches (batch scoring); for a few rows (online requests) converting the
# input costs more than it saves (1 digits row: ~8 ms instead of ~1 ms of CPU, measured under load).
CHANNELS_LAST_ROWS = 64
DEVICE_ENV = "KEEL_INFERENCE_DEVICE"  # where scoring runs (evaluate, the pyfunc, keel predict/serve): cpu | cuda[:N]


def inference_device() -> torch.device:
    """`KEEL_INFERENCE_DEVICE` (default cpu); a CUDA device this machine lacks is refused, naming the variable."""
    name = os.environ.get(DEVICE_ENV, "").strip() or "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise ValueError(f"{DEVICE_ENV}={name!r}: not a torch device ({e})") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{DEVICE_ENV}={name!r}: no CUDA device on this machine")
    return device


def task_of(ckpt: Checkpoint) -> Task:
    """The task of the checkpoint's family."""
    return TASKS[get(ckpt.family).task]


@torch.inference_mode()
def predict(ckpt: Checkpoint, df: pd.DataFrame, batch_size: int = 1024,
            device: torch.device | None = None, serving: bool = False,
            options: dict[str, Any] | None = None) -> np.ndarray:
    """Raw rows -> predictions (class probabilities for classifiers, values in target units for regression).

    `serving`: the input is what a caller sends; a transform whose samples differ then (a series: one window
    at the end of the history instead of every window with a known future) says so by `serving_features`.
    `options`: the task's per-call settings (Task.options, e.g. detection's nms_iou). A transform whose outputs
    are in the model's space maps them back to each input row's (`restore`: detection boxes to image pixels).
    """
    serve = getattr(ckpt.transform, "serving_features", None) if serving else None
    features = serve(df) if serve is not None else ckpt.transform.features(df)
    out = forward(ckpt, features, batch_size, device, options)
    restore = getattr(ckpt.transform, "restore", None)
    return restore(df, out) if restore is not None else out


@torch.inference_mode()
def forward(ckpt: Checkpoint, features: np.ndarray, batch_size: int = 1024,
            device: torch.device | None = None, options: dict[str, Any] | None = None) -> np.ndarray:
    """Model-ready rows (the transform's output) -> predictions: the network (PyTorch, or on CPU the checkpoint's
    ONNX Runtime `runner` where it has one), then the task's postprocessing (with the per-call `options`), in
    the model's space (`predict` maps them back to the input rows')."""
    device = device or inference_device()
    raw = (_onnx(ckpt.runner, features, batch_size) if ckpt.runner is not None and device.type == "cpu"
           else _torch(ckpt.model, features, batch_size, device))
    if raw is None:
        raw = np.zeros((0, ckpt.transform.n_outputs), dtype=np.float32)
    return task_of(ckpt).postprocess(ckpt.transform, raw, **(options or {}))


def _onnx(runner, features: np.ndarray, batch_size: int) -> np.ndarray | None:
    """Raw network outputs from the version's ONNX file on ONNX Runtime (None for no rows)."""
    outs = [runner(features[i:i + batch_size]) for i in range(0, len(features), batch_size)]
    return np.concatenate(outs) if outs else None


def _torch(model: torch.nn.Module, features: np.ndarray, batch_size: int, device: torch.device) -> np.ndarray | None:
    """Raw network outputs from PyTorch (None for no rows)."""
    model = model.to(device).eval()
    x = torch.from_numpy(features)
    if x.dim() == 4 and len(x) >= CHANNELS_LAST_ROWS:  # conv + max-pool on CPU: 1.5-2.7x faster in channels-last
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    outs = [model(x[i:i + batch_size].to(device))[0].float().cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(outs).numpy() if outs else None


def to_frame(ckpt: Checkpoint, predictions: np.ndarray, options: dict[str, Any] | None = None) -> pd.DataFrame:
    """Predictions -> the pyfunc's output frame (`prediction`, plus `p_<class>` for classifiers)."""
    return task_of(ckpt).frame(ckpt.transform, predictions, **(options or {}))


@torch.inference_mode()
def embed(ckpt: Checkpoint, df: pd.DataFrame, batch_size: int = 1024) -> np.ndarray | None:
    """Raw rows -> (N, D) float32 from the family's optional `embed(x)` (the layer its head reads), or None
    for a family without one. Drift monitoring compares these (MMD) between a window and the reference."""
    model = ckpt.model
    if not callable(getattr(model, "embed", None)):
        return None
    device = next(model.parameters(), torch.empty(0)).device  # where scoring put the model
    x = torch.from_numpy(ckpt.transform.features(df))
    outs = [model.embed(x[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(outs).numpy() if outs else np.zeros((0, 0), dtype=np.float32)
