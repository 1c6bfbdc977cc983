"""Shared fixtures: small real data built in code, a throw-away MLflow store, tiny params."""

from __future__ import annotations

import os

import pandas as pd
import pytest

# Bind the `components` package to this checkout now. Loading a registered model puts the model's own code
# snapshot (artifacts/code, only the modules the model needs) first on sys.path; a test module that loaded a
# model before anything imported `components` would otherwise import Keel from that snapshot.
import components  # noqa: E402,F401

# No telemetry, and no progress bars in test logs.
for key, value in {"DO_NOT_TRACK": "true", "MLFLOW_DISABLE_TELEMETRY": "true", "DVC_NO_ANALYTICS": "1",
                   "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "GX_ANALYTICS_ENABLED": "false",
                   "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", "TQDM_DISABLE": "1"}.items():
    os.environ.setdefault(key, value)
# Under pytest-xdist (`make test` runs two workers) each worker's torch takes one core: two workers with two
# OpenMP threads each would oversubscribe a 2-core machine. Set before anything imports torch.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")


# Folders whose files run for minutes go first, so two xdist workers (`--dist loadfile`) do not end with one
# long file running alone. A stable sort by folder: every file's tests stay together and in order.
FIRST = ("integration", "pipeline", "flows", "lifecycle", "faults")


def _weight(item: pytest.Item) -> int:
    parts = item.path.parts
    return next((i for i, name in enumerate(FIRST) if name in parts), len(FIRST))


def pytest_collection_modifyitems(config, items):
    """Slow folders first (see FIRST); `gpu` tests skip themselves where CUDA is absent."""
    items.sort(key=_weight)
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (torch.cuda.is_available() is False)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def digits_frame() -> pd.DataFrame:
    """The real digits set in Keel's raw layout (64 pixel columns + label)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    df = pd.DataFrame(d.data, columns=[f"px_{i}" for i in range(64)])
    df["label"] = d.target.astype("int64")
    return df


@pytest.fixture
def small_digits(digits_frame) -> pd.DataFrame:
    """A seeded, stratified 400-row sample of digits."""
    return (digits_frame.groupby("label", group_keys=False).sample(n=40, random_state=0)
            .sample(frac=1.0, random_state=1).reset_index(drop=True))


@pytest.fixture
def tiny_frame() -> pd.DataFrame:
    """Three 2x2 'images' with labels, for pure-function tests."""
    return pd.DataFrame({"px_0": [0.0, 4.0, 8.0], "px_1": [1.0, 5.0, 9.0], "px_2": [2.0, 6.0, 10.0],
                         "px_3": [3.0, 7.0, 11.0], "label": [0, 1, 0]})


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch) -> str:
    """A fresh sqlite MLflow store (artifacts beside it) for this test only."""
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    (tmp_path / "mlruns").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


TINY = {"validate.min_rows": 50, "train.epochs": 4, "train.patience": 2, "train.batch_size": 64,
        "train.progress": False, "train.cnn.channels": [8, 16], "train.cnn.hidden": 32, "train.cnn.dropout": 0.0,
        "register.cnn.min": {"accuracy": 0.5},
        # trust figures on (every pipeline test exercises them) but cheap: ~1.5 CPU s a pipeline instead of ~5
        "evaluate.robustness.seeds": 1, "evaluate.ci_samples": 20, "register.explain.rows": 20}


@pytest.fixture
def tiny_overrides() -> dict:
    """Dotted-key overrides of the repo's params.yaml that train the digits CNN in seconds."""
    return dict(TINY)
