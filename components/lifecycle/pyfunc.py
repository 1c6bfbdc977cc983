"""The registered MLflow pyfunc: RAW rows in (as ingested), predictions out.

It carries the self-describing checkpoint (weights + model config + fitted transform) as an artifact,
so the transform fitted on the train split is applied inside the model, never by the caller.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

from components.inference.checkpoint import load_checkpoint
from components.inference.predict import predict, task_of, to_frame

# Logged as "models from code": MLflow copies this file into the model and runs it at load time,
# so no pickled object is stored. It needs Keel installed where the model is served.
ENTRY_FILE = Path(__file__).with_name("pyfunc_entry.py")


class KeelPyfunc(mlflow.pyfunc.PythonModel):
    """Rebuilds the checkpoint on load; `predict` maps raw rows to a frame of predictions."""

    def load_context(self, context) -> None:
        self.ckpt = load_checkpoint(context.artifacts["checkpoint"])

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


def pip_requirements() -> list[str]:
    """Pinned requirements of the serving code (local labels such as +cpu stripped)."""
    pins = []
    for pkg in ("torch", "numpy", "pandas", "pydantic", "pyyaml", "mlflow", "pillow", "av", "pycocotools"):
        try:
            pins.append(f"{pkg}=={version(pkg).split('+')[0]}")
        except PackageNotFoundError:
            pins.append(pkg)
    return pins
