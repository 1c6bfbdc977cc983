"""The registered MLflow pyfunc: RAW rows in (as ingested), predictions out.

It carries the self-describing checkpoint (weights + model config + fitted transform) as an artifact,
so the transform fitted on the train split is applied inside the model, never by the caller. It is logged
as "models from code" with the Keel code it runs packaged beside it (components/lifecycle/packaging.py),
so MLflow alone loads it: no pickled object, no Keel checkout. `keel.json` (artifact `keel`) names the
family (and where a plugin family is declared), the packaged code's version, the input checks the model
was validated with and, with `register.onnx`, the ONNX file's check against PyTorch; the file itself (artifact
`onnx`) is scored with ONNX Runtime where onnxruntime imports, else the checkpoint with PyTorch
(components/inference/onnxrt.py).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

from components.core.codedeps import ROOT_PACKAGE, code_sha256
from components.inference import onnxrt
from components.inference.checkpoint import load_checkpoint
from components.inference.predict import predict, task_of, to_frame

# MLflow copies this file into the model and runs it at load time (models from code).
ENTRY_FILE = Path(__file__).with_name("pyfunc_entry.py")
DESCRIPTOR = "keel.json"


class KeelCodeWarning(UserWarning):
    """The Keel code running a model differs from the code it was logged with."""


class KeelPyfunc(mlflow.pyfunc.PythonModel):
    """Rebuilds the checkpoint on load; `predict` maps raw rows to a frame of predictions."""

    def load_context(self, context) -> None:
        path = context.artifacts.get("keel")
        self.info: dict[str, Any] = json.loads(Path(path).read_text()) if path else {}
        model_dir = Path(context.artifacts["checkpoint"]).resolve().parents[1]  # <model>/artifacts/model.pt
        check_code(self.info.get("code"), model_dir / "code")
        if self.info.get("declaration"):  # a plugin family: known from its packaged declaration if not installed
            from components.families.registry import adopt

            adopt(self.info["family"], self.info["declaration"])
        self.ckpt = load_checkpoint(context.artifacts["checkpoint"])
        # ONNX Runtime where the version carries an ONNX file and it can run here, else PyTorch (and why)
        choice = onnxrt.choose(context.artifacts.get("onnx"), self.ckpt.model)
        self.ckpt.runner, self.backend_reason = choice.runner, choice.reason

    def predict(self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        options = {k: v for k, v in (params or {}).items() if k in (task_options(self.ckpt) or {})}
        return to_frame(self.ckpt, predict(self.ckpt, model_input, serving=True, options=options), options)


def task_options(ckpt) -> dict[str, Any] | None:
    """The task's per-call settings and their defaults (the pyfunc's params), if it has any."""
    options = task_of(ckpt).options
    return options(ckpt.transform) if options is not None else None


# Input columns that hold encoded files: `binary` in the signature (MLflow then passes bytes, base64 text, paths
# and arrays through unchanged, as an object column; the transform decodes each).
FILE_COLUMNS = {"image", "video"}


def _mlflow_type(name: str):
    """A type name of Task.output_schema ("double", "array<array<double>>") -> MLflow's type."""
    from mlflow.types.schema import Array

    return Array(_mlflow_type(name[6:-1])) if name.startswith("array<") else name


def check_code(code: dict[str, Any] | None, packaged: Path) -> str | None:
    """Warn (KeelCodeWarning) when this process runs another Keel than the one packaged with the model: a
    Keel imported before the model was loaded keeps running, and the model then uses that code. Returns
    the warning, or None."""
    import components

    loaded = Path(components.__file__).resolve().parents[1]
    if not code or loaded == packaged.resolve():
        return None
    current = code_sha256(loaded, code["files"], package_roots(code["files"], loaded))
    if current == code["sha256"]:
        return None
    message = (f"model logged with Keel code {code['sha256'][:12]} (git {code.get('git_commit', '?')[:12]}), "
               f"but this process runs the Keel at {loaded} (code {current[:12]}): the model runs that code, "
               "not its packaged copy; load it in a process without Keel, or re-register it")
    warnings.warn(message, KeelCodeWarning, stacklevel=2)
    return message


def package_roots(files: list[str], keel: Path) -> dict[str, Path]:
    """Top-level package (or module file) of each packaged file -> the folder this process imports it from: Keel's
    own root for Keel, a plugin family's package where it is installed (else Keel's root, where it is absent)."""
    import importlib.util

    roots = {}
    for top in {rel.split("/")[0] for rel in files} - {ROOT_PACKAGE}:
        spec = importlib.util.find_spec(top.removesuffix(".py"))
        origin = Path(spec.origin).resolve() if spec is not None and spec.origin else None
        if origin is not None:
            roots[top] = origin.parents[1] if spec.submodule_search_locations else origin.parent
    return roots


def signature_for(ckpt, example: pd.DataFrame):
    """Column signature: the raw input columns with the types of the example (as ingested); the task's outputs;
    the task's per-call options as params."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    types = {c: ("binary" if c in FILE_COLUMNS
                 else "string" if example[c].dtype.kind in "OUS" or str(example[c].dtype) in ("str", "string")
                 else "datetime" if example[c].dtype.kind == "M" else "double") for c in ckpt.transform.input_columns}
    inputs = Schema([ColSpec(types[c], c) for c in ckpt.transform.input_columns])
    outputs = Schema([ColSpec(_mlflow_type(t), name) for t, name in task_of(ckpt).output_schema(ckpt.transform)])
    options = task_options(ckpt)
    params = ParamSchema([ParamSpec(k, "double", v) for k, v in options.items()]) if options else None
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)
