"""ONNX: export a checkpoint's network, check it against PyTorch, score with ONNX Runtime.

With `register.onnx: true` the register stage exports the network (torch.onnx's TorchScript exporter, with
a dynamic row axis, and a dynamic token axis for token-id inputs), runs the test split through PyTorch and
through ONNX Runtime, and attaches the file to the registered model only when the largest absolute
difference of the raw outputs is within `register.onnx_tolerance`. A model that carries an ONNX file
scores through ONNX Runtime where `onnxruntime` is installed (and `KEEL_ONNX` is not `0`), else through
PyTorch; both feed the same transform and postprocessing (components/inference/predict.py).
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel

ENV = "KEEL_ONNX"  # "0": score with PyTorch even where the model carries an ONNX file
OPSET = 17
CHECK_BATCH = 1024


class OnnxCheck(BaseModel):
    """The export and its comparison with PyTorch on the test split."""

    attached: bool
    max_abs_diff: float | None = None
    rows: int = 0
    tolerance: float
    seconds: float = 0.0
    reason: str | None = None  # why it is not attached


class _Output(torch.nn.Module):
    """The network's output alone (forward returns (output, loss))."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[0]


def export(model: torch.nn.Module, sample: np.ndarray, path: Path) -> Path:
    """Write `model`'s forward for inputs shaped like `sample` (any number of rows) to an ONNX file."""
    axes = {0: "rows"} | ({1: "tokens"} if sample.ndim == 2 and sample.dtype.kind in "iu" else {})
    wrapper = _Output(model).eval()  # the exporter restores this mode on the wrapper (and so the model) after
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation chatter
        torch.onnx.export(wrapper, (torch.from_numpy(np.ascontiguousarray(sample)),), str(path), dynamo=False,
                          input_names=["x"], output_names=["y"], dynamic_axes={"x": axes, "y": {0: "rows"}},
                          opset_version=OPSET)
    model.eval()
    return Path(path)


class OnnxRunner:
    """An ONNX Runtime session: model-ready array (as the transform makes it) -> raw outputs (float32)."""

    def __init__(self, path: Path, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads is not None:  # default: one per core
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        spec = self.session.get_inputs()[0]
        self.input, self.dtype = spec.name, (np.int64 if "int64" in spec.type else np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: np.ascontiguousarray(x, dtype=self.dtype)})[0]


def runner(path: Path) -> OnnxRunner | None:
    """A session for `path`, or None where onnxruntime is absent or KEEL_ONNX=0 (PyTorch scores instead)."""
    if os.environ.get(ENV, "1") == "0":
        return None
    try:
        return OnnxRunner(path)
    except ImportError:
        return None


def export_checked(model: torch.nn.Module, x: np.ndarray, path: Path, tolerance: float) -> OnnxCheck:
    """Export `model`, then compare ONNX Runtime with PyTorch on the model-ready rows `x` (the test split)."""
    start = time.perf_counter()
    done = {"tolerance": tolerance, "rows": len(x)}
    try:
        export(model, x[:64], path)
        session = OnnxRunner(path)
    except ImportError:
        return OnnxCheck(attached=False, reason="onnxruntime is not installed: the export cannot be checked", **done)
    except Exception as e:  # noqa: BLE001 - an export failure of any kind leaves the model PyTorch-only, named
        return OnnxCheck(attached=False, reason=f"export failed: {type(e).__name__}: {str(e).splitlines()[0][:300]}",
                         **done)
    diff = 0.0
    with torch.inference_mode():
        for i in range(0, len(x), CHECK_BATCH):
            ref = model(torch.from_numpy(x[i:i + CHECK_BATCH]))[0].float().numpy()
            got = session(x[i:i + CHECK_BATCH])
            if ref.shape != got.shape:
                return OnnxCheck(attached=False, reason=f"output shape {got.shape} differs from PyTorch's {ref.shape}",
                                 **done)
            diff = max(diff, float(np.abs(ref - got).max()) if ref.size else 0.0)
    ok = bool(np.isfinite(diff) and diff <= tolerance)
    return OnnxCheck(attached=ok, max_abs_diff=diff, seconds=round(time.perf_counter() - start, 3),
                     reason=None if ok else f"max abs difference {diff:.3g} > tolerance {tolerance:g}", **done)


def check_frame(ckpt, frame: pd.DataFrame, path: Path, tolerance: float) -> OnnxCheck:
    """`export_checked` on the raw rows of `frame` (the test split), through the checkpoint's transform."""
    return export_checked(ckpt.model, ckpt.transform.features(frame), path, tolerance)
