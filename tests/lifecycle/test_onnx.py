"""register.onnx: a tiny digits CNN registered with its ONNX export, checked against PyTorch on the test
split; scored through ONNX Runtime by the pyfunc and `keel predict`, and through PyTorch where onnxruntime
is absent, broken, switched off, or the file is corrupt."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import mlflow
import mlflow.pyfunc
import numpy as np
import pytest

from components.core import paths
from components.inference import onnxrt
from components.lifecycle import registry
from components.serving import batch
from components.serving.loaded import load
from tests.lifecycle.pipeline import register_version

pytest.importorskip("onnxruntime")  # the `onnx` extra (make install has it)

NAME = "digits-cnn"


@pytest.fixture(scope="module")
def registered(project):
    return register_version(project, {"register.onnx": True, "train.epochs": 2})


@pytest.fixture(scope="module")
def rows(registered, project):
    """The test split's raw rows (label dropped), as a caller sends them."""
    from components.data.artifacts import load_split

    return load_split(project / paths.FEATURES_DIR, "test").drop(columns="label")


def load_model(**env):
    """The staged version's unwrapped pyfunc, loaded afresh (with `env` set while it loads)."""
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        return mlflow.pyfunc.load_model(f"models:/{NAME}@staging").unwrap_python_model()


def predict(model, frame):
    return model.predict(None, frame)


def test_register_logs_the_checked_export(registered, project):
    check = registered.onnx
    assert check is not None and check.rows > 0 and 0.0 <= check.max_abs_diff < 1e-4, check
    run = mlflow.get_run(registered.tags["run_id"])
    assert run.data.metrics["onnx_max_abs_diff"] == pytest.approx(check.max_abs_diff)
    report = json.loads((project / paths.REGISTER_DIR / "registration.json").read_text())
    assert report["onnx"]["max_abs_diff"] == pytest.approx(check.max_abs_diff)
    assert float(report["tags"]["onnx.max_abs_diff"]) == pytest.approx(check.max_abs_diff, rel=1e-2)
    assert registry.get_version(NAME, registered.version).tags["onnx.rows"] == str(check.rows)
    requirements = Path(mlflow.pyfunc.get_model_dependencies(f"models:/{NAME}@staging")).read_text().lower()
    assert "onnx" not in requirements  # onnxruntime stays optional where the model is loaded


def test_onnxruntime_scores_as_torch_does(registered, rows, project, tmp_path):
    ort_model = load_model()
    torch_model = load_model(KEEL_ONNX="0")
    assert (ort_model.ckpt.backend, torch_model.ckpt.backend) == ("onnxruntime", "torch"), torch_model.backend_reason
    got, ref = predict(ort_model, rows), predict(torch_model, rows)
    probs = [c for c in ref.columns if c.startswith("p_")]
    assert np.abs(got[probs].to_numpy() - ref[probs].to_numpy()).max() < 1e-5
    assert (got["prediction"] == ref["prediction"]).all()
    # keel predict (batch scoring) on the same rows says which backend ran, in its result and file metadata
    rows.to_parquet(tmp_path / "in.parquet")
    done = batch.run(NAME, tmp_path / "in.parquet", tmp_path / "out.parquet", project / "params.yaml", "staging",
                     log_dir=tmp_path / "log")
    assert done.backend == "onnxruntime" and batch.read_metadata(tmp_path / "out.parquet")["backend"] == "onnxruntime"
    assert load(NAME, "staging", project / "params.yaml").backend == "onnxruntime"


def test_falls_back_to_torch_without_a_working_onnxruntime(registered, rows, monkeypatch, tmp_path):
    ref = predict(load_model(KEEL_ONNX="0"), rows)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # absent: `import onnxruntime` raises ImportError
    absent = load_model()
    assert absent.ckpt.backend == "torch" and "not importable" in absent.backend_reason
    assert predict(absent, rows).equals(ref)
    monkeypatch.setitem(sys.modules, "onnxruntime", types.ModuleType("onnxruntime"))  # broken: no InferenceSession
    broken = load_model()
    assert broken.ckpt.backend == "torch" and "AttributeError" in broken.backend_reason
    assert predict(broken, rows).equals(ref)
    monkeypatch.delitem(sys.modules, "onnxruntime")
    corrupt = tmp_path / "model.onnx"
    corrupt.write_bytes(b"\x08\x07not an onnx model")
    choice = onnxrt.choose(corrupt)
    assert choice.runner is None and "could not open model.onnx" in choice.reason
    assert onnxrt.choose(None).reason == "the version carries no ONNX file"
