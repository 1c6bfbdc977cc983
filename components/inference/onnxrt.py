"""ONNX: export a checkpoint's network, check it against PyTorch, score it with ONNX Runtime.

With `register.onnx: true` the register stage exports the network's forward (no targets, output only) with
torch.onnx's TorchScript exporter (`dynamo=False`: the torch.export-based default needs `onnxscript`, which
Keel does not install, and it has no traced-RNN support to match; the TorchScript exporter needs nothing
beyond torch) and a dynamic row axis, runs the test split through PyTorch and through ONNX Runtime, and
attaches the file to the version only when the largest absolute difference of the raw outputs is within
`register.onnx_tolerance`; beyond it registration fails (OnnxMismatchError). A loaded model that carries
the file scores through ONNX Runtime where `onnxruntime` imports and the session opens (and `KEEL_ONNX` is
not `0`), else through PyTorch, saying why; both feed the same transform and the same postprocessing
(components/inference/predict.py: `forward`). onnxruntime is imported only here and only inside functions,
so it is never a requirement of a registered model.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel

from components.core.errors import KeelError

log = logging.getLogger(__name__)

ENV = "KEEL_ONNX"  # "0": score with PyTorch even where the model carries an ONNX file
OPSET = 17
CHECK_BATCH = 1024
SAMPLE_ROWS = 8  # rows traced at export (the row axis is dynamic)
ONNX = "onnxruntime"
TORCH = "torch"


class OnnxExportError(KeelError):
    """register.onnx: the network cannot be exported or checked (export failure, no onnxruntime, wrong shape)."""


class OnnxMismatchError(OnnxExportError):
    """register.onnx: ONNX Runtime's outputs differ from PyTorch's by more than register.onnx_tolerance."""


class OnnxCheck(BaseModel):
    """The export and its comparison with PyTorch on the test split."""

    file: str = "model.onnx"
    max_abs_diff: float
    rows: int
    tolerance: float
    opset: int = OPSET
    exporter: str = "torchscript"
    torch_version: str = torch.__version__
    onnxruntime_version: str
    seconds: float


class _Output(torch.nn.Module):
    """What the ONNX file holds: the network's output (forward(x) returns (output, None) without targets), or,
    for a model with a `postprocess` (e.g. detection's peak picking), its `network(x)` outputs."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.network(x) if hasattr(self.model, "postprocess") else self.model(x)[0]


class Headed:
    """An ONNX Runtime session followed by the model's `postprocess` in PyTorch: the outputs of `model(x)[0]`."""

    backend = ONNX

    def __init__(self, runner: OnnxRunner, head):
        self.runner, self.head, self.version = runner, head, runner.version

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.head(torch.from_numpy(self.runner(x))).float().numpy()


def with_head(runner: OnnxRunner, model: torch.nn.Module | None):
    """`runner`, followed by `model.postprocess` when the model has one (see _Output)."""
    head = getattr(model, "postprocess", None)
    return Headed(runner, head) if head is not None else runner


def export(model: torch.nn.Module, sample: np.ndarray, path: Path) -> Path:
    """Write `model`'s forward for inputs shaped like `sample` (any number of rows) to an ONNX file."""
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation notice and tracer chatter
        torch.onnx.export(_Output(model).eval(), (torch.from_numpy(np.ascontiguousarray(sample)),), str(path),
                          dynamo=False, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "rows"}, "y": {0: "rows"}}, opset_version=OPSET)
    model.eval()
    return Path(path)


class OnnxRunner:
    """An ONNX Runtime session: model-ready array (the transform's output) -> raw outputs (float32)."""

    backend = ONNX

    def __init__(self, path: Path, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        # as many threads as torch's scoring would use (keel serve sets them before loading)
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        spec = self.session.get_inputs()[0]
        self.input, self.dtype = spec.name, (np.int64 if "int64" in spec.type else np.float32)
        self.version = ort.__version__

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: np.ascontiguousarray(x, dtype=self.dtype)})[0]


@dataclass(frozen=True)
class Choice:
    """The backend a loaded model scores with, and why."""

    runner: OnnxRunner | Headed | None
    reason: str

    @property
    def backend(self) -> str:
        return ONNX if self.runner is not None else TORCH


def choose(path: str | Path | None, model: torch.nn.Module | None = None) -> Choice:
    """ONNX Runtime for the model's ONNX file `path` where it can run, else PyTorch with the reason: no file,
    KEEL_ONNX=0, onnxruntime not importable, or a session that does not open (a broken install, a corrupt
    file). Never raises: PyTorch can always score. `model`: the checkpoint's network, whose `postprocess` (if any) runs
    after the session."""
    if not path:
        return Choice(None, "the version carries no ONNX file")
    if os.environ.get(ENV, "1").strip() == "0":
        return Choice(None, f"{ENV}=0")
    try:
        runner = OnnxRunner(Path(path))
    except ImportError as e:
        return Choice(None, f"onnxruntime is not importable ({e})")
    except Exception as e:  # noqa: BLE001 - whatever a broken runtime or file raises, PyTorch scores instead
        reason = f"ONNX Runtime could not open {Path(path).name} ({type(e).__name__}: {str(e).strip()[:200]})"
        log.warning("scoring with PyTorch: %s", reason)
        return Choice(None, reason)
    return Choice(with_head(runner, model), f"ONNX Runtime {runner.version} on {Path(path).name}")


def export_checked(model: torch.nn.Module, x: np.ndarray, path: Path, tolerance: float) -> OnnxCheck:
    """Export `model` to `path`, then compare ONNX Runtime with PyTorch on the model-ready rows `x` (the test
    split): OnnxCheck, or OnnxExportError / OnnxMismatchError naming what failed."""
    start = time.perf_counter()
    model = model.cpu()  # the ONNX file runs on CPU (explanations may have scored on KEEL_INFERENCE_DEVICE)
    if not len(x):
        raise OnnxExportError("register.onnx: no test rows to check the ONNX export against")
    try:
        export(model, x[:SAMPLE_ROWS], path)
    except Exception as e:  # noqa: BLE001 - the exporter raises many kinds; the message names the network
        why = (str(e).strip().splitlines() or [""])[0][:300]
        raise OnnxExportError(f"register.onnx: exporting {type(model).__name__} failed ({type(e).__name__}: {why}); "
                              "set register.onnx: false for this family") from e
    try:
        session = OnnxRunner(path)  # compared on what the file holds: a postprocess is the same code on both paths
    except ImportError as e:
        raise OnnxExportError("register.onnx: onnxruntime is not installed, so the export cannot be checked "
                              "(pip install 'keel[onnx]')") from e
    diff = 0.0
    for i in range(0, len(x), CHECK_BATCH):
        with torch.inference_mode():
            ref = _Output(model)(torch.from_numpy(x[i:i + CHECK_BATCH])).float().numpy()
        got = session(x[i:i + CHECK_BATCH])
        if ref.shape != got.shape:
            raise OnnxExportError(f"register.onnx: ONNX Runtime's output shape {got.shape} differs from "
                                  f"PyTorch's {ref.shape} (rows {i}..{i + len(ref) - 1} of the test split)")
        diff = max(diff, float(np.abs(ref.astype(np.float64) - got).max()) if ref.size else 0.0)
    if not (np.isfinite(diff) and diff <= tolerance):
        raise OnnxMismatchError(f"register.onnx: ONNX Runtime's outputs differ from PyTorch's by up to {diff:.3g} on "
                                f"the {len(x)} test rows, over register.onnx_tolerance {tolerance:g}; nothing "
                                "was registered (raise the tolerance, or set register.onnx: false)")
    return OnnxCheck(max_abs_diff=diff, rows=len(x), tolerance=tolerance, onnxruntime_version=session.version,
                     seconds=round(time.perf_counter() - start, 3))
